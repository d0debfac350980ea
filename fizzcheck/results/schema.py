"""Read one result file (docs/results-schema.md), validate it, and extract its rows as columns.

Standard library only. Validation is by column: a whole column's value types are checked at once and only a
failing column is walked again to name the first bad entry, so a file with thousands of
benchmarks costs little more than parsing its JSON.

Every problem is a :class:`ResultFileError` with a one-line message ``"PATH: what is wrong"``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fizzcheck.errors import FizzcheckError

__all__ = [
    "BENCHMARK_FIELDS",
    "OUTCOMES",
    "PROPERTY_FIELDS",
    "SCHEMA_VERSION",
    "FileContents",
    "ResultFileError",
    "parse_result_document",
    "read_result_file",
]

SCHEMA_VERSION = 1
"""The newest ``fizzcheck_schema`` this fizzcheck reads."""

OUTCOMES = ("passed", "failed", "skipped", "error")

_NONE = type(None)
_STR = frozenset({str})
_INT = frozenset({int})
_NUMBER = frozenset({int, float})
_BOOL = frozenset({bool})
_DICT = frozenset({dict})
_LIST = frozenset({list})

# (column, key in the entry, allowed types, required)
PROPERTY_FIELDS: tuple[tuple[str, str, frozenset[type], bool], ...] = (
    ("property", "property", _STR, True),
    ("module", "module", _STR, False),
    ("device", "device", _STR, False),
    ("dtype", "dtype", _STR, False),
    ("target", "target", _STR, False),
    ("outcome", "outcome", _STR, True),
    ("skip_reason", "skip_reason", _STR, False),
    ("examples", "examples", _INT, False),
    ("max_error_ratio", "max_error_ratio", _NUMBER, False),
    ("duration_s", "duration_s", _NUMBER, False),
    ("message", "message", _STR, False),
    ("reproducer", "reproducer", _STR, False),
    ("nodeid", "nodeid", _STR, True),
)
# (column, "extra_info" or "stats", key, allowed types, required)
BENCHMARK_FIELDS: tuple[tuple[str, str, str, frozenset[type], bool], ...] = (
    ("case", "extra_info", "case", _STR, True),
    ("implementation", "extra_info", "implementation", _STR, True),
    ("device", "extra_info", "device", _STR, True),
    ("dtype", "extra_info", "dtype", _STR, True),
    ("size", "extra_info", "size", frozenset({str, int}), True),
    ("size_params", "extra_info", "size_params", _DICT, False),
    ("flops", "extra_info", "flops", _NUMBER, False),
    ("bytes", "extra_info", "bytes", _NUMBER, False),
    ("pct_peak_flops", "extra_info", "pct_peak_flops", _NUMBER, False),
    ("pct_peak_bandwidth", "extra_info", "pct_peak_bandwidth", _NUMBER, False),
    ("noisy", "extra_info", "noisy", _BOOL, False),
    ("threads", "extra_info", "threads", _INT, False),
    ("compile_s", "extra_info", "compile_s", _NUMBER, False),
    ("median_s", "stats", "median", _NUMBER, True),
    ("iqr_s", "stats", "iqr", _NUMBER, False),
    ("mean_s", "stats", "mean", _NUMBER, False),
    ("min_s", "stats", "min", _NUMBER, False),
    ("rounds", "stats", "rounds", _INT, False),
    ("samples", "stats", "data", _LIST, False),
)
_MAY_BE_NAN = frozenset({"max_error_ratio"})  # a property comparing NaN inputs may record NaN
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true/false",
    dict: "an object",
    list: "a list",
}


class ResultFileError(FizzcheckError):
    """A result file cannot be used: missing, unreadable, not JSON, foreign, or of a newer schema.

    The message is one line, ``"PATH: what is wrong"``.
    """


@dataclass
class FileContents:
    """One validated result file: its rows as columns, the machine that wrote it, notes for the user."""

    path: str
    kind: str  # "properties" or "benchmarks"
    run_id: str
    created: str | None
    machine: dict[str, Any]
    columns: dict[str, list[Any]]
    peaks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()), []))


def _short(value: Any) -> str:
    """A value as a message shows it: JSON for scalars, the kind for containers, at most 40 characters."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


class _Check:
    """Checks whose failures name the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, message: str) -> ResultFileError:
        return ResultFileError(f"{self.path}: {message}")

    def value(
        self, mapping: Mapping[str, Any], key: str, types: frozenset[type], where: str, *, required: bool = False
    ) -> Any:
        if key not in mapping:
            if required:
                raise self.fail(f"{where}{key} is missing")
            return None
        value = mapping[key]
        if value is None and not required:
            return None
        if type(value) not in types:
            expected = " or ".join(sorted(_TYPE_NAMES.get(t, t.__name__) for t in types))
            raise self.fail(f"{where}{key} is {_short(value)}; expected {expected}")
        if type(value) is float and not math.isfinite(value) and key not in _MAY_BE_NAN:
            raise self.fail(f"{where}{key} is {value}; expected a finite number")
        return value

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if type(value) is not dict:
            raise self.fail(f"{where} is {'missing' if value is None else _short(value)}; expected an object")
        return value

    def schema(self, mapping: Mapping[str, Any], where: str) -> None:
        if "fizzcheck_schema" not in mapping:
            raise self.fail(f"not a fizzcheck result file: {where}fizzcheck_schema is missing (another tool's JSON?)")
        version = mapping["fizzcheck_schema"]
        if type(version) is not int:
            raise self.fail(f"{where}fizzcheck_schema is {_short(version)}; expected an integer")
        if version > SCHEMA_VERSION:
            raise self.fail(
                f"written by a newer fizzcheck (schema {version}; this fizzcheck reads schema ≤ {SCHEMA_VERSION}); "
                "upgrade fizzcheck to read it"
            )
        if version < 1:
            raise self.fail(f"{where}fizzcheck_schema is {version}; expected 1 to {SCHEMA_VERSION}")

    def column(
        self,
        sources: Sequence[Mapping[str, Any]],
        key: str,
        types: frozenset[type],
        where: str,
        indices: Sequence[int],
        *,
        required: bool,
    ) -> list[Any]:
        """``[s.get(key) for s in sources]``, type-checked as a whole; ``where`` has a ``{}`` for the index."""
        values = [source.get(key) for source in sources]
        allowed = types if required else types | {_NONE}
        kinds = set(map(type, values))
        suspicious = not kinds <= allowed
        if not suspicious and float in kinds and key not in _MAY_BE_NAN:
            suspicious = not math.isfinite(sum(v for v in values if type(v) is float))
        if suspicious:  # walk again to name the first bad entry
            for source, index in zip(sources, indices, strict=True):
                self.value(source, key, types, where.format(index), required=required)
        return values


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise ResultFileError(f"{path}: empty file")
    try:
        text = raw.decode("utf-8-sig")  # JSON files are UTF-8 (RFC 8259)
    except UnicodeDecodeError:
        raise ResultFileError(f"{path}: not a text file (not UTF-8); corrupt?") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = "truncated" if exc.pos >= len(text.rstrip()) else "corrupt"
        raise ResultFileError(
            f"{path}: not valid JSON ({hint}?): {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ResultFileError(f"{path}: not valid JSON: {exc}") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _machine(check: _Check, block: Mapping[str, Any], where: str) -> dict[str, Any]:
    machine_id = check.value(block, "machine_id", _STR, where, required=True)
    if not machine_id:
        raise check.fail(f"{where}machine_id is empty")
    build = check.value(block, "torch_build", _DICT, where) or {}
    gpu = check.value(block, "gpu", _DICT, where) or {}
    build_where, gpu_where = f"{where}torch_build.", f"{where}gpu."
    return {
        "machine_id": machine_id,
        "hostname": check.value(block, "hostname", _STR, where),
        "cpu_model": check.value(block, "cpu_model", _STR, where),
        "cores_physical": check.value(block, "cores_physical", _INT, where),
        "cores_logical": check.value(block, "cores_logical", _INT, where),
        "python": check.value(block, "python", _STR, where),
        "numpy": check.value(block, "numpy", _STR, where),
        "torch_version": check.value(block, "torch_version", _STR, where),
        "torch_cuda": _text(check.value(build, "cuda", frozenset({str, int, float}), build_where)),
        "torch_cudnn": _text(check.value(build, "cudnn", frozenset({str, int}), build_where)),
        "torch_blas": check.value(build, "blas", _STR, build_where),
        "torch_mkl": check.value(build, "mkl", _BOOL, build_where),
        "torch_openmp": check.value(build, "openmp", _BOOL, build_where),
        "torch_threads": check.value(block, "torch_threads", _INT, where),
        "gpu_name": check.value(gpu, "name", _STR, gpu_where),
        "gpu_memory_bytes": check.value(gpu, "memory_bytes", _INT, gpu_where),
        "gpu_capability": _text(check.value(gpu, "capability", frozenset({str, int, float}), gpu_where)),
    }


def _peaks(check: _Check, block: Mapping[str, Any]) -> list[dict[str, Any]]:
    peaks = check.value(block, "peaks", _DICT, "machine_info.fizzcheck.") or {}
    rows = []
    for device, values in peaks.items():
        where = f"machine_info.fizzcheck.peaks.{device}."
        values = check.mapping(values, where[:-1])
        matmul = check.value(values, "matmul_gflops", _DICT, where) or {}
        copy_gbps = check.value(values, "copy_gbps", _NUMBER, where)
        for dtype in matmul:
            gflops = check.value(matmul, dtype, _NUMBER, f"{where}matmul_gflops.")
            rows.append({"device": device, "dtype": dtype, "matmul_gflops": gflops, "copy_gbps": copy_gbps})
        if not matmul:
            rows.append({"device": device, "dtype": None, "matmul_gflops": None, "copy_gbps": copy_gbps})
    return rows


def _property_file(check: _Check, data: Mapping[str, Any]) -> FileContents:
    check.schema(data, "")
    kind = check.value(data, "kind", _STR, "", required=True)
    if kind != "properties":
        raise check.fail(f'kind is {_short(kind)}; expected "properties" (benchmark results are pytest-benchmark JSON)')
    run_id = check.value(data, "run_id", _STR, "", required=True)
    created = check.value(data, "created", _STR, "")
    machine = _machine(check, check.mapping(data.get("machine"), "machine"), "machine.")
    entries = check.value(data, "properties", _LIST, "", required=True)
    if not set(map(type, entries)) <= _DICT:
        index = next(i for i, entry in enumerate(entries) if type(entry) is not dict)
        check.mapping(entries[index], f"properties[{index}]")
    indices = range(len(entries))
    columns = {
        column: check.column(entries, key, types, "properties[{}].", indices, required=required)
        for column, key, types, required in PROPERTY_FIELDS
    }
    for index, outcome in enumerate(columns["outcome"]):
        if outcome not in OUTCOMES:
            raise check.fail(f"properties[{index}].outcome is {_short(outcome)}; expected one of {', '.join(OUTCOMES)}")
    notes = [] if entries else [f"{check.path}: no property results in this run"]
    return FileContents(str(check.path), "properties", run_id, created, machine, columns, notes=notes)


def _size_params_text(values: list[Any]) -> list[str | None]:
    """``{"batch": 64, "hidden": 100}`` → ``"batch=64, hidden=100"``; computed once per distinct value."""
    cache: dict[Any, str] = {}
    texts: list[str | None] = []
    for value in values:
        if value is None:
            texts.append(None)
            continue
        try:
            key = tuple(value.items())
            text = cache.get(key)
        except TypeError:  # unhashable nested values
            key, text = None, None
        if text is None:
            text = ", ".join(
                f"{k}={json.dumps(v) if not isinstance(v, (int, float, str)) else v}" for k, v in value.items()
            )
            if key is not None:
                cache[key] = text
        texts.append(text)
    return texts


def _benchmark_file(check: _Check, data: Mapping[str, Any]) -> FileContents:
    info = check.mapping(data.get("machine_info"), "machine_info")
    if "fizzcheck" not in info:
        raise check.fail(
            "a pytest-benchmark file without fizzcheck's machine_info.fizzcheck block; "
            "run the benchmarks through fizzcheck (fizzcheck bench) so they carry cases, FLOPs and peaks"
        )
    block = check.mapping(info["fizzcheck"], "machine_info.fizzcheck")
    check.schema(block, "machine_info.fizzcheck.")
    run_id = check.value(block, "run_id", _STR, "machine_info.fizzcheck.", required=True)
    machine = _machine(check, block, "machine_info.fizzcheck.")
    created = check.value(data, "datetime", _STR, "")
    peaks = _peaks(check, block)
    entries = check.value(data, "benchmarks", _LIST, "", required=True)
    if not set(map(type, entries)) <= _DICT:
        index = next(i for i, entry in enumerate(entries) if type(entry) is not dict)
        check.mapping(entries[index], f"benchmarks[{index}]")
    extras = [entry.get("extra_info") for entry in entries]
    if not set(map(type, extras)) <= {dict, _NONE}:
        index = next(i for i, extra in enumerate(extras) if type(extra) not in (dict, _NONE))
        check.mapping(extras[index], f"benchmarks[{index}].extra_info")
    indices = [i for i, extra in enumerate(extras) if extra is not None and "fizzcheck_schema" in extra]
    ignored = [i for i, extra in enumerate(extras) if extra is None or "fizzcheck_schema" not in extra]
    kept_extras = [extras[i] for i in indices]
    versions = [extra["fizzcheck_schema"] for extra in kept_extras]
    if set(map(type, versions)) - _INT or (versions and not 1 <= min(versions) <= max(versions) <= SCHEMA_VERSION):
        for index, extra in zip(indices, kept_extras, strict=True):
            check.schema(extra, f"benchmarks[{index}].extra_info.")
    stats = [entries[i].get("stats") for i in indices]
    if not set(map(type, stats)) <= _DICT:
        index, value = next((i, s) for i, s in zip(indices, stats, strict=True) if type(s) is not dict)
        check.mapping(value, f"benchmarks[{index}].stats")
    sources = {"extra_info": kept_extras, "stats": stats}
    columns = {
        column: check.column(sources[part], key, types, f"benchmarks[{{}}].{part}.", indices, required=required)
        for column, part, key, types, required in BENCHMARK_FIELDS
    }
    samples = [values for values in columns["samples"] if values]
    if samples and not set(map(type, itertools.chain.from_iterable(samples))) <= _NUMBER:
        for index, values in zip(indices, columns["samples"], strict=True):
            if values and not set(map(type, values)) <= _NUMBER:
                bad = next(v for v in values if type(v) not in _NUMBER)
                raise check.fail(
                    f"benchmarks[{index}].stats.data holds {_short(bad)}; expected numbers (seconds per round)"
                )
    columns["size"] = [value if type(value) is str else str(value) for value in columns["size"]]
    columns["size_params"] = _size_params_text(columns["size_params"])
    kept = [entries[i] for i in indices]
    columns["benchmark"] = [entry.get("fullname") or entry.get("name") or "" for entry in kept]
    notes = []
    names = [str(entries[i].get("fullname") or entries[i].get("name") or f"benchmarks[{i}]") for i in ignored]
    if names and indices:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        notes.append(f"{check.path}: ignored {len(names)} benchmark(s) without fizzcheck extra_info ({shown})")
    elif names:
        raise check.fail(
            f"none of its {len(names)} benchmark(s) carries fizzcheck extra_info (fizzcheck_schema, case, ...)"
        )
    else:
        notes = [] if entries else [f"{check.path}: no benchmarks in this run"]
    return FileContents(str(check.path), "benchmarks", run_id, created, machine, columns, peaks=peaks, notes=notes)


def read_result_file(path: str | Path) -> FileContents:
    """Read and validate one property or benchmark result file."""
    path = Path(path)
    return parse_result_document(_read_json(path), path)


def parse_result_document(data: Any, path: str | Path) -> FileContents:
    """Validate one already-parsed result document; ``path`` names it in messages."""
    check = _Check(Path(path))
    if type(data) is not dict:
        raise check.fail(f"top level is {_short(data)}, not an object; not a fizzcheck result file")
    if "benchmarks" in data and "machine_info" in data:
        return _benchmark_file(check, data)
    return _property_file(check, data)

"""Read one result file, validate it against :mod:`fizzcheck.results.schema`, and extract its rows as columns.

Standard library only. Rows are validated by column: a whole column's value types are checked at
once and only a failing column is walked again to name the first bad entry, so a file with
thousands of benchmarks costs little more than parsing its JSON.

Every problem is a :class:`ResultFileError` with a one-line message ``"PATH: what is wrong"``.
Keys the schema does not define are ignored (pytest-benchmark's own, a target's own).
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
from fizzcheck.results.schema import (
    SCHEMA_KEY,
    SCHEMA_VERSION,
    BenchmarkCase,
    BenchmarkMetrics,
    BenchmarkResults,
    BenchmarkRun,
    BenchmarkStats,
    FieldSpec,
    Machine,
    PropertyResults,
    PropertyRow,
    record_fields,
)

__all__ = ["FileContents", "ResultFileError", "parse_result_document", "read_result_file"]

_NONE = type(None)
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
    """The machine block flattened to its report columns (``column_names(Machine)``)."""
    columns: dict[str, list[Any]]
    peaks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    """A property run's devices and dtypes that could not run on its machine (one line each)."""
    surface: dict[str, int] = field(default_factory=dict)
    """A property run's declared API cells → examples that exercised them (empty before the catalogue)."""

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


def _expected(types: frozenset[type]) -> str:
    return " or ".join(sorted(_TYPE_NAMES.get(t, t.__name__) for t in types))


class _Check:
    """Checks whose failures name the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, message: str) -> ResultFileError:
        return ResultFileError(f"{self.path}: {message}")

    def value(self, mapping: Mapping[str, Any], spec: FieldSpec, where: str) -> Any:
        """``mapping[spec.name]`` checked against the field's definition (a nested record included)."""
        key = spec.name
        if key not in mapping or (mapping[key] is None and spec.required and spec.record is not None):
            if not spec.required:
                return None
            if spec.record is not None:
                raise self.fail(f"{where}{key} is missing; expected an object")
            raise self.fail(f"{where}{key} is missing")
        value = mapping[key]
        if value is None and not spec.required:
            return None
        if type(value) not in spec.types:
            raise self.fail(f"{where}{key} is {_short(value)}; expected {_expected(spec.types)}")
        if type(value) is float and not math.isfinite(value) and not spec.may_be_nan:
            raise self.fail(f"{where}{key} is {value}; expected a finite number")
        if spec.choices is not None and value not in spec.choices:
            raise self.fail(f"{where}{key} is {_short(value)}; expected one of {', '.join(map(str, spec.choices))}")
        if spec.non_empty and not value:
            raise self.fail(f"{where}{key} is empty")
        if spec.record is not None:
            self.record(value, spec.record, f"{where}{key}.")
        elif spec.item_record is not None and type(value) is dict:
            for name, item in value.items():
                self.record(self.mapping(item, f"{where}{key}.{name}"), spec.item_record, f"{where}{key}.{name}.")
        elif spec.items is not None:
            self.items(value, spec, where)
        return value

    def items(self, value: list[Any] | dict[str, Any], spec: FieldSpec, where: str) -> None:
        """A list's items or an object's values, checked against ``spec.items``."""
        assert spec.items is not None
        if type(value) is dict:
            for name in value:
                self.value(value, _item_spec(spec, name), f"{where}{spec.name}.")
            return
        for item in value:
            if type(item) not in spec.items:
                expected = spec.items_hint or f"items that are {_expected(spec.items)}"
                raise self.fail(f"{where}{spec.name} holds {_short(item)}; expected {expected}")

    def record(self, mapping: Mapping[str, Any], record: type, where: str) -> dict[str, Any]:
        """Every field of ``record`` in ``mapping``, checked; absent optional fields are None."""
        return {spec.name: self.value(mapping, spec, where) for spec in record_fields(record)}

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if type(value) is not dict:
            raise self.fail(f"{where} is {'missing' if value is None else _short(value)}; expected an object")
        return value

    def schema(self, mapping: Mapping[str, Any], where: str) -> None:
        if SCHEMA_KEY not in mapping:
            raise self.fail(f"not a fizzcheck result file: {where}{SCHEMA_KEY} is missing (another tool's JSON?)")
        version = mapping[SCHEMA_KEY]
        if type(version) is not int:
            raise self.fail(f"{where}{SCHEMA_KEY} is {_short(version)}; expected an integer")
        if version > SCHEMA_VERSION:
            raise self.fail(
                f"written by a newer fizzcheck (schema {version}; this fizzcheck reads schema ≤ {SCHEMA_VERSION}); "
                "upgrade fizzcheck to read it"
            )
        if version < 1:
            raise self.fail(f"{where}{SCHEMA_KEY} is {version}; expected 1 to {SCHEMA_VERSION}")

    def column(
        self, sources: Sequence[Mapping[str, Any]], spec: FieldSpec, where: str, indices: Sequence[int]
    ) -> list[Any]:
        """``[s.get(spec.name) for s in sources]``, checked as a whole; ``where`` has a ``{}`` for the index."""
        values = [source.get(spec.name) for source in sources]
        allowed = spec.types if spec.required else spec.types | {_NONE}
        kinds = set(map(type, values))
        suspicious = not kinds <= allowed or spec.record is not None or spec.item_record is not None
        if not suspicious and float in kinds and not spec.may_be_nan:
            suspicious = not math.isfinite(sum(v for v in values if type(v) is float))
        if not suspicious and spec.choices is not None:
            suspicious = not set(values) <= {*spec.choices, None}
        if not suspicious and spec.items is not None and list in kinds:
            members = set(map(type, itertools.chain.from_iterable(v for v in values if type(v) is list)))
            suspicious = not members <= spec.items
        if suspicious:  # walk again to name the first bad entry
            for source, index in zip(sources, indices, strict=True):
                self.value(source, spec, where.format(index))
        return values


def _item_spec(spec: FieldSpec, name: str) -> FieldSpec:
    """The definition of one value of an object whose values are scalars."""
    assert spec.items is not None
    return FieldSpec(name, spec.doc, None, spec.items, True, None, may_be_nan=spec.may_be_nan)


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


def _as_text(values: list[Any]) -> list[str | None]:
    """Values of a ``text`` field as the report shows them: ``{"batch": 64, "hidden": 100}`` →
    ``"batch=64, hidden=100"``, numbers → their digits; computed once per distinct object."""
    cache: dict[Any, str] = {}
    texts: list[str | None] = []
    for value in values:
        if value is None or type(value) is str:
            texts.append(value)
            continue
        if type(value) is not dict:
            texts.append(str(value))
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


def _flat_machine(values: Mapping[str, Any]) -> dict[str, Any]:
    """A checked machine block as its report columns: nested records flattened with their prefix."""
    flat: dict[str, Any] = {}
    for spec in record_fields(Machine):
        if spec.prefix is not None and spec.record is not None:
            nested = values.get(spec.name) or {}
            for sub in record_fields(spec.record):
                value = nested.get(sub.name)
                flat[spec.prefix + sub.name] = _as_text([value])[0] if sub.text else value
        elif spec.column is not None:
            flat[spec.column] = values.get(spec.name)
    return flat


def _machine(check: _Check, block: Mapping[str, Any], where: str) -> dict[str, Any]:
    return _flat_machine(check.record(block, Machine, where))


def _peaks(peaks: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The checked ``peaks`` object as rows: one per device × dtype of ``matmul_gflops``."""
    return [
        {"device": device, "dtype": dtype, "matmul_gflops": gflops, "copy_gbps": values.get("copy_gbps")}
        for device, values in (peaks or {}).items()
        for dtype, gflops in (values.get("matmul_gflops") or {None: None}).items()
    ]


def _entries(check: _Check, data: Mapping[str, Any], spec: FieldSpec) -> list[dict[str, Any]]:
    """The document's list of row objects (``properties`` or ``benchmarks``)."""
    entries = check.value(data, spec, "")
    if not set(map(type, entries)) <= {dict}:
        index = next(i for i, entry in enumerate(entries) if type(entry) is not dict)
        check.mapping(entries[index], f"{spec.name}[{index}]")
    return entries


_PROPERTY_HEADER = {spec.name: spec for spec in record_fields(PropertyResults)}


def _property_file(check: _Check, data: Mapping[str, Any]) -> FileContents:
    check.schema(data, "")
    kind, expected_kinds = data.get("kind"), _PROPERTY_HEADER["kind"].choices or ()
    if type(kind) is str and kind not in expected_kinds:
        raise check.fail(f'kind is {_short(kind)}; expected "properties" (benchmark results are pytest-benchmark JSON)')
    check.value(data, _PROPERTY_HEADER["kind"], "")
    header = {
        name: check.value(data, spec, "")
        for name, spec in _PROPERTY_HEADER.items()
        if name not in (SCHEMA_KEY, "kind", "properties")
    }
    entries = _entries(check, data, _PROPERTY_HEADER["properties"])
    indices = range(len(entries))
    columns = {
        spec.column: check.column(entries, spec, "properties[{}].", indices)
        for spec in record_fields(PropertyRow)
        if spec.column is not None
    }
    for spec in record_fields(PropertyRow):  # fields kept in the file only are checked all the same
        if spec.column is None:
            check.column(entries, spec, "properties[{}].", indices)
    notes = [] if entries else [f"{check.path}: no property results in this run"]
    machine = _flat_machine(header["machine"])
    return FileContents(
        str(check.path),
        "properties",
        header["run_id"],
        header["created"],
        machine,
        columns,
        notes=notes,
        unavailable=list(header.get("unavailable") or []),
        surface=dict(header.get("surface") or {}),
    )


_BENCHMARK_PARTS = (("extra_info", BenchmarkCase), ("extra_info", BenchmarkMetrics), ("stats", BenchmarkStats))
_BENCHMARK_HEADER = {spec.name: spec for spec in record_fields(BenchmarkResults)}


def _benchmark_file(check: _Check, data: Mapping[str, Any]) -> FileContents:
    info = check.mapping(data.get("machine_info"), "machine_info")
    if "fizzcheck" not in info:
        raise check.fail(
            "a pytest-benchmark file without fizzcheck's machine_info.fizzcheck block; "
            "run the benchmarks through fizzcheck (fizzcheck bench) so they carry cases, FLOPs and peaks"
        )
    block = check.mapping(info["fizzcheck"], "machine_info.fizzcheck")
    check.schema(block, "machine_info.fizzcheck.")
    run = check.record(block, BenchmarkRun, "machine_info.fizzcheck.")
    created = check.value(data, _BENCHMARK_HEADER["datetime"], "")
    entries = _entries(check, data, _BENCHMARK_HEADER["benchmarks"])
    extras: list[Any] = [entry.get("extra_info") for entry in entries]
    if not set(map(type, extras)) <= {dict, _NONE}:
        index = next(i for i, extra in enumerate(extras) if type(extra) not in (dict, _NONE))
        check.mapping(extras[index], f"benchmarks[{index}].extra_info")
    indices = [i for i, extra in enumerate(extras) if extra is not None and SCHEMA_KEY in extra]
    ignored = [i for i, extra in enumerate(extras) if extra is None or SCHEMA_KEY not in extra]
    kept_extras = [extras[i] for i in indices]
    versions = [extra[SCHEMA_KEY] for extra in kept_extras]
    if set(map(type, versions)) - {int} or (versions and not 1 <= min(versions) <= max(versions) <= SCHEMA_VERSION):
        for index, extra in zip(indices, kept_extras, strict=True):
            check.schema(extra, f"benchmarks[{index}].extra_info.")
    stats: list[Any] = [entries[i].get("stats") for i in indices]
    if not set(map(type, stats)) <= {dict}:
        index, value = next((i, s) for i, s in zip(indices, stats, strict=True) if type(s) is not dict)
        check.mapping(value, f"benchmarks[{index}].stats")
    sources = {"extra_info": kept_extras, "stats": stats}
    columns: dict[str, list[Any]] = {}
    for part, record in _BENCHMARK_PARTS:
        for spec in record_fields(record):
            if spec.name == SCHEMA_KEY:
                continue
            values = check.column(sources[part], spec, f"benchmarks[{{}}].{part}.", indices)
            if spec.column is not None:
                columns[spec.column] = _as_text(values) if spec.text else values
    kept = [entries[i] for i in indices]
    columns["benchmark"] = [entry.get("fullname") or entry.get("name") or "" for entry in kept]
    notes = []
    names = [str(entries[i].get("fullname") or entries[i].get("name") or f"benchmarks[{i}]") for i in ignored]
    if names and indices:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        notes.append(f"{check.path}: ignored {len(names)} benchmark(s) without fizzcheck extra_info ({shown})")
    elif names:
        raise check.fail(
            f"none of its {len(names)} benchmark(s) carries fizzcheck extra_info ({SCHEMA_KEY}, case, ...)"
        )
    else:
        notes = [] if entries else [f"{check.path}: no benchmarks in this run"]
    return FileContents(
        str(check.path),
        "benchmarks",
        run["run_id"],
        created,
        _flat_machine(run),
        columns,
        peaks=_peaks(run["peaks"]),
        notes=notes,
    )


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

"""Result files → tidy pandas DataFrames.

Every file is read and validated (:mod:`fizzcheck.results.validate`) before any table is built,
so one bad file stops a report with a one-line :class:`ResultFileError` and nothing is
written.

The tidy tables of :class:`Results`:

* ``verification`` — one row per property test (nodeid) × run × machine.
* ``speed`` — one row per case × implementation × device × dtype × size × run × machine;
  the raw per-round times (``stats.data``) are kept in the list column ``samples``.
* ``machines`` — one row per result file: the machine block, flattened, with its run.
* ``peaks`` — one row per run × machine × device × dtype with the measured peaks.
"""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fizzcheck.results.schema import (
    BenchmarkCase,
    BenchmarkMetrics,
    BenchmarkStats,
    DevicePeaks,
    Machine,
    PropertyRow,
    column_names,
    is_noisy,
    record_fields,
)
from fizzcheck.results.validate import FileContents, ResultFileError, parse_result_document, read_result_file

__all__ = [
    "LIST_COLUMNS",
    "MACHINE_COLUMNS",
    "PEAK_COLUMNS",
    "SPEED_COLUMNS",
    "VERIFICATION_COLUMNS",
    "ResultFileError",
    "Results",
    "find_result_files",
    "load_results",
    "results_from_documents",
    "samples_array",
]

_RUN_COLUMNS = ("run_id", "machine_id", "created", "file")
_RECOMPUTED = ("gflops", "gbps", "iqr_over_median")
"""Speed columns the loader derives from ``stats`` (as :func:`fizzcheck.bench.runner.derived_metrics` does)."""
_BENCHMARK_RECORDS = (BenchmarkCase, BenchmarkMetrics, BenchmarkStats)
LIST_COLUMNS = _LISTS = ("samples", "passes", "yardstick_s")
"""List-valued speed columns (the rounds; rounds per pass; the yardstick per pass), kept as objects, last."""

VERIFICATION_COLUMNS = (*column_names(PropertyRow), *_RUN_COLUMNS)
SPEED_COLUMNS = (
    *(column for record in _BENCHMARK_RECORDS for column in column_names(record) if column not in _LISTS),
    *_RECOMPUTED, "benchmark", *_RUN_COLUMNS, *_LISTS,
)  # fmt: skip
MACHINE_COLUMNS = ("machine_id", "run_id", "kind", *column_names(Machine)[1:], "created", "file")
PEAK_COLUMNS = ("machine_id", "run_id", "device", "dtype", *column_names(DevicePeaks))


def _number_columns(*records: type) -> tuple[str, ...]:
    """The loaded columns whose values are JSON numbers: read as float64."""
    return tuple(
        spec.column
        for record in records
        for spec in record_fields(record)
        if spec.column is not None and spec.types and spec.types <= {int, float}
    )


_PROPERTY_NUMBERS = _number_columns(PropertyRow)
_SPEED_NUMBERS = _number_columns(*_BENCHMARK_RECORDS)


@dataclass(frozen=True)
class Results:
    """Everything read from a set of result files, as tidy DataFrames."""

    files: tuple[Path, ...]
    verification: pd.DataFrame
    speed: pd.DataFrame
    machines: pd.DataFrame
    peaks: pd.DataFrame
    notes: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()
    """What the property runs could not run on their machines (``cuda not available (…)``), once each."""
    surface: dict[str, int] = field(default_factory=dict)
    """Declared API cells → examples that exercised them, summed over the property runs
    (:mod:`fizzcheck.surface`); empty when no run recorded coverage."""

    @property
    def empty(self) -> bool:
        return self.verification.empty and self.speed.empty


def _surface_totals(contents: Iterable[FileContents]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for c in contents:
        for cell, examples in c.surface.items():
            totals[cell] = totals.get(cell, 0) + int(examples)
    return totals


def find_result_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (searched recursively for ``*.json``) into a de-duplicated list."""
    found: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                candidates = sorted(p for p in path.rglob("*.json") if p.is_file())
            except OSError as exc:
                raise ResultFileError(f"{path}: cannot list directory ({exc.strerror or exc})") from None
            if not candidates:
                raise ResultFileError(f"{path}: directory contains no *.json result files")
        elif path.exists():
            candidates = [path]
        elif path.is_symlink():
            raise ResultFileError(f"{path}: broken symbolic link")
        else:
            raise ResultFileError(f"{path}: no such file or directory")
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    if not found:
        raise ResultFileError("no result files given")
    return found


@contextmanager
def _no_gc() -> Iterator[None]:
    # Parsing creates millions of small objects, none of them cyclic: the cyclic collector
    # would only re-scan them again and again (a third of the load time on 100 000 rows).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_all(files: Sequence[Path]) -> list[FileContents]:
    with _no_gc():
        return [read_result_file(path) for path in files]


def _run_value(content: FileContents, column: str) -> Any:
    if column == "machine_id":
        return content.machine["machine_id"]
    return {"run_id": content.run_id, "created": content.created, "file": content.path}[column]


def _concat(contents: Sequence[FileContents], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The files' rows, one list per column; run columns repeat each file's value over its rows."""
    chain = itertools.chain.from_iterable
    return {
        column: list(chain(itertools.repeat(_run_value(c, column), c.rows) for c in contents))
        if column in _RUN_COLUMNS
        else list(chain(c.columns[column] for c in contents))
        for column in columns
    }


def _frame(table: dict[str, list[Any]], columns: Sequence[str], numbers: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame({column: table.get(column, []) for column in columns}, columns=list(columns))
    for column in numbers:
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


def _speed_table(contents: Sequence[FileContents]) -> pd.DataFrame:
    table = _concat(contents, [c for c in SPEED_COLUMNS if c not in _RECOMPUTED])
    lists = {name: table.pop(name) for name in _LISTS}
    speed = _frame(table, list(table), _SPEED_NUMBERS)
    median = speed["median_s"].where(speed["median_s"] > 0)
    speed["gflops"] = speed["flops"] / median / 1e9
    speed["gbps"] = speed["bytes"] / median / 1e9
    speed["iqr_over_median"] = speed["iqr_s"] / median
    computed_noisy = is_noisy(speed["iqr_over_median"], speed["median_s"])
    recorded = pd.Series(table["noisy"], index=speed.index, dtype="object")
    speed["noisy"] = recorded.where(recorded.notna(), computed_noisy).astype(bool)
    for name, values in lists.items():
        speed[name] = pd.Series(values, index=speed.index, dtype="object")
    return speed[list(SPEED_COLUMNS)]


def load_results(paths: Iterable[str | Path]) -> Results:
    """Read every result file under ``paths`` (files, or directories searched for ``*.json``).

    Raises :class:`ResultFileError` naming the first file that cannot be used.
    """
    files = find_result_files(paths)
    return _results(files, _read_all(files))


def results_from_documents(documents: Mapping[str, Any]) -> Results:
    """:func:`load_results` for documents already in memory, keyed by the name messages use for them."""
    contents = [parse_result_document(document, name) for name, document in documents.items()]
    return _results([Path(name) for name in documents], contents)


def _results(files: Sequence[Path], contents: Sequence[FileContents]) -> Results:
    if not contents:
        raise ResultFileError("no result files given")
    seen_runs: dict[tuple[str, str], str] = {}
    for content in contents:
        key = (content.kind, content.run_id)
        if key in seen_runs:
            raise ResultFileError(
                f"{content.path}: {content.kind} run {content.run_id} is already loaded from {seen_runs[key]}"
            )
        seen_runs[key] = content.path
    properties = [c for c in contents if c.kind == "properties"]
    benchmarks = [c for c in contents if c.kind == "benchmarks"]
    verification = _frame(_concat(properties, VERIFICATION_COLUMNS), VERIFICATION_COLUMNS, _PROPERTY_NUMBERS)
    machines = pd.DataFrame(
        [{**c.machine, "run_id": c.run_id, "kind": c.kind, "created": c.created, "file": c.path} for c in contents],
        columns=list(MACHINE_COLUMNS),
    )
    peak_rows = [
        {"machine_id": c.machine["machine_id"], "run_id": c.run_id, **peak} for c in benchmarks for peak in c.peaks
    ]
    peaks = pd.DataFrame(peak_rows, columns=list(PEAK_COLUMNS))
    for column in column_names(DevicePeaks):
        peaks[column] = pd.to_numeric(peaks[column]).astype("float64")
    results = Results(
        files=tuple(files),
        verification=verification,
        speed=_speed_table(benchmarks),
        machines=machines,
        peaks=peaks,
        notes=tuple(note for c in contents for note in c.notes),
        unavailable=tuple(dict.fromkeys(line for c in properties for line in c.unavailable)),
        surface=_surface_totals(properties),
    )
    if results.empty:
        where = str(files[0]) if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
        raise ResultFileError(f"{where}: no property or benchmark results in {len(files)} file(s)")
    return results


def samples_array(samples: Any) -> np.ndarray:
    """The raw per-round times of one speed row as a float array (empty when they were not saved)."""
    if samples is None or (isinstance(samples, float) and math.isnan(samples)):
        return np.empty(0)
    return np.asarray(samples, dtype=float)

"""The report's tables as rows of formatted text cells, shared by ``summary.md`` and ``index.html``.

A :class:`~fizzcheck.report.templating.Cell` is plain text plus how to show it (an identifier
in a code span, a number aligned right, a verdict coloured); :mod:`fizzcheck.report.markdown`
and the table macro of ``templates/table.html`` do the escaping, so nothing here is markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from fizzcheck import __version__
from fizzcheck.report import plots
from fizzcheck.report.build import Report, varies
from fizzcheck.report.templating import Cell

__all__ = [
    "MISSING",
    "code_cell",
    "is_missing",
    "machine_rows",
    "matrix_rows",
    "number_cell",
    "peak_rows",
    "records",
    "scope",
    "speed_rows",
    "verification_rows",
]

MISSING = "–"
"""What a cell shows for a value that was not recorded."""

Header = list[str]
Rows = list[list[Cell]]
_new_cell = tuple.__new__  # Cell(...) without NamedTuple's keyword handling: a big table has 30 000 cells


def code_cell(text: str) -> Cell:
    """An identifier (a missing one is shown as plain ``–``)."""
    return _new_cell(Cell, (text, "", "", text != MISSING))


def number_cell(text: str) -> Cell:
    """A number, aligned right."""
    return _new_cell(Cell, (text, "num", "", False))


def records(frame: pd.DataFrame) -> Iterator[Any]:
    """``frame.itertuples(index=False)``: each cell is whatever its column holds."""
    return iter(frame.itertuples(index=False))


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value == ""


def _ratio(value: Any) -> str:
    return MISSING if is_missing(value) else f"{float(value):.3g}"


def _integer(value: Any) -> str:
    return MISSING if is_missing(value) else f"{int(value):,}"


def _percent(value: Any) -> str:
    return MISSING if is_missing(value) else f"{float(value):.3g} %"


def _seconds(value: Any) -> str:
    return MISSING if is_missing(value) else plots.format_seconds(float(value))


def _count(value: Any) -> str:
    return MISSING if is_missing(value) else plots.format_count(float(value))


def _plain(value: Any) -> str:
    return MISSING if is_missing(value) else str(value)


def _yes_no(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, (bool, np.bool_)) else _plain(value)


def _speedup(value: Any) -> str:
    return "" if is_missing(value) else f"×{float(value):.3g}"


def scope(report: Report) -> str:
    """What the report covers and when it was made, in one line."""
    results = report.results
    machines = results.machines["machine_id"].nunique()
    return (
        f"{len(results.files)} result file(s), {report.runs} run(s) on {machines} machine(s); "
        f"generated {report.generated:%Y-%m-%d %H:%M:%S} UTC by fizzcheck {__version__}"
    )


def verification_rows(report: Report, *, with_skipped: bool = True) -> tuple[Header, Rows]:
    header = ["property", "device", "dtype", "target", "results", "examples", "max error / bound", "verdict"]
    rows = [
        [code_cell(_plain(r.property)), code_cell(_plain(r.device)), code_cell(_plain(r.dtype)),
         code_cell(_plain(r.target)), number_cell(_integer(r.results)), number_cell(_integer(r.examples)),
         number_cell(_ratio(r.max_error_ratio)), Cell(str(r.verdict), str(r.verdict).split(" ")[0])]
        for r in records(report.verification)
        if with_skipped or r.verdict != "SKIP"
    ]  # fmt: skip
    return header, rows


def matrix_rows(report: Report) -> tuple[Header, Rows]:
    """The speed matrix: one row per (machine,) case, size and dtype; one column per implementation."""
    several_machines = varies(report.speed["machine_id"])
    header = (["machine"] if several_machines else []) + ["case", "size", "dtype", *report.matrix_columns]
    rows = []
    medians = report.median_matrix
    speedups = report.speedup_matrix
    keys: list[Any] = list(medians.index)
    for key, times, ups in zip(keys, medians.to_numpy(), speedups.to_numpy(), strict=True):
        machine_id, case, size, dtype = key
        row = [code_cell(report.labels.get(machine_id, machine_id))] if several_machines else []
        row += [code_cell(case), code_cell(size), code_cell(dtype)]
        for name, seconds, up in zip(report.matrix_columns, times, ups, strict=True):
            is_baseline = report.baseline is not None and name.split("·")[0] == report.baseline
            text = _seconds(seconds) if is_missing(up) or is_baseline else f"{_seconds(seconds)} {_speedup(up)}"
            row.append(number_cell(text))
        rows.append(row)
    return header, rows


def speed_rows(report: Report) -> tuple[Header, Rows]:
    header = ["machine", "case", "size", "device", "dtype", "implementation", "runs", "median", "IQR / median",
              "GFLOP/s", "GB/s", "% peak FLOP/s", "% peak bandwidth", "speed-up", "noisy"]  # fmt: skip
    rows = [
        [code_cell(report.labels.get(r.machine_id, r.machine_id)), code_cell(r.case), code_cell(r.size),
         code_cell(r.device), code_cell(r.dtype), code_cell(r.implementation), number_cell(_integer(r.runs)),
         number_cell(_seconds(r.median_s)), number_cell(_ratio(r.iqr_s / r.median_s if r.median_s else float("nan"))),
         number_cell(_count(r.gflops)), number_cell(_count(r.gbps)), number_cell(_percent(r.pct_peak_flops)),
         number_cell(_percent(r.pct_peak_bandwidth)), number_cell(_speedup(r.speedup)), Cell("noisy" if r.noisy else "")]
        for r in records(report.speed)
    ]  # fmt: skip
    return header, rows


def machine_rows(report: Report) -> tuple[Header, Rows]:
    header = ["machine", "machine id", "CPU", "cores (physical/logical)", "GPU", "torch", "torch build", "threads",
              "Python", "numpy", "runs"]  # fmt: skip
    rows = []
    for r in records(report.machines):
        gpu = MISSING
        if not is_missing(r.gpu_name):
            memory = "" if is_missing(r.gpu_memory_bytes) else f", {float(r.gpu_memory_bytes) / 2**30:.0f} GiB"
            capability = "" if is_missing(r.gpu_capability) else f", sm {r.gpu_capability}"
            gpu = f"{r.gpu_name}{memory}{capability}"
        build = ", ".join(
            f"{name} {_yes_no(value)}" for name, value in
            (("CUDA", r.torch_cuda), ("cuDNN", r.torch_cudnn), ("BLAS", r.torch_blas), ("MKL", r.torch_mkl), ("OpenMP", r.torch_openmp))
            if not is_missing(value)
        )  # fmt: skip
        rows.append([
            code_cell(_plain(r.machine)), code_cell(_plain(r.machine_id)), Cell(_plain(r.cpu_model)),
            number_cell(f"{_integer(r.cores_physical)}/{_integer(r.cores_logical)}"), Cell(gpu),
            code_cell(_plain(r.torch_version)), Cell(build or MISSING), number_cell(_integer(r.torch_threads)),
            code_cell(_plain(r.python)), code_cell(_plain(r.numpy)), number_cell(_integer(r.runs)),
        ])  # fmt: skip
    return header, rows


def peak_rows(report: Report) -> tuple[Header, Rows]:
    header = ["machine", "device", "dtype", "matmul GFLOP/s", "copy GB/s"]
    rows = [
        [code_cell(report.labels.get(r.machine_id, r.machine_id)), code_cell(_plain(r.device)),
         code_cell(_plain(r.dtype)), number_cell(_count(r.matmul_gflops)), number_cell(_count(r.copy_gbps))]
        for r in records(report.peaks)
    ]  # fmt: skip
    return header, rows

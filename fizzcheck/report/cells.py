"""The report's tables as rows of formatted text cells, shared by ``summary.md`` and ``index.html``.

A :class:`~fizzcheck.report.templating.Cell` is plain text plus how to show it (an identifier
in a code span, a number aligned right, a verdict coloured); :mod:`fizzcheck.report.markdown`
and the table macro of ``templates/table.html`` do the escaping, so nothing here is markup.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from fizzcheck import __version__
from fizzcheck.report import plots
from fizzcheck.report.build import Report, varies
from fizzcheck.report.tables import NOT_RUN
from fizzcheck.report.templating import Cell
from fizzcheck.results.outcomes import FAILING, LABELS, row_label

__all__ = [
    "MISSING",
    "busy_lines",
    "code_cell",
    "is_missing",
    "machine_rows",
    "matrix_rows",
    "number_cell",
    "outcome_sections",
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


_VERDICT_CSS = {"PASS": "PASS", "FAIL": "FAIL", "KNOWN TORCH DEFECT": "DEFECT", "BEHAVIOUR CHANGED": "CHANGED"}


def verification_rows(report: Report, *, with_not_run: bool = False) -> tuple[Header, Rows]:
    """The verification table: the cells that ran (PASS, FAIL, KNOWN TORCH DEFECT, BEHAVIOUR CHANGED).

    Cells that did not run (NOT AVAILABLE, SKIPPED) are one line per reason in :func:`outcome_sections`;
    ``with_not_run`` lists them as rows too (the CSV always has them).
    """
    header = ["property", "device", "dtype", "target", "results", "examples", "max error / bound", "verdict"]
    rows = [
        [code_cell(_plain(r.property)), code_cell(_plain(r.device)), code_cell(_plain(r.dtype)),
         code_cell(_plain(r.target)), number_cell(_integer(r.results)), number_cell(_integer(r.examples)),
         number_cell(_ratio(r.max_error_ratio)), Cell(str(r.verdict), _VERDICT_CSS.get(str(r.verdict), "SKIP"))]
        for r in records(report.verification)
        if with_not_run or r.verdict not in NOT_RUN
    ]  # fmt: skip
    return header, rows


def outcome_sections(report: Report) -> list[tuple[str, int, list[str]]]:
    """``(label, count, lines)`` for every outcome but PASS and FAIL/ERROR (those have their own
    sections) that occurred: known torch defects and behaviour changes one line per test and reason,
    what was not available or skipped one line per reason — the terminal summary's sections."""
    verdict = report.verdict
    verification = report.results.verification
    sections = []
    for outcome, label in LABELS.items():
        count = verdict.counts.get(outcome, 0)
        if outcome in ("passed", *FAILING) or not count:
            continue
        if outcome in ("skipped", "not_available"):
            lines = [f"{n} × {reason}" for reason, n in verdict.reasons.get(outcome, [])]
        else:
            rows = verification[verification["outcome"] == outcome]
            seen = Counter(f"{row_label(r)}: {_plain(r['skip_reason'])}" for r in rows.to_dict("records"))
            lines = [line if n == 1 else f"{line} (×{n})" for line, n in seen.items()]
        sections.append((label, count, lines))
    return sections


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


def _ci(low: Any, high: Any) -> str:
    return MISSING if is_missing(low) or is_missing(high) else f"{_seconds(low)} – {_seconds(high)}"


def _peak_percent(value: Any, above: Any) -> str:
    """A row that beat the peak micro-benchmark is flagged: its 100 % is not a measurement."""
    return "above measured peak" if above is True else _percent(value)


def busy_lines(report: Report) -> list[str]:
    """One line when any benchmark run of the report was busy (fizzcheck.bench.timing.is_busy)."""
    speed = report.speed
    if speed.empty or "busy" not in speed or not speed["busy"].eq(True).any():
        return []
    busy = int(speed["busy"].eq(True).sum())
    return [
        f"Busy machine: {busy} of {len(speed)} benchmark row(s) come from runs during which other processes "
        "used the CPU. Their times include that load (see the 95 % CI column); compare runs with "
        "fizzcheck compare, which accounts for it."
    ]


def speed_rows(report: Report) -> tuple[Header, Rows]:
    header = ["machine", "case", "size", "device", "dtype", "implementation", "runs", "median", "95 % CI of median",
              "min", "IQR / median", "GFLOP/s", "GB/s", "% peak FLOP/s", "% peak bandwidth", "speed-up", "noisy",
              "busy"]  # fmt: skip
    rows = [
        [code_cell(report.labels.get(r.machine_id, r.machine_id)), code_cell(r.case), code_cell(r.size),
         code_cell(r.device), code_cell(r.dtype), code_cell(r.implementation), number_cell(_integer(r.runs)),
         number_cell(_seconds(r.median_s)), number_cell(_ci(r.ci_low_s, r.ci_high_s)), number_cell(_seconds(r.min_s)),
         number_cell(_ratio(r.iqr_s / r.median_s if r.median_s else float("nan"))),
         number_cell(_count(r.gflops)), number_cell(_count(r.gbps)),
         number_cell(_peak_percent(r.pct_peak_flops, r.above_measured_peak)),
         number_cell(_peak_percent(r.pct_peak_bandwidth, r.above_measured_peak)), number_cell(_speedup(r.speedup)),
         Cell("noisy" if r.noisy else ""), Cell("busy" if r.busy is True else "")]
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


def _surface(report: Report) -> list[Any]:
    if not report.results.surface:
        return []
    from fizzcheck.surface import coverage

    devices = {str(d) for d in report.results.verification["device"].dropna().unique()} or {"cpu"}
    return coverage(report.results.surface, devices)


def surface_rows(report: Report) -> tuple[Header, Rows, list[str]]:
    """The API-surface section: one row per catalogue family (declared, exercised, gaps, not
    available, fewest examples of an exercised cell), and per family one line naming the cells no
    example reached (and those that need a device the runs did not have)."""
    from fizzcheck.surface import family_lines

    cells = _surface(report)
    header = ["family", "declared cells", "exercised", "not exercised", "not available", "fewest examples"]
    rows = [[code_cell(name), *(number_cell(str(n)) for n in numbers)] for name, *numbers in family_lines(cells)]
    gaps = []
    for family in dict.fromkeys(c.family for c in cells):
        for status in ("not exercised", "not available"):
            missed = [c.cell.removeprefix(family) for c in cells if c.family == family and c.status == status]
            if missed:
                shown = ", ".join(missed[:SURFACE_CELLS_SHOWN])
                more = f" and {len(missed) - SURFACE_CELLS_SHOWN} more" if len(missed) > SURFACE_CELLS_SHOWN else ""
                gaps.append(f"{family}: {len(missed)} {status.upper()}: {shown}{more}")
    return header, rows, gaps


SURFACE_CELLS_SHOWN = 8
"""Cells named per family and status in the report's gap lines (``fizzcheck surface FILE`` lists all)."""

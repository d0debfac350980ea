"""Results → :class:`Report`: everything a report shows, computed once (tables, verdict, plots).

:func:`build_report` chooses the speed-up baseline, aggregates with :mod:`fizzcheck.report.tables`
and draws the scaling and roofline plots with :mod:`fizzcheck.report.plots`; nothing here
formats text (:mod:`~fizzcheck.report.markdown`, :mod:`~fizzcheck.report.html`) or writes files
(:mod:`~fizzcheck.report.files`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from fizzcheck.errors import FizzcheckError
from fizzcheck.report import plots, tables
from fizzcheck.report.load import Results
from fizzcheck.results.outcomes import Summary

__all__ = ["Figure", "Report", "build_report", "varies"]


@dataclass(frozen=True)
class Figure:
    """One inline SVG plot with the section it belongs to and a caption."""

    section: str  # "scaling" or "roofline"
    title: str
    svg: str
    caption: str = ""


@dataclass
class Report:
    """Everything one report shows, computed from :class:`Results`."""

    title: str
    generated: datetime
    baseline: str | None
    results: Results
    verdict: Summary
    verification: pd.DataFrame
    failures: pd.DataFrame
    speed: pd.DataFrame
    median_matrix: pd.DataFrame
    speedup_matrix: pd.DataFrame
    matrix_columns: list[str]
    machines: pd.DataFrame
    peaks: pd.DataFrame
    labels: dict[str, str]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return int(self.results.machines["run_id"].nunique())


def _choose_baseline(speed: pd.DataFrame, baseline: str | None) -> tuple[str | None, list[str]]:
    if speed.empty:
        return None, []
    available = sorted(speed["implementation"].unique())
    if baseline is None:
        if tables.DEFAULT_BASELINE in available:
            return tables.DEFAULT_BASELINE, []
        return None, [
            f"no {tables.DEFAULT_BASELINE} results: speed-ups are not shown (choose one of {', '.join(available)} with --baseline)"
        ]
    if baseline not in available:
        raise FizzcheckError(
            f"--baseline {baseline!r} is not an implementation in the results; use one of {', '.join(available)}"
        )
    return baseline, []


def build_report(
    results: Results, *, baseline: str | None = None, title: str | None = None, now: datetime | None = None
) -> Report:
    """Compute the tables, verdict and plots of a report. ``baseline=None``: numpy_reference if present."""
    chosen, notes = _choose_baseline(results.speed, baseline)
    speed = tables.speed_table(results.speed, chosen or "")
    median_matrix, speedup_matrix, matrix_columns = tables.speed_matrix(speed, chosen or "")
    labels = tables.machine_labels(results.machines)
    report = Report(
        title=title or "fizzcheck report",
        generated=now or datetime.now(timezone.utc),
        baseline=chosen,
        results=results,
        verdict=tables.verdict(results.verification, results.machines, results.unavailable),
        verification=tables.verification_table(results.verification),
        failures=tables.failures(results.verification, results.machines),
        speed=speed,
        median_matrix=median_matrix,
        speedup_matrix=speedup_matrix,
        matrix_columns=matrix_columns,
        machines=tables.machines_table(results.machines),
        peaks=tables.peaks_table(results.peaks),
        labels=labels,
        notes=[*results.notes, *notes],
    )
    report.figures = [*_scaling_figures(report), *_roofline_figures(report)]
    return report


def _series_styles(speed: pd.DataFrame, baseline: str | None) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    implementations = sorted(speed["implementation"].unique(), key=lambda name: (name != baseline, name))
    variants = sorted({(d, t) for d, t in zip(speed["device"], speed["dtype"], strict=True)})
    return {name: i for i, name in enumerate(implementations)}, {v: i for i, v in enumerate(variants)}


def _scaling_figures(report: Report) -> list[Figure]:
    speed = report.speed
    if speed.empty:
        return []
    colors, dashes = _series_styles(speed, report.baseline)
    several_machines = varies(speed["machine_id"])
    figures = []
    for (machine_id, case), rows in speed.groupby(["machine_id", "case"], sort=False):
        where = f" on {report.labels.get(str(machine_id), str(machine_id))}" if several_machines else ""
        flops_known = bool(rows["flops"].gt(0).all())
        categories = None if flops_known else list(dict.fromkeys(rows["size"]))
        time_lines, rate_lines = [], []
        several_devices, several_dtypes = varies(rows["device"]), varies(rows["dtype"])
        for (implementation, device, dtype), series in rows.groupby(["implementation", "device", "dtype"], sort=False):
            parts = [implementation, device if several_devices else None, dtype if several_dtypes else None]
            label = " · ".join(str(part) for part in parts if part is not None)
            x = series["flops"].tolist() if flops_known else [categories.index(s) for s in series["size"]]  # type: ignore[union-attr]
            tips = [
                f"{label} · size {size}: {plots.format_seconds(t)}, {plots.format_count(g)} GFLOP/s"
                for size, t, g in zip(series["size"], series["median_s"], series["gflops"], strict=True)
            ]
            ci = (
                {"low": series["ci_low_s"].tolist(), "high": series["ci_high_s"].tolist()}
                if "ci_low_s" in series
                else {}
            )
            style = {"color": colors[str(implementation)], "dash": dashes[(str(device), str(dtype))], "tips": tips}
            time_lines.append(plots.Line(label, x, series["median_s"].tolist(), **style, **ci))  # type: ignore[arg-type]
            if flops_known:
                rate_lines.append(plots.Line(label, x, series["gflops"].tolist(), **style))  # type: ignore[arg-type]
        x_label = "FLOPs per call" if flops_known else "size"
        title = f"{case}: median time per call{where}"
        svg = plots.line_plot(
            time_lines,
            title=title,
            x_label=x_label,
            y_label="median time",
            x_categories=categories,
            y_format=plots.format_seconds,
        )
        figures.append(
            Figure(
                "scaling",
                title,
                svg,
                "log-log; one line per implementation · device · dtype; medians over runs; bars: 95 % CI of the median",
            )
        )
        if rate_lines:
            title = f"{case}: achieved GFLOP/s{where}"
            svg = plots.line_plot(rate_lines, title=title, x_label=x_label, y_label="GFLOP/s")
            figures.append(Figure("scaling", title, svg, "log-log; higher is better"))
    return figures


def _roofline_figures(report: Report) -> list[Figure]:
    speed = report.speed
    usable = speed[(speed["flops"] > 0) & (speed["bytes"] > 0) & (speed["gflops"] > 0)]
    if usable.empty:
        return []
    colors, _ = _series_styles(speed, report.baseline)
    figures = []
    for (machine_id, device), rows in usable.groupby(["machine_id", "device"], sort=True):
        peaks = report.peaks[(report.peaks["machine_id"] == machine_id) & (report.peaks["device"] == device)]
        roofs = [
            plots.Roof(f"{dtype} peak {plots.format_count(gflops)} GFLOP/s", gflops=float(gflops))
            for dtype, gflops in zip(peaks["dtype"], peaks["matmul_gflops"], strict=True)
            if dtype and np.isfinite(gflops) and gflops > 0
        ]
        bandwidth = peaks["copy_gbps"].dropna()
        if not bandwidth.empty and bandwidth.max() > 0:
            roofs.append(
                plots.Roof(f"copy {plots.format_count(bandwidth.median())} GB/s", gbps=float(bandwidth.median()))
            )
        points = []
        for implementation, series in rows.groupby("implementation", sort=False):
            intensity = (series["flops"] / series["bytes"]).tolist()
            tips = [
                f"{implementation} · {case} · {dtype} · size {size}: {plots.format_count(g)} GFLOP/s at {plots.format_count(i)} FLOP/byte"
                for case, dtype, size, g, i in zip(
                    series["case"], series["dtype"], series["size"], series["gflops"], intensity, strict=True
                )
            ]
            points.append(plots.Line(str(implementation), intensity, series["gflops"].tolist(), color=colors[str(implementation)],
                                     tips=tips, joined=False))  # fmt: skip
        machine = report.labels.get(str(machine_id), str(machine_id))
        title = f"roofline: {device} on {machine}"
        caption = "every case × size × dtype, medians over runs; ceilings: measured peaks of this machine"
        if not roofs:
            caption += " (no peaks were measured for this device: no ceilings drawn)"
        figures.append(Figure("roofline", title, plots.roofline_plot(points, roofs, title=title), caption))
    return figures


def varies(series: pd.Series) -> bool:
    """Whether ``series`` holds more than one distinct value."""
    values = series.to_numpy()
    return len(values) > 1 and bool((values != values[0]).any())

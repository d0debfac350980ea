"""Results → a report directory: ``summary.md``, ``index.html`` and CSV tables.

:func:`build_report` computes everything a report shows; :func:`summary_markdown` and
:func:`index_html` format it; :func:`write_report` writes the files into a temporary
directory next to the destination and renames it into place under a new name, so a report
appears whole or not at all and never replaces an earlier one.

Every string taken from results is escaped: ``html.escape`` in HTML and SVG; in Markdown,
identifiers go in code spans and free text is HTML-escaped, with ``|`` and line breaks
neutralised so a table cell stays one cell.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fizzcheck import __version__
from fizzcheck.errors import FizzcheckError
from fizzcheck.report import plots, tables
from fizzcheck.report.load import Results

__all__ = [
    "HTML_ROW_LIMIT",
    "MARKDOWN_FAILURE_LIMIT",
    "MARKDOWN_ROW_LIMIT",
    "MARKDOWN_TEXT_LIMIT",
    "Figure",
    "Report",
    "build_report",
    "index_html",
    "md_code",
    "md_text",
    "save_report",
    "summary_markdown",
    "write_csv",
    "write_report",
]

MARKDOWN_ROW_LIMIT = 150
"""Rows per table in summary.md (a GitHub job summary holds at most 1 MiB); the CSVs have all rows."""
MARKDOWN_FAILURE_LIMIT = 20
MARKDOWN_TEXT_LIMIT = 4000
"""Failures, and characters of each message or reproducer, in summary.md (all of them are in index.html)."""
HTML_ROW_LIMIT = 2000
REPORT_PREFIX = "fizzcheck-report-"


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
    verdict: tables.Verdict
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


# -- computing ---------------------------------------------------------------------------------


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
        verdict=tables.verdict(results.verification),
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
    several_machines = _varies(speed["machine_id"])
    figures = []
    for (machine_id, case), rows in speed.groupby(["machine_id", "case"], sort=False):
        where = f" on {report.labels.get(str(machine_id), str(machine_id))}" if several_machines else ""
        flops_known = bool(rows["flops"].gt(0).all())
        categories = None if flops_known else list(dict.fromkeys(rows["size"]))
        time_lines, rate_lines = [], []
        several_devices, several_dtypes = _varies(rows["device"]), _varies(rows["dtype"])
        for (implementation, device, dtype), series in rows.groupby(["implementation", "device", "dtype"], sort=False):
            parts = [implementation, device if several_devices else None, dtype if several_dtypes else None]
            label = " · ".join(str(part) for part in parts if part is not None)
            x = series["flops"].tolist() if flops_known else [categories.index(s) for s in series["size"]]  # type: ignore[union-attr]
            tips = [
                f"{label} · size {size}: {plots.format_seconds(t)}, {plots.format_count(g)} GFLOP/s"
                for size, t, g in zip(series["size"], series["median_s"], series["gflops"], strict=True)
            ]
            style = {"color": colors[str(implementation)], "dash": dashes[(str(device), str(dtype))], "tips": tips}
            time_lines.append(plots.Line(label, x, series["median_s"].tolist(), **style))  # type: ignore[arg-type]
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
            Figure("scaling", title, svg, "log-log; one line per implementation · device · dtype; medians over runs")
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


# -- formatting helpers ------------------------------------------------------------------------


def _rows(frame: pd.DataFrame) -> Iterator[Any]:
    """``frame.itertuples(index=False)``: each cell is whatever its column holds."""
    return iter(frame.itertuples(index=False))


def _varies(series: pd.Series) -> bool:
    values = series.to_numpy()
    return len(values) > 1 and bool((values != values[0]).any())


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value == ""


def _ratio(value: Any) -> str:
    return "–" if _is_missing(value) else f"{float(value):.3g}"


def _integer(value: Any) -> str:
    return "–" if _is_missing(value) else f"{int(value):,}"


def _percent(value: Any) -> str:
    return "–" if _is_missing(value) else f"{float(value):.3g} %"


def _seconds(value: Any) -> str:
    return "–" if _is_missing(value) else plots.format_seconds(float(value))


def _count(value: Any) -> str:
    return "–" if _is_missing(value) else plots.format_count(float(value))


def _plain(value: Any) -> str:
    return "–" if _is_missing(value) else str(value)


def _yes_no(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, (bool, np.bool_)) else _plain(value)


def _speedup(value: Any) -> str:
    return "" if _is_missing(value) else f"×{float(value):.3g}"


_MD_SPECIAL = re.compile(r"[\\`*|~\[]|(?<!\w)_|_(?!\w)")  # an intra-word _ is no emphasis in GFM


def md_text(value: Any) -> str:
    """Free text for a Markdown table cell: HTML-escaped, markup characters backslash-escaped, one line."""
    text = " ".join(_plain(value).split())
    return _MD_SPECIAL.sub(lambda match: "\\" + match.group(0), escape(text, quote=False))


def md_code(value: Any) -> str:
    """An identifier as a Markdown code span (no markup inside), safe in a table cell."""
    text = " ".join(_plain(value).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], limit: int = MARKDOWN_ROW_LIMIT, more: str = ""
) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n… {len(rows) - limit} more rows{more}.")
    return "\n".join(lines)


def _shortened(text: str) -> str:
    if len(text) <= MARKDOWN_TEXT_LIMIT:
        return text
    return text[:MARKDOWN_TEXT_LIMIT] + f"\n# … {len(text) - MARKDOWN_TEXT_LIMIT} more characters in index.html"


def _fenced(text: str, language: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


# -- the table contents, shared by Markdown and HTML --------------------------------------------

_Cell = tuple[str, str]  # (text, kind): kind "code" for identifiers, "text" for free text, "num" for numbers


def _verification_rows(report: Report, *, with_skipped: bool = True) -> tuple[list[str], list[list[_Cell]]]:
    header = ["property", "device", "dtype", "target", "results", "examples", "max error / bound", "verdict"]
    rows = [
        [(_plain(r.property), "code"), (_plain(r.device), "code"), (_plain(r.dtype), "code"), (_plain(r.target), "code"),
         (_integer(r.results), "num"), (_integer(r.examples), "num"), (_ratio(r.max_error_ratio), "num"),
         (str(r.verdict), "verdict")]
        for r in _rows(report.verification)
        if with_skipped or r.verdict != "SKIP"
    ]  # fmt: skip
    return header, rows


def _matrix_rows(report: Report) -> tuple[list[str], list[list[_Cell]]]:
    several_machines = _varies(report.speed["machine_id"])
    header = (["machine"] if several_machines else []) + ["case", "size", "dtype", *report.matrix_columns]
    rows = []
    medians = report.median_matrix
    speedups = report.speedup_matrix
    keys: list[Any] = list(medians.index)
    for key, times, ups in zip(keys, medians.to_numpy(), speedups.to_numpy(), strict=True):
        machine_id, case, size, dtype = key
        row: list[_Cell] = [(report.labels.get(machine_id, machine_id), "code")] if several_machines else []
        row += [(case, "code"), (size, "code"), (dtype, "code")]
        for name, seconds, up in zip(report.matrix_columns, times, ups, strict=True):
            is_baseline = report.baseline is not None and name.split("·")[0] == report.baseline
            text = _seconds(seconds) if _is_missing(up) or is_baseline else f"{_seconds(seconds)} {_speedup(up)}"
            row.append((text, "num"))
        rows.append(row)
    return header, rows


def _speed_rows(report: Report) -> tuple[list[str], list[list[_Cell]]]:
    header = ["machine", "case", "size", "device", "dtype", "implementation", "runs", "median", "IQR / median",
              "GFLOP/s", "GB/s", "% peak FLOP/s", "% peak bandwidth", "speed-up", "noisy"]  # fmt: skip
    rows = [
        [(report.labels.get(r.machine_id, r.machine_id), "code"), (r.case, "code"), (r.size, "code"), (r.device, "code"),
         (r.dtype, "code"), (r.implementation, "code"), (_integer(r.runs), "num"), (_seconds(r.median_s), "num"),
         (_ratio(r.iqr_s / r.median_s if r.median_s else float("nan")), "num"), (_count(r.gflops), "num"),
         (_count(r.gbps), "num"), (_percent(r.pct_peak_flops), "num"), (_percent(r.pct_peak_bandwidth), "num"),
         (_speedup(r.speedup), "num"), ("noisy" if r.noisy else "", "text")]
        for r in _rows(report.speed)
    ]  # fmt: skip
    return header, rows


def _machine_rows(report: Report) -> tuple[list[str], list[list[_Cell]]]:
    header = ["machine", "machine id", "CPU", "cores (physical/logical)", "GPU", "torch", "torch build", "threads",
              "Python", "numpy", "runs"]  # fmt: skip
    rows = []
    for r in _rows(report.machines):
        gpu = "–"
        if not _is_missing(r.gpu_name):
            memory = "" if _is_missing(r.gpu_memory_bytes) else f", {float(r.gpu_memory_bytes) / 2**30:.0f} GiB"
            capability = "" if _is_missing(r.gpu_capability) else f", sm {r.gpu_capability}"
            gpu = f"{r.gpu_name}{memory}{capability}"
        build = ", ".join(
            f"{name} {_yes_no(value)}" for name, value in
            (("CUDA", r.torch_cuda), ("cuDNN", r.torch_cudnn), ("BLAS", r.torch_blas), ("MKL", r.torch_mkl), ("OpenMP", r.torch_openmp))
            if not _is_missing(value)
        )  # fmt: skip
        rows.append([
            (_plain(r.machine), "code"), (_plain(r.machine_id), "code"), (_plain(r.cpu_model), "text"),
            (f"{_integer(r.cores_physical)}/{_integer(r.cores_logical)}", "num"), (gpu, "text"),
            (_plain(r.torch_version), "code"), (build or "–", "text"), (_integer(r.torch_threads), "num"),
            (_plain(r.python), "code"), (_plain(r.numpy), "code"), (_integer(r.runs), "num"),
        ])  # fmt: skip
    return header, rows


def _peak_rows(report: Report) -> tuple[list[str], list[list[_Cell]]]:
    header = ["machine", "device", "dtype", "matmul GFLOP/s", "copy GB/s"]
    rows = [
        [(report.labels.get(r.machine_id, r.machine_id), "code"), (_plain(r.device), "code"), (_plain(r.dtype), "code"),
         (_count(r.matmul_gflops), "num"), (_count(r.copy_gbps), "num")]
        for r in _rows(report.peaks)
    ]  # fmt: skip
    return header, rows


# -- Markdown ----------------------------------------------------------------------------------


def _md_cells(rows: list[list[_Cell]]) -> list[list[str]]:
    return [[md_code(text) if kind == "code" and text != "–" else md_text(text) for text, kind in row] for row in rows]


def _scope(report: Report) -> str:
    results = report.results
    machines = results.machines["machine_id"].nunique()
    return (
        f"{len(results.files)} result file(s), {report.runs} run(s) on {machines} machine(s); "
        f"generated {report.generated:%Y-%m-%d %H:%M:%S} UTC by fizzcheck {__version__}"
    )


def summary_markdown(report: Report) -> str:
    """``summary.md``: the verdict first, then the key tables (fits a GitHub job summary)."""
    verdict = report.verdict
    out = [
        f"## fizzcheck: {md_text(verdict.headline)}",
        "",
        f"**{md_text(report.title)}** — {md_text(_scope(report))}",
        "",
    ]
    if verdict.skip_reasons:
        out += ["Skipped: " + "; ".join(f"{count} × {md_text(reason)}" for reason, count in verdict.skip_reasons), ""]
    for note in report.notes:
        out += [f"> note: {md_text(note)}", ""]
    if not report.verification.empty:
        header, rows = _verification_rows(report, with_skipped=False)
        skipped = f" ({report.verdict.skipped} skipped: listed in index.html)" if report.verdict.skipped else ""
        out += [
            f"### Verification{skipped}",
            "",
            _md_table(header, _md_cells(rows), more=" in verification_summary.csv"),
            "",
        ]
    if not report.failures.empty:
        out += ["### Failures", ""]
        for r in _rows(report.failures.head(MARKDOWN_FAILURE_LIMIT)):
            summary = escape(f"{r.outcome}: {r.nodeid} on {r.machine} (run {r.run_id})", quote=False)
            out += [f"<details><summary>{summary}</summary>", ""]
            if not _is_missing(r.message):
                out += [_fenced(_shortened(str(r.message))), ""]
            reproducer = str(r.reproducer) if not _is_missing(r.reproducer) else "# no reproducer was recorded"
            out += ["Reproducer:", "", _fenced(_shortened(reproducer), "python"), "", "</details>", ""]
        if len(report.failures) > MARKDOWN_FAILURE_LIMIT:
            out += [f"… {len(report.failures) - MARKDOWN_FAILURE_LIMIT} more failures in index.html.", ""]
    if not report.speed.empty:
        explain = (
            f"speed-up ×N against {md_code(report.baseline)} (&gt; 1: faster)" if report.baseline else "no baseline"
        )
        header, rows = _matrix_rows(report)
        out += [
            f"### Speed — median time per call; {explain}",
            "",
            _md_table(header, _md_cells(rows), more=" in speed_summary.csv"),
            "",
        ]
        noisy = int(report.speed["noisy"].sum())
        if noisy:
            out += [f"{noisy} benchmark(s) are noisy (IQR > 5 % of a median ≥ 50 µs): see index.html.", ""]
    if not report.machines.empty:
        header, rows = _machine_rows(report)
        out += ["### Machines", "", _md_table(header, _md_cells(rows)), ""]
    return "\n".join(out)


# -- HTML --------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:0 24px 48px;color:#1b1f24}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
.verdict{font-size:18px;font-weight:600;padding:10px 14px;border-radius:6px;margin:12px 0}
.verdict.PASS{background:#dafbe1;border:1px solid #4ac26b}.verdict.FAIL{background:#ffebe9;border:1px solid #ff8182}
.verdict.none{background:#f6f8fa;border:1px solid #d0d7de}.meta,.note{color:#57606a}
nav a{margin-right:14px}table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.FAIL{background:#ffebe9;font-weight:600}
td.PASS{color:#1a7f37}td.SKIP{color:#57606a}code{font-size:12px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;white-space:pre-wrap}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:6px}
figcaption{color:#57606a;font-size:12px;max-width:600px}
svg.fizzcheck-plot{font:11px system-ui,sans-serif;max-width:100%;height:auto;background:#fff}
svg .frame{fill:none;stroke:#8c959f}svg .grid{stroke:#eaeef2}svg .tick,svg .legend{fill:#1b1f24}
svg .axis-label{fill:#1b1f24;font-size:12px}svg .plot-title{font-size:13px;font-weight:600;fill:#1b1f24}
svg .roof{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:5 3}svg .roof-label{fill:#cf222e}
"""

# Lets a browser check (tests/test_report_browser.py) see that every plot was laid out and drawn.
_RENDER_CHECK = """
(function () {
  var plots = document.querySelectorAll("svg.fizzcheck-plot"), bad = [];
  for (var i = 0; i < plots.length; i++) {
    var box = plots[i].getBoundingClientRect();
    var drawn = plots[i].querySelectorAll("circle").length >= Number(plots[i].getAttribute("data-points"));
    if (!(box.width > 0 && box.height > 0 && drawn)) { bad.push(i); }
  }
  var body = document.body;
  body.setAttribute("data-plots", String(plots.length));
  body.setAttribute("data-tables", String(document.querySelectorAll("table").length));
  body.setAttribute("data-render-check", bad.length ? "failed: " + bad.join(",") : "ok");
})();
"""


def _html_table(
    header: Sequence[str], rows: Sequence[Sequence[_Cell]], *, limit: int = HTML_ROW_LIMIT, more: str = ""
) -> str:
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead>", "<tbody>"]
    for row in rows[:limit]:
        cells = []
        for text, kind in row:
            if kind == "code" and text != "–":
                cells.append(f"<td><code>{escape(text)}</code></td>")
            elif kind == "verdict":
                cells.append(f'<td class="{escape(text.split(" ")[0])}">{escape(text)}</td>')
            else:
                cells.append(f'<td class="{kind}">{escape(text)}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if len(rows) > limit:
        out.append(f'<p class="note">… {len(rows) - limit} more rows{escape(more)}.</p>')
    return "\n".join(out)


def index_html(report: Report) -> str:
    """``index.html``: self-contained (inline CSS and SVG; nothing fetched), every result string escaped."""
    verdict = report.verdict
    status_class = verdict.status if verdict.status in ("PASS", "FAIL") else "none"
    title = escape(report.title)
    body = [
        f"<h1>{title}</h1>",
        f'<p class="verdict {status_class}" id="verdict">fizzcheck: {escape(verdict.headline)}</p>',
        f'<p class="meta">{escape(_scope(report))}</p>',
    ]
    if verdict.skip_reasons:
        body.append(
            "<p>Skipped: " + "; ".join(f"{count} × {escape(reason)}" for reason, count in verdict.skip_reasons) + "</p>"
        )
    body += [f'<p class="note">note: {escape(note)}</p>' for note in report.notes]
    sections: list[tuple[str, str, list[str]]] = []
    if not report.verification.empty:
        header, rows = _verification_rows(report)
        sections.append(("verification", "Verification", [
            "<p>Each row: one property × device × dtype × target over all runs and machines; "
            "<em>max error / bound</em> is the largest observed error as a fraction of its error bound (≤ 1 passes).</p>",
            _html_table(header, rows, more=" in verification.csv"),
        ]))  # fmt: skip
    if not report.failures.empty:
        parts = []
        for r in _rows(report.failures):
            parts.append(
                f"<details open><summary><strong>{escape(str(r.outcome))}</strong>: <code>{escape(str(r.nodeid))}</code> "
                f"on {escape(str(r.machine))} (run <code>{escape(str(r.run_id))}</code>)</summary>"
            )
            if not _is_missing(r.message):
                parts.append(f"<pre>{escape(str(r.message))}</pre>")
            reproducer = str(r.reproducer) if not _is_missing(r.reproducer) else "# no reproducer was recorded"
            parts.append(f'<p>Reproducer:</p><pre class="reproducer">{escape(reproducer)}</pre></details>')
        sections.append(("failures", "Failures", parts))
    if not report.speed.empty:
        header, rows = _matrix_rows(report)
        explain = f"speed-up ×N against {report.baseline} (&gt; 1: faster)" if report.baseline else "no baseline"
        if report.baseline:
            explain = f"speed-up ×N against <code>{escape(report.baseline)}</code> (&gt; 1: faster)"
        sections.append(("speed", "Speed", [f"<p>Median time per call, medians over runs; {explain}.</p>",
                                            _html_table(header, rows, more=" in speed_summary.csv")]))  # fmt: skip
        scaling = [f for f in report.figures if f.section == "scaling"]
        if scaling:
            sections.append(("scaling", "Scaling", [_figures(scaling)]))
        roofline = [f for f in report.figures if f.section == "roofline"]
        if roofline:
            sections.append(("roofline", "Roofline", [
                "<p>Achieved GFLOP/s against arithmetic intensity (FLOPs per byte of minimum traffic), "
                "under the peaks measured on each machine: a point near a ceiling runs near the machine's limit.</p>",
                _figures(roofline),
            ]))  # fmt: skip
        header, rows = _speed_rows(report)
        sections.append(("speed-detail", "All benchmarks", [
            "<p>One row per machine × case × size × device × dtype × implementation, medians over runs "
            "(per-run rows: speed.csv).</p>",
            _html_table(header, rows, more=" in speed_summary.csv"),
        ]))  # fmt: skip
    if not report.machines.empty:
        header, rows = _machine_rows(report)
        parts = [_html_table(header, rows)]
        if not report.peaks.empty:
            header, rows = _peak_rows(report)
            parts += ["<p>Measured peaks (medians over runs):</p>", _html_table(header, rows)]
        sections.append(("machines", "Machines", parts))
    files = "".join(f"<li><code>{escape(str(path))}</code></li>" for path in report.results.files[:200])
    extra = len(report.results.files) - 200
    files += f"<li>… {extra} more</li>" if extra > 0 else ""
    sections.append(("inputs", "Inputs", [f"<ul>{files}</ul>"]))
    nav = "<nav>" + "".join(f'<a href="#{anchor}">{escape(name)}</a>' for anchor, name, _ in sections) + "</nav>"
    body.append(nav)
    for anchor, name, parts in sections:
        body.append(f'<section id="{anchor}"><h2>{escape(name)}</h2>')
        body.extend(parts)
        body.append("</section>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{title} — fizzcheck {escape(verdict.status)}</title>",
        f"<style>{_CSS}</style></head><body>",
        *body,
        f"<script>{_RENDER_CHECK}</script>",
        "</body></html>",
        "",
    ])  # fmt: skip


def _figures(figures: Sequence[Figure]) -> str:
    parts = ['<div class="plots">']
    for figure in figures:
        parts.append(f"<figure>{figure.svg}<figcaption>{escape(figure.caption)}</figcaption></figure>")
    parts.append("</div>")
    return "\n".join(parts)


# -- CSV and writing ---------------------------------------------------------------------------


def _csv_field(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_column(series: pd.Series) -> list[str]:
    # Each distinct value is formatted once (most columns repeat a few values many times).
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object).tolist()
    if series.dtype.kind == "f":
        finite = series.to_numpy()[np.isfinite(series.to_numpy())]
        if np.array_equal(finite, np.round(finite)) and (finite.size == 0 or np.abs(finite).max() < 2**53):
            texts = [str(int(v)) if v == v else "" for v in values]
        else:
            texts = [format(v, ".10g") if v == v else "" for v in values]
    elif series.dtype.kind == "b":
        texts = ["True" if v else "False" for v in values]
    else:
        texts = ["" if _is_missing(v) else _csv_field(str(v)) for v in values]
    lookup = np.asarray([*texts, ""], dtype=object)  # code -1 (missing) picks the trailing ""
    return lookup[codes].tolist()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_csv(path, index=False)``, twice as fast on large tables: floats with 10 significant digits."""
    columns = [_csv_column(frame[name]) for name in frame.columns]
    header = ",".join(_csv_field(str(name)) for name in frame.columns)
    lines = "\n".join(map(",".join, zip(*columns, strict=True)))
    path.write_text(header + "\n" + (lines + "\n" if lines else ""), encoding="utf-8")


def _csv_tables(report: Report) -> dict[str, pd.DataFrame]:
    results = report.results
    return {
        "verification.csv": results.verification,
        "verification_summary.csv": report.verification,
        "speed.csv": results.speed.drop(columns="samples"),
        "speed_summary.csv": report.speed,
        "machines.csv": results.machines,
        "peaks.csv": results.peaks,
    }


def _new_report_dir(output_dir: Path, generated: datetime) -> Path:
    stamp = f"{REPORT_PREFIX}{generated:%Y%m%dT%H%M%SZ}"
    for attempt in range(1, 1000):
        candidate = output_dir / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        if not candidate.exists():
            return candidate
    raise FizzcheckError(f"{output_dir}: cannot find a free report name for {stamp}")


def save_report(report: Report, output_dir: str | Path = "reports") -> Path:
    """Write ``report`` as a new directory under ``output_dir`` and return its path.

    The files are written into a temporary directory next to the destination, then renamed
    to ``fizzcheck-report-<UTC time>[-N]``: a report appears whole or not at all, and an
    existing one is never replaced.
    """
    contents = {"summary.md": summary_markdown(report), "index.html": index_html(report)}
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fizzcheck-report-", suffix=".partial", dir=output_dir))
    except OSError as exc:
        raise FizzcheckError(f"{output_dir}: cannot create the report ({exc.strerror or exc})") from None
    try:
        for name, text in contents.items():
            (staging / name).write_text(text, encoding="utf-8")
        for name, frame in _csv_tables(report).items():
            write_csv(frame, staging / name)
        os.chmod(staging, 0o755)  # mkdtemp makes it private
        for _ in range(100):
            target = _new_report_dir(output_dir, report.generated)
            try:
                os.rename(staging, target)  # fails (rather than replaces) if a non-empty directory appeared there
                return target
            except OSError:
                if not target.exists():
                    raise
        raise FizzcheckError(f"{output_dir}: cannot find a free report name")
    except OSError as exc:
        raise FizzcheckError(f"{output_dir}: cannot write the report ({exc.strerror or exc})") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_report(
    results: Results,
    output_dir: str | Path = "reports",
    *,
    baseline: str | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> Path:
    """:func:`build_report` then :func:`save_report`: a new report directory from ``results``."""
    return save_report(build_report(results, baseline=baseline, title=title, now=now), output_dir)

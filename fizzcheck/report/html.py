"""``index.html``: the report as one self-contained page, from ``templates/index.html``.

The page inlines its CSS and SVG plots and fetches nothing; autoescape escapes every string
taken from results. Tables show at most :data:`HTML_ROW_LIMIT` rows (the CSVs have all of them).
"""

from __future__ import annotations

from typing import Any

from fizzcheck.report.build import Report
from fizzcheck.report.cells import (
    busy_lines,
    is_missing,
    machine_rows,
    matrix_rows,
    outcome_sections,
    peak_rows,
    records,
    scope,
    speed_rows,
    surface_rows,
    verification_rows,
)
from fizzcheck.report.templating import render

__all__ = ["HTML_FILE_LIMIT", "HTML_ROW_LIMIT", "index_html"]

HTML_ROW_LIMIT = 2000
"""Rows per table in index.html."""
HTML_FILE_LIMIT = 200
"""Input files listed in index.html."""

_SECTIONS = {
    "verification": "Verification",
    "failures": "FAIL",
    "surface": "API surface",
    "speed": "Speed",
    "scaling": "Scaling",
    "roofline": "Roofline",
    "speed-detail": "All benchmarks",
    "machines": "Machines",
    "inputs": "Inputs",
}
"""Anchor → heading of each section, in page order."""


def _failures(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "outcome": str(r.outcome),
            "nodeid": str(r.nodeid),
            "machine": str(r.machine),
            "run_id": str(r.run_id),
            "message": None if is_missing(r.message) else str(r.message),
            "reproducer": "# no reproducer was recorded" if is_missing(r.reproducer) else str(r.reproducer),
        }
        for r in records(report.failures)
    ]


def _anchor(label: str) -> str:
    return label.lower().replace(" ", "-")


def _sections(report: Report, shown: dict[str, bool]) -> dict[str, str]:
    """Anchor → heading, in page order: the outcome sections follow the verification table."""
    sections = {}
    for anchor, name in _SECTIONS.items():
        if shown[anchor]:
            sections[anchor] = name
        if anchor == "verification":
            sections.update({_anchor(label): label for label, _, _ in outcome_sections(report)})
    return sections


def index_html(report: Report) -> str:
    """``index.html``: self-contained (inline CSS and SVG; nothing fetched), every result string escaped."""
    scaling = [f for f in report.figures if f.section == "scaling"]
    roofline = [f for f in report.figures if f.section == "roofline"]
    shown = {
        "verification": not report.verification.empty,
        "failures": not report.failures.empty,
        "surface": bool(report.results.surface),
        "speed": not report.speed.empty,
        "scaling": not report.speed.empty and bool(scaling),
        "roofline": not report.speed.empty and bool(roofline),
        "speed-detail": not report.speed.empty,
        "machines": not report.machines.empty,
        "inputs": True,
    }
    files = report.results.files
    return render(
        "index.html",
        report=report,
        verdict=report.verdict,
        status_class=report.verdict.status if report.verdict.status in ("PASS", "FAIL") else "none",
        scope=scope(report),
        sections=_sections(report, shown),
        limit=HTML_ROW_LIMIT,
        verification=verification_rows(report) if shown["verification"] else None,
        outcomes=[(_anchor(label), label, count, lines) for label, count, lines in outcome_sections(report)],
        failures=_failures(report),
        surface=surface_rows(report) if shown["surface"] else None,
        busy=busy_lines(report),
        matrix=matrix_rows(report) if shown["speed"] else None,
        speed=speed_rows(report) if shown["speed"] else None,
        scaling=scaling,
        roofline=roofline,
        machines=machine_rows(report) if shown["machines"] else None,
        peaks=peak_rows(report) if shown["machines"] and not report.peaks.empty else None,
        files=[str(path) for path in files[:HTML_FILE_LIMIT]],
        more_files=len(files) - HTML_FILE_LIMIT,
    )

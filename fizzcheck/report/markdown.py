"""``summary.md``: the verdict first, then the key tables, small enough for a GitHub job summary.

Every string taken from results is escaped: identifiers go in code spans (:func:`md_code`),
free text is HTML-escaped with Markdown's markup characters backslash-escaped (:func:`md_text`),
and ``|`` and line breaks are neutralised so a table cell stays one cell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import Any

from fizzcheck.report.build import Report
from fizzcheck.report.cells import (
    MISSING,
    busy_lines,
    is_missing,
    machine_rows,
    matrix_rows,
    outcome_sections,
    records,
    scope,
    surface_rows,
    verification_rows,
)
from fizzcheck.report.templating import Cell

__all__ = [
    "MARKDOWN_FAILURE_LIMIT",
    "MARKDOWN_ROW_LIMIT",
    "MARKDOWN_TEXT_LIMIT",
    "md_code",
    "md_table",
    "md_text",
    "summary_markdown",
]

MARKDOWN_ROW_LIMIT = 150
"""Rows per table in summary.md (a GitHub job summary holds at most 1 MiB); the CSVs have all rows."""
MARKDOWN_FAILURE_LIMIT = 20
MARKDOWN_TEXT_LIMIT = 4000
"""Failures, and characters of each message or reproducer, in summary.md (all of them are in index.html)."""

_MD_SPECIAL = re.compile(r"[\\`*|~\[]|(?<!\w)_|_(?!\w)")  # an intra-word _ is no emphasis in GFM


def _plain(value: Any) -> str:
    return MISSING if is_missing(value) else str(value)


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


def md_table(
    header: Sequence[str], rows: Sequence[Sequence[Cell]], limit: int = MARKDOWN_ROW_LIMIT, more: str = ""
) -> str:
    """A GitHub table of the first ``limit`` rows, then ``… N more rows{more}.``"""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += [
        "| " + " | ".join(md_code(c.text) if c.code else md_text(c.text) for c in row) + " |" for row in rows[:limit]
    ]
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


def summary_markdown(report: Report) -> str:
    """``summary.md``: the verdict first, then the key tables (fits a GitHub job summary)."""
    verdict = report.verdict
    out = [
        f"## fizzcheck: {md_text(verdict.headline)}",
        "",
        f"**{md_text(report.title)}** — {md_text(scope(report))}",
        "",
    ]
    for line in busy_lines(report):
        head, rest = line.split(":", 1)
        out += [f"> **{md_text(head)}:** {md_text(rest.strip())}", ""]
    if verdict.total:
        out += [f"**Counts:** {md_text(verdict.counts_text())} ({verdict.total} property tests)", ""]
    for line in verdict.unavailable:
        out += [f"Not run here: {md_text(line)}", ""]
    for note in report.notes:
        out += [f"> note: {md_text(note)}", ""]
    if not report.verification.empty:
        header, rows = verification_rows(report)
        out += ["### Verification", "", md_table(header, rows, more=" in verification_summary.csv"), ""]
    for label, count, lines in outcome_sections(report):
        out += [f"### {label} ({count})", ""]
        out += [f"* {md_text(line)}" for line in lines[:MARKDOWN_ROW_LIMIT]]
        if len(lines) > MARKDOWN_ROW_LIMIT:
            out.append(f"* … {len(lines) - MARKDOWN_ROW_LIMIT} more in index.html")
        out.append("")
    if not report.failures.empty:
        failed = verdict.counts["failed"] + verdict.counts["error"]
        out += [f"### FAIL ({failed})", ""]
        for r in records(report.failures.head(MARKDOWN_FAILURE_LIMIT)):
            summary = escape(f"{r.outcome}: {r.nodeid} on {r.machine} (run {r.run_id})", quote=False)
            out += [f"<details><summary>{summary}</summary>", ""]
            if not is_missing(r.message):
                out += [_fenced(_shortened(str(r.message))), ""]
            reproducer = str(r.reproducer) if not is_missing(r.reproducer) else "# no reproducer was recorded"
            out += ["Reproducer:", "", _fenced(_shortened(reproducer), "python"), "", "</details>", ""]
        if len(report.failures) > MARKDOWN_FAILURE_LIMIT:
            out += [f"… {len(report.failures) - MARKDOWN_FAILURE_LIMIT} more failures in index.html.", ""]
    if report.results.surface:
        header, rows, gaps = surface_rows(report)
        out += ["### API surface", "", md_table(header, rows), ""]
        out += [f"* {md_code(line)}" for line in gaps[:MARKDOWN_ROW_LIMIT]]
        if len(gaps) > MARKDOWN_ROW_LIMIT:
            out.append(f"* … {len(gaps) - MARKDOWN_ROW_LIMIT} more: `fizzcheck surface FILE`")
        out.append("")
    if not report.speed.empty:
        explain = (
            f"speed-up ×N against {md_code(report.baseline)} (above 1: faster)" if report.baseline else "no baseline"
        )
        header, rows = matrix_rows(report)
        out += [
            f"### Speed — median time per call; {explain}",
            "",
            md_table(header, rows, more=" in speed_summary.csv"),
            "",
        ]
        noisy = int(report.speed["noisy"].sum())
        if noisy:
            out += [f"{noisy} benchmark(s) are noisy (IQR > 5 % of a median ≥ 50 µs): see index.html.", ""]
    if not report.machines.empty:
        header, rows = machine_rows(report)
        out += ["### Machines", "", md_table(header, rows), ""]
    return "\n".join(out)

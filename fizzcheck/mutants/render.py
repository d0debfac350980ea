"""Small rendering helpers shared by the kill-matrix and compat reports: Markdown tables,
self-contained escaped HTML pages (no scripts, no external resources) and new report directories.

The HTML comes from the report's jinja2 templates (:mod:`fizzcheck.report.templating`): the
same table macro and stylesheet as ``fizzcheck report``'s ``index.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from fizzcheck.report.templating import table_cells, table_html, workflow_html

__all__ = ["html_page", "html_table", "markdown_cell", "markdown_table", "new_report_dir", "percent"]


def markdown_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    classes: Sequence[Sequence[str]] | None = None,
    titles: Sequence[Sequence[str]] | None = None,
) -> Markup:
    """A table; every header and cell text is escaped. ``classes``/``titles`` parallel ``rows``."""
    return table_html([str(h) for h in header], table_cells(rows, classes=classes, titles=titles))


def html_page(title: str, body: str) -> str:
    """A page titled ``title`` around ``body``, HTML its caller built with every text escaped."""
    return workflow_html(title, body=Markup(body))


def new_report_dir(output_dir: Path, name: str) -> Path:
    """``output_dir/name``, created now; an existing directory is never reused or overwritten."""
    directory = Path(output_dir) / name
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir()  # FileExistsError if it exists: results are never overwritten
    return directory


def percent(part: int, whole: int) -> str:
    return "n/a" if whole == 0 else f"{100.0 * part / whole:.0f} %"

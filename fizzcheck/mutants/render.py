"""Small rendering helpers shared by the kill-matrix and compat reports: Markdown tables and
self-contained, escaped HTML pages (no scripts, no external resources)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["html_page", "html_table", "markdown_table", "new_report_dir", "percent"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.bad, td.differs { background: #f8d0d0; }
td.changed { background: #fff0b3; }
td.suspect { background: #ffe0b3; }
td.good, td.same { background: #d8f0d8; }
td.notrun, td.skipped { color: #999; }
code { font-size: 0.95em; }
.small { font-size: 0.8em; color: #555; }
"""


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
) -> str:
    """A table; every header and cell text is escaped. ``classes``/``titles`` parallel ``rows``."""
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            css = classes[r][c] if classes else ""
            title = titles[r][c] if titles else ""
            attrs = (f' class="{html.escape(css)}"' if css else "") + (
                f' title="{html.escape(title)}"' if title else ""
            )
            cells.append(f"<td{attrs}>{html.escape('' if value is None else str(value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def html_page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def new_report_dir(output_dir: Path, name: str) -> Path:
    """``output_dir/name``, created now; an existing directory is never reused or overwritten."""
    directory = Path(output_dir) / name
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir()  # FileExistsError if it exists: results are never overwritten
    return directory


def percent(part: int, whole: int) -> str:
    return "n/a" if whole == 0 else f"{100.0 * part / whole:.0f} %"

"""The jinja2 templates of every fizzcheck HTML page (``fizzcheck/report/templates/``) and their entry points.

* ``page.html``: the self-contained page (inline ``style.css``; nothing fetched) every other
  template extends;
* ``table.html``: the one table macro, shared by the report, the kill matrix and the compat report;
* ``index.html``: the report (:func:`fizzcheck.report.html.index_html`);
* ``workflow.html``: a headline and sections of tables, for ``fizzcheck mutants`` and its compat
  report (:func:`workflow_html`).

Autoescape is on for every template: each string from results is escaped where it is shown.
The templates ship in the wheel as package data and are loaded with :class:`jinja2.PackageLoader`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jinja2
from markupsafe import Markup

__all__ = ["Cell", "Section", "render", "render_check_js", "table_cells", "table_html", "templates", "workflow_html"]


class Cell(NamedTuple):
    """One table cell: its text, the ``class`` and ``title`` (tooltip) of its ``<td>``, and
    whether it is an identifier (``<code>`` in HTML, a code span in Markdown)."""

    text: str
    css: str = ""
    title: str = ""
    code: bool = False


class Section(NamedTuple):
    """A ``<h2>`` section of a workflow page: an optional note, then a table when ``header`` is given."""

    heading: str
    header: Sequence[str] = ()
    rows: Sequence[Sequence[Cell]] = ()
    note: str = ""


@functools.cache
def templates() -> jinja2.Environment:
    """The environment over ``fizzcheck/report/templates`` (autoescape on, compiled templates cached)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("fizzcheck.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` with ``context``."""
    return templates().get_template(name).render(**context)


def table_cells(
    rows: Sequence[Sequence[Any]],
    *,
    classes: Sequence[Sequence[str]] | None = None,
    titles: Sequence[Sequence[str]] | None = None,
) -> list[list[Cell]]:
    """Values (``None`` shown empty) with parallel ``classes``/``titles`` → cells of the table macro."""
    return [
        [
            Cell(
                "" if value is None else str(value),
                css=classes[r][c] if classes else "",
                title=titles[r][c] if titles else "",
            )
            for c, value in enumerate(row)
        ]
        for r, row in enumerate(rows)
    ]


def table_html(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Markup:
    """The table macro on its own: an escaped ``<table>`` to place in a page's HTML."""
    macro = templates().get_template("table.html").module.table  # type: ignore[attr-defined]
    return Markup(macro(header, rows))


def workflow_html(
    title: str, *, headline: Sequence[str] = (), sections: Sequence[Section] = (), body: Markup | str = ""
) -> str:
    """A workflow page: ``<h1>title``, the ``headline`` as a list, ``body`` (HTML the caller escaped), ``sections``."""
    return render("workflow.html", title=title, headline=headline, sections=sections, body=Markup(body))


def render_check_js() -> str:
    """The script ``index.html`` runs to mark in ``<body>`` whether every plot was laid out and drawn."""
    source, _, _ = templates().loader.get_source(templates(), "render_check.js")  # type: ignore[union-attr]
    return source

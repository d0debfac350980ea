"""The field tables of ``docs/results-schema.md``, generated from :mod:`fizzcheck.results.schema`.

The document's prose is hand-written; each table sits between two markers that name its record::

    <!-- schema: PropertyRow -->
    ...generated...
    <!-- /schema -->

``python -m fizzcheck.results.schema_doc`` prints every table; ``--update FILE`` rewrites the tables
of FILE in place; ``--check FILE`` exits 1 if they differ from what the schema generates.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from fizzcheck.results.schema import (
    BenchmarkCase,
    BenchmarkMetrics,
    BenchmarkResults,
    BenchmarkRun,
    BenchmarkStats,
    DevicePeaks,
    FieldSpec,
    Gpu,
    Machine,
    PropertyResults,
    PropertyRow,
    TargetInfo,
    TorchBuild,
    record_fields,
)

__all__ = ["RECORDS", "UPDATE_COMMAND", "record_table", "schema_markdown", "stale_tables", "update_tables"]

RECORDS: tuple[type, ...] = (
    PropertyResults,
    TargetInfo,
    PropertyRow,
    Machine,
    TorchBuild,
    Gpu,
    BenchmarkResults,
    BenchmarkRun,
    DevicePeaks,
    BenchmarkCase,
    BenchmarkMetrics,
    BenchmarkStats,
)
"""Every record of the schema, in the order the document shows them."""

UPDATE_COMMAND = "python -m fizzcheck.results.schema_doc --update docs/results-schema.md"

_ROW_RECORDS = (PropertyRow, Machine, TorchBuild, Gpu, DevicePeaks, BenchmarkCase, BenchmarkMetrics, BenchmarkStats)
"""Records whose fields become report columns: their tables show the column."""
_PREFIXES = {spec.record: spec.prefix for spec in record_fields(Machine) if spec.prefix is not None}
_MARKED = re.compile(r"(<!-- schema: (\w+) -->\n)(.*?)(<!-- /schema -->)", flags=re.DOTALL)
_SCALAR_NAMES = {str: "string", int: "integer", float: "number", bool: "true/false"}
_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers", "true/false": "true/false values"}


def _type_text(annotation: Any, *, plural: bool = False) -> str:
    """An annotation in words: ``dict[str, float] | None`` → ``object of numbers``."""
    origin = typing.get_origin(annotation)
    if annotation in _SCALAR_NAMES:
        name = _SCALAR_NAMES[annotation]
        return _PLURALS[name] if plural else name
    if isinstance(annotation, type) and annotation in RECORDS:
        return f"{'objects' if plural else 'object'}: `{annotation.__name__}`"
    if origin is Literal:
        return "one of " + ", ".join(f"`{json.dumps(choice)}`" for choice in typing.get_args(annotation))
    if origin in (dict, list):
        inner = typing.get_args(annotation)[-1]
        container = ("objects" if plural else "object") if origin is dict else ("lists" if plural else "list")
        return container if inner is Any else f"{container} of {_type_text(inner, plural=True)}"
    parts = [_type_text(a, plural=plural) for a in typing.get_args(annotation) if a is not type(None)]
    return " or ".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.replace("``", "`").replace("|", "\\|").split())


def _spec_type_text(spec: FieldSpec) -> str:
    if spec.record is not None and not isinstance(spec.annotation, type):  # a free-form object with known keys
        text = f"object: `{spec.record.__name__}`"
    else:
        text = _type_text(spec.annotation)
    return f"{text} (NaN allowed)" if spec.may_be_nan else text


def _column_text(record: type, spec: FieldSpec) -> str:
    if spec.prefix is not None:
        return f"`{spec.prefix}…`"
    if spec.column is None:
        return "—"
    return f"`{_PREFIXES.get(record, '')}{spec.column}`"


def record_table(record: type) -> str:
    """One record's table: its docstring, then a row per field (a subclass's own fields only)."""
    base = next((b for b in record.__mro__[1:] if b in RECORDS), None)
    inherited = {spec.name for spec in record_fields(base)} if base else set()
    columns = record in _ROW_RECORDS
    lines = [_cell(f"`{record.__name__}`: {record.__doc__ or ''}")]
    if base is not None:
        lines[0] += f" Every field of `{base.__name__}`, and:"
    lines += ["", "| field | type | required | meaning |" + (" report column |" if columns else "")]
    lines.append("|---|---|---|---|" + ("---|" if columns else ""))
    for spec in record_fields(record):
        if spec.name in inherited:
            continue
        row = f"| `{spec.name}` | {_cell(_spec_type_text(spec))} | {'yes' if spec.required else 'no'} | "
        row += _cell(spec.doc) + " |"
        if columns:
            row += f" {_column_text(record, spec)} |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def schema_markdown() -> str:
    """Every record's table, each under a marker, as the document holds them."""
    return "\n".join(f"<!-- schema: {r.__name__} -->\n{record_table(r)}<!-- /schema -->\n" for r in RECORDS)


def update_tables(text: str) -> str:
    """``text`` with every marked table regenerated from the schema."""
    by_name = {record.__name__: record for record in RECORDS}

    def table(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in by_name:
            raise ValueError(f"<!-- schema: {name} -->: no such record; the schema has {', '.join(by_name)}")
        return match.group(1) + record_table(by_name[name]) + match.group(4)

    return _MARKED.sub(table, text)


def stale_tables(text: str) -> list[str]:
    """What is wrong with the tables of ``text``: out-of-date or missing records (empty if nothing)."""
    problems = []
    found = [match.group(2) for match in _MARKED.finditer(text)]
    problems += [f"no table for {r.__name__}" for r in RECORDS if r.__name__ not in found]
    problems += [f"{name} appears {found.count(name)} times" for name in dict.fromkeys(found) if found.count(name) > 1]
    updated = update_tables(text)
    if updated != text:
        now = dict((m.group(2), m.group(3)) for m in _MARKED.finditer(text))
        problems += [
            f"the {m.group(2)} table is out of date" for m in _MARKED.finditer(updated) if now[m.group(2)] != m.group(3)
        ]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fizzcheck.results.schema_doc", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--update", metavar="FILE", type=Path, help="regenerate the marked tables of FILE in place")
    action.add_argument("--check", metavar="FILE", type=Path, help="exit 1 if FILE's tables are out of date")
    args = parser.parse_args(argv)
    if args.update is not None:
        args.update.write_text(update_tables(args.update.read_text()))
        return 0
    if args.check is not None:
        problems = stale_tables(args.check.read_text())
        for problem in problems:
            print(f"{args.check}: {problem}", file=sys.stderr)
        if problems:
            print(f"regenerate the tables with: {UPDATE_COMMAND}", file=sys.stderr)
        return 1 if problems else 0
    sys.stdout.write(schema_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())

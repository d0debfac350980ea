"""``fizzcheck report`` and ``fizzcheck compare``.

:func:`register` adds both subcommands to fizzcheck's argparse subparsers; each sets
``handler`` to a function ``(args) -> exit status``. Bad input raises a
:class:`~fizzcheck.errors.FizzcheckError`, which ``fizzcheck.cli.app`` prints as one line
(``fizzcheck: error: PATH: what is wrong``) with exit status 2. pandas is imported only
when a command runs, so ``fizzcheck --help`` stays fast.

``python -m fizzcheck.report`` runs the same two commands on their own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "register"]

COMPARE_OK, COMPARE_REGRESSION, BAD_INPUT = 0, 1, 2


def _factor(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 1.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"threshold {raw!r} is not a factor > 1 (e.g. 1.1 for 10 %)")
    return value


def _probability(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"alpha {raw!r} is not a probability between 0 and 1 (e.g. 0.01)")
    return value


def _print_notes(notes: Sequence[str]) -> None:
    for note in notes:
        print(f"fizzcheck: note: {note}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from fizzcheck.report.load import load_results
    from fizzcheck.report.render import build_report, save_report

    results = load_results(args.results)  # every file is validated before anything is written
    _print_notes(results.notes)
    report = build_report(results, baseline=args.baseline, title=args.title)
    directory = save_report(report, args.output_dir)
    print(f"fizzcheck: {report.verdict.headline}")
    print(f"report: {directory / 'index.html'} (summary.md and CSV tables alongside)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from fizzcheck.report.compare import compare_results, comparison_markdown
    from fizzcheck.report.load import load_results

    a = load_results([args.a])
    b = load_results([args.b])
    _print_notes([*a.notes, *b.notes])
    names = (str(args.a), str(args.b))
    comparison = compare_results(a, b, threshold=args.threshold, alpha=args.alpha, names=names)
    for warning in comparison.warnings:
        print(f"fizzcheck: warning: {warning}", file=sys.stderr)
    sys.stdout.write(comparison_markdown(comparison, names=names))
    return COMPARE_REGRESSION if len(comparison.regressions) else COMPARE_OK


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``report`` and ``compare`` subcommands to ``commands`` (from ``add_subparsers``)."""
    report = commands.add_parser(
        "report",
        help="turn property and benchmark result files into summary.md, index.html and CSV",
        description=(
            "Read property and benchmark result files (JSON; directories are searched for *.json) from any number "
            "of runs and machines, and write a new report directory: summary.md (verdict first; fits a GitHub job "
            "summary), a self-contained index.html with plots, and CSV tables. Exit status 2 on bad input, "
            "with nothing written."
        ),
    )
    report.add_argument(
        "results", nargs="+", metavar="FILE_OR_DIR", help="result files, or directories to search for *.json"
    )
    report.add_argument("--output-dir", type=Path, default=Path("reports"), metavar="DIR",
                        help="where the new report directory is created (default: reports/)")  # fmt: skip
    report.add_argument("--baseline", default=None, metavar="IMPLEMENTATION",
                        help="implementation the speed-ups are relative to (default: numpy_reference)")  # fmt: skip
    report.add_argument("--title", default=None, help="report title (default: fizzcheck report)")
    report.set_defaults(handler=_report)

    compare = commands.add_parser(
        "compare",
        help="compare benchmark runs B against A; exit 1 on a significant regression",
        description=(
            "Compare the benchmarks in B against those in A, case by case: ratio of medians and a two-sided "
            "Mann-Whitney U test on the raw per-round times. A case is flagged only when both agree. Prints "
            "Markdown. Exit status: 0 no significant regression, 1 significant regression, 2 bad input."
        ),
    )
    compare.add_argument("a", type=Path, metavar="A", help="baseline results: a benchmark JSON file or a directory")
    compare.add_argument("b", type=Path, metavar="B", help="new results: a benchmark JSON file or a directory")
    compare.add_argument("--threshold", type=_factor, default=1.1, metavar="FACTOR",
                         help="flag when B/A is beyond this factor (default: 1.1, i.e. 10 %%)")  # fmt: skip
    compare.add_argument("--alpha", type=_probability, default=0.01,
                         help="significance level of the Mann-Whitney U test (default: 0.01)")  # fmt: skip
    compare.set_defaults(handler=_compare)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fizzcheck.report``: the two commands without the rest of fizzcheck's CLI."""
    from fizzcheck.cli.app import _Parser
    from fizzcheck.errors import FizzcheckError

    parser = _Parser(prog="fizzcheck", description="fizzcheck reports and run comparison")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    register(commands)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except FizzcheckError as exc:
        print(f"fizzcheck: error: {exc}", file=sys.stderr)
        return BAD_INPUT

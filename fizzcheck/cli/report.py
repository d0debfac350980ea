"""``fizzcheck report`` and ``fizzcheck compare`` (also ``python -m fizzcheck.report``).

Bad input raises a :class:`~fizzcheck.errors.FizzcheckError`, which
:func:`~fizzcheck.cli.invoke.run_command` prints as one line (``fizzcheck: error: PATH: what is
wrong``) with exit status 2. pandas is imported only when a command runs, so ``--help``
stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from fizzcheck.cli.invoke import run_command
from fizzcheck.cli.options import FiniteFloatRange

__all__ = ["compare", "main", "report", "reports"]

COMPARE_OK, COMPARE_REGRESSION = 0, 1


def _print_notes(notes: Sequence[str]) -> None:
    for note in notes:
        print(f"fizzcheck: note: {note}", file=sys.stderr)


@click.command(short_help="turn property and benchmark result files into summary.md, index.html and CSV")
@click.argument("results", nargs=-1, required=True, metavar="FILE_OR_DIR...")
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    metavar="DIR",
    help="where the new report directory is created (default: reports/)",
)
@click.option(
    "--baseline",
    default=None,
    metavar="IMPLEMENTATION",
    help="implementation the speed-ups are relative to (default: numpy_reference)",
)
@click.option("--title", default=None, help="report title (default: fizzcheck report)")
def report(results: tuple[str, ...], output_dir: Path, baseline: str | None, title: str | None) -> int:
    """Read property and benchmark result files (JSON; directories are searched for *.json) from any
    number of runs and machines, and write a new report directory: summary.md (verdict first; fits a
    GitHub job summary), a self-contained index.html with plots, and CSV tables.

    Exit status 2 on bad input, with nothing written.
    """
    from fizzcheck.report import build_report, save_report
    from fizzcheck.report.load import load_results

    loaded = load_results(list(results))  # every file is validated before anything is written
    _print_notes(loaded.notes)
    built = build_report(loaded, baseline=baseline, title=title)
    directory = save_report(built, output_dir)
    print(f"fizzcheck: {built.verdict.headline}")
    print(f"report: {directory / 'index.html'} (summary.md and CSV tables alongside)")
    return 0


@click.command(short_help="compare benchmark runs B against A; exit 1 on a significant regression")
@click.argument("a", type=click.Path(path_type=Path), metavar="A")
@click.argument("b", type=click.Path(path_type=Path), metavar="B")
@click.option(
    "--threshold",
    type=FiniteFloatRange(min=1.0, min_open=True),
    default=1.1,
    metavar="FACTOR",
    help="flag when B/A is beyond this factor (default: 1.1, i.e. 10 %)",
)
@click.option(
    "--alpha",
    type=FiniteFloatRange(min=0.0, max=1.0, min_open=True, max_open=True),
    default=0.01,
    help="significance level of the Mann-Whitney U test (default: 0.01)",
)
def compare(a: Path, b: Path, threshold: float, alpha: float) -> int:
    """Compare the benchmarks in B (new results) against those in A (the baseline), case by case:
    B / A of the per-round times' lower quartile with a bootstrap confidence interval at 1 - ALPHA.
    When A or B was busy, ratios are divided by the machine factor and a change is called only when
    the whole interval lies beyond THRESHOLD; cases with too little evidence are listed as
    inconclusive. Prints Markdown. A and B are benchmark JSON files or directories.

    Exit status: 0 no significant regression, 1 significant regression, 2 bad input.
    """
    from fizzcheck.report.compare import compare_results, comparison_markdown
    from fizzcheck.report.load import load_results

    first, second = load_results([a]), load_results([b])
    _print_notes([*first.notes, *second.notes])
    names = (str(a), str(b))
    comparison = compare_results(first, second, threshold=threshold, alpha=alpha, names=names)
    for warning in comparison.warnings:
        print(f"fizzcheck: warning: {warning}", file=sys.stderr)
    sys.stdout.write(comparison_markdown(comparison, names=names))
    return COMPARE_REGRESSION if len(comparison.regressions) else COMPARE_OK


@click.group(name="fizzcheck", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def reports(ctx: click.Context) -> int:
    """fizzcheck reports and run comparison."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
    return 0


reports.add_command(report)
reports.add_command(compare)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fizzcheck.report report|compare ...``."""
    return run_command(reports, argv, prog_name="fizzcheck", error_prefix="fizzcheck")

"""``fizzcheck`` command line (also ``python -m fizzcheck``): one click group, one module per command.

Every error is one line on stderr and a non-zero exit status, never a traceback
(:mod:`fizzcheck.cli.invoke`).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from fizzcheck import __version__
from fizzcheck.cli.bench import bench
from fizzcheck.cli.invoke import run_command
from fizzcheck.cli.mutants import compat, mutants
from fizzcheck.cli.report import compare, report
from fizzcheck.cli.run import run
from fizzcheck.cli.surface import surface
from fizzcheck.cli.train import train
from fizzcheck.cli.verify import verify

__all__ = ["fizzcheck", "main"]


@click.group(
    "fizzcheck",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="fizzcheck", message="%(prog)s %(version)s")
@click.pass_context
def fizzcheck(ctx: click.Context) -> int:
    """Check that PyTorch's training core computes what the maths says, and how fast."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
    return 0


for _command in (verify, run, bench, train, report, compare, surface, mutants, compat):
    fizzcheck.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``fizzcheck`` console script: run one command on ``argv`` (default ``sys.argv[1:]``)."""
    return run_command(fizzcheck, argv, prog_name="fizzcheck", error_prefix="fizzcheck")

"""``fizzcheck verify``: the property suite against torch (or another ``--target``), with the verdict.

Arguments after ``--`` go to pytest: ``fizzcheck verify --profile ci -- -k test_softmax``.
"""

from __future__ import annotations

import click

from fizzcheck.cli.invoke import call_pytest
from fizzcheck.cli.options import (
    device_option,
    dtype_option,
    profile_option,
    pytest_args_argument,
    target_option,
    workers_option,
)
from fizzcheck.suite import PROPERTIES, pytest_command

__all__ = ["verify"]


@click.command(
    short_help="run the property suite against torch (or another --target) and print the verification summary",
)
@profile_option(help="Hypothesis profile (default: ci under CI, else dev)")
@device_option
@dtype_option
@target_option()
@workers_option
@pytest_args_argument
def verify(
    profile: str | None,
    device: str | None,
    dtype: str | None,
    target: str | None,
    workers: str | None,
    pytest_args: tuple[str, ...],
) -> int:
    """Run the property suite (fizzcheck.properties) with pytest and print a verification summary.

    Arguments after -- go to pytest, e.g. fizzcheck verify -- -k test_softmax.
    """
    argv = pytest_command(
        PROPERTIES, profile=profile, device=device, dtype=dtype, target=target, workers=workers, extra=pytest_args
    )
    return call_pytest(argv)

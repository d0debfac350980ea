"""``fizzcheck verify``: the property suite against the torch of this environment (or another
``--target``), with the verdict.

It runs the suite that ships in the wheel (``fizzcheck.properties``) against whatever torch the
interpreter imports — a CUDA build, a nightly, your fork — and installs nothing. A requested
device or dtype that cannot run here is a one-line error (exit status 2) before pytest starts.
Arguments after ``--`` go to pytest: ``fizzcheck verify --profile ci -- -k test_softmax``.
"""

from __future__ import annotations

import click

from fizzcheck.cli.invoke import call_pytest
from fizzcheck.cli.options import (
    check_available,
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
    short_help="the property suite against this environment's torch (or another --target), with the verdict",
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
    """Run the property suite (fizzcheck.properties) with pytest against the torch this Python imports,
    and print a verification summary ending in the verdict (target, counts per outcome, where it was verified).

    Exit status: 0 every property test held, 1 a property failed, 2 bad input (e.g. --device cuda
    without a GPU). Arguments after -- go to pytest, e.g. fizzcheck verify -- -k test_softmax.
    """
    check_available(device, dtype)
    argv = pytest_command(
        PROPERTIES, profile=profile, device=device, dtype=dtype, target=target, workers=workers, extra=pytest_args
    )
    return call_pytest(argv)

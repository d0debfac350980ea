"""Argument types and the options several commands share (click).

A bad value fails in click's own way, which :func:`fizzcheck.cli.invoke.run_command` prints as
one line: ``fizzcheck verify: error: Invalid value for '--device': device 'tpu' is not a
comma-separated list of cpu, cuda (see fizzcheck verify --help)``, exit status 2.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from fizzcheck.dtypes import DTYPES

__all__ = [
    "DEVICE_NAMES",
    "DTYPE_NAMES",
    "PROFILE_NAMES",
    "TARGET_HELP",
    "WORKERS_HELP",
    "CommaSeparated",
    "FiniteFloatRange",
    "TargetSpec",
    "Workers",
    "check_available",
    "device_option",
    "dtype_option",
    "profile_option",
    "pytest_args_argument",
    "target_option",
    "workers_option",
]

PROFILE_NAMES = ("dev", "ci", "thorough")
DEVICE_NAMES = ("cpu", "cuda")
DTYPE_NAMES = tuple(DTYPES)

TARGET_HELP = "framework under test: torch (default), seed-raw, compile[:BACKEND] or MODULE:NAME for your own"
WORKERS_HELP = "run the properties in N pytest-xdist processes (or auto); results are merged into one file"

F = TypeVar("F", bound=Callable[..., Any])


class CommaSeparated(click.ParamType):
    """``cpu`` or ``cpu,cuda``: a comma-separated list of ``known`` names, normalised."""

    name = "list"

    def __init__(self, known: Sequence[str], what: str) -> None:
        self.known, self.what = tuple(known), what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
        if not parts or any(p not in self.known for p in parts):
            self.fail(f"{self.what} {value!r} is not a comma-separated list of {', '.join(self.known)}", param, ctx)
        return ",".join(parts)


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange without NaN (which passes every comparison) or infinities."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Workers(click.ParamType):
    """``--workers``: a positive number of pytest-xdist processes, or ``auto``; needs pytest-xdist."""

    name = "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        raw = str(value)
        if not (raw == "auto" or (raw.isdigit() and int(raw) > 0)):
            self.fail(f"{raw!r}: use a positive number of worker processes or auto", param, ctx)
        if importlib.util.find_spec("xdist") is None:
            self.fail("needs pytest-xdist: pip install 'fizzcheck[parallel]'", param, ctx)
        return raw


@contextmanager
def _importable_from_cwd() -> Iterator[None]:
    """The current directory on sys.path, as ``python -m pytest`` (which runs the suite) has it."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


class TargetSpec(click.ParamType):
    """``--target SPEC``, loaded once here so that a bad spec fails before anything runs or is created."""

    name = "SPEC"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from fizzcheck.errors import FizzcheckError
        from fizzcheck.targets import load_target

        spec = str(value)
        try:
            with _importable_from_cwd():
                load_target(spec)
        except FizzcheckError as exc:
            self.fail(str(exc), param, ctx)
        except Exception as exc:  # a user's module that does not even import: still one line
            self.fail(f"target {spec!r}: {type(exc).__name__}: {exc}", param, ctx)
        return spec


def check_available(device: str | None, dtype: str | None) -> None:
    """Raise a one-line :class:`~fizzcheck.errors.FizzcheckError` when a requested device or dtype
    cannot run here (``--device cuda`` without a GPU): the same rule the pytest plugin applies,
    checked before a command starts pytest or creates anything."""
    import pytest

    from fizzcheck.errors import FizzcheckError
    from fizzcheck.plugin.hooks import select_devices_and_dtypes
    from fizzcheck.targets.tensors import cuda_skip_reason

    try:
        select_devices_and_dtypes(
            None if device is None else device.split(","),
            None if dtype is None else dtype.split(","),
            cuda_skip_reason(),
        )
    except pytest.UsageError as exc:
        message = str(exc).replace("--fizzcheck-device=", "--device ").replace("--fizzcheck-dtype=", "--dtype ")
        raise FizzcheckError(message) from None


def profile_option(*, default: str | None = None, help: str = "Hypothesis profile") -> Callable[[F], F]:
    return click.option("--profile", type=click.Choice(PROFILE_NAMES), default=default, help=help)


def device_option(function: F) -> F:
    return click.option(
        "--device",
        type=CommaSeparated(DEVICE_NAMES, "device"),
        help="devices, e.g. cpu or cpu,cuda (default: all available; one that is not available is an error)",
    )(function)


def dtype_option(function: F) -> F:
    return click.option(
        "--dtype",
        type=CommaSeparated(DTYPE_NAMES, "dtype"),
        help="dtypes, e.g. float32 (default: all that run on the devices; float16/bfloat16: on cuda, and on the cpu for the properties marked cpu_low_precision)",
    )(function)


def target_option(*, help: str = TARGET_HELP) -> Callable[[F], F]:
    return click.option("--target", type=TargetSpec(), metavar="SPEC", help=help)


def workers_option(function: F) -> F:
    return click.option("--workers", type=Workers(), metavar="N", help=WORKERS_HELP)(function)


def pytest_args_argument(function: F) -> F:
    """Words after ``--`` go to pytest untouched (``fizzcheck verify -- -k test_softmax``)."""
    return click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST_ARGS...]")(function)

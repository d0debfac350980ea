"""Running a click command the fizzcheck way: every failure is one line, never a traceback.

* a usage error (bad option, bad value, unknown command) prints
  ``fizzcheck verify: error: <what> (see fizzcheck verify --help)`` and exits with status 2
  (``SystemExit``, as argparse did), instead of click's usage block;
* a :class:`~fizzcheck.errors.FizzcheckError` from a command prints ``fizzcheck: error: <what>``
  and returns 2;
* otherwise the command's own exit status is returned.

:func:`output_directory` creates what a command writes into, and removes again whatever it
created that is still empty when the command ends (a failed run leaves nothing behind);
:func:`call_pytest` runs a pytest command line in the current directory and leaves no empty
directory there either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from fizzcheck.errors import FizzcheckError

__all__ = ["BAD_INPUT", "call_pytest", "output_directory", "run_command"]

BAD_INPUT = 2
"""Exit status of a usage error or of bad input."""
INTERRUPTED = 130
PYTEST_BENCHMARK_STORAGE = Path(".benchmarks")
"""pytest-benchmark creates its storage in the working directory of every run; fizzcheck writes
``--benchmark-json`` files instead and never uses it."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error(line: str) -> None:
    print(line, file=sys.stderr)


def run_command(command: click.Command, argv: Sequence[str] | None, *, prog_name: str, error_prefix: str) -> int:
    """Run ``command`` on ``argv`` (default ``sys.argv[1:]``); its exit status (see the module)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args, prog_name=prog_name, standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else prog_name
        _error(f"{where}: error: {_one_line(exc.format_message())} (see {where} --help)")
        raise SystemExit(BAD_INPUT) from None
    except click.ClickException as exc:
        _error(f"{error_prefix}: error: {_one_line(exc.format_message())}")
        return exc.exit_code
    except click.Abort:
        _error(f"{error_prefix}: interrupted")
        return INTERRUPTED
    except FizzcheckError as exc:
        _error(f"{error_prefix}: error: {_one_line(str(exc))}")
        return BAD_INPUT
    except FileExistsError as exc:
        _error(f"{error_prefix}: error: {exc.filename} exists; reports are never overwritten")
        return BAD_INPUT
    return int(result or 0)


@contextmanager
def output_directory(path: Path, *, option: str = "--output-dir") -> Iterator[Path]:
    """``path``, created with its parents; on the way out, what this created and left empty is removed."""
    created = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        for directory in created:
            _remove_if_empty(directory)
        raise FizzcheckError(f"{option} {path}: cannot create it ({exc.strerror or exc})") from None
    try:
        yield path
    finally:
        for directory in created:
            if not _remove_if_empty(directory):
                break


def _remove_if_empty(directory: Path) -> bool:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def call_pytest(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    """Run a pytest command line (:func:`fizzcheck.suite.pytest_command`) here; its exit status.

    ``env``: variables to set for the run, on top of this environment. A directory the run
    creates here and leaves empty (pytest-benchmark's storage) is removed.
    """
    storage = Path.cwd() / PYTEST_BENCHMARK_STORAGE
    new = not storage.exists()
    try:
        return subprocess.call(list(argv), env=None if env is None else {**os.environ, **env})
    finally:
        if new:
            _remove_if_empty(storage)

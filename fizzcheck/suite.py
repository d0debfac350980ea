"""The suites fizzcheck ships, and the one place that builds the pytest command lines running them.

``properties/`` and ``benchmarks/`` sit at the top of the repository and ship in the wheel as
:data:`PROPERTIES` (``fizzcheck.properties``) and :data:`BENCHMARKS` (``fizzcheck.benchmarks``);
:func:`suite_path` finds them through the import system, so an editable install points at the
checkout and a plain ``pip install`` at site-packages. :func:`pytest_command` is how the CLI
(``verify``, ``run``, ``bench``) and the workflows (``mutants``, ``compat``) spell a run of
either suite; it imports neither the CLI nor pytest.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fizzcheck.errors import FizzcheckError

if TYPE_CHECKING:
    import pytest

__all__ = [
    "BENCHMARKS",
    "PROPERTIES",
    "SUITE_FILTERWARNINGS",
    "add_suite_filterwarnings",
    "checkout_root",
    "pytest_command",
    "suite_path",
]

PROPERTIES = "fizzcheck.properties"
"""The verification suite (``properties/`` in the repository)."""
BENCHMARKS = "fizzcheck.benchmarks"
"""The pytest-benchmark files over the case registry (``benchmarks/`` in the repository)."""

SUITE_FILTERWARNINGS = (
    "error",
    # a benchmark that fails its correctness check or is skipped never reaches the fixture
    "ignore:Benchmark fixture was not used at all:pytest_benchmark.logger.PytestBenchmarkWarning",
    # property runs under pytest-xdist (-n) time nothing; pytest-benchmark says so at start-up
    "ignore:Benchmarks are automatically disabled because xdist plugin is active:pytest_benchmark.logger.PytestBenchmarkWarning",
    # Hypothesis imports libcst (when installed) to explain a failure; libcst's import warns
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning",
    # CUDA: autograd's backward thread has no current context the first time it calls cuBLAS; torch
    # retains the primary context and says so once (TORCH_WARN_ONCE, pytorch/pytorch#120131)
    "ignore:Attempting to run cuBLAS, but there was no current CUDA context:UserWarning",
)
"""The warning filters the suites run under; the checkout's pyproject.toml holds the same lines
(a test checks it), an installed suite gets them from its conftest."""


def suite_path(package: str) -> Path:
    """The directory of the shipped suite ``package`` (:data:`PROPERTIES` or :data:`BENCHMARKS`)."""
    try:
        spec = importlib.util.find_spec(package)
    except ImportError:
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise FizzcheckError(f"cannot find the suite {package}: reinstall fizzcheck (pip install fizzcheck)")
    return Path(locations[0]).resolve()


def checkout_root() -> Path:
    """The fizzcheck checkout this package runs from (for workflows that ``pip install -e`` it)."""
    root = suite_path(PROPERTIES).parent
    if not (root / "pyproject.toml").is_file() or not (root / "fizzcheck").is_dir():
        raise FizzcheckError(
            "this command installs the fizzcheck checkout into new environments: "
            "run it from a fizzcheck checkout (pip install -e .)"
        )
    return root


def pytest_command(
    package: str,
    *,
    files: Sequence[str] = (),
    python: str | Path | None = None,
    profile: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    target: str | None = None,
    workers: int | str | None = None,
    results: Path | None = None,
    plugins: Sequence[str] = (),
    options: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> list[str]:
    """``python -m pytest <suite or its files> -q ... [options] [extra]`` for the shipped suite ``package``.

    ``files`` are paths inside the suite (default: all of it); ``workers`` of None or 0 runs
    serially; ``options`` are the suite's own (e.g. the benchmark sweep); ``extra`` comes
    last, as a user typed it. Node ids are relative to the suite's parent (``--rootdir``),
    so they read ``properties/test_ops.py::…`` in a checkout and in an installed package.
    """
    suite = suite_path(package)
    argv = [str(python or sys.executable), "-m", "pytest", *([str(suite / f) for f in files] or [str(suite)])]
    argv += ["-q", "-p", "no:cacheprovider", f"--rootdir={suite.parent}"]
    for plugin in plugins:
        argv += ["-p", plugin]
    for option, value in (
        ("--hypothesis-profile", profile),
        ("--fizzcheck-device", device),
        ("--fizzcheck-dtype", dtype),
        ("--fizzcheck-target", target),
        ("--fizzcheck-results", results),
    ):
        if value is not None:
            argv.append(f"{option}={value}")
    if workers not in (None, 0, "0"):
        argv += ["-n", str(workers)]
    return argv + list(options) + list(extra)


def add_suite_filterwarnings(config: pytest.Config) -> None:
    """Give a suite run :data:`SUITE_FILTERWARNINGS` when it has no configuration file of its own.

    Called from the suites' ``pytest_configure``: an installed suite run from any directory
    (``pytest --pyargs fizzcheck.properties``, ``fizzcheck verify``) then warns and fails as it
    does in the checkout, whose pyproject.toml sets these lines; a run with a configuration
    file (the checkout's, or a user's) keeps that file's filters.
    """
    if config.inipath is not None:
        return
    for line in SUITE_FILTERWARNINGS:
        config.addinivalue_line("filterwarnings", line)

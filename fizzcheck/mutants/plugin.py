"""pytest plugin that plants one catalogued fault for a whole session: ``-p fizzcheck.mutants.plugin``.

``FIZZCHECK_MUTANT=<name>`` names the fault (or a control, ``none`` / ``identity``). The fault
is planted at session start, before the properties are collected, in every process that runs
tests (each pytest-xdist worker plants its own), and removed when pytest unconfigures.

Right after planting, the process runs the fault's witness and, with
``FIZZCHECK_MUTANT_WITNESS_DIR=DIR``, writes ``DIR/witness-<worker>.json`` so the runner can
prove that the fault was active in the very processes that ran the properties.

Hypothesis keeps the selected profile (``ci`` for ``fizzcheck mutants run``) with two
changes: no example database (a mutant's failures must not be replayed into later runs) and,
unless ``FIZZCHECK_MUTANT_SHRINK=1``, no shrink/explain phases. Whether a property fails is
decided by the examples the profile generates; shrinking only minimises the counterexample,
and against a planted fault it can take minutes per property.
"""

from __future__ import annotations

import json
import os
import warnings
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from fizzcheck.errors import FizzcheckError

__all__ = ["ENV_FAULT", "ENV_SHRINK", "ENV_WITNESS_DIR", "MUTANT_PROFILE"]

ENV_FAULT = "FIZZCHECK_MUTANT"
ENV_WITNESS_DIR = "FIZZCHECK_MUTANT_WITNESS_DIR"
ENV_SHRINK = "FIZZCHECK_MUTANT_SHRINK"
MUTANT_PROFILE = "{profile}-mutant"
"""Name of the derived Hypothesis profile the plugin loads."""

_PLANTED = pytest.StashKey[ExitStack]()
_PREVIOUS_PROFILE = pytest.StashKey[str]()
_SUMMARY = pytest.StashKey[str]()


def _fault_name() -> str:
    name = os.environ.get(ENV_FAULT, "").strip()
    if not name:
        raise pytest.UsageError(
            f"-p fizzcheck.mutants.plugin needs {ENV_FAULT}=<fault name> (or 'none' for the control)"
        )
    return name


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Reject a missing or unknown fault name with one line, before anything runs."""
    from fizzcheck.mutants.catalogue import fault_by_name

    try:
        fault_by_name(_fault_name())
    except FizzcheckError as exc:
        raise pytest.UsageError(f"{ENV_FAULT}: {exc}") from None


def _derived_profile() -> str:
    current: Any = settings.default
    name = MUTANT_PROFILE.format(profile=settings._current_profile or "default")
    changes: dict[str, Any] = {"database": None}
    if os.environ.get(ENV_SHRINK) != "1":
        changes["phases"] = tuple(p for p in current.phases if p not in (Phase.shrink, Phase.explain))
    settings.register_profile(name, settings(current, **changes))
    settings.load_profile(name)
    return name


def _write_witness(config: pytest.Config, record: dict[str, Any]) -> None:
    directory = os.environ.get(ENV_WITNESS_DIR)
    if not directory:
        return
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    path = Path(directory) / f"witness-{worker}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**record, "worker": worker, "pid": os.getpid()}, indent=1))


def _preload_hypothesis_patching() -> None:
    """Import ``hypothesis.extra._patching`` now, with its import-time warnings silenced.

    Hypothesis imports it while reporting a failing property, inside the test's
    ``filterwarnings = error`` scope; where libcst is installed, libcst's import warns
    (mypy_extensions' TypedDict is deprecated), and the warning, as an error, aborts the whole
    pytest session with INTERNALERROR at the first failing property. Imported here, it is cached.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with suppress(ImportError):  # without libcst Hypothesis skips the patch suggestion itself
            import hypothesis.extra._patching  # noqa: F401


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    from fizzcheck.mutants.catalogue import fault_by_name

    config = session.config
    fault = fault_by_name(_fault_name())
    config.stash[_PREVIOUS_PROFILE] = settings._current_profile or "default"
    profile = _derived_profile()
    _preload_hypothesis_patching()
    stack = ExitStack()
    stack.enter_context(fault.activate())
    config.stash[_PLANTED] = stack
    try:
        witness, error = fault.witness(), None
    except Exception as exc:  # a witness that crashes is reported, not hidden
        witness, error = None, f"{type(exc).__name__}: {exc}"
    _write_witness(
        config,
        {"fault": fault.name, "category": fault.category, "witness": witness, "error": error, "profile": profile},
    )
    state = "planted" if not fault.is_control else "control"
    config.stash[_SUMMARY] = (
        f"fizzcheck mutant: {fault.name} ({fault.category}, {state}); witness={witness}; hypothesis profile {profile}"
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"fizzcheck mutant: {os.environ.get(ENV_FAULT)} (planted at session start)"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _SUMMARY in config.stash:
        terminalreporter.write_line(config.stash[_SUMMARY])


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_PLANTED, None)
    if stack is not None:
        stack.close()
    previous = config.stash.get(_PREVIOUS_PROFILE, None)
    if previous is not None:  # an in-process run (pytester) leaves the outer session's profile as it was
        settings.load_profile(previous)

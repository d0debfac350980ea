"""fizzcheck's pytest plugin (entry point ``pytest11: fizzcheck``).

* Registers the Hypothesis profiles ``dev``, ``ci`` and ``thorough``; Hypothesis's own
  ``--hypothesis-profile=NAME`` selects one, else ``$FIZZCHECK_PROFILE``, else ``ci`` when
  ``$CI`` is set and ``dev`` otherwise.
* Parametrises every test that takes ``device`` and/or ``dtype`` arguments over the devices
  and dtypes chosen with ``--fizzcheck-device`` / ``--fizzcheck-dtype`` (or
  ``$FIZZCHECK_DEVICES`` / ``$FIZZCHECK_DTYPES``); by default every device and dtype that can
  run here. A requested device or dtype that cannot run here is a usage error (one line, before
  anything runs): a GPU job with a broken driver must not go green. What the default leaves out
  is one line each (``cuda not available (…)``) in the summary and the results file.
* Provides the ``target`` fixture: the framework under test as a
  :class:`fizzcheck.targets.Target`, chosen with ``--fizzcheck-target`` (or
  ``$FIZZCHECK_TARGET``; default ``torch``). Properties reach torch only through it.
* Records, per test, the outcome, examples run and largest observed error / bound (see
  ``fizzcheck.plugin.recorder``), prints a verification summary, and with
  ``--fizzcheck-results=PATH`` writes them as JSON (``docs/results-schema.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from fizzcheck.dtypes import DTYPES, FLOAT_DTYPES
from fizzcheck.plugin.history import register as register_history
from fizzcheck.plugin.recorder import PropertyRecorder

__all__ = ["PROFILES", "Selection", "default_profile", "select_devices_and_dtypes", "selected_target"]

PROFILES: dict[str, dict[str, Any]] = {
    # fast feedback while editing
    "dev": {"max_examples": 20, "deadline": None},
    # reproducible CI runs; the deadline allows torch's first-call cost (kernel loading,
    # thread-pool start-up), which can take a second on a loaded 2-core machine
    "ci": {"max_examples": 100, "derandomize": True, "deadline": timedelta(seconds=5)},
    # before a release or after a torch upgrade
    "thorough": {"max_examples": 1000, "deadline": None},
}
_COMMON: dict[str, Any] = {
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
for _name, _values in PROFILES.items():
    settings.register_profile(_name, **_COMMON, **_values)
settings.register_profile("ci-seeded", parent=settings.get_profile("ci"), derandomize=False)

LOW_PRECISION = ("float16", "bfloat16")
DEVICE_TYPES = ("cpu", "cuda")

_SELECTION = pytest.StashKey["Selection"]()
_PROFILE = pytest.StashKey[str]()
_TARGET = pytest.StashKey[Any]()


def default_profile() -> str:
    name = os.environ.get("FIZZCHECK_PROFILE")
    if name:
        return name
    return "ci" if os.environ.get("CI") else "dev"


def _split(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fizzcheck")
    group.addoption(
        "--fizzcheck-device",
        default=None,
        help="comma-separated devices to run on (cpu,cuda); default: all available; one that is not available is an error; env FIZZCHECK_DEVICES",
    )
    group.addoption(
        "--fizzcheck-dtype",
        default=None,
        help="comma-separated dtypes (float32,float64; float16,bfloat16 on CUDA, and on the CPU for properties marked cpu_low_precision); default: all that run on the devices; env FIZZCHECK_DTYPES",
    )
    group.addoption(
        "--fizzcheck-target",
        default=None,
        metavar="SPEC",
        help="framework under test: torch (default), seed-raw, compile[:BACKEND] or MODULE:NAME; env FIZZCHECK_TARGET",
    )
    group.addoption(
        "--fizzcheck-threads",
        type=int,
        default=None,
        metavar="N",
        help="torch.set_num_threads(N) for the run; under pytest-xdist the default splits the cores between workers",
    )
    group.addoption(
        "--fizzcheck-results",
        default=None,
        metavar="PATH",
        help="write property results as JSON to PATH (a new file), or into a new file in PATH if it is a directory",
    )


def _selected(config: pytest.Config, option: str, env: str, known: tuple[str, ...]) -> list[str] | None:
    chosen = _split(config.getoption(option)) or _split(os.environ.get(env))
    if chosen is None:
        return None
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise pytest.UsageError(
            f"--{option.replace('_', '-')}={','.join(chosen)}: unknown {unknown}; use {','.join(known)}"
        )
    return chosen


@dataclass(frozen=True)
class Selection:
    """The devices and dtypes a run parametrises over, and what it left out because it cannot run here."""

    devices: list[str]
    dtypes: list[str]
    unavailable: list[str] = field(default_factory=list)

    def runs(self, device: str, dtype: str, *, cpu_low_precision: bool = False) -> bool:
        """Whether the cell device × dtype is in fizzcheck's matrix: half precisions run on CUDA, and
        on the CPU for the properties marked ``cpu_low_precision`` (the paths torch's CPU accepts
        them on, with bounds derived for the format)."""
        return cpu_low_precision or not (device == "cpu" and dtype in LOW_PRECISION)


def select_devices_and_dtypes(
    devices: list[str] | None, dtypes: list[str] | None, cuda_problem: str | None
) -> Selection:
    """Requested devices and dtypes (None: all) → a :class:`Selection` of those that can run here.

    ``cuda_problem`` is why CUDA cannot run (None: it can). A requested device that cannot run
    raises :class:`pytest.UsageError` with one line; the default drops it and says so in
    ``unavailable``. Every dtype runs somewhere (half precisions on the CPU for the properties
    marked ``cpu_low_precision``).
    """
    why = (cuda_problem or "").removeprefix("CUDA not available").strip() or f"({cuda_problem})"
    unavailable = [f"cuda not available {why}"] if cuda_problem else []
    if devices is not None:
        missing = [d for d in devices if d == "cuda" and cuda_problem]
        if missing:
            raise pytest.UsageError(f"--fizzcheck-device={','.join(devices)}: {unavailable[0]}")
        chosen_devices, unavailable = list(devices), []
    else:
        chosen_devices = [d for d in DEVICE_TYPES if not (d == "cuda" and cuda_problem)]
    wanted = dtypes if dtypes is not None else [*FLOAT_DTYPES, *LOW_PRECISION]
    selection = Selection(chosen_devices, [], unavailable)
    # every dtype runs on some selected device: on CUDA, and on the CPU for the properties marked
    # cpu_low_precision (a property that takes none of them gets an empty, skipped parameter set)
    runnable = [t for t in wanted if any(selection.runs(d, t, cpu_low_precision=True) for d in chosen_devices)]
    return Selection(chosen_devices, runnable, unavailable)


def _selection(config: pytest.Config) -> Selection:
    if _SELECTION not in config.stash:
        devices = _selected(config, "fizzcheck_device", "FIZZCHECK_DEVICES", DEVICE_TYPES)
        dtypes = _selected(config, "fizzcheck_dtype", "FIZZCHECK_DTYPES", tuple(DTYPES))
        from fizzcheck.targets.tensors import cuda_skip_reason

        config.stash[_SELECTION] = select_devices_and_dtypes(devices, dtypes, cuda_skip_reason())
    return config.stash[_SELECTION]


def _profile_name(config: pytest.Config) -> str:
    name = config.getoption("hypothesis_profile", default=None) or default_profile()
    if name not in settings._profiles:
        raise pytest.UsageError(f"Hypothesis profile {name!r} is not registered; use one of {sorted(PROFILES)}")
    if name == "ci" and config.getoption("hypothesis_seed", default=None) is not None:
        # A seed must change the examples, which a derandomised profile would ignore.
        return "ci-seeded"
    return name


def _target_spec(config: pytest.Config) -> str:
    return config.getoption("fizzcheck_target") or os.environ.get("FIZZCHECK_TARGET") or "torch"


def selected_target(config: pytest.Config) -> Any:
    """The target of this run (``--fizzcheck-target`` / ``$FIZZCHECK_TARGET``, default torch),
    loaded once per process (a user's target module is imported here)."""
    if _TARGET not in config.stash:
        from fizzcheck.errors import InvalidArgument
        from fizzcheck.targets import load_target

        spec = _target_spec(config)
        try:
            config.stash[_TARGET] = load_target(spec)
        except InvalidArgument as exc:
            raise pytest.UsageError(f"--fizzcheck-target={spec}: {exc}") from None
    return config.stash[_TARGET]


def _results_destination(config: pytest.Config) -> Path | None:
    results = config.getoption("fizzcheck_results")
    if not results:
        return None
    if results.endswith(("/", os.sep)) or Path(results).is_dir():
        return Path(results) / "properties-{run_id}.json"
    if Path(results).exists():
        raise pytest.UsageError(f"--fizzcheck-results={results}: file exists; fizzcheck never overwrites results")
    return Path(results)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Reject bad options with one line before anything runs (Hypothesis itself would crash
    on an unknown profile with an internal error)."""
    _profile_name(config)
    _selected(config, "fizzcheck_device", "FIZZCHECK_DEVICES", DEVICE_TYPES)
    _selected(config, "fizzcheck_dtype", "FIZZCHECK_DTYPES", tuple(DTYPES))
    _selection(config)
    _results_destination(config)
    selected_target(config)


@pytest.hookimpl(trylast=True)  # after Hypothesis's plugin has loaded --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dtypes(*names): restrict the dtypes a property runs in")
    config.addinivalue_line(
        "markers",
        "cpu_low_precision: the property also runs float16/bfloat16 on the CPU (torch accepts them there "
        "and its bounds are derived per format)",
    )
    register_history(config)  # markers requires / known_defect / behaviour_change and their outcomes
    selection = _selection(config)
    _set_threads(config)
    name = _profile_name(config)
    target = selected_target(config)
    if target.compiles:  # the first call of each specialisation compiles for seconds
        settings.register_profile(f"{name}-no-deadline", parent=settings.get_profile(name), deadline=None)
        settings.load_profile(f"{name}-no-deadline")
    else:
        settings.load_profile(name)
    config.stash[_PROFILE] = name
    recorder = PropertyRecorder(
        config, _results_destination(config), name, target.describe(), unavailable=selection.unavailable
    )
    config.pluginmanager.register(recorder, "fizzcheck-results")


def _set_threads(config: pytest.Config) -> None:
    """Honour --fizzcheck-threads; under xdist, give each worker its share of the cores.

    Two workers each running torch's default team of one thread per core oversubscribe the
    machine, and an OpenMP team waiting on a descheduled thread turns microsecond kernels
    into milliseconds (measured here: a 16×10 linear took 7.8 ms instead of 10 µs).
    """
    threads = config.getoption("fizzcheck_threads")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if threads is None and workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
    if threads is not None:
        if threads < 1:
            raise pytest.UsageError(f"--fizzcheck-threads={threads}: must be a positive integer")
        import torch

        torch.set_num_threads(threads)


def pytest_report_header(config: pytest.Config) -> list[str]:
    selection = _selection(config)
    target = config.stash[_TARGET]
    overrides = target.describe()["overrides"]
    lines = [
        f"fizzcheck: target={target.spec} ({len(overrides)} overrides), hypothesis profile={config.stash[_PROFILE]}, "
        f"devices={','.join(selection.devices)}, dtypes={','.join(selection.dtypes)}"
    ]
    return lines + [f"fizzcheck: {line}" for line in selection.unavailable]


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Any:
    """The framework under test (a :class:`fizzcheck.targets.Target`); see ``--fizzcheck-target``."""
    return selected_target(pytestconfig)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    explicit: set[str] = set()  # names a test parametrises itself are left alone
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if isinstance(names, str):
            explicit.update(n.strip() for n in names.split(","))
        else:
            explicit.update(names)
    wants_device = "device" in metafunc.fixturenames and "device" not in explicit
    wants_dtype = "dtype" in metafunc.fixturenames and "dtype" not in explicit
    if not (wants_device or wants_dtype):
        return
    selection = _selection(metafunc.config)
    marker = metafunc.definition.get_closest_marker("dtypes")
    allowed = [d for d in selection.dtypes if marker is None or d in marker.args]
    cpu_low = metafunc.definition.get_closest_marker("cpu_low_precision") is not None
    devices = selection.devices if wants_device else ["cpu"]
    params = []
    for device in devices:
        for dtype in allowed if wants_dtype else [None]:
            if dtype is not None and not selection.runs(device, dtype, cpu_low_precision=cpu_low):
                continue  # half precisions: CUDA, and the CPU for properties marked cpu_low_precision
            values = tuple(v for v, wanted in ((device, wants_device), (dtype, wants_dtype)) if wanted)
            params.append(pytest.param(*values, id="-".join(str(v) for v in values)))
    names = ",".join(n for n, wanted in (("device", wants_device), ("dtype", wants_dtype)) if wanted)
    metafunc.parametrize(names, params)

"""pytest-benchmark glue: the sweep mode, thread count, machine metadata, load and peaks, and
the fizzcheck fields every benchmark carries in the JSON (:mod:`fizzcheck.results.schema`,
``docs/results-schema.md``).

Timing is fizzcheck's interleaved loop (:mod:`fizzcheck.bench.groups`); pytest-benchmark
collects the samples, computes its statistics and writes the JSON.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch

from fizzcheck.bench.groups import GroupTimer
from fizzcheck.bench.peaks import apply_run_peaks, measure_peaks
from fizzcheck.bench.registry import iter_params, use_target
from fizzcheck.bench.runner import derived_metrics
from fizzcheck.bench.timing import LoadMonitor, bench_threads, is_busy
from fizzcheck.plugin.hooks import selected_target
from fizzcheck.results.machine import collect_machine, new_run_id
from fizzcheck.results.schema import SCHEMA_KEY, BenchmarkRun, DevicePeaks
from fizzcheck.suite import add_suite_filterwarnings
from fizzcheck.targets.tensors import available_devices

_PEAKS = pytest.StashKey[dict[str, Any]]()
_END_PEAKS = pytest.StashKey[dict[str, Any]]()
_LOAD = pytest.StashKey[LoadMonitor]()
_FINISHED = pytest.StashKey[dict[str, Any]]()
_THREADS = pytest.StashKey[tuple[int, str]]()
_SELECTED = pytest.StashKey[list[Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fizzcheck benchmarks")
    group.addoption("--bench-mode", choices=("quick", "full"), default="quick", help="size/dtype sweep (default quick)")
    group.addoption(
        "--bench-threads",
        type=int,
        default=None,
        help="torch.set_num_threads for the run (default: torch's, less the cores other processes keep busy)",
    )
    group.addoption(
        "--bench-fidelity",
        action="store_true",
        help="also time each case with torch.utils.benchmark.Timer.blocked_autorange (stored as timer_median_s)",
    )


def pytest_configure(config: pytest.Config) -> None:
    add_suite_filterwarnings(config)  # installed, the suite has no pyproject.toml
    threads = config.getoption("--bench-threads")
    if threads is not None:
        if threads < 1:
            raise pytest.UsageError(f"--bench-threads={threads}: must be a positive integer")
        config.stash[_THREADS] = (threads, "--bench-threads")
    else:
        config.stash[_THREADS] = bench_threads()
    torch.set_num_threads(config.stash[_THREADS][0])
    config.stash[_LOAD] = LoadMonitor().start()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case_params" in metafunc.fixturenames:
        quick = metafunc.config.getoption("--bench-mode") == "quick"
        # --fizzcheck-target other than torch eager adds the `target` implementation of each case
        target = selected_target(metafunc.config)
        use_target(None if target.spec == "torch" else target)
        params = list(iter_params(quick=quick, with_target=target.spec != "torch"))
        skip = pytest.mark.skip(reason="CUDA not available (torch.cuda.is_available() is False)")
        devices = available_devices()
        metafunc.parametrize(
            "case_params",
            [pytest.param(p, id=p.id, marks=() if p.device in devices else (skip,)) for p in params],
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[_SELECTED] = [
        item.callspec.params["case_params"]
        for item in session.items
        if hasattr(item, "callspec") and "case_params" in item.callspec.params
    ]


@pytest.fixture(scope="session")
def group_timer(pytestconfig: pytest.Config) -> GroupTimer:
    """One per run: times each benchmark group, round by round, when its first benchmark runs."""
    quick = pytestconfig.getoption("--bench-mode") == "quick"
    max_time = pytestconfig.getoption("benchmark_max_time", None) or (0.25 if quick else 1.0)
    min_rounds = pytestconfig.getoption("benchmark_min_rounds", None) or 15
    return GroupTimer(
        pytestconfig.stash.get(_SELECTED, []),
        min_rounds=int(min_rounds),
        max_time=float(max_time),
        threads=torch.get_num_threads(),
    )


@pytest.fixture(scope="session")
def peaks(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Measured once per run, before the first benchmark that needs it."""
    if _PEAKS not in pytestconfig.stash:
        pytestconfig.stash[_PEAKS] = measure_peaks(available_devices(), mode=pytestconfig.getoption("--bench-mode"))
    return pytestconfig.stash[_PEAKS]


def _finish(config: pytest.Config) -> dict[str, Any]:
    """At the end of the run, once: the load during it, the peaks re-measured, busy or not."""
    if _FINISHED not in config.stash:
        monitor = config.stash.get(_LOAD, None)
        load = monitor.finish() if monitor is not None else {}
        start = config.stash.get(_PEAKS, None)
        drift = None
        if start is not None:
            if _END_PEAKS not in config.stash:
                config.stash[_END_PEAKS] = measure_peaks(available_devices(), mode=config.getoption("--bench-mode"))
            end = config.stash[_END_PEAKS]
            before = start.get("cpu", {}).get("matmul_gflops", {}).get("float32")
            after = end.get("cpu", {}).get("matmul_gflops", {}).get("float32")
            drift = (after - before) / before if before and after else None
        busy, reasons = is_busy(load, drift)
        _, why = config.stash.get(_THREADS, (None, "not recorded"))
        config.stash[_FINISHED] = {
            "load": {**load, "peak_drift": None if drift is None else round(drift, 4), "threads_reason": why},
            "busy": busy,
            "busy_reasons": reasons,
        }
    return config.stash[_FINISHED]


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    finished = _finish(config)
    peaks = config.stash.get(_PEAKS, None)
    run = BenchmarkRun(
        **vars(collect_machine()),
        run_id=new_run_id(),
        mode=config.getoption("--bench-mode"),
        peaks=None if peaks is None else {device: DevicePeaks(**values) for device, values in peaks.items()},
        load=finished["load"],
        busy=finished["busy"],
        busy_reasons=finished["busy_reasons"],
    )
    machine_info["fizzcheck"] = dataclasses.asdict(run)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    finished = _finish(config)
    rows = [b for b in output_json.get("benchmarks", []) if b.get("extra_info", {}).get(SCHEMA_KEY) and b.get("stats")]
    peaks = apply_run_peaks(config.stash.get(_PEAKS, None), config.stash.get(_END_PEAKS, None), rows)
    fizzcheck = output_json.get("machine_info", {}).get("fizzcheck")
    if fizzcheck is not None and peaks is not None:
        fizzcheck["peaks"] = peaks
    for bench in rows:
        extra = bench["extra_info"]
        extra.update(derived_metrics(extra, bench["stats"], peaks))
        extra["busy"], extra["other_cores"] = finished["busy"], finished["load"].get("other_cores")

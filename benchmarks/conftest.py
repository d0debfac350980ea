"""pytest-benchmark glue: the sweep mode, thread count, machine metadata and peaks, and the
fizzcheck fields every benchmark carries in the JSON (:mod:`fizzcheck.results.schema`,
``docs/results-schema.md``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch

from fizzcheck.bench.peaks import measure_peaks
from fizzcheck.bench.registry import iter_params, use_target
from fizzcheck.bench.runner import derived_metrics
from fizzcheck.plugin.hooks import selected_target
from fizzcheck.results.machine import collect_machine, new_run_id
from fizzcheck.results.schema import SCHEMA_KEY, BenchmarkRun, DevicePeaks
from fizzcheck.suite import add_suite_filterwarnings
from fizzcheck.targets.tensors import available_devices

_PEAKS = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fizzcheck benchmarks")
    group.addoption("--bench-mode", choices=("quick", "full"), default="quick", help="size/dtype sweep (default quick)")
    group.addoption(
        "--bench-threads", type=int, default=None, help="torch.set_num_threads for the run (default: torch's)"
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
        torch.set_num_threads(threads)


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


@pytest.fixture(scope="session")
def peaks(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Measured once per run, before the first benchmark that needs it."""
    if _PEAKS not in pytestconfig.stash:
        pytestconfig.stash[_PEAKS] = measure_peaks(available_devices(), mode=pytestconfig.getoption("--bench-mode"))
    return pytestconfig.stash[_PEAKS]


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    peaks = config.stash.get(_PEAKS, None)
    run = BenchmarkRun(
        **vars(collect_machine()),
        run_id=new_run_id(),
        mode=config.getoption("--bench-mode"),
        peaks=None if peaks is None else {device: DevicePeaks(**values) for device, values in peaks.items()},
    )
    machine_info["fizzcheck"] = dataclasses.asdict(run)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    peaks = config.stash.get(_PEAKS, None)
    for bench in output_json.get("benchmarks", []):
        extra = bench.get("extra_info", {})
        if extra.get(SCHEMA_KEY) and bench.get("stats"):
            extra.update(derived_metrics(extra, bench["stats"], peaks))

"""Every registered case × implementation × device × dtype × size, through pytest-benchmark.

Inputs are built and the result checked against the numpy reference before timing; a wrong
computation fails here instead of being reported. Run with ``fizzcheck bench`` or
``nox -s bench -- quick``.

The timing loop is fizzcheck's own (:func:`fizzcheck.bench.timing.interleaved`): the first
benchmark of a group (case × device × dtype × size) times every selected implementation of
the group round by round, and each benchmark hands its own per-call samples to
pytest-benchmark, which keeps its statistics and JSON.
"""

from __future__ import annotations

import pytest

from fizzcheck.bench.registry import Unavailable


def test_case(benchmark, case_params, peaks, group_timer, pytestconfig):
    timed = group_timer.result(case_params)
    if isinstance(timed, Unavailable):
        pytest.skip(str(timed))
    if isinstance(timed, BaseException):
        raise timed  # the correctness check failed: never timed
    benchmark.group = f"{case_params.case}-{case_params.size}"
    benchmark.extra_info.update(timed.extra)
    if benchmark.disabled:  # --benchmark-disable: one call as a smoke test
        benchmark(timed.prepared.run)
        return
    benchmark._mode = "fizzcheck interleaved rounds"
    stats = benchmark._make_stats(1)
    for seconds in timed.samples:
        stats.update(float(seconds))
    if pytestconfig.getoption("--bench-fidelity"):
        import torch
        from torch.utils.benchmark import Timer

        timer = Timer(stmt="run()", globals={"run": timed.prepared.run}, num_threads=torch.get_num_threads())
        benchmark.extra_info["timer_median_s"] = timer.blocked_autorange(min_run_time=0.5).median

"""Every registered case × implementation × device × dtype × size, through pytest-benchmark.

Inputs are built and the result checked against the numpy reference before timing; a wrong
computation fails here instead of being reported. Run with ``fizzcheck bench`` or
``nox -s bench -- quick``.
"""

from __future__ import annotations

import pytest
import torch

from fizzcheck.bench.registry import Unavailable
from fizzcheck.bench.runner import extra_info, prepare


def test_case(benchmark, case_params, peaks, pytestconfig):
    try:
        prepared, ratios = prepare(case_params)
    except Unavailable as reason:
        pytest.skip(str(reason))
    benchmark.extra_info.update(extra_info(case_params, prepared, ratios, torch.get_num_threads()))
    benchmark.group = f"{case_params.case}-{case_params.size}"
    benchmark(prepared.run)
    if pytestconfig.getoption("--bench-fidelity"):
        from torch.utils.benchmark import Timer

        timer = Timer(stmt="run()", globals={"run": prepared.run}, num_threads=torch.get_num_threads())
        benchmark.extra_info["timer_median_s"] = timer.blocked_autorange(min_run_time=0.5).median

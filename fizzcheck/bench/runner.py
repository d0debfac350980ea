"""From a registry entry to a checked, ready-to-time callable, and the numbers derived after timing.

Correctness before speed: :func:`prepare` runs the implementation once and compares every
output with the numpy reference within the tolerance bounds; a wrong computation raises
:class:`~fizzcheck.errors.BoundExceeded` and is never timed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Any

import numpy as np

from fizzcheck.bench.registry import CaseParams, Prepared, active_target, get_case
from fizzcheck.check import assert_close
from fizzcheck.dtypes import round_to
from fizzcheck.results.schema import BenchmarkCase, BenchmarkMetrics, is_noisy

__all__ = ["derived_metrics", "extra_info", "make_inputs", "prepare"]

_ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}


def make_inputs(params: CaseParams) -> dict[str, np.ndarray]:
    """The case's inputs, seeded by (case, size) so every implementation gets the same values,
    with floating inputs rounded to the benchmark's dtype."""
    case = get_case(params.case)
    seed = int.from_bytes(hashlib.sha256(f"{params.case}/{params.size}".encode()).digest()[:4], "little")
    raw = case.make_inputs(case.size(params.size).params, np.random.default_rng(seed))
    return {k: (round_to(v, params.dtype) if np.issubdtype(v.dtype, np.floating) else v) for k, v in raw.items()}


@functools.lru_cache(maxsize=8)
def _expected(case_name: str, size: str, dtype: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reference outputs and their bounds, computed once per case × size × dtype (the epoch's
    chained step bounds take seconds) and shared by every implementation."""
    case = get_case(case_name)
    inputs = make_inputs(CaseParams(case_name, "numpy_reference", "cpu", dtype, size))
    return case.reference(inputs), case.bounds(inputs, dtype)


def prepare(params: CaseParams) -> tuple[Prepared, dict[str, float]]:
    """Build the implementation (may raise ``Unavailable``) and check it; returns the prepared
    callable and each output's error / bound ratio."""
    case = get_case(params.case)
    impl = case.implementation(params.implementation)
    inputs = make_inputs(params)
    prepared = impl.build(case.size(params.size).params, inputs, params.device, params.dtype)
    ratios: dict[str, float] = {}
    if params.implementation == "numpy_reference":
        return prepared, ratios  # the reference is the yardstick itself
    got = prepared.outputs(prepared.run())
    expected, bounds = _expected(params.case, params.size, params.dtype)
    for name, want in expected.items():
        result = assert_close(got[name], want, bound=bounds[name], op=f"{params.id} {name}", dtype=params.dtype)
        ratios[name] = result.ratio
    return prepared, ratios


def extra_info(params: CaseParams, prepared: Prepared, ratios: dict[str, float], threads: int) -> dict[str, Any]:
    """The benchmark's ``extra_info`` before timing (:class:`~fizzcheck.results.schema.BenchmarkCase`)."""
    case = get_case(params.case)
    size = case.size(params.size).params
    info = BenchmarkCase(
        case=params.case,
        implementation=params.implementation,
        device=params.device,
        dtype=params.dtype,
        size=params.size,
        size_params=dict(size),
        flops=int(case.flops(size)),
        bytes=int(case.bytes_moved(size, _ITEMSIZE[params.dtype])),
        threads=threads,
        compile_s=prepared.compile_s,
        max_error_ratio=max(ratios.values()) if ratios else None,
        target=active_target().spec if case.implementation(params.implementation).needs_target else None,
    )
    return dataclasses.asdict(info)


def derived_metrics(extra: dict[str, Any], stats: dict[str, Any], peaks: dict[str, Any] | None) -> dict[str, Any]:
    """Achieved GFLOP/s and GB/s from the median, % of the run's peaks (flagged
    ``above_measured_peak`` where the row beat the peak micro-benchmarks), and the noise flag
    (:class:`~fizzcheck.results.schema.BenchmarkMetrics`, added to ``extra_info`` after timing)."""
    median = float(stats["median"])
    iqr = float(stats["iqr"])
    gflops = extra["flops"] / median / 1e9 if median > 0 else None
    gbps = extra["bytes"] / median / 1e9 if median > 0 else None
    device_peaks = (peaks or {}).get(extra["device"], {})
    peak_flops = device_peaks.get("matmul_gflops", {}).get(extra["dtype"])
    peak_bw = device_peaks.get("copy_gbps")
    spread = iqr / median if median > 0 else None
    measured_flops = device_peaks.get("measured_matmul_gflops", {}).get(extra["dtype"])
    measured_bw = device_peaks.get("measured_copy_gbps")
    above = None
    if measured_flops or measured_bw:
        above = bool(
            (gflops is not None and measured_flops and gflops > measured_flops)
            or (gbps is not None and measured_bw and gbps > measured_bw)
        )
    metrics = BenchmarkMetrics(
        median_s=median,
        gflops=gflops,
        gbps=gbps,
        pct_peak_flops=100.0 * gflops / peak_flops if gflops is not None and peak_flops else None,
        pct_peak_bandwidth=100.0 * gbps / peak_bw if gbps is not None and peak_bw else None,
        iqr_over_median=spread,
        noisy=bool(spread is not None and is_noisy(spread, median)),
        above_measured_peak=above,
    )
    return dataclasses.asdict(metrics)

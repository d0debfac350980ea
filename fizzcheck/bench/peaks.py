"""This machine's ceilings, measured in each run: large-matmul GFLOP/s and copy GB/s.

The peak a case is compared with is what *this* torch build reaches on *this* machine for a
large, BLAS-friendly problem — not a datasheet number — so "% of peak" says how much of the
achievable throughput a case gets.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from fizzcheck.targets.tensors import torch_dtype

__all__ = ["apply_run_peaks", "measure_peaks", "time_best"]

MATMUL_SIDES = {"quick": (256, 512, 1024), "full": (256, 512, 1024, 2048)}
"""The peak is the best rate over these square sizes: BLAS libraries reach their best rate at
different sizes on different CPUs (cache blocking, thread split), so no single size is safe."""
CUDA_MATMUL_SIDES = (4096, 8192)
COPY_BYTES = {"quick": 32 * 2**20, "full": 128 * 2**20}
REPEATS = 5


def time_best(fn: Any, device: str, repeats: int = REPEATS) -> float:
    """Best wall time of ``repeats`` calls after one warm-up; CUDA timed with events."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return best


def _matmul_gflops(device: str, dtype: str, sides: tuple[int, ...]) -> tuple[float, int]:
    """Best GFLOP/s over ``sides`` and the side that reached it."""
    best = (0.0, sides[0])
    for side in sides:
        a = torch.rand(side, side, device=device, dtype=torch_dtype(dtype))
        b = torch.rand(side, side, device=device, dtype=torch_dtype(dtype))
        seconds = time_best(lambda: torch.matmul(a, b), device)  # noqa: B023 - called right here
        best = max(best, (2.0 * side**3 / seconds / 1e9, side))
    return best


def _copy_gbps(device: str, nbytes: int) -> float:
    src = torch.empty(nbytes // 4, device=device, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    seconds = time_best(lambda: dst.copy_(src), device)
    return 2.0 * nbytes / seconds / 1e9  # every byte read once and written once


def measure_peaks(devices: tuple[str, ...], *, mode: str = "quick") -> dict[str, Any]:
    peaks: dict[str, Any] = {}
    for device in devices:
        dtypes = ("float32", "float64") + (("float16", "bfloat16") if device == "cuda" else ())
        sides = MATMUL_SIDES[mode] if device == "cpu" else CUDA_MATMUL_SIDES
        rates = {dtype: _matmul_gflops(device, dtype, sides) for dtype in dtypes}
        peaks[device] = {
            "matmul_gflops": {dtype: round(rate, 3) for dtype, (rate, _) in rates.items()},
            "matmul_side": {dtype: side for dtype, (_, side) in rates.items()},
            "copy_gbps": round(_copy_gbps(device, COPY_BYTES[mode] if device == "cpu" else 2**30), 3),
        }
    return peaks


def apply_run_peaks(
    start: dict[str, Any] | None, end: dict[str, Any] | None, rows: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The run's peaks: per device (and dtype) the best sustained rate seen in the run — the
    matmul and copy peaks measured at the start and re-measured at the end, and every row's
    rate at its median. No row can then exceed 100 %; ``measured_matmul_gflops`` and
    ``measured_copy_gbps`` keep the micro-benchmarks' best so a row above them is flagged
    (``above_measured_peak``)."""
    if start is None:
        return None
    peaks: dict[str, Any] = {}
    for device, first in start.items():
        last = (end or {}).get(device, first)
        flops = {
            dtype: max(rate, last.get("matmul_gflops", {}).get(dtype, 0.0))
            for dtype, rate in first["matmul_gflops"].items()
        }
        copy = max(first["copy_gbps"], last.get("copy_gbps", 0.0))
        best_flops, best_copy = dict(flops), copy
        for row in rows:
            extra, median = row["extra_info"], float(row["stats"]["median"])
            if extra.get("device") != device or median <= 0:
                continue
            if extra.get("dtype") in best_flops and extra.get("flops"):
                best_flops[extra["dtype"]] = max(best_flops[extra["dtype"]], extra["flops"] / median / 1e9)
            if extra.get("bytes"):
                best_copy = max(best_copy, extra["bytes"] / median / 1e9)
        peaks[device] = {
            "matmul_gflops": {dtype: round(rate, 3) for dtype, rate in best_flops.items()},
            "matmul_side": first.get("matmul_side"),
            "copy_gbps": round(best_copy, 3),
            "measured_matmul_gflops": {dtype: round(rate, 3) for dtype, rate in flops.items()},
            "measured_copy_gbps": round(copy, 3),
            "end_matmul_gflops": last.get("matmul_gflops"),
        }
    return peaks

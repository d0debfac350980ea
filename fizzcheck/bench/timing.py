"""Timing that survives a shared machine: interleaved rounds, robust statistics, the machine's load.

* :func:`interleaved` times every implementation of one benchmark group (case × device ×
  dtype × size) round by round, in a fresh random order each round, so a burst of competing
  load hits all of them alike instead of whichever one happened to be running.
  Each round times a *batch* of calls long enough (``BATCH_S``) that the clock's resolution
  and call overhead are negligible; the sample is the batch time / calls.
* :func:`summarize` reports the median and the minimum with a seeded bootstrap confidence
  interval of the median (numpy only).
* :class:`LoadMonitor` records the load average and, from ``/proc/stat``, the CPU time other
  processes and the hypervisor (steal) took during the run; :func:`is_busy` applies the rule.
* :func:`bench_threads` picks the torch thread count for a run: an OpenMP team larger than the
  idle cores waits at every barrier for a descheduled thread (measured here: a 1 M-element
  sigmoid took 12 ms with 2 threads and one core busy, 0.46 ms with 1 thread).
"""

from __future__ import annotations

import gc
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BATCH_S",
    "BOOTSTRAP_RESAMPLES",
    "BUSY_OTHER_CORES",
    "BUSY_PEAK_DRIFT",
    "BUSY_STEAL",
    "CI_LEVEL",
    "HARD_LIMIT",
    "MIN_ROUNDS_FLOOR",
    "LoadMonitor",
    "bench_threads",
    "bootstrap_median_ci",
    "calibrate",
    "cpu_times",
    "interleaved",
    "is_busy",
    "summarize",
]

BATCH_S = 2e-3
"""Seconds of calls per timed batch: perf_counter's resolution (< 1 µs) is < 0.05 % of it, and
it is well under a scheduler time slice (~4 ms), so one preemption spoils one batch, not many."""
HARD_LIMIT = 3.0
MIN_ROUNDS_FLOOR = 5
"""Fewest rounds a benchmark gets: with 5, the bootstrap interval of the median is still finite."""
CI_LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
"""Resamples of the bootstrap: the Monte-Carlo error of a 95 % percentile bound is then well
below the spread between rounds."""
BUSY_OTHER_CORES = 0.5
"""A run is busy when other processes used at least half a core on average during it."""
BUSY_STEAL = 0.05
"""… or the hypervisor stole at least 5 % of the CPU time …"""
BUSY_PEAK_DRIFT = 0.2
"""… or the matmul peak re-measured at the end differs by more than 20 % from the start."""


def bootstrap_median_ci(samples: np.ndarray, *, seed: int = 0, level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median, seeded (reproducible)."""
    samples = np.asarray(samples, dtype=float)
    if len(samples) == 0:
        return math.nan, math.nan
    if len(samples) == 1:
        return float(samples[0]), float(samples[0])
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(samples, size=(BOOTSTRAP_RESAMPLES, len(samples)), replace=True), axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return float(low), float(high)


def summarize(samples: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """Median, minimum and the bootstrap CI of the median of per-call times."""
    samples = np.asarray(samples, dtype=float)
    low, high = bootstrap_median_ci(samples, seed=seed)
    return {"median_s": float(np.median(samples)), "min_s": float(samples.min()), "ci_low_s": low, "ci_high_s": high}


def _calibrate(fn: Callable[[], Any]) -> int:
    """Calls per batch: enough for ``BATCH_S`` (from the fastest of three single calls)."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(1, min(100_000, math.ceil(BATCH_S / max(best, 1e-9))))


def calibrate(fns: Mapping[Any, Callable[[], Any]]) -> dict[Any, int]:
    """Calls per batch of every callable (each warmed up by its calibration calls)."""
    return {key: _calibrate(fn) for key, fn in fns.items()}


def interleaved(
    fns: Mapping[Any, Callable[[], Any]],
    *,
    min_rounds: int,
    max_time: float,
    seed: int = 0,
    calls: Mapping[Any, int] | None = None,
) -> dict[Any, np.ndarray]:
    """Per-call times of every callable, one batch each per round, the order shuffled per round.

    Rounds continue until ``min_rounds`` are done and ``max_time`` seconds (all callables
    together) have passed, but stop at ``HARD_LIMIT`` × ``max_time`` once ``MIN_ROUNDS_FLOOR``
    rounds are done (a slow call — a whole epoch in numpy — cannot hold the sweep for
    ``min_rounds`` calls). Each callable is warmed up and calibrated first, unless ``calls`` (calls
    per batch, from :func:`calibrate`) says how many calls make a batch."""
    order = list(fns)
    calls = dict(calls) if calls is not None else calibrate(fns)
    samples: dict[Any, list[float]] = {key: [] for key in order}
    shuffle = random.Random(seed)
    deadline = time.perf_counter() + max_time
    rounds = 0
    hard_stop = time.perf_counter() + HARD_LIMIT * max_time
    collecting = gc.isenabled()
    gc.disable()  # a collection inside a batch would charge one implementation for all
    try:
        while rounds < min_rounds or time.perf_counter() < deadline:
            if rounds >= MIN_ROUNDS_FLOOR and time.perf_counter() > hard_stop:
                break
            shuffle.shuffle(order)
            for key in order:
                fn, n = fns[key], calls[key]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[key].append((time.perf_counter() - start) / n)
            rounds += 1
            # between rounds, outside every timed batch: the young generation only. A full
            # collection walks every object torch, numpy and pandas made (0.1-0.2 s here): once
            # per round it used most of a case's time budget and left 5-9 rounds per case.
            gc.collect(0)
    finally:
        if collecting:
            gc.enable()
    return {key: np.asarray(values) for key, values in samples.items()}


def cpu_times() -> tuple[float, float, float] | None:
    """``(busy, steal, total)`` CPU seconds of the whole machine from ``/proc/stat`` (None elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy / tick, steal / tick, (busy + idle + iowait + steal) / tick


def _own_cpu() -> float:
    """CPU seconds this process (and its finished children) used."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class LoadMonitor:
    """Start at the run's beginning, :meth:`finish` at its end: the machine's load meanwhile."""

    start_wall: float = 0.0
    start_cpu: tuple[float, float, float] | None = None
    start_own: float = 0.0
    start_loadavg: float | None = None

    def start(self) -> LoadMonitor:
        self.start_wall, self.start_cpu, self.start_own = time.perf_counter(), cpu_times(), _own_cpu()
        self.start_loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        return self

    def finish(self) -> dict[str, Any]:
        """``loadavg_start``, ``loadavg_end``, ``other_cores`` (cores other processes used on
        average), ``steal_fraction``, ``wall_s`` and ``own_cpu_s`` (this process's CPU seconds)."""
        wall = time.perf_counter() - self.start_wall
        end, own = cpu_times(), _own_cpu() - self.start_own
        other = steal = None
        if self.start_cpu is not None and end is not None and wall > 0:
            busy = end[0] - self.start_cpu[0]
            total = end[2] - self.start_cpu[2]
            other = max(0.0, (busy - own) / wall)
            steal = (end[1] - self.start_cpu[1]) / total if total > 0 else 0.0
        return {
            "loadavg_start": self.start_loadavg,
            "loadavg_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "other_cores": None if other is None else round(other, 3),
            "steal_fraction": None if steal is None else round(steal, 4),
            "wall_s": round(wall, 3),
            "own_cpu_s": round(own, 3),
        }


def is_busy(load: Mapping[str, Any], peak_drift: float | None) -> tuple[bool, list[str]]:
    """Whether the run was busy, and why (see the ``BUSY_*`` thresholds)."""
    reasons = []
    if (load.get("other_cores") or 0.0) >= BUSY_OTHER_CORES:
        reasons.append(f"other processes used {load['other_cores']:.2f} cores on average")
    if (load.get("steal_fraction") or 0.0) >= BUSY_STEAL:
        reasons.append(f"{100 * load['steal_fraction']:.0f} % CPU steal")
    if peak_drift is not None and abs(peak_drift) > BUSY_PEAK_DRIFT:
        reasons.append(f"the matmul peak changed by {100 * peak_drift:+.0f} % between start and end")
    return bool(reasons), reasons


def bench_threads(probe_s: float = 0.5) -> tuple[int, str]:
    """torch threads for a run and why: torch's default, less the cores other processes keep
    busy (measured over ``probe_s``), at least 1."""
    import torch

    default = torch.get_num_threads()
    monitor = LoadMonitor().start()
    time.sleep(probe_s)
    other = monitor.finish()["other_cores"]
    if other is None:
        return default, "torch default (no /proc/stat to measure the load)"
    busy = math.floor(other + 0.5)
    threads = max(1, min(default, (os.cpu_count() or default) - busy))
    if threads == default:
        return threads, f"torch default ({default}); other processes used {other:.2f} cores"
    return threads, (
        f"{threads} of torch's {default}: other processes kept {other:.2f} cores busy, and a thread team "
        "larger than the idle cores waits at every barrier"
    )

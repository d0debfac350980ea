"""Benchmark groups timed together: every selected implementation of one case × device × dtype
× size is prepared (and checked) first, then timed round by round with
:func:`fizzcheck.bench.timing.interleaved`, in passes over the whole selection (:data:`PASSES`).

``FIZZCHECK_BENCH_PLANT_SLOWDOWN=CASE`` plants a real 20 % slowdown in every implementation of
``CASE``: every fifth call runs the computation twice. It exists for the power study of
``fizzcheck compare`` (``nox -s compare_power``) and is recorded in each row's ``planted``.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fizzcheck.bench.registry import CaseParams, Prepared, Unavailable
from fizzcheck.bench.runner import extra_info, prepare
from fizzcheck.bench.timing import calibrate, interleaved, summarize

__all__ = ["PASSES", "PLANT_ENV", "YARDSTICK", "GroupTimer", "Timed", "group_key", "planted_slowdown", "yardstick"]

PLANT_ENV = "FIZZCHECK_BENCH_PLANT_SLOWDOWN"


def group_key(params: CaseParams) -> tuple[str, str, str, str]:
    return (params.case, params.device, params.dtype, params.size)


def planted_slowdown(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with 20 % more work: every fifth call computes twice."""
    count = [0]

    def slower() -> Any:
        count[0] += 1
        if count[0] % 5 == 0:
            fn()
        return fn()

    return slower


@dataclass
class Timed:
    prepared: Prepared
    samples: np.ndarray
    extra: dict[str, Any]


PASSES = 11
"""Each case's rounds are taken in this many passes over the whole selection, spread over the
sweep. Load on a shared machine comes in bursts of a second or so; timed in one stretch, a group
hit by a burst was slowed in every round, with a tight interval around the wrong value (two quick
sweeps of the same code, one core busy: 20 "regressions" up to 2x). Spread over passes, a burst
spoils a pass, and the spread between passes is the run-to-run noise that
:func:`fizzcheck.report.stats.ratio_ci` bootstraps."""


YARDSTICK = "yardstick"
"""The key of the fixed workload timed in every group's rounds (:func:`yardstick`)."""


def yardstick() -> Callable[[], Any]:
    """A fixed CPU workload (a 96 × 96 float32 matrix product with torch, tens of µs) timed in every
    group's rounds next to its implementations. Its pass-by-pass time is the machine's speed at that
    moment: on a shared 2-core machine the speed shifts by 20 % for seconds at a time (the passes of
    one case took 337 µs three times, then 405 µs four times), which no number of rounds averages away
    but which slows the yardstick alike. ``fizzcheck compare`` divides each pass by it."""
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.rand(96, 96, generator=generator)
    b = torch.rand(96, 96, generator=generator)
    return lambda: torch.mm(a, b)


YARDSTICK_QUANTILE = 0.25
"""The yardstick's location per pass: the lower quartile, the location fizzcheck compare uses for a
case's rounds (fizzcheck.report.stats.COMPARE_QUANTILE; bench does not import the report)."""


def _seed(params: CaseParams) -> int:
    """A group's seed (round order, bootstrap): the same for every run of the same group."""
    return int.from_bytes(hashlib.sha256("/".join(group_key(params)).encode()).digest()[:4], "little")


class GroupTimer:
    """Times the whole selection when the first benchmark asks: every group (case × device × dtype
    × size) is prepared and checked, then timed in :data:`PASSES` passes, the groups in a fresh
    order each pass, each pass's rounds interleaved across the group's implementations. Later
    benchmarks get their samples; ``extra["passes"]`` holds how many rounds each pass took."""

    def __init__(self, selected: Iterable[CaseParams], *, min_rounds: int, max_time: float, threads: int) -> None:
        self.groups: dict[tuple[str, str, str, str], list[CaseParams]] = {}
        for params in selected:
            self.groups.setdefault(group_key(params), []).append(params)
        self.min_rounds, self.max_time, self.threads = min_rounds, max_time, threads
        self.results: dict[CaseParams, Timed | BaseException] = {}

    def result(self, params: CaseParams) -> Timed | BaseException:
        if not self.results:
            self._time(list(self.groups.values()))
        if params not in self.results:  # not among the selection (a direct call)
            self._time([[params]])
        return self.results[params]

    def _time(self, groups: list[list[CaseParams]]) -> None:
        plant = os.environ.get(PLANT_ENV, "")
        ready: dict[CaseParams, tuple[Prepared, dict[str, float]]] = {}
        timed_groups = []
        for members in groups:
            fns = {}
            for params in members:
                try:
                    ready[params] = prepare(params)
                except (Unavailable, Exception) as exc:
                    self.results[params] = exc
                    continue
                run = ready[params][0].run
                fns[params] = planted_slowdown(run) if params.case == plant else run
            if fns:
                timed_groups.append((_seed(members[0]), fns, calibrate(fns)))
        samples: dict[CaseParams, list[np.ndarray]] = {p: [] for p in ready}
        yard: dict[CaseParams, list[float]] = {p: [] for p in ready}
        stick = yardstick()
        stick_calls = calibrate({YARDSTICK: stick})[YARDSTICK]
        order = random.Random(len(timed_groups))
        per_pass_rounds = math.ceil(self.min_rounds / PASSES)
        for pass_index in range(PASSES):
            gc.collect()  # a full collection between passes, never inside one (interleaved turns gc off)
            order.shuffle(timed_groups)
            for seed, fns, calls in timed_groups:
                # the group's budget grows with its members so each gets about max_time of rounds in all
                got = interleaved(
                    {**fns, YARDSTICK: stick},
                    min_rounds=per_pass_rounds,
                    max_time=self.max_time * len(fns) / PASSES,
                    seed=seed + pass_index,
                    calls={**calls, YARDSTICK: stick_calls},
                )
                stick_s = float(np.quantile(got.pop(YARDSTICK), YARDSTICK_QUANTILE))
                for params, values in got.items():
                    samples[params].append(values)
                    yard[params].append(stick_s)
        for params, (prepared, ratios) in ready.items():
            values = np.concatenate(samples[params])
            extra = extra_info(params, prepared, ratios, self.threads)
            summary = summarize(values, seed=_seed(params))
            extra["ci_low_s"], extra["ci_high_s"] = summary["ci_low_s"], summary["ci_high_s"]
            extra["timing"] = "interleaved"
            extra["passes"] = [len(v) for v in samples[params]]
            extra["yardstick_s"] = yard[params]
            extra["planted"] = "slowdown 1.2" if params.case == plant else None
            self.results[params] = Timed(prepared, values, extra)

"""Benchmark groups timed together: every selected implementation of one case × device × dtype
× size is prepared (and checked) first, then timed round by round with
:func:`fizzcheck.bench.timing.interleaved`.

``FIZZCHECK_BENCH_PLANT_SLOWDOWN=CASE`` plants a real 20 % slowdown in every implementation of
``CASE``: every fifth call runs the computation twice. It exists for the power study of
``fizzcheck compare`` (``nox -s compare_power``) and is recorded in each row's ``planted``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fizzcheck.bench.registry import CaseParams, Prepared, Unavailable
from fizzcheck.bench.runner import extra_info, prepare
from fizzcheck.bench.timing import interleaved, summarize

__all__ = ["PLANT_ENV", "GroupTimer", "Timed", "group_key", "planted_slowdown"]

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


class GroupTimer:
    """Times each group once, when its first benchmark asks; later benchmarks get their samples."""

    def __init__(self, selected: Iterable[CaseParams], *, min_rounds: int, max_time: float, threads: int) -> None:
        self.groups: dict[tuple[str, str, str, str], list[CaseParams]] = {}
        for params in selected:
            self.groups.setdefault(group_key(params), []).append(params)
        self.min_rounds, self.max_time, self.threads = min_rounds, max_time, threads
        self.results: dict[CaseParams, Timed | BaseException] = {}

    def result(self, params: CaseParams) -> Timed | BaseException:
        if params not in self.results:
            members = self.groups.get(group_key(params), [])
            self._time_group(members if params in members else [params])
        return self.results[params]

    def _time_group(self, members: list[CaseParams]) -> None:
        ready: dict[CaseParams, tuple[Prepared, dict[str, float]]] = {}
        for params in members:
            try:
                ready[params] = prepare(params)
            except (Unavailable, Exception) as exc:
                self.results[params] = exc
        plant = os.environ.get(PLANT_ENV, "")
        fns = {p: (planted_slowdown(prep.run) if p.case == plant else prep.run) for p, (prep, _) in ready.items()}
        if not fns:
            return
        seed = int.from_bytes(hashlib.sha256("/".join(group_key(members[0])).encode()).digest()[:4], "little")
        # the group's time budget grows with its members so each gets about max_time of rounds
        samples = interleaved(fns, min_rounds=self.min_rounds, max_time=self.max_time * len(fns), seed=seed)
        for params, (prepared, ratios) in ready.items():
            extra = extra_info(params, prepared, ratios, self.threads)
            summary = summarize(samples[params], seed=seed)
            extra["ci_low_s"], extra["ci_high_s"] = summary["ci_low_s"], summary["ci_high_s"]
            extra["timing"] = "interleaved"
            extra["planted"] = "slowdown 1.2" if params.case == plant else None
            self.results[params] = Timed(prepared, samples[params], extra)

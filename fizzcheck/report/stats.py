"""Statistics for benchmark runs: the Mann–Whitney U test from :mod:`scipy.stats`, and seeded
bootstrap confidence intervals (numpy only) that :func:`fizzcheck.report.compare.compare_results`
decides with.

:func:`mann_whitney_u` fixes the options (normal approximation with tie and continuity
correction, the same method at every sample size) and says "no evidence" (p = 1) where scipy has
no answer: an empty sample, or samples whose values all tie.

:func:`ratio_ci` is the percentile bootstrap of ``location(B) / location(A)``, resampling the
rounds of each side independently, with a fixed seed so a comparison is reproducible.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

__all__ = [
    "COMPARE_QUANTILE",
    "MIN_PASSES",
    "RESAMPLES",
    "location",
    "mann_whitney_u",
    "pass_level",
    "pass_locations",
    "ratio_ci",
]

COMPARE_QUANTILE = 0.25
"""The location compared: the lower quartile of the per-round times. A competing process
preempts some rounds and makes them slower, never faster, so the fast rounds are the ones that
measured the code; on a busy 2-core machine up to half the rounds were hit (bench runs of
this project), which leaves the median at the mercy of the load while the lower quartile stays
put. On an idle machine it is within the spread of the median."""
RESAMPLES = 2000


def location(samples: np.ndarray) -> float:
    """The compared location of one side's rounds (:data:`COMPARE_QUANTILE`)."""
    return float(np.quantile(np.asarray(samples, dtype=float), COMPARE_QUANTILE))


def pass_locations(samples: np.ndarray, passes: Sequence[int]) -> np.ndarray:
    """:func:`location` of each pass's rounds (``passes``: rounds per pass, in order)."""
    bounds = np.cumsum([0, *passes])
    return np.array([location(samples[lo:hi]) for lo, hi in itertools.pairwise(bounds) if hi > lo])


MIN_PASSES = 5
"""Fewest passes a side needs for the pass-level interval (the median of fewer is no estimate of
its spread); with fewer the rounds are resampled."""


def pass_level(samples: Sequence[float] | np.ndarray, passes: Sequence[int] | None) -> bool:
    """Whether ``passes`` (rounds per pass) describe ``samples`` and are enough for the pass-level interval."""
    return passes is not None and len(passes) >= MIN_PASSES and sum(passes) == len(samples)


def _per_pass(yardstick: Sequence[float] | None, locations: np.ndarray) -> bool:
    """Whether ``yardstick`` holds one positive finite time per pass."""
    if yardstick is None or len(yardstick) != len(locations):
        return False
    values = np.asarray(yardstick, dtype=float)
    return bool(np.all(np.isfinite(values) & (values > 0)))


def ratio_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    seed: int = 0,
    passes_a: Sequence[int] | None = None,
    passes_b: Sequence[int] | None = None,
    yardstick_a: Sequence[float] | None = None,
    yardstick_b: Sequence[float] | None = None,
) -> tuple[float, float, float]:
    """``(ratio, low, high)``: ``location(b) / location(a)`` and its percentile-bootstrap
    confidence interval at ``level``. NaNs when a side is empty.

    With ``passes_a`` and ``passes_b`` (rounds per pass, :data:`fizzcheck.bench.groups.PASSES`)
    the unit of resampling is the pass, not the round: each side's location is the median of its
    passes' locations, and the bootstrap resamples passes. Rounds of one pass share that moment's
    load, so they are not independent; passes spread over the sweep are, and their spread is what a
    second run of the same code would show.

    With ``yardstick_a`` and ``yardstick_b`` too (per pass, the time of a fixed workload timed in the
    same rounds: :func:`fizzcheck.bench.groups.yardstick`) each pass's location is divided by its
    yardstick first: the case's cost in units of the machine's speed at that moment."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if pass_level(a, passes_a) and pass_level(b, passes_b):
        assert passes_a is not None
        assert passes_b is not None
        la, lb = pass_locations(a, passes_a), pass_locations(b, passes_b)
        if _per_pass(yardstick_a, la) and _per_pass(yardstick_b, lb):
            la, lb = la / np.asarray(yardstick_a, dtype=float), lb / np.asarray(yardstick_b, dtype=float)
        ma = np.median(rng.choice(la, size=(RESAMPLES, len(la))), axis=1)
        mb = np.median(rng.choice(lb, size=(RESAMPLES, len(lb))), axis=1)
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(mb / ma, [tail, 1.0 - tail])
        return float(np.median(lb) / np.median(la)), float(low), float(high)
    qa = np.quantile(rng.choice(a, size=(RESAMPLES, len(a))), COMPARE_QUANTILE, axis=1)
    qb = np.quantile(rng.choice(b, size=(RESAMPLES, len(b))), COMPARE_QUANTILE, axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(qb / qa, [tail, 1.0 - tail])
    return location(b) / location(a), float(low), float(high)


def mann_whitney_u(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test: ``(U of x, p-value)``.

    ``scipy.stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=True)``; p = 1 when
    the samples cannot be told apart at all (all values equal, or an empty sample, whose U is NaN).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0 or len(y) == 0:
        return float("nan"), 1.0
    if np.all(x == x[0]) and np.all(y == x[0]):  # no ranks to compare: scipy's variance is 0 and its p NaN
        return len(x) * len(y) / 2.0, 1.0
    from scipy import stats  # imported on first use: it takes a second, and only comparisons need it

    result = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    return float(result.statistic), min(1.0, float(result.pvalue))

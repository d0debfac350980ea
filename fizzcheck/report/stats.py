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

from collections.abc import Sequence

import numpy as np

__all__ = ["COMPARE_QUANTILE", "RESAMPLES", "location", "mann_whitney_u", "ratio_ci"]

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


def ratio_ci(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(ratio, low, high)``: ``location(b) / location(a)`` and its percentile-bootstrap
    confidence interval at ``level``. NaNs when a side is empty."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
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

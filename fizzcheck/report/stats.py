"""Statistics for comparing benchmark runs: the two-sided Mann–Whitney U test from :mod:`scipy.stats`.

:func:`mann_whitney_u` fixes the options :func:`fizzcheck.report.compare.compare_results`
relies on (normal approximation with tie and continuity correction, the same method at every
sample size) and says "no evidence" (p = 1) where scipy has no answer: an empty sample, or
samples whose values all tie.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mann_whitney_u"]


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

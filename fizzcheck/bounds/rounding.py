"""The rounding model every error bound is built from, defined once.

A property compares a target's result ``t`` (computed in dtype ``d``) with the numpy
float64 reference ``r`` computed from *the same* inputs (already rounded to ``d``). By the
triangle inequality ``|t - r| <= |t - exact| + |exact - r|``, so every allowance is

    bound = (forward-error bound of the target's algorithm in d)
          + (forward-error bound of the reference's algorithm in float64)

Each term is written for one :class:`Side` (its unit roundoff, how its sums are bounded,
its underflow floor); :func:`sides` gives both and :func:`target_plus_reference` adds them.

Both terms come from standard rounding-error analysis (Higham, *Accuracy and Stability of
Numerical Algorithms*, 2nd ed.): with unit roundoff ``u`` (2**-24 for float32),
``fl(a op b) = (a op b)(1 + d)``, ``|d| <= u``.

* Sums and dot products of ``k`` terms, in any order: ``|error| <= g_k * sum|terms|``
  with ``g_k = k u / (1 - k u)`` (:func:`gamma`, Higham §3.1). For the *target* we take the
  smaller of ``g_k`` and the probabilistic ``g~_k(lam) = exp(lam sqrt(k) u + k u^2/(1-u)) - 1``
  (:func:`gamma_probabilistic`; Higham & Mary 2019, Theorem 2.4: holds with probability at
  least ``1 - 2k exp(-lam^2 (1-u)^2 / 2)`` when rounding errors behave as independent
  zero-mean variables; with ``lam = 10`` that failure probability is below 1e-19 for every
  size we draw). It only differs from ``g_k`` when ``k > lam^2 = 100`` and is what lets the
  bound catch TF32-rounded inputs for reductions in the hundreds. The *reference* side is
  our own left-to-right summation, so it uses the worst case ``g_k``.
* Transcendental functions (exp, log): torch calls SLEEF ``u10`` routines on CPU (at most
  1 ulp) and CUDA's libdevice (at most 2 ulp), so each call is allowed
  ``TRANSCENDENTAL_ULPS = 2`` ulp = ``2 * TRANSCENDENTAL_ULPS * u`` relative error.
  exp(z) has condition number ``|z|``: an absolute error ``u|z|`` in its argument becomes a
  relative error ``u|z|`` in its value.
* Results below the normal range may be flushed to zero (FTZ), so every bound carries an
  absolute floor of ``UNDERFLOW_FLOOR_NORMALS`` × the dtype's smallest normal number. The
  strategies keep inputs well inside the normal range, so this term is tiny.

Besides the model, this module holds the few helpers the subjects' bounds share:
:func:`compound` (first-order to rigorous), the per-op factors :func:`elementwise_factor`
and :func:`underflow_floor`, and :func:`sigmoid_slope_max` (how far an input error moves a
sigmoid).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fizzcheck.dtypes import dtype_info
from fizzcheck.reference import ops as ref

__all__ = [
    "LAMBDA",
    "REFERENCE_DTYPE",
    "TRANSCENDENTAL_ULPS",
    "UNDERFLOW_FLOOR_NORMALS",
    "Side",
    "accumulation_factor",
    "compound",
    "elementwise_factor",
    "gamma",
    "gamma_probabilistic",
    "sides",
    "sigmoid_slope_max",
    "target_plus_reference",
    "underflow_floor",
]

LAMBDA = 10.0
"""Confidence parameter of the probabilistic accumulation bound (see module docstring)."""

TRANSCENDENTAL_ULPS = 2.0
"""Allowed error of one exp/log call in the target, in ulps (1 ulp = 2u at 1.0)."""

UNDERFLOW_FLOOR_NORMALS = 2.0
"""Absolute allowance, in units of the dtype's smallest normal, for flushed-to-zero results."""

REFERENCE_DTYPE = "float64"
"""The dtype the numpy reference computes in."""

Array = np.ndarray


# --- accumulation factors -------------------------------------------------------------


def gamma(k: Any, u: float) -> Any:
    """Deterministic ``g_k = k u / (1 - k u)``; infinite once ``k u >= 1``. ``k`` may be an array."""
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(k * u < 1.0, k * u / (1.0 - k * u), np.inf)
    return out if out.ndim else float(out)


def gamma_probabilistic(k: Any, u: float, lam: float = LAMBDA) -> Any:
    """Higham–Mary ``g~_k(lam) = exp(lam sqrt(k) u + k u^2 / (1 - u)) - 1``."""
    k = np.asarray(k, dtype=np.float64)
    out = np.expm1(lam * np.sqrt(k) * u + k * u * u / (1.0 - u))
    return out if out.ndim else float(out)


def accumulation_factor(k: Any, u: float) -> Any:
    """Allowance for a ``k``-term sum or dot product in the target: min(g_k, g~_k)."""
    return np.minimum(gamma(k, u), gamma_probabilistic(k, u))


def compound(relative: Any) -> Any:
    """Turn a first-order sum of relative errors s into a rigorous bound.

    prod(1 + e_i) - 1 with sum|e_i| = s is at most exp(s) - 1 <= s / (1 - s) (Higham Lemma 3.1).
    s / (1 - s) is used while s < 1/2 (as it always was); beyond, where it grows without bound and
    turns negative past s = 1 (bfloat16, u = 2**-8, with |x| in the hundreds), exp(s) - 1 itself.
    """
    relative = np.asarray(relative, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        out = np.where(relative < 0.5, relative / (1.0 - relative), np.expm1(relative))
    return out if out.ndim else float(out)


# --- the two sides of a comparison ----------------------------------------------------


@dataclass(frozen=True)
class Side:
    """How one side of a comparison rounds: unit roundoff, sum factor and underflow floor."""

    u: float
    accumulation: Callable[[Any, float], Any]
    floor: float

    def acc(self, k: Any) -> Any:
        """Allowance for a sum or dot product of ``k`` terms (``k`` may be an array)."""
        return self.accumulation(k, self.u)

    @property
    def transcendental(self) -> float:
        """Relative error of one exp, log or tanh call."""
        return 2.0 * TRANSCENDENTAL_ULPS * self.u

    @property
    def sigmoid_relative(self) -> float:
        """Relative error of one sigmoid: 1/(1 + e^-x) or e^x/(1 + e^x) uses exp's error once or
        twice, then one add and one divide."""
        return compound(2.0 * self.transcendental + 2.0 * self.u)


def sides(dtype: str) -> tuple[Side, Side]:
    """(the target's side in ``dtype``, the float64 reference's side)."""
    info, reference = dtype_info(dtype), dtype_info(REFERENCE_DTYPE)
    return (
        Side(info.unit_roundoff, accumulation_factor, UNDERFLOW_FLOOR_NORMALS * info.smallest_normal),
        Side(reference.unit_roundoff, gamma, UNDERFLOW_FLOOR_NORMALS * reference.smallest_normal),
    )


def target_plus_reference(dtype: str, side_bound: Callable[[Side], Any]) -> Any:
    """The target's bound in ``dtype`` plus the float64 reference's own bound.

    ``side_bound`` computes one side's bound: an array, or a tuple of arrays (``None`` where
    an operand has no gradient), which are added position by position.
    """
    target, reference = sides(dtype)
    first, second = side_bound(target), side_bound(reference)
    if isinstance(first, tuple):
        return tuple(None if a is None else a + b for a, b in zip(first, second, strict=True))
    return first + second


# --- helpers shared by the subjects ---------------------------------------------------


def elementwise_factor(k: int, dtype: str) -> float:
    """Relative error of ``k`` chained roundings on the target (dtype) plus the float64 reference."""
    return float(gamma(k, dtype_info(dtype).unit_roundoff) + gamma(k, dtype_info(REFERENCE_DTYPE).unit_roundoff))


def underflow_floor(dtype: str) -> float:
    """Absolute allowance of one operation for results flushed to zero (target + reference)."""
    return UNDERFLOW_FLOOR_NORMALS * (dtype_info(dtype).smallest_normal + dtype_info(REFERENCE_DTYPE).smallest_normal)


def sigmoid_slope_max(x: Array, delta: Array) -> Array:
    """max σ'(ξ) over ξ ∈ [x − Δ, x + Δ]: σ' = σ(ξ)σ(−ξ) peaks where |ξ| is smallest."""
    nearest = np.maximum(np.abs(x) - delta, 0.0)
    return ref.sigmoid(nearest) * ref.sigmoid(-nearest)

"""Error bounds and the comparison that reports observed error / bound.

A property compares a target's result ``t`` (computed in dtype ``d``) with the numpy
float64 reference ``r`` computed from *the same* inputs (already rounded to ``d``). By the
triangle inequality ``|t - r| <= |t - exact| + |exact - r|``, so every allowance here is

    bound = (forward-error bound of the target's algorithm in d)
          + (forward-error bound of the reference's algorithm in float64)

Both terms come from standard rounding-error analysis (Higham, *Accuracy and Stability of
Numerical Algorithms*, 2nd ed.): with unit roundoff ``u`` (2**-24 for float32),
``fl(a op b) = (a op b)(1 + d)``, ``|d| <= u``.

* Sums and dot products of ``k`` terms, in any order: ``|error| <= g_k * sum|terms|``
  with ``g_k = k u / (1 - k u)`` (Higham §3.1). For the *target* we take the smaller of
  ``g_k`` and the probabilistic ``g~_k(lam) = exp(lam sqrt(k) u + k u^2/(1-u)) - 1``
  (Higham & Mary 2019, Theorem 2.4: holds with probability at least
  ``1 - 2k exp(-lam^2 (1-u)^2 / 2)`` when rounding errors behave as independent zero-mean
  variables; with ``lam = 10`` that failure probability is below 1e-19 for every size we
  draw). It only differs from ``g_k`` when ``k > lam^2 = 100`` and is what lets the
  bound catch TF32-rounded inputs for reductions in the hundreds. The *reference* side is
  our own left-to-right summation, so it uses the worst case ``g_k``.
* Transcendental functions (exp, log): torch calls SLEEF ``u10`` routines on CPU (at most
  1 ulp) and CUDA's libdevice (at most 2 ulp), so each call is allowed
  ``TRANSCENDENTAL_ULPS = 2`` ulp = ``2 * TRANSCENDENTAL_ULPS * u`` relative error.
  exp(z) has condition number ``|z|``: an absolute error ``u|z|`` in its argument becomes a
  relative error ``u|z|`` in its value, which is why ``|x - max|`` shows up in the softmax
  bounds.
* Results below the normal range may be flushed to zero (FTZ), so every bound carries an
  absolute floor of ``UNDERFLOW_FLOOR_NORMALS`` × the dtype's smallest normal number. The
  strategies keep inputs well inside the normal range, so this term is tiny.

Gradients are bounded the same way, following how torch computes them: e.g. sigmoid's
backward uses torch's *rounded* forward output, so ``1 - y`` inherits y's error, which is
large relative to ``1 - y`` when the sigmoid saturates; the bound says so.

Each comparison returns a :class:`Comparison` whose ``ratio`` is max(|t - r| / bound); a
property fails when it exceeds 1. NaN and ±Inf positions must match exactly, shapes and
dtypes must be equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from fizzcheck.dtypes import dtype_info
from fizzcheck.errors import BoundExceeded, FizzcheckError
from fizzcheck.reference import ops as ref

__all__ = [
    "LAMBDA",
    "REFERENCE_DTYPE",
    "TRANSCENDENTAL_ULPS",
    "UNDERFLOW_FLOOR_NORMALS",
    "Comparison",
    "accumulation_factor",
    "assert_close",
    "compare",
    "cross_entropy_bound",
    "cross_entropy_vjp_bound",
    "gamma",
    "gamma_probabilistic",
    "linear_bound",
    "linear_vjp_bound",
    "log_softmax_bound",
    "log_softmax_vjp_bound",
    "matmul_bound",
    "matmul_vjp_bound",
    "mse_bound",
    "mse_vjp_bound",
    "observe",
    "sigmoid_bound",
    "sigmoid_vjp_bound",
    "softmax_bound",
    "softmax_vjp_bound",
]

LAMBDA = 10.0
"""Confidence parameter of the probabilistic accumulation bound (see module docstring)."""

TRANSCENDENTAL_ULPS = 2.0
"""Allowed error of one exp/log call in the target, in ulps (1 ulp = 2u at 1.0)."""

UNDERFLOW_FLOOR_NORMALS = 2.0
"""Absolute allowance, in units of the dtype's smallest normal, for flushed-to-zero results."""

REFERENCE_DTYPE = "float64"

Array = np.ndarray
Accumulation = Callable[[Any, float], Any]


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


@dataclass(frozen=True)
class _Precision:
    """One side of the comparison: its unit roundoff and how its sums are bounded."""

    u: float
    acc: Accumulation
    floor: float

    @property
    def transcendental(self) -> float:
        return 2.0 * TRANSCENDENTAL_ULPS * self.u


def _sides(dtype: str) -> tuple[_Precision, _Precision]:
    info, ref_info = dtype_info(dtype), dtype_info(REFERENCE_DTYPE)
    target = _Precision(info.unit_roundoff, accumulation_factor, UNDERFLOW_FLOOR_NORMALS * info.smallest_normal)
    reference = _Precision(ref_info.unit_roundoff, gamma, UNDERFLOW_FLOOR_NORMALS * ref_info.smallest_normal)
    return target, reference


def _both(dtype: str, side_bound: Callable[[_Precision], Any]) -> Any:
    """Target bound in ``dtype`` plus the float64 reference's own bound."""
    target, reference = _sides(dtype)
    first, second = side_bound(target), side_bound(reference)
    if isinstance(first, tuple):
        return tuple(None if a is None else a + b for a, b in zip(first, second, strict=True))
    return first + second


def _compound(relative: Any) -> Any:
    """Turn a first-order sum of relative errors s into a rigorous bound.

    prod(1 + e_i) - 1 with sum|e_i| = s is at most exp(s) - 1 <= s / (1 - s) (Higham Lemma 3.1).
    """
    return relative / (1.0 - relative)


def _abs(x: Any) -> Any:
    return None if x is None else np.abs(np.asarray(x, dtype=np.float64))


def _ones(x: Any) -> Any:
    return None if x is None else np.ones(np.shape(x))


# --- matmul / linear ------------------------------------------------------------------
# A dot-product bound needs, per output element, the number of terms k and sum|terms|.
# Both come from the reference itself: the same op on |inputs| gives sum|terms|, and on
# arrays of ones gives k. So broadcasting and 1-D promotion never need special cases.


def matmul_bound(a: Array, b: Array, *, dtype: str) -> Array:
    k = ref.matmul(_ones(a), _ones(b))
    abs_terms = ref.matmul(_abs(a), _abs(b))
    return _both(dtype, lambda p: p.acc(k, p.u) * abs_terms + p.floor)


def matmul_vjp_bound(a: Array, b: Array, g: Array, *, dtype: str) -> tuple[Array, Array]:
    ka, kb = ref.matmul_vjp(_ones(a), _ones(b), _ones(g))
    abs_a, abs_b = ref.matmul_vjp(_abs(a), _abs(b), _abs(g))
    return _both(dtype, lambda p: (p.acc(ka, p.u) * abs_a + p.floor, p.acc(kb, p.u) * abs_b + p.floor))


def linear_bound(x: Array, w: Array, b: Array | None = None, *, dtype: str) -> Array:
    # x Wᵀ + b is one dot product of in_features + 1 terms (addmm rounds the bias in too).
    k = ref.linear(_ones(x), _ones(w), _ones(b))
    abs_terms = ref.linear(_abs(x), _abs(w), _abs(b))
    return _both(dtype, lambda p: p.acc(k, p.u) * abs_terms + p.floor)


def linear_vjp_bound(x: Array, w: Array, b: Array | None, g: Array, *, dtype: str) -> tuple[Array, Array, Array | None]:
    counts = ref.linear_vjp(_ones(x), _ones(w), _ones(b), _ones(g))
    abs_terms = ref.linear_vjp(_abs(x), _abs(w), _abs(b), _abs(g))

    def side(p: _Precision) -> tuple[Array | None, ...]:
        return tuple(None if t is None else p.acc(k, p.u) * t + p.floor for k, t in zip(counts, abs_terms, strict=True))

    return _both(dtype, side)


# --- sigmoid --------------------------------------------------------------------------


def _sigmoid_relative(p: _Precision) -> float:
    # 1/(1 + e^-x) or e^x/(1 + e^x): one or two uses of exp's error, one add, one divide.
    return _compound(2.0 * p.transcendental + 2.0 * p.u)


def sigmoid_bound(x: Array, *, dtype: str) -> Array:
    y = ref.sigmoid(x)
    return _both(dtype, lambda p: _sigmoid_relative(p) * np.abs(y) + p.floor)


def sigmoid_vjp_bound(x: Array, g: Array, *, dtype: str) -> tuple[Array]:
    # Target: g * (1 - ŷ) * ŷ from its rounded output ŷ = y(1 + r), |r| <= rho. Expanding,
    # |error| <= |g| y (rho (y + (1 - y)) + 3u (1 - y)) <= |g| y (rho + 3u).
    y, ag = ref.sigmoid(x), np.abs(np.asarray(g, dtype=np.float64))

    def side(p: _Precision) -> tuple[Array]:
        return (ag * y * _compound(_sigmoid_relative(p) + 3.0 * p.u) + p.floor * (1.0 + ag),)

    return _both(dtype, side)


# --- softmax / log_softmax ------------------------------------------------------------


def _softmax_parts(x: Array, dim: int) -> tuple[Array, Array, Array, int]:
    """Reference pieces the softmax bounds share: s = softmax, z = x - max, L = log sum exp z."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        s = ref.softmax(x, dim)
        m = np.max(x, axis=dim, keepdims=True) if x.ndim else x
        z = x - m
        big_l = np.log(np.sum(np.exp(z), axis=dim, keepdims=True)) if x.ndim else np.zeros_like(x)
    n = x.shape[dim] if x.ndim else 1
    return s, z, (m, big_l), n  # type: ignore[return-value]


def _weighted(s: Array, v: Array, dim: int) -> Array:
    """sum_j s_j v_j along dim, with 0 * inf taken as 0 (an entry exp(-inf) = 0 adds no error)."""
    with np.errstate(invalid="ignore"):
        prod = np.where(s > 0, s * v, 0.0)
    return np.sum(prod, axis=dim, keepdims=True) if s.ndim else prod


def _sum_relative_error(s: Array, z: Array, n: int, dim: int, p: _Precision) -> Array:
    # S = sum_j exp(z_j): term j has relative error u|z_j| (argument) + transcendental; the
    # n-term positive sum adds acc(n). Relative error of S, weighted by the terms s_j.
    return p.u * _weighted(s, np.abs(z), dim) + p.transcendental + p.acc(n, p.u)


def _softmax_relative(x: Array, dim: int, p: _Precision) -> tuple[Array, Array]:
    s, z, _, n = _softmax_parts(x, dim)
    # y_i = exp(z_i) / S: error of exp(z_i), of S, and of the division (or of 1/S and the product).
    with np.errstate(invalid="ignore"):
        rel = _compound(p.u * np.abs(z) + p.transcendental + _sum_relative_error(s, z, n, dim, p) + 2.0 * p.u)
    return s, rel


def softmax_bound(x: Array, dim: int = -1, *, dtype: str) -> Array:
    def side(p: _Precision) -> Array:
        s, rel = _softmax_relative(x, dim, p)
        with np.errstate(invalid="ignore"):
            return np.where(s > 0, rel * s, 0.0) + p.floor

    return _both(dtype, side)


def softmax_vjp_bound(x: Array, g: Array, dim: int = -1, *, dtype: str) -> tuple[Array]:
    # Target: y ⊙ (g - d), d = sum_j g_j y_j, from its rounded ŷ (relative error rho_j).
    # err(d) <= sum_j |g_j| y_j (rho_j + acc(n)); the subtraction and product (or the
    # variant y g - y d) add at most (rho_i + 3u)(|g_i| + |d|) relative to y_i.
    g = np.asarray(g, dtype=np.float64)

    def side(p: _Precision) -> tuple[Array]:
        s, rho = _softmax_relative(x, dim, p)
        n = s.shape[dim] if s.ndim else 1
        d = _weighted(s, g, dim)
        err_d = _weighted(s, np.abs(g) * (rho + p.acc(n, p.u)), dim)
        with np.errstate(invalid="ignore"):
            out = np.where(s > 0, s * ((rho + 3.0 * p.u) * (np.abs(g) + np.abs(d)) + err_d), 0.0)
        return (out + p.floor * (1.0 + np.abs(g)),)

    return _both(dtype, side)


def _log_softmax_side(x: Array, dim: int, p: _Precision) -> Array:
    # CPU: (x_i - m) - L; CUDA: x_i - (m + L). Both are covered by rounding |z_i|, |m + L|,
    # |out_i|, the log call on S (transcendental |L| plus S's relative error, as
    # d log S = dS / S) and one more rounding of L.
    s, z, (m, big_l), n = _softmax_parts(x, dim)
    with np.errstate(invalid="ignore"):
        out = z - big_l
        rho_sum = _sum_relative_error(s, z, n, dim, p)
        bound = (
            p.u * (np.abs(z) + np.abs(m + big_l) + np.abs(out) + np.abs(big_l))
            + p.transcendental * np.abs(big_l)
            + rho_sum
        )
    return bound + p.floor


def log_softmax_bound(x: Array, dim: int = -1, *, dtype: str) -> Array:
    return _both(dtype, lambda p: _log_softmax_side(x, dim, p))


def _log_softmax_vjp_side(x: Array, g: Array, dim: int, p: _Precision) -> Array:
    # Target: g - exp(out) * sum(g). exp of its rounded out has relative error
    # beta_i + transcendental, the sum acc(n) sum|g|, then one product and one subtraction.
    s, _, _, n = _softmax_parts(x, dim)
    g = np.asarray(g, dtype=np.float64)
    beta = _log_softmax_side(x, dim, p)
    sum_g = np.sum(g, axis=dim, keepdims=True) if g.ndim else g
    sum_abs_g = np.sum(np.abs(g), axis=dim, keepdims=True) if g.ndim else np.abs(g)
    grad = g - s * sum_g
    with np.errstate(invalid="ignore"):
        bound = np.where(
            s > 0,
            s * (np.abs(sum_g) * (beta + p.transcendental + p.u) + p.acc(n, p.u) * sum_abs_g),
            0.0,
        )
    return bound + p.u * (np.abs(grad) + np.abs(g)) + p.floor * (1.0 + np.abs(g))


def log_softmax_vjp_bound(x: Array, g: Array, dim: int = -1, *, dtype: str) -> tuple[Array]:
    return _both(dtype, lambda p: (_log_softmax_vjp_side(x, g, dim, p),))


# --- losses ---------------------------------------------------------------------------


def _reduction_bound(per_item: Array, per_item_bound: Array, reduction: str, p: _Precision) -> Array:
    # sum: the items' own errors plus acc(N) for the N-term sum; mean: one more division.
    if reduction == "none":
        return per_item_bound
    n = per_item.size
    total = np.sum(per_item_bound) + p.acc(n, p.u) * np.sum(np.abs(per_item))
    if reduction == "sum":
        return total + p.floor
    if not n:  # the mean of nothing is NaN, compared by position; no bound is needed
        return np.zeros(())
    return np.asarray(total / n + p.u * abs(np.sum(per_item) / n) + p.floor)


def cross_entropy_bound(logits: Array, target: Array, reduction: str = "mean", *, dtype: str) -> Array:
    # torch: nll_loss(log_softmax(logits)) picks -log_softmax[target] per sample.
    target = np.asarray(target)
    per_sample = ref.cross_entropy(logits, target, reduction="none")

    def side(p: _Precision) -> Array:
        beta = _log_softmax_side(logits, -1, p)
        picked = np.take_along_axis(beta, target[..., None], axis=-1)[..., 0]
        return _reduction_bound(per_sample, picked, reduction, p)

    return _both(dtype, side)


def cross_entropy_vjp_bound(
    logits: Array, target: Array, g: Array, reduction: str = "mean", *, dtype: str
) -> tuple[Array]:
    # nll_loss backward writes G[n, t_n] = -g_n (/N for mean, one rounding), then
    # log_softmax's backward runs with cotangent G.
    logits = np.asarray(logits, dtype=np.float64)
    target = np.asarray(target)
    big_g = np.zeros_like(logits)
    np.put_along_axis(big_g, target[..., None], -ref.unreduce(g, target.shape, reduction)[..., None], axis=-1)
    s = ref.softmax(logits, -1)

    def side(p: _Precision) -> tuple[Array]:
        scaling = p.u * (np.abs(big_g) + s * np.abs(np.sum(big_g, axis=-1, keepdims=True)))
        return (_log_softmax_vjp_side(logits, big_g, -1, p) + scaling,)

    return _both(dtype, side)


def mse_bound(x: Array, target: Array, reduction: str = "mean", *, dtype: str) -> Array:
    # (x - t)^2: the subtraction and the square give relative error 3u per element.
    sq = ref.mse(x, target, reduction="none")
    return _both(dtype, lambda p: _reduction_bound(sq, gamma(3, p.u) * sq + p.floor, reduction, p))


def mse_vjp_bound(x: Array, target: Array, g: Array, reduction: str = "mean", *, dtype: str) -> tuple[Array, Array]:
    # Target: (x - t) * (2/N) * g: a subtraction, the rounded scale 2/N and two products are
    # 5u relative per element; broadcast operands then sum their gradient (acc(count)).
    x, target = np.asarray(x, dtype=np.float64), np.asarray(target, dtype=np.float64)
    d = x - target
    elementwise = np.abs(2.0 * d * ref.unreduce(g, d.shape, reduction))
    count_x = ref.sum_to_shape(np.ones(d.shape), x.shape)
    count_t = ref.sum_to_shape(np.ones(d.shape), target.shape)

    def side(p: _Precision) -> tuple[Array, Array]:
        per = gamma(5, p.u) * elementwise + p.floor
        bx = ref.sum_to_shape(per, x.shape) + p.acc(count_x, p.u) * ref.sum_to_shape(elementwise, x.shape)
        bt = ref.sum_to_shape(per, target.shape) + p.acc(count_t, p.u) * ref.sum_to_shape(elementwise, target.shape)
        return bx, bt

    return _both(dtype, side)


# --- comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing one result with its reference under a bound."""

    op: str
    ratio: float
    """max |actual - expected| / bound over finite positions (0 if equal, inf if bound is 0)."""
    index: tuple[int, ...] | None
    actual: float
    expected: float
    bound: float

    @property
    def ok(self) -> bool:
        return self.ratio <= 1.0


_observers: list[Callable[[Comparison], None]] = []


@contextmanager
def observe(callback: Callable[[Comparison], None]) -> Iterator[None]:
    """Call ``callback`` with every :class:`Comparison` made inside the ``with`` block.

    The pytest plugin uses this to record the largest error / bound ratio per property.
    """
    _observers.append(callback)
    try:
        yield
    finally:
        _observers.remove(callback)


def _as_array(value: Any) -> tuple[Array, str | None]:
    """numpy array plus dtype name; torch tensors are accepted by duck typing (no import)."""
    if hasattr(value, "detach") and hasattr(value, "dtype"):
        name = str(value.dtype).removeprefix("torch.")
        return value.detach().cpu().double().numpy(), name
    arr = np.asarray(value)
    return arr.astype(np.float64), (arr.dtype.name if arr.dtype.kind == "f" else None)


def _fmt(value: float) -> str:
    return repr(float(value))


def compare(actual: Any, expected: Any, *, bound: Any, op: str) -> Comparison:
    """Compare without raising (shape or non-finite mismatches are ``ratio = inf``)."""
    got, _ = _as_array(actual)
    want = np.asarray(expected, dtype=np.float64)
    allowed = np.broadcast_to(np.asarray(bound, dtype=np.float64), want.shape)
    if got.shape != want.shape:
        return Comparison(op, math.inf, None, math.nan, math.nan, math.nan)
    for check in (np.isnan, np.isposinf, np.isneginf):
        mismatch = check(got) != check(want)
        if mismatch.any():
            idx = tuple(int(i) for i in np.argwhere(mismatch)[0])
            return Comparison(op, math.inf, idx, float(got[idx]), float(want[idx]), float(allowed[idx]))
    finite = np.isfinite(want)
    if np.any(finite & ~(allowed >= 0)):
        raise FizzcheckError(f"bound for {op} is negative or NaN at a finite position: a fizzcheck bug")
    if not finite.any():
        return Comparison(op, 0.0, None, math.nan, math.nan, math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(finite, np.abs(got - want), 0.0)
        ratios = np.where(err == 0, 0.0, err / np.where(finite, allowed, 1.0))
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratios)), ratios.shape))
    return Comparison(op, float(ratios[idx]), idx, float(got[idx]), float(want[idx]), float(allowed[idx]))


def assert_close(actual: Any, expected: Any, *, bound: Any, op: str, dtype: str | None = None) -> Comparison:
    """Assert ``actual`` equals ``expected`` within ``bound`` element-wise; return the comparison.

    ``actual`` is a numpy array or a torch tensor; ``dtype`` (if given) must be its dtype.
    Raises :class:`BoundExceeded` with ``out[i]=<got>, but should be <expected> within bound
    <b> (error/bound=<r>) [op]``.
    """
    __tracebackhide__ = True
    got, got_dtype = _as_array(actual)
    want = np.asarray(expected)
    if got.shape != want.shape:
        raise BoundExceeded(f"out.shape={got.shape}, but should be {want.shape} [{op}]")
    if dtype is not None and got_dtype != dtype:
        raise BoundExceeded(f"out.dtype={got_dtype}, but should be {dtype} [{op}]")
    result = compare(got, want, bound=bound, op=op)
    for callback in list(_observers):
        callback(result)
    if not result.ok:
        where = "" if result.index is None else f"[{', '.join(map(str, result.index))}]"
        raise BoundExceeded(
            f"out{where}={_fmt(result.actual)}, but should be {_fmt(result.expected)} within bound "
            f"{result.bound:.3g} (error/bound={result.ratio:.3g}) [{op}]"
        )
    return result

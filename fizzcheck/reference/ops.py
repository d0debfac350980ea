"""Reference ops: forward and vector-Jacobian product (VJP) side by side.

Each op ``f`` has ``f(*inputs, **kw)`` and ``f_vjp(*inputs, g, **kw)``; the VJP takes the
same inputs plus a cotangent ``g`` shaped like ``f``'s output and returns one gradient per
differentiable input. Everything is numpy float64; shapes and semantics follow torch.
"""

from __future__ import annotations

import numpy as np

from fizzcheck.errors import InvalidArgument

__all__ = [
    "REDUCTIONS",
    "cross_entropy",
    "cross_entropy_vjp",
    "linear",
    "linear_vjp",
    "log_softmax",
    "log_softmax_vjp",
    "matmul",
    "matmul_vjp",
    "mse",
    "mse_vjp",
    "sigmoid",
    "sigmoid_vjp",
    "softmax",
    "softmax_vjp",
    "sum_to_shape",
    "unreduce",
]

REDUCTIONS = ("none", "mean", "sum")

Array = np.ndarray


def _f64(x: object) -> Array:
    return np.asarray(x, dtype=np.float64)


def sum_to_shape(g: Array, shape: tuple[int, ...]) -> Array:
    """Undo broadcasting: sum ``g`` over the axes that broadcasting added or stretched."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


# --- matmul ---------------------------------------------------------------------------


def _matmul_2d_batched(a: Array, b: Array) -> Array:
    # a (..., m, k), b (..., k, n) with broadcastable batch dims. The reduction over k is an
    # explicit left-to-right accumulation (recursive summation), vectorised over outputs:
    # c[..., i, j] = ((a_i0 b_0j + a_i1 b_1j) + a_i2 b_2j) + ...
    k = a.shape[-1]
    if b.shape[-2] != k:
        raise InvalidArgument(f"matmul: inner dimensions differ, a.shape={a.shape!r}, b.shape={b.shape!r}")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    c = np.zeros((*batch, a.shape[-2], b.shape[-1]))
    for l in range(k):  # noqa: E741 - l is the reduction index, as in the maths
        c = c + a[..., :, l : l + 1] * b[..., l : l + 1, :]
    return c


def matmul(a: Array, b: Array) -> Array:
    """``torch.matmul`` semantics (1-D promotion, batch broadcasting), manual accumulation."""
    a, b = _f64(a), _f64(b)
    if a.ndim == 0 or b.ndim == 0:
        raise InvalidArgument("matmul: both operands need at least one dimension")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    c = _matmul_2d_batched(a2, b2)
    if a.ndim == 1:
        c = c[..., 0, :]
    if b.ndim == 1:
        c = c[..., 0]
    return c


def matmul_vjp(a: Array, b: Array, g: Array) -> tuple[Array, Array]:
    """Gradients of ``sum(g * matmul(a, b))``: ga = g bᵀ, gb = aᵀ g, reduced over broadcasts."""
    a, b, g = _f64(a), _f64(b), _f64(g)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = g2[..., None, :] if b.ndim > 1 else g2[..., None]
    if b.ndim == 1:
        g2 = g2[..., None]
    ga = _matmul_2d_batched(g2, np.swapaxes(b2, -1, -2))
    gb = _matmul_2d_batched(np.swapaxes(a2, -1, -2), g2)
    ga = sum_to_shape(ga, a2.shape).reshape(a.shape)
    gb = sum_to_shape(gb, b2.shape).reshape(b.shape)
    return ga, gb


# --- linear ---------------------------------------------------------------------------


def linear(x: Array, w: Array, b: Array | None = None) -> Array:
    """``F.linear``: y = x Wᵀ + b with torch's (out_features, in_features) weight layout."""
    y = matmul(x, np.swapaxes(_f64(w), -1, -2))
    return y if b is None else y + _f64(b)


def linear_vjp(x: Array, w: Array, b: Array | None, g: Array) -> tuple[Array, Array, Array | None]:
    x, w, g = _f64(x), _f64(w), _f64(g)
    gx, gwt = matmul_vjp(x, np.swapaxes(w, -1, -2), g)
    gb = None if b is None else sum_to_shape(g, np.shape(b))
    return gx, np.swapaxes(gwt, -1, -2), gb


# --- sigmoid --------------------------------------------------------------------------


def sigmoid(x: Array) -> Array:
    """1 / (1 + e^-x), evaluated so that neither branch overflows or cancels."""
    x = _f64(x)
    with np.errstate(under="ignore"):  # e^-|x| may underflow to 0: that is the correct rounding
        e = np.exp(-np.abs(x))  # in [0, 1]: never overflows
        positive = 1.0 / (1.0 + e)
        return np.where(x >= 0, positive, e / (1.0 + e))  # NaN in, NaN out (via e)


def sigmoid_vjp(x: Array, g: Array) -> tuple[Array]:
    # σ'(x) = σ(x)(1 − σ(x)) = σ(x)σ(−x): the second form keeps relative accuracy where
    # σ(x) rounds to 1 (computing 1 − σ(x) there would cancel to 0).
    x, g = _f64(x), _f64(g)
    return (g * sigmoid(x) * sigmoid(-x),)


# --- softmax / log_softmax ------------------------------------------------------------


def _shifted(x: Array, dim: int) -> Array:
    # x − max(x) along dim: every exponent ≤ 0, so exp never overflows. A row whose max is
    # −inf (all −inf) or +inf yields NaN, as IEEE arithmetic (and torch) does.
    with np.errstate(invalid="ignore"):
        return x - np.max(x, axis=dim, keepdims=True)


def softmax(x: Array, dim: int = -1) -> Array:
    x = _f64(x)
    if x.ndim == 0:
        return np.ones_like(x) if np.isfinite(x) else np.full_like(x, np.nan)
    z = _shifted(x, dim)
    e = np.exp(z)
    with np.errstate(invalid="ignore"):
        return e / np.sum(e, axis=dim, keepdims=True)


def softmax_vjp(x: Array, g: Array, dim: int = -1) -> tuple[Array]:
    # J = diag(s) − s sᵀ, so gᵀJ = s ⊙ (g − ⟨g, s⟩).
    s, g = softmax(x, dim), _f64(g)
    if s.ndim == 0:
        return (np.zeros_like(s),)
    return (s * (g - np.sum(g * s, axis=dim, keepdims=True)),)


def log_softmax(x: Array, dim: int = -1) -> Array:
    x = _f64(x)
    if x.ndim == 0:
        return np.zeros_like(x) if np.isfinite(x) else np.full_like(x, np.nan)
    z = _shifted(x, dim)
    return z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))


def log_softmax_vjp(x: Array, g: Array, dim: int = -1) -> tuple[Array]:
    # ∂ log_softmax_i / ∂x_j = δ_ij − s_j, so gᵀJ = g − s Σ g.
    s, g = softmax(x, dim), _f64(g)
    if s.ndim == 0:
        return (np.zeros_like(s),)
    return (g - s * np.sum(g, axis=dim, keepdims=True),)


# --- losses ---------------------------------------------------------------------------


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise InvalidArgument(f"reduction={reduction!r} is not one of {REDUCTIONS}")


def _reduce(values: Array, reduction: str) -> Array:
    _check_reduction(reduction)
    if reduction == "none":
        return values
    total = np.sum(values)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore"):
        return total / values.size  # mean of an empty tensor is NaN, as in torch


def unreduce(g: Array, shape: tuple[int, ...], reduction: str) -> Array:
    """Cotangent of ``_reduce``: spread the scalar cotangent back over ``shape``."""
    g = _f64(g)
    if reduction == "none":
        return np.broadcast_to(g, shape).astype(np.float64)
    size = int(np.prod(shape))
    scale = 1.0 / size if (reduction == "mean" and size) else 1.0
    return np.full(shape, float(g) * scale)


def _check_class_targets(logits: Array, target: Array) -> tuple[Array, Array]:
    logits = _f64(logits)
    target = np.asarray(target)
    if logits.ndim not in (1, 2):
        raise InvalidArgument(f"cross_entropy: logits must be (C,) or (N, C), got shape {logits.shape!r}")
    if target.shape != logits.shape[:-1] or not np.issubdtype(target.dtype, np.integer):
        raise InvalidArgument(
            f"cross_entropy: target must hold integer class indices of shape {logits.shape[:-1]!r}, "
            f"got shape {target.shape!r} and dtype {target.dtype}"
        )
    classes = logits.shape[-1]
    if target.size and (target.min() < 0 or target.max() >= classes):
        raise InvalidArgument(f"cross_entropy: class indices must lie in [0, {classes}), got {target!r}")
    return logits, target


def cross_entropy(logits: Array, target: Array, reduction: str = "mean") -> Array:
    """``F.cross_entropy`` with class-index targets: −log_softmax(logits)[target], reduced."""
    logits, target = _check_class_targets(logits, target)
    logp = log_softmax(logits, dim=-1)
    picked = -np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
    return _reduce(picked, reduction)


def cross_entropy_vjp(logits: Array, target: Array, g: Array, reduction: str = "mean") -> tuple[Array]:
    # ∂loss_n/∂logits_n = softmax(logits_n) − onehot(target_n); the reduction scales it.
    logits, target = _check_class_targets(logits, target)
    onehot = np.zeros_like(logits)
    np.put_along_axis(onehot, target[..., None], 1.0, axis=-1)
    per_sample = unreduce(g, target.shape, reduction)
    return ((softmax(logits, dim=-1) - onehot) * per_sample[..., None],)


def mse(x: Array, target: Array, reduction: str = "mean") -> Array:
    """``F.mse_loss``: (x − target)², reduced. ``target`` broadcasts against ``x`` as in torch."""
    x, target = _f64(x), _f64(target)
    return _reduce((x - target) ** 2, reduction)


def mse_vjp(x: Array, target: Array, g: Array, reduction: str = "mean") -> tuple[Array, Array]:
    x, target = _f64(x), _f64(target)
    d = x - target
    gd = 2.0 * d * unreduce(g, d.shape, reduction)
    return sum_to_shape(gd, x.shape), sum_to_shape(-gd, target.shape)

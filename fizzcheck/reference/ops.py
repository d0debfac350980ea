"""Reference ops: forward and vector-Jacobian product (VJP) side by side.

Each op ``f`` has ``f(*inputs, **kw)`` and ``f_vjp(*inputs, g, **kw)``; the VJP takes the
same inputs plus a cotangent ``g`` shaped like ``f``'s output and returns one gradient per
differentiable input. Everything is numpy float64; shapes and semantics follow torch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fizzcheck.errors import InvalidArgument

__all__ = [
    "REDUCTIONS",
    "CrossEntropyTerms",
    "cross_entropy",
    "cross_entropy_cotangent",
    "cross_entropy_terms",
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


def _class_dim(logits: Array) -> int:
    """torch's class dimension: 0 for unbatched (C,) logits, 1 for (N, C) and (N, C, d1, ..., dK)."""
    return 0 if logits.ndim == 1 else 1


class CrossEntropyTerms(NamedTuple):
    """cross_entropy's options reduced to one form, class dimension moved last.

    Every flavour of torch's cross-entropy (class indices or probabilities, ``weight``,
    ``label_smoothing``, ``ignore_index``) is a weighted sum of log-probabilities: per sample
    ``l_n = −Σ_c q[n, c] · log_softmax(logits)[n, c]``, and ``mean`` divides Σ_n l_n by
    ``denominator``. With ε = label_smoothing, C classes and weights w (ones when None):

    * class targets t_n: ``q[n, c] = [t_n ≠ ignore_index] · w_c ((1 − ε) δ_{c t_n} + ε/C)``
      and ``denominator = Σ_n [t_n ≠ ignore_index] w_{t_n}`` (torch's docs: the weighted mean
      over the non-ignored targets; 0, so ``mean`` is NaN, when every target is ignored);
    * probability targets y (the logits' shape): ``q[n, c] = w_c ((1 − ε) y[n, c] + ε/C)`` and
      ``denominator = N``, the number of samples (N · d1 ⋯ dK), *not* a weight sum;
      ``ignore_index`` does not apply.
    """

    logits: Array
    """The logits as float64 with the class dimension last."""
    q: Array
    """Coefficients of −log_softmax, shaped like ``logits``."""
    denominator: float
    class_dim: int
    """Where the class dimension was (and goes back to in gradients)."""
    probability: bool
    """True for probability targets."""


def _target_error(logits: Array, target: Array) -> InvalidArgument:
    expected = logits.shape[:0] if logits.ndim == 1 else logits.shape[:1] + logits.shape[2:]
    return InvalidArgument(
        f"cross_entropy: target must hold integer class indices of shape {expected!r} or probabilities of "
        f"the logits' shape {logits.shape!r}, got shape {target.shape!r} and dtype {target.dtype}; "
        "logits must be (C,), (N, C) or (N, C, d1, ..., dK)"
    )


def cross_entropy_terms(
    logits: Array,
    target: Array,
    *,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> CrossEntropyTerms:
    """The coefficients and ``mean`` denominator of torch's cross-entropy (see :class:`CrossEntropyTerms`).

    Integer ``target`` holds class indices (shape: the logits' without the class dim); a
    floating ``target`` of the logits' shape holds class probabilities, as torch decides.
    """
    logits = _f64(logits)
    target = np.asarray(target)
    if logits.ndim == 0:
        raise _target_error(logits, target)
    class_dim = _class_dim(logits)
    lg = np.moveaxis(logits, class_dim, -1)
    classes = lg.shape[-1]
    w = np.ones(classes) if weight is None else _f64(weight)
    if w.shape != (classes,):
        raise InvalidArgument(f"cross_entropy: weight must have shape ({classes},), got {w.shape!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise InvalidArgument(f"cross_entropy: label_smoothing={label_smoothing!r} must lie in [0, 1]")
    eps = float(label_smoothing)
    if np.issubdtype(target.dtype, np.floating) and target.shape == logits.shape:
        y = np.moveaxis(_f64(target), class_dim, -1)
        q = w * ((1.0 - eps) * y + eps / classes)
        return CrossEntropyTerms(lg, q, float(y[..., 0].size), class_dim, True)
    if not np.issubdtype(target.dtype, np.integer) or target.shape != lg.shape[:-1]:
        raise _target_error(logits, target)
    valid = target != ignore_index
    if np.any(valid & ((target < 0) | (target >= classes))):
        raise InvalidArgument(
            f"cross_entropy: class indices must lie in [0, {classes}) or equal ignore_index={ignore_index}, "
            f"got {target!r}"
        )
    picked = np.where(valid, target, 0)
    onehot = np.zeros_like(lg)
    np.put_along_axis(onehot, picked[..., None], 1.0, axis=-1)
    q = valid[..., None] * w * ((1.0 - eps) * onehot + eps / classes)
    return CrossEntropyTerms(lg, q, float(np.sum(np.where(valid, w[picked], 0.0))), class_dim, False)


def cross_entropy(
    logits: Array,
    target: Array,
    reduction: str = "mean",
    *,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Array:
    """``F.cross_entropy`` with every option: class indices or probabilities, weight, ignore_index,
    label_smoothing, (C,), (N, C) and (N, C, d1, ..., dK) logits (see :class:`CrossEntropyTerms`)."""
    _check_reduction(reduction)
    terms = cross_entropy_terms(
        logits, target, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
    )
    logp = log_softmax(terms.logits, dim=-1)
    with np.errstate(invalid="ignore"):
        per_sample = -np.sum(np.where(terms.q != 0, terms.q * logp, 0.0), axis=-1)
    if reduction == "none":
        return per_sample
    total = np.sum(per_sample)
    if reduction == "sum":
        return total
    return np.divide(total, terms.denominator or np.nan)  # every target ignored: 0/0 = NaN


def cross_entropy_cotangent(
    logits: Array,
    target: Array,
    g: Array | float,
    reduction: str = "mean",
    *,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Array:
    """The cotangent G = ∂(Σ g ⊙ loss)/∂log_softmax(logits), class dimension last: −c_n q[n, :].

    ``c_n`` is g_n (``none``), g (``sum``) or g / denominator (``mean``); a sample with q = 0
    (ignored) gets 0, also when every target is ignored and the mean is 0/0 (torch's gradient
    is then 0 too: the ignored samples are masked out of it).
    """
    _check_reduction(reduction)
    terms = cross_entropy_terms(
        logits, target, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
    )
    scale = _f64(g)
    if reduction == "mean":
        scale = np.divide(scale, terms.denominator) if terms.denominator else np.full(scale.shape, np.inf)
    c = np.broadcast_to(scale, terms.q.shape[:-1])
    with np.errstate(invalid="ignore"):
        return np.where(terms.q != 0, -c[..., None] * terms.q, 0.0)


def cross_entropy_vjp(
    logits: Array,
    target: Array,
    g: Array | float,
    reduction: str = "mean",
    *,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> tuple[Array]:
    # loss is linear in log_softmax(logits) with cotangent G (cross_entropy_cotangent), so the
    # gradient is log_softmax's VJP of G along the class dim: G − softmax(logits) Σ_c G.
    big_g = cross_entropy_cotangent(
        logits, target, g, reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
    )
    logits = _f64(logits)
    (grad,) = log_softmax_vjp(np.moveaxis(logits, _class_dim(logits), -1), big_g, dim=-1)
    return (np.moveaxis(grad, -1, _class_dim(logits)),)


def mse(x: Array, target: Array, reduction: str = "mean") -> Array:
    """``F.mse_loss``: (x − target)², reduced. ``target`` broadcasts against ``x`` as in torch."""
    x, target = _f64(x), _f64(target)
    return _reduce((x - target) ** 2, reduction)


def mse_vjp(x: Array, target: Array, g: Array, reduction: str = "mean") -> tuple[Array, Array]:
    x, target = _f64(x), _f64(target)
    d = x - target
    gd = 2.0 * d * unreduce(g, d.shape, reduction)
    return sum_to_shape(gd, x.shape), sum_to_shape(-gd, target.shape)


# --- the matmul family: mm, bmm, mv, dot and the scaled sums addmm, baddbmm, addmv ----------
# Each is torch.matmul restricted to the shapes torch's function accepts (checked here, so a
# wrong shape is an error in the reference too); the add* functions compute
# β·input + α·(product), and with β = 0 ignore ``input`` altogether (torch's docs: "If beta is 0,
# then the content of input will be ignored, and nan and inf in it will not be propagated").

__all__ += ["addmm", "addmm_vjp", "addmv", "addmv_vjp", "baddbmm", "baddbmm_vjp"]
__all__ += ["bmm", "bmm_vjp", "dot", "dot_vjp", "mm", "mm_vjp", "mv", "mv_vjp"]


def _product_operands(fn: str, a: Array, b: Array) -> tuple[Array, Array]:
    a, b = _f64(a), _f64(b)
    ndims = {"mm": (2, 2), "bmm": (3, 3), "mv": (2, 1), "dot": (1, 1)}[fn]
    if (a.ndim, b.ndim) != ndims:
        raise InvalidArgument(
            f"{fn}: operands must be {ndims[0]}-D and {ndims[1]}-D, got shapes {a.shape!r}, {b.shape!r}"
        )
    if fn == "bmm" and a.shape[0] != b.shape[0]:
        raise InvalidArgument(f"bmm: batch sizes differ (no broadcasting), got shapes {a.shape!r}, {b.shape!r}")
    if fn == "dot" and a.shape != b.shape:
        raise InvalidArgument(f"dot: operands must have the same length, got shapes {a.shape!r}, {b.shape!r}")
    return a, b


def mm(a: Array, b: Array) -> Array:
    """``torch.mm``: (n, m) @ (m, p)."""
    return matmul(*_product_operands("mm", a, b))


def bmm(a: Array, b: Array) -> Array:
    """``torch.bmm``: (b, n, m) @ (b, m, p), equal batch sizes."""
    return matmul(*_product_operands("bmm", a, b))


def mv(a: Array, v: Array) -> Array:
    """``torch.mv``: (n, m) @ (m,)."""
    return matmul(*_product_operands("mv", a, v))


def dot(a: Array, b: Array) -> Array:
    """``torch.dot``: the inner product of two 1-D arrays of one length (a 0-d result)."""
    return matmul(*_product_operands("dot", a, b))


def mm_vjp(a: Array, b: Array, g: Array) -> tuple[Array, Array]:
    return matmul_vjp(*_product_operands("mm", a, b), g)


def bmm_vjp(a: Array, b: Array, g: Array) -> tuple[Array, Array]:
    return matmul_vjp(*_product_operands("bmm", a, b), g)


def mv_vjp(a: Array, v: Array, g: Array) -> tuple[Array, Array]:
    return matmul_vjp(*_product_operands("mv", a, v), g)


def dot_vjp(a: Array, b: Array, g: Array) -> tuple[Array, Array]:
    return matmul_vjp(*_product_operands("dot", a, b), g)


_SCALED = {"addmm": mm, "baddbmm": bmm, "addmv": mv}
_SCALED_VJP = {"addmm": mm_vjp, "baddbmm": bmm_vjp, "addmv": mv_vjp}


def _scaled_sum(fn: str, input: Array, a: Array, b: Array, beta: float, alpha: float) -> Array:
    product = _SCALED[fn](a, b)
    input = _f64(input)
    try:
        broadcasts = np.broadcast_shapes(input.shape, product.shape) == product.shape
    except ValueError:
        broadcasts = False
    if not broadcasts:
        raise InvalidArgument(f"{fn}: input of shape {input.shape!r} does not broadcast to {product.shape!r}")
    scaled = alpha * product
    return np.broadcast_to(scaled, product.shape).copy() if beta == 0 else beta * input + scaled


def _scaled_sum_vjp(
    fn: str, input: Array, a: Array, b: Array, g: Array, beta: float, alpha: float
) -> tuple[Array, Array, Array]:
    g = _f64(g)
    ga, gb = _SCALED_VJP[fn](a, b, g)
    return beta * sum_to_shape(g, np.shape(input)), alpha * ga, alpha * gb


def addmm(input: Array, mat1: Array, mat2: Array, *, beta: float = 1.0, alpha: float = 1.0) -> Array:
    """``torch.addmm``: β·input + α·(mat1 @ mat2), input broadcast; β = 0 ignores input."""
    return _scaled_sum("addmm", input, mat1, mat2, beta, alpha)


def baddbmm(input: Array, batch1: Array, batch2: Array, *, beta: float = 1.0, alpha: float = 1.0) -> Array:
    """``torch.baddbmm``: β·input + α·bmm(batch1, batch2), input broadcast; β = 0 ignores input."""
    return _scaled_sum("baddbmm", input, batch1, batch2, beta, alpha)


def addmv(input: Array, mat: Array, vec: Array, *, beta: float = 1.0, alpha: float = 1.0) -> Array:
    """``torch.addmv``: β·input + α·(mat @ vec), input broadcast; β = 0 ignores input."""
    return _scaled_sum("addmv", input, mat, vec, beta, alpha)


def addmm_vjp(
    input: Array, mat1: Array, mat2: Array, g: Array, *, beta: float = 1.0, alpha: float = 1.0
) -> tuple[Array, Array, Array]:
    """(β·Σ g over input's broadcast dims, α·g mat2ᵀ, α·mat1ᵀ g)."""
    return _scaled_sum_vjp("addmm", input, mat1, mat2, g, beta, alpha)


def baddbmm_vjp(
    input: Array, batch1: Array, batch2: Array, g: Array, *, beta: float = 1.0, alpha: float = 1.0
) -> tuple[Array, Array, Array]:
    return _scaled_sum_vjp("baddbmm", input, batch1, batch2, g, beta, alpha)


def addmv_vjp(
    input: Array, mat: Array, vec: Array, g: Array, *, beta: float = 1.0, alpha: float = 1.0
) -> tuple[Array, Array, Array]:
    return _scaled_sum_vjp("addmv", input, mat, vec, g, beta, alpha)

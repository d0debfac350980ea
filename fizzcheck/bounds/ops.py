"""Error bounds of the ops: matmul, linear, sigmoid, softmax, log_softmax, cross_entropy, mse.

Each ``<op>_bound`` bounds ``|target − reference|`` for the op's output, and each
``<op>_vjp_bound`` bounds its gradients (one per operand, for an arbitrary cotangent ``g``),
when the target (in ``dtype``) and the numpy float64 reference run on *the same* inputs.
Every bound is the target's forward-error bound plus the reference's, written once per
:class:`~fizzcheck.bounds.rounding.Side` of the rounding model in
:mod:`fizzcheck.bounds.rounding` (γ_k for k-term sums, a few ulps per exp/log call, an
underflow floor). exp(z) has condition number ``|z|``: an absolute error ``u|z|`` in its
argument becomes a relative error ``u|z|`` in its value, which is why ``|x - max|`` shows
up in the softmax bounds.

Gradients are bounded the same way, following how torch computes them: e.g. sigmoid's
backward uses torch's *rounded* forward output, so ``1 - y`` inherits y's error, which is
large relative to ``1 - y`` when the sigmoid saturates; the bound says so.

:mod:`fizzcheck.check` turns a bound into a verdict (error / bound, NaN and ±Inf by position).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fizzcheck.bounds.rounding import Side, compound, gamma, target_plus_reference
from fizzcheck.reference import ops as ref

__all__ = [
    "cross_entropy_bound",
    "cross_entropy_options_bound",
    "cross_entropy_options_vjp_bound",
    "cross_entropy_vjp_bound",
    "linear_bound",
    "linear_vjp_bound",
    "log_softmax_bound",
    "log_softmax_vjp_bound",
    "matmul_bound",
    "matmul_vjp_bound",
    "mse_bound",
    "mse_vjp_bound",
    "sigmoid_bound",
    "sigmoid_vjp_bound",
    "softmax_bound",
    "softmax_vjp_bound",
]

Array = np.ndarray


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
    return target_plus_reference(dtype, lambda p: p.acc(k) * abs_terms + p.floor)


def matmul_vjp_bound(a: Array, b: Array, g: Array, *, dtype: str) -> tuple[Array, Array]:
    ka, kb = ref.matmul_vjp(_ones(a), _ones(b), _ones(g))
    abs_a, abs_b = ref.matmul_vjp(_abs(a), _abs(b), _abs(g))
    return target_plus_reference(dtype, lambda p: (p.acc(ka) * abs_a + p.floor, p.acc(kb) * abs_b + p.floor))


def linear_bound(x: Array, w: Array, b: Array | None = None, *, dtype: str) -> Array:
    # x Wᵀ + b is one dot product of in_features + 1 terms (addmm rounds the bias in too).
    k = ref.linear(_ones(x), _ones(w), _ones(b))
    abs_terms = ref.linear(_abs(x), _abs(w), _abs(b))
    return target_plus_reference(dtype, lambda p: p.acc(k) * abs_terms + p.floor)


def linear_vjp_bound(x: Array, w: Array, b: Array | None, g: Array, *, dtype: str) -> tuple[Array, Array, Array | None]:
    counts = ref.linear_vjp(_ones(x), _ones(w), _ones(b), _ones(g))
    abs_terms = ref.linear_vjp(_abs(x), _abs(w), _abs(b), _abs(g))

    def side(p: Side) -> tuple[Array | None, ...]:
        return tuple(None if t is None else p.acc(k) * t + p.floor for k, t in zip(counts, abs_terms, strict=True))

    return target_plus_reference(dtype, side)


# --- sigmoid --------------------------------------------------------------------------


def sigmoid_bound(x: Array, *, dtype: str) -> Array:
    y = ref.sigmoid(x)
    return target_plus_reference(dtype, lambda p: p.sigmoid_relative * np.abs(y) + p.floor)


def sigmoid_vjp_bound(x: Array, g: Array, *, dtype: str) -> tuple[Array]:
    # Target: g * (1 - ŷ) * ŷ from its rounded output ŷ = y(1 + r), |r| <= rho. Expanding,
    # |error| <= |g| y (rho (y + (1 - y)) + 3u (1 - y)) <= |g| y (rho + 3u).
    y, ag = ref.sigmoid(x), np.abs(np.asarray(g, dtype=np.float64))

    def side(p: Side) -> tuple[Array]:
        return (ag * y * compound(p.sigmoid_relative + 3.0 * p.u) + p.floor * (1.0 + ag),)

    return target_plus_reference(dtype, side)


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


def _sum_relative_error(s: Array, z: Array, n: int, dim: int, p: Side) -> Array:
    # S = sum_j exp(z_j): term j has relative error u|z_j| (argument) + transcendental; the
    # n-term positive sum adds acc(n). Relative error of S, weighted by the terms s_j.
    return p.u * _weighted(s, np.abs(z), dim) + p.transcendental + p.acc(n)


def _softmax_relative(x: Array, dim: int, p: Side) -> tuple[Array, Array]:
    s, z, _, n = _softmax_parts(x, dim)
    # y_i = exp(z_i) / S: error of exp(z_i), of S, and of the division (or of 1/S and the product).
    with np.errstate(invalid="ignore"):
        rel = compound(p.u * np.abs(z) + p.transcendental + _sum_relative_error(s, z, n, dim, p) + 2.0 * p.u)
    return s, rel


def softmax_bound(x: Array, dim: int = -1, *, dtype: str) -> Array:
    def side(p: Side) -> Array:
        s, rel = _softmax_relative(x, dim, p)
        with np.errstate(invalid="ignore"):
            return np.where(s > 0, rel * s, 0.0) + p.floor

    return target_plus_reference(dtype, side)


def softmax_vjp_bound(x: Array, g: Array, dim: int = -1, *, dtype: str) -> tuple[Array]:
    # Target: y ⊙ (g - d), d = sum_j g_j y_j, from its rounded ŷ (relative error rho_j).
    # err(d) <= sum_j |g_j| y_j (rho_j + acc(n)); the subtraction and product (or the
    # variant y g - y d) add at most (rho_i + 3u)(|g_i| + |d|) relative to y_i.
    g = np.asarray(g, dtype=np.float64)

    def side(p: Side) -> tuple[Array]:
        s, rho = _softmax_relative(x, dim, p)
        n = s.shape[dim] if s.ndim else 1
        d = _weighted(s, g, dim)
        err_d = _weighted(s, np.abs(g) * (rho + p.acc(n)), dim)
        with np.errstate(invalid="ignore"):
            out = np.where(s > 0, s * ((rho + 3.0 * p.u) * (np.abs(g) + np.abs(d)) + err_d), 0.0)
        return (out + p.floor * (1.0 + np.abs(g)),)

    return target_plus_reference(dtype, side)


def _log_softmax_side(x: Array, dim: int, p: Side) -> Array:
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
    return target_plus_reference(dtype, lambda p: _log_softmax_side(x, dim, p))


def _log_softmax_vjp_side(x: Array, g: Array, dim: int, p: Side) -> Array:
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
            s * (np.abs(sum_g) * (beta + p.transcendental + p.u) + p.acc(n) * sum_abs_g),
            0.0,
        )
    return bound + p.u * (np.abs(grad) + np.abs(g)) + p.floor * (1.0 + np.abs(g))


def log_softmax_vjp_bound(x: Array, g: Array, dim: int = -1, *, dtype: str) -> tuple[Array]:
    return target_plus_reference(dtype, lambda p: (_log_softmax_vjp_side(x, g, dim, p),))


# --- losses ---------------------------------------------------------------------------


def _reduction_bound(per_item: Array, per_item_bound: Array, reduction: str, p: Side) -> Array:
    # sum: the items' own errors plus acc(N) for the N-term sum; mean: one more division.
    if reduction == "none":
        return per_item_bound
    n = per_item.size
    total = np.sum(per_item_bound) + p.acc(n) * np.sum(np.abs(per_item))
    if reduction == "sum":
        return total + p.floor
    if not n:  # the mean of nothing is NaN, compared by position; no bound is needed
        return np.zeros(())
    return np.asarray(total / n + p.u * abs(np.sum(per_item) / n) + p.floor)


def cross_entropy_bound(logits: Array, target: Array, reduction: str = "mean", *, dtype: str) -> Array:
    # torch: nll_loss(log_softmax(logits)) picks -log_softmax[target] per sample.
    target = np.asarray(target)
    per_sample = ref.cross_entropy(logits, target, reduction="none")

    def side(p: Side) -> Array:
        beta = _log_softmax_side(logits, -1, p)
        picked = np.take_along_axis(beta, target[..., None], axis=-1)[..., 0]
        return _reduction_bound(per_sample, picked, reduction, p)

    return target_plus_reference(dtype, side)


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

    def side(p: Side) -> tuple[Array]:
        scaling = p.u * (np.abs(big_g) + s * np.abs(np.sum(big_g, axis=-1, keepdims=True)))
        return (_log_softmax_vjp_side(logits, big_g, -1, p) + scaling,)

    return target_plus_reference(dtype, side)


def mse_bound(x: Array, target: Array, reduction: str = "mean", *, dtype: str) -> Array:
    # (x - t)^2: the subtraction and the square give relative error 3u per element.
    sq = ref.mse(x, target, reduction="none")
    return target_plus_reference(dtype, lambda p: _reduction_bound(sq, gamma(3, p.u) * sq + p.floor, reduction, p))


def mse_vjp_bound(x: Array, target: Array, g: Array, reduction: str = "mean", *, dtype: str) -> tuple[Array, Array]:
    # Target: (x - t) * (2/N) * g: a subtraction, the rounded scale 2/N and two products are
    # 5u relative per element; broadcast operands then sum their gradient (acc(count)).
    x, target = np.asarray(x, dtype=np.float64), np.asarray(target, dtype=np.float64)
    d = x - target
    elementwise = np.abs(2.0 * d * ref.unreduce(g, d.shape, reduction))
    count_x = ref.sum_to_shape(np.ones(d.shape), x.shape)
    count_t = ref.sum_to_shape(np.ones(d.shape), target.shape)

    def side(p: Side) -> tuple[Array, Array]:
        per = gamma(5, p.u) * elementwise + p.floor
        bx = ref.sum_to_shape(per, x.shape) + p.acc(count_x) * ref.sum_to_shape(elementwise, x.shape)
        bt = ref.sum_to_shape(per, target.shape) + p.acc(count_t) * ref.sum_to_shape(elementwise, target.shape)
        return bx, bt

    return target_plus_reference(dtype, side)


# --- cross_entropy with its options (weight, ignore_index, label_smoothing, probabilities) ---
# Every flavour is L = reduce_n(l_n), l_n = Σ_c q_nc (−λ_nc) with λ = log_softmax(logits) along
# the class dim and q ≥ 0 (fizzcheck.reference.ops.CrossEntropyTerms; the strategies draw
# weights > 0 and probabilities ≥ 0), so every term T_nc = q_nc |λ_nc| is ≥ 0: the sums never
# cancel and |L| = Σ T (scaled by 1/denominator for mean). Each side (torch in dtype, the
# reference in float64) evaluates the terms from its own λ̂ (|λ̂ − λ| ≤ β, log_softmax's bound)
# and from factors it rounds; counting roundings along one term's path in torch's
# composite (aten/src/ATen/native/LossNLL.cpp, cross_entropy_loss_label_smoothing and
# cross_entropy_loss_prob_target):
#   class, nll part:    w_t·λ̂_t, /D, (1 − ε) rounded, ·(1 − ε), the final add          5
#   class, smoothing:   λ̂_c·w_c, /D, ε/C rounded, ·(ε/C), the final add               5
#   probability:        (1 − ε), y(1 − ε), ε/C, + ε/C, λ̂·y', ·w, /N (+1 spare)          8
# and the reference: (1 − ε), ·onehot/y, ε/C, +, ·w, ·λ, /D ≤ 8. So K = 8 roundings per
# term, plus the sums: over C classes (acc(C)) per sample, and over the N samples (acc(N))
# for class targets; probability targets sum all N·C terms at once (acc(N·C), which also
# covers the reference's per-sample-then-batch order). The mean's denominator D is a sum
# of N positive weights (acc(N)), converted once to dtype (an integer count in float16: u).

_CROSS_ENTROPY_ROUNDINGS = 8


def _chain(*relative: Any) -> Any:
    """Relative error of a value passed through steps of relative errors r_i: Π(1 + r_i) − 1.

    Exact composition, valid however large the r_i (a float16 or bfloat16 sum of thousands of
    terms has acc(k) near 1, where the first-order sum Σ r_i and ``compound`` break down).
    """
    out = 1.0
    for r in relative:
        out = out * (1.0 + r)
    return out - 1.0


def _cross_entropy_side(terms: ref.CrossEntropyTerms, reduction: str, p: Side) -> Array:
    beta = _log_softmax_side(terms.logits, -1, p)
    lam = ref.log_softmax(terms.logits, -1)
    samples, classes = terms.q[..., 0].size, terms.q.shape[-1]
    with np.errstate(invalid="ignore"):
        t = np.where(terms.q > 0, terms.q * np.abs(lam), 0.0)
        qb = np.where(terms.q > 0, terms.q * beta, 0.0)
    per_term = _chain(gamma(_CROSS_ENTROPY_ROUNDINGS, p.u), p.acc(classes))
    if reduction == "none":
        return per_term * np.sum(t, axis=-1) + (1.0 + per_term) * np.sum(qb, axis=-1) + p.floor
    rel = _chain(per_term, p.acc(samples * classes) if terms.probability else p.acc(samples))
    total_t, total_qb = float(np.sum(t)), float(np.sum(qb))
    if reduction == "sum":
        return np.asarray(rel * total_t + (1.0 + rel) * total_qb + p.floor)
    if not terms.denominator:  # every target ignored: the mean is 0/0 = NaN, compared by position
        return np.zeros(())
    # D's own error (a sum of N positive weights, then its conversion to dtype) enters as 1/(1 + θ)
    rel = _chain(rel, compound(p.acc(samples) + p.u), p.u)  # ... and the division rounds once
    return np.asarray((rel * total_t + (1.0 + rel) * total_qb) / terms.denominator + p.floor)


def cross_entropy_options_bound(
    logits: Array,
    target: Array,
    reduction: str = "mean",
    *,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    dtype: str,
) -> Array:
    """Bound on |torch's cross_entropy − the reference's| with every option (see the comment above)."""
    terms = ref.cross_entropy_terms(
        logits, target, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
    )
    return target_plus_reference(dtype, lambda p: _cross_entropy_side(terms, reduction, p))


def cross_entropy_options_vjp_bound(
    logits: Array,
    target: Array,
    g: Array,
    reduction: str = "mean",
    *,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    dtype: str,
) -> tuple[Array]:
    """Bound on |torch's ∂(Σ g ⊙ loss)/∂logits − the reference's| with every option.

    Both sides hand log_softmax's backward a cotangent G = −c_n q_n
    (:func:`fizzcheck.reference.ops.cross_entropy_cotangent`). Torch's Ĝ carries, per entry,
    at most K = 8 roundings (class: g·(ε/C) with ε/C rounded, /D, ·w, and g·(1 − ε) with
    (1 − ε) rounded, ·w_t, /D, the add of the two parts: 7; probability: g/N, ·w, ·y' with y'
    itself 4 roundings: 7) plus, for ``mean``, D's relative error (acc(N) + u). Both parts of
    G have the same sign, so |Ĝ − G| ≤ ρ|G| with ρ = (1 + γ₈)(1 + compound(acc(N) + u)) − 1.
    log_softmax's backward is linear in G: δG moves the gradient by at most
    |δG_i| + s_i Σ_c |δG_c|; on top comes its own error for the exact G
    (:func:`_log_softmax_vjp_side`, which also covers its use of the rounded forward output).
    """
    options: dict[str, Any] = {"weight": weight, "ignore_index": ignore_index, "label_smoothing": label_smoothing}
    terms = ref.cross_entropy_terms(logits, target, **options)
    big_g = ref.cross_entropy_cotangent(logits, target, g, reduction, **options)
    s = ref.softmax(terms.logits, -1)
    spread = np.abs(big_g) + s * np.sum(np.abs(big_g), axis=-1, keepdims=True)
    samples = terms.q[..., 0].size

    def side(p: Side) -> tuple[Array]:
        rho = _chain(
            gamma(_CROSS_ENTROPY_ROUNDINGS, p.u), compound(p.acc(samples) + p.u) if reduction == "mean" else 0.0
        )
        bound = _log_softmax_vjp_side(terms.logits, big_g, -1, p) + rho * spread
        return (np.moveaxis(bound, -1, terms.class_dim),)

    return target_plus_reference(dtype, side)


# --- the matmul family's scaled sums: addmm, baddbmm, addmv ------------------------------
# out = β·input + α·(A @ B) with k terms per inner product. However torch evaluates it (one gemm
# call computing β·C + α·Σ; or the product, then the scaling, then the add; in the dtype, or
# accumulated in float32 and rounded once at the end), each term a_il·b_lj passes through at
# most k + 2 roundings: its product (1), the k − 1 additions of the inner sum, the scaling by α
# (1; none where α is folded into a product) and the add of β·input (1); β·input_ij passes
# through at most 2 (its product and the add). That is a dot product of the k + 1 terms
# α·a_il·b_lj and β·input_ij with at most k + 2 roundings each (Higham §3.1), so on each side
#     |error| <= acc(k + 2) · (|α| Σ_l |a_il||b_lj| + |β||input_ij|) + floor,
# with the β term absent when β = 0 (torch then ignores input, NaN and inf included). A float32
# rounding before the final one to a half format is smaller than a rounding in that format, so
# counting it as one in the format keeps the bound an upper bound. The float64 reference (the
# product, α·, β·, +) rounds the same number of times.
# Backward: grad_input = β·(g summed over input's broadcast dims: c terms), grad_A = α·(g Bᵀ),
# grad_B = α·(Aᵀ g): a c- or k-term sum and one scaling, so acc(count + 1) times the same sum
# evaluated on absolute values. Both bounds take counts and absolute sums from the reference
# itself (ones give the counts), as matmul_bound does.

__all__ += ["addmm_bound", "addmm_vjp_bound", "addmv_bound", "addmv_vjp_bound", "baddbmm_bound", "baddbmm_vjp_bound"]


def _scaled_sum_bound(fn: str, input: Array, a: Array, b: Array, beta: float, alpha: float, dtype: str) -> Array:
    forward = getattr(ref, fn)
    k = forward(_ones(input), _ones(a), _ones(b), beta=0.0, alpha=1.0)
    abs_terms = forward(_abs(input), _abs(a), _abs(b), beta=abs(beta), alpha=abs(alpha))
    return target_plus_reference(dtype, lambda p: p.acc(k + 2) * abs_terms + p.floor)


def _scaled_sum_vjp_bound(
    fn: str, input: Array, a: Array, b: Array, g: Array, beta: float, alpha: float, dtype: str
) -> tuple[Array, Array, Array]:
    vjp = getattr(ref, f"{fn}_vjp")
    counts = vjp(_ones(input), _ones(a), _ones(b), _ones(g), beta=1.0, alpha=1.0)
    abs_terms = vjp(_abs(input), _abs(a), _abs(b), _abs(g), beta=abs(beta), alpha=abs(alpha))

    def side(p: Side) -> tuple[Array, ...]:
        return tuple(p.acc(c + 1) * t + p.floor for c, t in zip(counts, abs_terms, strict=True))

    return target_plus_reference(dtype, side)


def addmm_bound(input: Array, mat1: Array, mat2: Array, *, beta: float = 1.0, alpha: float = 1.0, dtype: str) -> Array:
    return _scaled_sum_bound("addmm", input, mat1, mat2, beta, alpha, dtype)


def baddbmm_bound(
    input: Array, batch1: Array, batch2: Array, *, beta: float = 1.0, alpha: float = 1.0, dtype: str
) -> Array:
    return _scaled_sum_bound("baddbmm", input, batch1, batch2, beta, alpha, dtype)


def addmv_bound(input: Array, mat: Array, vec: Array, *, beta: float = 1.0, alpha: float = 1.0, dtype: str) -> Array:
    return _scaled_sum_bound("addmv", input, mat, vec, beta, alpha, dtype)


def addmm_vjp_bound(
    input: Array, mat1: Array, mat2: Array, g: Array, *, beta: float = 1.0, alpha: float = 1.0, dtype: str
) -> tuple[Array, Array, Array]:
    return _scaled_sum_vjp_bound("addmm", input, mat1, mat2, g, beta, alpha, dtype)


def baddbmm_vjp_bound(
    input: Array, batch1: Array, batch2: Array, g: Array, *, beta: float = 1.0, alpha: float = 1.0, dtype: str
) -> tuple[Array, Array, Array]:
    return _scaled_sum_vjp_bound("baddbmm", input, batch1, batch2, g, beta, alpha, dtype)


def addmv_vjp_bound(
    input: Array, mat: Array, vec: Array, g: Array, *, beta: float = 1.0, alpha: float = 1.0, dtype: str
) -> tuple[Array, Array, Array]:
    return _scaled_sum_vjp_bound("addmv", input, mat, vec, g, beta, alpha, dtype)

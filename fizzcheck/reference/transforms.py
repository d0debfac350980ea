"""References for function transforms: second derivatives and per-sample gradients.

numpy float64 only (never torch). Two kinds of reference live here:

* **Hessian-vector products** of the seed's ops, hand-derived. For an op ``f`` and a
  cotangent ``g`` the scalar ``L(x) = Σ g ⊙ f(x)`` has gradient ``f_vjp(x, g)``; its
  Hessian applied to a direction ``v`` is written in closed form next to each op. Each
  formula is code (``<op>_hvp_formula(F, x, g, v)``) that runs on
  :class:`fizzcheck.reference.tape.Tensor` values (the reference; ``F`` = the tape module)
  and on :class:`fizzcheck.bounds.graphs.Bounded` values (the error bound; see
  :mod:`fizzcheck.bounds.transforms`), so the bound follows the formula that ran.
  ``tests/reference/test_transforms.py`` checks every formula against central finite
  differences of the first-order reference VJPs in :mod:`fizzcheck.reference.ops`.

  - sigmoid: ``σ'' = σ'(1 − 2σ)``, so ``H v = g ⊙ v ⊙ σ(1 − σ)(1 − 2σ)``.
  - softmax along ``dim``: with ``ṡ = s ⊙ (v − ⟨s, v⟩)`` (the JVP), the gradient
    ``s ⊙ (g − ⟨g, s⟩)`` moves by ``ṡ ⊙ (g − ⟨g, s⟩) − s ⊙ ⟨g, ṡ⟩``.
  - log_softmax: the gradient is ``g − s Σg``, so ``H v = −(Σg) ṡ``.
  - mse: ``H v = 2 ⊙ unreduce(g) ⊙ v`` w.r.t. the input.
  - cross_entropy (class targets): per sample the log-softmax Hessian times the
    reduction's weight ``c_n`` (``1/N``, ``1`` or ``g_n``): ``H v = c_n ṡ_n``.

* **Cross-entropy with its options for one sample** (``weight``, ``label_smoothing``,
  ``ignore_index``, ``reduction``), the oracle of per-sample gradients under ``vmap``:
  :func:`cross_entropy_sample` and :func:`cross_entropy_sample_grad`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fizzcheck.reference import ops, tape

__all__ = [
    "HVP_OPS",
    "cross_entropy_cotangent",
    "cross_entropy_hvp",
    "cross_entropy_sample",
    "cross_entropy_sample_cotangent",
    "cross_entropy_sample_grad",
    "hvp",
    "log_softmax_hvp_formula",
    "mse_hvp_formula",
    "sigmoid_hvp_formula",
    "softmax_hvp_formula",
]

Array = np.ndarray

HVP_OPS = ("sigmoid", "softmax", "log_softmax", "mse", "cross_entropy")
"""The ops with a Hessian-vector-product reference."""


# --- Hessian-vector products, as code that runs on tape tensors and on Bounded values ---


def sigmoid_hvp_formula(F: Any, x: Any, g: Any, v: Any) -> Any:
    """H v of Σ g ⊙ σ(x): g ⊙ v ⊙ σ(1 − σ)(1 − 2σ)."""
    s = x.sigmoid()
    return v * g * (1 - s) * s * (1 - 2 * s)


def _softmax_jvp(s: Any, v: Any, dim: int) -> Any:
    return s * (v - (v * s).sum(dim, keepdim=True))


def softmax_hvp_formula(F: Any, x: Any, g: Any, v: Any, dim: int = -1) -> Any:
    """H v of Σ g ⊙ softmax(x): ṡ ⊙ (g − ⟨g, s⟩) − s ⊙ ⟨g, ṡ⟩ with ṡ = s ⊙ (v − ⟨s, v⟩)."""
    s = F.softmax(x, dim)
    s_dot = _softmax_jvp(s, v, dim)
    return s_dot * (g - (g * s).sum(dim, keepdim=True)) - s * (g * s_dot).sum(dim, keepdim=True)


def log_softmax_hvp_formula(F: Any, x: Any, g: Any, v: Any, dim: int = -1) -> Any:
    """H v of Σ g ⊙ log_softmax(x): −(Σ g) ⊙ ṡ."""
    s = F.softmax(x, dim)
    return -(g.sum(dim, keepdim=True) * _softmax_jvp(s, v, dim))


def mse_hvp_formula(F: Any, scale: Any, v: Any) -> Any:
    """H v of Σ g ⊙ (x − y)² reduced, w.r.t. x: 2 ⊙ scale ⊙ v (``scale`` = unreduce(g))."""
    return 2 * scale * v


def _run(formula: Any, *arrays: Any, **kw: Any) -> Array:
    return np.asarray(formula(tape, *(tape.Tensor(a) for a in arrays), **kw).data)


def cross_entropy_hvp(logits: Array, target: Array, v: Array, g: Any = 1.0, reduction: str = "mean") -> Array:
    """H v of cross_entropy(logits, target) (class indices) times g, w.r.t. the logits."""
    logits, target = np.asarray(logits, dtype=np.float64), np.asarray(target)
    return _run(log_softmax_hvp_formula, logits, cross_entropy_cotangent(logits, target, g, reduction), v)


def cross_entropy_cotangent(logits: Array, target: Array, g: Any = 1.0, reduction: str = "mean") -> Array:
    """The cotangent nll_loss hands to log_softmax: G[n, t_n] = −c_n, 0 elsewhere."""
    big_g = np.zeros(np.shape(logits))
    c = ops.unreduce(g, np.shape(target), reduction)
    np.put_along_axis(big_g, np.asarray(target)[..., None], -c[..., None], axis=-1)
    return big_g


def hvp(op: str, x: Array, g: Any, v: Array, **kw: Any) -> Array:
    """The reference H v for one of :data:`HVP_OPS` (``kw``: ``dim``, ``target``, ``reduction``)."""
    if op == "sigmoid":
        return _run(sigmoid_hvp_formula, x, np.broadcast_to(g, np.shape(x)), v)
    if op == "softmax":
        return _run(softmax_hvp_formula, x, g, v, dim=kw.get("dim", -1))
    if op == "log_softmax":
        return _run(log_softmax_hvp_formula, x, g, v, dim=kw.get("dim", -1))
    if op == "mse":
        scale = ops.unreduce(g, np.shape(x), kw.get("reduction", "mean"))
        return 2.0 * scale * np.asarray(v, dtype=np.float64)
    if op == "cross_entropy":
        return cross_entropy_hvp(x, kw["target"], v, g, kw.get("reduction", "mean"))
    raise ValueError(f"op={op!r} is not one of {HVP_OPS}")


# --- cross-entropy with every option, one sample ------------------------------------------


def cross_entropy_sample_cotangent(
    logits: Array,
    target: int,
    *,
    weight: Array | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Array:
    """The cotangent G that torch's loss hands to log_softmax's backward for one sample (C,).

    loss = a [(1 − ε) w_t (−log s_t) + (ε/C) Σ_c w_c (−log s_c)], where ``a`` is ``1/w_t``
    for ``mean`` (torch divides by the summed weight of the batch, here one sample), ``1``
    for ``sum``/``none``, and ``0`` when ``target == ignore_index``; so
    ∂loss/∂log s_c = G_c = −a [(1 − ε) w_t δ_ct + (ε/C) w_c].
    """
    # a batch of one through the batch reference (fizzcheck.reference.ops.cross_entropy_cotangent)
    logits = np.asarray(logits, dtype=np.float64)
    return ops.cross_entropy_cotangent(
        logits[None],
        np.array([target]),
        1.0,
        reduction,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )[0]


def cross_entropy_sample(logits: Array, target: int, **options: Any) -> float:
    """The loss of one sample (C,) with torch's options (see :func:`cross_entropy_sample_cotangent`)."""
    big_g = cross_entropy_sample_cotangent(logits, target, **options)
    return float(np.sum(big_g * ops.log_softmax(np.asarray(logits, dtype=np.float64))))


def cross_entropy_sample_grad(logits: Array, target: int, **options: Any) -> Array:
    """∂loss/∂logits for one sample: log_softmax's VJP of G, i.e. G − s Σ G."""
    big_g = cross_entropy_sample_cotangent(logits, target, **options)
    return ops.log_softmax_vjp(logits, big_g)[0]

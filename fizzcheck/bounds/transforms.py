"""Error bounds for function transforms: Hessian-vector products and per-sample cross-entropy.

**Second order.** A Hessian-vector product ``H v`` of ``L(x) = Σ g ⊙ f(x)`` is the
derivative of the first-order gradient along ``v``; whichever way torch gets it —
forward-over-reverse (``jvp(grad)``), reverse-over-reverse (``grad`` of ``⟨grad, v⟩``,
``vjp`` of ``vjp``) or ``autograd.grad(..., create_graph=True)`` twice — it evaluates, in
the end, the closed form of :mod:`fizzcheck.reference.transforms` (derivatives.yaml's
double-backward entries, e.g. ``sigmoid_backward``'s ``output: grad * grad_output * (1 −
2 output)``, are that closed form, factor by factor). The bound is derived exactly as
:mod:`fizzcheck.bounds.graphs` derives first-order ones: the formula runs on
:class:`~fizzcheck.bounds.graphs.Bounded` values, once on torch's side (unit roundoff of
``dtype``; the forward values it reuses — σ(x), softmax(x) — carry their own rounding, and
that first-order error propagates through every later factor without linearisation) and
once on the reference's side (float64), and the two errors add. Inputs, cotangents and
directions are exact (drawn representable in ``dtype``); quantities torch rounds before the
extra pass (``g/N`` of a mean reduction) enter with ``u·|value|``.

Where torch's formula groups the same factors differently (``v·g·(1−y)·y·(1−2y)`` as
``(g·(1−2y))·(v·(1−y)·y)``), a product of k rounded factors still carries at most
``k − 1`` roundings of the same magnitudes, and the sums ``⟨s, v⟩``, ``⟨g, ṡ⟩`` are
k-term sums of the same terms: the Bounded evaluation bounds every such ordering to first
order in u. The strategies keep inputs where that holds comfortably (moderate
magnitudes, no NaN/Inf).

**Per-sample cross-entropy with options.** torch writes the cotangent ``G`` of
:func:`fizzcheck.reference.transforms.cross_entropy_sample_cotangent` (each entry a product
of at most four rounded factors ``a``, ``1 − ε`` or ``ε/C``, ``w``: relative error γ₄),
then runs log_softmax's backward on it, which is linear in ``G``: an error ``δG`` moves the
result by at most ``|δG_i| + s_i Σ|δG|``. So the bound is log_softmax's VJP bound
(:func:`fizzcheck.bounds.ops.log_softmax_vjp_bound`, both sides) plus γ₄ (torch) and
γ_{C+8} (the float64 reference, whose G and ``G − s ΣG`` take at most C + 8 roundings) of
``|G_i| + s_i Σ|G|``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fizzcheck.bounds.ops as ftol
from fizzcheck.bounds.graphs import Bounded
from fizzcheck.bounds.rounding import Side, gamma, sides
from fizzcheck.reference import ops as ref
from fizzcheck.reference import transforms as rt

__all__ = ["cross_entropy_sample_vjp_bound", "hvp_bound"]

Array = np.ndarray


class _BoundedF:
    """``F`` for the formulas on Bounded values: softmax as torch and the reference compute it."""

    @staticmethod
    def softmax(input: Bounded, dim: int) -> Bounded:
        e = (input - input.amax(dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)


def _exact(value: Any, side: Side) -> Bounded:
    return Bounded(value, 0.0, side)


def _rounded_once(value: Any, side: Side) -> Bounded:
    value = np.asarray(value, dtype=np.float64)
    return Bounded(value, side.u * np.abs(value) + side.floor, side)


def _side(op: str, x: Array, g: Any, v: Array, side: Side, kw: dict[str, Any]) -> Array:
    dim = kw.get("dim", -1)
    if op == "sigmoid":
        g = np.broadcast_to(np.asarray(g, dtype=np.float64), np.shape(x))
        return rt.sigmoid_hvp_formula(_BoundedF, _exact(x, side), _exact(g, side), _exact(v, side)).error
    if op == "softmax":
        return rt.softmax_hvp_formula(_BoundedF, _exact(x, side), _exact(g, side), _exact(v, side), dim=dim).error
    if op == "log_softmax":
        return rt.log_softmax_hvp_formula(_BoundedF, _exact(x, side), _exact(g, side), _exact(v, side), dim=dim).error
    reduction = kw.get("reduction", "mean")
    if op == "mse":
        scale = ref.unreduce(g, np.shape(x), reduction)
        return rt.mse_hvp_formula(_BoundedF, _rounded_once(scale, side), _exact(v, side)).error
    if op == "cross_entropy":
        big_g = rt.cross_entropy_cotangent(x, kw["target"], g, reduction)  # −g/N rounded once
        return rt.log_softmax_hvp_formula(_BoundedF, _exact(x, side), _rounded_once(big_g, side), _exact(v, side)).error
    raise ValueError(f"op={op!r} is not one of {rt.HVP_OPS}")


def hvp_bound(op: str, x: Array, g: Any, v: Array, *, dtype: str, **kw: Any) -> Array:
    """Bound on |torch's H v − the reference's| for one of :data:`~fizzcheck.reference.transforms.HVP_OPS`."""
    x, v = np.asarray(x, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return sum((_side(op, x, g, v, side, kw) for side in sides(dtype)), np.zeros(x.shape))


def cross_entropy_sample_vjp_bound(logits: Array, target: int, *, dtype: str, **options: Any) -> Array:
    """Bound on |torch's ∂loss/∂logits − the reference's| for one sample with torch's options."""
    logits = np.asarray(logits, dtype=np.float64)
    big_g = rt.cross_entropy_sample_cotangent(logits, target, **options)
    s = ref.softmax(logits)
    spread = np.abs(big_g) + s * np.sum(np.abs(big_g))
    torch_side, reference_side = sides(dtype)
    classes = logits.shape[-1]
    return (
        ftol.log_softmax_vjp_bound(logits, big_g, dtype=dtype)[0]
        + gamma(4, torch_side.u) * spread
        + gamma(classes + 8, reference_side.u) * spread
    )

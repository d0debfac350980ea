"""Error bounds for training: multi-step SGD trajectories and the FizzBuzz net's training step.

:mod:`fizzcheck.bounds.ops` bounds one op on inputs shared by the target and the
reference. Training chains ops and steps, so here the inputs of an op may already differ:
every quantity ``v`` carries a bound ``Δv >= |v_target − v_reference|``, and each op adds

    propagated error (how the op amplifies its inputs' Δ: exact algebra for products,
                      Lipschitz constants over the interval [v − Δv, v + Δv] otherwise)
  + local rounding   (the op's own bound from :mod:`fizzcheck.bounds.ops`, target + reference).

Products are propagated exactly: ``|âb̂ − ab| <= Δa (|b| + Δb) + |a| Δb``. Local rounding
terms take the operands' worst-case magnitudes ``|v| + Δv`` where an op's bound only
depends on magnitudes (sums, products, linear layers); for sigmoid, softmax and the
losses they are evaluated at the reference's point, which is a first-order
approximation: the target's point differs by Δ, changing an O(u) bound by a relative
O(Δ/|v|), i.e. by a second-order amount (the usual first-order analysis, Higham §3).

SGD (:class:`SGDErrorBound`). Per element, with ``c = γ_3(u_target) + γ_3(u_float64)``
(three roundings per line: the hyper-parameter rounded to the dtype, the product, the
sum; an FMA only removes roundings) and ``P = |θ| + E`` (bounds both |θ̂| and |θ|)::

    D  = λ E + c (|g| + λ P)                                   d = ±g + λθ
    F' = D                                    (first step: b ← d, a copy)
    F' = μ F + |1−τ| D + c (μ (|b| + F) + |1−τ| (|d| + D))       b ← μb + (1−τ)d
    N  = D + μ F' + c (|d| + D + μ (|b'| + F'))   (nesterov)     n ← d + μb
    N  = F' (momentum)   or   D (plain)
    E' = E + γ N + c (P + γ (|n| + N))                         θ ← θ − γn

E bounds the parameter, F its momentum buffer. The recursion for F' above is the one before
the hyper-parameters' own rounding was modelled in full; :class:`SGDErrorBound` adds to it
the cancellation term ``K`` derived below (F' = μF + |1−τ|D + c(…) + K).

Hyper-parameters rounded to the dtype. A kernel may round every scalar coefficient to its
compute type once before use (torch's CUDA fused SGD casts lr, momentum, weight_decay and
dampening to opmath_t, float for float32). With ``fl(h) = h(1 + δ)``, ``|δ| <= u``:

* γ, μ, λ: a relative error u, the first of the three roundings ``c`` counts on the lines
  that multiply by them (the coefficient, the product, the sum). Nothing to add.
* 1 − τ: a kernel that computes it from the rounded τ gets
  ``fl(1 − fl(τ)) = ((1 − τ) − τδ₁)(1 + δ₂)`` (δ₂ = 0 where Sterbenz makes the subtraction
  exact, τ in [1/2, 2]). ``(1 − τ)(1 + δ₂)`` is the coefficient rounded once, in ``c``; the
  rest, ``−τδ₁(1 + δ₂)``, is an *absolute* error of at most u|τ|(1 + u) in the coefficient —
  a relative error u|τ|/|1 − τ| of 1 − τ, unbounded as τ → 1 (cancellation), which ``c`` does
  not cover. It multiplies the target's direction (|d̂| <= |d| + D) and then passes through
  the product's and the sum's roundings, so the buffer gains at most
  ``K = u_target |τ| (1 + u)³ (|d| + D) <= u_target |τ| (1 + c) (|d| + D)``. The float64
  reference takes τ exactly (a Python float), so only the target side has K.

E bounds the parameter, F its momentum buffer. When the target is fed exactly the
reference's gradients (``p.grad = tensor(g)``) the only feedback is weight decay's λE
and momentum's μF: the bound is a sum of per-step rounding bounds, amplified by at
most (1 + γλ)(1 + μ) per step. Each line also adds an underflow floor.

FizzBuzz step (:func:`fizzbuzz_step_bounds`): forward, loss, backward and the plain SGD
update of the seed's network, starting from parameters that may already differ by
``param_error``; with zero ``param_error`` it bounds one step from identical weights, and
chained (feeding each step's ``new_params`` bound into the next) it bounds a whole run.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from fizzcheck.bounds import ops as op_bounds
from fizzcheck.bounds.rounding import elementwise_factor, sigmoid_slope_max, underflow_floor
from fizzcheck.dtypes import dtype_info
from fizzcheck.reference import net as ref_net
from fizzcheck.reference import ops
from fizzcheck.reference.optim import SGDUpdate

__all__ = [
    "SGD_DERIVATIVE_ROUNDINGS",
    "SIGMOID_SECOND_DERIVATIVE_MAX",
    "NetStepBounds",
    "SGDErrorBound",
    "fizzbuzz_step_bounds",
    "sgd_vjp_bound",
]

Array = np.ndarray

SIGMOID_SECOND_DERIVATIVE_MAX = 1.0 / (6.0 * np.sqrt(3.0))
"""max |σ''(x)| = 1/(6√3) ≈ 0.0962, attained at σ(x) = 1/2 ± 1/(2√3)."""


# --- SGD ------------------------------------------------------------------------------


class SGDErrorBound:
    """Running per-element bound on |target − reference| for SGD parameters and momentum buffers.

    Feed it every reference step's :class:`~fizzcheck.reference.optim.SGDUpdate` records
    (``fizzcheck.reference.optim.SGD.step()`` returns them); see the module docstring for
    the recursion.
    """

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.factor = elementwise_factor(3, dtype)
        self.floor = 3.0 * underflow_floor(dtype)
        self.unit_roundoff = dtype_info(dtype).unit_roundoff
        self._param: dict[Hashable, Array] = {}
        self._buffer: dict[Hashable, Array] = {}

    def param_bound(self, key: Hashable, shape: tuple[int, ...]) -> Array:
        """Bound for a parameter (zero until its first step: both sides start from the same values)."""
        return self._param.get(key, np.zeros(shape))

    def buffer_bound(self, key: Hashable) -> Array:
        return self._buffer[key]

    def load_buffer(self, key: Hashable, shape: tuple[int, ...]) -> None:
        """A momentum buffer put in place before a step (``load_state_dict``) with the same values
        on both sides: its bound starts at zero, like a parameter's."""
        self._buffer[key] = np.zeros(shape)

    def dampening_cancellation(self, dampening: float, direction: Array, d_err: Array) -> Array:
        """K of the module docstring: the buffer's error from a kernel that rounds τ to the dtype
        before forming 1 − τ, beyond the one rounding of the coefficient that ``c`` counts:
        |fl(τ) − τ| <= u|τ|, times |d̂| <= |d| + D, through the product's and the sum's
        roundings (<= 1 + c)."""
        return self.unit_roundoff * abs(dampening) * (1.0 + self.factor) * (np.abs(direction) + d_err)

    def step(self, updates: Mapping[Hashable, SGDUpdate]) -> None:
        c, floor = self.factor, self.floor
        for key, up in updates.items():
            h = up.hyper
            lr, momentum, dampening = abs(h["lr"]), abs(h["momentum"]), abs(1.0 - h["dampening"])
            wd = abs(h["weight_decay"])
            e = self.param_bound(key, up.param.shape)
            p_mag = np.abs(up.param) + e
            d_err = wd * e + c * (np.abs(up.grad) + wd * p_mag) + floor
            n_err = d_err
            if h["momentum"] != 0:
                if up.previous_buffer is None:
                    f_err = d_err  # the buffer is a copy of the target's own direction
                else:
                    f_prev = self._buffer[key]
                    f_err = (
                        momentum * f_prev
                        + dampening * d_err
                        + c
                        * (
                            momentum * (np.abs(up.previous_buffer) + f_prev)
                            + dampening * (np.abs(up.direction) + d_err)
                        )
                        + floor
                        + self.dampening_cancellation(h["dampening"], up.direction, d_err)
                    )
                self._buffer[key] = f_err
                assert up.buffer is not None
                if h["nesterov"]:
                    n_err = (
                        d_err
                        + momentum * f_err
                        + c * (np.abs(up.direction) + d_err + momentum * (np.abs(up.buffer) + f_err))
                        + floor
                    )
                else:
                    n_err = f_err
            self._param[key] = e + lr * n_err + c * (p_mag + lr * (np.abs(up.update) + n_err)) + floor


# --- the FizzBuzz net -----------------------------------------------------------------


@dataclass(frozen=True)
class NetStepBounds:
    """Bounds on |target − reference| for everything one training step produces."""

    scores: Array
    loss: float
    grads: dict[str, Array]
    new_params: dict[str, Array]


def _sigmoid_relative_coefficient(dtype: str) -> float:
    # sigmoid_bound at 0 is (relative coefficient) × σ(0) + floors: the coefficient, rounded up.
    return float(op_bounds.sigmoid_bound(np.zeros(1), dtype=dtype)[0] / 0.5)


def _sigmoid_forward(x: Array, y: Array, delta_x: Array, dtype: str) -> tuple[Array, Array]:
    """(propagated part, total) of Δσ(x): slope × Δx, plus the target's own rounding of σ(x̂)."""
    propagated = sigmoid_slope_max(x, delta_x) * delta_x
    return propagated, propagated * (1.0 + _sigmoid_relative_coefficient(dtype)) + op_bounds.sigmoid_bound(
        x, dtype=dtype
    )


def _sigmoid_backward(x: Array, y: Array, g: Array, delta_g: Array, propagated_y: Array, dtype: str) -> Array:
    """Δ of g·ŷ(1 − ŷ) (torch's sigmoid backward uses its forward output ŷ).

    ŷ(1 − ŷ) − y(1 − y) = (ŷ − y)(1 − ŷ − y), at most Δy|1 − 2y| + Δy² for the propagated
    part of Δy; the rounding of ŷ itself and the two products are in ``sigmoid_vjp_bound``.
    """
    slope = y * (1.0 - y)
    slope_change = propagated_y * np.abs(1.0 - 2.0 * y) + propagated_y**2
    local = op_bounds.sigmoid_vjp_bound(x, np.abs(g) + delta_g, dtype=dtype)[0]
    return delta_g * (slope + slope_change) + np.abs(g) * slope_change + local


def fizzbuzz_step_bounds(
    params: Mapping[str, Array],
    x: Array,
    target: Array,
    *,
    loss_name: str,
    lr: float,
    dtype: str,
    param_error: Mapping[str, Array] | None = None,
    reduction: str = "mean",
) -> NetStepBounds:
    """Bounds for one training step of the seed's net (forward, loss, backward, ``p − lr·g``).

    ``params`` are the reference's parameters; the target's may differ by ``param_error``
    (zero when both start from the same weights).
    """
    names = ref_net.PARAMETER_NAMES
    delta = {n: (np.zeros_like(params[n]) if param_error is None else np.asarray(param_error[n])) for n in names}
    w1, b1, w2, b2 = (np.asarray(params[n], dtype=np.float64) for n in names)
    d_w1, d_b1, d_w2, d_b2 = (delta[n] for n in names)
    mag_w1, mag_b1, mag_w2, mag_b2 = np.abs(w1) + d_w1, np.abs(b1) + d_b1, np.abs(w2) + d_w2, np.abs(b2) + d_b2
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target)
    fwd = ref_net.forward(params, x, loss_name=loss_name)
    g_scores = ref_net.loss_vjp(fwd, target, reduction=reduction)
    bwd = ref_net.backward(params, fwd, g_scores)

    # forward: hidden_pre = x W1ᵀ + b1 (x is exact), hidden = σ(hidden_pre)
    d_hidden_pre = np.abs(x) @ d_w1.T + d_b1 + op_bounds.linear_bound(x, mag_w1, mag_b1, dtype=dtype)
    prop_hidden, d_hidden = _sigmoid_forward(fwd.hidden_pre, fwd.hidden, d_hidden_pre, dtype)
    mag_hidden = np.abs(fwd.hidden) + d_hidden
    # logits = hidden W2ᵀ + b2
    d_logits = (
        d_hidden @ mag_w2.T
        + np.abs(fwd.hidden) @ d_w2.T
        + d_b2
        + op_bounds.linear_bound(mag_hidden, mag_w2, mag_b2, dtype=dtype)
    )
    rows, classes = fwd.logits.shape
    if loss_name == "mse":
        prop_scores, d_scores = _sigmoid_forward(fwd.logits, fwd.scores, d_logits, dtype)
        one_hot = ref_net.one_hot(target, classes)
        gap = np.abs(fwd.scores - one_hot)
        scale = 1.0 / (rows * classes) if reduction == "mean" else 1.0
        # (ŷ − t)² − (y − t)² = 2(y − t)δ + δ²
        d_loss = scale * float(np.sum(2.0 * gap * d_scores + d_scores**2))
        d_loss += float(op_bounds.mse_bound(gap + d_scores, np.zeros_like(gap), reduction, dtype=dtype))
        d_g_scores = (
            2.0 * scale * d_scores
            + op_bounds.mse_vjp_bound(gap + d_scores, np.zeros_like(gap), np.ones(()), reduction, dtype=dtype)[0]
        )
        d_g_logits = _sigmoid_backward(fwd.logits, fwd.scores, g_scores, d_g_scores, prop_scores, dtype)
    else:
        d_scores = d_logits
        scale = 1.0 / rows if reduction == "mean" else 1.0
        # log-sum-exp is 1-Lipschitz in the max-norm: |Δℓ_n| <= max_j Δz_nj + Δz_n,t_n
        worst = np.max(d_logits, axis=1)
        picked = d_logits[np.arange(rows), target]
        d_loss = scale * float(np.sum(worst + picked)) + float(
            op_bounds.cross_entropy_bound(fwd.logits, target, reduction, dtype=dtype)
        )
        # softmax(z + δ)_i / softmax(z)_i ∈ [e^(−2 max|δ|), e^(2 max|δ|)]
        softmax = ops.softmax(fwd.logits, dim=-1)
        d_g_logits = scale * softmax * np.expm1(2.0 * worst)[:, None]
        d_g_logits = (
            d_g_logits + op_bounds.cross_entropy_vjp_bound(fwd.logits, target, np.ones(()), reduction, dtype=dtype)[0]
        )

    # backward through the output layer: g_hidden = g W2, gW2 = gᵀ hidden, gb2 = Σ g
    g_logits = bwd.g_logits
    mag_g_logits = np.abs(g_logits) + d_g_logits
    local_hidden, local_w2, local_b2 = op_bounds.linear_vjp_bound(mag_hidden, mag_w2, mag_b2, mag_g_logits, dtype=dtype)
    d_g_hidden = d_g_logits @ mag_w2 + np.abs(g_logits) @ d_w2 + local_hidden
    d_grad_w2 = d_g_logits.T @ mag_hidden + np.abs(g_logits).T @ d_hidden + local_w2
    d_grad_b2 = np.sum(d_g_logits, axis=0) + local_b2
    # hidden sigmoid, then the first layer's weight and bias gradients (x is exact)
    d_g_hidden_pre = _sigmoid_backward(fwd.hidden_pre, fwd.hidden, bwd.g_hidden, d_g_hidden, prop_hidden, dtype)
    mag_g_hidden_pre = np.abs(bwd.g_hidden_pre) + d_g_hidden_pre
    _, local_w1, local_b1 = op_bounds.linear_vjp_bound(x, mag_w1, mag_b1, mag_g_hidden_pre, dtype=dtype)
    d_grad_w1 = d_g_hidden_pre.T @ np.abs(x) + local_w1
    d_grad_b1 = np.sum(d_g_hidden_pre, axis=0) + local_b1
    d_grads = {"hidden.weight": d_grad_w1, "hidden.bias": d_grad_b1, "out.weight": d_grad_w2, "out.bias": d_grad_b2}

    # update θ − lr·g: lr rounded to the dtype, one product, one subtraction
    c3, floor = elementwise_factor(3, dtype), 3.0 * underflow_floor(dtype)
    new_params = {}
    for n in names:
        grad = bwd.grads[n]
        d_grad = np.asarray(d_grads[n])
        magnitude = np.abs(params[n]) + delta[n] + abs(lr) * (np.abs(grad) + d_grad)
        new_params[n] = delta[n] + abs(lr) * d_grad + c3 * magnitude + floor
    return NetStepBounds(scores=d_scores, loss=d_loss, grads=d_grads, new_params=new_params)


# --- SGD(differentiable=True): the vector-Jacobian products of one step ----------------

SGD_DERIVATIVE_ROUNDINGS = 13
"""Roundings in one term of a computed VJP of an SGD step (see :func:`sgd_vjp_bound`)."""


def sgd_vjp_bound(
    magnitude_param: float, magnitude_buffer: float | None, v_param: Array, v_buffer: Array | None, dtype: str
) -> Array:
    """Bound on |computed − exact| of one input's VJP through one SGD step, per element.

    The VJP for an input x is ``J_θ'x v_θ' + J_b'x v_b'`` with scalar Jacobians
    (:class:`fizzcheck.reference.optim.SGDDerivatives`); autograd forms it as a sum over the
    paths x → … → output of v times the path's factors. A path has at most 4 factors (γ, λ, μ and
    μ or 1 − τ: θ → d → b' → n → θ'), each rounded to the dtype (4) and multiplied in (4); the
    paths meet in at most 5 additions (θ' ← θ and n; n ← d and b'; b' ← b and d; d ← g and θ; the
    two outputs' cotangents). So every term carries at most k = 13 roundings and the error is at
    most γ_k Σ_paths |product| |v| (Higham §3.1) on each side — target in ``dtype`` and the
    float64 reference — plus an underflow floor per rounding. ``magnitude_*`` are those sums
    (``SGDDerivatives.magnitude``) for the parameter's and the buffer's output (None: no such
    output or no path from x to it).
    """
    k = SGD_DERIVATIVE_ROUNDINGS
    total = magnitude_param * np.abs(np.asarray(v_param, dtype=np.float64))
    if magnitude_buffer is not None and v_buffer is not None:
        total = total + magnitude_buffer * np.abs(np.asarray(v_buffer, dtype=np.float64))
    return elementwise_factor(k, dtype) * total + k * underflow_floor(dtype)

"""The seed's FizzBuzz network with hand-coded backprop, built from :mod:`reference.ops`.

Two layers, as in the chapter's ``FizBuzNet``::

    hidden = σ(x W1ᵀ + b1)          (input_size → hidden_size)
    logits = hidden W2ᵀ + b2        (hidden_size → output_size)
    scores = σ(logits)  for the chapter's MSE loss against one-hot targets
           = logits     for softmax + cross-entropy against class indices

Parameters use torch's names and layout (``nn.Linear`` stores weights as
(out_features, in_features)), so a reference parameter dict and a ``FizzBuzzNet``
``state_dict`` have the same keys, shapes and values. Each pass has its backward next
to it; the whole backward is the chain of the ops' VJPs in reverse order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fizzcheck.errors import InvalidArgument
from fizzcheck.reference import ops

__all__ = [
    "LOSSES",
    "PARAMETER_NAMES",
    "Backward",
    "Forward",
    "backward",
    "forward",
    "forward_vjp",
    "init_parameters",
    "loss",
    "loss_and_gradients",
    "loss_vjp",
    "one_hot",
    "sgd_step",
]

PARAMETER_NAMES = ("hidden.weight", "hidden.bias", "out.weight", "out.bias")
"""Parameter names in registration order, as ``FizzBuzzNet.named_parameters()`` yields them."""

LOSSES = ("mse", "cross_entropy")
"""``mse``: the chapter's sigmoid outputs against one-hot targets; ``cross_entropy``: softmax + CE on logits."""

Array = np.ndarray
Parameters = Mapping[str, Array]


def _check_loss(loss_name: str) -> None:
    if loss_name not in LOSSES:
        raise InvalidArgument(f"loss={loss_name!r} is not one of {LOSSES}")


def init_parameters(
    input_size: int, hidden_size: int, output_size: int, *, rng: np.random.Generator
) -> dict[str, Array]:
    """``nn.Linear``'s default distribution: every entry ~ U(−1/√fan_in, 1/√fan_in)."""
    params = {}
    for layer, (fan_in, fan_out) in (("hidden", (input_size, hidden_size)), ("out", (hidden_size, output_size))):
        bound = 1.0 / np.sqrt(fan_in)
        params[f"{layer}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in))
        params[f"{layer}.bias"] = rng.uniform(-bound, bound, fan_out)
    return params


def one_hot(target: Array, classes: int) -> Array:
    """(N,) class indices → (N, classes) float64 one-hot rows (the chapter's MSE targets)."""
    out = np.zeros((len(target), classes))
    out[np.arange(len(target)), target] = 1.0
    return out


# --- network --------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """Every intermediate of one forward pass (float64), kept for the backward pass."""

    x: Array
    hidden_pre: Array
    hidden: Array
    logits: Array
    scores: Array
    loss_name: str


def forward(params: Parameters, x: Array, *, loss_name: str) -> Forward:
    _check_loss(loss_name)
    x = np.asarray(x, dtype=np.float64)
    hidden_pre = ops.linear(x, params["hidden.weight"], params["hidden.bias"])
    hidden = ops.sigmoid(hidden_pre)
    logits = ops.linear(hidden, params["out.weight"], params["out.bias"])
    scores = ops.sigmoid(logits) if loss_name == "mse" else logits
    return Forward(x, hidden_pre, hidden, logits, scores, loss_name)


@dataclass(frozen=True)
class Backward:
    """Every cotangent of one backward pass (float64) and the parameter gradients."""

    g_logits: Array
    g_hidden: Array
    g_hidden_pre: Array
    grads: dict[str, Array]


def backward(params: Parameters, fwd: Forward, g_scores: Array) -> Backward:
    """The backward pass of :func:`forward` for the cotangent ``g_scores``, intermediates included."""
    g_logits = (
        ops.sigmoid_vjp(fwd.logits, g_scores)[0] if fwd.loss_name == "mse" else np.asarray(g_scores, dtype=np.float64)
    )
    g_hidden, g_out_w, g_out_b = ops.linear_vjp(fwd.hidden, params["out.weight"], params["out.bias"], g_logits)
    (g_hidden_pre,) = ops.sigmoid_vjp(fwd.hidden_pre, g_hidden)
    # The input needs no gradient, so the first layer's backward is W's and b's VJP only
    # (the two products ops.linear_vjp forms for them, without g W w.r.t. x).
    g_hidden_w = ops.matmul(g_hidden_pre.T, fwd.x)
    g_hidden_b = ops.sum_to_shape(g_hidden_pre, params["hidden.bias"].shape)
    grads = {"hidden.weight": g_hidden_w, "hidden.bias": g_hidden_b, "out.weight": g_out_w, "out.bias": g_out_b}
    return Backward(g_logits, g_hidden, g_hidden_pre, grads)  # type: ignore[arg-type]


def forward_vjp(params: Parameters, fwd: Forward, g_scores: Array) -> dict[str, Array]:
    """Gradients of ``sum(g_scores * scores)`` with respect to every parameter."""
    return backward(params, fwd, g_scores).grads


# --- loss -----------------------------------------------------------------------------


def loss(fwd: Forward, target: Array, *, reduction: str = "mean") -> float:
    """MSE of the scores against one-hot targets, or cross-entropy of the logits."""
    if fwd.loss_name == "mse":
        return float(ops.mse(fwd.scores, one_hot(target, fwd.scores.shape[-1]), reduction))
    return float(ops.cross_entropy(fwd.scores, np.asarray(target), reduction))


def loss_vjp(fwd: Forward, target: Array, *, reduction: str = "mean") -> Array:
    """d loss / d scores (the loss's own cotangent is 1)."""
    one = np.ones(())
    if fwd.loss_name == "mse":
        return ops.mse_vjp(fwd.scores, one_hot(target, fwd.scores.shape[-1]), one, reduction)[0]
    return ops.cross_entropy_vjp(fwd.scores, np.asarray(target), one, reduction)[0]


def loss_and_gradients(
    params: Parameters, x: Array, target: Array, *, loss_name: str, reduction: str = "mean"
) -> tuple[Forward, float, dict[str, Array]]:
    fwd = forward(params, x, loss_name=loss_name)
    value = loss(fwd, target, reduction=reduction)
    grads = forward_vjp(params, fwd, loss_vjp(fwd, target, reduction=reduction))
    return fwd, value, grads


def sgd_step(params: Parameters, grads: Parameters, lr: float) -> dict[str, Array]:
    """The chapter's manual update ``p -= lr * p.grad``, for every parameter."""
    return {name: params[name] - lr * grads[name] for name in PARAMETER_NAMES}

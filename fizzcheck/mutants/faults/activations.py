"""Activation faults: sigmoid, softmax and log_softmax slips in the forward or the backward pass."""

from __future__ import annotations

import math
from typing import Any

import torch

from fizzcheck.mutants.fault import AUTOGRAD, OPS, Fault
from fizzcheck.mutants.faults.inputs import f64, grad_of
from fizzcheck.mutants.planting import op_faults

__all__ = [
    "CATEGORY",
    "FAULTS",
    "LOG_SOFTMAX_BACKWARD_SUMS_LAST_DIM",
    "SIGMOID_BACKWARD_TANH_DERIVATIVE",
    "SIGMOID_OFF_BY_30_ULPS",
    "SOFTMAX_BACKWARD_DROPS_SUM_TERM",
    "SOFTMAX_WITHOUT_MAX_SUBTRACTION",
]

CATEGORY = "activations"


# --- sigmoid_off_by_30_ulps -----------------------------------------------------------------


def _sigmoid_off_by_30_ulps(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    out = func(*args, **kwargs)
    ulp = torch.nextafter(out, torch.full_like(out, math.inf)) - out
    return out + 30 * ulp


def _witness_sigmoid_ulps() -> bool:
    got = torch.sigmoid(f64(0.5)).item()
    want = 1.0 / (1.0 + math.exp(-0.5))
    return abs(got - want) > 4 * math.ulp(want)


SIGMOID_OFF_BY_30_ULPS = Fault(
    "sigmoid_off_by_30_ulps",
    CATEGORY,
    "sigmoid's result is 30 ulps too large (a sloppy exp approximation).",
    (OPS, AUTOGRAD),
    plant=op_faults({"sigmoid": _sigmoid_off_by_30_ulps}),
    check=_witness_sigmoid_ulps,
)


# --- sigmoid_backward_tanh_derivative -------------------------------------------------------


def _sigmoid_backward_tanh(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    grad, out = args[0], args[1]
    return grad * (1 - out * out)  # tanh's derivative, 1 − y², pasted into sigmoid's backward


def _witness_sigmoid_backward() -> bool:
    return grad_of(torch.sigmoid, f64(0.0), f64(1.0)).item() != 0.25


SIGMOID_BACKWARD_TANH_DERIVATIVE = Fault(
    "sigmoid_backward_tanh_derivative",
    CATEGORY,
    "sigmoid's backward uses tanh's derivative 1 − y² instead of y (1 − y) (a copy-paste slip).",
    (OPS, AUTOGRAD),
    plant=op_faults({"sigmoid_backward": _sigmoid_backward_tanh}),
    check=_witness_sigmoid_backward,
)


# --- softmax_backward_drops_sum_term --------------------------------------------------------


def _softmax_backward_without_sum(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    grad, out = args[0], args[1]
    return grad * out  # only the diagonal of the Jacobian: the − y Σ g·y term is missing


def _witness_softmax_backward() -> bool:
    grad = grad_of(lambda t: torch.softmax(t, 0), f64(0.0, 0.0), f64(1.0, 0.0))
    return grad.tolist() != [0.25, -0.25]


SOFTMAX_BACKWARD_DROPS_SUM_TERM = Fault(
    "softmax_backward_drops_sum_term",
    CATEGORY,
    "softmax's backward returns g ⊙ y, the Jacobian's diagonal only, missing − y Σ(g ⊙ y).",
    (OPS, AUTOGRAD),
    plant=op_faults({"_softmax_backward_data": _softmax_backward_without_sum}),
    check=_witness_softmax_backward,
)


# --- log_softmax_backward_sums_last_dim -----------------------------------------------------


def _log_softmax_backward_last_dim(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    grad, out = args[0], args[1]
    return grad - out.exp() * grad.sum(-1, keepdim=True)  # sums over the last dim, whatever dim was


def _witness_log_softmax_backward() -> bool:
    grad = grad_of(
        lambda t: torch.log_softmax(t, 0), torch.zeros(2, 3, dtype=torch.float64), torch.ones(2, 3, dtype=torch.float64)
    )
    return bool(grad.abs().max() > 1e-12)


LOG_SOFTMAX_BACKWARD_SUMS_LAST_DIM = Fault(
    "log_softmax_backward_sums_last_dim",
    CATEGORY,
    "log_softmax's backward sums the cotangent over the last dimension instead of the softmax dimension.",
    (OPS, AUTOGRAD),
    plant=op_faults({"_log_softmax_backward_data": _log_softmax_backward_last_dim}),
    check=_witness_log_softmax_backward,
)


# --- softmax_without_max_subtraction --------------------------------------------------------


def _softmax_without_max(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dim = args[0], args[1]
    e = x.exp()
    return e / e.sum(dim, keepdim=True)


def _log_softmax_without_max(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dim = args[0], args[1]
    return x - x.exp().sum(dim, keepdim=True).log()


def _witness_softmax_overflow() -> bool:
    return not torch.equal(torch.softmax(f64(1000.0, 0.0), 0), f64(1.0, 0.0))


SOFTMAX_WITHOUT_MAX_SUBTRACTION = Fault(
    "softmax_without_max_subtraction",
    CATEGORY,
    "softmax and log_softmax compute exp(x) / Σ exp(x) without subtracting the maximum first "
    "(overflows to inf/NaN for large logits).",
    (OPS, AUTOGRAD),
    plant=op_faults({"_softmax": _softmax_without_max, "_log_softmax": _log_softmax_without_max}),
    check=_witness_softmax_overflow,
)


FAULTS = (
    SIGMOID_OFF_BY_30_ULPS,
    SIGMOID_BACKWARD_TANH_DERIVATIVE,
    SOFTMAX_BACKWARD_DROPS_SUM_TERM,
    LOG_SOFTMAX_BACKWARD_SUMS_LAST_DIM,
    SOFTMAX_WITHOUT_MAX_SUBTRACTION,
)

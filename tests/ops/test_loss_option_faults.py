"""The loss-option properties fail on faults injected into torch's losses and softmax.

Each fault is a :class:`fizzcheck.targets.Target` that overrides one name (docs/targets.md)
with a plausible wrong implementation of an option; the property's check function runs
against it on fixed inputs and must raise, while torch eager (the control) passes the same
check on the same inputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fizzcheck.dtypes import round_to
from fizzcheck.errors import BoundExceeded
from fizzcheck.targets import Target
from properties.test_loss_options import check_cross_entropy_options, check_mse_broadcast, check_softmax_dtype

RNG = np.random.default_rng(12)


def _exact(values: np.ndarray, dtype: str = "float32") -> np.ndarray:
    """Inputs exactly representable in ``dtype``, as the properties' strategies draw them."""
    return round_to(values, dtype)


LOGITS = _exact(RNG.normal(size=(6, 4)) * 2)
LABELS = np.array([0, 1, 3, 3, 2, 1])
WEIGHT = _exact(np.array([0.25, 2.0, 1.0, 1.5]))  # Σ w_{t_n} = 0.25 + 2 + 1.5 + 1.5 + 1 + 2 = 8.25 ≠ N = 6


def _overriding(name: str, replacement) -> Target:
    class Faulty(Target):
        def overrides(self):
            return {name: replacement}

    Faulty.name = f"faulty-{name}"
    return Faulty()


def _class_dim(input: torch.Tensor) -> int:
    return 0 if input.dim() == 1 else 1


def _check_ce(target: Target, reduction: str, **options) -> None:
    kw = {"weight": None, "ignore_index": -100, "label_smoothing": 0.0} | options
    g = _exact(RNG.normal(size=LABELS.shape)) if reduction == "none" else np.array(0.75)
    check_cross_entropy_options(
        target,
        LOGITS,
        kw.pop("labels", LABELS),
        g,
        **kw,
        reduction=reduction,
        variant="F.cross_entropy",
        device="cpu",
        dtype="float32",
        layout="contiguous",
    )


# --- (i) a weighted mean that divides by N instead of the summed weight ------------------------


def _mean_over_n(input, target, weight=None, reduction="mean", **kw):
    if reduction != "mean" or weight is None:
        return F.cross_entropy(input, target, weight=weight, reduction=reduction, **kw)
    return F.cross_entropy(input, target, weight=weight, reduction="sum", **kw) / target.numel()


@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_property_catches_a_weighted_mean_over_n(label_smoothing):
    options = {"weight": WEIGHT, "label_smoothing": label_smoothing}
    _check_ce(Target(), "mean", **options)  # control
    with pytest.raises(BoundExceeded, match=r"F\.cross_entropy"):
        _check_ce(_overriding("F.cross_entropy", _mean_over_n), "mean", **options)


# --- (ii) label smoothing that forgets the class weights -----------------------------------------


def _smoothing_without_weight(input, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0):
    nll = F.cross_entropy(input, target, weight=weight, reduction=reduction, ignore_index=ignore_index)
    if not label_smoothing:
        return nll
    dim = _class_dim(input)
    smooth = -torch.log_softmax(input, dim).sum(dim)  # the fault: Σ_c w_c (−log p_c) without w_c
    ignored = target == ignore_index
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "mean":
        kept = target[~ignored]
        smooth = smooth.sum() / (weight[kept].sum() if weight is not None else kept.numel())
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / input.shape[dim])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_property_catches_label_smoothing_without_the_weight(reduction):
    options = {"weight": WEIGHT, "label_smoothing": 0.25}
    _check_ce(Target(), reduction, **options)
    # the fault is only in the smoothing term: without smoothing it is torch itself
    _check_ce(_overriding("F.cross_entropy", _smoothing_without_weight), reduction, weight=WEIGHT)
    with pytest.raises(BoundExceeded, match=r"F\.cross_entropy"):
        _check_ce(_overriding("F.cross_entropy", _smoothing_without_weight), reduction, **options)


# --- (iii) ignored targets counted in the mean's denominator -------------------------------------


def _ignored_in_denominator(input, target, weight=None, reduction="mean", ignore_index=-100, **kw):
    if reduction != "mean":
        return F.cross_entropy(input, target, weight=weight, reduction=reduction, ignore_index=ignore_index, **kw)
    total = F.cross_entropy(input, target, weight=weight, reduction="sum", ignore_index=ignore_index, **kw)
    return total / target.numel()  # the fault: every sample, ignored or not


@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_property_catches_ignored_targets_in_the_mean(label_smoothing):
    options = {"ignore_index": 3, "label_smoothing": label_smoothing}  # LABELS has two 3s
    _check_ce(Target(), "mean", **options)
    _check_ce(_overriding("F.cross_entropy", _ignored_in_denominator), "mean", label_smoothing=label_smoothing)
    with pytest.raises(BoundExceeded, match=r"F\.cross_entropy"):
        _check_ce(_overriding("F.cross_entropy", _ignored_in_denominator), "mean", **options)


def test_all_ignored_mean_is_nan_in_torch_and_the_reference():
    """The control for the 0/0 case the strategies draw: torch and the reference agree (NaN, zero gradient)."""
    _check_ce(Target(), "mean", labels=np.full(6, 2), ignore_index=2, weight=WEIGHT, label_smoothing=0.25)


# --- (iv) softmax(dtype=) that computes in the input's dtype and casts afterwards ---------------


def _cast_after(fn):
    def late(input, dim, dtype=None):
        out = fn(input, dim)
        return out if dtype is None else out.to(dtype)  # the fault: the op ran in input's dtype

    return late


X16 = _exact(RNG.normal(size=(3, 5, 4)) * 3, "float16")
G64 = _exact(RNG.normal(size=(3, 5, 4)), "float32")


@pytest.mark.parametrize("dtype_arg", ["float32", "float64"])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_property_catches_dtype_applied_after_the_op(fn, dtype_arg):
    kw = {"fn": fn, "variant": "torch", "dim": 1, "dtype_arg": dtype_arg, "device": "cpu", "dtype": "float16"}
    check_softmax_dtype(Target(), X16, G64, layout="contiguous", **kw)
    faulty = _overriding(f"torch.{fn}", _cast_after(getattr(torch, fn)))
    with pytest.raises(BoundExceeded, match=rf"torch\.{fn}"):
        check_softmax_dtype(faulty, X16, G64, layout="contiguous", **kw)


# --- (v) mse_loss that ignores broadcasting --------------------------------------------------


def _mse_without_broadcasting(input, target, reduction="mean"):
    if input.shape != target.shape:
        warnings.warn("Using a target size that is different to the input size.", UserWarning, stacklevel=2)
    loss = (input.reshape(target.shape) - target) ** 2  # the fault: pairs elements up instead of broadcasting
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_mse_property_catches_a_loss_that_ignores_broadcasting(reduction):
    x, y = _exact(RNG.normal(size=(4, 1))), _exact(RNG.normal(size=(4,)))  # broadcast: (4, 4)
    g = _exact(RNG.normal(size=(4, 4))) if reduction == "none" else np.array(1.25)
    kw = {"reduction": reduction, "variant": "F.mse_loss", "device": "cpu", "dtype": "float32", "layout": "contiguous"}
    check_mse_broadcast(Target(), x, y, g, **kw)
    faulty = _overriding("F.mse_loss", _mse_without_broadcasting)
    check_mse_broadcast(faulty, x, x, g[:, :1] if reduction == "none" else g, **kw)  # same shapes: no fault
    with pytest.raises(BoundExceeded, match="mse_loss"):
        check_mse_broadcast(faulty, x, y, g, **kw)

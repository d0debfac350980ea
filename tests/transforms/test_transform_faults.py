"""The transform and module-state properties fail on faults injected into a copy of the computation.

Each fault is a :class:`fizzcheck.targets.Target` that overrides one name (docs/targets.md);
the property's check function runs against it on fixed inputs and must raise, while torch
eager (the control) passes the same check on the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._pytree import tree_map

from fizzcheck.dtypes import round_to
from fizzcheck.errors import BoundExceeded
from fizzcheck.targets import Target
from properties.test_module_state import (
    check_conversion,
    check_load_state_dict,
    check_load_state_dict_strict,
    check_requires_grad_and_traversals,
)
from properties.test_transforms import (
    check_first_order,
    check_hvp,
    check_per_sample_layer_grad,
    check_per_sample_loss_grad,
)

RNG = np.random.default_rng(12)


def _exact(values: np.ndarray) -> np.ndarray:
    """Inputs exactly representable in float32, as the properties' strategies draw them."""
    return round_to(values, "float32")


X = _exact(RNG.normal(size=(3, 4)) * 2 * 2)
G = _exact(RNG.normal(size=(3, 4)))
V = _exact(RNG.normal(size=(3, 4)))


# --- a wrong second derivative: σ'' with a sign error (σ' itself is right) -------------------


class _SigmoidPrime(torch.autograd.Function):
    @staticmethod
    def forward(x):
        s = torch.sigmoid(x)
        return s * (1 - s)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return g * s * (1 - s) * (2 * s - 1)  # the fault: σ'' = σ'(1 − 2σ), sign flipped


class _Sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return torch.sigmoid(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _SigmoidPrime.apply(x)


class WrongSecondDerivative(Target):
    name = "wrong-sigmoid-second-derivative"

    def overrides(self):
        return {"torch.sigmoid": _Sigmoid.apply}


@pytest.mark.parametrize("mode", ["create_graph", "grad(<grad, v>)"])
def test_hvp_property_catches_a_sign_error_in_the_second_derivative(mode):
    kw = {"op": "sigmoid", "x": X, "g": G, "v": V, "mode": mode, "extra": {"dim": None}, "device": "cpu"}
    check_hvp(Target(), dtype="float64", **kw)  # control
    with pytest.raises(BoundExceeded, match="H·v of sigmoid"):
        check_hvp(WrongSecondDerivative(), dtype="float64", **kw)


def test_the_wrong_second_derivative_keeps_the_first_derivative_right():
    """The fault is only second order: a first-order gradient through it is still correct."""
    check_first_order(WrongSecondDerivative(), "sigmoid", "vjp", [X], G, device="cpu", dtype="float64")


# --- a per-sample gradient that leaks across samples: vmap computed on the batch mean --------


def leaky_vmap(f, in_dims=0, *args, **kwargs):
    """A broken vmap: runs f once on the mean sample (the first sample for integer inputs) and copies it."""

    def run(*inputs):
        dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(inputs)
        batch = next(x.shape[d] for x, d in zip(inputs, dims, strict=True) if d is not None)
        pooled = [
            x if d is None else (x.mean(dim=d) if x.is_floating_point() else x.select(d, 0))
            for x, d in zip(inputs, dims, strict=True)
        ]
        return tree_map(lambda out: out.unsqueeze(0).expand(batch, *out.shape), f(*pooled))

    return run


class LeakyVmap(Target):
    name = "leaky-vmap"

    def overrides(self):
        return {"func.vmap": leaky_vmap}


@pytest.mark.parametrize("layer", ["sigmoid", "softmax", "log_softmax"])
def test_per_sample_layer_property_catches_gradients_leaking_across_samples(layer):
    check_per_sample_layer_grad(Target(), layer, X, G, device="cpu", dtype="float32")
    with pytest.raises(BoundExceeded, match="sample"):
        check_per_sample_layer_grad(LeakyVmap(), layer, X, G, device="cpu", dtype="float32")


def test_per_sample_linear_property_catches_gradients_leaking_across_samples():
    w, b = _exact(RNG.normal(size=(2, 4))), _exact(RNG.normal(size=2))
    g = _exact(RNG.normal(size=(3, 2)))
    check_per_sample_layer_grad(Target(), "linear", X, g, w, b, device="cpu", dtype="float32")
    with pytest.raises(BoundExceeded, match="sample"):
        check_per_sample_layer_grad(LeakyVmap(), "linear", X, g, w, b, device="cpu", dtype="float32")


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_per_sample_loss_property_catches_gradients_leaking_across_samples(loss):
    if loss == "mse":
        y, options = _exact(RNG.normal(size=(3, 4))), {"reduction": "mean"}
    else:
        y = np.array([0, 2, 3])
        options = {"reduction": "mean", "weight": None, "label_smoothing": 0.125, "ignore_index": -100}
    check_per_sample_loss_grad(Target(), loss, X, y, options=options, device="cpu", dtype="float32")
    with pytest.raises(BoundExceeded, match="sample"):
        check_per_sample_loss_grad(LeakyVmap(), loss, X, y, options=options, device="cpu", dtype="float32")


# --- a jvp with a wrong tangent --------------------------------------------------------------


def skewed_jvp(f, primals, tangents, **kwargs):
    """A broken jvp: the tangent is scaled by 1 + 2⁻⁸ before it is pushed forward."""
    return torch.func.jvp(f, primals, tuple(t * (1 + 2.0**-8) for t in tangents), **kwargs)


class SkewedJvp(Target):
    name = "skewed-jvp"

    def overrides(self):
        return {"func.jvp": skewed_jvp}


@pytest.mark.parametrize("function", ["sigmoid", "softmax", "mse_loss"])
def test_jvp_property_catches_a_wrong_tangent(function):
    inputs = [X, G] if function == "mse_loss" else [X]
    check_first_order(Target(), function, "jvp", inputs, V, device="cpu", dtype="float32")
    with pytest.raises(BoundExceeded, match="jvp"):
        check_first_order(SkewedJvp(), function, "jvp", inputs, V, device="cpu", dtype="float32")


def test_forward_over_reverse_hvp_catches_a_wrong_tangent():
    kw = {"op": "log_softmax", "x": X, "g": G, "v": V, "mode": "jvp(grad)", "extra": {"dim": -1}, "device": "cpu"}
    check_hvp(Target(), dtype="float32", **kw)
    with pytest.raises(BoundExceeded, match="jvp"):
        check_hvp(SkewedJvp(), dtype="float32", **kw)


# --- load_state_dict that breaks parameter identity or drops requires_grad ---------------------


class _ReplacingLinear(torch.nn.Linear):
    """Loads by replacing its Parameters (assign semantics even for assign=False)."""

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        for name in ("weight", "bias"):
            old = getattr(self, name)
            setattr(self, name, torch.nn.Parameter(old.detach().clone(), requires_grad=old.requires_grad))


class _FreezingLinear(torch.nn.Linear):
    """Loads correctly, then leaves its parameters without requires_grad."""

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        for p in self.parameters(recurse=False):
            p.requires_grad_(False)


class ReplacingLinear(Target):
    name = "replacing-linear"

    def overrides(self):
        return {"nn.Linear": _ReplacingLinear}


class FreezingLinear(Target):
    name = "freezing-linear"

    def overrides(self):
        return {"nn.Linear": _FreezingLinear}


def _state_values(kind: str) -> dict:
    from properties.test_module_state import build_module

    return {
        n: _exact(RNG.normal(size=p.shape)) for n, p in build_module(Target(), kind, dtype="float32").named_parameters()
    }


@pytest.mark.parametrize("kind", ["Linear", "Sequential", "FizzBuzzNet"])
@pytest.mark.parametrize(("fault", "message"), [(ReplacingLinear, "identity lost"), (FreezingLinear, "requires_grad")])
def test_load_state_dict_property_catches_broken_identity_and_dropped_requires_grad(kind, fault, message):
    kw = {"kind": kind, "values": _state_values(kind), "assign": False, "frozen": [], "source_dtype": "float32"}
    check_load_state_dict(Target(), device="cpu", dtype="float32", **kw)
    with pytest.raises(AssertionError, match=message):
        check_load_state_dict(fault(), device="cpu", dtype="float32", **kw)


# --- conversions, strict loading and requires_grad_ -------------------------------------------


class _RewrappingLinear(torch.nn.Linear):
    """Converts by building new Parameters (optimizers holding the old ones would update nothing)."""

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        for name in ("weight", "bias"):
            old = getattr(self, name)
            setattr(self, name, torch.nn.Parameter(old.detach(), requires_grad=old.requires_grad))
        return self


class _SilentLinear(torch.nn.Linear):
    """Loads, but does not report its missing keys."""

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, *args, **kwargs)
        missing_keys[:] = [k for k in missing_keys if not k.startswith(prefix)]


class _HalfFrozenLinear(torch.nn.Linear):
    """requires_grad_ that forgets the bias."""

    def requires_grad_(self, requires_grad=True):
        self.weight.requires_grad_(requires_grad)
        return self


def _linear_target(cls):
    class Faulty(Target):
        name = cls.__name__

        def overrides(self):
            return {"nn.Linear": cls}

    return Faulty()


def test_conversion_property_catches_new_parameter_objects():
    kw = {"kind": "Sequential", "conversion": "double", "frozen": [], "with_grad": True, "device": "cpu"}
    check_conversion(Target(), **kw)
    with pytest.raises(AssertionError, match="new Parameter object"):
        check_conversion(_linear_target(_RewrappingLinear), **kw)


def test_strict_property_catches_unreported_missing_keys():
    kw = {"kind": "FizzBuzzNet", "drop": ["out.bias"], "extra": [], "strict": False, "device": "cpu"}
    check_load_state_dict_strict(Target(), **kw)
    with pytest.raises(AssertionError, match="missing_keys="):
        check_load_state_dict_strict(_linear_target(_SilentLinear), **kw)


def test_requires_grad_property_catches_a_forgotten_parameter():
    check_requires_grad_and_traversals(Target(), "Linear", False, device="cpu")
    with pytest.raises(AssertionError, match="missed a parameter"):
        check_requires_grad_and_traversals(_linear_target(_HalfFrozenLinear), "Linear", False, device="cpu")

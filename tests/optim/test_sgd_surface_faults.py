"""The optim.SGD surface properties fail on faults injected into a copy of the computation.

Each fault is a :class:`fizzcheck.targets.Target` that overrides ``optim.SGD`` with a subclass of
torch's (docs/targets.md); the property's check function runs against it on fixed inputs and must
raise, while a control passes the same check on the same inputs: torch eager, or, where torch
itself has the registered defect the check finds (``optim-load-state-dict-aliases``), a subclass
that does what torch's documentation and its own helper's docstring say (a copying load).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

from fizzcheck.errors import BoundExceeded
from fizzcheck.history.defects import DEFECTS, state
from fizzcheck.targets import Target
from properties import test_optim_surface as surface
from properties.test_optim_surface import (
    check_differentiable_step,
    check_sgd_surface,
    check_state_dict_independence,
    check_zero_grad,
)

PLAIN = "foreach=False"  # a replacement SGD is called with torch's one-tensor-at-a-time arguments


def _sgd_target(cls: type) -> Target:
    class Faulty(Target):
        name = cls.__name__

        def overrides(self):
            return {"optim.SGD": cls}

    return Faulty()


# --- (i) an update that is wrong for one layout only ------------------------------------------


class _NoDecayWhenStrided(torch.optim.SGD):
    """Skips weight decay for non-contiguous parameters (cancels it in the gradient it reads)."""

    @torch.no_grad()
    def step(self, closure=None):
        saved = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and not p.is_contiguous() and group["weight_decay"] != 0:
                    saved[p] = p.grad
                    p.grad = p.grad - group["weight_decay"] * p
        loss = super().step(closure)
        for p, grad in saved.items():
            p.grad = grad
        return loss


class _UpdatesACopy(torch.optim.SGD):
    """Updates non-contiguous parameters through a contiguous copy, then rebinds ``.data``: the
    values are right, but the caller's view (its storage, strides) is no longer what is updated."""

    @torch.no_grad()
    def step(self, closure=None):
        originals = {}
        for group in self.param_groups:
            for p in group["params"]:
                if not p.is_contiguous():
                    originals[p] = p.data
                    p.data = p.data.contiguous()
        return super().step(closure)


def _trajectory(param_layout: str, weight_decay: float) -> dict:
    values = np.arange(1.0, 13.0).reshape(3, 4) / 4.0
    hyper = {
        "lr": 0.5,
        "momentum": 0.5,
        "dampening": 0.0,
        "weight_decay": weight_decay,
        "nesterov": False,
        "maximize": False,
    }
    return {
        "shapes": [(3, 4), (3, 4)],
        "initial": np.concatenate([values.ravel(), -values.ravel()]),
        "grads": np.stack([np.concatenate([values[::-1].ravel(), values.ravel()])] * 2),
        "has_grad": np.ones((2, 2), dtype=bool),
        "groups": [{"params": [0, 1]}],
        "defaults": hyper,
        "param_layouts": ["contiguous", param_layout],
        "grad_layouts": ["contiguous", param_layout],
        "buffer_layouts": [None, None],
        "buffers": np.zeros(24),
        "tensor_lr": False,
        "implementation": PLAIN,
        "device": "cpu",
        "dtype": "float32",
    }


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_trajectory_property_catches_weight_decay_skipped_for_one_layout(layout):
    check_sgd_surface(Target(), **_trajectory(layout, 0.25))  # control
    check_sgd_surface(_sgd_target(_NoDecayWhenStrided), **_trajectory("contiguous", 0.25))  # fault not reached
    with pytest.raises(BoundExceeded, match=r"param 1\]"):
        check_sgd_surface(_sgd_target(_NoDecayWhenStrided), **_trajectory(layout, 0.25))


@pytest.mark.parametrize("layout", ["transposed", "strided", "offset"])
def test_trajectory_property_catches_an_update_of_a_copy(layout):
    check_sgd_surface(Target(), **_trajectory(layout, 0.0))
    if layout == "offset":  # an offset view is contiguous: the fault does not touch it
        check_sgd_surface(_sgd_target(_UpdatesACopy), **_trajectory(layout, 0.0))
        return
    with pytest.raises(AssertionError, match="must update it in place"):
        check_sgd_surface(_sgd_target(_UpdatesACopy), **_trajectory(layout, 0.0))


# --- (ii) a load_state_dict that shares the dict's tensors ------------------------------------


class _CopyingSGD(torch.optim.SGD):
    """load_state_dict of a deep copy: what `_cast`'s docstring ("Make a deep copy") promises."""

    def load_state_dict(self, state_dict):
        super().load_state_dict(copy.deepcopy(state_dict))


class _SharingSGD(_CopyingSGD):
    """Loads a copy, then points its state at the dict's own tensors."""

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        ids = [p for g in self.param_groups for p in g["params"]]
        for index, entry in state_dict["state"].items():
            self.state[ids[index]]["momentum_buffer"] = entry["momentum_buffer"]


@pytest.mark.parametrize(("source", "restored"), [(PLAIN, PLAIN), ("foreach=True", PLAIN)])
def test_independence_property_catches_a_load_that_shares_buffers(source, restored):
    kw = {"source": source, "restored": restored, "device": "cpu"}
    check_state_dict_independence(_sgd_target(_CopyingSGD), **kw)  # control
    with pytest.raises(AssertionError, match="momentum buffer of the restored optimizer changed"):
        check_state_dict_independence(_sgd_target(_SharingSGD), **kw)


def test_independence_property_finds_torch_eager_as_the_registry_says():
    """torch's own load_state_dict fails the check exactly where the registry's probe finds the defect."""
    defect = DEFECTS["optim-load-state-dict-aliases"]
    if state(defect, "cpu") == "present":
        with pytest.raises(AssertionError) as failure:
            check_state_dict_independence(Target(), source=PLAIN, restored=PLAIN, device="cpu")
        assert defect.symptom.matches(failure.value)
    else:
        check_state_dict_independence(Target(), source=PLAIN, restored=PLAIN, device="cpu")


# --- (iii) a differentiable step whose derivative is wrong -----------------------------------


class _SkewedDerivative(torch.optim.SGD):
    """Right values, derivative scaled by 1 + 2⁻⁴: adds c·(θ' − stop_gradient(θ')) after the step."""

    def step(self, closure=None):
        loss = super().step(closure)
        if self.defaults["differentiable"]:
            for group in self.param_groups:
                for p in group["params"]:
                    p.add_((p - p.detach()) * 2.0**-4)
        return loss


DIFF_CASE: dict[str, Any] = {
    "theta": np.array([1.0, 2.0, -0.5]),
    "grad": np.array([0.5, -1.0, 0.25]),
    "buffer": np.array([0.25, -0.75, 1.5]),
    "v_param": np.array([1.0, -2.0, 0.5]),
    "v_buffer": np.array([0.25, 1.0, -1.0]),
    "hyper": {"lr": 0.5, "momentum": 0.5, "dampening": 0.25, "weight_decay": 0.0, "nesterov": False, "maximize": True},
    "implementation": PLAIN,
    "device": "cpu",
    "dtype": "float64",
}


def test_differentiable_property_catches_a_wrong_derivative():
    check_differentiable_step(Target(), **DIFF_CASE)
    with pytest.raises(BoundExceeded, match=r"d/d (param|grad|buffer)\]"):
        check_differentiable_step(_sgd_target(_SkewedDerivative), **DIFF_CASE)


# --- (iv) zero_grad(set_to_none=False) that replaces the tensor ------------------------------


class _ReplacingZeroGrad(torch.optim.SGD):
    """zero_grad(set_to_none=False) that assigns fresh zero tensors instead of zeroing in place."""

    def zero_grad(self, set_to_none=True):
        if set_to_none:
            return super().zero_grad(set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = torch.zeros_like(p.grad, memory_format=torch.contiguous_format)
        return None


def test_zero_grad_property_catches_a_replaced_gradient():
    kw = {"how": "optimizer-zeros", "implementation": PLAIN, "device": "cpu", "dtype": "float32"}
    check_zero_grad(Target(), **kw)
    with pytest.raises(AssertionError, match=r"replaced param 0's \.grad"):
        check_zero_grad(_sgd_target(_ReplacingZeroGrad), **kw)
    # set_to_none=True is untouched by the fault
    check_zero_grad(_sgd_target(_ReplacingZeroGrad), **{**kw, "how": "optimizer"})


# --- (v) fused SGD's layout refusal (CUDA): accepted only when clean ---------------------------

REFUSAL = "Expected at::native::check_fast_path_restrictions( {params, grads, momentum_buffer_list}) to be true, but got false."


def _mismatched(group) -> bool:
    """The fault targets' own rule: a parameter with a gradient whose strides differ from its own."""
    return any(p.grad is not None and p.grad.stride() != p.stride() for p in group["params"])


class _RefusingSGD(torch.optim.SGD):
    """What CUDA's fused SGD does (the control): steps the groups in order, each one only after
    checking its layouts; the first group with a mismatched gradient raises the refusal untouched."""

    def step(self, closure=None):
        groups = self.param_groups
        try:
            for group in groups:
                if _mismatched(group):
                    self.fault(group)
                    raise RuntimeError(REFUSAL)
                self.param_groups = [group]
                super().step(closure)
        finally:
            self.param_groups = groups

    def fault(self, group):
        """What a faulty refusal does to the group before raising (the control: nothing)."""


class _RefusesAfterUpdating(_RefusingSGD):
    def fault(self, group):
        with torch.no_grad():
            for p in group["params"]:
                p.sub_(p.grad.contiguous() * group["lr"])


class _RefusesAfterCreatingBuffers(_RefusingSGD):
    def fault(self, group):
        for p in group["params"]:
            self.state[p]["momentum_buffer"] = p.grad.detach().clone()


class _RefusesAfterTouchingGrad(_RefusingSGD):
    def fault(self, group):
        for p in group["params"]:
            p.grad.mul_(1.0 + 2.0**-10)


class _RefusesEverything(_RefusingSGD):
    """Refuses layouts the rule allows (all contiguous)."""

    def step(self, closure=None):
        raise RuntimeError(REFUSAL)


class _FailsOtherwise(_RefusingSGD):
    def step(self, closure=None):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


class _WrongFirstGroupThenRefuses(_RefusingSGD):
    """Steps the first (accepted) group with twice the learning rate, then refuses the second."""

    def step(self, closure=None):
        first = self.param_groups[0]
        first["lr"] *= 2.0
        try:
            return super().step(closure)
        finally:
            first["lr"] /= 2.0


def _refusal_case(grad_layout: str, *, groups: int = 1) -> dict:
    values = np.arange(1.0, 13.0).reshape(3, 4) / 4.0
    hyper = {"lr": 0.5, "momentum": 0.5, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False}
    return {
        "shapes": [(3, 4), (3, 4)],
        "initial": np.concatenate([values.ravel(), -values.ravel()]),
        "grads": np.stack([np.concatenate([values[::-1].ravel(), values.ravel()])] * 2),
        "has_grad": np.ones((2, 2), dtype=bool),
        "groups": [{"params": [0, 1]}] if groups == 1 else [{"params": [0]}, {"params": [1]}],
        "defaults": hyper,
        "param_layouts": ["contiguous", "contiguous"],
        "grad_layouts": ["contiguous", grad_layout],
        "buffer_layouts": [None, None],
        "buffers": np.zeros(24),
        "tensor_lr": False,
        "implementation": "fused=True",
        "device": "cpu",
        "dtype": "float32",
    }


@pytest.fixture
def cpu_refuses(monkeypatch):
    """Let the check accept the refusal on the CPU, where these fault targets run."""
    monkeypatch.setattr(surface, "REFUSING_DEVICE_TYPES", ("cpu",))


@pytest.mark.parametrize("groups", [1, 2])
def test_a_clean_layout_refusal_ends_the_example(cpu_refuses, groups):
    check_sgd_surface(_sgd_target(_RefusingSGD), **_refusal_case("transposed", groups=groups))
    check_sgd_surface(_sgd_target(_RefusingSGD), **_refusal_case("contiguous", groups=groups))  # no refusal


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        (_RefusesAfterUpdating, "changed parameters or momentum buffers of the groups it refused"),
        (_RefusesAfterCreatingBuffers, "changed parameters or momentum buffers of the groups it refused"),
        (_RefusesAfterTouchingGrad, r"\.grad changed by a step\(\) that raised"),
    ],
)
def test_a_refusal_that_changed_something_fails(cpu_refuses, fault, match):
    with pytest.raises(AssertionError, match=match):
        check_sgd_surface(_sgd_target(fault), **_refusal_case("transposed"))


def test_a_refusal_of_allowed_layouts_or_another_error_fails(cpu_refuses):
    with pytest.raises(RuntimeError, match="check_fast_path_restrictions"):
        check_sgd_surface(_sgd_target(_RefusesEverything), **_refusal_case("contiguous"))
    with pytest.raises(RuntimeError, match="illegal memory access"):
        check_sgd_surface(_sgd_target(_FailsOtherwise), **_refusal_case("transposed"))


def test_the_groups_stepped_before_a_refusal_are_checked(cpu_refuses):
    with pytest.raises(BoundExceeded, match=r"param 0\]"):
        check_sgd_surface(_sgd_target(_WrongFirstGroupThenRefuses), **_refusal_case("transposed", groups=2))


def test_a_refusal_is_accepted_only_on_a_refusing_device():
    """Without the monkeypatch the CPU is not a refusing device: the same clean refusal fails."""
    with pytest.raises(RuntimeError, match="check_fast_path_restrictions"):
        check_sgd_surface(_sgd_target(_RefusingSGD), **_refusal_case("transposed"))

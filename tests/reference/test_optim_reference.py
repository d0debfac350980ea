"""The reference SGD, its error bound, and the optimizer properties' power to catch faults.

Hand-computed cases use dyadic numbers, so every expected value is exact in float64.
The fault-injection tests run the properties' check functions against deliberately
faulty optimizers — torch's documented algorithm written out with one bug, installed as a
target's ``optim.SGD`` — and against a faulty copy of the reference, and require the check
to fail.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import properties.test_optim as optim_properties
from fizzcheck.bounds.training import SGDErrorBound
from fizzcheck.check import assert_all_close
from fizzcheck.errors import BoundExceeded
from fizzcheck.reference import optim as ref_optim
from fizzcheck.reference.optim import SGD, Parameter, sgd_update
from fizzcheck.targets import Target


def _step(opt: SGD, params: list[Parameter], grads: list[float | None]) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else np.array([g])
    opt.step()


# --- the documented update, by hand ---------------------------------------------------


def test_plain_sgd_subtracts_lr_times_grad():
    p = Parameter([1.0])
    _step(SGD([p], lr=0.25), [p], [0.5])
    assert p.data.tolist() == [0.875]


def test_weight_decay_is_added_to_the_gradient_before_momentum():
    p = Parameter([2.0])
    opt = SGD([p], lr=1.0, momentum=0.5, weight_decay=0.5)
    _step(opt, [p], [1.0])  # d = 1 + 0.5·2 = 2, b = d = 2, p = 2 − 2 = 0
    assert p.data.tolist() == [0.0]
    _step(opt, [p], [1.0])  # d = 1 + 0 = 1, b = 0.5·2 + 1 = 2, p = 0 − 2
    assert p.data.tolist() == [-2.0]
    assert opt.state[p]["momentum_buffer"].tolist() == [2.0]


def test_first_step_buffer_is_the_gradient_without_dampening():
    p = Parameter([0.0])
    opt = SGD([p], lr=1.0, momentum=0.5, dampening=0.5)
    _step(opt, [p], [4.0])  # b = d = 4 (no dampening on the first step)
    assert opt.state[p]["momentum_buffer"].tolist() == [4.0]
    _step(opt, [p], [4.0])  # b = 0.5·4 + (1 − 0.5)·4 = 4
    assert opt.state[p]["momentum_buffer"].tolist() == [4.0]
    assert p.data.tolist() == [-8.0]


def test_nesterov_steps_along_gradient_plus_momentum_times_buffer():
    p = Parameter([0.0])
    opt = SGD([p], lr=1.0, momentum=0.5, nesterov=True)
    _step(opt, [p], [2.0])  # b = 2, n = 2 + 0.5·2 = 3
    assert p.data.tolist() == [-3.0]
    _step(opt, [p], [2.0])  # b = 0.5·2 + 2 = 3, n = 2 + 1.5 = 3.5
    assert p.data.tolist() == [-6.5]


def test_maximize_ascends():
    p = Parameter([1.0])
    _step(SGD([p], lr=0.5, maximize=True, weight_decay=0.5), [p], [2.0])  # d = −2 + 0.5 = −1.5
    assert p.data.tolist() == [1.75]


def test_parameter_without_gradient_is_skipped_and_gets_no_state():
    a, b = Parameter([1.0]), Parameter([1.0])
    opt = SGD([a, b], lr=1.0, momentum=0.5)
    _step(opt, [a, b], [1.0, None])
    assert b.data.tolist() == [1.0]
    assert b not in opt.state
    _step(opt, [a, b], [1.0, 2.0])  # b's first gradient: its buffer starts as that gradient
    assert opt.state[b]["momentum_buffer"].tolist() == [2.0]
    assert b.data.tolist() == [-1.0]


def test_no_state_without_momentum():
    p = Parameter([1.0])
    opt = SGD([p], lr=0.5)
    _step(opt, [p], [1.0])
    assert opt.state == {}


def test_param_groups_override_the_defaults():
    a, b = Parameter([1.0]), Parameter([1.0])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.25)
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.5]
    _step(opt, [a, b], [1.0, 1.0])
    assert (a.data.tolist(), b.data.tolist()) == ([0.75], [0.5])


def test_changing_a_groups_lr_between_steps_takes_effect():
    p = Parameter([1.0])
    opt = SGD([p], lr=0.5)
    opt.param_groups[0]["lr"] = 0.25
    _step(opt, [p], [1.0])
    assert p.data.tolist() == [0.75]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = Parameter([1.0], grad=[3.0])
    SGD([p], lr=0.1).zero_grad(set_to_none=set_to_none)
    assert p.grad is None if set_to_none else p.grad.tolist() == [0.0]


def test_sgd_update_returns_its_intermediates():
    up = sgd_update(
        np.array([2.0]),
        np.array([1.0]),
        np.array([4.0]),
        {
            "lr": 0.5,
            "momentum": 0.5,
            "dampening": 0.0,
            "weight_decay": 0.5,
            "nesterov": True,
            "maximize": False,
        },
    )
    assert up.direction.tolist() == [2.0]  # 1 + 0.5·2
    assert up.buffer.tolist() == [4.0]  # 0.5·4 + 2
    assert up.update.tolist() == [4.0]  # 2 + 0.5·4
    assert up.new_param.tolist() == [0.0]


# --- invalid calls (torch's errors and messages) --------------------------------------

INVALID_CALLS = [
    ({"lr": -0.1}, ValueError, "Invalid learning rate: -0.1"),
    ({"momentum": -0.5}, ValueError, "Invalid momentum value: -0.5"),
    ({"weight_decay": -1.0}, ValueError, "Invalid weight_decay value: -1.0"),
    ({"nesterov": True}, ValueError, "Nesterov momentum requires a momentum and zero dampening"),
    (
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        ValueError,
        "Nesterov momentum requires a momentum and zero dampening",
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    INVALID_CALLS,
    ids=["negative-lr", "negative-momentum", "negative-weight-decay", "nesterov-no-momentum", "nesterov-dampening"],
)
def test_invalid_hyper_parameters_raise_torchs_error(kwargs, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        SGD([Parameter([0.0])], **{"lr": 0.1, **kwargs})
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], **{"lr": 0.1, **kwargs})


def test_group_values_are_not_validated_like_torch():
    """torch validates only the constructor's defaults; a group may carry a negative lr."""
    opt = SGD([{"params": [Parameter([0.0])], "lr": -1.0}], lr=0.1)
    assert opt.param_groups[0]["lr"] == -1.0
    torch_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": -1.0}], lr=0.1)
    assert torch_opt.param_groups[0]["lr"] == -1.0


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ([], ValueError, "empty parameter list"),
        ([{"params": [0.0]}], TypeError, "can only optimize Parameters"),
        ([{"params": [Parameter([0.0])], "betas": 1}], TypeError, "unknown hyper-parameters"),
    ],
    ids=["empty", "not-a-parameter", "unknown-key"],
)
def test_bad_parameter_lists_raise(params, error, match):
    with pytest.raises(error, match=match):
        SGD(params, lr=0.1)


def test_a_parameter_in_two_groups_raises():
    p = Parameter([0.0])
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


# --- the error bound ------------------------------------------------------------------


def _simulate_float32(param, grads, hyper):
    """The update in numpy float32 with float32-rounded hyper-parameters: a torch-free target."""
    f = np.float32
    lr, mu, damp, wd = f(hyper["lr"]), f(hyper["momentum"]), f(1.0 - hyper["dampening"]), f(hyper["weight_decay"])
    p, buf = param.astype(np.float32), None
    for g in grads:
        d = (-g if hyper["maximize"] else g).astype(np.float32)
        if hyper["weight_decay"]:
            d = d + wd * p
        n = d
        if hyper["momentum"]:
            buf = d.copy() if buf is None else mu * buf + damp * d
            n = d + mu * buf if hyper["nesterov"] else buf
        p = p - lr * n
    return p.astype(np.float64)


@pytest.mark.parametrize("seed", range(20))
def test_sgd_error_bound_covers_a_float32_simulation(seed):
    rng = np.random.default_rng(seed)
    hyper = {
        "lr": float(rng.uniform(0, 1)),
        "momentum": float(rng.choice([0.0, rng.uniform(0, 0.99)])),
        "dampening": float(rng.choice([0.0, rng.uniform(0, 1)])),
        "weight_decay": float(rng.choice([0.0, rng.uniform(0, 0.5)])),
        "maximize": bool(rng.integers(2)),
    }
    hyper["nesterov"] = bool(hyper["momentum"] > 0 and hyper["dampening"] == 0 and rng.integers(2))
    param = rng.uniform(-16, 16, 64).astype(np.float32).astype(np.float64)
    grads = [rng.uniform(-16, 16, 64).astype(np.float32).astype(np.float64) for _ in range(6)]
    p = Parameter(param)
    opt, bound = SGD([p], **hyper), SGDErrorBound("float32")
    for g in grads:
        p.grad = g
        bound.step(opt.step())
    error = np.abs(_simulate_float32(param, grads, hyper) - p.data)
    assert np.all(error <= bound.param_bound(p, p.data.shape))


def test_sgd_error_bound_is_zero_before_the_first_step_and_positive_after():
    p = Parameter([1.0, 2.0])
    bound = SGDErrorBound("float32")
    assert bound.param_bound(p, (2,)).tolist() == [0.0, 0.0]
    p.grad = np.array([1.0, 1.0])
    bound.step(SGD([p], lr=0.1).step())
    assert np.all(bound.param_bound(p, (2,)) > 0)


def test_sgd_error_bound_is_tight_enough_to_see_one_lost_rounding_step():
    """A float32 run's bound after a few steps stays within a few hundred ulps of |θ|."""
    p = Parameter(np.full(4, 1.0))
    opt, bound = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), SGDErrorBound("float32")
    for _ in range(5):
        p.grad = np.full(4, 1.0)
        bound.step(opt.step())
    assert np.all(bound.param_bound(p, (4,)) < 300 * 2.0**-24 * np.maximum(np.abs(p.data), 1.0))


# --- fault injection: the optimizer properties must fail on these ---------------------


class HandWrittenSGD(torch.optim.SGD):
    """torch.optim.SGD's documented algorithm, written out, with at most one deliberate ``fault``."""

    fault: str | None = None

    def __init__(self, params, *args, foreach=None, fused=None, **kwargs):
        super().__init__(params, *args, **kwargs)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            if self.fault == "zero lr means default lr" and lr == 0:
                lr = 1e-3
            for p in group["params"]:
                if p.grad is None or (self.fault == "skip the last parameter" and p is group["params"][-1]):
                    continue
                d = -p.grad if maximize else p.grad.clone()
                if wd and self.fault != "weight decay after momentum":
                    d = d + wd * p
                n = d
                if mu:
                    buf = self.state[p].get("momentum_buffer")
                    if buf is None or self.fault == "buffer not kept across steps":
                        buf = (1 - tau) * d if self.fault == "dampening on the first step" else d.clone()
                    else:
                        buf = mu * buf + (1 - tau) * d
                    self.state[p]["momentum_buffer"] = buf
                    n = d + mu * buf if nesterov and self.fault != "nesterov ignored" else buf
                if wd and self.fault == "weight decay after momentum":
                    n = n + wd * p
                p.add_(n, alpha=-lr)


def _problem(**defaults):
    """Two parameters in one group, three steps with gradients, float64."""
    rng = np.random.default_rng(0)
    shapes = [(3,), (2, 2)]
    return {
        "shapes": shapes,
        "initial": rng.uniform(-2, 2, 7),
        "grads": rng.uniform(-2, 2, (3, 7)),
        "has_grad": np.ones((3, 2), dtype=bool),
        "groups": [{"params": [0, 1]}],
        "defaults": {
            "lr": 0.1,
            "momentum": 0.0,
            "dampening": 0.0,
            "weight_decay": 0.0,
            "nesterov": False,
            "maximize": False,
            **defaults,
        },
    }


FAULTS = {
    "weight decay after momentum": {"momentum": 0.9, "weight_decay": 0.1},
    "dampening on the first step": {"momentum": 0.9, "dampening": 0.5},
    "skip the last parameter": {},
    "buffer not kept across steps": {"momentum": 0.9},
    "nesterov ignored": {"momentum": 0.9, "nesterov": True},
}


class SGDTarget(Target):
    """Torch eager with ``optim.SGD`` replaced by ``sgd`` (how a user would plug in an optimizer)."""

    name = "sgd-under-test"
    description = "torch eager with a hand-written optim.SGD"

    def __init__(self, sgd: type) -> None:
        self.sgd = sgd
        super().__init__()

    def overrides(self):
        return {"optim.SGD": self.sgd}


def faulty_target(fault: str | None) -> Target:
    """A target whose ``optim.SGD`` is :class:`HandWrittenSGD` with ``fault``."""
    return SGDTarget(type("FaultySGD", (HandWrittenSGD,), {"fault": fault}))


@pytest.mark.parametrize("hyper", list(FAULTS.values()), ids=list(FAULTS))
def test_hand_written_sgd_without_fault_passes(hyper):
    """Control: the hand-written optimizer itself is right, so failures below come from the faults."""
    optim_properties.check_sgd_trajectory(
        faulty_target(None), **_problem(**hyper), implementation="foreach=False", device="cpu", dtype="float64"
    )


@pytest.mark.parametrize(("fault", "hyper"), list(FAULTS.items()), ids=list(FAULTS))
def test_trajectory_property_catches_fault(fault, hyper):
    with pytest.raises(BoundExceeded):
        optim_properties.check_sgd_trajectory(
            faulty_target(fault), **_problem(**hyper), implementation="foreach=False", device="cpu", dtype="float64"
        )


def test_zero_lr_property_catches_zero_lr_treated_as_default():
    with pytest.raises(AssertionError, match="changed at step 1 with lr=0"):
        optim_properties.check_zero_lr_changes_nothing(
            faulty_target("zero lr means default lr"),
            **_problem(lr=0.0),
            implementation="foreach=False",
            device="cpu",
            dtype="float64",
        )


def test_invalid_hyper_parameter_property_catches_missing_validation():
    class LaxSGD(torch.optim.SGD):
        def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, **kwargs):
            super().__init__(
                params,
                lr=abs(lr),
                momentum=abs(momentum),
                dampening=dampening,
                weight_decay=abs(weight_decay),
                **kwargs,
            )

    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        optim_properties.check_invalid_hyper_parameters_raise(
            SGDTarget(LaxSGD), {"lr": -0.5}, implementation="foreach=False", device="cpu"
        )


def test_trajectory_property_catches_a_faulty_reference(monkeypatch):
    """A copy of the reference with dampening on the first step disagrees with (correct) torch."""

    def faulty_update(param, grad, buffer, hyper):
        result = sgd_update(param, grad, buffer, hyper)
        if buffer is None and result.buffer is not None:
            damped = (1.0 - hyper["dampening"]) * result.direction
            update = result.direction + hyper["momentum"] * damped if hyper["nesterov"] else damped
            return ref_optim.SGDUpdate(
                result.param,
                result.grad,
                result.direction,
                None,
                damped,
                update,
                result.param - hyper["lr"] * update,
                result.hyper,
            )
        return result

    monkeypatch.setattr(ref_optim, "sgd_update", faulty_update)
    with pytest.raises(BoundExceeded):
        optim_properties.check_sgd_trajectory(
            Target(),
            **_problem(momentum=0.9, dampening=0.5),
            implementation="foreach=True",
            device="cpu",
            dtype="float32",
        )


def test_bound_is_not_vacuous_for_float32_trajectories():
    """The float32 bound after the fixed problem stays far below the size of any fault above."""
    problem = _problem(momentum=0.9, weight_decay=0.1)
    params = [Parameter(problem["initial"][:3]), Parameter(problem["initial"][3:].reshape(2, 2))]
    opt, bound = SGD(params, **problem["defaults"]), SGDErrorBound("float32")
    for row in problem["grads"]:
        params[0].grad, params[1].grad = row[:3], row[3:].reshape(2, 2)
        bound.step(opt.step())
    worst = max(float(np.max(bound.param_bound(p, p.data.shape))) for p in params)
    assert worst < 1e-5, f"float32 trajectory bound {worst} is too loose to see faults of size ~lr·wd·|θ| = 1e-2"
    assert math.isfinite(worst)


# --- the grouped assertion helper -----------------------------------------------------


def test_assert_all_close_names_the_failing_part():
    parts = [("a", np.array([1.0]), np.array([1.0]), 0.0), ("b", np.array([2.0, 3.5]), np.array([2.0, 3.0]), 0.25)]
    with pytest.raises(BoundExceeded, match=r"out\[1\]=3\.5, but should be 3\.0 within bound 0\.25 .*\[step b\]"):
        assert_all_close(parts, op="step")


def test_assert_all_close_checks_dtypes():
    parts = [("a", torch.zeros(2, dtype=torch.float64), np.zeros(2), 0.0)]
    assert_all_close(parts, op="step", dtype="float64")
    with pytest.raises(BoundExceeded, match=r"out\.dtype=float64, but should be float32 \[step a\]"):
        assert_all_close(parts, op="step", dtype="float32")

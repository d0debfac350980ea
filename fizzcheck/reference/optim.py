"""SGD with ``torch.optim.SGD``'s documented semantics and state, in numpy float64.

The update for one parameter θ with gradient g at step t (torch's documentation, with
γ = lr, λ = weight_decay, μ = momentum, τ = dampening)::

    g ← −g                       if maximize
    d ← g + λ θ                  (weight decay is applied before momentum)
    b ← d                        on the parameter's first step with a gradient (no dampening)
    b ← μ b + (1 − τ) d          on every later step
    n ← d + μ b  (nesterov)   or   n ← b  (momentum ≠ 0)   or   n ← d  (momentum = 0)
    θ ← θ − γ n

State kept across steps: one momentum buffer per parameter, created the first time that
parameter has a gradient. A parameter whose ``grad`` is ``None`` is skipped: neither it
nor its buffer changes. Hyper-parameters live in parameter groups; a group's missing
entries are filled from the optimizer's defaults. Like torch, only the *defaults* are
validated (torch does not re-check a group's own values), with torch's messages.

:func:`sgd_update` is the update of one parameter as a pure function; it also returns
the intermediate values (d, b, n) that the error bounds in
:mod:`fizzcheck.bounds.training` are written in terms of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULTS",
    "SGD",
    "Parameter",
    "SGDDerivatives",
    "SGDUpdate",
    "check_hyper_parameters",
    "sgd_update",
    "sgd_update_derivatives",
]

Array = np.ndarray

DEFAULTS: dict[str, Any] = {
    "lr": 1e-3,
    "momentum": 0.0,
    "dampening": 0.0,
    "weight_decay": 0.0,
    "nesterov": False,
    "maximize": False,
}
"""torch.optim.SGD's defaults for the hyper-parameters the reference implements."""


class Parameter:
    """numpy stand-in for a torch parameter: a float64 ``data`` array and a ``grad`` (or None).

    Hashed by identity, like a tensor, so it can key the optimizer's state.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: Any, grad: Any = None) -> None:
        self.data = np.array(data, dtype=np.float64)
        self.grad = None if grad is None else np.array(grad, dtype=np.float64)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, has_grad={self.grad is not None})"


def check_hyper_parameters(
    *, lr: float, momentum: float, dampening: float, weight_decay: float, nesterov: bool
) -> None:
    """Raise torch's ``ValueError`` (same message) for hyper-parameters torch rejects."""
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if momentum < 0.0:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")


@dataclass(frozen=True)
class SGDUpdate:
    """One parameter's update: inputs, intermediates and outputs (all float64)."""

    param: Array
    """θ before the step."""
    grad: Array
    """the gradient as stored in ``.grad`` (before maximize's sign flip)."""
    direction: Array
    """d = ±g + λ θ."""
    previous_buffer: Array | None
    """b before the step; None on the step that creates the buffer (or without momentum)."""
    buffer: Array | None
    """b after the step; None when momentum is 0."""
    update: Array
    """n, the vector the learning rate multiplies."""
    new_param: Array
    """θ − γ n."""
    hyper: Mapping[str, Any]
    """the group's hyper-parameters used for this step."""


def sgd_update(param: Array, grad: Array, buffer: Array | None, hyper: Mapping[str, Any]) -> SGDUpdate:
    """One SGD step for one parameter, as a pure function of its inputs."""
    lr, momentum, dampening = hyper["lr"], hyper["momentum"], hyper["dampening"]
    weight_decay, nesterov, maximize = hyper["weight_decay"], hyper["nesterov"], hyper["maximize"]
    param = np.asarray(param, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)

    direction = -grad if maximize else grad
    if weight_decay != 0:
        direction = direction + weight_decay * param
    new_buffer = None
    update = direction
    if momentum != 0:
        # the first buffer is the direction itself: no dampening on the first step
        new_buffer = direction.copy() if buffer is None else momentum * buffer + (1.0 - dampening) * direction
        update = direction + momentum * new_buffer if nesterov else new_buffer
    return SGDUpdate(
        param=param,
        grad=grad,
        direction=direction,
        previous_buffer=None if momentum == 0 else buffer,
        buffer=new_buffer,
        update=update,
        new_param=param - lr * update,
        hyper=dict(hyper),
    )


class SGD:
    """``torch.optim.SGD`` over :class:`Parameter` objects (numpy float64).

    ``params`` is an iterable of :class:`Parameter` or of dicts with a ``"params"`` entry and
    per-group hyper-parameters, as in torch.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = DEFAULTS["lr"],
        momentum: float = DEFAULTS["momentum"],
        dampening: float = DEFAULTS["dampening"],
        weight_decay: float = DEFAULTS["weight_decay"],
        nesterov: bool = DEFAULTS["nesterov"],
        *,
        maximize: bool = DEFAULTS["maximize"],
    ) -> None:
        check_hyper_parameters(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov
        )
        self.defaults: dict[str, Any] = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        self.state: dict[Parameter, dict[str, Array]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a group; missing hyper-parameters come from the defaults (not re-validated)."""
        if not isinstance(group, Mapping):
            raise TypeError(f"param_group must be a dict, but got {type(group)}")
        unknown = set(group) - {"params", *self.defaults}
        if unknown:
            raise TypeError(f"unknown hyper-parameters {sorted(unknown)!r}; use {sorted(self.defaults)}")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, but one of the params is {type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append({**self.defaults, **group, "params": params})

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad = np.zeros_like(p.grad)

    def step(self) -> dict[Parameter, SGDUpdate]:
        """Update every parameter that has a gradient; return each one's :class:`SGDUpdate`."""
        updates: dict[Parameter, SGDUpdate] = {}
        for group in self.param_groups:
            hyper = {name: group[name] for name in self.defaults}
            for p in group["params"]:
                if p.grad is None:
                    continue
                # like torch, state exists only for parameters stepped with momentum
                buffer = self.state.get(p, {}).get("momentum_buffer")
                result = sgd_update(p.data, p.grad, buffer, hyper)
                if result.buffer is not None:
                    self.state.setdefault(p, {})["momentum_buffer"] = result.buffer
                p.data = result.new_param
                updates[p] = result
        return updates


# --- derivatives of one step (SGD(differentiable=True)) -------------------------------


@dataclass(frozen=True)
class SGDDerivatives:
    """The Jacobians of one SGD step for one parameter, and their rounding magnitudes.

    The update is linear in θ, g and b with scalar coefficients, so every Jacobian is a scalar
    multiple of the identity; the fields are those scalars. With s = −1 if maximize else 1 and
    the chain d → b' → n → θ' of :func:`sgd_update`::

        d  = s g + λ θ              ∂d/∂θ = λ          ∂d/∂g = s
        b' = d  (first step)        ∂b'/∂d = 1         (no b to differentiate)
        b' = μ b + (1 − τ) d        ∂b'/∂d = 1 − τ     ∂b'/∂b = μ
        n  = d + μ b' (nesterov)    ∂n/∂d = 1 + μ ∂b'/∂d,  ∂n/∂b = μ ∂b'/∂b
        n  = b'  (momentum ≠ 0)     ∂n/∂d = ∂b'/∂d,        ∂n/∂b = ∂b'/∂b
        n  = d   (momentum = 0)     ∂n/∂d = 1
        θ' = θ − γ n                ∂θ'/∂θ = 1 − γ λ ∂n/∂d,  ∂θ'/∂g = −γ s ∂n/∂d,  ∂θ'/∂b = −γ ∂n/∂b
                                    ∂b'/∂θ = λ ∂b'/∂d,       ∂b'/∂g = s ∂b'/∂d

    ``magnitude`` holds the same sums of path products with every factor replaced by its
    absolute value (Σ over paths of |product|): what a rounding bound of a computed derivative
    is proportional to.
    """

    param_param: float
    """∂θ'/∂θ."""
    param_grad: float
    """∂θ'/∂g (g as stored in ``.grad``, before maximize's sign flip)."""
    param_buffer: float | None
    """∂θ'/∂b; None without a buffer before the step."""
    buffer_param: float | None
    """∂b'/∂θ; None when momentum is 0 (no buffer after the step)."""
    buffer_grad: float | None
    """∂b'/∂g; None when momentum is 0."""
    buffer_buffer: float | None
    """∂b'/∂b; None without a buffer before the step."""
    magnitude: Mapping[str, float]
    """field name → Σ over paths of |path product| (for the fields that are not None)."""


def _chain(hyper: Mapping[str, Any], has_buffer: bool, absolute: bool) -> dict[str, float | None]:
    """The chain rule of :class:`SGDDerivatives`; with ``absolute`` every factor is |factor|."""
    f = abs if absolute else (lambda x: x)
    lr, momentum, dampening = f(float(hyper["lr"])), f(float(hyper["momentum"])), float(hyper["dampening"])
    weight_decay = f(float(hyper["weight_decay"]))
    sign = 1.0 if (absolute or not hyper["maximize"]) else -1.0
    out: dict[str, float | None] = dict.fromkeys(
        ("param_param", "param_grad", "param_buffer", "buffer_param", "buffer_grad", "buffer_buffer")
    )
    if hyper["momentum"] == 0:
        n_d, n_b = 1.0, None
    else:
        b_d = f(1.0 - dampening) if has_buffer else 1.0
        b_b = momentum if has_buffer else None
        if hyper["nesterov"]:
            n_d, n_b = 1.0 + momentum * b_d, (None if b_b is None else momentum * b_b)
        else:
            n_d, n_b = b_d, b_b
        out.update(buffer_param=weight_decay * b_d, buffer_grad=sign * b_d, buffer_buffer=b_b)
    out.update(
        param_param=1.0 + lr * weight_decay * n_d if absolute else 1.0 - lr * weight_decay * n_d,
        param_grad=(lr if absolute else -lr) * sign * n_d,
        param_buffer=None if n_b is None else (lr if absolute else -lr) * n_b,
    )
    return out


def sgd_update_derivatives(hyper: Mapping[str, Any], *, has_buffer: bool) -> SGDDerivatives:
    """The Jacobians of :func:`sgd_update` with respect to θ, g and (with ``has_buffer``) b.

    ``has_buffer``: the parameter had a momentum buffer before the step (False: the step that
    creates it, b' = d). Hyper-parameters are the group's, as :func:`sgd_update` takes them.
    """
    if has_buffer and hyper["momentum"] == 0:
        raise ValueError("has_buffer=True needs a momentum: without one SGD keeps no buffer")
    exact = _chain(hyper, has_buffer, absolute=False)
    magnitude = {k: v for k, v in _chain(hyper, has_buffer, absolute=True).items() if v is not None}
    return SGDDerivatives(**exact, magnitude=magnitude)  # type: ignore[arg-type]

"""Optimizer faults: SGD semantics and state, planted in ``torch.optim.sgd.sgd``.

Every SGD implementation (foreach, for-loop, fused) goes through that functional, so one patch
reaches them all. Each witness runs two steps of ``torch.optim.SGD`` on two parameters against
fizzcheck's reference update, with the hyper-parameters the fault needs to show.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from fizzcheck.mutants.fault import FIZZBUZZ, OPTIM, Fault
from fizzcheck.mutants.planting import patched
from fizzcheck.reference.optim import sgd_update

__all__ = [
    "CATEGORY",
    "FAULTS",
    "SGD_DAMPENING_ON_FIRST_STEP",
    "SGD_MAXIMIZE_IGNORED",
    "SGD_MODULE",
    "SGD_MOMENTUM_BUFFER_NOT_SAVED",
    "SGD_NESTEROV_IGNORED",
    "SGD_SKIPS_LAST_PARAMETER",
    "SGD_WEIGHT_DECAY_AFTER_MOMENTUM",
]

CATEGORY = "optimizer"

SGD_MODULE: Any = importlib.import_module("torch.optim.sgd")
"""torch's ``torch/optim/sgd.py`` (``torch.optim`` deletes the submodule's name from its namespace)."""


def _sgd_fault(change: Callable[..., None]) -> Callable[[], AbstractContextManager[Any]]:
    """Patch ``torch.optim.sgd.sgd`` (which ``SGD.step`` calls) with ``change(original, *args, **kw)``."""

    def plant() -> AbstractContextManager[Any]:
        original = SGD_MODULE.sgd

        def faulty(*args: Any, **kwargs: Any) -> None:
            change(original, *args, **kwargs)

        return patched(SGD_MODULE, "sgd", faulty)

    return plant


def _sgd_witness(hyper: Mapping[str, Any]) -> bool:
    """Two parameters, two steps of ``torch.optim.SGD`` against the documented update (float64)."""
    full: dict[str, Any] = {
        "lr": 0.5,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    }
    full.update(hyper)
    values = [np.array([1.0, -2.0]), np.array([0.5, 3.0, -1.0])]
    grads = [[np.array([0.25, 1.0]), np.array([-1.0, 0.5, 2.0])], [np.array([0.5, -0.5]), np.array([1.0, 1.0, -0.25])]]
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    optimizer = torch.optim.SGD(params, **full)
    buffers: list[np.ndarray | None] = [None, None]
    for step_grads in grads:
        for i, (p, g) in enumerate(zip(params, step_grads, strict=True)):
            p.grad = torch.tensor(g, dtype=torch.float64)
            update = sgd_update(values[i], g, buffers[i], full)
            values[i], buffers[i] = update.new_param, update.buffer
        optimizer.step()
        for p, want, buffer in zip(params, values, buffers, strict=True):
            got = optimizer.state.get(p, {}).get("momentum_buffer")
            if (got is None) != (buffer is None) or not np.allclose(p.detach().numpy(), want, rtol=1e-12, atol=0):
                return True
    return False


# --- sgd_weight_decay_after_momentum --------------------------------------------------------


def _sgd_decay_after_momentum(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    before = [p.detach().clone() for p in params]
    original(params, grads, bufs, *args, **{**kw, "weight_decay": 0.0})
    for p, old in zip(params, before, strict=True):
        p.add_(old, alpha=-float(kw["lr"]) * kw["weight_decay"])  # decoupled from the momentum buffer


SGD_WEIGHT_DECAY_AFTER_MOMENTUM = Fault(
    "sgd_weight_decay_after_momentum",
    CATEGORY,
    "SGD adds weight decay to the update after momentum (decoupled, as AdamW does) instead of to the "
    "gradient before it, so the decay never enters the momentum buffer.",
    (OPTIM, FIZZBUZZ),
    plant=_sgd_fault(_sgd_decay_after_momentum),
    check=lambda: _sgd_witness({"momentum": 0.5, "weight_decay": 0.25}),
)


# --- sgd_dampening_on_first_step ------------------------------------------------------------


def _sgd_dampening_first_step(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    if kw["momentum"] != 0:
        # buffers start at zero, so the first step also gets (1 − dampening) · g
        bufs[:] = [torch.zeros_like(p) if b is None else b for p, b in zip(params, bufs, strict=True)]
    original(params, grads, bufs, *args, **kw)


SGD_DAMPENING_ON_FIRST_STEP = Fault(
    "sgd_dampening_on_first_step",
    CATEGORY,
    "SGD starts momentum buffers at zero, so the first step is damped too ((1 − τ) g instead of g).",
    (OPTIM, FIZZBUZZ),
    plant=_sgd_fault(_sgd_dampening_first_step),
    check=lambda: _sgd_witness({"momentum": 0.5, "dampening": 0.5}),
)


# --- sgd_nesterov_ignored -------------------------------------------------------------------


def _sgd_nesterov_ignored(original: Callable[..., None], *args: Any, **kw: Any) -> None:
    original(*args, **{**kw, "nesterov": False})


SGD_NESTEROV_IGNORED = Fault(
    "sgd_nesterov_ignored",
    CATEGORY,
    "SGD's nesterov flag is not forwarded to the update: plain momentum runs instead.",
    (OPTIM, FIZZBUZZ),
    plant=_sgd_fault(_sgd_nesterov_ignored),
    check=lambda: _sgd_witness({"momentum": 0.5, "nesterov": True}),
)


# --- sgd_maximize_ignored -------------------------------------------------------------------


def _sgd_maximize_ignored(original: Callable[..., None], *args: Any, **kw: Any) -> None:
    original(*args, **{**kw, "maximize": False})


SGD_MAXIMIZE_IGNORED = Fault(
    "sgd_maximize_ignored",
    CATEGORY,
    "SGD's maximize flag is not forwarded: it descends when asked to ascend.",
    (OPTIM, FIZZBUZZ),
    plant=_sgd_fault(_sgd_maximize_ignored),
    check=lambda: _sgd_witness({"maximize": True}),
)


# --- sgd_skips_last_parameter ---------------------------------------------------------------


def _sgd_skips_last(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    head = bufs[:-1] if kw["momentum"] != 0 else bufs
    original(params[:-1], grads[:-1], head, *args, **kw)
    if kw["momentum"] != 0:
        bufs[:-1] = head


SGD_SKIPS_LAST_PARAMETER = Fault(
    "sgd_skips_last_parameter",
    CATEGORY,
    "SGD's loop over a group's parameters stops one short: the last parameter with a gradient is never updated.",
    (OPTIM, FIZZBUZZ),
    plant=_sgd_fault(_sgd_skips_last),
    check=lambda: _sgd_witness({}),
)


# --- sgd_momentum_buffer_not_saved ----------------------------------------------------------


def _sgd_forgets_buffers(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    original(params, grads, bufs, *args, **kw)
    bufs[:] = [None] * len(bufs)  # the step's buffers never reach optimizer.state


SGD_MOMENTUM_BUFFER_NOT_SAVED = Fault(
    "sgd_momentum_buffer_not_saved",
    CATEGORY,
    "SGD computes momentum buffers but never stores them in optimizer.state: every step restarts momentum.",
    (OPTIM, FIZZBUZZ),
    plant=_sgd_fault(_sgd_forgets_buffers),
    check=lambda: _sgd_witness({"momentum": 0.5}),
)


FAULTS = (
    SGD_WEIGHT_DECAY_AFTER_MOMENTUM,
    SGD_DAMPENING_ON_FIRST_STEP,
    SGD_NESTEROV_IGNORED,
    SGD_MAXIMIZE_IGNORED,
    SGD_SKIPS_LAST_PARAMETER,
    SGD_MOMENTUM_BUFFER_NOT_SAVED,
)

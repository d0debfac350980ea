"""Autograd faults: the engine's bookkeeping — ``.grad`` accumulation and ``no_grad``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import torch

from fizzcheck.mutants.fault import AUTOGRAD, FIZZBUZZ, MODULE, Fault
from fizzcheck.mutants.planting import patched

__all__ = ["BACKWARD_OVERWRITES_GRAD", "CATEGORY", "FAULTS", "NO_GRAD_DOES_NOT_DISABLE_GRAD"]

CATEGORY = "autograd"


# --- backward_overwrites_grad ---------------------------------------------------------------


def _accumulating_leaves(roots: Any) -> list[torch.Tensor]:
    """The leaves a backward from ``roots`` accumulates into (their AccumulateGrad nodes)."""
    roots = [roots] if isinstance(roots, torch.Tensor) else list(roots)
    seen, stack, leaves = set(), [t.grad_fn for t in roots if t.grad_fn is not None], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if isinstance(variable, torch.Tensor):
            leaves.append(variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return leaves


def _backward_overwrites() -> AbstractContextManager[Any]:
    original = torch.autograd.backward

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        for leaf in _accumulating_leaves(tensors):
            leaf.grad = None  # the engine then stores the new gradient instead of adding to the old
        return original(tensors, *args, **kwargs)

    return patched(torch.autograd, "backward", backward)


def _witness_accumulation() -> bool:
    x = torch.ones(2, requires_grad=True)
    (2 * x).sum().backward()
    (2 * x).sum().backward()
    return x.grad is None or x.grad.tolist() != [4.0, 4.0]


BACKWARD_OVERWRITES_GRAD = Fault(
    "backward_overwrites_grad",
    CATEGORY,
    "backward() stores each leaf's gradient instead of accumulating it into .grad.",
    (AUTOGRAD, MODULE),
    plant=_backward_overwrites,
    check=_witness_accumulation,
)


# --- no_grad_does_not_disable_grad ----------------------------------------------------------


def _no_grad_keeps_grad() -> AbstractContextManager[Any]:
    def __enter__(self: torch.no_grad) -> None:
        self.prev = torch.is_grad_enabled()  # ... and grad mode is left as it was

    return patched(torch.no_grad, "__enter__", __enter__)


def _witness_no_grad() -> bool:
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
    return y.requires_grad


NO_GRAD_DOES_NOT_DISABLE_GRAD = Fault(
    "no_grad_does_not_disable_grad",
    CATEGORY,
    "torch.no_grad() remembers the grad mode but leaves recording on: results inside still require grad.",
    (AUTOGRAD, FIZZBUZZ),
    plant=_no_grad_keeps_grad,
    check=_witness_no_grad,
)


FAULTS = (BACKWARD_OVERWRITES_GRAD, NO_GRAD_DOES_NOT_DISABLE_GRAD)

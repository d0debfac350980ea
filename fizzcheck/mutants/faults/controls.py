"""The controls: runs that plant nothing that changes a result, so the suite must stay green.

A control's witness is True when any fault's witness fires under it (it must not). The faults
are passed in (:func:`controls`), so the registry that lists them builds the controls too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn

from fizzcheck.mutants.fault import WHOLE_SUITE, Fault
from fizzcheck.mutants.faults import module, optimizer
from fizzcheck.mutants.planting import GEMMS, OpFaults, PassThroughFunctions, aten, patched

__all__ = ["CATEGORY", "controls"]

CATEGORY = "control"


# --- none -----------------------------------------------------------------------------------


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# --- identity -------------------------------------------------------------------------------


@contextmanager
def _identity_machinery() -> Iterator[None]:
    """Every planting mechanism the catalogue uses, each set to change nothing."""
    original_sgd = optimizer.SGD_MODULE.sgd
    with ExitStack() as stack:
        stack.enter_context(PassThroughFunctions())
        stack.enter_context(OpFaults({aten(name): lambda func, args, kwargs: func(*args, **kwargs) for name in GEMMS}))
        stack.enter_context(patched(optimizer.SGD_MODULE, "sgd", lambda *args, **kwargs: original_sgd(*args, **kwargs)))
        for attribute in module.METHODS:
            original = nn.Module.__dict__[attribute]
            stack.enter_context(patched(nn.Module, attribute, _forwarding(original)))
        original_backward = torch.autograd.backward
        stack.enter_context(patched(torch.autograd, "backward", lambda *a, **k: original_backward(*a, **k)))
        yield


def _forwarding(original: Any) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, *args, **kwargs)

    return method


# --- the entries ----------------------------------------------------------------------------


def controls(faults: Sequence[Fault]) -> tuple[Fault, ...]:
    """``none`` and ``identity``, whose witness fires when any of ``faults``'s witnesses does."""

    def no_fault_fires() -> bool:
        return any(fault.witness() for fault in faults)

    return (
        Fault(
            "none",
            CATEGORY,
            "Plants nothing: the suite under the mutant plugin must be green.",
            WHOLE_SUITE,
            plant=_nothing,
            check=no_fault_fires,
        ),
        Fault(
            "identity",
            CATEGORY,
            "Every planting mechanism at once, each changing nothing: a pass-through TorchFunctionMode, a "
            "TorchDispatchMode routing the GEMMs through a pass-through handler, and forwarding wrappers around "
            "torch.optim.sgd.sgd, Module.zero_grad/parameters/train/state_dict and torch.autograd.backward.",
            WHOLE_SUITE,
            plant=_identity_machinery,
            check=no_fault_fires,
        ),
    )

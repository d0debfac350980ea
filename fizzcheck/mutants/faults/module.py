"""Module API faults: ``nn.Module`` bookkeeping methods that forget, repeat or stop one short."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from fizzcheck.mutants.fault import AUTOGRAD, FIZZBUZZ, MODULE, Fault
from fizzcheck.mutants.planting import patched

__all__ = [
    "CATEGORY",
    "FAULTS",
    "METHODS",
    "MODULE_PARAMETERS_DROPS_LAST",
    "MODULE_PARAMETERS_YIELDS_DUPLICATES",
    "MODULE_STATE_DICT_DROPS_LAST_KEY",
    "MODULE_TRAIN_NOT_RECURSIVE",
    "MODULE_ZERO_GRAD_DOES_NOTHING",
]

CATEGORY = "module API"

METHODS = ("zero_grad", "parameters", "train", "state_dict")
"""The ``nn.Module`` methods this family's faults replace (the ``identity`` control wraps them all)."""


def _module_patch(attribute: str, make: Callable[[Any], Any]) -> Callable[[], AbstractContextManager[Any]]:
    """Replace ``nn.Module.<attribute>`` with ``make(original)`` while planted."""
    return lambda: patched(nn.Module, attribute, make(nn.Module.__dict__[attribute]))


# --- module_zero_grad_does_nothing ----------------------------------------------------------


def _zero_grad_does_nothing(original: Any) -> Any:
    def zero_grad(self: nn.Module, set_to_none: bool = True) -> None:
        return None

    return zero_grad


def _witness_zero_grad() -> bool:
    layer = nn.Linear(2, 2)
    for p in layer.parameters():
        p.grad = torch.ones_like(p)
    layer.zero_grad()
    return layer.weight.grad is not None


MODULE_ZERO_GRAD_DOES_NOTHING = Fault(
    "module_zero_grad_does_nothing",
    CATEGORY,
    "Module.zero_grad() returns without touching any gradient.",
    (MODULE, AUTOGRAD),
    plant=_module_patch("zero_grad", _zero_grad_does_nothing),
    check=_witness_zero_grad,
)


# --- module_parameters_yields_duplicates ----------------------------------------------------


def _parameters_with_duplicates(original: Any) -> Any:
    def parameters(self: nn.Module, recurse: bool = True) -> Iterator[nn.Parameter]:
        for _, param in self.named_parameters(recurse=recurse, remove_duplicate=False):
            yield param

    return parameters


def _witness_parameters_duplicates() -> bool:
    layer = nn.Linear(2, 2)
    return len(list(nn.Sequential(layer, layer).parameters())) != 2


MODULE_PARAMETERS_YIELDS_DUPLICATES = Fault(
    "module_parameters_yields_duplicates",
    CATEGORY,
    "Module.parameters() does not de-duplicate: a shared module's or tied parameter's tensors come twice.",
    (MODULE, FIZZBUZZ),
    plant=_module_patch("parameters", _parameters_with_duplicates),
    check=_witness_parameters_duplicates,
)


# --- module_parameters_drops_last -----------------------------------------------------------


def _parameters_without_last(original: Any) -> Any:
    def parameters(self: nn.Module, recurse: bool = True) -> Iterator[nn.Parameter]:
        yield from list(original(self, recurse))[:-1]

    return parameters


def _witness_parameters_last() -> bool:
    return len(list(nn.Linear(2, 2).parameters())) != 2


MODULE_PARAMETERS_DROPS_LAST = Fault(
    "module_parameters_drops_last",
    CATEGORY,
    "Module.parameters() stops one short: the last registered parameter is never yielded "
    "(so an optimizer never updates it).",
    (MODULE, FIZZBUZZ),
    plant=_module_patch("parameters", _parameters_without_last),
    check=_witness_parameters_last,
)


# --- module_train_not_recursive -------------------------------------------------------------


def _train_not_recursive(original: Any) -> Any:
    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode  # the children keep their mode
        return self

    return train


def _witness_train() -> bool:
    net = nn.Sequential(nn.Linear(2, 2)).eval()
    return net[0].training


MODULE_TRAIN_NOT_RECURSIVE = Fault(
    "module_train_not_recursive",
    CATEGORY,
    "Module.train(mode) / eval() set the flag on the module itself but not on its children.",
    (MODULE,),
    plant=_module_patch("train", _train_not_recursive),
    check=_witness_train,
)


# --- module_state_dict_drops_last_key -------------------------------------------------------


def _state_dict_without_last_key(original: Any) -> Any:
    def state_dict(
        self: nn.Module, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> Any:
        outermost = destination is None and not args
        result = original(self, *args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        if outermost and result:
            result.pop(next(reversed(result)))
        return result

    return state_dict


def _witness_state_dict() -> bool:
    return list(nn.Linear(2, 2).state_dict()) != ["weight", "bias"]


MODULE_STATE_DICT_DROPS_LAST_KEY = Fault(
    "module_state_dict_drops_last_key",
    CATEGORY,
    "Module.state_dict() loses its last entry (the last layer's bias, say): checkpoints miss a tensor.",
    (MODULE,),
    plant=_module_patch("state_dict", _state_dict_without_last_key),
    check=_witness_state_dict,
)


FAULTS = (
    MODULE_ZERO_GRAD_DOES_NOTHING,
    MODULE_PARAMETERS_YIELDS_DUPLICATES,
    MODULE_PARAMETERS_DROPS_LAST,
    MODULE_TRAIN_NOT_RECURSIVE,
    MODULE_STATE_DICT_DROPS_LAST_KEY,
)

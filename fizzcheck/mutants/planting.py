"""How a fault is planted into torch for a while: an op-level mode or a patched attribute.

* :class:`OpFaults` is a ``TorchDispatchMode`` that hands chosen aten ops to replacement
  handlers and passes every other op through unchanged. It sits below autograd, so it sees
  the ops of forward *and* backward passes (the engine carries the mode into ``backward()``),
  whatever API reached them (``torch.matmul``, ``@``, ``F.linear``, ``nn.Linear``, ...).
* :class:`PassThroughFunctions` is a ``TorchFunctionMode`` that changes nothing: the control
  uses it, with an empty :class:`OpFaults`, to show that the planting machinery alone
  leaves the suite green.
* :func:`patched` replaces an attribute (``torch.optim.sgd.sgd``, ``nn.Module.train``, ...)
  and restores it on exit.
* :func:`op_faults` turns ``{aten op name: handler}`` into a fault's ``plant``; :data:`GEMMS`
  and :data:`REDUCTIONS` name the op groups several families replace.

Inside a handler the mode is switched off, so handlers call torch ops freely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = [
    "GEMMS",
    "REDUCTIONS",
    "Handler",
    "OpFaults",
    "PassThroughFunctions",
    "argument",
    "aten",
    "gemm_operands",
    "op_faults",
    "patched",
    "with_argument",
]

Handler = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]
"""``handler(func, args, kwargs)``: the faulty result of the aten op ``func``."""

GEMMS = ("mm", "addmm", "bmm", "baddbmm")
"""The aten GEMMs every matmul spelling (``@``, ``F.linear``, ``nn.Linear``, …) reaches."""

REDUCTIONS = ("sum.default", "sum.dim_IntList", "mean.default", "mean.dim")
"""The aten sum and mean overloads (whole tensor and over dimensions)."""


class OpFaults(TorchDispatchMode):
    """Route the aten overloads in ``handlers`` (e.g. ``torch.ops.aten.mm.default``) to faulty code."""

    def __init__(self, handlers: Mapping[Any, Handler]) -> None:
        super().__init__()
        self.handlers = dict(handlers)

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        handler = self.handlers.get(func)
        if handler is None:
            return func(*args, **kwargs)
        return handler(func, tuple(args), dict(kwargs))


class PassThroughFunctions(TorchFunctionMode):
    """A torch-function mode that intercepts every torch API call and changes nothing."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        return func(*args, **(kwargs or {}))


def argument(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    """The value of the aten op's argument ``name`` in this call (its schema default if omitted)."""
    for index, spec in enumerate(func._schema.arguments):
        if spec.name != name:
            continue
        if index < len(args):
            return args[index]
        if name in kwargs:
            return kwargs[name]
        return spec.default_value
    raise KeyError(f"{func} has no argument {name!r}")


def with_argument(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], name: str, value: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` of the same call with argument ``name`` set to ``value``."""
    for index, spec in enumerate(func._schema.arguments):
        if spec.name != name:
            continue
        if index < len(args):
            return (*args[:index], value, *args[index + 1 :]), kwargs
        return args, {**kwargs, name: value}
    raise KeyError(f"{func} has no argument {name!r}")


@contextmanager
def patched(owner: Any, attribute: str, replacement: Any) -> Iterator[None]:
    """``owner.attribute = replacement`` for the duration; the original comes back on exit."""
    original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def aten(name: str) -> Any:
    """``torch.ops.aten.<name>`` for a dotted ``packet.overload`` name, e.g. ``"sum.dim_IntList"``."""
    packet, _, overload = name.partition(".")
    return getattr(getattr(torch.ops.aten, packet), overload or "default")


def op_faults(handlers: Mapping[str, Handler]) -> Callable[[], AbstractContextManager[Any]]:
    """A fault's ``plant``: an :class:`OpFaults` routing each named aten op to its handler."""
    return lambda: OpFaults({aten(name): handler for name, handler in handlers.items()})


def gemm_operands(func: Any) -> tuple[int, int]:
    """Positions of the two matrix operands: (0, 1) for mm/bmm, (1, 2) for addmm/baddbmm."""
    return (1, 2) if func._schema.arguments[0].name == "self" and len(func._schema.arguments) > 2 else (0, 1)

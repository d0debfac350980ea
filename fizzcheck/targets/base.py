"""The framework under test, as an adapter the properties talk to.

A :class:`Target` is the only way a property reaches the framework. It exposes torch's
API as namespaces — ``target.torch``, ``target.F``, ``target.nn``, ``target.optim``,
``target.autograd``, ``target.func``, ``target.forward_ad`` and ``target.operator`` (the
tensor operators, ``operator.matmul`` is ``@``) — and converts values in and out
(:meth:`Target.tensor`, :meth:`Target.numpy`). A property spells ``target.F.linear(x, w,
b)`` where it would have spelled ``F.linear(x, w, b)``.

Torch eager (the base class, name ``torch``) looks every name up in torch itself. A target
that replaces part of the framework — a custom linear kernel, a different optimizer, the
seed's raw-tensor formulas, compiled ops — overrides names by their dotted spelling::

    class MyLinear(Target):
        name = "my-linear"

        def overrides(self):
            return {"F.linear": my_linear, "nn.Linear": MyLinearModule}

Every name it does not override stays torch's, so the whole suite runs against the mix and
a failure names the override it went through (:meth:`Target.describe` is recorded in the
results). Select a target with ``--fizzcheck-target SPEC`` or ``$FIZZCHECK_TARGET``:
``torch``, ``seed-raw``, ``compile`` / ``compile:BACKEND``, or ``package.module:Name`` for
your own class (see :func:`load_target`).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import torch
import torch.autograd.forward_ad
import torch.func
import torch.nn.functional

from fizzcheck.errors import InvalidArgument
from fizzcheck.targets.tensors import layout_of, to_numpy, to_tensor, torch_dtype

__all__ = ["NAMESPACES", "Namespace", "Target", "Tensor"]

Tensor = torch.Tensor
"""The tensor type every target produces (targets adapt torch, so they share it)."""

NAMESPACES: dict[str, ModuleType] = {
    "torch": torch,
    "F": torch.nn.functional,
    "nn": torch.nn,
    "optim": torch.optim,
    "autograd": torch.autograd,
    "func": torch.func,
    "forward_ad": torch.autograd.forward_ad,
    "operator": operator,
}
"""Namespace name → the module its names fall back to."""


class Namespace:
    """One torch namespace seen through a target: its overrides first, then torch's module."""

    def __init__(self, name: str, module: ModuleType, overrides: Mapping[str, Any]) -> None:
        self._name, self._module, self._overrides = name, module, dict(overrides)

    def __getattr__(self, attribute: str) -> Any:
        if attribute in self._overrides:
            return self._overrides[attribute]
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        return f"<{self._name}: {self._module.__name__} with overrides {sorted(self._overrides)}>"


class Target:
    """Torch eager: every name is torch's own. Subclass and override :meth:`overrides`."""

    name: ClassVar[str] = "torch"
    description: ClassVar[str] = "torch eager (no overrides)"
    compiles: ClassVar[bool] = False
    """True when the first call of an op compiles code (Hypothesis's per-example deadline is then off)."""

    def __init__(self) -> None:
        self.spec = self.name
        self._overridden = dict(self.overrides())
        by_namespace: dict[str, dict[str, Any]] = {ns: {} for ns in NAMESPACES}
        for key, value in self._overridden.items():
            namespace, _, attribute = key.partition(".")
            if namespace not in NAMESPACES or not attribute or "." in attribute:
                raise InvalidArgument(
                    f"target {self.name!r} overrides {key!r}; use 'NAMESPACE.NAME' with NAMESPACE in {sorted(NAMESPACES)}"
                )
            if not hasattr(NAMESPACES[namespace], attribute):
                raise InvalidArgument(
                    f"target {self.name!r} overrides {key!r}, which torch does not have (a typo would test torch's own)"
                )
            by_namespace[namespace][attribute] = value
        self.torch = Namespace("torch", torch, by_namespace["torch"])
        self.F = Namespace("F", torch.nn.functional, by_namespace["F"])
        self.nn = Namespace("nn", torch.nn, by_namespace["nn"])
        self.optim = Namespace("optim", torch.optim, by_namespace["optim"])
        self.autograd = Namespace("autograd", torch.autograd, by_namespace["autograd"])
        self.func = Namespace("func", torch.func, by_namespace["func"])
        self.forward_ad = Namespace("forward_ad", torch.autograd.forward_ad, by_namespace["forward_ad"])
        self.operator = Namespace("operator", operator, by_namespace["operator"])

    # --- what a target replaces -------------------------------------------------------

    def overrides(self) -> Mapping[str, Any]:
        """Dotted torch names this target replaces (``"F.linear"``, ``"optim.SGD"``…) → replacement."""
        return {}

    def replaces(self, *keys: str) -> bool:
        """True if this target overrides any of ``keys`` (properties that document a torch
        implementation detail, such as a known bug of the fused SGD kernel, run only on torch's)."""
        return any(key in self._overridden for key in keys)

    def describe(self) -> dict[str, Any]:
        """What the results record about the target."""
        return {
            "name": self.name,
            "spec": self.spec,
            "description": self.description,
            "overrides": sorted(self._overridden),
            "torch": torch.__version__,
        }

    # --- values in and out ------------------------------------------------------------

    def tensor(
        self, values: Any, *, dtype: str, device: str = "cpu", layout: str = "contiguous", requires_grad: bool = False
    ) -> Tensor:
        """``values`` (float64 numpy) as a tensor of ``dtype`` on ``device`` in a memory layout
        (see :func:`fizzcheck.targets.tensors.to_tensor`); a leaf when ``requires_grad``."""
        return to_tensor(values, dtype=dtype, device=device, layout=layout, requires_grad=requires_grad)

    @staticmethod
    def layout_of(tensor: Tensor) -> str:
        """The memory layout ``tensor`` has (:func:`fizzcheck.targets.tensors.layout_of`): what a property
        claims as its surface cell, whatever it asked for."""
        return layout_of(tensor)

    def labels(self, values: Any, *, device: str = "cpu") -> Tensor:
        """Integer class indices (int64) on ``device``."""
        return torch.as_tensor(np.asarray(values, dtype=np.int64), device=device)

    def numpy(self, tensor: Tensor) -> np.ndarray:
        """float64 host copy of a tensor (exact for every supported dtype)."""
        return to_numpy(tensor)

    def dtype(self, name: str) -> torch.dtype:
        """The framework's dtype object for a fizzcheck dtype name."""
        return torch_dtype(name)

    def synchronize(self, device: str) -> None:
        """Wait for queued work (device-side asserts surface here on CUDA)."""
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def __repr__(self) -> str:
        return f"<fizzcheck target {self.spec!r}: {self.description}>"

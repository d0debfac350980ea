"""What a catalogue entry is: a :class:`Fault` — name, category, description, targets, plant, witness.

Torch-free: a fault's ``plant`` and ``check`` are callables its family module
(:mod:`fizzcheck.mutants.faults`) defines next to the entry; torch runs only when they are called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AUTOGRAD",
    "CATEGORIES",
    "FIZZBUZZ",
    "METAMORPHIC",
    "MODULE",
    "OPS",
    "OPTIM",
    "WHOLE_SUITE",
    "Fault",
]

CATEGORIES = (
    "control",
    "precision",
    "tiling",
    "strided inputs",
    "activations",
    "losses",
    "optimizer",
    "module API",
    "autograd",
)
"""Every fault's category, in catalogue order; each category but ``control`` is one family module."""

OPS, AUTOGRAD, OPTIM = "test_ops.py", "test_autograd.py", "test_optim.py"
MODULE, FIZZBUZZ, METAMORPHIC = "test_module.py", "test_fizzbuzz.py", "test_metamorphic.py"
WHOLE_SUITE = (OPS, AUTOGRAD, OPTIM, MODULE, FIZZBUZZ, METAMORPHIC)
"""The ``properties/`` files, in kill-matrix order; the controls target all of them."""


@dataclass(frozen=True)
class Fault:
    """One plantable fault (or a control, which plants nothing that changes a result)."""

    name: str
    category: str
    description: str
    targets: tuple[str, ...]
    """``properties/`` files run against this fault."""
    plant: Callable[[], AbstractContextManager[Any]]
    """A fresh context manager that plants the fault process-wide while it is open."""
    check: Callable[[], bool]
    """The witness: a direct check on fixed inputs, True exactly while the fault is planted."""

    @property
    def is_control(self) -> bool:
        return self.category == "control"

    @contextmanager
    def activate(self) -> Iterator[Fault]:
        """Plant the fault process-wide until the block exits."""
        with self.plant():
            yield self

    def witness(self) -> bool:
        """True when a direct check on fixed inputs shows the fault changes torch's behaviour."""
        return bool(self.check())

"""The fault catalogue: realistic bugs fizzcheck plants into torch, one at a time, to measure its power.

Every :class:`~fizzcheck.mutants.fault.Fault` has

* ``activate()`` — a context manager that plants the fault process-wide while it is open
  (an aten-level :class:`~fizzcheck.mutants.planting.OpFaults` mode, or a patched torch
  function or method), and removes it on exit;
* ``witness()`` — a small direct check on fixed inputs that is True exactly when the fault
  changes torch's behaviour (so a fault that plants nothing cannot pass as "survived");
* ``targets`` — the ``properties/`` files that exercise what it breaks: ``fizzcheck mutants
  run`` runs those files against the fault (the whole suite runs against the controls).

Each fault's handler, witness and entry stand together in its family's module under
:mod:`fizzcheck.mutants.faults` (one module per category); this module only gathers the
families in catalogue order and looks faults up by name.

The faults are the kinds of bug real backends and kernels have had: a GEMM fed TF32-rounded
inputs or done in single precision, a blocked loop that forgets its remainder tile, a kernel
that ignores strides, a copy-pasted derivative, an enum mix-up in a loss's reduction, an
optimizer flag that is not forwarded, a traversal that forgets to de-duplicate, an engine that
assigns instead of accumulating. :data:`CONTROLS` plant nothing that changes a result.
"""

from __future__ import annotations

from fizzcheck.errors import InvalidArgument
from fizzcheck.mutants.fault import CATEGORIES, WHOLE_SUITE, Fault
from fizzcheck.mutants.faults import (
    activations,
    autograd,
    controls,
    losses,
    module,
    optimizer,
    precision,
    strides,
    tiling,
)
from fizzcheck.mutants.faults.tiling import TILE

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "CONTROLS",
    "FAMILIES",
    "TILE",
    "WHOLE_SUITE",
    "Fault",
    "fault_by_name",
    "fault_names",
]

FAMILIES = (precision, tiling, strides, activations, losses, optimizer, module, autograd)
"""The family modules, in catalogue order (each one category of :data:`CATEGORIES`)."""

CATALOGUE: tuple[Fault, ...] = tuple(fault for family in FAMILIES for fault in family.FAULTS)
"""Every fault ``fizzcheck mutants run`` plants; each must be killed by the ``ci`` profile."""

CONTROLS: tuple[Fault, ...] = controls.controls(CATALOGUE)
"""Runs that must leave every property green (and under which no fault's witness fires)."""


def fault_names() -> list[str]:
    return [fault.name for fault in (*CONTROLS, *CATALOGUE)]


def fault_by_name(name: str) -> Fault:
    """The fault or control called ``name``; one-line :class:`InvalidArgument` otherwise."""
    for fault in (*CONTROLS, *CATALOGUE):
        if fault.name == name:
            return fault
    raise InvalidArgument(f"fault={name!r} is not in the catalogue; use one of: {', '.join(fault_names())}")

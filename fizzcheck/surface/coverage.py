"""Which declared cells a test's examples exercise.

A property calls :func:`touch` once it has *built* a case for a cell (after any
``assume``/filter that could reject it), naming the family and a value, or several values,
for every dimension::

    touch("sgd", implementation="foreach", option=("momentum", "nesterov"), groups="several",
          param_layout=("contiguous", "transposed"), grad_layout="strided",
          state_layout="contiguous", mixed="different", dtype="float32")

Every declared cell of the family whose values are among those given is exercised by the
example. Unknown families, dimensions or values raise at once, so the catalogue and the
properties cannot drift apart silently. The recorder wraps each test in :func:`collecting`
and each Hypothesis example in :func:`example`; a cell counts once per example however often
it is touched. Outside a recording (a plain call, a fault test), ``touch`` only validates.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from fizzcheck.surface.catalogue import CATALOGUE, cell_id, family

__all__ = ["STATUSES", "CellCoverage", "cells_touched", "collecting", "coverage", "example", "family_lines", "touch"]

_counts: Counter[str] | None = None
_current: set[str] | None = None


def _values(name: str, dim: str, given: str | Iterable[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = (given,) if isinstance(given, str) else tuple(given)
    wrong = [v for v in values if v not in allowed]
    if wrong or not values:
        raise ValueError(f"surface family {name}: {dim}={wrong or values!r} is not one of {allowed}")
    return values


def cells_touched(name: str, **dims: str | Iterable[str]) -> list[str]:
    """The declared cell ids one ``touch(name, **dims)`` exercises."""
    fam = family(name)
    missing = [d for d in fam.dims if d not in dims]
    unknown = [d for d in dims if d not in fam.dims]
    if missing or unknown:
        raise ValueError(
            f"surface family {name}: touch() needs exactly {list(fam.dims)}; missing {missing}, unknown {unknown}"
        )
    given = {d: _values(name, d, dims[d], fam.dims[d]) for d in fam.dims}
    out: list[str] = []
    for crossing in fam.all_crossings():
        ordered = [d for d in fam.dims if d in crossing]
        for values in itertools.product(*(given[d] for d in ordered)):
            cell = dict(zip(ordered, values, strict=True))
            if not fam.excluded(cell):
                out.append(cell_id(name, cell))
    return out


def touch(name: str, **dims: str | Iterable[str]) -> None:
    """Record that the current example exercises the cells of family ``name`` matching ``dims``."""
    cells = cells_touched(name, **dims)
    if _current is not None:
        _current.update(cells)


@contextmanager
def example() -> Iterator[None]:
    """One example: cells touched inside count once each when it ends (nested calls join the outer)."""
    global _current
    if _current is not None or _counts is None:
        yield
        return
    _current = set()
    try:
        yield
    finally:
        _counts.update(_current)
        _current = None


@contextmanager
def collecting() -> Iterator[Counter[str]]:
    """Count examples per cell for one test; yields the counter, filled when the block ends."""
    global _counts, _current
    saved = _counts, _current
    counts: Counter[str] = Counter()
    _counts, _current = counts, None
    try:
        yield counts
    finally:
        _counts, _current = saved


# --- what a run covered -----------------------------------------------------------------

STATUSES = ("exercised", "not exercised", "not available")


@dataclass(frozen=True)
class CellCoverage:
    """One declared cell in a run: how many examples exercised it, and what that means."""

    family: str
    cell: str
    examples: int
    status: str
    """``exercised``; ``not exercised`` (a gap in the suite); ``not available`` (the cell needs a
    device the run did not have, e.g. ``module[api=cuda]`` on a CPU-only machine)."""


def coverage(counts: Mapping[str, int], devices: Iterable[str]) -> list[CellCoverage]:
    """Every declared cell with its examples in ``counts`` (cell id → examples, summed over a run's
    tests) and its status; ``devices`` are the device types the run had (``cpu``, ``cuda``)."""
    had = {str(d).split(":")[0] for d in devices}
    out = []
    for fam in CATALOGUE:
        for cell in fam.cells():
            key = cell_id(fam.name, cell)
            examples = int(counts.get(key, 0))
            needed = fam.needed_device(cell)
            if examples:
                status = "exercised"
            elif needed is not None and needed not in had:
                status = "not available"
            else:
                status = "not exercised"
            out.append(CellCoverage(fam.name, key, examples, status))
    return out


def family_lines(cells: Iterable[CellCoverage]) -> list[tuple[str, int, int, int, int, int]]:
    """Per family: (family, declared, exercised, not exercised, not available, fewest examples of an
    exercised cell), in catalogue order."""
    by_family: dict[str, list[CellCoverage]] = {}
    for c in cells:
        by_family.setdefault(c.family, []).append(c)
    lines = []
    for name, members in by_family.items():
        exercised = [c.examples for c in members if c.status == "exercised"]
        lines.append(
            (
                name,
                len(members),
                len(exercised),
                sum(c.status == "not exercised" for c in members),
                sum(c.status == "not available" for c in members),
                min(exercised, default=0),
            )
        )
    return lines

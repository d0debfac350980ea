"""The benchmark case registry: one name per case, used by pytest-benchmark, the CLI and reports.

A :class:`Case` knows how to make its inputs (numpy, seeded, the same for every
implementation), what the numpy reference says the outputs are, how far a correct
implementation may be from them (``fizzcheck.bounds.ops`` bounds), how many FLOPs and bytes
one call costs, and which implementations compute it. An :class:`Implementation` builds a
:class:`Prepared` callable from those inputs *outside* the timed region.

FLOP convention: a multiply-add is 2 FLOPs, every elementwise operation (exp and log
included) is 1 FLOP per element. Bytes are the minimum traffic: every input read once and
every output written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fizzcheck.errors import InvalidArgument

__all__ = [
    "IMPLEMENTATIONS",
    "QUICK_DTYPES",
    "Case",
    "CaseParams",
    "Implementation",
    "Prepared",
    "Size",
    "Unavailable",
    "active_target",
    "get_case",
    "iter_params",
    "register",
    "registered_cases",
    "use_target",
]

IMPLEMENTATIONS = (
    "numpy_reference",
    "torch_raw",
    "torch_nn",
    "torch_compile",
    "target",
    "torch_for_loop",
    "torch_foreach",
    "torch_fused",
)
"""Every way of computing a case, from the hand-written numpy reference to torch.compile,
``target``: the nn path through the selected ``--fizzcheck-target``, and the SGD step's three
torch paths (for-loop, foreach, fused)."""

QUICK_DTYPES = ("float32",)
"""The quick sweep times torch in float32 only (the numpy reference is float64 anyway): checking
and timing both dtypes at three sizes per case took 9.6 min on a busy 2-core machine; the full
sweep has every dtype."""

Arrays = dict[str, np.ndarray]


class Unavailable(Exception):
    """An implementation cannot run here (no CUDA, torch.compile failed, …): skipped with this reason."""


@dataclass(frozen=True)
class Size:
    """One point of a case's size sweep."""

    label: str
    params: dict[str, int]
    quick: bool = True
    """Part of the ``quick`` sweep (at least three sizes per case, from the seed's, so scaling
    plots show a trend)."""


@dataclass
class Prepared:
    """A ready-to-time callable: ``run()`` does one call; ``outputs(result)`` names its results
    (tensors or arrays) like the case's reference outputs, for the correctness check."""

    run: Callable[[], Any]
    outputs: Callable[[Any], dict[str, Any]]
    compile_s: float | None = None


@dataclass(frozen=True)
class Implementation:
    name: str
    build: Callable[[dict[str, int], Arrays, str, str], Prepared]
    """``build(size_params, inputs, device, dtype)``; may raise :class:`Unavailable`."""
    devices: tuple[str, ...] = ("cpu", "cuda")
    dtypes: tuple[str, ...] = ("float32", "float64", "float16", "bfloat16")
    quick_dtypes: tuple[str, ...] = QUICK_DTYPES
    quick_sizes: tuple[str, ...] | None = None
    needs_target: bool = False
    """Built from the selected ``--fizzcheck-target`` (:func:`active_target`); benchmarked only
    when one other than torch eager is selected."""
    """Restricts the quick sweep (e.g. torch.compile at the seed size only: compiling is slow)."""


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    sizes: tuple[Size, ...]
    make_inputs: Callable[[dict[str, int], np.random.Generator], Arrays]
    reference: Callable[[Arrays], Arrays]
    bounds: Callable[[Arrays, str], Arrays]
    flops: Callable[[dict[str, int]], int]
    bytes_moved: Callable[[dict[str, int], int], int]
    """``bytes_moved(size_params, itemsize)``."""
    implementations: tuple[Implementation, ...] = field(default_factory=tuple)

    def size(self, label: str) -> Size:
        for size in self.sizes:
            if size.label == label:
                return size
        raise InvalidArgument(
            f"size={label!r} is not one of case {self.name!r}'s sizes {[s.label for s in self.sizes]}"
        )

    def implementation(self, name: str) -> Implementation:
        for impl in self.implementations:
            if impl.name == name:
                return impl
        raise InvalidArgument(f"implementation={name!r} is not available for case {self.name!r}")


@dataclass(frozen=True)
class CaseParams:
    """One benchmark: case × implementation × device × dtype × size. ``id`` reads well in pytest."""

    case: str
    implementation: str
    device: str
    dtype: str
    size: str

    @property
    def id(self) -> str:
        return f"{self.case}-{self.implementation}-{self.device}-{self.dtype}-{self.size}"


_REGISTRY: dict[str, Case] = {}


def register(case: Case) -> Case:
    if case.name in _REGISTRY:
        raise InvalidArgument(f"case {case.name!r} is registered twice")
    _REGISTRY[case.name] = case
    return case


def registered_cases() -> tuple[Case, ...]:
    return tuple(_REGISTRY.values())


def get_case(name: str) -> Case:
    registered_cases()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidArgument(f"case={name!r} is not registered; known cases: {sorted(_REGISTRY)}") from None


_ACTIVE_TARGET: list[Any] = []


def use_target(target: Any) -> None:
    """Select the target that ``needs_target`` implementations run (None: none)."""
    _ACTIVE_TARGET[:] = [] if target is None else [target]


def active_target() -> Any:
    """The selected :class:`fizzcheck.targets.Target` (``Unavailable`` if none is)."""
    if not _ACTIVE_TARGET:
        raise Unavailable("no target selected (--fizzcheck-target)")
    return _ACTIVE_TARGET[0]


def iter_params(
    *, quick: bool, devices: tuple[str, ...] = ("cpu", "cuda"), with_target: bool = False
) -> Iterator[CaseParams]:
    """Every benchmark of the sweep. ``quick`` keeps every case × implementation × device at
    the seed's size, plus the quick sizes, in float32/float64. ``with_target`` adds the
    implementations that run the selected target."""
    for case in registered_cases():
        for impl in case.implementations:
            if impl.needs_target and not with_target:
                continue
            for device in devices:
                if device not in impl.devices:
                    continue
                dtypes = impl.quick_dtypes if quick else impl.dtypes
                for dtype in dtypes:
                    if device == "cpu" and dtype in ("float16", "bfloat16"):
                        continue  # half precisions are benchmarked on CUDA only
                    for size in case.sizes:
                        if quick and not size.quick:
                            continue
                        if quick and impl.quick_sizes is not None and size.label not in impl.quick_sizes:
                            continue
                        yield CaseParams(case.name, impl.name, device, dtype, size.label)

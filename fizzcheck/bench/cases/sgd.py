"""The ``sgd_step`` benchmark case: one ``torch.optim.SGD`` step over the seed net's four
parameter tensors, for each of torch's implementation paths — ``torch_for_loop``
(``foreach=False``), ``torch_foreach`` (``foreach=True``) and ``torch_fused`` (``fused=True``;
'not available' where this torch build or device has no fused SGD) — against the numpy
reference :func:`fizzcheck.reference.optim.sgd_update`.

Momentum 0.9 and weight decay 1e-4, so the step reads and writes a momentum buffer. The
gradients stay fixed; the parameters and buffers change from call to call, which keeps the
work per call identical. Correctness: the first step from the same weights lands on the
reference's within :class:`fizzcheck.bounds.training.SGDErrorBound`.

FLOPs per parameter element: weight decay (2), momentum buffer (3: multiply, scale, add),
update (2). Bytes: read parameter, gradient and buffer, write parameter and buffer.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import torch

from fizzcheck.bench.cases.ops import on_device, synchronized, uniform
from fizzcheck.bench.registry import Arrays, Case, Implementation, Prepared, Size, Unavailable, register
from fizzcheck.bounds.training import SGDErrorBound
from fizzcheck.reference.optim import SGDUpdate, sgd_update

__all__ = ["HYPER", "SGD_PATHS"]

HYPER: dict[str, Any] = {
    "lr": 0.05,
    "momentum": 0.9,
    "dampening": 0.0,
    "weight_decay": 1e-4,
    "nesterov": False,
    "maximize": False,
}
SGD_PATHS = {"torch_for_loop": {"foreach": False}, "torch_foreach": {"foreach": True}, "torch_fused": {"fused": True}}
NAMES = ("hidden.weight", "hidden.bias", "out.weight", "out.bias")


def _shapes(p: dict[str, int]) -> dict[str, tuple[int, ...]]:
    return {
        "hidden.weight": (p["hidden"], 10),
        "hidden.bias": (p["hidden"],),
        "out.weight": (4, p["hidden"]),
        "out.bias": (4,),
    }


def _inputs(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    out: Arrays = {}
    for name, shape in _shapes(p).items():
        out[name] = uniform(rng, *shape)
        out[f"grad:{name}"] = uniform(rng, *shape)
    return out


def _elements(p: dict[str, int]) -> int:
    return sum(int(np.prod(shape)) for shape in _shapes(p).values())


def _first_steps(x: Arrays) -> dict[str, SGDUpdate]:
    return {name: sgd_update(x[name], x[f"grad:{name}"], None, HYPER) for name in NAMES}


def _reference(x: Arrays) -> Arrays:
    return {name: update.new_param for name, update in _first_steps(x).items()}


def _bounds(x: Arrays, dtype: str) -> Arrays:
    bound = SGDErrorBound(dtype)
    steps: dict[Hashable, SGDUpdate] = {}  # the bound keys parameters by any hashable
    steps.update(_first_steps(x))
    bound.step(steps)
    return {name: bound.param_bound(name, x[name].shape) for name in NAMES}


def _build_reference(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
    state: dict[str, Any] = {name: (inputs[name], None) for name in NAMES}

    def run() -> dict[str, np.ndarray]:
        for name in NAMES:
            param, buffer = state[name]
            update = sgd_update(param, inputs[f"grad:{name}"], buffer, HYPER)
            state[name] = (update.new_param, update.buffer)
        return {name: state[name][0] for name in NAMES}

    return Prepared(run=run, outputs=dict)


def _path(options: dict[str, bool]) -> Any:
    def build(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
        tensors = on_device({name: inputs[name] for name in NAMES}, device, dtype)
        grads = on_device({name: inputs[f"grad:{name}"] for name in NAMES}, device, dtype)
        params = [torch.nn.Parameter(tensors[name]) for name in NAMES]
        for param, name in zip(params, NAMES, strict=True):
            param.grad = grads[name]
        try:
            optimizer = torch.optim.SGD(params, **HYPER, **options)
        except (RuntimeError, ValueError) as exc:  # e.g. fused SGD unsupported for this device/dtype
            raise Unavailable(
                f"{next(iter(options))} SGD not available here: {str(exc).splitlines()[0][:200]}"
            ) from exc

        def run() -> dict[str, torch.Tensor]:
            optimizer.step()
            return {name: param.detach() for name, param in zip(NAMES, params, strict=True)}

        return Prepared(run=synchronized(run, device), outputs=dict)

    return build


register(
    Case(
        name="sgd_step",
        description="one SGD step (momentum 0.9, weight decay 1e-4) over the seed net's parameters",
        sizes=(
            Size("seed", {"hidden": 100}),
            Size("n1000", {"hidden": 1000}),
            Size("n10000", {"hidden": 10000}),
            Size("n100000", {"hidden": 100000}, quick=False),
        ),
        make_inputs=_inputs,
        reference=_reference,
        bounds=_bounds,
        flops=lambda p: 7 * _elements(p),
        bytes_moved=lambda p, s: 5 * _elements(p) * s,
        implementations=(
            Implementation(
                "numpy_reference", _build_reference, devices=("cpu",), dtypes=("float64",), quick_dtypes=("float64",)
            ),
            *(Implementation(name, _path(options)) for name, options in SGD_PATHS.items()),
        ),
    )
)

"""Benchmark cases for the activations: ``sigmoid``, ``softmax`` and ``log_softmax``, forward
(inference) and forward+backward, under the names of their references and properties.

Inputs are ``(batch, features)``; softmax and log_softmax reduce over ``dim=1``. FLOPs per
element (elementwise = 1): sigmoid 3 forward (exp, add, divide) + 3 backward (s(1 − s) g);
softmax 5 forward (max, subtract, exp, sum, divide) + 4 backward (g·s, sum, subtract,
multiply); log_softmax 5 forward (max, subtract, exp, sum, log-subtract) + 4 backward (exp,
sum, multiply, subtract). Bytes: forward reads x and writes the output; forward+backward also
reads g and writes the gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import fizzcheck.bounds.ops as ftol
from fizzcheck.bench.cases.ops import builders, uniform
from fizzcheck.bench.registry import Arrays, Case, Size, register
from fizzcheck.reference import ops as ref
from fizzcheck.targets import Target

__all__ = ["ACTIVATION_SIZES"]

ACTIVATION_SIZES = (
    Size("seed", {"batch": 64, "features": 100}),
    Size("n256", {"batch": 256, "features": 256}),
    Size("n1024", {"batch": 1024, "features": 1024}),
    Size("n4096", {"batch": 4096, "features": 1024}, quick=False),
)
"""The seed's hidden layer (64 × 100), then sizes where the kernels' vectorisation and threads matter."""


def _inputs(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    # ±8: saturating sigmoid inputs and softmax rows dominated by a few entries
    return {"x": 8.0 * uniform(rng, p["batch"], p["features"]), "g": uniform(rng, p["batch"], p["features"])}


def _register(
    name: str,
    forward: Callable[[np.ndarray], np.ndarray],
    vjp: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray]],
    bound: Callable[..., np.ndarray],
    vjp_bound: Callable[..., tuple[np.ndarray]],
    raw: Callable[[torch.Tensor], torch.Tensor],
    module: Callable[[Target], Callable[[torch.Tensor], torch.Tensor]],
    flops: tuple[int, int],
) -> None:
    def fb_reference(x: Arrays) -> Arrays:
        (gx,) = vjp(x["x"], x["g"])
        return {"out": forward(x["x"]), "grad_x": gx}

    def fb_bounds(x: Arrays, dtype: str) -> Arrays:
        (bx,) = vjp_bound(x["x"], x["g"], dtype=dtype)
        return {"out": bound(x["x"], dtype=dtype), "grad_x": bx}

    def fb(fn: Callable[[torch.Tensor], torch.Tensor], t: dict[str, torch.Tensor]) -> dict[str, Any]:
        out = fn(t["x"])
        (gx,) = torch.autograd.grad(out, [t["x"]], t["g"])
        return {"out": out, "grad_x": gx}

    def nn_forward(t: dict[str, torch.Tensor], device: str, dtype: str, api: Target) -> Callable[[], dict[str, Any]]:
        fn = module(api)
        return lambda: {"out": fn(t["x"])}

    def nn_fb(t: dict[str, torch.Tensor], device: str, dtype: str, api: Target) -> Callable[[], dict[str, Any]]:
        fn = module(api)
        return lambda: fb(fn, t)

    elements = lambda p: p["batch"] * p["features"]  # noqa: E731 - a one-line cost
    register(
        Case(
            name=name,
            description=f"{name}(x) (inference)",
            sizes=ACTIVATION_SIZES,
            make_inputs=_inputs,
            reference=lambda x: {"out": forward(x["x"])},
            bounds=lambda x, dtype: {"out": bound(x["x"], dtype=dtype)},
            flops=lambda p: flops[0] * elements(p),
            bytes_moved=lambda p, s: 2 * elements(p) * s,
            implementations=builders(
                reference=lambda x: {"out": forward(x["x"])},
                raw=lambda t: {"out": raw(t["x"])},
                nn_path=nn_forward,
                grad=(),
                no_grad=True,
            ),
        )
    )
    register(
        Case(
            name=f"{name}_forward_backward",
            description=f"{name}(x) and the gradient of ⟨g, {name}(x)⟩ w.r.t. x",
            sizes=ACTIVATION_SIZES,
            make_inputs=_inputs,
            reference=fb_reference,
            bounds=fb_bounds,
            flops=lambda p: (flops[0] + flops[1]) * elements(p),
            bytes_moved=lambda p, s: 4 * elements(p) * s,
            implementations=builders(
                reference=fb_reference, raw=lambda t: fb(raw, t), nn_path=nn_fb, grad=("x",), no_grad=False
            ),
        )
    )


_register(
    "sigmoid",
    ref.sigmoid,
    ref.sigmoid_vjp,
    ftol.sigmoid_bound,
    ftol.sigmoid_vjp_bound,
    torch.sigmoid,
    lambda api: api.nn.Sigmoid(),
    (3, 3),
)
_register(
    "softmax",
    lambda x: ref.softmax(x, dim=1),
    lambda x, g: ref.softmax_vjp(x, g, dim=1),
    lambda x, dtype: ftol.softmax_bound(x, 1, dtype=dtype),
    lambda x, g, dtype: ftol.softmax_vjp_bound(x, g, 1, dtype=dtype),
    lambda x: torch.softmax(x, dim=1),
    lambda api: api.nn.Softmax(dim=1),
    (5, 4),
)
_register(
    "log_softmax",
    lambda x: ref.log_softmax(x, dim=1),
    lambda x, g: ref.log_softmax_vjp(x, g, dim=1),
    lambda x, dtype: ftol.log_softmax_bound(x, 1, dtype=dtype),
    lambda x, g, dtype: ftol.log_softmax_vjp_bound(x, g, 1, dtype=dtype),
    lambda x: torch.log_softmax(x, dim=1),
    lambda api: api.nn.LogSoftmax(dim=1),
    (5, 4),
)

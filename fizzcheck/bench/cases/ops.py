"""The built-in benchmark cases: the seed chapter's computations, from one matmul to a training epoch.

Every torch implementation takes the same inputs as the numpy reference. Forward-only cases
run under ``torch.no_grad()`` (inference); forward+backward cases use
``torch.autograd.grad`` so every call does identical work (``.backward()`` would accumulate
into ``.grad`` and make later calls do one more addition).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import fizzcheck.bounds.ops as ftol
from fizzcheck.bench.registry import (
    Arrays,
    Case,
    Implementation,
    Prepared,
    Size,
    Unavailable,
    active_target,
    register,
)
from fizzcheck.reference import ops as ref
from fizzcheck.targets import Target

__all__ = ["EAGER", "builders", "compiled", "on_device", "synchronized", "uniform"]

EAGER = Target()
"""torch eager: what the ``torch_nn`` implementations spell their calls through. The ``target``
implementations run the same code through the selected ``--fizzcheck-target``."""

NnPath = Callable[[dict[str, torch.Tensor], str, str, Target], Callable[[], dict[str, Any]]]
"""``nn_path(tensors, device, dtype, api)``: the computation in torch's API spelled through ``api``."""

REFERENCE_ONLY: dict[str, Any] = {"devices": ("cpu",), "dtypes": ("float64",), "quick_dtypes": ("float64",)}
"""The numpy reference always computes in float64 on the host."""

COMPILE_QUICK: dict[str, Any] = {"quick_dtypes": ()}
"""torch.compile takes seconds per graph and size (tens of seconds with a core busy): the quick
sweep cannot compile every case at three sizes within its 5 minutes, so torch.compile is
benchmarked by the full sweep only."""


# --- shared plumbing ------------------------------------------------------------------


def on_device(inputs: Arrays, device: str, dtype: str, *, grad: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Inputs as tensors; integer arrays (class targets) keep their integer dtype."""
    out = {}
    for name, array in inputs.items():
        if np.issubdtype(array.dtype, np.integer):
            out[name] = torch.as_tensor(array, device=device)
        else:
            out[name] = torch.tensor(array, dtype=EAGER.dtype(dtype), device=device, requires_grad=name in grad)
    return out


def synchronized(fn: Callable[[], Any], device: str) -> Callable[[], Any]:
    """On CUDA every measured call ends with a synchronisation, so the host clock measures
    the kernels, not their launch (each call then also starts with an idle device)."""
    if not device.startswith("cuda"):
        return fn

    def run() -> Any:
        result = fn()
        torch.cuda.synchronize()
        return result

    return run


def compiled(fn: Callable[[], Any], device: str) -> tuple[Callable[[], Any], float]:
    """``torch.compile`` ``fn`` and run it once outside the timing; returns the compiled
    callable and the first call's wall time (compilation plus one execution)."""
    try:
        # Compiling emits torch-internal warnings (deprecations inside the compiler stack, .grad
        # reads of non-leaves while tracing autograd.grad); they are not about the computation.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast = torch.compile(fn, dynamic=False)
            start = time.perf_counter()
            synchronized(fast, device)()
            return fast, time.perf_counter() - start
    except Exception as exc:  # compiler errors vary by backend and platform
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise Unavailable(f"torch.compile failed: {first[:200]}") from exc


def _uniform(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, shape)


# Implementations return their outputs named like the reference's; ``outputs=dict`` passes
# them on as they are (tensors keep their dtype, so the check sees what torch produced).


def _builders(
    *,
    reference: Callable[[Arrays], Arrays],
    raw: Callable[[dict[str, torch.Tensor]], dict[str, Any]] | None,
    nn_path: NnPath | None,
    grad: tuple[str, ...],
    no_grad: bool,
    target_path: NnPath | None = None,
) -> tuple[Implementation, ...]:
    """The implementations of a case from its numpy, raw-tensor and nn forms; ``target`` runs
    ``target_path`` (default: the nn form) through the selected target."""

    def wrap(fn: Callable[[], Any]) -> Callable[[], Any]:
        if not no_grad:
            return fn

        def inference() -> Any:
            with torch.no_grad():
                return fn()

        return inference

    def build_reference(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
        return Prepared(run=lambda: reference(inputs), outputs=dict)

    impls = [Implementation("numpy_reference", build_reference, **REFERENCE_ONLY)]
    if raw is not None:
        raw_fn = raw

        def build_raw(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
            tensors = on_device(inputs, device, dtype, grad=() if no_grad else grad)
            return Prepared(run=synchronized(wrap(lambda: raw_fn(tensors)), device), outputs=dict)

        impls.append(Implementation("torch_raw", build_raw))

    def through(path: NnPath, api_of: Callable[[], Target]) -> Callable[[dict[str, int], Arrays, str, str], Prepared]:
        """A builder running ``path`` spelled through the target ``api_of()`` returns."""

        def build(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
            api = api_of()  # first: no selected target is Unavailable before any work
            tensors = on_device(inputs, device, dtype, grad=() if no_grad else grad)
            return Prepared(run=synchronized(wrap(path(tensors, device, dtype, api)), device), outputs=dict)

        return build

    eager = nn_path or (None if raw is None else (lambda t, device, dtype, api: lambda: raw_fn(t)))
    if nn_path is not None:
        impls.append(Implementation("torch_nn", through(nn_path, lambda: EAGER)))
    if eager is not None:
        eager_fn = eager

        def build_compiled(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
            tensors = on_device(inputs, device, dtype, grad=() if no_grad else grad)
            fast, first_call = compiled(wrap(eager_fn(tensors, device, dtype, EAGER)), device)
            return Prepared(run=synchronized(fast, device), outputs=dict, compile_s=first_call)

        impls.append(Implementation("torch_compile", build_compiled, **COMPILE_QUICK))
    target_fn = target_path or nn_path
    if target_fn is not None:
        impls.append(Implementation("target", through(target_fn, active_target), needs_target=True))
    return tuple(impls)


builders = _builders
"""The numpy / raw / nn / compile / target implementations of a case (for the other case modules)."""
uniform = _uniform


def _linear_module(t: dict[str, torch.Tensor], device: str, dtype: str, api: Target) -> nn.Module:
    out_f, in_f = t["weight"].shape
    module = api.nn.Linear(in_f, out_f, device=device, dtype=api.dtype(dtype))
    with api.torch.no_grad():
        module.weight.copy_(t["weight"])
        module.bias.copy_(t["bias"])
    return module


# --- matmul ---------------------------------------------------------------------------


MATMUL_SIZES = (
    Size("seed", {"m": 64, "k": 10, "n": 100}),
    Size("n128", {"m": 128, "k": 128, "n": 128}),
    Size("n256", {"m": 256, "k": 256, "n": 256}),
    Size("n1024", {"m": 1024, "k": 1024, "n": 1024}, quick=False),
)


def _matmul_inputs(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    return {
        "a": _uniform(rng, p["m"], p["k"]),
        "b": _uniform(rng, p["k"], p["n"]),
        "g": _uniform(rng, p["m"], p["n"]),
    }


register(
    Case(
        name="matmul",
        description="C = A B, the manual matmul of the seed chapter",
        sizes=MATMUL_SIZES,
        make_inputs=_matmul_inputs,
        reference=lambda x: {"out": ref.matmul(x["a"], x["b"])},
        bounds=lambda x, dtype: {"out": ftol.matmul_bound(x["a"], x["b"], dtype=dtype)},
        flops=lambda p: 2 * p["m"] * p["k"] * p["n"],
        bytes_moved=lambda p, s: (p["m"] * p["k"] + p["k"] * p["n"] + p["m"] * p["n"]) * s,
        implementations=_builders(
            reference=lambda x: {"out": ref.matmul(x["a"], x["b"])},
            raw=lambda t: {"out": t["a"].matmul(t["b"])},
            nn_path=None,
            grad=(),
            no_grad=True,
            target_path=lambda t, device, dtype, api: lambda: {"out": api.torch.matmul(t["a"], t["b"])},
        ),
    )
)


def _matmul_fb_reference(x: Arrays) -> Arrays:
    ga, gb = ref.matmul_vjp(x["a"], x["b"], x["g"])
    return {"out": ref.matmul(x["a"], x["b"]), "grad_a": ga, "grad_b": gb}


def _matmul_fb_bounds(x: Arrays, dtype: str) -> Arrays:
    ba, bb = ftol.matmul_vjp_bound(x["a"], x["b"], x["g"], dtype=dtype)
    return {"out": ftol.matmul_bound(x["a"], x["b"], dtype=dtype), "grad_a": ba, "grad_b": bb}


def _matmul_fb(t: dict[str, torch.Tensor], api: Any = torch) -> dict[str, Any]:
    out = api.matmul(t["a"], t["b"])
    ga, gb = torch.autograd.grad(out, [t["a"], t["b"]], t["g"])
    return {"out": out, "grad_a": ga, "grad_b": gb}


register(
    Case(
        name="matmul_forward_backward",
        description="C = A B and the gradients of ⟨g, C⟩ w.r.t. A and B",
        sizes=MATMUL_SIZES,
        make_inputs=_matmul_inputs,
        reference=_matmul_fb_reference,
        bounds=_matmul_fb_bounds,
        flops=lambda p: 6 * p["m"] * p["k"] * p["n"],
        bytes_moved=lambda p, s: 2 * (p["m"] * p["k"] + p["k"] * p["n"] + p["m"] * p["n"]) * s,
        implementations=_builders(
            reference=_matmul_fb_reference,
            raw=_matmul_fb,
            nn_path=None,
            grad=("a", "b"),
            no_grad=False,
            target_path=lambda t, device, dtype, api: lambda: _matmul_fb(t, api.torch),
        ),
    )
)


# --- linear ---------------------------------------------------------------------------

LINEAR_SIZES = (
    Size("seed", {"batch": 64, "in_features": 10, "out_features": 100}),
    Size("n128", {"batch": 128, "in_features": 128, "out_features": 128}),
    Size("n256", {"batch": 256, "in_features": 256, "out_features": 256}),
    Size("n1024", {"batch": 1024, "in_features": 1024, "out_features": 1024}, quick=False),
)


def _linear_inputs(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    return {
        "x": _uniform(rng, p["batch"], p["in_features"]),
        "weight": _uniform(rng, p["out_features"], p["in_features"]),
        "bias": _uniform(rng, p["out_features"]),
        "g": _uniform(rng, p["batch"], p["out_features"]),
    }


def _linear_bytes(p: dict[str, int], s: int) -> int:
    return (
        p["batch"] * p["in_features"]
        + p["out_features"] * p["in_features"]
        + p["out_features"]
        + p["batch"] * p["out_features"]
    ) * s


register(
    Case(
        name="linear",
        description="y = x Wᵀ + b (inference)",
        sizes=LINEAR_SIZES,
        make_inputs=_linear_inputs,
        reference=lambda x: {"out": ref.linear(x["x"], x["weight"], x["bias"])},
        bounds=lambda x, dtype: {"out": ftol.linear_bound(x["x"], x["weight"], x["bias"], dtype=dtype)},
        flops=lambda p: 2 * p["batch"] * p["in_features"] * p["out_features"] + p["batch"] * p["out_features"],
        bytes_moved=_linear_bytes,
        implementations=_builders(
            reference=lambda x: {"out": ref.linear(x["x"], x["weight"], x["bias"])},
            raw=lambda t: {"out": t["x"].matmul(t["weight"].t()) + t["bias"]},
            nn_path=lambda t, device, dtype, api: (lambda m: lambda: {"out": m(t["x"])})(
                _linear_module(t, device, dtype, api)
            ),
            grad=(),
            no_grad=True,
        ),
    )
)


def _linear_fb_reference(x: Arrays) -> Arrays:
    gx, gw, gb = ref.linear_vjp(x["x"], x["weight"], x["bias"], x["g"])
    assert gb is not None  # the case always has a bias
    return {"out": ref.linear(x["x"], x["weight"], x["bias"]), "grad_x": gx, "grad_weight": gw, "grad_bias": gb}


def _linear_fb_bounds(x: Arrays, dtype: str) -> Arrays:
    bx, bw, bb = ftol.linear_vjp_bound(x["x"], x["weight"], x["bias"], x["g"], dtype=dtype)
    assert bb is not None
    return {
        "out": ftol.linear_bound(x["x"], x["weight"], x["bias"], dtype=dtype),
        "grad_x": bx,
        "grad_weight": bw,
        "grad_bias": bb,
    }


def _linear_fb_raw(t: dict[str, torch.Tensor]) -> dict[str, Any]:
    out = t["x"].matmul(t["weight"].t()) + t["bias"]
    gx, gw, gb = torch.autograd.grad(out, [t["x"], t["weight"], t["bias"]], t["g"])
    return {"out": out, "grad_x": gx, "grad_weight": gw, "grad_bias": gb}


def _linear_fb_nn(t: dict[str, torch.Tensor], device: str, dtype: str, api: Target) -> Callable[[], dict[str, Any]]:
    module = _linear_module(t, device, dtype, api)

    def step() -> dict[str, Any]:
        out = module(t["x"])
        gx, gw, gb = api.autograd.grad(out, [t["x"], module.weight, module.bias], t["g"])
        return {"out": out, "grad_x": gx, "grad_weight": gw, "grad_bias": gb}

    return step


register(
    Case(
        name="linear_forward_backward",
        description="y = x Wᵀ + b and the gradients of ⟨g, y⟩ w.r.t. x, W and b",
        sizes=LINEAR_SIZES,
        make_inputs=_linear_inputs,
        reference=_linear_fb_reference,
        bounds=_linear_fb_bounds,
        flops=lambda p: 6 * p["batch"] * p["in_features"] * p["out_features"] + 2 * p["batch"] * p["out_features"],
        bytes_moved=lambda p, s: 2 * _linear_bytes(p, s),
        implementations=_builders(
            reference=_linear_fb_reference,
            raw=_linear_fb_raw,
            nn_path=_linear_fb_nn,
            grad=("x", "weight", "bias"),
            no_grad=False,
        ),
    )
)


# --- losses ---------------------------------------------------------------------------

LOSS_SIZES = (
    Size("seed", {"batch": 64, "classes": 4}),
    Size("n128", {"batch": 128, "classes": 128}),
    Size("n256", {"batch": 256, "classes": 256}),
    Size("n1024", {"batch": 1024, "classes": 1024}, quick=False),
)


def _mse_inputs(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    return {"x": _uniform(rng, p["batch"], p["classes"]), "target": _uniform(rng, p["batch"], p["classes"])}


def _mse_reference(x: Arrays) -> Arrays:
    gx, _ = ref.mse_vjp(x["x"], x["target"], np.ones(()))
    return {"loss": ref.mse(x["x"], x["target"]), "grad_x": gx}


def _mse_bounds(x: Arrays, dtype: str) -> Arrays:
    bx, _ = ftol.mse_vjp_bound(x["x"], x["target"], np.ones(()), dtype=dtype)
    return {"loss": ftol.mse_bound(x["x"], x["target"], dtype=dtype), "grad_x": bx}


def _mse_raw(t: dict[str, torch.Tensor]) -> dict[str, Any]:
    loss = ((t["x"] - t["target"]) ** 2).mean()  # the seed's loss written by hand
    (gx,) = torch.autograd.grad(loss, [t["x"]])
    return {"loss": loss, "grad_x": gx}


def _mse_nn(t: dict[str, torch.Tensor], device: str, dtype: str, api: Target) -> Callable[[], dict[str, Any]]:
    criterion = api.nn.MSELoss()

    def step() -> dict[str, Any]:
        loss = criterion(t["x"], t["target"])
        (gx,) = api.autograd.grad(loss, [t["x"]])
        return {"loss": loss, "grad_x": gx}

    return step


register(
    Case(
        name="mse",
        description="mean((x − t)²) (inference)",
        sizes=LOSS_SIZES,
        make_inputs=_mse_inputs,
        reference=lambda x: {"loss": ref.mse(x["x"], x["target"])},
        bounds=lambda x, dtype: {"loss": ftol.mse_bound(x["x"], x["target"], dtype=dtype)},
        flops=lambda p: 3 * p["batch"] * p["classes"],
        bytes_moved=lambda p, s: 2 * p["batch"] * p["classes"] * s,
        implementations=_builders(
            reference=lambda x: {"loss": ref.mse(x["x"], x["target"])},
            raw=lambda t: {"loss": ((t["x"] - t["target"]) ** 2).mean()},
            nn_path=lambda t, device, dtype, api: (lambda c: lambda: {"loss": c(t["x"], t["target"])})(
                api.nn.MSELoss()
            ),
            grad=(),
            no_grad=True,
        ),
    )
)

register(
    Case(
        name="mse_forward_backward",
        description="mean((x − t)²) and its gradient w.r.t. x",
        sizes=LOSS_SIZES,
        make_inputs=_mse_inputs,
        reference=_mse_reference,
        bounds=_mse_bounds,
        flops=lambda p: 6 * p["batch"] * p["classes"],
        bytes_moved=lambda p, s: 3 * p["batch"] * p["classes"] * s,
        implementations=_builders(reference=_mse_reference, raw=_mse_raw, nn_path=_mse_nn, grad=("x",), no_grad=False),
    )
)


def _ce_inputs(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    return {
        "logits": 4.0 * _uniform(rng, p["batch"], p["classes"]),
        "target": rng.integers(0, p["classes"], p["batch"]),
    }


def _ce_reference(x: Arrays) -> Arrays:
    (g,) = ref.cross_entropy_vjp(x["logits"], x["target"], np.ones(()))
    return {"loss": ref.cross_entropy(x["logits"], x["target"]), "grad_logits": g}


def _ce_bounds(x: Arrays, dtype: str) -> Arrays:
    (b,) = ftol.cross_entropy_vjp_bound(x["logits"], x["target"], np.ones(()), dtype=dtype)
    return {"loss": ftol.cross_entropy_bound(x["logits"], x["target"], dtype=dtype), "grad_logits": b}


def _ce_raw(t: dict[str, torch.Tensor]) -> dict[str, Any]:
    # softmax + cross-entropy by hand: log-probabilities of the right classes, averaged
    logp = torch.log_softmax(t["logits"], dim=1)
    loss = -logp.gather(1, t["target"][:, None]).mean()
    (g,) = torch.autograd.grad(loss, [t["logits"]])
    return {"loss": loss, "grad_logits": g}


def _ce_nn(t: dict[str, torch.Tensor], device: str, dtype: str, api: Target) -> Callable[[], dict[str, Any]]:
    def step() -> dict[str, Any]:
        loss = api.F.cross_entropy(t["logits"], t["target"])
        (g,) = api.autograd.grad(loss, [t["logits"]])
        return {"loss": loss, "grad_logits": g}

    return step


register(
    Case(
        name="cross_entropy_forward_backward",
        description="cross-entropy of softmax(logits) with class targets, and its gradient",
        sizes=LOSS_SIZES,
        make_inputs=_ce_inputs,
        reference=_ce_reference,
        bounds=_ce_bounds,
        flops=lambda p: 7 * p["batch"] * p["classes"],
        bytes_moved=lambda p, s: 2 * p["batch"] * p["classes"] * s + 8 * p["batch"],
        implementations=_builders(
            reference=_ce_reference, raw=_ce_raw, nn_path=_ce_nn, grad=("logits",), no_grad=False
        ),
    )
)


register(
    Case(
        name="cross_entropy",
        description="cross-entropy of softmax(logits) with class targets (inference)",
        sizes=LOSS_SIZES,
        make_inputs=_ce_inputs,
        reference=lambda x: {"loss": ref.cross_entropy(x["logits"], x["target"])},
        bounds=lambda x, dtype: {"loss": ftol.cross_entropy_bound(x["logits"], x["target"], dtype=dtype)},
        flops=lambda p: 5 * p["batch"] * p["classes"],
        bytes_moved=lambda p, s: p["batch"] * p["classes"] * s + 8 * p["batch"],
        implementations=_builders(
            reference=lambda x: {"loss": ref.cross_entropy(x["logits"], x["target"])},
            raw=lambda t: {"loss": -torch.log_softmax(t["logits"], dim=1).gather(1, t["target"][:, None]).mean()},
            nn_path=lambda t, device, dtype, api: lambda: {"loss": api.F.cross_entropy(t["logits"], t["target"])},
            grad=(),
            no_grad=True,
        ),
    )
)

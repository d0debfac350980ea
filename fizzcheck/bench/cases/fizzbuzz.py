"""The seed's training loop as benchmark cases: one step, and one epoch over 101..1023.

One step is the chapter's: forward, MSE loss, backward, SGD update (the raw form's manual
``p -= lr * p.grad`` and zeroing; the ``nn`` form's ``zero_grad()``, ``backward()``,
``step()``). Parameters change from call to call, which keeps the work per call identical.

Correctness before speed: one step (or one epoch) from the same initial weights must land
on the reference's parameters within :func:`fizzcheck.bounds.training.fizzbuzz_step_bounds`
(chained from step to step for the epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fizzcheck import seed as fizzbuzz
from fizzcheck.bench.cases.ops import COMPILE_QUICK, EAGER, REFERENCE_ONLY, compiled, synchronized
from fizzcheck.bench.registry import Arrays, Case, Implementation, Prepared, Size, active_target, register
from fizzcheck.bounds.training import fizzbuzz_step_bounds
from fizzcheck.reference import net as ref_net
from fizzcheck.targets import Target

__all__ = ["LEARNING_RATE", "LOSS", "step_flops"]

LEARNING_RATE = 0.05
LOSS = "mse"
"""The chapter trains with MSE on sigmoid outputs."""
NAMES = ref_net.PARAMETER_NAMES


def step_flops(batch: int, inputs: int, hidden: int, outputs: int) -> int:
    """Analytic FLOPs of one MSE training step (multiply-add = 2, elementwise = 1, sigmoid = 3)."""
    forward = 2 * batch * inputs * hidden + batch * hidden + 3 * batch * hidden  # x W1ᵀ + b1, σ
    forward += 2 * batch * hidden * outputs + batch * outputs + 3 * batch * outputs  # h W2ᵀ + b2, σ
    forward += 3 * batch * outputs  # (y − t)², summed
    backward = 3 * batch * outputs + 3 * batch * outputs  # loss and output-σ derivatives
    backward += 2 * batch * hidden * outputs + batch * outputs + 2 * batch * hidden * outputs  # gW2, gb2, g_hidden
    backward += 3 * batch * hidden + 2 * batch * inputs * hidden + batch * hidden  # σ', gW1, gb1
    parameters = inputs * hidden + hidden + hidden * outputs + outputs
    return forward + backward + 2 * parameters  # p − lr·g


def _batches(rows: int, batch: int) -> list[slice]:
    return [slice(start, min(start + batch, rows)) for start in range(0, rows, batch)]


def _inputs(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    numbers = np.arange(p["first"], p["first"] + p["rows"])
    params = ref_net.init_parameters(fizzbuzz.NUM_DIGITS, p["hidden"], fizzbuzz.OUTPUT_SIZE, rng=rng)
    return {"x": fizzbuzz.encode(numbers), "target": fizzbuzz.labels(numbers), **params}


def _params(inputs: Arrays) -> dict[str, np.ndarray]:
    return {name: inputs[name] for name in NAMES}


def _reference_epoch(inputs: Arrays, batch: int) -> Arrays:
    params = _params(inputs)
    loss = 0.0
    for rows in _batches(len(inputs["x"]), batch):
        _, loss, grads = ref_net.loss_and_gradients(params, inputs["x"][rows], inputs["target"][rows], loss_name=LOSS)
        params = ref_net.sgd_step(params, grads, LEARNING_RATE)
    return {"loss": np.asarray(loss), **params}


def _epoch_bounds(inputs: Arrays, batch: int, dtype: str) -> Arrays:
    params, error = _params(inputs), None
    bounds = None
    for rows in _batches(len(inputs["x"]), batch):
        x, target = inputs["x"][rows], inputs["target"][rows]
        bounds = fizzbuzz_step_bounds(
            params, x, target, loss_name=LOSS, lr=LEARNING_RATE, dtype=dtype, param_error=error
        )
        _, _, grads = ref_net.loss_and_gradients(params, x, target, loss_name=LOSS)
        params, error = ref_net.sgd_step(params, grads, LEARNING_RATE), bounds.new_params
    assert bounds is not None
    return {"loss": np.asarray(bounds.loss), **bounds.new_params}


def _torch_batches(inputs: Arrays, batch: int, device: str, dtype: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x = torch.tensor(inputs["x"], dtype=EAGER.dtype(dtype), device=device)
    target = torch.as_tensor(inputs["target"], device=device)
    return [(x[rows], target[rows]) for rows in _batches(len(inputs["x"]), batch)]


def _implementations(batch_of: Callable[[dict[str, int]], int]) -> tuple[Implementation, ...]:
    def build_reference(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
        state = {"params": _params(inputs)}
        batch = batch_of(size)

        def run() -> float:
            loss = 0.0
            for rows in _batches(len(inputs["x"]), batch):
                x, target = inputs["x"][rows], inputs["target"][rows]
                _, loss, grads = ref_net.loss_and_gradients(state["params"], x, target, loss_name=LOSS)
                state["params"] = ref_net.sgd_step(state["params"], grads, LEARNING_RATE)
            return loss

        return Prepared(run=run, outputs=lambda loss: {"loss": np.asarray(loss), **state["params"]})

    def build_raw(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
        model = fizzbuzz.RawFizzBuzz(_params(inputs), output_sigmoid=True, dtype=dtype, device=device)
        batches = _torch_batches(inputs, batch_of(size), device, dtype)

        def run() -> torch.Tensor:
            for x, target in batches:
                loss = fizzbuzz.raw_loss(model(x), target, LOSS)
                loss.backward()
                model.update(LEARNING_RATE)  # p -= lr * p.grad under no_grad, then p.grad.zero_()
            return loss.detach()

        return Prepared(run=synchronized(run, device), outputs=lambda loss: {"loss": loss, **_raw_weights(model)})

    def nn_step(
        inputs: Arrays, size: dict[str, int], device: str, dtype: str, api: Target = EAGER
    ) -> tuple[Callable[[], Any], torch.nn.Module]:
        module = fizzbuzz.FizzBuzzNet(
            fizzbuzz.NUM_DIGITS, size["hidden"], fizzbuzz.OUTPUT_SIZE, output_sigmoid=True, target=api
        )
        module = module.to(device=device, dtype=api.dtype(dtype))
        with api.torch.no_grad():
            for tensor, name in zip(module.parameters(), NAMES, strict=True):
                tensor.copy_(torch.as_tensor(inputs[name], dtype=api.dtype(dtype), device=device))
        optimizer = api.optim.SGD(module.parameters(), lr=LEARNING_RATE)
        batches = _torch_batches(inputs, batch_of(size), device, dtype)

        def run() -> torch.Tensor:
            for x, classes in batches:
                optimizer.zero_grad()
                loss = fizzbuzz.module_loss(module(x), classes, LOSS, target=api)
                loss.backward()
                optimizer.step()
            return loss.detach()

        return run, module

    def through(api_of: Callable[[], Target]) -> Callable[[dict[str, int], Arrays, str, str], Prepared]:
        """A builder training through the target ``api_of()`` returns (torch eager for torch_nn)."""

        def build(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
            run, module = nn_step(inputs, size, device, dtype, api_of())
            return Prepared(
                run=synchronized(run, device), outputs=lambda loss: {"loss": loss, **_module_weights(module)}
            )

        return build

    def build_compiled(size: dict[str, int], inputs: Arrays, device: str, dtype: str) -> Prepared:
        run, module = nn_step(inputs, size, device, dtype)
        initial = {k: v.clone() for k, v in module.state_dict().items()}
        fast, first_call = compiled(run, device)
        module.load_state_dict(initial)  # the check starts from the same weights as the others
        return Prepared(
            run=synchronized(fast, device),
            outputs=lambda loss: {"loss": loss, **_module_weights(module)},
            compile_s=first_call,
        )

    return (
        Implementation("numpy_reference", build_reference, **REFERENCE_ONLY),
        Implementation("torch_raw", build_raw),
        Implementation("torch_nn", through(lambda: EAGER)),
        Implementation("torch_compile", build_compiled, **COMPILE_QUICK),
        Implementation("target", through(active_target), needs_target=True),
    )


def _raw_weights(model: fizzbuzz.RawFizzBuzz) -> dict[str, torch.Tensor]:
    w1, b1, w2, b2 = model.parameters()
    return {
        "hidden.weight": w1.detach().t(),
        "hidden.bias": b1.detach(),
        "out.weight": w2.detach().t(),
        "out.bias": b2.detach(),
    }


def _module_weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach() for name, tensor in zip(NAMES, module.parameters(), strict=True)}


def _step_cost(p: dict[str, int], batch: int) -> int:
    return sum(
        step_flops(rows.stop - rows.start, fizzbuzz.NUM_DIGITS, p["hidden"], fizzbuzz.OUTPUT_SIZE)
        for rows in _batches(p["rows"], batch)
    )


def _step_bytes(p: dict[str, int], itemsize: int) -> int:
    parameters = (
        fizzbuzz.NUM_DIGITS * p["hidden"] + p["hidden"] + p["hidden"] * fizzbuzz.OUTPUT_SIZE + fizzbuzz.OUTPUT_SIZE
    )
    # read x and the targets, read and write every parameter and its gradient
    return (p["rows"] * fizzbuzz.NUM_DIGITS + 4 * parameters) * itemsize + 8 * p["rows"]


register(
    Case(
        name="fizzbuzz_train_step",
        description="one training step of the seed's net: forward, MSE, backward, SGD update",
        sizes=(
            Size("seed", {"first": 101, "rows": 64, "hidden": 100}),
            Size("n300", {"first": 101, "rows": 128, "hidden": 300}),
            Size("n1000", {"first": 101, "rows": 256, "hidden": 1000}),
            Size("n4000", {"first": 101, "rows": 900, "hidden": 4000}, quick=False),
        ),
        make_inputs=_inputs,
        reference=lambda inputs: _reference_epoch(inputs, len(inputs["x"])),
        bounds=lambda inputs, dtype: _epoch_bounds(inputs, len(inputs["x"]), dtype),
        flops=lambda p: _step_cost(p, p["rows"]),
        bytes_moved=_step_bytes,
        implementations=_implementations(lambda size: size["rows"]),
    )
)

EPOCH_BATCH = 64

register(
    Case(
        name="fizzbuzz_epoch",
        description="one epoch over 101..1023 in batches of 64, as the chapter trains",
        sizes=(
            Size("seed", {"first": 101, "rows": 923, "hidden": 100}),
            Size("n300", {"first": 101, "rows": 923, "hidden": 300}),
            Size("n1000", {"first": 101, "rows": 923, "hidden": 1000}),
        ),
        make_inputs=_inputs,
        reference=lambda inputs: _reference_epoch(inputs, EPOCH_BATCH),
        bounds=lambda inputs, dtype: _epoch_bounds(inputs, EPOCH_BATCH, dtype),
        flops=lambda p: _step_cost(p, EPOCH_BATCH),
        bytes_moved=lambda p, s: len(_batches(p["rows"], EPOCH_BATCH)) * _step_bytes({**p, "rows": EPOCH_BATCH}, s),
        implementations=_implementations(lambda size: EPOCH_BATCH),
    )
)

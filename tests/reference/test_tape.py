"""The reference tape is checked, not trusted; the autograd properties are shown to catch faults.

* Every tape op's reverse mode (VJP) and forward mode (JVP) against central finite
  differences in float64, and the tape's bookkeeping (accumulation, leaves, errors).
* The graph properties and the state machine of ``properties/test_autograd.py`` fail when a
  fault is injected into a *copy* of the computation: a wrong derivative in the tape or in
  torch (through a ``TorchFunctionMode`` that swaps one op), gradients that overwrite instead
  of accumulating, ``zero_grad()`` that zeroes instead of setting None, graphs never freed.
* ``docs/autograd.md`` runs, so its example cannot rot.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from torch.overrides import TorchFunctionMode

from fizzcheck import graphs
from fizzcheck.bounds.graphs import reverse_bounds
from fizzcheck.errors import BoundExceeded
from fizzcheck.reference import ops, tape
from fizzcheck.strategies import graphs as gst
from fizzcheck.targets import Target

ROOT = Path(__file__).resolve().parents[2]


def _positive(x: np.ndarray) -> np.ndarray:
    return np.abs(x) + 0.5


def _away_from_zero(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x + 0.25, x - 0.25)


# name: (function of tape tensors, input shapes, input transforms (domain) or None)
TAPE_CASES = {
    "add, broadcast": (lambda a, b: a + b, [(3, 4), (4,)], None),
    "sub, both broadcast": (lambda a, b: a - b, [(3, 1), (1, 4)], None),
    "mul, scalar operand": (lambda a, b: 3.0 * a * b, [(2, 3), (2, 1)], None),
    "div": (lambda a, b: a / b, [(2, 3), (3,)], (None, _positive)),
    "reflected ops": (lambda a: 1 - 2 / (a * a + 1), [(5,)], None),
    "neg": (lambda a: -a, [(2, 2)], None),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)], None),
    "matmul, vector": (lambda a, b: a @ b, [(4,), (4, 3)], None),
    "matmul, batch broadcast": (lambda a, b: a @ b, [(2, 3, 4), (4, 2)], None),
    "exp": (lambda a: a.exp(), [(2, 3)], None),
    "log": (lambda a: a.log(), [(2, 3)], (_positive,)),
    "sigmoid": (lambda a: a.sigmoid(), [(2, 3)], None),
    "tanh": (lambda a: a.tanh(), [(2, 3)], None),
    "relu": (lambda a: a.relu(), [(2, 3)], (_away_from_zero,)),
    "sum, all": (lambda a: a.sum(), [(2, 3)], None),
    "sum, dims, keepdim": (lambda a: a.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)], None),
    "mean, dim": (lambda a: a.mean(dim=1), [(2, 3, 4)], None),
    "reshape": (lambda a: a.reshape((4, 3)), [(2, 6)], None),
    "transpose": (lambda a: a.transpose(0, 2), [(2, 3, 4)], None),
    "softmax": (lambda a: tape.softmax(a, dim=1), [(3, 4)], None),
    "mse_loss": (lambda a, b: tape.mse_loss(a, b), [(3, 4), (3, 4)], None),
    "fan-out": (lambda a: (a * a).sum() + (a.exp() * a).mean() + tape.softmax(a, dim=0).sum(), [(3,)], None),
}


def _inputs(name: str) -> tuple[np.ndarray, ...]:
    _, shapes, transforms = TAPE_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    values = [rng.normal(size=shape) for shape in shapes]
    return tuple(t(v) if t else v for v, t in zip(values, transforms or [None] * len(values), strict=True))


def _value(name: str, *arrays: np.ndarray) -> np.ndarray:
    return TAPE_CASES[name][0](*(tape.Tensor(x) for x in arrays)).data


# central differences have truncation error O(h²)·|f'''| and cancellation error O(u/h)·|f|;
# with h = 1e-6 both are ≈1e-9 relative for these well-scaled inputs (as in test_reference.py)
STEP = 1e-6
RTOL, ATOL = 1e-6, 1e-7


@pytest.mark.parametrize("name", list(TAPE_CASES))
def test_tape_gradients_match_finite_differences(name):
    inputs = _inputs(name)
    leaves = [tape.Tensor(x, requires_grad=True) for x in inputs]
    out = TAPE_CASES[name][0](*leaves)
    g = np.random.default_rng(1).normal(size=out.shape)
    out.backward(g)
    for index, leaf in enumerate(leaves):
        numeric = np.zeros_like(inputs[index])
        for pos in np.ndindex(numeric.shape):
            step = STEP * max(1.0, abs(inputs[index][pos]))
            plus, minus = list(inputs), list(inputs)
            plus[index], minus[index] = inputs[index].copy(), inputs[index].copy()
            plus[index][pos] += step
            minus[index][pos] -= step
            numeric[pos] = np.sum(g * (_value(name, *plus) - _value(name, *minus))) / (2 * step)
        np.testing.assert_allclose(leaf.grad, numeric, rtol=RTOL, atol=ATOL, err_msg=f"{name}: d/d input {index}")


@pytest.mark.parametrize("name", list(TAPE_CASES))
def test_tape_tangents_match_finite_differences(name):
    inputs = _inputs(name)
    tangents = [np.random.default_rng(2).normal(size=x.shape) for x in inputs]
    out = TAPE_CASES[name][0](*(tape.Tensor(x, tangent=t) for x, t in zip(inputs, tangents, strict=True)))
    plus = _value(name, *(x + STEP * t for x, t in zip(inputs, tangents, strict=True)))
    minus = _value(name, *(x - STEP * t for x, t in zip(inputs, tangents, strict=True)))
    assert out.tangent is not None, f"{name}: no tangent came out"
    np.testing.assert_allclose(out.tangent, (plus - minus) / (2 * STEP), rtol=RTOL, atol=ATOL, err_msg=name)


def test_tape_values_are_the_numpy_references():
    x = np.random.default_rng(3).normal(size=(3, 4))
    np.testing.assert_array_equal(tape.softmax(tape.Tensor(x), dim=1).data, ops.softmax(x, dim=1))
    np.testing.assert_array_equal(tape.Tensor(x).sigmoid().data, ops.sigmoid(x))
    np.testing.assert_array_equal((tape.Tensor(x) @ tape.Tensor(x.T)).data, ops.matmul(x, x.T))


# --- the tape's bookkeeping (torch's documented rules) --------------------------------------


def test_backward_accumulates_into_grad():
    a = tape.Tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 4.0])
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, [4.0, 8.0])
    a.grad = None
    (3 * a).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


def test_fan_out_sums_the_gradients_of_all_uses():
    a = tape.Tensor(2.0, requires_grad=True)
    b = tape.Tensor(5.0, requires_grad=True)
    (a * b + a + a.exp()).backward()  # a is used three times
    assert a.grad == 5.0 + 1.0 + np.exp(2.0)
    assert b.grad == 2.0


def test_leaves_non_leaves_and_grad_fn():
    w = tape.Tensor([1.0, -1.0], requires_grad=True)
    c = tape.Tensor([3.0, 4.0])  # a constant leaf
    hidden = w * c
    loss = hidden.relu().sum()
    assert w.is_leaf
    assert c.is_leaf
    assert w.grad_fn is None
    assert not hidden.is_leaf
    assert repr(hidden.grad_fn) == "<MulBackward>"
    assert hidden.grad_fn.inputs == (w, None)  # c did not require grad: no edge
    constant = c * c
    assert constant.is_leaf  # no input requires grad: nothing recorded
    assert not constant.requires_grad
    loss.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 0.0])
    assert c.grad is None  # only leaves that require grad get .grad
    assert hidden.grad is None


def test_requires_grad_is_read_when_backward_runs():
    """As in torch: a leaf switched off after the forward pass gets nothing; one switched on has no edge."""
    a = tape.Tensor(1.0, requires_grad=True)
    b = tape.Tensor(2.0)
    loss = a * b
    a.requires_grad = False
    b.requires_grad = True
    loss.backward()
    assert a.grad is None
    assert b.grad is None


def test_backward_errors_match_torch():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        tape.Tensor(1.0).backward()
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (tape.Tensor([1.0, 2.0], requires_grad=True) * 2).backward()
    with pytest.raises(ValueError, match=r"tangent\.shape"):
        tape.Tensor([1.0, 2.0], tangent=[1.0])
    with pytest.raises(ValueError, match="mse_loss"):
        tape.mse_loss(tape.Tensor([1.0]), tape.Tensor([1.0, 2.0]))


def test_updates_through_data_are_not_recorded():
    p = tape.Tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    p.data -= 0.5 * p.grad  # a training step: plain numpy, no graph
    assert p.is_leaf
    assert p.grad_fn is None
    np.testing.assert_array_equal(p.data, [0.0, 0.0])


# --- the random-graph machinery -------------------------------------------------------------


def test_graph_source_is_the_code_that_runs():
    graph = (("input", (2, 3)), ("exp", 0), ("sum", 1, (1,), True), ("div", 1, 2), ("mse_loss", 3, 0))
    assert graphs.source(graph) == (
        "def graph(F, v0):\n"
        "    v1 = v0.exp()\n"
        "    v2 = v1.sum(dim=(1,), keepdim=True)\n"
        "    v3 = v1 / v2\n"
        "    v4 = F.mse_loss(v3, v0)\n"
        "    return v4"
    )
    x = np.random.default_rng(4).normal(size=(2, 3))
    expected = ops.mse(ops.softmax(x, dim=1), x)
    assert graphs.compile_graph(graph)(tape, tape.Tensor(x)).data == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gst.graphs(dtype="float16"), "float16"),
        (lambda: gst.graphs(dtype="float32", max_ops=0), "max_ops=0"),
        (lambda: gst.values((2,), "bfloat16"), "bfloat16"),
        (lambda: graphs.source([("input", (1,)), ("cosh", 0)]), "cosh"),
        (
            lambda: graphs.torch_reverse(
                [("input", ())],
                [np.zeros(())],
                np.zeros(()),
                target=Target(),
                variant="grad",
                dtype="float64",
                device="cpu",
            ),
            "variant='grad'",
        ),
    ],
)
def test_invalid_graph_calls_raise_one_error_type(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_bounds_catch_a_float64_graph_computed_in_float32():
    """The float64 bound is tight enough to flag a float64 graph that secretly ran in float32."""
    graph = (("input", (4, 8)), ("input", (8, 3)), ("matmul", 0, 1), ("tanh", 2), ("sum", 3, None, False))
    rng = np.random.default_rng(5)
    inputs = [rng.normal(size=(4, 8)), rng.normal(size=(8, 3))]
    value_bound, _ = reverse_bounds(graph, inputs, np.ones(()), dtype="float64")
    detour, _ = graphs.torch_reverse(
        graph, inputs, np.ones(()), target=Target(), variant="Tensor.backward", dtype="float32", device="cpu"
    )
    want, _ = graphs.tape_reverse(graph, inputs, np.ones(()))
    assert abs(float(detour) - float(want)) > 100 * value_bound


# --- fault injection: the properties must fail on a faulty copy ------------------------------


@pytest.fixture(scope="module")
def autograd_properties() -> Iterator[ModuleType]:
    """``properties/test_autograd.py`` as a module (the repository root is not on sys.path under plain pytest)."""
    name = "fizzcheck_autograd_properties"
    spec = importlib.util.spec_from_file_location(name, ROOT / "properties" / "test_autograd.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


FAULT_SETTINGS = settings(
    max_examples=200,
    database=None,  # a failure provoked on purpose must not be replayed by the real property
    derandomize=True,
    deadline=None,
    phases=(Phase.generate,),
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


def _run_graph_property(module: ModuleType, name: str, *, dtype: str, shrink: bool = False) -> None:
    """Run one graph property's own body (its draws and its check) under fault-test settings."""
    body = getattr(module, name).hypothesis.inner_test

    def run(device, dtype, data):  # a fresh function: settings must not stick to the property's own
        body(Target(), device, dtype, data)

    phases = (Phase.generate, Phase.shrink) if shrink else (Phase.generate,)
    given(data=st.data())(settings(FAULT_SETTINGS, phases=phases)(run))(device="cpu", dtype=dtype)


def _wrong_tanh(self: tape.Tensor) -> tape.Tensor:
    """tanh whose derivative forgot the square: 1 − y instead of 1 − y²."""
    out = np.tanh(self.data)
    return tape._result("Tanh", out, (self,), vjp=lambda g: (g * (1 - out),), jvp=lambda t: t * (1 - out))


@pytest.mark.parametrize("prop", ["test_random_graph_reverse_mode", "test_random_graph_forward_mode"])
def test_graph_properties_catch_a_wrong_derivative_in_the_tape(autograd_properties, monkeypatch, prop):
    monkeypatch.setattr(tape.Tensor, "tanh", _wrong_tanh)
    with pytest.raises(BoundExceeded) as failure:
        _run_graph_property(autograd_properties, prop, dtype="float64")
    notes = "\n".join(failure.value.__notes__)
    assert "def graph(F" in notes, notes
    assert ".tanh()" in notes, notes


def _overwriting_backward(self: tape.Tensor, gradient=None) -> None:
    """A copy of Tensor.backward whose fan-out keeps the last gradient instead of the sum."""
    gradient = np.ones_like(self.data) if gradient is None else np.asarray(gradient, dtype=np.float64)
    order: list[tape.Tensor] = []
    visited: set[int] = set()

    def visit(node: tape.Tensor) -> None:
        if id(node) not in visited:
            visited.add(id(node))
            for parent in node.grad_fn.inputs if node.grad_fn else ():
                if parent is not None:
                    visit(parent)
            order.append(node)

    visit(self)
    grads = {id(self): gradient}
    for node in reversed(order):
        g = grads.pop(id(node))
        if node.grad_fn is None:
            node.grad = g.copy() if node.grad is None else node.grad + g
            continue
        for parent, parent_grad in zip(node.grad_fn.inputs, node.grad_fn.vjp(g), strict=True):
            if parent is not None:
                grads[id(parent)] = ops.sum_to_shape(parent_grad, parent.shape)  # the fault: = instead of +=


def test_graph_property_catches_gradients_that_overwrite_instead_of_accumulating(autograd_properties, monkeypatch):
    monkeypatch.setattr(tape.Tensor, "backward", _overwriting_backward)
    with pytest.raises(BoundExceeded, match="d/dv"):
        _run_graph_property(autograd_properties, "test_random_graph_reverse_mode", dtype="float32")


class _SkewedSigmoid(torch.autograd.Function):
    """torch's sigmoid with a derivative 2⁻¹² too large (≈ 4000 float32 ulps, a subtle kernel bug)."""

    @staticmethod
    def forward(x):
        return torch.sigmoid(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y) * y * (1 + 2.0**-12)

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return t * (1 - y) * y * (1 + 2.0**-12)


class _SkewedSigmoidMode(TorchFunctionMode):
    """Routes every ``sigmoid`` inside the ``with`` block through :class:`_SkewedSigmoid`."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.sigmoid, torch.Tensor.sigmoid):
            return _SkewedSigmoid.apply(*args)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("prop", ["test_random_graph_reverse_mode", "test_random_graph_forward_mode"])
def test_graph_properties_catch_a_slightly_wrong_derivative_in_torch(autograd_properties, prop):
    with _SkewedSigmoidMode(), pytest.raises(BoundExceeded) as failure:
        _run_graph_property(autograd_properties, prop, dtype="float32")
    assert ".sigmoid()" in "\n".join(failure.value.__notes__)


def test_a_failing_graph_shrinks_and_prints_as_code(autograd_properties, monkeypatch):
    monkeypatch.setattr(tape.Tensor, "tanh", _wrong_tanh)
    with pytest.raises(BoundExceeded) as failure:
        _run_graph_property(autograd_properties, "test_random_graph_reverse_mode", dtype="float64", shrink=True)
    notes = "\n".join(failure.value.__notes__)
    code = notes[notes.index("def graph(F") :].split("\n\n")[0]
    op_lines = [line for line in code.splitlines() if re.match(r"\s+v\d+ = ", line)]
    assert len(op_lines) <= 2, code
    assert any(".tanh()" in line for line in op_lines), code
    assert "check_graph_reverse_mode(target=target, graph=graph" in notes  # run_check's reproducer follows


# --- fault injection: the state machine ------------------------------------------------------


def _faulty_machine(module: ModuleType, **overrides):
    machine = module.AutogradSemantics.on(Target(), device="cpu", dtype="float32")
    return type("FaultyAutograd", (machine,), overrides)


def _overwrite_grads(self, loss, retain_graph):
    for p in self.tensors.values():
        p.grad = None  # the fault: backward overwrites .grad instead of accumulating
    loss.backward(retain_graph=retain_graph)


def _zero_instead_of_none(self, via, set_to_none):
    owner = self.module if via == "module" else self.optimizer
    owner.zero_grad(set_to_none=False)  # the fault: zero_grad() keeps zero tensors


def _never_free(self, loss, retain_graph):
    loss.backward(retain_graph=True)  # the fault: the graph survives a backward


@pytest.mark.parametrize(
    ("fault", "overrides", "message"),
    [
        ("overwrite", {"run_backward": _overwrite_grads}, r"\.grad"),
        ("zero_grad", {"run_zero_grad": _zero_instead_of_none}, "but should be None"),
        ("never freed", {"run_backward": _never_free}, "DID NOT RAISE"),
    ],
)
def test_state_machine_catches_faulty_autograd(autograd_properties, fault, overrides, message):
    machine = _faulty_machine(autograd_properties, **overrides)
    with pytest.raises((AssertionError, pytest.fail.Exception), match=message):
        run_state_machine_as_test(machine, settings=FAULT_SETTINGS)


# --- docs/autograd.md runs -------------------------------------------------------------------


def test_autograd_doc_example_runs():
    text = (ROOT / "docs" / "autograd.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 4, "docs/autograd.md lost its code blocks"
    namespace: dict[str, object] = {"__name__": "autograd_doc"}
    for block in blocks:
        exec(compile(block, "docs/autograd.md", "exec"), namespace)
    losses = namespace["losses"]
    assert isinstance(losses, list)
    assert losses[-1] < losses[0], f"training did not reduce the loss: {losses}"

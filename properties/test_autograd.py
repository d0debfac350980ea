"""Autograd properties: random computation graphs against the reference tape, and autograd's
bookkeeping as a state machine against a model of torch's documented rules.

Every call into the framework goes through ``target`` (``--fizzcheck-target``); the
spellings below (``torch.autograd.grad`` …) name the target's namespaces, so
``torch.autograd.grad`` is ``target.autograd.grad``.

* ``test_random_graph_reverse_mode`` / ``test_random_graph_forward_mode`` draw graphs with
  :func:`fizzcheck.strategies.graphs.graphs`, run them with ``F = target.F`` and compare the target's
  output value, its gradients for a random cotangent (``torch.autograd.grad`` and
  ``.backward()``) and its forward-mode JVP (``torch.func.jvp`` and
  ``torch.autograd.forward_ad``) with :mod:`fizzcheck.reference.tape` in float64, within the
  bounds of :func:`fizzcheck.bounds.graphs.reverse_bounds` / :func:`~fizzcheck.bounds.graphs.forward_bounds`.
  A failure prints the graph as Python code.
* ``test_autograd_state_machine`` runs :class:`AutogradSemantics` on the target: random
  sequences of forward passes, ``backward()``, ``torch.autograd.grad``, ``zero_grad()``
  (of an ``nn.Module`` and a ``torch.optim.SGD``), manual SGD updates under
  ``torch.no_grad()``, updates through ``.data`` and ``detach()``, in-place updates and
  ``requires_grad`` toggles.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import fizzcheck.strategies as fst
from fizzcheck import graphs
from fizzcheck.bounds.graphs import Bounded, forward_bounds, reverse_bounds
from fizzcheck.bounds.rounding import sides
from fizzcheck.check import assert_close
from fizzcheck.dtypes import round_to
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.strategies import graphs as gst
from fizzcheck.targets import Target, Tensor

# --- random graphs ----------------------------------------------------------------------


def _assert_gradients(grads, expected, bounds, *, names, dtype, what) -> None:
    __tracebackhide__ = True
    for name, got, want, bound in zip(names, grads, expected, bounds, strict=True):
        if got is None:  # the target reports no gradient for an input the output does not use
            assert_close(np.zeros_like(want), want, bound=bound, op=f"{what} d/d{name} (None)")
        else:
            assert_close(got, want, bound=bound, op=f"{what} d/d{name}", dtype=dtype)


def check_graph_reverse_mode(
    target: Target, graph, cotangent, *, variant: str, device: str, dtype: str, layout: str, **inputs
) -> None:
    """The target's value and input gradients of sum(cotangent * graph(inputs)) against the tape."""
    names = graphs.input_names(graph)
    arrays = [inputs[name] for name in names]
    with graphs.graph_note(graph):
        value, grads = graphs.torch_reverse(
            graph, arrays, cotangent, target=target, variant=variant, dtype=dtype, device=device, layout=layout
        )
        want_value, want_grads = graphs.tape_reverse(graph, arrays, cotangent)
        value_bound, grad_bounds = reverse_bounds(graph, arrays, cotangent, dtype=dtype)
        assert_close(value, want_value, bound=value_bound, op="graph output", dtype=dtype)
        _assert_gradients(grads, want_grads, grad_bounds, names=names, dtype=dtype, what=variant)


def check_graph_forward_mode(
    target: Target, graph, *, variant: str, device: str, dtype: str, layout: str, **arrays
) -> None:
    """The target's value and JVP of graph at the inputs ``v<i>`` along the tangents ``dv<i>``, against the tape."""
    names = graphs.input_names(graph)
    inputs, tangents = [arrays[name] for name in names], [arrays[f"d{name}"] for name in names]
    with graphs.graph_note(graph):
        value, tangent = graphs.torch_forward(
            graph, inputs, tangents, target=target, variant=variant, dtype=dtype, device=device, layout=layout
        )
        want_value, want_tangent = graphs.tape_forward(graph, inputs, tangents)
        value_bound, tangent_bound = forward_bounds(graph, inputs, tangents, dtype=dtype)
        assert_close(value, want_value, bound=value_bound, op="graph output", dtype=dtype)
        _assert_gradients([tangent], [want_tangent], [tangent_bound], names=["t"], dtype=dtype, what=f"{variant} JVP")


@pytest.mark.dtypes(*gst.GRAPH_DTYPES)
@given(data=st.data())
def test_random_graph_reverse_mode(target, device, dtype, data):
    case = data.draw(gst.graphs(dtype=dtype), label="graph")
    cotangent = data.draw(gst.values(case.output_shape, dtype), label="cotangent")
    variant = data.draw(st.sampled_from(graphs.REVERSE_VARIANTS), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(
        check_graph_reverse_mode,
        target=target,
        graph=list(case.graph),
        cotangent=cotangent,
        variant=variant,
        device=device,
        dtype=dtype,
        layout=layout,
        **case.inputs,
    )


@pytest.mark.dtypes(*gst.GRAPH_DTYPES)
@pytest.mark.requires("torch_func_jvp", "forward_ad")  # it draws either variant (graphs.FORWARD_VARIANTS)
@given(data=st.data())
def test_random_graph_forward_mode(target, device, dtype, data):
    case = data.draw(gst.graphs(dtype=dtype), label="graph")
    tangents = {f"d{name}": data.draw(gst.values(x.shape, dtype), label=f"d{name}") for name, x in case.inputs.items()}
    variant = data.draw(st.sampled_from(graphs.FORWARD_VARIANTS), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(
        check_graph_forward_mode,
        target=target,
        graph=list(case.graph),
        variant=variant,
        device=device,
        dtype=dtype,
        layout=layout,
        **case.inputs,
        **tangents,
    )


# --- autograd as a state machine ------------------------------------------------------------

LEAVES = ("x", "w", "b")
"""x is a plain input tensor (requires_grad=False at first); w and b are nn.Parameters."""

PARAMETERS = ("w", "b")

SCALES = (0.5, 2.0, -1.0)
"""In-place scalings: one correctly rounded product (exact unless it under- or overflows), so
the model, rounding the same product with ``round_to``, holds the target's values bit for bit."""

LEARNING_RATES = (0.5, 0.125)
"""Powers of two, exact in every dtype; the model rounds lr * grad and p - lr * grad once each, as torch does."""

FREED = "Trying to backward through the graph a second time"
MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"
NO_GRAD_FN = "element 0 of tensors does not require grad and does not have a grad_fn"
LEAF_IN_PLACE = "a leaf Variable that requires grad is being used in an in-place operation"


@dataclass
class LeafModel:
    """What torch documents a leaf to hold."""

    data: np.ndarray
    requires_grad: bool
    grad: np.ndarray | None = None
    grad_bound: np.ndarray | None = None  # allowance for |the target's .grad − grad|
    version: int = 0  # in-place changes autograd tracks (torch's version counter)


@dataclass
class GraphModel:
    """One forward pass: its tensors and what the model expects of its backward."""

    loss: Tensor
    z: Tensor  # the non-loss intermediate x @ w + b
    differentiates: dict[str, bool]  # leaves that got an edge in the graph
    saved_versions: dict[str, int] = field(default_factory=dict)  # leaves saved for backward
    freed: bool = False

    @property
    def requires_grad(self) -> bool:
        return any(self.differentiates.values())


class AutogradSemantics(RuleBasedStateMachine):
    """The target's autograd bookkeeping against a model of torch's documented rules.

    The forward pass is ``loss = ((x @ w + b) * c).sum()``: linear in every leaf, so its
    gradients (x: c wᵀ, w: xᵀ c, b: Σ c) read only the leaves' *current* values, which is
    exactly what torch does after an untracked change through ``.data``. The model knows
    which tensors the graph saved: ``mm`` saves each operand only when the other one needs a
    gradient, ``mul`` saves the constant c, ``add`` and ``sum`` save nothing; a backward after
    a tracked in-place change of a saved leaf must raise, one after an untracked change must
    use the new values. Reference gradients and their bounds come from the tape and
    :func:`fizzcheck.bounds.graphs.reverse_bounds`; data is compared exactly.

    The ``run_*`` methods are the only calls into the autograd API under test, so fizzcheck's
    own tests can swap in faulty versions. The machine cannot take pytest fixtures: bind the
    framework under test with :meth:`on` (a subclass with ``target``, ``device`` and ``dtype``
    set), as ``test_autograd_state_machine`` does.
    """

    target: ClassVar[Target]
    device = "cpu"
    dtype = "float64"

    forward_passes = Bundle("forward_passes")

    @classmethod
    def on(cls, target: Target, *, device: str, dtype: str) -> type[AutogradSemantics]:
        """This machine run on ``target``, with leaves of ``dtype`` on ``device``."""
        name = f"{cls.__name__}_{device}_{dtype}"
        return type(name, (cls,), {"target": target, "device": device, "dtype": dtype})

    def __init__(self) -> None:
        super().__init__()
        if not isinstance(getattr(self, "target", None), Target):
            raise TypeError(f"{type(self).__name__} has no target: run AutogradSemantics.on(target, ...)")
        self.tensors: dict[str, Tensor] = {}
        self.model: dict[str, LeafModel] = {}
        self._references: dict[tuple[bytes, ...], tuple] = {}

    # --- the calls under test (overridden by fault-injection tests) -------------------------

    def run_backward(self, loss: Tensor, retain_graph: bool) -> None:
        loss.backward(retain_graph=retain_graph)

    def run_autograd_grad(self, loss: Tensor, inputs: list[Tensor], retain_graph: bool):
        return self.target.autograd.grad(loss, inputs, retain_graph=retain_graph, allow_unused=True)

    def run_zero_grad(self, via: str, set_to_none: bool | None) -> None:
        owner = self.module if via == "module" else self.optimizer
        if set_to_none is None:
            owner.zero_grad()
        else:
            owner.zero_grad(set_to_none=set_to_none)

    # --- setup ------------------------------------------------------------------------------

    @initialize(data=st.data())
    def create_leaves(self, data):
        n, m, k = (data.draw(st.integers(1, 4), label=label) for label in ("batch", "in", "out"))
        values = {
            name: data.draw(gst.values(shape, self.dtype), label=name)
            for name, shape in (("x", (n, m)), ("w", (m, k)), ("b", (k,)), ("c", (n, k)))
        }
        target = self.target
        self.c = target.tensor(values["c"], dtype=self.dtype, device=self.device)
        self.c_values = values["c"]
        self.module = target.nn.Module()
        self.module.w = target.nn.Parameter(target.tensor(values["w"], dtype=self.dtype, device=self.device))
        self.module.b = target.nn.Parameter(target.tensor(values["b"], dtype=self.dtype, device=self.device))
        self.optimizer = target.optim.SGD(self.module.parameters(), lr=0.1)
        self.tensors = {
            "x": target.tensor(values["x"], dtype=self.dtype, device=self.device),
            "w": self.module.w,
            "b": self.module.b,
        }
        self.model = {name: LeafModel(values[name].copy(), requires_grad=name != "x") for name in LEAVES}
        self.graph_spec = (
            ("input", (n, m)),
            ("input", (m, k)),
            ("input", (k,)),
            ("input", (n, k)),
            ("matmul", 0, 1),
            ("add", 4, 2),
            ("mul", 5, 3),
            ("sum", 6, None, False),
        )

    # --- the model's arithmetic ---------------------------------------------------------------

    def _reference(self) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Loss, its bound, and every leaf's gradient with its bound, at the leaves' current values."""
        key = tuple(self.model[name].data.tobytes() for name in LEAVES)
        if key not in self._references:  # the values change less often than they are asked for
            inputs = [self.model["x"].data, self.model["w"].data, self.model["b"].data, self.c_values]
            value, grads = graphs.tape_reverse(self.graph_spec, inputs, np.ones(()))
            value_bound, grad_bounds = reverse_bounds(self.graph_spec, inputs, np.ones(()), dtype=self.dtype)
            gradients = {name: (grads[i], grad_bounds[i]) for i, name in enumerate(LEAVES)}
            self._references[key] = (value, value_bound, gradients)
        return self._references[key]

    def _accumulate(self, name: str, contribution: tuple[np.ndarray, np.ndarray]) -> None:
        """``.grad`` accumulates: the first gradient is stored, later ones are added (one rounding)."""
        leaf, (value, bound) = self.model[name], contribution
        if leaf.grad is None:
            leaf.grad, leaf.grad_bound = value.copy(), bound.copy()
            return
        on_torch, on_model = sides(self.dtype)
        torch_side = Bounded(leaf.grad, leaf.grad_bound, on_torch) + Bounded(value, bound, on_torch)
        model_side = Bounded(leaf.grad, 0.0, on_model) + Bounded(value, 0.0, on_model)
        leaf.grad, leaf.grad_bound = model_side.value, torch_side.error + model_side.error

    def _expected_error(self, graph: GraphModel, requested: tuple[str, ...] = LEAVES) -> str | None:
        """The error a backward to the ``requested`` leaves must raise, or None.

        The engine runs only the nodes on a path from the loss to a requested leaf in the graph
        (``.backward()`` requests them all). Every path passes mul, which saved c; only paths to
        x or w pass mm, which checks the version of every tensor it saved when it runs.
        """
        if not graph.requires_grad:
            return NO_GRAD_FN
        reached = [name for name in requested if graph.differentiates[name]]
        if not reached:
            return None
        if graph.freed:
            return FREED
        runs_mm = any(name in reached for name in ("x", "w"))
        if runs_mm and any(self.model[name].version != version for name, version in graph.saved_versions.items()):
            return MODIFIED
        return None

    def _scale(self, name: str, scale: float, *, tracked: bool) -> None:
        leaf = self.model[name]
        leaf.data = round_to(leaf.data * scale, self.dtype)
        leaf.version += tracked

    def _check_graph_tensors(self, graph: GraphModel) -> None:
        """grad_fn is set exactly on non-leaves; a non-leaf's .grad is None (reading it warns)."""
        for label, t in (("loss", graph.loss), ("x @ w + b", graph.z)):
            assert t.requires_grad == graph.requires_grad, (
                f"({label}).requires_grad={t.requires_grad}, but should be {graph.requires_grad}"
            )
            assert (t.grad_fn is not None) == graph.requires_grad, (
                f"({label}).grad_fn={t.grad_fn}, but should be set iff it requires grad"
            )
            assert t.is_leaf == (t.grad_fn is None), f"({label}).is_leaf={t.is_leaf}, but grad_fn={t.grad_fn}"
            if t.is_leaf:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    assert t.grad is None, f"({label}).grad={t.grad}, but should be None"
            else:
                with pytest.warns(UserWarning, match="is not a leaf Tensor"):
                    assert t.grad is None, f"({label}).grad={t.grad}, but a non-leaf's .grad should be None"

    # --- rules -----------------------------------------------------------------------------------

    @rule(target=forward_passes, mode=st.sampled_from(("grad", "no_grad", "detach w")))
    def forward(self, mode):
        x, w, b = (self.tensors[name] for name in LEAVES)
        w_used = w.detach() if mode == "detach w" else w
        with self.target.torch.no_grad() if mode == "no_grad" else contextlib.nullcontext():
            z = x @ w_used + b
            loss = (z * self.c).sum()
        differentiates = {
            name: mode != "no_grad" and self.model[name].requires_grad and not (mode == "detach w" and name == "w")
            for name in LEAVES
        }
        graph = GraphModel(loss, z, differentiates)
        # mm saves each operand for the other's gradient (a detached w shares w's version counter)
        if differentiates["x"]:
            graph.saved_versions["w"] = self.model["w"].version
        if differentiates["w"]:
            graph.saved_versions["x"] = self.model["x"].version
        value, value_bound, _ = self._reference()
        assert_close(loss, value, bound=value_bound, op="loss = ((x @ w + b) * c).sum()", dtype=self.dtype)
        self._check_graph_tensors(graph)
        return graph

    @rule(graph=forward_passes, retain_graph=st.booleans())
    def backward(self, graph, retain_graph):
        error = self._expected_error(graph)
        if error is not None:
            with pytest.raises(RuntimeError, match=error):
                self.run_backward(graph.loss, retain_graph)
            if error == MODIFIED:
                # The nodes before the failing one ran (and, without retain_graph, freed their
                # buffers); which leaves got a gradient first is not documented, so start over.
                graph.freed |= not retain_graph
                for name in LEAVES:
                    self.tensors[name].grad = None
                    self.model[name].grad = self.model[name].grad_bound = None
            return
        self.run_backward(graph.loss, retain_graph)
        _, _, gradients = self._reference()
        for name in LEAVES:
            # AccumulateGrad checks requires_grad when backward runs, not when the graph was built
            if graph.differentiates[name] and self.model[name].requires_grad:
                self._accumulate(name, gradients[name])
        graph.freed |= not retain_graph
        self._check_graph_tensors(graph)

    @precondition(lambda self: any(leaf.requires_grad for leaf in self.model.values()))
    @rule(graph=forward_passes, retain_graph=st.booleans())
    def autograd_grad(self, graph, retain_graph):
        """The target's autograd.grad returns the gradients and leaves every .grad untouched."""
        names = tuple(name for name in LEAVES if self.model[name].requires_grad)
        inputs = [self.tensors[name] for name in names]
        error = self._expected_error(graph, names)
        if error is not None:
            with pytest.raises(RuntimeError, match=error):
                self.run_autograd_grad(graph.loss, inputs, retain_graph)
            graph.freed |= error == MODIFIED and not retain_graph
            return
        results = self.run_autograd_grad(graph.loss, inputs, retain_graph)
        _, _, gradients = self._reference()
        for name, got in zip(names, results, strict=True):
            if graph.differentiates[name]:
                want, bound = gradients[name]
                assert_close(got, want, bound=bound, op=f"torch.autograd.grad(loss, {name})", dtype=self.dtype)
            else:
                assert got is None, (
                    f"torch.autograd.grad(loss, {name})={got}, but should be None ({name} is not in the graph)"
                )
        # only nodes that ran free their buffers, and none runs when no requested leaf is in the graph
        graph.freed |= not retain_graph and any(graph.differentiates[name] for name in names)
        self._check_graph_tensors(graph)

    @rule(via=st.sampled_from(("module", "optimizer")), set_to_none=st.sampled_from((None, True, False)))
    def zero_grad(self, via, set_to_none):
        """zero_grad() sets .grad to None by default; set_to_none=False zeroes it in place. Only parameters."""
        self.run_zero_grad(via, set_to_none)
        for name in PARAMETERS:
            leaf = self.model[name]
            if set_to_none is not False:
                leaf.grad = leaf.grad_bound = None
            elif leaf.grad is not None:
                leaf.grad, leaf.grad_bound = np.zeros_like(leaf.grad), np.zeros_like(leaf.grad)

    @precondition(lambda self: any(leaf.grad is not None for leaf in self.model.values()))
    @rule(data=st.data(), lr=st.sampled_from(LEARNING_RATES))
    def sgd_step_under_no_grad(self, data, lr):
        """The seed's manual update: ``with torch.no_grad(): p -= lr * p.grad`` (a tracked in-place change)."""
        name = data.draw(st.sampled_from([n for n in LEAVES if self.model[n].grad is not None]), label="leaf")
        p = self.tensors[name]
        step = round_to(lr * self.target.numpy(p.grad), self.dtype)
        with self.target.torch.no_grad():
            p -= lr * p.grad
        leaf = self.model[name]
        leaf.data = round_to(leaf.data - step, self.dtype)
        leaf.version += 1

    @rule(
        name=st.sampled_from(LEAVES),
        how=st.sampled_from(("no_grad", ".data", "detach()", "plain")),
        scale=st.sampled_from(SCALES),
    )
    def scale_in_place(self, name, how, scale):
        """In-place updates: tracked under no_grad and through detach() (which shares the version
        counter), untracked through .data, and refused outside no_grad on a leaf that requires grad."""
        p = self.tensors[name]
        if how == "plain" and self.model[name].requires_grad:
            with pytest.raises(RuntimeError, match=LEAF_IN_PLACE):
                p.mul_(scale)
            return
        if how == "no_grad":
            with self.target.torch.no_grad():
                p.mul_(scale)
        elif how == ".data":
            p.data.mul_(scale)
        elif how == "detach()":
            p.detach().mul_(scale)
        else:
            p.mul_(scale)
        self._scale(name, scale, tracked=how != ".data")

    @rule(name=st.sampled_from(LEAVES), flag=st.booleans())
    def set_requires_grad(self, name, flag):
        self.tensors[name].requires_grad_(flag)
        self.model[name].requires_grad = flag

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def leaves_match_the_model(self):
        for name, p in self.tensors.items():
            leaf = self.model[name]
            assert p.is_leaf, f"{name}.is_leaf=False, but a tensor the user created is a leaf"
            assert p.grad_fn is None, f"{name}.grad_fn={p.grad_fn}, but a leaf has none"
            assert p.requires_grad == leaf.requires_grad, (
                f"{name}.requires_grad={p.requires_grad}, but should be {leaf.requires_grad}"
            )
            assert np.array_equal(self.target.numpy(p), leaf.data), (
                f"{name}.data={self.target.numpy(p)}, but should be {leaf.data}"
            )
            if leaf.grad is None:
                assert p.grad is None, f"{name}.grad={p.grad}, but should be None"
            else:
                assert p.grad is not None, f"{name}.grad=None, but should be {leaf.grad}"
                assert_close(p.grad, leaf.grad, bound=leaf.grad_bound, op=f"{name}.grad", dtype=self.dtype)


@pytest.mark.dtypes(*gst.GRAPH_DTYPES)
def test_autograd_state_machine(target, device, dtype):
    machine = AutogradSemantics.on(target, device=device, dtype=dtype)
    # the active profile's settings; no deadline, as Hypothesis's own TestCase does for state
    # machines (one example is a whole sequence of steps)
    run_state_machine_as_test(machine, settings=settings(deadline=None))

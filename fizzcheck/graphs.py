"""Random computation graphs: a strategy, evaluation in the tape and in a target, and error bounds.

**Graphs.** A graph is a tuple of *steps*, each a plain tuple, so a failing graph prints as a
literal that can be pasted back::

    ("input", (2, 3))          node 0: an input of shape (2, 3)
    ("exp", 0)                 node 1 = v0.exp()            (also neg, log, sigmoid, tanh, relu)
    ("mul", 1, 0)              node 2 = v1 * v0             (also add, sub, div, matmul, mse_loss)
    ("sum", 2, (1,), True)     node 3 = v2.sum(dim=(1,), keepdim=True)   (also mean; None: all dims)
    ("reshape", 3, (2,))       node 4 = v3.reshape((2,))
    ("transpose", 2, 0, 1)     node 5 = v2.transpose(0, 1)
    ("softmax", 2, 1)          node 6 = F.softmax(v2, dim=1)

The last node is the output. :func:`source` renders a graph as a Python function
``graph(F, v0, ...)`` that runs unchanged on the tensors of the framework under test
(``F = target.F``, a :class:`fizzcheck.targets.Target`'s ``torch.nn.functional``), on
:mod:`fizzcheck.reference.tape` tensors (``F = tape``) and on :class:`Bounded` values
(error bounds). Every evaluation here runs that code (whole, or line by line for the
bounds), so the code a failure prints is the code that ran. :func:`graphs` draws graphs with fan-out (any earlier node may be
reused), broadcasting, reductions, shape changes and views.

**Error bounds.** torch computes the graph in dtype ``d`` (unit roundoff u); the tape
computes it in float64 (u₆₄) from the same inputs. For every node we bound
``D = |torch − tape|`` by splitting at the exact function ``f`` of each op evaluated at the
tape's inputs ``r``::

    |t_out − r_out| ≤ |fl_d(f̃)(t_in) − f(r_in)|  +  |fl₆₄(f̃)(r_in) − f(r_in)|
                      torch's side: inputs off       the tape's own rounding at
                      by D_in, rounds in d           its own inputs, in float64

Each side is evaluated with :class:`Bounded` arithmetic, which follows the op's formula
step by step (torch's formula from ``tools/autograd/derivatives.yaml`` on torch's side, the
tape's on the tape's; they are the same except softmax's forward-mode derivative) and
carries a rigorous bound through each step:

* propagation, without linearisation: ``a ± b``: ``e_a + e_b``; ``a·b``:
  ``|a|e_b + e_a|b| + e_a e_b``; ``a/b``: ``(e_a|b| + |a|e_b) / (|b|(|b| − e_b))``;
  ``exp``: ``exp(a)·expm1(e_a)``; ``log``: ``−log1p(−e_a/a)``; sigmoid, tanh: ``e_a``
  times the largest derivative on ``[a − e_a, a + e_a]`` (both derivatives peak at 0 and
  fall with |x|); relu, max: ``e_a`` (relu: 0 where both sides are certainly negative);
  reshapes and views: exact. These are mean-value
  bounds over the whole interval, so no first-order approximation and no safety factor.
* rounding, from :mod:`fizzcheck.bounds.ops`: one correctly rounded op adds ``u·|result|``
  (two, ``γ₂``, for a division, which kernels may do as a reciprocal and a product);
  exp, log, tanh ``2·TRANSCENDENTAL_ULPS·u`` relative; sigmoid ``2 exp errors + 2u`` as in
  ``tolerance.sigmoid_bound``; a k-term sum or dot product ``acc(k)·Σ|terms|`` with torch's
  terms bounded by ``|r| + e`` (``acc`` = ``tolerance.accumulation_factor`` for torch,
  ``tolerance.gamma`` for the tape); every rounding also adds the dtype's underflow floor.
* reverse mode: the cotangent of the output is exact; each op's VJP formula is evaluated
  the same way (forward values carry their ``D``), then broadcast inputs get their
  gradient summed back (a k-term sum), and fan-out sums the contributions of all consumers
  (m terms, ``acc(m − 1)``), as torch's engine and the tape do. Forward mode pushes exact
  input tangents through each op's JVP formula.

Cancellation is covered because every bound is absolute. Magnitudes of exact values are
taken from the float64 reference; the difference (relative ~1e-16) changes a bound by the
same relative amount, which is neglected. The strategy keeps graphs well-conditioned on the
values it draws: ``log`` only where ``a − e_a ≥`` :data:`DOMAIN_MARGIN`, ``div`` only where
``|b| − e_b ≥`` :data:`DOMAIN_MARGIN`, ``relu`` only where no element is within its bound of
0 (torch and the tape then take the same branch, so gradients agree), and no node past
:data:`VALUE_CAP`.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fizzcheck.bounds.ops as ftol
import fizzcheck.strategies as fst
from fizzcheck.dtypes import dtype_info
from fizzcheck.errors import InvalidArgument
from fizzcheck.reference import ops, tape

if TYPE_CHECKING:
    from fizzcheck.targets import Target, Tensor

__all__ = [
    "DOMAIN_MARGIN",
    "FORWARD_VARIANTS",
    "GRAPH_DTYPES",
    "INPUT_MAGNITUDE",
    "MAX_NODE_ELEMENTS",
    "MAX_OPS",
    "OPS",
    "REVERSE_VARIANTS",
    "VALUE_CAP",
    "Bounded",
    "GraphCase",
    "Side",
    "compile_graph",
    "expression",
    "forward_bounds",
    "graph_note",
    "graphs",
    "input_names",
    "reverse_bounds",
    "sides",
    "source",
    "tape_forward",
    "tape_reverse",
    "torch_forward",
    "torch_reverse",
    "values",
]

Array = np.ndarray
Step = tuple[Any, ...]
Graph = tuple[Step, ...]

MAX_OPS = 8
"""Most op nodes in one drawn graph."""

MAX_NODE_ELEMENTS = 256
"""Most elements of any node: graphs test composition, ``properties/test_ops.py`` tests sizes."""

MAX_INPUT_SIDE = 17
"""Longest input dimension: crosses 8- and 16-wide vector loops."""

INPUT_MAGNITUDE = 4.0
"""Largest |value| of inputs, tangents and cotangents."""

VALUE_CAP = 2.0**10
"""No node may exceed this magnitude (keeps exp and chained products in range)."""

DOMAIN_MARGIN = 2.0**-3
"""log(a) needs a ≥ this and a/b needs |b| ≥ this, after subtracting the error bound."""

OPS: dict[str, int] = {
    # name: number of node operands (attributes follow them in the step)
    "neg": 1,
    "add": 2,
    "sub": 2,
    "mul": 2,
    "div": 2,
    "exp": 1,
    "log": 1,
    "sigmoid": 1,
    "tanh": 1,
    "relu": 1,
    "sum": 1,
    "mean": 1,
    "reshape": 1,
    "transpose": 1,
    "matmul": 2,
    "softmax": 1,
    "mse_loss": 2,
}
"""Every op a graph can contain, simplest first (Hypothesis shrinks towards the front)."""

REVERSE_VARIANTS = ("torch.autograd.grad", "Tensor.backward")
FORWARD_VARIANTS = ("torch.func.jvp", "torch.autograd.forward_ad")

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@"}


# --- graphs as code ---------------------------------------------------------------------


def _operands(step: Step) -> tuple[int, ...]:
    return tuple(step[1 : 1 + OPS[step[0]]]) if step[0] != "input" else ()


def _attributes(step: Step) -> tuple[Any, ...]:
    return tuple(step[1 + OPS[step[0]] :])


def expression(step: Step, names: Sequence[str]) -> str:
    """The Python expression of one op step, with its operands called ``names``."""
    op, attrs = step[0], _attributes(step)
    if op not in OPS:
        raise InvalidArgument(f"step={step!r} names no known op; use one of {sorted(OPS)}")
    if op == "neg":
        return f"-{names[0]}"
    if op in _SYMBOLS:
        return f"{names[0]} {_SYMBOLS[op]} {names[1]}"
    if op in ("sum", "mean"):
        dims, keepdim = attrs
        return f"{names[0]}.{op}()" if dims is None else f"{names[0]}.{op}(dim={tuple(dims)!r}, keepdim={keepdim!r})"
    if op == "reshape":
        return f"{names[0]}.reshape({tuple(attrs[0])!r})"
    if op == "transpose":
        return f"{names[0]}.transpose({attrs[0]}, {attrs[1]})"
    if op == "softmax":
        return f"F.softmax({names[0]}, dim={attrs[0]})"
    if op == "mse_loss":
        return f"F.mse_loss({names[0]}, {names[1]})"
    return f"{names[0]}.{op}()"


def _normalise(graph: Sequence[Sequence[Any]]) -> Graph:
    steps = tuple(tuple(step) for step in graph)
    for step in steps:
        if not step or (step[0] != "input" and step[0] not in OPS):
            raise InvalidArgument(f"step={step!r} names no known op; use 'input' or one of {sorted(OPS)}")
    return steps


def input_names(graph: Sequence[Step]) -> list[str]:
    """Names of the input nodes, in the order ``graph(F, ...)`` takes them."""
    return [f"v{i}" for i, step in enumerate(graph) if step[0] == "input"]


def source(graph: Sequence[Step], name: str = "graph") -> str:
    """The graph as a Python function ``name(F, *inputs)`` returning the last node."""
    graph = _normalise(graph)
    lines = [f"def {name}(F, {', '.join(input_names(graph))}):"]
    for i, step in enumerate(graph):
        if step[0] != "input":
            lines.append(f"    v{i} = {expression(step, [f'v{j}' for j in _operands(step)])}")
    lines.append(f"    return v{len(graph) - 1}")
    return "\n".join(lines)


@functools.lru_cache(maxsize=1024)
def _compiled(graph: Graph) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source(graph), "<fizzcheck graph>", "exec"), namespace)
    return namespace["graph"]


def compile_graph(graph: Sequence[Step]) -> Callable[..., Any]:
    """The function :func:`source` prints, ready to call as ``fn(F, *inputs)``."""
    return _compiled(_normalise(graph))


@functools.lru_cache(maxsize=4096)
def _compiled_expression(code: str) -> Any:
    return compile(code, "<fizzcheck graph step>", "eval")


def _apply(step: Step, operands: Sequence[Any], functional: Any) -> Any:
    """Evaluate one step's expression on ``operands`` (any backend with torch's method names)."""
    names = [f"a{i}" for i in range(len(operands))]
    code = _compiled_expression(expression(step, names))
    return eval(code, {"F": functional}, dict(zip(names, operands, strict=True)))


@contextmanager
def graph_note(graph: Sequence[Step]) -> Iterator[None]:
    """On failure, add the graph as Python code (for the target and for the tape) to the exception."""
    try:
        yield
    except Exception as exc:
        code = source(graph).replace("\n", "\n    ")
        exc.add_note(
            "The graph as Python code (F = target.F, torch.nn.functional as the target sees it, for the "
            "target; F = fizzcheck.reference.tape for the reference tape):\n    " + code
        )
        raise


# --- error bounds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """How one side of a comparison rounds: unit roundoff, sum factor and underflow floor."""

    u: float
    accumulation: Callable[[Any, float], Any]
    floor: float

    def acc(self, k: Any) -> Any:
        """Allowance for a sum or dot product with ``k`` roundings per term."""
        return self.accumulation(k, self.u)

    @property
    def transcendental(self) -> float:
        return 2.0 * ftol.TRANSCENDENTAL_ULPS * self.u

    @property
    def sigmoid(self) -> float:
        # one or two uses of exp's error, an add and a divide (as tolerance.sigmoid_bound)
        rho = 2.0 * self.transcendental + 2.0 * self.u
        return rho / (1.0 - rho)


def sides(dtype: str) -> tuple[Side, Side]:
    """(torch's side in ``dtype``, the float64 tape's side)."""
    info, ref = dtype_info(dtype), dtype_info(ftol.REFERENCE_DTYPE)
    floor = ftol.UNDERFLOW_FLOOR_NORMALS
    return (
        Side(info.unit_roundoff, ftol.accumulation_factor, floor * info.smallest_normal),
        Side(ref.unit_roundoff, ftol.gamma, floor * ref.smallest_normal),
    )


def _reduced_axes(dim: Any, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(d % ndim for d in dims)) if ndim else ()


class Bounded:
    """A float64 ``value`` and a bound ``error`` on how far one side's result may be from it.

    Arithmetic follows torch's method names, so graph code runs on it; every operation
    propagates the operands' errors and adds its own rounding on ``side`` (see the module
    docstring for each rule).
    """

    __slots__ = ("error", "side", "value")

    def __init__(self, value: Any, error: Any, side: Side) -> None:
        self.value: Array = np.asarray(value, dtype=np.float64)
        self.error: Array = np.broadcast_to(np.asarray(error, dtype=np.float64), self.value.shape)
        self.side = side

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    def __repr__(self) -> str:
        return f"Bounded(value={self.value!r}, error={self.error!r})"

    def _lift(self, other: Any) -> Bounded:
        return other if isinstance(other, Bounded) else Bounded(other, 0.0, self.side)

    def _rounded(self, value: Any, propagated: Any, relative: float) -> Bounded:
        """A result rounded once, with relative error ``relative``, from inputs off by ``propagated``."""
        value = np.asarray(value, dtype=np.float64)
        return Bounded(value, propagated + relative * (np.abs(value) + propagated) + self.side.floor, self.side)

    # --- elementwise arithmetic ---------------------------------------------------------

    def __add__(self, other: Any) -> Bounded:
        other = self._lift(other)
        return self._rounded(self.value + other.value, self.error + other.error, self.side.u)

    def __sub__(self, other: Any) -> Bounded:
        other = self._lift(other)
        return self._rounded(self.value - other.value, self.error + other.error, self.side.u)

    def __mul__(self, other: Any) -> Bounded:
        other = self._lift(other)
        a, b, ea, eb = self.value, other.value, self.error, other.error
        return self._rounded(a * b, np.abs(a) * eb + ea * np.abs(b) + ea * eb, self.side.u)

    def __truediv__(self, other: Any) -> Bounded:
        other = self._lift(other)
        a, b, ea, eb = self.value, other.value, self.error, other.error
        margin = np.abs(b) - eb
        with np.errstate(divide="ignore", invalid="ignore"):
            propagated = np.where(margin > 0, (ea * np.abs(b) + np.abs(a) * eb) / (np.abs(b) * margin), np.inf)
        return self._rounded(a / b, propagated, float(ftol.gamma(2, self.side.u)))

    def __neg__(self) -> Bounded:
        return Bounded(-self.value, self.error, self.side)

    def __radd__(self, other: Any) -> Bounded:
        return self._lift(other) + self

    def __rsub__(self, other: Any) -> Bounded:
        return self._lift(other) - self

    def __rmul__(self, other: Any) -> Bounded:
        return self._lift(other) * self

    def __matmul__(self, other: Bounded) -> Bounded:
        return _contract(ops.matmul, self, other)

    # --- elementwise functions ----------------------------------------------------------

    def exp(self) -> Bounded:
        value = np.exp(self.value)
        return self._rounded(value, value * np.expm1(self.error), self.side.transcendental)

    def log(self) -> Bounded:
        x, e = self.value, self.error
        with np.errstate(divide="ignore", invalid="ignore"):
            propagated = np.where(x - e > 0, -np.log1p(-e / x), np.inf)
            value = np.log(x)
        return self._rounded(value, propagated, self.side.transcendental)

    def _closest_to_zero(self) -> Array:
        return np.maximum(np.abs(self.value) - self.error, 0.0)

    def sigmoid(self) -> Bounded:
        z = self._closest_to_zero()
        steepest = ops.sigmoid(z) * ops.sigmoid(-z)  # σ'(x) = σ(x)σ(−x) falls with |x|
        return self._rounded(ops.sigmoid(self.value), self.error * steepest, self.side.sigmoid)

    def tanh(self) -> Bounded:
        steepest = 1.0 - np.tanh(self._closest_to_zero()) ** 2  # tanh' = 1 − tanh² falls with |x|
        return self._rounded(np.tanh(self.value), self.error * steepest, self.side.transcendental)

    def relu(self) -> Bounded:
        # exact op, Lipschitz 1; where both sides are certainly negative both give exactly 0
        x, e = self.value, self.error
        return Bounded(np.maximum(x, 0.0), np.where(x < -e, 0.0, e), self.side)

    def relu_mask(self, gate: Bounded) -> Bounded:
        """``self`` where ``gate > 0``, else 0 (torch's threshold_backward); exact where the sign is certain."""
        certain = (np.abs(gate.value) > gate.error) | (gate.error == 0)
        positive = gate.value > 0
        error = np.where(certain, np.where(positive, self.error, 0.0), np.abs(self.value) + self.error)
        return Bounded(np.where(positive, self.value, 0.0), error, self.side)

    # --- reductions, views, broadcasting ------------------------------------------------

    def sum(self, dim: Any = None, keepdim: bool = False) -> Bounded:
        axes = _reduced_axes(dim, self.ndim)
        count = math.prod(self.shape[a] for a in axes)
        value = self.value.sum(axis=axes, keepdims=keepdim)
        terms = (np.abs(self.value) + self.error).sum(axis=axes, keepdims=keepdim)
        error = self.error.sum(axis=axes, keepdims=keepdim) + self.side.acc(count - 1) * terms + self.side.floor
        return Bounded(value, error, self.side)

    def mean(self, dim: Any = None, keepdim: bool = False) -> Bounded:
        axes = _reduced_axes(dim, self.ndim)
        return self.sum(dim, keepdim) / float(math.prod(self.shape[a] for a in axes))

    def amax(self, dim: int, keepdim: bool = False) -> Bounded:
        # |max(t) − max(r)| ≤ max|t − r|
        return Bounded(
            self.value.max(axis=dim, keepdims=keepdim), self.error.max(axis=dim, keepdims=keepdim), self.side
        )

    def reshape(self, *shape: Any) -> Bounded:
        new_shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return Bounded(self.value.reshape(new_shape), self.error.reshape(new_shape), self.side)

    def transpose(self, dim0: int, dim1: int) -> Bounded:
        return Bounded(np.swapaxes(self.value, dim0, dim1), np.swapaxes(self.error, dim0, dim1), self.side)

    def expand(self, shape: tuple[int, ...], reduced: tuple[int, ...], keepdim: bool) -> Bounded:
        """Undo a reduction over ``reduced`` (the gradient of a sum): exact copies."""
        value, error = (
            (self.value, self.error)
            if keepdim
            else (
                np.expand_dims(self.value, reduced),
                np.expand_dims(self.error, reduced),
            )
        )
        return Bounded(np.broadcast_to(value, shape), np.broadcast_to(error, shape), self.side)

    def sum_to_shape(self, shape: tuple[int, ...]) -> Bounded:
        """Sum a broadcast gradient back to ``shape``: a k-term sum per element."""
        if self.shape == tuple(shape):
            return self
        count = ops.sum_to_shape(np.ones(self.shape), shape)
        terms = ops.sum_to_shape(np.abs(self.value) + self.error, shape)
        error = ops.sum_to_shape(self.error, shape) + self.side.acc(count - 1) * terms + self.side.floor
        return Bounded(ops.sum_to_shape(self.value, shape), error, self.side)

    @staticmethod
    def total(parts: Sequence[Bounded]) -> Bounded:
        """Sum of same-shaped values in any order (fan-out accumulation): m − 1 additions."""
        if len(parts) == 1:
            return parts[0]
        side = parts[0].side
        value = np.sum([p.value for p in parts], axis=0)
        terms = np.sum([np.abs(p.value) + p.error for p in parts], axis=0)
        error = np.sum([p.error for p in parts], axis=0) + side.acc(len(parts) - 1) * terms + side.floor
        return Bounded(value, error, side)


def _contract(fn: Callable[[Array, Array], Array], x: Bounded, y: Bounded) -> Bounded:
    """A bilinear map made of dot products (matmul and its gradients), bounded term by term.

    ``fn`` must be monotone on non-negative arrays; ``fn(1, 1)`` counts the products summed
    into each output element.
    """
    side = x.side
    ax, ay = np.abs(x.value), np.abs(y.value)
    count = fn(np.ones(x.shape), np.ones(y.shape))
    if x.error.any() or y.error.any():
        propagated = fn(ax, y.error) + fn(x.error, ay) + fn(x.error, y.error)
        rounding = side.acc(count) * fn(ax + x.error, ay + y.error)
    else:  # exact operands (the tape's side): only this contraction's own rounding
        propagated, rounding = 0.0, side.acc(count) * fn(ax, ay)
    return Bounded(fn(x.value, y.value), propagated + rounding + side.floor, side)


def _matmul_vjp(a: Bounded, b: Bounded, g: Bounded) -> tuple[Bounded, Bounded]:
    # torch: mm_mat1_backward = g bᵀ, mm_mat2_backward = aᵀ g (plus batch sums): dot products
    zeros_a, zeros_b = np.zeros(a.shape), np.zeros(b.shape)
    grad_a = _contract(lambda gg, bb: ops.matmul_vjp(zeros_a, bb, gg)[0], g, b)
    grad_b = _contract(lambda aa, gg: ops.matmul_vjp(aa, zeros_b, gg)[1], a, g)
    return grad_a, grad_b


class _BoundedFunctional:
    """``F`` for graph code run on :class:`Bounded` values (the formulas torch and the tape use)."""

    @staticmethod
    def softmax(input: Bounded, dim: int) -> Bounded:
        e = (input - input.amax(dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)

    @staticmethod
    def mse_loss(input: Bounded, target: Bounded) -> Bounded:
        d = input - target
        return (d * d).mean()


# VJP rules, one per op: (g, out, operands, attributes) -> one gradient per operand, with
# torch's formulas (derivatives.yaml), which the tape uses too.
_VJP: dict[str, Callable[[Bounded, Bounded, Sequence[Bounded], tuple[Any, ...]], tuple[Bounded, ...]]] = {
    "neg": lambda g, out, x, at: (-g,),
    "add": lambda g, out, x, at: (g, g),
    "sub": lambda g, out, x, at: (g, -g),
    "mul": lambda g, out, x, at: (g * x[1], g * x[0]),
    "div": lambda g, out, x, at: (g / x[1], -g * (out / x[1])),
    "exp": lambda g, out, x, at: (g * out,),
    "log": lambda g, out, x, at: (g / x[0],),
    "sigmoid": lambda g, out, x, at: (g * (1 - out) * out,),
    "tanh": lambda g, out, x, at: (g * (1 - out * out),),
    "relu": lambda g, out, x, at: (g.relu_mask(x[0]),),
    "sum": lambda g, out, x, at: (g.expand(x[0].shape, _reduced_axes(at[0], x[0].ndim), at[1]),),
    "mean": lambda g, out, x, at: (
        g.expand(x[0].shape, _reduced_axes(at[0], x[0].ndim), at[1])
        / float(math.prod(x[0].shape[a] for a in _reduced_axes(at[0], x[0].ndim))),
    ),
    "reshape": lambda g, out, x, at: (g.reshape(x[0].shape),),
    "transpose": lambda g, out, x, at: (g.transpose(at[0], at[1]),),
    "matmul": lambda g, out, x, at: _matmul_vjp(x[0], x[1], g),
    "softmax": lambda g, out, x, at: (out * (g - (g * out).sum(at[0], keepdim=True)),),
    "mse_loss": lambda g, out, x, at: _mse_vjp(g, x[0], x[1]),
}


def _mse_vjp(g: Bounded, a: Bounded, b: Bounded) -> tuple[Bounded, Bounded]:
    # torch: norm * (a − b) * g with norm = 2/N rounded to the dtype; the target's is its negative
    scale = 2.0 / a.value.size
    norm = Bounded(scale, g.side.u * scale, g.side)
    grad = norm * (a - b) * g
    return grad, -grad


# JVP rules: (tangents, out, operands, attributes) -> the output's tangent.
_JVP: dict[str, Callable[[Sequence[Bounded], Bounded, Sequence[Bounded], tuple[Any, ...]], Bounded]] = {
    "neg": lambda t, out, x, at: -t[0],
    "add": lambda t, out, x, at: t[0] + t[1],
    "sub": lambda t, out, x, at: t[0] - t[1],
    "mul": lambda t, out, x, at: t[1] * x[0] + t[0] * x[1],
    "div": lambda t, out, x, at: (t[0] - t[1] * out) / x[1],
    "exp": lambda t, out, x, at: t[0] * out,
    "log": lambda t, out, x, at: t[0] / x[0],
    "sigmoid": lambda t, out, x, at: t[0] * (1 - out) * out,
    "tanh": lambda t, out, x, at: t[0] * (1 - out * out),
    "relu": lambda t, out, x, at: t[0].relu_mask(x[0]),
    "sum": lambda t, out, x, at: t[0].sum(at[0], at[1]),
    "mean": lambda t, out, x, at: t[0].mean(at[0], at[1]),
    "reshape": lambda t, out, x, at: t[0].reshape(at[0]),
    "transpose": lambda t, out, x, at: t[0].transpose(at[0], at[1]),
    "matmul": lambda t, out, x, at: t[0] @ x[1] + x[0] @ t[1],
    "softmax": lambda t, out, x, at: _softmax_jvp_torch(t[0], out, x[0], at[0]),
    "mse_loss": lambda t, out, x, at: (2 * (x[0] - x[1]) * t[0] - 2 * (x[0] - x[1]) * t[1]).mean(),
}

_TAPE_JVP = {
    **_JVP,
    # the tape's s ⊙ (t − Σ t s) is mathematically torch's formula, with different roundings
    "softmax": lambda t, out, x, at: out * (t[0] - (t[0] * out).sum(at[0], keepdim=True)),
}


def _softmax_jvp_torch(t: Bounded, out: Bounded, x: Bounded, dim: int) -> Bounded:
    # derivatives.yaml: result * (self_t - logsumexp_jvp(self_p, self_t, {dim}, true)), where
    # logsumexp_jvp recomputes e = exp(x − max x) and returns Σ(e t) / Σ e
    e = (x - x.amax(dim, keepdim=True)).exp()
    return out * (t - (e * t).sum(dim, keepdim=True) / e.sum(dim, keepdim=True))


Pair = tuple[Array, Array]
"""(the tape's value, bound on |torch − tape|) for one node."""


def _both_sides(
    torch_rule: Callable[..., Any],
    tape_rule: Callable[..., Any],
    operands: Sequence[Pair],
    target: Side,
    reference: Side,
) -> Any:
    """Apply a rule on torch's side (operands off by their bounds) and on the tape's (exact operands)."""
    on_torch = torch_rule(*(Bounded(v, d, target) for v, d in operands))
    on_tape = tape_rule(*(Bounded(v, 0.0, reference) for v, _ in operands))
    if isinstance(on_tape, tuple):
        return tuple((r.value, t.error + r.error) for t, r in zip(on_torch, on_tape, strict=True))
    return on_tape.value, on_torch.error + on_tape.error


def _step_rule(step: Step) -> Callable[..., Bounded]:
    return lambda *operands: _apply(step, operands, _BoundedFunctional)


def _forward_pass(graph: Graph, inputs: Sequence[Array], target: Side, reference: Side) -> list[Pair]:
    remaining = iter(inputs)
    nodes: list[Pair] = []
    for step in graph:
        if step[0] == "input":
            value = np.asarray(next(remaining), dtype=np.float64)
            nodes.append((value, np.zeros(value.shape)))
        else:
            rule = _step_rule(step)
            nodes.append(_both_sides(rule, rule, [nodes[j] for j in _operands(step)], target, reference))
    return nodes


def reverse_bounds(
    graph: Sequence[Step], inputs: Sequence[Array], cotangent: Array, *, dtype: str
) -> tuple[Array, list[Array]]:
    """Bounds on |torch − tape| for the output value and for the gradient of every input."""
    graph = _normalise(graph)
    target, reference = sides(dtype)
    nodes = _forward_pass(graph, inputs, target, reference)
    pending: dict[int, list[Pair]] = {
        len(graph) - 1: [(np.asarray(cotangent, dtype=np.float64), np.zeros(nodes[-1][0].shape))]
    }
    reached: dict[int, Pair] = {}
    for i in reversed(range(len(graph))):
        if i not in pending:
            continue  # not on a path to the output: its gradient is exactly zero
        parts = pending.pop(i)
        g = parts[0] if len(parts) == 1 else _both_sides(_total, _total, parts, target, reference)
        reached[i] = g
        step = graph[i]
        if step[0] == "input":
            continue
        operand_ids = _operands(step)
        rule = functools.partial(_vjp_rule, step)
        grads = _both_sides(rule, rule, [g, nodes[i], *(nodes[j] for j in operand_ids)], target, reference)
        for j, grad in zip(operand_ids, grads, strict=True):
            shape = nodes[j][0].shape
            reduce = functools.partial(Bounded.sum_to_shape, shape=shape)
            pending.setdefault(j, []).append(_both_sides(reduce, reduce, [grad], target, reference))
    grad_bounds = [
        reached[i][1] if i in reached else np.zeros(nodes[i][0].shape)
        for i, step in enumerate(graph)
        if step[0] == "input"
    ]
    return nodes[-1][1], grad_bounds


def _total(*parts: Bounded) -> Bounded:
    return Bounded.total(parts)


def _vjp_rule(step: Step, g: Bounded, out: Bounded, *operands: Bounded) -> tuple[Bounded, ...]:
    return _VJP[step[0]](g, out, operands, _attributes(step))


def forward_bounds(
    graph: Sequence[Step], inputs: Sequence[Array], tangents: Sequence[Array], *, dtype: str
) -> tuple[Array, Array]:
    """Bounds on |torch − tape| for the output value and for its forward-mode tangent."""
    graph = _normalise(graph)
    target, reference = sides(dtype)
    nodes = _forward_pass(graph, inputs, target, reference)
    remaining = iter(tangents)
    node_tangents: list[Pair] = []
    for i, step in enumerate(graph):
        if step[0] == "input":
            t = np.asarray(next(remaining), dtype=np.float64)
            node_tangents.append((t, np.zeros(t.shape)))
            continue
        operand_ids = _operands(step)
        n = len(operand_ids)

        def rule(table: dict[str, Any], *xs: Bounded, step: Step = step, n: int = n) -> Bounded:
            return table[step[0]](xs[:n], xs[n], xs[n + 1 :], _attributes(step))

        operands = [*(node_tangents[j] for j in operand_ids), nodes[i], *(nodes[j] for j in operand_ids)]
        node_tangents.append(
            _both_sides(functools.partial(rule, _JVP), functools.partial(rule, _TAPE_JVP), operands, target, reference)
        )
    return nodes[-1][1], node_tangents[-1][1]


# --- the strategy -----------------------------------------------------------------------


@dataclass(frozen=True)
class GraphCase:
    """A drawn graph with its input values (named like the graph code's parameters)."""

    graph: Graph
    inputs: dict[str, Array]
    output_shape: tuple[int, ...]


GRAPH_DTYPES = ("float32", "float64")
"""Dtypes the graph strategy draws for (value ranges are set for them; half precisions are
covered op by op in ``properties/test_ops.py``)."""


@functools.lru_cache(maxsize=512)
def values(shape: tuple[int, ...], dtype: str) -> st.SearchStrategy[Array]:
    """float64 arrays of values in [-INPUT_MAGNITUDE, INPUT_MAGNITUDE] exactly representable in ``dtype``.

    Element by element (each value shrinks on its own), and cached per shape: building a
    fresh array strategy for every draw costs more than the draw itself.
    """
    if dtype not in GRAPH_DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} must be one of {GRAPH_DTYPES} for graphs")
    element = st.floats(
        -INPUT_MAGNITUDE, INPUT_MAGNITUDE, width=32 if dtype == "float32" else 64, allow_subnormal=False
    )
    return hnp.arrays(np.float64, shape, elements=element)


def _fits(shape: tuple[int, ...]) -> bool:
    return math.prod(shape) <= MAX_NODE_ELEMENTS


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    if not a or not b:
        return None
    try:
        return np.matmul(np.zeros(a), np.zeros(b)).shape
    except ValueError:
        return None


def _output_shape(step: Step, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...] | None:
    """Shape of an op's result, or None if the operands do not fit it."""
    op, x = step[0], [shapes[j] for j in _operands(step)]
    if op in ("add", "sub", "mul", "div"):
        return _broadcast_shape(x[0], x[1])
    if op == "matmul":
        return _matmul_shape(x[0], x[1])
    if op == "mse_loss":
        return () if x[0] == x[1] else None
    if op in ("sum", "mean"):
        dims, keepdim = _attributes(step)
        axes = _reduced_axes(dims, len(x[0]))
        return tuple(1 if i in axes else side for i, side in enumerate(x[0]) if keepdim or i not in axes)
    if op == "reshape":
        return tuple(step[2])
    if op == "transpose":
        dims = list(x[0])
        dims[step[2]], dims[step[3]] = dims[step[3]], dims[step[2]]
        return tuple(dims)
    return x[0]


@st.composite
def _partner_shape(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: some sides 1 (or stretched from 1), dims dropped or added."""
    sides = [
        draw(st.sampled_from((1, 2, 3)) if size == 1 else st.sampled_from((size, 1)), label="partner side")
        for size in shape
    ]
    dropped = draw(st.integers(0, len(sides)), label="leading dims dropped")
    added = draw(st.lists(st.integers(1, 3), max_size=1), label="leading dims added")
    return (*added, *sides[dropped:])


@st.composite
def _matmul_partner_shape(draw: st.DrawFn, shape: tuple[int, ...], on_left: bool) -> tuple[int, ...]:
    """A fresh operand for ``shape @ new`` (or ``new @ shape`` when ``on_left``)."""
    inner = (shape[0] if len(shape) == 1 else shape[-2]) if on_left else shape[-1]
    other = draw(st.integers(1, 5), label="outer side")
    form = draw(st.sampled_from(("vector", "matrix", "batched")), label="operand form")
    if form == "vector":
        return (inner,)
    matrix = (other, inner) if on_left else (inner, other)
    return matrix if form == "matrix" else (draw(st.integers(1, 3), label="batch"), *matrix)


@st.composite
def _reshaped(draw: st.DrawFn, size: int) -> tuple[int, ...]:
    ndim = draw(st.integers(0 if size == 1 else 1, 3), label="reshape ndim")
    dims, rest = [], size
    for _ in range(max(ndim - 1, 0)):
        divisor = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]), label="reshape side")
        dims.append(divisor)
        rest //= divisor
    return (*dims, rest) if ndim else ()


def _pick(draw: st.DrawFn, candidates: Sequence[int], label: str) -> int:
    """One of ``candidates``, the most recent first (what Hypothesis shrinks towards)."""
    return candidates[len(candidates) - 1 - draw(st.integers(0, len(candidates) - 1), label=label)]


@st.composite
def _propose(draw: st.DrawFn, op: str, shapes: list[tuple[int, ...]]) -> tuple[Step, tuple[int, ...] | None] | None:
    """A step for ``op`` on earlier nodes, and the shape of a new input it needs (or None)."""
    new = len(shapes)  # the index a new input would get
    a = _pick(draw, list(range(len(shapes))), "operand")
    shape = shapes[a]
    if OPS[op] == 2:
        if op == "matmul":
            if not shape:
                return None
            on_left = draw(st.booleans(), label="new operand on the left")
            pairs = [(shapes[j], shape) if on_left else (shape, shapes[j]) for j in range(len(shapes))]
            fits = [j for j, pair in enumerate(pairs) if _matmul_shape(*pair) is not None]
        elif op == "mse_loss":
            on_left = False
            fits = [j for j in range(len(shapes)) if shapes[j] == shape]
        else:
            on_left = draw(st.booleans(), label="swap operands")
            fits = [j for j in range(len(shapes)) if _broadcast_shape(shape, shapes[j]) is not None]
        reuse: bool = draw(st.booleans(), label="reuse a node") if fits else False
        if reuse:
            b, new_shape = _pick(draw, fits, "second operand"), None
        elif op == "matmul":
            b, new_shape = new, draw(_matmul_partner_shape(shape, on_left))
        else:
            b, new_shape = new, shape if op == "mse_loss" else draw(_partner_shape(shape))
        step: Step = (op, b, a) if on_left else (op, a, b)
        return step, new_shape
    if op in ("sum", "mean"):
        dims = None
        if shape:
            dims = draw(st.none() | st.sets(st.integers(0, len(shape) - 1), min_size=1), label="dims")
        keepdim = dims is not None and draw(st.booleans(), label="keepdim")
        return (op, a, None if dims is None else tuple(sorted(dims)), keepdim), None
    if op == "reshape":
        return (op, a, draw(_reshaped(math.prod(shape)))), None
    if op == "transpose":
        if len(shape) < 2:
            return None
        d0, d1 = draw(st.sampled_from(list(itertools.combinations(range(len(shape)), 2))), label="dims")
        return (op, a, d0, d1), None
    if op == "softmax":
        return ((op, a, draw(st.integers(0, len(shape) - 1), label="dim")), None) if shape else None
    return (op, a), None


def _well_conditioned(step: Step, nodes: Sequence[Pair]) -> bool:
    """Whether torch and the tape can evaluate ``step`` on these values without leaving its domain."""
    op, x = step[0], [nodes[j] for j in _operands(step)]
    if op == "log":
        return bool(np.all(x[0][0] - x[0][1] >= DOMAIN_MARGIN))
    if op == "div":
        return bool(np.all(np.abs(x[1][0]) - x[1][1] >= DOMAIN_MARGIN))
    if op == "exp":
        return bool(np.all(x[0][0] + x[0][1] <= math.log(VALUE_CAP)))
    if op == "relu":
        value, error = x[0]
        return bool(np.all((np.abs(value) > error) | (error == 0)))
    return True


def _within_cap(node: Pair) -> bool:
    value, error = node
    return bool(np.all(np.isfinite(error)) and np.all(np.abs(value) + error <= VALUE_CAP))


_INPUT_SHAPES = fst.shapes(min_dims=0, max_dims=3, max_side=MAX_INPUT_SIDE, max_elements=64)


@st.composite
def _graph_cases(draw: st.DrawFn, dtype: str, max_ops: int) -> GraphCase:
    target, reference = sides(dtype)
    steps: list[Step] = []
    shapes: list[tuple[int, ...]] = []
    nodes: list[Pair] = []
    inputs: dict[str, Array] = {}

    def add_input(shape: tuple[int, ...], value: Array) -> None:
        name = f"v{len(steps)}"
        steps.append(("input", shape))
        shapes.append(shape)
        nodes.append((value, np.zeros(shape)))
        inputs[name] = value

    first = draw(_INPUT_SHAPES, label="shape of v0")
    add_input(first, draw(values(first, dtype), label="v0"))
    for _ in range(draw(st.integers(1, max_ops), label="ops")):
        proposal = draw(_propose(draw(st.sampled_from(tuple(OPS)), label="op"), shapes))
        if proposal is None:
            continue
        step, new_shape = proposal
        candidates = nodes
        if new_shape is not None:  # a fresh input operand, kept only if the step is
            if not _fits(new_shape):
                continue
            fresh = draw(values(new_shape, dtype), label=f"v{len(steps)}")
            candidates = [*nodes, (fresh, np.zeros(new_shape))]
        out_shape = _output_shape(step, [node[0].shape for node in candidates])
        if out_shape is None or not _fits(out_shape) or not _well_conditioned(step, candidates):
            continue
        rule = _step_rule(step)
        node = _both_sides(rule, rule, [candidates[j] for j in _operands(step)], target, reference)
        if not _within_cap(node):
            continue
        if new_shape is not None:
            add_input(new_shape, fresh)
        steps.append(step)
        shapes.append(node[0].shape)
        nodes.append(node)
    return GraphCase(graph=tuple(steps), inputs=inputs, output_shape=shapes[-1])


def graphs(*, dtype: str, max_ops: int = MAX_OPS) -> st.SearchStrategy[GraphCase]:
    """Random well-conditioned graphs over :data:`OPS` with inputs exactly representable in ``dtype``.

    Operands are any earlier node (so values fan out), a fresh input broadcast against it,
    or a fresh matmul operand; ops that would leave their domain on the drawn values are
    skipped (see the module docstring).
    """
    if dtype not in GRAPH_DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} must be one of {GRAPH_DTYPES} for graphs")
    if not isinstance(max_ops, int) or isinstance(max_ops, bool) or max_ops < 1:
        raise InvalidArgument(f"max_ops={max_ops!r} must be an integer >= 1")
    return _graph_cases(dtype, max_ops)


# --- evaluation: tape and target --------------------------------------------------------


def tape_reverse(graph: Sequence[Step], inputs: Sequence[Array], cotangent: Array) -> tuple[Array, list[Array]]:
    """The tape's output value and the gradients of sum(cotangent * output) w.r.t. every input."""
    leaves = [tape.Tensor(x, requires_grad=True) for x in inputs]
    out = compile_graph(graph)(tape, *leaves)
    out.backward(cotangent)
    return out.data, [np.zeros(leaf.shape) if leaf.grad is None else leaf.grad for leaf in leaves]


def tape_forward(graph: Sequence[Step], inputs: Sequence[Array], tangents: Sequence[Array]) -> tuple[Array, Array]:
    """The tape's output value and its forward-mode tangent for the given input tangents."""
    duals = [tape.Tensor(x, tangent=t) for x, t in zip(inputs, tangents, strict=True)]
    out = compile_graph(graph)(tape, *duals)
    return out.data, np.zeros(out.shape) if out.tangent is None else out.tangent


def torch_reverse(
    graph: Sequence[Step],
    inputs: Sequence[Array],
    cotangent: Array,
    *,
    target: Target,
    variant: str,
    dtype: str,
    device: str,
    layout: str = "contiguous",
) -> tuple[Tensor, list[Tensor | None]]:
    """The target's output and input gradients (None where it reports none), via ``variant``.

    The graph runs with ``F = target.F``; ``variant`` is ``target.autograd.grad`` or
    ``Tensor.backward`` on the target's output.
    """
    if variant not in REVERSE_VARIANTS:
        raise InvalidArgument(f"variant={variant!r} must be one of {REVERSE_VARIANTS}")
    leaves = [target.tensor(x, dtype=dtype, device=device, layout=layout, requires_grad=True) for x in inputs]
    out = compile_graph(graph)(target.F, *leaves)
    g = target.tensor(cotangent, dtype=dtype, device=device)
    grads: list[Tensor | None]
    if variant == "torch.autograd.grad":
        grads = list(target.autograd.grad(out, leaves, grad_outputs=g, allow_unused=True))
    else:
        out.backward(g)
        grads = [leaf.grad for leaf in leaves]
    return out.detach(), grads


def torch_forward(
    graph: Sequence[Step],
    inputs: Sequence[Array],
    tangents: Sequence[Array],
    *,
    target: Target,
    variant: str,
    dtype: str,
    device: str,
    layout: str = "contiguous",
) -> tuple[Tensor, Tensor | None]:
    """The target's output and its forward-mode tangent (None where it reports none), via ``variant``.

    The graph runs with ``F = target.F``; ``variant`` is ``target.func.jvp`` or dual tensors
    of ``target.forward_ad``.
    """
    if variant not in FORWARD_VARIANTS:
        raise InvalidArgument(f"variant={variant!r} must be one of {FORWARD_VARIANTS}")
    fn = compile_graph(graph)
    primals = [target.tensor(x, dtype=dtype, device=device, layout=layout) for x in inputs]
    directions = [target.tensor(t, dtype=dtype, device=device, layout=layout) for t in tangents]
    with warnings.catch_warnings():
        # torch's first make_dual imports torch._decomp.decompositions_for_jvp, which calls the
        # deprecated torch.jit.script (a DeprecationWarning from torch itself, not from us)
        # (torch 2.14 raises the same message as a FutureWarning: match the message, any category)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
        if variant == "torch.func.jvp":
            result = target.func.jvp(lambda *xs: fn(target.F, *xs), tuple(primals), tuple(directions))
            return result[0], result[1]
        forward_ad = target.forward_ad
        with forward_ad.dual_level():
            duals = [forward_ad.make_dual(p, t) for p, t in zip(primals, directions, strict=True)]
            unpacked = forward_ad.unpack_dual(fn(target.F, *duals))
            return unpacked.primal.detach().clone(), None if unpacked.tangent is None else unpacked.tangent.clone()

"""Error bounds for random autograd graphs: the output value, reverse-mode gradients, forward-mode tangents.

torch computes the graph in dtype ``d`` (unit roundoff u); the tape computes it in float64
(u₆₄) from the same inputs. For every node we bound ``D = |torch − tape|`` by splitting at
the exact function ``f`` of each op evaluated at the tape's inputs ``r``::

    |t_out − r_out| ≤ |fl_d(f̃)(t_in) − f(r_in)|  +  |fl₆₄(f̃)(r_in) − f(r_in)|
                      torch's side: inputs off       the tape's own rounding at
                      by D_in, rounds in d           its own inputs, in float64

Each side is evaluated with :class:`Bounded` arithmetic, which follows the op's formula
step by step (torch's formula from ``tools/autograd/derivatives.yaml`` on torch's side, the
tape's on the tape's; they are the same except softmax's forward-mode derivative) and
carries a rigorous bound through each step. The graph code of
:func:`fizzcheck.graphs.ir.source` runs on :class:`Bounded` values step by step, so the
bounds follow the code that ran.

* propagation, without linearisation: ``a ± b``: ``e_a + e_b``; ``a·b``:
  ``|a|e_b + e_a|b| + e_a e_b``; ``a/b``: ``(e_a|b| + |a|e_b) / (|b|(|b| − e_b))``;
  ``exp``: ``exp(a)·expm1(e_a)``; ``log``: ``−log1p(−e_a/a)``; sigmoid, tanh: ``e_a``
  times the largest derivative on ``[a − e_a, a + e_a]`` (both derivatives peak at 0 and
  fall with |x|); relu, max: ``e_a`` (relu: 0 where both sides are certainly negative);
  reshapes and views: exact. These are mean-value
  bounds over the whole interval, so no first-order approximation and no safety factor.
* rounding, from :mod:`fizzcheck.bounds.rounding`: one correctly rounded op adds ``u·|result|``
  (two, ``γ₂``, for a division, which kernels may do as a reciprocal and a product);
  exp, log, tanh ``2·TRANSCENDENTAL_ULPS·u`` relative; sigmoid ``2 exp errors + 2u``
  (``Side.sigmoid_relative``, as in ``bounds.ops.sigmoid_bound``); a k-term sum or dot
  product ``acc(k)·Σ|terms|`` with torch's terms bounded by ``|r| + e`` (``acc`` =
  ``rounding.accumulation_factor`` for torch, ``rounding.gamma`` for the tape); every
  rounding also adds the dtype's underflow floor.
* reverse mode: the cotangent of the output is exact; each op's VJP formula is evaluated
  the same way (forward values carry their ``D``), then broadcast inputs get their
  gradient summed back (a k-term sum), and fan-out sums the contributions of all consumers
  (m terms, ``acc(m − 1)``), as torch's engine and the tape do. Forward mode pushes exact
  input tangents through each op's JVP formula.

Cancellation is covered because every bound is absolute. Magnitudes of exact values are
taken from the float64 reference; the difference (relative ~1e-16) changes a bound by the
same relative amount, which is neglected. The bounds hold on well-conditioned graphs, which
is what :func:`fizzcheck.strategies.graphs.graphs` draws: ``log`` only where
``a − e_a ≥ DOMAIN_MARGIN``, ``div`` only where ``|b| − e_b ≥ DOMAIN_MARGIN``, ``relu``
only where no element is within its bound of 0 (torch and the tape then take the same
branch, so gradients agree), and no node past ``VALUE_CAP``; it uses :func:`step_bound`
to decide.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fizzcheck.graphs.ir as ir
from fizzcheck.bounds.rounding import Side, gamma, sides, sigmoid_slope_max
from fizzcheck.reference import ops

__all__ = [
    "Bounded",
    "NodeBound",
    "forward_bounds",
    "reverse_bounds",
    "step_bound",
]

Array = np.ndarray

NodeBound = tuple[Array, Array]
"""(the tape's value, bound on |torch − tape|) for one node."""


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
        return self._rounded(a / b, propagated, float(gamma(2, self.side.u)))

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
        steepest = sigmoid_slope_max(self.value, self.error)  # σ'(x) = σ(x)σ(−x) falls with |x|
        return self._rounded(ops.sigmoid(self.value), self.error * steepest, self.side.sigmoid_relative)

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
        axes = ir.reduced_axes(dim, self.ndim)
        count = math.prod(self.shape[a] for a in axes)
        value = self.value.sum(axis=axes, keepdims=keepdim)
        terms = (np.abs(self.value) + self.error).sum(axis=axes, keepdims=keepdim)
        error = self.error.sum(axis=axes, keepdims=keepdim) + self.side.acc(count - 1) * terms + self.side.floor
        return Bounded(value, error, self.side)

    def mean(self, dim: Any = None, keepdim: bool = False) -> Bounded:
        axes = ir.reduced_axes(dim, self.ndim)
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
    "sum": lambda g, out, x, at: (g.expand(x[0].shape, ir.reduced_axes(at[0], x[0].ndim), at[1]),),
    "mean": lambda g, out, x, at: (
        g.expand(x[0].shape, ir.reduced_axes(at[0], x[0].ndim), at[1])
        / float(math.prod(x[0].shape[a] for a in ir.reduced_axes(at[0], x[0].ndim))),
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


def _both_sides(
    torch_rule: Callable[..., Any],
    tape_rule: Callable[..., Any],
    operands: Sequence[NodeBound],
    target: Side,
    reference: Side,
) -> Any:
    """Apply a rule on torch's side (operands off by their bounds) and on the tape's (exact operands)."""
    on_torch = torch_rule(*(Bounded(v, d, target) for v, d in operands))
    on_tape = tape_rule(*(Bounded(v, 0.0, reference) for v, _ in operands))
    if isinstance(on_tape, tuple):
        return tuple((r.value, t.error + r.error) for t, r in zip(on_torch, on_tape, strict=True))
    return on_tape.value, on_torch.error + on_tape.error


def _step_rule(step: ir.Step) -> Callable[..., Bounded]:
    return lambda *operands: ir.apply_step(step, operands, _BoundedFunctional)


def step_bound(step: ir.Step, operands: Sequence[NodeBound], target: Side, reference: Side) -> NodeBound:
    """The tape's value of one op step and the bound on |torch − tape|, from its operands' pairs.

    ``target`` and ``reference`` are the two sides of :func:`fizzcheck.bounds.rounding.sides`.
    """
    rule = _step_rule(step)
    return _both_sides(rule, rule, operands, target, reference)


def _forward_pass(graph: ir.Graph, inputs: Sequence[Array], target: Side, reference: Side) -> list[NodeBound]:
    remaining = iter(inputs)
    nodes: list[NodeBound] = []
    for step in graph:
        if step[0] == "input":
            value = np.asarray(next(remaining), dtype=np.float64)
            nodes.append((value, np.zeros(value.shape)))
        else:
            nodes.append(step_bound(step, [nodes[j] for j in ir.operand_ids(step)], target, reference))
    return nodes


def reverse_bounds(
    graph: Sequence[ir.Step], inputs: Sequence[Array], cotangent: Array, *, dtype: str
) -> tuple[Array, list[Array]]:
    """Bounds on |torch − tape| for the output value and for the gradient of every input."""
    graph = ir.normalise(graph)
    target, reference = sides(dtype)
    nodes = _forward_pass(graph, inputs, target, reference)
    pending: dict[int, list[NodeBound]] = {
        len(graph) - 1: [(np.asarray(cotangent, dtype=np.float64), np.zeros(nodes[-1][0].shape))]
    }
    reached: dict[int, NodeBound] = {}
    for i in reversed(range(len(graph))):
        if i not in pending:
            continue  # not on a path to the output: its gradient is exactly zero
        parts = pending.pop(i)
        g = parts[0] if len(parts) == 1 else _both_sides(_total, _total, parts, target, reference)
        reached[i] = g
        step = graph[i]
        if step[0] == "input":
            continue
        operand_ids = ir.operand_ids(step)
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


def _vjp_rule(step: ir.Step, g: Bounded, out: Bounded, *operands: Bounded) -> tuple[Bounded, ...]:
    return _VJP[step[0]](g, out, operands, ir.attributes(step))


def forward_bounds(
    graph: Sequence[ir.Step], inputs: Sequence[Array], tangents: Sequence[Array], *, dtype: str
) -> tuple[Array, Array]:
    """Bounds on |torch − tape| for the output value and for its forward-mode tangent."""
    graph = ir.normalise(graph)
    target, reference = sides(dtype)
    nodes = _forward_pass(graph, inputs, target, reference)
    remaining = iter(tangents)
    node_tangents: list[NodeBound] = []
    for i, step in enumerate(graph):
        if step[0] == "input":
            t = np.asarray(next(remaining), dtype=np.float64)
            node_tangents.append((t, np.zeros(t.shape)))
            continue
        operand_ids = ir.operand_ids(step)
        n = len(operand_ids)

        def rule(table: dict[str, Any], *xs: Bounded, step: ir.Step = step, n: int = n) -> Bounded:
            return table[step[0]](xs[:n], xs[n], xs[n + 1 :], ir.attributes(step))

        operands = [*(node_tangents[j] for j in operand_ids), nodes[i], *(nodes[j] for j in operand_ids)]
        node_tangents.append(
            _both_sides(functools.partial(rule, _JVP), functools.partial(rule, _TAPE_JVP), operands, target, reference)
        )
    return nodes[-1][1], node_tangents[-1][1]

"""Hypothesis strategy for random autograd graphs and their input values.

:func:`graphs` draws a :class:`GraphCase`: a graph (see :mod:`fizzcheck.graphs.ir` for the
format) with fan-out (any earlier node may be reused), broadcasting, reductions, shape
changes and views, and input values exactly representable in the drawn dtype. Graphs are
built one op at a time, and an op is kept only if it stays well-conditioned on the drawn
values, judged with the error bounds of :mod:`fizzcheck.bounds.graphs` (what torch may be
off by): ``log`` only where ``a − e_a ≥`` :data:`DOMAIN_MARGIN`, ``div`` only where
``|b| − e_b ≥`` :data:`DOMAIN_MARGIN`, ``exp`` only while the result stays below
:data:`VALUE_CAP`, ``relu`` only where no element is within its bound of 0 (torch and the
tape then take the same branch, so gradients agree), and no node past :data:`VALUE_CAP`.
Sizes are capped by the module constants.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fizzcheck.graphs.ir as ir
from fizzcheck.bounds.graphs import NodeBound, step_bound
from fizzcheck.bounds.rounding import sides
from fizzcheck.errors import InvalidArgument
from fizzcheck.strategies.inputs import shapes as array_shapes

__all__ = [
    "DOMAIN_MARGIN",
    "GRAPH_DTYPES",
    "INPUT_MAGNITUDE",
    "MAX_INPUT_SIDE",
    "MAX_NODE_ELEMENTS",
    "MAX_OPS",
    "VALUE_CAP",
    "GraphCase",
    "graphs",
    "values",
]

Array = np.ndarray

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


@dataclass(frozen=True)
class GraphCase:
    """A drawn graph with its input values (named like the graph code's parameters)."""

    graph: ir.Graph
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


def _output_shape(step: ir.Step, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...] | None:
    """Shape of an op's result, or None if the operands do not fit it."""
    op, x = step[0], [shapes[j] for j in ir.operand_ids(step)]
    if op in ("add", "sub", "mul", "div"):
        return _broadcast_shape(x[0], x[1])
    if op == "matmul":
        return _matmul_shape(x[0], x[1])
    if op == "mse_loss":
        return () if x[0] == x[1] else None
    if op in ("sum", "mean"):
        dims, keepdim = ir.attributes(step)
        axes = ir.reduced_axes(dims, len(x[0]))
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
def _propose(draw: st.DrawFn, op: str, shapes: list[tuple[int, ...]]) -> tuple[ir.Step, tuple[int, ...] | None] | None:
    """A step for ``op`` on earlier nodes, and the shape of a new input it needs (or None)."""
    new = len(shapes)  # the index a new input would get
    a = _pick(draw, list(range(len(shapes))), "operand")
    shape = shapes[a]
    if ir.OPS[op] == 2:
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
        step: ir.Step = (op, b, a) if on_left else (op, a, b)
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


def _well_conditioned(step: ir.Step, nodes: Sequence[NodeBound]) -> bool:
    """Whether torch and the tape can evaluate ``step`` on these values without leaving its domain."""
    op, x = step[0], [nodes[j] for j in ir.operand_ids(step)]
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


def _within_cap(node: NodeBound) -> bool:
    value, error = node
    return bool(np.all(np.isfinite(error)) and np.all(np.abs(value) + error <= VALUE_CAP))


_INPUT_SHAPES = array_shapes(min_dims=0, max_dims=3, max_side=MAX_INPUT_SIDE, max_elements=64)


@st.composite
def _graph_cases(draw: st.DrawFn, dtype: str, max_ops: int) -> GraphCase:
    target, reference = sides(dtype)
    steps: list[ir.Step] = []
    shapes: list[tuple[int, ...]] = []
    nodes: list[NodeBound] = []
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
        proposal = draw(_propose(draw(st.sampled_from(tuple(ir.OPS)), label="op"), shapes))
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
        node = step_bound(step, [candidates[j] for j in ir.operand_ids(step)], target, reference)
        if not _within_cap(node):
            continue
        if new_shape is not None:
            add_input(new_shape, fresh)
        steps.append(step)
        shapes.append(node[0].shape)
        nodes.append(node)
    return GraphCase(graph=tuple(steps), inputs=inputs, output_shape=shapes[-1])


def graphs(*, dtype: str, max_ops: int = MAX_OPS) -> st.SearchStrategy[GraphCase]:
    """Random well-conditioned graphs over :data:`~fizzcheck.graphs.ir.OPS`, inputs exactly representable in ``dtype``.

    Operands are any earlier node (so values fan out), a fresh input broadcast against it,
    or a fresh matmul operand; ops that would leave their domain on the drawn values are
    skipped (see the module docstring).
    """
    if dtype not in GRAPH_DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} must be one of {GRAPH_DTYPES} for graphs")
    if not isinstance(max_ops, int) or isinstance(max_ops, bool) or max_ops < 1:
        raise InvalidArgument(f"max_ops={max_ops!r} must be an integer >= 1")
    return _graph_cases(dtype, max_ops)

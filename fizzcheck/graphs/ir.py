"""Random computation graphs as data and as code: the steps, the ops, and the code they render to.

A graph is a tuple of *steps*, each a plain tuple, so a failing graph prints as a literal
that can be pasted back::

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
:mod:`fizzcheck.reference.tape` tensors (``F = tape``) and on
:class:`fizzcheck.bounds.graphs.Bounded` values (error bounds). Every evaluation runs that
code (whole, through :func:`compile_graph`, or step by step, through :func:`apply_step`),
so the code a failure prints is the code that ran.

Evaluation lives in :mod:`fizzcheck.graphs.evaluate`, the error bounds in
:mod:`fizzcheck.bounds.graphs` and the Hypothesis strategy in :mod:`fizzcheck.strategies.graphs`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fizzcheck.errors import InvalidArgument

__all__ = [
    "FORWARD_VARIANTS",
    "OPS",
    "REVERSE_VARIANTS",
    "Graph",
    "Step",
    "apply_step",
    "attributes",
    "compile_graph",
    "expression",
    "graph_note",
    "input_names",
    "normalise",
    "operand_ids",
    "reduced_axes",
    "source",
]

Step = tuple[Any, ...]
"""One step: ``("input", shape)`` or ``(op, *operand node indices, *attributes)``."""

Graph = tuple[Step, ...]
"""A graph: its steps in order; the last is the output."""

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
"""The ways a graph's gradients are asked of the target (reverse mode)."""

FORWARD_VARIANTS = ("torch.func.jvp", "torch.autograd.forward_ad")
"""The ways a graph's tangent is asked of the target (forward mode)."""

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@"}


# --- graphs as code ---------------------------------------------------------------------


def operand_ids(step: Step) -> tuple[int, ...]:
    """Indices of the nodes a step reads (none for an input)."""
    return tuple(step[1 : 1 + OPS[step[0]]]) if step[0] != "input" else ()


def attributes(step: Step) -> tuple[Any, ...]:
    """What follows a step's operands: dims, shapes, flags."""
    return tuple(step[1 + OPS[step[0]] :])


def reduced_axes(dim: Any, ndim: int) -> tuple[int, ...]:
    """The axes a ``sum``/``mean`` step with ``dim`` (None: all) reduces, as sorted non-negative indices."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(d % ndim for d in dims)) if ndim else ()


def expression(step: Step, names: Sequence[str]) -> str:
    """The Python expression of one op step, with its operands called ``names``."""
    op, attrs = step[0], attributes(step)
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


def normalise(graph: Sequence[Sequence[Any]]) -> Graph:
    """The graph as a tuple of tuples (hashable), each step checked to name a known op."""
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
    graph = normalise(graph)
    lines = [f"def {name}(F, {', '.join(input_names(graph))}):"]
    for i, step in enumerate(graph):
        if step[0] != "input":
            lines.append(f"    v{i} = {expression(step, [f'v{j}' for j in operand_ids(step)])}")
    lines.append(f"    return v{len(graph) - 1}")
    return "\n".join(lines)


@functools.lru_cache(maxsize=1024)
def _compiled(graph: Graph) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source(graph), "<fizzcheck graph>", "exec"), namespace)
    return namespace["graph"]


def compile_graph(graph: Sequence[Step]) -> Callable[..., Any]:
    """The function :func:`source` prints, ready to call as ``fn(F, *inputs)``."""
    return _compiled(normalise(graph))


@functools.lru_cache(maxsize=4096)
def _compiled_expression(code: str) -> Any:
    return compile(code, "<fizzcheck graph step>", "eval")


def apply_step(step: Step, operands: Sequence[Any], functional: Any) -> Any:
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

"""A tiny autograd in numpy: reverse mode (the tape) and forward mode (dual numbers).

This is the seed chapter's autograd, small enough to read in one sitting:

* A :class:`Tensor` wraps a float64 array in ``.data``. A *leaf* is a tensor you create;
  ``requires_grad=True`` asks for its gradient.
* Every op computes its output and, if any input requires grad, records a :class:`GradFn`
  on the output: the op's name, its inputs and its *vector-Jacobian product* (VJP), the
  function that turns the gradient of the output into one gradient per input. That record
  is the tape. Outputs with a ``grad_fn`` are non-leaves.
* ``loss.backward()`` walks the recorded graph from ``loss`` in reverse topological order,
  so each node's gradient is complete (summed over every op that used it: fan-out sums)
  before its VJP runs, and finally *accumulates* into ``.grad`` of the leaves that require
  grad. Calling it twice adds twice, exactly like torch; set ``.grad = None`` to start over.
* Forward mode needs no tape: give inputs a ``tangent`` (the direction of a directional
  derivative) and every op pushes it forward with its *Jacobian-vector product* (JVP) right
  away. ``out.tangent`` is then J·tangent. A value with its tangent is a dual number.
* Broadcasting needs one rule: an input that was stretched gets its gradient summed back to
  its own shape (``backward`` does that once for all ops).
* Plain arithmetic on ``.data`` (a numpy array) is never recorded: that is how a training
  step updates parameters without adding to the graph, the job ``torch.no_grad()`` does in
  torch.

Each op below is written the same way: the forward value, then ``vjp`` and ``jvp`` next to
it. Where torch's formula (``tools/autograd/derivatives.yaml``) is one of several equal ways
to write a derivative, the tape uses torch's, so one rounding-error analysis covers both
(``fizzcheck.graphs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fizzcheck.reference import ops

__all__ = ["GradFn", "Tensor", "mse_loss", "softmax"]

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class GradFn:
    """How a non-leaf was computed: one entry of the tape.

    ``inputs`` holds the op's inputs that required grad when it ran and ``None`` for the
    others (torch's ``next_functions``); ``vjp`` maps the output's gradient to one gradient
    per input.
    """

    name: str
    inputs: tuple[Tensor | None, ...]
    vjp: Callable[[Array], Sequence[Array]]

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"


class Tensor:
    """A float64 array that remembers how it was computed."""

    def __init__(self, data: Any, requires_grad: bool = False, tangent: Any = None) -> None:
        self.data: Array = np.asarray(data, dtype=np.float64)
        self.requires_grad = requires_grad
        self.grad: Array | None = None
        self.grad_fn: GradFn | None = None
        self.tangent: Array | None = None
        if tangent is not None:
            tangent = np.asarray(tangent, dtype=np.float64)
            if tangent.shape != self.data.shape:
                raise ValueError(f"tangent.shape={tangent.shape} must equal data.shape={self.data.shape}")
            self.tangent = tangent

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def __repr__(self) -> str:
        extra = (
            f", grad_fn={self.grad_fn!r}" if self.grad_fn else (", requires_grad=True" if self.requires_grad else "")
        )
        return f"tensor({self.data.tolist()!r}{extra})"

    # --- reverse mode ---------------------------------------------------------------------

    def backward(self, gradient: Any = None) -> None:
        """Accumulate d(sum(gradient * self))/d(leaf) into ``.grad`` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            gradient = np.ones_like(self.data)
        gradient = np.asarray(gradient, dtype=np.float64)
        if gradient.shape != self.shape:
            raise ValueError(f"gradient.shape={gradient.shape} must equal self.shape={self.shape}")

        # Topological order: every node after all the nodes it was computed from.
        order: list[Tensor] = []
        visited: set[int] = set()

        def visit(node: Tensor) -> None:
            if id(node) in visited:
                return
            visited.add(id(node))
            for parent in node.grad_fn.inputs if node.grad_fn else ():
                if parent is not None:
                    visit(parent)
            order.append(node)

        visit(self)
        grads = {id(self): gradient}
        for node in reversed(order):  # outputs first: a node's gradient is complete when reached
            g = grads.pop(id(node))
            if node.grad_fn is None:  # a leaf: accumulate (torch checks requires_grad now, too)
                if node.requires_grad:
                    node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, parent_grad in zip(node.grad_fn.inputs, node.grad_fn.vjp(g), strict=True):
                if parent is None:
                    continue
                parent_grad = ops.sum_to_shape(parent_grad, parent.shape)  # undo broadcasting
                grads[id(parent)] = grads[id(parent)] + parent_grad if id(parent) in grads else parent_grad

    # --- elementwise arithmetic (numpy broadcasting) ----------------------------------------

    def __add__(self, other: Any) -> Tensor:
        other = _lift(other)
        return _result(
            "Add",
            self.data + other.data,
            (self, other),
            vjp=lambda g: (g, g),
            jvp=lambda ta, tb: ta + tb,
        )

    def __sub__(self, other: Any) -> Tensor:
        other = _lift(other)
        return _result(
            "Sub",
            self.data - other.data,
            (self, other),
            vjp=lambda g: (g, -g),
            jvp=lambda ta, tb: ta - tb,
        )

    def __mul__(self, other: Any) -> Tensor:
        other = _lift(other)
        a, b = self.data, other.data
        return _result(
            "Mul",
            a * b,
            (self, other),
            vjp=lambda g: (g * b, g * a),
            jvp=lambda ta, tb: tb * a + ta * b,
        )

    def __truediv__(self, other: Any) -> Tensor:
        other = _lift(other)
        a, b = self.data, other.data
        out = a / b
        return _result(
            "Div",
            out,
            (self, other),
            vjp=lambda g: (g / b, -g * (out / b)),  # d(a/b)/db = -a/b² = -(a/b)/b
            jvp=lambda ta, tb: (ta - tb * out) / b,
        )

    def __neg__(self) -> Tensor:
        return _result("Neg", -self.data, (self,), vjp=lambda g: (-g,), jvp=lambda t: -t)

    def __radd__(self, other: Any) -> Tensor:
        return _lift(other) + self

    def __rsub__(self, other: Any) -> Tensor:
        return _lift(other) - self

    def __rmul__(self, other: Any) -> Tensor:
        return _lift(other) * self

    def __rtruediv__(self, other: Any) -> Tensor:
        return _lift(other) / self

    # --- matmul (torch.matmul semantics: 1-D promotion, batch broadcasting) -----------------

    def __matmul__(self, other: Tensor) -> Tensor:
        a, b = self.data, other.data
        return _result(
            "Matmul",
            ops.matmul(a, b),
            (self, other),
            vjp=lambda g: ops.matmul_vjp(a, b, g),  # g bᵀ and aᵀ g, summed over broadcast batches
            jvp=lambda ta, tb: ops.matmul(ta, b) + ops.matmul(a, tb),
        )

    # --- elementwise functions ----------------------------------------------------------------

    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return _result("Exp", out, (self,), vjp=lambda g: (g * out,), jvp=lambda t: t * out)

    def log(self) -> Tensor:
        x = self.data
        return _result("Log", np.log(x), (self,), vjp=lambda g: (g / x,), jvp=lambda t: t / x)

    def sigmoid(self) -> Tensor:
        out = ops.sigmoid(self.data)  # σ' = σ(1 - σ), from the output
        return _result(
            "Sigmoid",
            out,
            (self,),
            vjp=lambda g: (g * (1 - out) * out,),
            jvp=lambda t: t * (1 - out) * out,
        )

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)  # tanh' = 1 - tanh²
        return _result(
            "Tanh",
            out,
            (self,),
            vjp=lambda g: (g * (1 - out * out),),
            jvp=lambda t: t * (1 - out * out),
        )

    def relu(self) -> Tensor:
        out = np.maximum(self.data, 0.0)  # the gradient passes where the output is positive
        return _result(
            "Relu",
            out,
            (self,),
            vjp=lambda g: (np.where(out > 0, g, 0.0),),
            jvp=lambda t: np.where(out > 0, t, 0.0),
        )

    # --- reductions and shape changes ----------------------------------------------------

    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        axes = _axes(dim, self.ndim)
        shape = self.shape

        def vjp(g: Array) -> tuple[Array]:  # each input element was added once: copy g back
            return (np.broadcast_to(g if keepdim else np.expand_dims(g, axes), shape),)

        return _result(
            "Sum",
            self.data.sum(axis=axes, keepdims=keepdim),
            (self,),
            vjp=vjp,
            jvp=lambda t: t.sum(axis=axes, keepdims=keepdim),
        )

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        axes = _axes(dim, self.ndim)
        shape, count = self.shape, int(np.prod([self.shape[a] for a in axes]))

        def vjp(g: Array) -> tuple[Array]:  # the sum's gradient, divided by the count
            return (np.broadcast_to(g if keepdim else np.expand_dims(g, axes), shape) / count,)

        return _result(
            "Mean",
            self.data.sum(axis=axes, keepdims=keepdim) / count,
            (self,),
            vjp=vjp,
            jvp=lambda t: t.sum(axis=axes, keepdims=keepdim) / count,
        )

    def reshape(self, *shape: Any) -> Tensor:
        new_shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        old_shape = self.shape
        return _result(
            "Reshape",
            self.data.reshape(new_shape),
            (self,),
            vjp=lambda g: (g.reshape(old_shape),),
            jvp=lambda t: t.reshape(new_shape),
        )

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _result(
            "Transpose",
            np.swapaxes(self.data, dim0, dim1),
            (self,),
            vjp=lambda g: (np.swapaxes(g, dim0, dim1),),
            jvp=lambda t: np.swapaxes(t, dim0, dim1),
        )


# --- functions (the ``torch.nn.functional`` names) -----------------------------------------


def softmax(input: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``; J = diag(s) − s sᵀ, so gᵀJ = s (g − Σ g s)."""
    out = ops.softmax(input.data, dim)
    return _result(
        "Softmax",
        out,
        (input,),
        vjp=lambda g: (out * (g - (g * out).sum(axis=dim, keepdims=True)),),
        jvp=lambda t: out * (t - (t * out).sum(axis=dim, keepdims=True)),
    )


def mse_loss(input: Tensor, target: Tensor) -> Tensor:
    """mean((input − target)²); target must have input's shape (torch warns otherwise)."""
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input.shape={input.shape} and target.shape={target.shape} differ")
    d = input.data - target.data
    scale = 2.0 / d.size  # d mean(d²) = (2/N) d · dd

    def vjp(g: Array) -> tuple[Array, Array]:
        grad_input = scale * d * g
        return grad_input, -grad_input

    return _result(
        "MseLoss",
        (d * d).sum() / d.size,
        (input, target),
        vjp=vjp,
        jvp=lambda ti, tt: (2 * d * ti - 2 * d * tt).sum() / d.size,
    )


# --- the recording step every op shares -----------------------------------------------------


def _result(
    name: str,
    data: Any,
    inputs: tuple[Tensor, ...],
    *,
    vjp: Callable[[Array], Sequence[Array]],
    jvp: Callable[..., Array],
) -> Tensor:
    """Wrap an op's output: push tangents forward now, and record the op for backward."""
    out = Tensor(data)
    if any(t.tangent is not None for t in inputs):
        tangents = [np.zeros_like(t.data) if t.tangent is None else t.tangent for t in inputs]
        out.tangent = np.broadcast_to(jvp(*tangents), out.shape).astype(np.float64)
    if any(t.requires_grad for t in inputs):
        out.requires_grad = True
        out.grad_fn = GradFn(name, tuple(t if t.requires_grad else None for t in inputs), vjp)
    return out


def _lift(value: Any) -> Tensor:
    """Numbers and arrays used in arithmetic become constant leaves."""
    return value if isinstance(value, Tensor) else Tensor(value)


def _axes(dim: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """The reduced axes as non-negative ints; ``None`` means all of them (as in torch)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(d % ndim for d in dims)) if ndim else ()

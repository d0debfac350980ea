"""Evaluating a graph: on the reference tape (float64 numpy) and on a target's tensors.

Both sides run the code :func:`fizzcheck.graphs.ir.source` prints: the tape with
``F = fizzcheck.reference.tape``, a target with ``F = target.F``. Reverse mode returns the
output and the gradients of ``sum(cotangent * output)`` with respect to every input;
forward mode the output and its tangent for given input tangents.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from fizzcheck.errors import InvalidArgument
from fizzcheck.graphs.ir import FORWARD_VARIANTS, REVERSE_VARIANTS, Step, compile_graph
from fizzcheck.reference import tape

if TYPE_CHECKING:
    from fizzcheck.targets import Target, Tensor

__all__ = ["tape_forward", "tape_reverse", "torch_forward", "torch_reverse"]

Array = np.ndarray


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

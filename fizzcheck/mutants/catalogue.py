"""The fault catalogue: realistic bugs fizzcheck plants into torch, one at a time, to measure its power.

Every :class:`Fault` has

* ``activate()`` — a context manager that plants the fault process-wide while it is open
  (an aten-level :class:`~fizzcheck.mutants.planting.OpFaults` mode, or a patched torch
  function or method), and removes it on exit;
* ``witness()`` — a small direct check on fixed inputs that is True exactly when the fault
  changes torch's behaviour (so a fault that plants nothing cannot pass as "survived");
* ``targets`` — the ``properties/`` files that exercise what it breaks: ``fizzcheck mutants
  run`` runs those files against the fault (the whole suite runs against the controls).

The faults are the kinds of bug real backends and kernels have had: a GEMM fed TF32-rounded
inputs or done in single precision, a blocked loop that forgets its remainder tile, a kernel
that ignores strides, a copy-pasted derivative, an enum mix-up in a loss's reduction, an
optimizer flag that is not forwarded, a traversal that forgets to de-duplicate, an engine that
assigns instead of accumulating. :data:`CONTROLS` plant nothing that changes a result.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fizzcheck.errors import InvalidArgument
from fizzcheck.mutants.planting import Handler, OpFaults, PassThroughFunctions, argument, aten, patched, with_argument
from fizzcheck.reference.optim import sgd_update

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "CONTROLS",
    "TILE",
    "Fault",
    "fault_by_name",
    "fault_names",
]

TILE = 64
"""Tile length of the "dropped remainder" faults: a blocked loop that only handles whole tiles
is wrong for every length above 64 that is not a multiple of 64 (65, 127, 129, 255, 257, 300)."""

CATEGORIES = (
    "control",
    "precision",
    "tiling",
    "strided inputs",
    "activations",
    "losses",
    "optimizer",
    "module API",
    "autograd",
)

OPS, AUTOGRAD, OPTIM = "test_ops.py", "test_autograd.py", "test_optim.py"
MODULE, FIZZBUZZ, METAMORPHIC = "test_module.py", "test_fizzbuzz.py", "test_metamorphic.py"
WHOLE_SUITE = (OPS, AUTOGRAD, OPTIM, MODULE, FIZZBUZZ, METAMORPHIC)


@dataclass(frozen=True)
class Fault:
    """One plantable fault (or a control, which plants nothing that changes a result)."""

    name: str
    category: str
    description: str
    targets: tuple[str, ...]
    """``properties/`` files run against this fault."""
    plant: Callable[[], AbstractContextManager[Any]]
    check: Callable[[], bool]

    @property
    def is_control(self) -> bool:
        return self.category == "control"

    @contextmanager
    def activate(self) -> Iterator[Fault]:
        """Plant the fault process-wide until the block exits."""
        with self.plant():
            yield self

    def witness(self) -> bool:
        """True when a direct check on fixed inputs shows the fault changes torch's behaviour."""
        return bool(self.check())


# --- op-level faults ------------------------------------------------------------------------


def _ops(handlers: Mapping[str, Handler]) -> Callable[[], AbstractContextManager[Any]]:
    return lambda: OpFaults({aten(name): handler for name, handler in handlers.items()})


def _operand_positions(func: Any) -> tuple[int, int]:
    """Positions of the two matrix operands: (0, 1) for mm/bmm, (1, 2) for addmm/baddbmm."""
    return (1, 2) if func._schema.arguments[0].name == "self" and len(func._schema.arguments) > 2 else (0, 1)


def _round_to_tf32(t: torch.Tensor) -> torch.Tensor:
    """float32 values rounded to TF32's 10-bit mantissa (round to nearest, ties away)."""
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & -0x2000).view(torch.float32)


def _tf32_matmul(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    i, j = _operand_positions(func)
    if args[i].dtype != torch.float32:
        return func(*args, **kwargs)
    args = (*args[:i], _round_to_tf32(args[i]), _round_to_tf32(args[j]), *args[j + 1 :])
    return func(*args, **kwargs)


def _float64_in_float32(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if not tensors or tensors[0].dtype != torch.float64:
        return func(*args, **kwargs)
    down = tuple(a.to(torch.float32) if isinstance(a, torch.Tensor) else a for a in args)
    if kwargs.get("dtype") == torch.float64:
        kwargs = {**kwargs, "dtype": torch.float32}
    return func(*down, **kwargs).to(torch.float64)


def _whole_tiles(length: int) -> int:
    return length if length <= TILE else length - length % TILE


def _matmul_drops_remainder(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    i, j = _operand_positions(func)
    a, b = args[i], args[j]
    kept = _whole_tiles(a.shape[-1])
    if kept == a.shape[-1]:
        return func(*args, **kwargs)
    return func(*args[:i], a[..., :kept], b[..., :kept, :], *args[j + 1 :], **kwargs)


def _reduce_drops_remainder(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """sum/mean whose blocked loop over the reduced elements skips the last, partial tile."""
    x = args[0]
    dims = argument(func, args, kwargs, "dim") if "dim" in [a.name for a in func._schema.arguments] else None
    reduced = sorted({d % x.ndim for d in dims} if dims else set(range(x.ndim))) if x.ndim else []
    count = math.prod(x.shape[d] for d in reduced)
    kept = _whole_tiles(count)
    if kept == count:
        return func(*args, **kwargs)
    others = [d for d in range(x.ndim) if d not in reduced]
    flat = x.permute(*others, *reduced).reshape(*[x.shape[d] for d in others], count)[..., :kept]
    dtype = kwargs.get("dtype")
    out = flat.sum(-1, dtype=dtype)
    if func.overloadpacket is torch.ops.aten.mean:
        out = out / count
    keepdim = "keepdim" in [a.name for a in func._schema.arguments] and argument(func, args, kwargs, "keepdim")
    if keepdim:
        for d in reduced:
            out = out.unsqueeze(d)
    return out


def _fits_as_contiguous(t: torch.Tensor) -> bool:
    return t.untyped_storage().nbytes() // t.element_size() >= t.storage_offset() + t.numel()


def _ignore_strides(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A kernel that reads every input as if it were contiguous (it ignores the strides)."""

    def as_contiguous(a: Any) -> Any:
        if isinstance(a, torch.Tensor) and not a.is_contiguous() and a.numel() and _fits_as_contiguous(a):
            return a.as_strided(a.shape, torch.empty(a.shape, device="meta").stride(), a.storage_offset())
        return a

    return func(*map(as_contiguous, args), **kwargs)


def _sigmoid_off_by_30_ulps(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    out = func(*args, **kwargs)
    ulp = torch.nextafter(out, torch.full_like(out, math.inf)) - out
    return out + 30 * ulp


def _sigmoid_backward_tanh(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    grad, out = args[0], args[1]
    return grad * (1 - out * out)  # tanh's derivative, 1 − y², pasted into sigmoid's backward


def _softmax_backward_without_sum(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    grad, out = args[0], args[1]
    return grad * out  # only the diagonal of the Jacobian: the − y Σ g·y term is missing


def _log_softmax_backward_last_dim(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    grad, out = args[0], args[1]
    return grad - out.exp() * grad.sum(-1, keepdim=True)  # sums over the last dim, whatever dim was


def _softmax_without_max(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dim = args[0], args[1]
    e = x.exp()
    return e / e.sum(dim, keepdim=True)


def _log_softmax_without_max(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    x, dim = args[0], args[1]
    return x - x.exp().sum(dim, keepdim=True).log()


MEAN, SUM = 1, 2
"""``at::Reduction`` values as aten's loss ops take them."""


def _swap_reduction(wrong: int, instead: int) -> Handler:
    def handler(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if argument(func, args, kwargs, "reduction") == wrong:
            args, kwargs = with_argument(func, args, kwargs, "reduction", instead)
        return func(*args, **kwargs)

    return handler


_GEMMS = ("mm", "addmm", "bmm", "baddbmm")
_REDUCTIONS = ("sum.default", "sum.dim_IntList", "mean.default", "mean.dim")


# --- optimizer faults (torch.optim.sgd.sgd, the functional every SGD implementation goes through) ----

SGD_MODULE: Any = importlib.import_module("torch.optim.sgd")
"""torch's ``torch/optim/sgd.py`` (``torch.optim`` deletes the submodule's name from its namespace)."""


def _sgd_fault(change: Callable[..., None]) -> Callable[[], AbstractContextManager[Any]]:
    """Patch ``torch.optim.sgd.sgd`` (which ``SGD.step`` calls) with ``change(original, *args, **kw)``."""

    def plant() -> AbstractContextManager[Any]:
        original = SGD_MODULE.sgd

        def faulty(*args: Any, **kwargs: Any) -> None:
            change(original, *args, **kwargs)

        return patched(SGD_MODULE, "sgd", faulty)

    return plant


def _sgd_decay_after_momentum(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    before = [p.detach().clone() for p in params]
    original(params, grads, bufs, *args, **{**kw, "weight_decay": 0.0})
    for p, old in zip(params, before, strict=True):
        p.add_(old, alpha=-float(kw["lr"]) * kw["weight_decay"])  # decoupled from the momentum buffer


def _sgd_dampening_first_step(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    if kw["momentum"] != 0:
        # buffers start at zero, so the first step also gets (1 − dampening) · g
        bufs[:] = [torch.zeros_like(p) if b is None else b for p, b in zip(params, bufs, strict=True)]
    original(params, grads, bufs, *args, **kw)


def _sgd_nesterov_ignored(original: Callable[..., None], *args: Any, **kw: Any) -> None:
    original(*args, **{**kw, "nesterov": False})


def _sgd_maximize_ignored(original: Callable[..., None], *args: Any, **kw: Any) -> None:
    original(*args, **{**kw, "maximize": False})


def _sgd_skips_last(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    head = bufs[:-1] if kw["momentum"] != 0 else bufs
    original(params[:-1], grads[:-1], head, *args, **kw)
    if kw["momentum"] != 0:
        bufs[:-1] = head


def _sgd_forgets_buffers(
    original: Callable[..., None], params: list, grads: list, bufs: list, *args: Any, **kw: Any
) -> None:
    original(params, grads, bufs, *args, **kw)
    bufs[:] = [None] * len(bufs)  # the step's buffers never reach optimizer.state


def _sgd_witness(hyper: Mapping[str, Any]) -> bool:
    """Two parameters, two steps of ``torch.optim.SGD`` against the documented update (float64)."""
    full: dict[str, Any] = {
        "lr": 0.5,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    }
    full.update(hyper)
    values = [np.array([1.0, -2.0]), np.array([0.5, 3.0, -1.0])]
    grads = [[np.array([0.25, 1.0]), np.array([-1.0, 0.5, 2.0])], [np.array([0.5, -0.5]), np.array([1.0, 1.0, -0.25])]]
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    optimizer = torch.optim.SGD(params, **full)
    buffers: list[np.ndarray | None] = [None, None]
    for step_grads in grads:
        for i, (p, g) in enumerate(zip(params, step_grads, strict=True)):
            p.grad = torch.tensor(g, dtype=torch.float64)
            update = sgd_update(values[i], g, buffers[i], full)
            values[i], buffers[i] = update.new_param, update.buffer
        optimizer.step()
        for p, want, buffer in zip(params, values, buffers, strict=True):
            got = optimizer.state.get(p, {}).get("momentum_buffer")
            if (got is None) != (buffer is None) or not np.allclose(p.detach().numpy(), want, rtol=1e-12, atol=0):
                return True
    return False


# --- module API faults ----------------------------------------------------------------------


def _module_patch(attribute: str, make: Callable[[Any], Any]) -> Callable[[], AbstractContextManager[Any]]:
    return lambda: patched(nn.Module, attribute, make(nn.Module.__dict__[attribute]))


def _zero_grad_does_nothing(original: Any) -> Any:
    def zero_grad(self: nn.Module, set_to_none: bool = True) -> None:
        return None

    return zero_grad


def _parameters_with_duplicates(original: Any) -> Any:
    def parameters(self: nn.Module, recurse: bool = True) -> Iterator[nn.Parameter]:
        for _, param in self.named_parameters(recurse=recurse, remove_duplicate=False):
            yield param

    return parameters


def _parameters_without_last(original: Any) -> Any:
    def parameters(self: nn.Module, recurse: bool = True) -> Iterator[nn.Parameter]:
        yield from list(original(self, recurse))[:-1]

    return parameters


def _train_not_recursive(original: Any) -> Any:
    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode  # the children keep their mode
        return self

    return train


def _state_dict_without_last_key(original: Any) -> Any:
    def state_dict(
        self: nn.Module, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> Any:
        outermost = destination is None and not args
        result = original(self, *args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        if outermost and result:
            result.pop(next(reversed(result)))
        return result

    return state_dict


# --- autograd faults ------------------------------------------------------------------------


def _accumulating_leaves(roots: Any) -> list[torch.Tensor]:
    """The leaves a backward from ``roots`` accumulates into (their AccumulateGrad nodes)."""
    roots = [roots] if isinstance(roots, torch.Tensor) else list(roots)
    seen, stack, leaves = set(), [t.grad_fn for t in roots if t.grad_fn is not None], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if isinstance(variable, torch.Tensor):
            leaves.append(variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return leaves


def _backward_overwrites() -> AbstractContextManager[Any]:
    original = torch.autograd.backward

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        for leaf in _accumulating_leaves(tensors):
            leaf.grad = None  # the engine then stores the new gradient instead of adding to the old
        return original(tensors, *args, **kwargs)

    return patched(torch.autograd, "backward", backward)


def _no_grad_keeps_grad() -> AbstractContextManager[Any]:
    def __enter__(self: torch.no_grad) -> None:
        self.prev = torch.is_grad_enabled()  # ... and grad mode is left as it was

    return patched(torch.no_grad, "__enter__", __enter__)


# --- controls -------------------------------------------------------------------------------


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def _identity_machinery() -> Iterator[None]:
    """Every planting mechanism the catalogue uses, each set to change nothing."""
    original_sgd = SGD_MODULE.sgd
    with ExitStack() as stack:
        stack.enter_context(PassThroughFunctions())
        stack.enter_context(OpFaults({aten(name): lambda func, args, kwargs: func(*args, **kwargs) for name in _GEMMS}))
        stack.enter_context(patched(SGD_MODULE, "sgd", lambda *args, **kwargs: original_sgd(*args, **kwargs)))
        for attribute in ("zero_grad", "parameters", "train", "state_dict"):
            original = nn.Module.__dict__[attribute]
            stack.enter_context(patched(nn.Module, attribute, _forwarding(original)))
        original_backward = torch.autograd.backward
        stack.enter_context(patched(torch.autograd, "backward", lambda *a, **k: original_backward(*a, **k)))
        yield


def _forwarding(original: Any) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, *args, **kwargs)

    return method


def _no_fault_fires() -> bool:
    """A control's witness: True if any catalogued fault's witness fires (it must not)."""
    return any(fault.witness() for fault in CATALOGUE)


# --- witnesses ------------------------------------------------------------------------------


def _f32(*values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def _f64(*values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _grad_of(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cotangent: torch.Tensor) -> torch.Tensor:
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(leaf), leaf, cotangent)
    return grad


def _witness_tf32() -> bool:
    a = _f32([1.0 + 2.0**-20])  # needs 20 mantissa bits; TF32 keeps 10
    return (a @ _f32([1.0])).item() != 1.0 + 2.0**-20


def _witness_float64_gemm() -> bool:
    a = _f64([1.0 + 2.0**-40])
    return (a @ _f64([1.0])).item() != 1.0 + 2.0**-40


def _witness_float64_sum() -> bool:
    return _f64(1.0, 2.0**-40).sum().item() != 1.0 + 2.0**-40


def _witness_gemm_tile() -> bool:
    return (torch.ones(1, TILE + 1) @ torch.ones(TILE + 1, 1)).item() != TILE + 1


def _witness_reduction_tile() -> bool:
    return torch.ones(TILE + 1, dtype=torch.float64).sum().item() != TILE + 1


def _witness_strides() -> bool:
    x = torch.arange(1.0, 7.0).reshape(2, 3).t()
    return not torch.equal(torch.sigmoid(x), torch.sigmoid(x.contiguous()))


def _witness_sigmoid_ulps() -> bool:
    got = torch.sigmoid(_f64(0.5)).item()
    want = 1.0 / (1.0 + math.exp(-0.5))
    return abs(got - want) > 4 * math.ulp(want)


def _witness_sigmoid_backward() -> bool:
    return _grad_of(torch.sigmoid, _f64(0.0), _f64(1.0)).item() != 0.25


def _witness_softmax_backward() -> bool:
    grad = _grad_of(lambda t: torch.softmax(t, 0), _f64(0.0, 0.0), _f64(1.0, 0.0))
    return grad.tolist() != [0.25, -0.25]


def _witness_log_softmax_backward() -> bool:
    grad = _grad_of(
        lambda t: torch.log_softmax(t, 0), torch.zeros(2, 3, dtype=torch.float64), torch.ones(2, 3, dtype=torch.float64)
    )
    return bool(grad.abs().max() > 1e-12)


def _witness_softmax_overflow() -> bool:
    return not torch.equal(torch.softmax(_f64(1000.0, 0.0), 0), _f64(1.0, 0.0))


def _witness_mse_reduction() -> bool:
    return F.mse_loss(_f64(1.0, 1.0), _f64(0.0, 0.0)).item() != 1.0


def _witness_cross_entropy_reduction() -> bool:
    loss = F.cross_entropy(torch.zeros(2, 2, dtype=torch.float64), torch.tensor([0, 1]), reduction="sum")
    return abs(loss.item() - 2 * math.log(2.0)) > 1e-12


def _witness_zero_grad() -> bool:
    layer = nn.Linear(2, 2)
    for p in layer.parameters():
        p.grad = torch.ones_like(p)
    layer.zero_grad()
    return layer.weight.grad is not None


def _witness_parameters_duplicates() -> bool:
    layer = nn.Linear(2, 2)
    return len(list(nn.Sequential(layer, layer).parameters())) != 2


def _witness_parameters_last() -> bool:
    return len(list(nn.Linear(2, 2).parameters())) != 2


def _witness_train() -> bool:
    net = nn.Sequential(nn.Linear(2, 2)).eval()
    return net[0].training


def _witness_state_dict() -> bool:
    return list(nn.Linear(2, 2).state_dict()) != ["weight", "bias"]


def _witness_accumulation() -> bool:
    x = torch.ones(2, requires_grad=True)
    (2 * x).sum().backward()
    (2 * x).sum().backward()
    return x.grad is None or x.grad.tolist() != [4.0, 4.0]


def _witness_no_grad() -> bool:
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
    return y.requires_grad


# --- the catalogue --------------------------------------------------------------------------


CONTROLS: tuple[Fault, ...] = (
    Fault(
        "none",
        "control",
        "Plants nothing: the suite under the mutant plugin must be green.",
        WHOLE_SUITE,
        _nothing,
        _no_fault_fires,
    ),
    Fault(
        "identity",
        "control",
        "Every planting mechanism at once, each changing nothing: a pass-through TorchFunctionMode, a "
        "TorchDispatchMode routing the GEMMs through a pass-through handler, and forwarding wrappers around "
        "torch.optim.sgd.sgd, Module.zero_grad/parameters/train/state_dict and torch.autograd.backward.",
        WHOLE_SUITE,
        _identity_machinery,
        _no_fault_fires,
    ),
)
"""Runs that must leave every property green (and under which no fault's witness fires)."""

CATALOGUE: tuple[Fault, ...] = (
    # precision
    Fault(
        "matmul_tf32_inputs",
        "precision",
        "float32 GEMMs (mm, addmm, bmm, baddbmm) round both operands to TF32 (10-bit mantissa) first, "
        "as a GPU with TF32 enabled does.",
        (OPS, AUTOGRAD),
        _ops({name: _tf32_matmul for name in _GEMMS}),
        _witness_tf32,
    ),
    Fault(
        "matmul_float64_in_float32",
        "precision",
        "float64 GEMMs are computed in float32 and widened back (a backend without double-precision GEMM).",
        (OPS, AUTOGRAD),
        _ops({name: _float64_in_float32 for name in _GEMMS}),
        _witness_float64_gemm,
    ),
    Fault(
        "sum_float64_in_float32",
        "precision",
        "float64 sum and mean reduce in float32 (a reduction kernel with a single-precision accumulator).",
        (OPS, AUTOGRAD),
        _ops({name: _float64_in_float32 for name in _REDUCTIONS}),
        _witness_float64_sum,
    ),
    # tiling
    Fault(
        "matmul_drops_remainder_k_tile",
        "tiling",
        f"GEMMs loop over the reduction dimension in tiles of {TILE} and forget the partial last tile "
        f"(k > {TILE}, k mod {TILE} ≠ 0).",
        (OPS, AUTOGRAD),
        _ops({name: _matmul_drops_remainder for name in _GEMMS}),
        _witness_gemm_tile,
    ),
    Fault(
        "sum_drops_remainder_tile",
        "tiling",
        f"sum and mean over more than {TILE} elements skip the partial last tile of {TILE} "
        "(mean still divides by the full count).",
        (OPS, AUTOGRAD),
        _ops({name: _reduce_drops_remainder for name in _REDUCTIONS}),
        _witness_reduction_tile,
    ),
    # strided inputs
    Fault(
        "kernels_ignore_strides",
        "strided inputs",
        "GEMM, sigmoid, softmax, log_softmax and mse_loss kernels read non-contiguous inputs (transposed, "
        "strided views) as if they were contiguous: right for dense tensors, wrong for views.",
        (OPS, AUTOGRAD),
        _ops({name: _ignore_strides for name in (*_GEMMS, "sigmoid", "_softmax", "_log_softmax", "mse_loss")}),
        _witness_strides,
    ),
    # activations
    Fault(
        "sigmoid_off_by_30_ulps",
        "activations",
        "sigmoid's result is 30 ulps too large (a sloppy exp approximation).",
        (OPS, AUTOGRAD),
        _ops({"sigmoid": _sigmoid_off_by_30_ulps}),
        _witness_sigmoid_ulps,
    ),
    Fault(
        "sigmoid_backward_tanh_derivative",
        "activations",
        "sigmoid's backward uses tanh's derivative 1 − y² instead of y (1 − y) (a copy-paste slip).",
        (OPS, AUTOGRAD),
        _ops({"sigmoid_backward": _sigmoid_backward_tanh}),
        _witness_sigmoid_backward,
    ),
    Fault(
        "softmax_backward_drops_sum_term",
        "activations",
        "softmax's backward returns g ⊙ y, the Jacobian's diagonal only, missing − y Σ(g ⊙ y).",
        (OPS, AUTOGRAD),
        _ops({"_softmax_backward_data": _softmax_backward_without_sum}),
        _witness_softmax_backward,
    ),
    Fault(
        "log_softmax_backward_sums_last_dim",
        "activations",
        "log_softmax's backward sums the cotangent over the last dimension instead of the softmax dimension.",
        (OPS, AUTOGRAD),
        _ops({"_log_softmax_backward_data": _log_softmax_backward_last_dim}),
        _witness_log_softmax_backward,
    ),
    Fault(
        "softmax_without_max_subtraction",
        "activations",
        "softmax and log_softmax compute exp(x) / Σ exp(x) without subtracting the maximum first "
        "(overflows to inf/NaN for large logits).",
        (OPS, AUTOGRAD),
        _ops({"_softmax": _softmax_without_max, "_log_softmax": _log_softmax_without_max}),
        _witness_softmax_overflow,
    ),
    # losses and reductions
    Fault(
        "mse_mean_reduces_as_sum",
        "losses",
        "mse_loss with reduction='mean' (the default) sums instead, forward and backward (an enum mix-up).",
        (OPS, METAMORPHIC),
        _ops({"mse_loss": _swap_reduction(MEAN, SUM), "mse_loss_backward": _swap_reduction(MEAN, SUM)}),
        _witness_mse_reduction,
    ),
    Fault(
        "cross_entropy_sum_reduces_as_mean",
        "losses",
        "cross_entropy (nll_loss) with reduction='sum' averages instead, forward and backward.",
        (OPS, METAMORPHIC),
        _ops({"nll_loss_forward": _swap_reduction(SUM, MEAN), "nll_loss_backward": _swap_reduction(SUM, MEAN)}),
        _witness_cross_entropy_reduction,
    ),
    # optimizer semantics and state
    Fault(
        "sgd_weight_decay_after_momentum",
        "optimizer",
        "SGD adds weight decay to the update after momentum (decoupled, as AdamW does) instead of to the "
        "gradient before it, so the decay never enters the momentum buffer.",
        (OPTIM, FIZZBUZZ),
        _sgd_fault(_sgd_decay_after_momentum),
        lambda: _sgd_witness({"momentum": 0.5, "weight_decay": 0.25}),
    ),
    Fault(
        "sgd_dampening_on_first_step",
        "optimizer",
        "SGD starts momentum buffers at zero, so the first step is damped too ((1 − τ) g instead of g).",
        (OPTIM, FIZZBUZZ),
        _sgd_fault(_sgd_dampening_first_step),
        lambda: _sgd_witness({"momentum": 0.5, "dampening": 0.5}),
    ),
    Fault(
        "sgd_nesterov_ignored",
        "optimizer",
        "SGD's nesterov flag is not forwarded to the update: plain momentum runs instead.",
        (OPTIM, FIZZBUZZ),
        _sgd_fault(_sgd_nesterov_ignored),
        lambda: _sgd_witness({"momentum": 0.5, "nesterov": True}),
    ),
    Fault(
        "sgd_maximize_ignored",
        "optimizer",
        "SGD's maximize flag is not forwarded: it descends when asked to ascend.",
        (OPTIM, FIZZBUZZ),
        _sgd_fault(_sgd_maximize_ignored),
        lambda: _sgd_witness({"maximize": True}),
    ),
    Fault(
        "sgd_skips_last_parameter",
        "optimizer",
        "SGD's loop over a group's parameters stops one short: the last parameter with a gradient is never updated.",
        (OPTIM, FIZZBUZZ),
        _sgd_fault(_sgd_skips_last),
        lambda: _sgd_witness({}),
    ),
    Fault(
        "sgd_momentum_buffer_not_saved",
        "optimizer",
        "SGD computes momentum buffers but never stores them in optimizer.state: every step restarts momentum.",
        (OPTIM, FIZZBUZZ),
        _sgd_fault(_sgd_forgets_buffers),
        lambda: _sgd_witness({"momentum": 0.5}),
    ),
    # module API
    Fault(
        "module_zero_grad_does_nothing",
        "module API",
        "Module.zero_grad() returns without touching any gradient.",
        (MODULE, AUTOGRAD),
        _module_patch("zero_grad", _zero_grad_does_nothing),
        _witness_zero_grad,
    ),
    Fault(
        "module_parameters_yields_duplicates",
        "module API",
        "Module.parameters() does not de-duplicate: a shared module's or tied parameter's tensors come twice.",
        (MODULE, FIZZBUZZ),
        _module_patch("parameters", _parameters_with_duplicates),
        _witness_parameters_duplicates,
    ),
    Fault(
        "module_parameters_drops_last",
        "module API",
        "Module.parameters() stops one short: the last registered parameter is never yielded "
        "(so an optimizer never updates it).",
        (MODULE, FIZZBUZZ),
        _module_patch("parameters", _parameters_without_last),
        _witness_parameters_last,
    ),
    Fault(
        "module_train_not_recursive",
        "module API",
        "Module.train(mode) / eval() set the flag on the module itself but not on its children.",
        (MODULE,),
        _module_patch("train", _train_not_recursive),
        _witness_train,
    ),
    Fault(
        "module_state_dict_drops_last_key",
        "module API",
        "Module.state_dict() loses its last entry (the last layer's bias, say): checkpoints miss a tensor.",
        (MODULE,),
        _module_patch("state_dict", _state_dict_without_last_key),
        _witness_state_dict,
    ),
    # autograd bookkeeping
    Fault(
        "backward_overwrites_grad",
        "autograd",
        "backward() stores each leaf's gradient instead of accumulating it into .grad.",
        (AUTOGRAD, MODULE),
        _backward_overwrites,
        _witness_accumulation,
    ),
    Fault(
        "no_grad_does_not_disable_grad",
        "autograd",
        "torch.no_grad() remembers the grad mode but leaves recording on: results inside still require grad.",
        (AUTOGRAD, FIZZBUZZ),
        _no_grad_keeps_grad,
        _witness_no_grad,
    ),
)
"""Every fault ``fizzcheck mutants run`` plants; each must be killed by the ``ci`` profile."""


def fault_names() -> list[str]:
    return [fault.name for fault in (*CONTROLS, *CATALOGUE)]


def fault_by_name(name: str) -> Fault:
    """The fault or control called ``name``; one-line :class:`InvalidArgument` otherwise."""
    for fault in (*CONTROLS, *CATALOGUE):
        if fault.name == name:
            return fault
    raise InvalidArgument(f"fault={name!r} is not in the catalogue; use one of: {', '.join(fault_names())}")

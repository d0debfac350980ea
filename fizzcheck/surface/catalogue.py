"""The declared API surface: every cell fizzcheck claims to verify, as data.

A :class:`Family` names its dimensions and their values, and *crossings*: the tuples of
dimensions whose full product (less the ``exclude`` combinations torch does not offer) are
its cells. A crossing of every dimension is the full product; smaller crossings declare
pairwise coverage where the full product adds nothing the pairs do not (``dtype`` is crossed
with the op, not with every option). A cell's id reads ``family[dim=value,...]``, e.g.
``sgd[implementation=foreach,grad_layout=transposed]``.

A property says which cells an example exercises with :func:`fizzcheck.surface.touch`;
``fizzcheck surface`` and the report show, per cell, how many examples exercised it, and
``fizzcheck surface --require-all`` fails when a declared cell was never exercised.

Layouts (of every tensor argument: inputs, parameters, gradients, optimizer state):

* ``contiguous``: a fresh row-major tensor;
* ``transposed``: the transpose of a contiguous tensor (column-major strides);
* ``strided``: a slice with a step (``base[::2]``), not dense in memory;
* ``offset``: a view starting past the start of its storage (non-zero ``storage_offset()``);
* ``expanded``: a broadcast view with a zero stride (``expand``), read-only for in-place ops.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["CATALOGUE", "DTYPES", "LAYOUTS", "PARAM_LAYOUTS", "Family", "all_cell_ids", "cell_id", "family"]

LAYOUTS = ("contiguous", "transposed", "strided", "offset", "expanded")
"""Memory layouts of a tensor argument (see the module docstring)."""

PARAM_LAYOUTS = ("contiguous", "transposed", "strided", "offset")
"""Layouts a parameter can have: an optimizer updates it in place, which an expanded view refuses."""

DTYPES = ("float32", "float64", "float16", "bfloat16")
"""The floating dtypes; low precision counts on the CPU too wherever torch accepts it there."""

REDUCTIONS = ("none", "mean", "sum")


def _matches(cell: Mapping[str, str], partial: Mapping[str, str]) -> bool:
    return all(dim in cell and cell[dim] == value for dim, value in partial.items())


def cell_id(family_name: str, cell: Mapping[str, str]) -> str:
    """``family[dim=value,...]`` in the family's dimension order (the caller passes it ordered)."""
    return f"{family_name}[{','.join(f'{k}={v}' for k, v in cell.items())}]"


@dataclass(frozen=True)
class Family:
    """A part of the API and its dimensions; ``cells()`` are the declared cells."""

    name: str
    doc: str
    dims: dict[str, tuple[str, ...]]
    crossings: tuple[tuple[str, ...], ...] = ()
    """Dimension tuples crossed in full; empty: one crossing of every dimension."""
    exclude: tuple[dict[str, str], ...] = field(default=())
    """Partial cells torch does not offer: a cell matching every item of one is not declared."""
    needs: tuple[tuple[dict[str, str], str], ...] = field(default=())
    """(partial cell, device) pairs: cells matching the partial can run only where that device
    does (``cuda``); a run without it reports them NOT AVAILABLE instead of unexercised."""

    def __post_init__(self) -> None:
        for crossing in self.crossings:
            unknown = [d for d in crossing if d not in self.dims]
            if unknown:
                raise ValueError(f"surface family {self.name}: crossing {crossing} names unknown dims {unknown}")
        for partial in self.exclude:
            for dim, value in partial.items():
                if value not in self.dims.get(dim, ()):
                    raise ValueError(f"surface family {self.name}: exclude {partial} names {dim}={value!r}")

    def all_crossings(self) -> tuple[tuple[str, ...], ...]:
        return self.crossings or (tuple(self.dims),)

    def excluded(self, cell: Mapping[str, str]) -> bool:
        return any(_matches(cell, partial) for partial in self.exclude)

    def needed_device(self, cell: Mapping[str, str]) -> str | None:
        """The device a cell needs beyond the CPU (None: it runs anywhere)."""
        return next((device for partial, device in self.needs if _matches(cell, partial)), None)

    def cells(self) -> Iterator[dict[str, str]]:
        """Every declared cell, crossing by crossing, each in the family's dimension order."""
        seen: set[str] = set()
        for crossing in self.all_crossings():
            ordered = [d for d in self.dims if d in crossing]
            for values in itertools.product(*(self.dims[d] for d in ordered)):
                cell = dict(zip(ordered, values, strict=True))
                key = cell_id(self.name, cell)
                if not self.excluded(cell) and key not in seen:
                    seen.add(key)
                    yield cell

    def cell_ids(self) -> list[str]:
        return [cell_id(self.name, cell) for cell in self.cells()]


# --- the catalogue ----------------------------------------------------------------------

_SPELLINGS = ("functional", "module", "method", "inplace", "out")

CATALOGUE: tuple[Family, ...] = (
    Family(
        "spelling",
        "Each op through every spelling torch offers: functional (torch.x / F.x), module (nn.X), "
        "Tensor method, in-place (x.op_()) and out= forms, against the same reference.",
        {
            "op": ("sigmoid", "softmax", "log_softmax", "linear", "matmul", "mse", "cross_entropy"),
            "spelling": _SPELLINGS,
            "dtype": DTYPES,
        },
        crossings=(("op", "spelling"), ("op", "dtype")),
        # Checked in torch 2.13: no Tensor.softmax_/log_softmax_/matmul_/linear/mse_loss/cross_entropy
        # and no torch.softmax_/log_softmax_ (`a @= b` rebinds a to a new tensor: no __imatmul__);
        # no nn module for matmul; F.mse_loss and F.cross_entropy take no out= (only the private
        # torch._C._nn.mse_loss does). Offered although their docstrings do not show it: out= of
        # torch.softmax / torch.log_softmax (aten::softmax.int_out, log_softmax.int_out) and of
        # F.linear (aten::linear.out); torch.special.softmax/log_softmax take no out=. float16 and
        # bfloat16 run on the CPU for every op and spelling.
        exclude=(
            {"op": "softmax", "spelling": "inplace"},
            {"op": "log_softmax", "spelling": "inplace"},
            {"op": "linear", "spelling": "method"},
            {"op": "linear", "spelling": "inplace"},
            {"op": "matmul", "spelling": "module"},
            {"op": "matmul", "spelling": "inplace"},
            {"op": "mse", "spelling": "method"},
            {"op": "mse", "spelling": "inplace"},
            {"op": "mse", "spelling": "out"},
            {"op": "cross_entropy", "spelling": "method"},
            {"op": "cross_entropy", "spelling": "inplace"},
            {"op": "cross_entropy", "spelling": "out"},
        ),
    ),
    Family(
        "matmul",
        "The matmul family with its scalars: alpha/beta general, and the special values the docs "
        "give meaning to (beta=0: input ignored, NaN/inf in it not propagated; alpha=0), in every "
        "input layout and dtype.",
        {
            "fn": ("matmul", "mm", "bmm", "mv", "dot", "addmm", "baddbmm", "addmv"),
            "scalars": ("default", "general", "beta=0", "alpha=0"),
            "layout": LAYOUTS,
            "dtype": DTYPES,
        },
        crossings=(("fn", "scalars"), ("fn", "layout"), ("fn", "dtype")),
        # only the add* functions take beta and alpha; dot's arguments are 1-D, which have no
        # transposed layout (t() of a 1-D tensor is itself). Every fn accepts float16 and
        # bfloat16 on the CPU in torch 2.13, forward and backward.
        exclude=(
            *(
                {"fn": fn, "scalars": s}
                for fn in ("matmul", "mm", "bmm", "mv", "dot")
                for s in ("general", "beta=0", "alpha=0")
            ),
            {"fn": "dot", "layout": "transposed"},
        ),
    ),
    Family(
        "cross_entropy",
        "F.cross_entropy / nn.CrossEntropyLoss options and their combinations: class-index and "
        "probability targets, weight, ignore_index, label_smoothing, every reduction.",
        {
            "target": ("class", "probability"),
            "weight": ("none", "given"),
            "ignore_index": ("default", "hit"),
            "label_smoothing": ("0", "positive"),
            "reduction": REDUCTIONS,
            "dtype": DTYPES,
        },
        crossings=(
            ("target", "weight", "ignore_index", "label_smoothing", "reduction"),
            ("target", "dtype"),
        ),
        # ignore_index selects class indices: with probability targets torch 2.13 raises
        # "ignore_index is not supported for floating point target" for any value but the default
        # (checked on the CPU). Every dtype runs on the CPU (float16/bfloat16 included), so none is excluded.
        exclude=({"target": "probability", "ignore_index": "hit"},),
    ),
    Family(
        "mse",
        "F.mse_loss / nn.MSELoss: every reduction, with and without broadcasting target.",
        {"reduction": REDUCTIONS, "broadcast": ("no", "yes"), "dtype": DTYPES},
        crossings=(("reduction", "broadcast"), ("reduction", "dtype")),
    ),
    Family(
        "softmax",
        "softmax and log_softmax over every dim, with and without dtype= (the input is cast before "
        "the op), in every input dtype and layout.",
        {
            "fn": ("softmax", "log_softmax"),
            "dim": ("first", "middle", "last"),
            "dtype_arg": ("none", "float32", "float64"),
            "dtype": DTYPES,
            "layout": LAYOUTS,
        },
        crossings=(("fn", "dim", "dtype_arg"), ("fn", "dtype_arg", "dtype"), ("fn", "layout")),
    ),
    Family(
        "sgd",
        "optim.SGD: every implementation × every option, with several parameter groups, and the "
        "layouts of parameters, gradients and momentum buffers, including a parameter whose "
        "gradient has a different layout.",
        {
            "implementation": ("for-loop", "foreach", "fused"),
            "option": ("plain", "momentum", "dampening", "nesterov", "weight_decay", "maximize", "tensor_lr"),
            "groups": ("one", "several"),
            "param_layout": PARAM_LAYOUTS,
            "grad_layout": LAYOUTS,
            # "none": no momentum buffer after the example (momentum 0 in every group); SGD keeps
            # no state then, so there is no layout to claim. torch itself allocates buffers only
            # contiguous or transposed (it clones the gradient, or empty_like for fused); strided
            # and offset buffers come from load_state_dict, which keeps the tensor it is given.
            "state_layout": ("none", *PARAM_LAYOUTS),
            "mixed": ("same", "different"),
            "dtype": DTYPES,
        },
        crossings=(
            ("implementation", "option"),
            ("implementation", "groups"),
            ("implementation", "param_layout"),
            ("implementation", "grad_layout"),
            ("implementation", "state_layout"),
            ("implementation", "mixed"),
            ("implementation", "dtype"),
        ),
    ),
    Family(
        "sgd_api",
        "optim.SGD beyond the update: what step() may mutate, state_dict round trips and "
        "independence, differentiable=True against the reference's derivative, zero_grad forms.",
        {
            "implementation": ("for-loop", "foreach", "fused"),
            "aspect": (
                "step_mutates_only_params_and_state",
                "state_dict_round_trip",
                "state_dict_independence",
                "differentiable",
                "zero_grad_set_to_none",
                "zero_grad_zeros",
                "module_zero_grad",
            ),
        },
        exclude=({"implementation": "fused", "aspect": "differentiable"},),
    ),
    Family(
        "module",
        "nn.Module state of the seed's modules (Linear, Sigmoid, Softmax, LogSoftmax, Sequential, FizzBuzzNet).",
        {
            "api": (
                "load_state_dict_strict",
                "load_state_dict_copy",
                "load_state_dict_assign",
                "to",
                "cpu",
                "cuda",
                "half",
                "float",
                "double",
                "requires_grad_",
                "named_parameters",
                "buffers",
            ),
        },
        needs=(({"api": "cuda"}, "cuda"),),
    ),
    Family(
        "transform",
        "torch.func transforms and higher-order autograd against the numpy oracle (fizzcheck.reference.transforms).",
        {
            "api": (
                "grad",
                "vjp",
                "jvp",
                "jacrev",
                "jacfwd",
                "functional_call",
                "vmap_per_sample_loss_grad",
                "vmap_per_sample_layer_grad",
                "hvp_forward_over_reverse",
                "hvp_reverse_over_reverse",
                "double_backward",
            ),
        },
    ),
)
"""Every declared family, in report order."""

_BY_NAME = {f.name: f for f in CATALOGUE}


def family(name: str) -> Family:
    """The family called ``name``; a clear error for anything else."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"surface family {name!r} is not declared; families: {', '.join(_BY_NAME)}") from None


def all_cell_ids() -> list[str]:
    """Every declared cell id, family by family."""
    return [cid for fam in CATALOGUE for cid in fam.cell_ids()]

"""Strided-input faults: kernels that read views (transposed, strided) as if they were contiguous."""

from __future__ import annotations

from typing import Any

import torch

from fizzcheck.mutants.fault import AUTOGRAD, OPS, Fault
from fizzcheck.mutants.planting import GEMMS, op_faults

__all__ = ["CATEGORY", "FAULTS", "KERNELS_IGNORE_STRIDES"]

CATEGORY = "strided inputs"


# --- kernels_ignore_strides -----------------------------------------------------------------


def _fits_as_contiguous(t: torch.Tensor) -> bool:
    return t.untyped_storage().nbytes() // t.element_size() >= t.storage_offset() + t.numel()


def _ignore_strides(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A kernel that reads every input as if it were contiguous (it ignores the strides)."""

    def as_contiguous(a: Any) -> Any:
        if isinstance(a, torch.Tensor) and not a.is_contiguous() and a.numel() and _fits_as_contiguous(a):
            return a.as_strided(a.shape, torch.empty(a.shape, device="meta").stride(), a.storage_offset())
        return a

    return func(*map(as_contiguous, args), **kwargs)


def _witness_strides() -> bool:
    x = torch.arange(1.0, 7.0).reshape(2, 3).t()
    return not torch.equal(torch.sigmoid(x), torch.sigmoid(x.contiguous()))


KERNELS_IGNORE_STRIDES = Fault(
    "kernels_ignore_strides",
    CATEGORY,
    "GEMM, sigmoid, softmax, log_softmax and mse_loss kernels read non-contiguous inputs (transposed, "
    "strided views) as if they were contiguous: right for dense tensors, wrong for views.",
    (OPS, AUTOGRAD),
    plant=op_faults(dict.fromkeys((*GEMMS, "sigmoid", "_softmax", "_log_softmax", "mse_loss"), _ignore_strides)),
    check=_witness_strides,
)


FAULTS = (KERNELS_IGNORE_STRIDES,)

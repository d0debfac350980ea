"""The torch side of a comparison: devices, dtypes and memory layouts of input tensors.

This is the only fizzcheck module the properties use to turn reference inputs (float64
numpy arrays) into target tensors, so every property exercises the same layouts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fizzcheck.errors import InvalidArgument
from fizzcheck.strategies.inputs import repeat_first
from fizzcheck.surface.catalogue import LAYOUTS

__all__ = [
    "DEVICES",
    "TORCH_DTYPES",
    "available_devices",
    "cuda_skip_reason",
    "layout_of",
    "to_numpy",
    "to_tensor",
    "torch_dtype",
]

DEVICES = ("cpu", "cuda")
"""Device types fizzcheck knows how to run on."""

TORCH_DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def torch_dtype(name: str) -> torch.dtype:
    try:
        return TORCH_DTYPES[name]
    except KeyError:
        raise InvalidArgument(f"dtype={name!r} is not supported; use one of {sorted(TORCH_DTYPES)}") from None


def cuda_skip_reason() -> str | None:
    """Why CUDA cases cannot run here, or None when they can."""
    if not torch.cuda.is_available():
        return "CUDA not available (torch.cuda.is_available() is False)"
    return None


def available_devices() -> tuple[str, ...]:
    return ("cpu",) if cuda_skip_reason() else DEVICES


def to_tensor(
    values: Any,
    *,
    dtype: str,
    device: str = "cpu",
    layout: str = "contiguous",
    requires_grad: bool = False,
) -> torch.Tensor:
    """A tensor holding exactly ``values`` in ``dtype`` on ``device`` with the given layout.

    * ``contiguous``: a fresh dense tensor;
    * ``transposed``: a view of a tensor stored with the last two axes swapped (column-major
      matrices; 1-D stays dense);
    * ``strided``: every other element of a buffer twice as long in the last axis;
    * ``offset``: a view starting one element into its storage (misaligned for vector loads);
    * ``expanded``: ``values[:1].expand(shape)``, a zero stride in dim 0 (in-place ops refuse it);
      ``values`` must repeat along dim 0 (:func:`repeat_first`).

    The result is a leaf when ``requires_grad`` is set, whatever its layout (``requires_grad_`` on
    the view itself keeps its strides and storage offset). The layout actually obtained is
    :func:`layout_of` of the result: a shape can make a view dense (a 1-D "transposed", a size-1 dim),
    so a property that claims a layout cell asks :func:`layout_of`.
    """
    if layout not in LAYOUTS:
        raise InvalidArgument(f"layout={layout!r} must be one of {LAYOUTS}")
    if device.split(":")[0] not in DEVICES:
        raise InvalidArgument(f"device={device!r} must be one of {DEVICES}")
    array = np.asarray(values, dtype=np.float64)
    t_dtype = torch_dtype(dtype)
    with torch.no_grad():
        if layout == "transposed" and array.ndim >= 2:
            base = torch.tensor(np.swapaxes(array, -1, -2).copy(), dtype=t_dtype, device=device)
            out = base.transpose(-1, -2)
        elif layout == "strided" and array.ndim >= 1:
            wide = np.repeat(array, 2, axis=-1)
            out = torch.tensor(wide, dtype=t_dtype, device=device)[..., ::2]
        elif layout == "offset":
            flat = np.concatenate([[0.0], array.ravel()])
            out = torch.tensor(flat, dtype=t_dtype, device=device)[1:].view(array.shape)
        elif layout == "expanded" and array.ndim >= 1 and array.shape[0] > 1:
            if not np.array_equal(array, repeat_first(array), equal_nan=True):
                raise InvalidArgument("an expanded layout repeats dim 0: draw the values through repeat_first()")
            out = torch.tensor(array[:1], dtype=t_dtype, device=device).expand(array.shape)
        else:
            out = torch.tensor(array, dtype=t_dtype, device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def layout_of(tensor: torch.Tensor) -> str:
    """The memory layout of ``tensor`` as :data:`fizzcheck.surface.catalogue.LAYOUTS` names it: a
    zero stride (over a dim of size > 1) is ``expanded``; then a dense tensor is ``contiguous`` or,
    past the start of its storage, ``offset``; a transposed dense one ``transposed``; else ``strided``."""
    if any(stride == 0 and size > 1 for size, stride in zip(tensor.shape, tensor.stride(), strict=True)):
        return "expanded"
    if tensor.is_contiguous():
        return "offset" if tensor.storage_offset() > 0 else "contiguous"
    if tensor.dim() >= 2 and tensor.transpose(-1, -2).is_contiguous():
        return "transposed"
    return "strided"


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """float64 copy of ``tensor`` on the host (exact for every supported dtype).

    Always a copy: ``.numpy()`` of a float64 CPU tensor is a view, which later in-place
    updates of the tensor (``p -= lr * p.grad``, ``optimizer.step()``) would change.
    """
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()

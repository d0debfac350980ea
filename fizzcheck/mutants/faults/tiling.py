"""Tiling faults: blocked loops that handle whole tiles only and forget the partial last one."""

from __future__ import annotations

import math
from typing import Any

import torch

from fizzcheck.mutants.fault import AUTOGRAD, OPS, Fault
from fizzcheck.mutants.planting import GEMMS, REDUCTIONS, argument, gemm_operands, op_faults

__all__ = ["CATEGORY", "FAULTS", "MATMUL_DROPS_REMAINDER_K_TILE", "SUM_DROPS_REMAINDER_TILE", "TILE"]

CATEGORY = "tiling"

TILE = 64
"""Tile length of the "dropped remainder" faults: a blocked loop that only handles whole tiles
is wrong for every length above 64 that is not a multiple of 64 (65, 127, 129, 255, 257, 300)."""


def _whole_tiles(length: int) -> int:
    return length if length <= TILE else length - length % TILE


# --- matmul_drops_remainder_k_tile ----------------------------------------------------------


def _matmul_drops_remainder(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    i, j = gemm_operands(func)
    a, b = args[i], args[j]
    kept = _whole_tiles(a.shape[-1])
    if kept == a.shape[-1]:
        return func(*args, **kwargs)
    return func(*args[:i], a[..., :kept], b[..., :kept, :], *args[j + 1 :], **kwargs)


def _witness_gemm_tile() -> bool:
    return (torch.ones(1, TILE + 1) @ torch.ones(TILE + 1, 1)).item() != TILE + 1


MATMUL_DROPS_REMAINDER_K_TILE = Fault(
    "matmul_drops_remainder_k_tile",
    CATEGORY,
    f"GEMMs loop over the reduction dimension in tiles of {TILE} and forget the partial last tile "
    f"(k > {TILE}, k mod {TILE} ≠ 0).",
    (OPS, AUTOGRAD),
    plant=op_faults(dict.fromkeys(GEMMS, _matmul_drops_remainder)),
    check=_witness_gemm_tile,
)


# --- sum_drops_remainder_tile ---------------------------------------------------------------


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


def _witness_reduction_tile() -> bool:
    return torch.ones(TILE + 1, dtype=torch.float64).sum().item() != TILE + 1


SUM_DROPS_REMAINDER_TILE = Fault(
    "sum_drops_remainder_tile",
    CATEGORY,
    f"sum and mean over more than {TILE} elements skip the partial last tile of {TILE} "
    "(mean still divides by the full count).",
    (OPS, AUTOGRAD),
    plant=op_faults(dict.fromkeys(REDUCTIONS, _reduce_drops_remainder)),
    check=_witness_reduction_tile,
)


FAULTS = (MATMUL_DROPS_REMAINDER_K_TILE, SUM_DROPS_REMAINDER_TILE)

"""Precision faults: GEMMs and reductions computed in less precision than the dtype asks for."""

from __future__ import annotations

from typing import Any

import torch

from fizzcheck.mutants.fault import AUTOGRAD, OPS, Fault
from fizzcheck.mutants.faults.inputs import f32, f64
from fizzcheck.mutants.planting import GEMMS, REDUCTIONS, gemm_operands, op_faults

__all__ = ["CATEGORY", "FAULTS", "MATMUL_FLOAT64_IN_FLOAT32", "MATMUL_TF32_INPUTS", "SUM_FLOAT64_IN_FLOAT32"]

CATEGORY = "precision"


def _float64_in_float32(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Handler: a float64 op computed in float32 and widened back."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if not tensors or tensors[0].dtype != torch.float64:
        return func(*args, **kwargs)
    down = tuple(a.to(torch.float32) if isinstance(a, torch.Tensor) else a for a in args)
    if kwargs.get("dtype") == torch.float64:
        kwargs = {**kwargs, "dtype": torch.float32}
    return func(*down, **kwargs).to(torch.float64)


# --- matmul_tf32_inputs ---------------------------------------------------------------------


def _round_to_tf32(t: torch.Tensor) -> torch.Tensor:
    """float32 values rounded to TF32's 10-bit mantissa (round to nearest, ties away)."""
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & -0x2000).view(torch.float32)


def _tf32_matmul(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    i, j = gemm_operands(func)
    if args[i].dtype != torch.float32:
        return func(*args, **kwargs)
    args = (*args[:i], _round_to_tf32(args[i]), _round_to_tf32(args[j]), *args[j + 1 :])
    return func(*args, **kwargs)


def _witness_tf32() -> bool:
    a = f32([1.0 + 2.0**-20])  # needs 20 mantissa bits; TF32 keeps 10
    return (a @ f32([1.0])).item() != 1.0 + 2.0**-20


MATMUL_TF32_INPUTS = Fault(
    "matmul_tf32_inputs",
    CATEGORY,
    "float32 GEMMs (mm, addmm, bmm, baddbmm) round both operands to TF32 (10-bit mantissa) first, "
    "as a GPU with TF32 enabled does.",
    (OPS, AUTOGRAD),
    plant=op_faults(dict.fromkeys(GEMMS, _tf32_matmul)),
    check=_witness_tf32,
)


# --- matmul_float64_in_float32 --------------------------------------------------------------


def _witness_float64_gemm() -> bool:
    a = f64([1.0 + 2.0**-40])
    return (a @ f64([1.0])).item() != 1.0 + 2.0**-40


MATMUL_FLOAT64_IN_FLOAT32 = Fault(
    "matmul_float64_in_float32",
    CATEGORY,
    "float64 GEMMs are computed in float32 and widened back (a backend without double-precision GEMM).",
    (OPS, AUTOGRAD),
    plant=op_faults(dict.fromkeys(GEMMS, _float64_in_float32)),
    check=_witness_float64_gemm,
)


# --- sum_float64_in_float32 -----------------------------------------------------------------


def _witness_float64_sum() -> bool:
    return f64(1.0, 2.0**-40).sum().item() != 1.0 + 2.0**-40


SUM_FLOAT64_IN_FLOAT32 = Fault(
    "sum_float64_in_float32",
    CATEGORY,
    "float64 sum and mean reduce in float32 (a reduction kernel with a single-precision accumulator).",
    (OPS, AUTOGRAD),
    plant=op_faults(dict.fromkeys(REDUCTIONS, _float64_in_float32)),
    check=_witness_float64_sum,
)


FAULTS = (MATMUL_TF32_INPUTS, MATMUL_FLOAT64_IN_FLOAT32, SUM_FLOAT64_IN_FLOAT32)

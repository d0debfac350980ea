"""The dtype table: unit roundoff, ranges and rounding for every dtype fizzcheck knows.

Torch-free on purpose: the reference side and the tolerance model use dtype *names*
("float32", …) and this table, never ``torch.dtype`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fizzcheck.errors import InvalidArgument

__all__ = ["DTYPES", "FLOAT_DTYPES", "DTypeInfo", "dtype_info", "round_to"]


@dataclass(frozen=True)
class DTypeInfo:
    """Facts about one floating-point format.

    ``unit_roundoff`` is u = 2**-p (p = significand bits including the hidden bit):
    round-to-nearest gives fl(x) = x(1 + d) with |d| <= u for x in the normal range.
    ``max_safe_magnitude`` is the largest |value| the strategies draw for this dtype,
    chosen so that products of two such values summed over a few hundred terms stay
    far from overflow; ``min_safe_magnitude`` keeps products of two values normal.
    """

    name: str
    significand_bits: int
    smallest_normal: float
    smallest_subnormal: float
    largest: float
    max_safe_magnitude: float
    min_safe_magnitude: float

    @property
    def unit_roundoff(self) -> float:
        return 2.0**-self.significand_bits


DTYPES: dict[str, DTypeInfo] = {
    "float64": DTypeInfo("float64", 53, 2.0**-1022, 2.0**-1074, float(np.finfo(np.float64).max), 2.0**20, 2.0**-20),
    "float32": DTypeInfo("float32", 24, 2.0**-126, 2.0**-149, float(np.finfo(np.float32).max), 2.0**20, 2.0**-20),
    "float16": DTypeInfo("float16", 11, 2.0**-14, 2.0**-24, 65504.0, 2.0**3, 2.0**-3),
    "bfloat16": DTypeInfo("bfloat16", 8, 2.0**-126, 2.0**-133, 3.3895313892515355e38, 2.0**20, 2.0**-20),
}
FLOAT_DTYPES = ("float32", "float64")
"""The dtypes every property runs in on every device; float16/bfloat16 run on CUDA, and on the CPU
for the properties marked ``cpu_low_precision``."""


def dtype_info(name: str) -> DTypeInfo:
    """Look up ``name`` in :data:`DTYPES`; one clear error for anything else."""
    try:
        return DTYPES[name]
    except (KeyError, TypeError):
        raise InvalidArgument(f"dtype={name!r} is not supported; use one of {sorted(DTYPES)}") from None


def round_to(values: np.ndarray, name: str) -> np.ndarray:
    """Round ``values`` to dtype ``name`` (nearest-even) and return them as exact float64.

    The reference works on exactly the numbers the target sees, so every input is passed
    through here first.
    """
    dtype_info(name)
    values = np.asarray(values, dtype=np.float64)
    if name == "bfloat16":
        # numpy has no bfloat16: round float32 bits to the top 16, ties to even.
        # NaN and Inf pass through unchanged (their low bits are irrelevant or zero).
        f32 = values.astype(np.float32)
        bits = f32.view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32)
        out = np.where(np.isfinite(f32), rounded.view(np.float32), f32)
        return out.astype(np.float64)
    with np.errstate(over="ignore"):
        return values.astype(name).astype(np.float64)

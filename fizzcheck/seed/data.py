"""The FizzBuzz data of the seed chapter: binary encoding, labels and decoding (torch-free).

* Integers are encoded as their binary digits, most significant first (``NUM_DIGITS``
  of them, so 0..1023).
* Four labels: ``number`` (print the number), ``fizz`` (multiple of 3), ``buzz``
  (multiple of 5), ``fizzbuzz`` (multiple of 15).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fizzcheck.errors import InvalidArgument

__all__ = ["FORMS", "LABELS", "NUM_DIGITS", "OUTPUT_SIZE", "decode", "encode", "fizzbuzz", "labels"]

NUM_DIGITS = 10
"""Binary digits per input: the chapter's input size (numbers 0..1023)."""

LABELS = ("number", "fizz", "buzz", "fizzbuzz")
"""Class index → label."""

OUTPUT_SIZE = len(LABELS)

FORMS = ("raw", "module", "sequential")
"""The torch forms of the seed's network (the numpy reference is the fourth)."""


# --- data -----------------------------------------------------------------------------


def _numbers(numbers: Iterable[int], digits: int) -> np.ndarray:
    values = np.asarray(list(numbers), dtype=np.int64)
    if values.ndim != 1:
        raise InvalidArgument(f"numbers must be a flat sequence of integers, got shape {values.shape}")
    if values.size and (values.min() < 0 or values.max() >= 2**digits):
        raise InvalidArgument(
            f"numbers must lie in [0, {2**digits}) for digits={digits}, got {values.min()}..{values.max()}"
        )
    return values


def encode(numbers: Iterable[int], digits: int = NUM_DIGITS) -> np.ndarray:
    """(N, digits) float64 array of 0/1: each number's binary digits, most significant first."""
    values = _numbers(numbers, digits)
    shifts = np.arange(digits - 1, -1, -1)
    return ((values[:, None] >> shifts) & 1).astype(np.float64)


def labels(numbers: Iterable[int]) -> np.ndarray:
    """Class index of each number: 0 number, 1 fizz, 2 buzz, 3 fizzbuzz (int64)."""
    values = np.asarray(list(numbers), dtype=np.int64)
    fizz, buzz = values % 3 == 0, values % 5 == 0
    return np.where(fizz & buzz, 3, np.where(buzz, 2, np.where(fizz, 1, 0))).astype(np.int64)


def decode(number: int, class_index: int) -> str:
    """What FizzBuzz prints for ``number`` when the class is ``class_index``."""
    if not 0 <= class_index < OUTPUT_SIZE:
        raise InvalidArgument(f"class_index={class_index!r} must lie in [0, {OUTPUT_SIZE})")
    return str(number) if class_index == 0 else LABELS[class_index]


def fizzbuzz(number: int) -> str:
    """The right answer, for comparison."""
    return decode(number, int(labels([number])[0]))

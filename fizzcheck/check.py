"""The comparison: a result against its reference within an error bound, reported as error / bound.

:func:`assert_close` compares one result, :func:`assert_all_close` several named parts at
once; both raise :class:`~fizzcheck.errors.BoundExceeded` with a message of the form
``out[i]=<got>, but should be <expected> within bound <b> (error/bound=<r>) [op]``.
:func:`compare` is the same comparison without raising. The bounds come from
:mod:`fizzcheck.bounds`; this module knows nothing about how they are derived.

A comparison's ``ratio`` is max(|actual − expected| / bound) over the finite positions; a
property fails when it exceeds 1. NaN and ±Inf positions must match exactly, shapes (and,
when asked, dtypes) must be equal. Every comparison :func:`assert_close` makes is handed to
the callbacks registered with :func:`observe`: the pytest plugin records the largest ratio
per property, so reports show how close to the edge each property runs.

Results may be numpy arrays or torch tensors; tensors are recognised by duck typing, so
this module never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from fizzcheck.errors import BoundExceeded, FizzcheckError

__all__ = [
    "Comparison",
    "assert_all_close",
    "assert_close",
    "compare",
    "observe",
]

Array = np.ndarray


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing one result with its reference under a bound."""

    op: str
    ratio: float
    """max |actual - expected| / bound over finite positions (0 if equal, inf if bound is 0)."""
    index: tuple[int, ...] | None
    actual: float
    expected: float
    bound: float

    @property
    def ok(self) -> bool:
        return self.ratio <= 1.0


_observers: list[Callable[[Comparison], None]] = []


@contextmanager
def observe(callback: Callable[[Comparison], None]) -> Iterator[None]:
    """Call ``callback`` with every :class:`Comparison` made inside the ``with`` block.

    The pytest plugin uses this to record the largest error / bound ratio per property.
    """
    _observers.append(callback)
    try:
        yield
    finally:
        _observers.remove(callback)


def _as_array(value: Any) -> tuple[Array, str | None]:
    """numpy array plus dtype name; torch tensors are accepted by duck typing (no import)."""
    if hasattr(value, "detach") and hasattr(value, "dtype"):
        name = str(value.dtype).removeprefix("torch.")
        return value.detach().cpu().double().numpy(), name
    arr = np.asarray(value)
    return arr.astype(np.float64), (arr.dtype.name if arr.dtype.kind == "f" else None)


def _tensor_dtype(value: Any) -> str | None:
    """The dtype name of a torch tensor (by duck typing), None for anything else."""
    return str(value.dtype).removeprefix("torch.") if hasattr(value, "detach") and hasattr(value, "dtype") else None


def _fmt(value: float) -> str:
    return repr(float(value))


def compare(actual: Any, expected: Any, *, bound: Any, op: str) -> Comparison:
    """Compare without raising (shape or non-finite mismatches are ``ratio = inf``)."""
    got, _ = _as_array(actual)
    want = np.asarray(expected, dtype=np.float64)
    allowed = np.broadcast_to(np.asarray(bound, dtype=np.float64), want.shape)
    if got.shape != want.shape:
        return Comparison(op, math.inf, None, math.nan, math.nan, math.nan)
    for check in (np.isnan, np.isposinf, np.isneginf):
        mismatch = check(got) != check(want)
        if mismatch.any():
            idx = tuple(int(i) for i in np.argwhere(mismatch)[0])
            return Comparison(op, math.inf, idx, float(got[idx]), float(want[idx]), float(allowed[idx]))
    finite = np.isfinite(want)
    if np.any(finite & ~(allowed >= 0)):
        raise FizzcheckError(f"bound for {op} is negative or NaN at a finite position: a fizzcheck bug")
    if not finite.any():
        return Comparison(op, 0.0, None, math.nan, math.nan, math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(finite, np.abs(got - want), 0.0)
        ratios = np.where(err == 0, 0.0, err / np.where(finite, allowed, 1.0))
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratios)), ratios.shape))
    return Comparison(op, float(ratios[idx]), idx, float(got[idx]), float(want[idx]), float(allowed[idx]))


def assert_close(actual: Any, expected: Any, *, bound: Any, op: str, dtype: str | None = None) -> Comparison:
    """Assert ``actual`` equals ``expected`` within ``bound`` element-wise; return the comparison.

    ``actual`` is a numpy array or a torch tensor; ``dtype`` (if given) must be its dtype.
    Raises :class:`BoundExceeded` with ``out[i]=<got>, but should be <expected> within bound
    <b> (error/bound=<r>) [op]``.
    """
    __tracebackhide__ = True
    got, got_dtype = _as_array(actual)
    want = np.asarray(expected)
    if got.shape != want.shape:
        raise BoundExceeded(f"out.shape={got.shape}, but should be {want.shape} [{op}]")
    if dtype is not None and got_dtype != dtype:
        raise BoundExceeded(f"out.dtype={got_dtype}, but should be {dtype} [{op}]")
    result = compare(got, want, bound=bound, op=op)
    for callback in list(_observers):
        callback(result)
    if not result.ok:
        where = "" if result.index is None else f"[{', '.join(map(str, result.index))}]"
        raise BoundExceeded(
            f"out{where}={_fmt(result.actual)}, but should be {_fmt(result.expected)} within bound "
            f"{result.bound:.3g} (error/bound={result.ratio:.3g}) [{op}]"
        )
    return result


def assert_all_close(parts: Sequence[tuple[str, Any, Array, Any]], *, op: str, dtype: str | None = None) -> None:
    """:func:`assert_close` over several ``(name, actual, expected, bound)`` at once.

    One comparison of the concatenation (cheap, and recorded once for the run's
    error/bound summary); if it fails, or a part's dtype or shape is wrong, each part is
    compared on its own so that the message names the part.
    """
    __tracebackhide__ = True
    hosted = [(_as_array(actual)[0], _tensor_dtype(actual)) for _, actual, _, _ in parts]
    consistent = all(
        array.shape == np.shape(expected) and (dtype is None or name is None or name == dtype)
        for (array, name), (_, _, expected, _) in zip(hosted, parts, strict=True)
    )
    if consistent:

        def flat(arrays: Sequence[Any]) -> Array:
            return (
                np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in arrays]) if arrays else np.zeros(0)
            )

        bounds = [np.broadcast_to(np.asarray(b, dtype=np.float64), np.shape(e)) for _, _, e, b in parts]
        try:
            assert_close(flat([a for a, _ in hosted]), flat([e for _, _, e, _ in parts]), bound=flat(bounds), op=op)
            return
        except BoundExceeded:
            pass  # the part-by-part comparison below raises with the failing part's name
    for name, actual, expected, bound in parts:
        assert_close(actual, expected, bound=bound, op=f"{op} {name}", dtype=dtype)

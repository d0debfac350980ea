"""Hypothesis strategies for shapes, values, dtypes, layouts and cotangents.

Conventions (after ``hypothesis.extra.numpy``): arguments are validated when the strategy
is built and a bad one raises :class:`~fizzcheck.errors.InvalidArgument` quoting
``name=value!r``; sizes are capped by the module constants below, so properties stay fast.

Values come back as float64 numpy arrays holding numbers that are *exactly* representable
in the requested dtype: the reference and the target then see the very same inputs.

Small arrays (at most ``SMALL_ARRAY`` elements) are drawn element by element so Hypothesis
can shrink individual values; larger ones are filled from a numpy generator whose seed,
distribution and scale Hypothesis draws (drawing 10⁴ elements one by one would be slow and
Hypothesis would mostly fill them with one constant), with special values placed at drawn
positions on top.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fizzcheck.dtypes import DTYPES, FLOAT_DTYPES, dtype_info, round_to
from fizzcheck.errors import InvalidArgument

__all__ = [
    "BOUNDARY_SIDES",
    "DISTRIBUTIONS",
    "LAYOUTS",
    "MAX_ELEMENTS",
    "MAX_SIDE",
    "SATURATING_LOGITS",
    "SATURATING_SIGMOID",
    "SMALL_ARRAY",
    "arrays",
    "class_targets",
    "dtypes",
    "layouts",
    "matmul_shapes",
    "repeat_first",
    "shapes",
    "sides",
]

MAX_SIDE = 300
"""Largest size drawn for a single dimension ("low hundreds": past 256-wide kernel tiles)."""

MAX_ELEMENTS = 40_000
"""Largest number of elements of any one drawn array."""

SMALL_ARRAY = 64
"""Arrays up to this size are drawn element by element (shrinkable values)."""

BOUNDARY_SIDES = (2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257)
"""Sizes on either side of the vector widths and tile/block sizes of real CPU and GPU kernels."""

DISTRIBUTIONS = ("uniform", "normal", "log-uniform", "positive", "integers")
"""How large arrays are filled: symmetric, heavy-centre, wide dynamic range, same-sign
(worst for cancellation-free accumulation), and small integers (exact arithmetic)."""

LAYOUTS = ("contiguous", "transposed", "strided", "offset")
"""Memory layouts of the target's input tensors (see ``fizzcheck.targets.tensors.to_tensor``)."""

SATURATING_SIGMOID = (-120.0, -90.0, -40.0, -17.0, 17.0, 40.0, 90.0, 120.0)
"""Inputs deep in sigmoid's tails: float32 exp overflows past 88.7, σ rounds to 1 past ~17."""

SATURATING_LOGITS = (-1.0e4, -300.0, -90.0, 90.0, 300.0, 1.0e4)
"""Logits that overflow a softmax computed without subtracting the maximum."""

_NONFINITE = (math.nan, math.inf, -math.inf)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidArgument(message)


def _check_int(name: str, value: object, *, minimum: int = 0) -> int:
    _check(
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
        f"{name}={value!r} must be an integer >= {minimum}",
    )
    return value  # type: ignore[return-value]


def _check_dtype(dtype: object) -> str:
    _check(isinstance(dtype, str) and dtype in DTYPES, f"dtype={dtype!r} must be one of {sorted(DTYPES)}")
    return dtype  # type: ignore[return-value]


# --- shapes ---------------------------------------------------------------------------


def sides(*, min_side: int = 1, max_side: int = MAX_SIDE) -> st.SearchStrategy[int]:
    """One dimension: mostly small, often a tile boundary, sometimes anything up to ``max_side``."""
    _check_int("min_side", min_side)
    _check_int("max_side", max_side)
    _check(min_side <= max_side, f"min_side={min_side!r} must not exceed max_side={max_side!r}")
    small = st.integers(min_side, min(max_side, max(min_side, 8)))
    boundary = [s for s in BOUNDARY_SIDES if min_side <= s <= max_side]
    options = [small, st.integers(min_side, max_side)]
    if boundary:
        options.insert(1, st.sampled_from(boundary))
    return st.one_of(*options)


@st.composite
def _budgeted_shape(
    draw: st.DrawFn, min_dims: int, max_dims: int, min_side: int, max_side: int, budget: int
) -> tuple[int, ...]:
    ndim = draw(st.integers(min_dims, max_dims), label="ndim")
    order = draw(st.permutations(range(ndim))) if ndim > 1 else list(range(ndim))
    dims = [min_side] * ndim
    for axis in order:  # each side may use what the others leave of the element budget
        others = math.prod(d for i, d in enumerate(dims) if i != axis) or 1
        cap = max(min_side, min(max_side, budget // max(others, 1)))
        dims[axis] = draw(sides(min_side=min_side, max_side=cap))
    return tuple(dims)


def shapes(
    *,
    min_dims: int = 1,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = MAX_SIDE,
    max_elements: int = MAX_ELEMENTS,
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes whose every side can reach ``max_side`` while the total stays ≤ ``max_elements``.

    Pass ``min_side=0`` to include zero-size dimensions.
    """
    _check_int("min_dims", min_dims)
    _check_int("max_dims", max_dims)
    _check(min_dims <= max_dims, f"min_dims={min_dims!r} must not exceed max_dims={max_dims!r}")
    _check_int("max_elements", max_elements, minimum=1)
    sides(min_side=min_side, max_side=max_side)  # validates the side range
    _check(
        min_side**min_dims <= max_elements,
        f"min_side={min_side!r} with min_dims={min_dims!r} exceeds max_elements={max_elements!r}",
    )
    return _budgeted_shape(min_dims, max_dims, min_side, max_side, max_elements)


def matmul_shapes(
    *, max_batch_dims: int = 1, min_side: int = 1, max_side: int = MAX_SIDE, max_elements: int = MAX_ELEMENTS
) -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Operand shapes for ``torch.matmul``: 1-D vectors, matrices and broadcast batches.

    Each of the three matrices involved (a, b, out) stays within ``max_elements``.
    """
    _check_int("max_batch_dims", max_batch_dims)
    sides(min_side=min_side, max_side=max_side)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
        m, k, n = draw(_budgeted_shape(3, 3, min_side, max_side, max_elements), label="m, k, n")
        while max(m * k, k * n, m * n) > max_elements:  # shrink the largest side
            if m >= k and m >= n:
                m //= 2
            elif k >= n:
                k //= 2
            else:
                n //= 2
        kind = draw(st.sampled_from(("mm", "mv", "vm", "vv", "batched")), label="kind")
        if kind == "mv":
            return (m, k), (k,)
        if kind == "vm":
            return (k,), (k, n)
        if kind == "vv":
            return (k,), (k,)
        if kind == "batched" and max_batch_dims:
            per_matrix = max(m * k, k * n, m * n, 1)
            batch = draw(
                st.lists(st.integers(1, 4), min_size=1, max_size=max_batch_dims).filter(
                    lambda b: math.prod(b) * per_matrix <= max_elements
                ),
                label="batch",
            )
            # broadcast: one operand may drop or squeeze batch dims
            b_batch = draw(st.sampled_from((tuple(batch), (1,) * len(batch), ())), label="b batch")
            return (*batch, m, k), (*b_batch, k, n)
        return (m, k), (k, n)

    return build()


# --- values ---------------------------------------------------------------------------


def _magnitude_range(dtype: str, min_magnitude: float | None, max_magnitude: float | None) -> tuple[float, float]:
    info = dtype_info(dtype)
    lo = info.min_safe_magnitude if min_magnitude is None else min_magnitude
    hi = info.max_safe_magnitude if max_magnitude is None else max_magnitude
    _check(isinstance(lo, (int, float)) and lo > 0, f"min_magnitude={min_magnitude!r} must be a positive number")
    _check(isinstance(hi, (int, float)) and math.isfinite(hi), f"max_magnitude={max_magnitude!r} must be finite")
    _check(lo < hi, f"min_magnitude={lo!r} must be below max_magnitude={hi!r}")
    _check(hi <= info.largest, f"max_magnitude={hi!r} exceeds the largest {dtype} value {info.largest!r}")
    return float(lo), float(hi)


def _finish(values: np.ndarray, dtype: str, lo: float, hi: float) -> np.ndarray:
    # Magnitudes below lo become 0 (keeps products out of the subnormal range); clip to hi.
    finite = np.isfinite(values)
    clipped = np.where(finite, np.clip(values, -hi, hi), values)
    clipped = np.where(finite & (np.abs(clipped) < lo), 0.0, clipped)
    return round_to(clipped, dtype)


@functools.lru_cache(maxsize=256)
def _element(lo: float, hi: float, specials: tuple[float, ...]) -> st.SearchStrategy[float]:
    magnitude = st.floats(lo, hi)
    signed = st.tuples(st.sampled_from((1.0, -1.0)), magnitude).map(lambda t: t[0] * t[1])
    options: list[st.SearchStrategy[float]] = [st.just(0.0), signed, st.floats(-min(hi, 4.0), min(hi, 4.0))]
    if specials:
        options.append(st.sampled_from(tuple(specials)))
    return st.one_of(*options)


def _fill(rng: np.random.Generator, distribution: str, size: int, lo: float, hi: float, scale: float) -> np.ndarray:
    if distribution == "uniform":
        return rng.uniform(-scale, scale, size)
    if distribution == "normal":
        return rng.normal(0.0, scale / 3.0, size)
    if distribution == "positive":
        return rng.uniform(0.0, scale, size)
    if distribution == "integers":
        return rng.integers(-8, 9, size).astype(np.float64)
    # log-uniform magnitudes between lo and scale, random signs
    exponents = rng.uniform(math.log2(lo), math.log2(max(scale, lo * 2)), size)
    return rng.choice((-1.0, 1.0), size) * np.exp2(exponents)


@st.composite
def _arrays(
    draw: st.DrawFn,
    shape: tuple[int, ...],
    dtype: str,
    lo: float,
    hi: float,
    specials: tuple[float, ...],
) -> np.ndarray:
    size = math.prod(shape)
    if size <= SMALL_ARRAY:
        values = draw(hnp.arrays(np.float64, shape, elements=_element(lo, hi, specials)))
        return _finish(values, dtype, lo, hi)
    seed = draw(st.integers(0, 2**32 - 1), label="fill seed")
    distribution = draw(st.sampled_from(DISTRIBUTIONS), label="distribution")
    exponent_hi = max(math.floor(math.log2(hi)), math.ceil(math.log2(lo)) + 1)
    scale = min(hi, 2.0 ** draw(st.integers(min(0, exponent_hi), exponent_hi), label="scale exponent"))
    values = _fill(np.random.default_rng(seed), distribution, size, lo, hi, scale)
    if specials:
        placed = draw(
            st.lists(st.tuples(st.integers(0, size - 1), st.sampled_from(specials)), max_size=8),
            label="special values",
        )
        for index, value in placed:
            values[index] = value
    return _finish(values.reshape(shape), dtype, lo, hi)


def arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
    *,
    dtype: str,
    min_magnitude: float | None = None,
    max_magnitude: float | None = None,
    extremes: Sequence[float] = (),
    allow_nonfinite: bool = False,
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of values exactly representable in ``dtype``.

    Non-zero magnitudes lie in [``min_magnitude``, ``max_magnitude``] (defaults from
    :data:`fizzcheck.dtypes.DTYPES`, chosen so sums of products neither overflow nor
    underflow). ``extremes`` are values injected on purpose (e.g.
    :data:`SATURATING_SIGMOID`); ``allow_nonfinite`` adds NaN and ±Inf to them.
    """
    _check_dtype(dtype)
    lo, hi = _magnitude_range(dtype, min_magnitude, max_magnitude)
    _check(isinstance(allow_nonfinite, bool), f"allow_nonfinite={allow_nonfinite!r} must be a bool")
    try:
        specials = tuple(float(v) for v in extremes)
    except (TypeError, ValueError):
        raise InvalidArgument(f"extremes={extremes!r} must be a sequence of numbers") from None
    if allow_nonfinite:
        specials += _NONFINITE
    if isinstance(shape, st.SearchStrategy):
        return shape.flatmap(lambda s: _arrays_for(s, dtype, lo, hi, specials))
    _check(
        isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape),
        f"shape={shape!r} must be a tuple of non-negative ints, e.g. (3, 4)",
    )
    _check(math.prod(shape) <= MAX_ELEMENTS, f"shape={shape!r} has more than MAX_ELEMENTS={MAX_ELEMENTS} elements")
    return _arrays_for(shape, dtype, lo, hi, specials)


@functools.lru_cache(maxsize=1024)
def _arrays_for(
    shape: tuple[int, ...], dtype: str, lo: float, hi: float, specials: tuple[float, ...]
) -> st.SearchStrategy[np.ndarray]:
    """Strategies are immutable: build each (shape, dtype, range) once, not once per draw."""
    return _arrays(shape, dtype, lo, hi, specials)


def class_targets(batch_shape: tuple[int, ...], classes: int) -> st.SearchStrategy[np.ndarray]:
    """Integer class indices in [0, classes) of shape ``batch_shape`` (int64, like torch)."""
    _check_int("classes", classes, minimum=1)
    _check(isinstance(batch_shape, tuple), f"batch_shape={batch_shape!r} must be a tuple")
    return hnp.arrays(np.int64, batch_shape, elements=st.integers(0, classes - 1))


# --- dtypes and layouts ---------------------------------------------------------------


def dtypes(allowed: Sequence[str] = FLOAT_DTYPES) -> st.SearchStrategy[str]:
    """Names of floating dtypes (float32 and float64 by default)."""
    _check(len(allowed) > 0, f"allowed={allowed!r} must name at least one dtype")
    for name in allowed:
        _check_dtype(name)
    return st.sampled_from(tuple(allowed))


def layouts(allowed: Sequence[str] = LAYOUTS) -> st.SearchStrategy[str]:
    """Memory layouts for the target's inputs: contiguous, transposed, strided, offset views."""
    _check(len(allowed) > 0, f"allowed={allowed!r} must name at least one layout")
    for name in allowed:
        _check(name in LAYOUTS, f"layout={name!r} must be one of {LAYOUTS}")
    return st.sampled_from(tuple(allowed))


def repeat_first(values: object) -> np.ndarray:
    """``values`` with every slice along dim 0 replaced by the first: what an expanded view can hold."""
    array = np.asarray(values, dtype=np.float64)
    return np.ascontiguousarray(np.broadcast_to(array[:1], array.shape))

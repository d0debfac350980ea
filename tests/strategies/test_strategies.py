"""Strategies: invalid calls raise one clear error; valid ones draw what they promise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fizzcheck.strategies as fst
from fizzcheck.dtypes import dtype_info, round_to
from fizzcheck.errors import InvalidArgument


@pytest.mark.parametrize(
    ("make", "quoted"),
    [
        (lambda: fst.sides(min_side=-1), "min_side=-1"),
        (lambda: fst.sides(min_side=5, max_side=2), "min_side=5"),
        (lambda: fst.sides(max_side=2.5), "max_side=2.5"),
        (lambda: fst.shapes(min_dims=3, max_dims=1), "min_dims=3"),
        (lambda: fst.shapes(max_elements=0), "max_elements=0"),
        (lambda: fst.shapes(min_dims=3, min_side=100, max_elements=1000), "min_side=100"),
        (lambda: fst.arrays((2, 2), dtype="int8"), "dtype='int8'"),
        (lambda: fst.arrays((2, 2), dtype="float32", max_magnitude=math.inf), "max_magnitude=inf"),
        (lambda: fst.arrays((2, 2), dtype="float32", min_magnitude=-1.0), "min_magnitude=-1.0"),
        (lambda: fst.arrays((2, 2), dtype="float16", max_magnitude=1e6), "max_magnitude=1000000.0"),
        (lambda: fst.arrays((2, 2), dtype="float32", min_magnitude=8.0, max_magnitude=4.0), "min_magnitude=8.0"),
        (lambda: fst.arrays([2, 2], dtype="float32"), "shape=[2, 2]"),
        (lambda: fst.arrays((10**6,), dtype="float32"), "MAX_ELEMENTS"),
        (lambda: fst.arrays((2,), dtype="float32", extremes=["big"]), "extremes=['big']"),
        (lambda: fst.arrays((2,), dtype="float32", allow_nonfinite="yes"), "allow_nonfinite='yes'"),
        (lambda: fst.class_targets((2,), 0), "classes=0"),
        (lambda: fst.dtypes(()), "allowed=()"),
        (lambda: fst.dtypes(("float32", "complex64")), "dtype='complex64'"),
        (lambda: fst.layouts(("diagonal",)), "layout='diagonal'"),
        (lambda: fst.matmul_shapes(max_batch_dims=-1), "max_batch_dims=-1"),
    ],
)
def test_invalid_arguments_raise_invalid_argument_quoting_the_value(make, quoted):
    with pytest.raises(InvalidArgument) as info:
        make()
    assert quoted in str(info.value)
    assert isinstance(info.value, ValueError)  # callers may catch it as a ValueError too


@given(data=st.data())
def test_shapes_respect_their_limits(data):
    max_side = data.draw(st.integers(1, fst.MAX_SIDE), label="max_side")
    shape = data.draw(
        fst.shapes(min_dims=1, max_dims=3, min_side=0, max_side=max_side, max_elements=5000), label="shape"
    )
    assert 1 <= len(shape) <= 3
    assert all(0 <= side <= max_side for side in shape)
    assert math.prod(shape) <= 5000


@given(data=st.data())
def test_arrays_hold_values_exactly_representable_in_range(data):
    dtype = data.draw(st.sampled_from(("float32", "float64", "float16", "bfloat16")), label="dtype")
    shape = data.draw(fst.shapes(max_dims=2, max_side=200), label="shape")
    x = data.draw(fst.arrays(shape, dtype=dtype), label="x")
    info = dtype_info(dtype)
    assert x.shape == shape
    assert x.dtype == np.float64
    np.testing.assert_array_equal(round_to(x, dtype), x)
    magnitudes = np.abs(x[x != 0])
    assert np.all(magnitudes >= info.min_safe_magnitude)
    assert np.all(magnitudes <= info.max_safe_magnitude)


@given(data=st.data())
def test_matmul_shapes_are_compatible_and_bounded(data):
    shape_a, shape_b = data.draw(fst.matmul_shapes(max_batch_dims=2), label="shapes")
    out = np.matmul(np.zeros(shape_a), np.zeros(shape_b))  # raises if incompatible
    for shape in (shape_a, shape_b, out.shape):
        assert math.prod(shape) <= fst.MAX_ELEMENTS


def _collect(strategy, n=300):
    seen = []

    @settings(max_examples=n, database=None, derandomize=True)
    @given(strategy)
    def collect(value):
        seen.append(value)

    collect()
    return seen


def test_sides_reach_tile_boundaries_and_the_low_hundreds():
    seen = set(_collect(fst.sides()))
    assert seen & {127, 128, 129, 255, 256, 257}, "tile-boundary sizes are drawn"
    assert any(side >= 100 for side in seen), "every dimension sometimes reaches the low hundreds"
    assert 1 in seen


def test_extremes_and_nonfinite_values_are_drawn():
    values = np.concatenate(
        [
            v.ravel()
            for v in _collect(
                fst.arrays(
                    (6,), dtype="float32", max_magnitude=200.0, extremes=fst.SATURATING_SIGMOID, allow_nonfinite=True
                )
            )
        ]
    )
    assert np.isnan(values).any()
    assert np.isposinf(values).any()
    assert np.isneginf(values).any()
    assert np.isin(np.array(fst.SATURATING_SIGMOID), values).any()


def test_large_arrays_are_not_constant_fills():
    arrays = _collect(fst.arrays((50, 50), dtype="float32"), n=30)
    assert all(len(np.unique(a)) > 10 for a in arrays), "large arrays come from a generator, not one fill value"

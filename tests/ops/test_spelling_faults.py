"""The spelling and matmul-family properties fail on faults injected into a copy of torch's ops.

Each fault is a :class:`fizzcheck.targets.Target` that overrides one name (docs/targets.md); the
property's check function runs against it on fixed inputs and must raise, while torch eager (the
control) passes the same check on the same inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from fizzcheck.dtypes import round_to
from fizzcheck.errors import BoundExceeded
from fizzcheck.surface.catalogue import family
from fizzcheck.targets import Target
from fizzcheck.targets.tensors import layout_of
from properties.test_matmul_family import check_matmul_family
from properties.test_spellings import VARIANTS, check_matmul_spelling, check_sigmoid_spelling

RNG = np.random.default_rng(1130)


def _exact(*shape: int) -> np.ndarray:
    """Values exactly representable in float32, as the properties' strategies draw them."""
    return round_to(RNG.normal(size=shape) * 2, "float32")


def _target(key: str, replacement) -> Target:
    class Faulty(Target):
        name = f"faulty-{key}"

        def overrides(self):
            return {key: replacement}

    return Faulty()


X, G = _exact(3, 4), _exact(3, 4)
A, B, GAB = _exact(3, 5), _exact(5, 4), _exact(3, 4)
SIGMOID: dict[str, Any] = {"x": X, "g": G, "device": "cpu", "dtype": "float32"}
MATMUL: dict[str, Any] = {"a": A, "b": B, "g": GAB, "device": "cpu", "dtype": "float32"}


# --- (i) out= that returns another tensor, or does not resize ---------------------------------


def _sigmoid_returning_a_copy(x, *, out=None):
    """Writes the result into out, but returns a copy of it."""
    if out is None:
        return torch.sigmoid(x)
    torch.sigmoid(x, out=out)
    return out.clone()


def _matmul_without_resize(a, b, *, out=None):
    """Fills an out of the right shape; any other out is left as it is and returned."""
    result = torch.matmul(a, b)
    if out is None:
        return result
    if out.shape == result.shape:
        out.copy_(result)
    return out


def test_out_property_catches_a_returned_copy():
    kw: dict[str, Any] = {**SIGMOID, "variant": "torch.sigmoid(out=)", "out_kind": "fresh"}
    check_sigmoid_spelling(Target(), **kw)
    with pytest.raises(AssertionError, match="returned a different tensor than the out= tensor"):
        check_sigmoid_spelling(_target("torch.sigmoid", _sigmoid_returning_a_copy), **kw)


@pytest.mark.parametrize("out_kind", ["empty", "wrong_size"])
def test_out_property_catches_an_out_that_is_not_resized(out_kind):
    kw: dict[str, Any] = {**MATMUL, "variant": "torch.matmul(out=)", "out_kind": out_kind}
    check_matmul_spelling(Target(), **kw)
    with pytest.raises(BoundExceeded, match=r"out\.shape=.*but should be \(3, 4\)"):
        check_matmul_spelling(_target("torch.matmul", _matmul_without_resize), **kw)


def test_out_property_passes_the_non_resizing_fault_where_no_resize_is_needed():
    """The fault is only in resizing: with an out of the right shape it is correct."""
    check_matmul_spelling(
        _target("torch.matmul", _matmul_without_resize), **MATMUL, variant="torch.matmul(out=)", out_kind="fresh"
    )


# --- (ii) addmm propagating NaN from input with beta=0 ------------------------------------------


def _addmm_without_the_beta_zero_rule(input, mat1, mat2, *, beta=1, alpha=1):
    """β·input + α·(mat1 @ mat2), literally: 0 · NaN is NaN."""
    return beta * input + alpha * torch.mm(mat1, mat2)


def test_beta_zero_property_catches_nan_propagated_from_input():
    bias = _exact(3, 4)
    bias[0, 1], bias[2, 3] = math.nan, math.inf
    kw: dict[str, Any] = {
        "input": bias,
        "a": A,
        "b": B,
        "g": GAB,
        "fn": "addmm",
        "scalars": "beta=0",
        "beta": 0.0,
        "alpha": 1.5,
        "layouts": ["contiguous"] * 3,
        "device": "cpu",
        "dtype": "float32",
    }
    check_matmul_family(Target(), **kw)
    with pytest.raises(AssertionError, match="beta=0 propagated NaN/inf from input"):
        check_matmul_family(_target("torch.addmm", _addmm_without_the_beta_zero_rule), **kw)


# --- (iii) mm wrong for one layout only -----------------------------------------------------------


def _mm_reading_transposed_as_contiguous(a, b):
    """Reads a transposed second operand's storage as if it were row-major (a classic stride bug)."""
    if layout_of(b) == "transposed":
        b = b.as_strided(b.shape, (b.shape[1], 1), b.storage_offset())
    return torch.mm(a, b)


@pytest.mark.parametrize("layout_b", ["contiguous", "strided", "offset", "expanded", "transposed"])
def test_layout_property_catches_a_kernel_wrong_for_transposed_operands_only(layout_b):
    b = np.repeat(B[:1], B.shape[0], axis=0) if layout_b == "expanded" else B
    kw: dict[str, Any] = {
        "input": None,
        "a": A,
        "b": b,
        "g": GAB,
        "fn": "mm",
        "scalars": "default",
        "beta": 1.0,
        "alpha": 1.0,
        "layouts": ["contiguous", layout_b],
        "device": "cpu",
        "dtype": "float32",
    }
    faulty = _target("torch.mm", _mm_reading_transposed_as_contiguous)
    check_matmul_family(Target(), **kw)
    if layout_b != "transposed":  # the fault is invisible in every other layout
        check_matmul_family(faulty, **kw)
        return
    with pytest.raises(BoundExceeded, match=r"torch\.mm\(default.*'transposed'\]\)\]"):
        check_matmul_family(faulty, **kw)


# --- (iv) an in-place sigmoid_ that returns a new tensor -----------------------------------------


def test_inplace_property_catches_a_new_tensor_returned():
    kw: dict[str, Any] = {**SIGMOID, "variant": "torch.sigmoid_", "out_kind": "fresh"}
    check_sigmoid_spelling(Target(), **kw)
    with pytest.raises(AssertionError, match="returned a new tensor instead of the one it was given"):
        check_sigmoid_spelling(_target("torch.sigmoid_", lambda x: torch.sigmoid(x)), **kw)


def test_inplace_property_catches_a_result_that_is_returned_but_not_stored():
    """sigmoid_ that writes nothing but returns its argument: the tensor is not updated."""
    kw: dict[str, Any] = {**SIGMOID, "variant": "torch.sigmoid_", "out_kind": "fresh"}
    with pytest.raises(BoundExceeded, match="the tensor updated in place"):
        check_sigmoid_spelling(_target("torch.sigmoid_", lambda x: x), **kw)


# --- the properties offer exactly the declared spellings ------------------------------------------


def test_every_declared_spelling_cell_has_a_variant_and_no_variant_claims_an_excluded_one():
    declared: dict[str, set[str]] = {}
    for cell in family("spelling").cells():
        if "spelling" in cell:
            declared.setdefault(cell["op"], set()).add(cell["spelling"])
    offered = {op: set(variants.values()) for op, variants in VARIANTS.items()}
    assert offered == declared

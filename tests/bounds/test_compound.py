"""compound(): the rigorous bound on prod(1 + e_i) - 1 stays valid and positive for every s."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fizzcheck.bounds.rounding import compound


@given(st.lists(st.floats(-0.9, 0.9), min_size=1, max_size=40))
def test_compound_bounds_every_product_of_relative_errors(errors):
    s = float(np.sum(np.abs(errors)))
    worst = abs(float(np.prod(1.0 + np.asarray(errors))) - 1.0)
    # the product itself is computed in float64: allow its own rounding (one ulp per factor)
    assert compound(s) >= worst - len(errors) * np.finfo(float).eps * (1 + worst)


@pytest.mark.parametrize("s", [0.0, 0.25, 0.49, 0.5, 1.0, 1.5, 10.0])
def test_compound_is_never_negative_and_is_at_least_first_order(s):
    # bfloat16 softmax with |x| in the hundreds reaches s > 1, where s / (1 - s) turned negative
    assert compound(s) >= s
    assert compound(np.array([s]))[0] == compound(s)

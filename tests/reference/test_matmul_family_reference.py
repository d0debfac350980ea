"""The matmul family's references (mm, bmm, mv, dot, addmm, baddbmm, addmv) are checked, not trusted.

Small integers make every product and sum exact in float64, so the references must equal
integer arithmetic (numpy's int64 matmul, einsum) to the last bit; β and α are powers of two
(or small dyadic numbers), which keeps the scaled sums exact too. The VJPs are checked through
the identity that defines them: for a function bilinear in (A, B) and linear in input,
⟨g, d out⟩ = ⟨vjp(g), d inputs⟩ for every direction, exactly on integers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fizzcheck.errors import InvalidArgument
from fizzcheck.reference import ops as ref

RNG = np.random.default_rng(20261130)


def _ints(*shape: int) -> np.ndarray:
    return RNG.integers(-9, 10, size=shape).astype(np.float64)


def _int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a.astype(np.int64), b.astype(np.int64)).astype(np.float64)


# --- the products ------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "k", "n"), [(1, 1, 1), (3, 5, 2), (7, 16, 4), (2, 33, 3)])
def test_mm_is_exact_on_integers(m, k, n):
    a, b = _ints(m, k), _ints(k, n)
    np.testing.assert_array_equal(ref.mm(a, b), _int_matmul(a, b))


def test_bmm_is_exact_on_integers_batch_by_batch():
    a, b = _ints(4, 3, 6), _ints(4, 6, 2)
    out = ref.bmm(a, b)
    assert out.shape == (4, 3, 2)
    for i in range(4):
        np.testing.assert_array_equal(out[i], _int_matmul(a[i], b[i]))


def test_mv_and_dot_are_exact_on_integers():
    a, v, w = _ints(5, 7), _ints(7), _ints(7)
    np.testing.assert_array_equal(ref.mv(a, v), [math.fsum(a[i] * v) for i in range(5)])
    out = ref.dot(v, w)
    assert out.shape == ()
    assert float(out) == math.fsum(v * w)


def test_products_agree_with_numpy_on_floats_within_gamma_k():
    """Rounded floats: the reference's recursive sum and numpy's may differ, each by at most γ_k Σ|ab|."""
    a, b = RNG.normal(size=(6, 40)), RNG.normal(size=(40, 3))
    u = 2.0**-53
    gamma = 40 * u / (1 - 40 * u)
    bound = 2 * gamma * (np.abs(a) @ np.abs(b))  # the reference's error plus numpy's
    assert np.all(np.abs(ref.mm(a, b) - a @ b) <= bound)


@pytest.mark.parametrize(
    ("fn", "a", "b", "message"),
    [
        ("mm", (2, 3, 4), (4, 5), "2-D and 2-D"),
        ("mm", (3,), (3, 2), "2-D and 2-D"),
        ("bmm", (2, 3, 4), (3, 4, 5), "batch sizes differ"),
        ("bmm", (3, 4), (4, 5), "3-D and 3-D"),
        ("mv", (3, 4), (4, 1), "2-D and 1-D"),
        ("dot", (3,), (4,), "same length"),
        ("dot", (3, 1), (3, 1), "1-D and 1-D"),
    ],
)
def test_products_refuse_the_shapes_torch_refuses(fn, a, b, message):
    with pytest.raises(InvalidArgument, match=message):
        getattr(ref, fn)(np.zeros(a), np.zeros(b))


def test_inner_dimension_mismatch_is_an_error():
    with pytest.raises(InvalidArgument, match="inner dimensions"):
        ref.mm(np.zeros((2, 3)), np.zeros((4, 5)))


# --- the scaled sums -----------------------------------------------------------------------


@pytest.mark.parametrize("input_shape", [(3, 5), (5,), (1, 5), (3, 1), ()])
@pytest.mark.parametrize(("beta", "alpha"), [(1.0, 1.0), (0.5, -2.0), (-1.25, 0.75)])
def test_addmm_is_beta_input_plus_alpha_product_exactly_on_integers(input_shape, beta, alpha):
    c, a, b = _ints(*input_shape), _ints(3, 4), _ints(4, 5)
    expected = beta * np.broadcast_to(c, (3, 5)) + alpha * _int_matmul(a, b)  # exact: dyadic scalars
    np.testing.assert_array_equal(ref.addmm(c, a, b, beta=beta, alpha=alpha), expected)


def test_defaults_are_beta_one_alpha_one():
    c, a, b = _ints(3, 5), _ints(3, 4), _ints(4, 5)
    np.testing.assert_array_equal(ref.addmm(c, a, b), c + _int_matmul(a, b))
    c3, a3, b3 = _ints(2, 3, 5), _ints(2, 3, 4), _ints(2, 4, 5)
    np.testing.assert_array_equal(ref.baddbmm(c3, a3, b3), c3 + np.einsum("bij,bjk->bik", a3, b3))
    cv, v = _ints(3), _ints(4)
    np.testing.assert_array_equal(ref.addmv(cv, a, v), cv + a @ v)


@pytest.mark.parametrize("input_shape", [(2, 3, 5), (3, 5), (1, 3, 5), (2, 1, 5), (5,)])
def test_baddbmm_broadcasts_input_over_the_batch(input_shape):
    c, a, b = _ints(*input_shape), _ints(2, 3, 4), _ints(2, 4, 5)
    expected = 0.25 * np.broadcast_to(c, (2, 3, 5)) + 3.0 * np.einsum("bij,bjk->bik", a, b)
    np.testing.assert_array_equal(ref.baddbmm(c, a, b, beta=0.25, alpha=3.0), expected)


@pytest.mark.parametrize("input_shape", [(3,), (1,), ()])
def test_addmv_broadcasts_input(input_shape):
    c, a, v = _ints(*input_shape), _ints(3, 4), _ints(4)
    np.testing.assert_array_equal(ref.addmv(c, a, v, beta=-0.5, alpha=2.0), -0.5 * c + 2.0 * (a @ v))


@pytest.mark.parametrize(
    ("fn", "shapes"),
    [
        ("addmm", ((3, 5), (3, 4), (4, 5))),
        ("baddbmm", ((2, 3, 5), (2, 3, 4), (2, 4, 5))),
        ("addmv", ((3,), (3, 4), (4,))),
    ],
)
def test_beta_zero_ignores_nan_and_inf_in_input(fn, shapes):
    """torch's docs: with beta=0 input is ignored, nan and inf in it are not propagated."""
    c = np.full(shapes[0], np.nan)
    c.flat[0] = np.inf
    c.flat[-1] = -np.inf
    a, b = _ints(*shapes[1]), _ints(*shapes[2])
    out = getattr(ref, fn)(c, a, b, beta=0.0, alpha=1.5)
    np.testing.assert_array_equal(out, 1.5 * getattr(ref, {"addmm": "mm", "baddbmm": "bmm", "addmv": "mv"}[fn])(a, b))


def test_beta_zero_still_checks_that_input_broadcasts():
    with pytest.raises(InvalidArgument, match="does not broadcast"):
        ref.addmm(np.zeros((2, 5)), np.zeros((3, 4)), np.zeros((4, 5)), beta=0.0)


def test_alpha_zero_is_beta_times_input():
    c, a, b = _ints(3, 5), _ints(3, 4), _ints(4, 5)
    np.testing.assert_array_equal(ref.addmm(c, a, b, beta=0.75, alpha=0.0), 0.75 * c)


# --- VJPs through their defining identity ------------------------------------------------------

_SCALED = [
    ("addmm", (5,), (3, 4), (4, 5)),
    ("addmm", (3, 5), (3, 4), (4, 5)),
    ("addmm", (3, 1), (3, 4), (4, 5)),
    ("baddbmm", (3, 5), (2, 3, 4), (2, 4, 5)),
    ("baddbmm", (2, 3, 5), (2, 3, 4), (2, 4, 5)),
    ("addmv", (), (3, 4), (4,)),
    ("addmv", (3,), (3, 4), (4,)),
]


@pytest.mark.parametrize(("fn", "c_shape", "a_shape", "b_shape"), _SCALED)
@pytest.mark.parametrize(("beta", "alpha"), [(1.0, 1.0), (0.5, -2.0), (0.0, 3.0), (2.0, 0.0)])
def test_scaled_sum_vjps_satisfy_the_adjoint_identity(fn, c_shape, a_shape, b_shape, beta, alpha):
    """out is linear in input and in each of A, B: ⟨g, out(x + d) − out(x)⟩ = ⟨vjp_x(g), d⟩,
    exact on integers with dyadic scalars (out(x + d) − out(x) is then computed exactly)."""
    forward, vjp = getattr(ref, fn), getattr(ref, f"{fn}_vjp")
    c, a, b = _ints(*c_shape), _ints(*a_shape), _ints(*b_shape)
    g = _ints(*forward(c, a, b).shape)
    grads = vjp(c, a, b, g, beta=beta, alpha=alpha)
    base = forward(c, a, b, beta=beta, alpha=alpha)
    for position, grad in enumerate(grads):
        args = [c, a, b]
        d = _ints(*args[position].shape)
        args[position] = args[position] + d
        change = forward(*args, beta=beta, alpha=alpha) - base
        assert grad.shape == d.shape
        assert math.fsum((g * change).ravel()) == math.fsum((grad * d).ravel()), (fn, position)


@pytest.mark.parametrize(
    ("fn", "a_shape", "b_shape"),
    [("mm", (3, 4), (4, 5)), ("bmm", (2, 3, 4), (2, 4, 5)), ("mv", (3, 4), (4,)), ("dot", (4,), (4,))],
)
def test_product_vjps_satisfy_the_adjoint_identity(fn, a_shape, b_shape):
    forward, vjp = getattr(ref, fn), getattr(ref, f"{fn}_vjp")
    a, b = _ints(*a_shape), _ints(*b_shape)
    g = _ints(*forward(a, b).shape)
    da, db = _ints(*a_shape), _ints(*b_shape)
    ga, gb = vjp(a, b, g)
    assert math.fsum((g * (forward(a + da, b) - forward(a, b))).ravel()) == math.fsum((ga * da).ravel())
    assert math.fsum((g * (forward(a, b + db) - forward(a, b))).ravel()) == math.fsum((gb * db).ravel())

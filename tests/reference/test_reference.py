"""The oracle is checked, not trusted: references against exact sums and finite differences."""

from __future__ import annotations

import ast
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fizzcheck.errors import InvalidArgument
from fizzcheck.reference import ops as ref

REFERENCE_DIR = Path(ref.__file__).parent


def test_reference_never_imports_torch():
    """A fault in torch must not be able to hide in the oracle."""
    for path in REFERENCE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] != "torch", f"{path.name} imports {name}"


# --- matmul against exact sums --------------------------------------------------------


@pytest.mark.parametrize(("m", "k", "n"), [(1, 1, 1), (3, 5, 2), (7, 16, 4), (2, 33, 3)])
def test_matmul_matches_exact_sums(m, k, n):
    """Against the exactly rounded result (rational arithmetic): error <= γ_k Σ|a b|."""
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    out = ref.matmul(a, b)
    u = 2.0**-53
    gamma_k = k * u / (1 - k * u)
    for i in range(m):
        for j in range(n):
            exact = sum((Fraction(a[i, l]) * Fraction(b[l, j]) for l in range(k)), Fraction(0))  # noqa: E741
            bound = gamma_k * sum(abs(a[i, l] * b[l, j]) for l in range(k))  # noqa: E741
            assert abs(Fraction(out[i, j]) - exact) <= Fraction(bound)


def test_matmul_is_exact_on_integers():
    rng = np.random.default_rng(1)
    a = rng.integers(-50, 50, size=(6, 9)).astype(float)
    b = rng.integers(-50, 50, size=(9, 5)).astype(float)
    expected = np.array([[math.fsum(a[i, l] * b[l, j] for l in range(9)) for j in range(5)] for i in range(6)])  # noqa: E741
    np.testing.assert_array_equal(ref.matmul(a, b), expected)


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 0), (0, 2))],
)
def test_matmul_agrees_with_numpy_semantics(shape_a, shape_b):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    np.testing.assert_allclose(ref.matmul(a, b), np.matmul(a, b), rtol=1e-13, atol=1e-13)


def test_matmul_does_not_delegate_to_blas():
    source = Path(ref.__file__).read_text()
    body = source[source.index("def _matmul_2d_batched") : source.index("def matmul(")]
    for forbidden in ("np.matmul", "np.dot", "einsum", " @ ", ".dot("):
        assert forbidden not in body


def test_matmul_rejects_mismatched_inner_dimensions():
    with pytest.raises(InvalidArgument, match="inner dimensions"):
        ref.matmul(np.zeros((2, 3)), np.zeros((4, 2)))


# --- forward values -------------------------------------------------------------------


def test_sigmoid_is_stable_in_both_tails():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0, np.inf, -np.inf, np.nan])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # the evaluation never overflows
        y = ref.sigmoid(x[:-1])
    assert y[0] == 0.0
    assert y[1] == pytest.approx(math.exp(-40.0), rel=1e-15)
    assert y[2] == 0.5
    assert y[3] == 1.0
    assert y[4] == 1.0
    assert y[5] == 1.0
    assert y[6] == 0.0
    assert np.isnan(ref.sigmoid(x)[-1])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_rows_sum_to_one_exactly_enough(dim):
    rng = np.random.default_rng(3)
    x = rng.normal(scale=50, size=(5, 7))
    s = ref.softmax(x, dim)
    sums = np.apply_along_axis(math.fsum, dim, s)
    n = x.shape[dim]
    assert np.all(np.abs(sums - 1.0) <= (n + 4) * 2.0**-52)


def test_softmax_survives_huge_logits():
    x = np.array([1.0e4, 0.0, -1.0e4])
    np.testing.assert_array_equal(ref.softmax(x), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(ref.log_softmax(x), [0.0, -1.0e4, -2.0e4])


def test_log_softmax_is_log_of_softmax():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 6))
    np.testing.assert_allclose(ref.log_softmax(x, 0), np.log(ref.softmax(x, 0)), rtol=1e-14)


@pytest.mark.parametrize("reduction", ref.REDUCTIONS)
def test_cross_entropy_by_hand(reduction):
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = np.array([2, 0])
    per = np.array([math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3.0, math.log(3.0)])
    expected = {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]
    np.testing.assert_allclose(ref.cross_entropy(logits, target, reduction), expected, rtol=1e-15)


@pytest.mark.parametrize("reduction", ref.REDUCTIONS)
def test_mse_by_hand(reduction):
    x, t = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 1.0])
    expected = {"none": [1.0, 0.0, 9.0], "sum": 10.0, "mean": 10.0 / 3}[reduction]
    np.testing.assert_allclose(ref.mse(x, t, reduction), expected, rtol=1e-15)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ref.mse(np.zeros(2), np.zeros(2), "avg"), "reduction='avg'"),
        (lambda: ref.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), "class indices"),
        (lambda: ref.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), "integer class indices"),
        (lambda: ref.cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int)), "logits must be"),
        (lambda: ref.matmul(np.float64(1.0), np.zeros(2)), "at least one dimension"),
    ],
)
def test_invalid_reference_calls_raise_one_error_type(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


# --- every VJP against central finite differences --------------------------------------


def _numerical_vjp(f, inputs, index, g, h=1e-6):
    """⟨g, ∂f/∂inputs[index]⟩ by central differences, one coordinate at a time."""
    x = np.array(inputs[index], dtype=np.float64)
    grad = np.zeros_like(x)
    for pos in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[pos]))
        plus, minus = x.copy(), x.copy()
        plus[pos] += step
        minus[pos] -= step
        args_p = list(inputs)
        args_m = list(inputs)
        args_p[index], args_m[index] = plus, minus
        grad[pos] = np.sum(g * (f(*args_p) - f(*args_m))) / (2 * step)
    return grad


def _check_vjp(f, vjp, inputs, differentiable, rng, **kw):
    out = f(*inputs, **kw)
    g = rng.normal(size=np.shape(out))
    analytic = vjp(*inputs, g, **kw)
    for index in differentiable:
        numeric = _numerical_vjp(lambda *a: f(*a, **kw), inputs, index, g)
        # central differences have truncation error O(h²)·|f'''| and cancellation error
        # O(u/h)·|f|; with h = 1e-6 both are ≈1e-9 relative for these well-scaled inputs.
        np.testing.assert_allclose(analytic[index], numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4, 2)), ((2, 1, 2, 3), (3, 3, 2))],
)
def test_matmul_vjp_matches_finite_differences(shape_a, shape_b):
    rng = np.random.default_rng(5)
    _check_vjp(ref.matmul, ref.matmul_vjp, (rng.normal(size=shape_a), rng.normal(size=shape_b)), (0, 1), rng)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_vjp_matches_finite_differences(bias):
    rng = np.random.default_rng(6)
    x, w = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4))
    b = rng.normal(size=5) if bias else None
    out = ref.linear(x, w, b)
    g = rng.normal(size=out.shape)
    gx, gw, gb = ref.linear_vjp(x, w, b, g)
    np.testing.assert_allclose(gx, _numerical_vjp(lambda x_: ref.linear(x_, w, b), [x], 0, g), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gw, _numerical_vjp(lambda w_: ref.linear(x, w_, b), [w], 0, g), rtol=1e-6, atol=1e-7)
    if bias:
        np.testing.assert_allclose(gb, _numerical_vjp(lambda b_: ref.linear(x, w, b_), [b], 0, g), rtol=1e-6, atol=1e-7)
    else:
        assert gb is None


def test_sigmoid_vjp_matches_finite_differences():
    rng = np.random.default_rng(7)
    _check_vjp(ref.sigmoid, ref.sigmoid_vjp, (rng.normal(scale=4, size=(3, 5)),), (0,), rng)


def test_sigmoid_vjp_keeps_relative_accuracy_in_saturation():
    (grad,) = ref.sigmoid_vjp(np.array([40.0, -40.0]), np.ones(2))
    np.testing.assert_allclose(grad, [math.exp(-40.0)] * 2, rtol=1e-14)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_vjps_match_finite_differences(op, dim):
    rng = np.random.default_rng(8)
    f, vjp = getattr(ref, op), getattr(ref, f"{op}_vjp")
    _check_vjp(f, vjp, (rng.normal(scale=2, size=(3, 4)),), (0,), rng, dim=dim)


@pytest.mark.parametrize("reduction", ref.REDUCTIONS)
def test_cross_entropy_vjp_matches_finite_differences(reduction):
    rng = np.random.default_rng(9)
    logits, target = rng.normal(size=(4, 5)), np.array([0, 4, 2, 2])
    out = ref.cross_entropy(logits, target, reduction)
    g = rng.normal(size=np.shape(out))
    (analytic,) = ref.cross_entropy_vjp(logits, target, g, reduction)
    numeric = _numerical_vjp(lambda z: ref.cross_entropy(z, target, reduction), [logits], 0, g)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", ref.REDUCTIONS)
@pytest.mark.parametrize(("shape_x", "shape_t"), [((3, 4), (3, 4)), ((3, 1), (4,))])
def test_mse_vjp_matches_finite_differences(reduction, shape_x, shape_t):
    rng = np.random.default_rng(10)
    x, t = rng.normal(size=shape_x), rng.normal(size=shape_t)
    out = ref.mse(x, t, reduction)
    g = rng.normal(size=np.shape(out))
    gx, gt = ref.mse_vjp(x, t, g, reduction)
    np.testing.assert_allclose(gx, _numerical_vjp(lambda a: ref.mse(a, t, reduction), [x], 0, g), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gt, _numerical_vjp(lambda b: ref.mse(x, b, reduction), [t], 0, g), rtol=1e-6, atol=1e-7)

"""The transform references against central finite differences of the first-order references."""

from __future__ import annotations

import numpy as np
import pytest

from fizzcheck.reference import ops
from fizzcheck.reference import transforms as rt

RNG = np.random.default_rng(7)
H = 1e-6


def _fd(grad, x, v):
    """Central difference of a gradient along v: (∇L(x + hv) − ∇L(x − hv)) / 2h."""
    return (grad(x + H * v) - grad(x - H * v)) / (2 * H)


@pytest.mark.parametrize("op", rt.HVP_OPS)
@pytest.mark.parametrize("shape", [(5,), (3, 4)])
def test_hvp_matches_finite_differences_of_the_vjp(op, shape):
    x, v = RNG.normal(size=shape) * 2, RNG.normal(size=shape)
    kw = {}
    if op in ("mse", "cross_entropy"):
        g = 1.7
        reduction = "sum" if shape == (5,) else "mean"
        kw["reduction"] = reduction
    else:
        g = RNG.normal(size=shape)
    if op == "sigmoid":
        grad = lambda z: ops.sigmoid_vjp(z, g)[0]  # noqa: E731
    elif op == "softmax":
        grad = lambda z: ops.softmax_vjp(z, g)[0]  # noqa: E731
    elif op == "log_softmax":
        grad = lambda z: ops.log_softmax_vjp(z, g)[0]  # noqa: E731
    elif op == "mse":
        y = RNG.normal(size=shape)
        grad = lambda z: ops.mse_vjp(z, y, g, reduction)[0]  # noqa: E731
    else:
        target = RNG.integers(0, shape[-1], size=shape[:-1])
        kw["target"] = target
        grad = lambda z: ops.cross_entropy_vjp(z, target, g, reduction)[0]  # noqa: E731
    got = rt.hvp(op, x, g, v, **kw)
    np.testing.assert_allclose(got, _fd(grad, x, v), rtol=1e-6, atol=1e-8)


def test_a_sign_error_in_the_second_derivative_is_visible_to_the_finite_differences():
    x, g, v = RNG.normal(size=6) * 2, RNG.normal(size=6), RNG.normal(size=6)
    wrong = v * g * ops.sigmoid(x) * ops.sigmoid(-x) * (1 + 2 * ops.sigmoid(x))  # σ'' with (1 + 2σ)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(wrong, _fd(lambda z: ops.sigmoid_vjp(z, g)[0], x, v), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_sample_grad_matches_finite_differences(reduction, smoothing, weighted):
    logits = RNG.normal(size=5) * 3
    weight = RNG.uniform(0.2, 2.0, size=5) if weighted else None
    options = {"weight": weight, "label_smoothing": smoothing, "reduction": reduction}
    grad = rt.cross_entropy_sample_grad(logits, 2, **options)
    fd = np.array(
        [
            (
                rt.cross_entropy_sample(logits + H * e, 2, **options)
                - rt.cross_entropy_sample(logits - H * e, 2, **options)
            )
            / (2 * H)
            for e in np.eye(5)
        ]
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_cross_entropy_sample_without_options_is_the_plain_reference():
    logits = RNG.normal(size=4)
    assert rt.cross_entropy_sample(logits, 1) == pytest.approx(float(ops.cross_entropy(logits[None], np.array([1]))))
    np.testing.assert_allclose(
        rt.cross_entropy_sample_grad(logits, 1), ops.cross_entropy_vjp(logits[None], np.array([1]), 1.0)[0][0]
    )
    assert rt.cross_entropy_sample(logits, 1, ignore_index=1, reduction="sum") == 0.0


def test_unknown_op_is_rejected():
    with pytest.raises(ValueError, match="op='tanh'"):
        rt.hvp("tanh", np.zeros(2), 1.0, np.zeros(2))

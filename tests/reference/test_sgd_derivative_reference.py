"""The reference derivative of an SGD step (``sgd_update_derivatives``) against finite differences
of the reference step itself (``sgd_update``), for every option and with or without a buffer.

The step is affine in θ, g and b, so a central difference has no truncation error: on inputs and a
step h that are exact dyadic numbers (θ ± h is exact), the only error is float64 rounding in the two
evaluations. One evaluation of θ' (or b') is a chain of at most k = 12 roundings (1 − τ; λθ and
its sum with ±g; μb, (1 − τ)d and their sum; μb' and its sum with d; γn and θ − γn; one spare),
so each is off by at most γ_k M (Higham §3.1), with M the same computation on absolute values (every
partial sum bounded by the sum of the magnitudes of its terms). The difference quotient is then off
by at most 2 γ_k M / (2h) = γ_k M / h.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from fizzcheck.bounds.rounding import gamma
from fizzcheck.reference.optim import sgd_update, sgd_update_derivatives

ROUNDINGS = 12
H = 2.0**-2
U64 = 2.0**-53

OPTIONS = [
    {"momentum": momentum, "dampening": dampening, "nesterov": nesterov, "weight_decay": wd, "maximize": maximize}
    for momentum, dampening, nesterov, wd, maximize in itertools.product(
        (0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.125), (False, True)
    )
    if not (nesterov and momentum == 0) and not (dampening and momentum == 0)
]

CASES = [
    pytest.param(options, has_buffer, id=",".join(f"{k}={v}" for k, v in options.items()) + f",has_buffer={has_buffer}")
    for options in OPTIONS
    for has_buffer in (False, True)
    if options["momentum"] != 0 or not has_buffer  # without momentum SGD keeps no buffer
]


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """θ, g, b on the grid 2⁻⁴ℤ ∩ [−4, 4]: θ ± H stays exact."""
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(-64, 65, 5).astype(np.float64) / 16.0 for _ in range(3))  # type: ignore[return-value]


def _magnitude(theta, grad, buffer, hyper) -> tuple[np.ndarray, np.ndarray | None]:
    """(θ', b') evaluated on |inputs| + H with every subtraction turned into an addition."""
    absolute = {
        **hyper,
        "lr": -abs(hyper["lr"]),  # θ − (−|γ|) n adds
        "dampening": 1.0 - abs(1.0 - hyper["dampening"]),
        "maximize": False,
    }
    up = sgd_update(np.abs(theta) + H, np.abs(grad) + H, None if buffer is None else np.abs(buffer) + H, absolute)
    return up.new_param, up.buffer


def _difference(f, x: np.ndarray, j: int) -> np.ndarray:
    step = np.zeros_like(x)
    step[j] = H
    return (f(x + step) - f(x - step)) / (2.0 * H)


@pytest.mark.parametrize(("options", "has_buffer"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_derivative_matches_finite_differences(options, has_buffer, seed):
    hyper = {"lr": 0.3, **options}
    theta, grad, buffer = _inputs(seed)
    b = buffer if has_buffer else None
    jac = sgd_update_derivatives(hyper, has_buffer=has_buffer)
    m_param, m_buffer = _magnitude(theta, grad, b, hyper)
    tol_param = gamma(ROUNDINGS, U64) * m_param / H
    tol_buffer = None if m_buffer is None else gamma(ROUNDINGS, U64) * m_buffer / H

    def param(th, g, bb):
        return sgd_update(th, g, bb, hyper).new_param

    def buf(th, g, bb):
        return sgd_update(th, g, bb, hyper).buffer

    cases: list[tuple[str, Any, np.ndarray, float | None, float | None]] = [
        ("θ", lambda x: (x, grad, b), theta, jac.param_param, jac.buffer_param),
        ("g", lambda x: (theta, x, b), grad, jac.param_grad, jac.buffer_grad),
    ]
    if has_buffer:
        cases.append(("b", lambda x: (theta, grad, x), buffer, jac.param_buffer, jac.buffer_buffer))
    for name, args, x, d_param, d_buffer in cases:
        for j in range(x.size):
            fd = _difference(lambda v, args=args: param(*args(v)), x, j)
            expected = np.zeros_like(x)
            expected[j] = d_param
            assert np.all(np.abs(fd - expected) <= tol_param), (name, j, fd, expected)
            # off the diagonal the two evaluations are the same arithmetic: exactly zero
            assert np.all(np.delete(fd, j) == 0.0), (name, j, fd)
            if options["momentum"] != 0:
                fd_b = _difference(lambda v, args=args: buf(*args(v)), x, j)
                expected_b = np.zeros_like(x)
                expected_b[j] = d_buffer
                assert tol_buffer is not None
                assert np.all(np.abs(fd_b - expected_b) <= tol_buffer), (name, j, fd_b, expected_b)
            else:
                assert d_buffer is None


@pytest.mark.parametrize(("options", "has_buffer"), CASES)
def test_magnitudes_bound_the_derivatives(options, has_buffer):
    """Each magnitude (Σ |path product|) is at least |the derivative| (triangle inequality)."""
    jac = sgd_update_derivatives({"lr": 0.3, **options}, has_buffer=has_buffer)
    for name, value in vars(jac).items():
        if name == "magnitude" or value is None:
            continue
        assert jac.magnitude[name] >= abs(value), (name, value, jac.magnitude[name])


def test_a_buffer_without_momentum_is_refused():
    hyper = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False}
    with pytest.raises(ValueError, match="needs a momentum"):
        sgd_update_derivatives(hyper, has_buffer=True)

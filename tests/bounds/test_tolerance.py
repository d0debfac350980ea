"""The error bounds in both directions: tight enough to catch faults, never failing correct torch.

Faults are injected into a *copy* of the computation (rounded inputs, a float32 detour,
perturbed outputs), never into torch globally.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import fizzcheck.bounds.ops as op_bounds
import fizzcheck.strategies as fst
from fizzcheck.bounds.graphs import reverse_bounds
from fizzcheck.bounds.rounding import LAMBDA, UNDERFLOW_FLOOR_NORMALS, accumulation_factor, gamma, sides
from fizzcheck.check import assert_close, compare, observe
from fizzcheck.dtypes import dtype_info, round_to
from fizzcheck.errors import BoundExceeded
from fizzcheck.reference import ops as ref
from fizzcheck.targets.tensors import to_numpy

U32 = dtype_info("float32").unit_roundoff
U64 = dtype_info("float64").unit_roundoff
REDUCTION_SIZES = (1, 2, 3, 16, 64, 100, 128, 257, 300, 512, 1024)
DISTRIBUTIONS = {
    "normal": lambda rng, shape: rng.normal(size=shape),
    "uniform": lambda rng, shape: rng.uniform(-1.0, 1.0, shape),
    "positive": lambda rng, shape: rng.uniform(0.0, 1.0, shape),
}


def tf32_round(values: np.ndarray) -> np.ndarray:
    """Round float32 values to TF32's 10 stored mantissa bits (nearest-even), as float64."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0xFFF + ((bits >> 13) & 1)) >> 13 << 13).astype(np.uint32)
    return rounded.view(np.float32).astype(np.float64)


def _operands(dist: str, k: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + k)
    draw = DISTRIBUTIONS[dist]
    return round_to(draw(rng, (8, k)), dtype), round_to(draw(rng, (k, 8)), dtype)


def _matmul_ratio(out, a, b, dtype):
    return compare(out, ref.matmul(a, b), bound=op_bounds.matmul_bound(a, b, dtype=dtype), op="matmul").ratio


# --- accumulation factors -------------------------------------------------------------


def test_gamma_is_the_textbook_constant():
    assert gamma(3, 2.0**-24) == pytest.approx(3 * 2.0**-24 / (1 - 3 * 2.0**-24), rel=1e-15)
    assert gamma(0, 2.0**-24) == 0.0
    assert math.isinf(gamma(2**11, 2.0**-11))


def test_probabilistic_factor_only_helps_past_lambda_squared():
    u = 2.0**-24
    for k in (1, 10, 50, 99):  # below lam² = 100 the deterministic γ_k is the smaller
        assert accumulation_factor(k, u) == gamma(k, u)
    for k in (200, 1000, 10_000):
        assert accumulation_factor(k, u) < gamma(k, u)
        assert accumulation_factor(k, u) == pytest.approx(LAMBDA * math.sqrt(k) * u, rel=1e-3)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_the_two_sides_are_the_dtype_and_float64(dtype):
    target, reference = sides(dtype)
    assert (target.u, reference.u) == (dtype_info(dtype).unit_roundoff, U64)
    assert target.acc(1000) == accumulation_factor(1000, target.u)  # probabilistic for the target
    assert reference.acc(1000) == gamma(1000, U64)  # worst case for our own summation
    assert target.floor == UNDERFLOW_FLOOR_NORMALS * dtype_info(dtype).smallest_normal
    assert target.sigmoid_relative > 2 * target.transcendental


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("graph", "op_bound"),
    [
        ((("input", (3, 5)), ("sigmoid", 0)), lambda x, dtype: op_bounds.sigmoid_bound(x[0], dtype=dtype)),
        (
            (("input", (3, 5)), ("input", (5, 4)), ("matmul", 0, 1)),
            lambda x, dtype: op_bounds.matmul_bound(x[0], x[1], dtype=dtype),
        ),
    ],
    ids=["sigmoid", "matmul"],
)
def test_graph_and_op_bounds_share_one_rounding_model(graph, op_bound, dtype):
    """On exact inputs, a one-op graph is bounded exactly as the op on its own."""
    rng = np.random.default_rng(3)
    inputs = [round_to(rng.normal(size=step[1]), dtype) for step in graph if step[0] == "input"]
    value_bound, _ = reverse_bounds(graph, inputs, np.ones((3, 4) if len(inputs) == 2 else (3, 5)), dtype=dtype)
    np.testing.assert_allclose(value_bound, op_bound(inputs, dtype), rtol=1e-14, atol=0)


# --- correct torch never fails --------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_correct_torch_matmul_passes_at_every_size(dist, dtype):
    for k in REDUCTION_SIZES:
        a, b = _operands(dist, k, dtype)
        out = torch.matmul(torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(b, dtype=getattr(torch, dtype)))
        assert _matmul_ratio(out, a, b, dtype) <= 1.0, f"k={k}"


# --- faults must fail -----------------------------------------------------------------


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_tf32_rounded_inputs_fail_float32_matmul(dist):
    """A float32 matmul whose inputs were rounded to 10 mantissa bits (TF32) is caught.

    Detection needs the TF32 error (≈ 2^-11 √k) to beat the bound (≈ λ √k 2^-24 for
    k > 100): it holds for every reduction length up to ~2000, past what the strategies
    draw (MAX_SIDE = 300).
    """
    for k in REDUCTION_SIZES:
        a, b = _operands(dist, k, "float32")
        faulty = torch.tensor(tf32_round(a), dtype=torch.float32) @ torch.tensor(tf32_round(b), dtype=torch.float32)
        assert _matmul_ratio(faulty, a, b, "float32") > 1.0, f"TF32 not detected at k={k}"


def test_float64_matmul_done_in_float32_fails():
    for k in REDUCTION_SIZES:
        a, b = _operands("normal", k, "float64")
        detour = (torch.tensor(a).float() @ torch.tensor(b).float()).double()
        assert detour.dtype == torch.float64
        assert _matmul_ratio(detour, a, b, "float64") > 1.0, f"float32 detour not detected at k={k}"


def _perturb_ulps(values: torch.Tensor, ulps: float, dtype: str) -> torch.Tensor:
    """values × (1 + ulps · 2u) in float64: `ulps` units in the last place of `dtype`, relative."""
    return values.double() * (1.0 + 2.0 * dtype_info(dtype).unit_roundoff * ulps)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elementwise_off_by_tens_of_ulps_fails(dtype):
    rng = np.random.default_rng(11)
    x = round_to(rng.normal(scale=4.0, size=1000), dtype)
    t = torch.tensor(x, dtype=getattr(torch, dtype))
    bound = op_bounds.sigmoid_bound(x, dtype=dtype)
    expected = ref.sigmoid(x)
    correct = compare(torch.sigmoid(t), expected, bound=bound, op="sigmoid")
    one_ulp = compare(_perturb_ulps(torch.sigmoid(t), 1.0, dtype), expected, bound=bound, op="sigmoid")
    twenty_ulps = compare(_perturb_ulps(torch.sigmoid(t), 20.0, dtype), expected, bound=bound, op="sigmoid")
    assert correct.ok
    assert one_ulp.ok, "one ulp is within any correctly rounded implementation's reach"
    assert not twenty_ulps.ok, f"20 ulps must fail, got ratio {twenty_ulps.ratio}"


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_off_by_tens_of_ulps_fails(op):
    rng = np.random.default_rng(12)
    x = round_to(rng.normal(size=(50, 10)), "float32")
    t = torch.tensor(x, dtype=torch.float32)
    out = getattr(torch, op)(t, -1).double()
    bound = getattr(op_bounds, f"{op}_bound")(x, -1, dtype="float32")
    expected = getattr(ref, op)(x, -1)
    assert compare(out, expected, bound=bound, op=op).ok
    # softmax is bounded relatively; log_softmax absolutely, so shift it by 32 ulps at |out| ~ 2
    faulty = _perturb_ulps(out, 32.0, "float32") if op == "softmax" else out + 32 * 2 * U32 * 2.0
    assert not compare(faulty, expected, bound=bound, op=op).ok


def test_sigmoid_backward_with_wrong_derivative_fails():
    rng = np.random.default_rng(13)
    x = round_to(rng.normal(size=200), "float32")
    g = round_to(rng.normal(size=200), "float32")
    t = torch.tensor(x, requires_grad=True, dtype=torch.float32)
    (good,) = torch.autograd.grad(torch.sigmoid(t), t, torch.tensor(g, dtype=torch.float32))
    (bound,) = op_bounds.sigmoid_vjp_bound(x, g, dtype="float32")
    (expected,) = ref.sigmoid_vjp(x, g)
    assert compare(good, expected, bound=bound, op="sigmoid grad").ok
    y = torch.sigmoid(torch.tensor(x, dtype=torch.float32))
    wrong = torch.tensor(g, dtype=torch.float32) * y  # forgot the (1 - y) factor
    assert not compare(wrong, expected, bound=bound, op="sigmoid grad").ok


@pytest.mark.parametrize("reduction", ref.REDUCTIONS)
def test_loss_with_wrong_reduction_fails(reduction):
    rng = np.random.default_rng(14)
    x, target = round_to(rng.normal(size=(6, 5)), "float32"), round_to(rng.normal(size=(6, 5)), "float32")
    wrong = {"none": "sum", "mean": "sum", "sum": "mean"}[reduction]
    out = F.mse_loss(torch.tensor(x, dtype=torch.float32), torch.tensor(target, dtype=torch.float32), reduction=wrong)
    bound = op_bounds.mse_bound(x, target, reduction, dtype="float32")
    assert not compare(out, ref.mse(x, target, reduction), bound=bound, op="mse").ok


# --- comparison mechanics -------------------------------------------------------------


def test_nonfinite_positions_must_match_exactly():
    expected = np.array([1.0, np.nan, np.inf, -np.inf])
    bound = np.full(4, 1e9)  # a huge bound must not hide a NaN/Inf mismatch
    assert compare(expected.copy(), expected, bound=bound, op="id").ok
    for wrong in ([1.0, 0.0, np.inf, -np.inf], [1.0, np.nan, -np.inf, -np.inf], [np.nan, np.nan, np.inf, -np.inf]):
        assert not compare(np.array(wrong), expected, bound=bound, op="id").ok


def test_ratio_is_error_over_bound_at_the_worst_element():
    result = compare(np.array([1.0, 2.5, 3.0]), np.array([1.0, 2.0, 3.0]), bound=np.array([1.0, 1.0, 0.1]), op="id")
    assert result.ratio == pytest.approx(0.5)
    assert result.index == (1,)
    assert result.ok


def test_zero_bound_demands_exact_equality():
    assert compare(np.zeros(3), np.zeros(3), bound=0.0, op="id").ratio == 0.0
    assert math.isinf(compare(np.array([0.0, 1e-300]), np.zeros(2), bound=0.0, op="id").ratio)


def test_assert_close_message_names_value_expectation_bound_and_op():
    with pytest.raises(
        BoundExceeded, match=r"out\[1\]=2\.5, but should be 2\.0 within bound 0\.1 \(error/bound=5\) \[my_op\]"
    ):
        assert_close(np.array([1.0, 2.5]), np.array([1.0, 2.0]), bound=0.1, op="my_op")


def test_assert_close_checks_shape_and_dtype():
    with pytest.raises(BoundExceeded, match=r"out.shape=\(2,\), but should be \(3,\)"):
        assert_close(np.zeros(2), np.zeros(3), bound=1.0, op="id")
    with pytest.raises(BoundExceeded, match=r"out\.dtype=float32, but should be float64"):
        assert_close(torch.zeros(2), np.zeros(2), bound=1.0, op="id", dtype="float64")


def test_observers_see_every_comparison():
    seen = []
    with observe(seen.append):
        assert_close(np.ones(2), np.ones(2), bound=1.0, op="a")
        with pytest.raises(BoundExceeded):
            assert_close(np.ones(2), np.zeros(2), bound=0.5, op="b")
    assert [(c.op, c.ok) for c in seen] == [("a", True), ("b", False)]


# --- every bound is a finite, non-negative number for the inputs the strategies draw --


@given(data=st.data())
def test_bounds_are_finite_and_non_negative(data):
    dtype = data.draw(fst.dtypes(), label="dtype")
    shape = data.draw(fst.shapes(min_dims=2, max_dims=2, max_side=40), label="shape")
    x = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=2.0e4, extremes=fst.SATURATING_LOGITS), label="x")
    g = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=16.0), label="g")
    target = data.draw(fst.class_targets(shape[:-1], shape[-1]), label="target")
    bounds = [
        op_bounds.sigmoid_bound(x, dtype=dtype),
        *op_bounds.sigmoid_vjp_bound(x, g, dtype=dtype),
        op_bounds.softmax_bound(x, -1, dtype=dtype),
        *op_bounds.softmax_vjp_bound(x, g, 0, dtype=dtype),
        op_bounds.log_softmax_bound(x, 0, dtype=dtype),
        *op_bounds.log_softmax_vjp_bound(x, g, -1, dtype=dtype),
        op_bounds.cross_entropy_bound(x, target, "mean", dtype=dtype),
        *op_bounds.cross_entropy_vjp_bound(x, target, g[:, 0], "none", dtype=dtype),
        op_bounds.mse_bound(x, g, "sum", dtype=dtype),
        *op_bounds.mse_vjp_bound(x, g, np.float64(1.0), "mean", dtype=dtype),
        op_bounds.matmul_bound(x, x.T, dtype=dtype),
        *op_bounds.matmul_vjp_bound(x, x.T, x @ x.T, dtype=dtype),
    ]
    for bound in bounds:
        assert np.all(np.isfinite(bound))
        assert np.all(bound >= 0)


def test_to_numpy_is_exact_for_every_dtype():
    for name in ("float64", "float32", "float16", "bfloat16"):
        values = round_to(np.array([1.0 / 3.0, -2.5e-3, 7.0]), name)
        t = torch.tensor(values, dtype=getattr(torch, name))
        np.testing.assert_array_equal(to_numpy(t), values)


# --- SGDErrorBound: hyper-parameters rounded to the dtype before use ---------------------------

from fizzcheck.bounds.training import SGDErrorBound  # noqa: E402 (this section was appended)
from fizzcheck.reference.optim import sgd_update  # noqa: E402


def _sgd_float32_kernel(param, grad, buffer, hyper):
    """One SGD step as torch's CUDA fused kernel does it for float32 (aten/src/ATen/native/cuda/
    FusedSgdKernel.cu: every scalar hyper-parameter cast to opmath_t = float first, then float
    arithmetic), in numpy float32: each operation rounds once. Returns (new param, new buffer)."""
    f32 = np.float32
    lr, momentum, dampening, weight_decay = (f32(hyper[k]) for k in ("lr", "momentum", "dampening", "weight_decay"))
    p, g = param.astype(f32), grad.astype(f32)
    d = -g if hyper["maximize"] else g
    if hyper["weight_decay"] != 0:
        d = d + weight_decay * p
    b = None
    if hyper["momentum"] != 0:
        b = d.copy() if buffer is None else momentum * buffer.astype(f32) + (f32(1.0) - dampening) * d
        d = d + momentum * b if hyper["nesterov"] else b
    return p - lr * d, b


class _BoundWithoutCancellation(SGDErrorBound):
    """SGDErrorBound before the extension: 1 − τ treated as rounded once (no cancellation term)."""

    def dampening_cancellation(self, dampening, direction, d_err):
        return np.zeros_like(direction)


def _sgd_float32_run(hyper, initial, buffer, grads, bound_class):
    """Max over the trajectory of (simulated float32 − float64 reference) / bound, for the
    parameter and the buffer (loaded before the first step, the same values on both sides)."""
    bound = bound_class("float32")
    bound.load_buffer("p", initial.shape)
    p32, b32 = initial.astype(np.float32), buffer.astype(np.float32)
    p64, b64 = p32.astype(np.float64), b32.astype(np.float64)
    worst = {"param": 0.0, "buffer": 0.0}
    for g in grads:
        g = g.astype(np.float32).astype(np.float64)
        up = sgd_update(p64, g, b64, hyper)
        bound.step({"p": up})
        p32, b32 = _sgd_float32_kernel(p32, g, b32, hyper)
        p64, b64 = up.new_param, up.buffer
        for name, got, want, allowed in (
            ("param", p32, p64, bound.param_bound("p", p64.shape)),
            ("buffer", b32, b64, bound.buffer_bound("p")),
        ):
            worst[name] = max(worst[name], float(np.max(np.abs(got.astype(np.float64) - want) / allowed)))
    return worst


_CANCELLATION_CASE = {
    "lr": 0.5,
    "momentum": 0.001,
    "dampening": 0.969,
    "weight_decay": 0.0,
    "nesterov": False,
    "maximize": False,
}
"""test_state_dict_round_trip[cuda-fused=True → foreach=False] on an H200 (torch 2.11.0+cu130): a
momentum buffer 1.61× over the old bound. fl32(0.969) = 0.969 − 0.304u, an error of 0.304u|d| in
the buffer where the old bound allowed about 3u·0.031|d| (twice: target and reference, plus D)."""


def test_sgd_bound_needed_the_dampening_cancellation_term():
    """The float32 step with hyper-parameters rounded first stays within SGDErrorBound on the case
    that failed on the GPU, and exceeds the bound without the cancellation term (ratio 1.74 here, 1.61
    on the GPU): the extension is necessary, not slack."""
    values = np.linspace(-4.0, 4.0, 17)
    grads = np.stack([values[::-1], 0.5 * values, np.full_like(values, 3.0)])
    new = _sgd_float32_run(_CANCELLATION_CASE, values, 0.25 * values, grads, SGDErrorBound)
    old = _sgd_float32_run(_CANCELLATION_CASE, values, 0.25 * values, grads, _BoundWithoutCancellation)
    assert new["buffer"] <= 1.0, new
    assert new["param"] <= 1.0, new
    assert old["buffer"] > 1.0, old


@pytest.mark.parametrize("seed", range(8))
def test_sgd_bound_holds_for_float32_kernels_with_dampening_near_one(seed):
    """Random float32 trajectories with τ in [0.9, 1) (and weight decay, nesterov, maximize drawn):
    the simulated kernel that rounds every hyper-parameter first stays within the bound."""
    rng = np.random.default_rng(seed)
    momentum = float(rng.choice([0.001, 0.1, 0.9]))
    hyper = {
        "lr": float(rng.uniform(0.01, 1.0)),
        "momentum": momentum,
        "dampening": float(rng.uniform(0.9, 1.0)),
        "weight_decay": float(rng.choice([0.0, rng.uniform(0.0, 0.5)])),
        "nesterov": bool(rng.integers(2)),  # torch's constructor refuses nesterov with dampening; the formula does not
        "maximize": bool(rng.integers(2)),
    }
    initial = rng.normal(size=32) * 4.0
    worst = _sgd_float32_run(hyper, initial, rng.normal(size=32), rng.normal(size=(4, 32)) * 8.0, SGDErrorBound)
    assert worst["buffer"] <= 1.0, (hyper, worst)
    assert worst["param"] <= 1.0, (hyper, worst)

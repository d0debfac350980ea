"""Op properties: torch's forward and backward against the numpy references.

Each ``check_<op>`` compares one draw (forward value and, for a random cotangent, every
input gradient) and is what a failure's reproducer calls again; each ``test_<op>`` draws
inputs with Hypothesis and runs the check on every device × dtype the plugin selects.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import fizzcheck.strategies as fst
import fizzcheck.tolerance as ftol
from fizzcheck.reference import ops as ref
from fizzcheck.reproduce import run_check
from fizzcheck.tensors import to_tensor, torch_dtype

# --- helpers --------------------------------------------------------------------------


def _leaf(values: np.ndarray, *, dtype: str, device: str, layout: str) -> torch.Tensor:
    return to_tensor(values, dtype=dtype, device=device, layout=layout, requires_grad=True)


def _grads(out: torch.Tensor, inputs: list[torch.Tensor], g: np.ndarray, *, dtype: str, device: str) -> tuple:
    """Gradients of sum(g * out) w.r.t. inputs via torch.autograd.grad (None if unused)."""
    cot = to_tensor(g, dtype=dtype, device=device)
    return torch.autograd.grad(out, inputs, grad_outputs=cot, allow_unused=True)


def _assert_grads(grads: tuple, expected: tuple, bounds: tuple, *, op: str, names: tuple[str, ...], dtype: str) -> None:
    __tracebackhide__ = True
    for got, want, bound, name in zip(grads, expected, bounds, names, strict=True):
        if want is None:
            continue
        if got is None:  # torch returns None for an input the output does not depend on
            got = np.zeros_like(want)
            ftol.assert_close(got, want, bound=bound, op=f"{op} grad {name}")
        else:
            ftol.assert_close(got, want, bound=bound, op=f"{op} grad {name}", dtype=dtype)


def cotangents(shape: tuple[int, ...], dtype: str) -> st.SearchStrategy[np.ndarray]:
    """Random cotangents (not just ones) of moderate magnitude."""
    return fst.arrays(shape, dtype=dtype, max_magnitude=2.0**4)


# --- matmul ---------------------------------------------------------------------------


def check_matmul(a, b, g, *, variant: str, device: str, dtype: str, layout: str) -> None:
    ta = _leaf(a, dtype=dtype, device=device, layout=layout)
    tb = _leaf(b, dtype=dtype, device=device, layout=layout)
    out = torch.matmul(ta, tb) if variant == "torch.matmul" else ta @ tb
    ftol.assert_close(out, ref.matmul(a, b), bound=ftol.matmul_bound(a, b, dtype=dtype), op=variant, dtype=dtype)
    grads = _grads(out, [ta, tb], g, dtype=dtype, device=device)
    _assert_grads(
        grads,
        ref.matmul_vjp(a, b, g),
        ftol.matmul_vjp_bound(a, b, g, dtype=dtype),
        op=variant,
        names=("a", "b"),
        dtype=dtype,
    )


@given(data=st.data())
def test_matmul(device, dtype, data):
    shape_a, shape_b = data.draw(fst.matmul_shapes(), label="shapes")
    a = data.draw(fst.arrays(shape_a, dtype=dtype), label="a")
    b = data.draw(fst.arrays(shape_b, dtype=dtype), label="b")
    g = data.draw(cotangents(ref.matmul(np.zeros(shape_a), np.zeros(shape_b)).shape, dtype), label="g")
    variant = data.draw(st.sampled_from(("torch.matmul", "@")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(check_matmul, a=a, b=b, g=g, variant=variant, device=device, dtype=dtype, layout=layout)


# --- linear ---------------------------------------------------------------------------


def check_linear(x, w, b, g, *, variant: str, device: str, dtype: str, layout: str) -> None:
    tx = _leaf(x, dtype=dtype, device=device, layout=layout)
    if variant == "nn.Linear":
        module = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device=device, dtype=torch_dtype(dtype))
        with torch.no_grad():
            module.weight.copy_(to_tensor(w, dtype=dtype, device=device))
            if b is not None:
                module.bias.copy_(to_tensor(b, dtype=dtype, device=device))
        tw, tb = module.weight, module.bias
        out = module(tx)
    else:
        tw = _leaf(w, dtype=dtype, device=device, layout=layout)
        tb = None if b is None else _leaf(b, dtype=dtype, device=device, layout=layout)
        out = F.linear(tx, tw, tb)
    ftol.assert_close(out, ref.linear(x, w, b), bound=ftol.linear_bound(x, w, b, dtype=dtype), op=variant, dtype=dtype)
    inputs = [tx, tw] + ([] if tb is None else [tb])
    grads = _grads(out, inputs, g, dtype=dtype, device=device)
    expected = ref.linear_vjp(x, w, b, g)
    bounds = ftol.linear_vjp_bound(x, w, b, g, dtype=dtype)
    n = len(inputs)
    _assert_grads(grads, expected[:n], bounds[:n], op=variant, names=("x", "weight", "bias")[:n], dtype=dtype)


@given(data=st.data())
def test_linear(device, dtype, data):
    in_f = data.draw(fst.sides(min_side=1), label="in_features")
    out_f = data.draw(fst.sides(min_side=1, max_side=min(fst.MAX_SIDE, fst.MAX_ELEMENTS // in_f)), label="out_features")
    # batch dims may be absent or zero-size (an empty batch is valid for nn.Linear)
    batch = data.draw(
        fst.shapes(min_dims=0, max_dims=2, min_side=0, max_elements=fst.MAX_ELEMENTS // max(in_f, out_f)), label="batch"
    )
    x = data.draw(fst.arrays((*batch, in_f), dtype=dtype), label="x")
    w = data.draw(fst.arrays((out_f, in_f), dtype=dtype), label="weight")
    b = data.draw(st.none() | fst.arrays((out_f,), dtype=dtype), label="bias")
    g = data.draw(cotangents((*batch, out_f), dtype), label="g")
    variant = data.draw(st.sampled_from(("F.linear", "nn.Linear")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(check_linear, x=x, w=w, b=b, g=g, variant=variant, device=device, dtype=dtype, layout=layout)


# --- sigmoid --------------------------------------------------------------------------


def check_sigmoid(x, g, *, variant: str, device: str, dtype: str, layout: str) -> None:
    tx = _leaf(x, dtype=dtype, device=device, layout=layout)
    out = torch.sigmoid(tx) if variant == "torch.sigmoid" else nn.Sigmoid()(tx)
    ftol.assert_close(out, ref.sigmoid(x), bound=ftol.sigmoid_bound(x, dtype=dtype), op=variant, dtype=dtype)
    grads = _grads(out, [tx], g, dtype=dtype, device=device)
    _assert_grads(
        grads, ref.sigmoid_vjp(x, g), ftol.sigmoid_vjp_bound(x, g, dtype=dtype), op=variant, names=("x",), dtype=dtype
    )


@given(data=st.data())
def test_sigmoid(device, dtype, data):
    shape = data.draw(fst.shapes(min_dims=1, max_dims=3, min_side=0), label="shape")
    x = data.draw(
        fst.arrays(shape, dtype=dtype, max_magnitude=200.0, extremes=fst.SATURATING_SIGMOID, allow_nonfinite=True),
        label="x",
    )
    g = data.draw(cotangents(shape, dtype), label="g")
    variant = data.draw(st.sampled_from(("torch.sigmoid", "nn.Sigmoid")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(check_sigmoid, x=x, g=g, variant=variant, device=device, dtype=dtype, layout=layout)


# --- softmax / log_softmax ------------------------------------------------------------

_SOFTMAX = {
    "softmax": (
        lambda t, dim: torch.softmax(t, dim),
        ref.softmax,
        ref.softmax_vjp,
        ftol.softmax_bound,
        ftol.softmax_vjp_bound,
    ),
    "log_softmax": (
        lambda t, dim: torch.log_softmax(t, dim),
        ref.log_softmax,
        ref.log_softmax_vjp,
        ftol.log_softmax_bound,
        ftol.log_softmax_vjp_bound,
    ),
    "nn.Softmax": (
        lambda t, dim: nn.Softmax(dim)(t),
        ref.softmax,
        ref.softmax_vjp,
        ftol.softmax_bound,
        ftol.softmax_vjp_bound,
    ),
    "nn.LogSoftmax": (
        lambda t, dim: nn.LogSoftmax(dim)(t),
        ref.log_softmax,
        ref.log_softmax_vjp,
        ftol.log_softmax_bound,
        ftol.log_softmax_vjp_bound,
    ),
}


def check_softmax(x, g, *, dim: int, variant: str, device: str, dtype: str, layout: str) -> None:
    run_torch, forward, vjp, bound, vjp_bound = _SOFTMAX[variant]
    tx = _leaf(x, dtype=dtype, device=device, layout=layout)
    out = run_torch(tx, dim)
    ftol.assert_close(out, forward(x, dim), bound=bound(x, dim, dtype=dtype), op=f"{variant}(dim={dim})", dtype=dtype)
    grads = _grads(out, [tx], g, dtype=dtype, device=device)
    _assert_grads(
        grads, vjp(x, g, dim), vjp_bound(x, g, dim, dtype=dtype), op=f"{variant}(dim={dim})", names=("x",), dtype=dtype
    )


@given(data=st.data())
def test_softmax(device, dtype, data):
    shape = data.draw(fst.shapes(min_dims=1, max_dims=3, min_side=1), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=2.0e4, extremes=fst.SATURATING_LOGITS), label="x")
    g = data.draw(cotangents(shape, dtype), label="g")
    variant = data.draw(st.sampled_from(tuple(_SOFTMAX)), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(check_softmax, x=x, g=g, dim=dim, variant=variant, device=device, dtype=dtype, layout=layout)


# --- cross entropy --------------------------------------------------------------------


def check_cross_entropy(
    logits, target, g, *, reduction: str, variant: str, device: str, dtype: str, layout: str
) -> None:
    tl = _leaf(logits, dtype=dtype, device=device, layout=layout)
    tt = torch.as_tensor(target, device=device)
    if variant == "F.cross_entropy":
        out = F.cross_entropy(tl, tt, reduction=reduction)
    else:
        out = nn.CrossEntropyLoss(reduction=reduction)(tl, tt)
    op = f"{variant}(reduction={reduction!r})"
    ftol.assert_close(
        out,
        ref.cross_entropy(logits, target, reduction),
        bound=ftol.cross_entropy_bound(logits, target, reduction, dtype=dtype),
        op=op,
        dtype=dtype,
    )
    grads = _grads(out, [tl], g, dtype=dtype, device=device)
    _assert_grads(
        grads,
        ref.cross_entropy_vjp(logits, target, g, reduction),
        ftol.cross_entropy_vjp_bound(logits, target, g, reduction, dtype=dtype),
        op=op,
        names=("logits",),
        dtype=dtype,
    )


@given(data=st.data())
def test_cross_entropy(device, dtype, data):
    batched = data.draw(st.booleans(), label="batched")
    classes = data.draw(fst.sides(min_side=1), label="classes")
    max_batch = min(fst.MAX_SIDE, fst.MAX_ELEMENTS // classes)
    shape = (data.draw(fst.sides(min_side=1, max_side=max_batch), label="batch"), classes) if batched else (classes,)
    logits = data.draw(
        fst.arrays(shape, dtype=dtype, max_magnitude=2.0e4, extremes=fst.SATURATING_LOGITS), label="logits"
    )
    target = data.draw(fst.class_targets(shape[:-1], classes), label="target")
    reduction = data.draw(st.sampled_from(ref.REDUCTIONS), label="reduction")
    out_shape = shape[:-1] if reduction == "none" else ()
    g = data.draw(cotangents(out_shape, dtype), label="g")
    variant = data.draw(st.sampled_from(("F.cross_entropy", "nn.CrossEntropyLoss")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(
        check_cross_entropy,
        logits=logits,
        target=target,
        g=g,
        reduction=reduction,
        variant=variant,
        device=device,
        dtype=dtype,
        layout=layout,
    )


# --- mse ------------------------------------------------------------------------------


def check_mse(x, target, g, *, reduction: str, variant: str, device: str, dtype: str, layout: str) -> None:
    tx = _leaf(x, dtype=dtype, device=device, layout=layout)
    tt = _leaf(target, dtype=dtype, device=device, layout=layout)
    out = F.mse_loss(tx, tt, reduction=reduction) if variant == "F.mse_loss" else nn.MSELoss(reduction=reduction)(tx, tt)
    op = f"{variant}(reduction={reduction!r})"
    ftol.assert_close(
        out, ref.mse(x, target, reduction), bound=ftol.mse_bound(x, target, reduction, dtype=dtype), op=op, dtype=dtype
    )
    grads = _grads(out, [tx, tt], g, dtype=dtype, device=device)
    _assert_grads(
        grads,
        ref.mse_vjp(x, target, g, reduction),
        ftol.mse_vjp_bound(x, target, g, reduction, dtype=dtype),
        op=op,
        names=("input", "target"),
        dtype=dtype,
    )


@given(data=st.data())
def test_mse(device, dtype, data):
    shape = data.draw(fst.shapes(min_dims=1, max_dims=3, min_side=0), label="shape")
    x = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=2.0**10), label="input")
    target = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=2.0**10), label="target")
    reduction = data.draw(st.sampled_from(ref.REDUCTIONS), label="reduction")
    g = data.draw(cotangents(shape if reduction == "none" else (), dtype), label="g")
    variant = data.draw(st.sampled_from(("F.mse_loss", "nn.MSELoss")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(
        check_mse,
        x=x,
        target=target,
        g=g,
        reduction=reduction,
        variant=variant,
        device=device,
        dtype=dtype,
        layout=layout,
    )


# --- documented behaviours users rely on ----------------------------------------------


@pytest.mark.parametrize("loss", [F.mse_loss, nn.MSELoss()], ids=["F.mse_loss", "nn.MSELoss"])
def test_mse_warns_when_broadcasting_changes_the_value(device, loss):
    """torch documents a UserWarning when target and input shapes differ (it broadcasts)."""
    x, target = np.arange(4.0).reshape(4, 1), np.arange(4.0)  # (4, 1) with (4,) broadcasts to (4, 4)
    with pytest.warns(UserWarning, match="target size"):
        out = loss(torch.tensor(x, device=device), torch.tensor(target, device=device))
    bound = ftol.mse_bound(x, target, dtype="float64")
    ftol.assert_close(out, ref.mse(x, target, "mean"), bound=bound, op="mse_loss broadcast", dtype="float64")
    # the user probably meant the element-wise loss, which is 0 here: broadcasting changed the value
    assert ref.mse(x.ravel(), target, "mean") == 0.0
    assert float(out) == pytest.approx(2.5)


def test_cross_entropy_rejects_out_of_range_class(device):
    logits, target = torch.zeros(2, 3, device=device), torch.tensor([0, 3], device=device)

    def call() -> None:
        F.cross_entropy(logits, target)
        if device == "cuda":  # device-side asserts surface on the next synchronisation
            torch.cuda.synchronize()

    with pytest.raises((IndexError, RuntimeError)):
        call()


def test_softmax_rejects_out_of_range_dim(device):
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.softmax(torch.zeros(2, 3, device=device), dim=2)


def test_mean_over_empty_batch_is_nan(device, dtype):
    """A mean over zero elements is 0/0 = NaN, for the losses as for the reference."""
    empty = torch.zeros(0, 3, dtype=torch_dtype(dtype), device=device)
    out = F.mse_loss(empty, empty)
    assert torch.isnan(out).item(), f"mse_loss(mean) over an empty batch gave {out.item()}, but should be nan"
    assert np.isnan(ref.mse(np.zeros((0, 3)), np.zeros((0, 3)), "mean"))

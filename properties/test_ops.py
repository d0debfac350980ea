"""Op properties: torch's forward and backward against the numpy references.

Each ``check_<op>`` compares one draw (forward value and, for a random cotangent, every
input gradient) and is what a failure's reproducer calls again; each ``test_<op>`` draws
inputs with Hypothesis and runs the check on every device × dtype the plugin selects.
Every call into the framework goes through ``target`` (``--fizzcheck-target``): the
variants are torch's spellings of an op, looked up in the target's namespaces.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fizzcheck.bounds.ops as ftol
import fizzcheck.strategies as fst
from fizzcheck.check import assert_close
from fizzcheck.dtypes import dtype_info
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.reference import ops as ref
from fizzcheck.targets import Target, Tensor

# --- helpers --------------------------------------------------------------------------


def _leaf(target: Target, values: np.ndarray, *, dtype: str, device: str, layout: str) -> Tensor:
    return target.tensor(values, dtype=dtype, device=device, layout=layout, requires_grad=True)


def _grads(target: Target, out: Tensor, inputs: list[Tensor], g: np.ndarray, *, dtype: str, device: str) -> tuple:
    """Gradients of sum(g * out) w.r.t. inputs via the target's autograd.grad (None if unused)."""
    cot = target.tensor(g, dtype=dtype, device=device)
    return target.autograd.grad(out, inputs, grad_outputs=cot, allow_unused=True)


def _assert_grads(grads: tuple, expected: tuple, bounds: tuple, *, op: str, names: tuple[str, ...], dtype: str) -> None:
    __tracebackhide__ = True
    for got, want, bound, name in zip(grads, expected, bounds, names, strict=True):
        if want is None:
            continue
        if got is None:  # torch returns None for an input the output does not depend on
            got = np.zeros_like(want)
            assert_close(got, want, bound=bound, op=f"{op} grad {name}")
        else:
            assert_close(got, want, bound=bound, op=f"{op} grad {name}", dtype=dtype)


def cotangents(shape: tuple[int, ...], dtype: str) -> st.SearchStrategy[np.ndarray]:
    """Random cotangents (not just ones) of moderate magnitude."""
    return fst.arrays(shape, dtype=dtype, max_magnitude=2.0**4)


# --- matmul ---------------------------------------------------------------------------


def check_matmul(target: Target, a, b, g, *, variant: str, device: str, dtype: str, layout: str) -> None:
    ta = _leaf(target, a, dtype=dtype, device=device, layout=layout)
    tb = _leaf(target, b, dtype=dtype, device=device, layout=layout)
    out = target.torch.matmul(ta, tb) if variant == "torch.matmul" else target.operator.matmul(ta, tb)
    assert_close(out, ref.matmul(a, b), bound=ftol.matmul_bound(a, b, dtype=dtype), op=variant, dtype=dtype)
    grads = _grads(target, out, [ta, tb], g, dtype=dtype, device=device)
    _assert_grads(
        grads,
        ref.matmul_vjp(a, b, g),
        ftol.matmul_vjp_bound(a, b, g, dtype=dtype),
        op=variant,
        names=("a", "b"),
        dtype=dtype,
    )


@given(data=st.data())
def test_matmul(target, device, dtype, data):
    shape_a, shape_b = data.draw(fst.matmul_shapes(), label="shapes")
    a = data.draw(fst.arrays(shape_a, dtype=dtype), label="a")
    b = data.draw(fst.arrays(shape_b, dtype=dtype), label="b")
    g = data.draw(cotangents(ref.matmul(np.zeros(shape_a), np.zeros(shape_b)).shape, dtype), label="g")
    variant = data.draw(st.sampled_from(("torch.matmul", "@")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(check_matmul, target=target, a=a, b=b, g=g, variant=variant, device=device, dtype=dtype, layout=layout)


# --- linear ---------------------------------------------------------------------------


def check_linear(target: Target, x, w, b, g, *, variant: str, device: str, dtype: str, layout: str) -> None:
    tx = _leaf(target, x, dtype=dtype, device=device, layout=layout)
    if variant == "nn.Linear":
        module = target.nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device=device, dtype=target.dtype(dtype))
        with target.torch.no_grad():
            module.weight.copy_(target.tensor(w, dtype=dtype, device=device))
            if b is not None:
                module.bias.copy_(target.tensor(b, dtype=dtype, device=device))
        tw, tb = module.weight, module.bias
        out = module(tx)
    else:
        tw = _leaf(target, w, dtype=dtype, device=device, layout=layout)
        tb = None if b is None else _leaf(target, b, dtype=dtype, device=device, layout=layout)
        out = target.F.linear(tx, tw, tb)
    assert_close(out, ref.linear(x, w, b), bound=ftol.linear_bound(x, w, b, dtype=dtype), op=variant, dtype=dtype)
    inputs = [tx, tw] + ([] if tb is None else [tb])
    grads = _grads(target, out, inputs, g, dtype=dtype, device=device)
    expected = ref.linear_vjp(x, w, b, g)
    bounds = ftol.linear_vjp_bound(x, w, b, g, dtype=dtype)
    n = len(inputs)
    _assert_grads(grads, expected[:n], bounds[:n], op=variant, names=("x", "weight", "bias")[:n], dtype=dtype)


@given(data=st.data())
def test_linear(target, device, dtype, data):
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
    run_check(
        check_linear, target=target, x=x, w=w, b=b, g=g, variant=variant, device=device, dtype=dtype, layout=layout
    )


# --- sigmoid --------------------------------------------------------------------------


def check_sigmoid(target: Target, x, g, *, variant: str, device: str, dtype: str, layout: str) -> None:
    tx = _leaf(target, x, dtype=dtype, device=device, layout=layout)
    out = target.torch.sigmoid(tx) if variant == "torch.sigmoid" else target.nn.Sigmoid()(tx)
    assert_close(out, ref.sigmoid(x), bound=ftol.sigmoid_bound(x, dtype=dtype), op=variant, dtype=dtype)
    grads = _grads(target, out, [tx], g, dtype=dtype, device=device)
    _assert_grads(
        grads, ref.sigmoid_vjp(x, g), ftol.sigmoid_vjp_bound(x, g, dtype=dtype), op=variant, names=("x",), dtype=dtype
    )


@given(data=st.data())
def test_sigmoid(target, device, dtype, data):
    shape = data.draw(fst.shapes(min_dims=1, max_dims=3, min_side=0), label="shape")
    x = data.draw(
        fst.arrays(shape, dtype=dtype, max_magnitude=200.0, extremes=fst.SATURATING_SIGMOID, allow_nonfinite=True),
        label="x",
    )
    g = data.draw(cotangents(shape, dtype), label="g")
    variant = data.draw(st.sampled_from(("torch.sigmoid", "nn.Sigmoid")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(check_sigmoid, target=target, x=x, g=g, variant=variant, device=device, dtype=dtype, layout=layout)


# --- softmax / log_softmax ------------------------------------------------------------

_SOFTMAX = {
    "softmax": (
        lambda target, t, dim: target.torch.softmax(t, dim),
        ref.softmax,
        ref.softmax_vjp,
        ftol.softmax_bound,
        ftol.softmax_vjp_bound,
    ),
    "log_softmax": (
        lambda target, t, dim: target.torch.log_softmax(t, dim),
        ref.log_softmax,
        ref.log_softmax_vjp,
        ftol.log_softmax_bound,
        ftol.log_softmax_vjp_bound,
    ),
    "nn.Softmax": (
        lambda target, t, dim: target.nn.Softmax(dim)(t),
        ref.softmax,
        ref.softmax_vjp,
        ftol.softmax_bound,
        ftol.softmax_vjp_bound,
    ),
    "nn.LogSoftmax": (
        lambda target, t, dim: target.nn.LogSoftmax(dim)(t),
        ref.log_softmax,
        ref.log_softmax_vjp,
        ftol.log_softmax_bound,
        ftol.log_softmax_vjp_bound,
    ),
}


def check_softmax(target: Target, x, g, *, dim: int, variant: str, device: str, dtype: str, layout: str) -> None:
    run_target, forward, vjp, bound, vjp_bound = _SOFTMAX[variant]
    tx = _leaf(target, x, dtype=dtype, device=device, layout=layout)
    out = run_target(target, tx, dim)
    assert_close(out, forward(x, dim), bound=bound(x, dim, dtype=dtype), op=f"{variant}(dim={dim})", dtype=dtype)
    grads = _grads(target, out, [tx], g, dtype=dtype, device=device)
    _assert_grads(
        grads, vjp(x, g, dim), vjp_bound(x, g, dim, dtype=dtype), op=f"{variant}(dim={dim})", names=("x",), dtype=dtype
    )


@given(data=st.data())
def test_softmax(target, device, dtype, data):
    shape = data.draw(fst.shapes(min_dims=1, max_dims=3, min_side=1), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=2.0e4, extremes=fst.SATURATING_LOGITS), label="x")
    g = data.draw(cotangents(shape, dtype), label="g")
    variant = data.draw(st.sampled_from(tuple(_SOFTMAX)), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(
        check_softmax, target=target, x=x, g=g, dim=dim, variant=variant, device=device, dtype=dtype, layout=layout
    )


# --- cross entropy --------------------------------------------------------------------


def check_cross_entropy(
    target: Target, logits, labels, g, *, reduction: str, variant: str, device: str, dtype: str, layout: str
) -> None:
    tl = _leaf(target, logits, dtype=dtype, device=device, layout=layout)
    tt = target.labels(labels, device=device)
    if variant == "F.cross_entropy":
        out = target.F.cross_entropy(tl, tt, reduction=reduction)
    else:
        out = target.nn.CrossEntropyLoss(reduction=reduction)(tl, tt)
    op = f"{variant}(reduction={reduction!r})"
    assert_close(
        out,
        ref.cross_entropy(logits, labels, reduction),
        bound=ftol.cross_entropy_bound(logits, labels, reduction, dtype=dtype),
        op=op,
        dtype=dtype,
    )
    grads = _grads(target, out, [tl], g, dtype=dtype, device=device)
    _assert_grads(
        grads,
        ref.cross_entropy_vjp(logits, labels, g, reduction),
        ftol.cross_entropy_vjp_bound(logits, labels, g, reduction, dtype=dtype),
        op=op,
        names=("logits",),
        dtype=dtype,
    )


@given(data=st.data())
def test_cross_entropy(target, device, dtype, data):
    batched = data.draw(st.booleans(), label="batched")
    classes = data.draw(fst.sides(min_side=1), label="classes")
    max_batch = min(fst.MAX_SIDE, fst.MAX_ELEMENTS // classes)
    shape = (data.draw(fst.sides(min_side=1, max_side=max_batch), label="batch"), classes) if batched else (classes,)
    logits = data.draw(
        fst.arrays(shape, dtype=dtype, max_magnitude=2.0e4, extremes=fst.SATURATING_LOGITS), label="logits"
    )
    labels = data.draw(fst.class_targets(shape[:-1], classes), label="target")
    reduction = data.draw(st.sampled_from(ref.REDUCTIONS), label="reduction")
    out_shape = shape[:-1] if reduction == "none" else ()
    g = data.draw(cotangents(out_shape, dtype), label="g")
    variant = data.draw(st.sampled_from(("F.cross_entropy", "nn.CrossEntropyLoss")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(
        check_cross_entropy,
        target=target,
        logits=logits,
        labels=labels,
        g=g,
        reduction=reduction,
        variant=variant,
        device=device,
        dtype=dtype,
        layout=layout,
    )


# --- mse ------------------------------------------------------------------------------


def check_mse(target: Target, x, y, g, *, reduction: str, variant: str, device: str, dtype: str, layout: str) -> None:
    tx = _leaf(target, x, dtype=dtype, device=device, layout=layout)
    ty = _leaf(target, y, dtype=dtype, device=device, layout=layout)
    if variant == "F.mse_loss":
        out = target.F.mse_loss(tx, ty, reduction=reduction)
    else:
        out = target.nn.MSELoss(reduction=reduction)(tx, ty)
    op = f"{variant}(reduction={reduction!r})"
    assert_close(out, ref.mse(x, y, reduction), bound=ftol.mse_bound(x, y, reduction, dtype=dtype), op=op, dtype=dtype)
    grads = _grads(target, out, [tx, ty], g, dtype=dtype, device=device)
    _assert_grads(
        grads,
        ref.mse_vjp(x, y, g, reduction),
        ftol.mse_vjp_bound(x, y, g, reduction, dtype=dtype),
        op=op,
        names=("input", "target"),
        dtype=dtype,
    )


def mse_magnitude(dtype: str, n: int) -> float:
    """Largest |x|, |y| drawn for mse: (x − y)² ≤ 4M² summed over n elements must stay below the
    format's largest finite value (float16: 65504, so 2**10 would overflow a single square), with a
    factor 2 to spare; a power of two, at most 2**10."""
    limit = dtype_info(dtype).largest / (2.0 * 4.0 * max(n, 1))
    return float(min(2.0**10, 2.0 ** np.floor(np.log2(np.sqrt(limit)))))


@given(data=st.data())
def test_mse(target, device, dtype, data):
    shape = data.draw(fst.shapes(min_dims=1, max_dims=3, min_side=0), label="shape")
    magnitude = mse_magnitude(dtype, int(np.prod(shape)))
    x = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=magnitude), label="input")
    y = data.draw(fst.arrays(shape, dtype=dtype, max_magnitude=magnitude), label="target")
    reduction = data.draw(st.sampled_from(ref.REDUCTIONS), label="reduction")
    g = data.draw(cotangents(shape if reduction == "none" else (), dtype), label="g")
    variant = data.draw(st.sampled_from(("F.mse_loss", "nn.MSELoss")), label="variant")
    layout = data.draw(fst.layouts(), label="layout")
    run_check(
        check_mse,
        target=target,
        x=x,
        y=y,
        g=g,
        reduction=reduction,
        variant=variant,
        device=device,
        dtype=dtype,
        layout=layout,
    )


# --- documented behaviours users rely on ----------------------------------------------


@pytest.mark.parametrize("variant", ["F.mse_loss", "nn.MSELoss"])
def test_mse_warns_when_broadcasting_changes_the_value(target, device, variant):
    """torch documents a UserWarning when target and input shapes differ (it broadcasts)."""
    loss = target.F.mse_loss if variant == "F.mse_loss" else target.nn.MSELoss()
    x, y = np.arange(4.0).reshape(4, 1), np.arange(4.0)  # (4, 1) with (4,) broadcasts to (4, 4)
    with pytest.warns(UserWarning, match="target size"):
        out = loss(target.tensor(x, dtype="float64", device=device), target.tensor(y, dtype="float64", device=device))
    bound = ftol.mse_bound(x, y, dtype="float64")
    assert_close(out, ref.mse(x, y, "mean"), bound=bound, op="mse_loss broadcast", dtype="float64")
    # the user probably meant the element-wise loss, which is 0 here: broadcasting changed the value
    assert ref.mse(x.ravel(), y, "mean") == 0.0
    assert float(out) == pytest.approx(2.5)


def test_cross_entropy_rejects_out_of_range_class(target, device):
    """Class 3 of 3 classes is an error. On CUDA the kernel reports it with a device-side assert,
    which leaves the process's CUDA context unusable (every later CUDA call in it fails), so there
    the call runs in a fresh process, which must fail with the assert."""
    if device.startswith("cuda"):
        code = (
            "import numpy as np\n"
            "from fizzcheck.targets import load_target\n"
            f"t = load_target({target.spec!r})\n"
            f"logits = t.tensor(np.zeros((2, 3)), dtype='float32', device={device!r})\n"
            f"t.F.cross_entropy(logits, t.labels([0, 3], device={device!r}))\n"
            f"t.synchronize({device!r})\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert result.returncode != 0, f"cross_entropy accepted class 3 of 3 classes on {device}"
        assert "device-side assert" in result.stderr, result.stderr[-1000:]
        return
    logits = target.tensor(np.zeros((2, 3)), dtype="float32", device=device)
    labels = target.labels([0, 3], device=device)

    def call() -> None:
        target.F.cross_entropy(logits, labels)
        target.synchronize(device)  # device-side asserts surface on the next synchronisation

    with pytest.raises((IndexError, RuntimeError)):
        call()


def test_softmax_rejects_out_of_range_dim(target, device):
    with pytest.raises(IndexError, match="Dimension out of range"):
        target.torch.softmax(target.tensor(np.zeros((2, 3)), dtype="float32", device=device), dim=2)


def test_mean_over_empty_batch_is_nan(target, device, dtype):
    """A mean over zero elements is 0/0 = NaN, for the losses as for the reference."""
    empty = target.tensor(np.zeros((0, 3)), dtype=dtype, device=device)
    got = float(target.numpy(target.F.mse_loss(empty, empty)))
    assert np.isnan(got), f"mse_loss(mean) over an empty batch gave {got}, but should be nan"
    assert np.isnan(ref.mse(np.zeros((0, 3)), np.zeros((0, 3)), "mean"))

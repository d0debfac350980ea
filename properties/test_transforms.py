"""Function transforms: ``torch.func`` (grad, vjp, jvp, jacrev, jacfwd, functional_call, vmap)
and second order (Hessian-vector products, double backward) against torch-free oracles.

The oracles:

* first order — the numpy tape (:mod:`fizzcheck.reference.tape`) on the op written as a
  graph (:mod:`fizzcheck.graphs`), with the bounds of :mod:`fizzcheck.bounds.graphs`;
  a Jacobian is checked row by row (jacrev: one reverse pass per output element) or column
  by column (jacfwd: one forward pass per input element);
* per-sample gradients (``vmap(grad(...))``) — the first-order references of
  :mod:`fizzcheck.reference.ops` (and the per-sample cross-entropy with its options in
  :mod:`fizzcheck.reference.transforms`), called one sample at a time;
* second order — the hand-derived Hessian-vector products of
  :mod:`fizzcheck.reference.transforms`, with the bounds of :mod:`fizzcheck.bounds.transforms`.

Every call into the framework goes through ``target``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fizzcheck.bounds.ops as ftol
import fizzcheck.graphs as graphs
import fizzcheck.strategies as fst
from fizzcheck import seed as fb
from fizzcheck.bounds.graphs import forward_bounds, reverse_bounds
from fizzcheck.bounds.transforms import cross_entropy_sample_vjp_bound, hvp_bound
from fizzcheck.check import assert_close
from fizzcheck.history.capabilities import available
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.reference import ops as ref
from fizzcheck.reference import transforms as rt
from fizzcheck.strategies.training import FULL_PRECISIONS
from fizzcheck.surface import touch
from fizzcheck.targets import Target

pytestmark = pytest.mark.requires("torch_func_jvp")  # torch.func (a torch without it: NOT AVAILABLE)

MAX_BATCH = 5
"""Samples per vmap batch."""

MAX_FEATURES = 6
"""Features / classes per sample; Jacobians stay below 36 rows."""

EXAMPLES = settings(max_examples=max(5, settings().max_examples // 4))
"""A quarter of the profile's examples (25 at ci, 250 at thorough): every example runs a whole
transform — up to 36 passes for a Jacobian — so a full share would cost the ci suite ~60 s here."""

MAGNITUDE = 8.0
"""Largest |input|: moderate, so second-order bounds hold to first order in u (see bounds.transforms)."""


def _values(shape: tuple[int, ...], dtype: str, magnitude: float = MAGNITUDE) -> st.SearchStrategy[np.ndarray]:
    return fst.arrays(shape, dtype=dtype, max_magnitude=magnitude)


@contextmanager
def _quiet() -> Iterator[None]:
    """torch's first forward-mode call imports a module that calls the deprecated torch.jit.script."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
        yield


@pytest.fixture(autouse=True, scope="module")
def _transforms_loaded(target):
    """Run each transform once before the examples: torch's first forward-mode call imports its
    decompositions (3–7 s here), a one-time cost Hypothesis's per-example deadline must not see."""
    x, t = target.torch.zeros(2, dtype=target.dtype("float64")), target.torch.ones(2, dtype=target.dtype("float64"))
    with _quiet():
        target.func.jvp(target.func.grad(lambda z: target.torch.sigmoid(z).sum()), (x,), (t,))
        target.func.jacfwd(target.torch.sigmoid)(x)
        target.func.jacrev(target.torch.sigmoid)(x)
        target.func.vmap(target.func.grad(lambda z: target.torch.sigmoid(z).sum()))(x[:, None])


# --- first order: grad, vjp, jvp, jacrev, jacfwd on the seed's ops as graphs -----------------

FUNCTIONS = ("sigmoid", "softmax", "linear", "mse_loss")
TRANSFORMS = ("grad", "vjp", "jvp", "jacrev", "jacfwd")


def function_graph(function: str, shapes: tuple[tuple[int, ...], ...]) -> list:
    """The function as a graph of :mod:`fizzcheck.graphs` (so the tape and the bounds run the same code)."""
    if function == "sigmoid":
        return [("input", shapes[0]), ("sigmoid", 0)]
    if function == "softmax":
        return [("input", shapes[0]), ("softmax", 0, len(shapes[0]) - 1)]
    if function == "mse_loss":
        return [("input", shapes[0]), ("input", shapes[0]), ("mse_loss", 0, 1)]
    x, w, b = shapes  # F.linear as the seed writes it: x @ wᵀ + b
    return [("input", x), ("input", w), ("input", b), ("transpose", 1, 0, 1), ("matmul", 0, 3), ("add", 4, 2)]


def check_first_order(target: Target, function, transform, inputs, direction, *, device, dtype) -> None:
    """One transform of the function at ``inputs`` (cotangent or tangent ``direction``) against the tape."""
    graph = function_graph(function, tuple(np.shape(x) for x in inputs))
    fn = graphs.compile_graph(graph)
    primals = tuple(target.tensor(x, dtype=dtype, device=device) for x in inputs)
    f = lambda *xs: fn(target.F, *xs)  # noqa: E731
    func, what = target.func, f"torch.func.{transform}({function})"
    touch("transform", api=transform)
    with graphs.graph_note(graph):
        if transform in ("grad", "vjp"):
            _, want = graphs.tape_reverse(graph, inputs, direction)
            _, bounds = reverse_bounds(graph, inputs, direction, dtype=dtype)
            cot = target.tensor(direction, dtype=dtype, device=device)
            if transform == "grad":
                got = func.grad(lambda *xs: (cot * f(*xs)).sum(), argnums=tuple(range(len(primals))))(*primals)
            else:
                _, pullback = func.vjp(f, *primals)
                got = pullback(cot)
            for i, (g, w, b) in enumerate(zip(got, want, bounds, strict=True)):
                assert_close(g, w, bound=b, op=f"{what} d/dv{i}", dtype=dtype)
        elif transform == "jvp":
            tangents = [direction] + [np.zeros(np.shape(x)) for x in inputs[1:]]
            _, want = graphs.tape_forward(graph, inputs, tangents)
            _, bound = forward_bounds(graph, inputs, tangents, dtype=dtype)
            with _quiet():
                _, got = func.jvp(f, primals, tuple(target.tensor(t, dtype=dtype, device=device) for t in tangents))
            assert_close(got, want, bound=bound, op=what, dtype=dtype)
        else:  # the Jacobian of the output w.r.t. the first input
            x0 = np.asarray(inputs[0])
            with _quiet():
                got = target.numpy(func.jacrev(f)(*primals) if transform == "jacrev" else func.jacfwd(f)(*primals))
            out_shape = got.shape[: got.ndim - x0.ndim]
            want, bound = np.zeros(got.shape), np.zeros(got.shape)
            if transform == "jacrev":
                for i in np.ndindex(*out_shape):
                    e = np.zeros(out_shape)
                    e[i] = 1.0
                    want[i] = graphs.tape_reverse(graph, inputs, e)[1][0]
                    bound[i] = reverse_bounds(graph, inputs, e, dtype=dtype)[1][0]
            else:
                for j in np.ndindex(*x0.shape):
                    e = np.zeros(x0.shape)
                    e[j] = 1.0
                    tangents = [e] + [np.zeros(np.shape(x)) for x in inputs[1:]]
                    column = (slice(None),) * len(out_shape) + j
                    want[column] = graphs.tape_forward(graph, inputs, tangents)[1]
                    bound[column] = forward_bounds(graph, inputs, tangents, dtype=dtype)[1]
            assert_close(got, want, bound=bound, op=what)


PER_TRANSFORM = settings(max_examples=max(5, settings().max_examples // 20))
"""The EXAMPLES budget shared by the five transforms (5 each at ci). They are parametrised, not
drawn: 25 derandomised draws from five never drew jvp at the ci profile (the surface coverage
report, ``fizzcheck surface``, showed ``transform[api=jvp]`` with 0 examples)."""


@pytest.mark.dtypes(*FULL_PRECISIONS)
@pytest.mark.parametrize("transform", TRANSFORMS)
@PER_TRANSFORM
@given(data=st.data())
def test_first_order_transforms(target, device, dtype, transform, data):
    function = data.draw(st.sampled_from(FUNCTIONS), label="function")
    batch = data.draw(st.integers(1, 3), label="batch")
    features = data.draw(st.integers(1, 4), label="features")
    if function == "linear":
        out_f = data.draw(st.integers(1, 3), label="out_features")
        shapes = [(batch, features), (out_f, features), (out_f,)]
        out_shape = (batch, out_f)
    else:
        shapes = [(batch, features)] * (2 if function == "mse_loss" else 1)
        out_shape = () if function == "mse_loss" else (batch, features)
    inputs = [data.draw(_values(s, dtype, 4.0), label=f"v{i}") for i, s in enumerate(shapes)]
    direction_shape = shapes[0] if transform == "jvp" else out_shape
    direction = data.draw(_values(direction_shape, dtype, 4.0), label="direction")
    run_check(
        check_first_order,
        target=target,
        function=function,
        transform=transform,
        inputs=inputs,
        direction=direction,
        device=device,
        dtype=dtype,
    )


# --- functional_call on the seed's network ---------------------------------------------------


def seed_net_graph(batch: int, hidden: int) -> list:
    """Linear(10, hidden) → sigmoid → Linear(hidden, 4) → sigmoid → MSE, as in docs/autograd.md."""
    return [
        ("input", (batch, 10)),
        ("input", (hidden, 10)),
        ("input", (hidden,)),
        ("input", (4, hidden)),
        ("input", (4,)),
        ("input", (batch, 4)),
        ("transpose", 1, 0, 1),
        ("matmul", 0, 6),
        ("add", 7, 2),
        ("sigmoid", 8),
        ("transpose", 3, 0, 1),
        ("matmul", 9, 10),
        ("add", 11, 4),
        ("sigmoid", 12),
        ("mse_loss", 13, 5),
    ]


def check_functional_call(target: Target, x, w1, b1, w2, b2, y, *, device, dtype) -> None:
    """grad of the seed net's MSE through functional_call(nn.Sequential, params) against the tape."""
    module = fb.fizzbuzz_sequential(10, w1.shape[0], 4, output_sigmoid=True, target=target)
    names = ("0.weight", "0.bias", "2.weight", "2.bias")
    params = {n: target.tensor(p, dtype=dtype, device=device) for n, p in zip(names, (w1, b1, w2, b2), strict=True)}
    tx, ty = target.tensor(x, dtype=dtype, device=device), target.tensor(y, dtype=dtype, device=device)

    def loss(p):
        return target.F.mse_loss(target.func.functional_call(module, p, (tx,)), ty)

    touch("transform", api="functional_call")

    got = target.func.grad(loss)(params)
    graph = seed_net_graph(x.shape[0], w1.shape[0])
    inputs = [x, w1, b1, w2, b2, y]
    with graphs.graph_note(graph):
        _, want = graphs.tape_reverse(graph, inputs, np.ones(()))
        _, bounds = reverse_bounds(graph, inputs, np.ones(()), dtype=dtype)
        for i, name in enumerate(names, start=1):
            assert_close(got[name], want[i], bound=bounds[i], op=f"functional_call grad {name}", dtype=dtype)
    assert all(p.grad is None for p in module.parameters()), "functional_call must leave the module's .grad alone"


@pytest.mark.dtypes("float32")  # functional_call swaps parameters; the arithmetic is test_autograd's
@EXAMPLES
@given(data=st.data())
def test_functional_call_seed_net(target, device, dtype, data):
    batch, hidden = data.draw(st.integers(1, 6), label="batch"), data.draw(st.integers(1, 12), label="hidden")
    digits = st.lists(st.integers(0, 1), min_size=10, max_size=10)  # the seed's binary encoding
    x = np.array(data.draw(st.lists(digits, min_size=batch, max_size=batch), label="x"), dtype=np.float64)
    arrays = {
        name: data.draw(_values(shape, dtype, 1.0), label=name)
        for name, shape in (("w1", (hidden, 10)), ("b1", (hidden,)), ("w2", (4, hidden)), ("b2", (4,)))
    }
    y = np.eye(4)[data.draw(st.lists(st.integers(0, 3), min_size=batch, max_size=batch), label="classes")]
    run_check(check_functional_call, target=target, x=x, y=y, device=device, dtype=dtype, **arrays)


# --- vmap: per-sample gradients of every loss and layer ---------------------------------------

LOSSES = ("mse", "cross_entropy")
LAYERS = ("linear", "sigmoid", "softmax", "log_softmax")


def check_per_sample_loss_grad(target: Target, loss, x, y, *, options, device, dtype) -> None:
    """vmap(grad(loss)) over the batch against the reference called one sample at a time."""
    touch("transform", api="vmap_per_sample_loss_grad")
    tx = target.tensor(x, dtype=dtype, device=device)
    if loss == "mse":
        ty = target.tensor(y, dtype=dtype, device=device)
        got = target.func.vmap(target.func.grad(lambda a, b: target.F.mse_loss(a, b, **options)))(tx, ty)
        for n in range(x.shape[0]):
            want = ref.mse_vjp(x[n], y[n], 1.0, options["reduction"])[0]
            bound = ftol.mse_vjp_bound(x[n], y[n], 1.0, options["reduction"], dtype=dtype)[0]
            assert_close(got[n], want, bound=bound, op=f"vmap(grad(mse_loss)) sample {n}", dtype=dtype)
        return
    kw = dict(options)
    if kw.get("weight") is not None:
        kw["weight"] = target.tensor(kw["weight"], dtype=dtype, device=device)
    ty = target.labels(y, device=device)
    got = target.func.vmap(target.func.grad(lambda a, t: target.F.cross_entropy(a, t, **kw)))(tx, ty)
    for n in range(x.shape[0]):
        want = rt.cross_entropy_sample_grad(x[n], int(y[n]), **options)
        bound = cross_entropy_sample_vjp_bound(x[n], int(y[n]), dtype=dtype, **options)
        assert_close(got[n], want, bound=bound, op=f"vmap(grad(cross_entropy({options}))) sample {n}", dtype=dtype)


def _label_smoothings(device: str) -> tuple[float, ...]:
    """Label smoothing is drawn only where this torch can vmap it (probed: torch 2.0.1 cannot)."""
    return (0.0, 0.125, 0.25) if available("vmap_cross_entropy_label_smoothing", device) else (0.0,)


@EXAMPLES
@given(data=st.data())
def test_per_sample_loss_gradients(target, device, dtype, data):
    loss = data.draw(st.sampled_from(LOSSES), label="loss")
    batch = data.draw(st.integers(1, MAX_BATCH), label="batch")
    features = data.draw(st.integers(2, MAX_FEATURES), label="features")
    x = data.draw(_values((batch, features), dtype), label="x")
    if loss == "mse":
        y = data.draw(_values((batch, features), dtype), label="y")
        options = {"reduction": data.draw(st.sampled_from(("mean", "sum")), label="reduction")}
    else:
        reduction = data.draw(st.sampled_from(ref.REDUCTIONS), label="reduction")
        ignore_index = data.draw(st.sampled_from((-100, features - 1)), label="ignore_index")
        # a mean over one ignored sample is 0/0: keep ignored classes out of mean-reduced samples
        top = features - 1 if (reduction == "mean" and ignore_index >= 0) else features
        y = np.array(data.draw(st.lists(st.integers(0, top - 1), min_size=batch, max_size=batch), label="y"))
        positive = fst.arrays((features,), dtype=dtype, min_magnitude=0.25, max_magnitude=2.0).map(
            lambda w: np.where(w == 0, 1.0, np.abs(w))
        )
        weight = data.draw(st.none() | positive, label="weight")
        options = {
            "reduction": reduction,
            "weight": weight,
            "label_smoothing": data.draw(st.sampled_from(_label_smoothings(device)), label="label_smoothing"),
            "ignore_index": ignore_index,
        }
        if "F.cross_entropy" in target.describe()["overrides"]:
            # weight, label_smoothing and ignore_index are torch's API; a target with its own
            # cross-entropy (seed-raw: the chapter's class-index loss) is held to the reduction only
            options = {"reduction": reduction}
    run_check(
        check_per_sample_loss_grad, target=target, loss=loss, x=x, y=y, options=options, device=device, dtype=dtype
    )


def _layer(target: Target, layer: str):
    if layer == "linear":
        return lambda w, b, x: target.F.linear(x, w, b)
    return {
        "sigmoid": lambda x: target.torch.sigmoid(x),
        "softmax": lambda x: target.torch.softmax(x, -1),
        "log_softmax": lambda x: target.torch.log_softmax(x, -1),
    }[layer]


def check_per_sample_layer_grad(target: Target, layer, x, g, w=None, b=None, *, device, dtype) -> None:
    """vmap of the layer and of grad(Σ g_n ⊙ layer(x_n)) against the reference one sample at a time."""
    func, f = target.func, _layer(target, layer)
    touch("transform", api="vmap_per_sample_layer_grad")
    tx, tg = target.tensor(x, dtype=dtype, device=device), target.tensor(g, dtype=dtype, device=device)
    if layer == "linear":
        tw, tb = target.tensor(w, dtype=dtype, device=device), target.tensor(b, dtype=dtype, device=device)
        out = func.vmap(f, in_dims=(None, None, 0))(tw, tb, tx)
        grads = func.vmap(
            func.grad(lambda w_, b_, x_, g_: (g_ * f(w_, b_, x_)).sum(), argnums=(0, 1)), in_dims=(None, None, 0, 0)
        )(tw, tb, tx, tg)
        for n in range(x.shape[0]):
            assert_close(
                out[n],
                ref.linear(x[n], w, b),
                bound=ftol.linear_bound(x[n], w, b, dtype=dtype),
                op=f"vmap(linear) sample {n}",
                dtype=dtype,
            )
            want = ref.linear_vjp(x[n], w, b, g[n])
            bounds = ftol.linear_vjp_bound(x[n], w, b, g[n], dtype=dtype)
            for name, got, i in (("weight", grads[0][n], 1), ("bias", grads[1][n], 2)):
                assert_close(got, want[i], bound=bounds[i], op=f"vmap(grad(linear)) d/d{name} sample {n}", dtype=dtype)
        return
    forward, vjp = {
        "sigmoid": (ref.sigmoid, ref.sigmoid_vjp),
        "softmax": (ref.softmax, ref.softmax_vjp),
        "log_softmax": (ref.log_softmax, ref.log_softmax_vjp),
    }[layer]
    bound, vjp_bound = {
        "sigmoid": (ftol.sigmoid_bound, ftol.sigmoid_vjp_bound),
        "softmax": (ftol.softmax_bound, ftol.softmax_vjp_bound),
        "log_softmax": (ftol.log_softmax_bound, ftol.log_softmax_vjp_bound),
    }[layer]
    out = func.vmap(f)(tx)
    grads = func.vmap(func.grad(lambda x_, g_: (g_ * f(x_)).sum()))(tx, tg)
    for n in range(x.shape[0]):
        assert_close(out[n], forward(x[n]), bound=bound(x[n], dtype=dtype), op=f"vmap({layer}) sample {n}", dtype=dtype)
        assert_close(
            grads[n],
            vjp(x[n], g[n])[0],
            bound=vjp_bound(x[n], g[n], dtype=dtype)[0],
            op=f"vmap(grad({layer})) sample {n}",
            dtype=dtype,
        )


@EXAMPLES
@given(data=st.data())
def test_per_sample_layer_gradients(target, device, dtype, data):
    layer = data.draw(st.sampled_from(LAYERS), label="layer")
    batch = data.draw(st.integers(1, MAX_BATCH), label="batch")
    features = data.draw(st.integers(1, MAX_FEATURES), label="features")
    x = data.draw(_values((batch, features), dtype), label="x")
    w = b = None
    out_f = features
    if layer == "linear":
        out_f = data.draw(st.integers(1, MAX_FEATURES), label="out_features")
        w = data.draw(_values((out_f, features), dtype), label="w")
        b = data.draw(_values((out_f,), dtype), label="b")
    g = data.draw(_values((batch, out_f), dtype, 4.0), label="g")
    run_check(check_per_sample_layer_grad, target=target, layer=layer, x=x, g=g, w=w, b=b, device=device, dtype=dtype)


# --- second order: Hessian-vector products and double backward -------------------------------

HVP_MODES = ("jvp(grad)", "grad(<grad, v>)", "vjp(vjp)", "create_graph")
HVP_CELLS = {
    "jvp(grad)": "hvp_forward_over_reverse",
    "grad(<grad, v>)": "hvp_reverse_over_reverse",
    "vjp(vjp)": "hvp_reverse_over_reverse",
    "create_graph": "double_backward",
}
"""Each HVP mode → the surface cell (fizzcheck.surface.catalogue, family ``transform``) it exercises."""


def _scalar_function(target: Target, op: str, g, extra, *, device: str, dtype: str):
    """L(x) = Σ g ⊙ op(x) (for the losses: g · loss(x, y) or Σ g_n loss_n)."""
    tg = target.tensor(g, dtype=dtype, device=device)
    if op == "sigmoid":
        return lambda x: (tg * target.torch.sigmoid(x)).sum()
    if op in ("softmax", "log_softmax"):
        fn = target.torch.softmax if op == "softmax" else target.torch.log_softmax
        return lambda x: (tg * fn(x, extra["dim"])).sum()
    if op == "mse":
        ty = target.tensor(extra["y"], dtype=dtype, device=device)
        return lambda x: (tg * target.F.mse_loss(x, ty, reduction=extra["reduction"])).sum()
    tt = target.labels(extra["target"], device=device)
    return lambda x: (tg * target.F.cross_entropy(x, tt, reduction=extra["reduction"])).sum()


def hessian_vector_product(target: Target, f, tx, tv, mode: str):
    """H v of the scalar function f at tx along tv, by one of :data:`HVP_MODES`."""
    func = target.func
    if mode == "jvp(grad)":
        with _quiet():
            return func.jvp(func.grad(f), (tx,), (tv,))[1]
    if mode == "grad(<grad, v>)":
        return func.grad(lambda x: (func.grad(f)(x) * tv).sum())(tx)
    if mode == "vjp(vjp)":

        def gradient(x):
            out, pullback = func.vjp(f, x)
            return pullback(target.torch.ones_like(out))[0]

        return func.vjp(gradient, tx)[1](tv)[0]
    leaf = tx.detach().requires_grad_(True)
    (gx,) = target.autograd.grad(f(leaf), leaf, create_graph=True)
    (hv,) = target.autograd.grad(gx, leaf, grad_outputs=tv)
    return hv


def check_hvp(target: Target, op, x, g, v, *, mode, extra, device, dtype) -> None:
    """torch's Hessian-vector product of Σ g ⊙ op(x) along v against the hand-derived reference."""
    f = _scalar_function(target, op, g, extra, device=device, dtype=dtype)
    tx, tv = target.tensor(x, dtype=dtype, device=device), target.tensor(v, dtype=dtype, device=device)
    touch("transform", api=HVP_CELLS[mode])
    got = hessian_vector_product(target, f, tx, tv, mode)
    kw = {k: extra[k] for k in ("dim", "reduction", "target") if k in extra}
    want = rt.hvp(op, x, g, v, **kw)
    assert_close(got, want, bound=hvp_bound(op, x, g, v, dtype=dtype, **kw), op=f"{mode} H·v of {op}", dtype=dtype)


@pytest.mark.dtypes(*FULL_PRECISIONS)
@EXAMPLES
@given(data=st.data())
def test_hessian_vector_products(target, device, dtype, data):
    op = data.draw(st.sampled_from(rt.HVP_OPS), label="op")
    mode = data.draw(st.sampled_from(HVP_MODES), label="mode")
    shape = data.draw(st.tuples(st.integers(1, MAX_BATCH), st.integers(2, MAX_FEATURES)), label="shape")
    x = data.draw(_values(shape, dtype), label="x")
    v = data.draw(_values(shape, dtype, 4.0), label="v")
    extra: dict = {}
    if op in ("mse", "cross_entropy"):
        reductions = ref.REDUCTIONS
        if (op, mode) == ("mse", "jvp(grad)"):  # mean: the known torch defect, see test_mse_forward_over_reverse_mean
            reductions = ("none", "sum")
        extra["reduction"] = data.draw(st.sampled_from(reductions), label="reduction")
        loss_shape = shape if op == "mse" else shape[:1]
        g = data.draw(_values(loss_shape if extra["reduction"] == "none" else (), dtype, 4.0), label="g")
        if op == "mse":
            extra["y"] = data.draw(_values(shape, dtype), label="y")
        else:
            extra["target"] = data.draw(fst.class_targets(shape[:1], shape[1]), label="target")
    else:
        extra["dim"] = data.draw(st.sampled_from((0, 1, -1)), label="dim") if op != "sigmoid" else None
        g = data.draw(_values(shape, dtype, 4.0), label="g")
    run_check(check_hvp, target=target, op=op, x=x, g=g, v=v, mode=mode, extra=extra, device=device, dtype=dtype)


MSE_FORWARD_OVER_REVERSE_DEFECT = (
    "torch defect: forward-over-reverse through mse_loss(reduction='mean') raises 'ZeroTensors are immutable' "
    "when the target carries no tangent. The forward derivative of mse_loss_backward calls "
    "mse_loss_double_backward (torch/csrc/autograd/FunctionsManual.cpp), which computes "
    "`auto grad_input = 2 * grad; grad_input /= input.sym_numel();`: the target's tangent is an efficient "
    "ZeroTensor, 2 * ZeroTensor stays one, and the in-place /= raises. Only reduction='mean' divides, so "
    "'sum' and 'none' work. Reproducer (torch 2.13.0+cpu): "
    "x, y = torch.randn(3), torch.randn(3); "
    "torch.func.jvp(torch.func.grad(lambda x: F.mse_loss(x, y)), (x,), (torch.ones(3),))"
)


@pytest.mark.known_defect("mse-forward-over-reverse-mean")  # registry entry; MSE_FORWARD_OVER_REVERSE_DEFECT explains
def test_mse_forward_over_reverse_mean(target, device):
    """H v of the mean-reduced MSE by jvp(grad) — 2v/N — a known torch defect (fizzcheck.history.defects)."""
    x, y, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.25, -0.5]), np.array([1.0, 2.0, -3.0])
    run_check(
        check_hvp,
        target=target,
        op="mse",
        x=x,
        g=np.array(1.0),
        v=v,
        mode="jvp(grad)",
        extra={"reduction": "mean", "y": y},
        device=device,
        dtype="float64",
    )

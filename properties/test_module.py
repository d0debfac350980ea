"""``nn.Module`` API properties, on random module trees and on the seed's network.

A tree is described by a small spec (nested lists, so a failure's reproducer can print
it) and built from ``nn.Linear``, ``nn.Sigmoid``, ``nn.Sequential``, ``nn.ModuleList``
and a custom module with parameters of its own; specs can reuse an already built module
(``["shared", k]``) or tie an already created parameter (``["tied", k]``). While building,
fizzcheck records what it registered, in order, and derives from that record what the
documented traversals must yield; the target's answers are compared with it. Every module,
parameter and tensor is made through ``target`` (``--fizzcheck-target``), so the ``nn``
classes under test are the target's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fizzcheck.strategies as fst
from fizzcheck import seed as fb
from fizzcheck.bounds.training import fizzbuzz_step_bounds
from fizzcheck.check import assert_all_close, assert_close
from fizzcheck.dtypes import round_to
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.reference import net as ref_net
from fizzcheck.strategies.training import FULL_PRECISIONS, fizzbuzz_runs
from fizzcheck.targets import Target, Tensor

# --- module trees ---------------------------------------------------------------------


@functools.cache
def custom_module(target: Target) -> type:
    """The class ``Custom``, derived from the target's ``nn.Module`` (built at run time, once per target)."""

    class Custom(target.nn.Module):
        """A user-written container: its own parameters plus children registered as attributes."""

    return Custom


@dataclass
class Node:
    """What fizzcheck registered on one module, in registration order."""

    module: Any
    own: list[tuple[str, Tensor]] = field(default_factory=list)
    children: list[tuple[str, Node]] = field(default_factory=list)


class _Builder:
    def __init__(self, target: Target, dtype: Any, device: str) -> None:
        self.target, self.dtype, self.device = target, dtype, device
        self.custom = custom_module(target)
        self.completed: list[Node] = []
        self.parameters: list[Tensor] = []

    def _param(self, size: int) -> Tensor:
        p = self.target.nn.Parameter(self.target.torch.randn(size, dtype=self.dtype, device=self.device))
        self.parameters.append(p)
        return p

    def build(self, spec: list[Any]) -> Node:
        kind = spec[0]
        if kind == "shared" and self.completed:
            return self.completed[spec[1] % len(self.completed)]  # already complete: never an ancestor
        if kind in ("linear", "shared"):
            in_f, out_f, bias = spec[1:] if kind == "linear" else (2, 2, True)
            layer = self.target.nn.Linear(in_f, out_f, bias=bias, dtype=self.dtype, device=self.device)
            own = [("weight", layer.weight)] + ([("bias", layer.bias)] if bias else [])
            self.parameters.extend(p for _, p in own)
            node = Node(layer, own)
        elif kind == "sigmoid":
            node = Node(self.target.nn.Sigmoid())
        elif kind == "tied":
            module = self.custom()
            p = self.parameters[spec[1] % len(self.parameters)] if self.parameters else self._param(3)
            module.register_parameter("tied", p)
            node = Node(module, [("tied", p)])
        elif kind in ("sequential", "list"):
            kids = [self.build(child) for child in spec[1]]
            container = self.target.nn.Sequential if kind == "sequential" else self.target.nn.ModuleList
            node = Node(container(k.module for k in kids) if kind == "list" else container(*(k.module for k in kids)))
            node.children = [(str(i), k) for i, k in enumerate(kids)]
        else:  # custom: own parameters, then children, then maybe one more parameter
            module = self.custom()
            node = Node(module)
            for j in range(spec[1]):
                node.own.append((f"p{j}", self._param(j + 1)))
                module.register_parameter(f"p{j}", node.own[-1][1])
            for i, child in enumerate(spec[2]):
                kid = self.build(child)
                module.add_module(f"c{i}", kid.module)
                node.children.append((f"c{i}", kid))
            if spec[3]:
                node.own.append(("late", self._param(2)))
                module.register_parameter("late", node.own[-1][1])
        self.completed.append(node)
        return node


def build(target: Target, spec: list[Any], *, dtype: str = "float32", device: str = "cpu") -> Node:
    """The module tree of ``spec``, made from the target's ``nn``, with its registration record."""
    return _Builder(target, target.dtype(dtype), device).build(spec)


def module_specs() -> st.SearchStrategy[list[Any]]:
    """Specs of module trees up to ~10 leaves, with shared modules and tied parameters."""
    leaves = st.one_of(
        st.tuples(st.just("linear"), st.integers(1, 4), st.integers(1, 4), st.booleans()).map(list),
        st.just(["sigmoid"]),
        st.tuples(st.just("shared"), st.integers(0, 20)).map(list),
        st.tuples(st.just("tied"), st.integers(0, 20)).map(list),
    )

    def extend(children: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[list[Any]]:
        kids = st.lists(children, max_size=3)
        return st.one_of(
            st.tuples(st.just("sequential"), kids).map(list),
            st.tuples(st.just("list"), kids).map(list),
            st.tuples(st.just("custom"), st.integers(0, 2), kids, st.booleans()).map(list),
        )

    return st.recursive(leaves, extend, max_leaves=10)


# what the documentation says the traversals yield, derived from the registration record


def expected_named_parameters(root: Node) -> list[tuple[str, Tensor]]:
    """``named_parameters()``: modules in pre-order (each once), own parameters in order, each parameter once."""
    out: list[tuple[str, Tensor]] = []
    seen_modules: set[int] = set()
    seen_params: set[int] = set()

    def visit(node: Node, prefix: str) -> None:
        if id(node.module) in seen_modules:
            return
        seen_modules.add(id(node.module))
        for name, p in node.own:
            if id(p) not in seen_params:
                seen_params.add(id(p))
                out.append((prefix + name, p))
        for name, child in node.children:
            visit(child, f"{prefix}{name}.")

    visit(root, "")
    return out


def expected_modules(root: Node) -> list[Any]:
    """``modules()``: pre-order, each module once."""
    out: list[Any] = []
    seen: set[int] = set()

    def visit(node: Node) -> None:
        if id(node.module) not in seen:
            seen.add(id(node.module))
            out.append(node.module)
            for _, child in node.children:
                visit(child)

    visit(root)
    return out


def expected_apply_order(root: Node) -> list[Any]:
    """``apply(fn)``: ``fn`` on each of ``children()`` (distinct direct children) recursively, then on self."""
    out: list[Any] = []

    def visit(node: Node) -> None:
        seen: set[int] = set()
        for _, child in node.children:
            if id(child.module) not in seen:
                seen.add(id(child.module))
                visit(child)
        out.append(node.module)

    visit(root)
    return out


def expected_state_dict_keys(root: Node) -> list[str]:
    """``state_dict()``: own parameters then each registered child under its own prefix (no de-duplication)."""
    keys: list[str] = []

    def visit(node: Node, prefix: str) -> None:
        keys.extend(prefix + name for name, _ in node.own)
        for name, child in node.children:
            visit(child, f"{prefix}{name}.")

    visit(root, "")
    return keys


def _names(modules: list[Any]) -> list[str]:
    return [f"{type(m).__name__}@{id(m) % 10_000:04d}" for m in modules]


# --- parameters(), apply(), train()/eval(), zero_grad() -------------------------------


def check_parameters_in_registration_order(target: Target, spec) -> None:
    root = build(target, spec)
    expected = expected_named_parameters(root)
    got = list(root.module.named_parameters())
    assert [n for n, _ in got] == [n for n, _ in expected], (
        f"named_parameters()={[n for n, _ in got]}, but should be {[n for n, _ in expected]}"
    )
    got_params = list(root.module.parameters())
    same = len(got_params) == len(expected) and all(a is b for a, (_, b) in zip(got_params, expected, strict=False))
    assert same, (
        f"parameters() yielded {len(got_params)} tensors, but should yield the {len(expected)} registered ones, "
        "each exactly once, in registration order"
    )


@given(spec=module_specs())
def test_parameters_in_registration_order(target, spec):
    run_check(check_parameters_in_registration_order, target=target, spec=spec)


def check_apply_visits_children_before_parent(target: Target, spec) -> None:
    root = build(target, spec)
    visited: list[Any] = []
    returned = root.module.apply(visited.append)
    assert returned is root.module, "apply(fn) should return the module itself"
    expected = expected_apply_order(root)
    assert [id(m) for m in visited] == [id(m) for m in expected], (
        f"apply visited {_names(visited)}, but should visit {_names(expected)} (children before parent)"
    )
    missing = {id(m) for m in expected_modules(root)} - {id(m) for m in visited}
    assert not missing, f"apply(fn) skipped {len(missing)} submodule(s)"


@given(spec=module_specs())
def test_apply_visits_children_before_parent(target, spec):
    run_check(check_apply_visits_children_before_parent, target=target, spec=spec)


def check_train_and_eval_are_recursive(target: Target, spec, initial_flags, mode, subtree) -> None:
    root = build(target, spec)
    modules = expected_modules(root)
    for module, flag in zip(modules, initial_flags * len(modules), strict=False):
        module.training = flag
    chosen = modules[subtree % len(modules)]
    reached = {id(m) for m in chosen.modules()}
    before = {id(m): m.training for m in modules}
    returned = chosen.train(mode) if mode or subtree % 2 else chosen.eval()
    assert returned is chosen, "train()/eval() should return the module itself"
    for module in modules:
        want = mode if id(module) in reached else before[id(module)]
        assert module.training == want, (
            f"{type(module).__name__}.training={module.training}, but should be {want} after "
            f"{'train' if mode else 'eval'}() on {'it or an ancestor' if id(module) in reached else 'another subtree'}"
        )


@given(spec=module_specs(), data=st.data())
def test_train_and_eval_are_recursive(target, spec, data):
    flags = data.draw(st.lists(st.booleans(), min_size=1, max_size=8), label="initial flags")
    mode = data.draw(st.booleans(), label="mode")
    subtree = data.draw(st.integers(0, 50), label="subtree")
    run_check(
        check_train_and_eval_are_recursive, target=target, spec=spec, initial_flags=flags, mode=mode, subtree=subtree
    )


def check_zero_grad_clears_every_gradient(target: Target, spec, set_to_none, subtree) -> None:
    root = build(target, spec)
    modules = expected_modules(root)
    chosen = modules[subtree % len(modules)]
    inside = {id(p) for p in chosen.parameters()}
    everything = [p for _, p in expected_named_parameters(root)]
    for p in everything:
        p.grad = target.torch.ones_like(p)
    chosen.zero_grad(set_to_none=set_to_none)
    for p in everything:
        if id(p) not in inside:
            kept = p.grad is not None and bool(target.torch.all(p.grad == 1))
            assert kept, "zero_grad() changed a gradient outside the module"
        elif set_to_none:
            assert p.grad is None, (
                f"zero_grad(set_to_none=True) left a gradient of shape {tuple(p.shape)}, but should set None"
            )
        else:
            assert p.grad is not None, "zero_grad(set_to_none=False) set a gradient to None, but should zero it"
            assert not target.torch.any(p.grad), (
                f"zero_grad(set_to_none=False) left {p.grad.tolist()}, but should be all zeros"
            )


@given(spec=module_specs(), set_to_none=st.booleans(), subtree=st.integers(0, 50))
def test_zero_grad_clears_every_gradient(target, spec, set_to_none, subtree):
    run_check(check_zero_grad_clears_every_gradient, target=target, spec=spec, set_to_none=set_to_none, subtree=subtree)


# --- to(dtype), cpu()/cuda(), state_dict() --------------------------------------------


def check_to_dtype_keeps_values(target: Target, spec, dtype: str) -> None:
    other = "float64" if dtype == "float32" else "float32"
    root = build(target, spec, dtype=dtype)
    params = [p for _, p in expected_named_parameters(root)]
    for p in params:
        p.grad = target.torch.randn_like(p)
    values = [np.array(p.detach().double().numpy(), copy=True) for p in params]
    grads = [np.array(p.grad.double().numpy(), copy=True) for p in params]
    returned = root.module.to(target.dtype(other))
    assert returned is root.module, "to(dtype) should return the module itself"
    moved = list(root.module.parameters())
    assert len(moved) == len(params), f"to({other}) changed the number of parameters from {len(params)} to {len(moved)}"
    for i, (p, value, grad) in enumerate(zip(moved, values, grads, strict=True)):
        assert p.dtype == target.dtype(other), (
            f"parameter {i} has dtype {p.dtype} after to({other}), but should be {other}"
        )
        assert p.grad is not None, f"gradient {i} was lost by to({other})"
        assert p.grad.dtype == target.dtype(other), f"gradient {i} has dtype {p.grad.dtype}, but should be {other}"
        # float32 → float64 is exact; float64 → float32 rounds to nearest
        assert_close(p, round_to(value, other), bound=0.0, op=f"to({other}) parameter {i}", dtype=other)
        assert_close(p.grad, round_to(grad, other), bound=0.0, op=f"to({other}) gradient {i}", dtype=other)


@given(spec=module_specs())
def test_to_dtype_keeps_values(target, dtype, spec):
    run_check(check_to_dtype_keeps_values, target=target, spec=spec, dtype=dtype)


def check_device_moves_keep_values(target: Target, spec, device: str) -> None:
    root = build(target, spec)  # on the CPU
    params = [p for _, p in expected_named_parameters(root)]
    values = [np.array(p.detach().numpy(), copy=True) for p in params]
    module = root.module.cuda() if device == "cuda" else root.module.cpu()
    assert module is root.module, f"{device}() should return the module itself"
    for i, (p, value) in enumerate(zip(module.parameters(), values, strict=True)):
        assert p.device.type == device, f"parameter {i} is on {p.device} after {device}(), but should be on {device}"
        assert_close(p, value, bound=0.0, op=f"{device}() parameter {i}", dtype="float32")
    back = module.cpu()
    for i, (p, value) in enumerate(zip(back.parameters(), values, strict=True)):
        assert p.device.type == "cpu", f"parameter {i} is on {p.device} after cpu(), but should be on cpu"
        assert_close(p, value, bound=0.0, op=f"{device}() then cpu() parameter {i}", dtype="float32")


@given(spec=module_specs())
def test_device_moves_keep_values(target, device, spec):
    run_check(check_device_moves_keep_values, target=target, spec=spec, device=device)


def check_state_dict_round_trips(target: Target, spec) -> None:
    source, destination = build(target, spec), build(target, spec)
    state = source.module.state_dict()
    expected_keys = expected_state_dict_keys(source)
    assert list(state) == expected_keys, f"state_dict() keys={list(state)}, but should be {expected_keys}"
    result = destination.module.load_state_dict(state)
    assert not result.missing_keys, f"load_state_dict reported missing keys {result.missing_keys}"
    assert not result.unexpected_keys, f"load_state_dict reported unexpected keys {result.unexpected_keys}"
    for (name, got), (_, want) in zip(
        destination.module.named_parameters(), source.module.named_parameters(), strict=True
    ):
        assert target.torch.equal(got, want), f"{name} differs after load_state_dict(state_dict()) round trip"


@given(spec=module_specs())
def test_state_dict_round_trips(target, spec):
    run_check(check_state_dict_round_trips, target=target, spec=spec)


def test_load_state_dict_strict_reports_missing_keys(target):
    net = fb.FizzBuzzNet(fb.NUM_DIGITS, 3, fb.OUTPUT_SIZE, target=target)
    state = net.state_dict()
    del state["out.bias"]
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: \"out.bias\""):
        net.load_state_dict(state)


# --- nn.Linear's default initialisation -----------------------------------------------

INIT_FALSE_ALARM = 1e-9
"""False-alarm probability of each statistical check below, for one drawn layer shape."""

INIT_WEIGHTS = 1024
INIT_BIASES = 256
"""Least numbers of weights and biases per check: the drawn layer is widened (more output
features) until it has this many; the documented bound depends on in_features only."""


def dkw_epsilon(n: int, alpha: float) -> float:
    """ε with P(sup |F_n − F| > ε) <= α for n i.i.d. samples (Dvoretzky–Kiefer–Wolfowitz, Massart's constant).

    Massart (1990): P(sup_x |F_n(x) − F(x)| > ε) <= 2 exp(−2 n ε²) for every n and ε, so
    ε = sqrt(ln(2/α) / (2n)) gives false-alarm probability at most α.
    """
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def assert_uniform(samples: np.ndarray, bound: float, *, what: str) -> None:
    """Samples look like i.i.d. U(−bound, bound): three checks, each with false-alarm rate <= INIT_FALSE_ALARM.

    1. range: every |sample| <= bound (deterministic: a uniform draw never leaves its support);
    2. distribution: the Kolmogorov–Smirnov distance to U(−bound, bound) is below the DKW ε;
    3. reach: max |sample| >= bound (1 − δ), where P(all n below) = (1 − δ)^n = α fixes δ.
    """
    __tracebackhide__ = True
    n = samples.size
    largest = float(np.max(np.abs(samples)))
    # float32 rounding of bound·U may land one rounding above the float64 bound
    assert largest <= bound * (1 + 2.0**-23), f"max |{what}|={largest!r}, but should be <= {bound!r} = 1/sqrt(fan_in)"
    u = np.sort(samples.ravel()) / bound  # should be U(−1, 1): F(u) = (u + 1) / 2
    ecdf_hi, ecdf_lo = np.arange(1, n + 1) / n, np.arange(0, n) / n
    cdf = (np.clip(u, -1.0, 1.0) + 1.0) / 2.0
    distance = float(max(np.max(ecdf_hi - cdf), np.max(cdf - ecdf_lo)))
    epsilon = dkw_epsilon(n, INIT_FALSE_ALARM)
    assert distance <= epsilon, (
        f"KS distance of {n} {what} samples to U(−1/√fan_in, 1/√fan_in) is {distance:.4f}, but should be <= {epsilon:.4f} "
        f"(false-alarm rate {INIT_FALSE_ALARM:g})"
    )
    delta = -math.expm1(math.log(INIT_FALSE_ALARM) / n)
    assert largest >= bound * (1 - delta), (
        f"max |{what}|={largest!r} never came near 1/sqrt(fan_in)={bound!r} in {n} samples "
        f"(should exceed {bound * (1 - delta)!r}; false-alarm rate {INIT_FALSE_ALARM:g})"
    )


def check_linear_default_init(target: Target, in_features: int, out_features: int, seed: int, dtype: str) -> None:
    target.torch.manual_seed(seed)
    width = max(out_features, math.ceil(INIT_WEIGHTS / in_features), INIT_BIASES)
    layer = target.nn.Linear(in_features, width, dtype=target.dtype(dtype))
    bound = 1.0 / math.sqrt(in_features)
    assert_uniform(layer.weight.detach().double().numpy(), bound, what="weight")
    assert_uniform(layer.bias.detach().double().numpy(), bound, what="bias")


@given(data=st.data())
def test_linear_default_init(target, dtype, data):
    """``nn.Linear`` documents weight and bias ~ U(−√k, √k), k = 1/in_features.

    With INIT_FALSE_ALARM = 1e-9 per check, three checks on weights and biases and 100
    drawn shapes per dtype, a correct ``nn.Linear`` fails one run with probability below 2e-6.
    """
    in_features = data.draw(fst.sides(min_side=1), label="in_features")
    out_features = data.draw(fst.sides(min_side=1, max_side=64), label="out_features")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    run_check(
        check_linear_default_init,
        target=target,
        in_features=in_features,
        out_features=out_features,
        seed=seed,
        dtype=dtype,
    )


# --- nn.Sequential equals the hand-written class --------------------------------------


def check_sequential_matches_module(
    target: Target, hidden_weight, hidden_bias, out_weight, out_bias, numbers, *, output_sigmoid, device, dtype
) -> None:
    params = dict(zip(ref_net.PARAMETER_NAMES, (hidden_weight, hidden_bias, out_weight, out_bias), strict=True))
    sizes = (fb.NUM_DIGITS, hidden_weight.shape[0], fb.OUTPUT_SIZE)
    net = fb.FizzBuzzNet(*sizes, output_sigmoid=output_sigmoid, target=target)
    net = net.to(device=device, dtype=target.dtype(dtype))
    net.load_state_dict({name: target.tensor(value, dtype=dtype, device=device) for name, value in params.items()})
    seq = fb.fizzbuzz_sequential(*sizes, output_sigmoid=output_sigmoid, target=target)
    seq = seq.to(device=device, dtype=target.dtype(dtype))
    # the same values, in registration order: parameters() of both line up one to one
    seq_state = dict(zip(seq.state_dict(), net.state_dict().values(), strict=True))
    seq.load_state_dict(seq_state)
    assert [p.shape for p in seq.parameters()] == [p.shape for p in net.parameters()]
    x = target.tensor(fb.encode(numbers), dtype=dtype, device=device)
    out_net, out_seq = net(x), seq(x)
    classes = target.labels(fb.labels(numbers), device=device)
    loss_name = "mse" if output_sigmoid else "cross_entropy"
    bounds = fizzbuzz_step_bounds(
        params, fb.encode(numbers), fb.labels(numbers), loss_name=loss_name, lr=0.0, dtype=dtype
    )
    # both are within `bounds` of the reference, so within twice that of each other
    assert_close(
        out_seq, target.numpy(out_net), bound=2 * bounds.scores, op="Sequential vs FizzBuzzNet outputs", dtype=dtype
    )
    fb.module_loss(out_net, classes, loss_name, target=target).backward()
    fb.module_loss(out_seq, classes, loss_name, target=target).backward()
    parts = []
    for name, p_net, p_seq in zip(ref_net.PARAMETER_NAMES, net.parameters(), seq.parameters(), strict=True):
        assert p_net.grad is not None, f"FizzBuzzNet's {name} got no gradient"
        assert p_seq.grad is not None, f"Sequential's {name} got no gradient"
        parts.append((f"grad {name}", p_seq.grad, target.numpy(p_net.grad), 2 * bounds.grads[name]))
    assert_all_close(parts, op="Sequential vs FizzBuzzNet", dtype=dtype)


@pytest.mark.dtypes(*FULL_PRECISIONS)
@given(data=st.data())
def test_sequential_matches_module(target, device, dtype, data):
    run = data.draw(fizzbuzz_runs(dtype=dtype, max_steps=1), label="run")
    run_check(
        check_sequential_matches_module,
        target=target,
        **{k: run[k] for k in ("hidden_weight", "hidden_bias", "out_weight", "out_bias")},
        numbers=run["batches"][0],
        output_sigmoid=run["loss_name"] == "mse",
        device=device,
        dtype=dtype,
    )

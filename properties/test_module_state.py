"""``nn.Module`` state of the seed's modules: ``load_state_dict`` (``strict``, ``assign``),
``to`` / ``cpu`` / ``cuda`` / ``half`` / ``double``, ``requires_grad_``, ``named_parameters``
and ``buffers``, against what torch documents.

``load_state_dict``'s docstring (torch 2.13): "assign (bool, optional): When set to
``False``, the properties of the tensors in the current module are preserved whereas setting
it to ``True`` preserves properties of the Tensors in the state dict. The only exception is
the ``requires_grad`` field of ``Parameter`` for which the value from the module is
preserved." So, per parameter:

* ``assign=False``: the same ``Parameter`` object (optimizers holding it stay valid), the
  module's dtype, device and ``requires_grad``; the value is the state dict's, cast to the
  module's dtype (a copy: changing the dict afterwards changes nothing);
* ``assign=True``: the state dict's dtype, device and exact value, still a ``Parameter``
  registered under the same name, with the module's ``requires_grad``.

The oracle is that documented contract plus numpy (``fizzcheck.dtypes.round_to`` for the
casts); every module and tensor is made through ``target``.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fizzcheck.strategies as fst
from fizzcheck import seed as fb
from fizzcheck.dtypes import round_to
from fizzcheck.history.capabilities import available
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.strategies.training import FULL_PRECISIONS
from fizzcheck.surface import touch
from fizzcheck.targets import Target

MODULES = ("Linear", "Sigmoid", "Softmax", "LogSoftmax", "Sequential", "FizzBuzzNet")
"""The seed's modules (Sequential: the chapter's Linear → Sigmoid → Linear → Sigmoid)."""


def build_module(target: Target, kind: str, *, dtype: str, device: str = "cpu"):
    """One of :data:`MODULES`, small, in ``dtype`` on ``device``, made from the target's ``nn``."""
    torch_dtype = target.dtype(dtype)
    if kind == "Linear":
        module = target.nn.Linear(3, 2)
    elif kind == "Sigmoid":
        module = target.nn.Sigmoid()
    elif kind in ("Softmax", "LogSoftmax"):
        module = getattr(target.nn, kind)(dim=-1)
    elif kind == "Sequential":
        module = fb.fizzbuzz_sequential(4, 3, 2, output_sigmoid=True, target=target)
    else:
        module = fb.FizzBuzzNet(4, 3, 2, target=target)
    return module.to(device=device, dtype=torch_dtype)


def _require_assign(target: Target) -> None:
    if "assign" not in inspect.signature(target.nn.Module.load_state_dict).parameters:
        pytest.skip(f"not available in this torch: load_state_dict(assign=...) ({target.describe()['torch']})")


def check_load_state_dict(target: Target, kind, values, *, assign, frozen, source_dtype, device, dtype) -> None:
    """Load a state dict of ``values`` (in ``source_dtype``) into a module, with ``assign``."""
    module = build_module(target, kind, dtype=dtype, device=device)
    before = dict(module.named_parameters())
    for name in frozen:
        before[name].requires_grad_(False)
    state = {name: target.tensor(values[name], dtype=source_dtype, device=device) for name in before}
    kwargs = {"assign": True} if assign else {}
    touch("module", api="load_state_dict_assign" if assign else "load_state_dict_copy")
    result = module.load_state_dict(state, strict=True, **kwargs)
    assert not result.missing_keys, f"load_state_dict reported {result}"
    assert not result.unexpected_keys, f"load_state_dict reported {result}"
    after = dict(module.named_parameters())
    assert list(after) == list(before), f"named_parameters()={list(after)}, but should be {list(before)}"
    for name, p in after.items():
        what = f"{kind}.{name} after load_state_dict(assign={assign})"
        assert isinstance(p, target.nn.Parameter), f"{what} is a {type(p).__name__}, but should be a Parameter"
        assert p.requires_grad == (name not in frozen), (
            f"{what}: requires_grad={p.requires_grad}, but the module's was kept"
        )
        assert str(p.device) == str(state[name].device), (
            f"{what}: device {p.device}, but should be {state[name].device}"
        )
        if assign:
            assert p.dtype == state[name].dtype, f"{what}: dtype {p.dtype}, but should be the state dict's"
            assert p is not before[name], f"{what} is still the module's old Parameter"
            np.testing.assert_array_equal(target.numpy(p), target.numpy(state[name]), err_msg=what)
        else:
            assert p is before[name], f"{what} is a new object: parameter identity lost"
            assert p.dtype == target.dtype(dtype), f"{what}: dtype {p.dtype}, but should stay {dtype}"
            np.testing.assert_array_equal(target.numpy(p), round_to(target.numpy(state[name]), dtype), err_msg=what)
            loaded = target.numpy(p)
            with target.torch.no_grad():
                state[name].add_(1.0)  # a copy: the module must not see later changes of the dict
            np.testing.assert_array_equal(target.numpy(p), loaded, err_msg=f"{what} aliases the dict")


@pytest.mark.dtypes(*FULL_PRECISIONS)
@pytest.mark.behaviour_change("load-state-dict-assign-requires-grad")  # torch 2.1 unfreezes on assign=True
@given(data=st.data())
def test_load_state_dict_assign(target, device, dtype, data):
    kind = data.draw(st.sampled_from(MODULES), label="module")
    # assign=True is drawn where this torch has it (probed: torch 2.0.1 has no assign=)
    assign = data.draw(st.booleans() if available("load_state_dict_assign", device) else st.just(False), label="assign")
    if assign:
        _require_assign(target)
    shapes = {n: tuple(p.shape) for n, p in build_module(target, kind, dtype=dtype).named_parameters()}
    source_dtype = data.draw(st.sampled_from(FULL_PRECISIONS), label="source_dtype")
    values = {n: data.draw(fst.arrays(s, dtype=source_dtype, max_magnitude=4.0), label=n) for n, s in shapes.items()}
    frozen = data.draw(
        st.lists(st.sampled_from(sorted(shapes)), unique=True) if shapes else st.just([]), label="frozen"
    )
    run_check(
        check_load_state_dict,
        target=target,
        kind=kind,
        values=values,
        assign=assign,
        frozen=frozen,
        source_dtype=source_dtype,
        device=device,
        dtype=dtype,
    )


def check_load_state_dict_strict(target: Target, kind, drop, extra, *, strict, device) -> None:
    """Missing and unexpected keys: strict=True raises naming them; strict=False loads the rest and reports them."""
    module = build_module(target, kind, dtype="float32", device=device)
    touch("module", api="load_state_dict_strict")
    state = {n: p.detach() + 1.0 for n, p in module.state_dict().items()}
    for name in drop:
        del state[name]
    for name in extra:
        state[name] = target.torch.zeros(1, device=device)
    old = {n: target.numpy(p) for n, p in module.state_dict().items()}
    if strict and (drop or extra):
        with pytest.raises(RuntimeError, match="Missing key" if drop else "Unexpected key"):
            module.load_state_dict(state, strict=True)
        for name, p in module.state_dict().items():  # nothing was half-loaded into a named key that was missing
            if name in drop:
                np.testing.assert_array_equal(target.numpy(p), old[name])
        return
    result = module.load_state_dict(state, strict=strict)
    assert sorted(result.missing_keys) == sorted(drop), f"missing_keys={result.missing_keys}, but should be {drop}"
    assert sorted(result.unexpected_keys) == sorted(extra), (
        f"unexpected_keys={result.unexpected_keys}, but should be {extra}"
    )
    for name, p in module.state_dict().items():
        want = old[name] if name in drop else old[name] + 1.0
        np.testing.assert_array_equal(target.numpy(p), round_to(want, "float32"), err_msg=f"{kind}.{name}")


@given(data=st.data())
def test_load_state_dict_strict(target, device, data):
    kind = data.draw(st.sampled_from(MODULES), label="module")
    keys = sorted(build_module(target, kind, dtype="float32").state_dict())
    drop = data.draw(st.lists(st.sampled_from(keys), unique=True) if keys else st.just([]), label="drop")
    extra = data.draw(st.lists(st.sampled_from(("extra.weight", "0.nope", "bias_")), unique=True), label="extra")
    strict = data.draw(st.booleans(), label="strict")
    run_check(
        check_load_state_dict_strict,
        target=target,
        kind=kind,
        drop=sorted(drop),
        extra=sorted(extra),
        strict=strict,
        device=device,
    )


CONVERSIONS = ("to(dtype)", "half", "double", "float", "to(device)", "cpu", "cuda")
CONVERSION_CELLS = {c: "to" if c.startswith("to(") else c for c in CONVERSIONS}
"""Each conversion → its surface cell (fizzcheck.surface.catalogue, family ``module``)."""


def check_conversion(target: Target, kind, conversion, frozen, with_grad, *, device) -> None:
    """A conversion keeps Parameter objects, names, requires_grad and values (rounded to the new dtype)."""
    module = build_module(target, kind, dtype="float64", device="cpu")
    module.register_buffer("counter", target.torch.arange(3.0, dtype=target.dtype("float64")))
    before = dict(module.named_parameters())
    for name in frozen:
        before[name].requires_grad_(False)
    if with_grad:
        for p in before.values():
            p.grad = target.torch.ones_like(p) / 3
    values = {n: target.numpy(p) for n, p in before.items()}
    dtype, where = "float64", "cpu"
    touch("module", api=CONVERSION_CELLS[conversion])
    if conversion == "to(dtype)":
        returned, dtype = module.to(target.dtype("float32")), "float32"
    elif conversion in ("half", "double", "float"):
        returned = getattr(module, conversion)()
        dtype = {"half": "float16", "double": "float64", "float": "float32"}[conversion]
    elif conversion == "to(device)":
        returned, where = module.to(device), device
    elif conversion == "cuda":  # drawn only when the device under test is CUDA
        returned, where = module.cuda(), device
    else:
        returned = module.to(device).cpu()
    assert returned is module, f"{conversion} returned {type(returned).__name__}, not the module itself"
    after = dict(module.named_parameters())
    assert list(after) == list(before), f"names changed: {list(after)} vs {list(before)}"
    for name, p in after.items():
        what = f"{kind}.{name} after {conversion}"
        assert p is before[name], f"{what}: a new Parameter object (optimizers holding the old one break)"
        assert p.dtype == target.dtype(dtype), f"{what}: dtype {p.dtype}, but should be {dtype}"
        assert p.device.type == target.torch.device(where).type, f"{what}: device {p.device}, but should be {where}"
        assert p.requires_grad == (name not in frozen), f"{what}: requires_grad={p.requires_grad} changed"
        np.testing.assert_array_equal(target.numpy(p), round_to(values[name], dtype), err_msg=what)
        if with_grad:
            assert p.grad is not None, f"{what}: .grad lost"
            assert (p.grad.dtype, p.grad.device) == (p.dtype, p.device), f"{what}: .grad not moved"
            np.testing.assert_array_equal(target.numpy(p.grad), round_to(np.full(p.shape, 1 / 3), dtype), err_msg=what)
    (buffer,) = module.buffers()
    assert buffer.dtype == target.dtype(dtype), f"buffer dtype {buffer.dtype}, but should be {dtype}"
    assert buffer.device.type == target.torch.device(where).type, f"buffer on {buffer.device}, but should be {where}"
    np.testing.assert_array_equal(target.numpy(buffer), [0.0, 1.0, 2.0])


@given(data=st.data())
def test_module_conversions(target, device, data):
    kind = data.draw(st.sampled_from(MODULES), label="module")
    names = sorted(n for n, _ in build_module(target, kind, dtype="float32").named_parameters())
    conversions = CONVERSIONS if device.startswith("cuda") else tuple(c for c in CONVERSIONS if c != "cuda")
    conversion = data.draw(st.sampled_from(conversions), label="conversion")
    frozen = data.draw(st.lists(st.sampled_from(names), unique=True) if names else st.just([]), label="frozen")
    with_grad = data.draw(st.booleans(), label="with_grad")
    run_check(
        check_conversion,
        target=target,
        kind=kind,
        conversion=conversion,
        frozen=frozen,
        with_grad=with_grad,
        device=device,
    )


def check_requires_grad_and_traversals(target: Target, kind, flag, *, device) -> None:
    """requires_grad_(flag) reaches every parameter; named_parameters and buffers match state_dict."""
    module = build_module(target, kind, dtype="float32", device=device)
    touch("module", api=("requires_grad_", "named_parameters", "buffers"))
    assert module.requires_grad_(flag) is module, "requires_grad_ must return the module"
    named = dict(module.named_parameters())
    assert all(p.requires_grad == flag for p in named.values()), f"requires_grad_({flag}) missed a parameter"
    assert list(module.buffers()) == [], f"the seed's {kind} has no buffers, got {list(module.named_buffers())}"
    assert list(module.state_dict()) == list(named), "state_dict keys must be named_parameters' names (no buffers)"
    assert [id(p) for p in module.parameters()] == [id(p) for p in named.values()], "parameters() != named_parameters()"
    for name, p in named.items():  # state_dict holds detached views of the same storage
        s = module.state_dict()[name]
        assert not s.requires_grad, f"state_dict()[{name!r}] is not detached"
        assert s.data_ptr() == p.data_ptr(), f"state_dict()[{name!r}] is not an alias of the parameter"


@given(kind=st.sampled_from(MODULES), flag=st.booleans())
def test_requires_grad_and_traversals(target, device, kind, flag):
    run_check(check_requires_grad_and_traversals, target=target, kind=kind, flag=flag, device=device)

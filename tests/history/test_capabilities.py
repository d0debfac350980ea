"""Capability probes answer what trying the feature answers: on the pinned torch (probed, not
hard-coded), and on a torch made to lack the feature the way older releases lack it."""

from __future__ import annotations

import pytest
import torch

from fizzcheck.history import capabilities
from fizzcheck.history.capabilities import CAPABILITIES, available, feature


def _fused_sgd_works_here() -> bool:
    """Try fused SGD directly, independently of the probe's code path."""
    p = torch.ones(3, requires_grad=True)
    try:
        opt = torch.optim.SGD([p], lr=0.25, momentum=0.5, fused=True)
    except TypeError:
        return False
    p.grad = torch.full_like(p, 2.0)
    opt.step()
    return torch.equal(p.detach(), torch.full_like(p, 0.5))


def test_sgd_fused_probe_agrees_with_trying_it():
    assert available("sgd_fused", "cpu") == _fused_sgd_works_here()


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.script` is deprecated")  # torch's own, on the first jvp
def test_forward_mode_probes_agree_with_trying_them():
    from torch.autograd import forward_ad
    from torch.func import jvp

    x = torch.tensor([0.5])
    _, tangent = jvp(torch.exp, (x,), (torch.ones_like(x),))
    assert available("torch_func_jvp", "cpu") == bool(torch.allclose(tangent, torch.exp(x)))
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(x, torch.ones_like(x))
        works = bool(torch.allclose(forward_ad.unpack_dual(torch.exp(dual)).tangent, torch.exp(x)))
    assert available("forward_ad", "cpu") == works


class _SGDWithoutFused(torch.optim.SGD):
    """torch 2.0.1's SGD signature: no ``fused`` argument."""

    def __init__(self, params, lr=0.001, **kwargs):
        if "fused" in kwargs:
            raise TypeError("SGD.__init__() got an unexpected keyword argument 'fused'")
        super().__init__(params, lr=lr, **kwargs)


class _SGDFusedNotOnThisDevice(torch.optim.SGD):
    def __init__(self, params, lr=0.001, **kwargs):
        if kwargs.get("fused"):
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        super().__init__(params, lr=lr, **kwargs)


class _SGDBroken(torch.optim.SGD):
    def __init__(self, params, lr=0.001, **kwargs):
        raise TypeError("something else is wrong")


def test_sgd_fused_probe_says_false_where_the_feature_is_missing(monkeypatch):
    probe = CAPABILITIES["sgd_fused"].probe
    monkeypatch.setattr(torch.optim, "SGD", _SGDWithoutFused)
    assert probe("cpu") is False
    monkeypatch.setattr(torch.optim, "SGD", _SGDFusedNotOnThisDevice)
    assert probe("cpu") is False


def test_a_probe_lets_an_unrelated_error_escape(monkeypatch):
    """A broken torch is an error, not a missing feature."""
    monkeypatch.setattr(torch.optim, "SGD", _SGDBroken)
    with pytest.raises(TypeError, match="something else is wrong"):
        CAPABILITIES["sgd_fused"].probe("cpu")


def test_answers_are_cached_per_device(monkeypatch):
    calls = []
    fake = capabilities.Capability("fake_counted", "a counted feature on {device}", lambda d: calls.append(d) or True)
    monkeypatch.setitem(CAPABILITIES, "fake_counted", fake)
    try:
        assert available("fake_counted", "cpu")
        assert available("fake_counted", "cpu")
        assert available("fake_counted", "meta")
        assert calls == ["cpu", "meta"]
        assert feature("fake_counted", "meta") == "a counted feature on meta"
    finally:
        capabilities.clear_cache()


def test_unknown_capability_names_the_known_ones():
    with pytest.raises(KeyError, match="sgd_fused"):
        available("no_such_feature")


def test_vmap_label_smoothing_probe_agrees_with_trying_it():
    import torch.nn.functional as F
    from torch.func import grad, vmap

    x, y = torch.randn(5, 3), torch.tensor([0, 2, 1, 1, 0])
    try:
        vmap(grad(lambda a, t: F.cross_entropy(a, t, label_smoothing=0.25, reduction="sum")))(x, y)
        works = True
    except RuntimeError:
        works = False
    assert available("vmap_cross_entropy_label_smoothing", "cpu") == works


def test_vmap_label_smoothing_probe_says_false_on_torch_201s_error(monkeypatch):
    def refuses(*args, **kwargs):
        raise RuntimeError("vmap: It looks like you're either (1) calling .item() on a Tensor or ...")

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", refuses)
    assert CAPABILITIES["vmap_cross_entropy_label_smoothing"].probe("cpu") is False

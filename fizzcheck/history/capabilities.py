"""Capability probes: does the torch under test offer a feature on a device? Asked, never read
from a version string.

Each :class:`Capability` tries its feature once, in this process, on the device in question,
and says True or False; the answer is cached per process and device (:func:`available`). A
property declares the features it needs with ``@pytest.mark.requires(NAME)``; where a probe
says False, :mod:`fizzcheck.plugin.history` reports the property NOT AVAILABLE ("not
available in torch X: feature") instead of running it. A probe catches only the exceptions
that mean "this torch lacks the feature" (for fused SGD: the ``TypeError`` of an unknown
keyword argument, or the ``RuntimeError`` of an unsupported device); anything else escapes,
so a broken torch shows up as an error, not as a missing feature.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CAPABILITIES", "Capability", "available", "clear_cache", "feature", "torch_version"]


def torch_version() -> str:
    """The version string of the torch under test (for messages only; never for decisions)."""
    import torch

    return str(torch.__version__)


@dataclass(frozen=True)
class Capability:
    """A feature of torch that a property may need, and how to ask for it."""

    name: str
    feature: str
    """What the feature is, with ``{device}`` for the device (shown in "not available in torch X: …")."""
    probe: Callable[[str], bool]
    """Tries the feature on a device; True when it works."""


def _sgd_fused(device: str) -> bool:
    """``SGD(fused=True)`` constructs and steps a float32 parameter on ``device``, with the result
    plain SGD gives. torch 2.0.1 and 2.1.2 have no ``fused`` argument (``TypeError: … unexpected
    keyword argument 'fused'``); a release with fused SGD but not for this device refuses it
    with a ``RuntimeError`` naming the supported devices."""
    import torch

    param = torch.zeros(1, device=device, requires_grad=True)
    try:
        optimizer = torch.optim.SGD([param], lr=0.5, fused=True)
        param.grad = torch.ones_like(param)
        optimizer.step()
    except TypeError as exc:
        if re.search(r"unexpected keyword argument 'fused'", str(exc)):
            return False
        raise
    except RuntimeError as exc:
        if re.search(r"supported devices|not supported|requires all the params", str(exc)):
            return False
        raise
    return bool(param.detach().cpu().item() == -0.5)


def _torch_func_jvp(device: str) -> bool:
    """``torch.func.jvp`` exists and gives the derivative of sin at 0 (= 1)."""
    import torch

    try:
        from torch.func import jvp
    except ImportError:
        return False
    x = torch.zeros(1, device=device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JIT_SCRIPT_DEPRECATED)
        tangent = jvp(torch.sin, (x,), (torch.ones_like(x),))[1]
    return bool(tangent.cpu().item() == 1.0)


def _forward_ad(device: str) -> bool:
    """``torch.autograd.forward_ad`` dual numbers: a ``make_dual`` / ``unpack_dual`` round trip."""
    import torch

    try:
        import torch.autograd.forward_ad as forward_ad
    except ImportError:
        return False
    with warnings.catch_warnings(), forward_ad.dual_level():
        warnings.filterwarnings("ignore", message=_JIT_SCRIPT_DEPRECATED)
        dual = forward_ad.make_dual(torch.zeros(1, device=device), torch.ones(1, device=device))
        return bool(forward_ad.unpack_dual(torch.sin(dual)).tangent.cpu().item() == 1.0)


def _vmap_cross_entropy_label_smoothing(device: str) -> bool:
    """``vmap(grad(cross_entropy(..., label_smoothing=0.125)))`` runs over a batch. torch 2.0.1's
    batching rule for label smoothing calls ``.item()`` and vmap refuses it ("vmap: It looks like
    you're either (1) calling .item() on a Tensor ...")."""
    import torch
    import torch.nn.functional as F
    from torch.func import grad, vmap

    x, y = torch.zeros(3, 4, device=device), torch.tensor([0, 1, 2], device=device)
    try:
        got = vmap(grad(lambda a, t: F.cross_entropy(a, t, label_smoothing=0.125)))(x, y)
    except RuntimeError as exc:
        if re.search(r"vmap: It looks like you're either \(1\) calling \.item\(\)", str(exc)):
            return False
        raise
    # softmax of zeros is 1/4 per class; the smoothed target is 0.125/4 + 0.875·onehot
    want = torch.full((3, 4), 0.25 - 0.125 / 4, device=device) - 0.875 * torch.eye(3, 4, device=device)
    return bool(torch.allclose(got, want, atol=1e-6))


def _load_state_dict_assign(device: str) -> bool:
    """``Module.load_state_dict(state, assign=True)`` takes the state dict's tensors themselves
    (torch 2.0.1 has no ``assign``: ``TypeError: … unexpected keyword argument 'assign'``)."""
    import torch

    module = torch.nn.Linear(2, 2, device=device)
    state = {name: torch.ones_like(value) for name, value in module.state_dict().items()}
    try:
        module.load_state_dict(state, assign=True)
    except TypeError as exc:
        if re.search(r"unexpected keyword argument 'assign'", str(exc)):
            return False
        raise
    return module.weight.data_ptr() == state["weight"].data_ptr()


_JIT_SCRIPT_DEPRECATED = r"`torch\.jit\.script` is deprecated"
"""torch's first forward-mode call imports a module that calls the deprecated torch.jit.script;
its warning (DeprecationWarning in 2.13, FutureWarning in 2.14) is torch's, not the probe's."""


CAPABILITIES: dict[str, Capability] = {
    c.name: c
    for c in (
        Capability("sgd_fused", "SGD(fused=True) on {device}", _sgd_fused),
        Capability("torch_func_jvp", "torch.func.jvp on {device}", _torch_func_jvp),
        Capability("forward_ad", "torch.autograd.forward_ad dual numbers on {device}", _forward_ad),
        Capability(
            "load_state_dict_assign", "Module.load_state_dict(assign=True) on {device}", _load_state_dict_assign
        ),
        Capability(
            "vmap_cross_entropy_label_smoothing",
            "vmap over cross_entropy(label_smoothing>0) on {device}",
            _vmap_cross_entropy_label_smoothing,
        ),
    )
}
"""Every capability a property may require, by name."""

_CACHE: dict[tuple[str, str], bool] = {}


def _capability(name: str) -> Capability:
    try:
        return CAPABILITIES[name]
    except KeyError:
        raise KeyError(f"unknown capability {name!r}; known: {', '.join(sorted(CAPABILITIES))}") from None


def available(name: str, device: str = "cpu") -> bool:
    """Whether the torch under test has capability ``name`` on ``device`` (probed once per process)."""
    key = (name, device)
    if key not in _CACHE:
        _CACHE[key] = bool(_capability(name).probe(device))
    return _CACHE[key]


def feature(name: str, device: str = "cpu") -> str:
    """The feature behind capability ``name``, in words, for ``device``."""
    return _capability(name).feature.format(device=device)


def clear_cache() -> None:
    """Forget every probed answer (tests that swap a capability use it)."""
    _CACHE.clear()

"""The registry's probes say "absent" on a torch without the defect: each probe is run against a
torch.optim.SGD made to behave as a fixed release would (the plain path, or the documented error)."""

from __future__ import annotations

import pytest
import torch

from fizzcheck.history.defects import BEHAVIOUR_CHANGES, DEFECTS


class _FixedForeach(torch.optim.SGD):
    """SGD whose foreach path is the one-tensor-at-a-time path (which leaves .grad alone)."""

    def __init__(self, params, lr=0.001, **kwargs):
        kwargs["foreach"] = False
        super().__init__(params, lr=lr, **kwargs)


class _FixedFused(torch.optim.SGD):
    """SGD whose fused path is the one-tensor-at-a-time path (which starts a late buffer correctly)."""

    def __init__(self, params, lr=0.001, **kwargs):
        kwargs["fused"] = False
        super().__init__(params, lr=lr, **kwargs)


def _sgd_raising(exc: Exception) -> type[torch.optim.SGD]:
    class _SGD(torch.optim.SGD):
        def __init__(self, params, lr=0.001, **kwargs):
            if isinstance(lr, torch.Tensor) and lr.numel() > 1:
                raise exc
            super().__init__(params, lr=lr, **kwargs)

    return _SGD


def test_foreach_nesterov_probe_is_false_where_grad_is_left_alone(monkeypatch):
    probe = DEFECTS["sgd-foreach-nesterov-grad"].probe
    monkeypatch.setattr(torch.optim, "SGD", _FixedForeach)
    assert probe("cpu") is False


def test_fused_late_first_grad_probe_is_false_where_the_late_buffer_starts_right(monkeypatch):
    probe = DEFECTS["sgd-fused-late-first-grad"].probe
    monkeypatch.setattr(torch.optim, "SGD", _FixedFused)
    assert probe("cpu") is False


def test_fused_late_first_grad_probe_ignores_another_type_error(monkeypatch):
    """Only the registered symptom counts as the defect; another TypeError is not it."""

    class _OtherTypeError(torch.optim.SGD):
        def step(self, closure=None):
            if len(self.state) > 0:
                raise TypeError("unrelated")
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SGD", _OtherTypeError)
    assert DEFECTS["sgd-fused-late-first-grad"].probe("cpu") is False


@pytest.mark.parametrize(
    ("exc", "old"),
    [
        (RuntimeError("Boolean value of Tensor with more than one value is ambiguous"), True),
        (ValueError("Tensor lr must be 1-element"), False),
        (RuntimeError("some other error"), False),
    ],
)
def test_tensor_lr_probe_finds_only_the_old_error(monkeypatch, exc, old):
    monkeypatch.setattr(torch.optim, "SGD", _sgd_raising(exc))
    assert BEHAVIOUR_CHANGES["sgd-tensor-lr-two-elements"].probe("cpu") is old

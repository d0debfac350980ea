"""Documented behaviours that older torch releases show differently: probes and entries.

Part of the registry :mod:`fizzcheck.history.defects` (see there for what an entry means).
"""

from __future__ import annotations

from fizzcheck.history.records import BehaviourChange, Symptom

__all__ = ["BEHAVIOUR_CHANGES"]


def _assign_resets_requires_grad(device: str) -> bool:
    import torch

    module = torch.nn.Linear(2, 2, device=device)
    module.bias.requires_grad_(False)
    module.load_state_dict({name: torch.ones_like(v) for name, v in module.state_dict().items()}, assign=True)
    return bool(module.bias.requires_grad)


def _tensor_lr_old_error(device: str) -> bool:
    import torch

    param = torch.zeros(2, device=device, requires_grad=True)
    try:
        torch.optim.SGD([param], lr=torch.tensor([0.1, 0.2]))
    except RuntimeError as exc:
        return BEHAVIOUR_CHANGES["sgd-tensor-lr-two-elements"].old.matches(exc)
    except ValueError:
        return False
    return False


BEHAVIOUR_CHANGES: dict[str, BehaviourChange] = {
    b.id: b
    for b in (
        BehaviourChange(
            id="sgd-tensor-lr-two-elements",
            title="SGD's check of a Tensor lr with two elements",
            description=(
                "Older releases compare the Tensor lr with 0 (`lr < 0.0`) before checking its size, "
                "so a two-element lr fails with the ambiguous-truth-value RuntimeError instead of the "
                "documented ValueError. A one-element Tensor lr works in every release checked."
            ),
            old=Symptom(("RuntimeError",), r"Boolean value of Tensor with more than one value is ambiguous"),
            documented="ValueError: Tensor lr must be 1-element",
            probe=_tensor_lr_old_error,
            torch_source="torch/optim/sgd.py, SGD.__init__ (`if lr < 0.0` at line 36 in 2.4.1; line 44 in 2.13.0 "
            "raises the ValueError)",
            checked={"2.0.1": "old", "2.1.2": "old", "2.4.1": "old", "2.13.0": "documented", "2.14.1": "documented"},
        ),
        BehaviourChange(
            id="load-state-dict-assign-requires-grad",
            title="load_state_dict(assign=True) and the module's requires_grad",
            description=(
                "The documentation says assign=True keeps the state dict's tensors, with one exception: "
                "a Parameter keeps the module's requires_grad. Older releases wrap the loaded tensor in a "
                "new Parameter with the default requires_grad=True, so a frozen parameter is unfrozen."
            ),
            old=Symptom(
                ("AssertionError",), r"after load_state_dict\(assign=True\): requires_grad=True, but the module's"
            ),
            documented="a frozen parameter stays frozen (requires_grad=False) after load_state_dict(assign=True)",
            probe=_assign_resets_requires_grad,
            torch_source="torch/nn/modules/module.py, Module._load_from_state_dict (assign branch)",
            checked={
                "2.0.1": "not applicable: no load_state_dict(assign=...)",
                "2.1.2": "old",
                "2.4.1": "documented",
                "2.13.0": "documented",
                "2.14.1": "documented",
            },
            requires=("load_state_dict_assign",),
        ),
    )
}

"""Every known behaviour change, by id."""

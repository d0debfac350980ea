"""The registry of known torch defects and of documented behaviours that changed between releases.

A :class:`KnownDefect` is a bug in torch that a property of the suite finds. Each entry has an
id, a description, a probe that asks *the torch under test* whether it has the defect on a
device, the symptom by which the property fails when it hits the defect, a minimal plain-torch
reproducer (numpy-free), the torch source line, the releases checked and the upstream status.
A property marked ``@pytest.mark.known_defect(ID)`` that fails *with that symptom* where the
probe finds the defect reports KNOWN TORCH DEFECT (ID); where the probe does not find it the
property must pass; any other failure stays a failure (:mod:`fizzcheck.plugin.history`).

A :class:`BehaviourChange` is a documented behaviour (an error type and message) that older
releases show differently. A property marked ``@pytest.mark.behaviour_change(ID)`` that fails
with the old symptom where the probe finds the old behaviour reports BEHAVIOUR CHANGED, with
the old and the documented message.

``docs/findings.md`` is generated from this module (``python -m fizzcheck.history.findings``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from fizzcheck.history.capabilities import available

__all__ = [
    "BEHAVIOUR_CHANGES",
    "DEFECTS",
    "BehaviourChange",
    "KnownDefect",
    "Symptom",
    "clear_cache",
    "state",
]


@dataclass(frozen=True)
class Symptom:
    """How a failure looks: the exception's class name and a regular expression its message matches."""

    exceptions: tuple[str, ...]
    message: str

    def matches(self, exc: BaseException) -> bool:
        """True when ``exc`` (every member, for a group of failures) shows this symptom."""
        group = getattr(exc, "exceptions", None)
        parts = list(group) if isinstance(group, tuple) and group else [exc]
        return all(
            type(part).__name__ in self.exceptions and re.search(self.message, str(part)) is not None for part in parts
        )

    def describe(self) -> str:
        return f"{' or '.join(self.exceptions)} matching /{self.message}/"


@dataclass(frozen=True)
class KnownDefect:
    """A torch defect the suite finds, with everything needed to report it upstream."""

    id: str
    title: str
    description: str
    symptom: Symptom
    """How the marked property fails when it hits the defect (nothing else is classified)."""
    probe: Callable[[str], bool]
    """True when the torch under test has the defect on the device."""
    reproducer: str
    """A minimal, plain-torch, numpy-free program that shows the defect."""
    reproducer_shows: str
    """A regular expression the reproducer's output (stdout and stderr) matches when the defect is present."""
    expected: str
    torch_source: str
    checked: dict[str, str]
    """Release → what the probe found there ("present", "absent" or "not applicable: why")."""
    upstream: str | None
    """The upstream report, or None where none exists yet."""
    related: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    """Capabilities without which the defect cannot occur (where one is missing: not applicable)."""


@dataclass(frozen=True)
class BehaviourChange:
    """A documented behaviour that older releases show differently (not a defect of the suite's subject)."""

    id: str
    title: str
    description: str
    old: Symptom
    """What the older releases do (the only failure that is classified)."""
    documented: str
    """What the documented behaviour is, as the property checks it."""
    probe: Callable[[str], bool]
    """True when the torch under test shows the old behaviour on the device."""
    torch_source: str
    checked: dict[str, str]
    """Release → "old", "documented" or "not applicable: why", as probed."""
    related: tuple[str, ...] = field(default=())
    requires: tuple[str, ...] = field(default=())
    """Capabilities without which the behaviour cannot be shown (where one is missing: not applicable)."""


# --- probes ---------------------------------------------------------------------------


def _foreach_nesterov_writes_grad(device: str) -> bool:
    import torch

    param = torch.ones(4, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9, nesterov=True, foreach=True)
    grad = torch.full_like(param, 0.5)
    param.grad = grad.clone()
    optimizer.step()
    optimizer.step()
    return not torch.equal(param.grad, grad)


def _fused_late_first_grad_fails(device: str) -> bool:
    import torch

    early = torch.ones(3, device=device, requires_grad=True)
    late = torch.ones(2, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([early, late], lr=0.1, momentum=0.9, fused=True)
    early.grad = torch.ones_like(early)
    optimizer.step()
    early.grad, late.grad = torch.ones_like(early), torch.ones_like(late)
    try:
        optimizer.step()
    except TypeError as exc:
        return DEFECTS["sgd-fused-late-first-grad"].symptom.matches(exc)
    return False


def _mse_forward_over_reverse_fails(device: str) -> bool:
    import warnings

    import torch
    import torch.nn.functional as F

    x = torch.tensor([0.5, -1.0, 2.0], device=device)
    y = torch.tensor([1.0, 0.25, -0.5], device=device)
    try:
        with warnings.catch_warnings():  # torch's own jit.script deprecation on the first jvp
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")

            def loss(a: torch.Tensor) -> torch.Tensor:
                return F.mse_loss(a, y)

            torch.func.jvp(torch.func.grad(loss), (x,), (torch.ones_like(x),))
    except RuntimeError as exc:
        return DEFECTS["mse-forward-over-reverse-mean"].symptom.matches(exc)
    return False


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


# --- the registry ---------------------------------------------------------------------

_FOREACH_NESTEROV_REPRODUCER = """\
import torch

p = torch.ones(4, requires_grad=True)
opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, foreach=True)
p.grad = torch.full_like(p, 0.5)
opt.step()
opt.step()  # a second step without a new backward must read the same gradient
print("p.grad after two steps:", p.grad.tolist())
# expected, as with foreach=False: [0.5, 0.5, 0.5, 0.5]
"""

_MSE_FORWARD_OVER_REVERSE_REPRODUCER = """\
import torch
import torch.nn.functional as F

x, y = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 0.25, -0.5])
hvp_sum = torch.func.jvp(torch.func.grad(lambda a: F.mse_loss(a, y, reduction="sum")), (x,), (torch.ones(3),))[1]
print("reduction='sum': H·v =", hvp_sum.tolist())  # [2.0, 2.0, 2.0]
hvp_mean = torch.func.jvp(torch.func.grad(lambda a: F.mse_loss(a, y)), (x,), (torch.ones(3),))[1]
print("reduction='mean': H·v =", hvp_mean.tolist())  # expected 2/3 each
"""

_FUSED_LATE_REPRODUCER = """\
import torch

early = torch.ones(3, requires_grad=True)
late = torch.ones(2, requires_grad=True)
opt = torch.optim.SGD([early, late], lr=0.1, momentum=0.9, fused=True)
early.grad = torch.ones_like(early)
opt.step()  # `late` has no gradient yet: skipped, as documented
early.grad, late.grad = torch.ones_like(early), torch.ones_like(late)
opt.step()  # expected, as with foreach=False/True: late's momentum buffer starts as its gradient
print("momentum buffer of late:", opt.state[late]["momentum_buffer"].tolist())
"""

DEFECTS: dict[str, KnownDefect] = {
    d.id: d
    for d in (
        KnownDefect(
            id="sgd-foreach-nesterov-grad",
            title="foreach SGD with Nesterov momentum writes into the caller's .grad",
            description=(
                "With foreach=True, nesterov=True, weight_decay=0 and maximize=False, SGD.step() adds "
                "momentum × buffer into p.grad in place, so a second step() without a new backward "
                "sees a different gradient. foreach=False leaves .grad alone, and the other foreach "
                "branches (weight decay or maximize) work on a copy."
            ),
            symptom=Symptom(("AssertionError",), r"p\.grad=\[.*\] after step\(\), but should be"),
            probe=_foreach_nesterov_writes_grad,
            reproducer=_FOREACH_NESTEROV_REPRODUCER,
            reproducer_shows=r"p\.grad after two steps: \[2\.2100",
            expected="p.grad stays [0.5, 0.5, 0.5, 0.5]",
            torch_source=(
                "torch/optim/sgd.py, _multi_tensor_sgd: `torch._foreach_add_(device_grads, bufs, alpha=momentum)` "
                "(line 462 in 2.13.0 and 2.14.1, 427 in 2.4.1, 320 in 2.0.1)"
            ),
            checked={
                "2.0.1": "present",
                "2.1.2": "present",
                "2.4.1": "present",
                "2.13.0": "present",
                "2.14.1": "present",
            },
            upstream=None,
            related=(
                "pytorch/pytorch#30257 Make all optimizers consistent so that they don't change gradients inplace",
                "pytorch/pytorch#92706 [optim][foreach] Do NOT inplace modify gradients "
                '(2023-01; says "SGD and ASGD already had out-of-place grads")',
            ),
        ),
        KnownDefect(
            id="sgd-fused-late-first-grad",
            title="fused SGD fails when a parameter gets its first gradient after the others",
            description=(
                "fused SGD decides a group's first step as `all(buffer is None)`; once one parameter "
                "has a momentum buffer, a parameter whose first gradient arrives later hands None to "
                "torch._fused_sgd_, which raises a TypeError. foreach=False and foreach=True start "
                "that parameter's buffer from its gradient, as the documentation says."
            ),
            symptom=Symptom(("TypeError",), r"expected Tensor as element \d+ in argument \d+, but got NoneType"),
            probe=_fused_late_first_grad_fails,
            reproducer=_FUSED_LATE_REPRODUCER,
            reproducer_shows=r"TypeError: expected Tensor as element 1 in argument 2, but got NoneType",
            expected="momentum buffer of late: [1.0, 1.0]",
            torch_source=(
                "torch/optim/sgd.py, _fused_sgd: `is_first_step = all(t is None for t in momentum_buffer_list)` "
                "(line 506 in 2.13.0, 471 in 2.4.1)"
            ),
            checked={
                "2.0.1": "not applicable: no SGD(fused=...)",
                "2.1.2": "not applicable: no SGD(fused=...)",
                "2.4.1": "present (cpu)",
                "2.13.0": "present (cpu)",
                "2.14.1": "present (cpu)",
            },
            upstream=None,
            related=(
                "pytorch/pytorch#94791 [mta] Implement fused SGD (introduced the fused path)",
                "pytorch/pytorch#123629 add fused_sgd_kernel support for CPU device (2024-04)",
                "pytorch/pytorch#122131 Performance optimizations for SGD (a reviewer notes the buffer must "
                'start from the first non-None gradient "if a param is frozen in iter1 but becomes unfrozen later")',
            ),
            requires=("sgd_fused",),
        ),
        KnownDefect(
            id="mse-forward-over-reverse-mean",
            title="forward-over-reverse through mse_loss(reduction='mean') fails on an immutable ZeroTensor",
            description=(
                "jvp(grad(mse_loss)) with the default reduction='mean' raises 'ZeroTensors are immutable' "
                "when the target carries no tangent: the forward derivative of mse_loss_backward calls "
                "mse_loss_double_backward, where `2 * grad` of the target's ZeroTensor tangent stays a "
                "ZeroTensor and the in-place division by the element count raises. 'sum' and 'none' "
                "do not divide and work; so does the explicit ((x - y) ** 2).mean()."
            ),
            symptom=Symptom(("RuntimeError",), r"ZeroTensors are immutable"),
            probe=_mse_forward_over_reverse_fails,
            reproducer=_MSE_FORWARD_OVER_REVERSE_REPRODUCER,
            reproducer_shows=r"RuntimeError: ZeroTensors are immutable",
            expected="reduction='mean': H·v = [0.666…, 0.666…, 0.666…] (2·v/N)",
            torch_source=(
                "torch/csrc/autograd/FunctionsManual.cpp, mse_loss_double_backward: "
                "`auto grad_input = 2 * grad; grad_input /= input.sym_numel();`"
            ),
            checked={
                "2.0.1": "present",
                "2.1.2": "present",
                "2.4.1": "present",
                "2.13.0": "present",
                "2.14.1": "present",
            },
            upstream="pytorch/pytorch#123996 (open); fix proposed in pytorch/pytorch#197723 (open)",
            related=("pytorch/pytorch#69855 Some inplace ops fail for forward AD because they mutate ZeroTensor",),
            requires=("torch_func_jvp",),
        ),
    )
}
"""Every known torch defect, by id."""

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

_STATE: dict[tuple[str, str], str] = {}


def state(entry: KnownDefect | BehaviourChange, device: str = "cpu") -> str:
    """What the torch under test shows for ``entry`` on ``device``, probed once per process:
    ``"present"`` (the defect, or the old behaviour), ``"absent"``, or ``"not applicable"``
    (a capability the defect needs is missing)."""
    key = (entry.id, device)
    if key not in _STATE:
        requires = getattr(entry, "requires", ())
        if not all(available(name, device) for name in requires):
            _STATE[key] = "not applicable"
        else:
            _STATE[key] = "present" if entry.probe(device) else "absent"
    return _STATE[key]


def clear_cache() -> None:
    """Forget every probed answer (tests that swap an entry use it)."""
    _STATE.clear()

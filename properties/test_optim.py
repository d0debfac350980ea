"""Optimizer properties: the target's ``optim.SGD`` against the numpy reference SGD.

Trajectories run several steps over several parameter tensors in several groups with
Hypothesis-drawn hyper-parameters; both sides receive *the same* gradients each step
(``p.grad = tensor(g)``), some of them ``None``. Parameters and momentum buffers must
stay within :class:`fizzcheck.bounds.training.SGDErrorBound`, which sums per-step
rounding bounds and their amplification by weight decay and momentum. Every
implementation ``torch.optim.SGD`` offers on the device is checked: ``foreach=False``
(one tensor at a time), ``foreach=True`` (multi-tensor kernels) and ``fused=True`` (one
fused kernel). A target that replaces ``optim.SGD`` (``target.replaces("optim.SGD")``) is
checked through the ``foreach=False`` call only: ``foreach=True`` / ``fused=True`` and the
known failures of torch's kernels are torch.optim.SGD's own, and skip with a reason.
Every call into the framework goes through ``target`` (``--fizzcheck-target``).

What the torch under test offers is asked, not assumed (:mod:`fizzcheck.history`): a check
that needs fused SGD is marked ``requires("sgd_fused")`` and reports NOT AVAILABLE where the
probe says this torch lacks it on the device, and a drawn check draws ``fused=True`` only where
it is available. The two torch defects these properties find are registry entries
(``known_defect``): KNOWN TORCH DEFECT where the probe finds the defect, a normal check where it
does not. A documented message older releases word differently is ``behaviour_change``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fizzcheck.bounds.training import SGDErrorBound
from fizzcheck.check import assert_all_close
from fizzcheck.history.capabilities import available
from fizzcheck.history.defects import DEFECTS, state
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.reference import optim as ref_optim
from fizzcheck.strategies.training import FULL_PRECISIONS, sgd_hyper_parameters, sgd_problems
from fizzcheck.targets import Target

IMPLEMENTATIONS: dict[str, dict[str, bool]] = {
    "foreach=False": {"foreach": False},
    "foreach=True": {"foreach": True},
    "fused=True": {"fused": True},
}
"""torch.optim.SGD's implementations → the constructor arguments that select them."""

PLAIN = "foreach=False"
"""The one-tensor-at-a-time call, also made to a target's replacement SGD (it takes torch's signature)."""

NEEDS: dict[str, tuple[str, ...]] = {"fused=True": ("sgd_fused",)}
"""Implementation → the capabilities (fizzcheck.history.capabilities) it needs."""

FUSED = pytest.mark.requires("sgd_fused")
LATE_FIRST_GRAD = "sgd-fused-late-first-grad"
FOREACH_NESTEROV_GRAD = "sgd-foreach-nesterov-grad"


def implementation_params() -> list[Any]:
    """``IMPLEMENTATIONS`` as pytest params, each marked with the capabilities it needs."""
    return [
        pytest.param(name, marks=[pytest.mark.requires(*NEEDS[name])] if name in NEEDS else [])
        for name in IMPLEMENTATIONS
    ]


def torch_sgd_only_reason(target: Target) -> str | None:
    """Why torch.optim.SGD's implementation-specific checks skip on ``target`` (None: they run)."""
    if target.replaces("optim.SGD"):
        return f"target {target.spec!r} replaces optim.SGD; foreach/fused are torch.optim.SGD's implementations"
    return None


def skip_unless_torch_sgd(target: Target, implementation: str | None = None) -> None:
    """Skip a check of torch.optim.SGD's own implementations (any but ``PLAIN``) on a replacement SGD."""
    reason = torch_sgd_only_reason(target)
    if reason is not None and implementation != PLAIN:
        pytest.skip(reason)


def implementations(target: Target, device: str) -> list[str]:
    """The implementations a drawn check may use on ``target``: those this torch offers on ``device``
    (probed), or ``PLAIN`` on a replacement SGD."""
    if torch_sgd_only_reason(target) is not None:
        return [PLAIN]
    return [name for name in IMPLEMENTATIONS if all(available(need, device) for need in NEEDS.get(name, ()))]


def avoid_late_first_grad(implementation: str, device: str) -> bool:
    """Whether a fused trajectory must avoid the registered defect ``sgd-fused-late-first-grad``
    (only where the probe finds it: a torch without it gets late first gradients drawn too)."""
    return implementation == "fused=True" and state(DEFECTS[LATE_FIRST_GRAD], device) == "present"


# --- what fused SGD can take ------------------------------------------------------------


def fused_compatible(has_grad: np.ndarray, groups: list[dict[str, Any]], defaults: dict[str, Any]) -> np.ndarray:
    """Give every parameter of a momentum group its first gradient on the group's first step.

    torch's fused SGD decides "first step" per group (all buffers still None) and fails
    with a TypeError when a parameter gets its first gradient after the others already
    have buffers: the registered defect ``sgd-fused-late-first-grad``, which
    ``test_fused_sgd_with_late_first_gradient`` checks; where the probe finds it, trajectories
    for ``fused=True`` avoid that pattern (:func:`avoid_late_first_grad`).
    """
    has_grad = has_grad.copy()
    for group in groups:
        if group.get("momentum", defaults["momentum"]) == 0:
            continue
        members = [i for i in group["params"] if has_grad[:, i].any()]
        if members:
            first = min(int(np.argmax(has_grad[:, i])) for i in members)
            has_grad[first, members] = True
    return has_grad


# --- the trajectory check -------------------------------------------------------------


def _split(flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[start : start + size].reshape(shape))
        start += size
    return out


def check_sgd_trajectory(
    target: Target, shapes, initial, grads, has_grad, groups, defaults, *, implementation: str, device: str, dtype: str
) -> None:
    tensors = [target.tensor(v, dtype=dtype, device=device, requires_grad=True) for v in _split(initial, shapes)]
    references = [ref_optim.Parameter(v) for v in _split(initial, shapes)]
    optimizer = target.optim.SGD(
        [{**g, "params": [tensors[i] for i in g["params"]]} for g in groups],
        **defaults,
        **IMPLEMENTATIONS[implementation],
    )
    reference = ref_optim.SGD([{**g, "params": [references[i] for i in g["params"]]} for g in groups], **defaults)
    bound = SGDErrorBound(dtype)
    for step, step_grads in enumerate(grads):
        for i, (tensor, ref, g) in enumerate(zip(tensors, references, _split(step_grads, shapes), strict=True)):
            tensor.grad = target.tensor(g, dtype=dtype, device=device) if has_grad[step, i] else None
            ref.grad = g if has_grad[step, i] else None
        optimizer.step()
        bound.step(reference.step())
        op = f"SGD({implementation}) step {step + 1}"
        parts = []
        for i, (tensor, ref) in enumerate(zip(tensors, references, strict=True)):
            parts.append((f"param {i}", tensor, ref.data, bound.param_bound(ref, ref.data.shape)))
            has_buffer = ref in reference.state
            buffer = optimizer.state.get(tensor, {}).get("momentum_buffer")
            assert (buffer is not None) == has_buffer, (
                f"momentum buffer of param {i} is {'present' if buffer is not None else 'absent'}, "
                f"but should be {'present' if has_buffer else 'absent'} [{op}]"
            )
            if has_buffer:
                parts.append((f"buffer {i}", buffer, reference.state[ref]["momentum_buffer"], bound.buffer_bound(ref)))
        assert_all_close(parts, op=op, dtype=dtype)


@pytest.mark.dtypes(*FULL_PRECISIONS)
@pytest.mark.parametrize("implementation", implementation_params())
@given(data=st.data())
def test_sgd_trajectory(target, device, dtype, implementation, data):
    skip_unless_torch_sgd(target, implementation)
    problem = data.draw(sgd_problems(dtype=dtype), label="problem")
    if avoid_late_first_grad(implementation, device):
        problem["has_grad"] = fused_compatible(problem["has_grad"], problem["groups"], problem["defaults"])
    run_check(check_sgd_trajectory, target=target, **problem, implementation=implementation, device=device, dtype=dtype)


def check_zero_lr_changes_nothing(
    target: Target, shapes, initial, grads, has_grad, groups, defaults, *, implementation, device, dtype
) -> None:
    """lr = 0: "zero information passing to the network" — every parameter keeps its exact value."""
    tensors = [target.tensor(v, dtype=dtype, device=device, requires_grad=True) for v in _split(initial, shapes)]
    before = [t.detach().clone() for t in tensors]
    optimizer = target.optim.SGD(
        [{**g, "params": [tensors[i] for i in g["params"]]} for g in groups],
        **defaults,
        **IMPLEMENTATIONS[implementation],
    )
    for step, step_grads in enumerate(grads):
        for i, (tensor, g) in enumerate(zip(tensors, _split(step_grads, shapes), strict=True)):
            tensor.grad = target.tensor(g, dtype=dtype, device=device) if has_grad[step, i] else None
        optimizer.step()
        for i, (tensor, old) in enumerate(zip(tensors, before, strict=True)):
            assert target.torch.equal(tensor.detach(), old), (
                f"param {i} changed at step {step + 1} with lr=0: max |change| "
                f"{(tensor.detach() - old).abs().max().item()!r}, but should be 0 [SGD({implementation})]"
            )


@pytest.mark.dtypes(*FULL_PRECISIONS)
@given(data=st.data())
def test_zero_lr_changes_nothing(target, device, dtype, data):
    implementation = data.draw(st.sampled_from(implementations(target, device)), label="implementation")
    problem = data.draw(sgd_problems(dtype=dtype, lr=0.0), label="problem")
    if avoid_late_first_grad(implementation, device):
        problem["has_grad"] = fused_compatible(problem["has_grad"], problem["groups"], problem["defaults"])
    run_check(
        check_zero_lr_changes_nothing,
        target=target,
        **problem,
        implementation=implementation,
        device=device,
        dtype=dtype,
    )


# --- invalid hyper-parameters ---------------------------------------------------------

INVALID_KINDS = (
    "negative lr",
    "negative momentum",
    "negative weight_decay",
    "nesterov without momentum",
    "nesterov with dampening",
)
"""Constructor arguments torch documents as errors (``ValueError``)."""


@st.composite
def invalid_hyper_parameters(draw: st.DrawFn) -> dict[str, Any]:
    hyper = draw(sgd_hyper_parameters(), label="valid start")
    kind = draw(st.sampled_from(INVALID_KINDS), label="kind")
    negative = draw(st.floats(-1e3, -1e-6), label="negative value")
    if kind == "negative lr":
        hyper["lr"] = negative
    elif kind == "negative momentum":
        hyper["momentum"], hyper["nesterov"] = negative, False
    elif kind == "negative weight_decay":
        hyper["weight_decay"] = negative
    elif kind == "nesterov without momentum":
        hyper["nesterov"], hyper["momentum"] = True, draw(st.sampled_from((0.0, negative)), label="momentum")
    else:
        hyper["nesterov"], hyper["momentum"] = True, draw(st.floats(0.01, 0.99), label="momentum")
        hyper["dampening"] = draw(st.floats(1e-6, 1.0) | st.floats(-1.0, -1e-6), label="dampening")
    return hyper


def check_invalid_hyper_parameters_raise(target: Target, hyper, *, implementation: str, device: str) -> None:
    param = target.torch.zeros(2, device=device, requires_grad=True)
    with pytest.raises(ValueError) as from_target:
        target.optim.SGD([param], **hyper, **IMPLEMENTATIONS[implementation])
    with pytest.raises(ValueError) as from_reference:
        ref_optim.SGD([ref_optim.Parameter(np.zeros(2))], **hyper)
    assert str(from_target.value) == str(from_reference.value), (
        f"{target.spec} raised {from_target.value!r}, but the reference raises {from_reference.value!r} [SGD({hyper})]"
    )


@given(data=st.data())
def test_invalid_hyper_parameters_raise(target, device, data):
    implementation = data.draw(st.sampled_from(implementations(target, device)), label="implementation")
    hyper = data.draw(invalid_hyper_parameters(), label="hyper")
    run_check(
        check_invalid_hyper_parameters_raise, target=target, hyper=hyper, implementation=implementation, device=device
    )


@pytest.mark.parametrize(
    ("options", "error", "message", "torch_sgd_only"),
    [
        pytest.param(
            lambda target: {"fused": True, "foreach": True},
            RuntimeError,
            "`fused` and `foreach` cannot be `True` together",
            True,
            marks=FUSED,
        ),
        pytest.param(
            lambda target: {"fused": True, "differentiable": True},
            RuntimeError,
            "`fused` does not support `differentiable`",
            True,
            marks=FUSED,
        ),
        pytest.param(
            lambda target: {"lr": target.torch.tensor([0.1, 0.2])},
            ValueError,
            "Tensor lr must be 1-element",
            False,
            marks=pytest.mark.behaviour_change("sgd-tensor-lr-two-elements"),
        ),
    ],
    ids=["fused-and-foreach", "fused-and-differentiable", "tensor-lr-with-two-elements"],
)
def test_incompatible_options_raise(target, device, options, error, message, torch_sgd_only):
    """``options(target)`` are the constructor arguments (a tensor lr is made through the target)."""
    if torch_sgd_only:
        skip_unless_torch_sgd(target)
    param = target.torch.zeros(2, device=device, requires_grad=True)
    with pytest.raises(error, match=message):
        target.optim.SGD([param], **{"lr": 0.1, **options(target)})


def test_empty_parameter_list_raises_for_both(target):
    with pytest.raises(ValueError, match="empty parameter list"):
        target.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        ref_optim.SGD([], lr=0.1)


@FUSED
def test_fused_rejects_non_floating_parameters(target, device):
    """``fused=True`` documents floating-point parameters only: a complex one is refused with a
    RuntimeError before any update. Where it is refused is torch's choice (at construction in 2.4,
    at the first step() since pytorch/pytorch#131153), so both sit inside ``pytest.raises``."""
    skip_unless_torch_sgd(target)
    param = target.torch.zeros(2, dtype=target.torch.complex64, device=device, requires_grad=True)
    param.grad = target.torch.ones_like(param)

    def construct_and_step() -> None:
        target.optim.SGD([param], lr=0.1, fused=True).step()

    with pytest.raises(RuntimeError, match="floating point"):
        construct_and_step()
    assert target.torch.equal(param.detach(), target.torch.zeros_like(param)), "a refused step changed the parameter"


# --- behaviours torch does not (yet) get right ----------------------------------------


@FUSED
@pytest.mark.known_defect(LATE_FIRST_GRAD)
def test_fused_sgd_with_late_first_gradient(target, device):
    """A parameter whose first gradient arrives after the others' starts its buffer from that gradient."""
    skip_unless_torch_sgd(target)
    early = target.torch.ones(3, device=device, requires_grad=True)
    late = target.torch.ones(2, device=device, requires_grad=True)
    optimizer = target.optim.SGD([early, late], lr=0.1, momentum=0.9, fused=True)
    early.grad = target.torch.ones_like(early)
    optimizer.step()  # `late` has no gradient yet: skipped, as documented
    early.grad, late.grad = target.torch.ones_like(early), target.torch.ones_like(late)
    optimizer.step()
    # what the other implementations do: `late`'s buffer starts as its gradient
    assert target.torch.equal(optimizer.state[late]["momentum_buffer"], target.torch.ones_like(late))


_GRAD_KEPT = [
    pytest.param(
        impl,
        nesterov,
        weight_decay,
        maximize,
        # foreach SGD adds μ·buf into the caller's .grad in place when nesterov and neither
        # weight_decay nor maximize made a copy (the registry entry has the torch source line)
        marks=pytest.mark.known_defect(FOREACH_NESTEROV_GRAD),
    )
    if impl == "foreach=True" and nesterov and weight_decay == 0 and not maximize
    else pytest.param(impl, nesterov, weight_decay, maximize, marks=FUSED if impl == "fused=True" else ())
    for impl in IMPLEMENTATIONS
    for nesterov in (False, True)
    for weight_decay in (0.0, 0.1)
    for maximize in (False, True)
]


@pytest.mark.parametrize(("implementation", "nesterov", "weight_decay", "maximize"), _GRAD_KEPT)
def test_step_leaves_grad_unchanged(target, device, implementation, nesterov, weight_decay, maximize):
    """step() reads ``.grad``; calling it twice without a new backward must see the same gradient."""
    skip_unless_torch_sgd(target, implementation)
    param = target.torch.ones(4, device=device, requires_grad=True)
    optimizer = target.optim.SGD(
        [param],
        lr=0.1,
        momentum=0.9,
        nesterov=nesterov,
        weight_decay=weight_decay,
        maximize=maximize,
        **IMPLEMENTATIONS[implementation],
    )
    grad = target.torch.full_like(param, 0.5)
    param.grad = grad.clone()
    optimizer.step()
    optimizer.step()
    assert target.torch.equal(param.grad, grad), (
        f"p.grad={param.grad.tolist()} after step(), but should be {grad.tolist()}"
    )

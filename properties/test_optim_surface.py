"""optim.SGD's declared surface: every implementation × option × layout, and the API around step().

Family ``sgd`` (:mod:`fizzcheck.surface.catalogue`): trajectories of several steps over several
parameters in one or several groups, for each of torch.optim.SGD's implementations
(``foreach=False``, ``foreach=True``, ``fused=True``) with every option torch documents (momentum,
dampening, nesterov, weight_decay, maximize, and a learning rate given as a 0-dim tensor, which
torch documents as accepted), in every memory layout of parameters, of gradients (``p.grad =``
a tensor in that layout, including an expanded one and one whose layout differs from its
parameter's) and of momentum buffers (those torch allocates, and those put in place through
``load_state_dict``, which keeps the tensors it is given). Every parameter and buffer must stay
within :class:`fizzcheck.bounds.training.SGDErrorBound` of the numpy reference SGD, and every
parameter must be updated in place ("step() updates the parameters"): same storage, strides
and offset after each step. On CUDA, fused SGD refuses layouts its kernel cannot take (a
RuntimeError naming ``check_fast_path_restrictions``); that refusal, and no other exception, is
accepted where the layouts break the kernel's rule and nothing it refused was changed, and it ends
the example (:func:`_step_or_refusal`).

Family ``sgd_api``: what ``step()`` may change (parameters and momentum buffers, in place) and
what it must not (``.grad``, the caller's lr tensor, other tensors, the groups' hyper-parameters);
``state_dict()``/``load_state_dict()`` round trips that continue the same trajectory, and the
independence of a restored optimizer's state from the original's and from the dict; the
derivative of a ``differentiable=True`` step against the reference Jacobians
(:func:`fizzcheck.reference.optim.sgd_update_derivatives`); and ``zero_grad`` on the optimizer
and on an ``nn.Module`` ("set_to_none: instead of setting to zero, set the grads to None";
with ``set_to_none=False`` the gradients are zeroed in place).

The torch defects these properties meet are registry entries (:mod:`fizzcheck.history.defects`):
where a probe finds one, drawn examples avoid its pattern and a dedicated check marked
``known_defect`` reaches it; where the probe does not find it, the drawn examples include it.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Hashable, Mapping
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fizzcheck.bounds.training import SGDErrorBound, sgd_vjp_bound
from fizzcheck.check import assert_all_close
from fizzcheck.dtypes import round_to
from fizzcheck.history.defects import DEFECTS, state
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.reference import optim as ref_optim
from fizzcheck.strategies.inputs import repeat_first
from fizzcheck.strategies.training import (
    FULL_PRECISIONS,
    PARAM_SHAPES,
    filled_arrays,
    sgd_hyper_parameters,
    sgd_problems,
)
from fizzcheck.surface import touch
from fizzcheck.surface.catalogue import LAYOUTS, PARAM_LAYOUTS
from fizzcheck.targets import Target

from .test_optim import (
    FOREACH_NESTEROV_GRAD,
    FUSED,
    IMPLEMENTATIONS,
    avoid_late_first_grad,
    fused_compatible,
    implementation_params,
    implementations,
    skip_unless_torch_sgd,
)

ALIASES = "optim-load-state-dict-aliases"
FIRST_MOMENTUM_DETACHED = "sgd-differentiable-first-momentum-detached"
FOREACH_DIFFERENTIABLE_WD = "sgd-foreach-differentiable-weight-decay"
FUSED_STRIDES = "sgd-fused-cpu-strides"
FUSED_LOW_PRECISION = "sgd-fused-cpu-low-precision-update"
FUSED_TENSOR_LR = "sgd-fused-cuda-tensor-lr-dtype"
FAST_PATH_REFUSAL = r"check_fast_path_restrictions"
"""The message of the CUDA fused kernel's layout check (see :func:`_step_or_refusal`)."""
REFUSING_DEVICE_TYPES = ("cuda",)
"""Device types whose fused SGD kernel refuses layouts it cannot take instead of computing with them."""
_BITS = {2: "int16", 4: "int32", 8: "int64"}
LOW_PRECISION = ("float16", "bfloat16")
SMALLEST_HALF_VECTOR = 16
"""Fewest float16/bfloat16 elements in one of torch's CPU SIMD vectors (32 bytes without AVX-512):
fused SGD's scalar tail handles a parameter with fewer elements (sgd-fused-cpu-low-precision-update)."""

CELL: dict[str, str] = {"foreach=False": "for-loop", "foreach=True": "foreach", "fused=True": "fused"}
"""Implementation (constructor arguments) → its value of the catalogue's ``implementation`` dim."""

ALL_DTYPES = (*FULL_PRECISIONS, "float16", "bfloat16")
"""The trajectory property runs in half precisions too (on the CPU where torch's SGD takes them):
the rounding model of SGDErrorBound counts roundings in the dtype and a flush-to-zero floor per
operation, which covers float16's subnormals (spacing 2⁻²⁴, far below the floor 2·2⁻¹⁴)."""


def _present(defect_id: str, device: str) -> bool:
    return state(DEFECTS[defect_id], device) == "present"


def _split(flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[start : start + size].reshape(shape))
        start += size
    return out


def _hyper(groups: list[dict[str, Any]], defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """Each group's effective hyper-parameters (its own values over the defaults)."""
    return [{**defaults, **{k: v for k, v in g.items() if k != "params"}} for g in groups]


def _options(hypers: list[dict[str, Any]], tensor_lr: bool) -> tuple[str, ...]:
    """The catalogue's ``option`` values active in an example (in any group)."""
    active: set[str] = {"tensor_lr"} if tensor_lr else set()
    for h in hypers:
        if h["momentum"] != 0:
            active.add("momentum")
            if h["dampening"] != 0:
                active.add("dampening")
            if h["nesterov"]:
                active.add("nesterov")
        if h["weight_decay"] != 0:
            active.add("weight_decay")
        if h["maximize"]:
            active.add("maximize")
        if not tensor_lr and h["momentum"] == 0 and h["weight_decay"] == 0 and not h["maximize"]:
            active.add("plain")
    return tuple(sorted(active))


def _state_ids(groups: list[dict[str, Any]]) -> dict[int, int]:
    """Parameter index → its id in ``state_dict()`` (position in the groups' concatenated lists)."""
    ids: dict[int, int] = {}
    for g in groups:
        for i in g["params"]:
            ids[i] = len(ids)
    return ids


def _updates(reference: ref_optim.SGD) -> Mapping[Hashable, ref_optim.SGDUpdate]:
    """One reference step's updates, keyed as SGDErrorBound takes them."""
    return cast(Mapping[Hashable, ref_optim.SGDUpdate], reference.step())


def _build(target: Target, tensors, groups, defaults, implementation: str, lr_of):
    """torch's optimizer over ``tensors`` with ``groups``/``defaults``; ``lr_of`` maps each lr value."""
    defaults = {**defaults, "lr": lr_of(defaults["lr"])}
    torch_groups = []
    for g in groups:
        group = {**g, "params": [tensors[i] for i in g["params"]]}
        if "lr" in group:
            group["lr"] = lr_of(group["lr"])
        torch_groups.append(group)
    return target.optim.SGD(torch_groups, **defaults, **IMPLEMENTATIONS[implementation])


def _non_overlapping_and_dense(t: Any) -> bool:
    """c10's ``is_non_overlapping_and_dense``: the elements fill a block of numel() with no gap and
    no overlap — the dimensions longer than 1, taken by increasing stride, have strides 1, size, …"""
    expected = 1
    for size, stride in sorted(((n, s) for n, s in zip(t.shape, t.stride(), strict=True) if n > 1), key=lambda d: d[1]):
        if stride != expected:
            return False
        expected *= size
    return True


def _fast_path_violation(group: dict[str, Any]) -> bool:
    """Whether a group's tensors break the layout rule of ``at::native::check_fast_path_restrictions``
    (aten/src/ATen/native/ForeachUtils.h) for the lists the CUDA fused kernel checks — parameters
    with a gradient, their gradients and (momentum ≠ 0) their existing buffers: every tensor
    non-overlapping and dense, and each parameter's gradient and buffer with its sizes and, in
    every dimension longer than 1, its strides. A buffer torch creates on the first step is
    ``empty_like`` of a gradient, so it shares a dense gradient's strides."""
    for p in group["params"]:
        if p.grad is None:
            continue
        tensors = [p, p.grad]
        buffer = group.get("_state", {}).get(p)
        if group["momentum"] != 0 and buffer is not None:
            tensors.append(buffer)
        for t in tensors:
            if not _non_overlapping_and_dense(t) or t.shape != p.shape:
                return True
            if any(n > 1 and a != b for n, a, b in zip(p.shape, p.stride(), t.stride(), strict=True)):
                return True
    return False


def _bits(target: Target, t: Any) -> Any:
    """A copy of ``t``'s bits (an integer view: NaN-safe, ±0 distinct); None stays None."""
    if t is None:
        return None
    return t.detach().view(getattr(target.torch, _BITS[t.element_size()])).clone()


def _same_bits(target: Target, t: Any, before: Any) -> bool:
    if t is None or before is None:
        return t is None and before is None
    return bool(target.torch.equal(_bits(target, t), before))


def _step_or_refusal(target: Target, optimizer, *, implementation: str, device: str, op: str) -> int | None:
    """``optimizer.step()``; None when it ran, or the index of the group fused SGD refused.

    On CUDA, fused SGD checks the layouts of each group's parameters, gradients and buffers
    (:func:`_fast_path_violation`) and refuses those it cannot take: ``RuntimeError: Expected
    at::native::check_fast_path_restrictions(...) to be true, but got false``, raised before its
    kernel runs. That is an answer (an error), not a wrong update, so it is accepted, and only it:
    on a device in ``REFUSING_DEVICE_TYPES``, for ``fused=True``, with that message, from a group
    whose layouts break the rule. step() walks the groups in order, so the groups before the
    refused one have stepped (the caller compares them with the reference); the refused group and
    every later one must be exactly as they were — parameters and momentum buffers (present or
    absent) bit for bit — and no gradient may change: a refusal that half-updated would be a
    defect. The refused group is the first rule-breaking group from which on nothing changed; where
    there is none, or the exception is any other, or no group breaks the rule, the check fails.
    """
    refusing = implementation == "fused=True" and target.torch.device(device).type in REFUSING_DEVICE_TYPES
    groups = optimizer.param_groups

    def buffer_of(p: Any) -> Any:
        return optimizer.state.get(p, {}).get("momentum_buffer")

    violating = [
        index
        for index, g in enumerate(groups)
        if refusing and _fast_path_violation({**g, "_state": {p: buffer_of(p) for p in g["params"]}})
    ]
    if not violating:
        optimizer.step()
        return None
    before = [
        [(p, _bits(target, p), _bits(target, p.grad), _bits(target, buffer_of(p))) for p in g["params"]] for g in groups
    ]
    try:
        optimizer.step()
    except RuntimeError as exc:
        if re.search(FAST_PATH_REFUSAL, str(exc)) is None:
            raise
        for index, members in enumerate(before):
            for i, (p, _, grad_bits, _) in enumerate(members):
                assert _same_bits(target, p.grad, grad_bits), (
                    f"group {index} param {i}: .grad changed by a step() that raised [{op}]"
                )
        unchanged = [
            all(
                _same_bits(target, p, param_bits) and _same_bits(target, buffer_of(p), buffer_bits)
                for p, param_bits, _, buffer_bits in members
            )
            for members in before
        ]
        for index in violating:
            if all(unchanged[index:]):
                return index
        raise AssertionError(
            f"step() raised the layout refusal ({str(exc)[:90]}), but changed parameters or momentum "
            f"buffers of the groups it refused (groups breaking the layout rule: {violating}; unchanged "
            f"per group: {unchanged}); a refusal must leave them as they were [{op}]"
        ) from exc
    return None


# --- sgd: trajectories over implementations × options × layouts -----------------------------


def check_sgd_surface(
    target: Target,
    shapes,
    initial,
    grads,
    has_grad,
    groups,
    defaults,
    *,
    param_layouts: list[str],
    grad_layouts: list[str],
    buffer_layouts: list[str | None],
    buffers,
    tensor_lr: bool,
    implementation: str,
    device: str,
    dtype: str,
    lr_dtype: str = "float64",
) -> None:
    """The trajectory of ``optim.SGD`` against the reference, with the given layouts.

    ``buffer_layouts[i]`` (None: none) is the layout of a momentum buffer loaded through
    ``load_state_dict`` before the first step, holding ``buffers`` (flattened like ``initial``);
    the reference starts from the same buffer. With ``tensor_lr`` every lr is a 0-dim tensor of
    ``lr_dtype`` on the device (float64 unless a registered defect is avoided), and the reference
    takes the value it holds, rounded to ``lr_dtype`` (so both sides use the same learning rate);
    it must not change.

    On CUDA, fused SGD may refuse layouts its kernel cannot take; that refusal, and only it, ends
    the example early (:func:`_step_or_refusal`): its cells were exercised, with the verdict
    "refused cleanly".
    """
    tensors = [
        target.tensor(v, dtype=dtype, device=device, layout=layout, requires_grad=True)
        for v, layout in zip(_split(initial, shapes), param_layouts, strict=True)
    ]
    where = [(t.data_ptr(), t.stride(), t.storage_offset()) for t in tensors]
    references = [ref_optim.Parameter(v) for v in _split(initial, shapes)]
    lr_tensors: list[Any] = []

    def lr_of(value: float) -> Any:
        if not tensor_lr:
            return value
        lr_tensors.append(target.tensor(np.float64(value), dtype=lr_dtype, device=device))
        return lr_tensors[-1]

    def held(value: float) -> float:  # the lr the target uses: the tensor's value
        return float(round_to(np.array(value, dtype=np.float64), lr_dtype)) if tensor_lr else value

    optimizer = _build(target, tensors, groups, defaults, implementation, lr_of)
    lr_values = [float(t.item()) for t in lr_tensors]
    reference = ref_optim.SGD(
        [
            {**g, **({"lr": held(g["lr"])} if "lr" in g else {}), "params": [references[i] for i in g["params"]]}
            for g in groups
        ],
        **{**defaults, "lr": held(defaults["lr"])},
    )
    bound = SGDErrorBound(dtype)
    ids = _state_ids(groups)
    loaded = {}
    for i, (layout, values) in enumerate(zip(buffer_layouts, _split(buffers, shapes), strict=True)):
        if layout is not None:
            loaded[ids[i]] = {"momentum_buffer": target.tensor(values, dtype=dtype, device=device, layout=layout)}
            reference.state[references[i]] = {"momentum_buffer": np.array(values, dtype=np.float64)}
            bound.load_buffer(references[i], values.shape)
    if loaded:
        optimizer.load_state_dict({"state": loaded, "param_groups": optimizer.state_dict()["param_groups"]})
    seen_grad_layouts: set[str] = set()
    mixed = [False]
    try:
        _sgd_surface_steps(
            target,
            optimizer,
            tensors,
            references,
            reference,
            bound,
            where,
            shapes,
            grads,
            has_grad,
            grad_layouts,
            param_layouts,
            seen_grad_layouts,
            mixed,
            implementation=implementation,
            device=device,
            dtype=dtype,
        )
        for t, value in zip(lr_tensors, lr_values, strict=True):
            assert float(t.item()) == value, f"lr tensor={t.item()!r} after step(), but should stay {value!r}"
    finally:  # an example that fails has exercised its cells too (a known defect is reported there)
        buffer_layouts_after = sorted(
            {
                target.layout_of(b)
                for t in tensors
                if (b := optimizer.state.get(t, {}).get("momentum_buffer")) is not None
            }
        )
        if seen_grad_layouts:
            touch(
                "sgd",
                implementation=CELL[implementation],
                option=_options(_hyper(groups, defaults), tensor_lr),
                groups="one" if len(groups) == 1 else "several",
                param_layout=sorted({target.layout_of(t) for t in tensors}),
                grad_layout=sorted(seen_grad_layouts),
                state_layout=buffer_layouts_after or ("none",),
                mixed="different" if mixed[0] else "same",
                dtype=dtype,
            )


def _sgd_surface_steps(
    target,
    optimizer,
    tensors,
    references,
    reference,
    bound,
    where,
    shapes,
    grads,
    has_grad,
    grad_layouts,
    param_layouts,
    seen_grad_layouts,
    mixed,
    *,
    implementation,
    device,
    dtype,
) -> None:
    """The steps of :func:`check_sgd_surface`, each compared with the reference."""
    for step, step_grads in enumerate(grads):
        for i, (tensor, ref, g, layout) in enumerate(
            zip(tensors, references, _split(step_grads, shapes), grad_layouts, strict=True)
        ):
            if has_grad[step, i]:
                tensor.grad = target.tensor(g, dtype=dtype, device=device, layout=layout)
                seen_grad_layouts.add(target.layout_of(tensor.grad))
                mixed[0] = mixed[0] or target.layout_of(tensor.grad) != target.layout_of(tensor)
                ref.grad = g
            else:
                tensor.grad, ref.grad = None, None
        op = f"SGD({implementation}) step {step + 1}"
        refused = _step_or_refusal(target, optimizer, implementation=implementation, device=device, op=op)
        bound.step(_updates(reference))
        # after a refusal only the groups before the refused one have stepped (the rest is checked
        # unchanged in _step_or_refusal); the example ends there
        stepped = None if refused is None else {id(p) for g in optimizer.param_groups[:refused] for p in g["params"]}
        parts = []
        for i, (tensor, ref) in enumerate(zip(tensors, references, strict=True)):
            if stepped is not None and id(tensor) not in stepped:
                continue
            now = (tensor.data_ptr(), tensor.stride(), tensor.storage_offset())
            assert now == where[i], (
                f"param {i} ({param_layouts[i]}) has (data_ptr, stride, offset)={now} after step(), but should "
                f"keep {where[i]}: step() must update it in place [{op}]"
            )
            parts.append((f"param {i}", tensor, ref.data, bound.param_bound(ref, ref.data.shape)))
            has_buffer = ref in reference.state
            buffer = optimizer.state.get(tensor, {}).get("momentum_buffer")
            assert (buffer is not None) == has_buffer, (
                f"momentum buffer of param {i} is {'present' if buffer is not None else 'absent'}, "
                f"but should be {'present' if has_buffer else 'absent'} [{op}]"
            )
            if has_buffer:
                parts.append((f"buffer {i}", buffer, reference.state[ref]["momentum_buffer"], bound.buffer_bound(ref)))
        if parts:
            assert_all_close(parts, op=op, dtype=dtype)
        if refused is not None:
            return


def _shrink(problem: dict[str, Any], limit: int) -> dict[str, Any]:
    """``problem`` with every parameter of more than ``limit`` elements cut to its first ``limit``
    (a vector), its values and gradients cut alike."""
    shapes = problem["shapes"]
    kept = [s if math.prod(s) <= limit else (limit,) for s in shapes]
    starts = np.cumsum([0, *[math.prod(s) for s in shapes]])
    columns = np.concatenate(
        [np.arange(start, start + math.prod(k)) for start, k in zip(starts[:-1], kept, strict=True)]
    ).astype(int)
    return {**problem, "shapes": kept, "initial": problem["initial"][columns], "grads": problem["grads"][:, columns]}


@st.composite
def sgd_surface_problems(draw: st.DrawFn, *, dtype: str, implementation: str, device: str) -> dict[str, Any]:
    """An SGD trajectory (:func:`sgd_problems`) with layouts for parameters, gradients and loaded
    buffers, and a tensor or float lr. Patterns of registered defects are avoided where the probe
    finds them (see the module docstring)."""
    problem = draw(sgd_problems(dtype=dtype), label="problem")
    if implementation == "fused=True" and dtype in LOW_PRECISION and _present(FUSED_LOW_PRECISION, device):
        # parameters small enough for the scalar tail; test_fused_sgd_low_precision reaches the rest
        problem = _shrink(problem, SMALLEST_HALF_VECTOR - 1)
    shapes, groups, defaults = problem["shapes"], problem["groups"], problem["defaults"]
    count = len(shapes)
    param_layouts = [draw(st.sampled_from(PARAM_LAYOUTS), label=f"param layout {i}") for i in range(count)]
    mixed = draw(st.booleans(), label="mixed")
    grad_layouts = [
        draw(st.sampled_from(LAYOUTS), label=f"grad layout {i}") if mixed else param_layouts[i] for i in range(count)
    ]
    hypers = _hyper(groups, defaults)
    group_of = {i: h for g, h in zip(groups, hypers, strict=True) for i in g["params"]}
    if implementation == "foreach=True" and _present(FOREACH_NESTEROV_GRAD, device):
        # foreach nesterov (no weight decay, no maximize) adds μ·buf into .grad in place, which an
        # expanded gradient refuses (RuntimeError); registry entry sgd-foreach-nesterov-grad
        for i in range(count):
            h = group_of[i]
            if h["momentum"] != 0 and h["nesterov"] and h["weight_decay"] == 0 and not h["maximize"]:
                grad_layouts[i] = param_layouts[i] if grad_layouts[i] == "expanded" else grad_layouts[i]
    fused_dense_only = implementation == "fused=True" and _present(FUSED_STRIDES, device)
    if fused_dense_only:
        # fused SGD on the CPU walks every tensor as flat memory (sgd-fused-cpu-strides): keep
        # parameter, gradient and buffer in one dense order; test_fused_sgd_strides reaches the rest
        for i in range(count):
            if param_layouts[i] == "strided":
                param_layouts[i] = "contiguous"
            dense = ("transposed",) if param_layouts[i] == "transposed" else ("contiguous", "offset")
            if grad_layouts[i] not in dense:
                grad_layouts[i] = dense[0]
    grads = problem["grads"].copy()
    for i, layout in enumerate(grad_layouts):
        if layout == "expanded" and len(shapes[i]) >= 1:
            for s in range(grads.shape[0]):
                part = _split(grads[s], shapes)[i]
                start = sum(math.prod(sh) for sh in shapes[:i])
                grads[s, start : start + part.size] = repeat_first(part).ravel()
    problem["grads"] = grads
    # buffers loaded before the first step: per momentum group, all members or none for fused
    # where a late first buffer fails (sgd-fused-late-first-grad), else per parameter
    buffer_layouts: list[str | None] = [None] * count
    choices = (None, None, *PARAM_LAYOUTS)
    for g, h in zip(groups, hypers, strict=True):
        if h["momentum"] == 0:
            continue
        if avoid_late_first_grad(implementation, device):
            shared: str | None = draw(st.sampled_from(choices), label="group buffer layout")
            for i in g["params"]:
                buffer_layouts[i] = shared
        else:
            for i in g["params"]:
                buffer_layouts[i] = draw(st.sampled_from(choices), label=f"buffer layout {i}")
        if fused_dense_only:
            for i in g["params"]:
                dense = ("transposed",) if param_layouts[i] == "transposed" else ("contiguous", "offset")
                if buffer_layouts[i] is not None and buffer_layouts[i] not in dense:
                    buffer_layouts[i] = dense[0]
    if not problem["has_grad"].any():  # some gradient, so that the example exercises a grad layout
        problem["has_grad"] = problem["has_grad"].copy()
        problem["has_grad"][0, 0] = True
    if avoid_late_first_grad(implementation, device):
        problem["has_grad"] = fused_compatible(problem["has_grad"], groups, defaults)
    total = sum(math.prod(s) for s in shapes)
    buffers = draw(filled_arrays((total,), dtype=dtype, max_magnitude=16.0), label="buffers")
    return {
        **problem,
        "param_layouts": param_layouts,
        "grad_layouts": grad_layouts,
        "buffer_layouts": buffer_layouts,
        "buffers": buffers,
        "tensor_lr": draw(st.booleans(), label="tensor lr"),
        "lr_dtype": _lr_dtype(implementation, device),
    }


def _lr_dtype(implementation: str, device: str) -> str:
    """The dtype of a drawn tensor lr: float64, or float32 for fused SGD where the probe finds
    sgd-fused-cuda-tensor-lr-dtype (the CUDA kernel reads the lr tensor through
    ``lr.data_ptr<float>()``, so float32 is the one dtype it takes, whatever the parameters' dtype;
    test_fused_sgd_tensor_lr_dtype reaches the float64 lr). The reference takes the float32 value."""
    if implementation == "fused=True" and _present(FUSED_TENSOR_LR, device):
        return "float32"
    return "float64"


@pytest.mark.dtypes(*ALL_DTYPES)
@pytest.mark.cpu_low_precision
@pytest.mark.parametrize("implementation", implementation_params())
@given(data=st.data())
def test_sgd_surface(target, device, dtype, implementation, data):
    skip_unless_torch_sgd(target, implementation)
    problem = data.draw(
        sgd_surface_problems(dtype=dtype, implementation=implementation, device=device), label="problem"
    )
    run_check(check_sgd_surface, target=target, **problem, implementation=implementation, device=device, dtype=dtype)


_FUSED_STRIDE_CASES = [
    # (param layout, grad layout, buffer layout loaded before the first step or None)
    ("strided", "strided", "strided"),
    ("contiguous", "expanded", None),
    ("contiguous", "transposed", "offset"),
    ("transposed", "contiguous", "transposed"),
]


@FUSED
@pytest.mark.known_defect(FUSED_STRIDES)
@pytest.mark.parametrize(("param_layout", "grad_layout", "buffer_layout"), _FUSED_STRIDE_CASES)
def test_fused_sgd_strides(target, device, param_layout, grad_layout, buffer_layout):
    """fused=True with layouts that differ between parameter, gradient and buffer, or are not dense:
    the pattern the drawn fused examples avoid where the probe finds sgd-fused-cpu-strides. On
    CUDA the kernel refuses these layouts cleanly, which the check accepts (_step_or_refusal)."""
    skip_unless_torch_sgd(target)
    values = np.arange(1.0, 13.0).reshape(3, 4) / 4.0
    grads = np.stack([repeat_first(values[::-1]).ravel(), repeat_first(-values).ravel()])
    hyper = {"lr": 0.5, "momentum": 0.5, "dampening": 0.0, "weight_decay": 0.25, "nesterov": False, "maximize": False}
    run_check(
        check_sgd_surface,
        target=target,
        shapes=[(3, 4)],
        initial=values.ravel(),
        grads=grads,
        has_grad=np.ones((2, 1), dtype=bool),
        groups=[{"params": [0]}],
        defaults=hyper,
        param_layouts=[param_layout],
        grad_layouts=[grad_layout],
        buffer_layouts=[buffer_layout],
        buffers=(values * 0.5).ravel(),
        tensor_lr=False,
        implementation="fused=True",
        device=device,
        dtype="float32",
    )


@FUSED
@pytest.mark.known_defect(FUSED_LOW_PRECISION)
@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_fused_sgd_low_precision(target, device, dtype):
    """fused=True in float16/bfloat16 with a 40-element parameter (more than one SIMD vector):
    the pattern the drawn fused examples avoid where the probe finds the defect."""
    skip_unless_torch_sgd(target)
    values = np.arange(1.0, 41.0) / 8.0
    hyper = {"lr": 0.5, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False}
    run_check(
        check_sgd_surface,
        target=target,
        shapes=[(40,)],
        initial=values,
        grads=np.ones((1, 40)),
        has_grad=np.ones((1, 1), dtype=bool),
        groups=[{"params": [0]}],
        defaults=hyper,
        param_layouts=["contiguous"],
        grad_layouts=["contiguous"],
        buffer_layouts=[None],
        buffers=np.zeros(40),
        tensor_lr=False,
        implementation="fused=True",
        device=device,
        dtype=dtype,
    )


@FUSED
@pytest.mark.known_defect(FUSED_TENSOR_LR)
@pytest.mark.parametrize("dtype", FULL_PRECISIONS)
def test_fused_sgd_tensor_lr_dtype(target, device, dtype):
    """fused=True with lr a 0-dim float64 tensor on the device (torch documents ``lr (float,
    Tensor)`` without a dtype restriction): the pattern the drawn fused examples avoid where the
    probe finds sgd-fused-cuda-tensor-lr-dtype. Momentum, so that both kernels (with and without
    a buffer list) are reached over the two steps' groups."""
    skip_unless_torch_sgd(target)
    values = np.arange(1.0, 13.0).reshape(3, 4) / 4.0
    hyper = {"lr": 0.5, "momentum": 0.5, "dampening": 0.25, "weight_decay": 0.25, "nesterov": False, "maximize": False}
    run_check(
        check_sgd_surface,
        target=target,
        shapes=[(3, 4), (5,)],
        initial=np.concatenate([values.ravel(), np.linspace(-1.0, 1.0, 5)]),
        grads=np.stack([np.linspace(-2.0, 2.0, 17), np.linspace(1.0, -3.0, 17)]),
        has_grad=np.ones((2, 2), dtype=bool),
        groups=[{"params": [0]}, {"params": [1], "momentum": 0.0}],
        defaults=hyper,
        param_layouts=["contiguous", "contiguous"],
        grad_layouts=["contiguous", "contiguous"],
        buffer_layouts=[None, None],
        buffers=np.zeros(17),
        tensor_lr=True,
        implementation="fused=True",
        device=device,
        dtype=dtype,
        lr_dtype="float64",
    )


# --- sgd_api: what step() mutates ---------------------------------------------------------


def check_step_mutations(
    target: Target,
    shapes,
    initial,
    grads,
    groups,
    defaults,
    *,
    tensor_lr: bool,
    implementation,
    device,
    dtype,
    lr_dtype: str = "float64",
) -> None:
    """Two step()s on the same gradients (no backward in between).

    step() must update every parameter in place and keep each momentum buffer (same tensor,
    updated in place); it must leave ``.grad`` (the same tensor, same values), the caller's lr
    tensors, a tensor outside the optimizer and the groups' hyper-parameters unchanged.
    """
    tensors = [target.tensor(v, dtype=dtype, device=device, requires_grad=True) for v in _split(initial, shapes)]
    bystander = target.tensor(initial, dtype=dtype, device=device, requires_grad=True)
    lr_tensors: list[Any] = []

    def lr_of(value: float) -> Any:
        if not tensor_lr:
            return value
        lr_tensors.append(target.tensor(np.float64(value), dtype=lr_dtype, device=device))
        return lr_tensors[-1]

    optimizer = _build(target, tensors, groups, defaults, implementation, lr_of)
    lr_before = [t.detach().clone() for t in lr_tensors]
    hyper_before = [
        {k: (float(v.item()) if isinstance(v, target.torch.Tensor) else v) for k, v in g.items() if k != "params"}
        for g in optimizer.param_groups
    ]
    lr_objects = [g["lr"] for g in optimizer.param_groups]
    for tensor, g in zip(tensors, _split(grads[0], shapes), strict=True):
        tensor.grad = target.tensor(g, dtype=dtype, device=device)
    grad_objects = [t.grad for t in tensors]
    grad_values = [g.detach().clone() for g in grad_objects if g is not None]
    bystander_before = bystander.detach().clone()
    where = [(t.data_ptr(), t.stride()) for t in tensors]
    op = f"SGD({implementation})"
    buffers_before: dict[int, tuple[Any, int]] = {}
    for step in (1, 2):
        optimizer.step()
        for i, tensor in enumerate(tensors):
            assert (tensor.data_ptr(), tensor.stride()) == where[i], (
                f"param {i} moved to (data_ptr, stride)={(tensor.data_ptr(), tensor.stride())} after step(), but "
                f"should be updated in place at {where[i]} [{op} step {step}]"
            )
            grad = tensor.grad
            assert grad is not None, f"param {i}'s .grad is None after step() [{op} step {step}]"
            assert grad is grad_objects[i], f"param {i}'s .grad was replaced by step() [{op} step {step}]"
            assert target.torch.equal(grad, grad_values[i]), (
                f"p.grad={np.ravel(target.numpy(grad)).tolist()} after step(), but should be "
                f"{np.ravel(target.numpy(grad_values[i])).tolist()} [param {i}, {op} step {step}]"
            )
            buffer = optimizer.state.get(tensor, {}).get("momentum_buffer")
            if i in buffers_before:
                old, ptr = buffers_before[i]
                assert buffer is old, f"param {i}'s momentum buffer was replaced by step() [{op} step {step}]"
                assert buffer.data_ptr() == ptr, (
                    f"param {i}'s momentum buffer moved in memory, but should be updated in place [{op} step {step}]"
                )
            if buffer is not None:
                buffers_before[i] = (buffer, buffer.data_ptr())
        for t, before in zip(lr_tensors, lr_before, strict=True):
            assert target.torch.equal(t, before), (
                f"lr tensor={t.item()!r} after step(), but should stay {before.item()!r}"
            )
        for g, lr_object, before in zip(optimizer.param_groups, lr_objects, hyper_before, strict=True):
            assert g["lr"] is lr_object, f"a group's lr was replaced by step() [{op} step {step}]"
            after = {k: (float(v.item()) if isinstance(v, target.torch.Tensor) else v) for k, v in g.items()}
            after.pop("params")
            assert after == before, f"param_groups hyper-parameters={after} after step(), but should be {before} [{op}]"
        assert target.torch.equal(bystander, bystander_before), f"a tensor outside the optimizer changed [{op}]"
    touch("sgd_api", implementation=CELL[implementation], aspect="step_mutates_only_params_and_state")


def _foreach_nesterov_writes(hypers: list[dict[str, Any]]) -> bool:
    return any(h["momentum"] != 0 and h["nesterov"] and h["weight_decay"] == 0 and not h["maximize"] for h in hypers)


@pytest.mark.parametrize("implementation", implementation_params())
@given(data=st.data())
def test_step_mutates_only_params_and_state(target, device, implementation, data):
    """What step() changes does not depend on the dtype: float32 only (values are the trajectory
    properties' concern; each fused step costs milliseconds on a loaded CPU)."""
    skip_unless_torch_sgd(target, implementation)
    dtype = "float32"
    problem = data.draw(sgd_problems(dtype=dtype), label="problem")
    hypers = _hyper(problem["groups"], problem["defaults"])
    if (
        implementation == "foreach=True"
        and _present(FOREACH_NESTEROV_GRAD, device)
        and _foreach_nesterov_writes(hypers)
    ):
        # reached by test_step_mutation_foreach_nesterov (known_defect sgd-foreach-nesterov-grad)
        problem["defaults"] = {**problem["defaults"], "nesterov": False}
        problem["groups"] = [{**g, "nesterov": False} for g in problem["groups"]]
    run_check(
        check_step_mutations,
        target=target,
        shapes=problem["shapes"],
        initial=problem["initial"],
        grads=problem["grads"],
        groups=problem["groups"],
        defaults=problem["defaults"],
        tensor_lr=data.draw(st.booleans(), label="tensor lr"),
        implementation=implementation,
        device=device,
        dtype=dtype,
        lr_dtype=_lr_dtype(implementation, device),  # sgd-fused-cuda-tensor-lr-dtype where found
    )


@pytest.mark.known_defect(FOREACH_NESTEROV_GRAD)
def test_step_mutation_foreach_nesterov(target, device):
    """foreach with nesterov (no weight decay, no maximize): the pattern the drawn examples avoid."""
    skip_unless_torch_sgd(target)
    run_check(
        check_step_mutations,
        target=target,
        shapes=[(4,)],
        initial=np.ones(4),
        grads=np.full((1, 4), 0.5),
        groups=[{"params": [0]}],
        defaults={
            "lr": 0.1,
            "momentum": 0.9,
            "dampening": 0.0,
            "weight_decay": 0.0,
            "nesterov": True,
            "maximize": False,
        },
        tensor_lr=False,
        implementation="foreach=True",
        device=device,
        dtype="float32",
    )


# --- sgd_api: state_dict round trips and independence ---------------------------------------


def check_state_dict_round_trip(
    target: Target,
    shapes,
    initial,
    grads,
    has_grad,
    groups,
    defaults,
    *,
    save_after: int,
    source,
    restored,
    device,
    dtype,
) -> None:
    """``restored.load_state_dict(deepcopy(source.state_dict()))`` after ``save_after`` steps, then both
    continue on the same gradients: both must follow the reference trajectory.

    The dict is deep-copied as torch.save/torch.load would (the documented checkpoint workflow), so
    this checks what is restored; whether load_state_dict itself copies is the independence check's.
    """
    tensors = [target.tensor(v, dtype=dtype, device=device, requires_grad=True) for v in _split(initial, shapes)]
    references = [ref_optim.Parameter(v) for v in _split(initial, shapes)]
    original = _build(target, tensors, groups, defaults, source, lambda v: v)
    reference = ref_optim.SGD([{**g, "params": [references[i] for i in g["params"]]} for g in groups], **defaults)
    bound = SGDErrorBound(dtype)
    copies: list[Any] = []
    copy_of: Any = None
    for step, step_grads in enumerate(grads):
        if step == save_after:
            copies = [t.detach().clone().requires_grad_(True) for t in tensors]
            copy_of = _build(target, copies, groups, defaults, restored, lambda v: v)
            copy_of.load_state_dict(copy.deepcopy(original.state_dict()))
            for i, (a, b) in enumerate(zip(tensors, copies, strict=True)):
                ba = original.state.get(a, {}).get("momentum_buffer")
                bb = copy_of.state.get(b, {}).get("momentum_buffer")
                where = f"[SGD({source}) → SGD({restored})]"
                assert (ba is None) == (bb is None), f"momentum buffer of param {i} after load_state_dict: {bb} {where}"
                assert ba is None or target.torch.equal(ba, bb), (
                    f"momentum buffer of param {i} after load_state_dict is {bb}, but should be {ba} {where}"
                )
        runs = [("original", original, tensors)] + ([("restored", copy_of, copies)] if copy_of is not None else [])
        for i, (ref, g) in enumerate(zip(references, _split(step_grads, shapes), strict=True)):
            ref.grad = g if has_grad[step, i] else None
            for _, _, ts in runs:
                ts[i].grad = target.tensor(g, dtype=dtype, device=device) if has_grad[step, i] else None
        for _, opt, _ in runs:
            opt.step()
        bound.step(_updates(reference))
        for name, opt, ts in runs:
            op = f"SGD({source} → {restored}) {name} step {step + 1}"
            parts = []
            for i, (tensor, ref) in enumerate(zip(ts, references, strict=True)):
                parts.append((f"param {i}", tensor, ref.data, bound.param_bound(ref, ref.data.shape)))
                if ref in reference.state:
                    buffer = opt.state.get(tensor, {}).get("momentum_buffer")
                    assert buffer is not None, f"momentum buffer of param {i} is absent, but should be present [{op}]"
                    parts.append(
                        (f"buffer {i}", buffer, reference.state[ref]["momentum_buffer"], bound.buffer_bound(ref))
                    )
            assert_all_close(parts, op=op, dtype=dtype)
    touch("sgd_api", implementation=(CELL[source], CELL[restored]), aspect="state_dict_round_trip")


@pytest.mark.parametrize("source", implementation_params())
@given(data=st.data())
def test_state_dict_round_trip(target, device, source, data):
    """float32 only: a restore is exact whatever the dtype (torch.equal on the loaded buffers), and
    the continued trajectories are test_sgd_surface's in every dtype; each fused step costs
    milliseconds on a loaded CPU."""
    skip_unless_torch_sgd(target, source)
    dtype = "float32"
    restored = data.draw(st.sampled_from(implementations(target, device)), label="restored")
    problem = data.draw(sgd_problems(dtype=dtype), label="problem")
    # three steps are enough to save before, at and after the buffers' first step (and keep the
    # fused examples, slow on a loaded CPU, within the suite's time budget)
    problem["grads"], problem["has_grad"] = problem["grads"][:3], problem["has_grad"][:3]
    if avoid_late_first_grad(source, device) or avoid_late_first_grad(restored, device):
        problem["has_grad"] = fused_compatible(problem["has_grad"], problem["groups"], problem["defaults"])
    save_after = data.draw(st.integers(0, len(problem["grads"]) - 1), label="save after")
    run_check(
        check_state_dict_round_trip,
        target=target,
        **problem,
        save_after=save_after,
        source=source,
        restored=restored,
        device=device,
        dtype=dtype,
    )


def check_state_dict_independence(target: Target, *, source: str, restored: str, device: str) -> None:
    """An optimizer restored from another's ``state_dict()`` owns its state: stepping the original,
    changing the dict's tensors or stepping the restored one leaves the other two alone."""
    p = target.torch.ones(3, device=device, requires_grad=True)
    q = target.torch.ones(3, device=device, requires_grad=True)
    original = target.optim.SGD([p], lr=0.1, momentum=0.9, **IMPLEMENTATIONS[source])
    p.grad = target.torch.ones_like(p)
    original.step()
    saved = original.state_dict()
    copy_of = target.optim.SGD([q], lr=0.1, momentum=0.9, **IMPLEMENTATIONS[restored])
    copy_of.load_state_dict(saved)
    touch("sgd_api", implementation=(CELL[source], CELL[restored]), aspect="state_dict_independence")
    restored_buffer = copy_of.state[q]["momentum_buffer"]
    expected = restored_buffer.detach().clone()
    where = f"[SGD({source}) → SGD({restored})]"
    original.step()
    assert target.torch.equal(copy_of.state[q]["momentum_buffer"], expected), (
        f"momentum buffer of the restored optimizer changed when the original stepped: "
        f"{copy_of.state[q]['momentum_buffer'].tolist()}, but should stay {expected.tolist()} {where}"
    )
    saved["state"][0]["momentum_buffer"].add_(1.0)
    assert target.torch.equal(copy_of.state[q]["momentum_buffer"], expected), (
        f"momentum buffer of the restored optimizer changed when the loaded dict's tensor changed: "
        f"{copy_of.state[q]['momentum_buffer'].tolist()}, but should stay {expected.tolist()} {where}"
    )
    original_buffer = original.state[p]["momentum_buffer"].detach().clone()
    q.grad = target.torch.ones_like(q)
    copy_of.step()
    assert target.torch.equal(original.state[p]["momentum_buffer"], original_buffer), (
        f"momentum buffer of the original optimizer changed when the restored one stepped: "
        f"{original.state[p]['momentum_buffer'].tolist()}, but should stay {original_buffer.tolist()} {where}"
    )


_PAIRS = [
    pytest.param(
        source,
        restored,
        marks=[pytest.mark.known_defect(ALIASES)] + ([FUSED] if "fused=True" in (source, restored) else []),
        id=f"{CELL[source]}-to-{CELL[restored]}",
    )
    for source in IMPLEMENTATIONS
    for restored in IMPLEMENTATIONS
]


@pytest.mark.parametrize(("source", "restored"), _PAIRS)
def test_state_dict_independence(target, device, source, restored):
    # the known_defect marker is about torch.optim.SGD's own load_state_dict (fault tests call the
    # check on replacements: tests/optim/test_sgd_surface_faults.py)
    skip_unless_torch_sgd(target)
    run_check(check_state_dict_independence, target=target, source=source, restored=restored, device=device)


# --- sgd_api: differentiable=True against the reference derivative -------------------------


def check_differentiable_step(
    target: Target, theta, grad, buffer, v_param, v_buffer, hyper, *, implementation: str, device: str, dtype: str
) -> None:
    """One ``differentiable=True`` step of a non-leaf parameter θ' = θ.clone(); autograd's VJP of
    (θ', b') with cotangents (``v_param``, ``v_buffer``) with respect to θ, g and the buffer b
    (``buffer`` None: the step creates it, or momentum is 0) against
    :func:`fizzcheck.reference.optim.sgd_update_derivatives`, within
    :func:`fizzcheck.bounds.training.sgd_vjp_bound`. An input autograd finds no path from is
    a zero derivative."""
    has_buffer = buffer is not None
    theta_t = target.tensor(theta, dtype=dtype, device=device, requires_grad=True)
    grad_t = target.tensor(grad, dtype=dtype, device=device, requires_grad=True)
    inputs = [theta_t, grad_t]
    param = theta_t.clone()
    param.grad = grad_t
    optimizer = target.optim.SGD([param], **hyper, differentiable=True, **IMPLEMENTATIONS[implementation])
    if has_buffer:
        buffer_t = target.tensor(buffer, dtype=dtype, device=device, requires_grad=True)
        inputs.append(buffer_t)
        optimizer.state[param]["momentum_buffer"] = buffer_t.clone()
    optimizer.step()
    new_buffer = optimizer.state[param].get("momentum_buffer")
    outputs = [(param, target.tensor(v_param, dtype=dtype, device=device))]
    if new_buffer is not None:
        outputs.append((new_buffer, target.tensor(v_buffer, dtype=dtype, device=device)))
    live = [(o, v) for o, v in outputs if o.requires_grad]
    found = (
        target.autograd.grad([o for o, _ in live], inputs, [v for _, v in live], allow_unused=True)
        if live
        else [None] * len(inputs)
    )
    got = [target.torch.zeros_like(x) if d is None else d for x, d in zip(inputs, found, strict=True)]
    jac = ref_optim.sgd_update_derivatives(hyper, has_buffer=has_buffer)
    v_p = np.asarray(v_param, dtype=np.float64)
    v_b = np.asarray(v_buffer, dtype=np.float64) if jac.buffer_grad is not None else None
    op = f"SGD({implementation}, differentiable, {'with buffer' if has_buffer else 'first step'})"
    parts = []
    for index, (name, d_param, d_buffer) in enumerate(
        (
            ("param", jac.param_param, jac.buffer_param),
            ("grad", jac.param_grad, jac.buffer_grad),
            ("buffer", jac.param_buffer, jac.buffer_buffer),
        )
    ):
        if d_param is None:  # no buffer before the step: nothing to differentiate by
            continue
        expected = d_param * v_p + (0.0 if d_buffer is None or v_b is None else d_buffer * v_b)
        bound = sgd_vjp_bound(
            jac.magnitude[f"param_{name}"], jac.magnitude.get(f"buffer_{name}"), v_p, v_b, dtype=dtype
        )
        parts.append((f"d/d {name}", got[index], expected, bound))
    assert_all_close(parts, op=op, dtype=dtype)
    touch("sgd_api", implementation=CELL[implementation], aspect="differentiable")


@st.composite
def differentiable_steps(draw: st.DrawFn, *, dtype: str, implementation: str, device: str) -> dict[str, Any]:
    """One parameter, its gradient, a momentum buffer (or None) and cotangents, and hyper-parameters.
    Patterns of registered defects are avoided where the probe finds them: the step that creates
    the buffer (sgd-differentiable-first-momentum-detached), foreach weight decay without maximize
    (sgd-foreach-differentiable-weight-decay) and foreach nesterov without weight decay or maximize,
    which adds into the caller's .grad, a leaf that requires grad (sgd-foreach-nesterov-grad)."""
    shape = draw(st.sampled_from(PARAM_SHAPES), label="shape")
    values = draw(filled_arrays((5, *shape), dtype=dtype, max_magnitude=16.0), label="values")
    hyper = draw(sgd_hyper_parameters(), label="hyper")
    foreach = implementation == "foreach=True"
    if foreach and _present(FOREACH_DIFFERENTIABLE_WD, device) and hyper["weight_decay"] != 0:
        hyper["maximize"] = True
    if foreach and _present(FOREACH_NESTEROV_GRAD, device) and _foreach_nesterov_writes([hyper]):
        hyper["nesterov"] = False
    first = hyper["momentum"] != 0 and draw(st.booleans(), label="first step")
    if first and _present(FIRST_MOMENTUM_DETACHED, device):
        first = False
    return {
        "theta": values[0],
        "grad": values[1],
        "buffer": values[2] if hyper["momentum"] != 0 and not first else None,
        "v_param": values[3],
        "v_buffer": values[4],
        "hyper": hyper,
    }


DIFFERENTIABLE = [name for name in IMPLEMENTATIONS if name != "fused=True"]
"""torch refuses fused=True with differentiable=True (test_optim's test_incompatible_options_raise)."""


@pytest.mark.dtypes(*FULL_PRECISIONS)
@pytest.mark.parametrize("implementation", DIFFERENTIABLE)
@given(data=st.data())
def test_differentiable_step(target, device, dtype, implementation, data):
    skip_unless_torch_sgd(target)  # differentiable=True is torch.optim.SGD's option, whatever the implementation
    case = data.draw(differentiable_steps(dtype=dtype, implementation=implementation, device=device), label="case")
    run_check(
        check_differentiable_step, target=target, **case, implementation=implementation, device=device, dtype=dtype
    )


_DIFF_CASE = {
    "theta": np.array([1.0, 2.0, -0.5]),
    "grad": np.array([0.5, -1.0, 0.25]),
    "v_param": np.array([1.0, -2.0, 0.5]),
    "v_buffer": np.array([0.25, 1.0, -1.0]),
}


@pytest.mark.known_defect(FIRST_MOMENTUM_DETACHED)
@pytest.mark.parametrize("implementation", DIFFERENTIABLE)
def test_differentiable_first_momentum_step(target, device, implementation):
    """The step that creates the buffer (b' = d): θ' = θ − γ d depends on g."""
    skip_unless_torch_sgd(target)
    hyper = {"lr": 0.5, "momentum": 0.5, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False}
    run_check(
        check_differentiable_step,
        target=target,
        **_DIFF_CASE,
        buffer=None,
        hyper=hyper,
        implementation=implementation,
        device=device,
        dtype="float64",
    )


@pytest.mark.known_defect(FOREACH_DIFFERENTIABLE_WD)
def test_differentiable_foreach_weight_decay(target, device):
    """foreach with weight decay and maximize=False, no momentum: ∂θ'/∂θ = 1 − γλ."""
    skip_unless_torch_sgd(target)
    hyper = {"lr": 0.5, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.5, "nesterov": False, "maximize": False}
    run_check(
        check_differentiable_step,
        target=target,
        **_DIFF_CASE,
        buffer=None,
        hyper=hyper,
        implementation="foreach=True",
        device=device,
        dtype="float64",
    )


# --- sgd_api: zero_grad ----------------------------------------------------------------------


def check_zero_grad(target: Target, *, how: str, implementation: str, device: str, dtype: str) -> None:
    """``how``: ``optimizer`` (optimizer.zero_grad(set_to_none=True)), ``optimizer-default``
    (zero_grad()), ``optimizer-zeros`` (zero_grad(set_to_none=False)), ``module`` /
    ``module-zeros`` (the same through an nn.Module whose parameters the optimizer holds).
    set_to_none leaves every .grad None; set_to_none=False zeroes each gradient in place: the
    same tensor, the same storage and strides, all zeros. Gradients come in every layout."""
    module = target.nn.Linear(4, 3, device=device, dtype=target.dtype(dtype))
    extra = [
        target.tensor(np.ones((3, 4)), dtype=dtype, device=device, layout=layout, requires_grad=True)
        for layout in PARAM_LAYOUTS
    ]
    optimizer = target.optim.SGD([*module.parameters(), *extra], lr=0.1, **IMPLEMENTATIONS[implementation])
    params = [*module.parameters(), *extra]
    grad_layouts = [*LAYOUTS, *LAYOUTS][: len(params)]
    for p, layout in zip(params, grad_layouts, strict=True):
        values = repeat_first(np.arange(1.0, 1.0 + p.numel()).reshape(tuple(p.shape)))
        p.grad = target.tensor(values, dtype=dtype, device=device, layout=layout)
    before = [(p.grad, p.grad.data_ptr(), p.grad.stride()) for p in params]
    if how == "optimizer":
        optimizer.zero_grad(set_to_none=True)
    elif how == "optimizer-default":
        optimizer.zero_grad()
    elif how == "optimizer-zeros":
        optimizer.zero_grad(set_to_none=False)
    elif how == "module":
        module.zero_grad()
    else:
        module.zero_grad(set_to_none=False)
    cleared = params[:2] if how.startswith("module") else params
    for i, p in enumerate(params):
        if not any(p is c for c in cleared):  # module.zero_grad() reaches only the module's own parameters
            assert p.grad is before[i][0], f"zero_grad via {how} touched a parameter outside the module"
            continue
        if how.endswith("zeros"):
            grad, ptr, stride = before[i]
            assert p.grad is grad, f"zero_grad({how}) replaced param {i}'s .grad, but should zero it in place"
            assert (p.grad.data_ptr(), p.grad.stride()) == (ptr, stride), (
                f"zero_grad({how}) moved param {i}'s .grad to {(p.grad.data_ptr(), p.grad.stride())}, "
                f"but should keep {(ptr, stride)}"
            )
            assert not target.torch.any(p.grad != 0), f"param {i}'s .grad={p.grad.tolist()} after zero_grad({how})"
        else:
            assert p.grad is None, f"param {i}'s .grad is a tensor after zero_grad({how}), but should be None"
    aspect = {
        "optimizer": "zero_grad_set_to_none",
        "optimizer-default": "zero_grad_set_to_none",
        "optimizer-zeros": "zero_grad_zeros",
        "module": "module_zero_grad",
        "module-zeros": "module_zero_grad",
    }[how]
    touch("sgd_api", implementation=CELL[implementation], aspect=aspect)


@pytest.mark.dtypes(*FULL_PRECISIONS)
@pytest.mark.parametrize("how", ["optimizer", "optimizer-default", "optimizer-zeros", "module", "module-zeros"])
@pytest.mark.parametrize("implementation", implementation_params())
def test_zero_grad(target, device, dtype, implementation, how):
    skip_unless_torch_sgd(target, implementation)
    run_check(check_zero_grad, target=target, how=how, implementation=implementation, device=device, dtype=dtype)

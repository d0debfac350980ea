"""Known torch defects in torch.optim (SGD and the Optimizer base): probes, reproducers, entries.

Part of the registry :mod:`fizzcheck.history.defects` (see there for what an entry means).
"""

from __future__ import annotations

from fizzcheck.history.records import KnownDefect, Symptom

__all__ = ["OPTIM_DEFECTS"]


def _foreach_nesterov_writes_grad(device: str) -> bool:
    import torch

    param = torch.ones(4, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9, nesterov=True, foreach=True)
    grad = torch.full_like(param, 0.5)
    param.grad = grad.clone()
    optimizer.step()
    optimizer.step()
    return not torch.equal(param.grad, grad)


_FUSED_LATE_SYMPTOM = Symptom(("TypeError",), r"expected Tensor as element \d+ in argument \d+, but got NoneType")


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
        return _FUSED_LATE_SYMPTOM.matches(exc)
    return False


def _load_state_dict_aliases(device: str) -> bool:
    import torch

    p = torch.ones(3, device=device, requires_grad=True)
    q = torch.ones(3, device=device, requires_grad=True)
    original = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones_like(p)
    original.step()
    restored = torch.optim.SGD([q], lr=0.1, momentum=0.9)
    restored.load_state_dict(original.state_dict())
    original.step()
    return not torch.equal(restored.state[q]["momentum_buffer"], torch.ones_like(q))


def _differentiable_first_momentum_detached(device: str) -> bool:
    import torch

    theta = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
    g = torch.tensor([0.5, -1.0], device=device, requires_grad=True)
    p = theta.clone()
    p.grad = g
    torch.optim.SGD([p], lr=0.5, momentum=0.5, differentiable=True).step()
    (d_g,) = torch.autograd.grad(p.sum(), g, allow_unused=True)
    return d_g is None or not torch.equal(d_g, torch.full_like(g, -0.5))


_FOREACH_DIFFERENTIABLE_WEIGHT_DECAY_SYMPTOM = Symptom(("RuntimeError",), r"modified by an inplace operation")


def _foreach_differentiable_weight_decay_fails(device: str) -> bool:
    import torch

    theta = torch.tensor([1.0, 2.0], device=device, requires_grad=True)
    p = theta.clone()
    p.grad = torch.tensor([0.5, -1.0], device=device)
    torch.optim.SGD([p], lr=0.5, weight_decay=0.5, foreach=True, differentiable=True).step()
    try:
        torch.autograd.grad(p.sum(), theta)
    except RuntimeError as exc:
        return _FOREACH_DIFFERENTIABLE_WEIGHT_DECAY_SYMPTOM.matches(exc)
    return False


def _fused_sgd_ignores_strides(device: str) -> bool:
    import torch

    p = torch.zeros(2, 3, device=device, requires_grad=True)
    grad = torch.arange(6.0, device=device).reshape(3, 2).t()
    p.grad = grad
    try:
        torch.optim.SGD([p], lr=1.0, fused=True).step()
    except RuntimeError:  # refusing a layout is not computing a wrong update
        return False
    return not torch.equal(p.detach(), -grad)


def _fused_sgd_low_precision_skips_update(device: str) -> bool:
    import torch

    p = torch.ones(40, dtype=torch.float16, device=device, requires_grad=True)
    p.grad = torch.ones_like(p)
    torch.optim.SGD([p], lr=0.5, fused=True).step()
    return not torch.equal(p.detach(), torch.full_like(p, 0.5))


_FUSED_TENSOR_LR_DTYPE_SYMPTOM = Symptom(("RuntimeError",), r"expected scalar type")


def _fused_sgd_tensor_lr_dtype_fails(device: str) -> bool:
    """fused=True step of a float32 parameter with lr a 0-dim float64 tensor on ``device``: True
    when torch refuses it with the symptom (the CUDA kernel reads the lr tensor as float); any
    other exception escapes (a broken torch is an error, not this defect)."""
    import torch

    param = torch.ones(3, device=device, requires_grad=True)
    param.grad = torch.ones_like(param)
    lr = torch.tensor(0.5, dtype=torch.float64, device=device)
    try:
        torch.optim.SGD([param], lr=lr, fused=True).step()
    except RuntimeError as exc:
        if _FUSED_TENSOR_LR_DTYPE_SYMPTOM.matches(exc):
            return True
        raise
    return False


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

_LOAD_STATE_DICT_ALIASES_REPRODUCER = """\
import torch

p = torch.ones(3, requires_grad=True)
q = torch.ones(3, requires_grad=True)
original = torch.optim.SGD([p], lr=0.1, momentum=0.9)
p.grad = torch.ones(3)
original.step()  # p's momentum buffer is [1, 1, 1]
restored = torch.optim.SGD([q], lr=0.1, momentum=0.9)
restored.load_state_dict(original.state_dict())
original.step()  # must not touch the restored optimizer's state
print("restored momentum buffer:", restored.state[q]["momentum_buffer"].tolist())
# expected: [1.0, 1.0, 1.0], the buffer as it was saved
"""

_DIFFERENTIABLE_FIRST_MOMENTUM_REPRODUCER = """\
import torch

theta = torch.tensor([1.0, 2.0], requires_grad=True)
g = torch.tensor([0.5, -1.0], requires_grad=True)
p = theta.clone()  # a differentiable step updates a non-leaf parameter in place
p.grad = g
torch.optim.SGD([p], lr=0.5, momentum=0.5, differentiable=True).step()
# first step: the momentum buffer starts as the gradient, so p_new = theta - lr * g
(d_g,) = torch.autograd.grad(p.sum(), g, allow_unused=True)
print("d p_new / d g:", None if d_g is None else d_g.tolist())
# expected: [-0.5, -0.5]
"""

_FOREACH_DIFFERENTIABLE_WEIGHT_DECAY_REPRODUCER = """\
import torch

theta = torch.tensor([1.0, 2.0], requires_grad=True)
p = theta.clone()  # a differentiable step updates a non-leaf parameter in place
p.grad = torch.tensor([0.5, -1.0])
torch.optim.SGD([p], lr=0.5, weight_decay=0.5, foreach=True, differentiable=True).step()
try:
    print("d p_new / d theta:", torch.autograd.grad(p.sum(), theta)[0].tolist())
except RuntimeError as exc:
    print("RuntimeError:", str(exc).splitlines()[0])
# expected, as with foreach=False: 1 - lr * weight_decay = [0.75, 0.75]
"""

_FUSED_STRIDES_REPRODUCER = """\
import torch

p = torch.zeros(2, 3, requires_grad=True)
grad = torch.arange(6.0).reshape(3, 2).t()  # a transposed view: [[0, 2, 4], [1, 3, 5]]
p.grad = grad
torch.optim.SGD([p], lr=1.0, fused=True).step()
print("fused p:", p.tolist())
# expected, as with foreach=False/True: p = -grad = [[-0.0, -2.0, -4.0], [-1.0, -3.0, -5.0]]
"""

_FUSED_LOW_PRECISION_REPRODUCER = """\
import torch

for dtype in (torch.float16, torch.bfloat16):
    p = torch.ones(40, dtype=dtype, requires_grad=True)
    p.grad = torch.ones_like(p)
    torch.optim.SGD([p], lr=0.5, fused=True).step()
    # expected, as with foreach=False/True: every element 1 - 0.5 = 0.5
    print(dtype, "elements left at 1.0:", int((p.detach() == 1.0).sum()), "of", p.numel())
"""


_FUSED_TENSOR_LR_DTYPE_REPRODUCER = """\
import torch

devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
for device in devices:
    p = torch.ones(3, device=device, requires_grad=True)
    p.grad = torch.ones_like(p)
    lr = torch.tensor(0.5, dtype=torch.float64, device=device)  # documented: lr (float, Tensor, optional)
    try:
        torch.optim.SGD([p], lr=lr, fused=True).step()
        print(device + ":", p.tolist())
    except RuntimeError as exc:
        print(device + ": RuntimeError:", exc)
# expected on every device, as with foreach=False/True and a float lr: [0.5, 0.5, 0.5]
"""


OPTIM_DEFECTS: tuple[KnownDefect, ...] = (
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
        symptom=_FUSED_LATE_SYMPTOM,
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
        id="optim-load-state-dict-aliases",
        title="Optimizer.load_state_dict keeps the state dict's tensors: two optimizers share buffers",
        description=(
            "state_dict() hands out the optimizer's live state tensors, and load_state_dict() keeps "
            "every tensor whose dtype and device already match the parameter's (`value.to(...)` "
            "returns the tensor itself), although its helper `_cast` says it makes a deep copy. An "
            "optimizer restored in-process from another's state_dict() shares its momentum buffers "
            "with it (and with the dict): stepping one changes the other's state. Through "
            "torch.save/torch.load the tensors are copied and nothing is shared. torch 2.0.1 "
            "deep-copied the dict; pytorch/pytorch#106082 (2.1) made it a shallow copy."
        ),
        symptom=Symptom(("AssertionError",), r"momentum buffer of the (restored|original) optimizer changed when"),
        probe=_load_state_dict_aliases,
        reproducer=_LOAD_STATE_DICT_ALIASES_REPRODUCER,
        reproducer_shows=r"restored momentum buffer: \[1\.89",
        expected="restored momentum buffer: [1.0, 1.0, 1.0]",
        torch_source=(
            "torch/optim/optimizer.py, Optimizer._process_value_according_to_param_policy: "
            "`return value.to(dtype=param.dtype, device=param.device)` (line 801 in 2.13.0, 820 in 2.14.1, "
            "748 in 2.4.1, 627 in 2.1.2), called by load_state_dict's `_cast` after "
            "`state_dict = state_dict.copy()` (line 928 in 2.13.0)"
        ),
        checked={
            "2.0.1": "absent",
            "2.1.2": "present",
            "2.4.1": "present",
            "2.13.0": "present",
            "2.14.1": "present",
        },
        upstream="pytorch/pytorch#196083 (open)",
        related=(
            "pytorch/pytorch#106082 Only make a shallow copy when loading optimizer state_dict (2023-07)",
            "pytorch/pytorch#147288 Calling optimizer.load_state_dict causes Tensors lost",
        ),
    ),
    KnownDefect(
        id="sgd-differentiable-first-momentum-detached",
        title="SGD(differentiable=True) drops the derivative through the step that creates the momentum buffer",
        description=(
            "On a parameter's first step with momentum the buffer starts as the gradient (b = d), so "
            "the update θ − γ d depends on the gradient and, through weight decay, on θ. The single-"
            "tensor and foreach paths create the buffer with `grad.detach().clone()`, so with "
            "differentiable=True autograd sees no dependence: ∂θ'/∂g is missing (zero) and "
            "∂θ'/∂θ is 1 instead of 1 − γλ. Later steps (a buffer already in the state) differentiate "
            "correctly."
        ),
        symptom=Symptom(("BoundExceeded",), r"\[SGD\(.*differentiable, first step\) d/d"),
        probe=_differentiable_first_momentum_detached,
        reproducer=_DIFFERENTIABLE_FIRST_MOMENTUM_REPRODUCER,
        reproducer_shows=r"d p_new / d g: None",
        expected="d p_new / d g: [-0.5, -0.5]",
        torch_source=(
            "torch/optim/sgd.py, _single_tensor_sgd: `buf = grad.detach().clone()` (line 361 in 2.13.0 and "
            "2.14.1; `torch.clone(grad).detach()` at line 342 in 2.4.1, 253 in 2.1.2, 255 in 2.0.1); "
            "_multi_tensor_sgd: `device_grads[i].detach().clone()` (line 454 in 2.13.0)"
        ),
        checked={
            "2.0.1": "present",
            "2.1.2": "present",
            "2.4.1": "present",
            "2.13.0": "present",
            "2.14.1": "present",
        },
        upstream=None,
    ),
    KnownDefect(
        id="sgd-foreach-differentiable-weight-decay",
        title="foreach SGD(differentiable=True) with weight decay cannot be differentiated",
        description=(
            "With foreach=True, differentiable=True, weight_decay ≠ 0 and maximize=False, "
            "`torch._foreach_add(grads, params, alpha=weight_decay)` saves the parameters for its "
            "backward and `torch._foreach_add_(params, ..., alpha=-lr)` then updates them in place, "
            "so any backward through the step raises the in-place-modification RuntimeError. "
            "foreach=False differentiates the same step (its `grad.add(param, alpha=...)` saves no "
            "tensor), and so does foreach with maximize=True. torch 2.0.1 raises nothing but gives "
            "∂θ'/∂θ = 1, without the weight-decay term."
        ),
        symptom=_FOREACH_DIFFERENTIABLE_WEIGHT_DECAY_SYMPTOM,
        probe=_foreach_differentiable_weight_decay_fails,
        reproducer=_FOREACH_DIFFERENTIABLE_WEIGHT_DECAY_REPRODUCER,
        reproducer_shows=r"RuntimeError: one of the variables needed for gradient computation has been modified",
        expected="d p_new / d theta: [0.75, 0.75]",
        torch_source=(
            "torch/optim/sgd.py, _multi_tensor_sgd: `device_grads = torch._foreach_add(device_grads, "
            "device_params, alpha=weight_decay)` (line 429 in 2.13.0 and 2.14.1, 395 in 2.4.1) and "
            "`torch._foreach_add_(device_params, device_grads, alpha=-lr)` (line 472 in 2.13.0, 437 in 2.4.1)"
        ),
        checked={
            "2.0.1": "absent (no error, but d p_new / d theta = [1.0, 1.0]: the weight-decay term is lost)",
            "2.1.2": "present",
            "2.4.1": "present",
            "2.13.0": "present",
            "2.14.1": "present",
        },
        upstream=None,
        related=("sgd-foreach-nesterov-grad",),
    ),
    KnownDefect(
        id="sgd-fused-cpu-strides",
        title="fused SGD on the CPU ignores strides: wrong updates for non-contiguous tensors",
        description=(
            "The CPU kernel of torch._fused_sgd_ walks parameter, gradient and momentum buffer as "
            "flat arrays of numel() elements from data_ptr(), whatever their strides. A gradient or "
            "buffer whose layout differs from its parameter's (a transposed, strided or expanded "
            "gradient; a buffer loaded with another layout) is read in the wrong order, and a "
            "non-dense parameter (a strided view) is updated at the wrong addresses, writing "
            "outside the view. The result is silently wrong; foreach=False/True update every "
            "layout correctly. Only tensors that share one dense layout (all contiguous, all "
            "transposed) are right."
        ),
        symptom=Symptom(("BoundExceeded",), r"\[SGD\(fused=True\) step \d+ (param|buffer) \d+\]"),
        probe=_fused_sgd_ignores_strides,
        reproducer=_FUSED_STRIDES_REPRODUCER,
        reproducer_shows=r"fused p: \[\[-?0\.0, -1\.0, -2\.0\], \[-3\.0, -4\.0, -5\.0\]\]",
        expected="fused p: [[-0.0, -2.0, -4.0], [-1.0, -3.0, -5.0]]",
        torch_source=(
            "aten/src/ATen/native/cpu/FusedSGDKernel.cpp, fused_sgd_kernel: `Tensor grad_contiguous = "
            "grad.contiguous();` is never used (`grad` is passed on), and sgd_fused_step_impl indexes "
            "`param.data_ptr<scalar_t>() + begin` (likewise grad and momentum buffer) over param.numel()"
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
            "pytorch/pytorch#123629 add fused_sgd_kernel support for CPU device (2024-04)",
            "pytorch/pytorch#106951 stride of gradient is not same as the corresponding tensor "
            "(fused Adam on CUDA refuses such a gradient: 'must have same dtype, device, and layout')",
        ),
        requires=("sgd_fused",),
    ),
    KnownDefect(
        id="sgd-fused-cpu-low-precision-update",
        title="fused SGD on the CPU leaves float16/bfloat16 parameters unchanged in whole vector chunks",
        description=(
            "For float16 and bfloat16 the CPU kernel of torch._fused_sgd_ computes the update in "
            "a vectorized loop over full SIMD chunks that stores the momentum buffer but never "
            "the parameter; only the scalar tail (numel modulo the vector width) is updated. A "
            "40-element parameter keeps 32 of its values. float32/float64 and foreach=False/True "
            "update every element. Fixed by 2.14.1."
        ),
        symptom=Symptom(("BoundExceeded",), r"\[SGD\(fused=True\) step \d+ param \d+\]"),
        probe=_fused_sgd_low_precision_skips_update,
        reproducer=_FUSED_LOW_PRECISION_REPRODUCER,
        reproducer_shows=r"torch\.float16 elements left at 1\.0: [1-9]\d* of 40",
        expected="torch.float16 elements left at 1.0: 0 of 40 (and the same for bfloat16)",
        torch_source=(
            "aten/src/ATen/native/cpu/FusedSGDKernel.cpp, sgd_math for Half/BFloat16: the loop "
            "`for (; d < size - (size % lpVec::size()); d += lpVec::size())` ends after storing the "
            "momentum buffer, with no `param_ptr` store (the float/double overload has "
            "`param_vec.store(param_ptr + d)`)"
        ),
        checked={
            "2.0.1": "not applicable: no SGD(fused=...)",
            "2.1.2": "not applicable: no SGD(fused=...)",
            "2.4.1": "present (cpu)",
            "2.13.0": "present (cpu)",
            "2.14.1": "absent",
        },
        upstream=None,
        related=("pytorch/pytorch#123629 add fused_sgd_kernel support for CPU device (2024-04)",),
        requires=("sgd_fused",),
    ),
    KnownDefect(
        id="sgd-fused-cuda-tensor-lr-dtype",
        title="fused SGD on CUDA refuses a Tensor lr that is not float32",
        description=(
            "torch documents `lr (float, Tensor, optional)` with no dtype restriction. On CUDA, "
            "fused=True hands a Tensor lr unchanged to torch._fused_sgd_, whose kernel reads it "
            "through `lr.data_ptr<float>()`: a float64 lr (the dtype torch.tensor(0.5, "
            "dtype=torch.float64) or a Python-float default gives) fails with 'expected scalar "
            "type Float but found Double', whatever the parameters' dtype. The CPU fused kernel "
            "(lr.item<double>()) and foreach=False/True take it. Seen on torch 2.11.0+cu130 on an "
            "H200 (the checked releases below were probed on the CPU only)."
        ),
        symptom=_FUSED_TENSOR_LR_DTYPE_SYMPTOM,
        probe=_fused_sgd_tensor_lr_dtype_fails,
        reproducer=_FUSED_TENSOR_LR_DTYPE_REPRODUCER,
        reproducer_shows=r"cuda: RuntimeError: expected scalar type",
        expected="cuda: [0.5, 0.5, 0.5] (as cpu: [0.5, 0.5, 0.5])",
        torch_source=(
            "torch/optim/sgd.py, _fused_sgd: `torch._fused_sgd_(device_params, device_grads, ..., lr=lr, ...)` "
            "passes the Tensor lr on without a dtype conversion; aten/src/ATen/native/cuda/FusedSgdKernel.cu, "
            "_fused_sgd_kernel_cuda_ / _fused_sgd_with_momentum_kernel_cuda_ (Tensor lr overloads): "
            "`lr.data_ptr<float>()`"
        ),
        checked={
            "2.0.1": "not applicable: no SGD(fused=...)",
            "2.1.2": "not applicable: no SGD(fused=...)",
            "2.4.1": "absent (cpu; cuda not probed)",
            "2.13.0": "absent (cpu; cuda not probed: 2.11.0+cu130 on an H200 has it)",
            "2.14.1": "absent (cpu; cuda not probed)",
        },
        upstream=None,
        related=("sgd-tensor-lr-two-elements",),
        requires=("sgd_fused",),
    ),
)
"""The optimizer defects, in report order."""

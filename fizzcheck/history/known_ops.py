"""Known torch defects in the ops, losses and function transforms: probes, reproducers, entries.

Part of the registry :mod:`fizzcheck.history.defects` (see there for what an entry means).
"""

from __future__ import annotations

from fizzcheck.history.records import KnownDefect, Symptom

__all__ = ["OPS_DEFECTS"]

CHECKED_RELEASES = ("2.0.1", "2.1.2", "2.4.1", "2.13.0", "2.14.1")
"""The releases the registry records (pyproject's checked-torch), for entries seen the same on all of them."""


_MSE_FORWARD_OVER_REVERSE_SYMPTOM = Symptom(("RuntimeError",), r"ZeroTensors are immutable")


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
        return _MSE_FORWARD_OVER_REVERSE_SYMPTOM.matches(exc)
    return False


def _mkldnn_alpha_zero_ignores_beta(device: str) -> bool:
    import torch

    inp = torch.ones(1, 16, 17, dtype=torch.bfloat16, device=device)
    b1 = torch.ones(1, 16, 16, dtype=torch.bfloat16, device=device)
    out = torch.baddbmm(inp, b1, inp, beta=0.5, alpha=0.0)  # (16 x 16) @ (16 x 17): past oneDNN's 16**3
    return not bool((out == 0.5).all())


def _vector_matrix_out_restrides(device: str) -> bool:
    import warnings

    import torch

    base = torch.zeros(4, device=device)
    with warnings.catch_warnings():  # the spurious "output ... was resized" warning is part of the defect
        warnings.simplefilter("ignore")
        torch.matmul(torch.ones(3, device=device), torch.ones(3, 2, device=device), out=base[::2])
    return base.tolist() != [3.0, 0.0, 3.0, 0.0]


_MSE_FORWARD_OVER_REVERSE_REPRODUCER = """\
import torch
import torch.nn.functional as F

x, y = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 0.25, -0.5])
hvp_sum = torch.func.jvp(torch.func.grad(lambda a: F.mse_loss(a, y, reduction="sum")), (x,), (torch.ones(3),))[1]
print("reduction='sum': H·v =", hvp_sum.tolist())  # [2.0, 2.0, 2.0]
hvp_mean = torch.func.jvp(torch.func.grad(lambda a: F.mse_loss(a, y)), (x,), (torch.ones(3),))[1]
print("reduction='mean': H·v =", hvp_mean.tolist())  # expected 2/3 each
"""


def _cross_entropy_all_ignored_mean_not_nan(device: str) -> bool:
    import torch

    # unbatched (C,) with a 0-dim target (where CUDA 2.11 gives 0.0), (N, C) and spatial (N, C, d1)
    for shape in ((3,), (2, 3), (2, 3, 2)):
        logits = torch.zeros(shape, device=device)
        target_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
        labels = torch.full(target_shape, -100, dtype=torch.long, device=device)
        for weight in (None, torch.ones(3, device=device)):
            loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
            if not torch.isnan(loss).item():
                return True
    return False


_CROSS_ENTROPY_ALL_IGNORED_REPRODUCER = """\
import torch
import torch.nn.functional as F

label = torch.tensor(-100)  # one unbatched sample, ignored: the mean is 0 / 0
for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
    loss = F.cross_entropy(torch.zeros(3, device=device), label.to(device))
    print(device, "mean over no targets:", loss.item())
# expected nan on every device (pytorch/pytorch#64572 made the CPU return nan on purpose)
"""


_MKLDNN_ALPHA_ZERO_REPRODUCER = """\
import torch

# bfloat16 on a CPU with oneDNN's bf16 path, b*m*k*n > 16**3: torch calls mkldnn_matmul
inp = torch.ones(1, 16, 17, dtype=torch.bfloat16)
b1, b2 = torch.ones(1, 16, 16, dtype=torch.bfloat16), torch.ones(1, 16, 17, dtype=torch.bfloat16)
print("baddbmm(beta=0.5, alpha=0):", torch.baddbmm(inp, b1, b2, beta=0.5, alpha=0.0)[0, 0, 0].item())
v = torch.ones(65, dtype=torch.bfloat16)
print("addmv(beta=0.5, alpha=0):", torch.addmv(v, torch.ones(65, 65, dtype=torch.bfloat16), v, beta=0.5, alpha=0.0)[0].item())
# expected beta * input = 0.5 for both (as for float32, float16 and smaller bfloat16 sizes)
"""

_VECTOR_MATRIX_OUT_REPRODUCER = """\
import torch

base = torch.zeros(4)
out = base[::2]  # shape (2,), the right shape for (3,) @ (3, 2), stride 2
torch.matmul(torch.ones(3), torch.ones(3, 2), out=out)  # warns that it resized out, though its shape is right
print("buffer:", base.tolist(), "out stride:", out.stride())
# expected, as for matrix @ vector or a contiguous out: buffer [3.0, 0.0, 3.0, 0.0], stride (2,)
"""


OPS_DEFECTS: tuple[KnownDefect, ...] = (
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
        symptom=_MSE_FORWARD_OVER_REVERSE_SYMPTOM,
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
    KnownDefect(
        id="cross-entropy-all-ignored-mean-cuda",
        title="cross_entropy(reduction='mean') of an unbatched, ignored sample: 0 on CUDA, NaN on the CPU",
        description=(
            "With every target equal to ignore_index the mean divides a zero sum by a zero total weight. "
            "torch returns NaN for that on purpose (pytorch/pytorch#64572: a mean over an empty set; the CPU "
            "does, and CUDA does for batched (N, C) and (N, C, d1) input), but for an unbatched input (C,) "
            "with a 0-dim target the CUDA kernel returns 0.0, so the same program gives a different loss on "
            "the two devices. Seen on torch 2.11.0+cu130 (H200), with and without weight, without label "
            "smoothing."
        ),
        symptom=Symptom(
            ("BoundExceeded",),
            r"out\[\]=0\.0, but should be nan .*\[(F\.cross_entropy|nn\.CrossEntropyLoss)\(class indices, "
            r"\{'reduction': 'mean'",
        ),
        probe=_cross_entropy_all_ignored_mean_not_nan,
        reproducer=_CROSS_ENTROPY_ALL_IGNORED_REPRODUCER,
        reproducer_shows=r"cuda mean over no targets: 0\.0",
        expected="nan on every device",
        torch_source=(
            "aten/src/ATen/native/cuda/Loss.cu, nll_loss_forward_reduce_cuda_kernel_2d (the mean's division by "
            "total_weight); the CPU's LossNLL.cpp nll_loss_out_frame divides and gives NaN"
        ),
        checked={r: "absent (cpu; cuda not checked: 2.11.0+cu130 on an H200 has it)" for r in CHECKED_RELEASES},
        upstream=None,
        related=("pytorch/pytorch#64572 (NaN for an all-ignored mean, by design)", "pytorch/pytorch#70348"),
    ),
    KnownDefect(
        id="mkldnn-matmul-alpha-zero-ignores-beta",
        title="bfloat16 baddbmm/addmv on the CPU with alpha=0 return input unscaled (beta ignored)",
        description=(
            "Where torch hands a bfloat16 baddbmm (b*m*k*n > 16**3) or addmv (m*k > 16**3) to oneDNN, "
            "mkldnn_matmul returns early for alpha == 0 ('does not need actually do gemm'), leaving the "
            "output as the meta function's copy of input: beta * input is never formed, and with beta=0 "
            "the output is uninitialised memory. Documented: out = beta * input + alpha * (product). "
            "float32/float64, smaller sizes, and addmm (its bf16 gemm passes alpha and beta to oneDNN) "
            "give beta * input."
        ),
        symptom=Symptom(
            ("BoundExceeded",), r"\[torch\.(baddbmm|addmv)\(alpha=0, beta=.*\)( == round\(beta \* input\))?\]$"
        ),
        probe=_mkldnn_alpha_zero_ignores_beta,
        reproducer=_MKLDNN_ALPHA_ZERO_REPRODUCER,
        reproducer_shows=r"baddbmm\(beta=0\.5, alpha=0\): 1\.0",
        expected="0.5 for both (beta * input)",
        torch_source=(
            "aten/src/ATen/native/mkldnn/Matmul.cpp, mkldnn_matmul: `if (alpha == 0) return;` after "
            "`if (beta != 0.0f) op_attr = ideep::attr_t::fuse_sum();` (reached from "
            "LinearAlgebra.cpp bmm_out_or_baddbmm_ and addmv's mkldnn path)"
        ),
        checked={
            "2.0.1": "present (cpu)",
            "2.1.2": "present (cpu)",
            "2.4.1": "present (cpu)",
            "2.13.0": "present (cpu)",
            "2.14.1": "present (cpu)",
        },
        upstream=None,
        related=("pytorch/pytorch#61891 enable bf16 mkldnn path for gemm (introduced the early return)",),
    ),
    KnownDefect(
        id="matmul-out-vector-matrix-restrides-out",
        title="torch.matmul(vector, matrix, out=o) re-strides a correctly shaped o (and F.linear of a 1-D input)",
        description=(
            "For a 1-D first operand and a 2-D second, matmul's out= path calls "
            "mm_out(out, tensor1.unsqueeze(0), tensor2).squeeze_(0): mm_out sees an out of shape (n,) "
            "against (1, n), resizes it (warning that resizing an out with elements is deprecated, "
            "although o had the documented shape) and gives it fresh contiguous strides. A "
            "non-contiguous o, e.g. a strided view into a larger buffer, is then written as if "
            "contiguous: the result lands in the wrong buffer positions and o's strides change. "
            "F.linear(input, weight, out=o) with a 1-D input reaches the same code."
        ),
        symptom=Symptom(
            ("AssertionError",),
            r"(torch\.matmul|F\.linear)\(out=\) with a noncontiguous out \[(matmul|linear)\]: wrote outside the out= view",
        ),
        probe=_vector_matrix_out_restrides,
        reproducer=_VECTOR_MATRIX_OUT_REPRODUCER,
        reproducer_shows=r"buffer: \[3\.0, 3\.0, 0\.0, 0\.0\] out stride: \(1,\)",
        expected="buffer: [3.0, 0.0, 3.0, 0.0] out stride: (2,)",
        torch_source=(
            "aten/src/ATen/native/LinearAlgebra.cpp, _matmul_impl: "
            "`return has_out ? at::mm_out(out, tensor1.unsqueeze(0), tensor2).squeeze_(0)` "
            "(the dim_tensor1 == 1 && dim_tensor2 == 2 branch)"
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
)
"""The op, loss and transform defects, in report order."""

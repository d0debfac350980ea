"""``seed-raw``: the training core spelled as the seed chapter's raw-tensor model spells it.

The chapter's first network has no ``nn`` layers, losses or optimizer: a layer is
``input.matmul(weight.t()) + bias`` (the source of ``nn.Linear`` it quotes), the loss is
written out with tensor methods, and the update is ``p -= p.grad * lr`` under
``torch.no_grad()``. This target replaces torch's fused kernels and modules with those
compositions of tensor primitives, so the whole suite checks that the primitives and
autograd through them give what the maths says:

* ``F.linear`` / ``nn.Linear`` — ``input.matmul(weight.t()) + bias``; the module initialises
  as ``nn.Linear`` documents (weight, bias ~ U(−√k, √k), k = 1/in_features);
* ``torch.softmax`` / ``torch.log_softmax`` / ``nn.Softmax`` / ``nn.LogSoftmax`` — the
  max-shifted ``exp`` / ``sum`` formulas (the shift is detached: softmax does not depend on it);
* ``F.mse_loss`` / ``nn.MSELoss`` — ``(input - target).pow(2)`` then ``mean`` / ``sum``;
* ``F.cross_entropy`` / ``nn.CrossEntropyLoss`` — ``-log_softmax(input).gather(target)``;
* ``optim.SGD`` — the chapter's manual update, grown to torch's documented SGD (momentum,
  dampening, Nesterov, weight decay, maximize) with in-place tensor arithmetic.

``torch.matmul``, ``@`` and ``torch.sigmoid`` are the chapter's own calls, so they stay torch's.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from fizzcheck.targets.base import Target

__all__ = ["ChapterLinear", "ManualSGD", "SeedRaw"]


def linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def softmax(input: torch.Tensor, dim: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    input = input if dtype is None else input.to(dtype)  # torch casts before the op
    shifted = (input - input.amax(dim, keepdim=True).detach()).exp()
    return shifted / shifted.sum(dim, keepdim=True)


def log_softmax(input: torch.Tensor, dim: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    input = input if dtype is None else input.to(dtype)
    shifted = input - input.amax(dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def _reduce(losses: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{reduction} is not a valid value for reduction")


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    if target.shape != input.shape:  # broadcasting silently changes the loss: say so, as torch does
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting.",
            UserWarning,
            stacklevel=2,
        )
    return _reduce((input - target).pow(2), reduction)


def cross_entropy(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Class-index targets only: weight, ignore_index and label_smoothing are not part of the
    chapter's loss, so passing them is a TypeError rather than silently ignored."""
    class_dim = 0 if input.dim() == 1 else 1
    picked = log_softmax(input, class_dim).gather(class_dim, target.unsqueeze(class_dim)).squeeze(class_dim)
    return _reduce(-picked, reduction)


class ChapterLinear(nn.Module):
    """The ``Linear`` the chapter quotes: two Parameters and ``input.matmul(weight.t()) + bias``."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _Dim(nn.Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim


class RawSoftmax(_Dim):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return softmax(input, self.dim)  # type: ignore[arg-type]


class RawLogSoftmax(_Dim):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return log_softmax(input, self.dim)  # type: ignore[arg-type]


class _Loss(nn.Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction


class RawMSELoss(_Loss):
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse_loss(input, target, self.reduction)


class RawCrossEntropyLoss(_Loss):
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(input, target, self.reduction)


class ManualSGD(torch.optim.Optimizer):
    """The chapter's ``with torch.no_grad(): p -= p.grad * lr``, with torch's SGD options.

    Per step and parameter with a gradient (``d`` = the gradient, negated if ``maximize``):
    ``d += weight_decay * p``; with momentum the buffer starts as a copy of ``d`` and then
    becomes ``momentum * buf + (1 - dampening) * d``, and ``d`` becomes ``d + momentum * buf``
    (Nesterov) or ``buf``; finally ``p -= lr * d``. Hyper-parameters are checked as
    ``torch.optim.SGD`` documents, with its messages. There is one implementation, so
    ``foreach`` / ``fused`` may only be left unset.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
        differentiable: bool = False,
    ) -> None:
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if foreach or fused or differentiable:
            raise ValueError("seed-raw SGD has one implementation: leave foreach, fused and differentiable unset")
        defaults: Mapping[str, Any] = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, dict(defaults))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = -p.grad if group["maximize"] else p.grad
                if group["weight_decay"] != 0:
                    d = d + group["weight_decay"] * p
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = d.clone()
                    else:
                        buf.mul_(momentum).add_(d, alpha=1 - dampening)
                    d = d + momentum * buf if group["nesterov"] else buf
                p -= lr * d
        return loss


class SeedRaw(Target):
    name = "seed-raw"
    description = "the seed chapter's raw-tensor formulas for linear, softmax, losses and the SGD update"

    def overrides(self) -> Mapping[str, Any]:
        return {
            "F.linear": linear,
            "nn.Linear": ChapterLinear,
            "torch.softmax": softmax,
            "torch.log_softmax": log_softmax,
            "F.softmax": softmax,
            "F.log_softmax": log_softmax,
            "nn.Softmax": RawSoftmax,
            "nn.LogSoftmax": RawLogSoftmax,
            "F.mse_loss": mse_loss,
            "nn.MSELoss": RawMSELoss,
            "F.cross_entropy": cross_entropy,
            "nn.CrossEntropyLoss": RawCrossEntropyLoss,
            "optim.SGD": ManualSGD,
        }

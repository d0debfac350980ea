"""Fixed inputs and a gradient helper the witnesses share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["f32", "f64", "grad_of"]


def f32(*values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def f64(*values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def grad_of(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cotangent: torch.Tensor) -> torch.Tensor:
    """The vector-Jacobian product ``cotangent · ∂fn/∂x`` at ``x``."""
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(leaf), leaf, cotangent)
    return grad

"""A deliberately wrong target: a "fast" linear kernel that multiplies in bfloat16.

This is the README's worked example of plugging your own code into fizzcheck. The kernel
rounds its operands to bfloat16 (8 significant bits instead of float32's 24), as a
mixed-precision fast path might, and hands the result back in the caller's dtype — so
nothing about its output looks different, but every property of ``linear`` fails::

    PYTHONPATH=docs/examples python -m pytest properties/test_ops.py -k test_linear \\
        --fizzcheck-target bf16_linear:Bfloat16Linear

A target overrides torch names by their dotted spelling; everything else stays torch's.
"""

from __future__ import annotations

import torch
from torch import nn

from fizzcheck.targets import Target


def bf16_linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``input @ weight.T + bias`` computed in bfloat16, returned in ``input``'s dtype."""
    low = None if bias is None else bias.bfloat16()
    return nn.functional.linear(input.bfloat16(), weight.bfloat16(), low).to(input.dtype)


class Bf16LinearModule(nn.Linear):
    """``nn.Linear`` (same parameters, initialisation and API) whose forward uses the kernel."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return bf16_linear(input, self.weight, self.bias)


class Bfloat16Linear(Target):
    name = "bf16-linear"
    description = "example: F.linear and nn.Linear computed in bfloat16 (deliberately wrong)"

    def overrides(self):
        return {"F.linear": bf16_linear, "nn.Linear": Bf16LinearModule}

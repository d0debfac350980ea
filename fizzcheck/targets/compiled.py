"""``compile`` / ``compile:BACKEND``: the ops and layers through ``torch.compile``.

Every functional op the properties call (``torch.matmul``, ``@``, ``torch.sigmoid``,
``torch.softmax`` / ``F.softmax``, ``torch.log_softmax`` / ``F.log_softmax``, ``F.linear``,
``F.cross_entropy``, ``F.mse_loss``) is wrapped in ``torch.compile(fullgraph=True)``, and the layers and losses
(``nn.Linear``, ``nn.Sigmoid``, ``nn.Softmax``, ``nn.LogSoftmax``, ``nn.MSELoss``,
``nn.CrossEntropyLoss``) are torch's classes whose ``forward`` calls those compiled ops, so
the module API (parameters, state_dict, apply …) is torch's own while every forward and
its backward (through AOTAutograd) is generated code. The backend defaults to
``inductor``; ``compile:aot_eager`` checks the tracing and autograd layers without code
generation, in a fraction of the time.

Two settings keep a verdict honest. ``fullgraph=True`` turns a graph break (a silent
fallback to eager for part of the op) into an error, and the recompile limit is raised and
made fatal (``torch._dynamo.config``: ``recompile_limit``, ``fail_on_recompile_limit_hit``):
Hypothesis draws many shapes, dtypes and layouts, and past torch's default limit of 8
recompilations dynamo would quietly run the op eagerly — the suite would then check eager
torch while claiming to check compiled code. Compiling is slow (seconds per new
specialisation), so this target turns Hypothesis's per-example deadline off.
"""

from __future__ import annotations

import functools
import operator
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch._dynamo.config
import torch.nn.functional as F
from torch import nn

from fizzcheck.errors import InvalidArgument
from fizzcheck.targets.base import Target

__all__ = ["RECOMPILE_LIMIT", "Compiled"]

_NON_LEAF_GRAD = r"The \.grad attribute of a Tensor that is not a leaf Tensor is being accessed"

_JIT_DEPRECATED = r"`torch\.jit\.\w+` is deprecated"

RECOMPILE_LIMIT = 100_000
"""Recompilations allowed per compiled op before dynamo would fall back (then: an error)."""


def _configure_dynamo() -> None:
    torch._dynamo.config.recompile_limit = RECOMPILE_LIMIT
    torch._dynamo.config.accumulated_recompile_limit = RECOMPILE_LIMIT
    torch._dynamo.config.fail_on_recompile_limit_hit = True


class Compiled(Target):
    name = "compile"
    description = "ops, layers and losses through torch.compile(fullgraph=True)"
    compiles = True

    def __init__(self, backend: str = "inductor") -> None:
        if backend not in torch._dynamo.list_backends(exclude_tags=()):
            known = ", ".join(sorted(torch._dynamo.list_backends(exclude_tags=())))
            raise InvalidArgument(f"target 'compile:{backend}': unknown torch.compile backend; use one of {known}")
        self.backend = backend
        _configure_dynamo()
        super().__init__()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backend": self.backend}

    def _compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        compiled = torch.compile(fn, backend=self.backend, fullgraph=True)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            with warnings.catch_warnings():
                # Warnings of the compiler itself are not the op's (an op's own warnings, such
                # as mse_loss's broadcasting one, still reach the caller). dynamo reads .grad of
                # every tensor it guards on, non-leaves included:
                warnings.filterwarnings("ignore", message=_NON_LEAF_GRAD, category=UserWarning)
                # inductor's code generation imports modules that call the deprecated torch.jit
                # decorators (a DeprecationWarning in 2.13, a FutureWarning in 2.14)
                warnings.filterwarnings("ignore", message=_JIT_DEPRECATED)
                return compiled(*args, **kwargs)

        return call

    def overrides(self) -> Mapping[str, Any]:
        matmul = self._compile(lambda a, b: torch.matmul(a, b))
        at = self._compile(lambda a, b: operator.matmul(a, b))
        sigmoid = self._compile(lambda x: torch.sigmoid(x))
        softmax = self._compile(lambda x, dim, dtype=None: torch.softmax(x, dim, dtype=dtype))
        log_softmax = self._compile(lambda x, dim, dtype=None: torch.log_softmax(x, dim, dtype=dtype))
        linear = self._compile(lambda x, w, b=None: F.linear(x, w, b))
        cross_entropy = self._compile(lambda x, t, reduction="mean": F.cross_entropy(x, t, reduction=reduction))
        mse_loss = self._compile(lambda x, t, reduction="mean": F.mse_loss(x, t, reduction=reduction))

        class Linear(nn.Linear):
            def forward(self, input: torch.Tensor) -> torch.Tensor:
                return linear(input, self.weight, self.bias)

        class Sigmoid(nn.Sigmoid):
            def forward(self, input: torch.Tensor) -> torch.Tensor:
                return sigmoid(input)

        class Softmax(nn.Softmax):
            def forward(self, input: torch.Tensor) -> torch.Tensor:
                return softmax(input, self.dim)

        class LogSoftmax(nn.LogSoftmax):
            def forward(self, input: torch.Tensor) -> torch.Tensor:
                return log_softmax(input, self.dim)

        class MSELoss(nn.MSELoss):
            def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                return mse_loss(input, target, self.reduction)

        class CrossEntropyLoss(nn.CrossEntropyLoss):
            def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                if self.weight is not None or self.ignore_index != -100 or self.label_smoothing != 0.0:
                    raise NotImplementedError("target 'compile' compiles CrossEntropyLoss(reduction=...) only")
                return cross_entropy(input, target, self.reduction)

        return {
            "torch.matmul": matmul,
            "operator.matmul": at,
            "torch.sigmoid": sigmoid,
            "torch.softmax": softmax,
            "torch.log_softmax": log_softmax,
            "F.softmax": softmax,
            "F.log_softmax": log_softmax,
            "F.linear": linear,
            "F.cross_entropy": cross_entropy,
            "F.mse_loss": mse_loss,
            "nn.Linear": Linear,
            "nn.Sigmoid": Sigmoid,
            "nn.Softmax": Softmax,
            "nn.LogSoftmax": LogSoftmax,
            "nn.MSELoss": MSELoss,
            "nn.CrossEntropyLoss": CrossEntropyLoss,
        }

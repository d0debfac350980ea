"""The FizzBuzz chapter the suite grew from: its data (:mod:`~fizzcheck.seed.data`, torch-free),
its network in every torch form (:mod:`~fizzcheck.seed.models`) and training side by side with
the reference (:mod:`~fizzcheck.seed.training`).

The public names of all three are reachable here (``from fizzcheck import seed; seed.encode``);
they are looked up on first use, so importing :mod:`fizzcheck.seed.data` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = ("data", "models", "training")
__all__ = sorted(
    {
        *("FORMS", "LABELS", "NUM_DIGITS", "OUTPUT_SIZE", "decode", "encode", "fizzbuzz", "labels"),
        *("FizzBuzzNet", "RawFizzBuzz", "StepResult", "TorchForm", "fizzbuzz_sequential", "module_loss"),
        *("predict", "raw_loss", "reference_step"),
        *("DEFAULT_THREADS", "LOSS_NAMES", "NUMBER_LIMIT", "TrainConfig", "TrainResult", "format_predictions"),
        "train",
    }
)


def __getattr__(name: str) -> Any:
    for module_name in _MODULES:
        module = importlib.import_module(f"fizzcheck.seed.{module_name}")
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module 'fizzcheck.seed' has no attribute {name!r}")

"""Loss faults: an enum mix-up in a loss's reduction, forward and backward."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from fizzcheck.mutants.fault import METAMORPHIC, OPS, Fault
from fizzcheck.mutants.faults.inputs import f64
from fizzcheck.mutants.planting import Handler, argument, op_faults, with_argument

__all__ = ["CATEGORY", "CROSS_ENTROPY_SUM_REDUCES_AS_MEAN", "FAULTS", "MSE_MEAN_REDUCES_AS_SUM"]

CATEGORY = "losses"

MEAN, SUM = 1, 2
"""``at::Reduction`` values as aten's loss ops take them."""


def _swap_reduction(wrong: int, instead: int) -> Handler:
    """Handler: the loss op called with ``reduction=instead`` whenever it was asked for ``wrong``."""

    def handler(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if argument(func, args, kwargs, "reduction") == wrong:
            args, kwargs = with_argument(func, args, kwargs, "reduction", instead)
        return func(*args, **kwargs)

    return handler


# --- mse_mean_reduces_as_sum ----------------------------------------------------------------


def _witness_mse_reduction() -> bool:
    return F.mse_loss(f64(1.0, 1.0), f64(0.0, 0.0)).item() != 1.0


MSE_MEAN_REDUCES_AS_SUM = Fault(
    "mse_mean_reduces_as_sum",
    CATEGORY,
    "mse_loss with reduction='mean' (the default) sums instead, forward and backward (an enum mix-up).",
    (OPS, METAMORPHIC),
    plant=op_faults({"mse_loss": _swap_reduction(MEAN, SUM), "mse_loss_backward": _swap_reduction(MEAN, SUM)}),
    check=_witness_mse_reduction,
)


# --- cross_entropy_sum_reduces_as_mean ------------------------------------------------------


def _witness_cross_entropy_reduction() -> bool:
    loss = F.cross_entropy(torch.zeros(2, 2, dtype=torch.float64), torch.tensor([0, 1]), reduction="sum")
    return abs(loss.item() - 2 * math.log(2.0)) > 1e-12


CROSS_ENTROPY_SUM_REDUCES_AS_MEAN = Fault(
    "cross_entropy_sum_reduces_as_mean",
    CATEGORY,
    "cross_entropy (nll_loss) with reduction='sum' averages instead, forward and backward.",
    (OPS, METAMORPHIC),
    plant=op_faults({"nll_loss_forward": _swap_reduction(SUM, MEAN), "nll_loss_backward": _swap_reduction(SUM, MEAN)}),
    check=_witness_cross_entropy_reduction,
)


FAULTS = (MSE_MEAN_REDUCES_AS_SUM, CROSS_ENTROPY_SUM_REDUCES_AS_MEAN)

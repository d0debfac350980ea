"""``fizzcheck train``: the seed's FizzBuzz net trained by torch and by the reference, side by side.

The command prints both loss curves and their largest difference, FizzBuzz for the test
range as torch's network predicts it, and the accuracy of both networks.
"""

from __future__ import annotations

import time
from typing import Any

import click

from fizzcheck.cli.options import FiniteFloatRange
from fizzcheck.errors import FizzcheckError
from fizzcheck.seed.training import DEFAULT_THREADS, LOSS_NAMES, NUMBER_LIMIT, TrainConfig, format_predictions

__all__ = ["NumberRange", "train"]

_DEFAULTS = TrainConfig()


class NumberRange(click.ParamType):
    """``FIRST..LAST``: the integers FizzBuzz is trained or tested on, within the 10-digit encoding."""

    name = "FIRST..LAST"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):  # the default
            return value
        first, sep, last = str(value).partition("..")
        try:
            lo, hi = int(first), int(last)
        except ValueError:
            lo, hi = -1, -1
        if not sep or not 0 <= lo <= hi <= NUMBER_LIMIT:
            self.fail(f"{value!r} must be FIRST..LAST with 0 <= FIRST <= LAST <= {NUMBER_LIMIT}", param, ctx)
        return lo, hi


@click.command(short_help="train the seed's FizzBuzz net with torch and the numpy reference side by side")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=_DEFAULTS.epochs,
    help=f"passes over the training range (default {_DEFAULTS.epochs})",
)
@click.option(
    "--lr", type=FiniteFloatRange(0.0, 100.0), default=_DEFAULTS.lr, help=f"learning rate (default {_DEFAULTS.lr})"
)
@click.option(
    "--momentum",
    type=FiniteFloatRange(0.0, 1.0, max_open=True),
    default=_DEFAULTS.momentum,
    help=f"SGD momentum (default {_DEFAULTS.momentum})",
)
@click.option("--nesterov/--no-nesterov", default=_DEFAULTS.nesterov, help="Nesterov momentum (default on)")
@click.option(
    "--weight-decay",
    type=FiniteFloatRange(0.0, 1.0),
    default=_DEFAULTS.weight_decay,
    help=f"L2 penalty (default {_DEFAULTS.weight_decay})",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=_DEFAULTS.batch_size,
    help=f"mini-batch size (default {_DEFAULTS.batch_size})",
)
@click.option(
    "--hidden", type=click.IntRange(min=1), default=_DEFAULTS.hidden, help=f"hidden units (default {_DEFAULTS.hidden})"
)
@click.option(
    "--loss",
    type=click.Choice(LOSS_NAMES),
    default=_DEFAULTS.loss,
    help="cross_entropy (softmax + CE on logits) or mse (the chapter's sigmoid outputs vs one-hot)",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=_DEFAULTS.seed,
    help=f"seed of the initial weights and the shuffling (default {_DEFAULTS.seed})",
)
@click.option(
    "--dtype",
    type=click.Choice(("float32", "float64")),
    default=_DEFAULTS.dtype,
    help="torch's dtype (the reference is float64)",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=DEFAULT_THREADS,
    help=f"torch.set_num_threads (default {DEFAULT_THREADS})",
)
@click.option(
    "--log-every",
    type=click.IntRange(min=1),
    default=_DEFAULTS.log_every,
    help=f"epochs between loss lines (default {_DEFAULTS.log_every})",
)
@click.option(
    "--train-range",
    type=NumberRange(),
    default=_DEFAULTS.train_range,
    help=f"numbers to train on, FIRST..LAST (default {_DEFAULTS.train_range[0]}..{_DEFAULTS.train_range[1]})",
)
@click.option(
    "--test-range",
    type=NumberRange(),
    default=_DEFAULTS.test_range,
    help=f"numbers to test on (default {_DEFAULTS.test_range[0]}..{_DEFAULTS.test_range[1]})",
)
@click.option(
    "--min-accuracy",
    type=FiniteFloatRange(0.0, 100.0),
    default=None,
    help="exit with status 1 if torch's test accuracy (%) is below this",
)
def train(
    epochs: int,
    lr: float,
    momentum: float,
    nesterov: bool,
    weight_decay: float,
    batch_size: int,
    hidden: int,
    loss: str,
    seed: int,
    dtype: str,
    threads: int,
    log_every: int,
    train_range: tuple[int, int],
    test_range: tuple[int, int],
    min_accuracy: float | None,
) -> int:
    """Train the seed chapter's FizzBuzz network (binary digits → Linear → sigmoid → Linear → 4 classes)
    with torch (FizzBuzzNet + torch.optim.SGD) and with fizzcheck's numpy reference (hand-coded backprop
    + reference SGD) from the same weights on the same mini-batches; print both loss curves,
    FizzBuzz for the test range and the accuracy.
    """
    import torch

    from fizzcheck.seed.training import train as train_both

    config = TrainConfig(
        epochs=epochs,
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay,
        batch_size=batch_size,
        hidden=hidden,
        loss=loss,
        seed=seed,
        dtype=dtype,
        train_range=train_range,
        test_range=test_range,
        log_every=log_every,
    )
    if nesterov and momentum == 0:
        raise FizzcheckError("--nesterov needs --momentum > 0 (or pass --no-nesterov)")
    config.validate()
    torch.set_num_threads(threads)
    started = time.perf_counter()
    result = train_both(config, report=lambda line: print(line, flush=True))
    elapsed = time.perf_counter() - started
    lo, hi = config.test_range
    print(f"\nFizzBuzz {lo}..{hi} as torch's network predicts it (wrong ones in brackets):")
    for line in format_predictions(result.numbers, result.torch_predictions):
        print("  " + line)
    n = len(result.numbers)
    torch_acc, ref_acc = result.accuracy(result.torch_predictions), result.accuracy(result.reference_predictions)
    agree = sum(a == b for a, b in zip(result.torch_predictions, result.reference_predictions, strict=True))
    print(
        f"\naccuracy on {lo}..{hi}: torch {100 * torch_acc:.1f} % ({round(torch_acc * n)}/{n}), "
        f"reference {100 * ref_acc:.1f} % ({round(ref_acc * n)}/{n}); torch and reference agree on {agree}/{n} predictions"
    )
    print(
        f"loss curves: max |torch − reference| = {result.max_loss_difference:.3g} over {len(result.epochs)} reported epochs"
    )
    print(f"time: {elapsed:.1f} s (torch {config.dtype}, {threads} thread(s); reference float64)")
    if min_accuracy is not None and 100 * torch_acc < min_accuracy:
        print(f"fizzcheck train: torch accuracy {100 * torch_acc:.1f} % is below --min-accuracy {min_accuracy:g} %")
        return 1
    return 0

"""``fizzcheck train``: the seed's FizzBuzz net trained by torch and by the reference, side by side.

The command prints both loss curves and their largest difference, FizzBuzz for the test
range as torch's network predicts it, and the accuracy of both networks.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

from fizzcheck.errors import FizzcheckError
from fizzcheck.seed.training import DEFAULT_THREADS, LOSS_NAMES, NUMBER_LIMIT, TrainConfig, format_predictions

__all__ = ["register", "run_train"]


def _integer(name: str, minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {raw!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} {raw!r} must be >= {minimum}")
        return value

    return parse


def _number(name: str, low: float, high: float, *, high_inclusive: bool = True) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {raw!r} is not a number") from None
        inside = low <= value <= high if high_inclusive else low <= value < high
        if not (math.isfinite(value) and inside):
            bracket = "]" if high_inclusive else ")"
            raise argparse.ArgumentTypeError(f"{name} {raw!r} must lie in [{low:g}, {high:g}{bracket}")
        return value

    return parse


def _number_range(name: str) -> Callable[[str], tuple[int, int]]:
    def parse(raw: str) -> tuple[int, int]:
        first, sep, last = raw.partition("..")
        try:
            lo, hi = int(first), int(last)
        except ValueError:
            lo, hi = -1, -1
        if not sep or not 0 <= lo <= hi <= NUMBER_LIMIT:
            raise argparse.ArgumentTypeError(
                f"{name} {raw!r} must be FIRST..LAST with 0 <= FIRST <= LAST <= {NUMBER_LIMIT}"
            )
        return lo, hi

    return parse


def register(commands: Any) -> None:
    train = commands.add_parser(
        "train",
        help="train the seed's FizzBuzz net with torch and the numpy reference side by side",
        description=(
            "Train the seed chapter's FizzBuzz network (binary digits → Linear → sigmoid → Linear → 4 classes) "
            "with torch (FizzBuzzNet + torch.optim.SGD) and with fizzcheck's numpy reference (hand-coded backprop "
            "+ reference SGD) from the same weights on the same mini-batches; print both loss curves, "
            "FizzBuzz for the test range and the accuracy."
        ),
    )
    d = TrainConfig()
    train.add_argument(
        "--epochs",
        type=_integer("epochs", 1),
        default=d.epochs,
        help=f"passes over the training range (default {d.epochs})",
    )
    train.add_argument("--lr", type=_number("lr", 0.0, 100.0), default=d.lr, help=f"learning rate (default {d.lr})")
    train.add_argument(
        "--momentum",
        type=_number("momentum", 0.0, 1.0, high_inclusive=False),
        default=d.momentum,
        help=f"SGD momentum (default {d.momentum})",
    )
    train.add_argument(
        "--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov, help="Nesterov momentum (default on)"
    )
    train.add_argument(
        "--weight-decay",
        type=_number("weight decay", 0.0, 1.0),
        default=d.weight_decay,
        help=f"L2 penalty (default {d.weight_decay})",
    )
    train.add_argument(
        "--batch-size",
        type=_integer("batch size", 1),
        default=d.batch_size,
        help=f"mini-batch size (default {d.batch_size})",
    )
    train.add_argument(
        "--hidden", type=_integer("hidden", 1), default=d.hidden, help=f"hidden units (default {d.hidden})"
    )
    train.add_argument(
        "--loss",
        choices=LOSS_NAMES,
        default=d.loss,
        help="cross_entropy (softmax + CE on logits) or mse (the chapter's sigmoid outputs vs one-hot)",
    )
    train.add_argument(
        "--seed",
        type=_integer("seed", 0),
        default=d.seed,
        help=f"seed of the initial weights and the shuffling (default {d.seed})",
    )
    train.add_argument(
        "--dtype", choices=("float32", "float64"), default=d.dtype, help="torch's dtype (the reference is float64)"
    )
    train.add_argument(
        "--threads",
        type=_integer("threads", 1),
        default=DEFAULT_THREADS,
        help=f"torch.set_num_threads (default {DEFAULT_THREADS})",
    )
    train.add_argument(
        "--log-every",
        type=_integer("log every", 1),
        default=d.log_every,
        help=f"epochs between loss lines (default {d.log_every})",
    )
    train.add_argument(
        "--train-range",
        type=_number_range("train range"),
        default=d.train_range,
        help=f"numbers to train on, FIRST..LAST (default {d.train_range[0]}..{d.train_range[1]})",
    )
    train.add_argument(
        "--test-range",
        type=_number_range("test range"),
        default=d.test_range,
        help=f"numbers to test on (default {d.test_range[0]}..{d.test_range[1]})",
    )
    train.add_argument(
        "--min-accuracy",
        type=_number("min accuracy", 0.0, 100.0),
        default=None,
        help="exit with status 1 if torch's test accuracy (%%) is below this",
    )
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    import torch

    from fizzcheck.seed.training import train

    config = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        momentum=args.momentum,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        hidden=args.hidden,
        loss=args.loss,
        seed=args.seed,
        dtype=args.dtype,
        train_range=args.train_range,
        test_range=args.test_range,
        log_every=args.log_every,
    )
    if args.nesterov and args.momentum == 0:
        raise FizzcheckError("--nesterov needs --momentum > 0 (or pass --no-nesterov)")
    config.validate()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    result = train(config, report=lambda line: print(line, flush=True))
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
    print(f"time: {elapsed:.1f} s (torch {config.dtype}, {args.threads} thread(s); reference float64)")
    if args.min_accuracy is not None and 100 * torch_acc < args.min_accuracy:
        print(
            f"fizzcheck train: torch accuracy {100 * torch_acc:.1f} % is below --min-accuracy {args.min_accuracy:g} %"
        )
        return 1
    return 0

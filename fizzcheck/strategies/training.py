"""Hypothesis strategies for training properties: SGD problems and FizzBuzz runs.

Training properties need many values per example (parameters, gradients for several
steps, weights of a network), so values are filled from a numpy generator whose seed,
distribution and scale Hypothesis draws (as :func:`fizzcheck.strategies.arrays` does for
large arrays) instead of element by element: drawing a few hundred floats one by one
costs tens of milliseconds per example. Zeros and exact small integers are mixed in by
the ``"integers"`` distribution and by a drawn zero mask, because optimizers branch on
them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from fizzcheck.dtypes import round_to
from fizzcheck.errors import InvalidArgument
from fizzcheck.reference.net import LOSSES
from fizzcheck.seed.data import NUM_DIGITS, OUTPUT_SIZE
from fizzcheck.strategies.inputs import DISTRIBUTIONS

__all__ = [
    "FULL_PRECISIONS",
    "HIDDEN_SIZES",
    "HYPER_NAMES",
    "MAX_BATCH",
    "MAX_PARAMS",
    "MAX_STEPS",
    "MAX_TRAIN_STEPS",
    "PARAM_SHAPES",
    "filled_arrays",
    "fizzbuzz_runs",
    "sgd_hyper_parameters",
    "sgd_problems",
]

FULL_PRECISIONS = ("float32", "float64")
"""The dtypes the training properties run in. Half precisions (CUDA-only in fizzcheck's
matrix) are not covered yet: the training bounds have been validated on float32/float64
only (subnormal half-precision gradients, for one, break the exact power-of-two scaling
the mean/sum property relies on), and no GPU has run these properties."""

HYPER_NAMES = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
"""SGD's hyper-parameters that the reference implements."""

PARAM_SHAPES = ((), (1,), (3,), (7,), (8,), (9,), (16,), (17,), (33,), (2, 3), (4, 4), (5, 7), (8, 6), (1, 9))
"""Parameter shapes: 0-d, vectors either side of 8- and 16-wide vector loops, matrices."""

MAX_PARAMS = 4
MAX_STEPS = 5


@st.composite
def filled_arrays(draw: st.DrawFn, shape: tuple[int, ...], *, dtype: str, max_magnitude: float) -> np.ndarray:
    """float64 values exactly representable in ``dtype``, |values| <= ``max_magnitude``, some zeros."""
    if not (isinstance(max_magnitude, (int, float)) and 0 < max_magnitude < math.inf):
        raise InvalidArgument(f"max_magnitude={max_magnitude!r} must be a positive finite number")
    size = math.prod(shape)
    seed = draw(st.integers(0, 2**32 - 1), label="fill seed")
    distribution = draw(st.sampled_from(DISTRIBUTIONS), label="distribution")
    scale = max_magnitude * 2.0 ** -draw(st.integers(0, 8), label="scale halvings")
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        values = rng.uniform(-scale, scale, size)
    elif distribution == "normal":
        values = np.clip(rng.normal(0.0, scale / 3.0, size), -max_magnitude, max_magnitude)
    elif distribution == "positive":
        values = rng.uniform(0.0, scale, size)
    elif distribution == "integers":
        values = rng.integers(-8, 9, size).astype(np.float64) * min(1.0, max_magnitude / 8.0)
    else:
        values = rng.choice((-1.0, 1.0), size) * np.exp2(rng.uniform(-20.0, math.log2(scale), size))
    zero_fraction = draw(st.sampled_from((0.0, 0.0, 0.25)), label="zero fraction")
    values[rng.random(size) < zero_fraction] = 0.0
    return round_to(values.reshape(shape), dtype)


def _fraction(draw: st.DrawFn, label: str, *, low: int, high: int, zero_weight: bool = True) -> float:
    """k / 1000 for k in [low, high]: decimal values (mostly inexact in binary, so the target
    rounds them as it would a user's), with zero drawn often because torch branches on it.
    Integers are much cheaper for Hypothesis to draw than floats."""
    if zero_weight and draw(st.integers(0, 3), label=f"{label} is zero") == 0:
        return 0.0
    return draw(st.integers(low, high), label=label) / 1000.0


@st.composite
def sgd_hyper_parameters(draw: st.DrawFn, *, lr: float | None = None) -> dict[str, Any]:
    """Valid SGD hyper-parameters (torch's constructor accepts them)."""
    momentum = _fraction(draw, "momentum", low=1, high=990)
    dampening = _fraction(draw, "dampening", low=1, high=1000)
    nesterov = momentum > 0 and dampening == 0 and draw(st.booleans(), label="nesterov")
    return {
        "lr": _fraction(draw, "lr", low=1, high=1000) if lr is None else lr,
        "momentum": momentum,
        "dampening": dampening,
        "weight_decay": _fraction(draw, "weight_decay", low=1, high=500),
        "nesterov": nesterov,
        "maximize": draw(st.booleans(), label="maximize"),
    }


@st.composite
def sgd_problems(
    draw: st.DrawFn, *, dtype: str, max_magnitude: float = 16.0, lr: float | None = None
) -> dict[str, Any]:
    """Several parameters in several groups, with gradients (some ``None``) for several steps.

    Returns the keyword arguments of the optimizer properties' checks: ``shapes``,
    ``initial`` (all parameters, flattened and concatenated), ``grads`` (one such row per
    step), ``has_grad`` (steps × parameters; False means ``.grad = None``), ``groups``
    (each ``{"params": [indices], <hyper-parameters it overrides>}``) and ``defaults``
    (the optimizer's validated defaults). torch does not validate a group's own values,
    so a group may combine e.g. nesterov with dampening; both sides then apply the same
    documented formula.
    """
    count = draw(st.integers(1, MAX_PARAMS), label="parameters")
    shapes = [draw(st.sampled_from(PARAM_SHAPES), label=f"shape {i}") for i in range(count)]
    total = sum(math.prod(s) for s in shapes)
    steps = draw(st.integers(1, MAX_STEPS), label="steps")
    values = draw(filled_arrays((steps + 1, total), dtype=dtype, max_magnitude=max_magnitude), label="values")
    # bit (step * count + i) set: parameter i has no gradient at that step (shrinks to "all present")
    missing = draw(st.integers(0, 2 ** (steps * count) - 1), label="missing gradients")
    has_grad = np.array(
        [[not (missing >> (s * count + i)) & 1 for i in range(count)] for s in range(steps)], dtype=bool
    )
    group_of = draw(st.lists(st.integers(0, count - 1), min_size=count, max_size=count), label="group of")
    defaults = draw(sgd_hyper_parameters(lr=lr), label="defaults")
    groups = []
    for g in sorted(set(group_of)):
        hyper = draw(sgd_hyper_parameters(lr=lr), label=f"group {g}")
        # bit j set: the group overrides HYPER_NAMES[j]
        overridden = draw(st.integers(0, 2 ** len(HYPER_NAMES) - 1), label=f"group {g} overrides")
        members = [i for i, owner in enumerate(group_of) if owner == g]
        groups.append({"params": members, **{k: hyper[k] for j, k in enumerate(HYPER_NAMES) if overridden >> j & 1}})
    return {
        "shapes": shapes,
        "initial": values[0],
        "grads": values[1:],
        "has_grad": has_grad,
        "groups": groups,
        "defaults": defaults,
    }


# --- FizzBuzz -------------------------------------------------------------------------

HIDDEN_SIZES = (1, 2, 7, 8, 9, 16, 17)
"""Hidden widths for the FizzBuzz properties: tiny, and either side of 8- and 16-wide vector loops."""

MAX_BATCH = 16
MAX_TRAIN_STEPS = 3


@st.composite
def fizzbuzz_runs(draw: st.DrawFn, *, dtype: str, max_steps: int = MAX_TRAIN_STEPS) -> dict[str, Any]:
    """Initial weights of the seed's net, a few mini-batches of integers, a loss and a learning rate.

    Weight magnitudes go up to 8, far beyond ``nn.Linear``'s default 1/√fan_in, so that
    sigmoids saturate sometimes; integers cover the whole 10-digit range 0..1023.
    """
    hidden = draw(st.sampled_from(HIDDEN_SIZES), label="hidden")
    magnitude = draw(st.sampled_from((0.5, 2.0, 8.0)), label="weight magnitude")
    shapes = {
        "hidden_weight": (hidden, NUM_DIGITS),
        "hidden_bias": (hidden,),
        "out_weight": (OUTPUT_SIZE, hidden),
        "out_bias": (OUTPUT_SIZE,),
    }
    run: dict[str, Any] = {
        name: draw(filled_arrays(shape, dtype=dtype, max_magnitude=magnitude), label=name)
        for name, shape in shapes.items()
    }
    steps = draw(st.integers(1, max_steps), label="steps")
    run["batches"] = [
        draw(st.lists(st.integers(0, 2**NUM_DIGITS - 1), min_size=1, max_size=MAX_BATCH), label=f"batch {s}")
        for s in range(steps)
    ]
    run["loss_name"] = draw(st.sampled_from(LOSSES), label="loss")
    run["lr"] = _fraction(draw, "lr", low=1, high=1000)
    return run

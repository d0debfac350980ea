"""The cross-entropy reference with its options, against hand-computed values and finite differences.

The reference (:func:`fizzcheck.reference.ops.cross_entropy` and its VJP) is what the loss
option properties trust, so it is checked here three ways: exact small cases worked out by
hand from torch's documented formulas, an independent sample-by-sample loop written
directly from those formulas, and central finite differences of the forward for the VJP.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from fizzcheck.errors import InvalidArgument
from fizzcheck.reference import ops as ref
from fizzcheck.reference import transforms as rt

RNG = np.random.default_rng(2026)
LOG4 = math.log(4.0)


# --- exact small cases ----------------------------------------------------------------------
# With all-zero logits every class has probability 1/C, so −log_softmax = log C everywhere
# and each loss is log C times a sum of weights that can be read off the documented formula.


def test_weighted_mean_divides_by_the_summed_weight_of_the_targets():
    logits, target, w = np.zeros((3, 4)), np.array([0, 2, 2]), np.array([1.0, 2.0, 3.0, 4.0])
    # l_n = w_{t_n} log 4 = (1, 3, 3) log 4; mean = Σ l_n / Σ w_{t_n} = 7 log 4 / 7
    np.testing.assert_allclose(ref.cross_entropy(logits, target, "none", weight=w), [LOG4, 3 * LOG4, 3 * LOG4])
    np.testing.assert_allclose(ref.cross_entropy(logits, target, "sum", weight=w), 7 * LOG4)
    np.testing.assert_allclose(ref.cross_entropy(logits, target, "mean", weight=w), LOG4)


def test_ignored_targets_leave_both_the_sum_and_the_denominator():
    logits, w = np.zeros((3, 4)), np.array([1.0, 2.0, 3.0, 4.0])
    target = np.array([1, 3, 3])  # ignore_index=3: only the first sample counts
    assert ref.cross_entropy(logits, target, "sum", weight=w, ignore_index=3) == pytest.approx(2 * LOG4)
    assert ref.cross_entropy(logits, target, "mean", weight=w, ignore_index=3) == pytest.approx(LOG4)
    np.testing.assert_array_equal(ref.cross_entropy(logits, target, "none", weight=w, ignore_index=3)[1:], [0.0, 0.0])


def test_label_smoothing_mixes_the_weighted_target_with_the_weighted_uniform():
    logits, target, w = np.zeros((2, 4)), np.array([0, 3]), np.array([1.0, 2.0, 3.0, 4.0])
    eps = 0.5
    # l_n = (1 − ε) w_{t_n} log 4 + (ε/C) Σ_c w_c log 4 = (0.5 w_t + 0.125 · 10) log 4
    per = np.array([0.5 * 1.0 + 1.25, 0.5 * 4.0 + 1.25]) * LOG4
    got = ref.cross_entropy(logits, target, "none", weight=w, label_smoothing=eps)
    np.testing.assert_allclose(got, per, rtol=1e-15)
    # mean still divides by Σ w_{t_n} = 5 (torch normalises the smoothing term the same way)
    assert ref.cross_entropy(logits, target, "mean", weight=w, label_smoothing=eps) == pytest.approx(per.sum() / 5)


def test_probability_targets_mean_divides_by_the_number_of_samples_not_the_weights():
    logits, w = np.zeros((2, 4)), np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.25, 0.75]])
    # l_n = Σ_c w_c y_nc log 4 = (1.5, 3.75) log 4; mean over N = 2 samples
    np.testing.assert_allclose(ref.cross_entropy(logits, y, "none", weight=w), [1.5 * LOG4, 3.75 * LOG4])
    assert ref.cross_entropy(logits, y, "mean", weight=w) == pytest.approx(5.25 * LOG4 / 2)


def test_probability_targets_with_label_smoothing_and_ignore_index_by_hand():
    logits = np.array([0.0, math.log(3.0)])  # softmax (1/4, 3/4)
    y = np.array([1.0, 0.0])
    # y' = 0.8 y + 0.1 = (0.9, 0.1); loss = 0.9 log 4 + 0.1 log(4/3); ignore_index has no say
    want = 0.9 * LOG4 + 0.1 * math.log(4.0 / 3.0)
    assert ref.cross_entropy(logits, y, "sum", label_smoothing=0.2, ignore_index=0) == pytest.approx(want, rel=1e-15)


def test_every_target_ignored_gives_a_nan_mean_and_a_zero_gradient():
    logits, target = RNG.normal(size=(3, 5)), np.array([2, 2, 2])
    cases: list[dict[str, Any]] = [{}, {"weight": np.full(5, 0.5)}, {"label_smoothing": 0.3}]
    for options in cases:
        assert math.isnan(ref.cross_entropy(logits, target, "mean", ignore_index=2, **options))
        assert ref.cross_entropy(logits, target, "sum", ignore_index=2, **options) == 0.0
        (grad,) = ref.cross_entropy_vjp(logits, target, 1.0, "mean", ignore_index=2, **options)
        np.testing.assert_array_equal(grad, np.zeros_like(logits))


def test_k_dimensional_logits_put_the_classes_in_dim_1():
    logits, target = RNG.normal(size=(2, 3, 4)), RNG.integers(0, 3, size=(2, 4))
    flat_logits = np.moveaxis(logits, 1, -1).reshape(8, 3)  # (N·d1, C): the same samples
    for reduction in ref.REDUCTIONS:
        got = ref.cross_entropy(logits, target, reduction, label_smoothing=0.25)
        want = ref.cross_entropy(flat_logits, target.reshape(8), reduction, label_smoothing=0.25)
        np.testing.assert_allclose(np.ravel(got), np.ravel(want), rtol=1e-15)


def test_class_targets_equal_one_hot_probabilities_except_for_the_weighted_mean():
    logits, target, w = RNG.normal(size=(5, 4)), np.array([0, 1, 3, 3, 2]), RNG.uniform(0.5, 2.0, size=4)
    onehot = np.eye(4)[target]
    for eps in (0.0, 0.3):
        for reduction in ("none", "sum"):
            np.testing.assert_allclose(
                ref.cross_entropy(logits, target, reduction, weight=w, label_smoothing=eps),
                ref.cross_entropy(logits, onehot, reduction, weight=w, label_smoothing=eps),
                rtol=1e-14,
            )
        total = ref.cross_entropy(logits, target, "sum", weight=w, label_smoothing=eps)
        assert ref.cross_entropy(logits, target, "mean", weight=w, label_smoothing=eps) == pytest.approx(
            total / w[target].sum()
        )
        assert ref.cross_entropy(logits, onehot, "mean", weight=w, label_smoothing=eps) == pytest.approx(total / 5)


# --- an independent loop over samples, written from the documented formulas -------------------


def _loop_cross_entropy(logits, target, reduction, *, weight, ignore_index, label_smoothing):
    """Sample by sample, class by class, in plain Python floats (no shared code with the reference)."""
    c_dim = 0 if logits.ndim == 1 else 1
    lg = np.moveaxis(logits, c_dim, -1)
    classes = lg.shape[-1]
    w = [1.0] * classes if weight is None else [float(v) for v in weight]
    probability = target.dtype.kind == "f"
    y_all = np.moveaxis(target, c_dim, -1) if probability else target
    losses, denominator = [], 0.0
    for index in np.ndindex(lg.shape[:-1]):
        row = [float(v) for v in lg[index]]
        top = max(row)
        log_z = top + math.log(sum(math.exp(v - top) for v in row))
        nll = [log_z - v for v in row]  # −log p_c
        if probability:
            y = [(1 - label_smoothing) * float(v) + label_smoothing / classes for v in y_all[index]]
            losses.append(sum(w[c] * y[c] * nll[c] for c in range(classes)))
            denominator += 1.0
        elif int(y_all[index]) == ignore_index:
            losses.append(0.0)
        else:
            t = int(y_all[index])
            smooth = sum(w[c] * nll[c] for c in range(classes)) / classes
            losses.append((1 - label_smoothing) * w[t] * nll[t] + label_smoothing * smooth)
            denominator += w[t]
    if reduction == "none":
        return np.array(losses).reshape(lg.shape[:-1])
    total = math.fsum(losses)
    return total if reduction == "sum" else (total / denominator if denominator else math.nan)


def _random_case(kind: str, shape: tuple[int, ...], weighted: bool):
    c_dim = 0 if len(shape) == 1 else 1
    logits = RNG.normal(scale=3.0, size=shape)
    weight = RNG.uniform(0.25, 2.0, size=shape[c_dim]) if weighted else None
    if kind == "probability":
        raw = RNG.uniform(size=shape)
        return logits, raw / raw.sum(axis=c_dim, keepdims=True), weight, -100
    sample_shape = shape[:c_dim] + shape[c_dim + 1 :]
    target = RNG.integers(0, shape[c_dim], size=sample_shape)
    target.flat[0] = 0  # one sample counts (the all-ignored mean is tested on its own) ...
    if target.size > 1:
        target.flat[-1] = 1  # ... and one is ignored
    return logits, target, weight, 1


CASES = [
    (kind, shape, weighted, eps)
    for kind in ("class", "probability")
    for shape in ((5,), (4, 5), (3, 5, 2))
    for weighted in (False, True)
    for eps in (0.0, 0.2)
]


@pytest.mark.parametrize(("kind", "shape", "weighted", "eps"), CASES)
@pytest.mark.parametrize("reduction", ref.REDUCTIONS)
def test_reference_matches_a_sample_by_sample_loop(kind, shape, weighted, eps, reduction):
    logits, target, weight, ignore_index = _random_case(kind, shape, weighted)
    options: dict[str, Any] = {"weight": weight, "ignore_index": ignore_index, "label_smoothing": eps}
    got = ref.cross_entropy(logits, target, reduction, **options)
    want = _loop_cross_entropy(logits, target, reduction, **options)
    # two float64 evaluations of ≤ 30 well-scaled terms: they agree to a few hundred ulps
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_the_per_sample_transform_reference_is_a_batch_of_one():
    logits, w = RNG.normal(size=6), RNG.uniform(0.5, 2.0, size=6)
    for reduction in ref.REDUCTIONS:
        options: dict[str, Any] = {"weight": w, "label_smoothing": 0.3, "ignore_index": 4, "reduction": reduction}
        batch = {k: v for k, v in options.items() if k != "reduction"}
        for t in (2, 4):
            assert rt.cross_entropy_sample(logits, t, **options) == pytest.approx(
                float(np.ravel(ref.cross_entropy(logits[None], np.array([t]), reduction, **batch))[0])
                if not (reduction == "mean" and t == 4)
                else 0.0  # one ignored sample: the per-sample oracle's loss is 0 (the batch mean is 0/0)
            )


# --- the VJP against central finite differences -------------------------------------------


def _numerical_vjp(f, x, g, h=1e-6):
    grad = np.zeros_like(x)
    for pos in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[pos]))
        plus, minus = x.copy(), x.copy()
        plus[pos] += step
        minus[pos] -= step
        grad[pos] = np.sum(g * (f(plus) - f(minus))) / (2 * step)
    return grad


@pytest.mark.parametrize(("kind", "shape", "weighted", "eps"), CASES)
@pytest.mark.parametrize("reduction", ref.REDUCTIONS)
def test_vjp_matches_finite_differences(kind, shape, weighted, eps, reduction):
    logits, target, weight, ignore_index = _random_case(kind, shape, weighted)
    options: dict[str, Any] = {"weight": weight, "ignore_index": ignore_index, "label_smoothing": eps}
    out = ref.cross_entropy(logits, target, reduction, **options)
    g = RNG.normal(size=np.shape(out))
    (analytic,) = ref.cross_entropy_vjp(logits, target, g, reduction, **options)
    numeric = _numerical_vjp(lambda z: ref.cross_entropy(z, target, reduction, **options), logits, g)
    # central differences: truncation O(h²)|f'''| and cancellation O(u/h)|f|, both ≈ 1e-9 here
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def test_a_vjp_that_forgets_the_weight_is_visible_to_the_finite_differences():
    """The finite-difference test can fail: an unweighted gradient of a weighted loss differs."""
    logits, target, weight, _ = _random_case("class", (4, 5), True)
    (wrong,) = ref.cross_entropy_vjp(logits, target, 1.0, "sum")
    numeric = _numerical_vjp(lambda z: ref.cross_entropy(z, target, "sum", weight=weight), logits, np.ones(()))
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(wrong, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ref.cross_entropy(np.zeros((2, 3)), np.array([0, 3]), ignore_index=-1), "class indices"),
        (lambda: ref.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), weight=np.ones(2)), "weight must"),
        (lambda: ref.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5), "label_smoothing"),
        (lambda: ref.cross_entropy(np.zeros((2, 3)), np.zeros((2, 2))), "probabilities"),
    ],
)
def test_invalid_options_raise(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()

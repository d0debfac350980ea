"""Metamorphic properties of the seed's network: relations between two runs of the target.

* reduction: the gradient with ``reduction="mean"`` equals the ``"sum"`` gradient / N
  (N = number of loss terms). Every backward op is linear in the loss's cotangent, and
  multiplying by a power of two is exact in binary floating point, so for N a power of
  two the two must agree *bitwise*; otherwise within both runs' bounds.
* permutation: permuting the batch permutes the per-sample outputs and leaves the loss
  and the parameter gradients unchanged, within both runs' bounds (the sums run in a
  different order).
* batch invariance: a row's output computed alone vs inside a larger batch. torch does
  not promise bitwise equality (kernels block rows differently), so the difference is
  measured against its bound, asserted only not to exceed it, and reported.

The network, losses and tensors are the ``target``'s (``--fizzcheck-target``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fizzcheck import seed as fb
from fizzcheck.bounds.training import fizzbuzz_step_bounds
from fizzcheck.check import assert_all_close, assert_close
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.reference import net as ref_net
from fizzcheck.strategies.training import FULL_PRECISIONS, fizzbuzz_runs
from fizzcheck.targets import Target

PARAMS = ("hidden_weight", "hidden_bias", "out_weight", "out_bias")


def _net(target: Target, params: dict[str, np.ndarray], *, loss_name: str, device: str, dtype: str) -> fb.FizzBuzzNet:
    hidden = params["hidden.weight"].shape[0]
    net = fb.FizzBuzzNet(fb.NUM_DIGITS, hidden, fb.OUTPUT_SIZE, output_sigmoid=loss_name == "mse", target=target)
    net = net.to(device=device, dtype=target.dtype(dtype))
    net.load_state_dict({name: target.tensor(value, dtype=dtype, device=device) for name, value in params.items()})
    return net


def _loss_fn(target: Target, loss_name: str, reduction: str):  # type: ignore[no-untyped-def]
    if loss_name == "mse":
        return lambda scores, classes: target.F.mse_loss(
            scores, target.F.one_hot(classes, scores.shape[-1]).to(scores.dtype), reduction=reduction
        )
    return lambda scores, classes: target.F.cross_entropy(scores, classes, reduction=reduction)


def _run(target: Target, net: fb.FizzBuzzNet, numbers, loss_name: str, reduction: str, *, device: str, dtype: str):  # type: ignore[no-untyped-def]
    """(outputs, loss, gradients) of one forward/backward pass, as float64 numpy."""
    net.zero_grad()
    scores = net(target.tensor(fb.encode(numbers), dtype=dtype, device=device))
    loss = _loss_fn(target, loss_name, reduction)(scores, target.labels(fb.labels(numbers), device=device))
    loss.backward()
    grads = {name: target.numpy(p.grad) for name, p in net.named_parameters() if p.grad is not None}
    return target.numpy(scores), float(loss.detach().double()), grads


def _named(run: dict) -> dict[str, np.ndarray]:
    return dict(zip(ref_net.PARAMETER_NAMES, (run[k] for k in PARAMS), strict=True))


# --- mean = sum / N -------------------------------------------------------------------


def check_mean_gradient_is_sum_over_n(
    target: Target, hidden_weight, hidden_bias, out_weight, out_bias, numbers, *, loss_name, device, dtype
) -> None:
    params = dict(zip(ref_net.PARAMETER_NAMES, (hidden_weight, hidden_bias, out_weight, out_bias), strict=True))
    net = _net(target, params, loss_name=loss_name, device=device, dtype=dtype)
    x, classes = fb.encode(numbers), fb.labels(numbers)
    _, _, mean_grads = _run(target, net, numbers, loss_name, "mean", device=device, dtype=dtype)
    _, _, sum_grads = _run(target, net, numbers, loss_name, "sum", device=device, dtype=dtype)
    terms = len(numbers) * (fb.OUTPUT_SIZE if loss_name == "mse" else 1)
    op = f"{loss_name} gradients: mean vs sum / {terms}"
    # float64 division of float32/float64 values: exact for a power of two, else one float64 rounding
    scaled = {name: g / terms for name, g in sum_grads.items()}
    # Scaling by 2**-k commutes with every IEEE rounding, so when the mean and the sum run the
    # same sequence of operations (eager kernels: mean's backward is the sum's with g / n fed in)
    # they agree bitwise. A compiling target generates a separate program for each graph and
    # may place the scaling elsewhere (a reciprocal, a fused product), so there the two runs
    # are only each within their own error bound — the general case below.
    if terms & (terms - 1) == 0 and not target.compiles:
        parts = [(name, mean_grads[name], scaled[name], 0.0) for name in ref_net.PARAMETER_NAMES]
        assert_all_close(parts, op=f"{op} (exact)")
        return
    mean_bounds = fizzbuzz_step_bounds(params, x, classes, loss_name=loss_name, lr=0.0, dtype=dtype, reduction="mean")
    sum_bounds = fizzbuzz_step_bounds(params, x, classes, loss_name=loss_name, lr=0.0, dtype=dtype, reduction="sum")
    parts = [
        (
            name,
            mean_grads[name],
            scaled[name],
            mean_bounds.grads[name] + sum_bounds.grads[name] / terms + 2.0**-53 * np.abs(scaled[name]),
        )
        for name in ref_net.PARAMETER_NAMES
    ]
    assert_all_close(parts, op=op)


@pytest.mark.dtypes(*FULL_PRECISIONS)
@given(data=st.data())
def test_mean_gradient_is_sum_over_n(target, device, dtype, data):
    run = data.draw(fizzbuzz_runs(dtype=dtype, max_steps=1), label="run")
    if data.draw(st.booleans(), label="power-of-two batch"):
        run["batches"][0] = (run["batches"][0] * 16)[: 2 ** data.draw(st.integers(0, 4), label="log2 batch")]
    run_check(
        check_mean_gradient_is_sum_over_n,
        target=target,
        **{k: run[k] for k in PARAMS},
        numbers=run["batches"][0],
        loss_name=run["loss_name"],
        device=device,
        dtype=dtype,
    )


# --- permuting the batch --------------------------------------------------------------


def check_permuting_the_batch(
    target: Target, hidden_weight, hidden_bias, out_weight, out_bias, numbers, permutation, *, loss_name, device, dtype
) -> None:
    params = dict(zip(ref_net.PARAMETER_NAMES, (hidden_weight, hidden_bias, out_weight, out_bias), strict=True))
    net = _net(target, params, loss_name=loss_name, device=device, dtype=dtype)
    permuted = [numbers[i] for i in permutation]
    scores, loss, grads = _run(target, net, numbers, loss_name, "mean", device=device, dtype=dtype)
    p_scores, p_loss, p_grads = _run(target, net, permuted, loss_name, "mean", device=device, dtype=dtype)
    bounds = fizzbuzz_step_bounds(
        params, fb.encode(numbers), fb.labels(numbers), loss_name=loss_name, lr=0.0, dtype=dtype
    )
    # each run is within `bounds` of the reference (whose value does not depend on the order)
    parts = [
        ("outputs", p_scores, scores[permutation], 2 * bounds.scores[permutation]),
        ("loss", np.float64(p_loss), np.float64(loss), 2 * bounds.loss),
    ]
    parts += [(f"grad {name}", p_grads[name], grads[name], 2 * bounds.grads[name]) for name in ref_net.PARAMETER_NAMES]
    assert_all_close(parts, op=f"{loss_name} batch permuted by {permutation}")


@pytest.mark.dtypes(*FULL_PRECISIONS)
@given(data=st.data())
def test_permuting_the_batch(target, device, dtype, data):
    run = data.draw(fizzbuzz_runs(dtype=dtype, max_steps=1), label="run")
    numbers = run["batches"][0]
    permutation = data.draw(st.permutations(range(len(numbers))), label="permutation")
    run_check(
        check_permuting_the_batch,
        target=target,
        **{k: run[k] for k in PARAMS},
        numbers=numbers,
        permutation=list(permutation),
        loss_name=run["loss_name"],
        device=device,
        dtype=dtype,
    )


# --- batch invariance -----------------------------------------------------------------


def batch_invariance(
    target: Target, params: dict[str, np.ndarray], numbers, *, loss_name: str, device: str, dtype: str
) -> tuple[float, float]:
    """(max |alone − in batch| / bound, fraction of rows that agree bitwise) for every row of ``numbers``.

    Asserts the difference stays within twice the forward bound (both are within one
    bound of the reference).
    """
    net = _net(target, params, loss_name=loss_name, device=device, dtype=dtype)
    x = target.tensor(fb.encode(numbers), dtype=dtype, device=device)
    bounds = fizzbuzz_step_bounds(
        params, fb.encode(numbers), fb.labels(numbers), loss_name=loss_name, lr=0.0, dtype=dtype
    )
    with target.torch.no_grad():
        together = target.numpy(net(x))
        alone = np.concatenate([target.numpy(net(x[i : i + 1])) for i in range(len(numbers))])
    comparison = assert_close(
        alone, together, bound=2 * bounds.scores, op=f"{loss_name} row alone vs in a batch of {len(numbers)}"
    )
    bitwise = float(np.mean(np.all(alone == together, axis=1)))
    return comparison.ratio, bitwise


def check_batch_invariance(
    target: Target, hidden_weight, hidden_bias, out_weight, out_bias, numbers, *, loss_name, device, dtype
) -> None:
    params = dict(zip(ref_net.PARAMETER_NAMES, (hidden_weight, hidden_bias, out_weight, out_bias), strict=True))
    batch_invariance(target, params, numbers, loss_name=loss_name, device=device, dtype=dtype)


@pytest.mark.dtypes(*FULL_PRECISIONS)
@given(data=st.data())
def test_batch_invariance_within_bound(target, device, dtype, data):
    run = data.draw(fizzbuzz_runs(dtype=dtype, max_steps=1), label="run")
    run_check(
        check_batch_invariance,
        target=target,
        **{k: run[k] for k in PARAMS},
        numbers=run["batches"][0],
        loss_name=run["loss_name"],
        device=device,
        dtype=dtype,
    )


@pytest.mark.dtypes(*FULL_PRECISIONS)
def test_batch_invariance_report(target, device, dtype, record_property):
    """Rows of the trained-size net (hidden 100) alone vs in batches that cross kernel block sizes.

    Records, per batch size, the largest difference as a fraction of its bound and the
    share of rows that are bitwise identical (``batch_invariance_*`` properties in the
    JUnit report); fails only if a difference exceeds its bound.
    """
    rng = np.random.default_rng(0)
    params = ref_net.init_parameters(fb.NUM_DIGITS, 100, fb.OUTPUT_SIZE, rng=rng)
    params = {k: target.numpy(target.tensor(v, dtype=dtype)) for k, v in params.items()}
    worst = 0.0
    for size in (2, 7, 8, 9, 16, 17, 33, 64, 65, 129):
        numbers = [int(n) for n in rng.integers(0, 2**fb.NUM_DIGITS, size)]
        ratio, bitwise = batch_invariance(
            target, params, numbers, loss_name="cross_entropy", device=device, dtype=dtype
        )
        record_property(f"batch_invariance_ratio_batch_{size}", ratio)
        record_property(f"batch_invariance_bitwise_share_batch_{size}", bitwise)
        worst = max(worst, ratio)
    record_property("batch_invariance_max_ratio", worst)

"""The seed's FizzBuzz network: its four forms agree, step after step.

The numpy reference (hand-coded backprop, float64) and the three torch forms — raw
tensors with the manual ``p -= lr * p.grad`` under ``no_grad``, ``FizzBuzzNet``
(``nn.Module``) and ``nn.Sequential`` — start from the same weights, see the same
mini-batches, and must produce the same outputs, losses (the chapter's MSE, or softmax +
cross-entropy), gradients and updated parameters within the bounds of
:func:`fizzcheck.bounds.training.fizzbuzz_step_bounds`:

* ``resync=True``: before every step each form is re-loaded with the reference's
  parameters (rounded to the dtype), so each step is bounded from identical weights;
* ``resync=False``: the forms run on their own and the bound is chained across steps
  (each step's parameter bound feeds the next), a derived growth bound for the whole run.

The torch forms are built through ``target`` (``--fizzcheck-target``): its ``nn.Linear``,
``nn.Sigmoid``, losses, ``optim.SGD`` and tensors; the raw form's formulas are the
chapter's tensor methods.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fizzcheck import seed as fb
from fizzcheck.bounds.training import fizzbuzz_step_bounds
from fizzcheck.check import assert_all_close, assert_close
from fizzcheck.dtypes import round_to
from fizzcheck.plugin.reproduce import run_check
from fizzcheck.reference import net as ref_net
from fizzcheck.strategies.training import FULL_PRECISIONS, fizzbuzz_runs
from fizzcheck.targets import Target


def _params(hidden_weight, hidden_bias, out_weight, out_bias) -> dict[str, np.ndarray]:
    return dict(zip(ref_net.PARAMETER_NAMES, (hidden_weight, hidden_bias, out_weight, out_bias), strict=True))


def assert_same_predictions(scores: np.ndarray, expected: np.ndarray, bound: np.ndarray, *, op: str) -> None:
    """Where the reference's best class leads by more than both bounds, the target must pick it too."""
    __tracebackhide__ = True
    order = np.argsort(-expected, axis=1)
    rows = np.arange(len(expected))
    best, runner_up = order[:, 0], order[:, 1] if expected.shape[1] > 1 else order[:, 0]
    margin = expected[rows, best] - expected[rows, runner_up]
    decided = margin > bound[rows, best] + bound[rows, runner_up]
    got = fb.predict(scores)
    wrong = decided & (got != best)
    assert not wrong.any(), (
        f"prediction[{int(np.argmax(wrong))}]={int(got[np.argmax(wrong)])}, but should be "
        f"{int(best[np.argmax(wrong)])} (reference margin beyond the bound) [{op}]"
    )


def check_fizzbuzz_forms(
    target: Target,
    hidden_weight,
    hidden_bias,
    out_weight,
    out_bias,
    batches,
    *,
    loss_name: str,
    lr: float,
    resync: bool,
    device: str,
    dtype: str,
) -> None:
    params = _params(hidden_weight, hidden_bias, out_weight, out_bias)
    forms = {
        name: fb.TorchForm(name, params, loss_name=loss_name, lr=lr, dtype=dtype, device=device, target=target)
        for name in fb.FORMS
    }
    error = None
    for step, numbers in enumerate(batches, start=1):
        x, classes = fb.encode(numbers), fb.labels(numbers)
        if resync and step > 1:
            params = {name: round_to(value, dtype) for name, value in params.items()}
            for form in forms.values():
                form.load(params)
            error = None
        expected = fb.reference_step(params, x, classes, loss_name=loss_name, lr=lr)
        bounds = fizzbuzz_step_bounds(params, x, classes, loss_name=loss_name, lr=lr, dtype=dtype, param_error=error)
        for name, form in forms.items():
            got = form.train_step(x, classes)
            op = f"{name} {loss_name} step {step}{' (resynced)' if resync else ''}"
            assert_close(got.scores, expected.scores, bound=bounds.scores, op=f"{op} outputs")
            assert_same_predictions(got.scores, expected.scores, bounds.scores, op=f"{op} predictions")
            parts = [("loss", np.float64(got.loss), np.float64(expected.loss), bounds.loss)]
            for p in ref_net.PARAMETER_NAMES:
                parts.append((f"grad {p}", got.grads[p], expected.grads[p], bounds.grads[p]))
                parts.append((f"updated {p}", got.new_params[p], expected.new_params[p], bounds.new_params[p]))
            assert_all_close(parts, op=op)
        params, error = expected.new_params, bounds.new_params


@pytest.mark.dtypes(*FULL_PRECISIONS)
@given(data=st.data())
def test_fizzbuzz_forms_agree(target, device, dtype, data):
    run = data.draw(fizzbuzz_runs(dtype=dtype), label="run")
    resync = data.draw(st.booleans(), label="resync")
    run_check(check_fizzbuzz_forms, target=target, **run, resync=resync, device=device, dtype=dtype)

"""FizzBuzz data, the reference net, its step bound, ``fizzcheck train``, and fault injection.

The fault-injection tests patch torch (``monkeypatch``, undone after each test) so that
it misbehaves the way a buggy framework would — ``zero_grad`` doing nothing, a parameter
skipped by ``parameters()``, ``train()`` not recursing, a low-precision sigmoid — and
require the module and FizzBuzz properties' check functions to fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import properties.test_fizzbuzz as fizzbuzz_properties
import properties.test_module as module_properties
from fizzcheck import seed as fb
from fizzcheck.bounds.training import fizzbuzz_step_bounds
from fizzcheck.check import assert_close
from fizzcheck.cli.app import main
from fizzcheck.dtypes import round_to
from fizzcheck.errors import BoundExceeded, InvalidArgument
from fizzcheck.reference import net as ref_net
from fizzcheck.targets import Target

# --- encoding, labels, decoding -------------------------------------------------------


def test_encode_is_binary_most_significant_digit_first():
    assert fb.encode([5], digits=4).tolist() == [[0.0, 1.0, 0.0, 1.0]]
    every = np.arange(2**fb.NUM_DIGITS)
    bits = fb.encode(every)
    assert bits.shape == (1024, 10)
    assert np.array_equal(bits @ (2.0 ** np.arange(9, -1, -1)), every)


@pytest.mark.parametrize("numbers", [[-1], [1024], [[1, 2]]], ids=["negative", "too-large", "nested"])
def test_encode_rejects_what_ten_digits_cannot_hold(numbers):
    with pytest.raises(InvalidArgument):
        fb.encode(numbers)


def _classic(n: int) -> str:
    return "fizzbuzz" if n % 15 == 0 else "buzz" if n % 5 == 0 else "fizz" if n % 3 == 0 else str(n)


def test_labels_and_decoding_match_fizzbuzz_for_every_number():
    numbers = list(range(1024))
    assert [fb.decode(n, int(c)) for n, c in zip(numbers, fb.labels(numbers), strict=True)] == [
        _classic(n) for n in numbers
    ]
    assert fb.LABELS == ("number", "fizz", "buzz", "fizzbuzz")
    assert fb.fizzbuzz(15) == "fizzbuzz"
    assert fb.fizzbuzz(7) == "7"


def test_decode_rejects_unknown_class():
    with pytest.raises(InvalidArgument, match="class_index=4"):
        fb.decode(3, 4)


def test_predict_takes_the_best_class_per_row():
    assert fb.predict(np.array([[0.1, 0.7, 0.1, 0.1], [0.0, 0.0, 0.0, 1.0]])).tolist() == [1, 3]


# --- the reference net ----------------------------------------------------------------


@pytest.mark.parametrize("loss_name", ref_net.LOSSES)
def test_reference_backprop_matches_central_differences(loss_name):
    """The hand-coded backward agrees with (f(θ + h) − f(θ − h)) / 2h, independently of torch.

    With h = 1e-5 the truncation error is O(h²) ≈ 1e-10 and rounding O(u/h) ≈ 1e-11, so a
    relative agreement of 1e-6 leaves a wide margin while still catching any wrong term.
    """
    rng = np.random.default_rng(7)
    params = ref_net.init_parameters(fb.NUM_DIGITS, 5, fb.OUTPUT_SIZE, rng=rng)
    numbers = rng.integers(0, 1024, 6)
    x, target = fb.encode(numbers), fb.labels(numbers)
    _, _, grads = ref_net.loss_and_gradients(params, x, target, loss_name=loss_name)
    h = 1e-5
    for name in ref_net.PARAMETER_NAMES:
        numeric = np.zeros_like(params[name])
        for index in np.ndindex(params[name].shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] += h
            up = ref_net.loss_and_gradients(shifted, x, target, loss_name=loss_name)[1]
            shifted[name][index] -= 2 * h
            down = ref_net.loss_and_gradients(shifted, x, target, loss_name=loss_name)[1]
            numeric[index] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def test_reference_parameter_names_follow_fizzbuzznet_registration_order():
    net = fb.FizzBuzzNet(fb.NUM_DIGITS, 3, fb.OUTPUT_SIZE)
    assert tuple(name for name, _ in net.named_parameters()) == ref_net.PARAMETER_NAMES
    rng = np.random.default_rng(0)
    params = ref_net.init_parameters(fb.NUM_DIGITS, 3, fb.OUTPUT_SIZE, rng=rng)
    assert {k: v.shape for k, v in params.items()} == {k: tuple(v.shape) for k, v in net.state_dict().items()}


def test_reference_init_stays_within_linear_default_bound():
    params = ref_net.init_parameters(10, 100, 4, rng=np.random.default_rng(0))
    assert np.max(np.abs(params["hidden.weight"])) <= 1 / np.sqrt(10)
    assert np.max(np.abs(params["out.weight"])) <= 1 / np.sqrt(100)


def test_unknown_loss_is_rejected():
    with pytest.raises(InvalidArgument, match="loss='hinge'"):
        ref_net.forward(
            ref_net.init_parameters(10, 2, 4, rng=np.random.default_rng(0)), np.zeros((1, 10)), loss_name="hinge"
        )


# --- the step bound, against a torch-free float32 target ------------------------------


def _numpy_float32_step(params, x, target, loss_name, lr):
    """The same step in numpy float32 (BLAS sgemm, numpy's exp): another target, no torch."""
    f = np.float32
    w1, b1, w2, b2 = (params[n].astype(f) for n in ref_net.PARAMETER_NAMES)
    x = x.astype(f)
    hidden = f(1) / (f(1) + np.exp(-(x @ w1.T + b1)))
    logits = hidden @ w2.T + b2
    rows = len(x)
    if loss_name == "mse":
        y = f(1) / (f(1) + np.exp(-logits))
        g_logits = (f(2) / f(y.size)) * (y - ref_net.one_hot(target, 4).astype(f)) * (f(1) - y) * y
    else:
        z = logits - logits.max(axis=1, keepdims=True)
        soft = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        g_logits = (soft - ref_net.one_hot(target, 4).astype(f)) / f(rows)
    g_hidden = (g_logits @ w2) * (f(1) - hidden) * hidden
    grads = {
        "hidden.weight": g_hidden.T @ x,
        "hidden.bias": g_hidden.sum(0),
        "out.weight": g_logits.T @ hidden,
        "out.bias": g_logits.sum(0),
    }
    return {n: (params[n].astype(f) - f(lr) * grads[n]).astype(np.float64) for n in ref_net.PARAMETER_NAMES}


@pytest.mark.parametrize("loss_name", ref_net.LOSSES)
@pytest.mark.parametrize("seed", range(5))
def test_step_bound_covers_a_numpy_float32_step(loss_name, seed):
    rng = np.random.default_rng(seed)
    params = {k: round_to(v * 4, "float32") for k, v in ref_net.init_parameters(10, 16, 4, rng=rng).items()}
    numbers = rng.integers(0, 1024, 32)
    x, target = fb.encode(numbers), fb.labels(numbers)
    expected = fb.reference_step(params, x, target, loss_name=loss_name, lr=0.5)
    bounds = fizzbuzz_step_bounds(params, x, target, loss_name=loss_name, lr=0.5, dtype="float32")
    got = _numpy_float32_step(params, x, target, loss_name, 0.5)
    for name in ref_net.PARAMETER_NAMES:
        assert_close(got[name], expected.new_params[name], bound=bounds.new_params[name], op=f"numpy float32 {name}")


def test_step_bound_grows_with_incoming_parameter_error():
    rng = np.random.default_rng(0)
    params = {k: round_to(v, "float32") for k, v in ref_net.init_parameters(10, 8, 4, rng=rng).items()}
    numbers = rng.integers(0, 1024, 8)
    x, target = fb.encode(numbers), fb.labels(numbers)
    fresh = fizzbuzz_step_bounds(params, x, target, loss_name="mse", lr=0.1, dtype="float32")
    carried = fizzbuzz_step_bounds(
        params, x, target, loss_name="mse", lr=0.1, dtype="float32", param_error=fresh.new_params
    )
    for name in ref_net.PARAMETER_NAMES:
        assert np.all(carried.new_params[name] > fresh.new_params[name])


# --- fault injection: module and FizzBuzz properties must fail ------------------------

TORCH = Target()
"""Torch eager: the check functions run against torch, patched by each test below."""

SPEC = ["custom", 1, [["linear", 3, 2, True], ["sequential", [["linear", 2, 2, True], ["sigmoid"]]]], True]
"""A small tree: own parameters, nested containers, a sigmoid (no parameters)."""


def _forms_run(steps: int = 2, loss_name: str = "mse", dtype: str = "float32") -> dict:
    rng = np.random.default_rng(1)
    params = {k: round_to(v, dtype) for k, v in ref_net.init_parameters(10, 8, 4, rng=rng).items()}
    return {
        "hidden_weight": params["hidden.weight"],
        "hidden_bias": params["hidden.bias"],
        "out_weight": params["out.weight"],
        "out_bias": params["out.bias"],
        "batches": [[int(n) for n in rng.integers(0, 1024, 8)] for _ in range(steps)],
        "loss_name": loss_name,
        "lr": 0.5,
        "device": "cpu",
        "dtype": dtype,
        "target": TORCH,
    }


def test_controls_pass_without_faults():
    module_properties.check_parameters_in_registration_order(TORCH, SPEC)
    module_properties.check_apply_visits_children_before_parent(TORCH, SPEC)
    module_properties.check_train_and_eval_are_recursive(TORCH, SPEC, [True, False], False, 0)
    module_properties.check_zero_grad_clears_every_gradient(TORCH, SPEC, True, 0)
    module_properties.check_linear_default_init(TORCH, 10, 5, 0, "float32")
    fizzbuzz_properties.check_fizzbuzz_forms(**_forms_run(), resync=True)


def test_optimizer_zero_grad_doing_nothing_is_caught(monkeypatch):
    monkeypatch.setattr(torch.optim.Optimizer, "zero_grad", lambda self, set_to_none=True: None)
    with pytest.raises(BoundExceeded, match="step 2"):
        fizzbuzz_properties.check_fizzbuzz_forms(**_forms_run(), resync=True)


def test_module_zero_grad_doing_nothing_is_caught(monkeypatch):
    monkeypatch.setattr(nn.Module, "zero_grad", lambda self, set_to_none=True: None)
    with pytest.raises(AssertionError, match="zero_grad"):
        module_properties.check_zero_grad_clears_every_gradient(TORCH, SPEC, True, 0)


def test_raw_form_forgetting_to_zero_is_caught(monkeypatch):
    def update_without_zeroing(self, lr):
        with torch.no_grad():
            for p in self.parameters():
                p -= lr * p.grad

    monkeypatch.setattr(fb.RawFizzBuzz, "update", update_without_zeroing)
    with pytest.raises(BoundExceeded, match=r"raw .* step 2"):
        fizzbuzz_properties.check_fizzbuzz_forms(**_forms_run(), resync=True)


def test_parameters_skipping_one_is_caught(monkeypatch):
    original = nn.Module.parameters

    def all_but_last(self, recurse=True):
        return iter(list(original(self, recurse))[:-1])

    monkeypatch.setattr(nn.Module, "parameters", all_but_last)
    with pytest.raises(AssertionError, match="parameters\\(\\) yielded"):
        module_properties.check_parameters_in_registration_order(TORCH, SPEC)
    with pytest.raises(BoundExceeded, match=r"updated out\.bias"):  # the optimizer never sees out.bias
        fizzbuzz_properties.check_fizzbuzz_forms(**_forms_run(steps=1), resync=True)


def test_apply_visiting_parent_first_is_caught(monkeypatch):
    def parent_first(self, fn):
        fn(self)
        for child in self.children():
            child.apply(fn)
        return self

    monkeypatch.setattr(nn.Module, "apply", parent_first)
    with pytest.raises(AssertionError, match="children before parent"):
        module_properties.check_apply_visits_children_before_parent(TORCH, SPEC)


def test_train_not_recursing_is_caught(monkeypatch):
    def shallow_train(self, mode=True):
        self.training = mode
        return self

    monkeypatch.setattr(nn.Module, "train", shallow_train)
    with pytest.raises(AssertionError, match="training="):
        module_properties.check_train_and_eval_are_recursive(TORCH, SPEC, [True], False, 0)


def test_wrong_linear_init_is_caught(monkeypatch):
    def twice_as_wide(self):
        bound = 2.0 / self.in_features**0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    monkeypatch.setattr(nn.Linear, "reset_parameters", twice_as_wide)
    with pytest.raises(AssertionError, match="should be <="):
        module_properties.check_linear_default_init(TORCH, 10, 5, 0, "float32")


def test_normal_instead_of_uniform_init_is_caught(monkeypatch):
    def normal_with_same_std(self):
        std = (1.0 / self.in_features) ** 0.5 / 3**0.5  # U(−b, b) has std b/√3
        nn.init.normal_(self.weight, 0.0, std)
        nn.init.uniform_(self.bias, -(self.in_features**-0.5), self.in_features**-0.5)

    monkeypatch.setattr(nn.Linear, "reset_parameters", normal_with_same_std)
    with pytest.raises(AssertionError, match="weight"):
        module_properties.check_linear_default_init(TORCH, 64, 64, 0, "float32")


def test_bfloat16_sigmoid_in_float32_is_caught(monkeypatch):
    """The step bound is tight enough to flag a sigmoid evaluated in bfloat16 (8-bit significand)."""
    original = torch.sigmoid
    monkeypatch.setattr(torch, "sigmoid", lambda t: original(t.to(torch.bfloat16)).to(t.dtype))
    with pytest.raises(BoundExceeded):
        fizzbuzz_properties.check_fizzbuzz_forms(**_forms_run(steps=1, loss_name="cross_entropy"), resync=True)


# --- fizzcheck train ------------------------------------------------------------------


def test_train_command_runs_a_tiny_configuration(capsys):
    code = main(
        ["train", "--epochs", "2", "--hidden", "4", "--log-every", "1", "--batch-size", "128", "--test-range", "1..20"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "torch loss" in out
    assert "reference loss" in out
    loss_lines = [line for line in out.splitlines() if line.split()[:1] in (["1"], ["2"]) and len(line.split()) == 4]
    assert len(loss_lines) == 2  # one loss line per epoch
    assert "FizzBuzz 1..20" in out
    assert "accuracy on 1..20: torch" in out
    assert "agree on" in out
    assert "max |torch − reference|" in out


def test_train_command_min_accuracy_fails_an_untrained_net(capsys):
    code = main(
        ["train", "--epochs", "1", "--hidden", "2", "--lr", "0", "--test-range", "1..15", "--min-accuracy", "100"]
    )
    assert code == 1
    assert "below --min-accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "'--epochs': 0 is not in the range x>=1"),
        (["--hidden", "two"], "'--hidden': 'two' is not a valid integer"),
        (["--lr", "-1"], "'--lr': -1.0 is not in the range 0.0<=x<=100.0"),
        (["--lr", "nan"], "'--lr': 'nan' is not a finite number"),
        (["--momentum", "1"], "'--momentum': 1.0 is not in the range 0.0<=x<1.0"),
        (["--loss", "hinge"], "'--loss': 'hinge' is not one of 'mse', 'cross_entropy'"),
        (["--train-range", "5..3"], "'--train-range': '5..3' must be FIRST..LAST"),
        (["--test-range", "1..2000"], "'--test-range': '1..2000' must be FIRST..LAST with 0 <= FIRST <= LAST <= 1023"),
        (["--threads", "0"], "'--threads': 0 is not in the range x>=1"),
    ],
    ids=[
        "epochs-zero",
        "hidden-not-int",
        "lr-negative",
        "lr-nan",
        "momentum-one",
        "unknown-loss",
        "empty-range",
        "range-too-large",
        "no-threads",
    ],
)
def test_train_command_rejects_bad_arguments_in_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_train_command_rejects_nesterov_without_momentum(capsys):
    assert main(["train", "--momentum", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fizzcheck: error: --nesterov needs --momentum > 0")
    assert err.count("\n") == 1

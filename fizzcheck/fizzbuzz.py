"""FizzBuzz as the seed chapter trains it: encoding, labels, decoding and the torch forms.

* Integers are encoded as their binary digits, most significant first (``NUM_DIGITS``
  of them, so 0..1023).
* Four labels: ``number`` (print the number), ``fizz`` (multiple of 3), ``buzz``
  (multiple of 5), ``fizzbuzz`` (multiple of 15).
* The network exists in four forms that must agree: the numpy reference
  (:mod:`fizzcheck.reference.net`), and three torch forms from the chapter —
  :class:`RawFizzBuzz` (tensors with ``requires_grad``, ``matmul``, ``sigmoid`` and the manual
  ``p -= lr * p.grad`` under ``no_grad``), :class:`FizzBuzzNet` (an ``nn.Module`` with two
  ``nn.Linear``) and :func:`fizzbuzz_sequential` (``nn.Sequential``). :class:`TorchForm`
  gives all three torch forms one interface: load weights, take a training step, read back.
  Each builds its layers, losses and optimizer through a :class:`fizzcheck.targets.Target`
  (keyword ``target``; torch eager when omitted), so the properties check whichever
  framework ``--fizzcheck-target`` selects.
* :func:`train` trains the reference and torch side by side (``fizzcheck train``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from fizzcheck.errors import FizzcheckError, InvalidArgument
from fizzcheck.reference import net as ref_net
from fizzcheck.reference import optim as ref_optim
from fizzcheck.targets import Target
from fizzcheck.tensors import to_numpy, to_tensor, torch_dtype
from fizzcheck.train import TrainConfig

__all__ = [
    "FORMS",
    "LABELS",
    "NUM_DIGITS",
    "OUTPUT_SIZE",
    "FizzBuzzNet",
    "RawFizzBuzz",
    "StepResult",
    "TorchForm",
    "TrainConfig",
    "TrainResult",
    "decode",
    "encode",
    "fizzbuzz",
    "fizzbuzz_sequential",
    "labels",
    "predict",
    "train",
]

NUM_DIGITS = 10
"""Binary digits per input: the chapter's input size (numbers 0..1023)."""

LABELS = ("number", "fizz", "buzz", "fizzbuzz")
"""Class index → label."""

OUTPUT_SIZE = len(LABELS)

FORMS = ("raw", "module", "sequential")
"""The torch forms of the seed's network (the numpy reference is the fourth)."""


# --- data -----------------------------------------------------------------------------


def _numbers(numbers: Iterable[int], digits: int) -> np.ndarray:
    values = np.asarray(list(numbers), dtype=np.int64)
    if values.ndim != 1:
        raise InvalidArgument(f"numbers must be a flat sequence of integers, got shape {values.shape}")
    if values.size and (values.min() < 0 or values.max() >= 2**digits):
        raise InvalidArgument(
            f"numbers must lie in [0, {2**digits}) for digits={digits}, got {values.min()}..{values.max()}"
        )
    return values


def encode(numbers: Iterable[int], digits: int = NUM_DIGITS) -> np.ndarray:
    """(N, digits) float64 array of 0/1: each number's binary digits, most significant first."""
    values = _numbers(numbers, digits)
    shifts = np.arange(digits - 1, -1, -1)
    return ((values[:, None] >> shifts) & 1).astype(np.float64)


def labels(numbers: Iterable[int]) -> np.ndarray:
    """Class index of each number: 0 number, 1 fizz, 2 buzz, 3 fizzbuzz (int64)."""
    values = np.asarray(list(numbers), dtype=np.int64)
    fizz, buzz = values % 3 == 0, values % 5 == 0
    return np.where(fizz & buzz, 3, np.where(buzz, 2, np.where(fizz, 1, 0))).astype(np.int64)


def decode(number: int, class_index: int) -> str:
    """What FizzBuzz prints for ``number`` when the class is ``class_index``."""
    if not 0 <= class_index < OUTPUT_SIZE:
        raise InvalidArgument(f"class_index={class_index!r} must lie in [0, {OUTPUT_SIZE})")
    return str(number) if class_index == 0 else LABELS[class_index]


def fizzbuzz(number: int) -> str:
    """The right answer, for comparison."""
    return decode(number, int(labels([number])[0]))


# --- the torch forms ------------------------------------------------------------------


def _target(target: Target | None) -> Target:
    """``target``, or torch eager when it is None."""
    return Target() if target is None else target


class FizzBuzzNet(nn.Module):
    """The chapter's ``FizBuzNet``: two ``nn.Linear`` with a sigmoid between them.

    ``output_sigmoid`` adds the chapter's final sigmoid (used with the MSE loss); without
    it the network returns logits (used with softmax + cross-entropy). The layers are the
    ``target``'s ``nn.Linear`` and the activation its ``torch.sigmoid``, both taken at
    construction (torch eager when ``target`` is None).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        output_sigmoid: bool = False,
        target: Target | None = None,
    ) -> None:
        super().__init__()
        target = _target(target)
        self.hidden = target.nn.Linear(input_size, hidden_size)
        self.out = target.nn.Linear(hidden_size, output_size)
        self.output_sigmoid = output_sigmoid
        self._sigmoid = target.torch.sigmoid

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        activated = self._sigmoid(self.hidden(batch))
        out = self.out(activated)
        return self._sigmoid(out) if self.output_sigmoid else out


def fizzbuzz_sequential(
    input_size: int, hidden_size: int, output_size: int, *, output_sigmoid: bool = False, target: Target | None = None
) -> nn.Sequential:
    """The chapter's ``nn.Sequential(Linear, Sigmoid, Linear[, Sigmoid])``, from the ``target``'s ``nn``."""
    target = _target(target)
    layers: list[nn.Module] = [
        target.nn.Linear(input_size, hidden_size),
        target.nn.Sigmoid(),
        target.nn.Linear(hidden_size, output_size),
    ]
    if output_sigmoid:
        layers.append(target.nn.Sigmoid())
    return target.nn.Sequential(*layers)


class RawFizzBuzz:
    """The chapter's first model: bare tensors, ``matmul``, ``add``, ``sigmoid``, manual update.

    The weights are stored as the chapter stores them, (in, out), so ``x.matmul(w)``
    needs no transpose; :meth:`load` and :meth:`weights` convert from and to torch's
    ``nn.Linear`` layout used everywhere else. Tensors are made, copied and read back
    through the ``target`` (torch eager when None); the forward pass and the update are
    the chapter's tensor methods.
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        *,
        output_sigmoid: bool,
        dtype: str,
        device: str,
        target: Target | None = None,
    ) -> None:
        self.target = _target(target)
        self.output_sigmoid = output_sigmoid
        self.dtype, self.device = dtype, device
        self.w1 = self.b1 = self.w2 = self.b2 = self.target.torch.empty(0)
        self.load(params)

    def load(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy weights in; existing tensors are overwritten in place (their ``.grad`` is kept)."""
        values = (params["hidden.weight"].T, params["hidden.bias"], params["out.weight"].T, params["out.bias"])
        if all(t.shape == v.shape for t, v in zip(self.parameters(), values, strict=True)):
            with self.target.torch.no_grad():
                for tensor, value in zip(self.parameters(), values, strict=True):
                    tensor.copy_(self.target.tensor(value, dtype=self.dtype, device=self.device))
            return
        self.w1, self.b1, self.w2, self.b2 = (
            self.target.tensor(v, dtype=self.dtype, device=self.device, requires_grad=True) for v in values
        )

    def parameters(self) -> list[torch.Tensor]:
        return [self.w1, self.b1, self.w2, self.b2]

    def weights(self) -> dict[str, np.ndarray]:
        return _as_named(self.target.numpy(t) for t in self.parameters())

    def grads(self) -> dict[str, np.ndarray]:
        return _as_named(
            self.target.numpy(t.grad) if t.grad is not None else np.zeros(t.shape) for t in self.parameters()
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        hidden = x.matmul(self.w1).add(self.b1).sigmoid()
        out = hidden.matmul(self.w2).add(self.b2)
        return out.sigmoid() if self.output_sigmoid else out

    def update(self, lr: float) -> None:
        """``p -= lr * p.grad`` under ``no_grad``, then the manual zeroing of the gradients."""
        with self.target.torch.no_grad():
            for p in self.parameters():
                assert p.grad is not None
                p -= lr * p.grad
        for p in self.parameters():
            assert p.grad is not None
            p.grad.zero_()


def _as_named(arrays: Iterable[np.ndarray]) -> dict[str, np.ndarray]:
    w1, b1, w2, b2 = arrays
    return {"hidden.weight": w1.T, "hidden.bias": b1, "out.weight": w2.T, "out.bias": b2}


def raw_loss(
    scores: torch.Tensor, classes: torch.Tensor, loss_name: str, *, target: Target | None = None
) -> torch.Tensor:
    """The raw form's hand-written losses: mean squared error to one-hot, or −mean log softmax[class].

    ``classes`` holds each row's class index; the one-hot zeros come from the ``target``
    (torch eager when None), the rest are the chapter's tensor methods.
    """
    if loss_name == "mse":
        one_hot = _target(target).torch.zeros_like(scores).scatter_(1, classes[:, None], 1.0)
        return (scores - one_hot).pow(2).mean()
    return scores.log_softmax(dim=1).gather(1, classes[:, None]).neg().mean()


def module_loss(
    scores: torch.Tensor, classes: torch.Tensor, loss_name: str, *, target: Target | None = None
) -> torch.Tensor:
    """``nn.MSELoss`` on one-hot targets or ``nn.CrossEntropyLoss``, as "the PyTorch way" does.

    ``classes`` holds each row's class index; losses and ``one_hot`` are the ``target``'s
    (torch eager when None).
    """
    target = _target(target)
    if loss_name == "mse":
        return target.nn.MSELoss()(scores, target.F.one_hot(classes, scores.shape[-1]).to(scores.dtype))
    return target.nn.CrossEntropyLoss()(scores, classes)


@dataclass(frozen=True)
class StepResult:
    """What one training step produced, as float64 numpy (gradients before the update)."""

    scores: np.ndarray
    loss: float
    grads: dict[str, np.ndarray]
    new_params: dict[str, np.ndarray]


class TorchForm:
    """One torch form of the network behind a common interface (plain SGD, the chapter's update).

    ``raw``: :class:`RawFizzBuzz` with its manual update and zeroing; ``module`` /
    ``sequential``: :class:`FizzBuzzNet` / :func:`fizzbuzz_sequential` with ``nn`` losses,
    ``optim.SGD``, ``zero_grad()`` and ``step()`` in the chapter's order. Layers, losses,
    optimizer and tensors come from the ``target`` (torch eager when None).
    """

    def __init__(
        self,
        form: str,
        params: Mapping[str, np.ndarray],
        *,
        loss_name: str,
        lr: float,
        dtype: str,
        device: str,
        target: Target | None = None,
    ):
        if form not in FORMS:
            raise InvalidArgument(f"form={form!r} is not one of {FORMS}")
        if loss_name not in ref_net.LOSSES:
            raise InvalidArgument(f"loss={loss_name!r} is not one of {ref_net.LOSSES}")
        self.form, self.loss_name, self.lr, self.dtype, self.device = form, loss_name, lr, dtype, device
        self.target = target = _target(target)
        sizes = (params["hidden.weight"].shape[1], params["hidden.weight"].shape[0], params["out.weight"].shape[0])
        sigmoid_out = loss_name == "mse"
        self.raw: RawFizzBuzz | None = None
        self.module: nn.Module | None = None
        if form == "raw":
            self.raw = RawFizzBuzz(params, output_sigmoid=sigmoid_out, dtype=dtype, device=device, target=target)
        else:
            build = FizzBuzzNet if form == "module" else fizzbuzz_sequential
            module = build(*sizes, output_sigmoid=sigmoid_out, target=target)
            self.module = module.to(device=device, dtype=target.dtype(dtype))
            self.load(params)
            self.optimizer = target.optim.SGD(self.module.parameters(), lr=lr)

    def _named(self) -> list[torch.Tensor]:
        """The four parameter tensors in ``ref_net.PARAMETER_NAMES`` order, by attribute.

        Read by attribute rather than through ``parameters()``, so that a fault in
        ``parameters()`` shows where the chapter uses it (the optimizer), not here.
        """
        module = self.module
        layers = (module.hidden, module.out) if isinstance(module, FizzBuzzNet) else (module[0], module[2])  # type: ignore[index]
        return [layers[0].weight, layers[0].bias, layers[1].weight, layers[1].bias]

    def load(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy the same weights into this form (rounded to its dtype)."""
        if self.raw is not None:
            self.raw.load(params)
            return
        with self.target.torch.no_grad():
            for tensor, name in zip(self._named(), ref_net.PARAMETER_NAMES, strict=True):
                tensor.copy_(self.target.tensor(params[name], dtype=self.dtype, device=self.device))

    def weights(self) -> dict[str, np.ndarray]:
        if self.raw is not None:
            return self.raw.weights()
        return {name: self.target.numpy(t) for name, t in zip(ref_net.PARAMETER_NAMES, self._named(), strict=True)}

    def scores(self, x: np.ndarray) -> torch.Tensor:
        tx = self.target.tensor(x, dtype=self.dtype, device=self.device)
        if self.raw is not None:
            return self.raw(tx)
        assert self.module is not None
        return self.module(tx)

    def train_step(self, x: np.ndarray, classes: np.ndarray) -> StepResult:
        """One step on inputs ``x`` with class indices ``classes``."""
        tt = self.target.labels(classes, device=self.device)
        scores = self.scores(x)
        if self.raw is not None:
            loss = raw_loss(scores, tt, self.loss_name, target=self.target)
            loss.backward()
            grads = self.raw.grads()
            self.raw.update(self.lr)
        else:
            loss = module_loss(scores, tt, self.loss_name, target=self.target)
            self.optimizer.zero_grad()
            loss.backward()
            grads = {
                name: _grad(self.target, t, name)
                for name, t in zip(ref_net.PARAMETER_NAMES, self._named(), strict=True)
            }
            self.optimizer.step()
        return StepResult(self.target.numpy(scores), float(loss.detach().double()), grads, self.weights())


def _grad(target: Target, tensor: torch.Tensor, name: str) -> np.ndarray:
    if tensor.grad is None:
        raise FizzcheckError(f"{name} has no gradient after backward(): it is not part of the graph")
    return target.numpy(tensor.grad)


def reference_step(
    params: Mapping[str, np.ndarray], x: np.ndarray, target: np.ndarray, *, loss_name: str, lr: float
) -> StepResult:
    """The same training step with the numpy reference (float64)."""
    fwd, value, grads = ref_net.loss_and_gradients(params, x, target, loss_name=loss_name)
    return StepResult(fwd.scores, value, grads, ref_net.sgd_step(params, grads, lr))


def predict(scores: np.ndarray | torch.Tensor) -> np.ndarray:
    """Class index per row (the sigmoid is monotonic, so scores and logits agree)."""
    values = to_numpy(scores) if isinstance(scores, torch.Tensor) else np.asarray(scores)
    return np.argmax(values, axis=-1)


# --- training: the reference and torch side by side -----------------------------------


@dataclass
class TrainResult:
    config: TrainConfig
    epochs: list[int] = field(default_factory=list)
    torch_loss: list[float] = field(default_factory=list)
    reference_loss: list[float] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    torch_predictions: list[int] = field(default_factory=list)
    reference_predictions: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def max_loss_difference(self) -> float:
        return max((abs(a - b) for a, b in zip(self.torch_loss, self.reference_loss, strict=True)), default=0.0)

    def accuracy(self, predictions: Sequence[int]) -> float:
        truth = labels(self.numbers)
        return float(np.mean(np.asarray(predictions) == truth)) if len(truth) else float("nan")


def train(config: TrainConfig, *, report: Callable[[str], Any] = print) -> TrainResult:
    """Train the seed's net with torch (``FizzBuzzNet`` + ``optim.SGD``) and the reference side by side.

    Both start from the same weights (drawn from ``nn.Linear``'s default distribution with
    ``config.seed``, rounded to ``config.dtype``) and see the same shuffled mini-batches;
    every ``log_every`` epochs the mean training loss of the epoch is reported for both.
    """
    config.validate()
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    train_numbers = np.arange(config.train_range[0], config.train_range[1] + 1)
    test_numbers = np.arange(config.test_range[0], config.test_range[1] + 1)
    x_train, y_train = encode(train_numbers), labels(train_numbers)
    init = ref_net.init_parameters(NUM_DIGITS, config.hidden, OUTPUT_SIZE, rng=rng)

    net = FizzBuzzNet(NUM_DIGITS, config.hidden, OUTPUT_SIZE, output_sigmoid=config.loss == "mse")
    net = net.to(torch_dtype(config.dtype))
    with torch.no_grad():
        for name, tensor in net.named_parameters():
            tensor.copy_(to_tensor(init[name], dtype=config.dtype))
    optimizer = torch.optim.SGD(
        net.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    # the reference starts from exactly the values torch holds
    ref_params = [ref_optim.Parameter(to_numpy(t)) for t in net.parameters()]
    ref_sgd = ref_optim.SGD(
        ref_params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=config.weight_decay
    )
    tx_all = to_tensor(x_train, dtype=config.dtype)
    ty_all = torch.as_tensor(y_train)

    result = TrainResult(config)
    report(
        f"training FizzBuzzNet({NUM_DIGITS}, {config.hidden}, {OUTPUT_SIZE}) on {config.train_range[0]}..{config.train_range[1]} "
        f"with torch ({config.dtype}) and the numpy reference (float64) side by side: loss={config.loss}, "
        f"epochs={config.epochs}, batch_size={config.batch_size}, lr={config.lr}, momentum={config.momentum}, "
        f"nesterov={config.nesterov}, weight_decay={config.weight_decay}, seed={config.seed}"
    )
    report(f"{'epoch':>6} {'torch loss':>12} {'reference loss':>15} {'|difference|':>13}")
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(train_numbers))
        torch_total = ref_total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            index = torch.as_tensor(batch)
            scores = net(tx_all[index])
            loss = module_loss(scores, ty_all[index], config.loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

            named = dict(zip(ref_net.PARAMETER_NAMES, (p.data for p in ref_params), strict=True))
            _, ref_loss, grads = ref_net.loss_and_gradients(
                named, x_train[batch], y_train[batch], loss_name=config.loss
            )
            for p, name in zip(ref_params, ref_net.PARAMETER_NAMES, strict=True):
                p.grad = grads[name]
            ref_sgd.step()
            torch_total += float(loss.detach()) * len(batch)
            ref_total += ref_loss * len(batch)
        if epoch % config.log_every == 0 or epoch == config.epochs:
            torch_mean, ref_mean = torch_total / len(order), ref_total / len(order)
            result.epochs.append(epoch)
            result.torch_loss.append(torch_mean)
            result.reference_loss.append(ref_mean)
            report(f"{epoch:>6} {torch_mean:>12.6f} {ref_mean:>15.6f} {abs(torch_mean - ref_mean):>13.2e}")

    with torch.no_grad():
        torch_scores = net(to_tensor(encode(test_numbers), dtype=config.dtype))
    named = dict(zip(ref_net.PARAMETER_NAMES, (p.data for p in ref_params), strict=True))
    ref_scores = ref_net.forward(named, encode(test_numbers), loss_name=config.loss).scores
    result.numbers = [int(n) for n in test_numbers]
    result.torch_predictions = [int(c) for c in predict(torch_scores)]
    result.reference_predictions = [int(c) for c in predict(ref_scores)]
    result.seconds = time.perf_counter() - started
    return result

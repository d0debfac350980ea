"""The seed chapter's network in its torch forms, which must agree with the reference and each other.

The numpy reference is :mod:`fizzcheck.reference.net`; the three torch forms from the chapter are
:class:`RawFizzBuzz` (tensors with ``requires_grad``, ``matmul``, ``sigmoid`` and the manual
``p -= lr * p.grad`` under ``no_grad``), :class:`FizzBuzzNet` (an ``nn.Module`` with two
``nn.Linear``) and :func:`fizzbuzz_sequential` (``nn.Sequential``). :class:`TorchForm`
gives all three torch forms one interface: load weights, take a training step, read back.
Each builds its layers, losses and optimizer through a :class:`fizzcheck.targets.Target`
(keyword ``target``; torch eager when omitted), so the properties check whichever
framework ``--fizzcheck-target`` selects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fizzcheck.errors import FizzcheckError, InvalidArgument
from fizzcheck.reference import net as ref_net
from fizzcheck.seed.data import FORMS
from fizzcheck.targets import Target
from fizzcheck.targets.tensors import to_numpy

__all__ = [
    "FizzBuzzNet",
    "RawFizzBuzz",
    "StepResult",
    "TorchForm",
    "fizzbuzz_sequential",
    "module_loss",
    "predict",
    "raw_loss",
    "reference_step",
]


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

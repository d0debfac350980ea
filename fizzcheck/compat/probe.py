"""Documented behaviours of the installed torch, recorded as data: ``python -m fizzcheck.compat.probe OUT``.

Each probe triggers one behaviour torch documents — an error, a warning or a value users
rely on — and records what happened: ``raised`` (exception type and message), ``warned``
(warning category and message), or ``returned`` (a short value). ``fizzcheck mutants
compat`` runs this in each torch version's environment and diffs the records, so a changed
error message or a new warning shows up next to the property and benchmark differences.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["PROBES", "probe_all"]

Probe = Callable[[], Any]


def _torch() -> Any:
    import torch

    return torch


def _freed_graph() -> Any:
    torch = _torch()
    x = torch.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _leaf_in_place() -> Any:
    torch = _torch()
    torch.ones(2, requires_grad=True).add_(1.0)


def _modified_in_place() -> Any:
    torch = _torch()
    x = torch.ones(3, requires_grad=True)
    y = x.sigmoid()
    y.mul_(2.0)
    y.sum().backward()


def _no_grad_fn() -> Any:
    torch = _torch()
    torch.ones(2).sum().backward()


def _non_scalar_backward() -> Any:
    torch = _torch()
    (torch.ones(2, requires_grad=True) * 2).backward()


def _non_leaf_grad() -> Any:
    torch = _torch()
    y = torch.ones(2, requires_grad=True) * 2
    return y.grad


def _integer_requires_grad() -> Any:
    torch = _torch()
    torch.ones(2, dtype=torch.int64).requires_grad_(True)


def _sgd(**kwargs: Any) -> Probe:
    def probe() -> Any:
        torch = _torch()
        torch.optim.SGD([torch.zeros(2, requires_grad=True)], **{"lr": 0.1, **kwargs})

    return probe


def _sgd_empty() -> Any:
    _torch().optim.SGD([], lr=0.1)


def _sgd_duplicate_parameters() -> Any:
    torch = _torch()
    p = torch.zeros(2, requires_grad=True)
    torch.optim.SGD([p, p], lr=0.1)


def _cross_entropy_out_of_range() -> Any:
    torch = _torch()
    torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))


def _mse_broadcast() -> Any:
    torch = _torch()
    return float(torch.nn.functional.mse_loss(torch.zeros(4, 1), torch.arange(4.0)))


def _softmax_dim_out_of_range() -> Any:
    torch = _torch()
    torch.softmax(torch.zeros(2, 3), dim=2)


def _softmax_implicit_dim() -> Any:
    torch = _torch()
    return torch.nn.functional.softmax(torch.zeros(2, 3)).shape


def _linear_shape_mismatch() -> Any:
    torch = _torch()
    torch.nn.Linear(4, 5)(torch.zeros(2, 3))


def _load_state_dict_missing() -> Any:
    torch = _torch()
    layer = torch.nn.Linear(2, 2)
    state = layer.state_dict()
    del state["bias"]
    layer.load_state_dict(state)


def _train_non_bool() -> Any:
    _torch().nn.Linear(2, 2).train("yes")


def _empty_mean() -> Any:
    torch = _torch()
    return repr(float(torch.nn.functional.mse_loss(torch.zeros(0, 3), torch.zeros(0, 3))))


def _zero_grad_default() -> Any:
    torch = _torch()
    layer = torch.nn.Linear(2, 2)
    layer(torch.ones(1, 2)).sum().backward()
    layer.zero_grad()
    return f"grad is None: {layer.weight.grad is None}"


def _no_grad_result() -> Any:
    torch = _torch()
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
    return f"requires_grad={y.requires_grad}"


def _fused_and_foreach() -> Any:
    _sgd(fused=True, foreach=True)()


def _fused_complex_step() -> Any:
    torch = _torch()
    p = torch.zeros(2, dtype=torch.complex64, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.1, fused=True)
    p.grad = torch.ones_like(p)
    optimizer.step()


def _sgd_defaults() -> Any:
    torch = _torch()
    group = torch.optim.SGD([torch.zeros(1, requires_grad=True)]).param_groups[0]
    return ", ".join(f"{k}={group[k]!r}" for k in sorted(group) if k != "params")


def _matmul_precision() -> Any:
    torch = _torch()
    return (
        f"float32 matmul precision {torch.get_float32_matmul_precision()!r}, default dtype {torch.get_default_dtype()}"
    )


def _label_smoothing() -> Any:
    torch = _torch()
    logits = torch.tensor([[2.0, -1.0, 0.5]], dtype=torch.float64)
    return repr(float(torch.nn.functional.cross_entropy(logits, torch.tensor([0]), label_smoothing=0.1)))


def _saturated_values() -> Any:
    torch = _torch()
    sigmoid = torch.sigmoid(torch.tensor([-90.0, -17.0, 17.0, 90.0])).tolist()
    softmax = torch.softmax(torch.tensor([1.0e4, 0.0, -1.0e4]), 0).tolist()
    return f"sigmoid {sigmoid!r}; softmax {softmax!r}"


def _sequential_keys() -> Any:
    nn = _torch().nn
    return list(nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1)).state_dict())


def _first_jvp() -> Any:
    """The first forward-mode call imports torch._decomp.decompositions_for_jvp, which calls torch.jit.script."""
    torch = _torch()
    x = torch.tensor([0.5], dtype=torch.float64)
    return torch.func.jvp(torch.sin, (x,), (torch.ones_like(x),))[1].tolist()


PROBES: dict[str, Probe] = {
    "backward through a freed graph": _freed_graph,
    "in-place op on a leaf that requires grad": _leaf_in_place,
    "backward after an in-place change of a saved tensor": _modified_in_place,
    "backward of a tensor without grad_fn": _no_grad_fn,
    "backward of a non-scalar without a gradient": _non_scalar_backward,
    ".grad of a non-leaf tensor": _non_leaf_grad,
    "requires_grad on an integer tensor": _integer_requires_grad,
    "SGD: negative lr": _sgd(lr=-0.1),
    "SGD: negative momentum": _sgd(momentum=-0.5),
    "SGD: negative weight_decay": _sgd(weight_decay=-0.5),
    "SGD: nesterov without momentum": _sgd(nesterov=True),
    "SGD: nesterov with dampening": _sgd(nesterov=True, momentum=0.9, dampening=0.1),
    "SGD: fused and foreach together": _fused_and_foreach,
    "SGD: fused with a complex parameter": _fused_complex_step,
    "SGD: empty parameter list": _sgd_empty,
    "SGD: duplicate parameters": _sgd_duplicate_parameters,
    "cross_entropy: class index out of range": _cross_entropy_out_of_range,
    "MSELoss: target broadcast to the input": _mse_broadcast,
    "mse_loss: mean over an empty batch": _empty_mean,
    "softmax: dim out of range": _softmax_dim_out_of_range,
    "softmax: implicit dim": _softmax_implicit_dim,
    "Linear: input of the wrong width": _linear_shape_mismatch,
    "load_state_dict: missing key (strict)": _load_state_dict_missing,
    "Module.train: non-boolean mode": _train_non_bool,
    "Module.zero_grad: default set_to_none": _zero_grad_default,
    "no_grad: result of an op on a tensor that requires grad": _no_grad_result,
    "SGD: default hyper-parameters": _sgd_defaults,
    "matmul precision and default dtype": _matmul_precision,
    "cross_entropy: label_smoothing=0.1 value": _label_smoothing,
    "sigmoid/softmax: saturated float32 values": _saturated_values,
    "Sequential: state_dict keys": _sequential_keys,
    "torch.func.jvp: first call in a process": _first_jvp,
}
"""Name → probe. A probe raises, warns, or returns a short value describing the behaviour."""


def _first_line(text: str, limit: int = 400) -> str:
    return " ".join(text.split())[:limit]


def probe_one(probe: Probe) -> dict[str, Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = probe()
        except Exception as exc:
            return {"outcome": "raised", "type": type(exc).__name__, "message": _first_line(str(exc))}
    relevant = [
        w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
    ] or caught
    if relevant:
        w = relevant[0]
        return {"outcome": "warned", "type": w.category.__name__, "message": _first_line(str(w.message))}
    return {
        "outcome": "returned",
        "type": None,
        "message": _first_line(repr(value) if not isinstance(value, str) else value),
    }


def probe_all() -> dict[str, Any]:
    torch = _torch()
    return {
        "kind": "behaviours",
        "torch_version": torch.__version__,
        "behaviours": {name: probe_one(probe) for name, probe in PROBES.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m fizzcheck.compat.probe OUTPUT.json", file=sys.stderr)
        return 2
    Path(args[0]).write_text(json.dumps(probe_all(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The planted faults, one module per family (the fault's category); each fault stands in one place.

A family module defines, fault by fault, the handler that plants it, the witness that proves it
is planted, and its :class:`~fizzcheck.mutants.fault.Fault` entry, and lists them in ``FAULTS``:

* :mod:`.precision` — GEMMs and reductions done in less precision than asked for;
* :mod:`.tiling` — blocked loops that forget their partial last tile;
* :mod:`.strides` — kernels that read views as if they were contiguous;
* :mod:`.activations` — sigmoid, softmax and log_softmax forward and backward slips;
* :mod:`.losses` — reduction enum mix-ups in mse_loss and cross_entropy;
* :mod:`.optimizer` — SGD semantics and state;
* :mod:`.module` — ``nn.Module`` bookkeeping (zero_grad, parameters, train, state_dict);
* :mod:`.autograd` — gradient accumulation and ``no_grad``;
* :mod:`.controls` — the runs that plant nothing that changes a result.

:mod:`fizzcheck.mutants.catalogue` gathers them in catalogue order. Importing this package
imports none of them (and no torch).
"""

from __future__ import annotations

__all__: list[str] = []

"""The built-in benchmark cases; importing this package registers them.

:mod:`~fizzcheck.bench.cases.ops` (matmul, linear, the losses) and
:mod:`~fizzcheck.bench.cases.activations` (sigmoid, softmax, log_softmax) time each reference
op under its name; :mod:`~fizzcheck.bench.cases.sgd` the SGD step on each torch path;
:mod:`~fizzcheck.bench.cases.fizzbuzz` the seed's training step and epoch.
"""

from fizzcheck.bench.cases import activations, fizzbuzz, ops, sgd

__all__ = ["activations", "fizzbuzz", "ops", "sgd"]

"""The built-in benchmark cases; importing this package registers them.

:mod:`~fizzcheck.bench.cases.ops` times each reference op; :mod:`~fizzcheck.bench.cases.fizzbuzz`
the seed's training step and epoch.
"""

from fizzcheck.bench.cases import fizzbuzz, ops

__all__ = ["fizzbuzz", "ops"]

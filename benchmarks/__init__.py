"""fizzcheck's benchmarks: pytest-benchmark over the case registry (:mod:`fizzcheck.bench`).

They sit at the top of the repository and ship in the wheel as ``fizzcheck.benchmarks``;
``fizzcheck bench`` runs them from any directory.
"""

__all__: list[str] = []

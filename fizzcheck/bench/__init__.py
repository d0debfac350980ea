"""Benchmarks: one case registry (``registry``), the built-in cases (``cases``), machine
ceilings (``peaks``) and the glue pytest-benchmark runs (``runner``).

``fizzcheck bench quick`` runs them; see ``benchmarks/`` for the pytest files. Importing this
package registers the built-in cases.
"""

from fizzcheck.bench import cases  # noqa: F401 - registers the built-in cases
from fizzcheck.bench.registry import CaseParams, get_case, iter_params, registered_cases

__all__ = ["CaseParams", "get_case", "iter_params", "registered_cases"]

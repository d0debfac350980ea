"""fizzcheck measures its own power and torch's drift.

* :mod:`fizzcheck.mutants.catalogue` — realistic faults planted into torch at run time, each
  with a direct witness; the faults live one family per module in :mod:`fizzcheck.mutants.faults`
  (each :class:`~fizzcheck.mutants.fault.Fault` next to its handler and witness, planted with
  :mod:`fizzcheck.mutants.planting`); :mod:`fizzcheck.mutants.plugin` plants one for a pytest
  session; :mod:`fizzcheck.mutants.run` runs the suite against each and builds the kill matrix.
* :mod:`fizzcheck.compat.run` — the property suite, documented behaviours
  (:mod:`fizzcheck.compat.probe`) and benchmarks against several torch versions, diffed.

Entry points: ``python -m fizzcheck.mutants run | compat | list`` (see ``docs/mutants.md``).
This package imports torch only when a catalogue, run or compat function is used.
"""

from __future__ import annotations

__all__: list[str] = []

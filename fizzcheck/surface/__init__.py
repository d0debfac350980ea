"""The API surface fizzcheck claims to verify, as data, and which of it a run exercised.

:mod:`fizzcheck.surface.catalogue` declares the cells (op × spelling × options × layout × dtype,
SGD implementation × option × layout, module and transform APIs); properties call
:func:`touch` for each cell an example exercises; the recorder (:mod:`fizzcheck.plugin.recorder`)
counts examples per cell into the results file; ``fizzcheck surface`` and the report show the
coverage. Torch-free: the report reads it without a torch install.
"""

from fizzcheck.surface.catalogue import CATALOGUE, LAYOUTS, PARAM_LAYOUTS, Family, all_cell_ids, cell_id, family
from fizzcheck.surface.coverage import CellCoverage, cells_touched, collecting, coverage, example, family_lines, touch

__all__ = [
    "CATALOGUE",
    "LAYOUTS",
    "PARAM_LAYOUTS",
    "CellCoverage",
    "Family",
    "all_cell_ids",
    "cell_id",
    "cells_touched",
    "collecting",
    "coverage",
    "example",
    "family",
    "family_lines",
    "touch",
]

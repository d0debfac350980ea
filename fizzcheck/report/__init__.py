"""Reports: result files → tidy pandas tables → ``summary.md``, ``index.html``, CSV; run comparison.

* :func:`load_results` reads property and benchmark JSON (docs/results-schema.md) from any
  number of runs and machines into tidy DataFrames, rejecting bad files with
  :class:`ResultFileError` (``"PATH: what is wrong"``).
* :func:`write_report` writes a new report directory; :func:`build_report` computes its contents.
* :func:`compare_results` compares two sets of benchmark runs case by case (ratio of medians
  and a Mann–Whitney U test) and :func:`mann_whitney_u` is the test itself.

``fizzcheck report`` and ``fizzcheck compare`` (:mod:`fizzcheck.cli.report`) are the command line.
"""

from fizzcheck.report.compare import Comparison, compare_results, mann_whitney_u
from fizzcheck.report.load import ResultFileError, Results, load_results
from fizzcheck.report.render import build_report, write_report

__all__ = [
    "Comparison",
    "ResultFileError",
    "Results",
    "build_report",
    "compare_results",
    "load_results",
    "mann_whitney_u",
    "write_report",
]

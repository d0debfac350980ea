"""Reports: result files → tidy pandas tables → ``summary.md``, ``index.html``, CSV; run comparison.

One module per step, in the order data flows:

* :mod:`~fizzcheck.report.load`: :func:`load_results` reads property and benchmark JSON
  (docs/results-schema.md) from any number of runs and machines into tidy DataFrames,
  rejecting bad files with :class:`ResultFileError` (``"PATH: what is wrong"``);
* :mod:`~fizzcheck.report.tables`: aggregation and the verdict (pure pandas);
* :mod:`~fizzcheck.report.build`: :func:`build_report` computes everything a report shows,
  drawing its SVG plots with :mod:`~fizzcheck.report.plots`;
* :mod:`~fizzcheck.report.cells`, :mod:`~fizzcheck.report.markdown`, :mod:`~fizzcheck.report.html`:
  the tables as text cells, ``summary.md``, and ``index.html`` from the jinja2 templates in
  ``templates/`` (:mod:`~fizzcheck.report.templating`);
* :mod:`~fizzcheck.report.files`: :func:`write_report` / :func:`save_report` write a new report
  directory, whole or not at all;
* :mod:`~fizzcheck.report.compare`: :func:`compare_results` compares two sets of benchmark runs
  case by case (ratio of medians and :func:`mann_whitney_u`, from :mod:`~fizzcheck.report.stats`).

``fizzcheck report`` and ``fizzcheck compare`` (:mod:`fizzcheck.cli.report`) are the command line.
"""

from fizzcheck.report.build import Report, build_report
from fizzcheck.report.compare import Comparison, compare_results
from fizzcheck.report.files import save_report, write_report
from fizzcheck.report.load import ResultFileError, Results, load_results
from fizzcheck.report.stats import mann_whitney_u

__all__ = [
    "Comparison",
    "Report",
    "ResultFileError",
    "Results",
    "build_report",
    "compare_results",
    "load_results",
    "mann_whitney_u",
    "save_report",
    "write_report",
]

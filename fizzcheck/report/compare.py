"""Compare two sets of benchmark runs, case by case, with their noise: what got slower or faster,
and what a busy machine leaves undecided.

Per case the compared location is a low quantile of the per-round times
(:data:`fizzcheck.report.stats.COMPARE_QUANTILE`: preemption only ever slows a round), and
:func:`fizzcheck.report.stats.ratio_ci` gives ``B / A`` with a seeded bootstrap confidence
interval at level ``1 − alpha``, resampling the passes of each side where the runs recorded
them (``extra_info.passes``: a case's rounds are taken in passes spread over the sweep, so a
burst of load spoils one pass, and the interval holds the spread a second run shows), each pass
divided by the yardstick timed in its rounds (``extra_info.yardstick_s``: the machine's speed at
that moment), else the rounds. A case is

* a **regression** when the ratio exceeds ``threshold`` and its interval lies above 1, an
  **improvement** symmetrically — on a quiet machine;
* when A or B was **busy** (``machine_info.fizzcheck.busy``), ratios are first divided by the
  *machine factor* (the median ratio over all compared cases: a load that slows the whole run
  slows every case). Cases timed in passes with a yardstick are then called as on a quiet machine:
  their interval already holds the load's run-to-run swing. Cases without (files from before
  passes) are called only when the whole interval lies beyond ``threshold``. A ratio beyond
  ``threshold`` with less evidence is **inconclusive**: listed, never called a change.

Measured on this project's 2-core machine with one core kept busy (``python3 -c "while True:
pass"``): two quick sweeps of the same code, 0 of 150 cases called a change (5 inconclusive);
with sigmoid planted 20 % slower, 5 of its 9 rows called a regression and none of the other 141;
``nox -s compare_power`` (3 pairs of reduced sweeps): 0 false alarms in 117 rows, 24 of 27
planted rows flagged. Rounds alone, timed in one stretch per case, had given 20 false
regressions and 31 false improvements between two sweeps of the same code.

Mann–Whitney U p-values (:func:`fizzcheck.report.stats.mann_whitney_u`) are kept in the table
for reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fizzcheck.errors import FizzcheckError, InvalidArgument
from fizzcheck.report.load import Results, samples_array
from fizzcheck.report.markdown import md_code, md_text
from fizzcheck.report.plots import format_seconds
from fizzcheck.report.stats import COMPARE_QUANTILE, mann_whitney_u, ratio_ci
from fizzcheck.report.stats import pass_level as passes_level

__all__ = [
    "COMPARE_KEY",
    "DEFAULT_ALPHA",
    "DEFAULT_THRESHOLD",
    "MACHINE_FIELDS",
    "MIN_ROUNDS",
    "Comparison",
    "compare_results",
    "comparison_markdown",
    "machine_differences",
]

COMPARE_KEY = ["case", "implementation", "device", "dtype", "size"]
DEFAULT_THRESHOLD = 1.1
DEFAULT_ALPHA = 0.01
MIN_ROUNDS = 10
"""Fewest rounds a side needs for a call: the percentile bootstrap of a quartile from fewer
values is unreliable (with 5 rounds the lower quartile is the second-fastest round, and the
resamples take only a handful of values). Seen on this machine at load 12: pairs of 5-round
rows of the same code gave intervals excluding 1 for 3 of 24 cases."""
MIN_CASES_FOR_FACTOR = 5
"""The machine factor is a median over cases: with fewer, one changed case would move it."""
MACHINE_FIELDS = ("machine_id", "cpu_model", "gpu_name", "torch_version")
"""Machine metadata whose difference between A and B earns a warning."""


@dataclass(frozen=True)
class Comparison:
    """Per-case comparison of B against A.

    ``table``: one row per case × implementation × device × dtype × size (× machine where
    both sides ran on the same machines) found in both, with ``median_a``, ``median_b``,
    ``ratio`` (B / A of the compared location, divided by ``machine_factor`` when busy: > 1 is
    slower), ``ci_low``, ``ci_high``, ``p_value``, ``n_a``, ``n_b`` and ``change``
    ("regression", "improvement", "inconclusive" or "").
    """

    table: pd.DataFrame
    threshold: float
    alpha: float
    only_a: int
    only_b: int
    warnings: list[str] = field(default_factory=list)
    busy: bool = False
    machine_factor: float = 1.0

    @property
    def inconclusive(self) -> pd.DataFrame:
        return self.table[self.table["change"] == "inconclusive"].sort_values("ratio", ascending=False)

    @property
    def regressions(self) -> pd.DataFrame:
        return self.table[self.table["change"] == "regression"].sort_values("ratio", ascending=False)

    @property
    def improvements(self) -> pd.DataFrame:
        return self.table[self.table["change"] == "improvement"].sort_values("ratio")


def machine_differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """``"field: A-values vs B-values"`` for each machine field whose values differ between A and B."""
    differences = []
    for name in MACHINE_FIELDS:
        values_a = sorted(str(v) for v in a[name].dropna().unique())
        values_b = sorted(str(v) for v in b[name].dropna().unique())
        if values_a != values_b:
            differences.append(f"{name} {', '.join(values_a) or '–'} vs {', '.join(values_b) or '–'}")
    return differences


def _pooled(speed: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Per key: all raw samples of all runs together, their median, and how many there are."""
    rows = []
    groups: dict[Any, Any] = speed.groupby(key, sort=False).indices
    for group, positions in groups.items():
        arrays = [samples_array(s) for s in speed["samples"].to_numpy()[positions]]
        samples = np.concatenate(arrays) if arrays else np.empty(0)
        runs_passes = list(speed["passes"].to_numpy()[positions]) if "passes" in speed else []
        passes = None  # rounds per pass over every run, when every run recorded its passes
        if runs_passes and all(isinstance(p, list) and p for p in runs_passes):
            passes = [int(n) for p in runs_passes for n in p]
        runs_yard = list(speed["yardstick_s"].to_numpy()[positions]) if "yardstick_s" in speed else []
        yard = None  # the yardstick per pass, likewise
        if passes is not None and runs_yard and all(isinstance(y, list) and y for y in runs_yard):
            yard = [float(t) for y in runs_yard for t in y]
        if len(samples):
            median = float(np.median(samples))
        else:  # no raw samples saved: the median of the runs' medians
            median = float(np.median(speed["median_s"].to_numpy()[positions]))
        busy = "busy" in speed and bool(speed["busy"].iloc[positions].eq(True).any())  # None / NaN: not busy
        rows.append((*group, median, samples, passes, yard, len(positions), busy))
    return pd.DataFrame(rows, columns=[*key, "median", "samples", "passes", "yardstick", "runs", "busy"])


def compare_results(
    a: Results,
    b: Results,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    names: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """Compare the benchmarks of ``b`` against those of ``a`` (see the module docstring)."""
    if not threshold > 1.0:
        raise InvalidArgument(f"threshold={threshold!r} must be a factor > 1, e.g. 1.1 for 10 %")
    if not 0.0 < alpha < 1.0:
        raise InvalidArgument(f"alpha={alpha!r} must be a probability between 0 and 1, e.g. 0.01")
    for name, results in zip(names, (a, b), strict=True):
        if results.speed.empty:
            raise FizzcheckError(f"{name}: no benchmark results to compare (only property results?)")
    machines_a = a.machines[a.machines["kind"] == "benchmarks"]
    machines_b = b.machines[b.machines["kind"] == "benchmarks"]
    warnings = []
    differences = machine_differences(machines_a, machines_b)
    if differences:
        warnings.append(
            f"{names[0]} and {names[1]} differ in machine or software ({'; '.join(differences)}): "
            "ratios mix hardware, software and code changes"
        )
    ids_a, ids_b = set(machines_a["machine_id"]), set(machines_b["machine_id"])
    key = [*COMPARE_KEY, "machine_id"] if ids_a == ids_b and len(ids_a) > 1 else list(COMPARE_KEY)
    if key == COMPARE_KEY and (len(ids_a) > 1 or len(ids_b) > 1):
        warnings.append("samples from several machines are pooled per case (A and B do not hold the same machines)")
    pooled_a, pooled_b = _pooled(a.speed, key), _pooled(b.speed, key)
    both = pooled_a.merge(pooled_b, on=key, suffixes=("_a", "_b"), how="inner")
    only_a = len(pooled_a) - len(both)
    only_b = len(pooled_b) - len(both)
    if both.empty:
        warnings.append(
            f"{names[0]} and {names[1]} have no benchmark in common ({', '.join(key)}): nothing was compared"
        )
    busy = bool(both["busy_a"].any() or both["busy_b"].any()) if len(both) else False
    p_values, n_a, n_b, ratios, lows, highs, pass_level = [], [], [], [], [], [], []
    for samples_a, samples_b, passes_a, passes_b, yard_a, yard_b, med_a, med_b in zip(
        both["samples_a"],
        both["samples_b"],
        both["passes_a"],
        both["passes_b"],
        both["yardstick_a"],
        both["yardstick_b"],
        both["median_a"],
        both["median_b"],
        strict=True,
    ):
        if len(samples_a) and len(samples_b):
            ratio, low, high = ratio_ci(
                samples_a,
                samples_b,
                level=1.0 - alpha,
                passes_a=passes_a,
                passes_b=passes_b,
                yardstick_a=yard_a,
                yardstick_b=yard_b,
            )
            p_values.append(mann_whitney_u(samples_a, samples_b)[1])
        else:  # no raw samples: the ratio of medians, no interval, never flagged
            ratio, low, high = med_b / med_a, float("nan"), float("nan")
            p_values.append(float("nan"))
        pass_level.append(
            yard_a is not None
            and yard_b is not None
            and passes_level(samples_a, passes_a)
            and passes_level(samples_b, passes_b)
        )
        ratios.append(ratio)
        lows.append(low)
        highs.append(high)
        n_a.append(len(samples_a))
        n_b.append(len(samples_b))
    table = both.drop(
        columns=["samples_a", "samples_b", "passes_a", "passes_b", "yardstick_a", "yardstick_b", "busy_a", "busy_b"]
    )
    ratio_arr, low_arr, high_arr = (np.asarray(v, dtype=float) for v in (ratios, lows, highs))
    factor = 1.0
    if busy:
        if len(ratio_arr) >= MIN_CASES_FOR_FACTOR:
            factor = float(np.nanmedian(ratio_arr))
            warnings.append(
                f"a busy run: ratios are divided by the machine factor {factor:.3f} (median B / A over "
                f"{len(ratio_arr)} cases), so a change that slows every case alike is not detected"
            )
        else:
            warnings.append(
                f"a busy run with only {len(ratio_arr)} case(s) in common: no machine factor "
                f"(needs {MIN_CASES_FOR_FACTOR}); ratios include the load"
            )
    table["ratio"], table["ci_low"], table["ci_high"] = ratio_arr / factor, low_arr / factor, high_arr / factor
    table["p_value"] = np.asarray(p_values, dtype=float)
    table["n_a"], table["n_b"] = n_a, n_b
    slower, faster = table["ratio"] > threshold, table["ratio"] < 1.0 / threshold
    # beyond the threshold, and the interval excludes "no change"; on a busy machine, rows whose
    # interval comes from rounds alone (no passes and yardstick recorded: it leaves the load's
    # run-to-run swing out) need their whole interval beyond the threshold
    strict = busy & ~np.asarray(pass_level, dtype=bool)
    sure_slower = np.where(strict, table["ci_low"] > threshold, slower & (table["ci_low"] > 1.0))
    sure_faster = np.where(strict, table["ci_high"] < 1.0 / threshold, faster & (table["ci_high"] < 1.0))
    has_ci = table["ci_low"].notna() & (table["n_a"] >= MIN_ROUNDS) & (table["n_b"] >= MIN_ROUNDS)
    table["change"] = np.select(
        [has_ci & sure_slower, has_ci & sure_faster, has_ci & (slower | faster) & busy],
        ["regression", "improvement", "inconclusive"],
        default="",
    )
    few = int((table["ci_low"].notna() & ~has_ci).sum())
    if few:
        warnings.append(f"{few} case(s) have fewer than {MIN_ROUNDS} rounds on one side: never called a change")
    without_samples = int(table["ci_low"].isna().sum())
    if without_samples:
        warnings.append(
            f"{without_samples} case(s) have no raw samples on one side (run pytest-benchmark with --benchmark-save-data): "
            "they are compared by their medians only and never flagged"
        )
    return Comparison(table, threshold, alpha, only_a, only_b, warnings, busy, factor)


def _change_table(rows: pd.DataFrame, with_machine: bool) -> list[str]:
    header = [*COMPARE_KEY, *(["machine"] if with_machine else []), "median A", "median B", "B / A", "CI", "p"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    records: Iterator[Any] = iter(rows.itertuples(index=False))
    for row in records:
        cells = [md_code(getattr(row, name)) for name in COMPARE_KEY]
        if with_machine:
            cells.append(md_code(row.machine_id))
        cells += [
            format_seconds(row.median_a),
            format_seconds(row.median_b),
            f"{row.ratio:.3f}",
            f"{row.ci_low:.3f} – {row.ci_high:.3f}",
            f"{row.p_value:.2g}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def comparison_markdown(comparison: Comparison, *, names: tuple[str, str] = ("A", "B")) -> str:
    """The comparison as Markdown: a headline, then tables of regressions and improvements."""
    regressions, improvements = comparison.regressions, comparison.improvements
    inconclusive = comparison.inconclusive
    table = comparison.table
    verdict = "REGRESSION" if len(regressions) else "OK"
    level = f"{100 * (1 - comparison.alpha):g} %"
    out = [
        f"## fizzcheck compare: {verdict} — {len(regressions)} significant regression(s), "
        f"{len(improvements)} improvement(s), {len(inconclusive)} inconclusive in {len(table)} case(s)",
        "",
    ]
    if comparison.busy:
        out += [
            f"**Busy machine:** A or B ran while other processes used the CPU. Ratios are divided by the "
            f"machine factor {comparison.machine_factor:.3f}. Cases timed in passes with a yardstick are "
            f"called as on a quiet machine (their {level} interval resamples passes, each divided by the "
            "machine's speed at that moment); cases without need their whole interval beyond "
            f"{comparison.threshold:g}. {len(inconclusive)} case(s) had too little evidence to call either way "
            "(listed as inconclusive).",
            "",
        ]
    out += [
        f"B = {md_text(names[1])} against A = {md_text(names[0])}; B / A of the per-round times' "
        f"{100 * COMPARE_QUANTILE:g}th percentile with its {level} bootstrap interval (CI); flagged when "
        f"B / A > {comparison.threshold:g} (or < 1/{comparison.threshold:g}) and the interval "
        + "excludes 1 (busy: see above)."
    ]
    if comparison.only_a or comparison.only_b:
        out.append(f"Not compared: {comparison.only_a} case(s) only in A, {comparison.only_b} only in B.")
    with_machine = "machine_id" in table.columns
    sections = [("Regressions (B slower)", regressions), ("Improvements (B faster)", improvements)]
    if len(inconclusive):
        sections.append(("Inconclusive (too little evidence on a busy machine)", inconclusive))
    for title, rows in sections:
        out += ["", f"### {title}", ""]
        out += _change_table(rows, with_machine) if len(rows) else ["none"]
    if len(table):
        ratios = table["ratio"]
        out += [
            "",
            f"Median B / A over all cases: {ratios.median():.3f} (range {ratios.min():.3f} – {ratios.max():.3f}).",
        ]
    return "\n".join(out) + "\n"

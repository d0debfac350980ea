"""Compare two sets of benchmark runs, case by case: what got significantly slower or faster.

Like asv, a change is flagged only when two tests agree: the ratio of medians is beyond a
factor (``threshold``) *and* a two-sided Mann–Whitney U test on the raw per-round times
(``stats.data``; pytest-benchmark's ``--benchmark-save-data``) gives ``p < alpha``. The
ratio alone would flag noise on a busy machine; the test alone would flag tiny, real but
irrelevant shifts.

The test is :func:`fizzcheck.report.stats.mann_whitney_u` (``scipy.stats.mannwhitneyu``).
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
from fizzcheck.report.stats import mann_whitney_u

__all__ = [
    "COMPARE_KEY",
    "DEFAULT_ALPHA",
    "DEFAULT_THRESHOLD",
    "MACHINE_FIELDS",
    "Comparison",
    "compare_results",
    "comparison_markdown",
    "machine_differences",
]

COMPARE_KEY = ["case", "implementation", "device", "dtype", "size"]
DEFAULT_THRESHOLD = 1.1
DEFAULT_ALPHA = 0.01
MACHINE_FIELDS = ("machine_id", "cpu_model", "gpu_name", "torch_version")
"""Machine metadata whose difference between A and B earns a warning."""


@dataclass(frozen=True)
class Comparison:
    """Per-case comparison of B against A.

    ``table``: one row per case × implementation × device × dtype × size (× machine where
    both sides ran on the same machines) found in both, with ``median_a``, ``median_b``,
    ``ratio`` (B / A: > 1 is slower), ``p_value``, ``n_a``, ``n_b`` and ``change``
    ("regression", "improvement" or "").
    """

    table: pd.DataFrame
    threshold: float
    alpha: float
    only_a: int
    only_b: int
    warnings: list[str] = field(default_factory=list)

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
        if len(samples):
            median = float(np.median(samples))
        else:  # no raw samples saved: the median of the runs' medians
            median = float(np.median(speed["median_s"].to_numpy()[positions]))
        rows.append((*group, median, samples, len(positions)))
    return pd.DataFrame(rows, columns=[*key, "median", "samples", "runs"])


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
    p_values, n_a, n_b = [], [], []
    for samples_a, samples_b in zip(both["samples_a"], both["samples_b"], strict=True):
        p_values.append(mann_whitney_u(samples_a, samples_b)[1] if len(samples_a) and len(samples_b) else float("nan"))
        n_a.append(len(samples_a))
        n_b.append(len(samples_b))
    table = both.drop(columns=["samples_a", "samples_b"])
    table["ratio"] = table["median_b"] / table["median_a"]
    table["p_value"] = np.asarray(p_values, dtype=float)
    table["n_a"], table["n_b"] = n_a, n_b
    significant = table["p_value"] < alpha
    change = np.select(
        [significant & (table["ratio"] > threshold), significant & (table["ratio"] < 1.0 / threshold)],
        ["regression", "improvement"],
        default="",
    )
    table["change"] = change
    without_samples = int(table["p_value"].isna().sum())
    if without_samples:
        warnings.append(
            f"{without_samples} case(s) have no raw samples on one side (run pytest-benchmark with --benchmark-save-data): "
            "they are compared by their medians only and never flagged"
        )
    return Comparison(table, threshold, alpha, only_a, only_b, warnings)


def _change_table(rows: pd.DataFrame, with_machine: bool) -> list[str]:
    header = [*COMPARE_KEY, *(["machine"] if with_machine else []), "median A", "median B", "B / A", "p"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    records: Iterator[Any] = iter(rows.itertuples(index=False))
    for row in records:
        cells = [md_code(getattr(row, name)) for name in COMPARE_KEY]
        if with_machine:
            cells.append(md_code(row.machine_id))
        cells += [format_seconds(row.median_a), format_seconds(row.median_b), f"{row.ratio:.3f}", f"{row.p_value:.2g}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def comparison_markdown(comparison: Comparison, *, names: tuple[str, str] = ("A", "B")) -> str:
    """The comparison as Markdown: a headline, then tables of regressions and improvements."""
    regressions, improvements = comparison.regressions, comparison.improvements
    table = comparison.table
    verdict = "REGRESSION" if len(regressions) else "OK"
    out = [
        f"## fizzcheck compare: {verdict} — {len(regressions)} significant regression(s), "
        f"{len(improvements)} improvement(s) in {len(table)} case(s)",
        "",
        f"B = {md_text(names[1])} against A = {md_text(names[0])}; flagged when B / A > {comparison.threshold:g} "
        f"(or < 1/{comparison.threshold:g}) and the Mann–Whitney U test gives p < {comparison.alpha:g}.",
    ]
    if comparison.only_a or comparison.only_b:
        out.append(f"Not compared: {comparison.only_a} case(s) only in A, {comparison.only_b} only in B.")
    with_machine = "machine_id" in table.columns
    for title, rows in (("Regressions (B slower)", regressions), ("Improvements (B faster)", improvements)):
        out += ["", f"### {title}", ""]
        out += _change_table(rows, with_machine) if len(rows) else ["none"]
    if len(table):
        ratios = table["ratio"]
        out += [
            "",
            f"Median B / A over all cases: {ratios.median():.3f} (range {ratios.min():.3f} – {ratios.max():.3f}).",
        ]
    return "\n".join(out) + "\n"

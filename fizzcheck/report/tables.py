"""Tidy result tables → the summary tables a report shows, and the verdict.

Pure pandas, no formatting: :mod:`fizzcheck.report.markdown` and :mod:`fizzcheck.report.html`
turn these into Markdown and HTML.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_BASELINE",
    "SPEED_KEY",
    "Verdict",
    "failures",
    "machine_labels",
    "machines_table",
    "peaks_table",
    "speed_matrix",
    "speed_table",
    "verdict",
    "verification_table",
]

DEFAULT_BASELINE = "numpy_reference"
SPEED_KEY = ("case", "implementation", "device", "dtype", "size")
"""What identifies one benchmark across runs and machines."""

_PROPERTY_KEY = ["property", "module", "device", "dtype", "target"]
_FAILED = ("failed", "error")


@dataclass(frozen=True)
class Verdict:
    """The one-line answer: did every property hold, and how close to its bound did the closest run."""

    status: str  # "PASS", "FAIL" or "NO PROPERTIES"
    properties: int
    passed: int
    failed: int
    skipped: int
    closest_ratio: float
    closest_property: str | None
    skip_reasons: list[tuple[str, int]] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        if self.status == "FAIL":
            text = f"FAIL — {self.failed} of {self.passed + self.failed} properties failed or errored"
            shown = ", ".join(self.failing[:3]) + (", ..." if len(self.failing) > 3 else "")
            text += f" ({shown})" if shown else ""
        elif self.status == "PASS":
            text = f"PASS — {self.passed} properties within their error bounds"
            if np.isfinite(self.closest_ratio):
                text += f" (closest to the edge: {self.closest_ratio:.3g} of the bound, {self.closest_property})"
        else:
            text = "no property results (benchmarks only)"
        if self.skipped:
            text += f"; {self.skipped} skipped"
        return text


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame[columns]`` with missing keys as "" so that group-bys keep them."""
    return frame[columns].fillna("")


def verification_table(verification: pd.DataFrame) -> pd.DataFrame:
    """One row per property × device × dtype × target, over all runs and machines.

    Columns: the key, ``results`` (run × machine × test-id results), ``passed``, ``failed``
    (failed or errored), ``skipped``, ``examples`` (summed), ``max_error_ratio`` (largest),
    ``skip_reason`` and ``verdict`` (FAIL / PASS / SKIP); failures first, then closest to the bound.
    """
    columns = [
        *_PROPERTY_KEY,
        "results",
        "passed",
        "failed",
        "skipped",
        "examples",
        "max_error_ratio",
        "skip_reason",
        "verdict",
    ]
    if verification.empty:
        return pd.DataFrame(columns=columns)
    frame = _keys(verification, _PROPERTY_KEY)
    outcome = verification["outcome"]
    frame = frame.assign(
        passed=(outcome == "passed").astype(int),
        failed=outcome.isin(_FAILED).astype(int),
        skipped=(outcome == "skipped").astype(int),
        examples=verification["examples"],
        max_error_ratio=verification["max_error_ratio"],
        skip_reason=verification["skip_reason"],
    )
    table = frame.groupby(_PROPERTY_KEY, sort=False).agg(
        results=("passed", "size"),
        passed=("passed", "sum"),
        failed=("failed", "sum"),
        skipped=("skipped", "sum"),
        examples=("examples", lambda s: s.sum(min_count=1)),
        max_error_ratio=("max_error_ratio", "max"),
        skip_reason=("skip_reason", "first"),
    )
    table = table.reset_index()
    table["verdict"] = np.select([table["failed"] > 0, table["passed"] > 0], ["FAIL", "PASS"], default="SKIP")
    order = table["verdict"].map({"FAIL": 0, "PASS": 1, "SKIP": 2})
    table = table.assign(_order=order).sort_values(
        ["_order", "max_error_ratio", "property", "device", "dtype"],
        ascending=[True, False, True, True, True],
        na_position="last",
    )
    return table.drop(columns="_order").reset_index(drop=True)[columns]


def verdict(verification: pd.DataFrame) -> Verdict:
    """FAIL if any property failed or errored anywhere; PASS if at least one passed; else no properties."""
    table = verification_table(verification)
    if table.empty:
        return Verdict("NO PROPERTIES", 0, 0, 0, 0, float("nan"), None)
    counts = Counter(table["verdict"])
    passing = table[table["verdict"] == "PASS"]
    ratios = passing["max_error_ratio"].dropna()
    closest_ratio, closest_property = float("nan"), None
    if not ratios.empty:
        row = passing.iloc[int(np.argmax(passing["max_error_ratio"].fillna(-np.inf).to_numpy()))]
        closest_ratio = float(row["max_error_ratio"])
        closest_property = _test_label(row)
    skipped = verification[verification["outcome"] == "skipped"]
    reasons = Counter(skipped["skip_reason"].fillna("no reason given"))
    return Verdict(
        status="FAIL" if counts["FAIL"] else ("PASS" if counts["PASS"] else "NO PROPERTIES"),
        properties=len(table),
        passed=counts["PASS"],
        failed=counts["FAIL"],
        skipped=counts["SKIP"],
        closest_ratio=closest_ratio,
        closest_property=closest_property,
        skip_reasons=reasons.most_common(),
        failing=[_test_label(row) for _, row in table[table["verdict"] == "FAIL"].iterrows()],
    )


def _test_label(row: pd.Series) -> str:
    params = "-".join(str(row[c]) for c in ("device", "dtype") if isinstance(row[c], str) and row[c])
    return f"{row['property']}[{params}]" if params else str(row["property"])


def failures(verification: pd.DataFrame, machines: pd.DataFrame) -> pd.DataFrame:
    """The failed and errored results, each with its machine's label, message and reproducer."""
    failed = verification[verification["outcome"].isin(_FAILED)]
    labels = machine_labels(machines)
    return failed.assign(machine=failed["machine_id"].map(labels)).reset_index(drop=True)


def machine_labels(machines: pd.DataFrame) -> dict[str, str]:
    """A short name per machine: its hostname, with the id's start where hostnames repeat."""
    unique = machines.drop_duplicates("machine_id")
    hostnames = unique["hostname"].fillna("")
    repeated = hostnames.duplicated(keep=False) | (hostnames == "")
    labels = {}
    for machine_id, hostname, clash in zip(unique["machine_id"], hostnames, repeated, strict=True):
        labels[machine_id] = f"{hostname} ({machine_id[:8]})" if clash and hostname else (hostname or machine_id[:8])
    return labels


def machines_table(machines: pd.DataFrame) -> pd.DataFrame:
    """One row per machine (the latest block seen for it), with the number of runs it wrote."""
    if machines.empty:
        return machines.assign(machine=pd.Series(dtype=object), runs=pd.Series(dtype=int))
    runs = machines.groupby("machine_id")["run_id"].nunique()
    latest = machines.sort_values("created", na_position="first").drop_duplicates("machine_id", keep="last")
    labels = machine_labels(machines)
    table = latest.assign(machine=latest["machine_id"].map(labels), runs=latest["machine_id"].map(runs))
    return table.sort_values("machine").reset_index(drop=True)


def peaks_table(peaks: pd.DataFrame) -> pd.DataFrame:
    """Median measured peak per machine × device × dtype over the runs."""
    if peaks.empty:
        return peaks[["machine_id", "device", "dtype", "matmul_gflops", "copy_gbps"]].copy()
    keyed = peaks.assign(dtype=peaks["dtype"].fillna(""))
    table = keyed.groupby(["machine_id", "device", "dtype"], sort=True)[["matmul_gflops", "copy_gbps"]].median()
    return table.reset_index()


def speed_table(speed: pd.DataFrame, baseline: str = DEFAULT_BASELINE) -> pd.DataFrame:
    """One row per machine × case × size × device × dtype × implementation, medians over runs.

    ``speedup`` is the baseline's median time / this row's (> 1: faster than the baseline).
    The baseline is matched on machine, case, size and dtype, on any device (a numpy
    reference runs on the CPU, torch maybe on a GPU); where the baseline did not run in
    that dtype, its median over dtypes is used.
    """
    group = ["machine_id", "case", "size", "device", "dtype", "implementation"]
    columns = [*group, "runs", "rounds", "median_s", "iqr_s", "flops", "bytes", "gflops", "gbps",
               "pct_peak_flops", "pct_peak_bandwidth", "noisy", "speedup"]  # fmt: skip
    if speed.empty:
        return pd.DataFrame(columns=columns)
    table = (
        speed.groupby(group, sort=False, observed=True)
        .agg(
            runs=("run_id", "nunique"),
            rounds=("rounds", "sum"),
            median_s=("median_s", "median"),
            iqr_s=("iqr_s", "median"),
            flops=("flops", "median"),
            bytes=("bytes", "median"),
            pct_peak_flops=("pct_peak_flops", "median"),
            pct_peak_bandwidth=("pct_peak_bandwidth", "median"),
            noisy=("noisy", "any"),
        )
        .reset_index()
    )
    median = table["median_s"].where(table["median_s"] > 0)
    table["gflops"] = table["flops"] / median / 1e9
    table["gbps"] = table["bytes"] / median / 1e9
    base = table[table["implementation"] == baseline]
    exact = base.groupby(["machine_id", "case", "size", "dtype"], sort=False)["median_s"].median().rename("base_exact")
    loose = base.groupby(["machine_id", "case", "size"], sort=False)["median_s"].median().rename("base_loose")
    table = table.join(exact, on=["machine_id", "case", "size", "dtype"]).join(loose, on=["machine_id", "case", "size"])
    baseline_s = table["base_exact"].fillna(table["base_loose"])
    table["speedup"] = baseline_s / median
    size_order = table.groupby(["case", "size"], sort=False)["flops"].median().rename("_size_flops")
    table = table.join(size_order, on=["case", "size"])
    table = table.sort_values(["machine_id", "case", "_size_flops", "size", "dtype", "device", "implementation"])
    return table[columns].reset_index(drop=True)


def speed_matrix(table: pd.DataFrame, baseline: str = DEFAULT_BASELINE) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The speed table pivoted for reading at a glance.

    Returns ``(median_s, speedup, columns)``: two frames indexed by machine × case × size ×
    dtype, with one column per implementation (``implementation·device`` where an
    implementation ran on several devices), the baseline first.
    """
    index = ["machine_id", "case", "size", "dtype"]
    if table.empty:
        empty = pd.DataFrame(columns=index).set_index(index)
        return empty, empty, []
    devices_per_impl = table.groupby("implementation")["device"].nunique()
    several = devices_per_impl[devices_per_impl > 1].index
    label = table["implementation"].where(
        ~table["implementation"].isin(several), table["implementation"] + "·" + table["device"]
    )
    keyed = table.assign(column=label, _row=np.arange(len(table)))
    order = keyed.groupby(index, sort=False)["_row"].min().sort_values().index
    median = keyed.pivot_table(index=index, columns="column", values="median_s", aggfunc="median", sort=False)
    speedup = keyed.pivot_table(index=index, columns="column", values="speedup", aggfunc="median", sort=False)
    names = sorted(label.unique(), key=lambda name: (not name.startswith(baseline), name))
    return median.reindex(index=order, columns=names), speedup.reindex(index=order, columns=names), names

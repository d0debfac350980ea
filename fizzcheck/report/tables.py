"""Tidy result tables → the summary tables a report shows, and the verdict.

Pure pandas, no formatting: :mod:`fizzcheck.report.markdown` and :mod:`fizzcheck.report.html`
turn these into Markdown and HTML.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fizzcheck.results.outcomes import FAILING, Summary, summarize

__all__ = [
    "DEFAULT_BASELINE",
    "NOT_RUN",
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
_FAILED = FAILING
_COUNTED = ("passed", "failed", "known_defect", "behaviour_changed", "not_available", "skipped")
"""The per-outcome columns of the verification table (``failed`` counts errors too)."""
_ROW_VERDICTS = (
    ("failed", "FAIL"),
    ("behaviour_changed", "BEHAVIOUR CHANGED"),
    ("known_defect", "KNOWN TORCH DEFECT"),
    ("passed", "PASS"),
    ("not_available", "NOT AVAILABLE"),
)
"""A row's verdict: the first of these its results contain, else SKIPPED."""
NOT_RUN = ("NOT AVAILABLE", "SKIPPED")
"""Row verdicts of cells that did not run: the report collapses them into one line per reason."""

Verdict = Summary
"""The report's verdict is the same :class:`~fizzcheck.results.outcomes.Summary` the terminal prints."""


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame[columns]`` with missing keys as "" so that group-bys keep them."""
    return frame[columns].fillna("")


def verification_table(verification: pd.DataFrame) -> pd.DataFrame:
    """One row per property × device × dtype × target, over all runs and machines.

    Columns: the key, ``results`` (run × machine × test-id results), one count per outcome
    (``failed`` includes errors), ``examples`` (summed), ``max_error_ratio`` (largest), ``reason``
    (the first skip reason or classification detail) and ``verdict`` (FAIL, BEHAVIOUR CHANGED,
    KNOWN TORCH DEFECT, PASS, NOT AVAILABLE or SKIPPED); failures first, then closest to the bound.
    """
    columns = [*_PROPERTY_KEY, "results", *_COUNTED, "examples", "max_error_ratio", "reason", "verdict"]
    if verification.empty:
        return pd.DataFrame(columns=columns)
    frame = _keys(verification, _PROPERTY_KEY)
    outcome = verification["outcome"]
    counts = {name: (outcome.isin(_FAILED) if name == "failed" else outcome == name).astype(int) for name in _COUNTED}
    frame = frame.assign(
        **counts,
        examples=verification["examples"],
        max_error_ratio=verification["max_error_ratio"],
        reason=verification["skip_reason"],
    )
    table = frame.groupby(_PROPERTY_KEY, sort=False).agg(
        results=("passed", "size"),
        **{name: (name, "sum") for name in _COUNTED},
        examples=("examples", lambda s: s.sum(min_count=1)),
        max_error_ratio=("max_error_ratio", "max"),
        reason=("reason", "first"),
    )
    table = table.reset_index()
    table["verdict"] = np.select(
        [table[name] > 0 for name, _ in _ROW_VERDICTS], [label for _, label in _ROW_VERDICTS], default="SKIPPED"
    )
    order = table["verdict"].map({label: i for i, (_, label) in enumerate(_ROW_VERDICTS)}).fillna(len(_ROW_VERDICTS))
    table = table.assign(_order=order).sort_values(
        ["_order", "max_error_ratio", "property", "device", "dtype"],
        ascending=[True, False, True, True, True],
        na_position="last",
    )
    return table.drop(columns="_order").reset_index(drop=True)[columns]


def _targets(verification: pd.DataFrame, machines: pd.DataFrame | None) -> list[str]:
    """``spec (torch VERSION)`` of every target in the results, as the terminal summary names it."""
    versions: dict[str, str] = {}
    if machines is not None and not machines.empty:
        versions = {
            str(r): str(v)
            for r, v in zip(machines["run_id"], machines["torch_version"], strict=True)
            if isinstance(v, str)
        }
    labels = []
    for spec, run_id in zip(verification["target"], verification["run_id"], strict=True):
        name = spec if isinstance(spec, str) and spec else "torch"
        version = versions.get(str(run_id))
        labels.append(f"{name} (torch {version})" if version else name)
    return list(dict.fromkeys(labels))


def verdict(
    verification: pd.DataFrame, machines: pd.DataFrame | None = None, unavailable: Sequence[str] = ()
) -> Summary:
    """FAIL if any property test failed or errored anywhere; PASS if at least one passed.

    Counts are per result row (test × run × machine): for one run, the terminal summary's counts.
    """
    if verification.empty:
        return summarize([], unavailable=unavailable)
    rows = verification.to_dict("records")
    return summarize(rows, targets=_targets(verification, machines), unavailable=unavailable)


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
    columns = [*group, "runs", "rounds", "median_s", "ci_low_s", "ci_high_s", "min_s", "iqr_s", "flops", "bytes",
               "gflops", "gbps", "pct_peak_flops", "pct_peak_bandwidth", "above_measured_peak", "busy", "noisy",
               "speedup"]  # fmt: skip
    if speed.empty:
        return pd.DataFrame(columns=columns)
    flags = {  # None / NaN (files without the field) are not True
        "_above": speed["above_measured_peak"].eq(True) if "above_measured_peak" in speed else False,
        "_busy": speed["busy"].eq(True) if "busy" in speed else False,
    }
    table = (
        speed.assign(**flags)
        .groupby(group, sort=False, observed=True)
        .agg(
            runs=("run_id", "nunique"),
            rounds=("rounds", "sum"),
            median_s=("median_s", "median"),
            ci_low_s=("ci_low_s", "median"),
            ci_high_s=("ci_high_s", "median"),
            min_s=("min_s", "min"),
            iqr_s=("iqr_s", "median"),
            flops=("flops", "median"),
            bytes=("bytes", "median"),
            pct_peak_flops=("pct_peak_flops", "median"),
            pct_peak_bandwidth=("pct_peak_bandwidth", "median"),
            noisy=("noisy", "any"),
            above_measured_peak=("_above", "any"),
            busy=("_busy", "any"),
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

"""The behaviour diff of ``fizzcheck compat``, from per-release result documents (pure: no torch, no I/O).

Each property × release gets one category, read from that release's property-results file:

======================  ==============================================================
``PASS``                outcome ``passed``
``FAIL``                ``failed``
``ERROR``               ``error`` (setup or collection went wrong)
``KNOWN TORCH DEFECT``  ``known_defect``: a registered torch defect hit (its id in the row's reason)
``NOT AVAILABLE``       ``not_available``: the release lacks a feature the property needs
``BEHAVIOUR CHANGED``   ``behaviour_changed``: a documented message or behaviour is worded differently
``SKIPPED``             ``skipped``, with its reason
``ABSENT``              the release's results hold no such test (or it produced none)
======================  ==============================================================

The words are :data:`fizzcheck.results.outcomes.LABELS`, the terminal's and ``fizzcheck report``'s.

A release whose results predate the three classified outcomes simply shows the four plain ones.
Releases are ordered oldest first, so each difference is reported as the changes between
consecutive releases: the first release where it appears, and from which category to which.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fizzcheck.results.outcomes import FAILING, LABELS

__all__ = [
    "ABSENT",
    "CATEGORIES",
    "CLASSIFIED_OUTCOMES",
    "NOISE_REFERENCE",
    "RATIO_CHANGE",
    "behaviour_diff",
    "benchmark_diff",
    "build_compat_diff",
    "case_name",
    "category",
    "changes",
    "noise_floor",
    "property_diff",
    "sort_versions",
]

CATEGORIES: dict[str, str] = dict(LABELS)
"""Result outcome → the category the report shows: the same words as the terminal and ``fizzcheck report``."""
ABSENT = "ABSENT"
CLASSIFIED_OUTCOMES = ("known_defect", "not_available", "behaviour_changed")
"""The outcomes the in-suite classification adds to passed / failed / skipped / error."""
BAD = tuple(LABELS[o] for o in FAILING)
NOISE_REFERENCE = "numpy_reference"
"""The benchmark implementation that does not use torch: its ratios between releases are the noise floor."""
RATIO_CHANGE = 0.1
"""A property's max error / bound is reported as changed when it moves by more than this (of the bound)."""

_RELEASE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(.*)$")


def sort_versions(versions: Sequence[str]) -> list[str]:
    """Oldest first by (major, minor, patch); a pre-release suffix sorts before its release."""

    def key(version: str) -> tuple[int, int, int, int, str]:
        match = _RELEASE.match(version.split("+", 1)[0])
        if match is None:
            return (0, 0, 0, 0, version)
        major, minor, patch, rest = match.groups()
        return (int(major), int(minor), int(patch or 0), 0 if rest else 1, rest)

    return sorted(versions, key=key)


def category(row: Mapping[str, Any] | None) -> str:
    """The category of one property-results row (:data:`CATEGORIES`); ``ABSENT`` for no row."""
    if row is None:
        return ABSENT
    return CATEGORIES.get(str(row.get("outcome")), str(row.get("outcome")).upper())


def _reason(row: Mapping[str, Any]) -> str | None:
    """Why a row has its category: the skip / defect / capability reason, else the failure's first line."""
    return row.get("skip_reason") or row.get("message") or None


def changes(cells: Mapping[str, str]) -> list[dict[str, str]]:
    """Consecutive releases (``cells`` in release order) whose category differs: release, from, to, kind.

    kind: ``regressed`` (to FAIL or ERROR), ``fixed`` (from FAIL or ERROR), ``changed`` otherwise.
    """
    found = []
    versions = list(cells)
    for before, after in itertools.pairwise(versions):
        a, b = cells[before], cells[after]
        if a != b:
            kind = "regressed" if b in BAD and a not in BAD else ("fixed" if a in BAD and b not in BAD else "changed")
            found.append({"release": after, "from": a, "to": b, "kind": kind})
    return found


def property_diff(results: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per property node id: per release its category, reason and max error / bound; the changes."""
    versions = list(results)
    table: dict[str, dict[str, Any]] = {}
    for version, doc in results.items():
        for row in (doc or {}).get("properties", []):
            entry = table.setdefault(row["nodeid"], {"nodeid": row["nodeid"], "versions": {}})
            entry["versions"][version] = {
                "outcome": row.get("outcome"),
                "category": category(row),
                "reason": _reason(row),
                "max_error_ratio": row.get("max_error_ratio"),
            }
    rows = []
    for nodeid in sorted(table):
        entry = table[nodeid]
        cells = {v: entry["versions"][v]["category"] if v in entry["versions"] else ABSENT for v in versions}
        ratios = [
            p["max_error_ratio"]
            for p in entry["versions"].values()
            if isinstance(p["max_error_ratio"], (int, float)) and math.isfinite(p["max_error_ratio"])
        ]
        entry["categories"] = cells
        entry["changes"] = changes(cells)
        entry["first_difference"] = entry["changes"][0]["release"] if entry["changes"] else None
        moved = len(ratios) == len(versions) and max(ratios) - min(ratios) > RATIO_CHANGE
        entry["status"] = "differs" if entry["changes"] else ("changed" if moved else "same")
        rows.append(entry)
    return rows


def _behaviour_text(record: Mapping[str, Any] | None) -> str:
    if record is None:
        return ABSENT
    kind = record["outcome"] if record.get("type") is None else f"{record['outcome']} {record['type']}"
    return f"{kind}: {record['message']}"


def behaviour_diff(behaviours: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per probed behaviour: what each release did, and the releases where it changed."""
    versions = list(behaviours)
    names: list[str] = []
    for doc in behaviours.values():
        for name in (doc or {}).get("behaviours", {}):
            if name not in names:
                names.append(name)
    rows = []
    for name in names:
        per = {v: (behaviours[v] or {}).get("behaviours", {}).get(name) for v in versions}
        keys = {v: json.dumps(p, sort_keys=True) for v, p in per.items()}
        found = [
            {"release": b, "from": _behaviour_text(per[a]), "to": _behaviour_text(per[b]), "kind": "changed"}
            for a, b in itertools.pairwise(versions)
            if keys[a] != keys[b]
        ]
        rows.append(
            {
                "behaviour": name,
                "versions": per,
                "changes": found,
                "first_difference": found[0]["release"] if found else None,
                "status": "differs" if found else "same",
            }
        )
    return rows


def benchmark_diff(
    bench_files: Mapping[str, Path | None], *, threshold: float = 1.1, alpha: float = 0.01
) -> list[dict[str, Any]]:
    """Per case: each release's median and its ratio to the first (oldest) release's, with
    ``fizzcheck compare``'s statistics (median ratio beyond ``threshold``, Mann–Whitney p < ``alpha``)."""
    from fizzcheck.report.compare import COMPARE_KEY, compare_results
    from fizzcheck.report.load import load_results

    versions = [v for v, path in bench_files.items() if path is not None]
    if len(versions) < 2:
        return []
    baseline = load_results([bench_files[versions[0]]])  # type: ignore[list-item]
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for version in versions[1:]:
        other = load_results([bench_files[version]])  # type: ignore[list-item]
        comparison = compare_results(baseline, other, threshold=threshold, alpha=alpha, names=(versions[0], version))
        for record in comparison.table.to_dict("records"):
            key = tuple(record[k] for k in COMPARE_KEY)
            row = rows.setdefault(
                key,
                {
                    **{k: record[k] for k in COMPARE_KEY},
                    "median_s": {versions[0]: record["median_a"]},
                    "ratio": {},
                    "p_value": {},
                    "change": {},
                },
            )
            row["median_s"][version] = record["median_b"]
            row["ratio"][version] = record["ratio"]
            row["p_value"][version] = record["p_value"]
            row["change"][version] = record["change"]
    for row in rows.values():
        row["first_difference"] = next((v for v in row["change"] if row["change"][v]), None)
    return [rows[key] for key in sorted(rows, key=str)]


def _factor(ratio: float) -> float:
    return max(ratio, 1.0 / ratio) if ratio > 0 else math.inf


def case_name(row: Mapping[str, Any]) -> str:
    """``case/implementation/device/dtype/size`` of a benchmark row."""
    return "/".join(str(row[k]) for k in ("case", "implementation", "device", "dtype", "size"))


def noise_floor(benchmarks: Sequence[Mapping[str, Any]]) -> float:
    """The largest factor by which a case that does not run torch (``numpy_reference``) moved between releases.

    Those cases are the same code in every release, so their ratios measure the machine's noise; a torch
    case that moved by no more than this is not evidence of a difference between releases. 1.0 when there
    are none.
    """
    factors = [
        _factor(r) for row in benchmarks if row["implementation"] == NOISE_REFERENCE for r in row["ratio"].values()
    ]
    return max(factors, default=1.0)


def _tally(rows: Sequence[Mapping[str, Any]], versions: Sequence[str]) -> dict[str, dict[str, int]]:
    """release → category → number of properties."""
    counts: dict[str, dict[str, int]] = {v: {} for v in versions}
    for row in rows:
        for v, cat in row["categories"].items():
            counts[v][cat] = counts[v].get(cat, 0) + 1
    return counts


def _classified(results: Mapping[str, Mapping[str, Any] | None]) -> dict[str, bool]:
    """release → whether its results carry any of the classified outcomes."""
    return {
        v: any(r.get("outcome") in CLASSIFIED_OUTCOMES for r in (doc or {}).get("properties", []))
        for v, doc in results.items()
    }


def build_compat_diff(
    versions: Sequence[str],
    properties: Mapping[str, Mapping[str, Any] | None],
    behaviours: Mapping[str, Mapping[str, Any] | None],
    benchmarks: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The diff document (without run metadata) from per-release property and behaviour documents.

    ``versions`` are put in release order (oldest first) whatever order they come in.
    """
    ordered = sort_versions(versions)
    prop_rows = property_diff({v: properties.get(v) for v in ordered})
    behaviour_rows = behaviour_diff({v: behaviours.get(v) for v in ordered})
    flagged = [b for b in benchmarks if any(b["change"].values())]
    floor = noise_floor(benchmarks)
    beyond = [b for b in flagged if any(c and _factor(b["ratio"][v]) > floor for v, c in b["change"].items())]
    transitions: dict[str, int] = {}
    for row in prop_rows:
        for change in row["changes"]:
            key = f"{change['release']}: {change['from']} → {change['to']}"
            transitions[key] = transitions.get(key, 0) + 1
    return {
        "versions": ordered,
        "properties": prop_rows,
        "behaviours": behaviour_rows,
        "benchmarks": list(benchmarks),
        "summary": {
            "properties": len(prop_rows),
            "categories": _tally(prop_rows, ordered),
            "classified": _classified({v: properties.get(v) for v in ordered}),
            "outcome_differences": [r["nodeid"] for r in prop_rows if r["status"] == "differs"],
            "regressions": [r["nodeid"] for r in prop_rows if any(c["kind"] == "regressed" for c in r["changes"])],
            "fixes": [r["nodeid"] for r in prop_rows if any(c["kind"] == "fixed" for c in r["changes"])],
            "transitions": dict(
                sorted(transitions.items(), key=lambda kv: (ordered.index(kv[0].split(":")[0]), -kv[1]))
            ),
            "ratio_changes": [r["nodeid"] for r in prop_rows if r["status"] == "changed"],
            "behaviours": len(behaviour_rows),
            "behaviour_differences": [r["behaviour"] for r in behaviour_rows if r["status"] == "differs"],
            "benchmark_cases": len(benchmarks),
            "benchmark_changes": len(flagged),
            "benchmark_noise_floor": floor,
            "benchmark_changes_beyond_noise": [case_name(b) for b in beyond],
        },
    }

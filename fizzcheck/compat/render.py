"""The compat report's Markdown (``behaviour-diff.md``) and HTML (``index.html``, through the shared
templates of :mod:`fizzcheck.report.templating`) from the document :func:`~fizzcheck.compat.diff.build_compat_diff` builds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fizzcheck.compat.diff import ABSENT, RATIO_CHANGE
from fizzcheck.mutants.render import markdown_table
from fizzcheck.report.plots import format_seconds
from fizzcheck.report.templating import Section, table_cells, workflow_html
from fizzcheck.results.outcomes import LABELS, ORDER

__all__ = ["CATEGORY_CLASSES", "compat_html", "compat_markdown", "headline"]

_OUTCOME_CLASSES = {
    "passed": "good",
    "failed": "bad",
    "error": "bad",
    "known_defect": "suspect",
    "not_available": "notrun",
    "behaviour_changed": "changed",
    "skipped": "skipped",
}
CATEGORY_CLASSES = {**{LABELS[o]: css for o, css in _OUTCOME_CLASSES.items() if o in LABELS}, ABSENT: "notrun"}
"""Category → the stylesheet's cell class."""
_ORDER = (*(LABELS[o] for o in reversed(ORDER)), ABSENT)
_NO_BENCHMARKS = "Not run (--no-bench) or no benchmark results."
_BENCH_KEY = ("case", "implementation", "device", "dtype", "size")
_REASON_CHARS = 90


def _fmt_ratio(value: Any) -> str:
    return "" if not isinstance(value, (int, float)) else f" {value:.3g}"


def _short(text: str | None, limit: int = _REASON_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _property_cell(p: Mapping[str, Any] | None) -> str:
    if p is None:
        return ABSENT
    cat = p["category"]
    if p["outcome"] in ("passed", "failed"):
        failed = p["outcome"] == "failed" and p.get("reason")
        return cat + _fmt_ratio(p["max_error_ratio"]) + (f" ({_short(p['reason'])})" if failed else "")
    if p.get("reason"):
        return f"{cat} ({_short(p['reason'])})"
    return cat


def _changes_text(row: Mapping[str, Any]) -> str:
    return "; ".join(f"{c['release']}: {c['from']} → {c['to']}" for c in row["changes"])


def _property_rows(rows: Sequence[Mapping[str, Any]], versions: Sequence[str]) -> list[list[str]]:
    return [
        [
            r["nodeid"],
            *(_property_cell(r["versions"].get(v)) for v in versions),
            r.get("first_difference") or "",
            _changes_text(r),
        ]
        for r in rows
    ]


def _behaviour_cell(p: Mapping[str, Any] | None) -> str:
    if p is None:
        return ABSENT
    kind = p["outcome"] if p["type"] is None else f"{p['outcome']} {p['type']}"
    return f"{kind}: {p['message']}"


def _behaviour_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    versions = doc["versions"]
    return [
        [
            r["status"],
            r["behaviour"],
            *(_behaviour_cell(r["versions"][v]) for v in versions),
            r["first_difference"] or "",
        ]
        for r in doc["behaviours"]
    ]


def _bench_cells(row: Mapping[str, Any], versions: Sequence[str]) -> list[str]:
    cells = [format_seconds(row["median_s"][versions[0]]) if versions[0] in row["median_s"] else "–"]
    for v in versions[1:]:
        if v in row["ratio"]:
            flag = f" ({row['change'][v]}, p={row['p_value'][v]:.2g})" if row["change"][v] else ""
            cells.append(f"{format_seconds(row['median_s'][v])} ×{row['ratio'][v]:.2f}{flag}")
        else:
            cells.append("–")
    return cells


def _bench_rows(doc: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [*(r[key] for key in _BENCH_KEY), *_bench_cells(r, doc["versions"]), r.get("first_difference") or ""]
        for r in rows
    ]


def _bench_header(versions: Sequence[str]) -> list[str]:
    first = versions[0]
    return [*_BENCH_KEY, f"median {first}", *(f"{v} (× of {first})" for v in versions[1:]), "first flagged"]


def _size(size: int | None) -> str:
    return "size n/a" if size is None else f"{size / 2**30:.1f} GiB"


def _tally_text(counts: Mapping[str, int]) -> str:
    keys = [k for k in _ORDER if k in counts] + sorted(k for k in counts if k not in _ORDER)
    return ", ".join(f"{counts[k]} {k}" for k in keys)


def _environment_line(e: Mapping[str, Any], run: Mapping[str, Any] | None) -> str:
    numpy = f", numpy {e['numpy']}" if e.get("numpy") else ""
    suite = f", properties {run['properties_s']:.0f} s" if run and run.get("properties_s") is not None else ""
    notes = f" [{'; '.join(e['notes'])}]" if e.get("notes") else ""
    return (
        f"torch {e['torch']}: {e['kind']} ({_size(e['size_bytes'])}, set-up {e['setup_s']:.0f} s{numpy}{suite}){notes}"
    )


def headline(doc: Mapping[str, Any]) -> list[str]:
    """The report's summary lines (also printed by the command)."""
    s, versions = doc["summary"], doc["versions"]
    runs = doc.get("runs", {})
    lines = [f"releases: {', '.join(versions)} (oldest first; Hypothesis profile {doc.get('profile', '?')})"]
    for v in versions:
        plain = "" if s["classified"].get(v) else " (no classified outcomes in these results)"
        lines.append(f"torch {v}: {_tally_text(s['categories'].get(v, {})) or 'no results'}{plain}")
    lines.append(
        f"properties: {len(s['outcome_differences'])} of {s['properties']} differ between releases "
        f"({len(s['regressions'])} regress to FAIL/ERROR, {len(s['fixes'])} fixed); "
        f"{len(s['ratio_changes'])} more change max error / bound by more than {RATIO_CHANGE}"
    )
    if s["transitions"]:
        lines.append("changes: " + "; ".join(f"{n} × {t}" for t, n in s["transitions"].items()))
    lines.append(f"documented behaviours: {len(s['behaviour_differences'])} of {s['behaviours']} differ")
    if doc["benchmarks"]:
        lines.append(
            f"benchmarks: {s['benchmark_changes']} of {s['benchmark_cases']} cases changed significantly against "
            f"{versions[0]} (ratio beyond ×1.1 and Mann–Whitney p < 0.01){_bench_conditions(doc)}; noise floor ×"
            f"{s.get('benchmark_noise_floor', 1.0):.2f} (largest move of the numpy reference, the same code in "
            f"every release); beyond it: {', '.join(s.get('benchmark_changes_beyond_noise', [])) or 'none'}"
        )
    else:
        lines.append("benchmarks: not run (--no-bench)")
    for e in doc.get("environments", []):
        lines.append(_environment_line(e, runs.get(e["torch"])))
    lines.append(f"wall time: {doc.get('wall_s', 0):.0f} s")
    return lines


def _bench_conditions(doc: Mapping[str, Any]) -> str:
    loads = [
        f"{v} {r['bench_load_average'][0]}→{r['bench_load_average'][1]}"
        for v, r in doc.get("runs", {}).items()
        if r.get("bench_load_average")
    ]
    if not loads:
        return ""
    return f"; torch threads {doc.get('bench_threads') or 'default'}, 1-min load average {', '.join(loads)}"


def _differing(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Properties whose category changes (first), then those whose max error / bound moved by more than RATIO_CHANGE."""
    return [r for r in rows if r["status"] == "differs"] + [r for r in rows if r["status"] == "changed"]


def _legend() -> str:
    return (
        "Each cell is the property's category in that release: PASS / FAIL (with max error / bound), "
        "ERROR, KNOWN TORCH DEFECT (a registered torch defect, its id in brackets), NOT AVAILABLE (the release lacks a feature the "
        "property needs), BEHAVIOUR CHANGED (a documented message or behaviour differs), SKIPPED (with its "
        "reason) or ABSENT (no such test in that release's results). 'first difference' is the first release "
        "whose category differs from the release before it. Rows without one follow: the same category "
        f"everywhere, but max error / bound moved by more than {RATIO_CHANGE} of the bound."
    )


def compat_markdown(doc: Mapping[str, Any]) -> str:
    versions = doc["versions"]
    lines = [f"# fizzcheck compat — torch {', '.join(versions)}", ""]
    lines += [f"* {line}" for line in headline(doc)]
    differing = _differing(doc["properties"])
    header = ["property", *versions, "first difference", "changes"]
    lines += ["", "## Properties that differ between releases", "", _legend(), ""]
    if differing:
        lines.append(markdown_table(header, _property_rows(differing, versions)))
    else:
        lines.append(
            f"None: every property has the same category, and max error / bound moved by at most {RATIO_CHANGE}, "
            "in every release."
        )
    lines += ["", "## Documented behaviours (errors, warnings, values)", ""]
    if doc["behaviours"]:
        lines.append(markdown_table(["", "behaviour", *versions, "first difference"], _behaviour_rows(doc)))
    else:
        lines.append("No behaviour results.")
    lines += ["", "## Benchmarks (quick sweep)", ""]
    flagged = [r for r in doc["benchmarks"] if any(r["change"].values())]
    if doc["benchmarks"]:
        lines += [
            f"Medians of `fizzcheck bench quick`, the releases timed back to back on this machine; each ratio is "
            f"against {versions[0]}, flagged with its Mann–Whitney p-value. A ratio is a difference between "
            "releases only when the runs saw the same load (load averages above) and it exceeds the noise floor. "
            f"{len(flagged)} of {len(doc['benchmarks'])} cases flagged; all cases are in index.html and the JSON.",
            "",
        ]
        lines.append(markdown_table(_bench_header(versions), _bench_rows(doc, flagged)) if flagged else "None flagged.")
    else:
        lines.append(_NO_BENCHMARKS)
    lines += ["", "## All properties", ""]
    lines += [markdown_table(header, _property_rows(doc["properties"], versions)), ""]
    return "\n".join(lines)


def _property_classes(rows: Sequence[Mapping[str, Any]], versions: Sequence[str]) -> list[list[str]]:
    return [
        ["", *(CATEGORY_CLASSES.get(r["categories"][v], "") for v in versions), r["status"] if r["changes"] else "", ""]
        for r in rows
    ]


def _property_titles(rows: Sequence[Mapping[str, Any]], versions: Sequence[str]) -> list[list[str]]:
    return [["", *(((r["versions"].get(v) or {}).get("reason") or "") for v in versions), "", ""] for r in rows]


def compat_html(doc: Mapping[str, Any]) -> str:
    """``index.html``: the headline, then properties, documented behaviours and benchmarks as tables."""
    versions, properties, behaviours = doc["versions"], doc["properties"], doc["behaviours"]
    differing = _differing(properties)
    header = ["property", *versions, "first difference", "changes"]
    bench_classes = [
        [*[""] * (len(_BENCH_KEY) + 1), *("differs" if r["change"].get(v) else "" for v in versions[1:]), ""]
        for r in doc["benchmarks"]
    ]
    behaviour_classes = [["", "", *([r["status"]] * len(versions)), ""] for r in behaviours]
    sections = [
        Section(
            "Properties that differ between releases",
            header,
            table_cells(
                _property_rows(differing, versions),
                classes=_property_classes(differing, versions),
                titles=_property_titles(differing, versions),
            ),
            note=_legend(),
        )
        if differing
        else Section("Properties that differ between releases", note="None."),
        Section(
            "Documented behaviours",
            ["", "behaviour", *versions, "first difference"],
            table_cells(_behaviour_rows(doc), classes=behaviour_classes),
        ),
        Section(
            "Benchmarks (quick sweep)",
            _bench_header(versions),
            table_cells(_bench_rows(doc, doc["benchmarks"]), classes=bench_classes),
        )
        if doc["benchmarks"]
        else Section("Benchmarks (quick sweep)", note=_NO_BENCHMARKS),
        Section(
            "All properties",
            header,
            table_cells(
                _property_rows(properties, versions),
                classes=_property_classes(properties, versions),
                titles=_property_titles(properties, versions),
            ),
        ),
    ]
    return workflow_html(f"fizzcheck compat — torch {', '.join(versions)}", headline=headline(doc), sections=sections)

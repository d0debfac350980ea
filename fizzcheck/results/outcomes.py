"""The verdict, computed once from property rows: the same counts and the same words in the
terminal summary (:mod:`fizzcheck.plugin.recorder`), the results file, ``summary.md`` and
``index.html`` (:mod:`fizzcheck.report`).

Every property test has exactly one outcome (:data:`~fizzcheck.results.schema.OUTCOMES`), shown
under its label (:data:`LABELS`). The verdict is FAIL as soon as one test failed or errored —
whether or not it compared anything against a bound — and PASS when at least one passed.
Known torch defects, behaviour changes, what is not available here and skips are counted and
listed, never folded into a pass.

Standard library only: the recorder hands in dataclass rows, the report pandas records; both
only need the attributes ``nodeid``, ``property``, ``device``, ``dtype``, ``outcome``,
``skip_reason`` and ``max_error_ratio``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAILING", "LABELS", "ORDER", "Summary", "count_outcomes", "row_label", "summarize", "verified_text"]

LABELS: dict[str, str] = {
    "failed": "FAIL",
    "error": "ERROR",
    "behaviour_changed": "BEHAVIOUR CHANGED",
    "known_defect": "KNOWN TORCH DEFECT",
    "not_available": "NOT AVAILABLE",
    "skipped": "SKIPPED",
    "passed": "PASS",
}
"""How each outcome is shown, in the order sections are shown (what needs attention first)."""
ORDER: tuple[str, ...] = tuple(LABELS)
FAILING = ("failed", "error")
"""Outcomes that make the verdict FAIL."""
_WORDS = {
    "passed": ("passed", "passed"),
    "failed": ("failed", "failed"),
    "error": ("error", "errors"),
    "known_defect": ("known torch defect", "known torch defects"),
    "behaviour_changed": ("behaviour change", "behaviour changes"),
    "not_available": ("not available", "not available"),
    "skipped": ("skipped", "skipped"),
}


def _value(row: Any, name: str) -> Any:
    value = row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return value


def row_label(row: Any) -> str:
    """How a row is named in a verdict: its test id without the file (``test_sgd[cpu-float32-foreach=False]``),
    else ``property[device-dtype]``."""
    nodeid = _value(row, "nodeid")
    if nodeid is not None:
        return str(nodeid).rsplit("::", 1)[-1]
    params = "-".join(str(v) for v in (_value(row, "device"), _value(row, "dtype")) if v is not None)
    name = str(_value(row, "property") or _value(row, "nodeid"))
    return f"{name}[{params}]" if params else name


def count_outcomes(rows: Iterable[Any]) -> dict[str, int]:
    """``{outcome: number of rows}`` for every outcome (zeros included), in :data:`ORDER`."""
    counts = Counter(str(_value(row, "outcome")) for row in rows)
    return {outcome: counts.get(outcome, 0) for outcome in ORDER}


def verified_text(verified: Mapping[str, Sequence[str]], unavailable: Sequence[str] = ()) -> str:
    """``verified on cpu (float32, float64); cuda not available (…)``."""
    parts = []
    if verified:
        shown = ", ".join(f"{d} ({', '.join(t)})" if t else d for d, t in verified.items())
        parts.append(f"verified on {shown}")
    parts += list(unavailable)
    return "; ".join(parts)


@dataclass(frozen=True)
class Summary:
    """What a set of property rows says: counts per outcome, what ran where, and the verdict."""

    counts: dict[str, int]
    targets: list[str]
    verified: dict[str, list[str]]
    """device → the dtypes in which at least one property test passed there."""
    unavailable: list[str]
    """One line per device or dtype that was not available, e.g. ``cuda not available (…)``."""
    closest_ratio: float
    closest_test: str | None
    failing: list[str] = field(default_factory=list)
    reasons: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Per non-passing outcome: (reason, number of tests), most frequent first."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def status(self) -> str:
        if any(self.counts[o] for o in FAILING):
            return "FAIL"
        return "PASS" if self.counts["passed"] else "NO PROPERTIES"

    def counts_text(self) -> str:
        """``84 passed, 0 failed, 0 errors, 2 known torch defects, 29 skipped`` (zeros of rare outcomes left out)."""
        always = ("passed", "failed", "error")
        return ", ".join(
            f"{self.counts[o]} {_WORDS[o][self.counts[o] != 1]}"
            for o in ("passed", "failed", "error", "known_defect", "behaviour_changed", "not_available", "skipped")
            if o in always or self.counts[o]
        )

    @property
    def headline(self) -> str:
        """The one-line verdict: status, counts, target, where it was verified, closest to the edge."""
        if self.status == "NO PROPERTIES":
            text = (
                "no property results (benchmarks only)"
                if not self.total
                else f"NO PROPERTY PASSED — {self.counts_text()}"
            )
        else:
            text = f"{self.status} — {self.counts_text()} of {self.total} property tests"
        if self.status == "FAIL":
            shown = ", ".join(self.failing[:3]) + (", ..." if len(self.failing) > 3 else "")
            text += f" (failing: {shown})"
        if self.targets:
            text += f"; target {', '.join(self.targets)}"
        where = verified_text(self.verified, self.unavailable)
        if where:
            text += f"; {where}"
        if self.status == "PASS" and self.closest_test is not None:
            text += f"; closest to the edge: {self.closest_ratio:.3g} of the bound ({self.closest_test})"
        return text


def _reason(row: Any) -> str:
    return str(_value(row, "skip_reason") or _value(row, "message") or "no reason given")


def summarize(rows: Iterable[Any], *, targets: Sequence[str] = (), unavailable: Sequence[str] = ()) -> Summary:
    """The :class:`Summary` of ``rows`` (one per property test, or per test × run × machine)."""
    rows = list(rows)
    counts = count_outcomes(rows)
    verified: dict[str, set[str]] = {}
    closest_ratio, closest_test = -math.inf, None
    reasons: dict[str, Counter[str]] = {o: Counter() for o in ORDER if o != "passed"}
    failing: list[str] = []
    for row in rows:
        outcome = str(_value(row, "outcome"))
        if outcome == "passed":
            device = _value(row, "device")
            if device is not None:
                dtypes = verified.setdefault(str(device), set())
                if _value(row, "dtype") is not None:
                    dtypes.add(str(_value(row, "dtype")))
            ratio = _value(row, "max_error_ratio")
            if ratio is not None and float(ratio) > closest_ratio:
                closest_ratio, closest_test = float(ratio), row_label(row)
        elif outcome in reasons:
            reasons[outcome][_reason(row)] += 1
            if outcome in FAILING:
                label = row_label(row)
                if label not in failing:
                    failing.append(label)
    return Summary(
        counts=counts,
        targets=list(dict.fromkeys(targets)),
        verified={d: sorted(t, key=_dtype_order) for d, t in sorted(verified.items())},
        unavailable=list(dict.fromkeys(unavailable)),
        closest_ratio=closest_ratio if closest_test is not None else math.nan,
        closest_test=closest_test,
        failing=failing,
        reasons={o: c.most_common() for o, c in reasons.items() if c},
    )


def _dtype_order(name: str) -> tuple[int, str]:
    known = ("float16", "bfloat16", "float32", "float64")
    return (known.index(name) if name in known else len(known), name)

"""Recording property outcomes: per test the outcome, examples run, largest error / bound
ratio and, for failures, the reproducer; written as a :class:`~fizzcheck.results.schema.PropertyResults`
document (``docs/results-schema.md``), and summarised in the terminal.

Everything a row needs travels in ``report.user_properties`` (and the ``fizzcheck_outcome`` /
``fizzcheck_detail`` attributes a classifying plugin sets on the report), so the rows are
collected in ``pytest_runtest_logreport``, which also runs on the pytest-xdist controller: a
parallel run writes one merged file with one run id, and the terminal summary, the file and a
report made from it show the same counts (:mod:`fizzcheck.results.outcomes`).

A property test is a test that takes the ``target``, ``device`` or ``dtype`` fixture (every test
of the shipped suite does; fizzcheck's own tests, run in the same session, do not). One row per
test: a setup that fails or skips gives the row, a teardown that fails turns a
passed row into an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from fizzcheck import surface
from fizzcheck.check import Comparison, observe
from fizzcheck.results.machine import collect_machine, new_run_id
from fizzcheck.results.outcomes import LABELS, Summary, summarize
from fizzcheck.results.schema import OUTCOMES, PropertyResults, PropertyRow

__all__ = ["PROPERTY_FIXTURES", "PropertyRecorder", "classify", "target_label", "write_json_new"]

PROPERTY_FIXTURES = frozenset({"target", "device", "dtype"})
"""A test that takes one of these fixtures is a property test: it gets a row and is counted."""


def write_json_new(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically; never replace an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=1, allow_nan=False, default=str)
        os.link(tmp, path)  # fails if path exists: earlier results are never overwritten
    finally:
        os.unlink(tmp)
    return path


def _finite_or_none(value: float | None) -> float | None:
    """JSON has no Inf: an infinite ratio (a NaN/Inf position or shape mismatch) is written as
    null, and the row's failure message says what mismatched."""
    if value is None or not math.isfinite(value):
        return None
    return value


def _note_text(excinfo: pytest.ExceptionInfo[BaseException] | None) -> tuple[str | None, str | None]:
    if excinfo is None:
        return None, None
    exc = excinfo.value
    # Hypothesis reports several distinct failures as an ExceptionGroup: name each of them
    group = getattr(exc, "exceptions", None)
    parts = list(group) if isinstance(group, tuple) and group else [exc]
    firsts = []
    for part in parts:
        lines = [line.strip() for line in str(part).strip().splitlines() if line.strip()]
        first = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "")
        firsts.append(f"{type(part).__name__}: {first}" if first else type(part).__name__)
    message = firsts[0] if len(parts) == 1 else f"{len(parts)} distinct failures: " + " | ".join(firsts)
    notes = [
        n for p in [exc, *parts] for n in getattr(p, "__notes__", []) if "Reproducer" in n or "reproduce_failure" in n
    ]
    return message[:1000], ("\n".join(dict.fromkeys(notes)) or None)


def classify(report: pytest.TestReport) -> tuple[str, str | None]:
    """A test report's outcome (one of OUTCOMES) and its reason.

    A classifying plugin's ``report.fizzcheck_outcome`` / ``fizzcheck_detail`` win; otherwise
    pytest's own outcome, where an expected failure counts as skipped, with its reason.
    """
    classified = getattr(report, "fizzcheck_outcome", None)
    if classified in OUTCOMES:
        detail = getattr(report, "fizzcheck_detail", None) or getattr(report, "wasxfail", None)
        return str(classified), None if detail is None else str(detail)
    outcome: str
    if report.when == "call" and not hasattr(report, "wasxfail"):
        outcome = report.outcome
    elif hasattr(report, "wasxfail"):  # an expected failure nothing classified (a strict XPASS fails)
        outcome = "failed" if report.failed else ("passed" if report.passed else "skipped")
    else:
        outcome = "skipped" if report.skipped else "error"
    reason = None
    if hasattr(report, "wasxfail") and outcome == "skipped":
        reason = f"expected failure: {report.wasxfail}" if report.wasxfail else "expected failure"
    elif report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    return outcome, reason


def surface_totals(rows: Iterable[PropertyRow]) -> dict[str, int]:
    """Every declared cell → examples that exercised it over ``rows`` (0 for cells none did)."""
    totals = dict.fromkeys(surface.all_cell_ids(), 0)
    for row in rows:
        for cell, examples in (row.surface or {}).items():
            totals[cell] = totals.get(cell, 0) + examples
    return totals


def target_label(target: dict[str, Any]) -> str:
    """``seed-raw (torch 2.13.0+cpu)``: the target's spec and the torch it ran on."""
    spec = target.get("spec") or target.get("name") or "torch"
    return f"{spec} (torch {target['torch']})" if target.get("torch") else str(spec)


class PropertyRecorder:
    """pytest plugin object: collects one row per test and writes the results file."""

    def __init__(
        self,
        config: pytest.Config,
        destination: Path | None,
        profile: str,
        target: dict[str, Any],
        *,
        unavailable: list[str] | None = None,
    ) -> None:
        self.config = config
        self.destination = destination
        self.profile = profile
        self.target = target  # Target.describe(): spec, overrides, torch version
        self.unavailable = list(unavailable or [])
        self.rows: dict[str, PropertyRow] = {}
        self.run_id = new_run_id()
        self.created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def summary(self) -> Summary:
        """The verdict over the rows recorded so far (:func:`fizzcheck.results.outcomes.summarize`)."""
        return summarize(self.rows.values(), targets=[target_label(self.target)], unavailable=self.unavailable)

    # --- on the process that runs the test (a worker under xdist) ----------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        # The largest ratio among comparisons that held is how close a passing property ran
        # to its bound; a failing one reports its largest ratio overall. (Self-tests that
        # provoke a failing comparison on purpose and catch it keep the ratio of those that held.)
        worst_ok, worst_any, compared = [0.0], [0.0], [False]
        examples = [0]

        def record(comparison: Comparison) -> None:
            compared[0] = True
            worst_any[0] = max(worst_any[0], comparison.ratio)
            if comparison.ok:
                worst_ok[0] = max(worst_ok[0], comparison.ratio)

        handle: Any = getattr(getattr(item, "obj", None), "hypothesis", None)
        inner = getattr(handle, "inner_test", None)
        if inner is not None:  # count the test cases Hypothesis runs (documented hook point)

            def counted(*args: Any, **kwargs: Any) -> Any:
                examples[0] += 1
                with surface.example():
                    return inner(*args, **kwargs)

            handle.inner_test = counted
        failed = False
        # a Hypothesis test counts cells per example (``counted``), any other test as one example
        whole = surface.example() if inner is None else contextlib.nullcontext()
        try:
            with observe(record), surface.collecting() as cells, whole:
                return (yield)
        except BaseException:
            failed = True
            raise
        finally:
            if inner is not None:
                handle.inner_test = inner
            ratio = (worst_any[0] if failed else worst_ok[0]) if compared[0] else None
            item.user_properties.append(("max_error_ratio", ratio))
            item.user_properties.append(("examples", examples[0] if inner is not None else None))
            item.user_properties.append(("surface", dict(sorted(cells.items()))))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report: Any = yield
        if not PROPERTY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            return report  # not a property test (e.g. fizzcheck's own tests in the same session)
        if call.when == "call" or (call.when != "call" and report.outcome != "passed"):
            params = getattr(getattr(item, "callspec", None), "params", {})
            message, reproducer = _note_text(call.excinfo if report.outcome == "failed" else None)
            if report.outcome == "failed" and message is None:  # e.g. XPASS(strict): no exception
                message = (str(report.longrepr).strip().splitlines() or ["failed"])[0][:500]
            report.user_properties.extend(
                [
                    ("fizzcheck_property", getattr(item, "originalname", item.name)),
                    ("device", params.get("device")),
                    ("dtype", params.get("dtype")),
                    ("message", message),
                    ("reproducer", reproducer),
                ]
            )
        return report

    # --- on the controller (or the only process) -------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props: dict[str, Any] = dict(report.user_properties)
        if "fizzcheck_property" not in props:
            return
        if report.when == "teardown":
            row = self.rows.get(report.nodeid)
            if report.failed and row is not None and row.outcome == "passed":
                message = (str(report.longrepr).strip().splitlines() or ["teardown failed"])[-1][:500]
                self.rows[report.nodeid] = dataclasses.replace(row, outcome="error", message=message)
            return
        if report.when != "call" and report.outcome == "passed":
            return
        outcome, reason = classify(report)
        self.rows[report.nodeid] = PropertyRow(
            nodeid=report.nodeid,
            property=props["fizzcheck_property"],
            module=report.nodeid.split("::", 1)[0],
            device=props.get("device"),
            dtype=props.get("dtype"),
            target=self.target["spec"],
            outcome=outcome,  # type: ignore[arg-type]
            skip_reason=reason,
            examples=props.get("examples"),
            max_error_ratio=_finite_or_none(props.get("max_error_ratio")),
            duration_s=round(report.duration, 6),
            message=props.get("message"),
            reproducer=props.get("reproducer"),
            surface=props.get("surface") or None,
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.destination is None or hasattr(self.config, "workerinput"):
            return
        path = Path(str(self.destination).format(run_id=self.run_id))
        summary = self.summary()
        document = PropertyResults(
            run_id=self.run_id,
            created=self.created,
            profile=self.profile,
            target=self.target,
            machine=collect_machine(),
            properties=sorted(self.rows.values(), key=lambda row: row.nodeid),
            counts=summary.counts,
            unavailable=self.unavailable,
            verdict=summary.headline,
            surface=surface_totals(self.rows.values()),
        )
        try:
            written = write_json_new(path, dataclasses.asdict(document))
        except FileExistsError:
            raise pytest.UsageError(
                f"--fizzcheck-results={path}: file exists; fizzcheck never overwrites results"
            ) from None
        self.written = written

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or not self.rows:
            return
        write = terminalreporter.write_line
        rows = sorted(self.rows.values(), key=lambda row: row.nodeid)
        summary = self.summary()
        terminalreporter.section("fizzcheck verification summary")
        shown = [
            r
            for r in rows
            if r.outcome in ("failed", "error") or (r.outcome == "passed" and r.max_error_ratio is not None)
        ]
        if shown:
            width = max(len("property test"), *(len(r.nodeid) for r in shown))  # never cut a name
            write(f"{'property test':<{width}}  {'outcome':<8} {'examples':>8} {'max error/bound':>15}")
            for row in shown:
                examples = "" if row.examples is None else str(row.examples)
                ratio = "–" if row.max_error_ratio is None else f"{row.max_error_ratio:.3g}"
                write(f"{row.nodeid:<{width}}  {row.outcome:<8} {examples:>8} {ratio:>15}")
        for outcome, label in LABELS.items():
            count = summary.counts[outcome]
            if outcome == "passed" or not count:
                continue
            write(f"{label} ({count}):")
            if outcome in ("skipped", "not_available"):  # one line per reason
                for reason, n in summary.reasons.get(outcome, []):
                    write(f"  {n} × {reason}")
            else:
                for row in (r for r in rows if r.outcome == outcome):
                    why = row.skip_reason or row.message or ""
                    write(f"  {row.nodeid}" + (f": {why}" if why else ""))
        for line in self.unavailable:
            write(f"not run here: {line}")
        write(f"counts: {summary.counts_text()} ({summary.total} property tests; run {self.run_id})")
        write(f"verdict: {summary.headline}")
        written = getattr(self, "written", None)
        if written is not None:
            write(f"fizzcheck: property results written to {written}")

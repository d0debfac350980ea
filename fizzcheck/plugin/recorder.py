"""Recording property outcomes: per test the outcome, examples run, largest error / bound
ratio and, for failures, the reproducer; written as a :class:`~fizzcheck.results.schema.PropertyResults`
document (``docs/results-schema.md``).

Everything a row needs travels in ``report.user_properties``, so the rows are collected in
``pytest_runtest_logreport``, which also runs on the pytest-xdist controller: a parallel
run writes one merged file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from fizzcheck.check import Comparison, observe
from fizzcheck.results.machine import collect_machine, new_run_id
from fizzcheck.results.schema import PropertyResults, PropertyRow

__all__ = ["PropertyRecorder", "write_json_new"]


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


class PropertyRecorder:
    """pytest plugin object: collects one row per test call and writes the results file."""

    def __init__(self, config: pytest.Config, destination: Path | None, profile: str, target: dict[str, Any]) -> None:
        self.config = config
        self.destination = destination
        self.profile = profile
        self.target = target  # Target.describe(): spec, overrides, torch version
        self.rows: list[PropertyRow] = []
        self.run_id = new_run_id()
        self.created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

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
                return inner(*args, **kwargs)

            handle.inner_test = counted
        failed = False
        with observe(record):
            try:
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

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report: Any = yield
        if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
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
        if report.when == "call" or report.outcome != "passed":
            outcome = report.outcome if report.when == "call" else ("skipped" if report.skipped else "error")
            skip_reason = None
            if hasattr(report, "wasxfail"):  # a strict xfail documents a known torch behaviour
                skip_reason = f"expected failure: {report.wasxfail}" if report.wasxfail else "expected failure"
            elif report.skipped and isinstance(report.longrepr, tuple):
                skip_reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            self.rows.append(
                PropertyRow(
                    nodeid=report.nodeid,
                    property=props["fizzcheck_property"],
                    module=report.nodeid.split("::", 1)[0],
                    device=props.get("device"),
                    dtype=props.get("dtype"),
                    target=self.target["spec"],
                    outcome=outcome,
                    skip_reason=skip_reason,
                    examples=props.get("examples"),
                    max_error_ratio=_finite_or_none(props.get("max_error_ratio")),
                    duration_s=round(report.duration, 6),
                    message=props.get("message"),
                    reproducer=props.get("reproducer"),
                )
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.destination is None or hasattr(self.config, "workerinput"):
            return
        path = Path(str(self.destination).format(run_id=self.run_id))
        document = PropertyResults(
            run_id=self.run_id,
            created=self.created,
            profile=self.profile,
            target=self.target,
            machine=collect_machine(),
            properties=sorted(self.rows, key=lambda row: row.nodeid),
        )
        try:
            written = write_json_new(path, dataclasses.asdict(document))
        except FileExistsError:
            raise pytest.UsageError(
                f"--fizzcheck-results={path}: file exists; fizzcheck never overwrites results"
            ) from None
        self.written = written

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        compared = [r for r in self.rows if r.max_error_ratio is not None and r.outcome in ("passed", "failed")]
        if compared:
            terminalreporter.section("fizzcheck verification summary")
            terminalreporter.write_line(f"{'property':<72} {'outcome':<8} {'examples':>8} {'max error/bound':>15}")
            for row in compared:
                examples = "" if row.examples is None else str(row.examples)
                terminalreporter.write_line(
                    f"{row.nodeid[-72:]:<72} {row.outcome:<8} {examples:>8} {row.max_error_ratio:>15.3g}"
                )
            failed = sum(1 for r in compared if r.outcome == "failed")
            passes = [r.max_error_ratio for r in compared if r.outcome == "passed" and r.max_error_ratio is not None]
            closest = f"{max(passes):.3g}" if passes else "n/a"
            terminalreporter.write_line(
                f"verdict: {'FAIL' if failed else 'PASS'} — {len(compared) - failed} of {len(compared)} compared "
                f"properties within their error bounds; closest to the edge among passes: {closest} of the bound"
            )
        written = getattr(self, "written", None)
        if written is not None:
            terminalreporter.write_line(f"fizzcheck: property results written to {written}")

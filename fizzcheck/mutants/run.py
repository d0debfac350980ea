"""``fizzcheck mutants run``: plant each catalogued fault, run its target properties, build the kill matrix.

For every fault (and every control) one pytest process runs
``pytest properties/<targets> -p fizzcheck.mutants.plugin --hypothesis-profile=ci
--fizzcheck-results=...`` with ``FIZZCHECK_MUTANT=<name>``; the plugin plants the fault in
that process (and in each pytest-xdist worker) before the properties are collected. Every
property runs — no ``-x`` — so the matrix is complete.

A cell of the matrix (fault × property, parametrisations merged) is

* ``killed`` — some parametrisation failed (or errored) for a reason other than timing;
* ``suspect`` — it failed only with a Hypothesis timing/health error (DeadlineExceeded,
  Flaky, FailedHealthCheck, Unsatisfiable): not counted as a kill;
* ``survived`` — every parametrisation passed (or xfailed as expected);
* ``skipped`` — nothing ran (no CUDA, say); ``not run`` — the property's file is not a target.

A fault is killed when at least one cell is; controls must be green. The command exits 1 when
a fault survives, a control is not green, a witness disagrees (a fault whose witness is not
True in every process that ran the properties, or a control under which some witness fires)
or a run wrote no results; 2 on bad input.
"""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fizzcheck.errors import InvalidArgument
from fizzcheck.mutants.render import html_page, html_table, markdown_table, new_report_dir
from fizzcheck.suite import PROPERTIES, pytest_command, suite_path

__all__ = [
    "SUSPECT_ERRORS",
    "XPASS_STRICT",
    "FaultRun",
    "build_kill_matrix",
    "cell_state",
    "exit_status",
    "kill_matrix_html",
    "kill_matrix_markdown",
    "parse_names",
    "print_summary",
    "run_mutants",
]

SUSPECT_ERRORS = ("DeadlineExceeded", "Flaky", "FlakyFailure", "FlakyReplay", "FailedHealthCheck", "Unsatisfiable")
"""Failures that say more about timing or the strategies than about the fault: never counted as kills."""

XPASS_STRICT = "XPASS(strict): a torch bug the suite marks as expected to fail no longer shows"
"""A failed call without an exception is a strict xfail that passed (the results file records no message)."""

MATRIX_SCHEMA = 1
"""Version of ``mutants-<run_id>.json`` (its own schema: ``fizzcheck report`` does not read it)."""


@dataclass
class FaultRun:
    """What one pytest run against one fault (or control) left behind."""

    name: str
    category: str
    description: str
    targets: list[str]
    control: bool
    exit_status: int | None = None
    duration_s: float = 0.0
    results: Mapping[str, Any] | None = None
    witnesses: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False
    results_file: str | None = None
    log_file: str | None = None


# --- the matrix (pure: tested on synthetic result documents) ---------------------------------


def _column(row: Mapping[str, Any]) -> str:
    return f"{Path(row['module']).name}::{row['property']}"


def _is_suspect(message: str | None) -> bool:
    name = (message or "").split(":", 1)[0].strip()
    return name in SUSPECT_ERRORS


def cell_state(rows: Sequence[Mapping[str, Any]], *, targeted: bool) -> tuple[str, str]:
    """(state, first failure message) of one fault × property cell from its result rows."""
    if not targeted or not rows:
        return "not run", ""
    red = [r for r in rows if r["outcome"] in ("failed", "error")]
    real = [r for r in red if not _is_suspect(r.get("message"))]
    if real:
        return "killed", real[0].get("message") or XPASS_STRICT
    if red:
        return "suspect", red[0].get("message") or ""
    if all(r["outcome"] == "skipped" for r in rows):
        return "skipped", ""
    return "survived", ""


def _witness_ok(run: FaultRun) -> tuple[bool, str]:
    if not run.witnesses:
        return False, "no witness record (the plugin did not run)"
    errors = [w["error"] for w in run.witnesses if w.get("error")]
    if errors:
        return False, f"witness raised {errors[0]}"
    values = {w.get("witness") for w in run.witnesses}
    if run.control:
        return values == {False}, "a fault's witness fires under this control" if values != {False} else ""
    return values == {True}, "" if values == {True} else "the fault is not active in every process"


def build_kill_matrix(runs: Sequence[FaultRun], *, order: Sequence[str] = ()) -> dict[str, Any]:
    """The kill matrix document of ``runs``: columns, one row per fault, and the summary.

    ``order`` lists property file names in the order columns should follow.
    """
    columns: list[str] = []
    for run in runs:
        for row in (run.results or {}).get("properties", []):
            if _column(row) not in columns:
                columns.append(_column(row))
    rank = {name: i for i, name in enumerate(order)}
    columns.sort(key=lambda c: rank.get(c.split("::", 1)[0], len(rank)))  # stable: suite order within a file
    faults = []
    for run in runs:
        by_column: dict[str, list[Mapping[str, Any]]] = {}
        for row in (run.results or {}).get("properties", []):
            by_column.setdefault(_column(row), []).append(row)
        cells = {}
        for column in columns:
            targeted = column.split("::", 1)[0] in run.targets
            state, message = cell_state(by_column.get(column, []), targeted=targeted)
            cells[column] = {"state": state, "message": message}
        witness_ok, witness_problem = _witness_ok(run)
        killed_by = [c for c in columns if cells[c]["state"] == "killed"]
        red = [c for c in columns if cells[c]["state"] in ("killed", "suspect")]
        if run.results is None:
            status = "broken"
        elif run.control:
            status = "green" if not red and run.exit_status == 0 else "red"
        else:
            status = "killed" if killed_by else "survived"
        faults.append(
            {
                "name": run.name,
                "category": run.category,
                "description": run.description,
                "targets": list(run.targets),
                "control": run.control,
                "status": status,
                "killed_by": killed_by,
                "suspect": [c for c in columns if cells[c]["state"] == "suspect"],
                "witness": sorted({str(w.get("witness")) for w in run.witnesses}),
                "witness_ok": witness_ok,
                "witness_problem": witness_problem,
                "exit_status": run.exit_status,
                "timed_out": run.timed_out,
                "duration_s": round(run.duration_s, 1),
                "results_file": run.results_file,
                "log_file": run.log_file,
                "cells": cells,
            }
        )
    catalogued = [f for f in faults if not f["control"]]
    controls = [f for f in faults if f["control"]]
    killed = [f["name"] for f in catalogued if f["status"] == "killed"]
    summary = {
        "faults": len(catalogued),
        "killed": len(killed),
        "kill_rate": (len(killed) / len(catalogued)) if catalogued else None,
        "survived": [f["name"] for f in catalogued if f["status"] == "survived"],
        "broken": [f["name"] for f in faults if f["status"] == "broken"],
        "controls": {f["name"]: f["status"] for f in controls},
        "controls_green": all(f["status"] == "green" for f in controls),
        "witnesses_ok": all(f["witness_ok"] for f in faults),
        "bad_witnesses": [f["name"] for f in faults if not f["witness_ok"]],
    }
    summary["ok"] = (
        not summary["survived"] and not summary["broken"] and summary["controls_green"] and summary["witnesses_ok"]
    )
    return {"columns": columns, "faults": faults, "summary": summary}


# --- rendering ---------------------------------------------------------------------------------

_SYMBOL = {"killed": "✗", "survived": "·", "suspect": "?", "skipped": "s", "not run": "", "passed": "✓"}


def _labels(matrix: Mapping[str, Any]) -> list[str]:
    labels, n_fault, n_control = [], 0, 0
    for fault in matrix["faults"]:
        if fault["control"]:
            n_control += 1
            labels.append(f"C{n_control}")
        else:
            n_fault += 1
            labels.append(f"F{n_fault}")
    return labels


def _symbol(fault: Mapping[str, Any], state: str) -> str:
    if fault["control"] and state == "survived":
        return _SYMBOL["passed"]
    return _SYMBOL[state]


def _headline(doc: Mapping[str, Any]) -> list[str]:
    s = doc["summary"]
    rate = "n/a" if s["kill_rate"] is None else f"{100 * s['kill_rate']:.0f} %"
    controls = ", ".join(f"{k}: {v}" for k, v in s["controls"].items()) or "none run"
    return [
        f"kill rate: {s['killed']} of {s['faults']} faults killed ({rate})",
        f"controls: {controls}",
        f"witnesses: {'all as expected' if s['witnesses_ok'] else 'WRONG for ' + ', '.join(s['bad_witnesses'])}",
        f"wall time: {doc['wall_s']:.0f} s (jobs={doc['jobs']}, xdist workers={doc['workers']})",
        f"Hypothesis profile: {doc['profile']} (shrink phase {'on' if doc['shrink'] else 'off'}, no example database); "
        f"torch {doc['torch_version']}",
        f"verdict: {'PASS' if s['ok'] else 'FAIL'}"
        + ("" if s["ok"] else f" — survived: {s['survived'] or '-'}, broken: {s['broken'] or '-'}"),
    ]


def _fault_rows(matrix: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for label, fault in zip(_labels(matrix), matrix["faults"], strict=True):
        killers = ", ".join(c.split("::", 1)[1] for c in fault["killed_by"]) or "-"
        rows.append(
            [
                label,
                fault["name"],
                fault["category"],
                " ".join(fault["targets"]),
                "/".join(fault["witness"]) or "-",
                fault["status"],
                f"{len(fault['killed_by'])}: {killers}" if fault["killed_by"] else "-",
                f"{fault['duration_s']:.0f} s",
            ]
        )
    return rows


_FAULT_HEADER = ["#", "fault", "category", "target files", "witness", "status", "killed by", "time"]


def kill_matrix_markdown(doc: Mapping[str, Any]) -> str:
    labels = _labels(doc)
    lines = [f"# fizzcheck mutants — run {doc['run_id']}", ""]
    lines += [f"* {line}" for line in _headline(doc)]
    lines += ["", "## Faults", "", markdown_table(_FAULT_HEADER, _fault_rows(doc)), ""]
    lines += [
        "## Kill matrix",
        "",
        "Rows: properties (parametrisations merged); columns: faults (F) and controls (C) as numbered above. "
        "✗ killed, · survived, ? failed only on timing/health (not a kill), s skipped, ✓ control passed, "
        "blank: file not targeted by the fault.",
        "",
    ]
    rows = [[column, *(_symbol(f, f["cells"][column]["state"]) for f in doc["faults"])] for column in doc["columns"]]
    lines += [markdown_table(["property", *labels], rows), ""]
    descriptions = [[label, f["name"], f["description"]] for label, f in zip(labels, doc["faults"], strict=True)]
    lines += ["## What each fault does", "", markdown_table(["#", "fault", "description"], descriptions), ""]
    return "\n".join(lines)


def kill_matrix_html(doc: Mapping[str, Any]) -> str:
    labels = _labels(doc)
    body = ["<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in _headline(doc)) + "</ul>", "<h2>Faults</h2>"]
    rows = _fault_rows(doc)
    status_css = {"killed": "good", "survived": "bad", "green": "good", "red": "bad", "broken": "bad"}
    classes = [["" for _ in row] for row in rows]
    for css_row, fault in zip(classes, doc["faults"], strict=True):
        css_row[5] = status_css.get(fault["status"], "")
    titles = [["", "", "", "", "", "", "", ""] for _ in rows]
    for title_row, fault in zip(titles, doc["faults"], strict=True):
        title_row[1] = fault["description"]
    body.append(html_table(_FAULT_HEADER, rows, classes=classes, titles=titles))
    body.append("<h2>Kill matrix</h2>")
    body.append(
        '<p class="small">✗ killed · survived ? failed only on timing/health (not a kill) s skipped ✓ control passed; '
        "blank: file not targeted. Hover a cell for the failure message.</p>"
    )
    matrix_rows, matrix_classes, matrix_titles = [], [], []
    for column in doc["columns"]:
        matrix_rows.append([column, *(_symbol(f, f["cells"][column]["state"]) for f in doc["faults"])])
        states = [f["cells"][column]["state"] for f in doc["faults"]]
        matrix_classes.append(["", *(_css(f, s) for f, s in zip(doc["faults"], states, strict=True))])
        matrix_titles.append(["", *(f"{f['name']}: {f['cells'][column]['message']}" for f in doc["faults"])])
    body.append(html_table(["property", *labels], matrix_rows, classes=matrix_classes, titles=matrix_titles))
    return html_page(f"fizzcheck mutants — run {doc['run_id']}", "\n".join(body))


def _css(fault: Mapping[str, Any], state: str) -> str:
    """Green where a property did its job (killed the fault, passed the control), red for a failing control.

    A property that lets one particular fault through is normal (it tests something else): no colour.
    """
    if state == "survived":
        return "good" if fault["control"] else ""
    if state == "killed":
        return "bad" if fault["control"] else "good"
    return {"not run": "notrun"}.get(state, state)


# --- running ---------------------------------------------------------------------------------


def parse_names(raw: str | None, known: Sequence[str], what: str) -> list[str]:
    """A comma-separated list of names, each in ``known``; one-line InvalidArgument otherwise."""
    if raw is None:
        return list(known)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidArgument(f"{what}={raw!r}: unknown {', '.join(unknown)}; use {', '.join(known)}")
    return names


def _pytest_command(fault: Any, results: Path, *, profile: str, workers: int, extra: Sequence[str]) -> list[str]:
    return pytest_command(
        PROPERTIES,
        files=fault.targets,
        plugins=["fizzcheck.mutants.plugin"],
        profile=profile,
        results=results,
        workers=workers,
        extra=extra,
    )


def _run_one(
    fault: Any,
    directory: Path,
    *,
    profile: str,
    workers: int,
    shrink: bool,
    timeout: float,
    extra: Sequence[str],
) -> FaultRun:
    results = directory / "properties" / f"properties-{fault.name}.json"
    witness_dir = directory / "witness" / fault.name
    log = directory / "logs" / f"{fault.name}.log"
    env = {**os.environ, "FIZZCHECK_MUTANT": fault.name, "FIZZCHECK_MUTANT_WITNESS_DIR": str(witness_dir)}
    env["FIZZCHECK_MUTANT_SHRINK"] = "1" if shrink else "0"
    env["FIZZCHECK_REPRODUCER_DIR"] = str(directory / "reproducers" / fault.name)  # not the shared reports/reproducers
    argv = _pytest_command(fault, results, profile=profile, workers=workers, extra=extra)
    run = FaultRun(fault.name, fault.category, fault.description, list(fault.targets), fault.is_control)
    start = time.perf_counter()
    with log.open("w") as out:
        out.write("$ " + " ".join(argv) + "\n")
        out.flush()
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            run.exit_status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the pytest run started here, and its workers
            process.wait()
            run.timed_out, run.exit_status = True, None
    run.duration_s = time.perf_counter() - start
    run.log_file = str(log.relative_to(directory))
    if results.exists():
        run.results = json.loads(results.read_text())
        run.results_file = str(results.relative_to(directory))
    for path in sorted(witness_dir.glob("witness-*.json")):
        run.witnesses.append(json.loads(path.read_text()))
    return run


def _progress(index: int, total: int, run: FaultRun) -> str:
    if run.results is None:
        what = "no results (timed out)" if run.timed_out else f"no results (pytest exit {run.exit_status})"
    elif run.control:
        failed = sum(r["outcome"] in ("failed", "error") for r in run.results["properties"])
        what = "green" if not failed and run.exit_status == 0 else f"RED ({failed} failed)"
    else:
        red = {_column(r) for r in run.results["properties"] if r["outcome"] in ("failed", "error")}
        what = f"{len(red)} properties failed" if red else "SURVIVED"
    witness = "/".join(sorted({str(w.get("witness")) for w in run.witnesses})) or "none"
    return f"[{index}/{total}] {run.name}: {what}; witness {witness} ({run.duration_s:.0f} s)"


def run_mutants(
    *,
    faults: Sequence[str],
    controls: Sequence[str],
    profile: str = "ci",
    jobs: int = 2,
    workers: int = 0,
    shrink: bool = False,
    timeout: float = 1200.0,
    output_dir: Path = Path("reports"),
    pytest_args: Sequence[str] = (),
) -> tuple[dict[str, Any], Path]:
    """Run every control and fault; write the report directory; return (document, directory)."""
    from fizzcheck.mutants.catalogue import WHOLE_SUITE, fault_by_name
    from fizzcheck.results.machine import machine_block, new_run_id

    chosen = [fault_by_name(name) for name in (*controls, *faults)]
    if jobs < 1 or workers < 0:
        raise InvalidArgument(f"jobs={jobs!r} must be >= 1 and workers={workers!r} >= 0")
    suite_path(PROPERTIES)  # a missing suite is an error before anything is created
    run_id = new_run_id()
    directory = new_report_dir(Path(output_dir), f"mutants-{run_id}")
    for sub in ("properties", "logs", "witness"):
        (directory / sub).mkdir()
    print(
        f"fizzcheck mutants: {len(controls)} control(s) + {len(faults)} fault(s), profile {profile}, "
        f"jobs={jobs}, workers={workers}; logs in {directory / 'logs'}",
        flush=True,
    )
    start = time.perf_counter()
    runs: list[FaultRun] = []

    def one(fault: Any) -> FaultRun:
        run = _run_one(
            fault,
            directory,
            profile=profile,
            workers=workers,
            shrink=shrink,
            timeout=timeout,
            extra=pytest_args,
        )
        runs.append(run)
        print(_progress(len(runs), len(chosen), run), flush=True)
        return run

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        finished = list(pool.map(one, chosen))
    wall = time.perf_counter() - start
    matrix = build_kill_matrix(finished, order=WHOLE_SUITE)
    doc = {
        "fizzcheck_mutants_schema": MATRIX_SCHEMA,
        "kind": "mutants",
        "run_id": run_id,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "profile": profile,
        "shrink": shrink,
        "jobs": jobs,
        "workers": workers,
        "wall_s": round(wall, 1),
        "torch_version": machine_block()["torch_version"],
        "machine": machine_block(),
        **matrix,
    }
    (directory / f"mutants-{run_id}.json").write_text(json.dumps(doc, indent=1))
    (directory / "kill-matrix.md").write_text(kill_matrix_markdown(doc))
    (directory / "index.html").write_text(kill_matrix_html(doc))
    return doc, directory


def print_summary(doc: Mapping[str, Any], directory: Path, stream: Any = None) -> None:
    stream = stream or sys.stdout
    for line in _headline(doc):
        print(f"fizzcheck mutants: {line}", file=stream)
    print(
        f"fizzcheck mutants: report {directory / 'index.html'} (kill-matrix.md, mutants-{doc['run_id']}.json)",
        file=stream,
    )


def exit_status(doc: Mapping[str, Any]) -> int:
    return 0 if doc["summary"]["ok"] else 1

"""``fizzcheck run``: property suite, quick benchmarks and a report in one command, with the verdict.

With no arguments it runs the embedded default configuration (:data:`DEFAULTS`): the whole
property suite at the ``ci`` profile on every available device, the quick benchmark sweep,
and a report over exactly those two result files. The run has one run id: its results
directory, the property results, the benchmarks and the report's title carry it (the pytest
processes get it as ``$FIZZCHECK_RUN_ID``), so the terminal summary, the results file, summary.md
and index.html show the same run and the same counts. Each phase shows its own progress; the
last lines say where the report is and what the verdict was. A requested device that is not
available, or a run that fails before it has results, leaves no directory behind.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from fizzcheck.cli.bench import MODES, bench_command
from fizzcheck.cli.invoke import call_pytest, output_directory
from fizzcheck.cli.options import (
    TARGET_HELP,
    check_available,
    device_option,
    profile_option,
    target_option,
    workers_option,
)
from fizzcheck.errors import FizzcheckError
from fizzcheck.suite import PROPERTIES, pytest_command

__all__ = ["DEFAULTS", "run"]

DEFAULTS = {"profile": "ci", "bench": "quick", "output_dir": "reports"}
"""The embedded configuration of ``fizzcheck run`` with no arguments."""


def _phase(number: int, total: int, text: str) -> float:
    print(f"\n=== fizzcheck run [{number}/{total}] {text}", flush=True)
    return time.perf_counter()


def _done(start: float, what: str) -> None:
    print(f"=== {what} in {time.perf_counter() - start:.0f} s", flush=True)


@click.command(short_help="property suite + quick benchmarks + report in one run, with the verdict")
@profile_option(default=DEFAULTS["profile"])
@device_option
@target_option(help=TARGET_HELP + " (the benchmarks time torch eager)")
@workers_option
@click.option("--bench", type=click.Choice(tuple(MODES)), default=DEFAULTS["bench"], help="benchmark sweep")
@click.option("--no-bench", is_flag=True, help="skip the benchmarks (verification only)")
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=Path(DEFAULTS["output_dir"]),
    help="where results and the report go",
)
def run(
    profile: str,
    device: str | None,
    target: str | None,
    workers: str | None,
    bench: str,
    no_bench: bool,
    output_dir: Path,
) -> int:
    """Run the property suite, the quick benchmarks and a report on the embedded default configuration
    (profile ci, quick benchmarks, output under reports/).

    Exit status 0 when every property holds and every benchmark ran, 1 otherwise, 2 on bad input.
    """
    from fizzcheck.results.machine import new_run_id

    check_available(device, None)
    run_id = new_run_id()
    env = {"FIZZCHECK_RUN_ID": run_id}
    results_dir = output_dir / "runs" / run_id
    if results_dir.exists():
        raise FizzcheckError(f"{results_dir} exists; fizzcheck never overwrites results")
    total = 2 if no_bench else 3
    with output_directory(results_dir):
        properties = results_dir.resolve() / f"properties-{run_id}.json"
        argv = pytest_command(
            PROPERTIES, profile=profile, device=device, target=target, workers=workers, results=properties
        )
        start = _phase(1, total, f"property suite (Hypothesis profile {profile})")
        property_status = call_pytest(argv, env=env)
        _done(start, f"property suite exited {property_status}")
        if not properties.exists():
            raise FizzcheckError(f"the property suite wrote no results (pytest exit status {property_status})")

        bench_status = 0
        if not no_bench:
            bench_argv, bench_json = bench_command(bench, results_dir, run_id=run_id)
            start = _phase(2, total, f"{bench} benchmarks")
            bench_status = call_pytest(bench_argv, env=env)
            _done(start, f"benchmarks exited {bench_status}")
            if not bench_json.exists() or bench_json.stat().st_size == 0:
                bench_json.unlink(missing_ok=True)
                raise FizzcheckError(f"the benchmarks wrote no results (pytest exit status {bench_status})")

        from fizzcheck.report import build_report, save_report
        from fizzcheck.report.load import load_results

        start = _phase(total, total, "report")
        results = load_results([results_dir])
        report = build_report(results, baseline=None, title=f"fizzcheck run {run_id}")
        directory = save_report(report, output_dir)
    _done(start, "report written")
    print(f"\nresults: {results_dir}")
    print(f"report:  {directory / 'index.html'}  (summary.md and CSV tables alongside)")
    print(f"fizzcheck: {report.verdict.headline}")
    if property_status != 0 or bench_status != 0:
        return 1
    return 0

"""``fizzcheck run``: the main job — property suite, quick benchmarks, report, verdict.

With no arguments it runs the embedded default configuration (:data:`DEFAULTS`): the whole
property suite at the ``ci`` profile on every available device, the quick benchmark sweep,
and a report over exactly those two result files. Each phase shows its own progress; the
last lines say where the report is and what the verdict was.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fizzcheck.errors import FizzcheckError

__all__ = ["DEFAULTS", "register"]

DEFAULTS = {"profile": "ci", "bench": "quick", "output_dir": "reports"}
"""The embedded configuration of ``fizzcheck run`` with no arguments."""


def _phase(number: int, total: int, text: str) -> float:
    print(f"\n=== fizzcheck run [{number}/{total}] {text}", flush=True)
    return time.perf_counter()


def _done(start: float, what: str) -> None:
    print(f"=== {what} in {time.perf_counter() - start:.0f} s", flush=True)


def _run(args: argparse.Namespace) -> int:
    from fizzcheck.cli.app import property_suite, target_args, worker_args
    from fizzcheck.cli.bench import bench_command, benchmark_suite
    from fizzcheck.results.machine import new_run_id

    selected_target = target_args(args.target) + worker_args(args.workers)
    run_id = new_run_id()
    results_dir = Path(args.output_dir) / "runs" / run_id
    if results_dir.exists():
        raise FizzcheckError(f"{results_dir} exists; fizzcheck never overwrites results")
    results_dir.mkdir(parents=True)
    total = 2 if args.no_bench else 3

    suite = property_suite()
    properties = results_dir.resolve() / f"properties-{run_id}.json"
    argv = [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider", f"--rootdir={suite.parent}",
            f"--hypothesis-profile={args.profile}", f"--fizzcheck-results={properties}"]  # fmt: skip
    if args.device:
        argv.append(f"--fizzcheck-device={args.device}")
    argv.extend(selected_target)
    start = _phase(1, total, f"property suite (Hypothesis profile {args.profile})")
    property_status = subprocess.call(argv, cwd=suite.parent)
    _done(start, f"property suite exited {property_status}")
    if not properties.exists():
        raise FizzcheckError(f"the property suite wrote no results (pytest exit status {property_status})")

    bench_status = 0
    if not args.no_bench:
        bench_argv, bench_json = bench_command(args.bench, results_dir)
        start = _phase(2, total, f"{args.bench} benchmarks")
        bench_status = subprocess.call(bench_argv, cwd=benchmark_suite().parent)
        _done(start, f"benchmarks exited {bench_status}")
        if not bench_json.exists():
            raise FizzcheckError(f"the benchmarks wrote no results (pytest exit status {bench_status})")

    from fizzcheck.report.load import load_results
    from fizzcheck.report.render import build_report, save_report

    start = _phase(total, total, "report")
    results = load_results([results_dir])
    report = build_report(results, baseline=None, title=f"fizzcheck run {run_id}")
    directory = save_report(report, Path(args.output_dir))
    _done(start, "report written")
    print(f"\nresults: {results_dir}")
    print(f"report:  {directory / 'index.html'}  (summary.md and CSV tables alongside)")
    print(f"fizzcheck: {report.verdict.headline}")
    if property_status != 0 or bench_status != 0:
        return 1
    return 0


def register(commands: Any) -> None:
    from fizzcheck.cli.app import DEVICE_NAMES, TARGET_HELP, WORKERS_HELP, csv_choices, workers

    run = commands.add_parser(
        "run",
        help="the main job: property suite + quick benchmarks + report, with the verdict",
        description=(
            "Run the property suite, the quick benchmarks and a report on the embedded default configuration "
            f"(profile {DEFAULTS['profile']}, {DEFAULTS['bench']} benchmarks, output under {DEFAULTS['output_dir']}/). "
            "Exit status 0 when every property holds and every benchmark ran, 1 otherwise, 2 on bad input."
        ),
    )
    run.add_argument(
        "--profile", choices=("dev", "ci", "thorough"), default=DEFAULTS["profile"], help="Hypothesis profile"
    )
    run.add_argument(
        "--device", type=csv_choices(DEVICE_NAMES, "device"), help="devices, e.g. cpu or cpu,cuda (default: all)"
    )
    run.add_argument("--target", metavar="SPEC", help=TARGET_HELP + " (the benchmarks time torch eager)")
    run.add_argument("--workers", type=workers, metavar="N", help=WORKERS_HELP)
    run.add_argument("--bench", choices=("quick", "full"), default=DEFAULTS["bench"], help="benchmark sweep")
    run.add_argument("--no-bench", action="store_true", help="skip the benchmarks (verification only)")
    run.add_argument("--output-dir", default=DEFAULTS["output_dir"], help="where results and the report go")
    run.set_defaults(handler=_run)

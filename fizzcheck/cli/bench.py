"""``fizzcheck bench``: run the benchmark registry through pytest-benchmark into a new JSON file."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from fizzcheck.errors import FizzcheckError

__all__ = ["MODES", "bench_command", "register"]

MODES: dict[str, list[str]] = {
    # every case × implementation × device at the seed's size and one BLAS-sized point
    "quick": ["--bench-mode=quick", "--benchmark-max-time=0.25", "--benchmark-min-rounds=15"],
    # the whole size sweep, every dtype, longer timing
    "full": ["--bench-mode=full", "--benchmark-max-time=1.0", "--benchmark-min-rounds=25"],
}
COMMON = [
    "--benchmark-disable-gc",
    "--benchmark-warmup=on",
    "--benchmark-warmup-iterations=1000",
    "--benchmark-save-data",
]


def benchmark_suite() -> Path:
    for candidate in (Path(__file__).resolve().parents[2] / "benchmarks", Path.cwd() / "benchmarks"):
        if (candidate / "test_cases.py").is_file():
            return candidate
    raise FizzcheckError("cannot find the benchmarks (benchmarks/): run fizzcheck from a fizzcheck checkout")


def bench_command(
    mode: str, output_dir: Path, *, threads: int | None = None, extra: list[str] | None = None
) -> tuple[list[str], Path]:
    """The pytest command line for a benchmark run and the new JSON file it writes."""
    from fizzcheck.results.machine import new_run_id

    suite = benchmark_suite()
    output = output_dir.resolve() / f"benchmarks-{new_run_id()}.json"
    if output.exists():  # run ids are unique; never overwrite even if the clock repeats
        raise FizzcheckError(f"{output} exists; fizzcheck never overwrites results")
    argv = [
        sys.executable,
        "-m",
        "pytest",
        str(suite / "test_cases.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={suite.parent}",
    ]
    argv += MODES[mode] + COMMON + [f"--benchmark-json={output}"]
    if threads is not None:
        argv.append(f"--bench-threads={threads}")
    return argv + list(extra or []), output


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"threads {raw!r} must be a positive integer")
    return value


def _run(args: argparse.Namespace) -> int:
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise FizzcheckError(f"--output-dir {output_dir}: not a directory")
    from fizzcheck.cli.app import target_args

    selected = target_args(args.target)  # a bad spec fails here, before anything is created
    output_dir.mkdir(parents=True, exist_ok=True)
    argv, output = bench_command(args.mode, output_dir, threads=args.threads, extra=selected + args.pytest_args)
    print(f"fizzcheck bench: {args.mode} sweep → {output}", flush=True)
    code = subprocess.call(argv, cwd=benchmark_suite().parent)
    if output.exists():
        print(f"fizzcheck bench: results written to {output}")
    return code


def register(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="benchmark every case × implementation × device (pytest-benchmark JSON)",
        description="Run the benchmark registry through pytest-benchmark; results go to a new JSON file. "
        "Arguments after -- go to pytest, e.g. fizzcheck bench quick -- -k matmul.",
    )
    bench.add_argument("mode", nargs="?", choices=tuple(MODES), default="quick", help="quick (≤ 5 min) or full sweep")
    bench.add_argument("--output-dir", default="reports/bench", help="directory for the JSON (default reports/bench)")
    bench.add_argument("--threads", type=_positive_int, help="torch.set_num_threads for the run")
    bench.add_argument(
        "--target",
        metavar="SPEC",
        help="also time each case through this target (seed-raw, compile[:BACKEND], MODULE:NAME) as implementation 'target'",
    )
    bench.set_defaults(handler=_run, pytest_args=[])

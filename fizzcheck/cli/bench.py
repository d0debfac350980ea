"""``fizzcheck bench``: run the benchmark registry through pytest-benchmark into a new JSON file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from fizzcheck.cli.invoke import call_pytest, output_directory
from fizzcheck.cli.options import pytest_args_argument, target_option
from fizzcheck.errors import FizzcheckError
from fizzcheck.suite import BENCHMARKS, pytest_command

__all__ = ["COMMON", "MODES", "bench", "bench_command"]

MODES: dict[str, list[str]] = {
    # every case × implementation × device at three sizes from the seed's, float32 (+ the float64
    # numpy reference); per benchmark about 0.4 s of interleaved rounds in 11 passes, at least 22 rounds
    "quick": ["--bench-mode=quick", "--benchmark-max-time=0.4", "--benchmark-min-rounds=22"],
    # the whole size sweep, every dtype, longer timing
    "full": ["--bench-mode=full", "--benchmark-max-time=1.0", "--benchmark-min-rounds=25"],
}
COMMON = [
    # fizzcheck's interleaved loop (fizzcheck.bench.timing) warms up, calibrates and turns the
    # garbage collector off itself; pytest-benchmark keeps the samples and writes the JSON
    "--benchmark-disable-gc",
    "--benchmark-save-data",
]


def bench_command(
    mode: str,
    output_dir: Path,
    *,
    threads: int | None = None,
    target: str | None = None,
    extra: Sequence[str] = (),
    run_id: str | None = None,
) -> tuple[list[str], Path]:
    """The pytest command line for a benchmark run and the new JSON file it writes (``run_id``: the
    id of the run it belongs to, e.g. ``fizzcheck run``'s; default a new one)."""
    from fizzcheck.results.machine import new_run_id

    output = output_dir.resolve() / f"benchmarks-{run_id or new_run_id()}.json"
    if output.exists():  # run ids are unique; never overwrite even if the clock repeats
        raise FizzcheckError(f"{output} exists; fizzcheck never overwrites results")
    options = [*MODES[mode], *COMMON, f"--benchmark-json={output}"]
    if threads is not None:
        options.append(f"--bench-threads={threads}")
    argv = pytest_command(BENCHMARKS, files=["test_cases.py"], target=target, options=options, extra=extra)
    return argv, output


@click.command(short_help="benchmark every case × implementation × device (pytest-benchmark JSON)")
@click.argument("mode", type=click.Choice(tuple(MODES)), default="quick", required=False)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=Path("reports/bench"),
    help="directory for the JSON (default reports/bench)",
)
@click.option("--threads", type=click.IntRange(min=1), help="torch.set_num_threads for the run")
@target_option(
    help="also time each case through this target (seed-raw, compile[:BACKEND], MODULE:NAME) as implementation 'target'"
)
@pytest_args_argument
def bench(mode: str, output_dir: Path, threads: int | None, target: str | None, pytest_args: tuple[str, ...]) -> int:
    """Run the benchmark registry through pytest-benchmark; results go to a new JSON file.

    MODE is quick (≤ 5 min, the default) or full (the whole sweep). Arguments after -- go to
    pytest, e.g. fizzcheck bench quick -- -k matmul.
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise FizzcheckError(f"--output-dir {output_dir}: not a directory")
    with output_directory(output_dir):
        argv, output = bench_command(mode, output_dir, threads=threads, target=target, extra=pytest_args)
        print(f"fizzcheck bench: {mode} sweep → {output}", flush=True)
        code = call_pytest(argv)
        if output.exists() and output.stat().st_size == 0:
            output.unlink()  # pytest-benchmark opens the file before the run; a failed run leaves it empty
        if output.exists():
            print(f"fizzcheck bench: results written to {output}")
    return code

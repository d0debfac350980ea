"""Shared by the report tests: run the CLI, write small synthetic result sets."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import synthetic

from fizzcheck.cli import app as cli
from fizzcheck.cli import report as report_cli

__all__ = ["cli_module", "run_cli", "run_cli_process", "write_results"]

FAST_CASES = synthetic.CASES[:2]
FAST_SIZES = synthetic.SIZES[:4]


def _wired() -> bool:
    """Whether ``fizzcheck report``/``compare`` are registered in fizzcheck's own CLI yet."""
    return "report" in cli.fizzcheck.commands


def _main() -> Callable[[Sequence[str]], int]:
    return cli.main if _wired() else report_cli.main


def cli_module() -> str:
    return "fizzcheck" if _wired() else "fizzcheck.report"


def run_cli(*args: str | Path) -> int:
    """Run ``fizzcheck ARGS`` in this process (capture output with capsys)."""
    return _main()([str(a) for a in args])


def run_cli_process(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fizzcheck ARGS`` in a fresh interpreter."""
    argv = [sys.executable, "-m", cli_module(), *(str(a) for a in args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def write_results(
    directory: Path,
    *,
    hostname: str = "host-a",
    run: str = "1",
    failures: Sequence[str] = (),
    slowdown: dict[str, float] | None = None,
    seed: int = 0,
    properties: bool = True,
) -> list[Path]:
    """A property file and a small benchmark file from one synthetic run."""
    machine = synthetic.machine_block(hostname)
    written = []
    if properties:
        document = synthetic.property_results(
            run_id=f"p-{hostname}-{run}", machine=machine, failures=failures, seed=seed
        )
        written.append(synthetic.write_json(directory / f"properties-{hostname}-{run}.json", document))
    document = synthetic.benchmark_results(
        run_id=f"b-{hostname}-{run}", machine=machine, cases=FAST_CASES, sizes=FAST_SIZES, slowdown=slowdown, seed=seed
    )
    written.append(synthetic.write_json(directory / f"benchmarks-{hostname}-{run}.json", document))
    return written

"""``fizzcheck mutants run|compat|list`` and ``fizzcheck compat`` (also ``python -m fizzcheck.mutants ...``).

Errors are one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from fizzcheck.cli.invoke import run_command
from fizzcheck.cli.options import PROFILE_NAMES, FiniteFloatRange, pytest_args_argument

__all__ = ["compat", "list_faults", "main", "mutants", "run_faults"]

_PROFILE = click.Choice(PROFILE_NAMES)
_SECONDS = FiniteFloatRange(min=0.0, min_open=True)


@click.command(
    "run",
    short_help="plant each catalogued fault, run its target properties, write the kill matrix",
)
@click.option("--faults", help="comma-separated fault names (default: the whole catalogue; see `list`)")
@click.option("--controls", help="comma-separated controls (default: none,identity)")
@click.option("--no-controls", is_flag=True, help="run no control")
@click.option("--profile", type=_PROFILE, default="ci", help="Hypothesis profile (default: ci)")
@click.option("--jobs", type=click.IntRange(min=1), default=2, help="pytest runs at the same time (default: 2)")
@click.option(
    "--workers", type=click.IntRange(min=0), default=0, help="pytest-xdist workers per run (default: 0, no xdist)"
)
@click.option("--shrink", is_flag=True, help="keep Hypothesis's shrink phase (slow against a fault)")
@click.option("--timeout", type=_SECONDS, default=1200.0, help="seconds per run before it is killed (default: 1200)")
@click.option("--output-dir", default="reports", help="where the new report directory goes (default: reports)")
@pytest_args_argument
def run_faults(
    faults: str | None,
    controls: str | None,
    no_controls: bool,
    profile: str,
    jobs: int,
    workers: int,
    shrink: bool,
    timeout: float,
    output_dir: str,
    pytest_args: tuple[str, ...],
) -> int:
    """Plant every fault of the catalogue in turn (and the controls), run the property files it
    targets at the given Hypothesis profile, and write a kill matrix (fault × property) under a new
    reports/mutants-<run id>/.

    Exit 0 when every fault is killed, the controls are green and every witness agrees; 1
    otherwise; 2 on bad input. Arguments after -- go to every pytest run.
    """
    from fizzcheck.mutants.catalogue import CATALOGUE, CONTROLS
    from fizzcheck.mutants.run import exit_status, parse_names, print_summary, run_mutants

    chosen = parse_names(faults, [f.name for f in CATALOGUE], "--faults")
    control_names = [] if no_controls else parse_names(controls, [c.name for c in CONTROLS], "--controls")
    doc, directory = run_mutants(
        faults=chosen,
        controls=control_names,
        profile=profile,
        jobs=jobs,
        workers=workers,
        shrink=shrink,
        timeout=timeout,
        output_dir=Path(output_dir),
        pytest_args=pytest_args,
    )
    print_summary(doc, directory)
    return exit_status(doc)


@click.command(
    "compat",
    short_help="the property suite, documented behaviours and quick benchmarks against any list of torch releases",
)
@click.option(
    "--versions",
    help="comma-separated torch releases, e.g. 2.4.1,2.13.0,2.14.1 (default: $FIZZCHECK_COMPAT_VERSIONS, "
    "else the release constraints.txt pins and the newest known)",
)
@click.option(
    "--venv-dir", default=".nox/compat-venvs", help="where the per-version venvs live (default: .nox/compat-venvs)"
)
@click.option("--isolated", is_flag=True, help="use a venv even for the running interpreter's torch")
@click.option("--profile", type=_PROFILE, default="ci", help="Hypothesis profile (default: ci)")
@click.option("--workers", type=click.IntRange(min=0), default=0, help="pytest-xdist workers (default: 0)")
@click.option("--no-bench", is_flag=True, help="skip the quick benchmarks")
@click.option(
    "--bench-threads",
    type=click.IntRange(min=0),
    default=1,
    help="torch threads for the benchmarks (default: 1, robust on a shared machine; 0: torch's default)",
)
@click.option("--timeout", type=_SECONDS, default=3600.0, help="seconds per step before it is abandoned")
@click.option("--output-dir", default="reports", help="where the new report directory goes (default: reports)")
def compat(
    versions: str | None,
    venv_dir: str,
    isolated: bool,
    profile: str,
    workers: int,
    no_bench: bool,
    bench_threads: int,
    timeout: float,
    output_dir: str,
) -> int:
    """For each torch release, reuse or build an environment (the current interpreter if it has that
    torch, else a cached venv under --venv-dir with the numpy that torch works with), run the property
    suite, the documented-behaviour probe and the quick benchmarks, and write a behaviour-diff report
    (each property x release: PASS, FAIL, KNOWN DEFECT, NOT AVAILABLE, BEHAVIOUR CHANGED, SKIPPED; the
    first release of each difference) under a new reports/compat-<run id>/.

    Exit 0 when every release produced results (differences are findings); 1 when one did not;
    2 on bad input (an unknown release, a venv whose python does not run), before anything runs.
    """
    from fizzcheck.compat.run import default_versions, exit_status, parse_versions, print_summary, run_compat

    chosen = parse_versions(versions or os.environ.get("FIZZCHECK_COMPAT_VERSIONS") or default_versions())
    doc, directory = run_compat(
        versions=chosen,
        venv_dir=Path(venv_dir),
        profile=profile,
        workers=workers,
        bench=not no_bench,
        bench_threads=bench_threads or None,
        isolated=isolated,
        timeout=timeout,
        output_dir=Path(output_dir),
    )
    print_summary(doc, directory)
    return exit_status(doc)


@click.command("list", short_help="the fault catalogue: name, category, target property files")
@click.option("-v", "--verbose", is_flag=True, help="also print what each fault does")
def list_faults(verbose: bool) -> int:
    """The fault catalogue: name, category and the property files each fault targets."""
    from fizzcheck.mutants.catalogue import CATALOGUE, CONTROLS

    for fault in (*CONTROLS, *CATALOGUE):
        print(f"{fault.name:38} {fault.category:15} {' '.join(fault.targets)}")
        if verbose:
            print(f"    {fault.description}")
    return 0


@click.group(
    "mutants",
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="measure fizzcheck's power (planted faults) and compare torch versions",
)
def mutants() -> None:
    """Mutation testing of the property suite, and torch-version compatibility reports."""


mutants.add_command(run_faults)
mutants.add_command(compat)
mutants.add_command(list_faults)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fizzcheck.mutants run|compat|list``."""
    return run_command(mutants, argv, prog_name="python -m fizzcheck.mutants", error_prefix="fizzcheck mutants")

"""``fizzcheck mutants run|compat|list`` (also ``python -m fizzcheck.mutants ...``).

``register(commands)`` adds the ``mutants`` command to fizzcheck's CLI; :func:`main` is the
stand-alone entry point. Errors are one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fizzcheck.errors import FizzcheckError

__all__ = ["main", "register"]

PROFILES = ("dev", "ci", "thorough")


def _non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a non-negative integer")
    return value


def _positive_int(raw: str) -> int:
    value = _non_negative_int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a positive integer")
    return value


def _positive_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a positive number of seconds")
    return value


def _run(args: argparse.Namespace) -> int:
    from fizzcheck.mutants.catalogue import CATALOGUE, CONTROLS
    from fizzcheck.mutants.run import exit_status, parse_names, print_summary, run_mutants

    faults = parse_names(args.faults, [f.name for f in CATALOGUE], "--faults")
    controls = [] if args.no_controls else parse_names(args.controls, [c.name for c in CONTROLS], "--controls")
    doc, directory = run_mutants(
        faults=faults,
        controls=controls,
        profile=args.profile,
        jobs=args.jobs,
        workers=args.workers,
        shrink=args.shrink,
        timeout=args.timeout,
        output_dir=Path(args.output_dir),
        pytest_args=args.pytest_args,
    )
    print_summary(doc, directory)
    return exit_status(doc)


def _compat(args: argparse.Namespace) -> int:
    from fizzcheck.compat.run import DEFAULT_VERSIONS, exit_status, parse_versions, print_summary, run_compat

    versions = parse_versions(args.versions or os.environ.get("FIZZCHECK_COMPAT_VERSIONS") or DEFAULT_VERSIONS)
    doc, directory = run_compat(
        versions=versions,
        venv_dir=Path(args.venv_dir),
        profile=args.profile,
        workers=args.workers,
        bench=not args.no_bench,
        bench_threads=args.bench_threads or None,
        isolated=args.isolated,
        timeout=args.timeout,
        output_dir=Path(args.output_dir),
    )
    print_summary(doc, directory)
    return exit_status(doc)


def _list(args: argparse.Namespace) -> int:
    from fizzcheck.mutants.catalogue import CATALOGUE, CONTROLS

    for fault in (*CONTROLS, *CATALOGUE):
        print(f"{fault.name:38} {fault.category:15} {' '.join(fault.targets)}")
        if args.verbose:
            print(f"    {fault.description}")
    return 0


def add_actions(actions: Any) -> None:
    """Add ``run``, ``compat`` and ``list`` to a subparsers object."""
    run = actions.add_parser(
        "run",
        help="plant each catalogued fault, run its target properties, write the kill matrix",
        description="Plant every fault of the catalogue in turn (and the controls), run the property files it "
        "targets at the given Hypothesis profile, and write a kill matrix (fault × property) under a new "
        "reports/mutants-<run id>/. Exit 0 when every fault is killed, the controls are green and every witness "
        "agrees; 1 otherwise; 2 on bad input. Arguments after -- go to every pytest run.",
    )
    run.add_argument("--faults", help="comma-separated fault names (default: the whole catalogue; see `list`)")
    run.add_argument("--controls", help="comma-separated controls (default: none,identity)")
    run.add_argument("--no-controls", action="store_true", help="run no control")
    run.add_argument("--profile", choices=PROFILES, default="ci", help="Hypothesis profile (default: ci)")
    run.add_argument("--jobs", type=_positive_int, default=2, help="pytest runs at the same time (default: 2)")
    run.add_argument(
        "--workers", type=_non_negative_int, default=0, help="pytest-xdist workers per run (default: 0, no xdist)"
    )
    run.add_argument("--shrink", action="store_true", help="keep Hypothesis's shrink phase (slow against a fault)")
    run.add_argument(
        "--timeout", type=_positive_seconds, default=1200.0, help="seconds per run before it is killed (default: 1200)"
    )
    run.add_argument("--output-dir", default="reports", help="where the new report directory goes (default: reports)")
    run.set_defaults(handler=_run, pytest_args=[])

    compat = actions.add_parser(
        "compat",
        help="the property suite, documented behaviours and quick benchmarks against several torch versions",
        description="For each torch version, reuse or build an environment (the current interpreter if it has that "
        "torch, else a venv under --venv-dir), run the property suite, the documented-behaviour probe and the quick "
        "benchmarks, and write a behaviour-diff report under a new reports/compat-<run id>/.",
    )
    compat.add_argument(
        "--versions", help="comma-separated torch versions (default: $FIZZCHECK_COMPAT_VERSIONS or 2.13.0,2.14.1)"
    )
    compat.add_argument(
        "--venv-dir", default=".nox/compat-venvs", help="where the per-version venvs live (default: .nox/compat-venvs)"
    )
    compat.add_argument("--isolated", action="store_true", help="use a venv even for the running interpreter's torch")
    compat.add_argument("--profile", choices=PROFILES, default="ci", help="Hypothesis profile (default: ci)")
    compat.add_argument("--workers", type=_non_negative_int, default=0, help="pytest-xdist workers (default: 0)")
    compat.add_argument("--no-bench", action="store_true", help="skip the quick benchmarks")
    compat.add_argument(
        "--bench-threads",
        type=_non_negative_int,
        default=1,
        help="torch threads for the benchmarks (default: 1, robust on a shared machine; 0: torch's default)",
    )
    compat.add_argument(
        "--timeout", type=_positive_seconds, default=3600.0, help="seconds per step before it is abandoned"
    )
    compat.add_argument(
        "--output-dir", default="reports", help="where the new report directory goes (default: reports)"
    )
    compat.set_defaults(handler=_compat)

    listing = actions.add_parser("list", help="the fault catalogue: name, category, target property files")
    listing.add_argument("-v", "--verbose", action="store_true", help="also print what each fault does")
    listing.set_defaults(handler=_list)


def register(commands: Any) -> None:
    """Add ``fizzcheck mutants ...`` to fizzcheck's CLI (``fizzcheck.cli.COMMAND_MODULES``)."""
    mutants = commands.add_parser(
        "mutants",
        help="measure fizzcheck's power (planted faults) and compare torch versions",
        description="Mutation testing of the property suite, and torch-version compatibility reports.",
    )
    actions = mutants.add_subparsers(dest="mutants_action", metavar="ACTION", parser_class=type(mutants), required=True)
    add_actions(actions)


def main(argv: Sequence[str] | None = None) -> int:
    from fizzcheck.cli.app import _Parser, parse_with_passthrough

    parser = _Parser(prog="python -m fizzcheck.mutants", description="fizzcheck mutants: run | compat | list")
    add_actions(parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True))
    args = parse_with_passthrough(parser, argv)
    try:
        return int(args.handler(args))
    except FizzcheckError as exc:
        print(f"fizzcheck mutants: error: {exc}", file=sys.stderr)
        return 2
    except FileExistsError as exc:
        print(f"fizzcheck mutants: error: {exc.filename} exists; reports are never overwritten", file=sys.stderr)
        return 2

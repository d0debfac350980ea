"""``fizzcheck`` command line (also ``python -m fizzcheck``).

Every error is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from fizzcheck import __version__
from fizzcheck.errors import FizzcheckError

__all__ = ["main", "parse_with_passthrough"]

COMMAND_MODULES = (
    "fizzcheck.cli.run",
    "fizzcheck.cli.bench",
    "fizzcheck.cli.train",
    "fizzcheck.cli.report",
    "fizzcheck.cli.mutants",
)
"""Modules that add subcommands through ``register(commands)``."""

PROFILE_NAMES = ("dev", "ci", "thorough")
DEVICE_NAMES = ("cpu", "cuda")
DTYPE_NAMES = ("float32", "float64", "float16", "bfloat16")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def csv_choices(known: Sequence[str], what: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        unknown = [p for p in parts if p not in known]
        if not parts or unknown:
            raise argparse.ArgumentTypeError(f"{what} {raw!r} is not a comma-separated list of {', '.join(known)}")
        return ",".join(parts)

    return parse


TARGET_HELP = "framework under test: torch (default), seed-raw, compile[:BACKEND] or MODULE:NAME for your own"


WORKERS_HELP = "run the properties in N pytest-xdist processes (or auto); results are merged into one file"


def property_suite() -> Path:
    """The ``properties/`` directory of this checkout (or of the current directory)."""
    for candidate in (Path(__file__).resolve().parents[1] / "properties", Path.cwd() / "properties"):
        if (candidate / "test_ops.py").is_file():
            return candidate
    raise FizzcheckError("cannot find the property suite (properties/): run fizzcheck from a fizzcheck checkout")


def target_args(spec: str | None) -> list[str]:
    """pytest options selecting the target ``spec``, checked first (a bad spec is a one-line error)."""
    if spec is None:
        return []
    from fizzcheck.targets import load_target

    load_target(spec)
    return [f"--fizzcheck-target={spec}"]


def workers(raw: str) -> str:
    """argparse type of ``--workers``: a positive number of pytest-xdist processes, or auto."""
    if raw == "auto" or (raw.isdigit() and int(raw) > 0):
        return raw
    raise argparse.ArgumentTypeError(f"{raw!r}: use a positive number of worker processes or auto")


def worker_args(count: str | None) -> list[str]:
    """pytest-xdist options for ``count`` workers (none for a serial run)."""
    if count is None:
        return []
    if importlib.util.find_spec("xdist") is None:
        raise FizzcheckError("--workers needs pytest-xdist: pip install 'fizzcheck[parallel]'")
    return ["-n", count]


def _verify(args: argparse.Namespace) -> int:
    suite = property_suite()
    argv = [sys.executable, "-m", "pytest", str(suite), "-q", f"--rootdir={suite.parent}", "-p", "no:cacheprovider"]
    if args.profile:
        argv.append(f"--hypothesis-profile={args.profile}")
    if args.device:
        argv.append(f"--fizzcheck-device={args.device}")
    if args.dtype:
        argv.append(f"--fizzcheck-dtype={args.dtype}")
    argv.extend(target_args(args.target))
    argv.extend(worker_args(args.workers))
    argv.extend(args.pytest_args)
    return subprocess.call(argv, cwd=suite.parent)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fizzcheck",
        description="Check that PyTorch's training core computes what the maths says, and how fast.",
    )
    parser.add_argument("--version", action="version", version=f"fizzcheck {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    verify = commands.add_parser(
        "verify",
        help="run the property suite against torch (or another --target) and print the verification summary",
        description="Run the property suite (properties/) with pytest and print a verification summary. "
        "Arguments after -- go to pytest, e.g. fizzcheck verify -- -k test_softmax.",
    )
    verify.add_argument("--profile", choices=PROFILE_NAMES, help="Hypothesis profile (default: ci under CI, else dev)")
    verify.add_argument(
        "--device", type=csv_choices(DEVICE_NAMES, "device"), help="devices, e.g. cpu or cpu,cuda (default: all)"
    )
    verify.add_argument("--dtype", type=csv_choices(DTYPE_NAMES, "dtype"), help="dtypes, e.g. float32 (default: all)")
    verify.add_argument("--target", metavar="SPEC", help=TARGET_HELP)
    verify.add_argument("--workers", type=workers, metavar="N", help=WORKERS_HELP)
    verify.set_defaults(handler=_verify, pytest_args=[])

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def parse_with_passthrough(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; everything after the first "--" becomes ``args.pytest_args``.

    argparse cannot mix an optional positional (like bench's mode) with a trailing list of
    pass-through words, so they are cut off before parsing. A command without
    ``pytest_args`` rejects them with one line.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if hasattr(args, "pytest_args"):
        args.pytest_args = passthrough
    elif passthrough:
        name = getattr(args, "command", None) or getattr(args, "action", None) or "this command"
        parser.error(f"{name} takes no arguments after --")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_with_passthrough(parser, argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except FizzcheckError as exc:
        print(f"fizzcheck: error: {exc}", file=sys.stderr)
        return 2

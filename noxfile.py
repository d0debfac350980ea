"""Every fizzcheck workflow is a nox session: `nox -l` lists them.

torch is pinned through constraints.txt (torch==2.13.0, the CPU build); set
FIZZCHECK_TORCH=2.14.1 (any version pip can install) to run a session against another torch.
Install torch with pip, not uv: uv ignores the locally provided wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "targets", "lint", "typecheck", "browser"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PYTHON = None
"""Sessions use the interpreter nox runs under; a CI matrix chooses it (.github/workflows)."""


def _constraints(session: nox.Session) -> str:
    """Path of a constraints file: the repository's, or one pinning $FIZZCHECK_TORCH."""
    override = os.environ.get("FIZZCHECK_TORCH")
    if not override:
        return str(ROOT / "constraints.txt")
    path = Path(session.create_tmp()) / "constraints-override.txt"
    path.write_text(f"torch=={override}\n")
    session.log(f"testing against torch=={override} (FIZZCHECK_TORCH)")
    return str(path)


def _install(session: nox.Session, *extras: str) -> None:
    session.install("-c", _constraints(session), "-e", f".[{','.join(extras)}]" if extras else ".")


def _workers(session: nox.Session) -> list[str]:
    """pytest-xdist options from $FIZZCHECK_WORKERS (a number of worker processes, or auto)."""
    raw = os.environ.get("FIZZCHECK_WORKERS", "").strip()
    if raw in ("", "0"):
        return []
    if raw != "auto" and not (raw.isdigit() and int(raw) > 0):
        session.error(f"FIZZCHECK_WORKERS={raw!r}: use a positive number of worker processes or auto")
    return ["-n", raw]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """fizzcheck's own tests plus the whole property suite at the `ci` Hypothesis profile.

    FIZZCHECK_WORKERS=N (or auto) runs them in N pytest-xdist processes; FIZZCHECK_TARGET
    chooses the framework under test (default torch eager).
    """
    _install(session, "parallel")
    session.env.setdefault("FIZZCHECK_PROFILE", "ci")
    session.run("pytest", "tests", "properties", "-m", "not timing and not venv", *_workers(session), *session.posargs)


@nox.session(python=PYTHON)
def targets(session: nox.Session) -> None:
    """The property suite against the seed-raw target (torch eager runs in `tests`); the
    torch.compile target's op properties and known differences are checked in `tests`."""
    _install(session, "parallel")
    session.env.setdefault("FIZZCHECK_PROFILE", "ci")
    session.run("pytest", "properties", "--fizzcheck-target=seed-raw", *_workers(session), *session.posargs)


@nox.session(python=PYTHON, default=False)
def run(session: nox.Session) -> None:
    """The main job: property suite + quick benchmarks + report; prints the verdict and the report's path."""
    _install(session)
    session.run("fizzcheck", "run", *session.posargs)


@nox.session(python=PYTHON, default=False)
def train(session: nox.Session) -> None:
    """Train the seed's FizzBuzz net with torch and the numpy reference side by side."""
    _install(session)
    session.run("fizzcheck", "train", *session.posargs)


@nox.session(python=PYTHON, default=False)
def verify(session: nox.Session) -> None:
    """The main job: run the property suite against torch and print the verification verdict."""
    _install(session, "parallel")
    workers = _workers(session)
    session.run("fizzcheck", "verify", *(["--workers", workers[1]] if workers else []), *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: `nox -s bench -- quick` (≤ 5 min) or `-- full`; a new JSON under reports/bench/."""
    _install(session)
    session.run("fizzcheck", "bench", *(session.posargs or ["quick"]))


@nox.session(python=PYTHON)
def browser(session: nox.Session) -> None:
    """A generated index.html in headless Chromium (Debian's `chromium`): plots and tables render, no console errors."""
    _install(session)
    session.env.update(FIZZCHECK_REQUIRE_BROWSER="1", FIZZCHECK_BROWSER_ARTIFACTS=str(ROOT / "reports" / "browser"))
    session.run("pytest", "tests/report/test_report_browser.py", "-s", *session.posargs)


@nox.session(python=PYTHON, default=False)
def compare_power(session: nox.Session) -> None:
    """`fizzcheck compare` on real runs of this machine: a planted 20 % slowdown flagged, same code not."""
    _install(session)
    session.run("pytest", "tests/report/test_compare.py", "-m", "timing", "-s", *session.posargs)


@nox.session(python=PYTHON, default=False)
def install(session: nox.Session) -> None:
    """fizzcheck as a user installs it: a new venv, `pip install -c constraints.txt .`, the commands in an empty directory."""
    _install(session)
    session.run("pytest", "tests/cli/test_install.py", "-m", "venv", *session.posargs)


@nox.session(python=PYTHON, default=False)
def mutants(session: nox.Session) -> None:
    """fizzcheck's power: plant each catalogued fault into torch, run its properties, write the kill matrix."""
    _install(session)
    session.run("python", "-m", "fizzcheck.mutants", "run", *session.posargs)


@nox.session(python=PYTHON, default=False)
def compat(session: nox.Session) -> None:
    """Property suite, documented behaviours and quick benchmarks across torch versions (default 2.13.0,2.14.1)."""
    _install(session)
    session.run("python", "-m", "fizzcheck.mutants", "compat", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole project."""
    session.install("ruff")
    session.run("ruff", "check", ".", *session.posargs)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy over the fizzcheck package."""
    _install(session)
    session.install("mypy", "pandas-stubs")
    session.run("mypy", *session.posargs)

"""Every fizzcheck workflow is a nox session: `nox -l` lists them.

torch is pinned through constraints.txt (torch==2.13.0, the CPU build); set
FIZZCHECK_TORCH=2.14.1 (any version pip can install) to run a session against another torch.
Install torch with pip, not uv: uv ignores the locally provided wheel.

torch is installed once per checkout: every session that needs it runs in one shared virtual
environment, `.nox/fizzcheck` (`.nox/fizzcheck-torch-<version>` under FIZZCHECK_TORCH), built by
the first such session and reused while constraints.txt and pyproject.toml stay the same.
`lint` needs only ruff and gets its own small venv; `verify_here` uses no venv at all: it
verifies the torch of the environment nox runs in.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
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


SHARED_EXTRAS = "dev"
"""What the shared environment holds besides fizzcheck and torch: pytest-xdist, ruff, mypy (and pandas-stubs)."""


def _shared_venv(session: nox.Session) -> Path:
    """The one environment with torch that every torch session shares; built or updated here."""
    override = os.environ.get("FIZZCHECK_TORCH")
    venv = ROOT / ".nox" / (f"fizzcheck-torch-{override}" if override else "fizzcheck")
    python = venv / "bin" / "python"
    constraints = _constraints(session)
    stamp = venv / ".fizzcheck-installed"
    wanted = hashlib.sha256(
        b"".join(Path(p).read_bytes() for p in (constraints, ROOT / "pyproject.toml")) + SHARED_EXTRAS.encode()
    ).hexdigest()
    if not python.exists():
        session.log(f"creating the shared environment {venv} (torch is installed once per checkout)")
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        session.run(*pip, "-c", constraints, "-e", f".[{SHARED_EXTRAS}]", "pandas-stubs", external=True)
        stamp.write_text(wanted)
    else:
        session.log(f"reusing {venv}")
    return venv


def _install(session: nox.Session, *extras: str) -> None:
    """Put the shared torch environment first on PATH for this session (extras: all are in it)."""
    venv = _shared_venv(session)
    session.env["VIRTUAL_ENV"] = str(venv)
    session.env["PATH"] = os.pathsep.join([str(venv / "bin"), os.environ.get("PATH", "")])


def _run(session: nox.Session, *args: str) -> None:
    """Run a command of the shared environment (`pytest`, `fizzcheck`, `python`, `mypy`)."""
    venv = Path(session.env["VIRTUAL_ENV"])
    session.run(str(venv / "bin" / args[0]), *args[1:], external=True)


def _workers(session: nox.Session) -> list[str]:
    """pytest-xdist options from $FIZZCHECK_WORKERS (a number of worker processes, or auto)."""
    raw = os.environ.get("FIZZCHECK_WORKERS", "").strip()
    if raw in ("", "0"):
        return []
    if raw != "auto" and not (raw.isdigit() and int(raw) > 0):
        session.error(f"FIZZCHECK_WORKERS={raw!r}: use a positive number of worker processes or auto")
    return ["-n", raw]


@nox.session(python=PYTHON, venv_backend="none")
def tests(session: nox.Session) -> None:
    """fizzcheck's own tests plus the whole property suite at the `ci` Hypothesis profile.

    FIZZCHECK_WORKERS=N (or auto) runs them in N pytest-xdist processes; FIZZCHECK_TARGET
    chooses the framework under test (default torch eager).
    """
    _install(session, "parallel")
    session.env.setdefault("FIZZCHECK_PROFILE", "ci")
    # outside the checkout, and not session.create_tmp(): that points TMPDIR into .nox/, where the
    # nested pytest runs of fizzcheck's own tests would find this repository's pyproject.toml
    results = Path(tempfile.mkdtemp(prefix="fizzcheck-surface-"))
    _run(
        session,
        "pytest",
        "tests",
        "properties",
        "-m",
        "not timing and not venv",
        f"--fizzcheck-results={results}/properties-{{run_id}}.json",
        *_workers(session),
        *session.posargs,
    )
    if not session.posargs:  # the whole suite ran: every declared API cell must have been exercised
        _run(session, "fizzcheck", "surface", "--require-all", str(results))


@nox.session(python=PYTHON, venv_backend="none")
def targets(session: nox.Session) -> None:
    """The property suite against the seed-raw target (torch eager runs in `tests`); the
    torch.compile target's op properties and known differences are checked in `tests`."""
    _install(session, "parallel")
    session.env.setdefault("FIZZCHECK_PROFILE", "ci")
    _run(session, "pytest", "properties", "--fizzcheck-target=seed-raw", *_workers(session), *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def run(session: nox.Session) -> None:
    """`fizzcheck run`: property suite + quick benchmarks + one report, with the verdict and the report's path."""
    _install(session)
    _run(session, "fizzcheck", "run", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def train(session: nox.Session) -> None:
    """Train the seed's FizzBuzz net with torch and the numpy reference side by side."""
    _install(session)
    _run(session, "fizzcheck", "train", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def verify(session: nox.Session) -> None:
    """`fizzcheck verify` in the shared environment (pinned torch): the property suite only, with the verdict."""
    _install(session, "parallel")
    workers = _workers(session)
    _run(session, "fizzcheck", "verify", *(["--workers", workers[1]] if workers else []), *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def verify_here(session: nox.Session) -> None:
    """`fizzcheck verify` against the torch of your active environment (`python3` on PATH): no venv, no torch installed."""
    python = shutil.which("python3") or sys.executable  # the environment nox was started from (its PATH)
    check = "import torch; print(f'verifying torch {torch.__version__} at {torch.__file__}')"
    session.run(python, "-c", check, external=True)
    if subprocess.run([python, "-c", "import fizzcheck.cli"], capture_output=True).returncode != 0:
        # pip keeps the installed torch: it satisfies fizzcheck's torch>=2.0
        session.run(python, "-m", "pip", "install", "-q", "-e", ".[parallel]", external=True)
    session.run(python, "-m", "fizzcheck", "verify", *session.posargs, external=True)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: `nox -s bench -- quick` (≤ 5 min) or `-- full`; a new JSON under reports/bench/."""
    _install(session)
    _run(session, "fizzcheck", "bench", *(session.posargs or ["quick"]))


@nox.session(python=PYTHON, venv_backend="none")
def browser(session: nox.Session) -> None:
    """A generated index.html in headless Chromium (Debian's `chromium`): plots and tables render, no console errors."""
    if not any(
        shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    ):
        session.error("the browser session needs headless Chromium: apt-get install -y chromium (.ci/run installs it)")
    _install(session)
    session.env.update(FIZZCHECK_REQUIRE_BROWSER="1", FIZZCHECK_BROWSER_ARTIFACTS=str(ROOT / "reports" / "browser"))
    _run(session, "pytest", "tests/report/test_report_browser.py", "-s", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def compare_power(session: nox.Session) -> None:
    """The timing-dependent checks (marker `timing`): `fizzcheck compare`'s false-alarm rate and power over
    real run pairs with a core kept busy, the timing loop against torch.utils.benchmark, the report's 100k rows."""
    _install(session)
    timing_tests = ["tests/report/test_compare.py", "tests/bench/test_bench.py", "tests/report/test_report_speed.py"]
    _run(session, "pytest", *timing_tests, "-m", "timing", "-s", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def install(session: nox.Session) -> None:
    """fizzcheck as a user installs it: a new venv, `pip install -c constraints.txt .`, the commands in an empty directory."""
    _install(session)
    _run(session, "pytest", "tests/cli/test_install.py", "-m", "venv", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def mutants(session: nox.Session) -> None:
    """fizzcheck's power: plant each catalogued fault into torch, run its properties, write the kill matrix."""
    _install(session)
    _run(session, "python", "-m", "fizzcheck.mutants", "run", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none", default=False)
def compat(session: nox.Session) -> None:
    """Property suite, documented behaviours and quick benchmarks across torch releases (default: pinned and newest)."""
    _install(session)
    _run(session, "python", "-m", "fizzcheck.mutants", "compat", *session.posargs)


COMPAT_RELEASES = "2.0.1,2.1.2,2.4.1,2.13.0,2.14.1"
"""The torch releases fizzcheck supports and is run on by `nox -s compat_releases` (fizzcheck.compat.run.KNOWN_RELEASES)."""


@nox.session(python=PYTHON, venv_backend="none", default=False)
def compat_releases(session: nox.Session) -> None:
    """The whole property suite on every supported torch release (one cached ~5 GB venv each; 30-60 min)."""
    _install(session)
    _run(
        session,
        "python",
        "-m",
        "fizzcheck.mutants",
        "compat",
        "--no-bench",
        "--versions",
        COMPAT_RELEASES,
        *session.posargs,
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole project (its own small venv: no torch)."""
    session.install("ruff")
    session.run("ruff", "check", ".", *session.posargs)


@nox.session(python=PYTHON, venv_backend="none")
def typecheck(session: nox.Session) -> None:
    """mypy over the fizzcheck package (in the shared environment: mypy reads torch's types)."""
    _install(session)
    _run(session, "mypy", *session.posargs)

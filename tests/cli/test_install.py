"""fizzcheck as a user gets it: the wheel carries the suites, and they run from any directory.

The default tests build the wheel from a copy of the checkout, unpack it with
``pip install --no-deps --target`` and run it from an empty directory with only that
directory in front on ``PYTHONPATH``. The ``venv`` test does what a user does — a new virtual
environment, ``pip install -c constraints.txt .``, then the documented commands in an empty
directory — and takes minutes and the network: ``nox -s install``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fizzcheck.suite import BENCHMARKS, PROPERTIES, SUITE_FILTERWARNINGS, suite_path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "constraints.txt", "fizzcheck", "properties", "benchmarks")
"""What a build reads from the checkout (the rest is tests, docs and tooling)."""
SUITE_DIRECTORIES = {"fizzcheck.properties": ROOT / "properties", "fizzcheck.benchmarks": ROOT / "benchmarks"}
ONE_PROPERTY = ["--profile", "dev", "--device", "cpu", "--dtype", "float64", "--", "-k", "test_sigmoid"]


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without the settings a user's shell would not have (CI, fizzcheck's own)."""
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith(("FIZZCHECK_", "PYTEST_"))}
    return {**env, **extra}


def _copy_sources(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, destination / name)
    return destination


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


# --- the suites in the checkout -------------------------------------------------------------------


def test_the_suites_are_found_through_the_package():
    assert suite_path(PROPERTIES) == ROOT / "properties"  # an editable install points at the checkout
    assert suite_path(BENCHMARKS) == ROOT / "benchmarks"


def test_the_installed_suites_warn_as_the_checkout_does(pytestconfig):
    assert pytestconfig.inipath == ROOT / "pyproject.toml"
    assert tuple(pytestconfig.getini("filterwarnings")) == SUITE_FILTERWARNINGS


# --- the wheel ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel --no-deps`` builds from the checkout (a copy, so no build/ appears in it)."""
    source = _copy_sources(tmp_path_factory.mktemp("source") / "fizzcheck")
    dist = source.parent / "dist"
    # without setuptools here (a bare venv), pip fetches it into an isolated build environment
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation, str(source), "-w", str(dist)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (built,) = dist.glob("fizzcheck-*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked as pip installs it (no dependencies: they are this environment's)."""
    target = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return target


def _installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in ``cwd`` with the unpacked wheel first on the path."""
    env = _clean_env(PYTHONPATH=str(site))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_every_package_of_the_tree_ships(wheel):
    """pyproject.toml lists the packages (the suites are mapped in): a new package must be added there."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in sorted((ROOT / "fizzcheck").rglob("__init__.py")):
        module = init.relative_to(ROOT).as_posix()
        assert module in names, f"{module}: add its package to [tool.setuptools] packages in pyproject.toml"
        for file in sorted(init.parent.glob("*.py")):
            assert file.relative_to(ROOT).as_posix() in names


def test_the_wheel_carries_the_suites_and_the_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package, directory in SUITE_DIRECTORIES.items():
        for file in _files(directory):
            if file.endswith(".py"):
                assert f"{package.replace('.', '/')}/{file}" in names
    assert {"fizzcheck/properties/test_ops.py", "fizzcheck/benchmarks/test_cases.py"} <= names
    templates = ROOT / "fizzcheck" / "report" / "templates"
    assert _files(templates), "the report templates moved: update this test and the package-data"
    assert {f"fizzcheck/report/templates/{f}" for f in _files(templates)} <= names
    assert not any(name.startswith(("properties/", "benchmarks/", "tests/")) for name in names)


def test_verify_from_an_empty_directory_runs_the_installed_suite(site, tmp_path):
    where = _installed(site, tmp_path, "-c", "import fizzcheck.suite as s; print(s.suite_path(s.PROPERTIES))")
    assert Path(where.stdout.strip()) == site / "fizzcheck" / "properties", where.stderr
    done = _installed(site, tmp_path, "-m", "fizzcheck", "verify", *ONE_PROPERTY)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "properties/test_ops.py::test_sigmoid[cpu-float64]" in done.stdout
    assert "verdict: PASS" in done.stdout
    assert {p.name for p in tmp_path.iterdir()} <= {".hypothesis"}


def test_pytest_pyargs_runs_the_installed_suite(site, tmp_path):
    done = _installed(site, tmp_path, "-m", "pytest", "--pyargs", "fizzcheck.properties", "-q", "-p",
                      "no:cacheprovider", "--hypothesis-profile=dev", "--fizzcheck-device=cpu",
                      "--fizzcheck-dtype=float64", "-k", "test_sigmoid")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PASS" in done.stdout


def test_failing_commands_leave_no_directory_behind(site, tmp_path):
    bad = {
        ("run", "--device", "tpu"): 2,  # rejected before anything runs
        ("run", "--no-bench", "--target", "no_such_module_xyz:T"): 2,
        ("bench", "quick", "--output-dir", "out", "--", "--no-such-pytest-option"): 4,  # pytest's usage error
        ("verify", "--", "--no-such-pytest-option"): 4,
    }
    for args, status in bad.items():
        done = _installed(site, tmp_path, "-m", "fizzcheck", *args)
        assert done.returncode == status, (args, done.stderr[-2000:])
        assert list(tmp_path.iterdir()) == [], args


def test_verify_from_an_empty_directory_with_this_install(tmp_path):
    """The package installed here (editable in a checkout) finds its suite from anywhere too."""
    command = [sys.executable, "-m", "fizzcheck", "verify", *ONE_PROPERTY]
    done = subprocess.run(command, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PASS" in done.stdout
    assert {p.name for p in tmp_path.iterdir()} <= {".hypothesis"}


# --- a new virtual environment (nox -s install) --------------------------------------------------

USER_TARGET = '''
from fizzcheck.targets import Target


class MyTarget(Target):
    """torch eager under another name: a user's target, importable from the working directory."""
'''


@pytest.mark.venv
def test_a_new_venv_runs_the_documented_commands_from_an_empty_directory(tmp_path, pytestconfig):
    if "venv" not in (pytestconfig.getoption("markexpr") or ""):
        pytest.skip("a new venv, the network and about 5 minutes: selected with -m venv (nox -s install)")
    source = _copy_sources(tmp_path / "checkout")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(source / "constraints.txt")]
    done = subprocess.run([*pip, str(source)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(source)  # nothing may read the checkout from here on
    work = tmp_path / "empty"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = _clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
        env.pop("PYTHONPATH", None)
        return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=3600)

    done = run("fizzcheck", "run", "--device", "tpu")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert list(work.iterdir()) == []

    done = run("fizzcheck", "verify", "--profile", "dev")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PASS" in done.stdout

    done = run("pytest", "--pyargs", "fizzcheck.properties", "-q", "--hypothesis-profile=dev", "-x")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    (work / "my_pkg").mkdir()
    (work / "my_pkg" / "__init__.py").write_text("")
    (work / "my_pkg" / "mod.py").write_text(USER_TARGET)
    done = run("fizzcheck", "verify", "--profile", "dev", "--target", "my_pkg.mod:MyTarget", "--", "-k", "test_ops")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PASS" in done.stdout

    done = run("fizzcheck", "run", "--no-bench", "--profile", "dev")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (report,) = (work / "reports").glob("fizzcheck-report-*")
    assert (report / "summary.md").read_text().startswith("## fizzcheck: PASS")
    assert (report / "index.html").is_file()

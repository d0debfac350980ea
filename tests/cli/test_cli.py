"""The command line: help works, bad arguments get one line and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import fizzcheck.suite
from fizzcheck.cli import app as cli

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="what a machine without CUDA does")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fizzcheck", *args], capture_output=True, text=True, timeout=120)


def test_module_help_works():
    result = _run("--help")
    assert result.returncode == 0
    assert "verify" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "--device", "tpu"], "device 'tpu' is not a comma-separated list of cpu, cuda"),
        (["verify", "--dtype", "int8"], "dtype 'int8'"),
        (["verify", "--profile", "fast"], "'fast' is not one of 'dev', 'ci', 'thorough'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["verify", "-k", "test_softmax"], "No such option '-k'"),  # pytest's options go after --
        (["run", "--", "-k", "x"], "unexpected extra arguments (-k x)"),
        (["bench", "fast"], "'fast' is not one of 'quick', 'full'"),
        (["train", "--lr", "nan"], "'nan' is not a finite number"),
        (["mutants"], "Missing command"),
        (["verify", "--target", "pytorch"], "target 'pytorch' is unknown"),
        (["verify", "--target", "no_such_module_xyz:T"], "cannot import 'no_such_module_xyz'"),
        (["verify", "--workers", "0"], "'0': use a positive number of worker processes or auto"),
        (["run", "--target", "compile:warp"], "unknown torch.compile backend"),
        (["bench", "--target", "seed-raw:x"], "'seed-raw' takes no ':' option"),
        pytest.param(
            ["verify", "--device", "cuda"], "fizzcheck: error: --device cuda: cuda not available (", marks=NO_CUDA
        ),
        pytest.param(
            ["run", "--device", "cpu,cuda"], "fizzcheck: error: --device cpu,cuda: cuda not available (", marks=NO_CUDA
        ),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args, message):
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_usage_errors_name_the_command_and_where_help_is(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", "--dtype", "int8"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "fizzcheck verify: error: Invalid value for '--dtype': dtype 'int8' is not a comma-separated list of "
        "float64, float32, float16, bfloat16 (see fizzcheck verify --help)\n"
    )


def test_help_and_version_exit_0(capsys):
    assert cli.main([]) == 0
    assert "Commands:" in capsys.readouterr().out
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("fizzcheck ")
    assert cli.main(["verify", "-h"]) == 0
    assert "[-- PYTEST_ARGS...]" in capsys.readouterr().out


def test_missing_property_suite_is_a_one_line_error(monkeypatch, capsys):
    real_find_spec = fizzcheck.suite.importlib.util.find_spec
    monkeypatch.setattr(
        fizzcheck.suite.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "fizzcheck.properties" else real_find_spec(name, *a),
    )
    assert cli.main(["verify"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "fizzcheck: error: cannot find the suite fizzcheck.properties: reinstall fizzcheck (pip install fizzcheck)"
    )


def test_every_pytest_command_names_the_suite_and_its_options():
    argv = fizzcheck.suite.pytest_command(
        fizzcheck.suite.PROPERTIES,
        files=["test_ops.py"],
        profile="ci",
        device="cpu",
        dtype="float32",
        target="seed-raw",
        workers=2,
        results=Path("r.json"),
        plugins=["fizzcheck.mutants.plugin"],
        extra=["-k", "softmax"],
    )
    suite = fizzcheck.suite.suite_path(fizzcheck.suite.PROPERTIES)
    assert argv == [
        sys.executable, "-m", "pytest", str(suite / "test_ops.py"), "-q", "-p", "no:cacheprovider",
        f"--rootdir={suite.parent}", "-p", "fizzcheck.mutants.plugin", "--hypothesis-profile=ci",
        "--fizzcheck-device=cpu", "--fizzcheck-dtype=float32", "--fizzcheck-target=seed-raw",
        "--fizzcheck-results=r.json", "-n", "2", "-k", "softmax",
    ]  # fmt: skip
    assert (suite / "test_ops.py").is_file()
    assert fizzcheck.suite.pytest_command(fizzcheck.suite.PROPERTIES, workers=0)[4:] == [
        "-q", "-p", "no:cacheprovider", f"--rootdir={suite.parent}"
    ]  # fmt: skip


def test_a_user_target_in_the_current_directory(tmp_path, monkeypatch):
    package = tmp_path / "my_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("from fizzcheck.targets import Target\n\nclass MyTarget(Target):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    result = _run("verify", "--profile", "dev", "--device", "cpu", "--dtype", "float64", "--target",
                  "my_pkg.mod:MyTarget", "--", "-k", "test_sigmoid")  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "verdict: PASS" in result.stdout
    assert {p.name for p in tmp_path.iterdir()} <= {".hypothesis", "my_pkg"}  # no empty .benchmarks/


def test_verify_against_a_target_in_parallel(tmp_path):
    results = tmp_path / "results.json"
    result = _run(
        "verify", "--profile", "dev", "--device", "cpu", "--dtype", "float32", "--target", "seed-raw",
        "--workers", "2", "--", "-k", "test_softmax or test_cross_entropy", f"--fizzcheck-results={results}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    assert "bringing up nodes" in result.stdout  # pytest-xdist ran it
    assert "verdict: PASS" in result.stdout
    payload = json.loads(results.read_text())
    assert payload["target"]["spec"] == "seed-raw"
    assert {r["property"] for r in payload["properties"] if r["outcome"] == "passed"} >= {
        "test_softmax",
        "test_cross_entropy",
    }


def test_verify_runs_the_suite_and_prints_the_verdict():
    result = _run("verify", "--profile", "dev", "--device", "cpu", "--dtype", "float64", "--", "-k", "test_sigmoid")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "fizzcheck verification summary" in result.stdout
    assert "verdict: PASS" in result.stdout
    assert "test_sigmoid[cpu-float64]" in result.stdout


def test_verify_checks_the_torch_of_this_environment():
    """`fizzcheck verify` (what `nox -s verify_here` runs) verifies the torch this interpreter imports, by default on
    every device it has, and says so in its verdict."""
    result = _run("verify", "--profile", "dev", "--", "-k", "test_sigmoid")
    assert result.returncode == 0, result.stdout[-2000:]
    (verdict,) = [line for line in result.stdout.splitlines() if line.startswith("verdict: ")]
    assert f"; target torch (torch {torch.__version__}); verified on cpu (float32, float64)" in verdict
    if torch.cuda.is_available():
        assert "cuda (" in verdict
    else:
        assert "; cuda not available (torch.cuda.is_available() is False)" in verdict
        assert "cuda-" not in result.stdout  # no CUDA rows at all


def test_the_verify_here_session_installs_no_torch():
    """`nox -s verify_here` runs in the environment nox was started from (no venv) and installs no torch."""
    import ast

    tree = ast.parse((fizzcheck.suite.checkout_root() / "noxfile.py").read_text())
    (session,) = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "verify_here"]
    (decorator,) = session.decorator_list
    keywords = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords if k.arg != "python"}
    assert keywords["venv_backend"] == "none"
    source = ast.get_source_segment((fizzcheck.suite.checkout_root() / "noxfile.py").read_text(), session)
    assert "torch==" not in source
    assert "constraints" not in source
    assert '"fizzcheck", "verify"' in source

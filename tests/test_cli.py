"""The command line: help works, bad arguments get one line and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fizzcheck.cli import app as cli


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
        (["verify", "--profile", "fast"], "invalid choice: 'fast'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["verify", "--target", "pytorch"], "target 'pytorch' is unknown"),
        (["verify", "--target", "no_such_module_xyz:T"], "cannot import 'no_such_module_xyz'"),
        (["verify", "--workers", "0"], "'0': use a positive number of worker processes or auto"),
        (["run", "--target", "compile:warp"], "unknown torch.compile backend"),
        (["bench", "--target", "seed-raw:x"], "'seed-raw' takes no ':' option"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args, message):
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_property_suite_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "fizzcheck" / "cli.py"))
    assert cli.main(["verify"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "fizzcheck: error: cannot find the property suite (properties/): run fizzcheck from a fizzcheck checkout"
    )


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

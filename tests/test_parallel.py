"""pytest-xdist: a parallel run's merged property results equal the serial run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SELECTION = ["properties/test_ops.py", "-k", "sigmoid or mse or softmax_rejects"]
VARIES = ("duration_s",)  # wall time is the only per-process quantity in a row


def _run(results: Path, *extra: str) -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in ("CI", "FIZZCHECK_PROFILE") and not k.startswith("PYTEST_XDIST")
    }
    command = [sys.executable, "-m", "pytest", *SELECTION, "-q", "-p", "no:cacheprovider", "--hypothesis-profile=ci",
               "--fizzcheck-device=cpu", f"--fizzcheck-results={results}", *extra]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json.loads(results.read_text())


def _rows(payload: dict) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in VARIES} for row in payload["properties"]]


def test_parallel_results_equal_serial(tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist not installed (pip install 'fizzcheck[parallel]')")
    serial = _run(tmp_path / "serial.json")
    parallel = _run(tmp_path / "parallel.json", "-n", "2")
    assert len(serial["properties"]) >= 6
    assert {r["outcome"] for r in serial["properties"]} >= {"passed"}
    # same tests, outcomes, example counts and largest error/bound: derandomised Hypothesis
    # draws the same examples in any process, and the controller merges every worker's rows
    assert _rows(parallel) == _rows(serial)
    assert parallel["target"] == serial["target"]

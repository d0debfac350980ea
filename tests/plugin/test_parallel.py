"""pytest-xdist: a parallel run's merged property results equal the serial run's.

Both runs are the command line fizzcheck itself builds (:func:`fizzcheck.suite.pytest_command`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fizzcheck.suite import PROPERTIES, pytest_command

ROOT = Path(__file__).resolve().parents[2]
SELECTION = ["-k", "sigmoid or mse or softmax_rejects"]
VARIES = ("duration_s",)  # wall time is the only per-process quantity in a row


def _run(results: Path, workers: int = 0) -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in ("CI", "FIZZCHECK_PROFILE") and not k.startswith("PYTEST_XDIST")
    }
    command = pytest_command(
        PROPERTIES, files=["test_ops.py"], profile="ci", device="cpu", results=results, workers=workers, extra=SELECTION
    )
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json.loads(results.read_text())


def _rows(payload: dict) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in VARIES} for row in payload["properties"]]


def test_parallel_results_equal_serial(tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist not installed (pip install 'fizzcheck[parallel]')")
    serial = _run(tmp_path / "serial.json")
    parallel = _run(tmp_path / "parallel.json", workers=2)
    assert len(serial["properties"]) >= 6
    assert {r["outcome"] for r in serial["properties"]} >= {"passed"}
    # same tests, outcomes, example counts and largest error/bound: derandomised Hypothesis
    # draws the same examples in any process, and the controller merges every worker's rows
    assert _rows(parallel) == _rows(serial)
    assert parallel["target"] == serial["target"]
    # the controller counts once per test: the same counts and verdict as the serial run
    assert parallel["counts"] == serial["counts"]
    assert sum(parallel["counts"].values()) == len(parallel["properties"])
    assert parallel["verdict"] == serial["verdict"]

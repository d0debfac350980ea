"""``fizzcheck run``: properties → (benchmarks) → report, with the verdict and exit status."""

from __future__ import annotations

import json
import re

import pytest
import torch

import fizzcheck.suite
from fizzcheck.cli import app as cli
from fizzcheck.report.markdown import md_text

SUITE = """
import numpy as np
from fizzcheck.check import assert_close
from fizzcheck.plugin.reproduce import run_check

def check_identity(x, *, shift):
    assert_close(np.asarray(x) + shift, np.asarray(x), bound=1e-3, op="identity")

def test_identity(device, dtype):
    run_check(check_identity, x=np.arange(3.0), shift=SHIFT)
"""


@pytest.fixture
def suite(tmp_path, monkeypatch):
    directory = tmp_path / "checkout" / "properties"
    directory.mkdir(parents=True)
    real_suite_path = fizzcheck.suite.suite_path
    monkeypatch.setattr(
        fizzcheck.suite,
        "suite_path",
        lambda package: directory if package == fizzcheck.suite.PROPERTIES else real_suite_path(package),
    )

    def write(shift: float) -> None:
        (directory / "test_ops.py").write_text(SUITE.replace("SHIFT", repr(shift)))

    return write


def test_run_writes_results_and_a_report_and_prints_the_verdict(suite, tmp_path, capfd):
    suite(0.0)
    status = cli.main(
        ["run", "--no-bench", "--profile", "dev", "--device", "cpu", "--output-dir", str(tmp_path / "out")]
    )
    out = capfd.readouterr().out
    assert status == 0, out[-3000:]
    assert "fizzcheck run [1/2] property suite" in out
    assert "fizzcheck: PASS" in out
    (report,) = (tmp_path / "out").glob("fizzcheck-report-*")
    assert (report / "summary.md").read_text().startswith("## fizzcheck: PASS")
    assert (report / "index.html").is_file()
    assert len(list((tmp_path / "out" / "runs").glob("*/properties-*.json"))) == 1


def test_a_failing_property_gives_fail_and_exit_1_and_keeps_earlier_reports(suite, tmp_path, capfd):
    out_dir = tmp_path / "out"
    suite(0.0)
    assert cli.main(["run", "--no-bench", "--profile", "dev", "--device", "cpu", "--output-dir", str(out_dir)]) == 0
    (first,) = out_dir.glob("fizzcheck-report-*")
    before = (first / "summary.md").read_text()
    suite(1.0)
    status = cli.main(["run", "--no-bench", "--profile", "dev", "--device", "cpu", "--output-dir", str(out_dir)])
    out = capfd.readouterr().out
    assert status == 1
    assert "fizzcheck: FAIL" in out
    reports = sorted(out_dir.glob("fizzcheck-report-*"))
    assert len(reports) == 2
    assert (first / "summary.md").read_text() == before
    failed = next(r for r in reports if r != first)
    assert "check_identity(x=x, shift=shift)" in (failed / "summary.md").read_text()


@pytest.mark.parametrize(
    ("args", "dtypes"),
    [
        (["--device", "tpu"], None),  # rejected by the command line
        pytest.param(
            ["--device", "cuda"],
            None,
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA"),
        ),  # not available here: an error, never a green run
        (["--target", "no_such_module_xyz:T"], None),  # rejected by the command line
        (["--profile", "dev", "--device", "cpu"], "int8"),  # pytest stops before the suite writes results
    ],
)
def test_a_failing_run_leaves_no_directory_behind(suite, tmp_path, monkeypatch, capfd, args, dtypes):
    suite(0.0)
    if dtypes:
        monkeypatch.setenv("FIZZCHECK_DTYPES", dtypes)
    monkeypatch.chdir(tmp_path)
    out_dir = tmp_path / "new" / "reports"
    try:
        status = cli.main(["run", "--no-bench", *args, "--output-dir", str(out_dir)])
    except SystemExit as exc:  # usage errors exit, as argparse's did
        status = exc.code
    captured = capfd.readouterr()
    assert status == 2, captured.out[-2000:]
    assert captured.err.strip().splitlines()[-1].startswith("fizzcheck"), captured.err
    assert not (tmp_path / "new").exists()
    assert not (tmp_path / ".benchmarks").exists()


NO_MOMENTUM_TARGET = """
import torch
from fizzcheck.targets import Target


class NoMomentumSGD(torch.optim.SGD):
    \"\"\"A planted fault: SGD that ignores momentum (and so never keeps a momentum buffer).\"\"\"

    def step(self, closure=None):
        saved = [group["momentum"] for group in self.param_groups]
        for group in self.param_groups:
            group["momentum"] = 0.0
        try:
            return super().step(closure)
        finally:
            for group, momentum in zip(self.param_groups, saved):
                group["momentum"] = momentum


class NoMomentum(Target):
    name = "no-momentum"

    def overrides(self):
        return {"optim.SGD": NoMomentumSGD}
"""

OPTIM_SUITE = """
from fizzcheck.properties.test_optim import test_sgd_trajectory, test_zero_lr_changes_nothing  # noqa: F401
"""


def test_a_planted_failure_is_fail_with_the_same_counts_and_run_id_everywhere(tmp_path, monkeypatch, capfd):
    """A user's target whose SGD ignores momentum: FAIL in the terminal, the JSON, summary.md and index.html,
    with one run id and the same per-outcome counts in all four."""
    directory = tmp_path / "checkout" / "properties"
    directory.mkdir(parents=True)
    (directory / "test_optim.py").write_text(OPTIM_SUITE)
    real_suite_path = fizzcheck.suite.suite_path
    monkeypatch.setattr(
        fizzcheck.suite,
        "suite_path",
        lambda package: directory if package == fizzcheck.suite.PROPERTIES else real_suite_path(package),
    )
    (tmp_path / "no_momentum.py").write_text(NO_MOMENTUM_TARGET)
    monkeypatch.chdir(tmp_path)
    status = cli.main(["run", "--no-bench", "--profile", "dev", "--target", "no_momentum:NoMomentum",
                       "--output-dir", "out"])  # fmt: skip
    out = capfd.readouterr().out
    assert status == 1, out[-3000:]

    (results,) = (tmp_path / "out" / "runs").glob("*/properties-*.json")
    payload = json.loads(results.read_text())
    run_id = payload["run_id"]
    assert results.parent.name == run_id  # the run's directory, its results file and its report: one id
    counts = payload["counts"]
    assert counts["failed"] >= 1
    assert sum(counts.values()) == len(payload["properties"])
    rows = {r["nodeid"]: r["outcome"] for r in payload["properties"]}
    assert any("test_sgd_trajectory" in n and o == "failed" for n, o in rows.items())
    assert all(o == "passed" for n, o in rows.items() if "test_zero_lr" in n)  # lr = 0 needs no momentum
    verdict = payload["verdict"]
    assert verdict.startswith("FAIL — ")
    assert "target no_momentum:NoMomentum (torch " in verdict

    # the terminal: the plugin's summary and run's last line say the same
    counts_line = re.search(r"^counts: (.*) \((\d+) property tests; run (\S+)\)$", out, re.MULTILINE)
    assert counts_line is not None, out[-3000:]
    assert counts_line.group(2) == str(len(payload["properties"]))
    assert counts_line.group(3) == run_id
    assert f"verdict: {verdict}" in out.splitlines()
    assert f"fizzcheck: {verdict}" in out.splitlines()

    (report,) = (tmp_path / "out").glob("fizzcheck-report-*")
    summary = (report / "summary.md").read_text()
    page = (report / "index.html").read_text()
    assert summary.startswith(f"## fizzcheck: {md_text(verdict)}\n")
    text = counts_line.group(1)
    assert f"**Counts:** {text} ({len(payload['properties'])} property tests)" in summary
    assert f"<strong>Counts:</strong> {text} ({len(payload['properties'])} property tests)" in page
    assert f"fizzcheck run {run_id}" in summary  # the report's title names the run
    assert "1 result file(s), 1 run(s) on 1 machine(s)" in summary
    assert f"### FAIL ({counts['failed'] + counts['error']})" in summary
    assert f'<p class="verdict FAIL" id="verdict">fizzcheck: {verdict}' in page.replace("&#39;", "'")

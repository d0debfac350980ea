"""``fizzcheck run``: properties → (benchmarks) → report, with the verdict and exit status."""

from __future__ import annotations

import pytest

import fizzcheck.suite
from fizzcheck.cli import app as cli

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

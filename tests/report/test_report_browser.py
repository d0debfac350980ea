"""index.html in a real browser: headless Chromium renders every plot and table, logs nothing, runs no injected code.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped with that reason when
it is absent, unless ``$FIZZCHECK_REQUIRE_BROWSER`` is set (CI), which makes that an error. The screenshot is kept: in ``$FIZZCHECK_BROWSER_ARTIFACTS`` if set (CI uploads
it), else in pytest's temporary directory; its path is printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import synthetic
from report_helpers import write_results

from fizzcheck.report import build_report, load_results, save_report
from fizzcheck.report.templating import render_check_js

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for path in map(shutil.which, BROWSER_NAMES) if path), None)
MISSING = "headless Chromium is not installed (Debian: apt-get install -y chromium)"
if BROWSER is None and os.environ.get("FIZZCHECK_REQUIRE_BROWSER"):  # CI: a missing browser fails, never skips
    raise RuntimeError(f"FIZZCHECK_REQUIRE_BROWSER is set but {MISSING}")
pytestmark = pytest.mark.skipif(BROWSER is None, reason=MISSING)
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"><script>document.body.dataset.pwned=2</script>'


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args, page.as_uri(),
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _console_messages(stderr: str) -> list[str]:
    """What the page logged: Chromium prints each console message (and uncaught error) as ``CONSOLE``."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def _body_attributes(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """A report with two machines, a failure with a reproducer, and hostile strings everywhere."""
    results = tmp_path_factory.mktemp("results")
    write_results(results, hostname="ci-cpu-1", seed=1, failures=["test_softmax[cpu-float64]"])
    write_results(results, hostname="ci-cpu-2", seed=2)
    machine = synthetic.machine_block(HOSTILE, cpu_model=HOSTILE)
    document = synthetic.property_results(run_id="hostile", machine=machine, failures=["test_matmul[cpu-float32]"])
    document["properties"][0].update(nodeid=HOSTILE, message=HOSTILE, reproducer=HOSTILE)
    synthetic.write_json(results / "hostile-properties.json", document)
    bench = synthetic.benchmark_results(
        run_id="hostile-b", machine=machine, cases=synthetic.CASES[:1], sizes=synthetic.SIZES[:3]
    )
    for benchmark in bench["benchmarks"]:
        benchmark["extra_info"]["implementation"] += HOSTILE
    synthetic.write_json(results / "hostile-benchmarks.json", bench)
    report = build_report(load_results([results]), title=HOSTILE)
    return save_report(report, tmp_path_factory.mktemp("reports")), report


def test_every_plot_and_table_renders_without_console_errors(report_dir, tmp_path):
    directory, report = report_dir
    page = directory / "index.html"
    result = _chromium(page, tmp_path / "profile", "--dump-dom", "--virtual-time-budget=5000")
    assert result.returncode == 0, result.stderr[-3000:]
    attributes = _body_attributes(result.stdout)
    assert attributes.get("data-render-check") == "ok", attributes
    assert int(attributes["data-plots"]) == len(report.figures) == result.stdout.count('class="fizzcheck-plot"')
    assert int(attributes["data-tables"]) == result.stdout.count("<table>") >= 5
    assert "data-pwned" not in attributes  # no injected code ran
    assert _console_messages(result.stderr) == []


def test_screenshot_is_kept_as_an_artifact(report_dir, tmp_path):
    directory, _ = report_dir
    artifacts = Path(os.environ.get("FIZZCHECK_BROWSER_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    screenshot = artifacts / "report-index.png"
    result = _chromium(directory / "index.html", tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,2000",
                       "--hide-scrollbars")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a rendered page, not a blank one
    print(f"report screenshot: {screenshot}")


def test_the_console_check_sees_errors(tmp_path):
    """The check above is not vacuous: a page that throws, logs, or draws nothing is caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        '<svg class="fizzcheck-plot" data-points="3" width="0" height="0"></svg>'
        '<script>console.error("logged"); throw new Error("boom");</script>'
        f"<script>{render_check_js()}</script></body></html>"
    )
    result = _chromium(page, tmp_path / "profile", "--dump-dom")
    messages = _console_messages(result.stderr)
    assert any("logged" in m for m in messages)
    assert any("Uncaught Error: boom" in m for m in messages)
    assert _body_attributes(result.stdout)["data-render-check"] == "failed: 0"

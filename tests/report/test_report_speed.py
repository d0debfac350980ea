"""How long a report takes: 100 000 benchmark rows aggregated and rendered (target ≤ 5 s).

``pytest tests/report/test_report_speed.py -s`` prints the figure; pytest-benchmark records it
(``--benchmark-json``). The assertion leaves a factor two for loaded shared machines: it guards
against a slow-down by a large factor, the printed figure is the measurement.
"""

from __future__ import annotations

import os
import time

import pytest
import synthetic

from fizzcheck.report import build_report, save_report

ROWS = 100_000
TARGET_S = 5.0
LIMIT_S = float(os.environ.get("FIZZCHECK_REPORT_LIMIT_S", 2 * TARGET_S))


@pytest.fixture(scope="module")
def history():
    return synthetic.history_results(ROWS)


def test_aggregate_and_render_100k_rows(benchmark, history, tmp_path):
    elapsed: list[float] = []

    def aggregate_and_render():
        start = time.perf_counter()
        directory = save_report(build_report(history), tmp_path / "reports")
        elapsed.append(time.perf_counter() - start)
        return directory

    directory = benchmark.pedantic(aggregate_and_render, rounds=1, iterations=1)
    seconds = min(elapsed)
    print(f"\n{len(history.speed)} speed rows from {history.speed['run_id'].nunique()} runs on "
          f"{history.speed['machine_id'].nunique()} machines: aggregated and rendered in {seconds:.2f} s (target {TARGET_S:g} s)")  # fmt: skip
    assert len(history.speed) >= ROWS
    assert (directory / "speed.csv").stat().st_size > 10_000_000
    assert (directory / "summary.md").stat().st_size < 1_000_000  # fits a GitHub job summary
    assert (directory / "index.html").read_text().count('class="fizzcheck-plot"') >= 16 * 3
    assert seconds <= LIMIT_S

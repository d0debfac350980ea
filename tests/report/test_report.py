"""fizzcheck.report: loading into tidy tables, the verdict, tables, plots, escaping, report directories, CLI."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
import synthetic
from report_helpers import FAST_CASES, FAST_SIZES, run_cli, run_cli_process, write_results

from fizzcheck.cli import report as report_cli
from fizzcheck.errors import FizzcheckError
from fizzcheck.report import load_results, plots, tables
from fizzcheck.report.build import build_report
from fizzcheck.report.cells import verification_rows
from fizzcheck.report.files import write_csv, write_report
from fizzcheck.report.html import index_html
from fizzcheck.report.markdown import MARKDOWN_FAILURE_LIMIT, md_code, md_text, summary_markdown
from fizzcheck.report.templating import Cell, table_html, templates

NOW = datetime(2026, 11, 29, 6, 15, 2, tzinfo=timezone.utc)
IMPLEMENTATIONS = len(synthetic.IMPLEMENTATIONS)
ROWS_PER_RUN = len(FAST_CASES) * IMPLEMENTATIONS * 2 * len(FAST_SIZES)  # × dtypes; CPU only
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">|`x`*y*\n<script>alert(1)</script>&amp;'


@pytest.fixture
def results_dir(tmp_path):
    directory = tmp_path / "results"
    write_results(directory, hostname="host-a", run="1", seed=1)
    write_results(directory / "nested", hostname="host-a", run="2", seed=2)
    write_results(directory, hostname="host-b", run="1", seed=3, failures=["test_matmul[cpu-float32]"])
    return directory


def test_load_builds_tidy_tables_over_runs_and_machines(results_dir):
    results = load_results([results_dir])
    assert len(results.files) == 6  # directories are searched recursively
    assert len(results.speed) == 3 * ROWS_PER_RUN
    assert results.speed.groupby(["run_id", "machine_id"]).ngroups == 3
    assert set(results.speed["implementation"]) == set(synthetic.IMPLEMENTATIONS)
    assert len(results.verification) == 3 * 6 * 2 * 2  # runs × properties × devices × dtypes
    assert set(results.machines["hostname"]) == {"host-a", "host-b"}
    assert set(results.peaks["device"]) == {"cpu"}
    row = results.speed.iloc[0]
    assert row["gflops"] == pytest.approx(row["flops"] / row["median_s"] / 1e9)
    assert len(row["samples"]) == row["rounds"]
    assert row["size_params"].startswith("n=")
    assert list(results.speed.columns)[:5] == ["case", "implementation", "device", "dtype", "size"]


def test_a_file_given_twice_is_read_once(results_dir):
    files = sorted(results_dir.glob("*.json"))
    assert len(load_results([*files, files[0], results_dir]).files) == 6


def test_benchmarks_without_fizzcheck_extra_info_are_ignored_with_a_note(tmp_path):
    document = synthetic.benchmark_results(
        run_id="r", machine=synthetic.machine_block(), cases=FAST_CASES, sizes=FAST_SIZES
    )
    document["benchmarks"][0]["extra_info"] = {}
    path = synthetic.write_json(tmp_path / "b.json", document)
    results = load_results([path])
    assert len(results.speed) == ROWS_PER_RUN - 1
    assert results.notes == (
        f"{path}: ignored 1 benchmark(s) without fizzcheck extra_info ({document['benchmarks'][0]['fullname']})",
    )


def test_verdict_pass_names_the_property_closest_to_its_bound(tmp_path):
    write_results(tmp_path, seed=4)
    results = load_results([tmp_path])
    verdict = tables.verdict(results.verification, results.machines)
    passed = results.verification[results.verification["outcome"] == "passed"]
    closest = passed.loc[passed["max_error_ratio"].idxmax()]
    assert verdict.status == "PASS"
    # one count per property test result: 6 properties × 2 devices × 2 dtypes, the CUDA half skipped
    assert verdict.counts["passed"] == len(passed) == 12
    assert verdict.counts["skipped"] == 12
    assert verdict.total == len(results.verification)
    assert verdict.closest_ratio == closest["max_error_ratio"]
    assert verdict.closest_test == f"{closest['property']}[cpu-{closest['dtype']}]"
    assert verdict.headline.startswith("PASS — 12 passed, 0 failed, 0 errors, 12 skipped of 24 property tests; ")
    assert "; verified on cpu (float32, float64)" in verdict.headline
    assert f"closest to the edge: {closest['max_error_ratio']:.3g} of the bound" in verdict.headline
    assert verdict.reasons["skipped"] == [("CUDA not available (torch.cuda.is_available() is False)", 12)]


def test_verdict_fails_when_any_run_failed(results_dir):
    results = load_results([results_dir])
    verdict = tables.verdict(results.verification, results.machines)
    assert verdict.status == "FAIL"
    assert verdict.counts["failed"] == 1
    assert verdict.total == len(results.verification) == 72
    assert verdict.headline.startswith(
        "FAIL — 35 passed, 1 failed, 0 errors, 36 skipped of 72 property tests (failing: test_matmul[cpu-float32])"
    )


def test_verdict_fails_on_a_failure_without_an_error_ratio(tmp_path):
    document = synthetic.property_results(run_id="r", machine=synthetic.machine_block())
    row = next(r for r in document["properties"] if r["outcome"] == "passed")
    row.update(outcome="failed", max_error_ratio=None, message="AssertionError: momentum ignored")
    synthetic.write_json(tmp_path / "p.json", document)
    verdict = tables.verdict(load_results([tmp_path]).verification)
    assert verdict.status == "FAIL"
    assert verdict.counts["failed"] == 1


def test_verdict_without_property_results(tmp_path):
    write_results(tmp_path, properties=False)
    verdict = tables.verdict(load_results([tmp_path]).verification)
    assert verdict.status == "NO PROPERTIES"
    assert verdict.headline == "no property results (benchmarks only)"


def test_verification_table_aggregates_runs(results_dir):
    results = load_results([results_dir])
    table = tables.verification_table(results.verification)
    assert len(table) == 6 * 2 * 2
    assert table.iloc[0]["verdict"] == "FAIL"  # failures first
    matmul = table[
        (table["property"] == "test_matmul") & (table["device"] == "cpu") & (table["dtype"] == "float32")
    ].iloc[0]
    assert (matmul["results"], matmul["failed"], matmul["passed"]) == (3, 1, 2)
    rows = results.verification.query("property == 'test_matmul' and device == 'cpu' and dtype == 'float32'")
    assert matmul["examples"] == rows["examples"].sum()
    assert matmul["max_error_ratio"] == rows["max_error_ratio"].max()
    assert set(table[table["device"] == "cuda"]["verdict"]) == {"SKIPPED"}


def _classified(tmp_path):
    """One run whose rows carry every outcome a classifying plugin sets, and a header naming what was left out."""
    document = synthetic.property_results(run_id="20261130T000000Z-abcd", machine=synthetic.machine_block())
    passed = [r for r in document["properties"] if r["outcome"] == "passed"]
    passed[0].update(
        outcome="known_defect", skip_reason="TD-7: fused SGD with a late first gradient", max_error_ratio=None
    )
    passed[1].update(outcome="behaviour_changed", skip_reason="old: UserWarning; new: FutureWarning")
    passed[2].update(outcome="not_available", skip_reason="not available in torch 2.13.0: torch.func.jvp")
    passed[3].update(outcome="not_available", skip_reason="not available in torch 2.13.0: torch.func.jvp")
    document["unavailable"] = ["cuda not available (torch.cuda.is_available() is False)"]
    synthetic.write_json(tmp_path / "p.json", document)
    return build_report(load_results([tmp_path]), now=NOW)


def test_every_outcome_has_its_count_and_section_in_markdown_and_html(tmp_path):
    report = _classified(tmp_path)
    counts = report.verdict.counts
    assert (counts["known_defect"], counts["behaviour_changed"], counts["not_available"]) == (1, 1, 2)
    assert sum(counts.values()) == len(report.results.verification)
    summary, page = summary_markdown(report), index_html(report)
    counts_line = f"{report.verdict.counts_text()} ({report.verdict.total} property tests)"
    assert "1 known torch defect, 1 behaviour change, 2 not available" in counts_line
    assert f"**Counts:** {counts_line}" in summary
    assert f"<strong>Counts:</strong> {counts_line}" in page
    for heading in (
        "KNOWN TORCH DEFECT (1)",
        "BEHAVIOUR CHANGED (1)",
        "NOT AVAILABLE (2)",
        f"SKIPPED ({counts['skipped']})",
    ):
        assert f"### {heading}" in summary
        assert f"<h2>{heading}</h2>" in page
    # what could not run is one line per reason, not one row per cell
    assert "* 2 × not available in torch 2.13.0: torch.func.jvp" in summary
    assert "<li>2 × not available in torch 2.13.0: torch.func.jvp</li>" in page
    assert "TD-7: fused SGD with a late first gradient" in summary
    _header, rows = verification_rows(report)
    verdicts = {row[-1].text for row in rows}
    assert verdicts == {"PASS", "KNOWN TORCH DEFECT", "BEHAVIOUR CHANGED"}
    assert "Not run here: cuda not available (torch.cuda.is_available() is False)" in summary
    assert "cuda not available (torch.cuda.is_available() is False)" in report.verdict.headline


def test_summary_markdown_has_no_raw_html_entities(results_dir):
    summary = summary_markdown(build_report(load_results([results_dir]), now=NOW))
    assert "&gt;" not in summary
    assert "(above 1: faster)" in summary


def test_speed_table_speedup_against_the_chosen_baseline(results_dir):
    speed = load_results([results_dir]).speed
    table = tables.speed_table(speed, "numpy_reference")
    assert len(table) == 2 * ROWS_PER_RUN  # two machines; the two runs on host-a are aggregated
    assert (table["runs"] > 0).all()
    base = table[table["implementation"] == "numpy_reference"]
    assert np.allclose(base["speedup"], 1.0)
    key = ["machine_id", "case", "size", "dtype"]
    merged = table.merge(base[[*key, "median_s"]], on=key, suffixes=("", "_base"))
    assert np.allclose(merged["speedup"], merged["median_s_base"] / merged["median_s"])
    other = tables.speed_table(speed, "torch_raw")
    assert np.allclose(other[other["implementation"] == "torch_raw"]["speedup"], 1.0)
    # a median over runs, not a mean
    one = speed.query("case == 'matmul' and implementation == 'torch_nn' and dtype == 'float32' and size == '16'")
    host_a = one[one["machine_id"] == synthetic.machine_block("host-a")["machine_id"]]
    row = table.query("case == 'matmul' and implementation == 'torch_nn' and dtype == 'float32' and size == '16'")
    assert host_a["median_s"].median() in set(row["median_s"])


def test_unknown_baseline_is_an_error_naming_the_choices(results_dir):
    results = load_results([results_dir])
    with pytest.raises(
        FizzcheckError,
        match=r"--baseline 'numpy' is not an implementation in the results; use one of numpy_reference, ",
    ):
        build_report(results, baseline="numpy")


def test_report_directory_has_every_output_and_is_new_each_time(results_dir, tmp_path):
    results = load_results([results_dir])
    out = tmp_path / "reports"
    first = write_report(results, out, now=NOW)
    second = write_report(results, out, now=NOW)  # same second: a new name, never the same directory
    assert first.name == "fizzcheck-report-20261129T061502Z"
    assert second.name == "fizzcheck-report-20261129T061502Z-2"
    assert sorted(p.name for p in out.iterdir()) == [first.name, second.name]  # no staging directory left
    expected = {"summary.md", "index.html", "verification.csv", "verification_summary.csv", "speed.csv",
                "speed_summary.csv", "machines.csv", "peaks.csv"}  # fmt: skip
    assert {p.name for p in first.iterdir()} == expected
    speed = pd.read_csv(first / "speed.csv")
    assert len(speed) == len(results.speed)
    assert np.allclose(speed["median_s"], results.speed["median_s"], rtol=1e-9)
    summary = (first / "summary.md").read_text()
    assert summary.startswith("## fizzcheck: FAIL — 35 passed, 1 failed, 0 errors, 36 skipped of 72 property tests")
    assert (
        summary.index("### Verification")
        < summary.index("### SKIPPED (36)")
        < summary.index("### FAIL (1)")
        < summary.index("### Speed")
        < summary.index("### Machines")
    )
    assert "check_matmul(a=np.array" in summary  # the reproducer
    assert "<details><summary>failed: properties/test_ops.py::test_matmul[cpu-float32] on host-b" in summary


def test_html_is_self_contained_with_every_plot(results_dir):
    report = build_report(load_results([results_dir]), now=NOW)
    page = index_html(report)
    # per machine × case: a time plot and a GFLOP/s plot; per machine × device: a roofline
    assert len(report.figures) == 2 * len(FAST_CASES) * 2 + 2
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="fizzcheck-plot"') == len(report.figures)
    assert page.count("<table>") == 5  # verification, speed matrix, all benchmarks, machines, peaks
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)  # nothing fetched
    assert '<link rel="stylesheet"' not in page
    for figure in report.figures:
        ET.fromstring(figure.svg)  # well-formed SVG
        assert "<title>" in figure.svg


def test_every_result_string_is_escaped(tmp_path):
    machine = synthetic.machine_block(HOSTILE, cpu_model=HOSTILE)
    document = synthetic.property_results(run_id=HOSTILE, machine=machine, failures=["test_matmul[cpu-float32]"])
    entry = document["properties"][0]
    entry.update(
        nodeid=HOSTILE, property=HOSTILE, message=HOSTILE, reproducer=HOSTILE + "\n```\n" + HOSTILE, outcome="failed"
    )
    synthetic.write_json(tmp_path / "p.json", document)
    bench = synthetic.benchmark_results(run_id="b", machine=machine, cases=FAST_CASES[:1], sizes=FAST_SIZES[:2])
    for b in bench["benchmarks"]:
        b["extra_info"]["case"] = HOSTILE
        b["extra_info"]["size"] = HOSTILE + b["extra_info"]["size"]
    synthetic.write_json(tmp_path / "b.json", bench)
    report = build_report(load_results([tmp_path]), now=NOW)
    page = index_html(report)
    assert "<img" not in page
    assert "<script>alert" not in page
    assert "&lt;img src=x onerror=&quot;document.body.dataset.pwned=1&quot;&gt;" in page
    for figure in report.figures:
        ET.fromstring(figure.svg)
    summary = summary_markdown(report)
    outside_code = _outside_code(summary)  # code spans and fenced blocks show their text literally
    assert "<img" not in outside_code
    assert "<script>" not in outside_code
    assert "&lt;img src=x" in outside_code  # in the failure's <summary>
    assert "\n````python\n" in summary  # the reproducer holds ``` so its fence is longer
    for line in summary.splitlines():  # a table row keeps its header's number of cells
        if line.startswith("| `<img"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 9


def _outside_code(markdown: str) -> str:
    """``markdown`` without its fenced code blocks and code spans."""
    text = re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", markdown, flags=re.S | re.M)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text, flags=re.S)


def test_the_shared_table_macro_escapes_text_classes_and_titles():
    cell = Cell(HOSTILE, css='FAIL" onmouseover="x', title=HOSTILE, code=True)
    table = table_html([HOSTILE], [[cell], [Cell("1.5 ms", "num")]])
    assert "<img" not in table
    assert "<script>" not in table
    assert '" onmouseover=' not in table
    assert table.count("<td") == 2
    assert '<td class="num">1.5 ms</td>' in table
    macro = templates().get_template("table.html").module.table
    shortened = str(macro(["n"], [[Cell(str(i))] for i in range(5)], limit=2, more=" in n.csv"))
    assert shortened.count("<tr>") == 3  # the header and two rows
    assert '<p class="note">… 3 more rows in n.csv.</p>' in shortened


def test_markdown_helpers():
    assert md_code("a|b") == "`a\\|b`"
    assert md_code("x`y") == "``x`y``"
    assert md_code("two\nlines") == "`two lines`"
    assert md_text("<b>*x*</b> | _y_") == "&lt;b&gt;\\*x\\*&lt;/b&gt; \\| \\_y\\_"


def test_csv_writer_matches_pandas(tmp_path):
    frame = pd.DataFrame({
        "text": ["plain", "with,comma", 'with "quote"', "two\nlines", None],
        "number": [1.5, float("nan"), 1e-9, 123456789.123, -0.0],
        "whole": [1.0, 2.0, float("nan"), 4.0, 5.0],
        "flag": [True, False, True, False, True],
    })  # fmt: skip
    write_csv(frame, tmp_path / "fast.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    fast, reference = pd.read_csv(tmp_path / "fast.csv"), pd.read_csv(tmp_path / "pandas.csv")
    pd.testing.assert_frame_equal(fast, reference, check_exact=False, rtol=1e-9)


def test_line_plot_skips_what_a_log_axis_cannot_show():
    line = plots.Line("impl", [1e3, 1e4, 1e5, 1e6], [1e-6, float("nan"), 0.0, 1e-3], tips=["a", "b", "c", "d"])
    svg = plots.line_plot([line], title="t <&>", x_label="FLOPs", y_label="time", y_format=plots.format_seconds)
    root = ET.fromstring(svg)
    assert root.get("data-points") == "2"
    assert root.find("{http://www.w3.org/2000/svg}title").text == "t <&>"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) == 1


def test_category_axis_and_roofline():
    line = plots.Line("impl", [0, 1, 2], [1.0, 2.0, 4.0])
    root = ET.fromstring(plots.line_plot([line], title="t", x_label="size", y_label="y", x_categories=["s", "m", "l"]))
    assert [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "tick"][:3] == [
        "s",
        "m",
        "l",
    ]
    points = [plots.Line("torch", [0.5, 8.0], [3.0, 40.0], joined=False)]
    roofs = [plots.Roof("float32 peak", gflops=61.2), plots.Roof("copy", gbps=11.8)]
    root = ET.fromstring(plots.roofline_plot(points, roofs, title="roofline"))
    assert len([e for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "roof"]) == 2
    assert root.get("data-points") == "2"


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5e-5, "15 µs"), (2.0, "2 s"), (3e-3, "3 ms"), (4e-9, "4 ns"), (float("nan"), "–")],
)
def test_format_seconds(value, text):
    assert plots.format_seconds(value) == text


def test_format_count():
    assert [plots.format_count(v) for v in (0.25, 1500.0, 2.5e9, math.inf)] == ["0.25", "1.5k", "2.5G", "–"]


def test_report_and_compare_commands_and_their_defaults():
    args = report_cli.report.make_context("report", ["a.json", "dir"]).params
    assert (args["results"], str(args["output_dir"]), args["baseline"], args["title"]) == (
        ("a.json", "dir"),
        "reports",
        None,
        None,
    )
    args = report_cli.compare.make_context("compare", ["a", "b"]).params
    assert (args["threshold"], args["alpha"]) == (1.1, 0.01)
    assert set(report_cli.reports.commands) == {"report", "compare"}


def test_cli_report_prints_the_verdict_and_where_the_report_is(results_dir, tmp_path, capsys):
    out = tmp_path / "out"
    status = run_cli("report", results_dir, "--output-dir", out, "--baseline", "torch_raw", "--title", "nightly <CPU>")
    captured = capsys.readouterr()
    assert status == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0].startswith("fizzcheck: FAIL — 35 passed, 1 failed, 0 errors, 36 skipped of 72 property tests")
    (directory,) = out.iterdir()
    assert lines[1] == f"report: {directory / 'index.html'} (summary.md and CSV tables alongside)"
    page = (directory / "index.html").read_text()
    assert "<h1>nightly &lt;CPU&gt;</h1>" in page
    assert "speed-up ×N against <code>torch_raw</code>" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report"], "Missing argument 'FILE_OR_DIR...'"),
        (["compare", "a"], "Missing argument 'B'"),
        (["compare", "a", "b", "--threshold", "0.9"], "'--threshold': 0.9 is not in the range x>1.0"),
        (["compare", "a", "b", "--threshold", "inf"], "'--threshold': 'inf' is not a finite number"),
        (["compare", "a", "b", "--alpha", "2"], "'--alpha': 2.0 is not in the range 0.0<x<1.0"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_cli_report_in_a_fresh_interpreter(results_dir, tmp_path):
    result = run_cli_process("report", results_dir, "--output-dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "fizzcheck: FAIL" in result.stdout


def test_reports_with_only_properties_or_only_benchmarks(tmp_path):
    write_results(tmp_path / "both")
    properties = next((tmp_path / "both").glob("properties-*.json"))
    benchmarks = next((tmp_path / "both").glob("benchmarks-*.json"))
    only_properties = build_report(load_results([properties]), now=NOW)
    assert only_properties.figures == []
    assert "### Speed" not in summary_markdown(only_properties)
    assert 'id="scaling"' not in index_html(only_properties)
    only_benchmarks = build_report(load_results([benchmarks]), now=NOW)
    assert summary_markdown(only_benchmarks).startswith("## fizzcheck: no property results (benchmarks only)")
    assert 'id="verification"' not in index_html(only_benchmarks)


def test_without_flop_counts_sizes_are_categories_and_there_is_no_roofline(tmp_path):
    document = synthetic.benchmark_results(
        run_id="r", machine=synthetic.machine_block(), cases=FAST_CASES[:1], sizes=FAST_SIZES
    )
    for benchmark in document["benchmarks"]:
        benchmark["extra_info"].update(flops=None, size=f"size-{benchmark['extra_info']['size']}")
    report = build_report(load_results([synthetic.write_json(tmp_path / "b.json", document)]), now=NOW)
    assert [figure.section for figure in report.figures] == ["scaling"]  # time only: no GFLOP/s, no roofline
    assert ">size-16</text>" in report.figures[0].svg
    ET.fromstring(report.figures[0].svg)


def test_summary_stays_small_with_many_long_failures(tmp_path):
    document = synthetic.property_results(
        run_id="r", machine=synthetic.machine_block(), properties=[f"test_op{i}" for i in range(40)]
    )
    for entry in document["properties"]:
        if entry["device"] == "cpu":
            entry.update(outcome="failed", message="x" * 50_000, reproducer="y = 1\n" * 20_000)
    report = build_report(load_results([synthetic.write_json(tmp_path / "p.json", document)]), now=NOW)
    summary = summary_markdown(report)
    assert len(summary.encode()) < 300_000  # a GitHub job summary holds 1 MiB
    assert f"… {len(report.failures) - MARKDOWN_FAILURE_LIMIT} more failures in index.html." in summary
    assert "more characters in index.html" in summary
    assert index_html(report).count("<details open>") == len(report.failures) == 80

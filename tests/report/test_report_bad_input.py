"""Bad input to ``fizzcheck report`` / ``compare``: one line naming the file, exit 2, no traceback, nothing touched."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import synthetic
from report_helpers import run_cli, run_cli_process, write_results

from fizzcheck.report import ResultFileError, load_results

PACKAGE_JSON = {"name": "left-pad", "version": "1.3.0", "main": "index.js", "license": "WTFPL"}


def _valid_properties() -> dict:
    return synthetic.property_results(run_id="p1", machine=synthetic.machine_block())


def _valid_benchmarks() -> dict:
    return synthetic.benchmark_results(
        run_id="b1", machine=synthetic.machine_block(), cases=synthetic.CASES[:1], sizes=synthetic.SIZES[:2]
    )


def _plain_pytest_benchmark() -> dict:
    document = _valid_benchmarks()
    del document["machine_info"]["fizzcheck"]
    for benchmark in document["benchmarks"]:
        benchmark["extra_info"] = {}
    return document


def _edit(document: dict, change) -> str:
    change(document)
    return json.dumps(document)


def _truncated() -> bytes:
    text = json.dumps(_valid_benchmarks()).encode()
    return text[: len(text) // 2]


# (id, file contents, the message after "fizzcheck: error: PATH: ")
BAD_FILES = [
    ("empty", b"", "empty file"),
    ("whitespace", b"  \n\t\n", "empty file"),
    ("truncated", _truncated(), "not valid JSON (truncated?): "),
    (
        "corrupt-text",
        b'{"fizzcheck_schema": 1, "kind": oops}',
        "not valid JSON (corrupt?): Expecting value at line 1 column 33",
    ),
    ("corrupt-binary", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, "not a text file (not UTF-8); corrupt?"),
    ("nul-bytes", b"\x00" * 64, "not valid JSON (corrupt?): "),
    (
        "foreign-package-json",
        json.dumps(PACKAGE_JSON),
        "not a fizzcheck result file: fizzcheck_schema is missing (another tool's JSON?)",
    ),
    ("foreign-list", b"[1, 2, 3]", "top level is a list, not an object; not a fizzcheck result file"),
    ("foreign-string", b'"hello"', 'top level is "hello", not an object; not a fizzcheck result file'),
    (
        "plain-pytest-benchmark",
        json.dumps(_plain_pytest_benchmark()),
        "a pytest-benchmark file without fizzcheck's machine_info.fizzcheck block; "
        "run the benchmarks through fizzcheck (fizzcheck bench) so they carry cases, FLOPs and peaks",
    ),
    (
        "benchmarks-without-extra-info",
        _edit(_valid_benchmarks(), lambda d: [b.update(extra_info={}) for b in d["benchmarks"]]),
        "none of its 16 benchmark(s) carries fizzcheck extra_info (fizzcheck_schema, case, ...)",
    ),
    (
        "future-properties",
        _edit(_valid_properties(), lambda d: d.update(fizzcheck_schema=2)),
        "written by a newer fizzcheck (schema 2; this fizzcheck reads schema ≤ 1); upgrade fizzcheck to read it",
    ),
    (
        "future-machine-info",
        _edit(_valid_benchmarks(), lambda d: d["machine_info"]["fizzcheck"].update(fizzcheck_schema=3)),
        "written by a newer fizzcheck (schema 3; this fizzcheck reads schema ≤ 1); upgrade fizzcheck to read it",
    ),
    (
        "future-extra-info",
        _edit(_valid_benchmarks(), lambda d: d["benchmarks"][1]["extra_info"].update(fizzcheck_schema=2)),
        "written by a newer fizzcheck (schema 2; this fizzcheck reads schema ≤ 1); upgrade fizzcheck to read it",
    ),
    (
        "schema-not-an-integer",
        _edit(_valid_properties(), lambda d: d.update(fizzcheck_schema="1")),
        'fizzcheck_schema is "1"; expected an integer',
    ),
    (
        "schema-zero",
        _edit(_valid_properties(), lambda d: d.update(fizzcheck_schema=0)),
        "fizzcheck_schema is 0; expected 1 to 1",
    ),
    (
        "unknown-kind",
        _edit(_valid_properties(), lambda d: d.update(kind="coverage")),
        'kind is "coverage"; expected "properties" (benchmark results are pytest-benchmark JSON)',
    ),
    (
        "missing-machine",
        _edit(_valid_properties(), lambda d: d.pop("machine")),
        "machine is missing; expected an object",
    ),
    (
        "bad-outcome",
        _edit(_valid_properties(), lambda d: d["properties"][3].update(outcome="exploded")),
        'properties[3].outcome is "exploded"; expected one of passed, failed, error, skipped, known_defect, '
        "not_available, behaviour_changed",
    ),
    (
        "missing-nodeid",
        _edit(_valid_properties(), lambda d: d["properties"][2].pop("nodeid")),
        "properties[2].nodeid is missing",
    ),
    (
        "examples-not-an-integer",
        _edit(_valid_properties(), lambda d: d["properties"][0].update(examples="100")),
        'properties[0].examples is "100"; expected an integer',
    ),
    (
        "median-not-a-number",
        _edit(_valid_benchmarks(), lambda d: d["benchmarks"][5]["stats"].update(median="fast")),
        'benchmarks[5].stats.median is "fast"; expected a number or an integer',
    ),
    (
        "median-nan",
        _edit(_valid_benchmarks(), lambda d: d["benchmarks"][0]["stats"].update(median=float("nan"))),
        "benchmarks[0].stats.median is nan; expected a finite number",
    ),
    (
        "samples-not-numbers",
        _edit(_valid_benchmarks(), lambda d: d["benchmarks"][2]["stats"]["data"].append("oops")),
        'benchmarks[2].stats.data holds "oops"; expected numbers (seconds per round)',
    ),
    (
        "missing-case",
        _edit(_valid_benchmarks(), lambda d: d["benchmarks"][4]["extra_info"].pop("case")),
        "benchmarks[4].extra_info.case is missing",
    ),
    (
        "stats-not-an-object",
        _edit(_valid_benchmarks(), lambda d: d["benchmarks"][1].update(stats=[1, 2])),
        "benchmarks[1].stats is a list; expected an object",
    ),
]


def _snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``directory`` with its modification time and content hash."""
    state = {}
    for path in sorted(directory.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[str(path.relative_to(directory))] = (path.stat().st_mtime_ns, digest)
    return state


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Valid results (a property file and a benchmark file)."""
    directory = tmp_path_factory.mktemp("good")
    write_results(directory)
    return directory


@pytest.fixture(scope="module")
def existing_report(tmp_path_factory, good):
    """A reports/ directory holding one earlier report (each test checks it is left exactly as it was)."""
    out = tmp_path_factory.mktemp("reports")
    assert run_cli("report", good, "--output-dir", out) == 0
    return out


def _assert_one_line_error(capsys, path: Path | str, message: str) -> None:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"fizzcheck: error: {path}: "), lines[0]
    assert message in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(("contents", "message"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_file_is_a_one_line_error_and_no_report_is_touched(
    tmp_path, good, existing_report, capsys, contents, message
):
    bad = tmp_path / "bad.json"
    bad.write_bytes(contents.encode() if isinstance(contents, str) else contents)
    before = _snapshot(existing_report)
    capsys.readouterr()
    assert run_cli("report", good, bad, "--output-dir", existing_report) == 2
    _assert_one_line_error(capsys, bad, message)
    assert _snapshot(existing_report) == before  # no new report, no staging directory, old report unchanged
    assert run_cli("compare", good, bad) == 2
    _assert_one_line_error(capsys, bad, message)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.json", "no such file or directory"),
        (lambda tmp: tmp / "no-such-dir", "no such file or directory"),
        (lambda tmp: (tmp / "empty-dir").mkdir() or tmp / "empty-dir", "directory contains no *.json result files"),
        (lambda tmp: _only_other_files(tmp / "notes"), "directory contains no *.json result files"),
        (lambda tmp: _broken_link(tmp / "link.json"), "broken symbolic link"),
    ],
    ids=["missing-file", "missing-directory", "empty-directory", "directory-without-json", "broken-link"],
)
def test_unusable_paths(tmp_path, existing_report, capsys, make, message):
    path = make(tmp_path)
    before = _snapshot(existing_report)
    capsys.readouterr()
    assert run_cli("report", path, "--output-dir", existing_report) == 2
    _assert_one_line_error(capsys, path, message)
    assert _snapshot(existing_report) == before


def _only_other_files(directory: Path) -> Path:
    directory.mkdir()
    (directory / "README.md").write_text("not results")
    (directory / "results.json.bak").write_text("{}")
    return directory


def _broken_link(path: Path) -> Path:
    path.symlink_to(path.parent / "nowhere.json")
    return path


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    path = synthetic.write_json(tmp_path / "locked.json", _valid_properties())
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert run_cli("report", path, "--output-dir", tmp_path / "out") == 2
    _assert_one_line_error(capsys, path, "cannot read (Permission denied)")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_by_mode(tmp_path, capsys):
    path = synthetic.write_json(tmp_path / "locked.json", _valid_properties())
    path.chmod(0)
    assert run_cli("report", path, "--output-dir", tmp_path / "out") == 2
    _assert_one_line_error(capsys, path, "cannot read (Permission denied)")


def test_the_same_run_twice_is_an_error(tmp_path, capsys):
    first = synthetic.write_json(tmp_path / "a.json", _valid_properties())
    second = synthetic.write_json(tmp_path / "copy" / "a.json", _valid_properties())
    assert run_cli("report", first, second, "--output-dir", tmp_path / "out") == 2
    _assert_one_line_error(capsys, second, f"properties run p1 is already loaded from {first}")


def test_unwritable_output_directory(tmp_path, good, capsys):
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the reports directory should be")
    assert run_cli("report", good, "--output-dir", blocker) == 2
    _assert_one_line_error(capsys, blocker, "cannot create the report")


def test_compare_needs_benchmarks_on_both_sides(tmp_path, good, capsys):
    only_properties = synthetic.write_json(tmp_path / "p.json", _valid_properties())
    assert run_cli("compare", good, only_properties) == 2
    _assert_one_line_error(capsys, only_properties, "no benchmark results to compare (only property results?)")


def test_library_raises_result_file_error(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("")
    with pytest.raises(ResultFileError, match=r"empty\.json: empty file$"):
        load_results([path])


@pytest.mark.parametrize("command", ["report", "compare"])
def test_no_traceback_in_a_fresh_interpreter(tmp_path, command):
    future = synthetic.write_json(tmp_path / "future.json", {**_valid_properties(), "fizzcheck_schema": 99})
    args = [future, "--output-dir", tmp_path / "out"] if command == "report" else [future, future]
    result = run_cli_process(command, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"fizzcheck: error: {future}: written by a newer fizzcheck (schema 99; this fizzcheck reads schema ≤ 1); "
        "upgrade fizzcheck to read it\n"
    )
    assert not (tmp_path / "out").exists()

"""The results schema, defined once: its document, its writers, its validator and older files agree with it."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fizzcheck.targets.tensors  # noqa: F401 - imported here so pytester's in-process runs never re-import torch
from fizzcheck.report import load_results
from fizzcheck.report.load import results_from_documents
from fizzcheck.results import schema_doc
from fizzcheck.results.machine import collect_machine
from fizzcheck.results.schema import (
    SCHEMA_VERSION,
    BenchmarkCase,
    BenchmarkMetrics,
    BenchmarkRun,
    BenchmarkStats,
    DevicePeaks,
    FieldSpec,
    Gpu,
    Machine,
    PropertyResults,
    PropertyRow,
    TargetInfo,
    TorchBuild,
    column_names,
    is_noisy,
    record_fields,
)
from fizzcheck.results.validate import ResultFileError, parse_result_document, read_result_file

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "results-schema.md"
SCHEMA_1_FILES = Path(__file__).resolve().parents[1] / "data" / "results-schema-1"
"""Files written by fizzcheck before the schema was defined once (commit e4e2a44): they must still load."""

PEAKS = {
    "cpu": {"matmul_gflops": {"float32": 90.0, "float64": 45.0}, "matmul_side": {"float32": 256}, "copy_gbps": 30.0}
}


# --- docs/results-schema.md -------------------------------------------------------------


def test_the_documents_tables_are_generated_from_the_schema():
    problems = schema_doc.stale_tables(DOC.read_text())
    assert not problems, (
        f"{DOC.name} does not match fizzcheck/results/schema.py: {'; '.join(problems)}. "
        f"Regenerate its tables with: {schema_doc.UPDATE_COMMAND}"
    )


def test_schema_doc_command_prints_checks_and_updates(tmp_path, capsys):
    assert schema_doc.main([]) == 0
    printed = capsys.readouterr().out
    assert all(f"<!-- schema: {record.__name__} -->" in printed for record in schema_doc.RECORDS)
    stale = tmp_path / "doc.md"
    stale.write_text("prose\n<!-- schema: PropertyRow -->\n| old |\n<!-- /schema -->\nmore prose\n")
    assert schema_doc.main(["--check", str(stale)]) == 1
    err = capsys.readouterr().err
    assert "the PropertyRow table is out of date" in err
    assert "no table for Machine" in err
    assert schema_doc.UPDATE_COMMAND in err
    assert schema_doc.main(["--update", str(stale)]) == 0
    updated = stale.read_text()
    assert updated.startswith("prose\n<!-- schema: PropertyRow -->\n`PropertyRow`: ")
    assert updated.endswith("<!-- /schema -->\nmore prose\n")
    assert "| `nodeid` | string | yes |" in updated
    assert schema_doc.stale_tables(updated) == [
        f"no table for {record.__name__}" for record in schema_doc.RECORDS if record is not PropertyRow
    ]


def _doc_examples() -> dict[str, dict[str, Any]]:
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)]
    by_kind = {"properties": "properties", "peaks": "machine_info.fizzcheck", "case": "extra_info"}
    examples = {name: block for block in blocks for key, name in by_kind.items() if key in block}
    assert len(examples) == len(blocks) == 3, (
        "expected one example each of a property file, machine_info.fizzcheck and extra_info"
    )
    return examples


def _undocumented_keys(value: dict[str, Any], record: type, where: str) -> list[str]:
    """Keys of ``value`` that ``record`` (recursively) does not define."""
    specs = {spec.name: spec for spec in record_fields(record)}
    found = [f"{where}{key}" for key in value if key not in specs]
    for key, item in value.items():
        spec = specs.get(key)
        if spec is None or item is None:
            continue
        if spec.record is not None:
            found += _undocumented_keys(item, spec.record, f"{where}{key}.")
        elif spec.item_record is not None:
            items = item.items() if isinstance(item, dict) else enumerate(item)
            for name, entry in items:
                found += _undocumented_keys(entry, spec.item_record, f"{where}{key}.{name}.")
    return found


def _benchmark_document(run: dict[str, Any], extras: list[dict[str, Any]], **stats: Any) -> dict[str, Any]:
    entry_stats = {"median": 1e-3, "iqr": 1e-5, "mean": 1e-3, "min": 9e-4, "rounds": 3, "data": [1e-3, 9e-4, 1.1e-3]}
    benchmarks = [
        {"name": f"test_case[{i}]", "fullname": f"benchmarks/test_cases.py::test_case[{i}]", "extra_info": extra,
         "stats": {**entry_stats, **stats}}
        for i, extra in enumerate(extras)
    ]  # fmt: skip
    return {
        "machine_info": {"node": "x", "fizzcheck": run},
        "datetime": "2026-11-29T06:15:02+00:00",
        "benchmarks": benchmarks,
    }


def test_the_documents_examples_are_valid_and_name_only_schema_fields():
    examples = _doc_examples()
    properties = parse_result_document(examples["properties"], "properties example")
    assert properties.rows == 1
    benchmarks = parse_result_document(
        _benchmark_document(examples["machine_info.fizzcheck"], [examples["extra_info"]]), "benchmark example"
    )
    assert benchmarks.columns["case"] == ["linear"]
    assert len(benchmarks.peaks) == 6
    undocumented = [
        *_undocumented_keys(examples["properties"], PropertyResults, ""),
        *_undocumented_keys(examples["machine_info.fizzcheck"], BenchmarkRun, "machine_info.fizzcheck."),
        *_undocumented_keys(examples["extra_info"], BenchmarkCase, "extra_info."),
    ]
    metrics = {spec.name for spec in record_fields(BenchmarkMetrics)}
    assert [key for key in undocumented if key.removeprefix("extra_info.") not in metrics] == []
    everything = {spec.name for spec in (*record_fields(BenchmarkCase), *record_fields(BenchmarkMetrics))}
    assert set(examples["extra_info"]) == everything, "the extra_info example shows every field"


# --- the writers build from the schema, the validator accepts what they write ---------------


def _load_conftest() -> Any:
    spec = importlib.util.spec_from_file_location("fizzcheck_benchmarks_conftest", ROOT / "benchmarks" / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Config:
    """What the benchmark conftest's hooks read of pytest's config."""

    def __init__(self, stash: dict[Any, Any]) -> None:
        self.stash = stash

    def getoption(self, name: str) -> str:
        assert name == "--bench-mode"
        return "quick"


def test_the_benchmark_writers_output_is_valid_and_loads():
    from fizzcheck.bench.registry import CaseParams
    from fizzcheck.bench.runner import extra_info, prepare

    conftest = _load_conftest()
    config = _Config({conftest._PEAKS: PEAKS, conftest._END_PEAKS: PEAKS})  # no re-measurement at the end
    machine_info: dict[str, Any] = {}
    conftest.pytest_benchmark_update_machine_info(config, machine_info)
    params = CaseParams("matmul", "torch_raw", "cpu", "float32", "seed")
    prepared, ratios = prepare(params)
    extra = extra_info(params, prepared, ratios, 1)
    assert set(extra) == {spec.name for spec in record_fields(BenchmarkCase)}
    document = _benchmark_document(machine_info["fizzcheck"], [extra])
    conftest.pytest_benchmark_update_json(config, None, document)
    assert set(extra) == {spec.name for spec in (*record_fields(BenchmarkCase), *record_fields(BenchmarkMetrics))}
    assert extra["noisy"] is False
    assert extra["max_error_ratio"] == max(ratios.values())
    assert set(machine_info["fizzcheck"]) == {spec.name for spec in record_fields(BenchmarkRun)}
    results = results_from_documents({"bench.json": json.loads(json.dumps(document))})
    (row,) = results.speed.to_dict("records")
    assert (row["case"], row["implementation"], row["size"]) == ("matmul", "torch_raw", "seed")
    assert row["pct_peak_flops"] == pytest.approx(extra["pct_peak_flops"])
    assert list(results.peaks["matmul_gflops"]) == [90.0, 45.0]
    assert results.machines["machine_id"].tolist() == [collect_machine().machine_id]


def test_the_property_recorders_output_is_valid_and_loads(pytester):
    pytester.makepyfile("def test_one(target):\n    pass\n\ndef test_two(target):\n    assert False\n")
    out = pytester.path / "results"
    pytester.runpytest("-p", "no:cacheprovider", f"--fizzcheck-results={out}/").assert_outcomes(passed=1, failed=1)
    (path,) = out.glob("properties-*.json")
    contents = read_result_file(path)
    assert contents.columns["outcome"] == ["passed", "failed"]
    document = json.loads(path.read_text())
    assert set(document) == {spec.name for spec in record_fields(PropertyResults)}
    assert all(set(row) == {spec.name for spec in record_fields(PropertyRow)} for row in document["properties"])
    assert set(document["machine"]) == {spec.name for spec in record_fields(Machine)}


def test_a_record_written_with_asdict_round_trips_through_the_validator():
    machine = collect_machine()
    row = PropertyRow(property="test_x", module="m.py", device=None, dtype=None, target="torch", outcome="skipped",
                      skip_reason="why", examples=None, max_error_ratio=None, duration_s=0.0, message=None,
                      reproducer=None, nodeid="m.py::test_x")  # fmt: skip
    document = PropertyResults(run_id="r", created=None, profile="dev", target=None, machine=machine, properties=[row])
    contents = parse_result_document(json.loads(json.dumps(dataclasses.asdict(document))), "doc")
    loaded = {column: values[0] for column, values in contents.columns.items()}
    assert loaded == {k: v for k, v in dataclasses.asdict(row).items() if k in column_names(PropertyRow)}
    assert "surface" not in loaded  # in the file (checked), not a report column: see PropertyResults.surface
    assert contents.machine["machine_id"] == machine.machine_id
    assert set(contents.machine) == set(column_names(Machine))


# --- files written before this schema was defined once ------------------------------------


def test_files_written_by_the_previous_writers_still_load():
    results = load_results([SCHEMA_1_FILES])
    assert len(results.verification) == 12
    assert set(results.verification["outcome"]) == {"passed", "skipped"}
    assert results.verification["max_error_ratio"].notna().sum() == 4
    assert list(results.speed["implementation"]) == ["numpy_reference", "torch_raw", "torch_raw"]
    assert results.speed["size_params"].tolist()[0] == "batch=64, in_features=10, out_features=100"
    written = json.loads((SCHEMA_1_FILES / "benchmarks.json").read_text())["benchmarks"]
    assert results.speed["samples"].tolist() == [benchmark["stats"]["data"] for benchmark in written]
    assert results.speed["median_s"].tolist() == [benchmark["stats"]["median"] for benchmark in written]
    assert set(results.machines["kind"]) == {"properties", "benchmarks"}
    assert results.peaks["matmul_gflops"].notna().all()


# --- the validator checks every field the schema defines ----------------------------------

_WRONG_VALUES = ("text", 1.5, 7, True, [1], {"a": 1})


def _wrong_value(spec: FieldSpec) -> Any:
    return next(value for value in _WRONG_VALUES if type(value) not in spec.types)


def _valid_documents() -> tuple[dict[str, Any], dict[str, Any]]:
    examples = _doc_examples()
    return examples["properties"], _benchmark_document(examples["machine_info.fizzcheck"], [examples["extra_info"]])


def _field_cases() -> list[Any]:
    """(document kind, path to the field's parent, spec) for every field a row, machine or header carries."""
    parents = [
        ("properties", ("properties", 0), PropertyRow),
        ("properties", ("machine",), Machine),
        ("properties", ("machine", "torch_build"), TorchBuild),
        ("properties", ("target",), TargetInfo),
        ("benchmarks", ("machine_info", "fizzcheck", "gpu"), Gpu),
        ("benchmarks", ("benchmarks", 0, "extra_info"), BenchmarkCase),
        ("benchmarks", ("benchmarks", 0, "extra_info"), BenchmarkMetrics),
        ("benchmarks", ("benchmarks", 0, "stats"), BenchmarkStats),
        ("benchmarks", ("machine_info", "fizzcheck", "peaks", "cpu"), DevicePeaks),
    ]
    return [
        pytest.param(kind, path, spec, id=f"{_where(path)}{spec.name}")
        for kind, path, record in parents
        for spec in record_fields(record)
        if spec.name != "fizzcheck_schema" and spec.record is None
    ]


def _where(path: tuple[str | int, ...]) -> str:
    """``("properties", 0)`` → ``"properties[0]."``, as messages name a field's parent."""
    return "".join(f"[{step}]." if isinstance(step, int) else f"{step}." for step in path).replace(".[", "[")


def _shown(value: Any) -> str:
    """A value as validation messages show it."""
    return {list: "a list", dict: "an object"}.get(type(value)) or json.dumps(value)


@pytest.mark.parametrize(("kind", "path", "spec"), _field_cases())
def test_every_field_is_checked_against_its_definition(kind, path, spec):
    properties, benchmarks = _valid_documents()
    document = copy.deepcopy(properties if kind == "properties" else benchmarks)
    parent = document
    for step in path:
        parent = parent[step]
    where = _where(path)
    bad = _wrong_value(spec)
    parent[spec.name] = bad
    with pytest.raises(ResultFileError, match=re.escape(f"doc: {where}{spec.name} is {_shown(bad)}; expected ")):
        parse_result_document(document, "doc")
    parent.pop(spec.name)
    if spec.required:
        with pytest.raises(ResultFileError, match=re.escape(f"doc: {where}{spec.name} is missing")):
            parse_result_document(document, "doc")
    else:
        parse_result_document(document, "doc")  # an optional field may be absent ...
        parent[spec.name] = None
        parse_result_document(document, "doc")  # ... or null


def test_nan_is_rejected_except_where_the_schema_allows_it():
    properties, _ = _valid_documents()
    properties["properties"][0]["max_error_ratio"] = float("nan")
    parse_result_document(properties, "doc")
    properties["properties"][0]["duration_s"] = float("inf")
    with pytest.raises(ResultFileError, match=r"properties\[0\]\.duration_s is inf; expected a finite number"):
        parse_result_document(properties, "doc")


def test_an_objects_values_are_checked_against_their_type():
    _, benchmarks = _valid_documents()
    benchmarks["machine_info"]["fizzcheck"]["peaks"]["cuda"]["matmul_gflops"]["float16"] = "fast"
    with pytest.raises(
        ResultFileError,
        match=re.escape('machine_info.fizzcheck.peaks.cuda.matmul_gflops.float16 is "fast"; expected a number'),
    ):
        parse_result_document(benchmarks, "doc")


# --- one definition of each constant ----------------------------------------------------


def test_the_loader_applies_the_runners_noise_rule():
    from fizzcheck.bench.runner import derived_metrics

    extra = {"flops": 1e6, "bytes": 1e6, "device": "cpu", "dtype": "float32", "fizzcheck_schema": SCHEMA_VERSION,
             "case": "c", "implementation": "i", "size": "s"}  # fmt: skip
    spreads = [(1e-3, 2e-5), (1e-3, 1e-4), (1e-5, 1e-5), (1e-3, 5e-5), (5e-5, 2.6e-6)]
    documents = {}
    for i, (median, iqr) in enumerate(spreads):
        run = {"fizzcheck_schema": SCHEMA_VERSION, "run_id": f"r{i}", "machine_id": "m"}
        documents[f"b{i}.json"] = _benchmark_document(run, [dict(extra)], median=median, iqr=iqr)
    speed = results_from_documents(documents).speed  # no recorded noisy: the loader applies the rule
    runner = [derived_metrics(extra, {"median": median, "iqr": iqr}, None)["noisy"] for median, iqr in spreads]
    assert speed["noisy"].tolist() == runner == [False, True, False, False, True]
    assert is_noisy(0.06, 1e-3) is True


def test_the_results_package_imports_no_torch_and_nothing_of_plugin_cli_or_report():
    code = (
        "import sys\n"
        "import fizzcheck.results.machine, fizzcheck.results.schema, fizzcheck.results.schema_doc, fizzcheck.results.validate\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('fizzcheck.plugin', 'fizzcheck.cli', 'fizzcheck.report')))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"

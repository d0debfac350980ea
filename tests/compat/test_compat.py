"""fizzcheck.compat on synthetic per-release results: no torch release is installed here.

The classification per property × release, the first release of each difference, the report in
Markdown and HTML, the venv reuse logic (with a stand-in python that records what pip is asked
to do) and bad input (an unknown release, a venv whose python is broken) as one line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import synthetic

from fizzcheck.cli.mutants import main as mutants_main
from fizzcheck.compat import diff, envs, render
from fizzcheck.compat import run as compat
from fizzcheck.errors import FizzcheckError, InvalidArgument

ROOT = Path(__file__).resolve().parents[2]


# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2.13.0,2.14.1", ["2.13.0", "2.14.1"]),
        ("2.14.1, 2.4.1,2.13.0", ["2.4.1", "2.13.0", "2.14.1"]),  # release order, not string order
        ("2.15.0rc1,2.15.0", ["2.15.0rc1", "2.15.0"]),
        ("2.4.1", ["2.4.1"]),
        ("2.13.0+cpu,2.0.1", ["2.0.1", "2.13.0+cpu"]),
    ],
)
def test_parse_versions_accepts_and_orders(raw, expected):
    assert compat.parse_versions(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "give one or more torch versions"),
        (" , ", "give one or more torch versions"),
        ("2.13.0,2.13.0", "2.13.0 given more than once"),
        ("2.13.0,latest", "'latest' is not a torch version"),
        ("2.13.0,2.14.1;rm", "is not a torch version"),
    ],
)
def test_parse_versions_rejects(raw, message):
    with pytest.raises(InvalidArgument, match=message):
        compat.parse_versions(raw)


def test_default_is_the_pinned_release_and_the_newest_known():
    pinned = compat.pinned_version(ROOT)
    assert pinned is not None
    assert f"torch=={pinned}" in (ROOT / "constraints.txt").read_text()
    assert compat.default_versions().split(",") == list(dict.fromkeys([pinned, compat.KNOWN_RELEASES[-1]]))


# --- classification and first release of a difference -----------------------------------------


def _results(*rows: tuple[str, str, float | None, str | None]) -> dict:
    return {
        "properties": [
            {"nodeid": n, "outcome": o, "max_error_ratio": r, "skip_reason": why, "message": None}
            for n, o, r, why in rows
        ]
    }


FUSED = "p::test_sgd_trajectory[fused]"
TENSOR_LR = "p::test_incompatible_options_raise[tensor-lr]"
NESTEROV = "p::test_step_leaves_grad_unchanged[nesterov]"
REGRESSES = "p::test_linear"
SYNTHETIC = {  # given newest first: the diff must order them
    "2.14.1": _results(
        (FUSED, "passed", 0.4, None),
        (TENSOR_LR, "passed", None, None),
        (NESTEROV, "known_defect", None, "sgd-foreach-nesterov-grad"),
        (REGRESSES, "failed", 1.5, None),
    ),
    "2.4.1": _results(
        (FUSED, "passed", 0.4, None),
        (TENSOR_LR, "behaviour_changed", None, "RuntimeError: Boolean value of Tensor … ambiguous"),
        (NESTEROV, "known_defect", None, "sgd-foreach-nesterov-grad"),
        (REGRESSES, "passed", 0.3, None),
        ("p::gone", "passed", 0.1, None),
    ),
    "2.0.1": _results(
        (FUSED, "not_available", None, "SGD(fused=True) on cpu"),
        (TENSOR_LR, "behaviour_changed", None, "RuntimeError: Boolean value of Tensor … ambiguous"),
        (NESTEROV, "known_defect", None, "sgd-foreach-nesterov-grad"),
        (REGRESSES, "passed", 0.3, None),
        ("p::gone", "passed", 0.1, None),
    ),
}
LEGACY = {  # results written before the classified outcomes existed
    "2.0.1": _results((FUSED, "failed", None, None), (NESTEROV, "skipped", None, "expected failure: defect")),
    "2.13.0": _results((FUSED, "passed", 0.4, None), (NESTEROV, "skipped", None, "expected failure: defect")),
}


def _doc(properties=SYNTHETIC, behaviours=None, bench=()):
    versions = list(properties)
    doc = diff.build_compat_diff(versions, properties, behaviours or {}, list(bench))
    doc.update(run_id="R", wall_s=12.0, profile="ci", environments=[], runs={})
    return doc


def _by_id(doc):
    return {r["nodeid"]: r for r in doc["properties"]}


def test_each_property_and_release_gets_one_category():
    doc = _doc()
    assert doc["versions"] == ["2.0.1", "2.4.1", "2.14.1"]
    rows = _by_id(doc)
    labels = diff.CATEGORIES
    assert rows[FUSED]["categories"] == {
        "2.0.1": labels["not_available"],
        "2.4.1": labels["passed"],
        "2.14.1": labels["passed"],
    }
    assert rows[NESTEROV]["categories"] == dict.fromkeys(doc["versions"], labels["known_defect"])
    assert rows["p::gone"]["categories"]["2.14.1"] == diff.ABSENT
    assert rows[TENSOR_LR]["versions"]["2.0.1"]["reason"].startswith("RuntimeError: Boolean value")
    assert doc["summary"]["categories"]["2.0.1"] == {
        labels["not_available"]: 1,
        labels["behaviour_changed"]: 1,
        labels["known_defect"]: 1,
        labels["passed"]: 2,
    }
    assert doc["summary"]["classified"] == {"2.0.1": True, "2.4.1": True, "2.14.1": True}


def test_first_release_of_each_difference_and_its_kind():
    rows = _by_id(_doc())
    labels = diff.CATEGORIES
    assert rows[FUSED]["first_difference"] == "2.4.1"
    assert rows[FUSED]["changes"] == [
        {"release": "2.4.1", "from": labels["not_available"], "to": labels["passed"], "kind": "changed"}
    ]
    assert rows[TENSOR_LR]["first_difference"] == "2.14.1"
    assert rows[REGRESSES]["changes"] == [
        {"release": "2.14.1", "from": labels["passed"], "to": labels["failed"], "kind": "regressed"}
    ]
    assert rows[NESTEROV]["first_difference"] is None
    assert rows[NESTEROV]["status"] == "same"
    assert rows["p::gone"]["changes"][0]["to"] == diff.ABSENT
    summary = _doc()["summary"]
    assert summary["regressions"] == [REGRESSES]
    assert summary["fixes"] == []
    assert summary["transitions"][f"2.4.1: {labels['not_available']} → {labels['passed']}"] == 1


def test_a_fix_is_the_change_away_from_a_failure():
    assert diff.changes({"a": "FAIL", "b": "PASS", "c": "PASS"}) == [
        {"release": "b", "from": "FAIL", "to": "PASS", "kind": "fixed"}
    ]
    assert diff.changes({"a": "PASS", "b": "PASS"}) == []


def test_results_without_classified_outcomes_fall_back_to_the_plain_four():
    doc = _doc(LEGACY)
    rows = _by_id(doc)
    assert rows[FUSED]["categories"] == {"2.0.1": "FAIL", "2.13.0": "PASS"}
    assert rows[FUSED]["changes"][0]["kind"] == "fixed"
    assert rows[NESTEROV]["categories"] == dict.fromkeys(["2.0.1", "2.13.0"], diff.CATEGORIES["skipped"])
    assert doc["summary"]["classified"] == {"2.0.1": False, "2.13.0": False}
    assert "(no classified outcomes in these results)" in render.compat_markdown(doc)


def test_max_error_ratio_moving_beyond_the_threshold_is_a_change():
    properties = {"2.4.1": _results(("p::r", "passed", 0.2, None)), "2.13.0": _results(("p::r", "passed", 0.6, None))}
    assert _by_id(_doc(properties))["p::r"]["status"] == "changed"
    properties["2.13.0"] = _results(("p::r", "passed", 0.25, None))
    assert _by_id(_doc(properties))["p::r"]["status"] == "same"


def test_a_release_without_results_is_absent_everywhere():
    doc = _doc({"2.4.1": _results(("p::a", "passed", 0.1, None)), "2.13.0": None})
    assert _by_id(doc)["p::a"]["categories"] == {"2.4.1": "PASS", "2.13.0": diff.ABSENT}


def test_behaviour_diff_names_the_first_release_that_changed():
    same = {"outcome": "raised", "type": "ValueError", "message": "Invalid learning rate: -0.1"}
    old = {"outcome": "raised", "type": "ValueError", "message": "required optimization parameter lr"}
    new = {"outcome": "returned", "type": None, "message": "lr=0.001"}
    behaviours = {v: {"behaviours": {"lr": same, "default lr": old if v == "2.0.1" else new}} for v in SYNTHETIC}
    doc = _doc(behaviours=behaviours)
    rows = {r["behaviour"]: r for r in doc["behaviours"]}
    assert rows["lr"]["status"] == "same"
    assert rows["default lr"]["first_difference"] == "2.4.1"
    assert doc["summary"]["behaviour_differences"] == ["default lr"]


# --- benchmarks ----------------------------------------------------------------------------------


BENCH = [
    {
        "case": "matmul",
        "implementation": "torch_raw",
        "device": "cpu",
        "dtype": "float32",
        "size": "seed",
        "median_s": {"2.4.1": 1e-5, "2.14.1": 2e-5},
        "ratio": {"2.14.1": 2.0},
        "p_value": {"2.14.1": 1e-6},
        "change": {"2.14.1": "regression"},
        "first_difference": "2.14.1",
    },
    {
        "case": "matmul",
        "implementation": "numpy_reference",
        "device": "cpu",
        "dtype": "float64",
        "size": "seed",
        "median_s": {"2.4.1": 1e-4, "2.14.1": 0.8e-4},
        "ratio": {"2.14.1": 0.8},
        "p_value": {"2.14.1": 1e-3},
        "change": {"2.14.1": "improvement"},
        "first_difference": "2.14.1",
    },
]


def test_benchmark_changes_carry_their_significance_and_the_noise_floor():
    properties = {v: SYNTHETIC[v] for v in ("2.4.1", "2.14.1")}
    doc = _doc(properties, bench=BENCH)
    assert doc["summary"]["benchmark_changes"] == 2
    assert doc["summary"]["benchmark_noise_floor"] == 1.25  # the numpy reference moved by 1 / 0.8
    assert doc["summary"]["benchmark_changes_beyond_noise"] == ["matmul/torch_raw/cpu/float32/seed"]
    markdown = render.compat_markdown(doc)
    assert "20 µs ×2.00 (regression, p=1e-06)" in markdown


def test_benchmark_diff_from_result_files_finds_the_planted_slowdown(tmp_path):
    files = {}
    for seed, version in enumerate(["2.4.1", "2.13.0", "2.14.1"]):
        document = synthetic.benchmark_results(
            run_id=f"r{seed}",
            machine=synthetic.machine_block(),
            cases=synthetic.CASES[:1],
            sizes=(64, 256),
            implementations=("numpy_reference", "torch_raw"),
            dtypes=("float32",),
            slowdown={"matmul/torch_raw": 1.5} if version == "2.14.1" else None,
            seed=seed,
        )
        files[version] = synthetic.write_json(tmp_path / f"bench-{version}.json", document)
    rows = diff.benchmark_diff(files)
    torch_rows = [r for r in rows if r["implementation"] == "torch_raw"]
    assert len(rows) == 4
    assert len(torch_rows) == 2
    for row in torch_rows:
        assert not row["change"]["2.13.0"]
        assert row["change"]["2.14.1"] == "regression"
        assert row["first_difference"] == "2.14.1"
        assert row["p_value"]["2.14.1"] < 0.01
        assert 1.3 < row["ratio"]["2.14.1"] < 1.7
    numpy_rows = [r for r in rows if r["implementation"] == "numpy_reference"]
    assert all(r["first_difference"] is None for r in numpy_rows)


def test_benchmark_diff_needs_two_releases():
    assert diff.benchmark_diff({"2.13.0": None, "2.14.1": None}) == []


# --- the report ---------------------------------------------------------------------------------


def test_report_renders_categories_first_differences_and_escapes():
    properties = json.loads(json.dumps(SYNTHETIC))
    properties["2.14.1"]["properties"][3]["message"] = "got <tensor> & more"
    doc = _doc(properties)
    markdown = render.compat_markdown(doc)
    labels = diff.CATEGORIES
    row = next(line for line in markdown.splitlines() if line.startswith(f"| {FUSED} |"))
    assert row.split(" | ")[1:4] == [
        f"{labels['not_available']} (SGD(fused=True) on cpu)",
        f"{labels['passed']} 0.4",
        f"{labels['passed']} 0.4",
    ]
    assert f"2.4.1 | 2.4.1: {labels['not_available']} → {labels['passed']} |" in row
    assert f"torch 2.0.1: 2 {labels['passed']}" in markdown
    assert "1 regress to FAIL/ERROR" in markdown
    page = render.compat_html(doc)
    assert "got &lt;tensor&gt; &amp; more" in page
    assert "<tensor>" not in page
    assert f'class="{render.CATEGORY_CLASSES[labels["known_defect"]]}"' in page
    assert "sgd-foreach-nesterov-grad" in page


def test_write_report_writes_json_markdown_and_html(tmp_path):
    doc = _doc()
    compat.write_report(tmp_path, doc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["behaviour-diff.md", "compat-R.json", "index.html"]
    assert json.loads((tmp_path / "compat-R.json").read_text())["versions"] == ["2.0.1", "2.4.1", "2.14.1"]


# --- environments: reuse never puts numpy 2 back into an old release's venv ------------------------

_FAKE_PYTHON = """#!{python}
# Stands in for a venv's python: answers the environment probe from state.json and records pip calls.
import json, sys
from pathlib import Path
home = Path(__file__).resolve().parent.parent
state = json.loads((home / "state.json").read_text())
args = sys.argv[1:]
if args[:1] == ["-c"]:
    print(json.dumps({{**state, "numpy_abi": "ok" if state["numpy"] in state["works_with"] else "RuntimeError: Numpy is not available"}}))
elif args[:3] == ["-m", "pip", "install"]:
    with (home / "pip.log").open("a") as log:
        log.write(" ".join(args[3:]) + "\\n")
    for arg in args:
        if arg == "numpy<2":
            state["numpy"] = "1.26.4"
        elif arg.startswith("numpy=="):
            state["numpy"] = arg[7:]
        elif arg == "-e":
            state["fizzcheck"] = str(Path(args[args.index("-e") + 1]) / "fizzcheck" / "__init__.py")
            state["missing"] = []
    (home / "state.json").write_text(json.dumps(state))
else:
    sys.exit(3)
"""


def _fake_venv(tmp_path: Path, version: str, **state) -> Path:
    venv = tmp_path / "venvs" / f"torch-{version}"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(_FAKE_PYTHON.format(python=sys.executable))
    python.chmod(0o755)
    (venv / "state.json").write_text(json.dumps({"torch": f"{version}+cu117", "missing": [], **state}))
    return venv


def _ensure(tmp_path: Path, version: str):
    with (tmp_path / "log.txt").open("a+") as log:
        return envs.ensure_environment(version, root=ROOT, venv_dir=tmp_path / "venvs", isolated=True, log=log)


def _pip_calls(venv: Path) -> list[str]:
    log = venv / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_reused_venv_that_works_is_left_alone(tmp_path):
    here = str(ROOT / "fizzcheck" / "__init__.py")
    venv = _fake_venv(tmp_path, "2.0.1", numpy="1.26.4", works_with=["1.26.4"], fizzcheck=here)
    env = _ensure(tmp_path, "2.0.1")
    assert (env.kind, env.numpy, _pip_calls(venv)) == ("reused venv", "1.26.4", [])
    assert env.python == venv.resolve() / "bin" / "python"


def test_reused_venv_of_another_checkout_keeps_its_numpy(tmp_path):
    venv = _fake_venv(tmp_path, "2.0.1", numpy="1.26.4", works_with=["1.26.4"], fizzcheck="/elsewhere/fizzcheck/x.py")
    env = _ensure(tmp_path, "2.0.1")
    (call,) = _pip_calls(venv)
    assert f"-e {ROOT}" in call
    assert "numpy==1.26.4" in call
    assert "pandas==" not in call  # this machine's pandas needs numpy 2: pip picks one for numpy 1
    assert env.numpy == "1.26.4"


def test_reused_venv_with_numpy_2_that_torch_cannot_use_gets_numpy_1(tmp_path):
    here = str(ROOT / "fizzcheck" / "__init__.py")
    venv = _fake_venv(tmp_path, "2.1.2", numpy="2.4.6", works_with=["1.26.4"], fizzcheck=here)
    env = _ensure(tmp_path, "2.1.2")
    calls = _pip_calls(venv)
    assert calls[0].endswith("numpy<2")
    assert all("numpy==2" not in c for c in calls)
    assert (env.kind, env.numpy) == ("repaired venv", "1.26.4")
    assert "numpy<2" in env.notes[0]
    assert "Numpy is not available" in env.notes[0]


def test_venv_with_a_broken_python_is_one_line_and_left_in_place(tmp_path):
    venv = tmp_path / "venvs" / "torch-2.4.1"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "no-such-python")
    with pytest.raises(FizzcheckError, match=r"its python does not run .*rm -rf"):
        _ensure(tmp_path, "2.4.1")
    assert venv.is_dir()


@pytest.mark.parametrize(
    "pip_says",
    [
        "ERROR: No matching distribution found for torch==9.9.9",  # no such release on the index
        "ERROR: Cannot install torch==9.9.9 because these package versions have conflicting dependencies.",
    ],
)
def test_pip_that_cannot_install_the_release_is_one_line(tmp_path, pip_says):
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho '{pip_says}'\nexit 1\n")
    fake.chmod(0o755)
    with (tmp_path / "log.txt").open("a+") as log, pytest.raises(FizzcheckError) as caught:
        envs._pip(fake, "torch==9.9.9", log=log)
    message = str(caught.value)
    assert message.startswith("torch==9.9.9: pip cannot install this torch release here")
    assert "\n" not in message


def test_a_failed_first_install_leaves_no_venv(tmp_path, monkeypatch):
    def no_release(python, *args, log):
        raise FizzcheckError("torch==9.9.9: pip cannot install this torch release here")

    monkeypatch.setattr(envs, "_pip", no_release)
    monkeypatch.setattr(envs.subprocess, "call", lambda argv, **kw: Path(argv[-1]).mkdir(parents=True) or 0)
    with pytest.raises(FizzcheckError, match="cannot install this torch release"):
        _ensure(tmp_path, "9.9.9")
    assert not (tmp_path / "venvs" / "torch-9.9.9").exists()


# --- the command: bad input is one line, before anything runs -------------------------------------


def _main(argv, capsys):
    try:
        code = mutants_main(argv)
    except SystemExit as exc:  # usage errors exit
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("versions", "message"),
    [("2.13.0,latest", "'latest' is not a torch version"), ("2.4.1,2.4.1", "given more than once")],
)
def test_cli_bad_versions_are_one_line(capsys, tmp_path, versions, message):
    code, err = _main(["compat", "--versions", versions, "--output-dir", str(tmp_path / "r")], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_cli_broken_venv_is_one_line_and_writes_no_report(capsys, tmp_path):
    venv = tmp_path / "venvs" / "torch-2.4.1"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "no-such-python")
    argv = ["compat", "--versions", "2.4.1", "--venv-dir", str(tmp_path / "venvs"), "--no-bench"]
    code, err = _main([*argv, "--output-dir", str(tmp_path / "r")], capsys)
    assert code == 2
    assert "its python does not run" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
    assert os.path.islink(venv / "bin" / "python")  # the user's venv is not deleted behind their back


def test_the_opt_in_nox_session_runs_every_known_release():
    noxfile = (ROOT / "noxfile.py").read_text()
    (releases,) = re.findall(r'^COMPAT_RELEASES = "([^"]+)"', noxfile, flags=re.MULTILINE)
    assert tuple(releases.split(",")) == compat.KNOWN_RELEASES
    assert "def compat_releases(session" in noxfile
    assert '"compat_releases"' not in noxfile.split("nox.options.sessions", 1)[1].split("\n", 1)[0]

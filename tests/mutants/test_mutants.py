"""fizzcheck.mutants: the catalogue's witnesses, the plugin and the kill matrix (compat: tests/compat/).

Fast by design: nothing here runs the property suite (``fizzcheck mutants run`` does).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from fizzcheck.cli.mutants import main as mutants_main
from fizzcheck.errors import InvalidArgument
from fizzcheck.mutants import catalogue as cat
from fizzcheck.mutants.faults import optimizer
from fizzcheck.mutants.run import (
    XPASS_STRICT,
    FaultRun,
    build_kill_matrix,
    cell_state,
    kill_matrix_html,
    kill_matrix_markdown,
    parse_names,
)

PROPERTIES = Path(__file__).resolve().parents[2] / "properties"


def _mode_stacks() -> tuple[int, int]:
    return torch._C._len_torch_function_stack(), torch._C._len_torch_dispatch_stack()


def _torch_entry_points() -> dict[str, object]:
    return {
        "sgd": optimizer.SGD_MODULE.sgd,
        "backward": torch.autograd.backward,
        "no_grad.__enter__": torch.no_grad.__dict__["__enter__"],
        **{f"Module.{name}": nn.Module.__dict__[name] for name in ("zero_grad", "parameters", "train", "state_dict")},
    }


# --- the catalogue --------------------------------------------------------------------------


@pytest.mark.parametrize("fault", cat.CATALOGUE, ids=lambda f: f.name)
def test_witness_is_true_exactly_while_the_fault_is_planted(fault):
    before = _torch_entry_points()
    assert not fault.witness(), f"{fault.name}: witness fires before the fault is planted"
    with fault.activate():
        assert fault.witness(), f"{fault.name}: witness does not fire while the fault is planted"
    assert not fault.witness(), f"{fault.name}: witness still fires after the fault was removed"
    assert _torch_entry_points() == before, f"{fault.name}: activate() did not restore what it patched"
    assert _mode_stacks() == (0, 0), f"{fault.name}: activate() left a torch mode on the stack"


@pytest.mark.parametrize("control", cat.CONTROLS, ids=lambda c: c.name)
def test_controls_change_no_result(control):
    x = torch.linspace(-3.0, 3.0, 130, dtype=torch.float64).reshape(2, 65)
    layer = nn.Linear(65, 3, dtype=torch.float64)
    reference = (torch.sigmoid(x).sum().item(), layer(x).tolist(), torch.log_softmax(x.t(), 0).tolist())
    with control.activate():
        assert not control.witness(), f"a fault's witness fires under the control {control.name}"
        planted = (torch.sigmoid(x).sum().item(), layer(x).tolist(), torch.log_softmax(x.t(), 0).tolist())
    assert planted == reference


def test_none_control_plants_nothing():
    before = _torch_entry_points()
    with cat.fault_by_name("none").activate():
        assert _torch_entry_points() == before
        assert _mode_stacks() == (0, 0)


def test_identity_control_uses_every_mechanism():
    before = _torch_entry_points()
    with cat.fault_by_name("identity").activate():
        assert _mode_stacks() == (1, 1)
        during = _torch_entry_points()
        changed = {name for name in before if during[name] is not before[name]}
        assert changed == set(before) - {"no_grad.__enter__"}
    assert _torch_entry_points() == before


def test_catalogue_is_well_formed():
    names = cat.fault_names()
    assert len(names) == len(set(names))
    files = {p.name for p in PROPERTIES.glob("test_*.py")}
    for fault in (*cat.CONTROLS, *cat.CATALOGUE):
        assert fault.category in cat.CATEGORIES, fault.name
        assert fault.description.strip(), fault.name
        assert fault.targets, fault.name
        assert set(fault.targets) <= files, f"{fault.name} targets {fault.targets}"
    assert {f.category for f in cat.CATALOGUE} == set(cat.CATEGORIES) - {"control"}


def test_each_family_module_holds_one_category_in_catalogue_order():
    assert [family.CATEGORY for family in cat.FAMILIES] == [c for c in cat.CATEGORIES if c != "control"]
    for family in cat.FAMILIES:
        assert family.FAULTS, family.__name__
        assert {fault.category for fault in family.FAULTS} == {family.CATEGORY}, family.__name__
    assert tuple(fault for family in cat.FAMILIES for fault in family.FAULTS) == cat.CATALOGUE


def test_importing_the_package_does_not_import_torch():
    """torch starts only when the catalogue is used (a fault planted, a witness run, the list printed)."""
    modules = ["fizzcheck.mutants", "fizzcheck.mutants.fault", "fizzcheck.mutants.faults"]
    modules += ["fizzcheck.mutants.run", "fizzcheck.mutants.plugin", "fizzcheck.mutants.render"]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing {', '.join(modules)} imported torch: {out.strip()}"


def test_unknown_fault_is_one_line_error():
    with pytest.raises(InvalidArgument, match=r"fault='tf32' is not in the catalogue; use one of: none, identity, "):
        cat.fault_by_name("tf32")


def test_remainder_tile_faults_spare_whole_tiles():
    """The tiling faults are realistic: lengths that are whole tiles (or short) stay right."""
    with cat.fault_by_name("matmul_drops_remainder_k_tile").activate():
        assert (torch.ones(1, 128) @ torch.ones(128, 1)).item() == 128
        assert (torch.ones(1, 63) @ torch.ones(63, 1)).item() == 63
        assert (torch.ones(1, 129) @ torch.ones(129, 1)).item() == 128
    with cat.fault_by_name("sum_drops_remainder_tile").activate():
        x = torch.ones(3, 70, dtype=torch.float64)
        assert x.sum(1).tolist() == [64.0] * 3
        assert x.sum(0, keepdim=True).shape == (1, 70)
        assert x.mean().item() == pytest.approx(192 / 210)


def test_strides_fault_spares_contiguous_inputs():
    x = torch.arange(6.0).reshape(2, 3)
    with cat.fault_by_name("kernels_ignore_strides").activate():
        assert torch.equal(torch.sigmoid(x), 1 / (1 + torch.exp(-x)))
        assert not torch.equal(torch.sigmoid(x.t()), torch.sigmoid(x.t().contiguous()))


# --- the plugin (in-process pytester runs: no torch start-up cost) ---------------------------


SIGMOID_TEST = """
import math, torch

def test_sigmoid_is_planted():
    got = torch.sigmoid(torch.tensor(0.5, dtype=torch.float64)).item()
    assert abs(got - 1 / (1 + math.exp(-0.5))) > 10 * math.ulp(got)
"""


def test_plugin_plants_fault_for_the_session_and_writes_witness(pytester, monkeypatch, tmp_path):
    pytester.makepyfile(SIGMOID_TEST)
    monkeypatch.setenv("FIZZCHECK_MUTANT", "sigmoid_off_by_30_ulps")
    monkeypatch.setenv("FIZZCHECK_MUTANT_WITNESS_DIR", str(tmp_path / "w"))
    result = pytester.runpytest_inprocess("-p", "fizzcheck.mutants.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    record = json.loads((tmp_path / "w" / "witness-main.json").read_text())
    assert (record["fault"], record["witness"], record["error"]) == ("sigmoid_off_by_30_ulps", True, None)
    assert torch.sigmoid(torch.tensor(0.5, dtype=torch.float64)).item() == pytest.approx(
        1 / (1 + math.exp(-0.5)), abs=0
    )
    assert _mode_stacks() == (0, 0)


@pytest.mark.parametrize(
    ("value", "message"), [("nope", "fault='nope' is not in the catalogue"), ("", "needs FIZZCHECK_MUTANT")]
)
def test_plugin_rejects_missing_or_unknown_fault(pytester, monkeypatch, value, message):
    pytester.makepyfile("def test_nothing(): pass")
    monkeypatch.setenv("FIZZCHECK_MUTANT", value)
    result = pytester.runpytest_inprocess("-p", "fizzcheck.mutants.plugin", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


# --- the kill matrix on synthetic result files -------------------------------------------------


def _row(module: str, prop: str, outcome: str, message: str | None = None, suffix: str = "cpu-float32") -> dict:
    return {
        "nodeid": f"properties/{module}::{prop}[{suffix}]",
        "property": prop,
        "module": f"properties/{module}",
        "outcome": outcome,
        "message": message,
        "max_error_ratio": 0.5,
    }


def _run(
    name: str, rows: list[dict] | None, *, targets=("test_ops.py",), control=False, witness=True, status=1
) -> FaultRun:
    return FaultRun(
        name,
        "control" if control else "precision",
        f"<{name}> & co",
        list(targets),
        control,
        exit_status=status,
        duration_s=3.0,
        results=None if rows is None else {"properties": rows},
        witnesses=[{"witness": witness, "error": None}],
    )


ALL_GREEN = [_row("test_ops.py", "test_matmul", "passed"), _row("test_autograd.py", "test_graph", "passed")]


def test_cell_states():
    assert cell_state([], targeted=True) == ("not run", "")
    assert cell_state([_row("a", "p", "failed", "x")], targeted=False) == ("not run", "")
    assert cell_state([_row("a", "p", "passed"), _row("a", "p", "failed", "BoundExceeded: off")], targeted=True) == (
        "killed",
        "BoundExceeded: off",
    )
    assert cell_state([_row("a", "p", "failed", "DeadlineExceeded: slow")], targeted=True)[0] == "suspect"
    assert cell_state([_row("a", "p", "failed", "Flaky: once")], targeted=True)[0] == "suspect"
    assert cell_state([_row("a", "p", "error", "RuntimeError: setup")], targeted=True)[0] == "killed"
    assert cell_state([_row("a", "p", "skipped")], targeted=True)[0] == "skipped"
    assert cell_state([_row("a", "p", "failed", None)], targeted=True) == ("killed", XPASS_STRICT)
    assert cell_state([_row("a", "p", "passed"), _row("a", "p", "skipped")], targeted=True)[0] == "survived"


def test_kill_matrix_from_synthetic_results():
    runs = [
        _run("none", ALL_GREEN, targets=("test_ops.py", "test_autograd.py"), control=True, witness=False, status=0),
        _run(
            "killed_fault",
            [
                _row("test_ops.py", "test_matmul", "failed", "BoundExceeded: <b>"),
                _row("test_ops.py", "test_matmul", "passed", suffix="cpu-float64"),
            ],
        ),
        _run("surviving_fault", [_row("test_ops.py", "test_matmul", "passed")], status=0),
        _run("slow_fault", [_row("test_ops.py", "test_matmul", "failed", "DeadlineExceeded: 6 s")]),
        _run("crashed_fault", None, status=3),
    ]
    doc = build_kill_matrix(runs, order=("test_ops.py", "test_autograd.py"))
    assert doc["columns"] == ["test_ops.py::test_matmul", "test_autograd.py::test_graph"]
    status = {f["name"]: f["status"] for f in doc["faults"]}
    assert status == {
        "none": "green",
        "killed_fault": "killed",
        "surviving_fault": "survived",
        "slow_fault": "survived",
        "crashed_fault": "broken",
    }
    killed = doc["faults"][1]
    assert killed["killed_by"] == ["test_ops.py::test_matmul"]
    assert killed["cells"]["test_autograd.py::test_graph"]["state"] == "not run"
    assert doc["faults"][3]["suspect"] == ["test_ops.py::test_matmul"]
    s = doc["summary"]
    assert (s["faults"], s["killed"], s["kill_rate"]) == (4, 1, 0.25)
    assert s["survived"] == ["surviving_fault", "slow_fault"]
    assert s["broken"] == ["crashed_fault"]
    assert s["controls_green"]
    assert s["witnesses_ok"]
    assert not s["ok"]


def test_kill_matrix_flags_red_control_and_wrong_witnesses():
    runs = [
        _run("none", [_row("test_ops.py", "test_matmul", "failed", "BoundExceeded: x")], control=True, witness=False),
        _run("identity", ALL_GREEN, control=True, witness=True, status=0),
        _run("inactive_fault", [_row("test_ops.py", "test_matmul", "failed", "AssertionError: y")], witness=False),
    ]
    doc = build_kill_matrix(runs)
    assert doc["summary"]["controls"] == {"none": "red", "identity": "green"}
    assert doc["summary"]["bad_witnesses"] == ["identity", "inactive_fault"]
    assert not doc["summary"]["ok"]


def test_all_killed_is_ok_and_renders_escaped():
    runs = [
        _run("none", ALL_GREEN, targets=("test_ops.py", "test_autograd.py"), control=True, witness=False, status=0),
        _run("f<1>", [_row("test_ops.py", "test_matmul", "failed", "BoundExceeded: <script>alert(1)</script>")]),
    ]
    doc = {
        **build_kill_matrix(runs),
        "run_id": "R1",
        "wall_s": 12.0,
        "jobs": 1,
        "workers": 0,
        "profile": "ci",
        "shrink": False,
        "torch_version": "2.13.0+cpu",
    }
    assert doc["summary"]["ok"]
    assert doc["summary"]["kill_rate"] == 1.0
    page = kill_matrix_html(doc)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "f&lt;1&gt;" in page
    markdown = kill_matrix_markdown(doc)
    assert "kill rate: 1 of 1 faults killed (100 %)" in markdown
    assert "| F1 | f<1> | precision | test_ops.py | True | killed | 1: test_matmul | 3 s |" in markdown


def test_parse_names():
    assert parse_names(None, ["a", "b"], "--faults") == ["a", "b"]
    assert parse_names(" b, a ", ["a", "b"], "--faults") == ["b", "a"]
    with pytest.raises(InvalidArgument, match=r"--faults='a,c': unknown c; use a, b"):
        parse_names("a,c", ["a", "b"], "--faults")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--faults", "tf32"], "unknown tf32"),
        (["run", "--jobs", "0"], "'--jobs': 0 is not in the range x>=1"),
        (["list", "--", "-k", "x"], "list: error: Got unexpected extra arguments (-k x)"),
        (["explode"], "No such command 'explode'"),
    ],
)
def test_cli_bad_input_is_one_line(capsys, argv, message):
    try:
        code = mutants_main(argv)
    except SystemExit as exc:  # usage errors exit
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1

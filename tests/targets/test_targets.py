"""Pluggable targets: loading, overrides, the properties' independence from torch, and the
README's worked example of a deliberately wrong adapter."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from fizzcheck.errors import InvalidArgument
from fizzcheck.plugin.reproduce import render
from fizzcheck.targets import BUILTIN_TARGETS, Target, load_target
from fizzcheck.targets.seed_raw import ManualSGD

ROOT = Path(__file__).resolve().parents[2]
PROPERTY_FILES = sorted((ROOT / "properties").glob("*.py"))
FORBIDDEN = ("torch", "fizzcheck.targets.tensors")  # fizzcheck.targets.tensors is torch-side: go through target.tensor


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_the_scan_finds_the_property_suite():
    # an empty PROPERTY_FILES (a moved test file, a wrong ROOT) would make the scan below pass vacuously
    assert {"test_ops.py", "test_optim.py", "test_transforms.py"} <= {p.name for p in PROPERTY_FILES}


@pytest.mark.parametrize("path", PROPERTY_FILES, ids=lambda p: p.name)
def test_properties_reach_torch_only_through_the_target(path):
    bad = [n for n in _imports(path) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}; properties must call the framework through the `target` fixture"


def test_the_import_scan_sees_imports():
    """The scan above can fail: it finds torch in a module that imports it."""
    assert "torch" in _imports(ROOT / "fizzcheck" / "targets" / "seed_raw.py")


@pytest.mark.parametrize("spec", ["torch", "seed-raw", "compile", "compile:aot_eager"])
def test_builtin_targets_load_and_describe_themselves(spec):
    target = load_target(spec)
    info = target.describe()
    assert info["spec"] == spec
    assert info["torch"] == torch.__version__
    assert (info["overrides"] == []) == (spec == "torch")
    assert set(BUILTIN_TARGETS) == {"torch", "seed-raw", "compile"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "target spec is empty"),
        ("pytorch", "'pytorch' is unknown"),
        ("seed-raw:fast", "takes no ':' option"),
        ("compile:warp-drive", "unknown torch.compile backend"),
        ("no_such_module_xyz:Name", "cannot import 'no_such_module_xyz'"),
        ("fizzcheck.targets.base:Nothing", "has no 'Nothing'"),
        ("fizzcheck.targets.base:NAMESPACES", "gave dict, not a fizzcheck.targets.Target"),
        ("fizzcheck.targets.base:Namespace", "Namespace() raised TypeError"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(InvalidArgument) as info:
        load_target(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_overrides_win_and_everything_else_is_torch():
    def my_linear(x, w, b=None):
        return x

    class Mine(Target):
        name = "mine"

        def overrides(self):
            return {"F.linear": my_linear}

    target = Mine()
    assert target.F.linear is my_linear
    assert target.F.relu is torch.nn.functional.relu
    assert target.nn.Linear is torch.nn.Linear
    assert target.replaces("F.linear")
    assert not target.replaces("nn.Linear")
    assert target.describe()["overrides"] == ["F.linear"]


@pytest.mark.parametrize("key", ["F.linaer", "linear", "jax.linear", "nn.Linear.forward"])
def test_a_misspelt_override_is_rejected(key):
    """A typo would otherwise silently test torch's own function under the user's name."""

    class Typo(Target):
        name = "typo"

        def overrides(self):
            return {key: lambda *args: None}

    with pytest.raises(InvalidArgument, match=key.replace(".", r"\.")):
        Typo()


def test_manual_sgd_checks_hyper_parameters_as_torch_does():
    param = torch.zeros(2, requires_grad=True)
    for kwargs in ({"lr": -1.0}, {"lr": 0.1, "momentum": -0.5}, {"lr": 0.1, "nesterov": True}):
        with pytest.raises(ValueError) as ours:
            ManualSGD([param], **kwargs)
        with pytest.raises(ValueError) as theirs:
            torch.optim.SGD([param], **kwargs)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="one implementation"):
        ManualSGD([param], lr=0.1, fused=True)


def test_reproducer_rebuilds_the_target_and_empty_arrays():
    def check(target, x):
        raise AssertionError

    code = render(check, {"target": load_target("seed-raw"), "x": np.zeros((255, 79, 0))})
    assert "from fizzcheck.targets import load_target" in code
    assert "target = load_target('seed-raw')" in code
    assert "x = np.zeros((255, 79, 0), dtype=np.dtype('float64'))" in code  # spelled for numpy 1.x and 2.x alike


def test_unknown_target_option_is_a_usage_error(pytester):
    pytester.makepyfile("def test_nothing(target):\n    assert target.name == 'torch'\n")
    result = pytester.runpytest("--fizzcheck-target=pytorch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--fizzcheck-target=pytorch: target 'pytorch' is unknown" in result.stderr.str()


def test_target_fixture_follows_option_and_environment(pytester, monkeypatch):
    pytester.makepyfile(
        "def test_spec(target):\n    assert target.spec == EXPECTED\n".replace("EXPECTED", "'seed-raw'")
    )
    pytester.runpytest("--fizzcheck-target=seed-raw").assert_outcomes(passed=1)
    monkeypatch.setenv("FIZZCHECK_TARGET", "seed-raw")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*fizzcheck: target=seed-raw (13 overrides)*"])


def _pytest(*args: str, pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_XDIST")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fizzcheck-device=cpu", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_readme_wrong_adapter_is_caught(tmp_path):
    """The README's worked example: a bfloat16 'fast' linear fails test_linear with a
    reproducer that rebuilds the user's target; torch eager passes the same selection."""
    results = tmp_path / "wrong.json"
    wrong = _pytest(
        "properties/test_ops.py",
        "-k",
        "test_linear",
        "--fizzcheck-dtype=float32",
        "--fizzcheck-target",
        "bf16_linear:Bfloat16Linear",
        f"--fizzcheck-results={results}",
        pythonpath="docs/examples",
    )
    assert wrong.returncode == 1, wrong.stdout[-2000:]
    assert "FAILED properties/test_ops.py::test_linear[cpu-float32]" in wrong.stdout
    assert "target = load_target('bf16_linear:Bfloat16Linear')" in wrong.stdout
    assert "verdict: FAIL" in wrong.stdout
    payload = json.loads(results.read_text())
    assert payload["target"]["overrides"] == ["F.linear", "nn.Linear"]
    [row] = [r for r in payload["properties"] if r["property"] == "test_linear" and r["device"] == "cpu"]
    assert row["target"] == "bf16_linear:Bfloat16Linear"
    assert row["outcome"] == "failed"
    right = _pytest("properties/test_ops.py", "-k", "test_linear", "--fizzcheck-dtype=float32")
    assert right.returncode == 0, right.stdout[-2000:]


# --- what the compile target found (each a witness: if torch changes, this test says so) ---


def test_compile_target_passes_the_op_properties():
    """compile:aot_eager runs the op properties (forward and backward) green, except MSE."""
    done = _pytest(
        "properties/test_ops.py",
        "-k",
        "test_matmul or test_linear or test_sigmoid or test_softmax or test_cross_entropy",
        "--fizzcheck-dtype=float32",
        "--hypothesis-profile=dev",
        "--fizzcheck-target=compile:aot_eager",
        "-p",
        "no:logging",  # dynamo's debug records would fill the captured output
    )
    assert done.returncode == 0, done.stdout[-3000:]
    for op in ("matmul", "linear", "sigmoid", "softmax", "cross_entropy"):
        assert f"properties/test_ops.py::test_{op}[cpu-float32]" in done.stdout  # ran, and passed (rc 0)


def test_compiled_mse_backward_over_an_empty_batch_fails_to_compile():
    """torch.compile of mse_loss(reduction='mean') cannot differentiate an empty batch: the
    decomposition computes 2.0 / numel in Python and raises ZeroDivisionError at compile
    time, where eager returns an empty gradient. The property suite finds it (test_mse)."""
    from properties.test_ops import check_mse

    empty = {"x": np.zeros((0, 2)), "y": np.zeros((0, 2)), "g": np.array(0.0), "reduction": "mean"}
    options = {"variant": "F.mse_loss", "device": "cpu", "dtype": "float32", "layout": "contiguous"}
    check_mse(target=load_target("torch"), **empty, **options)
    with pytest.raises(Exception, match=r"ZeroDivisionError|float division by zero"):
        check_mse(target=load_target("compile:aot_eager"), **empty, **options)


def test_compiled_ops_warn_only_when_traced():
    """A warning raised inside a compiled op is emitted when dynamo traces it, not on later
    calls of the cached graph: mse_loss's broadcasting warning comes once per specialisation,
    so test_mse_warns_when_broadcasting_changes_the_value fails for the second variant."""
    target = load_target("compile:aot_eager")
    x, y = torch.zeros(4, 1, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    with pytest.warns(UserWarning, match="target size"):
        target.F.mse_loss(x, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target.F.mse_loss(x, y)
    assert not [w for w in caught if "target size" in str(w.message)]
    with pytest.warns(UserWarning, match="target size"):  # eager warns on every call
        torch.nn.functional.mse_loss(x, y)


def test_compiled_ops_cannot_run_under_torch_func_jvp():
    """functorch transforms do not trace into a torch.compile'd function: forward mode via
    torch.func.jvp fails under the compile target (forward_ad's dual tensors work)."""
    target = load_target("compile:aot_eager")
    x = torch.ones(3)
    with warnings.catch_warnings():
        # torch's first forward-mode call imports a module that calls the deprecated jit.script
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
        with pytest.raises(Exception, match="functorch"):
            target.func.jvp(lambda t: target.F.softmax(t, dim=0), (x,), (x,))
        with torch.autograd.forward_ad.dual_level():
            out = target.F.softmax(torch.autograd.forward_ad.make_dual(x, x), dim=0)
            assert torch.autograd.forward_ad.unpack_dual(out).tangent is not None


# --- benchmarks through a target ---------------------------------------------------------


def test_benchmarks_time_a_target_only_when_one_is_selected():
    from fizzcheck.bench.registry import iter_params

    assert not [p for p in iter_params(quick=True, devices=("cpu",)) if p.implementation == "target"]
    through = {
        p.case for p in iter_params(quick=True, devices=("cpu",), with_target=True) if p.implementation == "target"
    }
    assert {"matmul", "linear_forward_backward", "mse_forward_backward", "fizzbuzz_epoch"} <= through


def test_a_target_is_checked_against_the_reference_before_it_is_timed(monkeypatch):
    from fizzcheck.bench.registry import CaseParams, Unavailable, use_target
    from fizzcheck.bench.runner import extra_info, prepare
    from fizzcheck.errors import BoundExceeded

    params = CaseParams("linear_forward_backward", "target", "cpu", "float32", "seed")
    use_target(None)
    with pytest.raises(Unavailable, match="no target selected"):
        prepare(params)
    try:
        use_target(load_target("seed-raw"))
        prepared, ratios = prepare(params)
        assert set(ratios) == {"out", "grad_x", "grad_weight", "grad_bias"}
        assert extra_info(params, prepared, ratios, 1)["target"] == "seed-raw"
        monkeypatch.syspath_prepend(str(ROOT / "docs" / "examples"))
        use_target(load_target("bf16_linear:Bfloat16Linear"))
        with pytest.raises(BoundExceeded, match="linear_forward_backward-target-cpu-float32-seed out"):
            prepare(params)
    finally:
        use_target(None)

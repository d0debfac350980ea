"""The pytest plugin: profiles, device/dtype parametrisation, CUDA skips, summary, reproducers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

import fizzcheck.targets.tensors  # noqa: F401 - imported here so pytester's in-process runs never re-import torch
from fizzcheck.plugin.hooks import PROFILES

PROPERTY = """
import numpy as np
from fizzcheck.check import assert_close
from fizzcheck.plugin.reproduce import run_check

def check_identity(x, *, shift):
    assert_close(np.asarray(x) + shift, np.asarray(x), bound=1e-3, op="identity")

def test_identity(device, dtype):
    run_check(check_identity, x=np.arange(3.0), shift=SHIFT)
"""


def test_profiles_are_registered_with_hypothesis():
    for name, values in PROFILES.items():
        profile = settings.get_profile(name)
        assert profile.max_examples == values["max_examples"]
    assert settings.get_profile("ci").derandomize
    assert settings.get_profile("thorough").max_examples >= 1000
    assert settings.get_profile("ci").max_examples >= 100


def test_default_is_every_available_device_and_what_is_missing_is_one_line(pytester):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*test_identity?cpu-float32? PASSED*", "*test_identity?cpu-float64? PASSED*"])
    if torch.cuda.is_available():
        result.stdout.fnmatch_lines(["*test_identity?cuda-float16? PASSED*"])
    else:  # no CUDA rows at all: one line says why, in the header and in the summary
        assert "cuda-" not in result.stdout.str()
        result.stdout.fnmatch_lines(
            [
                "fizzcheck: cuda not available (torch.cuda.is_available() is False)",
                "*not run here: cuda not available (torch.cuda.is_available() is False)",
                "verdict: PASS — 2 passed, 0 failed, 0 errors of 2 property tests; target torch (torch *); "
                "verified on cpu (float32, float64); cuda not available (torch.cuda.is_available() is False)*",
            ]
        )
        result.assert_outcomes(passed=2)


def test_selection_options_and_env(pytester, monkeypatch):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    result = pytester.runpytest("-v", "--fizzcheck-device=cpu", "--fizzcheck-dtype=float64")
    result.assert_outcomes(passed=1)
    monkeypatch.setenv("FIZZCHECK_DTYPES", "float32")
    result = pytester.runpytest("-v", "--fizzcheck-device=cpu")
    result.stdout.fnmatch_lines(["*test_identity?cpu-float32? PASSED*"])


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks what happens on a machine without CUDA")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fizzcheck-device=tpu"], "unknown ['tpu']"),
        (["--fizzcheck-dtype=int8"], "unknown ['int8']"),
        (["--hypothesis-profile=nope"], "nope"),
        pytest.param(
            ["--fizzcheck-device=cuda"],
            "--fizzcheck-device=cuda: cuda not available (torch.cuda.is_available() is False)",
            marks=NO_CUDA,
        ),
        pytest.param(
            ["--fizzcheck-device=cpu,cuda"], "cuda not available (torch.cuda.is_available() is False)", marks=NO_CUDA
        ),
    ],
)
def test_bad_options_are_usage_errors(pytester, options, message):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    result = pytester.runpytest(*options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    assert message in errors[0]
    assert "passed" not in result.stdout.str()  # nothing ran


LOW_PRECISION_PROPERTIES = """
import pytest

def test_default(device, dtype):
    pass

@pytest.mark.cpu_low_precision
def test_marked(device, dtype):
    pass
"""


def test_half_precisions_run_on_the_cpu_only_for_properties_marked_cpu_low_precision(pytester):
    pytester.makepyfile(LOW_PRECISION_PROPERTIES)
    result = pytester.runpytest("--fizzcheck-device=cpu", "--collect-only", "-q", "-p", "no:cacheprovider")
    ids = {line.strip() for line in result.stdout.lines if "::" in line}
    name = "test_half_precisions_run_on_the_cpu_only_for_properties_marked_cpu_low_precision.py"
    assert {i.split("::")[1] for i in ids} == {
        "test_default[cpu-float32]",
        "test_default[cpu-float64]",
        *(f"test_marked[cpu-{d}]" for d in ("float32", "float64", "float16", "bfloat16")),
    }, ids
    assert all(i.startswith(name) for i in ids)
    # asking for float16 alone runs the marked property in it; the others say why they are empty
    result = pytester.runpytest("--fizzcheck-device=cpu", "--fizzcheck-dtype=float16", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*got empty parameter set for (device, dtype)*"])


def test_profile_selection_from_environment(pytester, monkeypatch):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    monkeypatch.setenv("FIZZCHECK_PROFILE", "thorough")
    pytester.runpytest("--fizzcheck-device=cpu").stdout.fnmatch_lines(["*hypothesis profile=thorough*"])
    monkeypatch.delenv("FIZZCHECK_PROFILE")
    monkeypatch.setenv("CI", "true")
    pytester.runpytest("--fizzcheck-device=cpu").stdout.fnmatch_lines(["*hypothesis profile=ci*"])
    # a seed must change the examples: with --hypothesis-seed the ci profile is not derandomised
    pytester.runpytest("--fizzcheck-device=cpu", "--hypothesis-seed=3").stdout.fnmatch_lines(
        ["*hypothesis profile=ci-seeded*"]
    )


def test_failure_carries_reproducer_and_summary(pytester):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "1.0"))
    result = pytester.runpytest("--fizzcheck-device=cpu", "--fizzcheck-dtype=float64")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*out?0?=1.0, but should be 0.0 within bound 0.001 (error/bound=1e+03) ?identity?*",
            "*Reproducer (Python; runs anywhere the fizzcheck package is installed, with test_failure_carries_reproducer_and_summary importable):*",
            "*x = np.array(?0.0, 1.0, 2.0?, dtype=np.dtype(?float64?)).reshape((3,))*",
            "*check_identity(x=x, shift=shift)*",
            "*verdict: FAIL*",
        ]
    )


def test_results_json_records_outcomes_examples_ratio_and_reproducer(pytester):
    import json

    pytester.makepyfile(
        PROPERTY.replace("SHIFT", "0.0005")
        + """
from hypothesis import given, strategies as st

@given(n=st.integers())
def test_counted(dtype, n):
    check_identity(x=np.zeros(2), shift=0.0)

def test_broken(device):
    run_check(check_identity, x=np.arange(3.0), shift=1.0)
"""
    )
    out = pytester.path / "results"
    result = pytester.runpytest("--fizzcheck-dtype=float64", f"--fizzcheck-results={out}/", "--hypothesis-profile=dev")
    cuda = torch.cuda.is_available()
    result.assert_outcomes(passed=4 if cuda else 2, failed=2 if cuda else 1)
    (path,) = out.glob("properties-*.json")
    payload = json.loads(path.read_text())
    assert payload["fizzcheck_schema"] == 1
    assert payload["kind"] == "properties"
    assert payload["counts"]["passed"] == (4 if cuda else 2)
    assert payload["counts"]["failed"] == (2 if cuda else 1)
    assert sum(payload["counts"].values()) == len(payload["properties"])
    assert payload["verdict"].startswith("FAIL — ")
    assert payload["unavailable"] == ([] if cuda else ["cuda not available (torch.cuda.is_available() is False)"])
    assert payload["machine"]["torch_version"] == torch.__version__
    rows = {row["nodeid"].split("::")[1]: row for row in payload["properties"]}
    identity = rows["test_identity[cpu-float64]"]
    assert identity["outcome"] == "passed"
    assert identity["max_error_ratio"] == pytest.approx(0.5)
    assert (identity["device"], identity["dtype"], identity["examples"]) == ("cpu", "float64", None)
    assert rows["test_counted[float64]"]["examples"] >= 20
    broken = rows["test_broken[cpu]"]
    assert broken["outcome"] == "failed"
    assert broken["max_error_ratio"] == pytest.approx(1000.0)
    assert "check_identity(x=x, shift=shift)" in broken["reproducer"]
    assert broken["message"].startswith("BoundExceeded: out[0]=1.0")
    assert ("test_identity[cuda-float64]" in rows) == cuda


def test_results_file_is_never_overwritten(pytester):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    existing = pytester.path / "old.json"
    existing.write_text("keep me")
    result = pytester.runpytest(f"--fizzcheck-results={existing}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "never overwrites" in result.stderr.str()
    assert existing.read_text() == "keep me"


def test_a_seed_really_changes_the_examples_under_the_ci_profile(pytester):
    pytester.makepyfile(
        """
        from hypothesis import given
        import fizzcheck.strategies as fst

        SEEN = []

        @given(fst.shapes())
        def test_draws(shape):
            SEEN.append(shape)

        def teardown_module():
            print("DRAWN", SEEN)
        """
    )

    def drawn(*args):
        result = pytester.runpytest_subprocess("-s", "--hypothesis-profile=ci", *args)
        lines = [line for line in result.stdout.lines if "DRAWN" in line]
        assert lines, result.stdout.str()
        return lines

    assert drawn() == drawn(), "the ci profile is derandomised: two runs draw the same examples"
    assert drawn("--hypothesis-seed=1") != drawn("--hypothesis-seed=2")


def _own_properties_example() -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "own-properties.md").read_text()
    return text.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_own_properties_example_runs_and_catches_a_broken_kernel(pytester):
    """docs/own-properties.md's example, run as a user's suite would: green, then red."""
    example = _own_properties_example()
    assert "max_side=300" in example
    example = example.replace("max_side=300", "max_side=40")  # same code, smaller draws: a fast self-test
    pytester.makepyfile(test_my_linear=example)
    result = pytester.runpytest_subprocess("--hypothesis-profile=dev", "--fizzcheck-device=cpu")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*fizzcheck verification summary*", "*verdict: PASS*"])

    broken = example.replace(
        "return torch.addmm(bias, x, weight.t())",
        "return torch.addmm(bias.half(), x.half(), weight.t().half()).to(x.dtype)",
    )
    pytester.makepyfile(test_my_linear=broken)
    result = pytester.runpytest_subprocess("--hypothesis-profile=dev", "--fizzcheck-device=cpu")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*but should be*within bound*[[]my_linear[]]*", "*check_my_linear(x=x, w=w, b=b*"])


def test_thread_option_sets_torch_threads_and_rejects_nonsense(pytester):
    pytester.makepyfile(
        """
        import torch

        def test_threads():
            print("THREADS", torch.get_num_threads())
        """
    )
    result = pytester.runpytest_subprocess("-s", "--fizzcheck-threads=1")
    result.stdout.fnmatch_lines(["*THREADS 1*"])
    result = pytester.runpytest_subprocess("--fizzcheck-threads=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


CLASSIFIER = """
import pytest

# what the torch-history plugin does: classify a report, and make pytest's own status non-failing
CLASSES = {
    "test_defect": ("known_defect", "TD-1: fused SGD drops a late gradient", "KNOWN TORCH DEFECT TD-1: fused SGD"),
    "test_changed": ("behaviour_changed", "old: UserWarning; new: FutureWarning", "BEHAVIOUR CHANGED: warning"),
}

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    name = item.originalname
    if name in CLASSES and call.when == "call":
        outcome, detail, wasxfail = CLASSES[name]
        report.outcome, report.wasxfail = "skipped", wasxfail
        report.fizzcheck_outcome, report.fizzcheck_detail = outcome, detail
    if name == "test_missing" and call.when == "setup":
        report.outcome = "skipped"
        report.longrepr = (str(item.path), 1, "Skipped: not available in torch 2.13.0: torch.func.jvp")
        report.fizzcheck_outcome, report.fizzcheck_detail = "not_available", "not available in torch 2.13.0: torch.func.jvp"
    return report
"""

CLASSIFIED = """
import pytest

def test_fine(target):
    pass

def test_defect(target):
    raise TypeError("late gradient")

def test_changed(target):
    raise AssertionError("warning category changed")

@pytest.mark.parametrize("n", [1, 2])
def test_missing(target, n):
    pass

@pytest.mark.xfail(strict=True, reason="torch does not do this yet")
def test_plain_xfail(target):
    assert False

def test_no_ratio(target):
    assert False, "momentum ignored"

def test_skipped(target):
    pytest.skip("needs a second GPU")
"""


def test_each_outcome_has_its_count_and_section_and_the_json_agrees(pytester):
    """Classified outcomes (a fake torch-history plugin): their own sections; a plain xfail stays a skip;
    a failure without an error ratio makes the verdict FAIL; terminal and JSON counts agree."""
    import json

    pytester.makeconftest(CLASSIFIER)
    pytester.makepyfile(test_classified=CLASSIFIED)
    out = pytester.path / "results"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--fizzcheck-results={out}/")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # only test_no_ratio fails pytest's own status
    result.assert_outcomes(passed=1, failed=1, skipped=3, xfailed=3)
    result.stdout.fnmatch_lines(
        [
            "FAIL (1):",
            "  test_classified.py::test_no_ratio: AssertionError: momentum ignored",
            "BEHAVIOUR CHANGED (1):",
            "  test_classified.py::test_changed: old: UserWarning; new: FutureWarning",
            "KNOWN TORCH DEFECT (1):",
            "  test_classified.py::test_defect: TD-1: fused SGD drops a late gradient",
            "NOT AVAILABLE (2):",
            "  2 × not available in torch 2.13.0: torch.func.jvp",
            "SKIPPED (2):",
            "  1 × expected failure: torch does not do this yet",
            "  1 × needs a second GPU",
            "counts: 1 passed, 1 failed, 0 errors, 1 known torch defect, 1 behaviour change, 2 not available, "
            "2 skipped (8 property tests; run *)",
            "verdict: FAIL — * (failing: test_no_ratio); target torch (torch *)*",
        ]
    )
    (path,) = out.glob("properties-*.json")
    payload = json.loads(path.read_text())
    assert payload["counts"] == {
        "failed": 1, "error": 0, "behaviour_changed": 1, "known_defect": 1, "not_available": 2, "skipped": 2, "passed": 1,
    }  # fmt: skip
    outcomes = {row["nodeid"].split("::")[1]: (row["outcome"], row["skip_reason"]) for row in payload["properties"]}
    assert outcomes["test_defect"] == ("known_defect", "TD-1: fused SGD drops a late gradient")
    assert outcomes["test_plain_xfail"] == ("skipped", "expected failure: torch does not do this yet")
    assert outcomes["test_no_ratio"][0] == "failed"
    terminal_verdict = next(line for line in result.stdout.lines if line.startswith("verdict: "))
    assert terminal_verdict == f"verdict: {payload['verdict']}"
    assert path.name == f"properties-{payload['run_id']}.json"
    assert f"run {payload['run_id']})" in result.stdout.str()


def test_summary_never_cuts_a_test_name(pytester):
    name = "test_" + "a_rather_long_property_name_" * 4
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0").replace("def test_identity(", f"def {name}("))
    result = pytester.runpytest("-p", "no:cacheprovider", "--fizzcheck-device=cpu", "--fizzcheck-dtype=float64")
    result.stdout.fnmatch_lines([f"test_summary_never_cuts_a_test_name.py::{name}[[]cpu-float64[]]  passed *0"])


def test_only_property_tests_are_counted(pytester):
    pytester.makepyfile("def test_helper():\n    pass\n\ndef test_property(target):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["counts: 1 passed, 0 failed, 0 errors (1 property tests; run *)"])

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


def test_device_and_dtype_parametrisation_with_cuda_skip(pytester):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    result = pytester.runpytest("-v", "-rs", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*test_identity?cpu-float32? PASSED*", "*test_identity?cpu-float64? PASSED*"])
    if not torch.cuda.is_available():
        result.stdout.fnmatch_lines(["*test_identity?cuda-float16? SKIPPED*", "SKIPPED ?4? *CUDA not available*"])
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 2


def test_selection_options_and_env(pytester, monkeypatch):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    result = pytester.runpytest("-v", "--fizzcheck-device=cpu", "--fizzcheck-dtype=float64")
    result.assert_outcomes(passed=1)
    monkeypatch.setenv("FIZZCHECK_DTYPES", "float32")
    result = pytester.runpytest("-v", "--fizzcheck-device=cpu")
    result.stdout.fnmatch_lines(["*test_identity?cpu-float32? PASSED*"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--fizzcheck-device=tpu", "unknown ['tpu']"),
        ("--fizzcheck-dtype=int8", "unknown ['int8']"),
        ("--hypothesis-profile=nope", "nope"),
    ],
)
def test_bad_options_are_usage_errors(pytester, option, message):
    pytester.makepyfile(PROPERTY.replace("SHIFT", "0.0"))
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


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
            "*Reproducer (run from the fizzcheck checkout):*",
            "*x = np.array(?0.0, 1.0, 2.0?, dtype=np.float64).reshape((3,))*",
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
    result.assert_outcomes(passed=2, failed=1, skipped=2)  # the two cuda cases
    (path,) = out.glob("properties-*.json")
    payload = json.loads(path.read_text())
    assert payload["fizzcheck_schema"] == 1
    assert payload["kind"] == "properties"
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
    if not torch.cuda.is_available():
        assert rows["test_identity[cuda-float64]"]["outcome"] == "skipped"
        assert "CUDA not available" in rows["test_identity[cuda-float64]"]["skip_reason"]


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

"""The pytest plugin: profiles, device/dtype parametrisation, CUDA skips, summary, reproducers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

import fizzcheck.tensors  # noqa: F401 - imported here so pytester's in-process runs never re-import torch
from fizzcheck.pytest_plugin import PROFILES

PROPERTY = """
import numpy as np
import fizzcheck.tolerance as ftol
from fizzcheck.reproduce import run_check

def check_identity(x, *, shift):
    ftol.assert_close(np.asarray(x) + shift, np.asarray(x), bound=1e-3, op="identity")

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
    [("--fizzcheck-device=tpu", "unknown ['tpu']"), ("--fizzcheck-dtype=int8", "unknown ['int8']"), ("--hypothesis-profile=nope", "nope")],
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
    pytester.runpytest("--fizzcheck-device=cpu", "--hypothesis-seed=3").stdout.fnmatch_lines(["*hypothesis profile=ci-seeded*"])


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

"""The markers ``requires``, ``known_defect`` and ``behaviour_change`` through pytester, with fake
capabilities and registry entries: each outcome where it applies, and a failure that is not the
registered symptom (or where the probe does not find the defect) staying a failure."""

from __future__ import annotations

import pytest

import fizzcheck.targets.tensors  # noqa: F401 - pytester's in-process runs never re-import torch
from fizzcheck.history.capabilities import torch_version

FAKES = """
from fizzcheck.history import capabilities, defects
from fizzcheck.history.capabilities import Capability
from fizzcheck.history.defects import BehaviourChange, KnownDefect, Symptom

FAKE_CAPABILITIES = [
    Capability("fake_missing", "a missing feature on {device}", lambda device: False),
    Capability("fake_present", "a present feature on {device}", lambda device: True),
]

def _defect(id, present):
    return KnownDefect(
        id=id, title=f"the fake defect {id}", description="", probe=lambda device: present,
        symptom=Symptom(("ValueError",), r"fake defect \\d+"), reproducer="", reproducer_shows="",
        expected="", torch_source="", checked={}, upstream=None,
    )

FAKE_DEFECTS = [_defect("fake-present", True), _defect("fake-absent", False)]
FAKE_CHANGES = [
    BehaviourChange(
        id="fake-change", title="", description="", old=Symptom(("RuntimeError",), "old wording"),
        documented="ValueError: new wording", probe=lambda device: True, torch_source="", checked={},
    ),
    BehaviourChange(
        id="fake-change-not-here", title="", description="", old=Symptom(("RuntimeError",), "old wording"),
        documented="ValueError: new wording", probe=lambda device: False, torch_source="", checked={},
    ),
]

def pytest_configure(config):
    for c in FAKE_CAPABILITIES:
        capabilities.CAPABILITIES[c.name] = c
    for d in FAKE_DEFECTS:
        defects.DEFECTS[d.id] = d
    for c in FAKE_CHANGES:
        defects.BEHAVIOUR_CHANGES[c.id] = c

def pytest_unconfigure(config):
    for c in FAKE_CAPABILITIES:
        capabilities.CAPABILITIES.pop(c.name, None)
    for d in FAKE_DEFECTS:
        defects.DEFECTS.pop(d.id, None)
    for c in FAKE_CHANGES:
        defects.BEHAVIOUR_CHANGES.pop(c.id, None)
    capabilities.clear_cache()
    defects.clear_cache()

def pytest_runtest_logreport(report):
    outcome = getattr(report, "fizzcheck_outcome", None)
    if outcome is not None or report.when == "call" or report.outcome != "passed":
        with open("outcomes.txt", "a") as handle:
            detail = getattr(report, "fizzcheck_detail", None)
            handle.write(f"{report.nodeid.split('::')[-1]}|{report.when}|{report.outcome}|{outcome}|{detail}\\n")
"""

TESTS = """
import pytest

@pytest.mark.requires("fake_missing")
def test_needs_missing(device):
    raise AssertionError("must not run")

@pytest.mark.requires("fake_present")
def test_needs_present(device):
    pass

@pytest.mark.requires("fake_present")
def test_needs_present_and_fails(device):
    raise AssertionError("a real failure")

@pytest.mark.known_defect("fake-present")
def test_hits_defect():
    raise ValueError("fake defect 17 happened")

@pytest.mark.known_defect("fake-present")
def test_other_exception_type():
    raise TypeError("fake defect 17 happened")

@pytest.mark.known_defect("fake-present")
def test_same_type_other_message():
    raise ValueError("something else")

@pytest.mark.known_defect("fake-present")
def test_assertion_in_defect_property():
    assert 1 == 2, "the result is wrong"

@pytest.mark.known_defect("fake-absent")
def test_defect_absent_but_symptom():
    raise ValueError("fake defect 17 happened")

@pytest.mark.known_defect("fake-absent")
def test_defect_absent_passes():
    pass

@pytest.mark.known_defect("fake-present")
def test_defect_present_but_passes():
    pass

@pytest.mark.known_defect("fake-present", strict=False)
def test_defect_present_passes_not_strict():
    pass

@pytest.mark.behaviour_change("fake-change")
def test_old_wording():
    with pytest.raises(ValueError, match="new wording"):
        raise RuntimeError("the old wording, from an old torch")

@pytest.mark.behaviour_change("fake-change")
def test_other_wording():
    with pytest.raises(ValueError, match="new wording"):
        raise RuntimeError("a third wording")

@pytest.mark.behaviour_change("fake-change-not-here")
def test_old_wording_where_torch_is_new():
    with pytest.raises(ValueError, match="new wording"):
        raise RuntimeError("the old wording, from an old torch")
"""


def _outcomes(pytester: pytest.Pytester) -> dict[str, tuple[str, str, str, str]]:
    lines = (pytester.path / "outcomes.txt").read_text().splitlines()
    rows = [tuple(line.split("|")) for line in lines]
    return {row[0]: row[1:] for row in rows}  # type: ignore[misc]


@pytest.fixture
def fake_run(pytester: pytest.Pytester) -> tuple[pytest.RunResult, dict[str, tuple[str, ...]]]:
    pytester.makeconftest(FAKES)
    pytester.makepyfile(test_fake=TESTS)
    result = pytester.runpytest("-rxs", "-p", "no:cacheprovider", "--fizzcheck-device=cpu")
    return result, _outcomes(pytester)


def test_a_missing_capability_is_not_available_and_never_runs(fake_run):
    result, outcomes = fake_run
    version = torch_version()
    assert outcomes["test_needs_missing[cpu]"] == (
        "setup",
        "skipped",
        "not_available",
        "a missing feature on cpu",
    )
    result.stdout.fnmatch_lines([f"SKIPPED*test_fake.py*not available in torch {version}: a missing feature on cpu"])
    assert outcomes["test_needs_present[cpu]"] == ("call", "passed", "None", "None")
    assert outcomes["test_needs_present_and_fails[cpu]"] == ("call", "failed", "None", "None")


def test_only_the_registered_symptom_is_a_known_defect(fake_run):
    _, outcomes = fake_run
    assert outcomes["test_hits_defect"] == ("call", "skipped", "known_defect", "fake-present")
    for name in ("test_other_exception_type", "test_same_type_other_message", "test_assertion_in_defect_property"):
        assert outcomes[name] == ("call", "failed", "None", "None"), name


def test_where_the_probe_finds_no_defect_the_property_must_pass(fake_run):
    _, outcomes = fake_run
    assert outcomes["test_defect_absent_but_symptom"] == ("call", "failed", "None", "None")
    assert outcomes["test_defect_absent_passes"] == ("call", "passed", "None", "None")


def test_a_pass_where_the_defect_is_present_is_stale_unless_not_strict(fake_run):
    result, outcomes = fake_run
    assert outcomes["test_defect_present_but_passes"] == ("call", "failed", "None", "None")
    result.stdout.fnmatch_lines(["*has defect fake-present on cpu (its probe finds it), but this property passed*"])
    assert outcomes["test_defect_present_passes_not_strict"] == ("call", "passed", "None", "None")


def test_an_old_message_is_behaviour_changed_with_both_messages(fake_run):
    result, outcomes = fake_run
    when, outcome, category, detail = outcomes["test_old_wording"]
    assert (when, outcome, category) == ("call", "skipped", "behaviour_changed")
    assert "RuntimeError: the old wording, from an old torch" in detail
    assert "documented: ValueError: new wording" in detail
    result.stdout.fnmatch_lines(["XFAIL*test_old_wording - BEHAVIOUR CHANGED: fake-change: *"])
    assert outcomes["test_other_wording"] == ("call", "failed", "None", "None")
    assert outcomes["test_old_wording_where_torch_is_new"] == ("call", "failed", "None", "None")


def test_pytest_counts(fake_run):
    result, _ = fake_run
    result.assert_outcomes(passed=3, failed=8, skipped=1, xfailed=2)


def test_an_unregistered_id_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.known_defect("no-such-defect")
        def test_x():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*known_defect('no-such-defect') is not registered; known: *sgd-foreach-nesterov-grad*"]
    )


def test_outcomes_survive_pytest_xdist(pytester: pytest.Pytester):
    pytest.importorskip("xdist", reason="pytest-xdist is the [parallel] extra")
    pytester.makeconftest(FAKES)
    pytester.makepyfile(test_fake=TESTS)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--fizzcheck-device=cpu")
    result.assert_outcomes(passed=3, failed=8, skipped=1, xfailed=2)
    outcomes = _outcomes(pytester)
    assert outcomes["test_needs_missing[cpu]"][2:] == ("not_available", "a missing feature on cpu")
    assert outcomes["test_hits_defect"][2:] == ("known_defect", "fake-present")
    assert outcomes["test_old_wording"][2] == "behaviour_changed"

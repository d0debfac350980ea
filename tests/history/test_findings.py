"""The registry against the torch under test: each reproducer still shows what the registry says,
each probe agrees with its reproducer, and ``docs/findings.md`` is the registry's current text."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fizzcheck.history import findings

if sys.version_info < (3, 11):  # pragma: no cover - Hypothesis brings the backport there
    from exceptiongroup import ExceptionGroup
from fizzcheck.history.defects import BEHAVIOUR_CHANGES, DEFECTS, KnownDefect, Symptom, state

ROOT = Path(__file__).resolve().parents[2]
RELEASE = torch.__version__.split("+")[0]


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    return done.stdout + done.stderr


@pytest.mark.parametrize("defect", list(DEFECTS.values()), ids=list(DEFECTS))
def test_reproducer_is_plain_torch(defect: KnownDefect):
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(defect.reproducer))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in ([*node.names] if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported == {"torch"}


@pytest.mark.parametrize("defect", list(DEFECTS.values()), ids=list(DEFECTS))
def test_reproducer_shows_what_the_registry_says(defect: KnownDefect):
    """Run as its own program on this torch: its output shows the defect exactly where the
    in-process probe finds it, and where this release is in the registry's table, as recorded."""
    output = _run(defect.reproducer)
    shows = re.search(defect.reproducer_shows, output) is not None
    found = state(defect, "cpu")
    assert shows == (found == "present"), f"probe says {found!r}; reproducer output:\n{output}"
    if RELEASE in defect.checked:
        recorded = defect.checked[RELEASE]
        assert recorded.split(" ")[0].rstrip(":") == found.split(" ")[0], (recorded, found)


@pytest.mark.parametrize("change", list(BEHAVIOUR_CHANGES.values()), ids=list(BEHAVIOUR_CHANGES))
def test_behaviour_change_probe_agrees_with_the_table(change):
    found = state(change, "cpu")
    if RELEASE in change.checked:
        assert change.checked[RELEASE].split(":")[0] == findings.behaviour_state(found)


def test_the_defects_the_suite_knows_show_on_the_pinned_torch():
    """On the pinned torch (constraints.txt) the probes find on the CPU what the table records: every
    CPU defect present; a defect seen on CUDA only (recorded "absent (cpu; …)") absent."""
    pinned = re.search(r"^torch==(\S+)", (ROOT / "constraints.txt").read_text(), re.MULTILINE)
    assert pinned is not None
    if pinned.group(1) != RELEASE:
        pytest.skip(f"runs on the pinned torch {pinned.group(1)}; this is {RELEASE}")
    for defect in DEFECTS.values():
        assert defect.checked[RELEASE].split(" ")[0] == state(defect, "cpu"), defect.id
    assert sum(d.checked[RELEASE].startswith("present") for d in DEFECTS.values()) >= 3


def test_symptoms_match_exception_groups_only_when_every_member_matches():
    symptom = Symptom(("ValueError",), r"fake \d")
    assert symptom.matches(ValueError("a fake 1"))
    assert not symptom.matches(TypeError("a fake 1"))
    assert symptom.matches(ExceptionGroup("two", [ValueError("fake 1"), ValueError("fake 2")]))
    assert not symptom.matches(ExceptionGroup("two", [ValueError("fake 1"), AssertionError("wrong result")]))


def test_findings_document_is_up_to_date():
    assert (ROOT / "docs" / "findings.md").read_text() == findings.render(), (
        "docs/findings.md is out of date; run: python -m fizzcheck.history.findings --update docs/findings.md"
    )


def test_findings_command_checks_and_probes(tmp_path, capsys):
    path = tmp_path / "findings.md"
    assert findings.main(["--check", str(path)]) == 1
    assert findings.main(["--update", str(path)]) == 0
    assert findings.main(["--check", str(path)]) == 0
    assert findings.main(["--probe"]) == 0
    out = capsys.readouterr().out
    assert f'"torch": "{torch.__version__}"' in out
    for defect_id in DEFECTS:
        assert f'"{defect_id}": "{state(DEFECTS[defect_id], "cpu")}"' in out

"""The declared torch support range ([tool.fizzcheck] in pyproject.toml) agrees with what was checked."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fizzcheck.history.defects import BEHAVIOUR_CHANGES, DEFECTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["fizzcheck"]


def test_every_checked_release_and_the_pin_are_in_the_supported_range():
    supported = SpecifierSet(CONFIG["supported-torch"])
    pinned = re.search(r"^torch==(\S+)", (ROOT / "constraints.txt").read_text(), re.MULTILINE)
    assert pinned is not None
    for release in [*CONFIG["checked-torch"], pinned.group(1)]:
        assert Version(release) in supported, release
    assert pinned.group(1) in CONFIG["checked-torch"]


def test_the_registry_records_every_checked_release():
    checked = set(CONFIG["checked-torch"])
    for entry in [*DEFECTS.values(), *BEHAVIOUR_CHANGES.values()]:
        assert set(entry.checked) == checked, entry.id

"""The registry's records: a symptom, a known torch defect, a behaviour change (see :mod:`fizzcheck.history.defects`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BehaviourChange", "KnownDefect", "Symptom"]


@dataclass(frozen=True)
class Symptom:
    """How a failure looks: the exception's class name and a regular expression its message matches."""

    exceptions: tuple[str, ...]
    message: str

    def matches(self, exc: BaseException) -> bool:
        """True when ``exc`` (every member, for a group of failures) shows this symptom."""
        group = getattr(exc, "exceptions", None)
        parts = list(group) if isinstance(group, tuple) and group else [exc]
        return all(
            type(part).__name__ in self.exceptions and re.search(self.message, str(part)) is not None for part in parts
        )

    def describe(self) -> str:
        return f"{' or '.join(self.exceptions)} matching /{self.message}/"


@dataclass(frozen=True)
class KnownDefect:
    """A torch defect the suite finds, with everything needed to report it upstream."""

    id: str
    title: str
    description: str
    symptom: Symptom
    """How the marked property fails when it hits the defect (nothing else is classified)."""
    probe: Callable[[str], bool]
    """True when the torch under test has the defect on the device."""
    reproducer: str
    """A minimal, plain-torch, numpy-free program that shows the defect."""
    reproducer_shows: str
    """A regular expression the reproducer's output (stdout and stderr) matches when the defect is present."""
    expected: str
    torch_source: str
    checked: dict[str, str]
    """Release → what the probe found there ("present", "absent" or "not applicable: why")."""
    upstream: str | None
    """The upstream report, or None where none exists yet."""
    related: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    """Capabilities without which the defect cannot occur (where one is missing: not applicable)."""


@dataclass(frozen=True)
class BehaviourChange:
    """A documented behaviour that older releases show differently (not a defect of the suite's subject)."""

    id: str
    title: str
    description: str
    old: Symptom
    """What the older releases do (the only failure that is classified)."""
    documented: str
    """What the documented behaviour is, as the property checks it."""
    probe: Callable[[str], bool]
    """True when the torch under test shows the old behaviour on the device."""
    torch_source: str
    checked: dict[str, str]
    """Release → "old", "documented" or "not applicable: why", as probed."""
    related: tuple[str, ...] = field(default=())
    requires: tuple[str, ...] = field(default=())
    """Capabilities without which the behaviour cannot be shown (where one is missing: not applicable)."""

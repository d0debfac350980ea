"""The registry of known torch defects and of documented behaviours that changed between releases.

A :class:`KnownDefect` is a bug in torch that a property of the suite finds. Each entry has an
id, a description, a probe that asks *the torch under test* whether it has the defect on a
device, the symptom by which the property fails when it hits the defect, a minimal plain-torch
reproducer (numpy-free), the torch source line, the releases checked and the upstream status.
A property marked ``@pytest.mark.known_defect(ID)`` that fails *with that symptom* where the
probe finds the defect reports KNOWN TORCH DEFECT (ID); where the probe does not find it the
property must pass; any other failure stays a failure (:mod:`fizzcheck.plugin.history`).

A :class:`BehaviourChange` is a documented behaviour (an error type and message) that older
releases show differently. A property marked ``@pytest.mark.behaviour_change(ID)`` that fails
with the old symptom where the probe finds the old behaviour reports BEHAVIOUR CHANGED, with
the old and the documented message.

``docs/findings.md`` is generated from this module (``python -m fizzcheck.history.findings``).
"""

from __future__ import annotations

from fizzcheck.history.behaviours import BEHAVIOUR_CHANGES
from fizzcheck.history.capabilities import available
from fizzcheck.history.known_ops import OPS_DEFECTS
from fizzcheck.history.known_optim import OPTIM_DEFECTS
from fizzcheck.history.records import BehaviourChange, KnownDefect, Symptom

__all__ = [
    "BEHAVIOUR_CHANGES",
    "DEFECTS",
    "BehaviourChange",
    "KnownDefect",
    "Symptom",
    "clear_cache",
    "state",
]

DEFECTS: dict[str, KnownDefect] = {d.id: d for d in (*OPTIM_DEFECTS, *OPS_DEFECTS)}
"""Every known torch defect, by id (entries: :mod:`fizzcheck.history.known_optim`, :mod:`fizzcheck.history.known_ops`)."""

_STATE: dict[tuple[str, str], str] = {}


def state(entry: KnownDefect | BehaviourChange, device: str = "cpu") -> str:
    """What the torch under test shows for ``entry`` on ``device``, probed once per process:
    ``"present"`` (the defect, or the old behaviour), ``"absent"``, or ``"not applicable"``
    (a capability the defect needs is missing)."""
    key = (entry.id, device)
    if key not in _STATE:
        requires = getattr(entry, "requires", ())
        if not all(available(name, device) for name in requires):
            _STATE[key] = "not applicable"
        else:
            _STATE[key] = "present" if entry.probe(device) else "absent"
    return _STATE[key]


def clear_cache() -> None:
    """Forget every probed answer (tests that swap an entry use it)."""
    _STATE.clear()

"""Torch history: what the torch under test can do and what it gets wrong, asked at run time.

* :mod:`~fizzcheck.history.capabilities`: capability probes (``requires`` marker → NOT AVAILABLE).
* :mod:`~fizzcheck.history.defects`: the registry of known torch defects (``known_defect`` marker →
  KNOWN TORCH DEFECT) and of documented behaviours older releases show differently
  (``behaviour_change`` marker → BEHAVIOUR CHANGED).
* :mod:`~fizzcheck.history.findings`: ``docs/findings.md``, generated from the registry.

No decision here reads a version string: every answer comes from trying torch.
"""

__all__: list[str] = []

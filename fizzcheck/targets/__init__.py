"""Adapters for the framework under test; see :mod:`fizzcheck.targets.base`.

The properties reach torch only through a :class:`Target` (the ``target`` fixture), chosen
with ``--fizzcheck-target`` / ``$FIZZCHECK_TARGET``: ``torch`` (eager, the default),
``seed-raw``, ``compile[:BACKEND]`` or ``package.module:Name`` for your own.
"""

from fizzcheck.targets.base import NAMESPACES, Namespace, Target, Tensor
from fizzcheck.targets.load import BUILTIN_TARGETS, load_target

__all__ = ["BUILTIN_TARGETS", "NAMESPACES", "Namespace", "Target", "Tensor", "load_target"]

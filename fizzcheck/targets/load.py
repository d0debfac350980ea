"""Choosing a target by its spec: the built-in targets and ``package.module:Name`` for your own."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from fizzcheck.errors import InvalidArgument
from fizzcheck.targets.base import Target

__all__ = ["BUILTIN_TARGETS", "load_target"]


def _seed_raw() -> Target:
    from fizzcheck.targets.seed_raw import SeedRaw  # torch.compile's machinery loads only when asked

    return SeedRaw()


def _compiled(backend: str | None) -> Target:
    from fizzcheck.targets.compiled import Compiled

    return Compiled(backend=backend or "inductor")


BUILTIN_TARGETS: dict[str, Callable[[str | None], Target]] = {
    "torch": lambda option: Target(),
    "seed-raw": lambda option: _seed_raw(),
    "compile": _compiled,
}
"""Built-in target name → factory (``compile`` takes an optional ``:BACKEND``)."""


def load_target(spec: str) -> Target:
    """The target named by ``spec``.

    * ``torch`` — torch eager; ``seed-raw`` — the seed chapter's raw-tensor formulas;
      ``compile`` or ``compile:BACKEND`` — ops and layers through ``torch.compile``;
    * ``package.module:Name`` — your own: a :class:`Target` subclass, an instance, or a
      function returning one (the module must be importable, e.g. on ``PYTHONPATH``).
    """
    spec = spec.strip()
    if not spec:
        raise InvalidArgument("target spec is empty; use one of " + ", ".join(BUILTIN_TARGETS) + " or MODULE:NAME")
    name, _, option = spec.partition(":")
    if name in BUILTIN_TARGETS:
        if option and name != "compile":
            raise InvalidArgument(f"target {spec!r}: {name!r} takes no ':' option")
        target = BUILTIN_TARGETS[name](option or None)
    elif option:
        target = _user_target(name, option, spec)
    else:
        raise InvalidArgument(
            f"target {spec!r} is unknown; use one of {', '.join(BUILTIN_TARGETS)} or MODULE:NAME for your own"
        )
    target.spec = spec
    return target


def _user_target(module_name: str, attribute: str, spec: str) -> Target:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgument(f"target {spec!r}: cannot import {module_name!r} ({exc})") from None
    try:
        factory = getattr(module, attribute)
    except AttributeError:
        raise InvalidArgument(f"target {spec!r}: module {module_name!r} has no {attribute!r}") from None
    target = factory
    if callable(factory) and not isinstance(factory, Target):
        try:
            target = factory()
        except Exception as exc:  # a user's constructor: report it in one line
            raise InvalidArgument(f"target {spec!r}: {attribute}() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(target, Target):
        raise InvalidArgument(
            f"target {spec!r} gave {type(target).__name__}, not a fizzcheck.targets.Target (subclass Target)"
        )
    return target

"""fizzcheck's exception types: one per kind of thing that can go wrong."""

from __future__ import annotations

__all__ = ["BoundExceeded", "FizzcheckError", "InvalidArgument"]


class FizzcheckError(Exception):
    """Base class for every error fizzcheck raises on purpose."""


class InvalidArgument(FizzcheckError, ValueError):
    """A fizzcheck function or strategy was called with an argument it cannot use.

    The message quotes ``name=value!r`` and says how to fix the call.
    """


class BoundExceeded(AssertionError):
    """A target's result differs from the reference by more than the error bound allows."""

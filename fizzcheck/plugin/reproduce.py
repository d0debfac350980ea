"""Copy-paste reproducers attached to failing properties.

A property's body is a plain function ``check_<op>(**inputs)``; :func:`run_check` calls it
and, if it raises, adds a note (``exc.add_note``) with Python code that rebuilds the inputs
and calls the same function again. Small arrays are written inline with full precision;
larger ones are saved next to the reports (only for Hypothesis's final, shrunk example).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["INLINE_LIMIT", "SHIPPED_SUITES", "importable_module", "render", "reproducer_dir", "run_check"]

INLINE_LIMIT = 64
"""Arrays with more elements than this are saved to a ``.npy`` file instead of inlined."""


def reproducer_dir() -> Path:
    """Where large reproducer inputs go: $FIZZCHECK_REPRODUCER_DIR or reports/reproducers."""
    return Path(os.environ.get("FIZZCHECK_REPRODUCER_DIR", "reports/reproducers"))


def _is_final_example() -> bool:
    try:
        from hypothesis.control import current_build_context

        return bool(current_build_context().is_final)
    except Exception:  # not inside a Hypothesis test: a direct call is always "final"
        return True


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    return repr(value)


def _array_code(name: str, array: np.ndarray, save: bool) -> str:
    if array.size == 0:  # tolist() of a (255, 79, 0) array is 20 000 nested empty lists
        return f"{name} = np.zeros({array.shape!r}, dtype=np.dtype({array.dtype.name!r}))"
    if array.size <= INLINE_LIMIT:
        return f"{name} = np.array({_literal(array.tolist())}, dtype=np.dtype({array.dtype.name!r})).reshape({array.shape!r})"
    if not save:
        return f"{name} = ...  # {array.shape} {array.dtype.name} array, saved for the final (shrunk) example"
    buffer = io.BytesIO()
    np.save(buffer, array)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()[:16]
    path = reproducer_dir() / f"{digest}.npy"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(buffer.getvalue())
            tmp.replace(path)
    except OSError as exc:
        return f"{name} = ...  # could not save the {array.shape} array to {path}: {exc}"
    return f"{name} = np.load({str(path)!r})"


def _target_spec(value: Any) -> str | None:
    """The spec that loads ``value`` again, if it is a fizzcheck target (the framework under test)."""
    if type(value).__module__.split(".")[0] == "numpy":
        return None
    from fizzcheck.targets.base import Target  # only a value that is a target needs torch here

    return value.spec if isinstance(value, Target) else None


SHIPPED_SUITES = ("properties", "benchmarks")
"""Top-level names the checkout imports the shipped suites under; installed they are ``fizzcheck.<name>``."""


def importable_module(name: str) -> str:
    """The name ``name`` imports under from an install: ``properties.test_ops`` (how the checkout's
    pytest imports it) is ``fizzcheck.properties.test_ops`` (what ships in the wheel, and what an
    editable install maps to the checkout)."""
    top = name.split(".", 1)[0]
    return f"fizzcheck.{name}" if top in SHIPPED_SUITES else name


def _where(module: str) -> str:
    """A suite of the user's own must be importable too: say so in the heading."""
    return "" if module.startswith("fizzcheck.") else f", with {module} importable"


def render(check: Callable[..., Any], inputs: dict[str, Any]) -> str:
    """Python code that calls ``check(**inputs)`` again."""
    save = _is_final_example()
    module = importable_module(check.__module__)
    lines = [
        f"Reproducer (Python; runs anywhere the fizzcheck package is installed{_where(module)}):",
        "import numpy as np",
    ]
    lines.append(f"from {module} import {check.__name__}")
    for name, value in inputs.items():
        spec = _target_spec(value)
        if spec is not None:
            lines.append("from fizzcheck.targets import load_target")
            lines.append(f"{name} = load_target({spec!r})")
        elif isinstance(value, np.ndarray):
            lines.append(_array_code(name, value, save))
        else:
            lines.append(f"{name} = {_literal(value)}")
    lines.append(f"{check.__name__}({', '.join(f'{n}={n}' for n in inputs)})")
    return "\n    ".join(lines)


def run_check(check: Callable[..., Any], **inputs: Any) -> Any:
    """Call ``check(**inputs)``; on failure attach a reproducer note and re-raise."""
    __tracebackhide__ = True
    try:
        return check(**inputs)
    except Exception as exc:
        exc.add_note(render(check, inputs))
        raise

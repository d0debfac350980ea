"""One Python per torch release for ``fizzcheck compat``: the running interpreter, or a cached venv.

A venv ``<venv-dir>/torch-<version>`` is created once and reused. What goes into it:

1. ``pip install torch==V`` on its own;
2. numpy, **decided by probing the venv, not from the version string**: the numpy installed
   here first, then ``torch.from_numpy(numpy.zeros(1))`` and ``torch.zeros(1).numpy()`` in the
   venv (:data:`NUMPY_ABI_PROBE`); when that fails (torch 2.0.1 and 2.1.2 were built against
   numpy 1 and say "Numpy is not available" with numpy 2), ``numpy<2`` and the probe again;
3. ``pip install -e <this checkout>`` with numpy pinned to what step 2 chose, hypothesis,
   pytest, pytest-benchmark and pytest-xdist pinned to the versions installed here
   (:data:`PINNED_DEPENDENCIES`), pandas pinned too when numpy is this machine's (else pip picks
   a pandas that supports the older numpy), scipy, jinja2 and click as fizzcheck requires.

A reused venv is probed the same way and only repaired where it needs it: the numpy ABI probe
(numpy is moved to ``numpy<2`` only if it fails), fizzcheck pointing at this checkout and its
dependencies importable; numpy is then pinned to the version already there, so a repair never
puts numpy 2 back into an old release's venv. A venv whose python does not run is reported in
one line with the command that removes it, never rebuilt behind the user's back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from fizzcheck.errors import FizzcheckError

__all__ = [
    "NUMPY_ABI_PROBE",
    "PINNED_DEPENDENCIES",
    "Environment",
    "directory_size",
    "ensure_environment",
    "probe_python",
    "torch_base_version",
]

PINNED_DEPENDENCIES = ("hypothesis", "pytest", "pytest-benchmark", "pytest-xdist")
"""Installed into each venv at the version this environment has, so that torch (and numpy, where
that torch needs an older one) is the only difference."""

REQUIRED_MODULES = ("numpy", "hypothesis", "pandas", "pytest", "pytest_benchmark", "scipy", "jinja2", "click")
"""What fizzcheck imports besides torch; a reused venv that lacks one is completed."""

NUMPY_ABI_PROBE = "import numpy, torch; torch.from_numpy(numpy.zeros(1)); torch.zeros(1).numpy()"
"""Does this torch work with this numpy? False for torch built against numpy 1 with numpy 2 installed."""

_PROBE = """
import json, sys
found = {"python": sys.version.split()[0], "torch": None, "fizzcheck": None, "numpy": None,
         "numpy_abi": None, "missing": []}
try:
    import torch
    found["torch"] = torch.__version__
except Exception as exc:
    found["torch_error"] = f"{type(exc).__name__}: {exc}"
for name in __MODULES__:
    try:
        __import__(name)
    except Exception:
        found["missing"].append(name)
try:
    import numpy
    found["numpy"] = numpy.__version__
    exec(__ABI__)
    found["numpy_abi"] = "ok"
except Exception as exc:
    found["numpy_abi"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
try:
    import fizzcheck
    found["fizzcheck"] = fizzcheck.__file__
except Exception:
    pass
print(json.dumps(found))
""".replace("__MODULES__", repr(REQUIRED_MODULES)).replace("__ABI__", repr(NUMPY_ABI_PROBE))


class Environment:
    """A Python that has torch ``version`` and fizzcheck (this checkout) installed."""

    def __init__(
        self,
        version: str,
        python: Path,
        *,
        kind: str,
        setup_s: float = 0.0,
        size_bytes: int | None = None,
        numpy: str | None = None,
        notes: Sequence[str] = (),
    ):
        self.version, self.python, self.kind = version, python, kind
        self.setup_s, self.size_bytes, self.numpy, self.notes = setup_s, size_bytes, numpy, list(notes)

    def describe(self) -> dict[str, Any]:
        return {
            "torch": self.version,
            "python": str(self.python),
            "kind": self.kind,
            "setup_s": round(self.setup_s, 1),
            "size_bytes": self.size_bytes,
            "numpy": self.numpy,
            "notes": self.notes,
        }


def torch_base_version(version: str) -> str:
    """``2.4.1+cu121`` → ``2.4.1``."""
    return version.split("+", 1)[0]


def probe_python(python: Path, cwd: Path) -> dict[str, Any] | None:
    """What ``python`` has (torch and numpy versions, the numpy ABI check, fizzcheck's location,
    missing modules), or None when it does not run at all."""
    try:
        done = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, cwd=cwd, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except json.JSONDecodeError:
        return None


def directory_size(path: Path) -> int:
    """Bytes of the files under ``path`` (symbolic links not followed)."""
    total = 0
    for base, _, files in os.walk(path):
        for name in files:
            file = Path(base) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def _installed(names: Sequence[str]) -> dict[str, str]:
    """name → version of those of ``names`` installed here (pytest-xdist is optional)."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


_NO_RELEASE = re.compile(
    r"No matching distribution found for torch==|Could not find a version that satisfies|Cannot install torch=="
)
"""What pip prints when it cannot install the torch release asked for (none such, a constraint, no index)."""


def _pip(python: Path, *args: str, log: TextIO) -> None:
    argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    start = log.tell() if log.seekable() else None
    try:
        status = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT)
    except OSError as exc:
        raise FizzcheckError(f"{python}: cannot run it ({exc.strerror or exc})") from None
    if status == 0:
        return
    tail = ""
    if start is not None and Path(log.name).is_file():
        log.flush()
        with open(log.name, encoding="utf-8", errors="replace") as text:
            text.seek(start)
            tail = text.read()
    venv = python.parent.parent
    if _NO_RELEASE.search(tail) and any(a.startswith("torch==") for a in args):
        torch_arg = next(a for a in args if a.startswith("torch=="))
        raise FizzcheckError(
            f"{torch_arg}: pip cannot install this torch release here (see {log.name}); check the version "
            "(pip index versions torch), any pip constraint, and that pip can reach the package index"
        )
    raise FizzcheckError(f"pip install {' '.join(args)} failed in {venv} (see {log.name})")


def _choose_numpy(python: Path, *, cwd: Path, log: TextIO) -> tuple[dict[str, Any], list[str]]:
    """Install the numpy this torch works with (see the module): (the probe of the venv after it, notes)."""
    notes: list[str] = []
    host = metadata.version("numpy")
    found = probe_python(python, cwd)
    if found is None or found.get("torch") is None:
        raise FizzcheckError(f"{python}: torch does not import after pip installed it (see {log.name})")
    if found.get("numpy_abi") != "ok" and found.get("numpy") != host:
        _pip(python, f"numpy=={host}", log=log)
        found = probe_python(python, cwd) or {}
    if found.get("numpy_abi") != "ok":
        notes.append(f"numpy {found.get('numpy')} fails {NUMPY_ABI_PROBE!r} ({found.get('numpy_abi')}): numpy<2")
        _pip(python, "numpy<2", log=log)
        found = probe_python(python, cwd) or {}
        if found.get("numpy_abi") != "ok":
            raise FizzcheckError(
                f"{python}: torch {found.get('torch')} works with neither numpy {host} nor numpy<2 "
                f"({found.get('numpy_abi')}); see {log.name}"
            )
    return found, notes


def _install_fizzcheck(python: Path, root: Path, numpy: str, *, log: TextIO) -> None:
    """``pip install -e root`` with numpy held at ``numpy`` and the test tools pinned to this machine's."""
    pins = [f"{name}=={version}" for name, version in _installed(PINNED_DEPENDENCIES).items()]
    if numpy == metadata.version("numpy"):
        pins.append(f"pandas=={metadata.version('pandas')}")
    _pip(python, "-e", str(root), f"numpy=={numpy}", *pins, log=log)


def _points_here(found: dict[str, Any], root: Path) -> bool:
    location = found.get("fizzcheck")
    if not location:
        return False
    return Path(location).resolve().parent.parent == root.resolve()


def ensure_environment(version: str, *, root: Path, venv_dir: Path, isolated: bool, log: TextIO) -> Environment:
    """The running interpreter if it has torch ``version`` (and not ``isolated``), else a reused or new venv."""
    import torch

    if not isolated and torch_base_version(torch.__version__) == torch_base_version(version):
        return Environment(version, Path(sys.executable), kind="current interpreter", numpy=metadata.version("numpy"))
    venv = (venv_dir / f"torch-{version}").resolve()
    python = venv / "bin" / "python"
    start = time.perf_counter()
    cwd = root.parent
    found: dict[str, Any] | None = None
    if venv.exists():
        found = probe_python(python, cwd)
        if found is None:
            raise FizzcheckError(
                f"{venv}: its python does not run ({python}); remove the venv to rebuild it: rm -rf {venv}"
            )
    created = not venv.exists()
    if created:
        log.write(f"$ {sys.executable} -m venv {venv}\n")
        log.flush()
        venv.parent.mkdir(parents=True, exist_ok=True)
        if subprocess.call([sys.executable, "-m", "venv", str(venv)], stdout=log, stderr=subprocess.STDOUT):
            raise FizzcheckError(f"cannot create the venv {venv} (see {log.name})")
    try:
        has_torch = found is not None and torch_base_version(found.get("torch") or "") == torch_base_version(version)
        if not has_torch:
            _pip(python, f"torch=={version}", log=log)
        found, notes = _choose_numpy(python, cwd=cwd, log=log)
        numpy = str(found["numpy"])
        if not has_torch or found.get("missing") or not _points_here(found, root):
            if has_torch:
                missing = ", ".join(found.get("missing", [])) or "nothing"
                notes.append(f"fizzcheck re-pointed at {root} (was {found.get('fizzcheck')}; missing {missing})")
            _install_fizzcheck(python, root, numpy, log=log)
            found = probe_python(python, cwd) or {}
    except FizzcheckError:
        if created:  # nothing of a failed first install is kept (an unknown release leaves no venv)
            shutil.rmtree(venv, ignore_errors=True)
        raise
    if found.get("numpy_abi") != "ok" or found.get("missing") or not _points_here(found, root):
        raise FizzcheckError(
            f"{venv}: still unusable after repair (numpy check {found.get('numpy_abi')!r}, missing "
            f"{found.get('missing')}, fizzcheck at {found.get('fizzcheck')}); see {log.name}"
        )
    kind = "new venv" if created or not has_torch else ("repaired venv" if notes else "reused venv")
    return Environment(
        version,
        python,
        kind=kind,
        setup_s=time.perf_counter() - start,
        size_bytes=directory_size(venv),
        numpy=found.get("numpy"),
        notes=notes,
    )

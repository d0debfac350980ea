"""``fizzcheck compat``: the property suite against any list of torch releases, and what differs.

For each torch release (default :func:`default_versions`: the one ``constraints.txt`` pins and
the newest in :data:`KNOWN_RELEASES`; or ``--versions`` / ``$FIZZCHECK_COMPAT_VERSIONS``) the command

1. finds or builds an environment (:mod:`fizzcheck.compat.envs`): the running interpreter when
   its torch is that release (unless ``--isolated``), otherwise a cached venv
   ``<venv-dir>/torch-<version>`` with the numpy that torch works with. Every environment is
   ready before anything runs, so a bad release or a broken venv stops the command at once
   (one line, exit status 2) and no report directory is written;
2. runs the property suite there (``--fizzcheck-results``), the documented-behaviour probe
   (:mod:`fizzcheck.compat.probe`) and then, unless ``--no-bench``, the quick benchmarks of all
   releases back to back;
3. writes a new ``reports/compat-<run_id>/`` with ``behaviour-diff.md``, ``index.html`` and
   ``compat-<run_id>.json`` (:mod:`fizzcheck.compat.diff`, :mod:`fizzcheck.compat.render`): per
   property and release one category (PASS, FAIL, KNOWN DEFECT, NOT AVAILABLE, BEHAVIOUR
   CHANGED, SKIPPED, …) and the first release where it changes, every documented behaviour
   that differs, and the benchmark ratios against the oldest release with their significance.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from fizzcheck.compat.diff import benchmark_diff, build_compat_diff, sort_versions
from fizzcheck.compat.envs import Environment, ensure_environment
from fizzcheck.compat.render import compat_html, compat_markdown, headline
from fizzcheck.errors import FizzcheckError, InvalidArgument
from fizzcheck.mutants.render import new_report_dir
from fizzcheck.suite import PROPERTIES, checkout_root, pytest_command

__all__ = [
    "KNOWN_RELEASES",
    "default_versions",
    "exit_status",
    "parse_versions",
    "pinned_version",
    "print_summary",
    "run_benchmarks",
    "run_compat",
    "run_version",
    "write_report",
]

KNOWN_RELEASES = ("2.0.1", "2.1.2", "2.4.1", "2.13.0", "2.14.1")
"""The torch releases fizzcheck has been run on (``nox -s compat_releases``); the newest is a default."""

_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?([a-z0-9.+]*)$")
_PIN = re.compile(r"^\s*torch\s*==\s*([^\s#;]+)", re.MULTILINE)


def pinned_version(root: Path | None = None) -> str | None:
    """The torch release ``constraints.txt`` of the checkout pins, or None without one."""
    try:
        text = ((root or checkout_root()) / "constraints.txt").read_text()
    except (OSError, FizzcheckError):
        return None
    match = _PIN.search(text)
    return match.group(1) if match else None


def default_versions() -> str:
    """The pinned release and the newest known one, e.g. ``"2.13.0,2.14.1"``."""
    found = [v for v in (pinned_version(), KNOWN_RELEASES[-1]) if v]
    return ",".join(dict.fromkeys(found))


def parse_versions(raw: str) -> list[str]:
    """``"2.4.1,2.13.0"`` → releases, oldest first; each like ``2.14.1``, each once (one-line error otherwise)."""
    versions = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in versions if not _VERSION.match(v)]
    if bad:
        raise InvalidArgument(f"versions={raw!r}: {', '.join(map(repr, bad))} is not a torch version like 2.14.1")
    if not versions:
        raise InvalidArgument(f"versions={raw!r}: give one or more torch versions, e.g. {','.join(KNOWN_RELEASES)}")
    if len(set(versions)) != len(versions):
        twice = sorted({v for v in versions if versions.count(v) > 1})
        raise InvalidArgument(f"versions={raw!r}: {', '.join(twice)} given more than once")
    return sort_versions(versions)


# --- per-release runs --------------------------------------------------------------------------


def _call(
    argv: Sequence[str], *, cwd: Path, log: TextIO, timeout: float, env: Mapping[str, str] | None = None
) -> tuple[int | None, float]:
    import subprocess

    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    start = time.perf_counter()
    try:
        status: int | None = subprocess.call(
            list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        status = None
    return status, time.perf_counter() - start


def run_version(
    env: Environment, directory: Path, *, root: Path, profile: str, workers: int, timeout: float, log: TextIO
) -> dict[str, Any]:
    """The property suite and the behaviour probe in ``env``; paths of what they wrote."""
    tag = f"torch-{env.version}"
    properties = directory / "properties" / f"properties-{tag}.json"
    argv = pytest_command(PROPERTIES, python=env.python, profile=profile, results=properties, workers=workers)
    record: dict[str, Any] = {"environment": env.describe()}
    env_vars = {**os.environ, "FIZZCHECK_REPRODUCER_DIR": str(directory / "reproducers" / tag)}
    record["properties_exit"], record["properties_s"] = _call(argv, cwd=root, log=log, timeout=timeout, env=env_vars)
    record["properties_file"] = str(properties.relative_to(directory)) if properties.exists() else None
    behaviours = directory / "behaviours" / f"behaviours-{tag}.json"
    probe = [str(env.python), "-m", "fizzcheck.compat.probe", str(behaviours)]
    record["probe_exit"], _ = _call(probe, cwd=root, log=log, timeout=timeout)
    record["behaviours_file"] = str(behaviours.relative_to(directory)) if behaviours.exists() else None
    record["bench_file"] = None
    return record


def run_benchmarks(
    env: Environment, directory: Path, *, root: Path, threads: int | None, timeout: float, log: TextIO
) -> dict[str, Any]:
    """``fizzcheck bench quick`` in ``env`` (with ``threads`` torch threads); the 1-minute load average around it."""
    bench_dir = directory / "bench" / f"torch-{env.version}"
    bench_dir.mkdir(parents=True)
    argv = [str(env.python), "-m", "fizzcheck", "bench", "quick", "--output-dir", str(bench_dir)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    load_before = os.getloadavg()[0]
    status, seconds = _call(argv, cwd=root, log=log, timeout=timeout)
    found = sorted(bench_dir.glob("benchmarks-*.json"))
    return {
        "bench_exit": status,
        "bench_s": seconds,
        "bench_file": str(found[0].relative_to(directory)) if found else None,
        "bench_threads": threads,
        "bench_load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


# --- the command -------------------------------------------------------------------------------


def _load(directory: Path, relative: str | None) -> Any:
    if relative is None:
        return None
    try:
        return json.loads((directory / relative).read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a truncated file counts as no results for that release


def write_report(directory: Path, doc: Mapping[str, Any]) -> None:
    """``compat-<run_id>.json``, ``behaviour-diff.md`` and ``index.html`` in ``directory``."""
    (directory / f"compat-{doc['run_id']}.json").write_text(json.dumps(doc, indent=1, default=str))
    (directory / "behaviour-diff.md").write_text(compat_markdown(doc))
    (directory / "index.html").write_text(compat_html(doc))


def _say(line: str) -> None:
    print(f"fizzcheck compat: {line}", flush=True)


def run_compat(
    *,
    versions: Sequence[str],
    venv_dir: Path = Path(".nox/compat-venvs"),
    profile: str = "ci",
    workers: int = 0,
    bench: bool = True,
    bench_threads: int | None = 1,
    isolated: bool = False,
    timeout: float = 3600.0,
    output_dir: Path = Path("reports"),
) -> tuple[dict[str, Any], Path]:
    """Build every environment, run every release, write the report directory; (document, directory)."""
    from fizzcheck.results.machine import machine_block, new_run_id

    root = checkout_root()
    versions = sort_versions(versions)
    start = time.perf_counter()
    environments: dict[str, Environment] = {}
    install_logs = Path(venv_dir) / "logs"
    for version in versions:
        _say(f"torch {version}: environment ...")
        install_logs.mkdir(parents=True, exist_ok=True)
        with (install_logs / f"torch-{version}.log").open("a") as log:
            env = ensure_environment(version, root=root, venv_dir=Path(venv_dir), isolated=isolated, log=log)
        environments[version] = env
        numpy = f", numpy {env.numpy}" if env.numpy else ""
        _say(f"torch {version}: {env.kind} {env.python} ({env.setup_s:.0f} s{numpy})")
    run_id = new_run_id()
    directory = new_report_dir(Path(output_dir), f"compat-{run_id}")
    for sub in ("properties", "behaviours", "logs"):
        (directory / sub).mkdir()
    records: dict[str, dict[str, Any]] = {}
    for version in versions:
        with (directory / "logs" / f"torch-{version}.log").open("a") as log:
            _say(f"torch {version}: properties and documented behaviours ...")
            records[version] = run_version(
                environments[version], directory, root=root, profile=profile, workers=workers, timeout=timeout, log=log
            )
            r = records[version]
            _say(f"torch {version}: properties exit {r['properties_exit']} in {r['properties_s']:.0f} s")
    for version in versions if bench else ():  # back to back, so the machine's load is as alike as it gets
        with (directory / "logs" / f"torch-{version}.log").open("a") as log:
            _say(f"torch {version}: quick benchmarks ...")
            records[version].update(
                run_benchmarks(
                    environments[version], directory, root=root, threads=bench_threads, timeout=timeout, log=log
                )
            )
            r = records[version]
            _say(
                f"torch {version}: benchmarks exit {r['bench_exit']} in {r['bench_s']:.0f} s "
                f"(load average {r['bench_load_average'][0]} → {r['bench_load_average'][1]})"
            )
    properties = {v: _load(directory, r["properties_file"]) for v, r in records.items()}
    behaviours = {v: _load(directory, r["behaviours_file"]) for v, r in records.items()}
    for version, record in records.items():  # an unreadable file is no results (exit status 1)
        record["properties_file"] = record["properties_file"] if properties[version] is not None else None
        record["behaviours_file"] = record["behaviours_file"] if behaviours[version] is not None else None
    bench_files = {v: (directory / r["bench_file"]) if r.get("bench_file") else None for v, r in records.items()}
    benchmarks = benchmark_diff(bench_files) if bench else []
    diff = build_compat_diff(versions, properties, behaviours, benchmarks)
    doc = {
        "fizzcheck_compat_schema": 2,
        "kind": "compat",
        "run_id": run_id,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "profile": profile,
        "bench_threads": bench_threads if bench else None,
        "wall_s": round(time.perf_counter() - start, 1),
        "machine": machine_block(),
        "environments": [r["environment"] for r in records.values()],
        "runs": records,
        **diff,
    }
    write_report(directory, doc)
    return doc, directory


def print_summary(doc: Mapping[str, Any], directory: Path) -> None:
    for line in headline(doc):
        _say(line)
    _say(f"report {directory / 'index.html'} (behaviour-diff.md, compat-{doc['run_id']}.json)")


def exit_status(doc: Mapping[str, Any]) -> int:
    """0 when every release produced property and behaviour results (differences are findings, not failures)."""
    runs = doc["runs"].values()
    return 0 if all(r["properties_file"] and r["behaviours_file"] for r in runs) else 1

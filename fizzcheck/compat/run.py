"""``fizzcheck mutants compat``: the property suite against several torch versions, and what differs.

For each torch version (default :data:`DEFAULT_VERSIONS`, or ``--versions`` /
``$FIZZCHECK_COMPAT_VERSIONS``) the command

1. finds or builds an environment: the running interpreter when its torch is that version
   (unless ``--isolated``), otherwise a venv ``<venv-dir>/torch-<version>`` created once and
   reused (``pip install torch==V`` plus fizzcheck's other dependencies pinned to the versions
   installed here, so that torch is the only difference; then ``pip install --no-deps -e .``);
2. runs the property suite there (``--fizzcheck-results``), the documented-behaviour probe
   (:mod:`fizzcheck.compat.probe`) and, unless ``--no-bench``, the quick benchmarks;
3. writes a new ``reports/compat-<run_id>/`` with ``behaviour-diff.md``, ``index.html`` and
   ``compat-<run_id>.json``: per property the outcome and max error / bound in each version,
   every documented behaviour whose error type, warning or message differs, and the benchmark
   median ratio of each case against the first version (``fizzcheck compare``'s statistics).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from fizzcheck.errors import FizzcheckError, InvalidArgument
from fizzcheck.mutants.render import markdown_table, new_report_dir
from fizzcheck.report.plots import format_seconds
from fizzcheck.report.templating import Section, table_cells, workflow_html
from fizzcheck.suite import PROPERTIES, checkout_root, pytest_command

__all__ = [
    "DEFAULT_VERSIONS",
    "NOISE_REFERENCE",
    "PINNED_DEPENDENCIES",
    "RATIO_CHANGE",
    "Environment",
    "behaviour_diff",
    "benchmark_diff",
    "build_compat_diff",
    "compat_html",
    "compat_markdown",
    "noise_floor",
    "parse_versions",
    "property_diff",
    "run_compat",
]

DEFAULT_VERSIONS = "2.13.0,2.14.1"
PINNED_DEPENDENCIES = ("numpy", "hypothesis", "pandas", "pytest", "pytest-benchmark", "pytest-xdist")
"""Installed into each venv at the version this environment has, so torch is the only difference."""
NOISE_REFERENCE = "numpy_reference"
"""The benchmark implementation that does not use torch: its ratios between versions are the noise floor."""
RATIO_CHANGE = 0.1
"""A property's max error / bound is reported as changed when it moves by more than this (of the bound)."""

_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?([a-z0-9.+]*)$")


def parse_versions(raw: str) -> list[str]:
    """``"2.13.0,2.14.1"`` → versions; at least two distinct, each like ``2.14.1`` (one-line error otherwise)."""
    versions = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in versions if not _VERSION.match(v)]
    if bad:
        raise InvalidArgument(f"versions={raw!r}: {', '.join(map(repr, bad))} is not a torch version like 2.14.1")
    if len(set(versions)) < 2 or len(set(versions)) != len(versions):
        raise InvalidArgument(
            f"versions={raw!r}: give at least two different torch versions, each once, e.g. {DEFAULT_VERSIONS}"
        )
    return versions


# --- environments ------------------------------------------------------------------------------


class Environment:
    """A Python that has torch ``version`` and fizzcheck (this checkout) installed."""

    def __init__(self, version: str, python: Path, *, kind: str, setup_s: float = 0.0, size_bytes: int | None = None):
        self.version, self.python, self.kind = version, python, kind
        self.setup_s, self.size_bytes = setup_s, size_bytes

    def describe(self) -> dict[str, Any]:
        return {
            "torch": self.version,
            "python": str(self.python),
            "kind": self.kind,
            "setup_s": round(self.setup_s, 1),
            "size_bytes": self.size_bytes,
        }


def _torch_base_version(version: str) -> str:
    return version.split("+", 1)[0]


def _probe_python(python: Path, root: Path) -> tuple[str, str] | None:
    """(torch version, fizzcheck location) of ``python``, or None if it cannot import them."""
    code = "import torch, fizzcheck; print(torch.__version__); print(fizzcheck.__file__)"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=root.parent)
    if done.returncode != 0:
        return None
    lines = done.stdout.strip().splitlines()
    return (lines[0], lines[1]) if len(lines) == 2 else None


def directory_size(path: Path) -> int:
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


def _pip(python: Path, *args: str, log: Any) -> None:
    argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    if subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT) != 0:
        raise FizzcheckError(f"pip install {' '.join(args)} failed in {python.parent.parent} (see {log.name})")


def ensure_environment(version: str, *, root: Path, venv_dir: Path, isolated: bool, log: Any) -> Environment:
    """The running interpreter if it has torch ``version`` (and not ``isolated``), else a reused or new venv."""
    import torch

    if not isolated and _torch_base_version(torch.__version__) == _torch_base_version(version):
        return Environment(version, Path(sys.executable), kind="current interpreter")
    venv = (venv_dir / f"torch-{version}").resolve()
    python = venv / "bin" / "python"
    start = time.perf_counter()
    found = _probe_python(python, root) if python.exists() else None
    if found and _torch_base_version(found[0]) == _torch_base_version(version):
        if Path(found[1]).resolve().parent.parent != root.resolve():
            _pip(python, "--no-deps", "-e", str(root), log=log)  # the venv served another checkout
        return Environment(version, python, kind="reused venv", size_bytes=directory_size(venv))
    if not python.exists():
        log.write(f"$ {sys.executable} -m venv {venv}\n")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=log, stderr=subprocess.STDOUT)
    pins = [f"{name}=={version}" for name, version in _installed(PINNED_DEPENDENCIES).items()]
    _pip(python, f"torch=={version}", *pins, log=log)
    _pip(python, "--no-deps", "-e", str(root), log=log)
    return Environment(
        version, python, kind="new venv", setup_s=time.perf_counter() - start, size_bytes=directory_size(venv)
    )


# --- per-version runs --------------------------------------------------------------------------


def _call(
    argv: Sequence[str], *, cwd: Path, log: Any, timeout: float, env: Mapping[str, str] | None = None
) -> tuple[int | None, float]:
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
    env: Environment, directory: Path, *, root: Path, profile: str, workers: int, timeout: float, log: Any
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
    env: Environment, directory: Path, *, root: Path, threads: int | None, timeout: float, log: Any
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


# --- the diff (pure: tested on synthetic inputs) -------------------------------------------------


def property_diff(results: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per property nodeid: outcome and max error / bound per version, and what differs."""
    versions = list(results)
    table: dict[str, dict[str, Any]] = {}
    for version, doc in results.items():
        for row in (doc or {}).get("properties", []):
            entry = table.setdefault(row["nodeid"], {"nodeid": row["nodeid"], "versions": {}})
            entry["versions"][version] = {
                "outcome": row["outcome"],
                "max_error_ratio": row.get("max_error_ratio"),
                "message": row.get("message"),
            }
    rows = []
    for nodeid in sorted(table):
        entry = table[nodeid]
        per = [entry["versions"].get(v) for v in versions]
        outcomes = [p["outcome"] if p else "absent" for p in per]
        ratios = [p["max_error_ratio"] for p in per if p and p["max_error_ratio"] is not None]
        differs = len(set(outcomes)) > 1
        changed = len(ratios) == len(versions) and max(ratios) - min(ratios) > RATIO_CHANGE
        entry["status"] = "differs" if differs else ("changed" if changed else "same")
        rows.append(entry)
    return rows


def behaviour_diff(behaviours: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per probe: what each version did, and whether it differs."""
    versions = list(behaviours)
    names: list[str] = []
    for doc in behaviours.values():
        for name in (doc or {}).get("behaviours", {}):
            if name not in names:
                names.append(name)
    rows = []
    for name in names:
        per = {v: (behaviours[v] or {}).get("behaviours", {}).get(name) for v in versions}
        seen = {json.dumps(p, sort_keys=True) for p in per.values()}
        rows.append({"behaviour": name, "versions": per, "status": "differs" if len(seen) > 1 else "same"})
    return rows


def benchmark_diff(
    bench_files: Mapping[str, Path | None], *, threshold: float = 1.1, alpha: float = 0.01
) -> list[dict[str, Any]]:
    """Per case: each version's median and its ratio to the first version's (Mann–Whitney from ``fizzcheck compare``)."""
    from fizzcheck.report.compare import COMPARE_KEY, compare_results
    from fizzcheck.report.load import load_results

    versions = [v for v, path in bench_files.items() if path is not None]
    if len(versions) < 2:
        return []
    baseline = load_results([bench_files[versions[0]]])  # type: ignore[list-item]
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for version in versions[1:]:
        other = load_results([bench_files[version]])  # type: ignore[list-item]
        comparison = compare_results(baseline, other, threshold=threshold, alpha=alpha, names=(versions[0], version))
        for record in comparison.table.to_dict("records"):
            key = tuple(record[k] for k in COMPARE_KEY)
            row = rows.setdefault(
                key,
                {
                    **{k: record[k] for k in COMPARE_KEY},
                    "median_s": {versions[0]: record["median_a"]},
                    "ratio": {},
                    "p_value": {},
                    "change": {},
                },
            )
            row["median_s"][version] = record["median_b"]
            row["ratio"][version] = record["ratio"]
            row["p_value"][version] = record["p_value"]
            row["change"][version] = record["change"]
    return [rows[key] for key in sorted(rows, key=str)]


def _factor(ratio: float) -> float:
    return max(ratio, 1.0 / ratio) if ratio > 0 else math.inf


def _case_name(row: Mapping[str, Any]) -> str:
    return "/".join(str(row[k]) for k in ("case", "implementation", "device", "dtype", "size"))


def noise_floor(benchmarks: Sequence[Mapping[str, Any]]) -> float:
    """The largest factor by which a case that does not run torch (``numpy_reference``) moved between versions.

    Those cases are the same code in every version, so their ratios measure the machine's noise; a torch
    case that moved by no more than this is not evidence of a difference between versions. 1.0 when there
    are none.
    """
    factors = [
        _factor(r) for row in benchmarks if row["implementation"] == NOISE_REFERENCE for r in row["ratio"].values()
    ]
    return max(factors, default=1.0)


def build_compat_diff(
    versions: Sequence[str],
    properties: Mapping[str, Mapping[str, Any] | None],
    behaviours: Mapping[str, Mapping[str, Any] | None],
    benchmarks: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The diff document (without run metadata) from per-version property and behaviour documents."""
    prop_rows = property_diff({v: properties.get(v) for v in versions})
    behaviour_rows = behaviour_diff({v: behaviours.get(v) for v in versions})
    flagged = [b for b in benchmarks if any(b["change"].values())]
    floor = noise_floor(benchmarks)
    beyond = [b for b in flagged if any(c and _factor(b["ratio"][v]) > floor for v, c in b["change"].items())]
    return {
        "versions": list(versions),
        "properties": prop_rows,
        "behaviours": behaviour_rows,
        "benchmarks": list(benchmarks),
        "summary": {
            "properties": len(prop_rows),
            "outcome_differences": [r["nodeid"] for r in prop_rows if r["status"] == "differs"],
            "ratio_changes": [r["nodeid"] for r in prop_rows if r["status"] == "changed"],
            "behaviours": len(behaviour_rows),
            "behaviour_differences": [r["behaviour"] for r in behaviour_rows if r["status"] == "differs"],
            "benchmark_cases": len(benchmarks),
            "benchmark_changes": len(flagged),
            "benchmark_noise_floor": floor,
            "benchmark_changes_beyond_noise": [_case_name(b) for b in beyond],
        },
    }


# --- rendering ---------------------------------------------------------------------------------

_NO_BENCHMARKS = "Not run (--no-bench) or no benchmark results."
_BENCH_KEY = ("case", "implementation", "device", "dtype", "size")


def _fmt_ratio(value: Any) -> str:
    return "–" if value is None else f"{value:.3g}"


def _property_cells(row: Mapping[str, Any], versions: Sequence[str]) -> list[str]:
    cells = []
    for v in versions:
        p = row["versions"].get(v)
        cells.append("absent" if p is None else f"{p['outcome']} {_fmt_ratio(p['max_error_ratio'])}")
    return cells


def _behaviour_cell(p: Mapping[str, Any] | None) -> str:
    if p is None:
        return "absent"
    kind = p["outcome"] if p["type"] is None else f"{p['outcome']} {p['type']}"
    return f"{kind}: {p['message']}"


def _bench_cells(row: Mapping[str, Any], versions: Sequence[str]) -> list[str]:
    cells = [format_seconds(row["median_s"][versions[0]])]
    for v in versions[1:]:
        if v in row["ratio"]:
            flag = f" ({row['change'][v]})" if row["change"][v] else ""
            cells.append(f"{format_seconds(row['median_s'][v])} ×{row['ratio'][v]:.2f}{flag}")
        else:
            cells.append("–")
    return cells


def _property_rows(rows: Sequence[Mapping[str, Any]], versions: Sequence[str]) -> list[list[str]]:
    return [[r["status"], r["nodeid"], *_property_cells(r, versions)] for r in rows]


def _behaviour_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    versions = doc["versions"]
    return [
        [r["status"], r["behaviour"], *(_behaviour_cell(r["versions"][v]) for v in versions)] for r in doc["behaviours"]
    ]


def _bench_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    return [[*(r[key] for key in _BENCH_KEY), *_bench_cells(r, doc["versions"])] for r in doc["benchmarks"]]


def _by_status(rows: Sequence[Mapping[str, Any]], versions: Sequence[str]) -> list[list[str]]:
    """HTML classes of a status table: the status column and each version's cell take the row's status."""
    return [[r["status"], "", *([r["status"]] * len(versions))] for r in rows]


def _headline(doc: Mapping[str, Any]) -> list[str]:
    s = doc["summary"]
    envs = "; ".join(
        f"torch {e['torch']}: {e['kind']} ({_size(e['size_bytes'])}, set-up {e['setup_s']:.0f} s)"
        for e in doc.get("environments", [])
    )
    return [
        f"versions: {', '.join(doc['versions'])} (Hypothesis profile {doc.get('profile', '?')})",
        f"properties: {len(s['outcome_differences'])} of {s['properties']} differ in outcome; "
        f"{len(s['ratio_changes'])} change max error / bound by more than {RATIO_CHANGE}",
        f"documented behaviours: {len(s['behaviour_differences'])} of {s['behaviours']} differ",
        f"benchmarks: {s['benchmark_changes']} of {s['benchmark_cases']} cases changed significantly "
        f"(ratio beyond ×1.1 and Mann–Whitney p < 0.01){_bench_conditions(doc)}; noise floor ×"
        f"{s.get('benchmark_noise_floor', 1.0):.2f} (largest move of the numpy reference, which is the same code in "
        f"every version); beyond it: {', '.join(s.get('benchmark_changes_beyond_noise', [])) or 'none'}",
        f"environments: {envs or 'n/a'}",
        f"wall time: {doc.get('wall_s', 0):.0f} s",
    ]


def _bench_conditions(doc: Mapping[str, Any]) -> str:
    loads = [
        f"{v} {r['bench_load_average'][0]}→{r['bench_load_average'][1]}"
        for v, r in doc.get("runs", {}).items()
        if r.get("bench_load_average")
    ]
    if not loads:
        return ""
    return f"; torch threads {doc.get('bench_threads') or 'default'}, 1-min load average {', '.join(loads)}"


def _size(size: int | None) -> str:
    return "size n/a" if size is None else f"{size / 2**30:.1f} GiB"


def _bench_header(versions: Sequence[str]) -> list[str]:
    first = versions[0]
    return [*_BENCH_KEY, f"median {first}", *(f"{v} (× of {first})" for v in versions[1:])]


def compat_markdown(doc: Mapping[str, Any]) -> str:
    versions = doc["versions"]
    lines = [f"# fizzcheck compat — torch {' vs '.join(versions)}", ""]
    lines += [f"* {line}" for line in _headline(doc)]
    differing = [r for r in doc["properties"] if r["status"] != "same"]
    lines += ["", "## Properties that differ", ""]
    if differing:
        lines.append(markdown_table(["", "property", *versions], _property_rows(differing, versions)))
    else:
        lines.append(
            "None: every property has the same outcome, and max error / bound moved by at most "
            f"{RATIO_CHANGE}, in every version."
        )
    lines += ["", "## Documented behaviours (errors, warnings, values)", ""]
    lines.append(markdown_table(["", "behaviour", *versions], _behaviour_rows(doc)))
    lines += ["", "## Benchmarks (quick sweep)", ""]
    if doc["benchmarks"]:
        lines += [
            "Medians of `fizzcheck bench quick`, the versions timed back to back on this machine. A ratio is a "
            "difference between versions only when both runs saw the same load (load averages above); on a "
            "shared machine rerun before believing a large one.",
            "",
        ]
        lines.append(markdown_table(_bench_header(versions), _bench_rows(doc)))
    else:
        lines.append(_NO_BENCHMARKS)
    lines += ["", "## All properties", ""]
    header = ["", "property", *(f"{v}: outcome, max error/bound" for v in versions)]
    lines += [markdown_table(header, _property_rows(doc["properties"], versions)), ""]
    return "\n".join(lines)


def compat_html(doc: Mapping[str, Any]) -> str:
    """``index.html``: the headline, then properties, documented behaviours and benchmarks as tables."""
    versions, properties, behaviours = doc["versions"], doc["properties"], doc["behaviours"]
    messages = [["", "", *(((r["versions"].get(v) or {}).get("message") or "") for v in versions)] for r in properties]
    changed = [[*[""] * 6, *("differs" if r["change"].get(v) else "" for v in versions[1:])] for r in doc["benchmarks"]]
    rows = table_cells(_property_rows(properties, versions), classes=_by_status(properties, versions), titles=messages)
    sections = [
        Section("Properties", ["", "property", *versions], rows),
        Section(
            "Documented behaviours",
            ["", "behaviour", *versions],
            table_cells(_behaviour_rows(doc), classes=_by_status(behaviours, versions)),
        ),
        Section("Benchmarks (quick sweep)", _bench_header(versions), table_cells(_bench_rows(doc), classes=changed))
        if doc["benchmarks"]
        else Section("Benchmarks (quick sweep)", note=_NO_BENCHMARKS),
    ]
    return workflow_html(
        f"fizzcheck compat — torch {' vs '.join(versions)}", headline=_headline(doc), sections=sections
    )


# --- the command -------------------------------------------------------------------------------


def _load(directory: Path, relative: str | None) -> Any:
    return None if relative is None else json.loads((directory / relative).read_text())


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
    """Run every version, write the report directory, return (document, directory)."""
    from fizzcheck.results.machine import machine_block, new_run_id

    root = checkout_root()
    run_id = new_run_id()
    directory = new_report_dir(Path(output_dir), f"compat-{run_id}")
    for sub in ("properties", "behaviours", "logs"):
        (directory / sub).mkdir()
    start = time.perf_counter()
    records: dict[str, dict[str, Any]] = {}
    environments: dict[str, Environment] = {}
    for version in versions:
        with (directory / "logs" / f"torch-{version}.log").open("a") as log:
            print(f"fizzcheck compat: torch {version}: environment ...", flush=True)
            env = ensure_environment(version, root=root, venv_dir=Path(venv_dir), isolated=isolated, log=log)
            environments[version] = env
            print(f"fizzcheck compat: torch {version}: {env.kind} {env.python}; properties, behaviours ...", flush=True)
            records[version] = run_version(
                env, directory, root=root, profile=profile, workers=workers, timeout=timeout, log=log
            )
            r = records[version]
            print(
                f"fizzcheck compat: torch {version}: properties exit {r['properties_exit']} in {r['properties_s']:.0f} s",
                flush=True,
            )
    for version in versions if bench else ():  # back to back, so the machine's load is as alike as it gets
        with (directory / "logs" / f"torch-{version}.log").open("a") as log:
            print(f"fizzcheck compat: torch {version}: quick benchmarks ...", flush=True)
            records[version].update(
                run_benchmarks(
                    environments[version], directory, root=root, threads=bench_threads, timeout=timeout, log=log
                )
            )
            r = records[version]
            print(
                f"fizzcheck compat: torch {version}: benchmarks exit {r['bench_exit']} in {r['bench_s']:.0f} s "
                f"(load average {r['bench_load_average'][0]} → {r['bench_load_average'][1]})",
                flush=True,
            )
    properties = {v: _load(directory, r["properties_file"]) for v, r in records.items()}
    behaviours = {v: _load(directory, r["behaviours_file"]) for v, r in records.items()}
    bench_files = {v: (directory / r["bench_file"]) if r.get("bench_file") else None for v, r in records.items()}
    benchmarks = benchmark_diff(bench_files) if bench else []
    diff = build_compat_diff(versions, properties, behaviours, benchmarks)
    doc = {
        "fizzcheck_compat_schema": 1,
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
    (directory / f"compat-{run_id}.json").write_text(json.dumps(doc, indent=1, default=str))
    (directory / "behaviour-diff.md").write_text(compat_markdown(doc))
    (directory / "index.html").write_text(compat_html(doc))
    return doc, directory


def print_summary(doc: Mapping[str, Any], directory: Path) -> None:
    for line in _headline(doc):
        print(f"fizzcheck compat: {line}")
    print(f"fizzcheck compat: report {directory / 'index.html'} (behaviour-diff.md, compat-{doc['run_id']}.json)")


def exit_status(doc: Mapping[str, Any]) -> int:
    """0 when every version produced property and behaviour results (differences are findings, not failures)."""
    runs = doc["runs"].values()
    return 0 if all(r["properties_file"] and r["behaviours_file"] for r in runs) else 1

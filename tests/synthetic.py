"""Synthetic, schema-valid result files (docs/results-schema.md) for fizzcheck's own report tests.

The benchmark timings follow a simple model — a fixed per-call overhead plus FLOPs at an
implementation's rate — with log-normal noise per round, so that scaling plots, rooflines
and run comparisons look like the real thing. ``slowdown`` multiplies chosen
implementations' times, to plant a regression.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fizzcheck.report.load import Results, results_from_documents
from fizzcheck.results.schema import SCHEMA_VERSION, is_noisy

__all__ = [
    "CASES",
    "IMPLEMENTATIONS",
    "SIZES",
    "CaseModel",
    "benchmark_results",
    "ci_matrix",
    "history_results",
    "machine_block",
    "property_results",
    "write_history",
    "write_json",
]

ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


@dataclass(frozen=True)
class CaseModel:
    """FLOPs and minimum bytes of one call of a case at size ``n``."""

    name: str
    flops_per: str  # "n3" (matmul-like), "n2" (linear-like), "n" (elementwise)
    flops_factor: float
    bytes_factor: float

    def flops(self, n: int) -> float:
        power = {"n3": 3, "n2": 2, "n": 1}[self.flops_per]
        return self.flops_factor * float(n) ** power

    def bytes(self, n: int, dtype: str) -> float:
        power = 2 if self.flops_per in ("n3", "n2") else 1
        return self.bytes_factor * float(n) ** power * ITEMSIZE[dtype]


CASES: tuple[CaseModel, ...] = (
    CaseModel("matmul", "n3", 2.0, 3.0),
    CaseModel("linear_forward", "n2", 128.0, 2.0),
    CaseModel("linear_backward", "n2", 256.0, 3.0),
    CaseModel("sigmoid", "n", 4.0, 2.0),
    CaseModel("softmax", "n", 5.0, 2.0),
    CaseModel("cross_entropy", "n", 6.0, 1.0),
    CaseModel("mse_loss", "n", 3.0, 2.0),
    CaseModel("fizzbuzz_train_step", "n2", 900.0, 4.0),
)
SIZES: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024, 2048)
# implementation -> (per-call overhead in seconds, GFLOP/s on cpu, GFLOP/s on cuda or None)
IMPLEMENTATIONS: dict[str, tuple[float, float, float | None]] = {
    "numpy_reference": (2e-6, 1.5, None),
    "torch_raw": (6e-6, 20.0, 20000.0),
    "torch_nn": (9e-6, 18.0, 18000.0),
    "torch_compile": (4e-6, 24.0, 30000.0),
}


def machine_block(
    hostname: str = "synthetic-1",
    *,
    cpu_model: str = "Synthetic CPU 2-core",
    gpu: Mapping[str, Any] | None = None,
    torch_version: str = "2.13.0+cpu",
    threads: int = 2,
) -> dict[str, Any]:
    """A machine block; ``machine_id`` is derived from host, CPU and GPU like the plugin's."""
    gpu_name = gpu["name"] if gpu else ""
    machine_id = hashlib.sha256(f"{hostname}|{cpu_model}|{gpu_name}".encode()).hexdigest()[:16]
    return {
        "machine_id": machine_id,
        "hostname": hostname,
        "cpu_model": cpu_model,
        "cores_physical": 1,
        "cores_logical": threads,
        "python": "3.11.7",
        "numpy": np.__version__,
        "torch_version": torch_version,
        "torch_build": {
            "cuda": "12.8" if gpu else None,
            "cudnn": None,
            "blas": "OpenBLAS",
            "mkl": False,
            "openmp": True,
        },
        "torch_threads": threads,
        "gpu": dict(gpu) if gpu else None,
    }


def _peaks(machine: Mapping[str, Any]) -> dict[str, Any]:
    peaks: dict[str, Any] = {"cpu": {"matmul_gflops": {"float32": 61.2, "float64": 30.1}, "copy_gbps": 11.8}}
    if machine.get("gpu"):
        peaks["cuda"] = {"matmul_gflops": {"float32": 51000.0, "float64": 60000.0}, "copy_gbps": 3900.0}
    return peaks


def property_results(
    *,
    run_id: str,
    machine: Mapping[str, Any],
    properties: Sequence[str] = (
        "test_matmul",
        "test_linear",
        "test_sigmoid",
        "test_softmax",
        "test_cross_entropy",
        "test_mse",
    ),
    dtypes: Sequence[str] = ("float32", "float64"),
    failures: Sequence[str] = (),
    seed: int = 0,
) -> dict[str, Any]:
    """A property-results document: each property × device × dtype; CUDA skipped without a GPU.

    ``failures`` are nodeids (e.g. ``"test_matmul[cpu-float32]"``) that fail with a reproducer.
    """
    rng = np.random.default_rng(seed)
    entries = []
    devices = ("cpu", "cuda")
    for name in properties:
        for device in devices:
            for dtype in dtypes:
                test_id = f"{name}[{device}-{dtype}]"
                entry: dict[str, Any] = {
                    "nodeid": f"properties/test_ops.py::{test_id}",
                    "property": name,
                    "module": "properties/test_ops.py",
                    "device": device,
                    "dtype": dtype,
                    "target": "torch",
                    "outcome": "passed",
                    "skip_reason": None,
                    "examples": 100,
                    "max_error_ratio": round(float(rng.uniform(0.05, 0.98)), 4),
                    "duration_s": round(float(rng.uniform(0.2, 3.0)), 3),
                    "message": None,
                    "reproducer": None,
                }
                if device == "cuda" and not machine.get("gpu"):
                    entry.update(outcome="skipped", skip_reason="CUDA not available (torch.cuda.is_available() is False)",
                                 examples=None, max_error_ratio=None, duration_s=0.0)  # fmt: skip
                elif test_id in failures:
                    entry.update(
                        outcome="failed",
                        examples=37,
                        max_error_ratio=3.7,
                        message=f"BoundExceeded: out=1.0002, but should be 1.0 within bound 5.96e-08 [{name}]",
                        reproducer=(
                            "import numpy as np\nfrom properties.test_ops import check_matmul\n"
                            f"check_matmul(a=np.array([[1.0, 2.0]]), b=np.array([[3.0], [4.0]]), device={device!r}, dtype={dtype!r})"
                        ),
                    )
                entries.append(entry)
    return {
        "fizzcheck_schema": SCHEMA_VERSION,
        "kind": "properties",
        "run_id": run_id,
        "created": "2026-11-29T06:15:02Z",
        "profile": "ci",
        "machine": dict(machine),
        "properties": entries,
    }


def _quartiles(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # pytest-benchmark's quartiles: medians of the lower and upper halves
    ordered = np.sort(samples, axis=1)
    rounds = ordered.shape[1]
    half = rounds // 2
    median = np.median(ordered, axis=1)
    q1 = np.median(ordered[:, :half], axis=1) if half else median
    q3 = np.median(ordered[:, (rounds + 1) // 2 :], axis=1) if half else median
    return q1, median, q3


def benchmark_results(
    *,
    run_id: str,
    machine: Mapping[str, Any],
    cases: Sequence[CaseModel] = CASES,
    sizes: Sequence[int] = SIZES,
    implementations: Sequence[str] = tuple(IMPLEMENTATIONS),
    dtypes: Sequence[str] = ("float32", "float64"),
    rounds: int = 15,
    noise: float = 0.03,
    slowdown: Mapping[str, float] | None = None,
    seed: int = 0,
    datetime: str = "2026-11-29T06:15:02.000000+00:00",
) -> dict[str, Any]:
    """A pytest-benchmark document with fizzcheck's ``machine_info`` and ``extra_info`` blocks.

    ``slowdown`` maps ``"case/implementation"`` (or ``"*"``) to a factor applied to every round.
    """
    rng = np.random.default_rng(seed)
    devices = ("cpu", "cuda") if machine.get("gpu") else ("cpu",)
    peaks = _peaks(machine)
    keys = []
    for case in cases:
        for implementation in implementations:
            overhead, cpu_rate, cuda_rate = IMPLEMENTATIONS[implementation]
            for device in devices:
                rate = cpu_rate if device == "cpu" else cuda_rate
                if rate is None:
                    continue
                for dtype in dtypes:
                    for n in sizes:
                        keys.append((case, implementation, device, dtype, n, overhead, rate))
    flops = np.array([k[0].flops(k[4]) for k in keys])
    byte_counts = np.array([k[0].bytes(k[4], k[3]) for k in keys])
    overheads = np.array([k[5] for k in keys])
    rates = np.array([k[6] for k in keys]) * np.where([k[3] == "float64" for k in keys], 0.5, 1.0)
    model = overheads + flops / (rates * 1e9)
    factors = np.ones(len(keys))
    for key, factor in (slowdown or {}).items():
        chosen = [key in ("*", f"{k[0].name}/{k[1]}") for k in keys]
        factors[np.asarray(chosen, dtype=bool)] *= factor
    samples = (model * factors)[:, None] * rng.lognormal(0.0, noise, size=(len(keys), rounds))
    q1, median, q3 = _quartiles(samples)
    mean, std = samples.mean(axis=1), samples.std(axis=1, ddof=1) if rounds > 1 else np.zeros(len(keys))
    lo, hi, total = samples.min(axis=1), samples.max(axis=1), samples.sum(axis=1)
    benchmarks = []
    for i, (case, implementation, device, dtype, n, _overhead, _rate) in enumerate(keys):
        med = float(median[i])
        iqr = float(q3[i] - q1[i])
        peak = peaks[device]
        gflops = float(flops[i]) / med / 1e9
        gbps = float(byte_counts[i]) / med / 1e9
        test_name = f"test_{case.name}[{implementation}-{device}-{dtype}-{n}]"
        benchmarks.append({
            "group": case.name,
            "name": test_name,
            "fullname": f"benchmarks/test_cases.py::{test_name}",
            "params": {"implementation": implementation, "device": device, "dtype": dtype, "size": str(n)},
            "param": f"{implementation}-{device}-{dtype}-{n}",
            "extra_info": {
                "fizzcheck_schema": SCHEMA_VERSION,
                "case": case.name,
                "implementation": implementation,
                "device": device,
                "dtype": dtype,
                "size": str(n),
                "size_params": {"n": n},
                "flops": int(flops[i]),
                "bytes": int(byte_counts[i]),
                "threads": machine.get("torch_threads", 1),
                "median_s": med,
                "gflops": gflops,
                "gbps": gbps,
                "pct_peak_flops": 100.0 * gflops / peak["matmul_gflops"][dtype],
                "pct_peak_bandwidth": 100.0 * gbps / peak["copy_gbps"],
                "iqr_over_median": iqr / med,
                "noisy": bool(is_noisy(iqr / med, med)),
                "compile_s": 1.7 if implementation == "torch_compile" else None,
                # as the runner writes them: rounds per pass, and the yardstick per pass (list columns)
                "passes": [rounds // 2, rounds - rounds // 2],
                "yardstick_s": [4.0e-05, 4.4e-05],
            },
            "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 5, "max_time": 1.0,
                        "min_time": 5e-06, "warmup": False},
            "stats": {
                "min": float(lo[i]), "max": float(hi[i]), "mean": float(mean[i]), "stddev": float(std[i]),
                "rounds": rounds, "median": med, "iqr": iqr, "q1": float(q1[i]), "q3": float(q3[i]),
                "iqr_outliers": 0, "stddev_outliers": 0, "outliers": "0;0", "ld15iqr": float(lo[i]),
                "hd15iqr": float(hi[i]), "ops": 1.0 / float(mean[i]), "total": float(total[i]), "iterations": 1,
                "data": samples[i].tolist(),
            },
        })  # fmt: skip
    info = {
        "node": machine.get("hostname"),
        "processor": "",
        "machine": "x86_64",
        "python_version": "3.11.7",
        "fizzcheck": {"fizzcheck_schema": SCHEMA_VERSION, "run_id": run_id, **machine, "peaks": peaks},
    }
    commit = {
        "id": "0000000",
        "time": None,
        "author_time": None,
        "dirty": False,
        "project": "fizzcheck",
        "branch": "main",
    }
    return {
        "machine_info": info,
        "commit_info": commit,
        "benchmarks": benchmarks,
        "datetime": datetime,
        "version": "5.2.3",
    }


def write_json(path: str | Path, document: Any) -> Path:
    """Write ``document`` as JSON to ``path`` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, allow_nan=False))
    return path


def ci_matrix() -> list[dict[str, Any]]:
    """Three machines: two CPU-only runners and one with a GPU."""
    gpu = {"name": "NVIDIA H200", "memory_bytes": 150_000_000_000, "capability": "9.0"}
    return [
        machine_block("ci-cpu-1"),
        machine_block("ci-cpu-2", cpu_model="Other CPU 4-core", threads=4),
        machine_block("ci-gpu-1", cpu_model="Host CPU", gpu=gpu, torch_version="2.13.0+cu128"),
    ]


def _run_id(run: int) -> str:
    return f"20261129T{run // 3600 % 24:02d}{run // 60 % 60:02d}{run % 60:02d}Z-{run % 65536:04x}"


def write_history(
    directory: str | Path,
    *,
    rows: int = 100_000,
    machines: Sequence[Mapping[str, Any]] | None = None,
    rounds: int = 10,
) -> list[Path]:
    """Result files from enough runs on ``machines`` to hold at least ``rows`` speed rows.

    Runs go round-robin over the machines (default :func:`ci_matrix`), one benchmark file
    per run, plus one property file per machine: the history of a CI matrix.
    """
    directory = Path(directory)
    machines = list(machines) if machines else ci_matrix()
    written = []
    total = run = 0
    while total < rows:
        run_id = _run_id(run)
        document = benchmark_results(run_id=run_id, machine=machines[run % len(machines)], rounds=rounds, seed=run)
        total += len(document["benchmarks"])
        written.append(write_json(directory / f"benchmarks-{run_id}.json", document))
        run += 1
    for index, machine in enumerate(machines):
        run_id = f"20261129T000000Z-p{index:03x}"
        written.append(
            write_json(
                directory / f"properties-{run_id}.json", property_results(run_id=run_id, machine=machine, seed=index)
            )
        )
    return written


def history_results(
    rows: int = 100_000, *, machines: Sequence[Mapping[str, Any]] | None = None, seed: int = 0
) -> Results:
    """What :func:`load_results` returns for :func:`write_history`'s files, built in memory in a fraction of the time.

    One run per machine is generated and validated like a file; further runs repeat its rows
    with fresh run ids and 2 % log-normal run-to-run variation of the timings.
    """
    machines = list(machines) if machines else ci_matrix()
    documents: dict[str, Any] = {}
    for index, machine in enumerate(machines):
        documents[f"benchmarks-{index}.json"] = benchmark_results(
            run_id=_run_id(index), machine=machine, seed=seed + index
        )
        documents[f"properties-{index}.json"] = property_results(
            run_id=f"p-{index}", machine=machine, seed=seed + index
        )
    base = results_from_documents(documents)
    rng = np.random.default_rng(seed)
    copies = max(1, -(-rows // len(base.speed)))
    speed, machine_rows, peaks = [], [], []
    bench_machines = base.machines[base.machines["kind"] == "benchmarks"]
    for copy in range(copies):
        suffix = f"-{copy:05d}"
        variation = rng.lognormal(0.0, 0.02, len(base.speed))
        frame = base.speed.assign(run_id=base.speed["run_id"] + suffix)
        for column in ("median_s", "iqr_s", "mean_s", "min_s"):
            frame[column] = frame[column] * variation
        for column in ("gflops", "gbps"):
            frame[column] = frame[column] / variation
        speed.append(frame)
        machine_rows.append(bench_machines.assign(run_id=bench_machines["run_id"] + suffix))
        peaks.append(base.peaks.assign(run_id=base.peaks["run_id"] + suffix))
    property_machines = base.machines[base.machines["kind"] == "properties"]
    return Results(
        files=base.files,
        verification=base.verification,
        speed=pd.concat(speed, ignore_index=True),
        machines=pd.concat([*machine_rows, property_machines], ignore_index=True),
        peaks=pd.concat(peaks, ignore_index=True),
    )

"""The results schema, defined once: every field of fizzcheck's result files, with its JSON type,
whether it may be null and what it means, next to its definition.

fizzcheck writes two kinds of result file:

* a property-results file, :class:`PropertyResults`, with one :class:`PropertyRow` per test;
* pytest-benchmark's own JSON, which fizzcheck extends: ``machine_info.fizzcheck`` is a
  :class:`BenchmarkRun`, and each benchmark's ``extra_info`` holds a :class:`BenchmarkCase`
  (set before timing) and its :class:`BenchmarkMetrics` (derived after timing). The report also
  reads a few of pytest-benchmark's own :class:`BenchmarkStats`.

Both describe the machine that ran them with a :class:`Machine` block.

Writers build their documents by constructing these dataclasses and writing
:func:`dataclasses.asdict`; the validator (:mod:`fizzcheck.results.validate`), the report's
loader (:mod:`fizzcheck.report.load`) and ``docs/results-schema.md``
(:mod:`fizzcheck.results.markdown`) read the same definitions through :func:`record_fields`.

How a field's definition reads:

* its annotation is the JSON type a reader accepts (``float`` is any JSON number, a dataclass
  is an object holding that record, ``Literal`` lists the allowed values);
* a field whose annotation admits ``None`` may be null or absent; every other field is required;
* its metadata holds its meaning (``doc``) and the report column it becomes (``column``; None
  when the report does not load it).

Standard library only: no torch, nothing of the plugin, the CLI or the report.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "NOISY_IQR_OVER_MEDIAN",
    "NOISY_MIN_MEDIAN_S",
    "OUTCOMES",
    "SCHEMA_KEY",
    "SCHEMA_VERSION",
    "BenchmarkCase",
    "BenchmarkMetrics",
    "BenchmarkResults",
    "BenchmarkRun",
    "BenchmarkStats",
    "DevicePeaks",
    "FieldSpec",
    "Gpu",
    "Machine",
    "Outcome",
    "PropertyResults",
    "PropertyRow",
    "TargetInfo",
    "TorchBuild",
    "column_names",
    "is_noisy",
    "record_fields",
]

SCHEMA_VERSION = 1
"""Version of the result-file schema this fizzcheck writes, and the newest it reads."""

SCHEMA_KEY = "fizzcheck_schema"
"""The key that marks a fizzcheck document (or benchmark) and holds its schema version."""

Outcome = Literal["passed", "failed", "error", "skipped", "known_defect", "not_available", "behaviour_changed"]
OUTCOMES: tuple[str, ...] = typing.get_args(Outcome)
"""Every outcome a property row may record: pytest's own (passed, failed, error, skipped — an
expected failure with no classification counts as skipped, with its reason), and the three a
classifying plugin sets through ``report.fizzcheck_outcome`` (a known torch defect, a feature
not available in this torch, a documented behaviour that changed); see
:mod:`fizzcheck.results.outcomes` for how each is shown and how they make the verdict."""

NOISY_IQR_OVER_MEDIAN = 0.05
"""A benchmark whose IQR / median exceeds this is flagged ``noisy`` …"""
NOISY_MIN_MEDIAN_S = 50e-6
"""… if its median is at least 50 µs (below that, timer resolution dominates the spread)."""


def is_noisy(iqr_over_median: Any, median_s: Any) -> Any:
    """The ``noisy`` rule, for scalars (a bool) or pandas Series (a boolean Series)."""
    return (iqr_over_median > NOISY_IQR_OVER_MEDIAN) & (median_s >= NOISY_MIN_MEDIAN_S)


_SAME = "<same as the field>"


def _meta(
    doc: str,
    *,
    column: str | None = _SAME,
    prefix: str | None = None,
    keys: type | None = None,
    text: bool = False,
    may_be_nan: bool = False,
    non_empty: bool = False,
    items_hint: str | None = None,
) -> dict[str, Any]:
    """A schema field's metadata: its meaning and how the report reads it.

    ``column``: the report column (default: the field's name; None: not loaded);
    ``prefix``: a nested record's fields become columns ``prefix + name``;
    ``keys``: a free-form object whose known keys are those of this record;
    ``text``: loaded as text; ``may_be_nan``: NaN is a valid value;
    ``non_empty``: an empty string is invalid; ``items_hint``: what a list's items must be, in words.
    """
    return {
        "doc": doc,
        "column": column,
        "prefix": prefix,
        "keys": keys,
        "text": text,
        "may_be_nan": may_be_nan,
        "non_empty": non_empty,
        "items_hint": items_hint,
    }


# --- the machine block ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TorchBuild:
    """``torch_build``: how the installed torch was built."""

    cuda: str | float | None = field(
        metadata=_meta("CUDA version torch was built with (torch.version.cuda); null for CPU builds", text=True)
    )
    cudnn: str | int | None = field(
        metadata=_meta("cuDNN version (torch.backends.cudnn.version()); null if unavailable", text=True)
    )
    blas: str | None = field(
        metadata=_meta("the BLAS library in torch.__config__.show(): MKL, OpenBLAS, BLIS or Accelerate")
    )
    mkl: bool | None = field(metadata=_meta("torch.backends.mkl.is_available()"))
    openmp: bool | None = field(metadata=_meta("torch.backends.openmp.is_available()"))


@dataclass(frozen=True, kw_only=True)
class Gpu:
    """``gpu``: the first CUDA device, as torch.cuda.get_device_properties(0) describes it."""

    name: str | None = field(metadata=_meta('device name, e.g. "NVIDIA H200"'))
    memory_bytes: int | None = field(metadata=_meta("total device memory in bytes"))
    capability: str | float | None = field(metadata=_meta('compute capability "major.minor"', text=True))


@dataclass(frozen=True, kw_only=True)
class Machine:
    """The machine block: who ran this (``machine`` in property files, inlined into
    ``machine_info.fizzcheck`` in benchmark files)."""

    machine_id: str = field(
        metadata=_meta("sha256 of node name, CPU model, core count and GPU name, first 16 hex digits", non_empty=True)
    )
    hostname: str | None = field(metadata=_meta("socket.gethostname()"))
    cpu_model: str | None = field(
        metadata=_meta('CPU model name from /proc/cpuinfo, else platform.processor(), e.g. "AMD EPYC 7B13"')
    )
    cores_physical: int | None = field(metadata=_meta("physical CPU cores; null where /proc/cpuinfo does not tell"))
    cores_logical: int | None = field(metadata=_meta("os.cpu_count()"))
    python: str | None = field(metadata=_meta('Python version, e.g. "3.11.7"'))
    numpy: str | None = field(metadata=_meta("numpy version"))
    torch_version: str | None = field(metadata=_meta('torch.__version__, e.g. "2.13.0+cpu"'))
    torch_build: TorchBuild | None = field(metadata=_meta("how torch was built", prefix="torch_"))
    torch_threads: int | None = field(metadata=_meta("torch.get_num_threads() when the file was written"))
    gpu: Gpu | None = field(metadata=_meta("the first CUDA device; null without CUDA", prefix="gpu_"))


# --- property results -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TargetInfo:
    """``target``: the framework under test (Target.describe(); a target may add keys of its own)."""

    name: str | None = field(metadata=_meta("the target's name"))
    spec: str | None = field(
        metadata=_meta("what --fizzcheck-target named: torch, seed-raw, compile:BACKEND or pkg.mod:Name")
    )
    description: str | None = field(metadata=_meta("one line saying what the target runs"))
    overrides: list[str] | None = field(metadata=_meta("the torch APIs the target replaces; [] for torch eager"))
    torch: str | None = field(metadata=_meta("torch.__version__ the target ran on"))
    backend: str | None = field(metadata=_meta("the torch.compile backend (compile targets only)"))


@dataclass(frozen=True, kw_only=True)
class PropertyRow:
    """One entry of ``properties``: one property test (pytest node) and its outcome."""

    property: str = field(
        metadata=_meta("the test function's name: the same name as the op's reference, bound and benchmark case")
    )
    module: str | None = field(metadata=_meta('the test file, e.g. "properties/test_ops.py"'))
    device: str | None = field(metadata=_meta("the device parameter; null if the test is not device-parametrised"))
    dtype: str | None = field(metadata=_meta("the dtype parameter; null if the test is not dtype-parametrised"))
    target: str | None = field(metadata=_meta("the target's spec (see target.spec)"))
    outcome: Outcome = field(
        metadata=_meta(
            "what happened: passed, failed, error, skipped, known_defect, not_available or behaviour_changed"
        )
    )
    skip_reason: str | None = field(
        metadata=_meta(
            "why it did not pass or fail: the skip reason, the expected failure's reason, or the classifying "
            "plugin's detail (the defect id, the missing feature, the old and new behaviour)"
        )
    )
    examples: int | None = field(
        metadata=_meta("Hypothesis test cases run; null for tests that are not Hypothesis tests")
    )
    max_error_ratio: float | None = field(
        metadata=_meta(
            "largest observed error / bound: among comparisons that held for a pass, among all for a failure; "
            "null if the test compared nothing, or the ratio was infinite",
            may_be_nan=True,
        )
    )
    duration_s: float | None = field(metadata=_meta("the test call's duration, seconds"))
    message: str | None = field(metadata=_meta("first line of the failure, if it failed"))
    reproducer: str | None = field(
        metadata=_meta("the reproducer note(s) Hypothesis or fizzcheck attached, if it failed")
    )
    nodeid: str = field(metadata=_meta('the pytest node id, e.g. "properties/test_ops.py::test_matmul[cpu-float32]"'))
    surface: dict[str, int] | None = field(
        default=None,
        metadata=_meta(
            "declared API cells (fizzcheck.surface.catalogue) this test exercised → examples that exercised each "
            "(checked, not a report column: the run's totals are the top-level surface)",
            column=None,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class PropertyResults:
    """A property-results file, ``properties-<run_id>.json``."""

    fizzcheck_schema: int = field(default=SCHEMA_VERSION, metadata=_meta("the schema version"))
    kind: Literal["properties"] = field(default="properties", metadata=_meta("what the file holds"))
    run_id: str = field(
        metadata=_meta('UTC timestamp + 4 hex digits, e.g. "20261129T061502Z-5d1e": sorts by time, unique per run')
    )
    created: str | None = field(metadata=_meta('when the run started, UTC, e.g. "2026-11-29T06:15:02Z"'))
    profile: str | None = field(metadata=_meta("the Hypothesis profile: dev, ci, ci-seeded or thorough"))
    target: dict[str, Any] | None = field(
        metadata=_meta("the framework under test (--fizzcheck-target)", keys=TargetInfo)
    )
    machine: Machine = field(metadata=_meta("the machine that ran the properties"))
    properties: list[PropertyRow] = field(metadata=_meta("one row per property test, sorted by nodeid"))
    counts: dict[str, int] | None = field(
        default=None,
        metadata=_meta("property tests per outcome, as the terminal summary counted them (sums to len(properties))"),
    )
    unavailable: list[str] | None = field(
        default=None,
        metadata=_meta(
            'one line per device or dtype this machine could not run, e.g. "cuda not available (...)"; '
            "the run left them out instead of skipping them"
        ),
    )
    verdict: str | None = field(default=None, metadata=_meta("the verdict line the terminal summary printed"))
    surface: dict[str, int] | None = field(
        default=None,
        metadata=_meta(
            "every declared API cell (fizzcheck.surface.catalogue) → examples that exercised it in this run "
            "(0: declared, never exercised); see fizzcheck surface"
        ),
    )


# --- benchmark results (pytest-benchmark JSON, extended) --------------------------------


@dataclass(frozen=True, kw_only=True)
class DevicePeaks:
    """``peaks.<device>``: the machine's peaks, measured in this run."""

    matmul_gflops: dict[str, float] | None = field(
        metadata=_meta("per dtype, the best matmul GFLOP/s over several square sizes", column="matmul_gflops")
    )
    matmul_side: dict[str, int] | None = field(
        metadata=_meta("per dtype, the matrix side that reached it", column=None)
    )
    copy_gbps: float | None = field(metadata=_meta("device-to-device copy bandwidth, GB/s (bytes read + written)"))
    measured_matmul_gflops: dict[str, float] | None = field(
        default=None,
        metadata=_meta(
            "per dtype, the matmul micro-benchmark's best of start and end; matmul_gflops is the best "
            "sustained rate of the run (this or a faster row)",
            column=None,
        ),
    )
    measured_copy_gbps: float | None = field(
        default=None, metadata=_meta("the copy micro-benchmark's best of start and end", column=None)
    )
    end_matmul_gflops: dict[str, float] | None = field(
        default=None, metadata=_meta("per dtype, the matmul peak re-measured at the end of the run", column=None)
    )


@dataclass(frozen=True, kw_only=True)
class BenchmarkResults:
    """A benchmark-results file: pytest-benchmark's own JSON (``--benchmark-json``); the top-level
    fields the report reads. Every other pytest-benchmark field is kept as it is."""

    machine_info: dict[str, Any] = field(
        metadata=_meta("pytest-benchmark's machine info; fizzcheck adds machine_info.fizzcheck")
    )
    datetime: str | None = field(metadata=_meta("when pytest-benchmark wrote the file"))
    benchmarks: list[dict[str, Any]] = field(
        metadata=_meta(
            "one entry per benchmark; an entry whose extra_info lacks fizzcheck_schema is not a fizzcheck case"
        )
    )


@dataclass(frozen=True, kw_only=True)
class BenchmarkRun(Machine):
    """``machine_info.fizzcheck``: a machine block plus the run's fields."""

    fizzcheck_schema: int = field(default=SCHEMA_VERSION, metadata=_meta("the schema version"))
    run_id: str = field(metadata=_meta("UTC timestamp + 4 hex digits: sorts by time, unique per run"))
    mode: str | None = field(metadata=_meta("the sweep: quick or full (--bench-mode)"))
    peaks: dict[str, DevicePeaks] | None = field(metadata=_meta("the measured peaks per device (cpu, cuda)"))
    load: dict[str, Any] | None = field(
        default=None,
        metadata=_meta(
            "the machine's load during the run: loadavg_start, loadavg_end, other_cores (cores other "
            "processes used on average), steal_fraction, peak_drift (end vs start matmul peak), wall_s, "
            "own_cpu_s (the run's CPU seconds), threads_reason",
            column=None,
        ),
    )
    busy: bool | None = field(
        default=None, metadata=_meta("true when the machine was busy during the run (fizzcheck.bench.timing)")
    )
    busy_reasons: list[str] | None = field(
        default=None, metadata=_meta("why the run counts as busy", column=None, items_hint="strings")
    )


@dataclass(frozen=True, kw_only=True)
class BenchmarkCase:
    """Each benchmark's ``extra_info``, as the benchmark test sets it before timing."""

    fizzcheck_schema: int = field(
        default=SCHEMA_VERSION,
        metadata=_meta("the schema version; benchmarks without it are not fizzcheck cases", column=None),
    )
    case: str = field(metadata=_meta("registry name of the case: the same in the CLI and the report"))
    implementation: str = field(metadata=_meta("numpy_reference, torch_raw, torch_nn, torch_compile or target"))
    device: str = field(metadata=_meta("cpu or cuda"))
    dtype: str = field(metadata=_meta("float64, float32, float16 or bfloat16"))
    size: str | int = field(metadata=_meta("size label from the sweep", text=True))
    size_params: dict[str, Any] | None = field(
        metadata=_meta(
            'the sizes the label stands for, e.g. {"batch": 64, "hidden": 100}; loaded as text "batch=64, hidden=100"',
            text=True,
        )
    )
    flops: float | None = field(metadata=_meta("floating-point operations per call"))
    bytes: float | None = field(metadata=_meta("bytes per call: the minimum memory traffic"))
    threads: int | None = field(metadata=_meta("torch.get_num_threads() during timing"))
    compile_s: float | None = field(
        metadata=_meta("torch.compile time, measured outside the timing; null if not compiled")
    )
    max_error_ratio: float | None = field(
        metadata=_meta(
            "largest error / bound of the outputs checked before timing; null for numpy_reference",
            column=None,
            may_be_nan=True,
        )
    )
    target: str | None = field(
        metadata=_meta("the --fizzcheck-target spec for implementation target, else null", column=None)
    )
    ci_low_s: float | None = field(
        default=None, metadata=_meta("lower bound of the 95 % bootstrap confidence interval of the median, seconds")
    )
    ci_high_s: float | None = field(
        default=None, metadata=_meta("upper bound of the 95 % bootstrap confidence interval of the median, seconds")
    )
    timing: str | None = field(
        default=None,
        metadata=_meta("interleaved: timed round by round with the group's other implementations", column=None),
    )
    passes: list[int] | None = field(
        default=None,
        metadata=_meta(
            "rounds per pass, in order (the samples are the passes' rounds concatenated): the passes are "
            "spread over the sweep, and fizzcheck compare bootstraps over them; null before passes existed"
        ),
    )
    yardstick_s: list[float] | None = field(
        default=None,
        metadata=_meta(
            "per pass, the lower quartile of a fixed workload timed in the same rounds (fizzcheck.bench.groups."
            "yardstick), seconds: the machine's speed at that moment; fizzcheck compare divides by it"
        ),
    )
    planted: str | None = field(
        default=None,
        metadata=_meta("a deliberately planted slowdown (power study of fizzcheck compare); else null"),
    )
    timer_median_s: float | None = field(
        default=None,
        metadata=_meta(
            "median of torch.utils.benchmark.Timer.blocked_autorange, seconds (--bench-fidelity); else null",
            column=None,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class BenchmarkMetrics:
    """Each benchmark's ``extra_info`` also holds these, derived after timing."""

    median_s: float | None = field(metadata=_meta("stats.median, seconds per call", column=None))
    gflops: float | None = field(
        metadata=_meta("achieved GFLOP/s, flops / median_s (the report recomputes it from stats)", column=None)
    )
    gbps: float | None = field(
        metadata=_meta("achieved GB/s, bytes / median_s (the report recomputes it from stats)", column=None)
    )
    pct_peak_flops: float | None = field(
        metadata=_meta("gflops as % of peaks[device].matmul_gflops[dtype]; null if unknown")
    )
    pct_peak_bandwidth: float | None = field(metadata=_meta("gbps as % of peaks[device].copy_gbps; null if unknown"))
    iqr_over_median: float | None = field(
        metadata=_meta("stats.iqr / stats.median (the report recomputes it from stats)", column=None)
    )
    busy: bool | None = field(
        default=None,
        metadata=_meta("the run was busy (machine_info.fizzcheck.busy), repeated on each row for the report"),
    )
    other_cores: float | None = field(
        default=None,
        metadata=_meta("cores other processes used on average during the run (machine_info.fizzcheck.load)"),
    )
    above_measured_peak: bool | None = field(
        default=None,
        metadata=_meta(
            "true when this row's rate beat the peak micro-benchmarks: the peak is then this row's rate, "
            "and the % of peak is not a measurement of headroom"
        ),
    )
    noisy: bool | None = field(
        metadata=_meta(
            f"true if iqr_over_median > {NOISY_IQR_OVER_MEDIAN:g} and the median is at least "
            f"{NOISY_MIN_MEDIAN_S * 1e6:g} µs; the report applies the same rule where it is absent"
        )
    )


@dataclass(frozen=True, kw_only=True)
class BenchmarkStats:
    """Each benchmark's ``stats``: pytest-benchmark's own; the fields the report reads."""

    median: float = field(metadata=_meta("median seconds per round", column="median_s"))
    iqr: float | None = field(metadata=_meta("interquartile range of the rounds, seconds", column="iqr_s"))
    mean: float | None = field(metadata=_meta("mean seconds per round", column="mean_s"))
    min: float | None = field(metadata=_meta("fastest round, seconds", column="min_s"))
    rounds: int | None = field(metadata=_meta("rounds timed"))
    data: list[float] | None = field(
        metadata=_meta(
            "the raw per-round times, seconds (--benchmark-save-data): the significance tests need them",
            column="samples",
            items_hint="numbers (seconds per round)",
        )
    )


# --- reading the definitions ------------------------------------------------------------

_SCALARS: dict[Any, frozenset[type]] = {
    str: frozenset({str}),
    int: frozenset({int}),
    float: frozenset({int, float}),  # a JSON number
    bool: frozenset({bool}),
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record, as readers use it."""

    name: str
    """The JSON key."""
    doc: str
    annotation: Any
    types: frozenset[type]
    """The JSON value types allowed, besides null."""
    required: bool
    """Present and not null; otherwise the field may be null or absent."""
    column: str | None
    choices: tuple[Any, ...] | None = None
    record: type | None = None
    """The record an object value holds (a nested dataclass, or ``keys``)."""
    item_record: type | None = None
    """The record each item of a list or value of an object holds (``list[Record]``, ``dict[str, Record]``)."""
    items: frozenset[type] | None = None
    """The types of a list's items or an object's values, when they are scalars."""
    prefix: str | None = None
    text: bool = False
    may_be_nan: bool = False
    non_empty: bool = False
    items_hint: str | None = None


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _spec(f: dataclasses.Field[Any], annotation: Any) -> FieldSpec:
    meta = f.metadata
    allowed: set[type] = set()
    choices: tuple[Any, ...] | None = None
    record: Any = meta["keys"]
    item_record: Any = None
    items: frozenset[type] | None = None
    alternatives = _alternatives(annotation)
    for alternative in alternatives:
        origin = typing.get_origin(alternative)
        if alternative is type(None):
            continue
        if origin is Literal:
            choices = typing.get_args(alternative)
            allowed |= {type(choice) for choice in choices}
        elif dataclasses.is_dataclass(alternative):
            allowed.add(dict)
            record = alternative
        elif origin in (dict, list):
            allowed.add(origin)
            inner = typing.get_args(alternative)[-1]
            if dataclasses.is_dataclass(inner):
                item_record = inner
            elif inner is not Any:
                items = _SCALARS.get(inner) or frozenset({typing.get_origin(inner)})
        else:
            allowed |= _SCALARS[alternative]
    return FieldSpec(
        name=f.name,
        doc=meta["doc"],
        annotation=annotation,
        types=frozenset(allowed),
        required=type(None) not in alternatives,
        column=f.name if meta["column"] == _SAME else meta["column"],
        choices=choices,
        record=record,
        item_record=item_record,
        items=items,
        prefix=meta["prefix"],
        text=meta["text"],
        may_be_nan=meta["may_be_nan"],
        non_empty=meta["non_empty"],
        items_hint=meta["items_hint"],
    )


@functools.cache
def record_fields(record: type) -> tuple[FieldSpec, ...]:
    """The fields of a schema record, in order (a subclass's fields after its base's)."""
    hints = typing.get_type_hints(record)
    return tuple(_spec(f, hints[f.name]) for f in dataclasses.fields(record))


@functools.cache
def column_names(record: type) -> tuple[str, ...]:
    """The report columns a record's fields become, in order; a nested record's with its prefix."""
    names: list[str] = []
    for spec in record_fields(record):
        if spec.prefix is not None and spec.record is not None:
            names += [spec.prefix + column for column in column_names(spec.record)]
        elif spec.column is not None:
            names.append(spec.column)
    return tuple(names)

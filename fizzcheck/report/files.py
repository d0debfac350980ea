"""A report on disk: a new directory with ``summary.md``, ``index.html`` and CSV tables.

:func:`save_report` writes the files into a temporary directory next to the destination and
renames it into place under a new name (``fizzcheck-report-<UTC time>[-N]``), so a report
appears whole or not at all and never replaces an earlier one. :func:`write_csv` is
``DataFrame.to_csv`` made fast for large tables.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fizzcheck.errors import FizzcheckError
from fizzcheck.report.build import Report, build_report
from fizzcheck.report.cells import is_missing
from fizzcheck.report.html import index_html
from fizzcheck.report.load import LIST_COLUMNS, Results
from fizzcheck.report.markdown import summary_markdown

__all__ = ["REPORT_PREFIX", "save_report", "write_csv", "write_report"]

REPORT_PREFIX = "fizzcheck-report-"


def _csv_field(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_column(series: pd.Series) -> list[str]:
    # Each distinct value is formatted once (most columns repeat a few values many times).
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object).tolist()
    if series.dtype.kind == "f":
        finite = series.to_numpy()[np.isfinite(series.to_numpy())]
        if np.array_equal(finite, np.round(finite)) and (finite.size == 0 or np.abs(finite).max() < 2**53):
            texts = [str(int(v)) if v == v else "" for v in values]
        else:
            texts = [format(v, ".10g") if v == v else "" for v in values]
    elif series.dtype.kind == "b":
        texts = ["True" if v else "False" for v in values]
    else:
        texts = ["" if is_missing(v) else _csv_field(str(v)) for v in values]
    lookup = np.asarray([*texts, ""], dtype=object)  # code -1 (missing) picks the trailing ""
    return lookup[codes].tolist()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_csv(path, index=False)``, twice as fast on large tables: floats with 10 significant digits."""
    columns = [_csv_column(frame[name]) for name in frame.columns]
    header = ",".join(_csv_field(str(name)) for name in frame.columns)
    lines = "\n".join(map(",".join, zip(*columns, strict=True)))
    path.write_text(header + "\n" + (lines + "\n" if lines else ""), encoding="utf-8")


def _csv_tables(report: Report) -> dict[str, pd.DataFrame]:
    results = report.results
    return {
        "verification.csv": results.verification,
        "verification_summary.csv": report.verification,
        "speed.csv": results.speed.drop(columns=list(LIST_COLUMNS)),  # raw samples stay in the JSON
        "speed_summary.csv": report.speed,
        "machines.csv": results.machines,
        "peaks.csv": results.peaks,
    }


def _new_report_dir(output_dir: Path, generated: datetime) -> Path:
    stamp = f"{REPORT_PREFIX}{generated:%Y%m%dT%H%M%SZ}"
    for attempt in range(1, 1000):
        candidate = output_dir / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        if not candidate.exists():
            return candidate
    raise FizzcheckError(f"{output_dir}: cannot find a free report name for {stamp}")


def save_report(report: Report, output_dir: str | Path = "reports") -> Path:
    """Write ``report`` as a new directory under ``output_dir`` and return its path.

    The files are written into a temporary directory next to the destination, then renamed
    to ``fizzcheck-report-<UTC time>[-N]``: a report appears whole or not at all, and an
    existing one is never replaced.
    """
    contents = {"summary.md": summary_markdown(report), "index.html": index_html(report)}
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fizzcheck-report-", suffix=".partial", dir=output_dir))
    except OSError as exc:
        raise FizzcheckError(f"{output_dir}: cannot create the report ({exc.strerror or exc})") from None
    try:
        for name, text in contents.items():
            (staging / name).write_text(text, encoding="utf-8")
        for name, frame in _csv_tables(report).items():
            write_csv(frame, staging / name)
        os.chmod(staging, 0o755)  # mkdtemp makes it private
        for _ in range(100):
            target = _new_report_dir(output_dir, report.generated)
            try:
                os.rename(staging, target)  # fails (rather than replaces) if a non-empty directory appeared there
                return target
            except OSError:
                if not target.exists():
                    raise
        raise FizzcheckError(f"{output_dir}: cannot find a free report name")
    except OSError as exc:
        raise FizzcheckError(f"{output_dir}: cannot write the report ({exc.strerror or exc})") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_report(
    results: Results,
    output_dir: str | Path = "reports",
    *,
    baseline: str | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> Path:
    """:func:`build_report` then :func:`save_report`: a new report directory from ``results``."""
    return save_report(build_report(results, baseline=baseline, title=title, now=now), output_dir)

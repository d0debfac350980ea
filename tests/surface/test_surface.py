"""The declared API surface: the catalogue is consistent, touch() counts each cell once per
example and refuses names the catalogue does not declare, the recorder writes the coverage into
the results file, and ``fizzcheck surface`` / the report show it (``--require-all`` fails on a gap)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import fizzcheck.targets.tensors  # noqa: F401 - imported here so pytester's in-process runs never re-import torch
from fizzcheck.surface import CATALOGUE, Family, all_cell_ids, cells_touched, collecting, coverage, example, touch
from fizzcheck.surface.catalogue import family


def test_cell_ids_are_unique_and_every_family_declares_cells():
    ids = all_cell_ids()
    assert len(ids) == len(set(ids))
    for fam in CATALOGUE:
        cells = fam.cell_ids()
        assert cells, f"{fam.name} declares no cells"
        assert all(cid.startswith(f"{fam.name}[") for cid in cells)


def test_crossings_and_exclusions_shape_the_cells():
    fam = Family("f", "doc", {"a": ("x", "y"), "b": ("1", "2", "3"), "c": ("p",)}, crossings=(("a", "b"), ("a", "c")))
    assert fam.cell_ids() == ["f[a=x,b=1]", "f[a=x,b=2]", "f[a=x,b=3]", "f[a=y,b=1]", "f[a=y,b=2]", "f[a=y,b=3]",
                              "f[a=x,c=p]", "f[a=y,c=p]"]  # fmt: skip
    fam = Family("f", "doc", {"a": ("x", "y"), "b": ("1", "2")}, exclude=({"a": "y", "b": "2"},))
    assert fam.cell_ids() == ["f[a=x,b=1]", "f[a=x,b=2]", "f[a=y,b=1]"]
    with pytest.raises(ValueError, match="unknown dims"):
        Family("f", "doc", {"a": ("x",)}, crossings=(("a", "z"),))
    with pytest.raises(ValueError, match="names b="):
        Family("f", "doc", {"a": ("x",)}, exclude=({"b": "1"},))


def test_touch_names_every_dimension_and_only_declared_values():
    with pytest.raises(ValueError, match="missing \\['spelling', 'dtype'\\]"):
        touch("spelling", op="sigmoid")
    with pytest.raises(ValueError, match="unknown \\['colour'\\]"):
        touch("module", api="to", colour="red")
    with pytest.raises(ValueError, match="'tpu'"):
        touch("sgd_api", implementation="tpu", aspect="differentiable")
    with pytest.raises(ValueError, match="not declared"):
        touch("no-such-family", x="1")


def test_one_touch_exercises_the_matching_cell_of_every_crossing_and_skips_excluded_ones():
    got = cells_touched("matmul", fn="mm", scalars="default", layout=("transposed", "expanded"), dtype="float16")
    assert got == [
        "matmul[fn=mm,scalars=default]",
        "matmul[fn=mm,layout=transposed]",
        "matmul[fn=mm,layout=expanded]",
        "matmul[fn=mm,dtype=float16]",
    ]
    # mm has no alpha/beta: its `beta=0` cell is excluded, so nothing of that crossing is exercised
    got = cells_touched("matmul", fn="mm", scalars="beta=0", layout="contiguous", dtype="float32")
    assert "matmul[fn=mm,scalars=beta=0]" not in got
    assert len(got) == 2


def test_a_cell_counts_once_per_example_however_often_it_is_touched():
    with collecting() as counts:
        for _ in range(3):
            with example():
                touch("module", api="to")
                touch("module", api=("to", "half"))
        touch("module", api="cpu")  # outside an example: validated, not counted
    assert counts == {"module[api=to]": 3, "module[api=half]": 3}


def test_cells_needing_a_missing_device_are_not_available_not_gaps():
    counts = {"module[api=to]": 4}
    cpu = {c.cell: c.status for c in coverage(counts, {"cpu"})}
    assert cpu["module[api=to]"] == "exercised"
    assert cpu["module[api=cuda]"] == "not available"
    assert cpu["module[api=half]"] == "not exercised"
    assert {c.cell: c.status for c in coverage(counts, {"cpu", "cuda:0"})}["module[api=cuda]"] == "not exercised"
    assert family("module").needed_device({"api": "cuda"}) == "cuda"


PROPERTY = """
from hypothesis import given, settings, strategies as st
from fizzcheck.surface import touch

CALLS = [0]

@settings(max_examples=7, database=None)
@given(n=st.integers(0, 10**9))
def test_touching(device, n):
    CALLS[0] += 1  # alternate by call, not by the drawn value: 7 draws can all share a parity
    touch("module", api="to" if CALLS[0] % 2 else "half")
    touch("module", api="buffers")

def test_plain(device):
    touch("module", api="cpu")
"""


def test_the_results_file_records_examples_per_cell(pytester):
    pytester.makepyfile(PROPERTY)
    out = pytester.path / "r.json"
    result = pytester.runpytest("--fizzcheck-device=cpu", f"--fizzcheck-results={out}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    data = json.loads(out.read_text())
    assert set(data["surface"]) == set(all_cell_ids())  # every declared cell, 0 where none reached it
    assert data["surface"]["module[api=buffers]"] == 7  # once per Hypothesis example
    assert data["surface"]["module[api=to]"] + data["surface"]["module[api=half]"] == 7
    assert data["surface"]["module[api=cpu]"] == 1  # a plain test is one example
    assert data["surface"]["module[api=double]"] == 0
    rows = {row["nodeid"].split("::")[1]: row for row in data["properties"]}
    assert rows["test_plain[cpu]"]["surface"] == {"module[api=cpu]": 1}


def _surface_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fizzcheck", "surface", *args], capture_output=True, text=True)


def test_fizzcheck_surface_lists_the_catalogue_and_fails_on_gaps_only_with_require_all(pytester):
    listing = _surface_cli()
    assert listing.returncode == 0
    assert listing.stdout.strip().endswith(f"{len(all_cell_ids())} cells declared in {len(CATALOGUE)} families")
    pytester.makepyfile(PROPERTY)
    out = pytester.path / "r.json"
    pytester.runpytest("--fizzcheck-device=cpu", f"--fizzcheck-results={out}", "-p", "no:cacheprovider")
    shown = _surface_cli(str(out))
    assert shown.returncode == 0, shown.stderr
    assert "  module[api=double]: NOT EXERCISED" in shown.stdout
    assert "  module[api=cuda]: NOT AVAILABLE" in shown.stdout  # a CPU-only run
    assert "module[api=buffers]" not in shown.stdout  # exercised cells only with --cells
    assert "  module[api=buffers]: 7 examples" in _surface_cli("--cells", str(out)).stdout
    strict = _surface_cli("--require-all", str(out))
    assert strict.returncode == 1
    assert strict.stdout.splitlines()[-1].startswith("surface: 4 of ")


def test_the_report_shows_the_surface_section(pytester, tmp_path):
    pytester.makepyfile(PROPERTY)
    out = pytester.path / "r.json"
    pytester.runpytest("--fizzcheck-device=cpu", f"--fizzcheck-results={out}", "-p", "no:cacheprovider")
    result = subprocess.run(
        [sys.executable, "-m", "fizzcheck", "report", str(out), "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr  # per-row surface dicts are not report columns
    (directory,) = tmp_path.iterdir()
    summary = (directory / "summary.md").read_text()
    assert "### API surface" in summary
    assert "| `module` | 12 | 4 | 7 | 1 | 1 |" in summary  # cpu, buffers, to, half; cuda not available
    assert "`module: 7 NOT EXERCISED: [api=load_state_dict_strict], [api=load_state_dict_copy]" in summary
    assert "`module: 1 NOT AVAILABLE: [api=cuda]`" in summary
    assert "API surface" in (directory / "index.html").read_text()


def test_fizzcheck_surface_on_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    for args in ((str(tmp_path / "missing.json"),), (str(bad),), ("--require-all",)):
        result = _surface_cli(*args)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr

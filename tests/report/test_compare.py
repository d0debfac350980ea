"""fizzcheck compare: the Mann–Whitney U test, flagging (ratio AND significance), false alarms, the CI gate."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import synthetic
from report_helpers import run_cli, run_cli_process, write_results

from fizzcheck.errors import InvalidArgument
from fizzcheck.report import compare_results, load_results, mann_whitney_u
from fizzcheck.report.compare import comparison_markdown

FALSE_ALARM_PAIRS = 10


def test_mann_whitney_u_by_hand():
    # x below every y: U of x is 0, U = max(U1, n1·n2 − U1) = 12, mean 6, variance 3·4·8/12 = 8,
    # z = (12 − 6 − ½) / √8 and p = 2·P(Z > z) = erfc(z / √2) = erfc(11/8)
    u, p = mann_whitney_u([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0])
    assert u == 0.0
    assert p == pytest.approx(math.erfc(11 / 8), rel=1e-12)
    # ties: ranks 1, 3, 3 | 3, 5, so U of x = 7 − 6 = 1; the tie group of 3 takes (3³ − 3) / (5·4) = 1.2 off
    # the variance: 3·2/12 · (6 − 1.2) = 2.4, z = (5 − 3 − ½) / √2.4, p = erfc(1.5 / √4.8)
    u, p = mann_whitney_u([1.0, 2.0, 2.0], [2.0, 3.0])
    assert u == 1.0
    assert p == pytest.approx(math.erfc(1.5 / math.sqrt(4.8)), rel=1e-12)
    # the order of the samples only swaps U for n1·n2 − U
    assert mann_whitney_u([4.0, 5.0, 6.0, 7.0], [1.0, 2.0, 3.0]) == (12.0, pytest.approx(math.erfc(11 / 8), rel=1e-12))


@pytest.mark.parametrize(
    ("n1", "n2", "ties"),
    [(5, 5, False), (12, 30, False), (40, 40, True), (3, 200, True), (1, 1, False), (2, 9, True), (15, 15, True)],
)
def test_mann_whitney_u_counts_pairs(n1, n2, ties):
    """U of x is the number of pairs (x_i, y_j) with x_i > y_j, a tie counting one half."""
    rng = np.random.default_rng(n1 * 1000 + n2)
    x, y = rng.lognormal(0.0, 0.1, n1), rng.lognormal(0.05, 0.1, n2)
    if ties:  # timer resolution makes ties common
        x, y = np.round(x, 1), np.round(y, 1)
    pairs = x[:, None] - y[None, :]
    u, p = mann_whitney_u(x, y)
    assert u == (pairs > 0).sum() + 0.5 * (pairs == 0).sum()
    assert 0.0 < p <= 1.0


def test_mann_whitney_u_edge_cases():
    assert mann_whitney_u([1.0, 1.0, 1.0], [1.0, 1.0]) == (3.0, 1.0)  # all tied: no evidence
    assert mann_whitney_u([], [1.0, 2.0])[1] == 1.0
    u, p = mann_whitney_u(np.arange(30.0), np.arange(30.0) + 100)
    assert u == 0.0
    assert p < 1e-9


def _runs(tmp_path, name: str, *, seed: int, slowdown: dict[str, float] | None = None, hostname: str = "host-a"):
    directory = tmp_path / name
    write_results(directory, hostname=hostname, run=name, seed=seed, slowdown=slowdown, properties=False)
    return directory


def test_a_planted_20_percent_slowdown_is_flagged_everywhere(tmp_path):
    a = load_results([_runs(tmp_path, "a", seed=1)])
    b = load_results([_runs(tmp_path, "b", seed=2, slowdown={"*": 1.2})])
    comparison = compare_results(a, b)
    assert len(comparison.table) == len(a.speed)
    assert len(comparison.regressions) == len(a.speed)
    assert comparison.table["ratio"].between(1.1, 1.3).all()
    assert comparison.improvements.empty
    assert comparison.warnings == []


def test_only_the_slowed_case_is_flagged(tmp_path):
    a = load_results([_runs(tmp_path, "a", seed=1)])
    b = load_results([_runs(tmp_path, "b", seed=2, slowdown={"matmul/torch_nn": 1.2})])
    regressions = compare_results(a, b).regressions
    assert set(zip(regressions["case"], regressions["implementation"], strict=True)) == {("matmul", "torch_nn")}
    assert len(regressions) == 2 * 4  # dtypes × sizes


def test_an_improvement_is_flagged_and_is_not_a_regression(tmp_path):
    a = load_results([_runs(tmp_path, "a", seed=1)])
    b = load_results([_runs(tmp_path, "b", seed=2, slowdown={"*": 1 / 1.25})])
    comparison = compare_results(a, b)
    assert len(comparison.improvements) == len(a.speed)
    assert comparison.regressions.empty


def test_a_significant_change_within_the_threshold_is_not_flagged(tmp_path):
    a = load_results([_runs(tmp_path, "a", seed=1)])
    b = load_results([_runs(tmp_path, "b", seed=2, slowdown={"*": 1.05})])
    comparison = compare_results(a, b, threshold=1.1)
    assert (comparison.table["p_value"] < 0.01).mean() > 0.9  # the test sees it...
    assert comparison.regressions.empty  # ...but 5 % is within the threshold
    assert len(compare_results(a, b, threshold=1.02).regressions) > 0


@pytest.mark.parametrize(("noise", "max_rate"), [(0.03, 0.0), (0.10, 0.01)])
def test_false_alarm_rate_over_pairs_of_identical_runs(tmp_path, noise, max_rate):
    """Pairs of runs of the same code (same distribution, fresh noise): how many cases get flagged.

    With 15 rounds of log-normal noise σ per round, a median moves by about 1.25 σ / √15; two
    medians 10 % apart happen about never at σ = 3 % and about once in a hundred at σ = 10 %.
    """
    flagged = cases = 0
    for pair in range(FALSE_ALARM_PAIRS):
        docs = [
            synthetic.benchmark_results(run_id=f"{side}{pair}", machine=synthetic.machine_block(), cases=synthetic.CASES[:2],
                                        sizes=synthetic.SIZES[:4], noise=noise, seed=2 * pair + i)
            for i, side in enumerate("ab")
        ]  # fmt: skip
        paths = [synthetic.write_json(tmp_path / f"{pair}-{i}.json", doc) for i, doc in enumerate(docs)]
        comparison = compare_results(load_results([paths[0]]), load_results([paths[1]]))
        flagged += len(comparison.regressions) + len(comparison.improvements)
        cases += len(comparison.table)
    print(
        f"noise {noise:.0%}: {flagged} false alarms in {cases} case comparisons over {FALSE_ALARM_PAIRS} pairs of identical runs"
    )
    assert flagged <= max_rate * cases


def test_samples_of_several_runs_are_pooled(tmp_path):
    a_dir = _runs(tmp_path, "a1", seed=1)
    write_results(a_dir, run="a2", seed=3, properties=False)
    a = load_results([a_dir])
    b = load_results([_runs(tmp_path, "b", seed=2)])
    table = compare_results(a, b).table
    assert (table["n_a"] == 2 * table["n_b"]).all()
    assert (table["runs_a"] == 2).all()


def test_machine_differences_are_warned_about(tmp_path):
    a = load_results([_runs(tmp_path, "a", seed=1, hostname="ci-1")])
    b = load_results([_runs(tmp_path, "b", seed=2, hostname="laptop")])
    (warning,) = compare_results(a, b).warnings
    assert warning.startswith("A and B differ in machine or software (machine_id ")
    assert "ratios mix hardware, software and code changes" in warning


def test_without_raw_samples_nothing_is_flagged_and_it_says_so(tmp_path):
    a_dir = _runs(tmp_path, "a", seed=1)
    b_dir = _runs(tmp_path, "b", seed=2, slowdown={"*": 1.5})
    for path in b_dir.glob("*.json"):
        document = json.loads(path.read_text())
        for benchmark in document["benchmarks"]:
            del benchmark["stats"]["data"]
        path.write_text(json.dumps(document))
    comparison = compare_results(load_results([a_dir]), load_results([b_dir]))
    assert comparison.regressions.empty
    assert comparison.table["ratio"].min() > 1.4
    assert any("--benchmark-save-data" in w for w in comparison.warnings)


def test_invalid_threshold_and_alpha(tmp_path):
    results = load_results([_runs(tmp_path, "a", seed=1)])
    with pytest.raises(InvalidArgument, match=r"threshold=0\.9 must be a factor > 1"):
        compare_results(results, results, threshold=0.9)
    with pytest.raises(InvalidArgument, match=r"alpha=0 must be a probability"):
        compare_results(results, results, alpha=0)


def test_markdown_lists_regressions_then_improvements(tmp_path):
    a = load_results([_runs(tmp_path, "a", seed=1)])
    b = load_results([_runs(tmp_path, "b", seed=2, slowdown={"matmul/torch_nn": 1.3, "matmul/torch_raw": 0.7})])
    text = comparison_markdown(compare_results(a, b), names=("main", "pr-42"))
    assert text.startswith(
        "## fizzcheck compare: REGRESSION — 8 significant regression(s), 8 improvement(s), 0 inconclusive in 64 case(s)\n"
    )
    assert (
        text.index("### Regressions")
        < text.index("`torch_nn`")
        < text.index("### Improvements")
        < text.index("`torch_raw`")
    )
    assert "B = pr-42 against A = main" in text


def test_cli_exit_status_is_the_ci_gate(tmp_path, capsys):
    a = _runs(tmp_path, "a", seed=1)
    same = _runs(tmp_path, "same", seed=2)
    slower = _runs(tmp_path, "slower", seed=3, slowdown={"*": 1.2})
    faster = _runs(tmp_path, "faster", seed=4, slowdown={"*": 0.8})
    assert run_cli("compare", a, same) == 0
    assert "## fizzcheck compare: OK — 0 significant regression(s), 0 improvement(s)" in capsys.readouterr().out
    assert run_cli("compare", a, slower) == 1
    assert "## fizzcheck compare: REGRESSION — 64 significant regression(s)" in capsys.readouterr().out
    assert run_cli("compare", a, faster) == 0
    assert run_cli("compare", a, slower, "--threshold", "1.5") == 0  # 20 % is within a 50 % threshold
    capsys.readouterr()


def test_cli_warns_on_one_line_when_machines_differ(tmp_path):
    a = _runs(tmp_path, "a", seed=1, hostname="ci-1")
    b = _runs(tmp_path, "b", seed=2, hostname="laptop")
    result = run_cli_process("compare", a, b)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("fizzcheck: warning: ")
    assert result.stdout.startswith("## fizzcheck compare: OK")


REAL_BENCHMARK = textwrap.dedent(
    """
    import numpy as np
    import pytest

    X = np.random.default_rng(0).random((64, 64))
    VARIANTS = {"base": 1.0, "same": 1.0, "slower": 1.2}  # "slower": the planted slowdown, 20 % more work
    # interleaved, three times over: every variant sees the same load (compare pools the repeats' samples)
    ORDER = [(repeat, size, variant) for repeat in range(3) for size in (5, 10) for variant in VARIANTS]

    @pytest.mark.parametrize(("repeat", "size", "variant"), ORDER)
    def test_matmul(benchmark, repeat, size, variant):
        repeats = round(size * VARIANTS[variant])
        benchmark.extra_info.update(fizzcheck_schema=1, case="matmul", implementation="numpy", device="cpu",
                                    dtype="float64", size=str(size), flops=2.0 * 64**3 * repeats, bytes=3.0 * X.nbytes,
                                    variant=variant)
        benchmark(lambda: [X @ X for _ in range(repeats)])
    """
)


def _real_runs(directory) -> dict[str, object]:
    """Run the benchmark file once; split its JSON into one result file per variant."""
    (directory / "test_real_benchmark.py").write_text(REAL_BENCHMARK)
    out = directory / "all.json"
    argv = [sys.executable, "-m", "pytest", str(directory / "test_real_benchmark.py"), "-q", f"--rootdir={directory}",
            "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:fizzcheck",
            f"--benchmark-json={out}", "--benchmark-save-data", "--benchmark-min-rounds=20", "--benchmark-max-time=0.1",
            "--benchmark-disable-gc"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=directory)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    document = json.loads(out.read_text())
    runs = {}
    for variant in ("base", "same", "slower"):
        machine = {"fizzcheck_schema": 1, "run_id": variant, **synthetic.machine_block("this-machine")}
        part = {**document, "machine_info": {**document["machine_info"], "fizzcheck": machine},
                "benchmarks": [b for b in document["benchmarks"] if b["extra_info"]["variant"] == variant]}  # fmt: skip
        runs[variant] = load_results([synthetic.write_json(directory / f"{variant}.json", part)])
    return runs


@pytest.mark.timing
def test_real_benchmark_runs(tmp_path):
    """Real pytest-benchmark samples from this machine: a planted 20 % slowdown is flagged, the same code is not.

    Timing-dependent, so it runs in ``nox -s compare_power``, not in ``nox -s tests``."""
    runs = _real_runs(tmp_path)
    same = compare_results(runs["base"], runs["same"])
    slower = compare_results(runs["base"], runs["slower"])
    print(comparison_markdown(same), comparison_markdown(slower), sep="\n")
    assert len(slower.regressions) == len(slower.table) == 2
    assert same.regressions.empty
    assert same.improvements.empty


def test_no_case_in_common_is_warned_about(tmp_path):
    a = load_results([_runs(tmp_path, "a", seed=1)])
    document = synthetic.benchmark_results(
        run_id="other", machine=synthetic.machine_block("host-a"), cases=synthetic.CASES[4:5]
    )
    b = load_results([synthetic.write_json(tmp_path / "other.json", document)])
    comparison = compare_results(a, b)
    assert comparison.table.empty
    assert comparison.warnings == [
        "A and B have no benchmark in common (case, implementation, device, dtype, size): nothing was compared"
    ]
    assert comparison_markdown(comparison).startswith(
        "## fizzcheck compare: OK — 0 significant regression(s), 0 improvement(s), 0 inconclusive in 0 case(s)"
    )


# --- busy machines --------------------------------------------------------------------


def _busy(results, rng, *, hit: float, slowdown: dict[str, float] | None = None, machine: float = 1.0):
    """``results`` as if measured while another process competed: a fraction ``hit`` of the
    rounds is preempted (2× – 20× slower), every round is ``machine`` × slower, and the rows
    of the ``case/implementation`` keys in ``slowdown`` run that much slower; the rows say busy."""
    import dataclasses

    speed = results.speed.copy()
    new_samples = []
    for case, implementation, samples in zip(speed["case"], speed["implementation"], speed["samples"], strict=True):
        values = np.asarray(samples, dtype=float) * machine * (slowdown or {}).get(f"{case}/{implementation}", 1.0)
        preempted = rng.random(len(values)) < hit
        values[preempted] *= rng.uniform(2.0, 20.0, preempted.sum())
        new_samples.append(values.tolist())
    speed["samples"] = new_samples
    speed["median_s"] = [float(np.median(v)) for v in new_samples]
    speed["busy"] = True
    return dataclasses.replace(results, speed=speed)


def test_busy_runs_of_the_same_code_report_no_change_even_when_the_whole_run_is_slower(tmp_path):
    """Up to 40 % of the rounds preempted and B's machine 30 % slower overall: no case is called."""
    base = load_results([_runs(tmp_path, "a", seed=1)])
    other = load_results([_runs(tmp_path, "b", seed=2)])
    rng = np.random.default_rng(7)
    comparison = compare_results(_busy(base, rng, hit=0.4), _busy(other, rng, hit=0.4, machine=1.3))
    assert comparison.busy
    assert comparison.machine_factor == pytest.approx(1.3, rel=0.05)
    assert comparison.regressions.empty
    assert comparison.improvements.empty
    text = comparison_markdown(comparison)
    assert "**Busy machine:**" in text
    assert any("machine factor" in warning for warning in comparison.warnings)


def test_busy_runs_still_flag_a_planted_20_percent_slowdown_of_one_case(tmp_path):
    base = load_results([_runs(tmp_path, "a", seed=1)])
    other = load_results([_runs(tmp_path, "b", seed=2)])
    rng = np.random.default_rng(8)
    planted = {"matmul/torch_nn": 1.2}
    comparison = compare_results(_busy(base, rng, hit=0.3), _busy(other, rng, hit=0.3, slowdown=planted))
    regressions = comparison.regressions
    assert set(zip(regressions["case"], regressions["implementation"], strict=True)) == {("matmul", "torch_nn")}
    # 15 rounds a row, 30 % of them preempted: a single row's 99 % interval does not always
    # clear 1.1, so not every one of the 8 rows (dtypes × sizes) is called — most must be
    assert len(regressions) > 2 * 4 / 2


def test_a_busy_run_with_too_little_evidence_says_so_instead_of_calling_a_change(tmp_path):
    """A 12 % slowdown with 30 % of the rounds preempted: beyond the 10 % threshold, but the
    99 % interval reaches below it, so the busy comparison lists it instead of calling it."""
    base = load_results([_runs(tmp_path, "a", seed=1)])
    other = load_results([_runs(tmp_path, "b", seed=2)])
    rng = np.random.default_rng(9)
    planted = {"matmul/torch_nn": 1.12}
    comparison = compare_results(_busy(base, rng, hit=0.3), _busy(other, rng, hit=0.3, slowdown=planted))
    assert comparison.regressions.empty
    assert len(comparison.inconclusive) > 0
    assert "Inconclusive (too little evidence on a busy machine)" in comparison_markdown(comparison)


# --- the power study on this machine ---------------------------------------------------

POWER_PAIRS = int(__import__("os").environ.get("FIZZCHECK_POWER_PAIRS", "3"))
POWER_SELECTION = "seed or n128 or n256"
POWER_CASES = "(matmul or sigmoid or mse) and not forward_backward"
"""A reduced sweep (matmul, sigmoid, mse forward at their three quick sizes, every
implementation and dtype: about 30 rows, 20–40 s each under load) so several pairs fit."""
PLANTED_CASE = "sigmoid"


def _bench(directory, env):
    from pathlib import Path

    argv = [
        sys.executable,
        "-m",
        "fizzcheck",
        "bench",
        "quick",
        "--output-dir",
        str(directory),
        "--",
        "-k",
        POWER_CASES,
        "-q",
    ]
    import resource
    import time

    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).parents[2])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"{directory.name}: wall {time.perf_counter() - start:.0f} s, CPU {cpu:.0f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return load_results([directory])


@pytest.mark.timing
def test_compare_false_alarms_and_power_with_a_core_kept_busy(tmp_path):
    """``POWER_PAIRS`` times: three reduced sweeps (base, same code, ``PLANTED_CASE`` 20 %
    slower through FIZZCHECK_BENCH_PLANT_SLOWDOWN) while ``python3 -c "while True: pass"``
    keeps a core busy. Prints the false-alarm rate (changes called between runs of the same
    code, and on the unplanted rows of the slowed runs) and the power (planted rows flagged)."""
    import os

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
        false_alarms = compared = planted = detected = 0
        for pair in range(POWER_PAIRS):
            base = _bench(tmp_path / f"base{pair}", env)
            same = _bench(tmp_path / f"same{pair}", env)
            slow = _bench(tmp_path / f"slow{pair}", {**env, "FIZZCHECK_BENCH_PLANT_SLOWDOWN": PLANTED_CASE})
            for b, label in ((same, "same"), (slow, "slow")):
                comparison = compare_results(base, b)
                print(f"pair {pair} {label}: busy={comparison.busy} factor={comparison.machine_factor:.3f}")
                print(comparison_markdown(comparison))
                table = comparison.table
                is_planted = (table["case"] == PLANTED_CASE) if label == "slow" else np.zeros(len(table), bool)
                called = table["change"].isin(["regression", "improvement"])
                false_alarms += int((called & ~is_planted).sum())
                compared += int((~is_planted).sum())
                planted += int(is_planted.sum())
                detected += int((table["change"] == "regression")[is_planted].sum())
    finally:
        busy.kill()
        busy.wait()
    print(
        f"POWER STUDY ({POWER_PAIRS} pairs, one core busy): false alarms {false_alarms}/{compared} "
        f"= {false_alarms / compared:.1%}; planted 20 % slowdown flagged {detected}/{planted} = {detected / planted:.1%}"
    )
    assert false_alarms <= 0.01 * compared, "more than 1 % of unchanged rows called a change"
    assert detected >= 0.8 * planted, "the planted 20 % slowdown was missed in more than 1 row in 5"


# --- passes: the unit of resampling -----------------------------------------------------


def _passes(rng, locations, rounds=6):
    """Rounds of a case taken in passes, each pass around its own location (1 % jitter)."""
    samples = np.concatenate([loc * (1 + 0.01 * rng.random(rounds)) for loc in locations])
    return samples, [rounds] * len(locations)


def test_a_burst_that_spoils_passes_is_not_a_change_but_a_steady_shift_is():
    from fizzcheck.report.stats import ratio_ci

    rng = np.random.default_rng(3)
    a, passes_a = _passes(rng, [1.0] * 7)
    # B: the same code, two passes each hit by a burst of load for their whole duration (timed in
    # one stretch, as before passes, a burst covered all of a case's rounds: a tight, wrong interval)
    b, passes_b = _passes(rng, [1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0])
    ratio, low, _ = ratio_ci(a, b, level=0.99, passes_a=passes_a, passes_b=passes_b)
    assert 0.98 < ratio < 1.02  # the median of the passes' locations
    assert low < 1.1  # never called a change
    # a real 30 % slowdown shows in every pass
    slow, passes_slow = _passes(rng, [1.3] * 7)
    ratio, low, _ = ratio_ci(a, slow, level=0.99, passes_a=passes_a, passes_b=passes_slow)
    assert 1.25 < ratio < 1.35
    assert low > 1.2
    # passes that do not add up to the samples (a hand-edited file): the rounds are resampled
    assert ratio_ci(a, slow, level=0.99, passes_a=[1], passes_b=passes_slow)[1] > 1.2


def _in_passes(results, rng, *, slowdown: dict[str, float] | None = None, passes: int = 11, rounds: int = 4):
    """``results`` as the runner now writes them on a busy machine: each row's rounds in ``passes``
    passes, the machine 25 % slower in a random half of the passes (as seen here for seconds at a
    time), the yardstick slowed alike; rows of the ``case/implementation`` keys in ``slowdown``
    run that much slower in every pass."""
    import dataclasses

    speed = results.speed.copy()
    all_samples, all_yard = [], []
    for case, implementation, median in zip(speed["case"], speed["implementation"], speed["median_s"], strict=True):
        machine = np.where(rng.random(passes) < 0.5, 1.25, 1.0)
        cost = median * (slowdown or {}).get(f"{case}/{implementation}", 1.0)
        values = np.concatenate([cost * m * (1 + 0.02 * rng.random(rounds)) for m in machine])
        all_samples.append(values.tolist())
        all_yard.append((40e-6 * machine * (1 + 0.01 * rng.random(passes))).tolist())
    speed["samples"], speed["yardstick_s"] = all_samples, all_yard
    speed["passes"] = [[rounds] * passes for _ in all_samples]
    speed["median_s"] = [float(np.median(v)) for v in all_samples]
    speed["busy"] = True
    return dataclasses.replace(results, speed=speed)


def test_busy_runs_in_passes_call_a_steady_change_and_nothing_else(tmp_path):
    """With passes and a yardstick the interval holds the machine's swing: the same code gives no
    call, a 20 % slowdown of one case is called in every row, even on a busy machine."""
    from fizzcheck.bench.groups import YARDSTICK_QUANTILE
    from fizzcheck.report.stats import COMPARE_QUANTILE

    assert YARDSTICK_QUANTILE == COMPARE_QUANTILE  # the yardstick and the case are located alike
    base = load_results([_runs(tmp_path, "a", seed=1)])
    rng = np.random.default_rng(11)
    same = compare_results(_in_passes(base, rng), _in_passes(base, rng))
    assert same.busy
    assert same.regressions.empty
    assert same.improvements.empty
    planted = {"matmul/torch_nn": 1.2}
    slow = compare_results(_in_passes(base, rng), _in_passes(base, rng, slowdown=planted))
    called = set(zip(slow.regressions["case"], slow.regressions["implementation"], strict=True))
    assert called == {("matmul", "torch_nn")}
    assert len(slow.regressions) == int(
        ((base.speed["case"] == "matmul") & (base.speed["implementation"] == "torch_nn")).sum()
    )

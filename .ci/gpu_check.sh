#!/usr/bin/env bash
# The CUDA check, for a machine with a GPU and no network (torch, hypothesis, pytest-benchmark,
# pandas, scipy, jinja2, click, pytest-xdist already installed): the property suite on CUDA at the
# dev profile, then the quick benchmarks on CUDA, then one report. Everything lands in $OUT (or
# reports/gpu-check). Usage: bash .ci/gpu_check.sh   (PROFILE=ci for the full ci profile)
set -u
OUT=${OUT:-reports/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 FIZZCHECK_RUN_ID=gpu-check
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >"$OUT/install.log" 2>&1 || { tail -5 "$OUT/install.log"; exit 1; }
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
timeout "${PROPS_S:-330}" python3 -m pytest properties -p no:cacheprovider -q -n 8 \
  --hypothesis-profile="${PROFILE:-dev}" --fizzcheck-device=cuda \
  --fizzcheck-results="$OUT/properties.json" -rfE >"$OUT/properties.log" 2>&1
echo "properties exit $?"; grep -E "^(FAILED|ERROR)|^verdict|passed|failed" "$OUT/properties.log" | tail -40
timeout "${BENCH_S:-150}" python3 -m fizzcheck bench quick --output-dir "$OUT/bench" -- -k cuda >"$OUT/bench.log" 2>&1
echo "bench exit $?"; tail -3 "$OUT/bench.log"
REPORTS=$(mktemp -d)
python3 -m fizzcheck report "$OUT/properties.json" "$OUT/bench" --output-dir "$REPORTS" >"$OUT/report.log" 2>&1
cp "$REPORTS"/*/summary.md "$OUT/summary.md" 2>/dev/null; tail -2 "$OUT/report.log"

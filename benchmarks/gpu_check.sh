#!/usr/bin/env bash
# Paper Table 8 on one GPU, one command, at most about 4 minutes.
#
#   bash benchmarks/gpu_check.sh                  # from anywhere; PYTHON=/path/to/python to choose
#   CUDA_VISIBLE_DEVICES=1 bash benchmarks/gpu_check.sh
#
# 1. benchmarks/table8_fusion.py for OAGL / OOLL / OALL at the paper's shapes (MOSI paper
#    configuration, random-weight bert-base, batch 32, full lengths 50 / 375 / 500, both views,
#    all DLFR losses, backward, Adam step; 1 warm-up + 5 timed steps): parameters, fusion MACs,
#    step time, epoch time (step x 41) and peak CUDA memory (max_memory_allocated), once in fp32
#    with explicit attention and packed LSTMs (the released numerics) and once in bf16 with the
#    fused attention kernel and fused LSTMs.
# 2. One training run on the full-size synthetic MOSI stand-in (paper profile, missing rate 0.5,
#    random-weight bert-base written to a temporary folder, EPOCHS epochs, default 2): the
#    measured seconds of every training epoch, the run's wall time and its peak CUDA memory.
#
# Each stage has its own time limit (timeout); a stage that runs out is reported and the next
# one starts. No GPU: exits at once with status 2. For emtlib next to the authors' released
# code, see benchmarks/step_time.py --released PATH.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
PY=${PYTHON:-python}
EPOCHS=${EPOCHS:-2}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if ! command -v "$PY" >/dev/null 2>&1; then
    echo "gpu_check.sh: no Python interpreter '$PY' (set PYTHON=/path/to/python)" >&2
    exit 2
fi
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check.sh: no CUDA device is visible to torch ($("$PY" -c 'import torch; print("torch", torch.__version__)' 2>&1 | tail -1)); this check needs one GPU. On a CPU use benchmarks/table8_fusion.py and benchmarks/step_time.py with small settings." >&2
    exit 2
fi
"$PY" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB; torch {torch.__version__}")'

has_field() {  # has_field model attention -> status 0 when ModelConfig.attention exists
    "$PY" - "$1" "$2" <<'EOF'
import dataclasses, sys
from emtlib.config import ModelConfig, TrainConfig
cls = {"model": ModelConfig, "train": TrainConfig}[sys.argv[1]]
sys.exit(0 if sys.argv[2] in {f.name for f in dataclasses.fields(cls)} else 1)
EOF
}

stage() {  # stage SECONDS TITLE COMMAND...
    local limit=$1 title=$2
    shift 2
    echo
    echo "=== $title (limit ${limit}s)"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "--- $title: ran out of its ${limit}s" >&2
    elif [ "$rc" -ne 0 ]; then
        echo "--- $title: failed (exit $rc)" >&2
    fi
    echo "--- $title: $((SECONDS - t0)) s"
}

fp32_set=() bf16_set=() bf16_title="bf16 + fused attention"
if has_field model attention; then
    fp32_set=(--set model.attention=explicit)
    bf16_set=(--set model.attention=fused)
else
    bf16_title="bf16 (model.attention not in this emtlib: its explicit attention)"
fi
if has_field model lstm_kernel; then  # packed LSTMs as released; fused in the bf16 row
    fp32_set+=(--set model.lstm_kernel=packed)
    bf16_set+=(--set model.lstm_kernel=fused)
fi
TABLE8=(benchmarks/table8_fusion.py --device cuda --batch-size 32 --steps 5 --fusions oagl ooll oall)
stage 70 "Table 8, fp32 + explicit attention" "$PY" "${TABLE8[@]}" ${fp32_set[@]+"${fp32_set[@]}"}
stage 70 "Table 8, $bf16_title" "$PY" "${TABLE8[@]}" --amp ${bf16_set[@]+"${bf16_set[@]}"}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PY EPOCHS tmp
train_run() {  # run by `timeout` through `bash -c`, hence exported with its variables
    "$PY" -c "from transformers import BertConfig, BertModel; from transformers.utils import logging
logging.disable_progress_bar(); BertModel(BertConfig()).save_pretrained('$tmp/bert')" || return 1
    "$PY" - "$tmp" "$EPOCHS" <<'EOF'
import json, sys, time
import torch
from emtlib.__main__ import main

tmp, epochs = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
main(["train", "--method", "emt_dlfr", "--dataset", "mosi", "--synthetic", "--profile", "paper",
      "--missing-rate", "0.5", "--set", f"model.text_encoder={tmp}/bert",
      "--set", f"train.max_epochs={epochs}", "--set", "train.quiet=true",
      "--out", f"{tmp}/run.json"])
r = json.load(open(f"{tmp}/run.json"))
t = r["config"]["train"]
mode = f"precision={t['precision']}" if "precision" in t else f"amp={t['amp']}"
print(f"MOSI stand-in ({r['data']['sizes']['train']} training samples), batch {t['batch_size']}, {mode}: "
      "train epoch seconds " + ", ".join(f"{s:.1f}" for s in r["train_epoch_s"])
      + f" (paper Table 8, V100: 15.4 s); whole run {time.perf_counter() - t0:.1f} s incl. data, "
      f"validation and test; peak CUDA memory {torch.cuda.max_memory_allocated() / 1e9:.2f} GB "
      "(paper: 10.8 GB)")
EOF
}
export -f train_run
stage 90 "Training run: synthetic MOSI, paper profile, rate 0.5, $EPOCHS epochs" bash -c train_run

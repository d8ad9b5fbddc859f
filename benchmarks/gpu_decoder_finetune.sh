#!/usr/bin/env bash
# Issue 17 item 4 on a GPU: POS fine-tuning of a Gemma-3-270M-shaped decoder, alignscope vs the
# HF Trainer (bf16 autocast on both), with the 262k x 640 embedding table trained and frozen.
# The weights are random (--random-weights): the speed and memory of a step do not depend on
# them, and the GPU machine cannot receive the 1 GiB checkpoint. It needs the checkpoint's
# config.json and tokenizer files (34 MB) and UD English-EWT train (14 MB).
#   bash benchmarks/gpu_decoder_finetune.sh MODEL_SHAPE_DIR DATA_DIR OUT_DIR [SENTENCES]
# About 4 minutes on one H200 (2 x 2 workers, each building the random model and training one
# epoch of SENTENCES=2000 sentences, batch 32).
set -euo pipefail
cd "$(dirname "$0")/.."
shape=$1 data=$2 out=$3 sentences=${4:-2000}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
py=${PYTHON:-python3}
mkdir -p "$out"
for freeze in "" "--freeze-embeddings"; do
    name=gemma3-270m${freeze:+-frozen}
    echo "== $(date -u +%H:%M:%S) $name"
    $py benchmarks/bench_finetune_speed.py --model "$shape" --random-weights $freeze \
        --data-dir "$data" --train-sentences "$sentences" --batch-size 32 --epochs 1 \
        --repeats 1 --out "$out/finetune_speed_$name.json"
done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/gpu.txt" || true

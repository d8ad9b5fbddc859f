#!/usr/bin/env bash
# The paper's central experiment on the offline 12-layer encoder (multilingual-e5-small, NOT mBERT):
# UPOS fine-tuned on English EWT, evaluated on EWT test and zero-shot on six PUD sets, for the
# reference model and with blocks 0-1 or 10-11 re-initialised (block.0-1, block.10-11). Usage:
#   ALIGNSCOPE_E5_DIR=~/.cache/alignscope/e5-small bash benchmarks/pos_random_init.sh [RUNS_DIR]
set -euo pipefail
model=${ALIGNSCOPE_E5_DIR:?set ALIGNSCOPE_E5_DIR to the offline encoder}
runs=${1:-runs/bench-pos}
data=${ALIGNSCOPE_DATA:-$(dirname "$0")/../../shared/data}
common=(--model "$model" --task pos --train ud:en_ewt --data-dir "$data"
        --eval ud:fr_pud,ud:de_pud,ud:es_pud,ud:ru_pud,ud:zh_pud,ud:ja_pud
        --max-train-sentences 2000 --epochs 2 --lr 1e-4 --head-lr 1e-3 --max-dev-sentences 500
        --seed 1 --no-progress)
for variant in ref 0-1 10-11; do
    out="$runs/pos-$variant"
    [ -f "$out/results.json" ] && continue  # resume: finished runs are kept
    if [ "$variant" = ref ]; then
        alignscope finetune "${common[@]}" --out "$out"
    else
        alignscope finetune "${common[@]}" --random-init "block.$variant" --out "$out"
    fi
done
alignscope table "$runs/pos-ref" "$runs/pos-0-1" "$runs/pos-10-11"

#!/usr/bin/env bash
# Issue 18's measurements on the offline Gemma 3 270M (its own numbers, not Llama-2's): the logit
# lens on translation between four non-English languages, repetition and cloze, with English as
# the latent language (Wendler et al. 2024's design), and the language-specific neurons of eight
# PUD languages with the deactivation matrix and its random control (Tang et al. 2024). Usage:
#   ALIGNSCOPE_DECODER_DIR=~/.cache/alignscope/gemma3-270m bash benchmarks/llm_gemma.sh [OUT]
# CPU, one thread each; then `python benchmarks/summarise_llm.py OUT/lens OUT/neurons`.
set -euo pipefail
model=${ALIGNSCOPE_DECODER_DIR:?set ALIGNSCOPE_DECODER_DIR to the offline Gemma 3 270M}
out=${1:-runs/llm-gemma}
data=${ALIGNSCOPE_DATA:-$(dirname "$0")/../../shared/data}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
[ -f "$out/lens/lens.json" ] || alignscope lens --model "$model" --data-dir "$data" \
    --languages fr,de,es,ru,zh --sources fr,de,es,ru,zh --latent en --lenses logit \
    --max-items 10 --device cpu --seed 1 --out "$out/lens" --no-progress
[ -f "$out/neurons/neurons.json" ] || alignscope neurons --model "$model" --data-dir "$data" \
    --languages en,de,fr,es,ru,zh,ja,ar --parallel ud:pud --max-sentences 80 \
    --ppl-sentences 6 --device cpu --seed 1 --out "$out/neurons" --no-progress

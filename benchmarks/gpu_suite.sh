#!/usr/bin/env bash
# Every GPU check of the experiments issue in one script, under 8 minutes on one GPU:
#   1. fine-tune words/s, alignscope vs the HF Trainer, bf16, mBERT-sized random weights
#   2. similarity extraction FLOP/s as a share of a large bf16 matmul, and `--preset authors`
#      against the authors' procedure (same values, speed)
#   3. a 7-group POS sweep (REF + 6 block pairs) with --runs-per-device 1 vs 4
#   4. resumable fine-tuning in fp16 (gradient scaler) and bf16: interrupted after a checkpoint
#      and resumed, against the uninterrupted run
# --smoke runs the same code paths on the CPU in about a minute (tiny 4-block model: REF + 2 block
# pairs, a few sentences; the sweep with --jobs 1 vs 2 instead, as there is no GPU to share).
#   bash benchmarks/gpu_suite.sh [--smoke] [--out DIR] [--data-dir DATA] [--tokenizer DIR]
# DATA holds UD English-EWT and the PUD treebanks of fr de ru ja; the tokenizer folder is any
# saved tokenizer (default $ALIGNSCOPE_E5_DIR): nothing is downloaded. Figures: OUT/*.json, log.
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=0
out=runs/gpu_suite
data=${ALIGNSCOPE_DATA:-../shared/data}
tokenizer=${ALIGNSCOPE_E5_DIR:-$HOME/.cache/alignscope/e5-small}
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --out) out=$2; shift ;;
        --data-dir) data=$2; shift ;;
        --tokenizer) tokenizer=$2; shift ;;
        *) echo "unknown option $1 (use --smoke, --out, --data-dir, --tokenizer)" >&2; exit 2 ;;
    esac
    shift
done
py=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export ALIGNSCOPE_CACHE="$out/cache"
if [ "$smoke" = 1 ]; then
    size=tiny device=cpu sentences=16 train=32 jobs_a=(--jobs 1) jobs_b=(--jobs 2) threads=(--threads 1)
    precisions=(fp32)
else
    size=mbert device=cuda sentences=1000 train=2000 jobs_a=(--runs-per-device 1) jobs_b=(--runs-per-device 4) threads=()
    precisions=(fp16 bf16)
fi
rm -rf "$out" && mkdir -p "$out"
step() { echo "== $(date -u +%H:%M:%S) $*"; }

step "model: $size-sized BERT, random weights; the sweep's config"
$py benchmarks/gpu_checks.py prepare --size "$size" --tokenizer "$tokenizer" --data-dir "$data" \
    --sentences "$train" --out "$out"

step "1. fine-tune speed (alignscope vs HF Trainer)"
if $py -c "import accelerate" 2>/dev/null; then
    $py benchmarks/bench_finetune_speed.py --model "$out/model" --data-dir "$data" \
        --train-sentences "$train" --repeats 1 "${threads[@]}" --out "$out/finetune_speed.json"
else  # the HF baseline needs the `bench` extra; time alignscope alone
    echo "accelerate missing (pip install '.[bench]'): alignscope side only"
    $py benchmarks/bench_finetune_speed.py --system alignscope --model "$out/model" \
        --data-dir "$data" --train-sentences "$train" --epochs 1 "${threads[@]}" \
        --worker-json "$out/finetune_speed.json"
fi

step "2. extraction FLOP share, authors' procedure"
$py benchmarks/gpu_checks.py extraction --model "$out/model" --device "$device" \
    --data-dir "$data" --sentences "$sentences" --out "$out/extraction.json"

step "3. 7-group POS sweep: ${jobs_a[*]} vs ${jobs_b[*]}"
for variant in a b; do
    declare -n jobs="jobs_$variant"
    start=$EPOCHREALTIME
    $py -m alignscope sweep "$out/pos7.yaml" --out "$out/sweep-$variant" --no-progress "${jobs[@]}" \
        --set "device=$device"
    seconds=$($py -c "print(round($EPOCHREALTIME - $start, 1))")
    echo "{\"options\": \"${jobs[*]}\", \"seconds\": $seconds}" > "$out/sweep-$variant.json"
    cat "$out/sweep-$variant.json"
done

step "4. resumable fine-tuning (${precisions[*]}): interrupted and resumed vs uninterrupted"
$py benchmarks/gpu_resume.py --model "$out/model" --data-dir "$data" --device "$device" \
    --precisions "${precisions[@]}" "${threads[@]}" --out "$out/resume.json"
step "done: figures in $out/*.json"

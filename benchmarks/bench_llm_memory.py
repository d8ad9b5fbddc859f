"""Peak memory and time of feature extraction for a Qwen2-0.5B-sized decoder (issue 11 §6).

A randomly initialised `Qwen2Config` of Qwen2-0.5B's shape (24 blocks, hidden 896, FFN 4864,
14 query / 2 key-value heads, vocabulary 151,936: 494 M parameters, float32) reads PUD
sentences with `--pooling weighted-mean`, one language after another; each language's
features go to the feature cache as one float32 safetensors file per layer and are dropped
before the next language, so memory should be the model's plus one batch's, whatever the
number of languages. Every grid point runs in a fresh process (clean peak RSS). The tokenizer
is a byte-level BPE trained on the benchmark's own sentences (the real Qwen tokenizer is not
available offline), so token counts differ from Qwen's. A benchmark, not a test.

    .venv/bin/python benchmarks/bench_llm_memory.py --grid 20x2x24,40x2x24,20x4x24,20x2x12 \\
        --threads 1 --out runs/bench_llm_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = (REPO / ".." / "shared" / "data").resolve()
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "ru", "zh", "ja", "ar", "hi", "tr", "fi", "id",
             "ko", "pl")


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def point(sentences: int, languages: int, layers: int, data_dir: Path,
          threads: int) -> dict[str, Any]:
    """One grid point, in this process: build, extract language by language, measure."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

    from alignscope.analysis.features import ExtractionOptions, FeatureExtractor
    from alignscope.data.parallel import load_parallel
    from alignscope.models.encoder import Encoder

    torch.set_num_threads(threads)
    os.environ["ALIGNSCOPE_CACHE"] = tempfile.mkdtemp(prefix="bench-llm-cache-")
    langs = LANGUAGES[:languages]
    corpus = load_parallel("ud:pud", langs, data_dir).head(sentences)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([t for lang in langs for t in corpus.texts[lang]], trainers.BpeTrainer(
        vocab_size=4000, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                         num_hidden_layers=layers, num_attention_heads=14, num_key_value_heads=2,
                         max_position_embeddings=32768, tie_word_embeddings=True)
    model = Qwen2Model(config).eval()
    encoder = Encoder(model, tokenizer, "qwen2-0.5b-shaped (random)", "random")
    after_model = rss_mb()
    extractor = FeatureExtractor(encoder, ExtractionOptions(pooling="weighted-mean"),
                                 torch.device("cpu"), identity={"random": "qwen2", "layers": layers})
    start = time.perf_counter()
    on_disk = 0
    for lang in langs:  # features of one language at a time; the cache holds the rest
        features = extractor.extract(corpus, lang)
        on_disk += sum(f.stat().st_size for f in extractor.entry(corpus, lang).iterdir())
        del features
    seconds = time.perf_counter() - start
    stats = extractor.stats.as_dict()
    return {"sentences": sentences, "languages": languages, "layers": layers, "threads": threads,
            "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "rss_after_model_mb": after_model,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "seconds": seconds, "tokens": stats["tokens"], "padded_tokens": stats["padded_tokens"],
            "gflops_per_second": stats["gflops_per_second"], "feature_bytes_on_disk": on_disk,
            "load": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", default="20x2x24,40x2x24,20x4x24,20x2x12",
                        help="SENTENCESxLANGUAGESxLAYERS,...")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--point", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench_llm_memory.json")
    args = parser.parse_args()
    if args.point:  # a child: one grid point, JSON on stdout
        sentences, languages, layers = (int(v) for v in args.point.split("x"))
        print(json.dumps(point(sentences, languages, layers, args.data_dir, args.threads)))
        return
    results = []
    for spec in args.grid.split(","):
        child = subprocess.run([sys.executable, __file__, "--point", spec, "--threads",
                                str(args.threads), "--data-dir", str(args.data_dir)],
                               capture_output=True, text=True, check=True)
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

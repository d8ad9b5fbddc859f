"""Peak memory and time of a similarity analysis of a Qwen2-0.5B-sized decoder (issue 11 §6).

A randomly initialised `Qwen2Config` of Qwen2-0.5B's shape (24 blocks, hidden 896, FFN 4864,
14 query / 2 key-value heads, vocabulary 151,936: 494 M parameters, float32) reads PUD
sentences with `--pooling weighted-mean`, one language after another; each language's
features go to the feature cache as one float32 safetensors file per layer and are dropped
before the next language, so memory should be the model's plus one batch's, whatever the
number of languages. The tokenizer is a byte-level BPE trained on the benchmark's own
sentences (the real Qwen tokenizer is not available offline), so token counts differ from
Qwen's. A benchmark, not a test.

Each grid point runs each phase in a fresh process, so each has its own peak RSS:
  extract  build the model, extract every language into a fresh feature cache;
  compare  (with --compare) what `similarity` does next, from that cache: the first language
           against each other one with `--compare` measures (linear CKA and MEXA by default)
           and the shuffled control, layer by layer (one layer per language resident).
The random-init control is left out: it repeats the extraction with other weights.

    .venv/bin/python benchmarks/bench_llm_memory.py --grid 50x5x24,200x10x24 --compare \\
        --threads 1 --out runs/bench_llm_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def point(sentences: int, languages: int, layers: int, data_dir: Path,
          threads: int) -> dict[str, Any]:
    """One grid point's extraction, in this process: build, extract language by language."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

    from alignscope.analysis.features import ExtractionOptions, FeatureExtractor
    from alignscope.data.parallel import load_parallel
    from alignscope.models.encoder import Encoder

    torch.set_num_threads(threads)
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
            "peak_rss_mb": peak_rss_mb(),
            "seconds": seconds, "tokens": stats["tokens"], "padded_tokens": stats["padded_tokens"],
            "gflops_per_second": stats["gflops_per_second"], "feature_bytes_on_disk": on_disk,
            "load": os.getloadavg()}


def compare_point(languages: int, measures: str, threads: int) -> dict[str, Any]:
    """One grid point's comparison, in this process, from the cache the extraction filled."""
    import torch

    from alignscope.analysis.controls import derangement
    from alignscope.analysis.features import open_entry
    from alignscope.analysis.measures import MeasureOptions
    from alignscope.analysis.similarity import compare_languages
    from alignscope.data.registry import cache_dir

    torch.set_num_threads(threads)
    langs = LANGUAGES[:languages]
    before = rss_mb()
    start = time.perf_counter()
    features = {}
    for lang in langs:
        entry = next((cache_dir() / "features").glob(f"{lang}-*"))
        opened = open_entry(entry, json.loads((entry / "key.json").read_text()), lang)
        assert opened is not None, entry
        features[lang] = opened
    source = features[langs[0]]
    options = MeasureOptions(tuple(measures.split(",")))
    compared = compare_languages(features, langs[0], langs[1:], options, None,
                                 torch.device("cpu"), derangement(source.rows, 0))
    seconds = time.perf_counter() - start
    layer_mb = source.rows * source.layer(0).shape[1] * 4 / 2**20
    first = compared["parallel"][langs[1]].values
    return {"rss_before_mb": before, "peak_rss_mb": peak_rss_mb(), "seconds": seconds,
            "measures": measures, "one_layer_all_languages_mb": layer_mb * languages,
            "all_layers_all_languages_mb": layer_mb * languages * source.num_layers,
            f"{langs[1]}_last_layer": {key: values[-1] for key, values in first.items()},
            "load": os.getloadavg()}


def child(args: list[str], cache: str) -> dict[str, Any]:
    """Run this script on one phase of one grid point; its JSON line."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=True, env={**os.environ, "ALIGNSCOPE_CACHE": cache})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", default="20x2x24,40x2x24,20x4x24,20x2x12",
                        help="SENTENCESxLANGUAGESxLAYERS,...")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare", nargs="?", const="linear,mexa", default=None,
                        help="also run the comparison phase with these measures "
                             "(default linear,mexa)")
    parser.add_argument("--point", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--compare-point", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench_llm_memory.json")
    args = parser.parse_args()
    if args.point:  # a child: one grid point's extraction, JSON on stdout
        sentences, languages, layers = (int(v) for v in args.point.split("x"))
        print(json.dumps(point(sentences, languages, layers, args.data_dir, args.threads)))
        return
    if args.compare_point:  # a child: one grid point's comparison
        print(json.dumps(compare_point(args.compare_point, args.compare, args.threads)))
        return
    results = []
    for spec in args.grid.split(","):
        cache = tempfile.mkdtemp(prefix="bench-llm-cache-")
        try:
            common = ["--threads", str(args.threads), "--data-dir", str(args.data_dir)]
            result = child(["--point", spec, *common], cache)
            if args.compare:
                result["compare"] = child(["--compare-point", spec.split("x")[1], "--compare",
                                           args.compare, *common], cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        results.append(result)
        print(json.dumps(result), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)  # what is done so far survives
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

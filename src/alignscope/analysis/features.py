"""Pooled hidden states of every layer, extracted in length-sorted batches and cached on disk,
one float32 safetensors file per layer (`load_layer` reads one layer alone).

One forward pass per batch returns all hidden states (embeddings + each layer); pooling happens
on the device right away, so only [layers, rows, hidden] float32 features come back to the CPU.
A cache entry is keyed by the model's identity (its files, config and dtype), the exact
sentences of one language, the pooling and the length limit: a second analysis of the same
model and data re-uses it, a change in any of them misses it.

Memory: one language's features (all layers) are in memory only while it is extracted; they
are written to its entry at once, and `Features` is a handle that reads one layer at a time
(`Features.layer`). Without the cache (`use_cache=False`) the entry is a scratch folder beside
where the cache entry would be, removed when no handle refers to it any more.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers.pytorch_utils import Conv1D

from alignscope.analysis.dimensions import dimension_statistics
from alignscope.data.parallel import ParallelCorpus
from alignscope.data.registry import cache_dir
from alignscope.encoding import POOLINGS
from alignscope.encoding.batching import sorted_batches
from alignscope.encoding.collate import pad_id_of, pad_windows
from alignscope.encoding.pooling import (
    PooledInput,
    PoolingContext,
    Sentences,
    check_prompt_template,
    pool,
    pooling_matrix,
)
from alignscope.encoding.precision import PRECISIONS, autocast, check_precision
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.io import atomic_directory, atomic_write_json, file_lock, temporary_beside
from alignscope.models.encoder import Encoder, no_cache
from alignscope.models.layers import find_blocks
from alignscope.progress import progress_bar

CACHE_FORMAT = 4  # 2: sentence token counts; 3: one file per layer, precision, prompt template;
# 4: per-layer dimension statistics
_MAX_BATCH_SENTENCES = 256
_MAX_PADDING = 0.1  # a batch's shortest sentence is at least 90 % of its longest


@dataclass(frozen=True)
class ExtractionOptions:
    pooling: str = "mean"  # a POOLINGS name (alignscope.encoding)
    max_tokens: int | None = None  # None: the model's limit
    batch_tokens: int = 8192  # padded tokens per forward pass
    precision: str = "fp32"  # fp32 | bf16 | fp16 | auto (encoding/precision.py)
    use_cache: bool = True
    prompt_template: str | None = None  # prompt-last pooling: "... {sentence} ..."

    def __post_init__(self) -> None:
        POOLINGS.check(self.pooling)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}", "use one of "
                              f"{', '.join(PRECISIONS)}")
        check_prompt_template(self.pooling, self.prompt_template)
        if self.batch_tokens < 1:
            raise ConfigError("--batch-tokens must be positive")


Adjustment = Callable[[Tensor], Tensor]  # one layer's [rows, dim] features -> adjusted ones


@dataclass
class Extracted:
    """One language's features as extraction produces them: every layer in memory, written to
    an entry at once (`write_entry`)."""

    hidden: Tensor  # [layers, rows, dim] float32, CPU
    row_sentence: Tensor  # [rows] int64
    row_word: Tensor  # [rows] int64
    sentence_tokens: Tensor  # [sentences] int64: input ids per sentence, special tokens included
    truncated: int  # sentences cut at the length limit


class LayerFiles:
    """The per-layer files of one entry. A scratch entry (no cache) is removed once the last
    handle referring to it is gone (or at exit)."""

    def __init__(self, entry: Path, count: int, scratch: bool = False) -> None:
        self.entry, self.count = entry, count
        if scratch:
            weakref.finalize(self, shutil.rmtree, entry, ignore_errors=True)

    def load(self, layer: int) -> Tensor:
        if not 0 <= layer < self.count:
            raise IndexError(f"layer {layer} of {self.count}")
        return load_layer(self.entry, layer)


@dataclass(frozen=True)
class Features:
    """One language's pooled representations, one layer at a time: `layer(k)[row]` reads layer k
    from disk and applies the adjustments (adjust.py); a row is a sentence, or a word for word
    pooling (`row_sentence`, `row_word` locate it; `row_word` is -1 otherwise). Nothing holds
    more than one layer: callers keep a layer as long as they need it (compare.LayerSides)."""

    language: str
    files: LayerFiles
    row_sentence: Tensor  # [rows] int64
    row_word: Tensor  # [rows] int64
    sentence_tokens: Tensor  # [sentences] int64: input ids per sentence, special tokens included
    truncated: int  # sentences cut at the length limit
    dimensions: tuple[dict[str, Any], ...] = ()  # per layer, unadjusted (dimensions.py)
    from_cache: bool = False
    adjustments: tuple[Adjustment, ...] = ()

    @property
    def num_layers(self) -> int:
        return self.files.count

    @property
    def rows(self) -> int:
        return self.row_sentence.numel()

    def layer(self, layer: int) -> Tensor:
        """Layer `layer`'s [rows, dim] float32 features, adjusted."""
        hidden = self.files.load(layer)
        for adjustment in self.adjustments:
            hidden = adjustment(hidden)
        return hidden

    def adjusted(self, adjustment: Adjustment) -> Features:
        """These features with `adjustment` applied to each layer when it is read."""
        return dataclasses.replace(self, adjustments=(*self.adjustments, adjustment))


@dataclass
class ExtractionStats:
    """Work done by forward passes (cache hits excluded), for throughput figures."""

    sentences: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    batches: int = 0
    flops: float = 0.0  # matmul FLOPs of the padded batches (linear layers + attention)
    useful_flops: float = 0.0  # the same for the real tokens only (padding excluded)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # process CPU time of the same span: robust to other jobs' load
    cache_hits: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        for name in ("flops", "useful_flops"):
            rate = getattr(self, name) / self.seconds / 1e9 if self.seconds else None
            figures[name.replace("flops", "gflops_per_second")] = rate
        figures["gflops_per_cpu_second"] = self.flops / self.cpu_seconds / 1e9 \
            if self.cpu_seconds else None
        return figures


def model_identity(encoder: Encoder) -> dict[str, Any]:
    """What makes two loads of a model give the same features: source files, config, dtype."""
    source = Path(encoder.source)
    files = []
    if encoder.gguf is not None:  # one file, known by its digest
        files.append([encoder.gguf["file"], encoder.gguf["size"], encoder.gguf["sha256"]])
    elif source.is_dir():
        for path in sorted(source.iterdir()):
            if path.suffix in {".safetensors", ".bin", ".json", ".model"}:
                stat = path.stat()
                files.append([path.name, stat.st_size, stat.st_mtime_ns])
    config = encoder.model.config
    return {
        "source": str(source.resolve()) if source.is_dir() else encoder.source,
        "commit": getattr(config, "_commit_hash", None),
        "files": files,
        "config": hashlib.sha256(config.to_json_string().encode()).hexdigest()[:20],
        "class": type(encoder.model).__name__,
        "dtype": str(next(encoder.model.parameters()).dtype),
    }


class FeatureExtractor:
    """Extracts and caches pooled features of one encoder."""

    def __init__(self, encoder: Encoder, options: ExtractionOptions, device: torch.device,
                 identity: dict[str, Any] | None = None, show_progress: bool = False) -> None:
        check_precision(options.precision, device)
        self.encoder = encoder
        self.options = options
        self.device = device
        self.identity = identity or model_identity(encoder)
        self.show_progress = show_progress
        self.stats = ExtractionStats()
        self.max_tokens = self._token_limit()
        encoder.model.to(device).eval()
        self._linear_weights = sum(module.weight.numel() for module
                                   in find_blocks(encoder.model).blocks.modules()
                                   if isinstance(module, (nn.Linear, Conv1D)))

    def _token_limit(self) -> int:
        limit = self.encoder.max_tokens(None)
        if self.options.pooling == "authors":
            # The script cuts at max_len - 1 tokens, then appends encode(SEP), i.e. 3 tokens.
            wanted = self.options.max_tokens or 200
            if wanted + 2 > limit:
                raise ConfigError(f"--max-tokens {wanted} with the authors' pooling makes inputs "
                                  f"of {wanted + 2} tokens; the model accepts {limit}")
            return wanted
        return min(self.options.max_tokens, limit) if self.options.max_tokens else limit

    def cache_key(self, corpus: ParallelCorpus, language: str) -> dict[str, Any]:
        return {"format": CACHE_FORMAT, "model": self.identity, "language": language,
                "sentences": len(corpus), "data": corpus.fingerprint(language),
                "pooling": self.options.pooling, "max_tokens": self.max_tokens,
                "precision": self.options.precision,
                "prompt_template": self.options.prompt_template}

    def extract_all(self, corpus: ParallelCorpus, languages: list[str] | tuple[str, ...],
                    label: str = "") -> dict[str, Features]:
        with progress_bar(self.show_progress) as progress:
            return {lang: self.extract(corpus, lang, progress, label) for lang in languages}

    def entry(self, corpus: ParallelCorpus, language: str) -> Path:
        """The cache folder of `language`'s features (read one layer with `load_layer`)."""
        return cache_dir() / "features" / f"{language}-{_digest(self.cache_key(corpus, language))}"

    def extract(self, corpus: ParallelCorpus, language: str, progress: Any = None,
                label: str = "") -> Features:
        """A handle on `language`'s features, read from the cache or extracted into it (or into
        a scratch entry without the cache)."""
        key = self.cache_key(corpus, language)
        entry = self.entry(corpus, language)
        if not self.options.use_cache:
            extracted = self._run(self.encode(corpus, language), language, progress, label)
            scratch = temporary_beside(entry)
            try:
                write_entry(scratch, key, extracted)
                return _opened(scratch, key, language, scratch=True)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
        with file_lock(entry):  # one process fills an entry; the others wait, then read it
            cached = open_entry(entry, key, language)
            if cached is not None:
                self.stats.cache_hits.append(language)
                return dataclasses.replace(cached, from_cache=True)
            extracted = self._run(self.encode(corpus, language), language, progress, label)
            with atomic_directory(entry) as tmp:
                write_entry(tmp, key, extracted)
            del extracted  # every layer of one language: only while it is written
            return _opened(entry, key, language)

    def encode(self, corpus: ParallelCorpus, language: str) -> list[PooledInput]:
        context = PoolingContext(self.encoder, self.max_tokens, self.options.prompt_template)
        sentences = Sentences(corpus.texts[language], corpus.words[language])
        encoded = POOLINGS[self.options.pooling].encode(context, sentences)
        for index, sentence in enumerate(encoded):
            if not sentence.position:
                raise AlignscopeError(
                    f"{language} sentence {corpus.ids[index]!r} ({corpus.sources[language]}) "
                    f"gives no token to pool with {self.options.pooling} pooling", "remove it from "
                    "every language")
        return encoded

    def _run(self, encoded: list[PooledInput], language: str, progress: Any,
             label: str) -> Extracted:
        rows_per_sentence = [sentence.rows for sentence in encoded]
        offsets = [0]
        for rows in rows_per_sentence:
            offsets.append(offsets[-1] + rows)
        batches = sorted_batches([s.num_tokens for s in encoded], max_tokens=self.options.batch_tokens,
                                 max_sentences=_MAX_BATCH_SENTENCES, max_padding=_MAX_PADDING)
        task = progress.add_task(f"{label}{language}".strip(), total=len(encoded), status="") \
            if progress is not None else None
        hidden: Tensor | None = None
        start, cpu_start = time.perf_counter(), time.process_time()
        for batch in batches:
            pooled = self._forward([encoded[i] for i in batch])
            if hidden is None:
                hidden = torch.empty(pooled.shape[0], offsets[-1], pooled.shape[2])
            cursor = 0
            for index in batch:
                rows = rows_per_sentence[index]
                hidden[:, offsets[index]:offsets[index] + rows] = pooled[:, cursor:cursor + rows]
                cursor += rows
            if task is not None:
                progress.advance(task, len(batch))
        self.stats.seconds += time.perf_counter() - start
        self.stats.cpu_seconds += time.process_time() - cpu_start
        self.stats.sentences += len(encoded)
        assert hidden is not None  # corpora are never empty
        row_sentence = torch.repeat_interleave(torch.arange(len(encoded)),
                                               torch.tensor(rows_per_sentence))
        row_word = torch.tensor([w for s in encoded for w in (s.words or [-1])], dtype=torch.int64)
        return Extracted(hidden, row_sentence, row_word,
                         torch.tensor([s.num_tokens for s in encoded]),
                         truncated=sum(s.truncated for s in encoded))

    def _forward(self, batch: list[PooledInput]) -> Tensor:
        windows = [window for sentence in batch for window in sentence.windows]
        ids, mask = pad_windows(windows, pad_id_of(self.encoder.tokenizer))
        flat, weights, rows, count = pooling_matrix(batch, ids.shape[1])
        with torch.inference_mode():
            with autocast(self.device, self.options.precision):  # the forward pass only
                outputs = self.encoder.model(input_ids=ids.to(self.device),
                                             attention_mask=mask.to(self.device),
                                             output_hidden_states=True, return_dict=True,
                                             **no_cache(self.encoder.model.config))
            states = getattr(outputs, "hidden_states", None)
            if not states:
                raise AlignscopeError(
                    f"model {self.encoder.name!r} ({type(self.encoder.model).__name__}) returned "
                    "no hidden states with output_hidden_states=True; similarity analyses need "
                    "an encoder that exposes every layer's hidden states")
            pooled = pool(states, flat.to(self.device), weights.to(self.device),
                          rows.to(self.device), count)
        self._count([len(window) for window in windows], ids.shape[1], len(states) - 1)
        return pooled.cpu()

    def _count(self, lengths: list[int], width: int, layers: int) -> None:
        attention = self.encoder.attention_width

        def flops(tokens: int, squares: int) -> float:  # linear layers + QK^T and AV
            return 2 * tokens * self._linear_weights + 4 * squares * attention * layers

        self.stats.flops += flops(len(lengths) * width, len(lengths) * width * width)
        self.stats.useful_flops += flops(sum(lengths), sum(n * n for n in lengths))
        self.stats.tokens += sum(lengths)
        self.stats.padded_tokens += len(lengths) * width
        self.stats.batches += 1


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def layer_file(entry: Path, layer: int) -> Path:
    return entry / f"layer-{layer:03d}.safetensors"


def load_layer(entry: Path, layer: int) -> Tensor:
    """One layer's [rows, dim] float32 features from a cache entry; the others stay on disk."""
    return load_file(layer_file(entry, layer))["hidden"]


def open_entry(entry: Path, key: dict[str, Any], language: str,
               scratch: bool = False) -> Features | None:
    """A handle on the entry's features if it holds `key` and every layer file is whole, with
    the same shape (read from the file headers; no layer is loaded); None otherwise."""
    try:
        if json.loads((entry / "key.json").read_text(encoding="utf-8")) != key:
            return None
        info = json.loads((entry / "info.json").read_text(encoding="utf-8"))
        count = int(info["layers"])
        shapes = set()
        for layer in range(count):
            with safe_open(str(layer_file(entry, layer)), framework="pt") as handle:
                shapes.add(tuple(handle.get_slice("hidden").get_shape()))
        rows = load_file(entry / "rows.safetensors")
    except (OSError, ValueError, KeyError, SafetensorError, RuntimeError):
        return None  # absent or unreadable: extract again and replace it
    if len(shapes) != 1 or next(iter(shapes))[0] != rows["row_sentence"].numel():
        return None
    return Features(language, LayerFiles(entry, count, scratch), rows["row_sentence"],
                    rows["row_word"], rows["sentence_tokens"], int(info["truncated"]),
                    tuple(info["dimensions"]))


def _opened(entry: Path, key: dict[str, Any], language: str, scratch: bool = False) -> Features:
    features = open_entry(entry, key, language, scratch)
    if features is None:
        raise AlignscopeError(f"the features just written to {entry} cannot be read back", "check "
                              "the disk (full? removed meanwhile?)")
    return features


def write_entry(folder: Path, key: dict[str, Any], extracted: Extracted) -> None:
    """One float32 safetensors file per layer, so a reader can take one layer at a time."""
    for layer, hidden in enumerate(extracted.hidden):
        save_file({"hidden": hidden.contiguous()}, str(layer_file(folder, layer)))
    save_file({"row_sentence": extracted.row_sentence, "row_word": extracted.row_word,
               "sentence_tokens": extracted.sentence_tokens}, str(folder / "rows.safetensors"))
    # Computed while every layer is in memory, so an analysis need not read a layer twice.
    atomic_write_json(folder / "info.json", {
        "truncated": extracted.truncated, "layers": extracted.hidden.shape[0],
        "dimensions": [dimension_statistics(hidden) for hidden in extracted.hidden]})
    atomic_write_json(folder / "key.json", key)

"""Pooled hidden states of every layer, extracted in length-sorted batches and cached on disk.

One forward pass per batch returns all hidden states (embeddings + each layer); pooling happens
on the device right away, so only [layers, rows, hidden] float32 features come back to the CPU.
A cache entry is keyed by the model's identity (its files, config and dtype), the exact
sentences of one language, the pooling and the length limit: a second analysis of the same
model and data re-uses it, a change in any of them misses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from alignscope.analysis.pooling import POOLINGS, EncodedSentence, encode_corpus, pool_batch
from alignscope.data.parallel import ParallelCorpus
from alignscope.data.registry import cache_dir
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.io import atomic_directory, atomic_write_json, file_lock
from alignscope.models.encoder import Encoder
from alignscope.models.layers import find_blocks
from alignscope.progress import progress_bar

CACHE_FORMAT = 2  # 2: sentence token counts stored
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_MAX_BATCH_SENTENCES = 256


@dataclass(frozen=True)
class ExtractionOptions:
    pooling: str = "mean"  # mean | cls | word | authors (see pooling.py)
    max_tokens: int | None = None  # None: the model's limit
    batch_tokens: int = 8192  # padded tokens per forward pass
    autocast: str | None = None  # bf16 | fp16 | None (full precision)
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}; use one of {', '.join(POOLINGS)}")
        if self.autocast is not None and self.autocast not in AUTOCAST_DTYPES:
            raise ConfigError(f"unknown autocast {self.autocast!r}; use bf16 or fp16")
        if self.batch_tokens < 1:
            raise ConfigError("--batch-tokens must be positive")


@dataclass
class Features:
    """One language's pooled representations: `hidden[layer, row]`; a row is a sentence, or a
    word for word pooling (`row_sentence`, `row_word` locate it; `row_word` is -1 otherwise)."""

    language: str
    hidden: Tensor  # [layers, rows, dim] float32, CPU
    row_sentence: Tensor  # [rows] int64
    row_word: Tensor  # [rows] int64
    sentence_tokens: Tensor  # [sentences] int64: input ids per sentence, special tokens included
    truncated: int  # sentences cut at the length limit
    from_cache: bool = False

    @property
    def num_layers(self) -> int:
        return self.hidden.shape[0]


@dataclass
class ExtractionStats:
    """Work done by forward passes (cache hits excluded), for throughput figures."""

    sentences: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    batches: int = 0
    flops: float = 0.0  # matmul FLOPs of the padded batches (linear layers + attention)
    seconds: float = 0.0
    cache_hits: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        figures["gflops_per_second"] = self.flops / self.seconds / 1e9 if self.seconds else None
        return figures


def model_identity(encoder: Encoder) -> dict[str, Any]:
    """What makes two loads of a model give the same features: source files, config, dtype."""
    source = Path(encoder.source)
    files = []
    if source.is_dir():
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
        if options.autocast == "fp16" and device.type != "cuda":
            raise ConfigError("fp16 autocast needs a CUDA device; use bf16 on CPU")
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
                                   if isinstance(module, nn.Linear))

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
                "autocast": self.options.autocast}

    def extract_all(self, corpus: ParallelCorpus, languages: list[str] | tuple[str, ...],
                    label: str = "") -> dict[str, Features]:
        with progress_bar(self.show_progress) as progress:
            return {lang: self.extract(corpus, lang, progress, label) for lang in languages}

    def extract(self, corpus: ParallelCorpus, language: str, progress: Any = None,
                label: str = "") -> Features:
        key = self.cache_key(corpus, language)
        entry = cache_dir() / "features" / f"{language}-{_digest(key)}"
        if not self.options.use_cache:
            return self._compute(corpus, language, progress, label)
        with file_lock(entry):  # one process fills an entry; the others wait, then read it
            cached = _load_entry(entry, key, language)
            if cached is not None:
                self.stats.cache_hits.append(language)
                return cached
            features = self._compute(corpus, language, progress, label)
            _save_entry(entry, key, features)
            return features

    def _compute(self, corpus: ParallelCorpus, language: str, progress: Any,
                 label: str) -> Features:
        encoded = encode_corpus(self.encoder.tokenizer, corpus, language, self.options.pooling,
                                self.max_tokens)
        return self._run(encoded, language, progress, label)

    def _run(self, encoded: list[EncodedSentence], language: str, progress: Any,
             label: str) -> Features:
        rows_per_sentence = [sentence.rows for sentence in encoded]
        offsets = [0]
        for rows in rows_per_sentence:
            offsets.append(offsets[-1] + rows)
        batches = length_sorted_batches([len(s.ids) for s in encoded], self.options.batch_tokens)
        task = progress.add_task(f"{label}{language}".strip(), total=len(encoded), status="") \
            if progress is not None else None
        hidden: Tensor | None = None
        start = time.perf_counter()
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
        self.stats.sentences += len(encoded)
        assert hidden is not None  # encode_corpus refuses an empty corpus
        row_sentence = torch.repeat_interleave(torch.arange(len(encoded)),
                                               torch.tensor(rows_per_sentence))
        row_word = torch.tensor([w for s in encoded for w in (s.words or [-1])], dtype=torch.int64)
        return Features(language, hidden, row_sentence, row_word,
                        torch.tensor([len(s.ids) for s in encoded]),
                        truncated=sum(s.truncated for s in encoded))

    def _forward(self, batch: list[EncodedSentence]) -> Tensor:
        width = max(len(s.ids) for s in batch)
        pad = self.encoder.tokenizer.pad_token_id
        pad = 0 if pad is None else pad  # masked out: any id will do
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, sentence in enumerate(batch):
            ids[row, :len(sentence.ids)] = torch.tensor(sentence.ids)
            mask[row, :len(sentence.ids)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        precision = torch.autocast(self.device.type, dtype=AUTOCAST_DTYPES[self.options.autocast]) \
            if self.options.autocast else contextlib.nullcontext()
        with torch.inference_mode():
            with precision:  # the forward pass only: pooling stays float32
                outputs = self.encoder.model(input_ids=ids, attention_mask=mask,
                                             output_hidden_states=True, return_dict=True)
            states = getattr(outputs, "hidden_states", None)
            if not states:
                raise AlignscopeError(
                    f"model {self.encoder.name!r} ({type(self.encoder.model).__name__}) returned "
                    "no hidden states with output_hidden_states=True; similarity analyses need "
                    "an encoder that exposes every layer's hidden states")
            pooled = pool_batch(states, batch, self.device)
        self._count(len(batch), width, sum(len(s.ids) for s in batch), len(states) - 1)
        return pooled.float().cpu()

    def _count(self, sentences: int, width: int, tokens: int, layers: int) -> None:
        padded = sentences * width
        attention = 4 * sentences * width * width * self.encoder.hidden_size * layers
        self.stats.flops += 2 * padded * self._linear_weights + attention
        self.stats.tokens += tokens
        self.stats.padded_tokens += padded
        self.stats.batches += 1


def length_sorted_batches(lengths: list[int], batch_tokens: int) -> list[list[int]]:
    """Indices grouped by increasing length so that each batch pads at most `batch_tokens`."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        too_many = (len(current) + 1) * lengths[index] > batch_tokens
        if current and (too_many or len(current) >= _MAX_BATCH_SENTENCES):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def _load_entry(entry: Path, key: dict[str, Any], language: str) -> Features | None:
    try:
        if json.loads((entry / "key.json").read_text(encoding="utf-8")) != key:
            return None
        tensors = load_file(entry / "features.safetensors")
        truncated = int(json.loads((entry / "info.json").read_text(encoding="utf-8"))["truncated"])
    except (OSError, ValueError, KeyError, SafetensorError):
        return None  # absent or unreadable: extract again and replace it
    return Features(language, tensors["hidden"], tensors["row_sentence"], tensors["row_word"],
                    tensors["sentence_tokens"], truncated, from_cache=True)


def _save_entry(entry: Path, key: dict[str, Any], features: Features) -> None:
    with atomic_directory(entry) as tmp:
        save_file({"hidden": features.hidden.contiguous(), "row_sentence": features.row_sentence,
                   "row_word": features.row_word, "sentence_tokens": features.sentence_tokens},
                  str(tmp / "features.safetensors"))
        atomic_write_json(tmp / "info.json", {"truncated": features.truncated})
        atomic_write_json(tmp / "key.json", key)

"""Batched extraction equals one forward per sentence; pooling; the on-disk cache; bad models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers.modeling_outputs import BaseModelOutput

from alignscope.analysis.features import (
    ExtractionOptions,
    FeatureExtractor,
    Features,
    load_layer,
)
from alignscope.data.parallel import ParallelCorpus
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.models.encoder import Encoder, load_encoder

CPU = torch.device("cpu")


def stacked(features: Features) -> torch.Tensor:
    """Every layer at once, [layers, rows, dim] (the analyses read one layer at a time)."""
    return torch.stack([features.layer(k) for k in range(features.num_layers)])


def one_by_one(encoder: Encoder, corpus: ParallelCorpus, lang: str, pooling: str) -> torch.Tensor:
    """Reference: one unpadded forward per sentence, positions chosen by hand. Word pooling:
    NaN rows for sentences over the 128-token limit (windowed; see tests/encoding)."""
    tokenizer, rows = encoder.tokenizer, []
    for text, words in zip(corpus.texts[lang], corpus.words[lang], strict=True):
        if pooling == "word":
            encoding = tokenizer(list(words), is_split_into_words=True)
            ids = encoding["input_ids"]
            if len(ids) > 128:
                rows.append(torch.full((encoder.num_blocks + 1, len(words),
                                        encoder.hidden_size), torch.nan))
                continue
            word_ids = encoding.word_ids()
            keep = [i for i, w in enumerate(word_ids)
                    if w is not None and (i == 0 or word_ids[i - 1] != w)]
        elif pooling == "authors":  # "[CLS] text [SEP]" encoded with special tokens
            ids = tokenizer.encode(f"{tokenizer.cls_token} {text} {tokenizer.sep_token}")
            if len(ids) >= 126:  # the script's cut: 125 tokens, then encode("[SEP]")
                ids = ids[:125] + tokenizer.encode(tokenizer.sep_token)
            keep = list(range(1, len(ids) - 1))
        else:
            ids = tokenizer(text, truncation=True, max_length=128)["input_ids"]
            keep = [0] if pooling == "cls" else list(range(1, len(ids) - 1))
        with torch.inference_mode():
            states = encoder.model(input_ids=torch.tensor([ids]),
                                   output_hidden_states=True).hidden_states
        stacked = torch.stack(states)[:, 0, keep]  # [layers, kept, dim]
        rows.append(stacked.mean(1, keepdim=True) if pooling in ("mean", "authors") else stacked)
    return torch.cat(rows, 1)


@pytest.mark.parametrize("pooling", ["mean", "cls", "word", "authors"])
def test_batched_extraction_equals_one_forward_per_sentence(tiny_bert: Path,
                                                            pud_small: ParallelCorpus,
                                                            pooling: str) -> None:
    encoder = load_encoder(tiny_bert)
    # tiny_bert accepts 128 tokens; the authors' pooling adds up to 2 to its limit
    options = ExtractionOptions(pooling=pooling, max_tokens=126 if pooling == "authors" else None,
                                batch_tokens=300, use_cache=False)
    extractor = FeatureExtractor(encoder, options, CPU)
    features = extractor.extract(pud_small, "fr")
    expected = one_by_one(encoder, pud_small, "fr", pooling)
    assert stacked(features).shape == expected.shape
    assert features.num_layers == encoder.num_blocks + 1
    compared = ~expected[0, :, 0].isnan()
    assert compared.float().mean() > 0.5  # most rows compared
    torch.testing.assert_close(stacked(features)[:, compared], expected[:, compared], atol=2e-5,
                               rtol=1e-4)
    assert extractor.stats.batches > 1  # several length-sorted batches were run
    assert extractor.stats.padded_tokens >= extractor.stats.tokens > 0
    if pooling == "word":
        for index, words in enumerate(pud_small.words["fr"]):
            kept = features.row_word[features.row_sentence == index].tolist()
            assert kept == list(range(len(words)))  # every word, none dropped
    else:
        assert features.rows == len(pud_small)


def test_features_are_cached_and_keyed_by_pooling_and_data(tiny_bert: Path,
                                                           pud_small: ParallelCorpus,
                                                           private_cache: Path) -> None:
    encoder = load_encoder(tiny_bert)
    first = FeatureExtractor(encoder, ExtractionOptions(), CPU).extract(pud_small, "en")
    assert not first.from_cache
    assert len(list((private_cache / "features").iterdir())) == 1
    again = FeatureExtractor(encoder, ExtractionOptions(), CPU)
    second = again.extract(pud_small, "en")
    assert second.from_cache and again.stats.cache_hits == ["en"] and again.stats.batches == 0
    assert torch.equal(stacked(first), stacked(second))
    entry = again.entry(pud_small, "en")  # one float32 file per layer, readable alone
    assert len(list(entry.glob("layer-*.safetensors"))) == first.num_layers
    assert torch.equal(load_layer(entry, 2), first.layer(2))
    assert load_layer(entry, 2).dtype == torch.float32
    other_pooling = FeatureExtractor(encoder, ExtractionOptions(pooling="cls"), CPU)
    assert not other_pooling.extract(pud_small, "en").from_cache
    other_data = FeatureExtractor(encoder, ExtractionOptions(), CPU)
    assert not other_data.extract(pud_small.head(10), "en").from_cache
    assert len(list((private_cache / "features").iterdir())) == 3


def test_truncation_is_counted(tiny_bert: Path, pud_small: ParallelCorpus) -> None:
    encoder = load_encoder(tiny_bert)
    features = FeatureExtractor(encoder, ExtractionOptions(max_tokens=8, use_cache=False),
                                CPU).extract(pud_small, "de")
    assert features.truncated == len(pud_small)  # every PUD sentence is longer than 6 pieces


class _NoHiddenStates(torch.nn.Module):
    """Wraps a model and drops the hidden states from its output."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.config = inner.config

    def forward(self, **inputs: torch.Tensor) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=self.inner(**inputs).last_hidden_state)


def test_model_without_hidden_states_is_a_clear_error(tiny_bert: Path, pud_small: ParallelCorpus,
                                                      private_cache: Path) -> None:
    encoder = load_encoder(tiny_bert)
    broken = Encoder(_NoHiddenStates(encoder.model), encoder.tokenizer, "broken", "broken")
    with pytest.raises(AlignscopeError, match="returned no hidden states"):
        FeatureExtractor(broken, ExtractionOptions(), CPU, identity={"test": 1}).extract(
            pud_small, "en")
    assert not (private_cache / "features").exists()  # nothing half-written


def test_options_are_checked() -> None:
    with pytest.raises(AlignscopeError, match="unknown pooling 'max'"):
        ExtractionOptions(pooling="max")
    with pytest.raises(ConfigError, match="unknown precision"):
        ExtractionOptions(precision="int8")
    with pytest.raises(ConfigError, match="exactly once"):
        ExtractionOptions(pooling="prompt-last", prompt_template="no slot")
    with pytest.raises(ConfigError, match="read only by --pooling prompt-last"):
        ExtractionOptions(pooling="mean", prompt_template="{sentence}")


def test_autocast_runs_the_model_only_and_pools_in_float32(tiny_bert: Path,
                                                           pud_small: ParallelCorpus) -> None:
    """Under bf16 autocast a pooled mean computed in bf16 would have 8-bit mantissas."""
    options = ExtractionOptions(precision="bf16", use_cache=False)
    hidden = stacked(FeatureExtractor(load_encoder(tiny_bert), options, CPU).extract(pud_small,
                                                                                     "fr"))
    assert hidden.dtype == torch.float32
    representable = hidden == hidden.to(torch.bfloat16).float()
    assert representable.float().mean() < 0.5


def test_concurrent_fillers_of_one_cache_entry_extract_once(tiny_bert: Path,
                                                            pud_small: ParallelCorpus,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two extractors asking for the same entry at once: the second waits for the first to
    write it, then reads it (on a shared cache, racing writers would both extract and swap
    the entry under each other)."""
    import threading

    from alignscope.analysis import features as module

    encoder = load_encoder(tiny_bert)
    first_running, second_trying, release = (threading.Event() for _ in range(3))
    runs: list[str] = []
    real_run, real_lock = FeatureExtractor._run, getattr(module, "file_lock", None)

    def counted_run(self: FeatureExtractor, *args: object, **kwargs: object) -> object:
        runs.append(threading.current_thread().name)
        if threading.current_thread().name == "first":
            first_running.set()
            release.wait(60)
        else:
            second_trying.set()
        return real_run(self, *args, **kwargs)

    def announced_lock(path: Path) -> object:
        if threading.current_thread().name == "second":
            second_trying.set()
        return real_lock(path)

    monkeypatch.setattr(FeatureExtractor, "_run", counted_run)
    monkeypatch.setattr(module, "file_lock", announced_lock, raising=False)
    results: dict[str, object] = {}

    def extract() -> None:
        results[threading.current_thread().name] = FeatureExtractor(
            encoder, ExtractionOptions(), CPU).extract(pud_small, "fr")

    threads = [threading.Thread(target=extract, name=name) for name in ("first", "second")]
    threads[0].start()
    assert first_running.wait(60)
    threads[1].start()
    assert second_trying.wait(60)  # the second is waiting on the entry (or extracting)
    release.set()
    for thread in threads:
        thread.join(60)
    assert runs == ["first"]
    assert results["second"].from_cache  # type: ignore[attr-defined]
    assert torch.equal(stacked(results["first"]), stacked(results["second"]))  # type: ignore[arg-type]

"""Causal (decoder-only) models: batched, right-padded extraction equals one sentence per
forward for every pooling, word anchors sit on the last subword, bf16 models give float32."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from alignscope.analysis.features import ExtractionOptions, FeatureExtractor, Features
from alignscope.data.parallel import ParallelCorpus
from alignscope.models.encoder import Encoder, load_encoder

CPU = torch.device("cpu")


def stacked(features: Features) -> torch.Tensor:
    """Every layer at once, [layers, rows, dim] (the analyses read one layer at a time)."""
    return torch.stack([features.layer(k) for k in range(features.num_layers)])


TEMPLATE = 'This sentence: "{sentence}" means in one word:'


def by_hand(encoder: Encoder, corpus: ParallelCorpus, lang: str, pooling: str) -> torch.Tensor:
    """One unpadded forward per sentence (no attention mask), positions and weights by hand."""
    tokenizer, rows = encoder.tokenizer, []
    for text, words in zip(corpus.texts[lang], corpus.words[lang], strict=True):
        if pooling == "word":
            encoding = tokenizer(list(words), is_split_into_words=True)
            word_ids = encoding.word_ids()
            keep = [i for i, w in enumerate(word_ids)  # each word's last piece
                    if w is not None and (i + 1 == len(word_ids) or word_ids[i + 1] != w)]
            weights = None
        else:
            source = TEMPLATE.replace("{sentence}", text) if pooling == "prompt-last" else text
            encoding = tokenizer(source, return_special_tokens_mask=True, truncation=True,
                                 max_length=encoder.max_tokens())  # 256: long prompts are cut
            n = len(encoding["input_ids"])
            if pooling == "mean":
                keep = [i for i, s in enumerate(encoding["special_tokens_mask"]) if not s]
                weights = torch.full((len(keep),), 1 / len(keep))
            elif pooling == "weighted-mean":
                keep = list(range(n))
                weights = torch.arange(1, n + 1) / (n * (n + 1) / 2)
            else:
                keep, weights = [n - 1], torch.ones(1)
        with torch.inference_mode():
            states = encoder.model(input_ids=torch.tensor([encoding["input_ids"]]),
                                   output_hidden_states=True).hidden_states
        chosen = torch.stack(states)[:, 0, keep].float()  # [layers, kept, dim]
        rows.append(chosen if weights is None else
                    (chosen * weights[None, :, None]).sum(1, keepdim=True))
    return torch.cat(rows, 1)


@pytest.mark.parametrize("family", ["gpt2", "llama", "gemma3"])
@pytest.mark.parametrize("pooling", ["mean", "weighted-mean", "last", "prompt-last", "word"])
def test_batched_equals_one_at_a_time(families: dict[str, Path], pud_small: ParallelCorpus,
                                      family: str, pooling: str) -> None:
    encoder = load_encoder(families[family])
    encoder.tokenizer.padding_side = "left"  # as many LLM tokenizers ship: extraction ignores it
    assert encoder.is_causal
    options = ExtractionOptions(pooling=pooling, batch_tokens=400, use_cache=False,
                                prompt_template=TEMPLATE if pooling == "prompt-last" else None)
    corpus = pud_small
    if pooling == "word":  # the reference reads a sentence in one forward: only those that fit
        corpus = pud_small.select([i for i, words in enumerate(pud_small.words["de"]) if len(
            encoder.tokenizer(list(words), is_split_into_words=True).input_ids) <= 256])
        assert len(corpus) >= 30
    extractor = FeatureExtractor(encoder, options, CPU)
    features = extractor.extract(corpus, "de")
    assert extractor.stats.batches > 1 and extractor.stats.padded_tokens > extractor.stats.tokens
    expected = by_hand(encoder, corpus, "de", pooling)
    assert stacked(features).shape == expected.shape == (4, expected.shape[1], 32)
    torch.testing.assert_close(stacked(features), expected, atol=1e-5, rtol=1e-4)


def test_bf16_model_gives_float32_features(families: dict[str, Path],
                                           pud_small: ParallelCorpus) -> None:
    encoder = load_encoder(families["llama"])
    full = stacked(FeatureExtractor(encoder, ExtractionOptions(use_cache=False), CPU).extract(
        pud_small, "en"))
    encoder.model.to(torch.bfloat16)
    half = stacked(FeatureExtractor(encoder, ExtractionOptions(use_cache=False), CPU).extract(
        pud_small, "en"))
    assert half.dtype == torch.float32
    # The mean is taken in float32: most values are not bf16 numbers.
    assert (half != half.to(torch.bfloat16).float()).float().mean() > 0.5
    torch.testing.assert_close(half, full, atol=0.1, rtol=0.05)

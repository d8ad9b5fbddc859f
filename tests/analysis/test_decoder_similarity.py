"""Slow: the real Gemma 3 270M decoder (ALIGNSCOPE_DECODER_DIR) against an independent
computation of linear CKA and MEXA: plain transformers, one sentence per forward pass, float32,
the mean over the tokens after <bos>, numpy measures from their definitions."""

from __future__ import annotations

from pathlib import Path

import pytest
from numpy_reference import linear_cka, mexa, plain_features

from alignscope.analysis.similarity import SimilarityConfig, run_similarity
from alignscope.data.parallel import ParallelCorpus


@pytest.mark.slow
def test_gemma3_linear_cka_and_mexa_equal_a_plain_computation(
        decoder_dir: Path, data_slices: Path, pud_full: ParallelCorpus) -> None:
    result = run_similarity(SimilarityConfig(
        model=str(decoder_dir), targets=("fr",), data_dir=str(data_slices), max_sentences=40,
        controls=(), measures=("linear", "mexa"), device="cpu"))
    position = {sent_id: i for i, sent_id in enumerate(pud_full.ids)}
    chosen = [position[sent_id] for sent_id in result["parallel"]["ids"]]
    en, fr = (plain_features(decoder_dir, [pud_full.texts[lang][i] for i in chosen])
              for lang in ("en", "fr"))
    assert en.shape == (19, 40, 640)
    values = result["results"]
    for layer in range(19):
        assert values["linear"]["parallel"]["fr"][layer] == pytest.approx(
            linear_cka(en[layer], fr[layer]), abs=1e-5)
        assert values["mexa"]["parallel"]["fr"][layer] == pytest.approx(
            mexa(en[layer], fr[layer]), abs=1e-12)
    # A few dimensions of huge activation dominate the middle blocks (docs/analysis.md).
    assert max(result["dimensions"]["cosine_top3"]["en"][1:17]) > 0.9

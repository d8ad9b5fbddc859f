"""Slow: `--model gemma-3-270m-q4_k_m.gguf` (ALIGNSCOPE_DECODER_GGUF) gives the tokens and
hidden states of the checkpoint built from the same file (ALIGNSCOPE_DECODER_DIR). The first
run converts the file's config and tokenizer into $ALIGNSCOPE_CACHE/gguf (about 2 minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from alignscope.data.conllu import read_conllu
from alignscope.models.encoder import load_encoder


@pytest.mark.slow
def test_the_gguf_file_equals_the_built_checkpoint(decoder_dir: Path, decoder_gguf: Path,
                                                   data_slices: Path) -> None:
    from_gguf, built = load_encoder(decoder_gguf), load_encoder(decoder_dir)
    info = json.loads((decoder_dir / "conversion_info.json").read_text(encoding="utf-8"))
    assert from_gguf.gguf["sha256"] in json.dumps(info)
    assert from_gguf.gguf["architecture"] == "gemma3"
    assert {"Q4_K", "Q5_0", "Q8_0", "F32"} <= set(from_gguf.gguf["quantisation"])
    assert type(from_gguf.model) is type(built.model) and from_gguf.num_blocks == 18
    texts = [" ".join(s.words) for lang in ("en", "zh", "ja", "ru") for s in read_conllu(
        next(data_slices.glob(f"ud/UD_*-PUD/{lang}_pud-ud-test.conllu")), limit=5)]
    for text in texts:
        ids = built.tokenizer(text)["input_ids"]
        assert from_gguf.tokenizer(text)["input_ids"] == ids
        with torch.inference_mode():
            ours, theirs = (torch.stack(m(input_ids=torch.tensor([ids]),
                                          output_hidden_states=True).hidden_states)[:, 0]
                            for m in (from_gguf.model, built.model))
        error = (ours - theirs).norm(dim=-1) / theirs.norm(dim=-1)
        assert error.max() < 1e-4, text  # the same dequantised weights

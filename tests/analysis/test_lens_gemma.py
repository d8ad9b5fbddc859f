"""The lens on the offline Gemma 3 270M (ALIGNSCOPE_DECODER_DIR, built by
../shared/tools/make_offline_decoder.py): every recorded probability, recomputed from the
recorded token ids through Gemma's final norm ((1 + w) RMSNorm) and its tied unembedding,
written out here, agrees to 1e-4; the last layer is the model's own prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from alignscope.analysis.lens.run import run_lens
from alignscope.analysis.llm_settings import LensConfig


@pytest.mark.slow
@torch.no_grad()
def test_recorded_probabilities_recompute_through_norm_and_unembedding(decoder_dir: Path) -> None:
    torch.set_num_threads(1)
    result = run_lens(LensConfig(model=str(decoder_dir), languages=("fr", "zh"), sources=("de",),
                                 tasks=("translation",), lenses=("logit",), max_items=2,
                                 device="cpu"))
    assert result["readout"]["max_relative_difference"] < 1e-5
    model = AutoModelForCausalLM.from_pretrained(decoder_dir, dtype=torch.float32).eval()
    norm, unembedding = model.model.norm.weight.double(), model.model.embed_tokens.weight.double()
    eps = model.config.rms_norm_eps
    assert len(result["items"]) >= 3  # of 4: a collision with the English answer drops one
    for item in result["items"]:
        output = model(input_ids=torch.tensor([item["input_ids"]]), output_hidden_states=True)
        states = [h[0, item["position"]].double() for h in output.hidden_states[:-1]]
        logits = [unembedding @ (h / torch.sqrt(h.pow(2).mean() + eps) * (1 + norm))
                  for h in states] + [output.logits[0, item["position"]].double()]
        assert len(logits) == len(result["layers"]) == 19
        for layer, values in enumerate(logits):
            p = torch.softmax(values, -1).numpy()
            recorded = item["values"]["logit"]
            assert recorded["target.prob"][layer] == pytest.approx(
                float(p[item["target_ids"]].sum()), abs=1e-4)
            assert recorded["latent.en.prob"][layer] == pytest.approx(
                float(p[item["latent_ids"]["en"]].sum()), abs=1e-4)
            assert recorded["top_token"][layer] == int(np.argmax(p))

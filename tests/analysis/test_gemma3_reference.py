"""Gemma 3 features and measures against a reference written from the architecture itself.

The tiny Gemma 3 (tests/conftest.py) has sliding-window and global layers with a window of 4
tokens, so the window cuts every real sentence; it is saved as `Gemma3ForCausalLM` with tied
embeddings, as the real checkpoint is. The reference shares no code with transformers or
alignscope: it reads the safetensors weights and runs Gemma 3's forward pass in float64, one
sentence at a time without any mask or padding (sqrt(d) embedding scale, (1 + w) RMSNorms,
q/k norms, NEOX rope with a local and a global base, query_pre_attn_scalar, the sliding window,
sandwich norms, gelu-tanh MLP, final norm on the last state), and mean-pools the tokens after
<bos>. Linear CKA and MEXA are then computed with numpy from their published definitions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy_reference import linear_cka, mexa
from safetensors.torch import load_file
from transformers import AutoConfig, PreTrainedTokenizerFast

from alignscope.analysis.features import ExtractionOptions, FeatureExtractor
from alignscope.analysis.similarity import SimilarityConfig, run_similarity
from alignscope.data.parallel import ParallelCorpus
from alignscope.models.encoder import load_encoder


@pytest.fixture(scope="module")
def gemma3_causal(families: dict[str, Path], family_model: Any,
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Gemma 3 as a causal LM checkpoint (`model.` prefix, tied lm_head)."""
    config = AutoConfig.from_pretrained(families["gemma3"])
    config.architectures = ["Gemma3ForCausalLM"]
    directory = family_model(config, PreTrainedTokenizerFast.from_pretrained(families["gemma3"]),
                             tmp_path_factory.mktemp("gemma3_causal"), seed=1, head=True)
    assert "lm_head.weight" not in load_file(directory / "model.safetensors")  # tied
    return directory


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * (1 + weight)


def _rope(x: torch.Tensor, base: float) -> torch.Tensor:
    """NEOX rotary embedding of x [heads, T, head_dim] at positions 0..T-1."""
    half = x.shape[-1] // 2
    inverse = base ** -(torch.arange(half, dtype=torch.float64) / half)
    angles = torch.arange(x.shape[1], dtype=torch.float64)[:, None] * inverse
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


def gemma3_states(folder: Path, ids: list[int]) -> list[torch.Tensor]:
    """Every hidden state [T, d] (embeddings, then each block's output) of one sentence."""
    config = json.loads((folder / "config.json").read_text())
    weights = {k.removeprefix("model."): v.double()
               for k, v in load_file(folder / "model.safetensors").items()}
    eps, heads, kv_heads = config["rms_norm_eps"], config["num_attention_heads"], \
        config["num_key_value_heads"]
    head_dim, length = config["head_dim"], len(ids)
    x = weights["embed_tokens.weight"][ids] * math.sqrt(config["hidden_size"])
    states = [x]
    query, key = torch.arange(length)[:, None], torch.arange(length)[None]
    for index, kind in enumerate(config["layer_types"]):
        w = {k.removeprefix(f"layers.{index}."): v for k, v in weights.items()
             if k.startswith(f"layers.{index}.")}
        h = _rms(x, w["input_layernorm.weight"], eps)

        q, k, v = ((h @ w[f"self_attn.{name}_proj.weight"].T).view(length, count, head_dim)
                   .transpose(0, 1) for name, count in (("q", heads), ("k", kv_heads),
                                                        ("v", kv_heads)))
        base = config["rope_parameters"][kind]["rope_theta"]
        q = _rope(_rms(q, w["self_attn.q_norm.weight"], eps), base)
        k = _rope(_rms(k, w["self_attn.k_norm.weight"], eps), base)
        k, v = (t.repeat_interleave(heads // kv_heads, 0) for t in (k, v))
        allowed = key <= query
        if kind == "sliding_attention":
            allowed &= query - key < config["sliding_window"]
        scores = (q @ k.transpose(1, 2)) * config["query_pre_attn_scalar"] ** -0.5
        attended = scores.masked_fill(~allowed, -torch.inf).softmax(-1) @ v
        out = attended.transpose(0, 1).reshape(length, -1) @ w["self_attn.o_proj.weight"].T
        x = x + _rms(out, w["post_attention_layernorm.weight"], eps)
        h = _rms(x, w["pre_feedforward_layernorm.weight"], eps)
        gate = h @ w["mlp.gate_proj.weight"].T
        gelu = 0.5 * gate * (1 + torch.tanh(math.sqrt(2 / math.pi) * (gate + 0.044715 * gate**3)))
        mlp = (gelu * (h @ w["mlp.up_proj.weight"].T)) @ w["mlp.down_proj.weight"].T
        x = x + _rms(mlp, w["post_feedforward_layernorm.weight"], eps)
        states.append(x)
    states[-1] = _rms(x, weights["norm.weight"], eps)
    return states


def reference_features(folder: Path, texts: tuple[str, ...]) -> np.ndarray:
    """[layers, sentences, d]: the mean over the tokens after <bos>, one sentence at a time."""
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    rows = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == tokenizer.bos_token_id and len(ids) > 6  # longer than the window
        rows.append(torch.stack([s[1:].mean(0) for s in gemma3_states(folder, ids)]).numpy())
    return np.stack(rows, 1)


def test_batched_gemma3_features_equal_the_reference(gemma3_causal: Path,
                                                     pud_small: ParallelCorpus) -> None:
    encoder = load_encoder(gemma3_causal)
    assert encoder.is_causal and type(encoder.model).__name__ == "Gemma3TextModel"
    extractor = FeatureExtractor(encoder, ExtractionOptions(batch_tokens=300, use_cache=False),
                                 torch.device("cpu"))
    features = extractor.extract(pud_small, "fr")
    assert extractor.stats.batches > 1 and extractor.stats.padded_tokens > extractor.stats.tokens
    tool = np.stack([features.layer(k).numpy() for k in range(features.num_layers)])
    expected = reference_features(gemma3_causal, pud_small.texts["fr"])
    assert tool.shape == expected.shape == (4, len(pud_small), 32)
    np.testing.assert_allclose(tool, expected, rtol=1e-4, atol=1e-5)


def test_gemma3_linear_cka_and_mexa_equal_the_reference(gemma3_causal: Path, pud_text: str,
                                                        pud_small: ParallelCorpus) -> None:
    result = run_similarity(SimilarityConfig(
        model=str(gemma3_causal), targets=("fr",), parallel=pud_text, controls=(),
        measures=("linear", "mexa"), device="cpu"))
    assert result["parallel"]["ids"] == [str(i) for i in range(1, len(pud_small) + 1)]
    en = reference_features(gemma3_causal, pud_small.texts["en"])
    fr = reference_features(gemma3_causal, pud_small.texts["fr"])
    values = result["results"]
    for layer in range(en.shape[0]):
        assert values["linear"]["parallel"]["fr"][layer] == pytest.approx(
            linear_cka(en[layer], fr[layer]), abs=1e-6)
        assert values["mexa"]["parallel"]["fr"][layer] == pytest.approx(
            mexa(en[layer], fr[layer]), abs=1e-12)
    assert len({round(v, 6) for v in values["linear"]["parallel"]["fr"]}) == 4  # not degenerate

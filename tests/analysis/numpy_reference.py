"""The similarity measures written from their published definitions in plain numpy, and
features computed the plain way, for tests (and benchmarks/reference_similarity.py) that check
alignscope's values against an independent computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019): ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), columns centred."""
    x, y = x - x.mean(0), y - y.mean(0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def mexa(x: np.ndarray, y: np.ndarray) -> float:
    """MEXA (Kargaran et al. 2025): the share of i whose cosine C[i, i] is strictly greater than
    every other entry of row i and of column i."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    c = x @ y.T
    return float(np.mean([c[i, i] > max(np.delete(c[i], i).max(), np.delete(c[:, i], i).max())
                          for i in range(len(c))]))


def z_scores(x: np.ndarray) -> np.ndarray:
    """Each column centred and divided by its (population) standard deviation."""
    return (x - x.mean(0)) / x.std(0)


def plain_features(folder: Path | str, texts: list[str]) -> np.ndarray:
    """[layers, sentences, dim] float64: one sentence per forward pass of the model as a user
    loads it (with its LM head, for a decoder), float32, the mean over the tokens the tokenizer
    does not mark as special (<bos>, [CLS], [SEP])."""
    causal = AutoConfig.from_pretrained(folder).model_type not in {"bert", "xlm-roberta"}
    model = (AutoModelForCausalLM if causal else AutoModel).from_pretrained(
        folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = []
    with torch.no_grad():
        for text in texts:
            encoded = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
            keep = encoded.pop("special_tokens_mask")[0] == 0
            states = model(**encoded, output_hidden_states=True).hidden_states
            rows.append(np.stack([s[0][keep].double().mean(0).numpy() for s in states]))
    return np.stack(rows, axis=1)

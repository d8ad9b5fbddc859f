"""The authors' released similarity procedure, re-implemented for timing and value checks.

Source: github.com/benjamin-mlr/first-align-then-predict, `measure_similarity.py` with
`hidden_similarity/utils.py` and the RBF `kernel_CKA` it imports (the CKA code of
Kornblith et al. as commonly ported to numpy). Re-written here, behaviour kept:

* sentences are the first `n_sent_total` `# text =` lines of each CoNLL-U file, read by
  position (PUD files happen to share their order here; alignscope aligns by sent_id);
* `batch_size = n // 4`, `n // batch_size` batches, batch i = sentences [i, i + batch_size)
  (the slice starts at i, not i * batch_size);
* for every batch, the source language is run once more, then every language of
  [source] + targets (the source included), one sentence per forward pass, without
  `torch.no_grad`, on "[CLS] text [SEP]" encoded *with* special tokens; inputs of
  `max_seq_len` tokens or more are cut to max_seq_len - 1 and get encode("[SEP]") appended;
* a sentence vector is the mean of all hidden-state positions but the first and the last;
* per layer, numpy RBF CKA between the two [batch, hidden] matrices: an explicit n x n
  centring matrix, sigma^2 = median of the non-zero squared distances, each side its own;
* the report holds the mean and std over batches for every pair but source-source.

The only departures: the model's own layer count and width instead of mBERT's asserted 13 x
768, and no CUDA branch (CPU only here).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer


def load_data(path: Path, line_filter: str = "# text =", id_end: int = 800) -> list[str]:
    """The first `id_end` lines starting with `line_filter`, the prefix removed."""
    data: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith(line_filter):
                continue
            if len(data) < id_end:
                data.append(line[len(line_filter):].strip())
    if len(data) != id_end:
        raise ValueError(f"{path}: {len(data)} sentences, {id_end} requested")
    return data


def hidden_representations(texts: list[str], model: torch.nn.Module, tokenizer,
                           max_len: int) -> OrderedDict[str, list[torch.Tensor]]:
    """layer name -> one [1, tokens, hidden] tensor per sentence, one forward each."""
    model.eval()
    per_layer: OrderedDict[str, list[torch.Tensor]] = OrderedDict()
    for text in texts:
        ids = tokenizer.encode(f"{tokenizer.cls_token} {text} {tokenizer.sep_token}")
        if len(ids) >= max_len:
            ids = ids[:max_len - 1] + tokenizer.encode(tokenizer.sep_token)
        inputs = torch.tensor(ids).unsqueeze(0)
        mask = torch.ones_like(inputs)
        output = model(input_ids=inputs, attention_mask=mask)
        states = output[2]
        for index, state in enumerate(states):
            per_layer.setdefault(f"layer_{index}", []).append(state.detach())
    return per_layer


def centering(k: np.ndarray) -> np.ndarray:
    n = k.shape[0]
    h = np.eye(n) - np.ones([n, n]) / n
    return np.dot(np.dot(h, k), h)


def rbf(x: np.ndarray, sigma: float | None = None) -> np.ndarray:
    gx = np.dot(x, x.T)
    kx = np.diag(gx) - gx + (np.diag(gx) - gx).T
    if sigma is None:
        sigma = math.sqrt(np.median(kx[kx != 0]))
    kx *= -0.5 / (sigma * sigma)
    return np.exp(kx)


def kernel_hsic(x: np.ndarray, y: np.ndarray, sigma: float | None) -> float:
    return float(np.sum(centering(rbf(x, sigma)) * centering(rbf(y, sigma))))


def kernel_cka(x: np.ndarray, y: np.ndarray, sigma: float | None = None) -> float:
    hsic = kernel_hsic(x, y, sigma)
    return hsic / (math.sqrt(kernel_hsic(x, x, sigma)) * math.sqrt(kernel_hsic(y, y, sigma)))


def sentence_means(states: list[torch.Tensor]) -> np.ndarray:
    return np.array([np.array(s[0, 1:-1, :].mean(dim=0).cpu()) for s in states])


def measure_similarity(model_name: str, files: dict[str, Path], source: str,
                       targets: list[str], n_sent_total: int = 800,
                       max_seq_len: int = 200) -> dict[str, dict[str, dict[str, float]]]:
    """`{source}-{target}` -> layer name -> cka_mean / cka_std / cka_batch_size / cka_n_batch."""
    config = AutoConfig.from_pretrained(model_name, output_hidden_states=True)
    model = AutoModel.from_pretrained(model_name, config=config)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    languages = [source, *targets]
    data = OrderedDict((lang, load_data(files[lang], id_end=n_sent_total)) for lang in languages)
    batch_size = len(data[source]) // 4
    n_batch = len(data[source]) // batch_size
    scores: OrderedDict[str, OrderedDict[str, list[float]]] = OrderedDict(
        (f"{source}-{lang}", OrderedDict()) for lang in languages)
    for i_data in range(n_batch):
        source_texts = load_data(files[source], id_end=n_sent_total)  # re-read, as released
        source_states = hidden_representations(source_texts[i_data:i_data + batch_size], model,
                                               tokenizer, max_seq_len)
        for lang, texts in data.items():
            target_states = hidden_representations(texts[i_data:i_data + batch_size], model,
                                                   tokenizer, max_seq_len)
            for layer in target_states:
                value = kernel_cka(sentence_means(source_states[layer]),
                                   sentence_means(target_states[layer]))
                scores[f"{source}-{lang}"].setdefault(layer, []).append(value)
    return {pair: {layer: {"cka_mean": float(np.mean(v)), "cka_std": float(np.std(v)),
                           "cka_batch_size": batch_size, "cka_n_batch": len(v)}
                   for layer, v in layers.items()}
            for pair, layers in scores.items() if pair != f"{source}-{source}"}

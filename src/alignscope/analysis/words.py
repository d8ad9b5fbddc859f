"""Word translation retrieval per layer, checked against the lab's ground truth (its lexicon).

For each layer, every word type of a language gets one vector: the mean of its contextual
vectors (read where the task heads read a word: `word` pooling) over its occurrences in the
parallel sentences, centred by the language's mean word vector (what every word of a language
shares is not what tells a translation). A source word is retrieved when its nearest target
word type by cosine is its translation in the lexicon (precision at 1, chance = 1 / target
types). Anchors (words written alike in both languages) are left out of the queries: at the
embeddings they are found by identity, not by alignment; they remain candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from alignscope.analysis.features import ExtractionOptions, FeatureExtractor, Features
from alignscope.data.parallel import ParallelCorpus, load_parallel
from alignscope.lab.dictionary import Lexicon, read_lexicon
from alignscope.layer_names import layer_names
from alignscope.models.encoder import load_encoder

PARALLEL = "ud:labpud"


def word_retrieval(model: str | Path, corpus: str | Path, source: str, targets: Sequence[str],
                   max_sentences: int | None = None, device: str = "cpu") -> dict[str, Any]:
    """Precision at 1 of retrieving each source word's translation among the target word
    types, per target language and layer, on the corpus' parallel set."""
    lexicon = read_lexicon(corpus)
    languages = [source, *targets]
    parallel = load_parallel(PARALLEL, languages, corpus)
    if max_sentences:
        parallel = parallel.select(range(min(max_sentences, len(parallel))))
    encoder = load_encoder(str(model))
    extractor = FeatureExtractor(encoder, ExtractionOptions(pooling="word", use_cache=False),
                                 torch.device(device))
    features = extractor.extract_all(parallel, languages)
    names = layer_names(features[source].num_layers - 1)
    forms = {lang: _row_forms(parallel, lang, features[lang]) for lang in languages}
    results: dict[str, Any] = {}
    for target in targets:
        queries, answers, candidates = _queries(lexicon, source, target, forms)
        scores = []
        for layer in range(len(names)):
            source_types = _type_vectors(features[source].layer(layer), forms[source])
            target_types = _type_vectors(features[target].layer(layer), forms[target])
            scores.append(_precision_at_1(source_types, target_types, queries, answers))
        results[target] = {"precision_at_1": scores, "queries": len(queries),
                           "candidates": candidates, "chance": 1 / candidates}
    return {"source": source, "layers": names, "sentences": len(parallel),
            "model": str(model), "targets": results}


def _row_forms(parallel: ParallelCorpus, language: str,
               features: Features) -> tuple[Tensor, list[str]]:
    """(type index of each feature row, the types in order of first occurrence)."""
    words = parallel.words[language]
    types: dict[str, int] = {}
    index = [types.setdefault(words[int(s)][int(w)], len(types))
             for s, w in zip(features.row_sentence, features.row_word, strict=True)]
    return torch.tensor(index), list(types)


def _queries(lexicon: Lexicon, source: str, target: str,
             forms: dict[str, tuple[Tensor, list[str]]],
             ) -> tuple[list[int], list[set[int]], int]:
    """Source type indices to retrieve, the target type indices that are right for each, and
    the number of target types (the candidates)."""
    translations = lexicon.translations(source, target)
    target_index = {form: i for i, form in enumerate(forms[target][1])}
    queries, answers = [], []
    for i, form in enumerate(forms[source][1]):
        right = {target_index[t] for t in translations.get(form, ()) if t in target_index}
        if right and form not in translations[form]:  # anchors are not queries
            queries.append(i)
            answers.append(right)
    return queries, answers, len(target_index)


def _type_vectors(rows: Tensor, forms: tuple[Tensor, list[str]]) -> Tensor:
    """Mean vector per type, centred by the mean over types, in unit length."""
    index, types = forms
    sums = torch.zeros(len(types), rows.shape[1], dtype=torch.float64)
    sums.index_add_(0, index, rows.to(torch.float64))
    counts = torch.bincount(index, minlength=len(types)).clamp_min(1).unsqueeze(1)
    means = sums / counts
    means = means - means.mean(0, keepdim=True)
    return means / means.norm(dim=1, keepdim=True).clamp_min(1e-30)


def _precision_at_1(source: Tensor, target: Tensor, queries: list[int],
                    answers: list[set[int]]) -> float | None:
    if not queries:
        return None
    best = (source[queries] @ target.T).argmax(dim=1).tolist()
    return sum(pick in right for pick, right in zip(best, answers, strict=True)) / len(queries)

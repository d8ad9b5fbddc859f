"""`alignscope lens`: which language a model's layers think in (Wendler et al. 2024), with the
logit lens and a tuned lens trained on parallel text of every language studied.

`run_lens(LensConfig(...), out)` builds the task items from the word list (tasks.py), reads
the model's residual stream at each item's answer position and decodes every layer through the
model's own readout (compute.py, models/readout.py), optionally after the tuned lens's
translators (tuned.py: loaded with `tuned_lens`, or trained here and saved into the run
folder's `tuned-lens/`), and writes lens.json (per-layer curves with intervals, and every item
with its prompt, token ids and per-layer values) and curves.csv.
"""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path
from typing import Any

import torch

from alignscope.analysis.lens.answers import Answers
from alignscope.analysis.lens.compute import curves, run_items, sentence_states
from alignscope.analysis.lens.tasks import (
    ItemCounts,
    PromptOptions,
    Reader,
    build_items,
    task_specs,
)
from alignscope.analysis.lens.tuned import (
    TrainingOptions,
    TunedLens,
    heldout_kl,
    load_tuned_lens,
    model_signature,
    train_tuned_lens,
    training_meta,
)
from alignscope.analysis.lens.words import read_words
from alignscope.analysis.llm_settings import LensConfig
from alignscope.analysis.outputs import clean, write_run
from alignscope.data.parallel import ParallelCorpus, load_parallel
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.layer_names import layer_names
from alignscope.models.encoder import Encoder
from alignscope.models.readout import Readout, find_readout
from alignscope.progress import progress_bar
from alignscope.runs import make_result, run_origin
from alignscope.runtime import device_description

TUNED_DIR = "tuned-lens"


def _tuned(config: LensConfig, encoder: Encoder, readout: Readout, device: torch.device,
           corpus: ParallelCorpus | None, show_progress: bool) -> tuple[TunedLens, dict[str, Any]]:
    """The tuned lens: loaded, or trained on `corpus` and evaluated on held-out text."""
    if corpus is None:
        assert config.tuned_lens is not None
        lens, meta = load_tuned_lens(config.tuned_lens, encoder)
        return lens.to(device), {"path": str(config.tuned_lens), "trained_here": False, **meta}
    languages = config.all_languages
    order = list(range(len(corpus)))
    random.Random(config.seed).shuffle(order)
    held = max(1, round(config.heldout * len(order)))
    if len(order) - held < 1:
        raise ConfigError(f"{len(order)} parallel sentences leave none to train the tuned lens on")
    parts = {"train": sorted(order[held:]), "heldout": sorted(order[:held])}
    precision = config.autocast(device)

    def states(part: str, lang: str, tokens: int) -> torch.Tensor:
        texts = [corpus.texts[lang][i] for i in parts[part]]
        return sentence_states(encoder, texts, device, precision, config.batch_tokens, tokens)

    train = torch.cat([states("train", lang, config.train_tokens) for lang in languages], dim=1)
    options = TrainingOptions(config.tuned_steps, config.tuned_batch, config.tuned_lr, config.seed)
    with progress_bar(show_progress) as bar:
        task = bar.add_task("tuned lens", total=options.steps, status="")
        lens, history = train_tuned_lens(readout, train.to(device), options, precision,
                                         lambda: bar.advance(task))
    evaluation: dict[str, dict[str, list[float]]] = {"logit": {}, "tuned": {}}
    for lang in languages:
        held_states = states("heldout", lang, config.heldout_tokens).to(device)
        evaluation["logit"][lang] = heldout_kl(readout, held_states, None, precision)
        evaluation["tuned"][lang] = heldout_kl(readout, held_states, lens, precision)
    meta = {"model": model_signature(encoder), "layers": layer_names(encoder.num_blocks),
            "languages": languages, "parallel": config.parallel,
            "sentences": {part: len(ids) for part, ids in parts.items()},
            "tokens": {"train": int(train.shape[1]), "heldout_per_language": config.heldout_tokens},
            "training": training_meta(options, history),
            "heldout_kl_bits": evaluation}
    return lens, {"path": TUNED_DIR, "trained_here": True, **meta}


def run_lens(config: LensConfig, out: str | Path | None = None, overwrite: bool = False,
             show_progress: bool = False) -> dict[str, Any]:
    """Run the lenses; write `out` (lens.json, curves.csv, tuned-lens/, figures) if given."""
    started = time.perf_counter()
    out_dir = config.prepared(config.model, out, overwrite)
    words = read_words(config.words)
    words.check_languages(config.all_languages)
    trains_tuned = "tuned" in config.lenses and config.tuned_lens is None
    corpus = load_parallel(config.parallel, config.all_languages, config.data_dir) \
        if trains_tuned else None
    encoder, device = config.load_model(config.model, head=True)
    readout = find_readout(encoder)
    reader = Reader(encoder.tokenizer, encoder.is_causal, encoder.max_tokens(None))
    specs = task_specs(tuple(config.tasks), tuple(config.languages), config.translation_sources)
    prompts = PromptOptions(config.demos, config.cloze_demos, config.seed,
                            dict(config.language_names))
    items, counts = build_items(words, specs, reader,
                                Answers(encoder.tokenizer, config.answer_tokens),
                                tuple(config.latent), prompts, config.max_items)
    if not items:
        raise AlignscopeError(f"no usable item: {_dropped(counts)}",
                              "choose languages and tasks the word list covers (cloze needs "
                              "cloze texts), or --answer-tokens first")
    lenses: dict[str, TunedLens | None] = {"logit": None} if "logit" in config.lenses else {}
    tuned_meta = None
    if "tuned" in config.lenses:
        tuned, tuned_meta = _tuned(config, encoder, readout, device, corpus, show_progress)
        lenses["tuned"] = tuned
    with progress_bar(show_progress) as bar:
        task = bar.add_task("lens items", total=len(items), status="")
        difference = run_items(encoder, readout, items, lenses, device,
                               config.autocast(device), config.batch_tokens,
                               lambda n: bar.advance(task, n))
    layers = layer_names(encoder.num_blocks)
    result = make_result("lens", {
        "layers": layers, "languages": list(config.languages), "latent": list(config.latent),
        "tasks": list(config.tasks), "lenses": list(lenses),
        "words": {"source": words.source, "layout": words.layout,
                  "concepts": len(words.concepts), "duplicates": words.duplicates},
        "answer_tokens": config.answer_tokens,
        "readout": {**readout.parts, "max_relative_difference": difference},
        "tuned_lens": tuned_meta,
        "curves": curves(items, specs, list(lenses), config.confidence),
        "item_counts": counts.as_dict(),
        "items": [item.to_dict() for item in items],
        "device": device_description(device),
        "seconds": round(time.perf_counter() - started, 3),
    }, source_language=None, random_init=run_origin(config.model)[1],
        model={**encoder.record,
               "class": type(encoder.lm).__name__, "num_blocks": encoder.num_blocks},
        config=dataclasses.asdict(config))
    result = clean(result)
    if out_dir is not None:
        tuned = lenses.get("tuned")
        save = None
        if tuned is not None and tuned_meta is not None and tuned_meta["trained_here"]:
            meta = {k: v for k, v in tuned_meta.items() if k not in ("path", "trained_here")}
            save = lambda folder: tuned.save(folder / TUNED_DIR, meta)  # noqa: E731
        write_run(out_dir, result, {"curves.csv": curves_table(result)}, save)
    return result


def _dropped(counts: ItemCounts) -> str:
    totals = {reason: sum(counter.values()) for reason, counter in
              (("missing", counts.missing), ("no answer token", counts.no_token),
               ("collision with the latent answer", counts.collision),
               ("prompt too long", counts.too_long))}
    return ", ".join(f"{count} {reason}" for reason, count in totals.items() if count) or "none"


def curves_table(result: dict[str, Any]) -> str:
    """curves.csv: lens, task, metric, layer, mean, low, high, n."""
    lines = ["lens,task,metric,layer,mean,low,high,n"]
    for lens, by_task in result["curves"].items():
        for task, by_metric in by_task.items():
            for metric, curve in by_metric.items():
                for index, layer in enumerate(result["layers"]):
                    cells = [curve[f][index] for f in ("mean", "low", "high")]
                    shown = ["" if v is None else f"{v:.6g}" for v in cells]
                    lines.append(",".join([lens, task, metric, layer, *shown,
                                           str(curve["n"][index])]))
    return "\n".join(lines) + "\n"

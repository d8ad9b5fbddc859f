"""`alignscope neurons`: language-specific neurons (LAPE) and what silencing them does.

`run_neurons(NeuronsConfig(...), out)`:
1. splits the parallel sentences (seeded, the same sentences in every language) into a
   perplexity part (`ppl_sentences`) and a statistics part (the rest, or `max_sentences`);
2. counts, per language, how often every feed-forward neuron fires (activations.py) and saves
   the probabilities as `activation.safetensors` (`probability`: layers x neurons x languages,
   float32; `over_zero` counts; `tokens` per language);
3. selects the language-specific neurons (lape.py) and exports each language's mask as
   `masks/<lang>.json` ({"block.K": [neuron indices]});
4. with `deactivate`, measures every language's perplexity with nothing silenced, with each
   language's neurons silenced, and with as many random neurons silenced (the same count in
   every layer; the control), as languages x languages matrices of perplexity change
   (row: whose neurons are off; column: whose text is scored).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from alignscope.analysis.llm_settings import NeuronsConfig
from alignscope.analysis.neurons.activations import count_activations
from alignscope.analysis.neurons.deactivate import perplexity, prepare, random_like
from alignscope.analysis.neurons.lape import LapeOptions, Selection, select_neurons
from alignscope.analysis.outputs import clean, write_run
from alignscope.data.parallel import ParallelCorpus, load_parallel
from alignscope.errors import ConfigError
from alignscope.io import atomic_write_json
from alignscope.layer_names import block_name
from alignscope.models.encoder import Encoder
from alignscope.models.probes import ffn_activations
from alignscope.models.readout import find_readout
from alignscope.progress import progress_bar
from alignscope.runs import make_result, run_origin
from alignscope.runtime import device_description

ACTIVATION_FILE = "activation.safetensors"
MASKS_DIR = "masks"


def split(corpus: ParallelCorpus, config: NeuronsConfig) -> tuple[list[int], list[int]]:
    """(statistics sentences, perplexity sentences), the same in every language."""
    order = list(range(len(corpus)))
    random.Random(config.seed).shuffle(order)
    held = order[:config.ppl_sentences] if config.deactivate else []
    rest = order[len(held):]
    if not rest:
        raise ConfigError(f"{len(corpus)} sentences leave none for the statistics after "
                          f"{config.ppl_sentences} perplexity sentences",
                          "lower --ppl-sentences or give more text")
    if config.max_sentences is not None:
        rest = rest[:config.max_sentences]
    return sorted(rest), sorted(held)


def run_neurons(config: NeuronsConfig, out: str | Path | None = None, overwrite: bool = False,
                show_progress: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    out_dir = config.prepared(config.model, out, overwrite)
    languages = list(config.languages)
    corpus = load_parallel(config.parallel, languages, config.data_dir)
    statistics_part, ppl_part = split(corpus, config)
    encoder, device = config.load_model(config.model, head=config.deactivate)
    modules = [module for _, module in ffn_activations(encoder.model)]
    precision = config.autocast(device)

    with progress_bar(show_progress) as bar:
        counts = {}
        for lang in languages:
            task = bar.add_task(f"activations {lang}", total=len(statistics_part), status="")
            texts = [corpus.texts[lang][i] for i in statistics_part]
            counts[lang] = count_activations(encoder, texts, device, precision,
                                             config.batch_tokens,
                                             lambda n, task=task: bar.advance(task, n))
    over_zero = torch.stack([counts[lang].over_zero for lang in languages], dim=-1)
    tokens = torch.tensor([counts[lang].tokens for lang in languages])
    probability = over_zero.double() / tokens.double()
    lape = LapeOptions(config.top_rate, config.filter_rate, config.bar_ratio)
    selection = select_neurons(probability, lape)
    deactivation = None
    if config.deactivate:
        deactivation = _deactivation(encoder, corpus, ppl_part, languages, selection, modules,
                                     config, device, precision, show_progress)
    layers = [block_name(index) for index in range(probability.shape[0])]
    per_language = selection.counts()
    result = make_result("neurons", {
        "layers": layers, "languages": languages,
        "neurons_per_layer": int(probability.shape[1]),
        "activation_modules": [name for name, _ in ffn_activations(encoder.model)],
        "sentences": {"statistics": len(statistics_part), "perplexity": len(ppl_part)},
        "tokens": {lang: counts[lang].tokens for lang in languages},
        "mean_activation_probability": {lang: float(probability[..., k].mean())
                                        for k, lang in enumerate(languages)},
        "selection": selection.summary(lape),
        "counts": {lang: per_language[k].tolist() for k, lang in enumerate(languages)},
        "shared": _shared(selection, languages),
        "deactivation": deactivation,
        "device": device_description(device),
        "seconds": round(time.perf_counter() - started, 3),
    }, source_language=None, random_init=run_origin(config.model)[1],
        model={**encoder.record,
               "class": type(encoder.lm or encoder.model).__name__,
               "num_blocks": encoder.num_blocks}, config=dataclasses.asdict(config))
    result = clean(result)
    if out_dir is not None:
        def files(folder: Path) -> None:
            save_file({"probability": probability.float().contiguous(), "over_zero": over_zero,
                       "tokens": tokens}, str(folder / ACTIVATION_FILE),
                      metadata={"languages": json.dumps(languages), "layers": json.dumps(layers)})
            for k, lang in enumerate(languages):
                atomic_write_json(folder / MASKS_DIR / f"{lang}.json",
                                  {layer: selection.neurons(k)[i].tolist()
                                   for i, layer in enumerate(layers)})

        write_run(out_dir, result, {"counts.csv": counts_table(result)}, files)
    return result


def _shared(selection: Selection, languages: list[str]) -> dict[str, Any]:
    """How many selected neurons belong to 1, 2, ... languages at once."""
    owners = selection.masks.sum(0).flatten()
    return {str(k): int((owners == k).sum()) for k in range(1, len(languages) + 1)}


def _deactivation(encoder: Encoder, corpus: ParallelCorpus, part: list[int],
                  languages: list[str], selection: Selection, modules: list[torch.nn.Module],
                  config: NeuronsConfig, device: torch.device, precision: Any,
                  show_progress: bool) -> dict[str, Any]:
    readout = find_readout(encoder)
    scored = {lang: prepare(encoder, [corpus.texts[lang][i] for i in part], config.batch_tokens,
                            config.mask_rate, config.seed) for lang in languages}
    neurons = int(selection.masks.shape[-1])
    runs = 1 + 2 * len(languages)
    with progress_bar(show_progress) as bar:
        task = bar.add_task("perplexity", total=runs * len(languages), status="")

        def row(silence: Any) -> list[float]:
            values = []
            for lang in languages:
                values.append(perplexity(encoder, readout, scored[lang], device, precision,
                                         silence, check=silence is None))
                bar.advance(task)
            return values

        base = row(None)
        generator = torch.Generator().manual_seed(config.seed)
        selected, control = [], []
        for k in range(len(languages)):
            chosen = selection.neurons(k)
            selected.append(row((modules, chosen)))
            drawn = random_like([len(i) for i in chosen], neurons, generator)
            control.append(row((modules, drawn)))

    def change(matrix: list[list[float]]) -> list[list[float]]:
        return [[value - base[j] for j, value in enumerate(values)] for values in matrix]

    return {"languages": languages, "base": dict(zip(languages, base, strict=True)),
            "selected": change(selected), "random": change(control),
            "selected_ppl": selected, "random_ppl": control,
            "scoring": "next-token perplexity" if encoder.is_causal
            else f"masked-LM pseudo-perplexity ({config.mask_rate:g} of tokens masked)"}


def counts_table(result: dict[str, Any]) -> str:
    """counts.csv: selected neurons per layer (rows) and language (columns)."""
    languages = result["languages"]
    lines = [",".join(["layer", *languages])]
    for index, layer in enumerate(result["layers"]):
        lines.append(",".join([layer, *(str(result["counts"][lang][index])
                                        for lang in languages)]))
    return "\n".join(lines) + "\n"

"""`alignscope similarity`, `alignscope stability` and `alignscope correlate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from alignscope.cli._app import app, build_options, console, quiet_third_party, run_guarded

Opt = typer.Option


# Options that similarity and stability share, spelled once.
HalfSamples = Annotated[int, Opt(help="Half-sample splits for confidence intervals (0 = off).")]
OldBootstrap = Annotated[int | None, Opt("--bootstrap", hidden=True,
                                         help="Old name of --half-samples.")]
Confidence = Annotated[float, Opt(help="Interval coverage.")]
DataDir = Annotated[str | None, Opt(help="Data folder (default $ALIGNSCOPE_DATA).")]
Device = Annotated[str, Opt(help="auto | cpu | cuda[:N].")]
Precision = Annotated[str | None, Opt(help="fp32 (default) | bf16 | fp16 (CUDA) | auto.")]
Autocast = Annotated[str | None, Opt(hidden=True, help="Deprecated: --precision.")]
BatchTokens = Annotated[int, Opt(help="Padded tokens per forward pass.")]
Cache = Annotated[bool, Opt(help="Re-use and store features on disk.")]
AllowPickle = Annotated[bool, Opt(help="Allow pickled .bin weights.")]
Overwrite = Annotated[bool, Opt(help="Replace an existing --out folder.")]
Progress = Annotated[bool, Opt(help="Show progress bars.")]


# Flag -> config field where they differ.
FIELD_OF = {"cache": "use_cache", "half_samples": "bootstrap"}


def _old_flag(old_bootstrap: int | None) -> dict[str, int]:
    """`--bootstrap N`, the old name of `--half-samples N`, still works (as if typed)."""
    return {} if old_bootstrap is None else {"bootstrap": old_bootstrap}


def _print_curves(result: dict[str, Any], key: str, first: str, title: str) -> None:
    """Mean over languages per layer, for each condition."""
    table = Table(title=title)
    conditions = result["results"][key]
    table.add_column("layer", justify="right")
    for condition in conditions:
        table.add_column(f"{condition} (mean)" if condition == first else condition,
                         justify="right")
    for index, layer in enumerate(result["layers"]):
        cells = []
        for by_language in conditions.values():
            values = [v[index] for v in by_language.values() if v[index] is not None]
            cells.append(f"{sum(values) / len(values):.3f}" if values else "-")
        table.add_row(layer, *cells)
    console().print(table)


@app.command()
def similarity(
    ctx: typer.Context,
    out: Annotated[Path, Opt(help="Output folder (similarity.json, CSVs, figures).")],
    model: Annotated[str | None, Opt(help="Hub id, model folder or finetune run folder.")] = None,
    targets: Annotated[str | None, Opt(help="Comma-separated target languages, e.g. fr,de.")]
    = None,
    source: Annotated[str, Opt(help="Source language.")] = "en",
    parallel: Annotated[str, Opt(help="ud:pud, flores:devtest, a folder of LANG.txt files, a "
                                      "path template with {lang}, or LANG=PATH,...")] = "ud:pud",
    preset: Annotated[str, Opt(help="default (corrected) | authors (released script).")] = "default",
    measures: Annotated[str | None, Opt(help="linear,debiased,rbf,debiased-rbf,anc,retrieval,"
                                              "mexa,margin.")] = None,
    margin_k: Annotated[int | None, Opt(help="Neighbours for the margin measure (4).")] = None,
    pooling: Annotated[str | None, Opt(help="mean | cls | authors | weighted-mean | last | "
                                             "prompt-last (docs/analysis.md).")] = None,
    prompt_template: Annotated[str | None, Opt(help="prompt-last pooling: a prompt with "
                                                    "{sentence}.")] = None,
    max_sentences: Annotated[int | None, Opt(help="Seeded sample size (authors: first N).")] = None,
    max_tokens: Annotated[int | None, Opt(help="Token limit per sentence.")] = None,
    controls: Annotated[str | None, Opt(help="shuffled,random-init (default) or none.")] = None,
    half_samples: HalfSamples = 0,
    old_bootstrap: OldBootstrap = None,
    confidence: Confidence = 0.95,
    centre: Annotated[bool, Opt(help="Remove each language's mean vector first.")] = False,
    partial_length: Annotated[bool, Opt(help="Residualise each language's features on its "
                                             "sentence lengths first (removes the length "
                                             "confound).")] = False,
    layer_matrix: Annotated[bool, Opt(help="Also every source layer x target layer.")] = False,
    seed: Annotated[int, Opt(help="Seed for sampling, shuffling, half samples, random init.")] = 0,
    data_dir: DataDir = None,
    device: Device = "auto",
    precision: Precision = None,
    autocast: Autocast = None,
    batch_tokens: BatchTokens = 8192,
    cache: Cache = True,
    revision: Annotated[str | None, Opt(help="Hub revision of the model.")] = None,
    trust_remote_code: Annotated[bool, Opt(help="Run the model's own code.")] = False,
    allow_pickle: AllowPickle = False,
    config: Annotated[Path | None, Opt(help="YAML file of options (SimilarityConfig fields); "
                                            "flags typed here override it.")] = None,
    overwrite: Overwrite = False,
    progress: Progress = True,
) -> None:
    """Cross-lingual similarity of hidden representations, per layer, with controls."""
    from alignscope.analysis.similarity import SimilarityConfig, run_similarity

    def body() -> None:
        quiet_third_party(not progress)
        settings = build_options(ctx, config, SimilarityConfig, FIELD_OF,
                                 **_old_flag(old_bootstrap))
        result = run_similarity(settings, out, overwrite, show_progress=progress)
        key = result["measures"][0]
        _print_curves(result, key, "parallel", f"{key}: {result['source_language']} vs "
                      f"{len(result['target_languages'])} targets, {result['parallel']['sentences']}"
                      " sentences")
        console().print(f"written to {out}")

    run_guarded(body)


@app.command()
def stability(
    ctx: typer.Context,
    out: Annotated[Path, Opt(help="Output folder (stability.json, CSVs, figures).")],
    pretrained: Annotated[str | None, Opt(help="The encoder before fine-tuning.")] = None,
    finetuned: Annotated[str | None, Opt(help="A finetune run folder or encoder folder.")]
    = None,
    langs: Annotated[str | None, Opt(help="Languages; the first is the source for the "
                                          "cross-lingual comparison.")] = None,
    parallel: Annotated[str, Opt(help="ud:pud, flores:devtest, a folder of LANG.txt files, a "
                                      "path template with {lang}, or LANG=PATH,...")] = "ud:pud",
    measures: Annotated[str | None, Opt(help="linear,debiased,rbf (default),debiased-rbf,anc,"
                                              "retrieval,mexa,margin.")] = None,
    margin_k: Annotated[int | None, Opt(help="Neighbours for the margin measure (4).")] = None,
    pooling: Annotated[str | None, Opt(help="mean (default) | cls | word | authors | "
                                             "weighted-mean | last | prompt-last.")] = None,
    prompt_template: Annotated[str | None, Opt(help="prompt-last pooling: a prompt with "
                                                    "{sentence}.")] = None,
    max_sentences: Annotated[int | None, Opt(help="Seeded sample size.")] = None,
    max_tokens: Annotated[int | None, Opt(help="Token limit per sentence.")] = None,
    controls: Annotated[str | None, Opt(help="shuffled (default) or none.")] = None,
    half_samples: HalfSamples = 0,
    old_bootstrap: OldBootstrap = None,
    confidence: Confidence = 0.95,
    layer_matrix: Annotated[bool, Opt(help="Also every pretrained x fine-tuned layer.")] = False,
    seed: Annotated[int, Opt(help="Seed for sampling, shuffling and half samples.")] = 0,
    data_dir: DataDir = None,
    device: Device = "auto",
    precision: Precision = None,
    autocast: Autocast = None,
    batch_tokens: BatchTokens = 8192,
    cache: Cache = True,
    revision: Annotated[str | None, Opt(help="Hub revision of the pretrained model.")] = None,
    trust_remote_code: Annotated[bool, Opt(help="Run the models' own code.")] = False,
    allow_pickle: AllowPickle = False,
    config: Annotated[Path | None, Opt(help="YAML file of options (StabilityConfig fields); "
                                            "flags typed here override it.")] = None,
    overwrite: Overwrite = False,
    progress: Progress = True,
) -> None:
    """How much fine-tuning changed each layer: CKA between the two models, same sentences."""
    from alignscope.analysis.stability import StabilityConfig, run_stability

    def body() -> None:
        quiet_third_party(not progress)
        settings = build_options(ctx, config, StabilityConfig,
                                 {**FIELD_OF, "langs": "languages"}, **_old_flag(old_bootstrap))
        result = run_stability(settings, out, overwrite, show_progress=progress)
        key = result["measures"][0]
        _print_curves(result, key, "paired", f"{key}: pretrained vs fine-tuned")
        console().print(f"written to {out}")

    run_guarded(body)


@app.command()
def correlate(
    ctx: typer.Context,
    similarity: Annotated[str, Opt(help="A similarity run folder or its similarity.json.")],
    transfer: Annotated[str, Opt(help="A finetune run folder or its results.json (or an "
                                      "evaluation.json).")],
    out: Annotated[Path | None, Opt(help="Output folder (default: beside the similarity "
                                          "run, <similarity run>-vs-<transfer run>).")] = None,
    measure: Annotated[str | None, Opt(help="Similarity measure (default: the run's first).")]
    = None,
    condition: Annotated[str, Opt(help="parallel, or a control to correlate instead.")]
    = "parallel",
    dataset: Annotated[str | None, Opt(help="Keep evaluations whose dataset contains this, "
                                            "e.g. _pud.")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Spearman and Pearson, per layer, between similarity and zero-shot scores."""
    from alignscope.analysis.correlation import CorrelationConfig, default_out, run_correlation

    def body() -> None:
        config = build_options(ctx, None, CorrelationConfig)
        target = out or default_out(config)
        result = run_correlation(config, target, overwrite)
        table = Table(title=f"{result['measure']} vs {result['metric']} over "
                            f"{', '.join(result['languages'])}")
        for column in ("layer", "spearman", "p", "pearson", "p "):
            table.add_column(column, justify="right")
        for entry in result["per_layer"]:
            table.add_row(entry["layer"], *(
                "-" if entry[k] is None else f"{entry[k]:.3f}"
                for k in ("spearman", "spearman_p", "pearson", "pearson_p")))
        console().print(table)
        console().print(f"written to {target}")

    run_guarded(body)

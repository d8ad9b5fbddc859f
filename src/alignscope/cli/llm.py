"""`alignscope lens`, `alignscope neurons` and `alignscope merge` (docs/llm.md)."""

from __future__ import annotations

from alignscope.analysis.llm_settings import LensConfig, LensOutput, NeuronsConfig, NeuronsOutput
from alignscope.cli._app import app, command, console, quiet_third_party
from alignscope.config import Progress
from alignscope.training.config import MergeConfig, MergeOutput


@command(app, LensConfig, LensOutput, Progress)
def lens(config: LensConfig, output: LensOutput, display: Progress) -> None:
    """Which language each layer thinks in: the logit lens and a tuned lens on translation,
    repetition and cloze prompts (Wendler et al. 2024)."""
    from rich.table import Table

    from alignscope.analysis.lens.run import run_lens

    quiet_third_party(not display.progress)
    result = run_lens(config, output.out, output.overwrite, show_progress=display.progress)
    lens_name = result["lenses"][-1]
    table = Table(title=f"{lens_name} lens, mean over tasks and pairs: answer probability")
    table.add_column("layer", justify="right")
    table.add_column("target", justify="right")
    for lang in result["latent"]:
        table.add_column(f"{lang} (latent)", justify="right")
    by_task = result["curves"][lens_name]
    for index, layer in enumerate(result["layers"]):
        cells = []
        for metric in ["target.prob", *(f"latent.{lang}.prob" for lang in result["latent"])]:
            values = [curves[metric]["mean"][index] for curves in by_task.values()
                      if metric in curves and curves[metric]["mean"][index] is not None]
            cells.append(f"{sum(values) / len(values):.3f}" if values else "-")
        table.add_row(layer, *cells)
    console().print(table)
    console().print(f"{len(result['items'])} items; written to {output.out}")


@command(app, NeuronsConfig, NeuronsOutput, Progress)
def neurons(config: NeuronsConfig, output: NeuronsOutput, display: Progress) -> None:
    """Language-specific neurons (LAPE, Tang et al. 2024) and the perplexity of every language
    with each language's neurons silenced, beside as many random neurons."""
    from rich.table import Table

    from alignscope.analysis.neurons.run import run_neurons

    quiet_third_party(not display.progress)
    result = run_neurons(config, output.out, output.overwrite, show_progress=display.progress)
    table = Table(title="selected neurons and perplexity change of the language's own text")
    for column in ("language", "neurons", "own text, neurons off", "own text, random off"):
        table.add_column(column, justify="right")
    deactivation = result["deactivation"]
    for k, lang in enumerate(result["languages"]):
        cells = ["-", "-"] if deactivation is None else \
            [f"{deactivation['selected'][k][k]:+.2f}", f"{deactivation['random'][k][k]:+.2f}"]
        table.add_row(lang, str(sum(result["counts"][lang])), *cells)
    console().print(table)
    console().print(f"written to {output.out}")


@command(app, MergeConfig, MergeOutput)
def merge(config: MergeConfig, output: MergeOutput) -> None:
    """Build one model from fine-tuned runs of the same base, by layer groups (swap) or by
    weighted averaging, saved as a finetune run that `evaluate` and the analyses take."""
    from alignscope.training.merge import merge_runs

    result = merge_runs(config, output.out, output.overwrite)
    for layer, source in result["layers"].items():
        console().print(f"{layer}: {source}")
    console().print(f"written to {output.out} (evaluate it with `alignscope evaluate "
                    f"--checkpoint {output.out} --eval ...`)")

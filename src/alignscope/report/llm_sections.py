"""The report's sections for a sweep's `lens` and `neurons` runs (docs/llm.md).

lens: per lens, a table per task pair of where each latent language's answer peaks against the
target's, and the run's curves (one panel per language pair); neurons: the language-specific
neurons per layer and language, and the deactivation matrix beside its random control. The
figures are the run's own, copied under the run's name.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from alignscope.report.blocks import Figure, Section, Table
from alignscope.runs import load_run, part_dir

KINDS = ("lens", "neurons")


def section(record: dict[str, Any], folder: Path, figures: Path,
            ) -> tuple[Section, dict[str, Table]]:
    """The section of one lens or neurons run, and its tables by file stem."""
    kind, name = record["kind"], record["name"]
    run = part_dir(folder, kind)
    result = load_run(run, kind).data
    model = Path(str(result["model"]["name"]).rstrip("/")).name
    if kind == "lens":
        return _lens(name, model, result, run, figures)
    return _neurons(name, model, result, run, figures)


def _copy(run: Path, stem: str, figures: Path, name: str) -> str | None:
    """The run's figure `stem` copied as `name-stem`; None if the run drew none."""
    if not (run / f"{stem}.png").is_file():
        return None
    figures.mkdir(parents=True, exist_ok=True)
    for suffix in (".png", ".svg"):
        if (run / f"{stem}{suffix}").is_file():
            shutil.copyfile(run / f"{stem}{suffix}", figures / f"{name}-{stem}{suffix}")
    return f"{name}-{stem}"


def _peak(curve: list[float | None]) -> tuple[float | None, int | None]:
    present = [(v, i) for i, v in enumerate(curve) if v is not None]
    if not present:
        return None, None
    value, index = max(present)
    return value, index


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _lens(name: str, model: str, result: dict[str, Any], run: Path, figures: Path,
          ) -> tuple[Section, dict[str, Table]]:
    layers, latents = result["layers"], result["latent"]
    section = Section(f"Latent language: {', '.join(result['tasks'])} ({model})")
    tables = {}
    for lens in result["lenses"]:
        header = ["task", "n", "target p, last layer", "target > latent from"]
        for lang in latents:
            header += [f"{lang} peak p", f"{lang} peak layer", f"{lang} control there"]
        rows = []
        for key, curves in result["curves"][lens].items():
            target = curves["target.prob"]["mean"]
            rivals = [curves[f"latent.{lang}.prob"]["mean"] for lang in latents
                      if f"latent.{lang}.prob" in curves]
            leads = next((layers[i] for i, p in enumerate(target) if p is not None
                          and all(p > (rival[i] or 0.0) for rival in rivals)), "never")
            row = [key, str(curves["entropy"]["n"][0]), _fmt(target[-1]), leads]
            for lang in latents:
                latent = curves.get(f"latent.{lang}.prob")
                value, index = _peak(latent["mean"]) if latent else (None, None)
                control = curves.get(f"control.{lang}.prob")
                row += [_fmt(value), "–" if index is None else layers[index],
                        _fmt(control["mean"][index]) if control and index is not None else "–"]
            rows.append(row)
        table = Table(f"{lens} lens: mean probability over items of the answer in the target "
                      "language at the last layer, the first layer where it exceeds every latent "
                      "language's, and each latent language's peak with its control (another "
                      "concept's word) at the same layer.", header, rows)
        section.blocks.append(table)
        tables[f"{name}-{lens}"] = table
        for task in result["tasks"]:
            stem = _copy(run, f"lens-{lens}-{task}", figures, name)
            if stem is not None:
                section.blocks.append(Figure(stem, f"{lens} lens, {task}: probability of the "
                                                   "answer per layer in the target and latent "
                                                   "languages, mean over items with its "
                                                   "interval; dashed: control; dotted: "
                                                   "entropy (bits)."))
    dropped = {k: v for k, v in result["item_counts"].items() if v["items"] == 0}
    if dropped:
        section.blocks.append(f"No item left for {', '.join(sorted(dropped))} (see the run's "
                              "item_counts: missing words, answers without a token, collisions).")
    return section, tables


def _neurons(name: str, model: str, result: dict[str, Any], run: Path, figures: Path,
             ) -> tuple[Section, dict[str, Table]]:
    layers, languages = result["layers"], result["languages"]
    section = Section(f"Language-specific neurons ({model})")
    counts = Table("LAPE neurons per layer and language (Tang et al. 2024; selection: "
                   f"{result['selection']['lowest_entropy']} lowest-entropy neurons of "
                   f"{result['selection']['candidates']} candidates).",
                   ["language", *layers, "total"],
                   [[lang, *map(str, result["counts"][lang]), str(sum(result["counts"][lang]))]
                    for lang in languages])
    section.blocks.append(counts)
    tables = {f"{name}-counts": counts}
    stem = _copy(run, "neurons-counts", figures, name)
    if stem is not None:
        section.blocks.append(Figure(stem, "Language-specific neurons per layer."))
    deactivation = result.get("deactivation")
    if deactivation:
        order = deactivation["languages"]
        matrix = Table(f"{deactivation.get('scoring', 'perplexity')} change with a language's "
                       "neurons off (rows) on each language's text (columns): language "
                       "neurons / as many random neurons.", ["neurons off", *order],
                       [[lang, *(f"{s:+.3g} / {r:+.3g}" for s, r in
                                 zip(deactivation["selected"][i], deactivation["random"][i],
                                     strict=True))] for i, lang in enumerate(order)])
        section.blocks.append(matrix)
        tables[f"{name}-deactivation"] = matrix
        stem = _copy(run, "deactivation", figures, name)
        if stem is not None:
            section.blocks.append(Figure(stem, "Perplexity change: language neurons off (left) "
                                               "beside as many random neurons off (right)."))
    return section, tables

"""`alignscope report SWEEP --out DIR`: the paper's artefacts from a sweep folder.

Writes DIR/report.md (figures linked), DIR/report.html (one self-contained file: figures
embedded as data URIs, no network needed), DIR/figures/*.{png,svg} and DIR/tables/*.{csv,tex}:
per task the RANDOM-INIT table (mean ± std over seeds, Δ vs REF with its 95 % interval) and its
heatmap (layer group x language), the source-vs-target drop per group; similarity per layer
before and after fine-tuning, the stability curve, the correlation plot; the lens (latent-
language table and curves per language pair) and the language-specific neurons (counts per
layer and language, the deactivation matrix beside its random control); what was run (models,
seeds, versions, hardware, time) and what failed.
"""

from __future__ import annotations

import base64
import html
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alignscope.analysis.measures import describe
from alignscope.config import check_out_folder
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.experiments.aggregate import Row, Tables, collect, finished_runs, to_csv
from alignscope.experiments.manifest import read_manifest
from alignscope.experiments.spec import REFERENCE
from alignscope.experiments.sweep import sweep_status
from alignscope.io import atomic_write_text
from alignscope.layer_names import parse_layers
from alignscope.report import llm_sections, sweep_figures
from alignscope.report.blocks import Figure, Section, Table
from alignscope.report.tables import render_table
from alignscope.runs import timestamp
from alignscope.tasks.metrics import metric_label

POINTS = 100  # metrics are stored in 0-1; tables and figures show points
CONTROL_LABELS = {"shuffled": "shuffled pairs", "random-init": "random-init model"}
CONTROL_CAPTIONS = {
    "shuffled": "the shuffled pairs control (sentences that are not translations of each other: "
                "the level a measure gives without alignment)",
    "random-init": "the random-init control (the same sentences through the architecture with "
                   "freshly drawn weights: what tokens, scripts and lengths give without training)",
}


def _number(value: float | None, scale: float = POINTS, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * scale:+.1f}" if signed else f"{value * scale:.1f}"


def _interval(row: Row) -> str:
    if row["delta_low"] is None:
        return _number(row["delta_mean"], signed=True)
    return (f"{_number(row['delta_mean'], signed=True)} [{_number(row['delta_low'], signed=True)},"
            f" {_number(row['delta_high'], signed=True)}]")


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _model_order(group: str) -> tuple[int, int, str]:
    """REF, then layer groups bottom-up (embeddings, block.0-1, ..., block.10-11): run folders
    sort as text, which puts block.10-11 before block.4-5."""
    if group == REFERENCE:
        return (-2, 0, group)
    try:
        selection = parse_layers(group)
    except AlignscopeError:
        return (1 << 20, 0, group)  # not a layer name: after the layers
    return (-1 if selection.embeddings else selection.blocks[0], len(selection.blocks), group)


def in_model_order(groups: Iterable[str]) -> list[str]:
    """Layer groups once each, in the order tables and figures show them: REF, embeddings,
    then blocks bottom-up (block.4-5 before block.10-11), other names last."""
    return sorted(set(groups), key=_model_order)


class ReportBuilder:
    def __init__(self, sweep: Path, out: Path) -> None:
        self.sweep, self.out = sweep, out
        self.figures_dir = out / "figures"
        self.tables_dir = out / "tables"
        self.tables: Tables = collect(sweep)
        self.manifest = read_manifest(sweep) or {}
        finished = finished_runs(sweep)
        self.records = [record for record, _ in finished]
        self.llm_runs = [(record, folder) for record, folder in finished
                         if record["kind"] in llm_sections.KINDS]
        self.figures: list[Figure] = []

    def figure(self, paths: list[Path], caption: str) -> Figure:
        entry = Figure(paths[0].stem, caption)
        self.figures.append(entry)
        return entry

    # --- sections ---------------------------------------------------------------------
    def random_init(self, task: str, model: str) -> Section:
        summary = [r for r in self.tables.summary() if r["task"] == task and r["model"] == model]
        groups, languages, cell = random_init_grid(summary)
        metric = metric_label(summary[0]["metric"])
        section = Section(f"{task}: RANDOM-INIT ({_short(model)})")
        rows = [[group, *(random_init_cell(group, cell.get((group, language)))
                          for language in languages)] for group in groups]
        seeds = max(r["seeds"] for r in summary)
        table = Table(f"{metric} ×100, mean over {seeds} seed(s); REF: ± std; groups: (Δ vs REF, "
                      f"paired per seed, 95 % t-interval over seeds). First column: source "
                      f"({languages[0]}).", ["group", *languages], rows)
        section.blocks.append(table)
        self._write_table(f"random-init-{task}", table)
        ablated = [g for g in groups if g != REFERENCE]
        if ablated:
            deltas = [[_points(cell.get((g, lang), {}).get("delta_mean")) for lang in languages]
                      for g in ablated]
            paths = sweep_figures.delta_heatmap(self.figures_dir, f"heatmap-{task}", ablated,
                                                languages, deltas,
                                                title=f"{task}: Δ {metric} vs REF")
            section.blocks.append(self.figure(paths, f"{task}: change against REF (points) per "
                                                     "layer group and language, mean over seeds."))
            section.blocks.extend(self._drops(task, model, ablated))
        return section

    def _drops(self, task: str, model: str, groups: list[str]) -> list[Any]:
        rows = {r["group"]: r for r in self.tables.drops()
                if r["task"] == task and r["model"] == model}
        groups = [g for g in groups if g in rows]
        if not groups:
            return []

        def series(name: str) -> list[tuple[float, tuple[float | None, float | None]]]:
            return [(rows[g][name] * POINTS, (_points(rows[g][f"{name}_low"]),
                                              _points(rows[g][f"{name}_high"]))) for g in groups]

        paths = sweep_figures.drop_bars(
            self.figures_dir, f"drops-{task}", groups,
            {"source": series("source_drop"), "targets (mean)": series("target_drop")},
            title=f"{task}: drop against REF")
        table = Table("Drop against REF in points (REF − group), mean over seeds [95 % interval]"
                      "; the paper's summary is target drop − source drop.",
                      ["group", "source drop", "target drop", "target − source"],
                      [[g, *drop_cells(rows[g])] for g in groups])
        self._write_table(f"drops-{task}", table)
        return [self.figure(paths, f"{task}: source drop and mean target drop per layer group "
                                   "(bars: 95 % interval over seeds)."), table]

    def similarity(self) -> Section | None:
        rows = self.tables.similarity
        if not rows:
            return None
        section = Section("Cross-lingual similarity, before and after fine-tuning")
        measure = rows[0]["measure"]
        before = _mean_curves(r for r in rows if r["stage"] == "pretrained"
                              and r["measure"] == measure and r["condition"] == "parallel")
        after = _mean_curves(r for r in rows if r["stage"] == "finetuned"
                             and r["group"] == REFERENCE and r["measure"] == measure
                             and r["condition"] == "parallel")
        curves = before or after
        layers = _layer_names(rows)
        # The controls of the curves drawn solid (pretrained, else fine-tuned REF).
        stage = "pretrained" if before else "finetuned"
        control_rows = [r for r in rows if r["stage"] == stage and r["measure"] == measure
                        and r["condition"] != "parallel"
                        and (stage == "pretrained" or r["group"] == REFERENCE)]
        names = _ordered(r["condition"] for r in control_rows)
        controls = {f"{CONTROL_LABELS.get(name, name)} (mean)": [
            _mean([r["value"] for r in control_rows
                   if r["condition"] == name and r["position"] == p])
            for p in range(len(layers))] for name in names}
        source = _ordered(r["language"] for r in self.tables.scores if r["role"] == "source")
        paths = sweep_figures.layer_lines(
            self.figures_dir, "similarity", layers,
            {lang: [v.get(p) for p in range(len(layers))] for lang, v in curves.items()},
            dashed={lang: [v.get(p) for p in range(len(layers))] for lang, v in after.items()}
            if before else None, controls=controls,
            title=f"{source[0] if len(source) == 1 else 'source'} vs each target language",
            ylabel=describe(measure))
        what = ("solid: pretrained; dashed: fine-tuned (REF, mean over seeds)" if before and after
                else "pretrained" if before else "fine-tuned (REF, mean over seeds)")
        baseline = "".join(f"; {style}: {CONTROL_CAPTIONS.get(name, f'the {name} control')}, "
                           "mean over languages"
                           for (_, style), name in zip(sweep_figures.CONTROL_LINES, names,
                                                       strict=False))
        section.blocks.append(self.figure(paths, f"{describe(measure)} between the source and "
                                                 f"each target per layer ({what}{baseline})."))
        return section

    def stability(self) -> Section | None:
        rows = [r for r in self.tables.stability if r["stage"] == "finetuned"
                and r["condition"] == "paired"]
        if not rows:
            return None
        measure = rows[0]["measure"]
        by_group: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            if row["measure"] == measure and row["value"] is not None:
                by_group[row["group"]][row["position"]].append(row["value"])
        layers = _layer_names(rows)
        curves = {group: [statistics.fmean(by_group[group][p]) if by_group[group].get(p)
                          else None for p in range(len(layers))]
                  for group in in_model_order(by_group)}
        paths = sweep_figures.layer_lines(self.figures_dir, "stability", layers, curves,
                                          title="pretrained vs fine-tuned, same sentences",
                                          ylabel=f"{describe(measure)} (1 = unchanged)",
                                          ylim=(0, 1.02))
        return Section("Stability", [self.figure(
            paths, "How much fine-tuning changed each layer: similarity between the pretrained "
                   "and the fine-tuned model's representations of the same sentences, mean over "
                   "languages and seeds, per layer group.")])

    def correlation(self) -> Section | None:
        rows = self.tables.correlation
        if not rows:
            return None
        layers = _layer_names(rows)
        curves = {name: [_mean([r[name] for r in rows if r["position"] == p])
                         for p in range(len(layers))] for name in ("spearman", "pearson")}
        paths = sweep_figures.layer_lines(
            self.figures_dir, "correlation", layers, curves, ylim=(-1.05, 1.05),
            zero_line=True, title=f"{describe(rows[0]['measure'])} vs zero-shot "
                                  f"{metric_label(rows[0]['metric'])}",
            ylabel="correlation across languages")
        languages = rows[0]["languages"]
        noisy = (f" With {languages} languages a coefficient rests on {languages} points: "
                 "read it as an illustration, not evidence." if languages < 8 else "")
        return Section("Similarity and transfer", [self.figure(
            paths, f"Correlation, across {languages} target languages, between the pretrained "
                   "model's similarity at each layer and the zero-shot score, mean over the "
                   f"fine-tuned runs correlated ({', '.join(_ordered(r['run'] for r in rows))})."
                   f"{noisy}")])

    def provenance(self) -> Section:
        runs = self.manifest.get("runs", {})
        statuses: dict[str, int] = defaultdict(int)
        for entry in runs.values():
            statuses[entry["status"]] += 1
        labels = [r.get("labels", {}) for r in self.records]
        versions = _ordered(_versions(r.get("versions", {})) for r in self.records)
        # Correlation runs take a second on the driver: their device says nothing.
        devices = _ordered(f"{r.get('host', '?')}: {r.get('device', '?')}" for r in self.records
                           if r.get("kind") != "correlation")
        seconds = sum(r.get("seconds") or 0 for r in self.records)
        sweeps = self.manifest.get("sweeps", [])
        lines = [
            f"- experiment: **{self.manifest.get('experiment', '?')}**",
            f"- models: {', '.join(_ordered(str(x.get('model')) for x in labels if x.get('model')))}",
            f"- tasks: {', '.join(_ordered(str(x['task']) for x in labels if x.get('task')))}; "
            f"layer groups: {', '.join(in_model_order(str(x['group']) for x in labels if 'seed' in x))}"
            f"; seeds: {', '.join(_ordered(str(x['seed']) for x in labels if 'seed' in x))}",
            f"- runs: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}",
            f"- compute: {seconds / 3600:.2f} h summed over runs; {len(sweeps)} sweep "
            f"invocation(s), backends: {', '.join(_ordered(s.get('backend', '?') for s in sweeps))}",
            f"- hardware: {'; '.join(devices) or '–'}",
            f"- versions: {'; '.join(versions) or '–'}",
            f"- report generated {timestamp()}",
        ]
        section = Section("What was run", ["\n".join(lines)])
        failed = [[name, e["status"], e.get("error") or ""] for name, e in runs.items()
                  if e["status"] in ("failed", "skipped", "running", "pending")]
        if failed:
            section.blocks.append(Table("Runs without a result", ["run", "status", "error"],
                                        failed))
        else:
            section.blocks.append("Every planned run finished.")
        return section

    def paths(self) -> Section:
        """Where things are: the only place the report names folders."""
        labels = [r.get("labels", {}) for r in self.records]
        models = _ordered(f"{x['model']}: `{x.get('model_path', x['model'])}`" for x in labels
                          if x.get("model"))
        lines = [f"- sweep folder: `{self.sweep.resolve()}`",
                 *(f"- model {entry}" for entry in models)]
        return Section("Provenance", ["\n".join(lines)])

    def _write_table(self, stem: str, table: Table) -> None:
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        for fmt, suffix in (("csv", "csv"), ("latex", "tex")):
            atomic_write_text(self.tables_dir / f"{stem}.{suffix}",
                              render_table(table.header, table.rows, fmt, table.caption))

    def sections(self) -> list[Section]:
        sections = [self.provenance()]
        for task, model in _ordered((r["task"], r["model"]) for r in self.tables.scores):
            sections.append(self.random_init(task, model))
        sections += [s for s in (self.similarity(), self.stability(), self.correlation()) if s]
        for record, folder in self.llm_runs:
            section, tables = llm_sections.section(record, folder, self.figures_dir)
            self.figures += [block for block in section.blocks if isinstance(block, Figure)]
            for stem, table in tables.items():
                self._write_table(stem, table)
            sections.append(section)
        return [*sections, self.paths()]


def random_init_grid(summary: list[Row]) -> tuple[list[str], list[str], dict[tuple[str, str], Row]]:
    """A RANDOM-INIT summary's layer groups (model order), languages (source first) and rows by
    (group, language)."""
    groups = in_model_order(r["group"] for r in summary)
    languages = _ordered(r["language"] for r in sorted(summary, key=lambda r: r["role"]
                                                         != "source"))
    return groups, languages, {(r["group"], r["language"]): r for r in summary}


def random_init_cell(group: str, row: Row | None) -> str:
    """REF: mean ± std over seeds; another group: its mean (Δ vs REF [95 % interval])."""
    if row is None:
        return "–"
    if group == REFERENCE:
        return f"{_number(row['mean'])} ± {_number(row['std'])}"
    return f"{_number(row['mean'])} ({_interval(row)})"


def drop_cells(row: Row) -> list[str]:
    """Source drop, mean target drop and their difference, each with its interval."""
    return [_band(row, name) for name in ("source_drop", "target_drop", "target_minus_source")]


def _band(row: Row, name: str) -> str:
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    text = _number(row[name], signed=True)
    return text if low is None else f"{text} [{_number(low, signed=True)}, " \
                                    f"{_number(high, signed=True)}]"


def _points(value: float | None) -> float | None:
    return None if value is None else value * POINTS


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _layer_names(rows: list[Row]) -> list[str]:
    """Layer names in model order (rows carry each layer's name and position)."""
    return [name for _, name in sorted({(r["position"], r["layer"]) for r in rows})]


def _mean_curves(rows: Iterable[Row]) -> dict[str, dict[int, float | None]]:
    """language -> layer position -> mean over runs."""
    collected: dict[str, dict[int, list[float | None]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        collected[row["language"]][row["position"]].append(row["value"])
    return {lang: {layer: _mean(values) for layer, values in by_layer.items()}
            for lang, by_layer in collected.items()}


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items() if k != "platform")


def _short(model: str) -> str:
    return Path(model.rstrip("/")).name or model


# --- rendering ----------------------------------------------------------------------------

def markdown(title: str, sections: list[Section], figures: str = "figures") -> str:
    """The sections as Markdown; figures are linked in the folder `figures` (relative)."""
    parts = [f"# {title}\n"]
    for section in sections:
        parts.append(f"## {section.title}\n")
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(render_table(block.header, block.rows, "markdown", block.caption))
            elif isinstance(block, Figure):
                parts.append(f"![{block.caption}]({figures}/{block.stem}.png)\n\n"
                             f"*{block.caption}* ([SVG]({figures}/{block.stem}.svg))\n")
            else:
                parts.append(f"{block}\n")
    return "\n".join(parts)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}td:first-child,th:first-child
{text-align:left}figure{margin:1.5rem 0}img{max-width:100%}figcaption,caption{font-size:.9rem;
color:#444;caption-side:top;text-align:left}"""


def _html(title: str, sections: list[Section], figures_dir: Path) -> str:
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}"
             f"</title><style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>"]
    for section in sections:
        parts.append(f"<section><h2>{esc(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Table):
                head = "".join(f"<th>{esc(c)}</th>" for c in block.header)
                body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                               for row in block.rows)
                parts.append(f"<table><caption>{esc(block.caption)}</caption><thead><tr>{head}"
                             f"</tr></thead><tbody>{body}</tbody></table>")
            elif isinstance(block, Figure):
                data = base64.b64encode((figures_dir / f"{block.stem}.png").read_bytes())
                parts.append(f"<figure id=\"{esc(block.stem)}\"><img alt=\"{esc(block.caption)}\""
                             f" src=\"data:image/png;base64,{data.decode()}\"><figcaption>"
                             f"{esc(block.caption)}</figcaption></figure>")
            else:
                items = [line[2:] for line in str(block).splitlines() if line.startswith("- ")]
                parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items)
                             + "</ul>" if items else f"<p>{_inline(str(block))}</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


_STRONG = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Escaped text with Markdown's **bold** and `code` as HTML."""
    text = _STRONG.sub(r"<strong>\1</strong>", html.escape(text))
    return _CODE.sub(r"<code>\1</code>", text)


def _check_results(sweep: Path, builder: ReportBuilder, status: dict[str, Any]) -> None:
    """Nothing is drawn from a sweep whose finished runs were altered, that has none, or
    whose scores are not numbers."""
    altered = sorted(name for name, entry in status["runs"].items()
                     if entry["status"] == "missing")
    if altered:
        raise ConfigError(f"{sweep}: {len(altered)} finished run(s) no longer hold the result "
                          f"the sweep sealed ({', '.join(altered[:3])}"
                          f"{', ...' if len(altered) > 3 else ''}): their files were changed or "
                          "removed since", "run the same `alignscope sweep` again to redo them "
                          "(it moves such folders aside), or restore the files")
    if not builder.tables.scores and not builder.tables.similarity and not builder.llm_runs:
        failed = status["counts"].get("failed", 0)
        raise ConfigError(f"{sweep} has no finished run yet"
                          + (f" ({failed} failed)" if failed else ""),
                          f"see `alignscope sweep status {sweep}`")
    for row in builder.tables.scores:
        if not math.isfinite(row["value"]):
            raise ConfigError(f"{sweep / 'runs' / row['run']}: its {row['metric']} on "
                              f"{row['dataset']} is {row['value']}, not a score",
                              "redo the run: move its folder away and run the same "
                              "`alignscope sweep` again")


def render_report(sweep: str | Path, out: str | Path, preface: list[Section] | None = None,
                  title: str | None = None) -> dict[str, Path]:
    """Write the report of a sweep folder; returns the paths of report.md and report.html.
    `preface` sections (e.g. the demo's findings, figures already in OUT/figures) come
    first."""
    sweep, out = Path(sweep), check_out_folder(out)
    status = sweep_status(sweep)  # a missing folder, a foreign one, a damaged manifest
    builder = ReportBuilder(sweep, out)
    _check_results(sweep, builder, status)
    sections = [*(preface or []), *builder.sections()]
    title = title or f"alignscope report: {builder.manifest.get('experiment', sweep.name)}"
    for name, rows in (("summary", builder.tables.summary()), ("drops", builder.tables.drops())):
        if rows:
            atomic_write_text(builder.tables_dir / f"{name}.csv", to_csv(rows))
    paths = {"markdown": atomic_write_text(out / "report.md", markdown(title, sections)),
             "html": atomic_write_text(out / "report.html",
                                       _html(title, sections, builder.figures_dir))}
    return paths

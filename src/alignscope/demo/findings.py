"""The demo's findings (REPORT.md), computed from its sweeps: every sentence states what the
numbers show, whichever way they go."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

from alignscope.data.conllu import read_conllu
from alignscope.experiments.aggregate import Row, Tables, collect
from alignscope.experiments.spec import REFERENCE
from alignscope.io import atomic_write_text
from alignscope.lab.generate import read_manifest
from alignscope.runs import load_run
from alignscope.tasks.metrics import metric_label

FAR = 0.10  # "far above the control": at least 10 points
_MEASURE = "linear"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _reference(tables: Tables) -> dict[tuple[str, str], Row]:
    """(task, language) -> REF summary row (mean and std over seeds)."""
    return {(row["task"], row["language"]): row for row in tables.summary()
            if row["group"] == REFERENCE}


def majority_baseline(data: Path, source: str, target: str, limit: int | None) -> float:
    """Accuracy of tagging every word with the source training set's most frequent UPOS."""
    train = read_conllu(data / "ud" / f"{source}_lab-ud-train.conllu", limit=limit)
    tag = Counter(t for s in train for t in s.upos or ()).most_common(1)[0][0]
    test = [t for s in read_conllu(data / "ud" / f"{target}_lab-ud-test.conllu")
            for t in s.upos or ()]
    return sum(t == tag for t in test) / len(test)


def _curve(rows: list[Row], **match: Any) -> dict[int, float]:
    """Mean over the matching rows, per layer."""
    by_layer: dict[int, list[float]] = defaultdict(list)
    for row in rows:
        if row["value"] is not None and all(row.get(k) == v for k, v in match.items()):
            by_layer[row["layer"]].append(row["value"])
    return {layer: statistics.fmean(values)
            for layer, values in sorted(by_layer.items(), key=lambda item: _depth(item[0]))}


def _depth(layer: int | str) -> int:
    """Embeddings first, then blocks in order (layers are hidden-state indices or names)."""
    if isinstance(layer, int):
        return layer
    return 0 if layer == "embeddings" else 1 + int(str(layer).rsplit(".", 1)[-1])


def _transfer_section(main: Tables, control: Tables, manifest: dict[str, Any], data: Path,
                      limit: int | None) -> tuple[str, dict[str, dict[str, float]]]:
    source = manifest["source_language"]
    targets = [code for code in manifest["languages"] if code != source]
    ours, theirs = _reference(main), _reference(control)
    lines, gaps = [], {}
    for task in sorted(main.metrics):
        metric = metric_label(main.metrics[task])
        rows, far = [], []
        for lang in [source, *targets]:
            mine, other = ours.get((task, lang)), theirs.get((task, lang))
            if mine is None or other is None:
                continue
            gap = mine["mean"] - other["mean"]
            gaps.setdefault(task, {})[lang] = gap
            baseline = (_pct(majority_baseline(data, source, lang, limit)) if task == "pos"
                        else "")
            rows.append([lang + (" (source)" if lang == source else ""),
                         f"{_pct(mine['mean'])} ± {_pct(mine['std'])}",
                         f"{_pct(other['mean'])} ± {_pct(other['std'])}",
                         f"{100 * gap:+.1f}", baseline])
            if lang != source:
                far.append((lang, gap))
        lines.append(f"**{task}** ({metric}, REF, mean ± std over seeds)\n")
        lines.append(_table(["language", "multilingual", "source-only control", "difference",
                             "majority tag" if task == "pos" else ""], rows))
        real = [lang for lang, gap in far if gap >= FAR]
        weak = [f"{lang} ({100 * gap:+.1f})" for lang, gap in far if gap < FAR]
        verdict = (f"Zero-shot {metric} of the multilingual model is at least "
                   f"{100 * FAR:.0f} points above the source-only control on "
                   f"{', '.join(real) or 'no target'}")
        verdict += f"; not on {', '.join(weak)}." if weak else "."
        lines.append("\n" + verdict + "\n")
    text = ("Both models share the tokenizer and the architecture; the control saw only the "
            f"source language ({source}) in pretraining. What the multilingual model transfers "
            "beyond the control comes from multilingual pretraining.\n\n" + "\n".join(lines))
    return text, gaps


def _anchor_section(main: Tables, control: Tables, manifest: dict[str, Any]) -> str:
    source = manifest["source_language"]
    ours = _reference(main)
    rows, groups = [], defaultdict(list)
    for lang, info in manifest["languages"].items():
        if lang == source:
            continue
        pretrained = _curve(main.similarity, stage="pretrained", measure=_MEASURE,
                            condition="parallel", language=lang)
        baseline = _curve(control.similarity, stage="pretrained", measure=_MEASURE,
                          condition="parallel", language=lang)
        mean = statistics.fmean(pretrained.values()) if pretrained else None
        pos = ours.get(("pos", lang))
        rows.append([lang, " + ".join(info["transforms"]) or "canonical",
                     _share(info["anchor_share"]), _share(info["anchor_token_share"]),
                     "–" if mean is None else f"{mean:.3f}",
                     "–" if not baseline else f"{statistics.fmean(baseline.values()):.3f}",
                     _pct(pos["mean"]) if pos else "–"])
        groups[tuple(info["transforms"])].append((info["anchor_share"] or 0.0, lang, mean,
                                                  pos["mean"] if pos else None))
    text = _table(["language", "transformations", "anchor lexemes", "anchor tokens",
                   f"CKA ({_MEASURE}, mean over layers)", "CKA, control",
                   "POS zero-shot"], rows)
    comparisons = []
    for members in groups.values():
        members.sort()
        for (share_a, lang_a, cka_a, pos_a), (share_b, lang_b, cka_b, pos_b) in pairwise(members):
            if share_a == share_b or None in (cka_a, cka_b, pos_a, pos_b):
                continue
            comparisons.append(
                f"With the same transformations, {lang_b} ({_share(share_b)} anchors) against "
                f"{lang_a} ({_share(share_a)}): CKA {cka_b - cka_a:+.3f}, POS zero-shot "
                f"{100 * (pos_b - pos_a):+.1f} points.")
    return text + "\n\n" + (" ".join(comparisons) or
                            "No two targets differ only in their anchor share.") + "\n"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _random_init_section(main: Tables) -> str:
    drops = main.drops()
    if not drops:
        return "No RANDOM-INIT group finished.\n"
    lines = []
    for task in sorted({row["task"] for row in drops}):
        rows = sorted((r for r in drops if r["task"] == task), key=lambda r: r["group"])
        lines.append(f"**{task}**: drop against REF (points; mean over seeds)\n")
        lines.append(_table(["group", "source drop", "mean target drop", "target − source"],
                            [[r["group"], f"{100 * r['source_drop']:.1f}",
                              f"{100 * r['target_drop']:.1f}",
                              f"{100 * r['target_minus_source']:+.1f}"] for r in rows]))
        worst = max(rows, key=lambda r: r["target_minus_source"])
        if worst["target_minus_source"] > 0:
            lines.append(f"\nRe-initialising {worst['group']} costs the targets most beyond what "
                         f"it costs the source ({100 * worst['target_minus_source']:+.1f} points).\n")
        else:  # say so rather than call the smallest gain a cost
            lines.append("\nNo group costs the targets more than the source: every target − source "
                         f"is at most {100 * worst['target_minus_source']:+.1f} points.\n")
    return "\n".join(lines)


def _similarity_section(main: Tables) -> str:
    before = _curve(main.similarity, stage="pretrained", measure=_MEASURE, condition="parallel")
    after = {task: _curve(main.similarity, stage="finetuned", measure=_MEASURE,
                          condition="parallel", task=task, group=REFERENCE)
             for task in sorted(main.metrics)}
    rows = [[str(layer), f"{value:.3f}",
             *(f"{after[task][layer]:.3f}" if layer in after[task] else "–" for task in after)]
            for layer, value in before.items()]
    text = _table(["layer", "pretrained", *(f"after {task} (REF)" for task in after)], rows)
    changes = []
    for task, curve in after.items():
        shared = [layer for layer in curve if layer in before]
        if shared:
            layer = max(shared, key=lambda k: abs(curve[k] - before[k]))
            changes.append(f"after {task}, layer {layer} changes most "
                           f"({curve[layer] - before[layer]:+.3f})")
    return (f"Cross-lingual CKA ({_MEASURE}) between the source and the targets' parallel "
            "sentences (mean over targets), from the embeddings up.\n\n" + text + "\n\n"
            + ("; ".join(changes).capitalize() + "." if changes else "") + "\n")


def write_findings(out: Path, settings: dict[str, Any]) -> Path:
    manifest = read_manifest(out / "data")
    main, control = collect(out / "sweep"), collect(out / "control")
    limit = settings["sweep"].get("finetune", {}).get("max_train_sentences")
    pretrained = {name: load_run(out / "models" / name, "pretrain").data
                  for name in ("multilingual", "control")}
    transfer, _ = _transfer_section(main, control, manifest, out / "data", limit)
    model = pretrained["multilingual"]
    config = model["config"]
    header = (
        "# alignscope demo: findings\n\n"
        f"A {config['num_blocks']}-block BERT (hidden {config['hidden']}, {model['parameters']:,} "
        f"parameters) pretrained from scratch for {model['steps']} masked-LM steps on "
        f"{', '.join(model['languages'])}; the control, identical, on "
        f"{', '.join(pretrained['control']['languages'])} only. Held-out masked-token accuracy "
        "(multilingual / control): "
        + ", ".join(f"{lang} {_pct(scores.get('accuracy'))} / "
                    f"{_pct(pretrained['control']['heldout'][lang].get('accuracy'))}"
                    for lang, scores in model["heldout"].items())
        + ".\nThe full sweep report (RANDOM-INIT tables, heatmaps, similarity and stability "
        "figures) is [report/report.html](report/report.html).\n")
    sections = [header, "## Zero-shot transfer against the source-only control\n", transfer,
                "## Anchors and alignment\n", _anchor_section(main, control, manifest),
                "## RANDOM-INIT\n", _random_init_section(main),
                "## Cross-lingual similarity before and after fine-tuning\n",
                _similarity_section(main)]
    return atomic_write_text(out / "REPORT.md", "\n".join(sections))

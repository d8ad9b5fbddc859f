"""The demo's findings, computed from its models and sweeps: every sentence states what the
numbers show, whichever way they go. They open the HTML report (report/report.html) and are
written alone to REPORT.md."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

from alignscope.data.conllu import read_conllu
from alignscope.demo import claims as claim_tests
from alignscope.experiments.aggregate import Row, Tables, collect
from alignscope.experiments.spec import REFERENCE
from alignscope.io import atomic_write_text
from alignscope.lab.generate import read_manifest
from alignscope.report import sweep_figures
from alignscope.report.render import Figure, Section, Table, markdown
from alignscope.runs import load_run
from alignscope.tasks.metrics import metric_label

FAR = 0.10  # "far above the control": at least 10 points
MODELS = ("multilingual", "control")
TITLE = "alignscope demo: findings"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


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


def _pretraining(pretrained: dict[str, dict[str, Any]], figures: Path) -> Section:
    """Held-out masked-token accuracy of both models, its curve, and whether it plateaued."""
    model, control = pretrained["multilingual"], pretrained["control"]
    rows = [[lang, _pct(scores.get("accuracy")),
             _pct(control["heldout"].get(lang, {}).get("accuracy"))]
            for lang, scores in model["heldout"].items()]
    blocks: list[Any] = [Table("Held-out masked-token accuracy (%) after pretraining, per "
                               "language of the corpus (the control never saw the targets).",
                               ["language", "multilingual", "source-only control"], rows)]
    curves = {name: _curve(result) for name, result in pretrained.items()}
    if curves["multilingual"]:
        paths = sweep_figures.step_lines(
            figures, "pretraining", curves["multilingual"], dashed=curves["control"],
            states=("multilingual", "control"), title="held-out masked-token accuracy",
            ylabel="accuracy (%)")
        blocks.append(Figure(paths[0].stem, "Held-out masked-token accuracy during "
                                            "pretraining, per language: the multilingual model "
                                            "(solid) and the source-only control (dashed)."))
        blocks.append(_curve_table(pretrained))
    blocks.append(" ".join(_converged(name, result) for name, result in pretrained.items()))
    return Section("The lab models: pretraining and convergence", blocks)


def _curve(result: dict[str, Any]) -> dict[str, tuple[list[int], list[float]]]:
    curve = result.get("curve") or []
    return {lang: ([p["step"] for p in curve], [100 * p["heldout"][lang]["accuracy"]
                                                for p in curve])
            for lang in result["languages"] if curve and lang in curve[0]["heldout"]}


def _curve_table(pretrained: dict[str, dict[str, Any]]) -> Table:
    """Mean held-out accuracy over each model's pretraining languages, at every measured step."""
    columns = {name: {p["step"]: statistics.fmean(p["heldout"][lang]["accuracy"]
                                                  for lang in result["languages"])
                      for p in result.get("curve") or []}
               for name, result in pretrained.items()}
    steps = sorted(set().union(*columns.values()))
    return Table("The curve: held-out masked-token accuracy (%) at each measured step, mean "
                 "over the languages each model was pretrained on.",
                 ["step", *pretrained], [[str(step), *(_pct(columns[name].get(step))
                                                       for name in pretrained)]
                                         for step in steps])


def _converged(name: str, result: dict[str, Any]) -> str:
    done = result.get("convergence")
    if not done:
        return f"The {name} model has no held-out curve to judge convergence by."
    gains = ", ".join(f"{lang} {gain:+.1f}" for lang, gain in done["gain_points"].items())
    state = ("has converged: its held-out accuracy plateaued" if done["plateaued"] else
             "has not converged: its held-out accuracy was still rising")
    return (f"The {name} model {state} (the last fifth of the steps, {done['from_step']} to "
            f"{done['to_step']}, added {done['mean_gain_points']:+.1f} points on average over "
            f"its pretraining languages: {gains}; a plateau adds under "
            f"{done['threshold_points']:g}).")


def _transfer(main: Tables, control: Tables, manifest: dict[str, Any], data: Path,
              limit: int | None) -> Section:
    source = manifest["source_language"]
    targets = [code for code in manifest["languages"] if code != source]
    ours, theirs = _reference(main), _reference(control)
    blocks: list[Any] = ["Both models share the tokenizer and the architecture; the control saw "
                         f"only the source language ({source}) in pretraining. What the "
                         "multilingual model transfers beyond the control comes from "
                         "multilingual pretraining."]
    for task in sorted(main.metrics):
        metric = metric_label(main.metrics[task])
        rows, far = [], []
        for lang in [source, *targets]:
            mine, other = ours.get((task, lang)), theirs.get((task, lang))
            if mine is None or other is None:
                continue
            gap = mine["mean"] - other["mean"]
            baseline = [_pct(majority_baseline(data, source, lang, limit))] \
                if task == "pos" else []
            rows.append([lang + (" (source)" if lang == source else ""),
                         f"{_pct(mine['mean'])} ± {_pct(mine['std'])}",
                         f"{_pct(other['mean'])} ± {_pct(other['std'])}", f"{100 * gap:+.1f}",
                         *baseline])
            if lang != source:
                far.append((lang, gap))
        blocks.append(Table(f"{task} ({metric}, REF, mean ± std over seeds)",
                            ["language", "multilingual", "source-only control", "difference",
                             *(["majority tag"] if task == "pos" else [])], rows))
        real = [lang for lang, gap in far if gap >= FAR]
        weak = [f"{lang} ({100 * gap:+.1f})" for lang, gap in far if gap < FAR]
        verdict = (f"Zero-shot {metric} of the multilingual model is at least "
                   f"{100 * FAR:.0f} points above the source-only control on "
                   f"{', '.join(real) or 'no target'}")
        blocks.append(verdict + (f"; not on {', '.join(weak)}." if weak else "."))
    return Section("Zero-shot transfer against the source-only control", blocks)


def _anchors(main: Tables, control: Tables, manifest: dict[str, Any]) -> Section:
    source = manifest["source_language"]
    ours = _reference(main)
    rows, groups = [], defaultdict(list)
    for lang, info in manifest["languages"].items():
        if lang == source:
            continue
        mine = claim_tests.mean_curve(main.similarity, stage="pretrained",
                                      measure=claim_tests.MEASURE, condition="parallel",
                                      language=lang)
        theirs = claim_tests.mean_curve(control.similarity, stage="pretrained",
                                        measure=claim_tests.MEASURE, condition="parallel",
                                        language=lang)
        mean = statistics.fmean(mine.values()) if mine else None
        pos = ours.get(("pos", lang))
        rows.append([lang, " + ".join(info["transforms"]) or "canonical",
                     _share(info["anchor_share"]), _share(info["anchor_token_share"]),
                     "–" if mean is None else f"{mean:.3f}",
                     f"{statistics.fmean(theirs.values()):.3f}" if theirs else "–",
                     _pct(pos["mean"]) if pos else "–"])
        groups[tuple(info["transforms"])].append((info["anchor_share"] or 0.0, lang, mean,
                                                  pos["mean"] if pos else None))
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
    table = Table("Targets by transformation and anchor share.",
                  ["language", "transformations", "anchor lexemes", "anchor tokens",
                   f"CKA ({claim_tests.MEASURE}, mean over layers)", "CKA, control",
                   "POS zero-shot"], rows)
    return Section("Anchors and alignment", [table, " ".join(comparisons) or
                                             "No two targets differ only in their anchor share."])


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _words(out: Path, figures: Path) -> Section | None:
    """Word translation retrieval per layer against the lexicon, both models."""
    found = {name: json.loads(path.read_text(encoding="utf-8")) for name in MODELS
             if (path := out / "words" / f"{name}.json").is_file()}
    if "multilingual" not in found:
        return None
    ours = found["multilingual"]
    layers, targets = ours["layers"], list(ours["targets"])
    control = found.get("control", {}).get("targets", {})
    rows = [[layer, *(f"{_pct(ours['targets'][t]['precision_at_1'][i])} / "
                      f"{_pct(control[t]['precision_at_1'][i]) if t in control else '–'}"
                      for t in targets)] for i, layer in enumerate(layers)]
    counts = ", ".join(f"{t} {v['queries']} words among {v['candidates']}"
                       for t, v in ours["targets"].items())
    paths = sweep_figures.layer_lines(
        figures, "word-retrieval", layers,
        {t: [100 * (v or 0) for v in ours["targets"][t]["precision_at_1"]] for t in targets},
        dashed={t: [100 * (v or 0) for v in control[t]["precision_at_1"]] for t in control},
        states=("multilingual", "control"), title=f"{ours['source']} → target word translation",
        ylabel="precision at 1 (%)")
    best = {t: layers[max(range(len(layers)),
                          key=lambda i: ours["targets"][t]["precision_at_1"][i] or 0)]
            for t in targets}
    return Section("Word translation retrieval, checked against the lexicon", [
        "The lab knows which word translates which (data/lexicon.tsv, "
        "`alignscope.lab.read_lexicon`). Each word type's vector is the mean of its contextual "
        "vectors over the parallel sentences, centred per language; a source word counts as "
        "retrieved when its nearest target word type is its translation (anchors, written "
        f"alike, are not asked). Words: {counts}; chance is one over the candidates.",
        Table("Precision at 1 (%) per layer, multilingual / source-only control.",
              ["layer", *targets], rows),
        Figure(paths[0].stem, "Word translation retrieval per layer: the multilingual model "
                              "(solid) and the source-only control (dashed)."),
        "Known translations are retrieved best at "
        + ", ".join(f"{layer} for {t}" for t, layer in best.items()) + "."])


def ambiguous_forms(data: Path, language: str, limit: int | None) -> tuple[int, int]:
    """(word forms carrying more than one UPOS tag, word forms) in a language's training
    treebank: how much a tagger needs context to tell a word's tag."""
    tags: dict[str, set[str]] = defaultdict(set)
    for sentence in read_conllu(data / "ud" / f"{language}_lab-ud-train.conllu", limit=limit):
        for form, tag in zip(sentence.words, sentence.upos or (), strict=False):
            tags[form.lower()].add(tag)
    return sum(len(found) > 1 for found in tags.values()), len(tags)


def same_length_share(data: Path, source: str, target: str) -> float:
    """Share of the parallel sentence pairs (the similarity set) with as many words in the
    target as in the source."""
    ours = read_conllu(data / "ud" / f"{source}_labpud-ud-test.conllu")
    theirs = read_conllu(data / "ud" / f"{target}_labpud-ud-test.conllu")
    pairs = list(zip(ours, theirs, strict=False))
    return sum(len(a.words) == len(b.words) for a, b in pairs) / len(pairs)


def _lab_differences(claims: list[claim_tests.Claim], manifest: dict[str, Any], data: Path,
                     limit: int | None, control: Tables) -> Section | None:
    """For each claim the lab does not reproduce, the measured way the lab differs from the
    paper's languages that bears on it (nothing when every claim is reproduced)."""
    failed = {(claim.key.split(",")[0], claim.scope) for claim in claims
              if claim.verdict != "reproduced"}
    source = manifest["source_language"]
    targets = [code for code in manifest["languages"] if code != source]
    notes = []
    if ("a", "pos") in failed or ("b", "pos") in failed:
        ambiguous, forms = ambiguous_forms(data, source, limit)
        notes.append(
            f"UPOS tagging (claims a, b): in the lab's {source} training treebank {ambiguous} of "
            f"{forms} word forms carry more than one tag, so a word's tag never depends on its "
            "context. Re-initialising blocks keeps the embeddings, and with them the word-level "
            "alignment the multilingual model learnt (word retrieval at the embeddings, below): "
            "tagging a target then needs little of what the lower blocks build. Real tag sets "
            "are ambiguous for frequent words, which is where the paper's lower blocks matter.")
    if ("c", "pretrained") in failed:
        shares = ", ".join(f"{lang} {100 * same_length_share(data, source, lang):.0f} %"
                           for lang in targets)
        embeddings = claim_tests.mean_curve(control.similarity, stage="pretrained",
                                            measure=claim_tests.MEASURE, condition="parallel")
        first = next(iter(embeddings.items()), None)
        at_control = (f"; the control, which never saw a target word, scores {first[1]:.3f} "
                      f"at {first[0]}") if first else ""
        notes.append(
            "Similarity (claim c): the lab's parallel sentences are word-for-word translations "
            f"(pairs with as many words as the source: {shares}), so positions alone make a "
            f"parallel pair alike, whatever the model knows of the words{at_control}. Real "
            "translations differ in length and order, which keeps untrained similarity low.")
    if not notes:
        return None
    return Section("Where the lab differs from the paper's languages", [
        "Measured on the lab's data, for the claims not reproduced above:", *notes])


def findings(out: Path, settings: dict[str, Any], figures: Path) -> list[Section]:
    """The findings as report sections; figures are drawn into `figures`."""
    manifest = read_manifest(out / "data")
    main, control = collect(out / "sweep"), collect(out / "control")
    limit = settings["sweep"].get("finetune", {}).get("max_train_sentences")
    pretrained = {name: load_run(out / "models" / name, "pretrain").data for name in MODELS}
    model, config = pretrained["multilingual"], pretrained["multilingual"]["config"]
    seeds = settings["sweep"]["seeds"]
    intro = (f"A {config['num_blocks']}-block BERT (hidden {config['hidden']}, "
             f"{model['parameters']:,} parameters) pretrained from scratch for {model['steps']:,} "
             f"masked-LM steps on {', '.join(model['languages'])}; the control, identical, on "
             f"{', '.join(pretrained['control']['languages'])} only. Both fine-tuned on the "
             f"source with {len(seeds)} seeds per run; zero-shot on the targets.")
    random_init_claims, drops = claim_tests.random_init(main)
    similarity_claims, similarity_blocks = claim_tests.similarity(main, control)
    stability_claims, stability_blocks = claim_tests.stability(main)
    tested = [*random_init_claims, *similarity_claims, *stability_claims]
    summary = claim_tests.summary(tested)
    summary.blocks.insert(0, intro)
    differences = _lab_differences(tested, manifest, out / "data", limit, control)
    sections = [summary, *([differences] if differences else []),
                _pretraining(pretrained, figures),
                _transfer(main, control, manifest, out / "data", limit),
                _anchors(main, control, manifest),
                Section("RANDOM-INIT: claims (a) and (b)", drops),
                Section("Cross-lingual similarity: claim (c)", similarity_blocks),
                Section("Stability: claim (d)", stability_blocks)]
    words = _words(out, figures)
    return [*sections, *([words] if words else [])]


def write_findings(out: Path, sections: list[Section]) -> Path:
    """REPORT.md: the findings alone, beside the full report."""
    text = markdown(TITLE, sections, figures="report/figures")
    return atomic_write_text(out / "REPORT.md", text + "\nThe full report, with these findings "
                             "and every sweep table and figure: "
                             "[report/report.html](report/report.html).\n")

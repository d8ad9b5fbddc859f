"""The paper's four claims, each tested on the demo's sweeps and stated as "reproduced" or
"not reproduced" with its numbers and 95 % intervals over seeds, whichever way they come out:

  (a) re-initialising the lowest blocks costs the targets more than the source;
  (b) that effect shrinks toward the top blocks;
  (c) the multilingual model's cross-lingual similarity is above the source-only control's
      and the shuffled-pairs control's, and rises from the embeddings into the middle blocks;
  (d) fine-tuning changes the top layers more than the bottom ones (stability).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from alignscope.experiments.aggregate import Row, Tables, paired_deltas, seed_drops, t_interval
from alignscope.experiments.spec import REFERENCE
from alignscope.report.render import Section, Table, in_model_order
from alignscope.tasks.metrics import metric_label

MEASURE = "linear"  # CKA, the paper's measure


@dataclass
class Claim:
    key: str  # a, b, c, d
    text: str
    scope: str  # the task, or the model, it was tested on
    verdict: str  # "reproduced" | "not reproduced"
    evidence: str


def points(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "–"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def band(mean: float, low: float | None, high: float | None) -> str:
    """`+4.9 [-2.7, +12.5]` in points; the mean alone without an interval."""
    if low is None or high is None:
        return points(mean)
    return f"{points(mean)} [{points(low)}, {points(high)}]"


def interval(values: list[float]) -> tuple[float, float | None, float | None]:
    low, high = t_interval(values)
    return statistics.fmean(values), None if low is None else float(low), \
        None if high is None else float(high)


def decide(low: float | None, high: float | None) -> tuple[str, str]:
    """(verdict, why) for "this quantity is positive", from its 95 % interval."""
    if low is None or high is None:
        return "not reproduced", "one seed: no interval, nothing decided"
    if low > 0:
        return "reproduced", "the interval is above 0"
    if high < 0:
        return "not reproduced", "the opposite: the interval is below 0"
    return "not reproduced", "undecided: the interval includes 0"


def groups_bottom_up(groups: list[str]) -> list[str]:
    return [g for g in in_model_order(groups) if g != REFERENCE]


_A_TEXT = "Re-initialising the lowest blocks costs the targets more than the source"
_B_TEXT = "The effect shrinks toward the top blocks"


def random_init(main: Tables) -> tuple[list[Claim], list[Any]]:
    """Claims (a) and (b) per task, and the drops tables they read (one per task)."""
    per_seed = seed_drops(paired_deltas(main.scores, main.metrics))
    blocks: list[Any] = []
    claims: list[Claim] = []
    for task in sorted(main.metrics):
        by_group = {group: seeds for (t, _model, group), seeds in per_seed.items() if t == task}
        order = groups_bottom_up(list(by_group))
        if not order:
            continue
        rows = []
        for group in order:
            seeds = by_group[group]
            cells = [band(*interval([s for s, _ in seeds.values()])),
                     band(*interval([t for _, t in seeds.values()]))]
            mean, low, high = interval([t - s for s, t in seeds.values()])
            width = "–" if low is None else f"{100 * (high - low):.1f}"
            rows.append([group, *cells, band(mean, low, high), width, str(len(seeds))])
        blocks.append(Table(f"{task} ({metric_label(main.metrics[task])}): drop against REF "
                            "in points (REF − group), mean over seeds [95 % t-interval]; "
                            "target drop = mean over the targets.",
                            ["group", "source drop", "target drop", "target − source",
                             "interval width", "seeds"], rows))
        lowest = by_group[order[0]]
        mean, low, high = interval([t - s for s, t in lowest.values()])
        verdict, why = decide(low, high)
        claims.append(Claim("a", _A_TEXT, task, verdict, f"{order[0]}: target − source "
                            f"{band(mean, low, high)} points ({why})"))
        top = by_group[order[-1]]
        diffs = [(lowest[s][1] - lowest[s][0]) - (top[s][1] - top[s][0])
                 for s in sorted(set(lowest) & set(top))]
        if len(order) > 1 and diffs:
            mean, low, high = interval(diffs)
            verdict, why = decide(low, high)
            claims.append(Claim("b", _B_TEXT, task, verdict, f"target − source of {order[0]} "
                                f"minus that of {order[-1]}: {band(mean, low, high)} points "
                                f"({why})"))
        else:
            claims.append(Claim("b", _B_TEXT, task, "not reproduced",
                                "a single layer group: nothing to compare"))
    return claims, blocks


def mean_curve(rows: list[Row], **match: Any) -> dict[str, float]:
    """Layer name -> mean of the matching rows' values (over languages, seeds, tasks), in
    model order."""
    found: dict[tuple[int, str], list[float]] = defaultdict(list)
    for row in rows:
        if row["value"] is not None and all(row.get(k) == v for k, v in match.items()):
            found[(row["position"], row["layer"])].append(row["value"])
    return {layer: statistics.fmean(values) for (_, layer), values in sorted(found.items())}


def similarity(main: Tables, control: Tables) -> tuple[list[Claim], list[Any]]:
    """Claim (c): the pretrained multilingual model's cross-lingual CKA against the control
    model's and the shuffled pairs', and its shape over depth (c, shape)."""
    ours = mean_curve(main.similarity, stage="pretrained", measure=MEASURE,
                      condition="parallel")
    theirs = mean_curve(control.similarity, stage="pretrained", measure=MEASURE,
                        condition="parallel")
    shuffled = mean_curve(main.similarity, stage="pretrained", measure=MEASURE,
                          condition="shuffled")
    after = {task: mean_curve(main.similarity, stage="finetuned", measure=MEASURE,
                              condition="parallel", task=task, group=REFERENCE)
             for task in sorted(main.metrics)}
    layers = list(ours)
    rows = [[layer, f"{ours[layer]:.3f}", _value(theirs, layer), _value(shuffled, layer),
             *(_value(curve, layer) for curve in after.values())] for layer in layers]
    table = Table(f"Cross-lingual CKA ({MEASURE}, length partialled out) between the source "
                  "and each target's parallel sentences, mean over targets, per layer.",
                  ["layer", "multilingual", "source-only control", "shuffled pairs",
                   *(f"after {task} (REF)" for task in after)], rows)
    if not layers:
        return [Claim("c", _C_TEXT, "pretrained", "not reproduced",
                      "no pretrained similarity run")], [table]
    margins = {layer: ours[layer] - max(theirs.get(layer, 1.0), shuffled.get(layer, 1.0))
               for layer in layers}
    worst = min(margins, key=margins.__getitem__)
    above = Claim("c", _C_TEXT, "pretrained", "reproduced" if margins[worst] > 0
                  else "not reproduced",
                  f"above both controls at {sum(m > 0 for m in margins.values())} of "
                  f"{len(layers)} layers (smallest margin {margins[worst]:+.3f}, at {worst}; "
                  "one pretrained model: no interval over seeds)")
    peak = max(layers, key=ours.__getitem__)
    inner = peak not in (layers[0], layers[-1])
    values = ", ".join(f"{layer} {ours[layer]:.3f}" for layer in layers)
    trend = ("peaks inside, at " + peak if inner else
             f"is highest at {peak}: it {'falls' if ours[layers[-1]] < ours[layers[0]] else 'rises'}"
             " over depth without a peak inside")
    shape = Claim("c, shape", "Cross-lingual similarity rises from the embeddings into the "
                  "middle blocks", "pretrained", "reproduced" if inner else "not reproduced",
                  f"it {trend} ({values})")
    return [above, shape], [table]


_C_TEXT = ("The multilingual model's cross-lingual similarity is above the source-only "
           "control's and the shuffled pairs' at every layer")


def _value(curve: dict[str, float], layer: str) -> str:
    return f"{curve[layer]:.3f}" if layer in curve else "–"


def stability(main: Tables) -> tuple[list[Claim], list[Any]]:
    """Claim (d) per task: seed by seed, CKA(pretrained, fine-tuned) of the lowest block
    minus that of the top block (positive: the top changed more), over the REF runs."""
    rows = [r for r in main.stability if r["stage"] == "finetuned" and r["measure"] == MEASURE
            and r["condition"] == "paired" and r["group"] == REFERENCE]
    tasks = sorted({r["task"] for r in rows})
    curves = {task: mean_curve(rows, task=task) for task in tasks}
    layers = list(mean_curve(rows))
    table = Table(f"Stability: CKA ({MEASURE}) between the pretrained and the fine-tuned "
                  "model's representations of the same sentences (1 = unchanged), REF runs, "
                  "mean over seeds and languages.", ["layer", *tasks],
                  [[layer, *(_value(curves[task], layer) for task in tasks)]
                   for layer in layers])
    blocks = [layer for layer in layers if layer != "embeddings"]
    if len(blocks) < 2:
        return [Claim("d", _D_TEXT, "–", "not reproduced", "no stability run")], [table]
    bottom, top = blocks[0], blocks[-1]
    claims = []
    for task in tasks:
        per_seed: dict[int, dict[str, float]] = defaultdict(dict)
        for seed in sorted({r["seed"] for r in rows if r["task"] == task}):
            for layer in (bottom, top):
                values = [r["value"] for r in rows if r["task"] == task and r["seed"] == seed
                          and r["layer"] == layer and r["value"] is not None]
                if values:
                    per_seed[seed][layer] = statistics.fmean(values)
        diffs = [v[bottom] - v[top] for v in per_seed.values() if len(v) == 2]
        if diffs:
            mean, low, high = interval(diffs)
            verdict, why = decide(low, high)
            claims.append(Claim("d", _D_TEXT, task, verdict, f"CKA of {bottom} minus that of "
                                f"{top}: {_signed3(mean, low, high)} ({why})"))
    return claims, [table]


_D_TEXT = "Fine-tuning changes the top layers more than the bottom ones (stability)"


def _signed3(mean: float, low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return f"{mean:+.3f}"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def summary(claims: list[Claim]) -> Section:
    return Section("The paper's claims on the lab model", [
        Table("Each claim tested on this run's numbers (95 % t-intervals over fine-tuning "
              "seeds); the sections below give the details.",
              ["claim", "tested on", "verdict", "evidence"],
              [[f"({c.key}) {c.text}", c.scope, c.verdict, c.evidence]
               for c in sorted(claims, key=lambda claim: claim.key)])])

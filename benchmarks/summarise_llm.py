"""The figures BENCHMARKS.md quotes from a lens run and a neurons run (docs/llm.md):

    python benchmarks/summarise_llm.py LENS_RUN NEURONS_RUN

lens: per task, the mean over its language pairs of the target's and each latent language's
probability per layer, and per pair where the latent language peaks against its control;
neurons: counts per language, their layers, and the deactivation matrix's diagonal against its
off-diagonal cells, for the language neurons and for the random control.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from alignscope.runs import load_run


def _mean(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else float("nan")


def lens(folder: Path) -> None:
    result = load_run(folder, "lens").data
    layers = result["layers"]
    for name, by_key in result["curves"].items():
        for task in result["tasks"]:
            keys = [k for k in by_key if k.startswith(f"{task}:")]
            if not keys:
                continue
            items = sum(by_key[k]["entropy"]["n"][0] for k in keys)
            print(f"{name} lens, {task}: {len(keys)} pairs, {items} items")
            metrics = ["target.prob", *(f"latent.{lang}.prob" for lang in result["latent"]),
                       *(f"control.{lang}.prob" for lang in result["latent"]), "entropy"]
            print("  layer      " + "  ".join(f"{m:>16}" for m in metrics))
            for index, layer in enumerate(layers):
                cells = [_mean([by_key[k][m]["mean"][index] for k in keys if m in by_key[k]])
                         for m in metrics]
                print(f"  {layer:<10} " + "  ".join(f"{c:16.4f}" for c in cells))
            for key in keys:
                for lang in result["latent"]:
                    latent = by_key[key][f"latent.{lang}.prob"]["mean"]
                    peak = max(range(len(layers)), key=lambda i: latent[i] or 0.0)
                    control = by_key[key].get(f"control.{lang}.prob", {}).get("mean")
                    target = by_key[key]["target.prob"]["mean"]
                    print(f"    {key}: {lang} peak {latent[peak]:.3f} at {layers[peak]} "
                          f"(control {control[peak] if control else float('nan'):.3f}, target "
                          f"there {target[peak]:.3f}; target at the end {target[-1]:.3f})")
    dropped = {k: v for k, v in result["item_counts"].items() if v["items"] == 0}
    print("item counts:", {k: v["items"] for k, v in result["item_counts"].items()})
    print("without items:", sorted(dropped))


def neurons(folder: Path) -> None:
    result = load_run(folder, "neurons").data
    print("selection:", result["selection"], "sentences:", result["sentences"])
    for lang in result["languages"]:
        counts = result["counts"][lang]
        top = sorted(range(len(counts)), key=lambda i: -counts[i])[:3]
        print(f"  {lang}: {sum(counts)} neurons; most in " +
              ", ".join(f"{result['layers'][i]} ({counts[i]})" for i in top))
    print("shared by k languages:", result["shared"])
    deactivation = result.get("deactivation")
    if not deactivation:
        return
    print("base perplexity:", {k: round(v, 2) for k, v in deactivation["base"].items()})
    n = len(deactivation["languages"])
    for name in ("selected", "random"):
        matrix = deactivation[name]
        diagonal = [matrix[i][i] for i in range(n)]
        off = [matrix[i][j] for i in range(n) for j in range(n) if i != j]
        print(f"  {name}: diagonal mean {statistics.fmean(diagonal):+.3f} "
              f"(min {min(diagonal):+.3f}, max {max(diagonal):+.3f}); off-diagonal mean "
              f"{statistics.fmean(off):+.3f}")
        for i, lang in enumerate(deactivation["languages"]):
            print(f"    {lang} off: " + " ".join(f"{v:+8.3f}" for v in matrix[i]))


if __name__ == "__main__":
    lens(Path(sys.argv[1]))
    neurons(Path(sys.argv[2]))

"""Version-1 result files (alignscope before the layer vocabulary) read as version 2, with a
deprecation warning: alignscope 0.3 reads version 2 only.

Version 1 numbered analysis layers by hidden state (0 = embeddings, k = block k-1's output)
and RANDOM-INIT layers by block (`0-1`); both become layer names. A v1 `evaluate` file has no
source language or RANDOM-INIT: they are taken from the finetune results beside it, if any.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from alignscope.errors import DataFormatError, deprecated
from alignscope.layer_names import EMBEDDINGS, block_name, layer_names, parse_layers
from alignscope.runs.schema import SCHEMA_VERSION, Kind

_INDEXED = re.compile(r"^(.*?)\.([0-9]+)\.")


def v1_kind(data: dict[str, Any], path: Path) -> Kind:
    kind = data.get("kind")
    if kind in ("similarity", "stability", "correlation"):
        return kind  # type: ignore[return-value]
    if kind == "alignscope-lab-pretrain":
        raise DataFormatError(path, None, "a pretraining record from before results schema 2",
                              "pretrain the model again (`alignscope lab pretrain --overwrite`)")
    if "evaluations" in data and "metric" in data:
        return "finetune" if "training" in data else "evaluate"
    raise DataFormatError(path, None, "not an alignscope result file (no `kind`, no "
                          "`evaluations`)", "pass a file or folder written by alignscope")


def upgrade(data: dict[str, Any], kind: Kind, path: Path,
            sibling: dict[str, Any] | None) -> dict[str, Any]:
    """A v1 result in the v2 shape; `sibling` is the finetune results beside an evaluation.
    Reading version 1 is deprecated: it warns, naming the release that stops it."""
    deprecated(f"reading the version-1 result file {path}",
               "a result written by alignscope 0.2 (run its command again)")
    out = {**data, "schema_version": SCHEMA_VERSION, "kind": kind,
           "versions": data.get("versions", {}), "config": data.get("config", {}),
           "created": data.get("created", "")}
    if kind == "finetune":
        out.update(_finetune(data))
    elif kind == "evaluate":
        out.update(source_language=(sibling or {}).get("source_language"),
                   random_init=(sibling or {}).get("random_init", []),
                   model={"name": str(data.get("model")), "source": data.get("checkpoint")})
    else:
        out.update(_analysis(data, kind))
    return out


def _finetune(data: dict[str, Any]) -> dict[str, Any]:
    old = data.get("random_init") or {}
    model = dict(data["model"])
    model["num_blocks"] = model.pop("num_layers", None)
    spec = old.get("layers")
    if spec:
        selection = parse_layers(spec, bare=True)
        names, spec = selection.names, str(selection)
    else:
        names = _layers_of_tensors([t["name"] for t in old.get("tensors", [])])
    return {"model": model, "random_init": names,
            "reinit": {"spec": spec, "regex": old.get("regex"), "scope": old.get("scope", "all"),
                       "scheme": old.get("scheme", "model"), "seed": old.get("seed", 0),
                       "tensors": old.get("tensors", [])}}


def _layers_of_tensors(names: list[str]) -> list[str]:
    """Layers of re-drawn parameters (regex selections): the block stack is the most common
    `PREFIX.K.` of the names; embedding tables live under `embeddings`."""
    indexed = [match for name in names if (match := _INDEXED.match(name))]
    prefix = Counter(match[1] for match in indexed).most_common(1)
    blocks = sorted({int(m[2]) for m in indexed if prefix and m[1] == prefix[0][0]})
    embeddings = any(EMBEDDINGS in name.split(".") for name in names)
    return [EMBEDDINGS] * embeddings + [block_name(index) for index in blocks]


def _analysis(data: dict[str, Any], kind: Kind) -> dict[str, Any]:
    names = layer_names(len(data["layers"]) - 1)
    out: dict[str, Any] = {"layers": names, "random_init": []}
    if kind == "stability":
        sources = data.get("model_sources", {})
        out.update(model={"name": data["finetuned"], "source": sources.get("finetuned")},
                   pretrained={"name": data["pretrained"], "source": sources.get("pretrained")},
                   source_language=None)
    else:
        out["model"] = {"name": data["model"], "source": data.get("model_source")}
    if kind == "correlation":
        out["per_layer"] = [{**entry, "layer": names[entry["layer"]]}
                            for entry in data["per_layer"]]
    return out

"""The options of `alignscope demo`: the demo configuration, whose defaults are the bundled
demo.yaml (a `--config` file replaces the sections it names; `--set` changes single keys)."""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field

from alignscope.config import Count, Flag, Folder, Seed, options


@functools.cache
def bundled() -> dict[str, Any]:
    """The bundled configuration, alignscope/demo/demo.yaml."""
    text = resources.files("alignscope.demo").joinpath("demo.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def bundled_default(key: str, description: str) -> Any:
    """A field whose default is the bundled configuration's value of `key`."""
    import copy

    return Field(default_factory=lambda: copy.deepcopy(bundled()[key]), description=description)


Section = Annotated[dict[str, Any], Flag(internal=True)]  # a whole section: --config or --set


@options(frozen=True)
class DemoConfig:
    """What `alignscope demo` runs (docs/lab.md)."""

    out: Folder = Field(Path("demo"), description="Demo folder: data, models, sweeps, report.")
    overrides: Annotated[list[str], Flag(name="--set", multiple=True, metavar="KEY=VALUE")] = \
        Field(default_factory=list, description="Override a key of the configuration: dotted "
              "keys, YAML values (--set pretrain.steps=600); repeatable.")
    seed: Seed = bundled_default("seed", "Seed of the corpus and the models.")
    threads: Count = bundled_default("threads", "CPU threads of each run.")
    jobs: Count = bundled_default("jobs", "Runs side by side.")
    corpus: Section = bundled_default("corpus", "The `lab generate` options of the corpus.")
    pretrain: Section = bundled_default("pretrain", "The `lab pretrain` options of the "
                                                    "multilingual model.")
    control: Section = bundled_default("control", "What the source-only control model changes "
                                                  "in `pretrain`.")
    sweep: Section = bundled_default("sweep", "The experiment (models and data folder filled "
                                              "in by the demo).")

    def sections(self) -> dict[str, Any]:
        """The configuration proper: every field but `out` and `overrides`."""
        data = dataclasses.asdict(self)
        del data["out"], data["overrides"]
        return data

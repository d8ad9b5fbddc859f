"""The options of `alignscope sweep` and `alignscope sweep status` (light: importing them loads
no run code)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from alignscope.config import Count, Flag, Folder, options


@options(frozen=True)
class SweepFolder:
    """A sweep folder, as `sweep status` and `report` take it."""

    sweep: Annotated[Path, Flag(argument=True, metavar="SWEEP")] = Field(
        description="A sweep folder (the --out of `alignscope sweep`).")


@options(frozen=True)
class SweepConfig:
    """`alignscope sweep`: run an experiment file's unfinished runs."""

    experiment: Annotated[Path, Flag(argument=True, metavar="EXPERIMENT")] = Field(
        description="Experiment YAML file (docs/experiments.md).")
    out: Folder = Field(description="Sweep folder: runs/, manifest.json, results/.")
    overrides: Annotated[list[str], Flag(name="--set", multiple=True, metavar="KEY=VALUE")] = \
        Field(default_factory=list, description="Override a key of the experiment file: dotted "
              "keys, YAML values (--set finetune.epochs=3); repeatable.")
    dry_run: bool = Field(False, description="Print the planned runs and what is done; run "
                          "nothing.")
    jobs: Count | None = Field(None, description="Runs at once (default: one per GPU times "
                               "--runs-per-device, or 1 on CPU).")
    runs_per_device: Count = Field(1, description="Runs sharing one GPU.")
    backend: Literal["local", "ray"] = Field("local", description="local: worker processes on "
                                             "this machine; ray: a Ray cluster "
                                             "(alignscope[ray]).")
    address: Annotated[str, Flag(metavar="ADDRESS")] | None = Field(
        None, description="Ray cluster address (default: the running cluster, else a local one).")
    retry_failed: bool = Field(False, description="Run again the runs that failed before.")

"""`alignscope sweep EXPERIMENT --out DIR` (also `sweep run`), `alignscope sweep status SWEEP`."""

from __future__ import annotations

from typing import Any

import typer

from alignscope.cli._app import Group, command, console, group
from alignscope.config import Progress
from alignscope.experiments.options import SweepConfig, SweepFolder


class _RunByDefault(Group):
    """`sweep EXPERIMENT ...` means `sweep run EXPERIMENT ...`; `sweep status SWEEP` stays
    itself."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = group("sweep", "Run an experiment file as a resumable sweep; see its status.",
                  cls=_RunByDefault)


def _print_plan(planned: list[Any]) -> None:
    from rich.table import Table

    table = Table(title="planned runs")
    for column in ("run", "kind", "key", "state"):
        table.add_column(column)
    labels = {"done": "done (kept)", "todo": "to run", "failed": "failed (--retry-failed)",
              "corrupt": "not a whole result: redone"}
    for item in planned:
        resumes = f", from its checkpoint at step {item.resumes_at}" \
            if item.resumes_at is not None else ""
        table.add_row(item.run.name, item.run.kind, item.run.key, labels[item.state] + resumes)
    console().print(table)
    counts: dict[str, int] = {}
    for item in planned:
        counts[item.state] = counts.get(item.state, 0) + 1
    console().print(", ".join(f"{labels[k]}: {v}" for k, v in counts.items()))


@command(sweep_app, SweepConfig, Progress)
def run(config: SweepConfig, display: Progress) -> None:
    """Run an experiment file's unfinished runs; finished ones are kept, never redone."""
    from alignscope.experiments.sweep import prepare, run_sweep

    if config.dry_run:
        _, planned = prepare(config.experiment, config.out, config.overrides, config.retry_failed)
        _print_plan(planned)
        return
    result = run_sweep(config.experiment, config.out, overrides=config.overrides, jobs=config.jobs,
                       runs_per_device=config.runs_per_device, backend=config.backend,
                       address=config.address, retry_failed=config.retry_failed,
                       progress=None if display.progress else False)
    done = sum(1 for p in result.planned if p.state == "done")
    console().print(f"{len(result.executed)} run(s) executed, {done} already done, "
                    f"{len(result.failed)} failed; see `alignscope sweep status {config.out}`")
    if result.failed:
        raise typer.Exit(1)


@command(sweep_app, SweepFolder)
def status(folder: SweepFolder) -> None:
    """Each run's status (done / running / failed / interrupted / pending), with errors."""
    from rich.table import Table

    from alignscope.experiments.sweep import sweep_status

    info = sweep_status(folder.sweep)
    table = Table(title=f"{info['experiment']} in {folder.sweep}"
                        f"{' (a sweep is running)' if info['live'] else ''}")
    for column in ("run", "kind", "status", "seconds", "error"):
        table.add_column(column)
    for name, entry in info["runs"].items():
        seconds, checkpoint = entry.get("seconds"), entry.get("checkpoint_step")
        table.add_row(name, entry["kind"], entry["status"] + (
                          f" (checkpoint at step {checkpoint})" if checkpoint is not None else ""),
                      "" if seconds is None else f"{seconds:.1f}",
                      (entry.get("error") or "")[:80])
    console().print(table)
    console().print(", ".join(f"{k}: {v}" for k, v in sorted(info["counts"].items())))

"""`alignscope sweep CONFIG --out DIR` (also `sweep run`), `alignscope sweep status DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from alignscope.cli._app import app, run_guarded

Opt = typer.Option


class _RunByDefault(TyperGroup):
    """`sweep CONFIG ...` means `sweep run CONFIG ...`; `sweep status DIR` stays itself."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(cls=_RunByDefault, no_args_is_help=True,
                        help="Run an experiment file as a resumable sweep; see its status.")
app.add_typer(sweep_app, name="sweep")


def _print_plan(planned: list[Any]) -> None:
    table = Table(title="planned runs")
    for column in ("run", "kind", "key", "state"):
        table.add_column(column)
    labels = {"done": "done (kept)", "todo": "to run", "failed": "failed (--retry-failed)",
              "corrupt": "not a whole result: redone"}
    for item in planned:
        resumes = f", from its checkpoint at step {item.resumes_at}" \
            if item.resumes_at is not None else ""
        table.add_row(item.run.name, item.run.kind, item.run.key, labels[item.state] + resumes)
    Console().print(table)
    counts: dict[str, int] = {}
    for item in planned:
        counts[item.state] = counts.get(item.state, 0) + 1
    Console().print(", ".join(f"{labels[k]}: {v}" for k, v in counts.items()))


@sweep_app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    out: Annotated[Path, Opt(help="Sweep folder (runs/, manifest.json, results/).")],
    dry_run: Annotated[bool, Opt(help="Print the planned runs and what is done; run "
                                      "nothing.")] = False,
    set_: Annotated[list[str] | None, Opt("--set", help="Override a key: KEY=VALUE (dotted "
                                                        "keys, YAML values); repeatable.")] = None,
    jobs: Annotated[int | None, Opt(help="Runs at once (default: one per GPU x "
                                         "--runs-per-device, or 1 on CPU).")] = None,
    runs_per_device: Annotated[int, Opt(help="Runs sharing one GPU.")] = 1,
    backend: Annotated[str, Opt(help="local | ray.")] = "local",
    address: Annotated[str | None, Opt(help="Ray cluster address (auto: the running "
                                            "cluster).")] = None,
    retry_failed: Annotated[bool, Opt(help="Run again the runs that failed before.")] = False,
    progress: Annotated[bool | None, Opt("--progress/--no-progress",
                                         help="Live display (default: on a terminal; plain "
                                              "log lines otherwise).")] = None,
) -> None:
    """Run an experiment file's unfinished runs; finished ones are kept, never redone."""

    def body() -> None:
        from alignscope.experiments.sweep import prepare, run_sweep

        if dry_run:
            _, planned = prepare(config, out, set_ or [], retry_failed)
            _print_plan(planned)
            return
        result = run_sweep(config, out, overrides=set_ or [], jobs=jobs,
                           runs_per_device=runs_per_device, backend=backend, address=address,
                           retry_failed=retry_failed, progress=progress)
        done = sum(1 for p in result.planned if p.state == "done")
        Console().print(f"{len(result.executed)} run(s) executed, {done} already done, "
                        f"{len(result.failed)} failed; see `alignscope sweep status {out}`")
        if result.failed:
            raise typer.Exit(1)

    run_guarded(body)


@sweep_app.command("status")
def status(out: Annotated[Path, typer.Argument(help="A sweep folder.")]) -> None:
    """Each run's status (done / running / failed / interrupted / pending), with errors."""

    def body() -> None:
        from alignscope.experiments.sweep import sweep_status

        info = sweep_status(out)
        table = Table(title=f"{info['experiment']} in {out}"
                            f"{' (a sweep is running)' if info['live'] else ''}")
        for column in ("run", "kind", "status", "seconds", "error"):
            table.add_column(column)
        for name, entry in info["runs"].items():
            seconds = entry.get("seconds")
            checkpoint = entry.get("checkpoint_step")
            table.add_row(name, entry["kind"], entry["status"] + (
                f" (checkpoint at step {checkpoint})" if checkpoint is not None else ""),
                          "" if seconds is None else f"{seconds:.1f}",
                          (entry.get("error") or "")[:80])
        console = Console()
        console.print(table)
        console.print(", ".join(f"{k}: {v}" for k, v in sorted(info["counts"].items())))

    run_guarded(body)

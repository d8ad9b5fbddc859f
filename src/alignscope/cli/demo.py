"""`alignscope demo`: the whole study offline, on lab-made languages and models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignscope.cli._app import app, console, quiet_third_party, run_guarded

Opt = typer.Option


@app.command()
def demo(
    out: Annotated[Path, Opt(help="Demo folder (data, models, sweeps, report).")] = Path("demo"),
    config: Annotated[Path | None, Opt(help="A demo configuration (default: the bundled "
                                            "alignscope/demo/demo.yaml).")] = None,
    set_: Annotated[list[str] | None, Opt("--set", help="KEY=VALUE override, dotted keys "
                                                        "(e.g. pretrain.steps=600).")] = None,
    quiet: Annotated[bool, Opt(help="Plain log lines instead of live progress.")] = False,
) -> None:
    """Generate languages, pretrain a small BERT and a control, run the RANDOM-INIT study and
    report, offline, in about 10 minutes on 2 CPU cores. Re-run to resume."""

    def body() -> None:
        from alignscope.demo.run import run_demo

        quiet_third_party(True)  # hundreds of weight-loading bars would bury the demo's own
        paths = run_demo(out, config, set_, progress=False if quiet else None)
        console().print(f"findings: {paths['findings']}\nfull report: {paths['report']}")

    run_guarded(body)

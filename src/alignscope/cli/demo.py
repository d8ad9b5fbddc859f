"""`alignscope demo`: the whole study offline, on lab-made languages and models."""

from __future__ import annotations

from alignscope.cli._app import app, command, console, quiet_third_party
from alignscope.config import Progress
from alignscope.demo.options import DemoConfig


@command(app, DemoConfig, Progress)
def demo(config: DemoConfig, display: Progress) -> None:
    """Generate languages, pretrain a small BERT and a control, run the RANDOM-INIT study and
    report, offline, in about 10 minutes on 2 CPU cores. Re-run to resume."""
    from alignscope.demo.run import run_demo

    quiet_third_party(True)  # hundreds of weight-loading bars would bury the demo's own
    paths = run_demo(config.out, config, config.overrides,
                     progress=None if display.progress else False)
    console().print(f"findings: {paths['findings']}\nfull report: {paths['report']}")

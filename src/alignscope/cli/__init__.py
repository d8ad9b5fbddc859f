"""Command-line interface: a thin layer over the Python API, one module per command group.
Each command's flags are derived from its option classes (`_app.command`); importing this
package imports no heavy library (torch, transformers, scikit-learn, matplotlib, ray)."""

from alignscope.cli import analysis, data, demo, lab, llm, report, sweep, train
from alignscope.cli._app import app

__all__ = ["analysis", "app", "data", "demo", "lab", "llm", "report", "sweep", "train"]

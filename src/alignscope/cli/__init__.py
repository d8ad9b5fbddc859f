"""Command-line interface: a thin layer over the Python API, one module per command group."""

from alignscope.cli import analysis, data, demo, lab, report, sweep, train
from alignscope.cli._app import app

__all__ = ["analysis", "app", "data", "demo", "lab", "report", "sweep", "train"]

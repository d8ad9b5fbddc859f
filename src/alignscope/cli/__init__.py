"""Command-line interface: a thin layer over the Python API, one module per command group."""

from alignscope.cli import analysis, data, lab, report, train
from alignscope.cli._app import app

__all__ = ["analysis", "app", "data", "lab", "report", "train"]

"""Command-line interface: a thin layer over the Python API, one module per command group."""

from alignscope.cli import data, report, train
from alignscope.cli._app import app

__all__ = ["app", "data", "report", "train"]

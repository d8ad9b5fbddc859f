"""Experiments: a whole study from one YAML file, run as resumable sweeps (see docs/experiments.md)."""

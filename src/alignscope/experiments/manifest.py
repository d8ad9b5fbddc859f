"""`OUT/manifest.json`: what each run of a sweep is doing or did (status, timings, errors,
versions), rewritten atomically by the sweep's one driver process at every change.

The run folders are the truth about results (store.py); the manifest is the journal around
them: it remembers failures (not retried without `--retry-failed`) and what ran where.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alignscope.experiments.plan import RunSpec
from alignscope.io import atomic_write_json
from alignscope.runs import timestamp

MANIFEST = "manifest.json"
SCHEMA = 1
STATUSES = ("pending", "running", "done", "failed", "skipped")
# What the manifest keeps of a run's record: timings, error, where it ran (Ray: node id, IP).
RECORDED = ("started", "finished", "seconds", "error", "device", "host", "node", "node_ip",
            "versions")


def open_sweep(out: Path) -> dict[str, Any]:
    """The manifest of the sweep folder `out`; a missing folder, a folder that is not a sweep
    (with what it holds instead) and a damaged manifest are each said so."""
    from alignscope.errors import ConfigError, DataFormatError
    from alignscope.io import read_json
    from alignscope.runs import RESULT_FILES

    hint = "pass the --out folder of `alignscope sweep`"
    if not out.exists():
        raise ConfigError(f"{out}: no such folder", hint)
    if not out.is_dir():
        raise ConfigError(f"{out} is a file, not a sweep folder", hint)
    if not (out / MANIFEST).is_file():
        held = [f"a {kind} result ({name})" for kind, name in RESULT_FILES.items()
                if (out / name).is_file()]
        raise ConfigError(f"{out} is not a sweep folder (no {MANIFEST})"
                          + (f"; it holds {held[0]}" if held else ""),
                          hint + (" (`alignscope table` reads a single run)" if held else ""))
    data = read_json(out / MANIFEST)  # invalid JSON: the file and line
    if not isinstance(data, dict) or data.get("schema") != SCHEMA \
            or not isinstance(data.get("runs"), dict):
        raise DataFormatError(out / MANIFEST, None, "not a sweep manifest this version reads",
                              "run the same `alignscope sweep` again: it rebuilds the "
                              "manifest from the run folders")
    return data


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest, or None when absent or unreadable (it is rebuilt from the run folders)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


class Manifest:
    def __init__(self, out: Path, experiment: str, runs: list[RunSpec]) -> None:
        self.path = out / MANIFEST
        previous = read_manifest(out) or {}
        old_runs: dict[str, Any] = previous.get("runs", {})
        self.data: dict[str, Any] = {
            "schema": SCHEMA, "experiment": experiment,
            "created": previous.get("created", timestamp()), "updated": timestamp(),
            "sweeps": previous.get("sweeps", []), "runs": {}}
        for run in runs:
            old = old_runs.get(run.name, {})
            entry = old if old.get("key") == run.key else {}
            self.data["runs"][run.name] = {
                "kind": run.kind, "key": run.key, "labels": run.labels, "deps": list(run.deps),
                "status": entry.get("status", "pending"), "attempts": entry.get("attempts", 0),
                **{k: entry[k] for k in RECORDED if k in entry}}

    def status(self, name: str) -> str:
        return str(self.data["runs"][name]["status"])

    def update(self, name: str, **fields: Any) -> None:
        self.data["runs"][name].update(fields)
        self.save()

    def start_sweep(self, details: dict[str, Any]) -> None:
        self.data["sweeps"].append({"started": timestamp(), **details})
        self.save()

    def finish_sweep(self, counts: dict[str, int]) -> None:
        self.data["sweeps"][-1].update(finished=timestamp(), counts=counts)
        self.save()

    def save(self) -> None:
        self.data["updated"] = timestamp()
        atomic_write_json(self.path, self.data)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for entry in self.data["runs"].values():
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        return counts

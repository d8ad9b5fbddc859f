"""benchmarks/gpu_suite.sh --smoke runs every GPU check's code path on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import alignscope

REPO = Path(alignscope.__file__).resolve().parents[2]


def test_gpu_suite_smoke(tiny_bert: Path, shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "suite"
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(REPO / "benchmarks/gpu_suite.sh"), "--smoke", "--out", str(out),
         "--data-dir", str(shared_data), "--tokenizer", str(tiny_bert)],
        env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    speed = json.loads((out / "finetune_speed.json").read_text())
    assert speed  # words/s of alignscope (and the HF Trainer with the `bench` extra)
    extraction = json.loads((out / "extraction.json").read_text())
    assert extraction["flop_share"] > 0 and extraction["max_abs_difference"] < 1e-4
    for variant in ("a", "b"):
        assert json.loads((out / f"sweep-{variant}.json").read_text())["seconds"] > 0
        status = json.loads((out / f"sweep-{variant}" / "manifest.json").read_text())
        assert {e["status"] for e in status["runs"].values()} == {"done"}
        assert len(status["runs"]) == 3  # REF + the 2 block pairs of the 4-block smoke model

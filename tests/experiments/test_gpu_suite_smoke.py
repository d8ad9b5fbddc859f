"""benchmarks/gpu_suite.sh --smoke runs every GPU check's code path on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import alignscope
from alignscope.data.conllu import read_conllu

REPO = Path(alignscope.__file__).resolve().parents[2]


@pytest.mark.slow  # about a minute on 2 cores
def test_gpu_suite_smoke(tiny_bert: Path, data_slices: Path, tmp_path: Path) -> None:
    out = tmp_path / "suite"
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(REPO / "benchmarks/gpu_suite.sh"), "--smoke", "--out", str(out),
         "--data-dir", str(data_slices), "--tokenizer", str(tiny_bert)],
        env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    speed = json.loads((out / "finetune_speed.json").read_text())
    # alignscope's words/s alone, or beside the HF Trainer's (the `bench` extra): one epoch
    # over the suite's 32 training sentences, every word of them.
    train = read_conllu(data_slices / "ud/UD_English-EWT/en_ewt-ud-train.conllu", limit=32)
    systems = speed.get("median", {"alignscope": speed})
    for figures in systems.values():
        assert figures["train_words"] == sum(map(len, train))
        assert figures["words_per_second"] > 0
    extraction = json.loads((out / "extraction.json").read_text())
    assert extraction["flop_share"] > 0 and extraction["max_abs_difference"] < 1e-4
    for variant in ("a", "b"):
        assert json.loads((out / f"sweep-{variant}.json").read_text())["seconds"] > 0
        status = json.loads((out / f"sweep-{variant}" / "manifest.json").read_text())
        assert {e["status"] for e in status["runs"].values()} == {"done"}
        assert len(status["runs"]) == 3  # REF + the 2 block pairs of the 4-block smoke model
    resume = json.loads((out / "resume.json").read_text())["fp32"]
    # On the CPU in fp32 the resumed run is the uninterrupted one, bit for bit.
    assert resume["resumed_at_steps"] == [resume["interrupted_at_step"]] == [5]
    assert resume["identical_history"] and resume["identical_metrics"]
    assert resume["largest_weight_difference"] == 0.0

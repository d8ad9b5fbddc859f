"""Issue 20's first check, from the command line as a user would: a tiny model fine-tuned for
40 steps with `--checkpoint-every 5`, killed with SIGKILL once a checkpoint of step >= 15 is on
disk, continued with `--resume`; its results.json and final weights against an uninterrupted
run's. Then a resume with a changed --lr must be refused (exit 2) naming the key.

    python benchmarks/check_resume_cli.py --data-dir ../shared/data --out /tmp/check-resume

Prints what differs (nothing but the `resume` flag itself and the peak memory is expected) and
exits 1 if metrics, history or any file of the final checkpoint differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sweep_load import check_workspace  # a 4-layer BERT, a vocabulary of EWT


def command(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "alignscope", "finetune", "--model", str(model), "--train",
            "ud:en_ewt", "--eval", "ud:fr_pud", "--data-dir", str(data), "--out", str(out),
            "--max-train-sentences", "64", "--batch-size", "8", "--epochs", "5",  # 40 steps
            "--max-dev-sentences", "16", "--max-eval-sentences", "16", "--lr", "1e-3",
            "--seed", "3", "--threads", "1", "--device", "cpu", "--checkpoint-every", "5",
            "--no-progress", *extra]


def killed_after_checkpoint(argv: list[str], state: Path, step: int) -> int:
    """Start the run; SIGKILL it once its checkpoint holds `step` or later."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        try:
            saved = json.loads(state.read_text())["progress"]["step"]
        except (OSError, ValueError, KeyError):
            saved = -1
        if saved >= step:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return saved
        time.sleep(0.05)
    raise SystemExit(f"the run ended (exit {process.returncode}) before a checkpoint of {step}")


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b))
                for d in differences(a.get(key), b.get(key), f"{where}.{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{where}.{i}")]
    return [] if a == b else [where]


def hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> None:
    data, out = check_workspace(__doc__, "/tmp/check-resume")
    model = out / "model"
    whole, killed = out / "whole", out / "killed"
    for folder in (whole, killed):
        shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(command(model, data, whole), check=True, capture_output=True)
    step = killed_after_checkpoint(command(model, data, killed),
                                   killed / "resume" / "state.json", 15)
    print(f"killed after the checkpoint of step {step}; results.json there: "
          f"{(killed / 'results.json').exists()}")
    subprocess.run(command(model, data, killed, "--resume"), check=True,
                   capture_output=True)
    a, b = (json.loads((f / "results.json").read_text()) for f in (whole, killed))
    volatile = ("created", "seconds", "per_second", "timings", "resources", "resumed_at_steps")
    differ = [d for d in differences(a, b) if not any(v in d for v in volatile)]
    print("resumed at steps", b["training"]["resumed_at_steps"], "; results.json differs in",
          differ or "nothing")
    same_files = hashes(whole / "checkpoint") == hashes(killed / "checkpoint")
    print(f"final checkpoint ({len(hashes(whole / 'checkpoint'))} files) byte-identical: "
          f"{same_files}")

    changed = out / "changed"
    shutil.rmtree(changed, ignore_errors=True)
    killed_after_checkpoint(command(model, data, changed), changed / "resume" /
                            "state.json", 5)
    argv = command(model, data, changed, "--resume")
    argv[argv.index("1e-3")] = "2e-3"
    refused = subprocess.run(argv, capture_output=True, text=True)
    print("resume with another --lr: exit", refused.returncode,
          " ".join((refused.stdout + refused.stderr).split())[:300])
    if differ != [".config.resume"] or not same_files or refused.returncode != 2:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""What a resumable fine-tune's checkpoint costs: size, save and restore times of the whole
training state (alignscope.train_state) of a model with its AdamW state.

    python benchmarks/bench_checkpoint.py --model ~/.cache/alignscope/e5-small --out /tmp/ckpt

One optimizer step gives the optimizer its state; then three saves (the first writes into an
empty folder, the next ones replace it) and one load + restore. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from alignscope import train_state
from alignscope.models.encoder import load_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-checkpoint"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_encoder(args.model.expanduser()).model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    model(input_ids=torch.tensor([[0, 5, 6, 2]])).last_hidden_state.sum().backward()
    optimizer.step()
    shutil.rmtree(args.out, ignore_errors=True)
    folder, saves = args.out / "resume", []
    for step in range(3):
        started = time.perf_counter()
        train_state.save(folder, config={}, progress={"step": step}, model=model,
                         optimizer=optimizer)
        saves.append(round(time.perf_counter() - started, 2))
    started = time.perf_counter()
    checkpoint = train_state.load(folder, {})
    assert checkpoint is not None
    checkpoint.restore(model, optimizer)
    print(json.dumps({
        "parameters_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "checkpoint_MB": round(sum(f.stat().st_size for f in folder.iterdir()) / 1e6),
        "save_s": saves, "load_restore_s": round(time.perf_counter() - started, 2)}))


if __name__ == "__main__":
    main()

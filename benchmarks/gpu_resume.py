"""Resumable fine-tuning on a GPU: for each precision, a run interrupted after a mid-epoch
checkpoint and continued with `resume` against the same run never interrupted.

    python benchmarks/gpu_resume.py --model runs/gpu_suite/model --data-dir ../shared/data \\
        --device cuda --precisions fp16 bf16 --out runs/gpu_suite/resume.json

fp16 trains through the gradient scaler, whose state the checkpoint carries; bf16 (and fp32)
do not need one. On the CPU (fp32, same thread count) the resumed run is the uninterrupted one
bit for bit (tests/training/test_resume.py); on a GPU some kernels (scatter-adds in the
embedding backward) need not be deterministic, so this reports how far apart they are rather
than asserting equality. It fails only if a run fails, its loss is not finite, or the fp16
checkpoint lacks the scaler's state.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from alignscope import train_state
from alignscope.training.config import FinetuneConfig
from alignscope.training.finetune import finetune


class Interrupted(Exception):
    pass


def interrupted_then_resumed(config: FinetuneConfig, out: Path, stop_at: int,
                             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run stopped right after its `stop_at`-th checkpoint (what the checkpoint held),
    then resumed to the end."""
    real, saved = train_state.save, {"count": 0, "scaler": None}

    def stopping(directory: Any, **kwargs: Any) -> None:
        real(directory, **kwargs)
        saved["count"] += 1
        if saved["count"] == stop_at:
            saved["scaler"] = json.loads((Path(directory) / train_state.STATE_FILE)
                                         .read_text())["scaler"]
            saved["step"] = kwargs["progress"]["step"]
            raise Interrupted

    train_state.save = stopping  # type: ignore[assignment]
    try:
        finetune(config, out, show_progress=False)
        raise RuntimeError("the run was not interrupted")
    except Interrupted:
        pass
    finally:
        train_state.save = real  # type: ignore[assignment]
    resumed = finetune(FinetuneConfig(**{**config.to_dict(), "resume": True}), out,
                       show_progress=False)
    return resumed, saved


def largest_difference(a: Path, b: Path) -> float:
    first, second = load_file(str(a)), load_file(str(b))
    return max(float((first[k].float() - second[k].float()).abs().max()) for k in first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precisions", nargs="+", default=["fp16", "bf16"])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    report: dict[str, Any] = {"device": args.device,
                              "gpu": torch.cuda.get_device_name() if args.device != "cpu" else None}
    with tempfile.TemporaryDirectory(prefix="gpu-resume-") as tmp:
        for precision in args.precisions:
            # 8 batches per epoch, 2 epochs; checkpoints at steps 5 (mid-epoch), 8 (epoch end)...
            config = FinetuneConfig(
                model=str(args.model), train="ud:en_ewt", eval=["ud:fr_pud"],
                data_dir=str(args.data_dir), epochs=2, batch_size=8, lr=5e-5,
                max_train_sentences=64, max_dev_sentences=16, max_eval_sentences=32,
                checkpoint_every=5, device=args.device, precision=precision,
                threads=args.threads, seed=1)
            whole = finetune(config, Path(tmp) / f"{precision}-whole", show_progress=False)
            resumed, saved = interrupted_then_resumed(config, Path(tmp) / f"{precision}-cut", 1)
            losses = [r["train_loss"] for r in resumed["training"]["history"]]
            same_history = resumed["training"]["history"] == whole["training"]["history"]
            same_metrics = [e["metrics"] for e in resumed["evaluations"]] == \
                [e["metrics"] for e in whole["evaluations"]]
            weights = "checkpoint/encoder/model.safetensors"
            report[precision] = {
                "interrupted_at_step": saved["step"],
                "resumed_at_steps": resumed["training"]["resumed_at_steps"],
                "scaler_in_checkpoint": saved["scaler"],
                "train_losses": losses,
                "identical_history": same_history, "identical_metrics": same_metrics,
                "largest_weight_difference": largest_difference(
                    Path(tmp) / f"{precision}-whole" / weights,
                    Path(tmp) / f"{precision}-cut" / weights),
                "accuracy": {e["language"]: e["metrics"]["upos_accuracy"]
                             for e in resumed["evaluations"]},
            }
            if not all(math.isfinite(loss) for loss in losses):
                raise SystemExit(f"{precision}: the training loss is not finite: {losses}")
            if precision == "fp16" and not saved["scaler"]:
                raise SystemExit("fp16: the checkpoint holds no gradient-scaler state")
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""One run of a sweep, executed into a work folder through the public API (finetune,
run_similarity, run_stability, run_correlation). Used in-process, by worker processes and by
Ray tasks alike; returns a record of what happened instead of raising."""

from __future__ import annotations

import platform
import shutil
import socket
import time
import traceback
from pathlib import Path
from typing import Any

from alignscope.experiments.checkpoints import state_dir
from alignscope.experiments.plan import FINETUNED, RunSpec
from alignscope.runs import CHECKPOINT_DIR, part_dir, timestamp

_SHARED: Any = None  # this process's datasets, read and tokenised once for all its runs


def _similarity(config: dict[str, Any], model: str, out: Path, runtime: dict[str, Any]) -> None:
    from alignscope.analysis.similarity import SimilarityConfig, run_similarity

    settings = SimilarityConfig(**{**config, "model": model,
                                   "device": runtime.get("device", "auto")})
    run_similarity(settings, out)


def _stability(config: dict[str, Any], finetuned: str, out: Path,
               runtime: dict[str, Any]) -> None:
    from alignscope.analysis.stability import StabilityConfig, run_stability

    settings = StabilityConfig(**{**config, "finetuned": finetuned,
                                  "device": runtime.get("device", "auto")})
    run_stability(settings, out)


def _pretrained_analysis(run: RunSpec, work: Path) -> None:
    """A lens or neurons run on the pretrained model."""
    from alignscope.analysis.lens.run import run_lens
    from alignscope.analysis.llm_settings import LensConfig, NeuronsConfig
    from alignscope.analysis.neurons.run import run_neurons

    config = {**run.config, "device": run.runtime.get("device", "auto")}
    if run.kind == "lens":
        run_lens(LensConfig(**config), part_dir(work, "lens"))
    else:
        run_neurons(NeuronsConfig(**config), part_dir(work, "neurons"))


def _finetune(run: RunSpec, work: Path) -> None:
    from alignscope.training.config import FinetuneConfig
    from alignscope.training.finetune import finetune
    from alignscope.training.shared import SharedData

    global _SHARED
    _SHARED = _SHARED or SharedData()
    runtime = run.runtime
    config = FinetuneConfig(**run.config["finetune"], device=runtime.get("device", "auto"),
                            threads=runtime.get("threads"), resume=True,
                            checkpoint_every=runtime.get("checkpoint_every"))
    out = part_dir(work, "finetune")
    finetune(config, out, show_progress=False, shared=_SHARED, state_dir=state_dir(runtime))
    if "similarity" in run.config:
        _similarity(run.config["similarity"], str(out), part_dir(work, "similarity"), runtime)
    if "stability" in run.config:
        assert run.config["stability"]["finetuned"] == FINETUNED
        _stability(run.config["stability"], str(out), part_dir(work, "stability"), runtime)
    if not runtime.get("keep_checkpoint", False):
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)


def _merge(run: RunSpec, work: Path, deps: dict[str, Path]) -> None:
    """The fine-tuned runs merged (`alignscope merge`), then evaluated like a finetune run."""
    from alignscope.training.config import MergeConfig
    from alignscope.training.evaluate import evaluate
    from alignscope.training.merge import merge_runs

    merged = part_dir(work, "merge")
    runs = [part_dir(deps[name], "finetune") for name in run.deps]
    merge_runs(MergeConfig(**run.config["merge"], runs=runs), merged)
    evaluate(checkpoint=str(merged), **{**run.config["evaluate"],
                                        "device": run.runtime.get("device", "auto")},
             out=str(part_dir(work, "evaluate")), show_progress=False)
    if not run.runtime.get("keep_checkpoint", False):
        shutil.rmtree(merged / CHECKPOINT_DIR, ignore_errors=True)


def _correlation(run: RunSpec, work: Path, deps: dict[str, Path]) -> None:
    from alignscope.analysis.correlation import CorrelationConfig, run_correlation

    similarity, transfer = (deps[name] for name in run.deps)
    run_correlation(CorrelationConfig(similarity=str(part_dir(similarity, "similarity")),
                                      transfer=str(part_dir(transfer, "finetune")),
                                      measure=run.config["measure"]), part_dir(work, "correlation"))


def execute_run(run: RunSpec, work: Path, deps: dict[str, Path] | None = None,
                ) -> dict[str, Any]:
    """Fill `work` with the run's results; the record says whether it worked and how long."""
    import torch

    from alignscope.progress import quiet_third_party

    quiet_third_party()  # a worker's log: no weight-loading bars (on a terminal they stay)
    started, clock = timestamp(), time.perf_counter()
    threads = run.runtime.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    record: dict[str, Any] = {"started": started, "host": socket.gethostname(),
                              "device": run.runtime.get("device", "auto"),
                              "python": platform.python_version()}
    try:
        if run.kind == "finetune":
            _finetune(run, work)
        elif run.kind == "similarity":
            _similarity(run.config, run.config["model"], part_dir(work, "similarity"),
                        run.runtime)
        elif run.kind == "correlation":
            _correlation(run, work, deps or {})
        elif run.kind == "merge":
            _merge(run, work, deps or {})
        elif run.kind in ("lens", "neurons"):
            _pretrained_analysis(run, work)
        else:
            raise ValueError(f"unknown run kind {run.kind!r}")
        record["status"] = "done"
    except Exception as error:  # one failed run is recorded and does not stop the others
        record.update(status="failed", error=f"{type(error).__name__}: {error}",
                      traceback=traceback.format_exc(limit=8)[-4000:])
    from alignscope.runtime import versions

    record.update(finished=timestamp(), seconds=round(time.perf_counter() - clock, 3),
                  versions=versions())
    return record

"""Fine-tune an encoder (optionally with RANDOM-INIT, frozen or reverted layers) on a source
language and evaluate zero-shot on target languages. Writes `results.json` and `checkpoint/`
atomically."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import get_linear_schedule_with_warmup

from alignscope.config import build, check_out_folder
from alignscope.data.registry import DatasetRef, ResolvedDataset, parse_ref, resolve
from alignscope.data.sentence import Sentence
from alignscope.encoding.batching import length_grouped_batches
from alignscope.encoding.collate import collate_words, pad_id_of
from alignscope.encoding.precision import autocast, check_precision
from alignscope.encoding.words import WordAligner, aligner_for
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.layer_names import parse_layers
from alignscope.models.ablation import RevertPoint, freeze, revert_point, reverted
from alignscope.models.encoder import load_encoder, resolve_model_source
from alignscope.models.layers import find_blocks, layers_of_parameters
from alignscope.models.reinit import ReinitRecord, is_norm, reinitialize
from alignscope.models.task_model import TaskModel
from alignscope.progress import progress_bar
from alignscope.runs import CHECKPOINT_DIR, PREDICTIONS_DIR, make_result, result_file, write_result
from alignscope.runtime import device_description, peak_memory_mb, pick_device
from alignscope.tasks import Task, get_task
from alignscope.training.checkpoint import save_checkpoint
from alignscope.training.config import DEFAULT_MAX_LENGTH, FinetuneConfig
from alignscope.training.predict import Predictor, Prepared
from alignscope.training.shared import SharedData

_STATUS_EVERY = 20  # steps between loss read-outs for the progress bar


@dataclass
class _Data:
    train: ResolvedDataset
    dev: ResolvedDataset | None
    evals: list[ResolvedDataset]


def _resolve_data(config: FinetuneConfig) -> _Data:
    train_ref = parse_ref(config.train)
    train = resolve(train_ref, "train", config.data_dir)
    if config.dev:
        dev: ResolvedDataset | None = resolve(config.dev, "dev", config.data_dir)
    elif train_ref.scheme == "file":
        dev = None  # a bare file has no sibling dev split; the last model is kept
    else:
        dev = resolve(DatasetRef(train_ref.scheme, train_ref.name), "dev", config.data_dir)
    evals: list[ResolvedDataset] = []
    if train_ref.scheme != "file":
        # Always score the source language's own test split.
        evals.append(resolve(DatasetRef(train_ref.scheme, train_ref.name), "eval", config.data_dir))
    for ref in config.eval:
        dataset = resolve(ref, "eval", config.data_dir)
        if all(dataset.path != seen.path for seen in evals):
            evals.append(dataset)
    return _Data(train, dev, evals)


def finetune(config: FinetuneConfig | None = None, out: str | Path = "runs/run", *,
             overwrite: bool = False, show_progress: bool = True,
             shared: SharedData | None = None, **fields: Any) -> dict[str, Any]:
    """Run one fine-tuning experiment and return the results dict written to `out`.

    Pass a `FinetuneConfig`, or its fields as keywords:
    `finetune(model="xlm-roberta-base", train="ud:en_ewt", eval=["ud:fr_gsd"], out="runs/x")`.
    `shared` lets many runs in one process read and tokenise each dataset once (sweeps).
    """
    if config is None:
        config = build(FinetuneConfig, fields)
    elif fields:
        raise ConfigError("pass either a FinetuneConfig or keyword fields, not both")
    out = check_out_folder(out)
    # A local model folder is complete, a GGUF file readable.
    resolve_model_source(config.model, config.allow_pickle, config.gguf_file, config.revision)
    pick_device(config.device)  # available (CUDA asked on a machine without it)
    precision = config.precision
    results_path = result_file(out, "finetune")
    if results_path.exists() and not overwrite:
        raise AlignscopeError(f"{results_path} already exists", "choose another --out or "
                              "pass --overwrite")
    task = get_task(config.task, **config.task_arguments())
    data = _resolve_data(config)  # fail on bad references before any heavy work
    shared = shared or SharedData()
    train_sentences = shared.read(task, data.train, config.max_train_sentences)
    dev_sentences = shared.read(task, data.dev, config.max_dev_sentences) if data.dev else None
    eval_sentences = [shared.read(task, dataset, config.max_eval_sentences)
                      for dataset in data.evals]
    labels = task.build_labels(train_sentences)
    for sentences in (dev_sentences or [], *eval_sentences):
        task.check_labels(sentences, labels)

    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    check_precision(precision, device)
    encoder = load_encoder(config.model, revision=config.revision,
                           trust_remote_code=config.trust_remote_code,
                           allow_pickle=config.allow_pickle, dtype=config.dtype,
                           device_map=config.device_map, gguf_file=config.gguf_file)
    # The default (128) shrinks to a smaller model's limit; an explicit longer window is an error.
    if config.max_length > encoder.max_tokens() and config.max_length != DEFAULT_MAX_LENGTH:
        raise ConfigError(f"--max-length {config.max_length} exceeds what the model accepts "
                          f"({encoder.max_tokens()} subwords)",
                          f"use --max-length {encoder.max_tokens()} or less; longer sentences "
                          "are windowed anyway")
    ablations = _ablate(encoder.model, config)
    random_init = layers_of_parameters(encoder.model, [r.name for r in ablations.reinit])
    head = task.build_head(encoder.hidden_size, labels, config.dropout)
    model = TaskModel(encoder.model, head)
    if config.device_map is None:
        model.to(device)
    else:  # the encoder is already placed; accelerate's hooks move its inputs and outputs
        model.head.to(device)
    aligner = aligner_for(encoder, config.max_length)
    predictor = Predictor(model, task, labels, aligner, device, config.eval_batch_size,
                          precision, show_progress)

    training = _train(model, task, labels, aligner, predictor, train_sentences, dev_sentences,
                      config, device, show_progress, shared)
    best_state = training.pop("best_state")
    if best_state is not None:  # with a dev set: back to the best epoch's weights
        model.load_state_dict(best_state)

    predictions_dir = out / PREDICTIONS_DIR if config.write_predictions else None
    evaluations = [predictor.evaluate(dataset, sentences, predictions_dir)
                   for dataset, sentences in zip(data.evals, eval_sentences, strict=True)]
    reverts = [_evaluate_reverted(model, point, predictor, data.evals, eval_sentences,
                                  predictions_dir) for point in ablations.revert_points]
    results = make_result("finetune", {
        "task": task.name,
        "metric": task.main_metric,
        "seed": config.seed,
        "reinit": {"spec": ablations.reinit_spec,
                   "regex": config.random_init_regex, "scope": config.scope,
                   "scheme": config.init_scheme, "seed": config.seed,
                   "tensors": [r.to_dict() for r in ablations.reinit]},
        "freeze": {"layers": ablations.frozen_layers, "scope": config.scope,
                   "tensors": [r.to_dict() for r in ablations.frozen]} if config.freeze else None,
        "revert": reverts,
        "data": {"train": _describe(data.train, train_sentences),
                 "dev": _describe(data.dev, dev_sentences) if data.dev else None},
        "training": training,
        "evaluations": evaluations,
        "device": device_description(device),
        "resources": peak_memory_mb(device),
    }, source_language=data.train.language, random_init=random_init,
        model={**encoder.record, "class": type(encoder.model).__name__,
               "num_blocks": encoder.num_blocks, "hidden_size": encoder.hidden_size},
        config=config.to_dict())
    save_checkpoint(out / CHECKPOINT_DIR, model, encoder, task, labels, {
        "model": config.model, "dropout": config.dropout, "max_length": config.max_length,
        "task_options": config.task_arguments(), "seed": config.seed,
        "source_language": data.train.language, "random_init": random_init})
    write_result(out, results)  # last: its presence marks a finished run
    return results


@dataclass
class _Ablations:
    reinit: list[ReinitRecord]
    frozen: list[Any]
    revert_points: list[RevertPoint]
    reinit_spec: str | None  # canonical names, e.g. "block.0-1"
    frozen_layers: str | None


def _ablate(model: torch.nn.Module, config: FinetuneConfig) -> _Ablations:
    """Check every layer spec, remember the revert groups' pretrained weights, then apply
    RANDOM-INIT and freezing."""
    depth = len(find_blocks(model))
    specs = [spec for spec in (config.random_init, config.freeze) if spec] + config.revert
    layers = {spec: parse_layers(spec, depth) for spec in specs}
    points = [revert_point(model, layers[spec], scope=config.scope)
              for spec in config.revert]
    reinit = []
    if config.random_init or config.random_init_regex:
        reinit = reinitialize(model, layers.get(config.random_init or ""),
                              regex=config.random_init_regex, scope=config.scope,
                              scheme=config.init_scheme, seed=config.seed)
    frozen = freeze(model, layers[config.freeze], scope=config.scope) \
        if config.freeze else []
    return _Ablations(reinit, frozen, points,
                      str(layers[config.random_init]) if config.random_init else None,
                      str(layers[config.freeze]) if config.freeze else None)


def _evaluate_reverted(model: TaskModel, point: RevertPoint, predictor: Predictor,
                       datasets: list[ResolvedDataset], sentences: list[list[Sentence]],
                       predictions_dir: Path | None) -> dict[str, Any]:
    """Score every target with one group of layers back at its pretrained weights."""
    group_dir = predictions_dir / f"revert-{point.layers}" if predictions_dir else None
    with reverted(model.encoder, point) as records:
        evaluations = [predictor.evaluate(dataset, read, group_dir)
                       for dataset, read in zip(datasets, sentences, strict=True)]
    return {"layers": str(point.layers), "scope": point.scope,
            "tensors": [r.to_dict() for r in records], "evaluations": evaluations}


def _describe(dataset: ResolvedDataset, sentences: list[Sentence] | None) -> dict[str, Any]:
    sentences = sentences or []
    return {"dataset": dataset.name, "path": str(dataset.path), "language": dataset.language,
            "sentences": len(sentences), "words": sum(len(s) for s in sentences)}


def _parameter_groups(model: TaskModel, config: FinetuneConfig) -> list[dict[str, Any]]:
    """No weight decay on biases and norms; the head may have its own learning rate."""
    norms = {id(p) for module in model.modules() if is_norm(module) for p in module.parameters()}
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue  # frozen: the optimizer never sees it
        no_decay = name.endswith("bias") or id(parameter) in norms
        groups.setdefault((name.startswith("head."), no_decay), []).append(parameter)
    head_lr = config.head_lr if config.head_lr is not None else config.lr
    return [{"params": params, "lr": head_lr if in_head else config.lr,
             "weight_decay": 0.0 if no_decay else config.weight_decay}
            for (in_head, no_decay), params in groups.items()]


def _train(model: TaskModel, task: Task, labels: Any, aligner: WordAligner, predictor: Predictor,
           train: list[Sentence], dev: list[Sentence] | None, config: FinetuneConfig,
           device: torch.device, show_progress: bool, shared: SharedData) -> dict[str, Any]:
    encoded, alignment = shared.encode(aligner, train)
    lengths = [item.num_tokens for item in encoded]
    batches_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = config.epochs * batches_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    epochs = math.ceil(total_steps / batches_per_epoch)

    optimizer = torch.optim.AdamW(
        _parameter_groups(model, config), lr=config.lr, eps=1e-8,
        # The fused kernel updates the large embedding matrix ~20x faster than the loop.
        fused=device.type in {"cpu", "cuda"})
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * total_steps), total_steps)
    generator = torch.Generator().manual_seed(config.seed)
    pad_id = pad_id_of(aligner.tokenizer)
    # Tokenised and aligned once, predicted after every epoch.
    dev_prepared: Prepared | None = predictor.prepare(dev) if dev is not None else None

    history: list[dict[str, Any]] = []
    best_score, best_state, best_step = -math.inf, None, 0
    step, words_seen, train_seconds = 0, 0, 0.0
    model.train()
    with progress_bar(show_progress) as bar:
        job = bar.add_task("train", total=total_steps, status="")
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            # Summed on the device: reading the loss every step would wait for the GPU.
            running_loss, batches_run = torch.zeros((), dtype=torch.float64, device=device), 0
            for indices in length_grouped_batches(lengths, config.batch_size, generator):
                if step >= total_steps:
                    break
                batch = collate_words(encoded, indices, pad_id).to(device)
                targets = {k: v.to(device) for k, v in task.targets(
                    [train[i] for i in indices], labels, batch.word_mask.shape[1]).items()}
                with autocast(device, predictor.precision):
                    output = model(batch)
                    loss = task.loss(output, targets, batch.word_mask)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                words_seen += batch.num_words
                running_loss += loss.detach().double()
                batches_run += 1
                status = None
                if show_progress and batches_run % _STATUS_EVERY == 0:
                    status = f"epoch {epoch} loss {float(running_loss) / batches_run:.4f}"
                bar.update(job, advance=1, **({"status": status} if status else {}))
            train_seconds += time.perf_counter() - started
            record: dict[str, Any] = {"epoch": epoch, "step": step,
                                      "train_loss": float(running_loss) / max(batches_run, 1)}
            score = -math.inf
            if dev is not None:
                assert dev_prepared is not None
                predictions, _ = predictor.predict(dev_prepared, description=f"dev epoch {epoch}")
                dev_metrics = task.score(dev, predictions, labels)
                record["dev"] = dev_metrics
                score = float(dev_metrics[task.main_metric])
            history.append(record)
            # Without a dev set the last model is kept (ties also favour the later model);
            # the best one waits on the CPU, not beside the live weights on the GPU.
            if dev is None or score > best_score:
                best_score, best_step = score, step
                if dev is not None:
                    best_state = {k: v.detach().to("cpu", copy=True)
                                  for k, v in model.state_dict().items()}
            if step >= total_steps:
                break
    return {
        "steps": step, "epochs_run": len(history), "batches_per_epoch": batches_per_epoch,
        "best_step": best_step, "best_epoch": next(r["epoch"] for r in history
                                                   if r["step"] == best_step),
        "best_dev_score": None if dev is None else best_score,
        "history": history, "alignment": alignment.to_dict(),
        "train_seconds": round(train_seconds, 3), "train_words": words_seen,
        "train_words_per_second": round(words_seen / train_seconds, 1) if train_seconds else None,
        "best_state": best_state,
    }

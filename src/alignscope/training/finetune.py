"""Fine-tune an encoder (optionally with RANDOM-INIT, frozen or reverted layers) on a source
language and evaluate zero-shot on target languages. Writes `results.json` and `checkpoint/`
atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from alignscope import train_state
from alignscope.config import build, check_out_folder
from alignscope.data.registry import DatasetRef, ResolvedDataset, parse_ref, resolve
from alignscope.data.sentence import Sentence
from alignscope.encoding.precision import check_precision
from alignscope.encoding.words import aligner_for
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.layer_names import parse_layers
from alignscope.models.ablation import RevertPoint, freeze, revert_point, reverted
from alignscope.models.encoder import load_encoder, resolve_model_source
from alignscope.models.layers import find_blocks, layers_of_parameters
from alignscope.models.reinit import ReinitRecord, reinitialize
from alignscope.models.task_model import TaskModel
from alignscope.runs import CHECKPOINT_DIR, PREDICTIONS_DIR, make_result, result_file, write_result
from alignscope.runtime import device_description, peak_memory_mb, pick_device
from alignscope.tasks import Labels, Task, get_task
from alignscope.training.checkpoint import save_checkpoint
from alignscope.training.config import DEFAULT_MAX_LENGTH, RUNTIME_FIELDS, FinetuneConfig
from alignscope.training.loop import Loop
from alignscope.training.predict import Predictor
from alignscope.training.shared import SharedData

STATE_DIR = "resume"  # the training state of an unfinished run (alignscope.train_state)


@dataclass
class Data:
    train: ResolvedDataset
    dev: ResolvedDataset | None
    evals: list[ResolvedDataset]


def resolve_data(config: FinetuneConfig) -> Data:
    """The datasets a fine-tune reads: its source's train and dev splits (or --dev), the
    source's test split and every --eval set."""
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
    return Data(train, dev, evals)


def read_data(task: Task, data: Data, config: FinetuneConfig, shared: SharedData,
              ) -> tuple[list[Sentence], list[Sentence] | None, list[list[Sentence]], Labels]:
    """Train, dev and eval sentences as far as the run reads them, and the labels of the
    training set, which the others must not go beyond."""
    train = shared.read(task, data.train, config.max_train_sentences)
    dev = shared.read(task, data.dev, config.max_dev_sentences) if data.dev else None
    evals = [shared.read(task, dataset, config.max_eval_sentences) for dataset in data.evals]
    labels = task.build_labels(train)
    for sentences in (dev or [], *evals):
        task.check_labels(sentences, labels)
    return train, dev, evals, labels


def finetune(config: FinetuneConfig | None = None, out: str | Path = "runs/run", *,
             overwrite: bool = False, show_progress: bool = True,
             shared: SharedData | None = None, state_dir: str | Path | None = None,
             **fields: Any) -> dict[str, Any]:
    """Run one fine-tuning experiment and return the results dict written to `out`.

    Pass a `FinetuneConfig`, or its fields as keywords:
    `finetune(model="xlm-roberta-base", train="ud:en_ewt", eval=["ud:fr_gsd"], out="runs/x")`.
    `shared` lets many runs in one process read and tokenise each dataset once (sweeps).
    The training state is checkpointed in `out/resume/` and removed once `results.json` is
    written; a caller that gives its own `state_dir` keeps it there and removes it itself (a
    sweep, once the run's analyses are done too).
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
    owned = state_dir is None
    state_dir = out / STATE_DIR if state_dir is None else Path(state_dir)
    checkpoint = _checkpoint(config, state_dir, overwrite)
    task = get_task(config.task, **config.task_arguments())
    data = resolve_data(config)  # fail on bad references before any heavy work
    shared = shared or SharedData()
    train_sentences, dev_sentences, eval_sentences, labels = read_data(task, data, config,
                                                                       shared)

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

    trained = Loop(model, task, labels, predictor, config, device, state_dir,
                   show_progress).run(aligner, train_sentences, dev_sentences, shared, checkpoint)
    training = trained.summary
    if trained.best_state is not None:  # with a dev set: back to the best epoch's weights
        model.load_state_dict(trained.best_state)

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
    if owned:
        train_state.remove(state_dir)
    return results


def _checkpoint(config: FinetuneConfig, state_dir: Path, overwrite: bool,
                ) -> train_state.Checkpoint | None:
    """The checkpoint to resume from; an interrupted run is neither resumed nor replaced
    unless asked (--resume, --overwrite)."""
    if config.resume:
        return train_state.load(state_dir, config.to_dict(), runtime=RUNTIME_FIELDS,
                                what="fine-tuning run")
    if overwrite:
        train_state.remove(state_dir)
    elif train_state.exists(state_dir):
        raise AlignscopeError(f"{state_dir} holds the checkpoint of an interrupted fine-tuning "
                              "run", "pass --resume to continue it, or --overwrite to start "
                              "again")
    return None


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
    options = [("--random-init", config.random_init), ("--freeze", config.freeze),
               *(("--revert", spec) for spec in config.revert)]
    layers = {}
    for option, spec in options:
        if spec:
            try:
                layers[spec] = parse_layers(spec, depth)
            except ConfigError as error:  # a group beyond this model's depth
                raise ConfigError(f"{option} {spec}: {error.message}", error.hint) from None
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

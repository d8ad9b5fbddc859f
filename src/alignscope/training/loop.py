"""The fine-tuning loop: batches of similar length, AdamW with linear warm-up and decay, the
model selected on the dev set after every epoch, and the whole training state checkpointed
(alignscope.train_state) at each epoch end and every `checkpoint_every` steps.

A resumed run continues from its checkpoint into the bits of the run that was never
interrupted (CPU, same thread count): the data order is re-drawn from the generator state of
the epoch's start and the batches already done are skipped; the loss summed so far, the dev
history and the best weights come back with the weights, optimizer, schedule and generators.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import get_linear_schedule_with_warmup

from alignscope import train_state
from alignscope.data.sentence import Sentence
from alignscope.encoding.batching import length_grouped_batches
from alignscope.encoding.collate import collate_words, pad_id_of
from alignscope.encoding.precision import autocast
from alignscope.encoding.words import WordAligner
from alignscope.models.reinit import is_norm
from alignscope.models.task_model import TaskModel
from alignscope.progress import progress_bar
from alignscope.tasks import Task
from alignscope.training.config import FinetuneConfig
from alignscope.training.predict import Predictor
from alignscope.training.shared import SharedData

_STATUS_EVERY = 20  # steps between loss read-outs for the progress bar


@dataclass
class Progress:
    """Where a run is: what a checkpoint's state.json keeps besides the tensors."""

    epoch: int = 1  # the epoch under way (or next)
    position: int = 0  # its batches done
    step: int = 0
    words: int = 0
    epoch_loss: float = 0.0  # the loss summed over those batches (float64)
    seconds: float = 0.0  # training time, all sessions
    history: list[dict[str, Any]] = field(default_factory=list)
    best_score: float | None = None  # the best dev score so far
    best_step: int = 0
    finished: bool = False  # every step taken: only the evaluation is left
    resumed: list[int] = field(default_factory=list)  # steps at which the run was resumed


@dataclass
class Trained:
    summary: dict[str, Any]  # results.json's `training`
    best_state: dict[str, torch.Tensor] | None  # with a dev set: the best epoch's weights


def parameter_groups(model: TaskModel, config: FinetuneConfig) -> list[dict[str, Any]]:
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


@dataclass
class Loop:
    model: TaskModel
    task: Task
    labels: Any
    predictor: Predictor
    config: FinetuneConfig
    device: torch.device
    state_dir: Path  # where checkpoints go
    show_progress: bool = True

    def run(self, aligner: WordAligner, train: list[Sentence], dev: list[Sentence] | None,
            shared: SharedData, checkpoint: train_state.Checkpoint | None) -> Trained:
        config, device = self.config, self.device
        encoded, alignment = shared.encode(aligner, train)
        lengths = [item.num_tokens for item in encoded]
        batches_per_epoch = math.ceil(len(train) / config.batch_size)
        total_steps = config.epochs * batches_per_epoch
        if config.max_steps is not None:
            total_steps = min(total_steps, config.max_steps)

        optimizer = torch.optim.AdamW(
            parameter_groups(self.model, config), lr=config.lr, eps=1e-8,
            # The fused kernel updates the large embedding matrix ~20x faster than the loop.
            fused=device.type in {"cpu", "cuda"})
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(config.warmup_ratio * total_steps), total_steps)
        # fp16 gradients underflow unscaled; for fp32 and bf16 the scaler passes them through.
        scaler = torch.amp.GradScaler(device.type,
                                      enabled=self.predictor.precision == "fp16")
        generator = torch.Generator().manual_seed(config.seed)
        progress, best_state = Progress(), None
        if checkpoint is not None:
            checkpoint.restore(self.model, optimizer, scheduler, scaler)
            progress = Progress(**checkpoint.progress)
            progress.resumed.append(progress.step)
            best_state = checkpoint.tensors("best")
            if best_state is None and dev is not None and progress.best_step == progress.step:
                best_state = self._best_now()  # saved once, as the model's own weights
            generator.set_state(checkpoint.tensors("order")["epoch_start"])
            checkpoint.restore_rng()
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        pad_id = pad_id_of(aligner.tokenizer)
        # Tokenised and aligned once, predicted after every epoch.
        dev_prepared = self.predictor.prepare(dev) if dev is not None else None

        self.model.train()
        with progress_bar(self.show_progress) as bar:
            resumed = f" (resumed at step {progress.step})" if progress.resumed else ""
            job = bar.add_task(f"train{resumed}", total=total_steps, completed=progress.step,
                               status="")
            while not progress.finished:
                epoch_start = generator.get_state()
                batches = length_grouped_batches(lengths, config.batch_size, generator)
                clock = time.perf_counter()
                # Summed on the device: reading the loss every step would wait for the GPU.
                loss_sum = torch.tensor(progress.epoch_loss, dtype=torch.float64, device=device)
                for indices in batches[progress.position:]:
                    if progress.step >= total_steps:
                        break
                    batch = collate_words(encoded, indices, pad_id).to(device)
                    loss_sum += self._step(batch, [train[i] for i in indices])
                    progress.step += 1
                    progress.position += 1
                    progress.words += batch.num_words
                    status = None
                    if self.show_progress and progress.position % _STATUS_EVERY == 0:
                        status = (f"epoch {progress.epoch} loss "
                                  f"{float(loss_sum) / progress.position:.4f}")
                    bar.update(job, advance=1, **({"status": status} if status else {}))
                    if config.checkpoint_every and progress.step % config.checkpoint_every == 0 \
                            and progress.position < len(batches) and progress.step < total_steps:
                        progress.epoch_loss = float(loss_sum)
                        progress.seconds += time.perf_counter() - clock
                        clock = time.perf_counter()
                        self._save(progress, best_state, epoch_start)
                progress.seconds += time.perf_counter() - clock
                best_state = self._end_epoch(progress, float(loss_sum), dev, dev_prepared,
                                             best_state)
                progress.finished = progress.step >= total_steps
                self._save(progress, best_state, generator.get_state())
        history = progress.history
        return Trained({
            "steps": progress.step, "epochs_run": len(history),
            "batches_per_epoch": batches_per_epoch, "best_step": progress.best_step,
            "best_epoch": next(r["epoch"] for r in history if r["step"] == progress.best_step),
            "best_dev_score": progress.best_score, "history": history,
            "alignment": alignment.to_dict(), "train_seconds": round(progress.seconds, 3),
            "train_words": progress.words,
            "train_words_per_second": round(progress.words / progress.seconds, 1)
            if progress.seconds else None,
            "resumed_at_steps": progress.resumed,
        }, best_state)

    def _step(self, batch: Any, sentences: list[Sentence]) -> torch.Tensor:
        targets = {k: v.to(self.device) for k, v in self.task.targets(
            sentences, self.labels, batch.word_mask.shape[1]).items()}
        with autocast(self.device, self.predictor.precision):
            output = self.model(batch)
            loss = self.task.loss(output, targets, batch.word_mask)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach().double()

    def _end_epoch(self, progress: Progress, loss_sum: float, dev: list[Sentence] | None,
                   dev_prepared: Any, best_state: dict[str, torch.Tensor] | None,
                   ) -> dict[str, torch.Tensor] | None:
        """The epoch's record and dev score; the best weights so far."""
        record: dict[str, Any] = {"epoch": progress.epoch, "step": progress.step,
                                  "train_loss": loss_sum / max(progress.position, 1)}
        score = -math.inf
        if dev is not None:
            predictions, _ = self.predictor.predict(dev_prepared,
                                                    description=f"dev epoch {progress.epoch}")
            record["dev"] = self.task.score(dev, predictions, self.labels)
            score = float(record["dev"][self.task.main_metric])
        progress.history.append(record)
        progress.epoch, progress.position, progress.epoch_loss = progress.epoch + 1, 0, 0.0
        # Without a dev set the last model is kept (ties also favour the later model);
        # the best one waits on the CPU, not beside the live weights on the GPU.
        if dev is None or progress.best_score is None or score > progress.best_score:
            progress.best_score, progress.best_step = (score if dev is not None else None,
                                                       progress.step)
            if dev is not None:
                best_state = self._best_now()
        return best_state

    def _best_now(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def _save(self, progress: Progress, best_state: dict[str, torch.Tensor] | None,
              epoch_start: torch.Tensor) -> None:
        tensors = {"order": {"epoch_start": epoch_start}}
        # After a dev improvement the best weights are the model's: not written twice.
        if best_state is not None and progress.best_step != progress.step:
            tensors["best"] = best_state
        train_state.save(self.state_dir, config=self.config.to_dict(),
                         progress=dataclasses.asdict(progress), model=self.model,
                         optimizer=self.optimizer, scheduler=self.scheduler, scaler=self.scaler,
                         tensors=tensors)

"""Batched prediction and scoring of whole datasets (every word of every sentence)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from alignscope.data.registry import ResolvedDataset
from alignscope.data.sentence import Sentence
from alignscope.encoding.batching import sorted_batches
from alignscope.encoding.collate import collate_words, pad_id_of
from alignscope.encoding.precision import autocast
from alignscope.encoding.words import AlignmentReport, EncodedSentence, WordAligner
from alignscope.models.task_model import TaskModel
from alignscope.progress import progress_bar
from alignscope.tasks.base import Labels, Task


@dataclass(frozen=True)
class Prepared:
    """Sentences tokenised and aligned once, predicted as often as needed (dev every epoch)."""

    sentences: Sequence[Sentence]
    encoded: list[EncodedSentence]
    report: AlignmentReport


@dataclass
class Predictor:
    model: TaskModel
    task: Task
    labels: Labels
    aligner: WordAligner
    device: torch.device
    batch_size: int = 64
    precision: str = "auto"  # encoding/precision.py
    show_progress: bool = True

    def prepare(self, sentences: Sequence[Sentence]) -> Prepared:
        encoded, report = self.aligner.encode([s.words for s in sentences])
        return Prepared(sentences, encoded, report)

    @torch.no_grad()
    def predict(self, data: Sequence[Sentence] | Prepared,
                description: str = "predict") -> tuple[list[Any], dict[str, int]]:
        prepared = data if isinstance(data, Prepared) else self.prepare(data)
        encoded = prepared.encoded
        predictions: list[Any] = [None] * len(encoded)
        was_training = self.model.training
        self.model.eval()
        pad_id = pad_id_of(self.aligner.tokenizer)
        batches = sorted_batches([item.num_tokens for item in encoded],
                                 max_sentences=self.batch_size)
        with progress_bar(self.show_progress) as bar:
            job = bar.add_task(description, total=len(batches), status="")
            for indices in batches:
                batch = collate_words(encoded, indices, pad_id).to(self.device)
                with autocast(self.device, self.precision):
                    output = self.model(batch)
                decoded = self.task.decode(output, batch.word_mask, self.labels)
                for index, prediction in zip(indices, decoded, strict=True):
                    predictions[index] = prediction
                bar.advance(job)
        self.model.train(was_training)
        return predictions, prepared.report.to_dict()

    def evaluate(self, dataset: ResolvedDataset, sentences: Sequence[Sentence],
                 predictions_dir: Path | None = None) -> dict[str, Any]:
        start = time.perf_counter()
        predictions, alignment = self.predict(sentences, description=f"eval {dataset.name}")
        metrics = self.task.score(sentences, predictions, self.labels)
        entry: dict[str, Any] = {
            "dataset": dataset.name, "language": dataset.language, "split": dataset.split,
            "path": str(dataset.path), "sentences": len(sentences), "metrics": metrics,
            "alignment": alignment, "seconds": round(time.perf_counter() - start, 3),
        }
        if predictions_dir is not None:
            target = predictions_dir / _predictions_name(dataset)
            self.task.write_predictions(target, sentences, predictions)
            entry["predictions"] = str(target)
        return entry


def _predictions_name(dataset: ResolvedDataset) -> str:
    stem = dataset.name.replace(":", "_").replace("/", "_").strip("_")
    return f"{stem}.{'conllu' if dataset.format == 'conllu' else 'iob'}"

"""Runs sharing a SharedData read and tokenise each dataset once, with unchanged results."""

from __future__ import annotations

from pathlib import Path

import torch

from alignscope.training.config import FinetuneConfig
from alignscope.training.finetune import finetune
from alignscope.training.shared import SharedData


def test_second_run_reuses_reading_and_tokenisation(tiny_bert: Path, data_slices: Path,
                                                    tmp_path: Path) -> None:
    torch.set_num_threads(1)
    options = dict(model=str(tiny_bert), train="ud:en_ewt", eval=["ud:fr_pud"],
                   data_dir=str(data_slices), epochs=1, lr=2e-3, batch_size=16,
                   max_train_sentences=32, max_dev_sentences=4, max_eval_sentences=8, threads=1)
    alone = finetune(FinetuneConfig(**options, seed=2), tmp_path / "alone",
                     show_progress=False)
    shared = SharedData()
    finetune(FinetuneConfig(**options, seed=1, random_init="block.0"), tmp_path / "a",
             show_progress=False, shared=shared)
    assert shared.hits == {"read": 0, "encode": 0}
    again = finetune(FinetuneConfig(**options, seed=2), tmp_path / "b", show_progress=False,
                     shared=shared)
    # train, dev and the two test sets (en_ewt, fr_pud) were read once; train tokenised once
    assert shared.hits == {"read": 4, "encode": 1}
    assert [e["metrics"] for e in again["evaluations"]] == \
        [e["metrics"] for e in alone["evaluations"]]
    assert again["training"]["history"] == alone["training"]["history"]

"""The fine-tuning configuration. Defaults follow XTREME's udpos recipe (see README)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FinetuneConfig:
    model: str
    train: str
    eval: list[str] = field(default_factory=list)
    task: str = "pos"
    dev: str | None = None  # default: the dev split of the training treebank
    data_dir: str | None = None
    seed: int = 1
    # RANDOM-INIT
    random_init: str | None = None  # layers: "block.0-1", "block.10,block.11", "embeddings"
    random_init_regex: str | None = None  # parity with the authors' parameter-name regexes
    reinit_scope: str = "all"  # all | attention | ffn | layernorm
    reinit_scheme: str = "model"  # model | torch-default | normal:SIGMA
    # optimisation (XTREME udpos: lr 2e-5, 10 epochs, batch 32, max length 128)
    epochs: int = 10
    lr: float = 2e-5
    head_lr: float | None = None  # task head learning rate; None: same as lr
    batch_size: int = 32
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    dropout: float = 0.1  # task head dropout; the encoder keeps its own config's dropout
    max_steps: int | None = None
    max_train_sentences: int | None = None
    max_dev_sentences: int | None = None
    max_eval_sentences: int | None = None  # score the first N sentences of each eval set
    eval_batch_size: int = 64
    # runtime
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    bf16: bool = True  # bf16 autocast, on CUDA only
    threads: int | None = None  # CPU threads for torch; None: torch's default
    write_predictions: bool = False
    task_options: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

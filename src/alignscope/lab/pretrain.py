"""`alignscope lab pretrain`: pretraining of a small model from scratch, with a masked-LM
objective (`mlm`: a BERT) or a causal-LM one (`clm`: a Llama-style decoder with RMSNorm,
rotary positions and a SwiGLU MLP, trained on next-token prediction).

The output folder is a standard Hugging Face checkpoint (config.json, model.safetensors, a
fast tokenizer) that every command takes as `--model`, plus `pretrain.json` (a result of kind
`pretrain`, docs/results.md: configuration, timings, held-out loss per language), `loss.json`
and `loss.png`. While training, `resume/` holds the last checkpoint (alignscope.train_state:
weights, optimizer, schedule, generators, loss history), replaced atomically every
`save_every` steps; a killed run continues from it. Batches and masks are drawn from (seed,
step), so a resumed run is the run that was never interrupted.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertModel,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaModel,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from alignscope import train_state
from alignscope.errors import AlignscopeError, ConfigError
from alignscope.io import atomic_directory, atomic_write_json, utf8_lines
from alignscope.lab.options import PretrainConfig
from alignscope.lab.tokenizer import load_tokenizer, train_wordpiece
from alignscope.progress import progress_bar
from alignscope.runs import make_result, result_file, write_result
from alignscope.runtime import pick_device

RESUME_DIR = "resume"
_RUNTIME = ("threads", "device", "save_every")  # a resumed run may change them
_EVAL_SENTENCES = 500  # held-out sentences per language for the final held-out loss


def corpus_languages(corpus: Path) -> list[str]:
    found = sorted(p.name.split(".")[0] for p in (corpus / "text").glob("*.train.txt"))
    if not found:
        raise AlignscopeError(f"no pretraining text in {corpus}: expected text/LANG.train.txt "
                              "files (`alignscope lab generate` writes them)")
    return found


def corpus_tokenizer(corpus: str | Path, vocab_size: int, max_length: int = 128,
                     objective: str = "mlm") -> PreTrainedTokenizerFast:
    """The tokenizer pretraining builds: WordPiece over every language of the corpus."""
    corpus = Path(corpus)
    lines = [line for lang in corpus_languages(corpus)
             for line in _read_lines(corpus / "text" / f"{lang}.train.txt")]
    return train_wordpiece(lines, vocab_size, max_length, objective)


def _read_lines(path: Path, limit: int | None = None) -> list[str]:
    lines = [line.strip() for _, line in utf8_lines(path) if line.strip()]
    return lines[:limit] if limit else lines


class _Batches:
    """Tokenised sentences of all languages; batch `step` is drawn from (seed, step). Labels
    are the masked tokens (mlm) or every real token (clm; the loss shifts them)."""

    def __init__(self, ids: list[list[int]], tokenizer: PreTrainedTokenizerFast,
                 config: PretrainConfig) -> None:
        self.ids = ids
        self.config = config
        self.pad = tokenizer.pad_token_id
        self.mask = tokenizer.mask_token_id
        self.specials = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.vocab = len(tokenizer)

    def padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        for index, row in enumerate(rows):
            input_ids[index, :len(row)] = torch.tensor(row)
        return input_ids, (input_ids != self.pad).long()

    def masked(self, input_ids: torch.Tensor, seed: int,
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """BERT masking: mask_prob of the real tokens; 80% [MASK], 10% random, 10% kept."""
        generator = torch.Generator().manual_seed(seed)
        labels = input_ids.clone()
        maskable = ~torch.isin(input_ids, self.specials)
        chosen = (torch.rand(input_ids.shape, generator=generator) < self.config.mask_prob) \
            & maskable
        labels[~chosen] = -100
        draw = torch.rand(input_ids.shape, generator=generator)
        inputs = input_ids.clone()
        inputs[chosen & (draw < 0.8)] = self.mask
        randomised = chosen & (draw >= 0.8) & (draw < 0.9)
        inputs[randomised] = torch.randint(self.vocab, input_ids.shape,
                                           generator=generator)[randomised]
        return inputs, labels

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.config.seed, step])
        picked = rng.integers(0, len(self.ids), self.config.batch_size)
        input_ids, attention = self.padded([self.ids[i] for i in picked])
        inputs, labels = self.labels(input_ids, attention, self.config.seed * 1_000_003 + step)
        return inputs, attention, labels

    def labels(self, input_ids: torch.Tensor, attention: torch.Tensor, seed: int,
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, labels) of a padded batch: masked (mlm), or the tokens themselves (clm)."""
        if self.config.objective == "mlm":
            return self.masked(input_ids, seed)
        return input_ids, input_ids.masked_fill(attention == 0, -100)


def _tokenize(tokenizer: PreTrainedTokenizerFast, lines: list[str], config: PretrainConfig,
              ) -> list[list[int]]:
    """Token ids of each line; a causal model's end with [EOS], so it learns where
    sentences end (its tokenizer, like Llama's, adds only [BOS])."""
    if config.objective == "mlm":
        encoded = tokenizer(lines, truncation=True, max_length=config.max_length)["input_ids"]
        return [list(row) for row in encoded]
    encoded = tokenizer(lines, truncation=True, max_length=config.max_length - 1)["input_ids"]
    return [[*row, tokenizer.eos_token_id] for row in encoded]


def _build(config: PretrainConfig, tokenizer: PreTrainedTokenizerFast,
           ) -> BertForMaskedLM | LlamaForCausalLM:
    torch.manual_seed(config.seed)
    if config.objective == "clm":
        return LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=config.hidden,
            num_hidden_layers=config.num_blocks, num_attention_heads=config.num_heads,
            num_key_value_heads=config.kv_heads or config.num_heads,
            intermediate_size=config.intermediate_size,
            max_position_embeddings=config.max_length, attention_dropout=config.dropout,
            tie_word_embeddings=True,  # as small LLMs do: the vocabulary would dominate
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id))
    bert = BertConfig(vocab_size=len(tokenizer), hidden_size=config.hidden,
                      num_hidden_layers=config.num_blocks, num_attention_heads=config.num_heads,
                      intermediate_size=config.intermediate_size,
                      max_position_embeddings=config.max_length,
                      hidden_dropout_prob=config.dropout,
                      attention_probs_dropout_prob=config.dropout,
                      pad_token_id=tokenizer.pad_token_id)
    return BertForMaskedLM(bert)


def pretrain(config: PretrainConfig, out: str | Path, overwrite: bool = False,
             show_progress: bool = True) -> dict[str, Any]:
    """Pretrain (or resume) and write the checkpoint to `out`. Returns pretrain.json's data."""
    out, corpus = Path(out), Path(config.corpus)
    reused = load_tokenizer(config.tokenizer, config.objective) if config.tokenizer else None
    available = corpus_languages(corpus)
    languages = list(config.languages or available)
    missing = [lang for lang in languages if lang not in available]
    if missing:
        raise ConfigError(f"--languages {','.join(missing)} not in the corpus {corpus} "
                          f"(it has {','.join(available)})")
    if result_file(out, "pretrain").exists():
        if not overwrite:
            raise AlignscopeError(f"{out} already holds a pretrained model", "choose another --out "
                                  "or pass --overwrite")
        shutil.rmtree(out)
    checkpoint = train_state.load(out / RESUME_DIR, dataclasses.asdict(config),
                                  runtime=_RUNTIME, what="pretraining run")
    if config.threads:
        torch.set_num_threads(config.threads)
    started = time.perf_counter()

    if checkpoint is not None:
        tokenizer = load_tokenizer(out / RESUME_DIR, config.objective)
    else:
        tokenizer = reused or corpus_tokenizer(corpus, config.vocab_size, config.max_length,
                                               config.objective)
    train_ids = [row for lang in languages for row in _tokenize(
        tokenizer, _read_lines(corpus / "text" / f"{lang}.train.txt"), config)]
    batches = _Batches(train_ids, tokenizer, config)

    device = pick_device(config.device)
    model = _build(config, tokenizer).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config))
    step, history = 0, []
    if checkpoint is not None:
        checkpoint.restore(model, optimizer, scheduler)
        step, history = checkpoint.progress["step"], checkpoint.progress["history"]
        checkpoint.restore_rng()

    window: list[float] = []
    with progress_bar(show_progress) as bar:
        job = bar.add_task("pretrain", total=config.steps, completed=step, status="")
        while step < config.steps:
            inputs, attention, labels = (t.to(device) for t in batches.batch(step))
            torch.manual_seed(config.seed * 1_000_003 + step)  # dropout too resumes exactly
            loss = _loss(model, inputs, attention, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            window.append(float(loss.detach()))
            if not math.isfinite(window[-1]):
                raise AlignscopeError(f"pretraining diverged at step {step} (the loss is not "
                                      "finite); lower --lr")
            if step % config.log_every == 0 or step == config.steps:
                history.append({"step": step, "loss": round(sum(window) / len(window), 5)})
                window = []
                bar.update(job, status=f"loss {history[-1]['loss']:.3f}")
            bar.update(job, advance=1)
            if step % config.save_every == 0 or step == config.steps:
                train_state.save(out / RESUME_DIR, config=dataclasses.asdict(config),
                                 progress={"step": step, "history": history}, model=model,
                                 optimizer=optimizer, scheduler=scheduler,
                                 files=tokenizer.save_pretrained)
    model.eval()
    evaluation = {lang: _heldout(model, tokenizer, corpus, lang, config, device)
                  for lang in available}
    result = make_result("pretrain", {
        "objective": config.objective, "languages": languages,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer), "train_sentences": len(train_ids),
        "steps": step, "final_loss": history[-1]["loss"] if history else None,
        "heldout": evaluation, "seconds_this_session": round(time.perf_counter() - started, 1),
    }, source_language=None, random_init=[],
        model={"name": str(out), "source": None, "num_blocks": config.num_blocks,
               "hidden_size": config.hidden},
        config=dataclasses.asdict(config))
    _export(out, model, tokenizer, history, result)
    return result


def _scored_logits(model: BertForMaskedLM | LlamaForCausalLM, inputs: torch.Tensor,
                   attention: torch.Tensor, labels: torch.Tensor,
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Vocabulary logits and targets at the scored positions only (the head's cost otherwise
    goes to positions the loss ignores): the masked tokens (mlm); every position whose next
    token is real (clm)."""
    if isinstance(model, BertForMaskedLM):
        hidden = model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state
        scored = labels != -100
        return model.cls(hidden[scored]), labels[scored]
    hidden = model.model(input_ids=inputs, attention_mask=attention).last_hidden_state
    targets = labels[:, 1:]
    scored = targets != -100
    return model.lm_head(hidden[:, :-1][scored]), targets[scored]


def _loss(model: BertForMaskedLM | LlamaForCausalLM, inputs: torch.Tensor,
          attention: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    logits, targets = _scored_logits(model, inputs, attention, labels)
    return torch.nn.functional.cross_entropy(logits, targets)


def _schedule(config: PretrainConfig):
    warmup = max(1, int(config.warmup_ratio * config.steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (config.steps - step) / max(1, config.steps - warmup))

    return factor


@torch.no_grad()
def _heldout(model: BertForMaskedLM | LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast,
             corpus: Path, language: str, config: PretrainConfig, device: torch.device,
             ) -> dict[str, float]:
    """Loss and top-1 accuracy on a language's dev text: of the masked tokens (mlm, masks fixed
    by the seed), or of every next token, [EOS] included (clm, with its perplexity)."""
    path = corpus / "text" / f"{language}.dev.txt"
    if not path.is_file():
        return {}
    ids = _tokenize(tokenizer, _read_lines(path, _EVAL_SENTENCES), config)
    batches = _Batches(ids, tokenizer, config)
    total_loss, correct, count = 0.0, 0, 0
    for start in range(0, len(ids), config.batch_size):
        input_ids, attention = batches.padded(ids[start:start + config.batch_size])
        inputs, labels = batches.labels(input_ids, attention, config.seed + start)
        logits, targets = _scored_logits(model, inputs.to(device), attention.to(device),
                                         labels.to(device))
        total_loss += float(torch.nn.functional.cross_entropy(logits, targets, reduction="sum"))
        correct += int((logits.argmax(-1) == targets).sum())
        count += len(targets)
    loss = total_loss / max(count, 1)
    if config.objective == "mlm":
        return {"loss": round(loss, 4), "accuracy": round(correct / max(count, 1), 4),
                "masked_tokens": count}
    return {"loss": round(loss, 4), "perplexity": round(math.exp(loss), 3),
            "accuracy": round(correct / max(count, 1), 4), "predicted_tokens": count}


def _base_model(model: BertForMaskedLM | LlamaForCausalLM, seed: int) -> PreTrainedModel:
    """The model without its LM head: what `AutoModel` loads from the saved config without
    missing or unexpected weights (a BERT's pooler is freshly drawn; nothing here uses it)."""
    torch.manual_seed(seed)
    if isinstance(model, LlamaForCausalLM):
        base: PreTrainedModel = LlamaModel(model.config)
        base.load_state_dict(model.model.state_dict())
        base.config.architectures = ["LlamaModel"]
        return base
    base = BertModel(model.config)
    missing = base.load_state_dict(model.bert.state_dict(), strict=False).missing_keys
    assert all(key.startswith("pooler.") for key in missing), missing
    base.config.architectures = ["BertModel"]
    return base


def _export(out: Path, model: BertForMaskedLM | LlamaForCausalLM,
            tokenizer: PreTrainedTokenizerFast, history: list[dict[str, Any]],
            result: dict[str, Any]) -> None:
    """The final checkpoint beside resume/; pretrain.json last: it marks a finished run.

    The top folder holds the model without its LM head (a plain `BertModel` or `LlamaModel`);
    `mlm/` or `clm/` holds the whole LM (`BertForMaskedLM`, `LlamaForCausalLM`), for
    fill-mask, generation or further pretraining.
    """
    base = _base_model(model, result["config"]["seed"])
    with atomic_directory(out / ".export") as tmp:
        base.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp / result["objective"], safe_serialization=True)
        tokenizer.save_pretrained(tmp / result["objective"])
        atomic_write_json(tmp / "loss.json", history)
        _plot_loss(tmp / "loss.png", history, result)
    for path in sorted((out / ".export").iterdir(), key=lambda p: p.name == "config.json"):
        if path.is_dir() and (out / path.name).exists():
            shutil.rmtree(out / path.name)
        os.replace(path, out / path.name)
    (out / ".export").rmdir()
    write_result(out, result)


def _plot_loss(path: Path, history: list[dict[str, Any]], result: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.5, 3))
    axis.plot([h["step"] for h in history], [h["loss"] for h in history], color="#1f5fa8")
    axis.set(xlabel="step", ylabel=f"{result['objective'].upper()} loss",
             title=f"pretraining on {','.join(result['languages'])}")
    if history and min(h["loss"] for h in history) > 0:
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)

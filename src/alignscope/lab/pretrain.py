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
import statistics
import time
from pathlib import Path
from typing import Any

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
from alignscope.lab.batching import Batches, HeldOut
from alignscope.lab.options import PLATEAU, RECIPE, PretrainConfig
from alignscope.lab.tokenizer import load_tokenizer, train_wordpiece
from alignscope.progress import progress_bar
from alignscope.runs import make_result, result_file, write_result
from alignscope.runtime import pick_device

RESUME_DIR = "resume"
# A resumed run may change these: how fast it goes or how often it scores, not what it computes.
_RUNTIME = ("threads", "device", "save_every", "curve_points")
_EVAL_SENTENCES = 500  # held-out sentences per language, for the curve and the final score


def _compared(config: PretrainConfig) -> dict[str, Any]:
    """What a checkpoint must share with the run resuming it: the options and the training
    procedure's version (a checkpoint of another recipe would resume into a model no
    uninterrupted run gives)."""
    return {**dataclasses.asdict(config), "recipe": RECIPE}


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
    checkpoint = train_state.load(out / RESUME_DIR, _compared(config), runtime=_RUNTIME,
                                  what="pretraining run")
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
    batches = Batches(train_ids, tokenizer, objective=config.objective,
                      batch_size=config.batch_size, seed=config.seed, mask_prob=config.mask_prob)
    heldout = {lang: HeldOut.build(_tokenize(tokenizer, _read_lines(path, _EVAL_SENTENCES),
                                             config), batches, config.seed, config.batch_size)
               for lang in available
               if (path := corpus / "text" / f"{lang}.dev.txt").is_file()}

    device = pick_device(config.device)
    model = _build(config, tokenizer)
    optimizer = _optimizer(model, config, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config))
    progress = _Progress()
    model.to(device).train()
    if checkpoint is not None:
        checkpoint.restore(model, optimizer, scheduler)
        progress = _Progress.restore(checkpoint.progress)
        checkpoint.restore_rng()

    def save() -> None:
        train_state.save(out / RESUME_DIR, config=_compared(config),
                         progress=dataclasses.asdict(progress), model=model,
                         optimizer=optimizer, scheduler=scheduler,
                         files=tokenizer.save_pretrained)

    _train(config, model, optimizer, scheduler, batches, heldout, progress, device, save,
           show_progress)
    model.eval()
    final = progress.curve[-1] if progress.curve and progress.curve[-1]["step"] == config.steps \
        else {"step": progress.step, "heldout": _score(model, heldout, device)}
    result = make_result("pretrain", {
        "objective": config.objective, "languages": languages,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer), "train_sentences": len(train_ids),
        "steps": progress.step,
        "final_loss": progress.history[-1]["loss"] if progress.history else None,
        "heldout": final["heldout"], "curve": progress.curve,
        "convergence": convergence(progress.curve, languages, config.steps),
        "train_seconds": round(progress.train_seconds, 1),
        "train_cpu_seconds": round(progress.train_cpu_seconds, 1), "train_tokens": progress.tokens,
        "tokens_per_second": round(progress.tokens / max(progress.train_seconds, 1e-9)),
        "seconds_this_session": round(time.perf_counter() - started, 1),
    }, source_language=None, random_init=[],
        model={"name": str(out), "source": None, "num_blocks": config.num_blocks,
               "hidden_size": config.hidden},
        config=dataclasses.asdict(config))
    _export(out, model, tokenizer, progress.history, result)
    return result


@dataclasses.dataclass
class _Progress:
    """What a checkpoint carries besides the weights: the step, the training-loss history,
    the held-out curve and the training time and tokens so far."""

    step: int = 0
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    curve: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    train_seconds: float = 0.0
    train_cpu_seconds: float = 0.0  # this process's CPU time: a figure that load does not skew
    tokens: int = 0

    @classmethod
    def restore(cls, state: dict[str, Any]) -> _Progress:
        return cls(**{field.name: state[field.name] for field in dataclasses.fields(cls)
                      if field.name in state})


def _train(config: PretrainConfig, model: BertForMaskedLM | LlamaForCausalLM,
           optimizer: torch.optim.Optimizer, scheduler: Any, batches: Batches,
           heldout: dict[str, HeldOut], progress: _Progress, device: torch.device,
           save: Any, show_progress: bool) -> None:
    """The training loop from `progress.step`: held-out scores at the curve's steps, a
    checkpoint every `save_every` steps and at the end."""
    curve_steps = _curve_steps(config)
    window: list[float] = []
    status: dict[str, str] = {}
    with progress_bar(show_progress) as bar:
        job = bar.add_task("pretrain", total=config.steps, completed=progress.step, status="")
        while progress.step < config.steps:
            began, began_cpu = time.perf_counter(), time.process_time()
            inputs, attention, labels = batches.batch(progress.step)
            progress.tokens += int(inputs.numel() if attention is None else attention.sum())
            torch.manual_seed(config.seed * 1_000_003 + progress.step)  # dropout resumes too
            loss = _loss(model, inputs.to(device), _to(attention, device), labels.to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            progress.step += 1
            window.append(float(loss.detach()))
            progress.train_seconds += time.perf_counter() - began
            progress.train_cpu_seconds += time.process_time() - began_cpu
            step = progress.step
            if not math.isfinite(window[-1]):
                raise AlignscopeError(f"pretraining diverged at step {step} (the loss is not "
                                      "finite); lower --lr")
            if step % config.log_every == 0 or step == config.steps:
                progress.history.append({"step": step,
                                         "loss": round(sum(window) / len(window), 5)})
                window = []
                status["loss"] = f"loss {progress.history[-1]['loss']:.3f}"
            if step in curve_steps and heldout:
                model.eval()
                progress.curve.append({"step": step, "heldout": _score(model, heldout, device)})
                model.train()
                mean = statistics.fmean(s["accuracy"] for s in progress.curve[-1]["heldout"]
                                        .values())
                status["accuracy"] = f"held-out accuracy {mean:.1%}"
            bar.update(job, advance=1, status=", ".join(status.values()))
            if step % config.save_every == 0 or step == config.steps:
                save()


def _to(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)


def _optimizer(model: torch.nn.Module, config: PretrainConfig,
               device: torch.device) -> torch.optim.Optimizer:
    """AdamW, fused into one kernel per step where torch has one for the device."""
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                             fused=device.type in ("cpu", "cuda"))


def _curve_steps(config: PretrainConfig) -> set[int]:
    """The steps at which the held-out curve is measured: `curve_points` evenly spaced,
    the last one at the last step."""
    points = min(config.curve_points, config.steps)
    return {round(k * config.steps / points) for k in range(1, points + 1)}


def convergence(curve: list[dict[str, Any]], languages: list[str],
                steps: int) -> dict[str, Any] | None:
    """What the last fifth of the steps added to the held-out accuracy (in points) of each
    pretraining language and of their mean; plateaued when the mean gained under `PLATEAU`
    points (one language's score moves by about a point from one measurement to the next)."""
    done = [point for point in curve if point["step"] <= steps]
    before = [point for point in done if point["step"] <= 0.8 * steps]
    if not before or done[-1]["step"] != steps:
        return None
    start, end = before[-1], done[-1]
    scored = [lang for lang in languages if lang in end["heldout"]]
    if not scored:
        return None
    gain = {lang: round(100 * (end["heldout"][lang]["accuracy"]
                               - start["heldout"][lang]["accuracy"]), 2) for lang in scored}
    mean = round(statistics.fmean(gain.values()), 2)
    return {"from_step": start["step"], "to_step": end["step"], "gain_points": gain,
            "mean_gain_points": mean, "threshold_points": PLATEAU, "plateaued": mean < PLATEAU}


def _scored_logits(model: BertForMaskedLM | LlamaForCausalLM, inputs: torch.Tensor,
                   attention: torch.Tensor | None, labels: torch.Tensor,
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
          attention: torch.Tensor | None, labels: torch.Tensor) -> torch.Tensor:
    logits, targets = _scored_logits(model, inputs, attention, labels)
    return torch.nn.functional.cross_entropy(logits, targets)


def _schedule(config: PretrainConfig):
    warmup = max(1, int(config.warmup_ratio * config.steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        left = max(0.0, (config.steps - step) / max(1, config.steps - warmup))
        return left if config.schedule == "linear" else 0.5 * (1 - math.cos(math.pi * left))

    return factor


@torch.no_grad()
def _score(model: BertForMaskedLM | LlamaForCausalLM, heldout: dict[str, HeldOut],
           device: torch.device) -> dict[str, dict[str, float]]:
    """Per language, loss and top-1 accuracy on its held-out text: of the masked tokens (mlm,
    the same masks at every call), or of every next token, [EOS] included (clm, with its
    perplexity)."""
    causal = isinstance(model, LlamaForCausalLM)
    scores = {}
    for language, held in heldout.items():
        total_loss, correct, count = 0.0, 0, 0
        for inputs, attention, labels in held.batches:
            logits, targets = _scored_logits(model, inputs.to(device), _to(attention, device),
                                             labels.to(device))
            total_loss += float(torch.nn.functional.cross_entropy(logits, targets,
                                                                  reduction="sum"))
            correct += int((logits.argmax(-1) == targets).sum())
            count += len(targets)
        loss = total_loss / max(count, 1)
        accuracy = round(correct / max(count, 1), 4)
        scores[language] = ({"loss": round(loss, 4), "perplexity": round(math.exp(loss), 3),
                             "accuracy": accuracy, "predicted_tokens": count} if causal else
                            {"loss": round(loss, 4), "accuracy": accuracy,
                             "masked_tokens": count})
    return scores


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

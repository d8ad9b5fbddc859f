"""The options of `lens` and `neurons` (docs/llm.md), and the names they accept.

Light on purpose, like analysis/settings.py: nothing here imports torch, so `--help` and a
sweep's validation are fast; the methods that load a model import what they need.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from alignscope.config import (
    DATA_DIR_HELP,
    DEFAULT_SEED,
    Count,
    DataDir,
    Device,
    Flag,
    Folder,
    Languages,
    Model,
    ModelFiles,
    Names,
    OpenUnit,
    Overwrite,
    Precision,
    Rate,
    Seed,
    Text,
    options,
)
from alignscope.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    import torch

    from alignscope.models.encoder import Encoder

TASKS = ("translation", "repetition", "cloze")
LENSES = ("logit", "tuned")
AnswerRule = Literal["prefixes", "first"]
ANSWER_RULES: tuple[str, ...] = ("prefixes", "first")
BUILTIN_WORDS = "builtin"
DTYPES = Literal["float32", "bfloat16", "float16"]


def _known(kind: str, names: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if name not in known:
            raise ValueError(UnknownNameError(kind, name, known).message)
    return names


@options(frozen=True)
class ModelSettings(ModelFiles):
    """What the analyses that run a model over text share: data, device, precision, batches."""

    data_dir: DataDir | None = Field(None, description=DATA_DIR_HELP)
    device: Device = Field("auto", description="auto, cpu, cuda, cuda:N or mps.")
    precision: Precision = Field("fp32", description="Forward passes in fp32, bf16, fp16 "
                                 "(CUDA) or auto (bf16 on CUDA).")
    dtype: DTYPES = Field("float32", description="Weights' dtype (bfloat16 halves the memory).")
    batch_tokens: Count = Field(4096, description="Tokens per forward pass (inputs of one "
                                "length are batched together: no padding).")

    def check(self) -> None:
        """The options' combinations (each command adds its own)."""

    def prepared(self, model: str, out: str | Path | None, overwrite: bool) -> Path | None:
        """Before any data is read: the options, the output folder (refused if it holds
        results, unless `overwrite`) and the model's files; returns the output folder."""
        from alignscope.analysis.outputs import check_out
        from alignscope.models.encoder import resolve_model_source

        self.check()
        out_dir = check_out(out, overwrite)
        resolve_model_source(model, self.allow_pickle, self.gguf_file, self.revision)
        return out_dir

    def load_model(self, name: str, head: bool) -> tuple[Encoder, torch.device]:
        """The model on its device (with its LM head if asked), after the device and the
        precision are checked."""
        from alignscope.encoding.precision import check_precision
        from alignscope.models.encoder import load_encoder
        from alignscope.runtime import pick_device

        device = pick_device(self.device)
        check_precision(self.precision, device)
        encoder = load_encoder(name, revision=self.revision,
                               trust_remote_code=self.trust_remote_code,
                               allow_pickle=self.allow_pickle, dtype=self.dtype,
                               gguf_file=self.gguf_file, head=head)
        (encoder.lm or encoder.model).to(device)
        return encoder, device

    def autocast(self, device: torch.device) -> Callable[[], Any]:
        """A fresh precision context per forward pass (encoding/precision.py)."""
        from alignscope.encoding.precision import autocast

        return lambda: autocast(device, self.precision)


@options(frozen=True)
class LensConfig(ModelSettings):
    """What `alignscope lens` runs."""

    model: Model = Field(description="A decoder LLM (or an encoder with its masked-LM head): hub "
                                     "id or folder of the whole language model.")
    languages: Languages = Field(description="Languages studied: the answer languages of every "
                                             "task, e.g. fr,de,ru,zh.")
    sources: Annotated[Languages, Flag(metavar="LANGS")] | None = Field(
        None, description="Input languages of the translation task (default: the studied "
                          "languages).")
    latent: Annotated[Languages, Flag(metavar="LANGS")] = Field(
        ("en",), description="Latent languages whose answers are tracked at every layer.")
    tasks: Annotated[Names, Flag(metavar="NAMES")] = Field(
        TASKS, description="Tasks, comma-separated: translation, repetition, cloze.")
    words: Annotated[Text, Flag(metavar="LIST")] = Field(
        BUILTIN_WORDS, description="Word list: builtin, a CSV file, or a folder in the "
                                   "latent-language layout (docs/llm.md).")
    answer_tokens: AnswerRule = Field(
        "prefixes", description="Which tokens are the answer: prefixes (every token that "
                                "begins the word, the paper's rule) or first (its first token "
                                "after the prompt).")
    demos: Count = Field(4, description="Demonstrations in translation and repetition prompts.")
    cloze_demos: Count = Field(2, description="Demonstrations in cloze prompts.")
    max_items: Count | None = Field(None, description="At most this many items per task and "
                                    "language pair (a seeded sample; default: all).")
    lenses: Annotated[Names, Flag(metavar="NAMES")] = Field(
        LENSES, description="Lenses, comma-separated: logit, tuned.")
    tuned_lens: Annotated[Text, Flag(metavar="DIR")] | None = Field(
        None, description="A saved tuned lens (a lens run's tuned-lens folder) to use instead "
                          "of training one.")
    parallel: Annotated[Text, Flag(metavar="SOURCE")] = Field(
        "ud:pud", description="Parallel text the tuned lens trains on: ud:pud, flores:devtest, a "
                              "folder of LANG.txt files...")
    heldout: OpenUnit = Field(0.2, description="Share of the parallel sentences held out to "
                                               "evaluate the tuned lens.")
    train_tokens: Count = Field(2048, description="Tuned-lens training tokens per language.")
    heldout_tokens: Count = Field(512, description="Held-out tokens per language the tuned lens "
                                                   "is evaluated on.")
    tuned_steps: Count = Field(200, description="Tuned-lens optimisation steps.")
    tuned_batch: Count = Field(64, description="Tokens per tuned-lens step.")
    tuned_lr: Rate = Field(1e-3, description="Tuned-lens learning rate (Adam).")
    language_names: Annotated[dict[str, str], Flag(internal=True)] = Field(
        default_factory=dict, description="Names prompts use for languages, e.g. {xx: Xish}.")
    confidence: OpenUnit = Field(0.95, description="Coverage of the intervals over items.")
    seed: Seed = Field(DEFAULT_SEED, description="Seed of the demonstrations, the samples, the "
                       "controls and the tuned lens.")

    command: ClassVar[str] = "lens"

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, tasks: tuple[str, ...]) -> tuple[str, ...]:
        return _known("lens task", tasks, TASKS)

    @field_validator("lenses")
    @classmethod
    def _lenses(cls, lenses: tuple[str, ...]) -> tuple[str, ...]:
        return _known("lens", lenses, LENSES)

    def check(self) -> None:
        from alignscope.config import check_input

        if not self.languages:
            raise ConfigError("give at least one language (--languages fr,de,...)")
        if self.tuned_lens is not None:
            if "tuned" not in self.lenses:
                raise ConfigError("--tuned-lens is read only when --lenses includes tuned")
            check_input(self.tuned_lens, "tuned lens", "--tuned-lens", folder=True)

    @property
    def translation_sources(self) -> tuple[str, ...]:
        return tuple(self.sources) if self.sources is not None else tuple(self.languages)

    @property
    def all_languages(self) -> list[str]:
        return list(dict.fromkeys([*self.languages, *self.translation_sources, *self.latent]))


@options(frozen=True)
class NeuronsConfig(ModelSettings):
    """What `alignscope neurons` runs (defaults: Tang et al. 2024, docs/llm.md)."""

    model: Model = Field(description="Any model alignscope loads: hub id, folder or finetune run "
                                     "(the deactivation needs its LM head).")
    languages: Languages = Field(description="Languages compared, at least two, e.g. "
                                             "en,fr,de,es,ru,zh,ja,ar.")
    parallel: Annotated[Text, Flag(metavar="SOURCE")] = Field(
        "ud:pud", description="Text per language: ud:pud, flores:devtest, a folder of LANG.txt "
                              "files...")
    max_sentences: Count | None = Field(None, description="At most this many sentences per "
                                        "language for the statistics (default: all the rest).")
    ppl_sentences: Count = Field(100, description="Sentences per language held out to measure "
                                 "perplexity.")
    top_rate: OpenUnit = Field(0.01, description="Share of all neurons kept as lowest-entropy "
                                                 "(Tang et al.: 1 %).")
    filter_rate: OpenUnit = Field(0.95, description="Percentile a neuron's activation probability "
                                                    "must exceed in some language.")
    bar_ratio: OpenUnit = Field(0.95, description="Percentile a selected neuron's probability must "
                                                  "exceed to belong to a language.")
    deactivate: bool = Field(True, description="Measure the perplexity matrix with each "
                             "language's neurons silenced, and the random control.")
    mask_rate: OpenUnit = Field(0.15, description="Masked-LM pseudo-perplexity: share of tokens "
                                                  "masked.")
    seed: Seed = Field(DEFAULT_SEED, description="Seed of the sentence split, the masking and the "
                       "random control.")

    command: ClassVar[str] = "neurons"

    def check(self) -> None:
        if len(self.languages) < 2:
            raise ConfigError("language-specific neurons need at least two --languages")
        if len(set(self.languages)) != len(self.languages):
            raise ConfigError("a language is given twice in --languages")


@options(frozen=True)
class LensOutput(Overwrite):
    out: Folder = Field(description="Output folder: lens.json, curves.csv, tuned-lens/, figures.")


@options(frozen=True)
class NeuronsOutput(Overwrite):
    out: Folder = Field(description="Output folder: neurons.json, activation.safetensors, "
                                    "masks/, counts.csv, figures.")

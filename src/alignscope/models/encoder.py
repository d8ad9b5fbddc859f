"""Load any Hugging Face model with hidden states (hub id or local path) and its fast tokenizer.

Encoders (BERT, XLM-R, DistilBERT...) and decoder-only LLMs (Llama, Qwen2, Gemma, Mistral,
GPT-2, BLOOM...) load the same way; a multimodal wrapper whose config nests a `text_config`
is reduced to its language model. Its blocks and input embeddings are found by inspecting
the module tree (models/layers.py), so a new architecture needs no table entry.

Weights load from safetensors unless the user allows pickled `.bin` files; remote code runs
only when asked. A directory written by `alignscope finetune` resolves to its encoder. A GGUF
file (llama.cpp, Ollama) loads through transformers' GGUF support, dequantised (gguf.py).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoTokenizer,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
)
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignscope.errors import AlignscopeError, UnknownNameError
from alignscope.models import gguf
from alignscope.models.files import check_model_folder, could_be_hub_id
from alignscope.models.layers import find_blocks
from alignscope.runs import encoder_dir, no_model_here


@dataclass
class Encoder:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str  # what the user asked for
    source: str  # the resolved hub id, directory or GGUF file
    gguf: dict[str, Any] | None = None  # the GGUF file's description (gguf.describe)
    lm: PreTrainedModel | None = None  # with `head=True`: the whole LM, `model` is its base

    @property
    def record(self) -> dict[str, Any]:
        """What a result says about the model: name, source and, for a GGUF file, the file."""
        return {"name": self.name, "source": self.source,
                **({"gguf": self.gguf} if self.gguf is not None else {})}

    @property
    def num_blocks(self) -> int:
        return len(find_blocks(self.model))

    @property
    def is_causal(self) -> bool:
        """A decoder-only model: each token sees only the tokens before it."""
        return is_causal(self.model.config)

    @property
    def hidden_size(self) -> int:
        config = self.model.config
        return int(getattr(config, "hidden_size", None) or config.dim)

    @property
    def attention_width(self) -> int:
        """Query heads x head size: the width of QK^T and AV (Gemma 3 270M: 4 x 256 = 1024,
        wider than its hidden size of 640)."""
        config = self.model.config
        heads, head_dim = (getattr(config, "num_attention_heads", None),
                           getattr(config, "head_dim", None))
        return int(heads * head_dim) if heads and head_dim else self.hidden_size

    def max_tokens(self, requested: int | None = None) -> int:
        """Longest input (special tokens included) the model accepts, capped by `requested`."""
        limits = [requested] if requested else []
        model_max = getattr(self.tokenizer, "model_max_length", None)
        if model_max and model_max < 100_000:
            limits.append(int(model_max))
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if positions:
            # RoBERTa-style position ids start after the padding index.
            offset = (self.model.config.pad_token_id or 0) + 1 \
                if self.model.config.model_type in {"roberta", "xlm-roberta", "camembert"} else 0
            limits.append(int(positions) - offset)
        return min(limits) if limits else 512


def resolve_model_source(name_or_path: str | Path, allow_pickle: bool = False,
                         gguf_file: str | None = None, revision: str | None = None) -> str:
    """Map a finetune run directory to its saved encoder; leave hub ids alone. A local folder
    must be complete (see `files.check_model_folder`). A GGUF model (a `.gguf` path, or
    `gguf_file` in a folder or hub repository) resolves to its local file, checked readable."""
    if gguf_file is not None or gguf.is_gguf(name_or_path):
        return str(gguf.locate(name_or_path, gguf_file, revision))
    path = Path(name_or_path).expanduser()
    saved = encoder_dir(path)
    if saved is not None:
        check_model_folder(saved, allow_pickle)
        return str(saved)
    if path.exists() and not (path / "config.json").is_file():
        raise no_model_here(path) or AlignscopeError(
            f"{path} is neither a model directory (no config.json) nor an alignscope run "
            "directory (no checkpoint/encoder)",
            "pass a model folder, a finetune --out folder or a hub id")
    if path.exists():
        check_model_folder(path, allow_pickle)
        return str(path)
    if not could_be_hub_id(str(name_or_path)):
        raise AlignscopeError(f"model folder {path} does not exist", "check the --model path")
    return str(name_or_path)


DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16,
                                  "float16": torch.float16}
_DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def parse_dtype(name: str) -> torch.dtype:
    """`float32` | `bfloat16` | `float16` (or fp32, bf16, fp16): the dtype weights load in."""
    key = _DTYPE_ALIASES.get(name.lower(), name.lower())
    if key not in DTYPES:
        raise UnknownNameError("weight dtype", name, [*DTYPES, *_DTYPE_ALIASES])
    return DTYPES[key]


def is_causal(config: PreTrainedConfig) -> bool:
    """Decoder-only: a causal-LM architecture that has no masked-LM head (BERT has both)."""
    kind = config.model_type
    return bool(getattr(config, "is_decoder", False)) or (
        kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES)


def no_cache(config: PreTrainedConfig) -> dict[str, Any]:
    """Forward keywords that keep a decoder from filling a key/value cache nobody reads (it
    costs memory and a copy per layer); none for an encoder."""
    return {"use_cache": False} if is_causal(config) else {}


def load_encoder(name_or_path: str | Path, *, revision: str | None = None,
                 trust_remote_code: bool = False, allow_pickle: bool = False,
                 dtype: str = "float32", device_map: str | None = None,
                 gguf_file: str | None = None, head: bool = False) -> Encoder:
    """Load the base model (no task head) and its fast tokenizer.

    With `head`, the whole language model is loaded (causal LM, or masked LM for an encoder)
    into `Encoder.lm`, and `model` is its base: the lens and perplexity read the model's own
    head. A folder without the head's weights is refused rather than given a random head.

    `allow_pickle` permits `.bin` checkpoints, which execute pickle code on load. `dtype`
    is the weights' dtype (`bfloat16` halves the memory). `device_map` ("auto", "balanced",
    ...) spreads a model larger than one GPU over the GPUs and the CPU (needs accelerate:
    `pip install 'alignscope[big]'`); without it the caller moves the model. A `.gguf` path,
    or `gguf_file` inside a folder or hub repository, loads a GGUF file (gguf.py).
    """
    weights_dtype = parse_dtype(dtype)
    if device_map is not None and importlib.util.find_spec("accelerate") is None:
        raise AlignscopeError(f"--device-map {device_map} needs the accelerate package",
                              "pip install 'alignscope[big]'")
    source = resolve_model_source(name_or_path, allow_pickle, gguf_file, revision)
    placement: dict[str, Any] = {"device_map": device_map} if device_map is not None else {}
    description = None
    if gguf_file is not None or gguf.is_gguf(name_or_path):
        model, tokenizer, description, missing = gguf.load(
            Path(source), weights_dtype, placement, lambda config: lm_class(config, head))
    else:
        model, tokenizer, missing = _load_pretrained(source, revision, trust_remote_code,
                                                     allow_pickle, weights_dtype, placement,
                                                     str(name_or_path), head)
    if not tokenizer.is_fast:
        raise AlignscopeError(f"model {name_or_path!r} has no fast tokenizer; word alignment "
                              "needs one (install `tokenizers` or convert the tokenizer)")
    lm = None
    if head:
        lm = _checked_head(model, missing, str(name_or_path))
        model = lm.base_model
    model = language_model(model)
    check_architecture(model.config, name_or_path)
    find_blocks(model)  # fail early on architectures we cannot dissect
    if is_causal(model.config):
        set_pad_token(tokenizer, str(name_or_path))
    # alignscope windows long sentences itself: the tokenizer's length warning would mislead.
    tokenizer.deprecation_warnings["sequence-length-is-longer-than-the-specified-maximum"] = True
    (lm or model).eval()
    return Encoder(model=model, tokenizer=tokenizer, name=str(name_or_path), source=source,
                   gguf=description, lm=lm)


def _load_pretrained(source: str, revision: str | None, trust_remote_code: bool,
                     allow_pickle: bool, weights_dtype: torch.dtype, placement: dict[str, Any],
                     name_or_path: str, head: bool
                     ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, list[str]]:
    """A model folder or hub id (with `head`, its whole LM), its tokenizer and the weights the
    checkpoint lacked."""
    try:
        config = AutoConfig.from_pretrained(source, revision=revision,
                                            trust_remote_code=trust_remote_code)
        model, loading = lm_class(config, head).from_pretrained(
            source, config=config, revision=revision, trust_remote_code=trust_remote_code,
            use_safetensors=None if allow_pickle else True, dtype=weights_dtype,
            output_loading_info=True, **placement)
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision,
                                                  trust_remote_code=trust_remote_code)
    except (OSError, SafetensorError) as error:
        if Path(source).exists():
            raise AlignscopeError(f"cannot load the model folder {source}: {error}",
                                  "check that it was written by save_pretrained and is whole "
                                  "(a damaged weights file needs a fresh copy)") from error
        raise AlignscopeError(
            f"no model folder {source!r} here, and no hub model of that name could be fetched "
            f"({str(error).splitlines()[0]})",
            "check the spelling of the path or model name; a hub model needs internet access "
            "once (it is cached afterwards)") from error
    except ValueError as error:
        if "trust_remote_code" in str(error):
            raise AlignscopeError(f"model {name_or_path!r} needs custom code", "pass "
                                  "--trust-remote-code if you trust it") from error
        if Path(source).exists():
            raise AlignscopeError(f"cannot load the model folder {source}: "
                                  f"{str(error).splitlines()[0]}",
                                  "check its config.json (model_type) and weights") from error
        raise
    return model, tokenizer, list(loading.get("missing_keys") or [])


def lm_class(config: PreTrainedConfig, head: bool) -> Any:
    """The auto class to load: the whole LM (causal, or masked for an encoder) or the base."""
    if not head:
        return AutoModel
    return AutoModelForCausalLM if is_causal(config) else AutoModelForMaskedLM


def check_architecture(config: PreTrainedConfig, name: str | Path) -> None:
    """An encoder-decoder (T5, BART...) is refused: from its configuration alone, so that a
    sweep refuses it before its first run."""
    if getattr(config.get_text_config(), "is_encoder_decoder", False):
        raise AlignscopeError(f"model {str(name)!r} is an encoder-decoder ({config.model_type}); "
                              "alignscope reads encoder-only and decoder-only models",
                              "pick an encoder or a decoder-only LLM")


def language_model(model: PreTrainedModel) -> PreTrainedModel:
    """The text model of a wrapper whose config nests a `text_config` (Llava, Gemma 3,
    Mistral 3...); the model itself otherwise."""
    text_config = model.config.get_text_config()
    if text_config is model.config:
        return model
    for module in model.modules():
        if isinstance(module, PreTrainedModel) and module is not model \
                and module.config is text_config:
            return module
    raise AlignscopeError(f"{type(model).__name__} nests a text_config but no module uses it; "
                          "load the language model's own checkpoint instead")


def set_pad_token(tokenizer: Any, name: str) -> None:
    """Decoder tokenizers often have no padding token; pad with EOS (padding is masked out,
    so which token fills it does not matter)."""
    if tokenizer.pad_token is not None:
        return
    for token in (tokenizer.eos_token, tokenizer.bos_token, tokenizer.unk_token):
        if token is not None:
            tokenizer.pad_token = token
            return
    raise AlignscopeError(f"the tokenizer of {name!r} has no pad, EOS, BOS or UNK token to pad "
                          "batches with", "add one with tokenizer.add_special_tokens and save it")


def _checked_head(lm: PreTrainedModel, missing: list[str], name: str) -> PreTrainedModel:
    """The LM, if every weight (its head's included) came from the checkpoint."""
    if missing:
        raise AlignscopeError(
            f"{name} lacks weights of its language model ({', '.join(sorted(missing)[:3])} "
            "missing): its head would be random",
            "give the whole language model's folder (e.g. `lab pretrain`'s clm/ or mlm/ "
            "folder, or a hub LM), not a base encoder saved without its head")
    return lm

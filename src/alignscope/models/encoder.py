"""Load any Hugging Face encoder (hub id or local path) with its fast tokenizer.

Weights load from safetensors unless the user allows pickled `.bin` files; remote code runs
only when asked. A directory written by `alignscope finetune` resolves to its encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignscope.errors import AlignscopeError
from alignscope.models.layers import find_blocks
from alignscope.runs import encoder_dir


@dataclass
class Encoder:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str  # what the user asked for
    source: str  # the resolved hub id or directory

    @property
    def num_blocks(self) -> int:
        return len(find_blocks(self.model))

    @property
    def hidden_size(self) -> int:
        config = self.model.config
        return int(getattr(config, "hidden_size", None) or config.dim)

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


def resolve_model_source(name_or_path: str | Path) -> str:
    """Map a finetune run directory to its saved encoder; leave hub ids and plain dirs alone."""
    path = Path(name_or_path).expanduser()
    saved = encoder_dir(path)
    if saved is not None:
        return str(saved)
    if path.exists() and not (path / "config.json").is_file():
        raise AlignscopeError(f"{path} is neither a model directory (no config.json) nor an "
                              "alignscope run directory (no checkpoint/encoder)")
    return str(path) if path.exists() else str(name_or_path)


def load_encoder(name_or_path: str | Path, *, revision: str | None = None,
                 trust_remote_code: bool = False, allow_pickle: bool = False) -> Encoder:
    """Load the base encoder (no task head) and its fast tokenizer.

    `allow_pickle` permits `.bin` checkpoints, which execute pickle code on load.
    """
    source = resolve_model_source(name_or_path)
    try:
        config = AutoConfig.from_pretrained(source, revision=revision,
                                            trust_remote_code=trust_remote_code)
        model = AutoModel.from_pretrained(
            source, config=config, revision=revision, trust_remote_code=trust_remote_code,
            use_safetensors=None if allow_pickle else True,
        )
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision,
                                                  trust_remote_code=trust_remote_code)
    except OSError as error:
        hint = "" if allow_pickle else (
            " If the model has only pickled .bin weights and you trust it, pass --allow-pickle.")
        raise AlignscopeError(f"cannot load model {name_or_path!r}: {error}.{hint}") from error
    except ValueError as error:
        if "trust_remote_code" in str(error):
            raise AlignscopeError(f"model {name_or_path!r} needs custom code; pass "
                                  "--trust-remote-code if you trust it") from error
        raise
    if not tokenizer.is_fast:
        raise AlignscopeError(f"model {name_or_path!r} has no fast tokenizer; word alignment "
                              "needs one (install `tokenizers` or convert the tokenizer)")
    find_blocks(model)  # fail early on architectures we cannot dissect
    model.eval()
    return Encoder(model=model, tokenizer=tokenizer, name=str(name_or_path), source=source)

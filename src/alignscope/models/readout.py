"""A language model's own readout, applied to any layer's hidden state (the logit lens).

    decoder  final norm, then the unembedding (`lm_head`), then any logit soft-capping or
             scaling the config declares (Gemma 2 `final_logit_softcapping`, Cohere
             `logit_scale`, Granite `logits_scaling`)
    encoder  the masked-LM head module (BERT `cls`: transform dense + activation + LayerNorm,
             then the decoder; XLM-R `lm_head`)

Nothing is looked up per architecture. The head is the one child of the LM, beside its base
model, that holds parameters (`lm_head`, `cls`); the final norm is the one norm module of the
base (text) model outside its blocks and embeddings (Llama/Gemma `norm`, GPT-2 `ln_f`, OPT
`final_layer_norm`; BERT has none). A step of the LM's forward that is neither (a projection
after the norm, an unusual scaling) is caught by `check_readout`: the readout of the last
block's output must reproduce the model's own logits.

The lens reads the RAW residual stream: the embeddings' output (block 0's input) and each
block's output, before the final norm; the readout applies the norm to every layer alike, so
the last layer's readout is exactly the model's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel

from alignscope.errors import AlignscopeError
from alignscope.models.encoder import Encoder, language_model
from alignscope.models.layers import find_blocks, find_embeddings
from alignscope.models.reinit import is_norm


@dataclass
class Readout:
    """hidden [..., d] -> logits [..., vocab], as the model computes its own from the last
    block's output."""

    norm: nn.Module | None
    head: nn.Module
    softcap: float | None = None
    scale: float = 1.0  # logits multiplied by it (Cohere logit_scale, 1 / Granite scaling)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        weight = next(self.head.parameters())
        hidden = hidden.to(weight.dtype)  # a float32 translation of bfloat16 weights' states
        if self.norm is not None:
            hidden = self.norm(hidden)
        logits = self.head(hidden)
        if self.scale != 1.0:
            logits = logits * self.scale
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    @property
    def parts(self) -> dict[str, str]:
        """What the readout is made of, for results files."""
        return {"norm": type(self.norm).__name__ if self.norm is not None else "none",
                "head": type(self.head).__name__,
                "softcap": str(self.softcap), "scale": str(self.scale)}


def find_readout(encoder: Encoder) -> Readout:
    """The readout of a model loaded with `load_encoder(..., head=True)`."""
    lm = encoder.lm
    if lm is None:
        raise AlignscopeError(f"{encoder.name} was loaded without its language-model head",
                              "load it with load_encoder(..., head=True)")
    return Readout(_final_norm(encoder.model), _head(lm, encoder.name), *_post_scaling(lm))


def _head(lm: PreTrainedModel, name: str) -> nn.Module:
    base = lm.base_model
    heads = [(child_name, child) for child_name, child in lm.named_children()
             if child is not base and any(True for _ in child.parameters())]
    if len(heads) != 1:
        found = ", ".join(child for child, _ in heads) or "none"
        raise AlignscopeError(
            f"cannot tell the language-model head of {name} ({type(lm).__name__}): expected "
            f"one module beside the base model holding parameters, found {found}",
            "use a model whose LM head is one module (lm_head, cls), e.g. Llama, Gemma, GPT-2, "
            "BERT, XLM-R")
    return heads[0][1]


def _final_norm(base: PreTrainedModel) -> nn.Module | None:
    text = language_model(base)
    blocks = find_blocks(text).prefix
    embeddings = tuple(find_embeddings(text))
    inside = (blocks, *embeddings)
    norms = [(name, module) for name, module in text.named_modules()
             if name and is_norm(module)
             and not any(name == outer or name.startswith(f"{outer}.") for outer in inside)]
    # A norm nested in another found norm (a wrapper) counts once.
    tops = [(name, module) for name, module in norms
            if not any(name.startswith(f"{other}.") for other, _ in norms)]
    if len(tops) > 1:
        raise AlignscopeError(
            f"{type(text).__name__} has several norms outside its blocks "
            f"({', '.join(name for name, _ in tops)}): the final norm is ambiguous",
            "use a model with one final norm (Llama norm, GPT-2 ln_f)")
    return tops[0][1] if tops else None


def _post_scaling(lm: PreTrainedModel) -> tuple[float | None, float]:
    config = lm.config.get_text_config()
    softcap = getattr(config, "final_logit_softcapping", None)
    scale = float(getattr(config, "logit_scale", None) or 1.0)
    granite = getattr(config, "logits_scaling", None)
    if granite:
        scale /= float(granite)
    return (float(softcap) if softcap else None), scale


def check_readout(readout: Readout, last_hidden: torch.Tensor, own_logits: torch.Tensor,
                  name: str, tolerance: float = 1e-3) -> float:
    """The largest |readout(last block output) - model logits|, relative to the logits' scale;
    an error when it exceeds `tolerance` (a forward step the readout does not know)."""
    with torch.no_grad():
        mine = readout(last_hidden).float()
        own = own_logits.float()
        scale = max(1.0, float(own.abs().max()))
        difference = float((mine - own).abs().max()) / scale
    if difference > tolerance:
        raise AlignscopeError(
            f"the readout of {name}'s last block does not reproduce its logits (relative "
            f"difference {difference:.2e}): its forward has a step between the blocks and the "
            "logits that alignscope does not know",
            "report the architecture; the lens needs its exact readout")
    return difference

"""RANDOM-INIT: re-draw chosen layers of a pretrained encoder before fine-tuning.

`reinitialize` is a pure function of (model, selection, scope, scheme, seed): it re-draws
exactly the selected parameters, leaves every other parameter and buffer bit-identical, and
returns one record (name, shape, mean, std) per re-drawn tensor.

Schemes:
  model          the model's own `_init_weights` (BERT: normal(0, initializer_range) weights,
                 zero biases, LayerNorm 1/0), as in the paper's runs.
  torch-default  each module's `reset_parameters()`, i.e. what building fresh `nn.Linear`s
                 does (the behaviour of the authors' transformers-4.10 port).
  normal:SIGMA   weights normal(0, SIGMA), biases 0, norms reset to the identity (the model's
                 own norm init where it has one: RMSNorm weight 1, Gemma's (1 + w) norms 0).

Which parameters a scope covers is read from the module tree, not from per-family tables:
norms are modules whose class is a LayerNorm or RMSNorm; attention is any module on the path
from the block to the parameter whose attribute or class name says attention (`attention`,
`self_attn`, GPT-2 `attn`, `BloomAttention`); everything else in a block is the feed-forward.

Since transformers 5, every tensor loaded by `from_pretrained` carries `_is_hf_initialized`,
and the library's init helpers skip flagged tensors: calling `_init_weights` on a loaded
module silently changes nothing. We clear the flag on the selected tensors, and fill them
with NaN first so that a tensor the initialiser skipped is detected instead of kept.
"""

from __future__ import annotations

import contextlib
import math
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from alignscope.errors import ConfigError, UnknownNameError
from alignscope.layer_names import LayerSelection, check_blocks
from alignscope.models.layers import Scope, find_blocks, find_embeddings

try:
    from transformers.initialization import guard_torch_init_functions
except ImportError:  # transformers 4.x has no init flags to honour
    guard_torch_init_functions = contextlib.nullcontext  # type: ignore[assignment]

SCOPES: tuple[str, ...] = typing.get_args(Scope)
SCHEMES = ("model", "torch-default", "normal:SIGMA")
_HF_FLAG = "_is_hf_initialized"


@dataclass(frozen=True)
class InitScheme:
    """A parsed init scheme; `sigma` is set only for `normal`."""

    kind: str
    sigma: float | None = None

    def __str__(self) -> str:
        return f"normal:{self.sigma:g}" if self.kind == "normal" else self.kind


@dataclass(frozen=True)
class ReinitRecord:
    name: str
    shape: tuple[int, ...]
    mean: float
    std: float  # population std, so one-element tensors give 0 rather than NaN

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "mean": self.mean, "std": self.std}


def parse_scheme(text: str) -> InitScheme:
    """Parse `model`, `torch-default` or `normal:SIGMA` (SIGMA > 0)."""
    name, _, argument = text.strip().partition(":")
    name = name.lower()
    if name in ("model", "torch-default"):
        if argument:
            raise ConfigError(f"bad init scheme {text!r}: {name} takes no argument")
        return InitScheme(name)
    if name == "normal":
        try:
            sigma = float(argument)
        except ValueError:
            raise ConfigError(f"bad init scheme {text!r}: write normal:SIGMA with a number, "
                              "e.g. normal:0.02") from None
        if not (sigma > 0 and math.isfinite(sigma)):
            raise ConfigError(f"bad init scheme {text!r}: SIGMA must be a positive number")
        return InitScheme("normal", sigma)
    raise UnknownNameError("init scheme", text, list(SCHEMES))


def reinitialize(model: nn.Module, layers: LayerSelection | None = None, *,
                 regex: str | None = None, scope: str = "all", scheme: str = "model",
                 seed: int = 0) -> list[ReinitRecord]:
    """Re-draw the selected parameters in place; return a record per re-drawn tensor.

    Select either `layers` (whole blocks and/or the embeddings, see models/layers.py) or `regex`
    (parameter names matched with `re.search`, for parity with the authors' code; a weight
    matched without its bias keeps its bias). `scope` narrows either selection to attention,
    feed-forward (`ffn`) or norm parameters; embedding tables belong to scope `all` only.
    The global RNG is left untouched; the same seed gives the same tensors.
    """
    init = parse_scheme(scheme)
    if init.kind == "model" and not callable(getattr(model, "_init_weights", None)):
        raise ConfigError(f"{type(model).__name__} has no _init_weights", "use the "
                          "torch-default or normal:SIGMA init scheme")
    modules = dict(model.named_modules())
    selected = _select(model, modules, layers, regex, scope)
    tensors = dict(model.named_parameters())
    _check_selectable(model, {name: tensors[name] for name in selected})

    touched = _touched_modules(model, selected, init)
    if init.kind == "torch-default":
        for name, module in touched.items():
            if not callable(getattr(module, "reset_parameters", None)):
                raise ConfigError(f"{name} ({type(module).__name__}) has no reset_parameters(); "
                                  "use the model or normal:SIGMA init scheme")
    targets = {name: tensors[name] for name in selected}
    protected = _protected_tensors(touched, selected)
    originals = {name: tensor.detach().clone() for name, tensor in {**targets, **protected}.items()}
    flags = _set_flags(targets, protected)
    try:
        with torch.no_grad(), _seeded(model, seed):
            for tensor in targets.values():
                tensor.fill_(float("nan"))  # sentinel: a skipped tensor stays NaN
            _draw(model, init, targets, selected, modules, touched)
            for name, tensor in protected.items():
                if not torch.equal(tensor, originals[name]):
                    tensor.copy_(originals[name])  # module-level initialisers write whole modules
        skipped = [name for name, tensor in targets.items() if torch.isnan(tensor).any()]
        if skipped:
            raise RuntimeError(
                f"the {init} initialiser left {len(skipped)} selected tensors untouched "
                f"({', '.join(skipped[:5])}): the library skipped them, so the model was left "
                "as it was")
    except BaseException:
        with torch.no_grad():
            for name, tensor in {**targets, **protected}.items():
                tensor.copy_(originals[name])
        raise
    finally:
        _restore_flags(flags)
    return [_record(name, tensor) for name, tensor in targets.items()]


def select_parameters(model: nn.Module, layers: LayerSelection | None = None, *,
                      regex: str | None = None, scope: str = "all") -> dict[str, nn.Parameter]:
    """The parameters a layer selection (or regex) and scope cover, by name, in model order;
    the same selection RANDOM-INIT, freezing and reverting act on."""
    tensors = dict(model.named_parameters())
    return {name: tensors[name]
            for name in _select(model, dict(model.named_modules()), layers, regex, scope)}


def _select(model: nn.Module, modules: dict[str, nn.Module], layers: LayerSelection | None,
            regex: str | None, scope: str) -> dict[str, str]:
    """Selected parameter name -> owning module name, in model order."""
    if scope not in SCOPES:
        raise UnknownNameError("scope", scope, list(SCOPES))
    if (layers is None) == (regex is None):
        raise ConfigError("select parameters with exactly one of layers or regex")
    owners = _owners(model)
    if layers is not None:
        candidates = _in_regions(owners, _regions(model, layers))
    else:
        candidates = _matching(owners, regex or "")
    layer_prefix = find_blocks(model).prefix
    selected = {name: owner for name, owner in candidates.items()
                if scope == "all" or _scope_of(owner, modules, layer_prefix) == scope}
    if not selected:
        what = str(layers) if layers is not None else f"regex {regex!r}"
        raise ConfigError(f"the selection ({what}, scope {scope}) matches no parameter")
    return selected


def _owners(model: nn.Module) -> dict[str, str]:
    """Parameter name -> name of the module that holds it directly, in model order."""
    owners: dict[str, str] = {}
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            if id(param) not in seen:  # a tied parameter is selected under its first name
                seen.add(id(param))
                owners[_join(module_name, param_name)] = module_name
    return owners


def _regions(model: nn.Module, selection: LayerSelection) -> list[str]:
    """Module names whose whole subtree is selected."""
    stack = find_blocks(model)
    check_blocks(selection, len(stack))
    regions = [stack.module_name(index) for index in selection.blocks]
    if selection.embeddings:
        regions.extend(find_embeddings(model))
    if not regions:
        raise ConfigError("empty layer selection: name blocks or 'embeddings'")
    return regions


def _in_regions(owners: dict[str, str], regions: list[str]) -> dict[str, str]:
    return {name: owner for name, owner in owners.items()
            if any(owner == region or owner.startswith(region + ".") for region in regions)}


def _matching(owners: dict[str, str], regex: str) -> dict[str, str]:
    try:
        pattern = re.compile(regex)
    except re.error as error:
        raise ConfigError(f"bad parameter regex {regex!r}: {error}") from None
    return {name: owner for name, owner in owners.items() if pattern.search(name)}


def is_norm(module: nn.Module) -> bool:
    # Custom norms (T5LayerNorm, LlamaRMSNorm...) are not nn.LayerNorm subclasses.
    kind = type(module).__name__
    return isinstance(module, nn.LayerNorm) or "LayerNorm" in kind or "RMSNorm" in kind


def _scope_of(owner: str, modules: dict[str, nn.Module], layer_prefix: str) -> str:
    """`layernorm`, `attention`, `ffn`, or `other` (embedding tables, pooler, final norm...)."""
    if is_norm(modules[owner]):
        return "layernorm"
    if not owner.startswith(layer_prefix + "."):
        return "other"
    # The modules from the block (`layers.3`) down to the owner.
    parts = owner.split(".")
    path = [".".join(parts[:end]) for end in range(layer_prefix.count(".") + 3, len(parts) + 1)]
    return "attention" if any(_is_attention(name, modules[name]) for name in path) else "ffn"


def _is_attention(name: str, module: nn.Module) -> bool:
    attribute = name.rsplit(".", 1)[-1].lower()
    return "attention" in attribute or "attn" in attribute or "Attention" in type(module).__name__


def _check_selectable(model: nn.Module, targets: dict[str, torch.Tensor]) -> None:
    """Refuse non-float tensors and tensors sharing storage with an unselected one."""
    for name, tensor in targets.items():
        if not tensor.is_floating_point():
            raise ConfigError(f"cannot re-initialise {name}: dtype {tensor.dtype} is not floating")
    storages = {tensor.untyped_storage().data_ptr(): name for name, tensor in targets.items()}
    storages.pop(0, None)  # empty tensors have no storage to share
    others = list(model.named_parameters(remove_duplicate=False)) + \
        list(model.named_buffers(remove_duplicate=False))
    for name, tensor in others:
        owner = storages.get(tensor.untyped_storage().data_ptr())
        if owner is not None and name not in targets:
            raise ConfigError(f"{owner} shares its storage with {name} (tied weights)", "select "
                              "both or neither")


def _post_order(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    """Children before parents, like `nn.Module.apply` and transformers' init pass."""
    for child_name, child in module.named_children():
        yield from _post_order(child, _join(prefix, child_name))
    yield prefix, module


def _touched_modules(model: nn.Module, selected: dict[str, str],
                     init: InitScheme) -> dict[str, nn.Module]:
    """Modules whose initialiser runs: the selected parameters' owners and, for the model
    scheme, containers whose parameters are all selected (e.g. `BertEmbeddings`, whose
    `_init_weights` may also set sinusoidal tables or buffers)."""
    owners = set(selected.values())
    touched: dict[str, nn.Module] = {}
    for name, module in _post_order(model):
        params = [_join(name, p) for p, _ in module.named_parameters()]
        whole = init.kind == "model" and params and all(p in selected for p in params)
        if name in owners or whole:
            touched[name] = module
    return touched


def _protected_tensors(touched: dict[str, nn.Module],
                       selected: dict[str, str]) -> dict[str, torch.Tensor]:
    """Unselected parameters and buffers that a touched module's initialiser could write."""
    protected: dict[str, torch.Tensor] = {}
    for module_name, module in touched.items():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            full = _join(module_name, name)
            if full not in selected:
                protected[full] = tensor
    return protected


def _set_flags(targets: dict[str, torch.Tensor],
               protected: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, bool | None]]:
    """Unflag the targets and flag the protected tensors so that transformers' init helpers
    write exactly the selection; return the previous flags (None: absent)."""
    saved: list[tuple[torch.Tensor, bool | None]] = []
    for value, group in ((False, targets), (True, protected)):
        for tensor in group.values():
            saved.append((tensor, getattr(tensor, _HF_FLAG, None)))
            setattr(tensor, _HF_FLAG, value)
    return saved


def _restore_flags(saved: list[tuple[torch.Tensor, bool | None]]) -> None:
    for tensor, old in saved:
        if old is None:
            delattr(tensor, _HF_FLAG)
        else:
            setattr(tensor, _HF_FLAG, old)


def _draw(model: nn.Module, init: InitScheme, targets: dict[str, torch.Tensor],
          selected: dict[str, str], modules: dict[str, nn.Module],
          touched: dict[str, nn.Module]) -> None:
    if init.kind == "model":
        init_weights: Callable[[nn.Module], None] = model._init_weights  # type: ignore[assignment]
        with guard_torch_init_functions():
            for module in touched.values():
                init_weights(module)
    elif init.kind == "torch-default":
        for module in touched.values():
            module.reset_parameters()
    else:
        init_weights = getattr(model, "_init_weights", None)
        norms = {selected[name] for name in targets if is_norm(modules[selected[name]])}
        if callable(init_weights):  # the model knows its norms' identity (Gemma: weight 0)
            with guard_torch_init_functions():
                for owner in norms:
                    init_weights(modules[owner])
        for name, tensor in targets.items():
            owner = modules[selected[name]]
            if is_norm(owner):
                if not callable(init_weights):
                    tensor.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                tensor.zero_()
            else:
                tensor.normal_(0.0, init.sigma or 0.0)
                padding = getattr(owner, "padding_idx", None)
                if isinstance(owner, nn.Embedding) and padding is not None:
                    tensor[padding].zero_()


@contextlib.contextmanager
def _seeded(model: nn.Module, seed: int) -> Iterator[None]:
    """Seed the generators the draw uses (CPU, the model's GPUs) and restore them after, so
    the caller's random stream is untouched."""
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


def _record(name: str, tensor: torch.Tensor) -> ReinitRecord:
    values = tensor.detach().double()
    return ReinitRecord(name, tuple(tensor.shape), float(values.mean()),
                        float(values.std(correction=0)))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name

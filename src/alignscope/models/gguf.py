"""GGUF checkpoints (llama.cpp, Ollama) as alignscope models, read by transformers.

A model is a GGUF file when `--model` names a `.gguf` file, or when `--gguf-file NAME` names
one inside the `--model` hub repository or folder. transformers' GGUF support reads it and
dequantises every tensor to the weights' `--dtype` (float32 by default), so the result is an
ordinary dense model: hidden states, RANDOM-INIT, fine-tuning and `save_pretrained` work as for
any other. The tokenizer comes from the file. This needs the `gguf` and `accelerate` packages:
`pip install 'alignscope[gguf]'`.

transformers converts a GGUF's config and tokenizer slowly: about 40 s each for Gemma 3's
262k-token vocabulary, because every metadata value is converted in Python. Both are therefore
converted once per file and kept, keyed by the file's sha256, under
`$ALIGNSCOPE_CACHE/gguf/<sha256>/`, beside the feature cache. That folder holds config.json,
the tokenizer files and gguf.json (the file's description). The weights are dequantised from
the file at every load.

Results record the file: its name, size, sha256, architecture and the number of tensors of
each quantisation type (`model.gguf`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignscope.data.registry import cache_dir
from alignscope.errors import AlignscopeError
from alignscope.io import atomic_directory, atomic_write_json, file_lock

SUFFIX = ".gguf"
INSTALL_HINT = "pip install 'alignscope[gguf]'"
_DESCRIPTION = "gguf.json"


def is_gguf(name: str | Path) -> bool:
    return str(name).lower().endswith(SUFFIX)


def check_requirements() -> None:
    """The packages transformers needs to read a GGUF file, before anything is loaded."""
    missing = [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]
    if missing:
        raise AlignscopeError(f"reading a GGUF model needs the {' and '.join(missing)} "
                              f"package{'s' if len(missing) > 1 else ''}", INSTALL_HINT)


def gguf_architecture(path: Path) -> str:
    """The file's `general.architecture`, read from its header alone; an error naming it if
    transformers cannot read that architecture."""
    from transformers.integrations.gguf import is_gguf_arch_supported, read_gguf_metadata
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    try:
        metadata, _ = read_gguf_metadata(str(path))
        architecture = str(metadata["general.architecture"])
    except (OSError, ValueError, KeyError, IndexError) as error:
        raise AlignscopeError(f"{path} is not a readable GGUF file ({error})",
                              "check the file: a GGUF starts with the bytes 'GGUF'") from None
    # The mapping's keys include its two metadata groups, which are no architecture.
    readable = set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}
    if architecture not in readable and not is_gguf_arch_supported(architecture):
        raise AlignscopeError(
            f"{path.name} holds a {architecture!r} model, and transformers cannot read that "
            "architecture from a GGUF file",
            f"GGUF architectures it reads: {', '.join(sorted(readable))}; "
            "otherwise use the model's safetensors checkpoint")
    return architecture


def block_count(path: Path) -> int:
    """The number of transformer blocks the file states (`<architecture>.block_count`)."""
    from transformers.integrations.gguf import read_gguf_metadata

    metadata, _ = read_gguf_metadata(str(path))
    return int(metadata[f"{gguf_architecture(path)}.block_count"])


def locate(name_or_path: str | Path, gguf_file: str | None = None,
           revision: str | None = None) -> Path:
    """The local GGUF file: `name_or_path` itself, or `gguf_file` inside that folder or hub
    repository (downloaded into the hub cache)."""
    check_requirements()
    if gguf_file is None:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise AlignscopeError(f"GGUF file {path} does not exist", "check the --model path")
    else:
        folder = Path(name_or_path).expanduser()
        if folder.is_dir():
            path = folder / gguf_file
            if not path.is_file():
                present = sorted(p.name for p in folder.glob(f"*{SUFFIX}"))
                raise AlignscopeError(f"{folder} has no GGUF file {gguf_file!r}",
                                      f"files there: {', '.join(present) or 'none'}")
        else:
            path = _download(str(name_or_path), gguf_file, revision)
    gguf_architecture(path)
    return path


def _download(repository: str, gguf_file: str, revision: str | None) -> Path:
    from transformers.utils import cached_file

    try:
        found = cached_file(repository, gguf_file, revision=revision)
    except OSError as error:
        raise AlignscopeError(
            f"cannot fetch {gguf_file!r} from the hub repository {repository!r} "
            f"({str(error).splitlines()[0]})",
            "check both names; a hub model needs internet access once") from None
    if found is None:
        raise AlignscopeError(f"the hub repository {repository!r} has no file {gguf_file!r}")
    return Path(found)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path: Path, sha256: str) -> dict[str, Any]:
    """What results record about the file."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    types = Counter(tensor.tensor_type.name for tensor in reader.tensors)
    return {"file": path.name, "size": path.stat().st_size, "sha256": sha256,
            "architecture": gguf_architecture(path), "quantisation": dict(sorted(types.items()))}


@dataclass(frozen=True)
class GgufModel:
    """A GGUF file and its converted config and tokenizer (in the cache)."""

    path: Path
    converted: Path  # the cache folder: config.json, tokenizer files, gguf.json
    description: dict[str, Any]


def converted(path: Path) -> GgufModel:
    """The file with its config and tokenizer converted, from the cache or converted now."""
    sha256 = sha256_of(path)
    entry = cache_dir() / "gguf" / sha256[:32]
    with file_lock(entry):  # one process converts; the others wait, then read it
        if not (entry / _DESCRIPTION).is_file():
            with atomic_directory(entry) as folder:
                _convert(path, folder)
                atomic_write_json(folder / _DESCRIPTION, describe(path, sha256))
    return GgufModel(path, entry, json.loads((entry / _DESCRIPTION).read_text(encoding="utf-8")))


def _convert(path: Path, folder: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(str(path.parent), gguf_file=str(path))
    config.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(path.parent), gguf_file=str(path)).save_pretrained(folder)


def load(path: Path, dtype: Any, placement: dict[str, Any], auto: Callable[[Any], Any]
         ) -> tuple[Any, Any, dict[str, Any], list[str]]:
    """The model of the class `auto(config)` picks (the base, or the whole LM), dense (every
    tensor dequantised to `dtype`, none kept in GGUF blocks), its tokenizer, the file's
    description and the weights the file lacked."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils.quantization_config import GgufConfig

    model = converted(path)
    config = AutoConfig.from_pretrained(model.converted)
    network, loading = auto(config).from_pretrained(
        str(path.parent), gguf_file=str(path), config=config,
        quantization_config=GgufConfig(dequantize=True), dtype=dtype, output_loading_info=True,
        **placement)
    return (network, AutoTokenizer.from_pretrained(model.converted), model.description,
            list(loading.get("missing_keys") or []))

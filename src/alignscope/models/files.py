"""What a local model folder must hold, checked before anything is loaded.

transformers loads an incomplete folder without complaint: without tokenizer files it builds a
tokenizer of five special tokens that maps every word to [UNK], so a run "works" and means
nothing. Here a folder must hold its config, its weights and its tokenizer, and the error names
the missing file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from alignscope.errors import AlignscopeError, DataFormatError

CONFIG_FILE = "config.json"
SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
# A fast tokenizer's own file, or the vocabulary it is converted from.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model",
                   "tokenizer.model", "vocab.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def could_be_hub_id(name: str) -> bool:
    """`xlm-roberta-base` or `org/name`; `./x`, `/x`, `~/x` and `a/b/c` are paths."""
    return bool(_HUB_ID.match(name)) and ".." not in name


def check_model_folder(folder: Path, allow_pickle: bool = False) -> None:
    """Config, weights and tokenizer present and readable; the first missing file is named."""
    _read_json(folder / CONFIG_FILE, "the model's config")
    weights = SAFE_WEIGHTS + (PICKLED_WEIGHTS if allow_pickle else ())
    present = [name for name in weights if (folder / name).is_file()]
    if not present:
        pickled = [name for name in PICKLED_WEIGHTS if (folder / name).is_file()]
        if pickled:
            raise AlignscopeError(
                f"{folder} has only pickled weights ({pickled[0]}), which run code when loaded",
                "pass --allow-pickle if you trust the model, or convert it to safetensors")
        raise AlignscopeError(f"{folder}: model weights missing (no {' or '.join(weights[:2])})",
                              "copy the whole model folder (save_pretrained writes them)")
    if present[0].endswith(".index.json"):
        _check_shards(folder, present[0])
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise AlignscopeError(
            f"{folder}: tokenizer files missing (none of {', '.join(TOKENIZER_FILES)})",
            "save the tokenizer into the folder too (tokenizer.save_pretrained(folder)); "
            "without it every word would be read as unknown")


def _check_shards(folder: Path, index_name: str) -> None:
    index = _read_json(folder / index_name, "the weight index")
    shards = sorted(set((index.get("weight_map") or {}).values()))
    missing = [name for name in shards if not (folder / name).is_file()]
    if missing or not shards:
        raise AlignscopeError(f"{folder}: weight shard {missing[0] if missing else '(none)'} "
                              f"listed in {index_name} is missing",
                              "copy every shard of the model")


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise AlignscopeError(f"{path.parent}: {what} ({path.name}) is missing",
                              "pass a complete model folder (config, weights, tokenizer)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        line = getattr(error, "lineno", None)
        raise DataFormatError(path, line, f"{what} is damaged (not valid JSON)",
                              "restore the file from the original model") from None
    if not isinstance(data, dict):
        raise DataFormatError(path, None, f"{what} is damaged (not a JSON object)",
                              "restore the file from the original model")
    return data

"""Dataset references: `ud:en_ewt`, `ud:fr_pud:test`, `ner:wikiann:de`, or a file path.

A reference resolves against a data directory (`--data-dir`, else `$ALIGNSCOPE_DATA`, else
the download cache) into a concrete file, split and language. The split comes from the
reference when it names one, else from the role the dataset plays (train, dev or eval).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from alignscope.errors import AlignscopeError, UnknownNameError
from alignscope.io import utf8_lines
from alignscope.registry import Registry

Role = Literal["train", "dev", "eval"]
# The split vocabulary, in every reference, result and file name alignscope writes.
SPLITS = ("train", "dev", "test")
ROLE_SPLIT: dict[str, str] = {"train": "train", "dev": "dev", "eval": "test"}
# NER split -> file stems in a language folder; the first is the one `data download` writes.
NER_SPLIT_FILES: dict[str, tuple[str, ...]] = {"train": ("train",), "dev": ("val", "dev"),
                                               "test": ("test",)}
_UD_FILE = re.compile(r"^(?P<code>[a-z]{2,3}_[a-z0-9]+)-ud-(?P<split>train|dev|test)\.conllu$")
_SCHEME_LIKE = re.compile(r"^([A-Za-z]+):(?![/\\])")


@dataclass(frozen=True)
class DatasetRef:
    """A parsed reference; `scheme` is a registered scheme (`ud`, `ner`) or `file`."""

    scheme: str
    name: str
    split: str | None = None

    def __str__(self) -> str:
        if self.scheme == "file":
            return self.name
        return f"{self.scheme}:{self.name}" + (f":{self.split}" if self.split else "")


@dataclass(frozen=True)
class ResolvedDataset:
    ref: DatasetRef
    path: Path
    split: str
    language: str
    format: Literal["conllu", "iob"]

    @property
    def name(self) -> str:
        """A stable display name, e.g. `ud:fr_pud:test`."""
        if self.ref.scheme == "file":
            return str(self.path)
        return str(DatasetRef(self.ref.scheme, self.ref.name, self.split))


@dataclass(frozen=True)
class Scheme:
    """A reference scheme (`ud`, `ner`): its syntax and how it resolves to a file."""

    usage: str  # e.g. "ud:CODE[:SPLIT]"
    example: str
    name_parts: int  # how many parts make the name (ud: 1, ner: 2); one more is the split
    resolve: Callable[[DatasetRef, str, Path], ResolvedDataset]


SCHEMES: Registry[Scheme] = Registry("dataset scheme")


def parse_ref(text: str) -> DatasetRef:
    """`ud:en_ewt`, `ud:fr_pud:test`, `ner:wikiann:de[:SPLIT]`, or a file path: the one parser
    of dataset references (also behind `--parallel ud:pud[:SPLIT]`)."""
    text = text.strip()
    if not text:
        raise AlignscopeError("empty dataset reference")
    prefix, _, body = text.partition(":")
    if not body or prefix not in SCHEMES:
        return DatasetRef("file", text)
    scheme = SCHEMES[prefix]
    parts = body.split(":")
    if len(parts) not in (scheme.name_parts, scheme.name_parts + 1) or not all(parts):
        raise AlignscopeError(f"bad {prefix} reference {text!r}: use {scheme.usage}, "
                              f"e.g. {scheme.example}")
    split = parts[scheme.name_parts] if len(parts) > scheme.name_parts else None
    if split is not None and split not in SPLITS:
        raise AlignscopeError(f"bad split {split!r} in {text!r}", f"use one of {', '.join(SPLITS)}")
    return DatasetRef(prefix, ":".join(parts[:scheme.name_parts]).lower(), split)


def default_data_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("ALIGNSCOPE_DATA"):
        return Path(os.environ["ALIGNSCOPE_DATA"]).expanduser()
    return cache_dir() / "data"


def cache_dir() -> Path:
    root = os.environ.get("ALIGNSCOPE_CACHE") or Path("~/.cache/alignscope").expanduser()
    return Path(root)


def _walk(root: Path) -> list[Path]:
    """Every file under `root`, following symlinked folders (the usual way to point a data
    directory at a UD release), each real folder once, so a link cycle cannot loop."""
    files: list[Path] = []
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        files += [Path(folder) / name for name in names]
    return files


@lru_cache(maxsize=16)
def _ud_index(root: Path) -> dict[str, dict[str, Path]]:
    """Map treebank codes (en_ewt) to their split files, from a recursive scan of `root`."""
    index: dict[str, dict[str, Path]] = {}
    if not root.is_dir():
        return index
    for path in sorted(_walk(root)):
        match = _UD_FILE.match(path.name)
        if match:
            index.setdefault(match["code"], {}).setdefault(match["split"], path)
    return index


def refresh_index() -> None:
    """Forget scanned directories, e.g. after a download added treebanks."""
    _ud_index.cache_clear()


def ud_treebanks(data_dir: str | Path | None = None) -> dict[str, dict[str, Path]]:
    """All treebanks found under the data directory: code -> split -> path."""
    return _ud_index(default_data_dir(data_dir).resolve())


def _language_of_file(path: Path) -> str:
    match = _UD_FILE.match(path.name)
    if match:
        return match["code"].split("_")[0]
    return path.stem


def resolve(ref: str | DatasetRef, role: Role = "eval",
            data_dir: str | Path | None = None) -> ResolvedDataset:
    """Resolve a reference to a file; errors list what exists instead."""
    ref = parse_ref(ref) if isinstance(ref, str) else ref
    root = default_data_dir(data_dir)
    if ref.scheme == "file":
        path = Path(ref.name).expanduser()
        if not path.is_file():
            if scheme := _SCHEME_LIKE.match(ref.name):
                raise UnknownNameError("dataset scheme", scheme[1], SCHEMES.names)
            raise AlignscopeError(f"dataset file {path} " + (
                "is a folder" if path.is_dir() else "does not exist"),
                "pass a CoNLL-U or IOB file, or a reference such as ud:en_ewt")
        fmt = "conllu" if path.suffix == ".conllu" and _UD_FILE.match(path.name) else _sniff(path)
        return ResolvedDataset(ref, path, ref.split or ROLE_SPLIT[role], _language_of_file(path),
                               fmt)
    return SCHEMES[ref.scheme].resolve(ref, ref.split or ROLE_SPLIT[role], root)


def _resolve_ud(ref: DatasetRef, split: str, root: Path) -> ResolvedDataset:
    index = _ud_index(root.resolve())
    if ref.name not in index:
        if not index:
            raise AlignscopeError(
                f"no UD treebank found under {root}", "set --data-dir or ALIGNSCOPE_DATA, or "
                f"run `alignscope data download ud {ref.name.upper()}`")
        raise UnknownNameError(f"UD treebank (in {root})", ref.name, list(index))
    splits = index[ref.name]
    if split not in splits:
        raise AlignscopeError(
            f"treebank {ref.name} has no {split} split under {root} "
            f"(it has: {', '.join(sorted(splits))})", f"name a split, e.g. ud:{ref.name}:"
            f"{sorted(splits)[0]}")
    return ResolvedDataset(ref, splits[split], split, ref.name.split("_")[0], "conllu")


def _resolve_ner(ref: DatasetRef, split: str, root: Path) -> ResolvedDataset:
    corpus, language = ref.name.split(":")
    folder = root / corpus / language
    if not folder.is_dir():
        folder = root / "ner" / corpus / language
    candidates = [folder / f"{stem}.conllu" for stem in NER_SPLIT_FILES[split]]
    path = next((candidate for candidate in candidates if candidate.is_file()), candidates[0])
    if not path.is_file():
        found = sorted(p.name for p in (root / corpus).glob("*")) if (root / corpus).is_dir() else []
        hint = f" (languages present: {', '.join(found)})" if found else ""
        raise AlignscopeError(
            f"no {split} file for {ref} under {root}: expected {path}{hint}; "
            f"run `alignscope data download ner {corpus} {language}` with internet access")
    return ResolvedDataset(ref, path, split, language, "iob")


SCHEMES.register("ud", Scheme("ud:CODE or ud:CODE:SPLIT", "ud:en_ewt or ud:fr_pud:test", 1,
                              _resolve_ud))
SCHEMES.register("ner", Scheme("ner:CORPUS:LANG[:SPLIT]", "ner:wikiann:de", 2, _resolve_ner))


def _sniff(path: Path) -> Literal["conllu", "iob"]:
    """CoNLL-U has 10 columns; IOB files have the tag in the last of 2-4 columns."""
    for _, line in utf8_lines(path):  # the readers' own decoding: a byte-order mark is fine
        if line.strip() and not line.startswith("#"):
            return "conllu" if len(line.split("\t")) == 10 else "iob"
    return "conllu"

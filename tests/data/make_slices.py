"""Cut the small slices of real UD and WikiANN files under tests/data from a full copy.

    python tests/data/make_slices.py [SOURCE]    # SOURCE: the full data folder, ../shared/data

A slice is the first N sentences of its file, byte for byte. The PUD slices hold the sentences of
the first N sent_ids of English PUD, each file in its own order, so they stay parallel. Each
treebank's LICENSE and README are copied beside its slices, WikiANN's LICENSE beside its own, and
tests/data/MANIFEST.tsv lists every slice with the columns of SOURCE/MANIFEST.tsv.
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PUD_SENTENCES = 100
PUD_LANGUAGES = {"en": "English", "fr": "French", "de": "German", "ru": "Russian",
                 "ja": "Japanese", "zh": "Chinese"}
# folder -> split -> sentences; the source language's splits are larger: the tests fine-tune on
# them and train the tiny models' tokenizers on them.
UD = {"UD_English-EWT": {"train": 400, "dev": 200, "test": 200},
      "UD_French-GSD": {"dev": 20, "test": 20}, "UD_German-GSD": {"dev": 20, "test": 20}}
WIKIANN = {lang: {"train": 100, "val": 50, "test": 50} for lang in ("en", "de")}
COLUMNS = ["dataset", "lang", "split", "path", "sentences", "tokens", "source_repo",
           "source_commit", "license", "note"]
_SENT_ID = re.compile(r"^# sent_id = (\S+)$", re.MULTILINE)


def blocks(path: Path) -> list[str]:
    """The blank-line separated sentences of a file, each without its final newline."""
    return [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]


def sent_id(block: str) -> str:
    match = _SENT_ID.search(block)
    if not match:
        raise SystemExit(f"a PUD sentence has no sent_id:\n{block[:200]}")
    return match[1]


def tokens(block: str, conllu: bool) -> int:
    """The source manifest's count: CoNLL-U lines whose ID is an integer; every WikiANN line."""
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    return sum(line.split("\t", 1)[0].isdigit() for line in lines) if conllu else len(lines)


def write_slice(source: Path, target: Path, chosen: list[str]) -> None:
    text = "\n\n".join(chosen) + "\n\n"
    if not source.read_text(encoding="utf-8").startswith(text) and "_pud-" not in source.name:
        raise SystemExit(f"{source}: the slice is not a prefix of the file")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def copy_licences(source_folder: Path, target_folder: Path) -> None:
    for path in sorted(source_folder.glob("LICENSE*")) + sorted(source_folder.glob("README*")):
        shutil.copyfile(path, target_folder / path.name)


def main(source: Path) -> None:
    with open(source / "MANIFEST.tsv", encoding="utf-8") as handle:
        manifest = {row["path"]: row for row in csv.DictReader(handle, delimiter="\t")}
    for folder in ("ud", "wikiann"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    rows = []

    def cut(relative: str, chosen: list[str], total: int, how: str) -> None:
        write_slice(source / relative, HERE / relative, chosen)
        row = dict(manifest[relative])
        conllu = relative.startswith("ud/")
        row.update(sentences=str(len(chosen)), tokens=str(sum(tokens(b, conllu) for b in chosen)),
                   note=f"{how}, of {total}" + (f"; {row['note']}" if row["note"] else ""))
        rows.append(row)

    english = blocks(source / "ud/UD_English-PUD/en_pud-ud-test.conllu")
    ids = {sent_id(b) for b in english[:PUD_SENTENCES]}
    for lang, name in PUD_LANGUAGES.items():
        relative = f"ud/UD_{name}-PUD/{lang}_pud-ud-test.conllu"
        every = blocks(source / relative)
        chosen = [b for b in every if sent_id(b) in ids]
        if len(chosen) != len(ids):
            raise SystemExit(f"{relative}: {len(chosen)} of the {len(ids)} sent_ids")
        cut(relative, chosen, len(every), f"the sentences of the first {len(ids)} en_pud sent_ids")
        copy_licences(source / relative.rsplit("/", 1)[0], HERE / relative.rsplit("/", 1)[0])
    for folder, splits in UD.items():
        for split, count in splits.items():
            [path] = (source / "ud" / folder).glob(f"*-ud-{split}.conllu")
            relative = str(path.relative_to(source))
            every = blocks(path)
            cut(relative, every[:count], len(every), f"the first {count} sentences")
        copy_licences(source / "ud" / folder, HERE / "ud" / folder)
    for lang, splits in WIKIANN.items():
        for split, count in splits.items():
            relative = f"wikiann/{lang}/{split}.conllu"
            every = blocks(source / relative)
            cut(relative, every[:count], len(every), f"the first {count} sentences")
    shutil.copyfile(source / "wikiann/LICENSE", HERE / "wikiann/LICENSE")
    with open(HERE / "MANIFEST.tsv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data")

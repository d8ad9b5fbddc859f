"""`alignscope data download` and `alignscope data list`."""

from __future__ import annotations

import os

from alignscope.cli._app import command, console, group
from alignscope.config import check_input, check_out_folder
from alignscope.data import download as api
from alignscope.data.options import DataFolder, DownloadConfig
from alignscope.data.registry import SPLITS, default_data_dir, ud_treebanks
from alignscope.errors import ConfigError

data_app = group("data", "Fetch datasets (UD treebanks, NER corpora) and list them.")


@command(data_app, DownloadConfig)
def download(config: DownloadConfig) -> None:
    """Fetch datasets from their official sources (needs internet access)."""
    output = console()
    data_dir = config.data_dir
    check_out_folder(default_data_dir(data_dir), "--data-dir")
    if config.kind == "ud":
        for name in config.names:
            with output.status(f"fetching {name} ({config.release})"):
                result = api.download_ud(name, release=config.release, data_dir=data_dir,
                                         refresh=config.refresh)
            parts = [f"{split} downloaded" for split in result.fetched] + \
                [f"{split} cached" for split in result.cached] + \
                [f"{split} absent" for split in result.missing]
            output.print(f"{result.treebank.repo} {result.release}: {', '.join(parts)} -> "
                         f"{result.directory} (ud:{result.treebank.file_code})")
        return
    corpus, *languages = config.names
    if not languages:
        raise ConfigError(f"name the languages after the corpus, e.g. "
                          f"`alignscope data download ner {corpus} de es`")
    for language in languages:
        with output.status(f"fetching {corpus} {language}"):
            written = api.download_ner(corpus, [language], data_dir=data_dir)
        for lang, directory in written.items():
            output.print(f"{corpus}:{lang} -> {directory} (ner:{corpus}:{lang})")


@command(data_app, DataFolder, name="list")
def list_datasets(config: DataFolder) -> None:
    """List the UD treebanks and NER sets found in the data folder."""
    from rich.table import Table

    data_dir = config.data_dir
    root = default_data_dir(data_dir)
    if data_dir or os.environ.get("ALIGNSCOPE_DATA"):  # the default may not exist yet
        check_input(root, "data", "--data-dir" if data_dir else "$ALIGNSCOPE_DATA", folder=True)
    treebanks = ud_treebanks(data_dir)
    ner = api.ner_datasets(data_dir)
    output = console()
    if not treebanks and not ner:
        output.print(f"no dataset under {root}; run `alignscope data download`")
        return
    table = Table(title=f"datasets in {root}")
    for column in ("reference", "splits", "folder"):
        table.add_column(column)
    rows = [(f"ud:{code}", splits) for code, splits in sorted(treebanks.items())] + \
        [(f"ner:{name}", splits) for name, splits in sorted(ner.items())]
    for reference, splits in rows:
        present = [split for split in SPLITS if split in splits]
        table.add_row(reference, ", ".join(present), str(splits[present[0]].parent))
    output.print(table)

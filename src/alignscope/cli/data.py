"""`alignscope data download` and `alignscope data list`."""

from __future__ import annotations

import os
from enum import Enum
from typing import Annotated

import typer
from rich.table import Table

from alignscope.cli._app import console, data_app, run_guarded
from alignscope.config import check_input, check_out_folder
from alignscope.data import download as api
from alignscope.data.registry import SPLITS, default_data_dir, ud_treebanks
from alignscope.errors import ConfigError

Opt = typer.Option
DataDir = Annotated[str | None, Opt(help="Data directory (default $ALIGNSCOPE_DATA, else the "
                                         "cache's data folder).")]


class Kind(str, Enum):
    ud = "ud"
    ner = "ner"


@data_app.command("download")
def download(
    kind: Annotated[Kind, typer.Argument(help="ud: UD treebanks; ner: a NER corpus.")],
    names: Annotated[list[str], typer.Argument(
        help="ud: treebanks (EN_EWT, en_ewt or UD_English-EWT). "
             "ner: the corpus, then languages (wikiann de es).")],
    release: Annotated[str, Opt(help="UD release tag (r2.14 ...) or master.")] =
        api.DEFAULT_UD_RELEASE,
    data_dir: DataDir = None,
    refresh: Annotated[bool, Opt(help="Download again even if cached.")] = False,
) -> None:
    """Fetch datasets from their official sources (needs internet access)."""
    output = console()

    def body() -> None:
        check_out_folder(default_data_dir(data_dir), "--data-dir")
        if kind is Kind.ud:
            for name in names:
                with output.status(f"fetching {name} ({release})"):
                    result = api.download_ud(name, release=release, data_dir=data_dir,
                                             refresh=refresh)
                parts = [f"{split} downloaded" for split in result.fetched] + \
                    [f"{split} cached" for split in result.cached] + \
                    [f"{split} absent" for split in result.missing]
                output.print(f"{result.treebank.repo} {result.release}: {', '.join(parts)} -> "
                             f"{result.directory} (ud:{result.treebank.file_code})")
        else:
            corpus, *languages = names
            if not languages:
                raise ConfigError(f"name the languages after the corpus, e.g. "
                                  f"`alignscope data download ner {corpus} de es`")
            for language in languages:
                with output.status(f"fetching {corpus} {language}"):
                    written = api.download_ner(corpus, [language], data_dir=data_dir)
                for lang, directory in written.items():
                    output.print(f"{corpus}:{lang} -> {directory} (ner:{corpus}:{lang})")

    run_guarded(body)


@data_app.command("list")
def list_datasets(data_dir: DataDir = None) -> None:
    """List the UD treebanks and NER sets found in the data directory."""

    def body() -> None:
        root = default_data_dir(data_dir)
        if data_dir or os.environ.get("ALIGNSCOPE_DATA"):  # the default may not exist yet
            check_input(root, "data", "--data-dir" if data_dir else "$ALIGNSCOPE_DATA",
                        folder=True)
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

    run_guarded(body)

"""`alignscope data download` and `alignscope data list`."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alignscope.cli._app import data_app, run_guarded
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
    console = Console()

    def body() -> None:
        if kind is Kind.ud:
            for name in names:
                with console.status(f"fetching {escape(name)} ({escape(release)})"):
                    result = api.download_ud(name, release=release, data_dir=data_dir,
                                             refresh=refresh)
                parts = [f"{split} downloaded" for split in result.fetched] + \
                    [f"{split} cached" for split in result.cached] + \
                    [f"{split} absent" for split in result.missing]
                console.print(f"[green]{result.treebank.repo}[/] {result.release}: "
                              f"{', '.join(parts)} -> {escape(str(result.directory))} "
                              f"(ud:{result.treebank.file_code})")
        else:
            corpus, *languages = names
            if not languages:
                raise ConfigError(f"name the languages after the corpus, e.g. "
                                  f"`alignscope data download ner {corpus} de es`")
            for language in languages:
                with console.status(f"fetching {escape(corpus)} {escape(language)}"):
                    written = api.download_ner(corpus, [language], data_dir=data_dir)
                for lang, directory in written.items():
                    console.print(f"[green]{corpus}:{lang}[/] -> {escape(str(directory))} "
                                  f"(ner:{corpus}:{lang})")

    run_guarded(body)


@data_app.command("list")
def list_datasets(data_dir: DataDir = None) -> None:
    """List the UD treebanks and NER sets found in the data directory."""
    root = default_data_dir(data_dir)
    treebanks = ud_treebanks(data_dir)
    ner = api.ner_datasets(data_dir)
    console = Console()
    if not treebanks and not ner:
        console.print(f"no dataset under {escape(str(root))}; run `alignscope data download`")
        return
    table = Table(title=f"datasets in {escape(str(root))}")
    for column in ("reference", "splits", "folder"):
        table.add_column(column)
    rows = [(f"ud:{code}", splits) for code, splits in sorted(treebanks.items())] + \
        [(f"ner:{name}", splits) for name, splits in sorted(ner.items())]
    for reference, splits in rows:
        present = [split for split in SPLITS if split in splits]
        table.add_row(reference, ", ".join(present),
                      escape(str(splits[present[0]].parent)))
    console.print(table)

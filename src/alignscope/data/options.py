"""The options of `alignscope data download` and `alignscope data list`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from alignscope.config import DATA_DIR_HELP, DataDir, Flag, options
from alignscope.data.download import DEFAULT_UD_RELEASE


@options(frozen=True)
class DataFolder:
    """Where the datasets are."""

    data_dir: DataDir | None = Field(None, description=DATA_DIR_HELP)


@options(frozen=True)
class DownloadConfig(DataFolder):
    """What `alignscope data download` fetches."""

    kind: Annotated[Literal["ud", "ner"], Flag(argument=True, metavar="KIND")] = Field(
        description="ud: Universal Dependencies treebanks; ner: a NER corpus.")
    names: Annotated[list[str], Flag(argument=True, metavar="NAMES")] = Field(
        description="ud: the treebanks (EN_EWT, en_ewt or UD_English-EWT); ner: the corpus, "
                    "then its languages (wikiann de es).")
    release: Annotated[str, Flag(metavar="TAG")] = Field(
        DEFAULT_UD_RELEASE, description="UD release tag (r2.14, ...) or master.")
    refresh: bool = Field(False, description="Download again what is already there.")

"""Run folders and result files: the only module that knows their layout, the one writer of
results (`make_result`, `write_result`) and `load_run`, the one reader, for every kind.

    <finetune run>/results.json         kind finetune (written last: marks a finished run)
    <finetune run>/checkpoint/          encoder/ (save_pretrained), head.safetensors, task.json
    <finetune run>/evaluation.json      kind evaluate (`alignscope evaluate` default)
    <finetune run>/predictions/         with --write-predictions
    <similarity run>/similarity.json    kind similarity, plus CSV tables and figures
    <stability run>/stability.json      kind stability, plus CSV tables and figures
    <correlation run>/correlation.json  kind correlation, plus correlation.csv and a figure
    <lens run>/lens.json                kind lens, plus curves.csv, tuned-lens/ and figures
    <neurons run>/neurons.json          kind neurons, plus activation.safetensors, masks/
    <merge run>/merge.json              kind merge, plus checkpoint/ (as a finetune run's)
    <pretrained model>/pretrain.json    kind pretrain (`lab pretrain`; written last)
    <sweep run>/<kind>/                 a sweep run's result of each kind, laid out as above

Every result file carries `schema_version`, `kind`, `source_language`, `random_init` (layer
names), `model`, the resolved `config`, `versions` and `created` (schema in runs/schema.py and
docs/results.schema.json). `write_result` validates every file against the schema before it
writes it; `load_run` reads version 2 and version 1 files alike and returns them in the
version-2 shape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alignscope.errors import AlignscopeError, DataFormatError
from alignscope.io import atomic_write_json, read_json
from alignscope.layer_names import parse_layers
from alignscope.runs import legacy
from alignscope.runs.schema import ADAPTER, KINDS, SCHEMA_VERSION, Kind, RunHeader

__all__ = ["CHECKPOINT_DIR", "KINDS", "LAYER_KINDS", "PREDICTIONS_DIR", "RESULT_FILES",
           "SCHEMA_VERSION", "TRANSFER_KINDS", "Kind", "Run", "checkpoint_dir", "encoder_dir",
           "load_run", "make_result", "model_name", "no_model_here",
           "part_dir", "result_file", "run_origin",
           "timestamp", "validate", "write_result"]

RESULT_FILES: dict[Kind, str] = {
    "finetune": "results.json", "evaluate": "evaluation.json", "similarity": "similarity.json",
    "stability": "stability.json", "correlation": "correlation.json",
    "pretrain": "pretrain.json", "lens": "lens.json", "neurons": "neurons.json",
    "merge": "merge.json"}
TRANSFER_KINDS: tuple[Kind, ...] = ("finetune", "evaluate")  # zero-shot scores
LAYER_KINDS: tuple[Kind, ...] = ("similarity", "stability")  # one value per layer and language
_HEADER = frozenset(RunHeader.model_fields)
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_ENCODER = "encoder"
CHECKPOINT_TASK = "task.json"
CHECKPOINT_HEAD = "head.safetensors"
PREDICTIONS_DIR = "predictions"
_MADE_BY: dict[Kind, str] = {kind: f"`alignscope {kind}`" for kind in KINDS}
_MADE_BY.update(correlation="`alignscope correlate`", pretrain="`alignscope lab pretrain`")


def model_name(model: str) -> str:
    """A model's name for people (tables, figure titles): a local folder's own name, else the
    hub id as given."""
    local = Path(model).expanduser()
    return local.resolve().name if local.exists() or local.is_absolute() else model


def timestamp() -> str:
    """Now, in UTC to the second: every `created`, `started` and `finished` field."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def result_file(folder: str | Path, kind: Kind) -> Path:
    """Where a run of `kind` keeps its result in `folder`."""
    return Path(folder) / RESULT_FILES[kind]


def part_dir(run: str | Path, kind: Kind) -> Path:
    """The folder of a sweep run's result of `kind` (`NAME/finetune`, `NAME/similarity`, ...)."""
    return Path(run) / kind


def checkpoint_dir(run: str | Path) -> Path:
    """The checkpoint of a finetune run folder (or the checkpoint folder itself)."""
    run = Path(run)
    return run / CHECKPOINT_DIR if (run / CHECKPOINT_DIR).is_dir() else run


def encoder_dir(path: str | Path) -> Path | None:
    """The saved encoder of a finetune run folder or checkpoint folder, if it has one."""
    path = Path(path).expanduser()
    for candidate in (path / CHECKPOINT_DIR / CHECKPOINT_ENCODER, path / CHECKPOINT_ENCODER):
        if (candidate / "config.json").is_file():
            return candidate
    return None


def no_model_here(path: str | Path) -> AlignscopeError | None:
    """Why a folder given as a fine-tuned model holds none, when it is a known case: a sweep
    folder (not one of its runs), or a finished fine-tune whose checkpoint was deleted (by a
    sweep, once the run's analyses were done, unless `keep_checkpoints: true`)."""
    path = Path(path).expanduser()
    if (path / "manifest.json").is_file() and (path / "runs").is_dir():
        return AlignscopeError(f"{path} is a sweep folder, not one of its runs",
                               "pass a run's folder, OUT/runs/NAME (one whose fine-tuned model "
                               "was kept: keep_checkpoints: true)")
    folder = part_dir(path, "finetune") if part_dir(path, "finetune").is_dir() else path
    if not result_file(folder, "finetune").is_file() or encoder_dir(folder) is not None:
        return None
    if any((where / "run.json").is_file() for where in (folder, folder.parent)):  # a sweep's
        return AlignscopeError(f"{path}: this sweep run's fine-tuned model was deleted once its "
                               "analyses were done (the experiment's keep_checkpoints: false, "
                               "the default)", "set keep_checkpoints: true and run the sweep "
                               "into another --out, or fine-tune it again with `alignscope "
                               "finetune`")
    return AlignscopeError(f"{path}: the run finished, but its {CHECKPOINT_DIR}/ folder is gone",
                           "fine-tune it again with `alignscope finetune`")


@dataclass(frozen=True)
class Run:
    """A loaded result: `data` in the version-2 shape, whatever version the file has."""

    kind: Kind
    path: Path  # the result file
    data: dict[str, Any]
    schema_version: int  # as stored on disk

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def source_language(self) -> str | None:
        return self.data.get("source_language")

    @property
    def random_init(self) -> list[str]:
        return list(self.data.get("random_init") or [])

    @property
    def model(self) -> str:
        return str(self.data["model"]["name"])

    @property
    def label(self) -> str:
        """`REF`, or `RI <layers>` (`RI <regex>` for a regex selection) for a run whose model
        had layers re-drawn."""
        regex = (self.data.get("reinit") or {}).get("regex")
        if regex:
            return f"RI {regex}"
        return f"RI {parse_layers(self.random_init)}" if self.random_init else "REF"


def _kinds(kind: Kind | Sequence[Kind] | None) -> tuple[Kind, ...]:
    if kind is None:
        return KINDS
    return (kind,) if isinstance(kind, str) else tuple(kind)


def _describe(kinds: tuple[Kind, ...]) -> str:
    return " or ".join(f"{k} result ({RESULT_FILES[k]}, from {_MADE_BY[k]})" for k in kinds)


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataFormatError(path, None, "a result file must hold a JSON object")
    return data


def validate(data: dict[str, Any], path: str | Path = "<result>") -> None:
    """Check a version-2 result against the schema; the error names the file and the field."""
    try:
        ADAPTER.validate_python(data)
    except ValidationError as error:
        raise DataFormatError(path, None, f"does not follow results schema {SCHEMA_VERSION} "
                              f"{_first_problem(error)}") from None


def make_result(kind: Kind, body: dict[str, Any], *, source_language: str | None,
                random_init: Sequence[str], model: dict[str, Any], config: dict[str, Any],
                ) -> dict[str, Any]:
    """A result of `kind`: the header every result starts with (docs/results.md), then `body`."""
    from alignscope.runtime import versions  # torch: only the commands that write need it

    clash = _HEADER & body.keys()
    if clash:
        raise ValueError(f"the body of a {kind} result sets header fields: {sorted(clash)}")
    return {"schema_version": SCHEMA_VERSION, "kind": kind, "source_language": source_language,
            "random_init": list(random_init), "model": model, "config": config,
            "versions": versions(), "created": timestamp(), **body}


def write_result(folder: str | Path, result: dict[str, Any], name: str | None = None) -> Path:
    """Validate `result` against the schema, then write it atomically to its kind's file in
    `folder` (or to `name` there). Validation costs milliseconds against a run of seconds to
    hours, and a file that fails it could not be read back: it is checked on every write."""
    path = Path(folder) / name if name else result_file(folder, result["kind"])
    try:
        ADAPTER.validate_python(result)
    except ValidationError as error:  # a bug: a writer and the schema disagree
        raise ValueError(f"{path}: a {result.get('kind')} result breaks results schema "
                         f"{SCHEMA_VERSION}: {_first_problem(error)}") from None
    return atomic_write_json(path, result)


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return f"at {where}: {first['msg']}"


def load_run(path: str | Path, kind: Kind | Sequence[Kind] | None = None) -> Run:
    """Load a result file, or the result in a run folder, of any kind (or of `kind`).

    A folder holding several results (a finetune run with its evaluation.json) gives the
    first of `kind` present, in the order given.
    """
    expected = _kinds(kind)
    path = Path(path).expanduser()
    if path.is_dir():
        found = next((path / RESULT_FILES[k] for k in expected
                      if (path / RESULT_FILES[k]).is_file()), None)
        if found is None:
            raise DataFormatError(path, None, f"no {_describe(expected)} in this folder",
                                  "pass a run folder or its result file")
        path = found
    elif not path.is_file():
        raise DataFormatError(path, None, f"no such file or folder; expected a "
                              f"{_describe(expected)}")
    data = _read_json(path)
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise DataFormatError(path, None, f"schema_version {version!r} is not one this "
                              f"alignscope reads (1-{SCHEMA_VERSION})", "upgrade alignscope")
    found_kind: Kind = data.get("kind") if version >= 2 else legacy.v1_kind(data, path)  # type: ignore[assignment]
    if found_kind not in expected:
        raise DataFormatError(path, None, f"is a {found_kind} result; expected a "
                              f"{_describe(expected)}")
    if version < SCHEMA_VERSION:
        sibling = _finetune_beside(path) if found_kind == "evaluate" else None
        data = legacy.upgrade(data, found_kind, path, sibling)
    validate(data, path)
    return Run(found_kind, path, data, version)


def _finetune_beside(path: Path) -> dict[str, Any] | None:
    beside = result_file(path.parent, "finetune")
    if not beside.is_file():
        return None
    return load_run(beside, "finetune").data


def run_origin(model: str | Path) -> tuple[str | None, list[str]]:
    """(source language, RANDOM-INIT layers) of a model given as a finetune run folder or its
    saved encoder; (None, []) for anything else (a hub id, a plain model folder)."""
    path = Path(model).expanduser()
    encoder = (encoder_dir(path) or path).resolve()
    for folder in (path, path.parent, path.parent.parent):
        saved = encoder_dir(folder)
        if saved is not None and saved.resolve() == encoder \
                and result_file(folder, "finetune").is_file():
            run = load_run(folder, "finetune")
            return run.source_language, run.random_init
    return None, []

"""The options of every command, validated in one place before any data or model is loaded.

Each command's options are a pydantic dataclass (`FinetuneConfig`, `EvaluateConfig`,
`SimilarityConfig`, `StabilityConfig`, `CorrelationConfig`, `TableConfig`), built from CLI flags,
a YAML file or Python keywords through `build`, which turns pydantic's errors into one
`ConfigError` naming the key, its flag and the valid range. This module holds the machinery and
the constrained field types they share; the classes live beside the code that runs them
(`config_class` finds them by command name without importing the heavy layers eagerly).

Paths are checked here too (`check_out_folder`, `check_out_file`, `check_input`), so that a
command refuses an unwritable or wrong output before it does any work.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from alignscope.errors import AlignscopeError, ConfigError, UnknownNameError, did_you_mean
from alignscope.io import read_utf8

T = TypeVar("T")

# Unknown keys are errors; NaN and infinity are never a valid option.
OPTIONS = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)

COMMANDS: dict[str, str] = {
    "finetune": "alignscope.training.config:FinetuneConfig",
    "evaluate": "alignscope.training.config:EvaluateConfig",
    "similarity": "alignscope.analysis.similarity:SimilarityConfig",
    "stability": "alignscope.analysis.stability:StabilityConfig",
    "correlate": "alignscope.analysis.correlation:CorrelationConfig",
    "table": "alignscope.config:TableConfig",
}


class OptionsError(ConfigError):
    """An option class refused its values; `validation` holds pydantic's details."""

    def __init__(self, validation: ValidationError, cls: type) -> None:
        self.validation, self.cls = validation, cls
        described = describe(validation, cls)
        super().__init__(described.message, described.hint)


def options(cls: type[T] | None = None, /, **kwargs: Any) -> Any:
    """Decorator for a command's option class: a pydantic dataclass that forbids unknown keys
    and raises `OptionsError` (an AlignscopeError) for bad values, also when built directly."""
    kwargs.setdefault("config", OPTIONS)

    def decorate(target: type[T]) -> type[T]:
        made = pydantic_dataclass(**kwargs)(target)
        validate = made.__init__

        @functools.wraps(validate)
        def __init__(self: Any, *args: Any, **values: Any) -> None:
            try:
                validate(self, *args, **values)
            except ValidationError as error:
                raise OptionsError(error, type(self)) from None

        made.__init__ = __init__  # type: ignore[method-assign]
        return made

    return decorate if cls is None else decorate(cls)


def user_error(check: Callable[..., Any], *args: Any) -> Any:
    """Run a check that raises AlignscopeError inside a pydantic validator, whose errors must
    be ValueErrors to be reported with the key that failed."""
    try:
        return check(*args)
    except AlignscopeError as error:
        raise ValueError(error.message) from None


def config_class(command: str) -> type:
    """The option class of a command (`finetune`, `similarity`, ...)."""
    if command not in COMMANDS:
        raise UnknownNameError("command", command, list(COMMANDS))
    module, _, name = COMMANDS[command].partition(":")
    return getattr(importlib.import_module(module), name)


# ---------------------------------------------------------------- field types

def _split_names(value: Any) -> Any:
    """`"fr,de"` (a flag, or a YAML string) -> ["fr", "de"], never one name per character;
    `none` is the empty list."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
        return [] if [item.lower() for item in items] == ["none"] else items
    return value


def _nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:[0-9]+)?)$")


def _device(value: str) -> str:
    if not _DEVICE.match(value):
        raise ValueError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N or mps")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Text = Annotated[str, AfterValidator(_nonblank)]
Names = Annotated[tuple[Text, ...], BeforeValidator(_split_names)]
NameList = Annotated[list[Text], BeforeValidator(_split_names)]
# Strict: `seed: true` or `epochs: 2.0` in a YAML file is a mistake, not 1 or 2.
Count = Annotated[int, Field(ge=1, strict=True)]  # batch sizes, threads, epochs, sentence limits
NonNegative = Annotated[int, Field(ge=0, strict=True)]
Seed = Annotated[int, Field(ge=0, lt=2**63, strict=True)]
Rate = Annotated[float, Field(gt=0), AfterValidator(_finite)]  # learning rates, norms
NonNegativeFloat = Annotated[float, Field(ge=0), AfterValidator(_finite)]
Fraction = Annotated[float, Field(ge=0, lt=1), AfterValidator(_finite)]  # dropout, warmup
OpenUnit = Annotated[float, Field(gt=0, lt=1), AfterValidator(_finite)]  # confidence
Device = Annotated[str, AfterValidator(_device)]
TableFormat = Literal["markdown", "csv", "latex"]


@options(frozen=True, kw_only=True)
class TableConfig:
    """`alignscope table`: finetune runs side by side, or an analysis run per layer."""

    FLAGS: ClassVar[dict[str, str]] = {"runs": "RUNS", "fmt": "--format"}

    runs: Annotated[list[Path], Field(min_length=1)]
    labels: NameList | None = None
    measure: Text | None = None
    condition: Text | None = None
    layers: Text | None = None  # a layer spec (docs/layers.md), parsed by the table
    fmt: TableFormat = "markdown"
    out: Path | None = None


# ---------------------------------------------------------------- building and loading

class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice (it would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: list[Any] = []  # a list: YAML keys may be unhashable ([a, b]: 1)
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.append(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping of a YAML options file; errors name the file (and line)."""
    path = Path(path)
    check_input(path, "config file", flag="--config")
    try:
        data = yaml.load(read_utf8(path), Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})",
                          "check the indentation and the `key: value` syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise ConfigError(f"{path}: a config file must be a mapping of option: value",
                          "write one `option: value` per line, e.g. `seed: 1`")
    return data


def build(cls: type[T], values: Mapping[str, Any], *, source: str | Path | None = None,
          flags: Mapping[str, str] | None = None) -> T:
    """`cls(**values)`, with any validation error as one ConfigError naming the key.

    `source` names where the values came from (a YAML file); `flags` maps field names to
    their CLI flag when it differs from `--field-name`.
    """
    try:
        return cls(**values)
    except OptionsError as error:
        raise describe(error.validation, error.cls, source, flags) from None
    except ValidationError as error:
        raise describe(error, cls, source, flags) from None
    except TypeError as error:  # a plain dataclass: unknown or missing keyword
        raise ConfigError(f"{_where(source)}{error}") from None


def merge(cls: type[T], values: Mapping[str, Any], yaml_path: str | Path | None = None,
          explicit: frozenset[str] = frozenset(), flags: Mapping[str, str] | None = None) -> T:
    """Options from a YAML file under `values`: a key in `explicit` (typed on the command
    line) wins over the file; otherwise the file wins over `values` (flag defaults)."""
    merged = dict(values)
    file_values = load_yaml(yaml_path) if yaml_path is not None else {}
    for key, value in file_values.items():
        if key not in explicit:
            merged[key] = value
    return build(cls, merged, source=yaml_path if file_values else None, flags=flags)


def describe(error: ValidationError, cls: type, source: str | Path | None = None,
             flags: Mapping[str, str] | None = None) -> ConfigError:
    """The first problem of a pydantic error, naming the key, its flag and what is valid."""
    flags = {**getattr(cls, "FLAGS", {}), **(flags or {})}
    # An unknown key explains the rest (a misspelt required option is also "missing").
    first = min(error.errors(), key=lambda e: e["type"] not in ("unexpected_keyword_argument",
                                                                "extra_forbidden"))
    loc = [str(part) for part in first["loc"]]
    key = loc[0] if loc else ""
    if first["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        known = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
        return ConfigError(f"{_where(source)}unknown option {key!r}{did_you_mean(key, known)}",
                           f"known options: {', '.join(known)}")
    if not key:  # a combination of options: the message names them
        return ConfigError(f"{_where(source)}{first['msg'].removeprefix('Value error, ')}")
    name = _name(key, flags) + "".join(f"[{part}]" for part in loc[1:])
    if first["type"] in ("missing", "missing_keyword_argument"):
        return ConfigError(f"{_where(source)}{_flag(key, flags)} is required",
                           f"give {_flag(key, flags)} (or `{key}:` in --config)")
    message = first["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    got = first.get("input")
    shown = "" if isinstance(got, Mapping) or repr(got) in message else f", got {got!r}"
    return ConfigError(f"{_where(source)}{name}: {message}{shown}",
                       f"change {_flag(key, flags)} (`{key}` in a --config file)")


def dump(config: Any) -> dict[str, Any]:
    """The resolved options as plain JSON values (tuples as lists, paths as strings)."""
    data = dataclasses.asdict(config)
    return TypeAdapter(dict[str, Any]).dump_python(data, mode="json")


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema of a command's options (for sweep files and documentation)."""
    return TypeAdapter(cls).json_schema()


def _flag(key: str, flags: Mapping[str, str] | None) -> str:
    return (flags or {}).get(key) or "--" + key.replace("_", "-")


def _name(key: str, flags: Mapping[str, str] | None) -> str:
    return f"option {_flag(key, flags)} ({key})" if key else "options"


def _where(source: str | Path | None) -> str:
    return f"{source}: " if source is not None else ""


# ---------------------------------------------------------------- paths

def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(path: Path, flag: str, folder: bool) -> None:
    """The folder that will receive the output exists as a folder (or can be made) and is
    writable: an existing output folder itself, else the nearest existing parent."""
    anchor = _nearest_existing(path if folder and path.is_dir() else path.parent)
    if not anchor.is_dir():
        raise ConfigError(f"{flag} {path}: {anchor} is a file, not a folder",
                          f"choose a {flag} path whose parent folders are folders")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: cannot write in {anchor} (permission denied)",
                          f"choose a {flag} in a folder you can write to")


def check_out_folder(path: str | Path, flag: str = "--out") -> Path:
    """An output folder: not an existing file, and creatable or writable."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is an existing file; an output folder is expected",
                          f"choose another {flag}, or remove the file")
    _check_writable(path, flag, folder=True)
    return path


def check_out_file(path: str | Path, flag: str = "--out", suffixes: tuple[str, ...] = ()) -> Path:
    """An output file: not an existing folder, with one of `suffixes` (so that a typo cannot
    overwrite an input file), and its folder creatable or writable."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; an output file is expected",
                          f"give a file name, e.g. {path / ('out' + (suffixes or ('.txt',))[0])}")
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{flag} {path}: the output is written as {' or '.join(suffixes)}",
                          f"name the file with that ending, e.g. {path.with_suffix(suffixes[0])}")
    _check_writable(path, flag, folder=False)
    return path


def check_input(path: str | Path, what: str, flag: str = "", folder: bool = False) -> Path:
    """An input file (or folder) that exists and can be read."""
    path = Path(path).expanduser()
    named = f"{flag} {path}" if flag else str(path)
    if not path.exists():
        raise ConfigError(f"{named}: {what} not found", "check the path")
    if folder and not path.is_dir():
        raise ConfigError(f"{named}: expected a {what} folder, found a file", "check the path")
    if not folder and not path.is_file():
        raise ConfigError(f"{named}: expected a {what} file, found a folder", "check the path")
    if not os.access(path, os.R_OK | (os.X_OK if folder else 0)):
        raise ConfigError(f"{named}: cannot read the {what} (permission denied)",
                          "fix its permissions")
    return path

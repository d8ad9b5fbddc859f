"""The options of every command, each declared once, validated in one place before any data or
model is loaded.

A command's options are fields of pydantic dataclasses decorated with `options` (one class per
concern, as HF's HfArgumentParser takes several: e.g. `finetune` = `FinetuneConfig` +
`FinetuneOutput` + `Progress`). A field says everything about its option:

    epochs: Count = Field(10, description="Passes over the training set.")

is the flag `--epochs N` (help and default shown by `--help`), the YAML key `epochs:` of a
`--config` file or a sweep, and the keyword `epochs=` in Python. `Flag(...)` in the field's
`Annotated` metadata adds what a flag needs beyond that (a positional argument, a repeatable
flag, a metavar, an internal field with no flag, deprecated old names). `alignscope.cli`
derives every command's parameters from these fields (`option_fields`); nothing is repeated.

`build` turns pydantic's errors into one `ConfigError` naming the key, its flag and the valid
range; `from_sources` merges flags typed on the command line over a `--config` file over the
defaults. Paths are checked here too (`check_out_folder`, `check_input`), so that a command
refuses an unwritable or wrong output before it does any work.

This module and the option classes import no heavy library (torch, transformers): `--help`
and validation of a sweep file stay fast; validators import what they need when they run.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from alignscope.errors import AlignscopeError, ConfigError, deprecated, did_you_mean
from alignscope.io import read_utf8

T = TypeVar("T")

# Unknown keys are errors; NaN and infinity are never a valid option.
OPTIONS = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True,
                     defer_build=True)  # validators are built on first use: fast --help

@dataclasses.dataclass(frozen=True)
class Flag:
    """How an option field appears on the command line where the field alone does not say."""

    name: str = ""  # the flag, where it cannot be --field-name (`overrides` -> --set)
    argument: bool = False  # a positional argument (`table RUNS...`), not a --flag
    metavar: str = ""  # how --help shows the value; default from the type (N, X, a|b, TEXT)
    multiple: bool = False  # a repeatable flag (--set A=1 --set B=2), a list field
    internal: bool = False  # YAML and Python only: no flag (--help and docs/cli.md say so)
    old_names: tuple[str, ...] = ()  # deprecated names (flag, YAML key, keyword): they warn


@dataclasses.dataclass(frozen=True)
class OptionField:
    """One option of a command, as its class declares it."""

    name: str  # the field: YAML key and Python keyword
    kind: Any  # its type without `None` and `Annotated`: int, float, bool, str, Path, Literal...
    optional: bool  # None is a valid value
    required: bool
    default: Any  # the default value (a factory's product); None when required
    description: str
    flag: Flag

    @property
    def spelling(self) -> str:
        """`--max-length`, `--set` or (a positional argument) `RUNS`."""
        if self.flag.argument:
            return self.flag.name or self.name.upper()
        return self.flag.name or "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[Any, ...]:
        return typing.get_args(self.kind) if typing.get_origin(self.kind) is Literal else ()


def option_fields(cls: type) -> tuple[OptionField, ...]:
    """The options of an option class: its own fields first, then the inherited ones."""
    own = list(vars(cls).get("__annotations__", {}))
    fields = [_option_field(name, info) for name, info in cls.__pydantic_fields__.items()]  # type: ignore[attr-defined]
    return tuple(sorted(fields, key=lambda field: (field.name not in own,
                                                   own.index(field.name) if field.name in own
                                                   else 0)))


def _option_field(name: str, info: Any) -> OptionField:
    kind, optional, nested = _unwrap(info.annotation)
    # A shared type's Flag (Languages: metavar LANGS) under the field's own (old names).
    flags = [item for item in (*nested, *info.metadata) if isinstance(item, Flag)]
    flag = Flag(**{key: value for item in flags for key, value in dataclasses.asdict(item).items()
                   if value != getattr(Flag(), key)})
    required = info.is_required()
    if required:
        default = None
    elif info.default_factory is not None:
        default = info.default_factory()
    else:
        default = info.default
    return OptionField(name, kind, optional, required, default, info.description or "", flag)


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """The type under `Annotated[...]` and `X | None`, whether None is allowed, and the
    metadata of the `Annotated` layers (a shared type such as `Device` carries its `Flag`)."""
    optional, metadata = False, []
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            optional = optional or len(members) < len(typing.get_args(annotation))
            if len(members) > 1:
                return annotation, optional, metadata  # e.g. a number or a mapping: as text
            annotation = members[0]
        else:
            return annotation, optional, metadata


def option_names(cls: type) -> set[str]:
    """The keys an option class accepts: its fields and their deprecated names."""
    return {name for field in option_fields(cls) for name in (field.name, *field.flag.old_names)}


def flags_of(cls: type) -> dict[str, str]:
    """Field name -> how the command line spells it (`--max-length`, `RUNS`)."""
    return {field.name: field.spelling for field in option_fields(cls)}


class OptionsError(ConfigError):
    """An option class refused its values; `validation` holds pydantic's details."""

    def __init__(self, validation: ValidationError, cls: type) -> None:
        self.validation, self.cls = validation, cls
        described = describe(validation, cls)
        super().__init__(described.message, described.hint)


def options(cls: type[T] | None = None, /, **kwargs: Any) -> Any:
    """Decorator for an option class: a keyword-only pydantic dataclass that forbids unknown
    keys, accepts (with a warning) the deprecated names of its fields, and raises
    `OptionsError` (an AlignscopeError) for bad values, also when built directly."""
    kwargs.setdefault("config", OPTIONS)
    kwargs.setdefault("kw_only", True)

    def decorate(target: type[T]) -> type[T]:
        made = pydantic_dataclass(**kwargs)(target)
        validate = made.__init__
        renamed = {old: field for field in option_fields(made) for old in field.flag.old_names}

        @functools.wraps(validate)
        def __init__(self: Any, *args: Any, **values: Any) -> None:
            for old in renamed.keys() & values.keys():
                values = _rename(values, old, renamed[old])
            try:
                validate(self, *args, **values)
            except ValidationError as error:
                raise OptionsError(error, type(self)) from None
            finally:  # pydantic replaces __init__ when it builds a deferred class: keep ours
                made.__init__ = __init__  # type: ignore[method-assign]

        made.__init__ = __init__  # type: ignore[method-assign]
        return made

    return decorate if cls is None else decorate(cls)


def _rename(values: dict[str, Any], old: str, field: OptionField) -> dict[str, Any]:
    old_flag = "--" + old.replace("_", "-")
    if field.name in values:
        raise ConfigError(f"`{old}` ({old_flag}) is the old name of `{field.name}` "
                          f"({field.spelling}): give one of them", f"remove `{old}`")
    deprecated(f"`{old}` ({old_flag})", f"`{field.name}` ({field.spelling})")
    values = dict(values)
    values[field.name] = values.pop(old)
    return values


class _HintedValueError(ValueError):
    """A check's error inside a validator, keeping what to do about it."""

    def __init__(self, message: str, hint: str | None) -> None:
        super().__init__(message)
        self.hint = hint


def user_error(check: Callable[..., Any], *args: Any) -> Any:
    """Run a check that raises AlignscopeError inside a pydantic validator, whose errors must
    be ValueErrors to be reported with the key that failed (its advice is kept)."""
    try:
        return check(*args)
    except AlignscopeError as error:
        own = error.hint if error.hint != type(error).default_hint else None
        raise _HintedValueError(error.message, own) from None


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
Device = Annotated[str, AfterValidator(_device), Flag(metavar="DEVICE")]
Folder = Annotated[Path, Flag(metavar="DIR")]  # an output or input folder
DataDir = Annotated[str, Flag(metavar="DIR")]  # a data folder (data/registry.py)
Model = Annotated[Text, Flag(metavar="MODEL")]  # a hub id or a model folder
Datasets = Annotated[NameList, Flag(metavar="DATASETS")]  # ud:fr_pud,ner:wikiann:de
Languages = Annotated[Names, Flag(metavar="LANGS")]  # fr,de
Layers = Annotated[str, Flag(metavar="LAYERS")]  # a layer spec (docs/layers.md)
# The precision policy of forward passes (alignscope.encoding.precision).
Precision = Literal["fp32", "bf16", "fp16", "auto"]

DEFAULT_SEED = 1  # the seed of every command that draws anything (docs/cli.md)


# ---------------------------------------------------------------- options many commands share

@options(frozen=True)
class Overwrite:
    """Whether a command may replace what its --out folder holds."""

    overwrite: bool = Field(False, description="Replace the results already in --out.")


@options(frozen=True)
class ModelFiles:
    """How a model is fetched and which of its files may run code."""

    revision: Annotated[str, Flag(metavar="REV")] | None = Field(
        None, description="Hub revision (branch, tag or commit) of the model.")
    trust_remote_code: bool = Field(False, description="Run the model repository's own code "
                                    "(some hub models need it).")
    allow_pickle: bool = Field(False, description="Load pickled .bin weights (they can run "
                               "code: only files you trust).")
    gguf_file: Annotated[str, Flag(metavar="NAME")] | None = Field(
        None, description="A GGUF file in the model's hub repository or folder, read through "
                          "transformers and dequantised (needs alignscope[gguf]); a .gguf path "
                          "can also be given as the model itself.")


@options(frozen=True)
class Progress:
    """How a command shows its progress."""

    progress: bool = Field(True, description="Show progress bars (a sweep or the demo logs "
                           "one line per run when its output is a file or a pipe).")


DATA_DIR_HELP = "Data folder (default: $ALIGNSCOPE_DATA, else the cache's data folder)."


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
          from_file: frozenset[str] = frozenset()) -> T:
    """`cls(**values)`, with any validation error as one ConfigError naming the key and its
    flag; `source` names the YAML file that gave the keys in `from_file` (the others were typed
    on the command line or passed in Python)."""
    try:
        return cls(**values)
    except OptionsError as error:
        raise describe(error.validation, error.cls, source, from_file) from None
    except ValidationError as error:
        raise describe(error, cls, source, from_file) from None


def from_sources(classes: Sequence[type], typed: Mapping[str, Any],
                 yaml_path: str | Path | None = None) -> tuple[Any, ...]:
    """A command's option objects: the options typed on the command line, over those of the
    --config file, over the classes' defaults. Each key goes to the class that declares it;
    a deprecated name warns and counts as the field's."""
    fields = {field.name: field for cls in classes for field in option_fields(cls)}
    owner = {field.name: cls for cls in reversed(classes) for field in option_fields(cls)}
    old = {name: field for field in fields.values() for name in field.flag.old_names}
    file_values = load_yaml(yaml_path) if yaml_path is not None else {}
    for key in file_values:
        if key not in fields and key not in old:
            raise _unknown(key, list(fields), yaml_path)
    sources = []
    for given in (file_values, typed):
        for key in old.keys() & given.keys():
            given = _rename(given, key, old[key])
        sources.append(given)
    file_values, typed = sources
    merged = {**file_values, **typed}
    from_file = frozenset(file_values) - set(typed)
    return tuple(build(cls, {key: value for key, value in merged.items() if owner[key] is cls},
                       source=yaml_path, from_file=from_file)
                 for cls in classes)


def describe(error: ValidationError, cls: type, source: str | Path | None = None,
             from_file: frozenset[str] | None = None) -> ConfigError:
    """The first problem of a pydantic error, naming the key, its flag and what is valid;
    `source` (a YAML file) is named if it gave the key (all keys, if `from_file` is None)."""
    flags = flags_of(cls) if hasattr(cls, "__pydantic_fields__") else {}
    # An unknown key explains the rest (a misspelt required option is also "missing").
    first = min(error.errors(), key=lambda e: e["type"] not in ("unexpected_keyword_argument",
                                                                "extra_forbidden"))
    loc = [str(part) for part in first["loc"]]
    key = loc[0] if loc else ""
    where = _where(source if from_file is None or key in from_file or (not key and from_file)
                   else None)
    if first["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        return _unknown(key, list(flags), source)
    hint = getattr((first.get("ctx") or {}).get("error"), "hint", None)  # from user_error
    if not key:  # a combination of options: the message names them
        return ConfigError(f"{where}{first['msg'].removeprefix('Value error, ')}", hint or "")
    flag = flags.get(key) or "--" + key.replace("_", "-")
    name = f"option {flag} ({key})" + "".join(f"[{part}]" for part in loc[1:])
    if first["type"] in ("missing", "missing_keyword_argument"):
        return ConfigError(f"{where}{flag} is required", f"give {flag} (or `{key}:` in --config)")
    message = first["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    got = first.get("input")
    shown = "" if isinstance(got, Mapping) or repr(got) in message else f", got {got!r}"
    return ConfigError(f"{where}{name}: {message}{shown}",
                       hint or f"change {flag} (`{key}` in a --config file)")


def _unknown(key: str, known: list[str], source: str | Path | None) -> ConfigError:
    return ConfigError(f"{_where(source)}unknown option {key!r}{did_you_mean(key, known)}",
                       f"known options: {', '.join(known)}")


def dump(config: Any) -> dict[str, Any]:
    """The resolved options as plain JSON values (tuples as lists, paths as strings)."""
    data = dataclasses.asdict(config)
    return TypeAdapter(dict[str, Any]).dump_python(data, mode="json")


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema of a command's options (for sweep files and documentation)."""
    return TypeAdapter(cls).json_schema()


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

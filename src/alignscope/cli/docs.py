"""docs/cli.md, the command reference, generated from the commands and their option classes:

    python -m alignscope.cli.docs > docs/cli.md

(tests/cli/test_docs.py fails when the committed file is stale).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import typer

from alignscope.cli import app
from alignscope.cli._app import CONFIG_HELP, Command, default_text, metavar
from alignscope.config import DEFAULT_SEED, OptionField
from alignscope.errors import REMOVED_IN

INTRODUCTION = f"""\
# Command reference

Generated from the code by `python -m alignscope.cli.docs > docs/cli.md`: every option below is
a field of an option class, and its flag, YAML key, default and description are that field's.
Each option can be given three ways: as a flag, as a key of a YAML file passed with
`--config FILE` (flags typed on the command line win over the file, the file over the
defaults), or as a keyword of the option class in Python (`FinetuneConfig(epochs=3)`,
`alignscope.finetune(model=..., epochs=3)`). A few fields have no flag; they are listed under
each command as *--config or Python only*.

## One vocabulary

- `--out DIR` is always a folder: the command writes its files into it (`evaluate` writes
  `OUT/evaluation.json`, the run folder by default; `table` writes `OUT/table.md`, `.csv` or
  `.tex`; `correlate` defaults to a folder beside the similarity run). A folder that already
  holds results is replaced only with `--overwrite`.
- `--progress / --no-progress` (help: `--[no-]progress`): progress bars, or (a sweep, the demo)
  one timestamped log line per run when the output is a file or a pipe; `--no-progress` is
  silent.
- `--seed N` defaults to {DEFAULT_SEED} in every command that draws anything.
- `--config FILE` on every command.
- Lists are comma-separated (`--targets fr,de`, `--measures linear,rbf`); `none` is the empty
  list; `--set KEY=VALUE` repeats.
- `--layers` and every other layer option take layer names (`embeddings`, `block.K`,
  `block.A-B`, docs/layers.md); `lab pretrain` counts its blocks with `--num-blocks`.
- A sweep folder is the positional `SWEEP` of `sweep status` and `report`.
- Switches take `--x` or `--no-x` (shown `--[no-]x`), so that a flag can undo a `--config` file.

## Deprecations

Each renamed option, key or input form keeps working for one release with a warning that names
the release removing it ({REMOVED_IN}) and what to use instead. Deprecated names are accepted as
flags, YAML keys and Python keywords alike.

| Deprecated | Use instead | Where |
| --- | --- | --- |
{{renamed}}
{{others}}

Removed in 0.2 (they now fail as unknown options): `--bf16 / --no-bf16` and the `bf16` key
(use `--precision auto` / `fp32`), `--quiet` (use `--no-progress`). Changed in 0.2:
`evaluate --out` and `table --out` name a folder, not a file; an error's advice is no longer
guessed from its message (an `AlignscopeError` takes the hint as its second argument).

## Commands
"""


# Compatibility paths that are not option names: (deprecated, use instead, where).
OTHER_DEPRECATIONS = (
    ("bare layer numbers (`0-1`, `10,11`)", "layer names (`block.0-1`, `block.10,block.11`)",
     "every layer option, sweep `random_init.groups`"),
    ("version-1 result files (alignscope before the layer vocabulary)",
     "results written by alignscope 0.2", "every command that reads runs"),
    ("checkpoints written before results schema 2", "runs fine-tuned by alignscope 0.2",
     "`evaluate`"),
)


def commands(group: typer.Typer = app) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command (path of names, command) in the order `--help` lists them."""
    root = typer.main.get_command(group)
    context = typer.Context(root, info_name="alignscope")

    def walk(node: object, path: tuple[str, ...], ctx: typer.Context,
             ) -> Iterator[tuple[tuple[str, ...], Command]]:
        if isinstance(node, Command):
            yield path, node
            return
        for name in node.list_commands(ctx):  # type: ignore[attr-defined]
            child = node.get_command(ctx, name)  # type: ignore[attr-defined]
            yield from walk(child, (*path, name), typer.Context(child, parent=ctx, info_name=name))

    yield from walk(root, (), context)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _flag(param: object, field: OptionField) -> str:
    if field.flag.argument:
        return f"`{field.spelling}{'...' if getattr(param, 'nargs', 1) == -1 else ''}`"
    if field.kind is bool:
        return f"`--[no-]{field.spelling.removeprefix('--')}`"
    return f"`{_cell(field.spelling + ' ' + metavar(field))}`"


def command_section(path: tuple[str, ...], command: Command) -> str:
    name = " ".join(("alignscope", *path))
    context = typer.Context(command, info_name=name)
    usage = " ".join([name, *command.collect_usage_pieces(context)])
    classes = ", ".join(f"`{cls.__module__}.{cls.__qualname__}`" for cls in command.classes)
    lines = [f"### `{name}`", "", " ".join(inspect.cleandoc(command.help or "").split()), "",
             f"Usage: `{usage}`  ", f"Python: {classes}", "",
             "| Option | YAML key | Default | Description |", "| --- | --- | --- | --- |"]
    params = {param.name: param for param in command.params}
    for field in command.fields.values():
        flag = "*--config or Python only*" if field.flag.internal else \
            _flag(params.get(field.name), field)
        default = "required" if field.required else f"`{_cell(default_text(field))}`" \
            if default_text(field) else ""
        lines.append(f"| {flag} | `{field.name}` | {default} | {_cell(field.description)} |")
    lines.append(f"| `--config FILE` | | | {_cell(CONFIG_HELP)} |")
    return "\n".join(lines) + "\n"


def reference() -> str:
    renamed = {}
    for path, command in commands():
        for field in command.fields.values():
            for old in field.flag.old_names:
                key = (old, field.name)
                renamed.setdefault(key, (field, []))[1].append(" ".join(path))
    rows = [f"| `--{old.replace('_', '-')}`, `{old}:` | `{field.spelling}`, `{field.name}:` | "
            f"{', '.join(f'`{where}`' for where in places)} |"
            for (old, _), (field, places) in sorted(renamed.items())]
    sections = [command_section(path, command) for path, command in commands()]
    others = "\n".join(f"| {old} | {new} | {where} |" for old, new, where in OTHER_DEPRECATIONS)
    text = INTRODUCTION.replace("{renamed}", "\n".join(rows)).replace("{others}", others)
    return text + "\n" + "\n".join(sections)


if __name__ == "__main__":
    print(reference(), end="")

"""Every command's options are the fields of its option classes: a flag and its field cannot
disagree (name, default, help), every field is reachable, and `--help` reads well."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.cli._app import WORKFLOW, Command, default_text, metavar
from alignscope.cli.docs import commands, reference
from alignscope.config import option_fields
from alignscope.errors import REMOVED_IN, Deprecated

COMMANDS = list(commands())
IDS = [" ".join(path) for path, _ in COMMANDS]
runner = CliRunner()


def help_text(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


def flat(text: str) -> str:
    """Help text with its line wrapping undone."""
    return " ".join(text.split())


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_each_flag_is_its_field(path: tuple[str, ...], command: Command) -> None:
    params = {param.name: param for param in command.params}
    for field in command.fields.values():
        if field.flag.internal:
            assert field.name not in params, field.name
            continue
        param = params.pop(field.name)
        spelled = param.metavar if field.flag.argument else param.opts[0]
        assert spelled == field.spelling, field.name
        assert param.help == field.description and field.description.endswith("."), field.name
        assert (param.show_default or "") == default_text(field), field.name
        if field.kind is bool:
            assert param.secondary_opts == [f"--no-{field.spelling.removeprefix('--')}"]
        elif not field.flag.argument:
            assert param.metavar == metavar(field), field.name
        for old in field.flag.old_names:
            hidden = params.pop(old)
            assert hidden.hidden and hidden.opts[0] == "--" + old.replace("_", "-")
    assert set(params) == {"config"}, f"flags without a field: {set(params) - {'config'}}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_shows_every_field_with_its_default(path: tuple[str, ...], command: Command) -> None:
    text = flat(help_text(path))
    assert "--config FILE" in text
    for field in command.fields.values():
        label = field.name if field.flag.internal else field.spelling
        if field.kind is bool:
            label = "--[no-]" + label.removeprefix("--")
        assert re.search(re.escape(label) + r"(\.\.\.)? ", text), field.name
        assert flat(field.description) in text, field.name
        if default_text(field) and not field.flag.internal:
            assert f"{flat(field.description)} [default: {default_text(field)}]" in text
        if field.required:
            assert f"{flat(field.description)} [required]" in text


def test_finetune_help_shows_the_defaults_and_no_type_labels() -> None:
    text = flat(help_text(("finetune",)))
    for flag, default in (("--epochs N", "10"), ("--seed N", "1"), ("--batch-size N", "32"),
                          ("--warmup-ratio X", "0.1")):
        assert re.search(re.escape(flag) + r" [^[]*\[default: " + re.escape(default) + r"\]",
                         text), flag
    assert "alignscope[big]" in text  # brackets print as written, never as markup
    for command in IDS:
        raw = help_text(tuple(command.split()))
        assert not re.search(r"<(bool|int|str|float|path|list)", raw, re.IGNORECASE), command
        assert "{config}" not in raw and "[default: (" not in raw


def test_help_lines_break_between_words_only() -> None:
    for command in IDS:
        for line in help_text(tuple(command.split())).splitlines():
            assert not re.search(r"\w-$", line.rstrip()), (command, line)  # not `torch-`
            assert "…" not in line


def test_commands_are_listed_in_workflow_order() -> None:
    listed = [line.split()[0] for line in help_text(()).split("Commands:")[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert listed == list(WORKFLOW)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_reads_a_config_file(path: tuple[str, ...], command: Command,
                                           tmp_path: Path) -> None:
    config = tmp_path / "options.yaml"
    config.write_text("no_such_option: 1\n", encoding="utf-8")
    arguments = [f"x{i}" for i, f in enumerate(command.fields.values()) if f.flag.argument]
    if path == ("data", "download"):
        arguments = ["ud", "en_ewt"]
    result = runner.invoke(app, [*path, *arguments, "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}: unknown option 'no_such_option'" in flat(result.output)


def test_the_committed_reference_is_generated_from_the_code() -> None:
    committed = Path(__file__).parents[2] / "docs" / "cli.md"
    assert committed.read_text(encoding="utf-8") == reference(), \
        "docs/cli.md is stale: python -m alignscope.cli.docs > docs/cli.md"


# A value for each required field, so that an option class can be built with nothing else.
REQUIRED = {"model": "m", "train": "t", "targets": "fr", "pretrained": "m", "finetuned": "f",
            "languages": "en,fr", "checkpoint": "run", "eval": "ud:fr_pud", "similarity": "s",
            "transfer": "t", "corpus": "c", "out": "o", "runs": ["r"], "sweep": "s",
            "experiment": "e.yaml", "kind": "ud", "names": ["en_ewt"],
            "transforms": {"xx": "vocab-shift", "yy": "invert"}}
OLD_NAMES = sorted({(cls, field.name, old) for _, command in COMMANDS for cls in command.classes
                    for field in option_fields(cls) for old in field.flag.old_names},
                   key=lambda item: (item[0].__name__, item[2]))


@pytest.mark.parametrize(("cls", "name", "old"), OLD_NAMES,
                         ids=[f"{cls.__name__}.{old}" for cls, _, old in OLD_NAMES])
def test_each_old_name_still_works_and_warns(cls: type, name: str, old: str) -> None:
    fields = {field.name: field for field in option_fields(cls)}
    value = fields[name].default if fields[name].default is not None else REQUIRED[name]
    required = {key: REQUIRED[key] for key, field in fields.items()
                if field.required and key != name}
    with pytest.warns(Deprecated, match=rf"`{old}` \(--{old.replace('_', '-')}\) is deprecated "
                                        rf"and will be removed in alignscope {REMOVED_IN}; use "
                                        rf"`{name}`"):
        built = cls(**required, **{old: value})
    assert getattr(built, name) == getattr(cls(**required, **{name: value}), name)

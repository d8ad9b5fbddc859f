"""alignscope.config: one validation path for the CLI, YAML files and the Python API."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import alignscope
from alignscope.analysis.settings import SimilarityConfig
from alignscope.config import (
    Progress,
    build,
    check_out_folder,
    dump,
    from_sources,
    json_schema,
    load_yaml,
)
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError
from alignscope.io import read_utf8, utf8_lines
from alignscope.training.config import FinetuneConfig


def test_python_api_validates_like_the_cli() -> None:
    with pytest.raises(ConfigError, match=r"--lr \(lr\): must be greater than 0, got -1"):
        alignscope.FinetuneConfig(model="m", train="t", lr=-1)
    with pytest.raises(ConfigError, match="--head-lr"):
        alignscope.finetune(model="m", train="t", head_lr=-1e-3, out="never-written")
    assert not Path("never-written").exists()
    with pytest.raises(ConfigError, match="--init-scheme"):
        FinetuneConfig(model="m", train="t", init_scheme="normal:0.02")
    with pytest.raises(ConfigError, match="unknown option 'seeds'; did you mean seed"):
        build(FinetuneConfig, {"model": "m", "train": "t", "seeds": 1})


def test_a_string_is_a_comma_separated_list_never_characters() -> None:
    config = FinetuneConfig(model="m", train="t", eval="ud:fr_pud, ud:de_pud")
    assert config.eval == ["ud:fr_pud", "ud:de_pud"]
    assert SimilarityConfig(model="m", targets="fr").targets == ("fr",)


def test_replace_revalidates_and_resolved_config_dumps_as_json() -> None:
    config = FinetuneConfig(model="m", train="t", eval=["ud:fr_pud"])
    with pytest.raises(ConfigError, match="--dropout"):
        dataclasses.replace(config, dropout=1.0)
    dumped = dump(SimilarityConfig(model="m", targets=("fr", "de")))
    assert dumped["targets"] == ["fr", "de"] and json.loads(json.dumps(dumped)) == dumped
    assert dataclasses.asdict(config)["eval"] == ["ud:fr_pud"]
    schema = json_schema(FinetuneConfig)
    assert schema["properties"]["dropout"]["exclusiveMaximum"] == 1
    assert set(schema["required"]) == {"model", "train"}


def test_yaml_under_typed_flags_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("seed: 5\nlr: 1.0e-3\neval: ud:fr_pud\n", encoding="utf-8")
    config, output = from_sources([FinetuneConfig, Progress],
                                  {"model": "m", "train": "t", "seed": 9, "progress": False}, path)
    assert (config.seed, config.lr, config.eval, config.epochs) == (9, 1e-3, ["ud:fr_pud"], 10)
    assert output.progress is False
    path.write_text("seed: -3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run.yaml: option --seed \(seed\)"):
        from_sources([FinetuneConfig], {"model": "m", "train": "t"}, path)
    with pytest.raises(ConfigError, match=r"^option --seed \(seed\)"):  # typed: not the file's
        from_sources([FinetuneConfig], {"model": "m", "train": "t", "seed": -1}, path)
    path.write_text("progres: false\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml: unknown option 'progres'; did you mean "
                                          "progress"):
        from_sources([FinetuneConfig, Progress], {"model": "m", "train": "t"}, path)


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\nlr: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d: not valid YAML"):
        load_yaml(path)
    path.write_text("", encoding="utf-8")
    assert load_yaml(path) == {}


def test_utf8_with_or_without_bom_other_encodings_named(tmp_path: Path) -> None:
    good = tmp_path / "bom.txt"
    good.write_bytes(b"\xef\xbb\xbfone\r\ntwo\n")
    assert list(utf8_lines(good)) == [(1, "one"), (2, "two")]
    assert read_utf8(good) == "one\ntwo\n"
    latin = tmp_path / "latin.txt"
    latin.write_bytes("ok\nd\u00e9j\u00e0\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin.txt:2: not UTF-8: byte 0xe9 at column 2"):
        list(utf8_lines(latin))
    wide = tmp_path / "wide.txt"
    wide.write_text("hello\n", encoding="utf-16")
    with pytest.raises(DataFormatError, match="UTF-16") as error:
        list(utf8_lines(wide))
    assert "iconv -f utf-16 -t utf-8" in error.value.hint


def test_out_paths(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ConfigError, match="existing file"):
        check_out_folder(file)
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_out_folder(file / "below")
    assert check_out_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()


def test_the_hint_is_given_never_guessed_from_the_message() -> None:
    error = AlignscopeError("x has no task.json", "pass the --out folder of `finetune`")
    assert (error.message, error.hint) == ("x has no task.json",
                                           "pass the --out folder of `finetune`")
    plain = AlignscopeError("x has no task.json; pass the --out folder of `finetune`")
    assert plain.message == "x has no task.json; pass the --out folder of `finetune`"
    assert plain.hint == AlignscopeError.default_hint

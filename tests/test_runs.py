"""Run folders and result files: load_run for every kind, version-1 files, the schema file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from alignscope.errors import DataFormatError, Deprecated
from alignscope.runs import RESULT_FILES, load_run, make_result, run_origin, timestamp, validate, write_result
from alignscope.runs.schema import json_schema, json_schema_text

V1 = Path(__file__).parent / "fixtures" / "v1"
# Reading version 1 warns (test_reading_version_1_warns); the other tests read it quietly.
pytestmark = pytest.mark.filterwarnings("ignore::alignscope.errors.Deprecated")
SCHEMA_FILE = Path(__file__).parents[1] / "docs" / "results.schema.json"
KIND_OF = {"finetune-ref.json": "finetune", "finetune-ri.json": "finetune",
           "evaluation.json": "evaluate", "similarity.json": "similarity",
           "stability.json": "stability", "correlation.json": "correlation"}


def test_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), \
        "regenerate docs/results.schema.json (see docs/results.md)"


def test_reading_version_1_warns() -> None:
    with pytest.warns(Deprecated, match=r"reading the version-1 result file .*similarity\.json is "
                                        r"deprecated and will be removed in alignscope 0\.3"):
        load_run(V1 / "similarity.json")


@pytest.mark.parametrize("name", sorted(KIND_OF))
def test_version_1_files_load_as_version_2(name: str) -> None:
    run = load_run(V1 / name)
    assert (run.kind, run.schema_version, run.data["schema_version"]) == (KIND_OF[name], 1, 2)
    jsonschema.validate(run.data, json_schema())
    if "layers" in run.data:
        assert run.data["layers"] == ["embeddings", "block.0", "block.1"]


def test_version_1_layer_numbers_become_names() -> None:
    ri = load_run(V1 / "finetune-ri.json")
    assert (ri.random_init, ri.label, ri.source_language) == (["block.0"], "RI block.0", "en")
    assert load_run(V1 / "finetune-ref.json").label == "REF"
    correlation = load_run(V1 / "correlation.json")
    v1 = json.loads((V1 / "correlation.json").read_text(encoding="utf-8"))
    assert [e["layer"] for e in v1["per_layer"]] == [0, 1, 2]
    assert [e["layer"] for e in correlation.data["per_layer"]] == ["embeddings", "block.0",
                                                                  "block.1"]


def test_a_v1_evaluation_takes_random_init_from_its_run(tmp_path: Path) -> None:
    shutil.copy(V1 / "finetune-ri.json", tmp_path / "results.json")
    shutil.copy(V1 / "evaluation.json", tmp_path / "evaluation.json")
    evaluation = load_run(tmp_path / "evaluation.json")
    assert (evaluation.label, evaluation.source_language) == ("RI block.0", "en")
    # A folder holding both: the first expected kind present.
    assert load_run(tmp_path, ("evaluate", "finetune")).kind == "evaluate"
    assert load_run(tmp_path).kind == "finetune"


def test_errors_name_the_file_and_the_expected_kind(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"similarity.json: is a similarity result; "
                                              r"expected a finetune result \(results.json"):
        load_run(V1 / "similarity.json", "finetune")
    with pytest.raises(DataFormatError, match=r"no stability result \(stability.json, from "
                                              r"`alignscope stability`\) in this folder"):
        load_run(tmp_path, "stability")
    with pytest.raises(DataFormatError, match="no such file or folder"):
        load_run(tmp_path / "absent")
    broken = tmp_path / "results.json"
    broken.write_text('{"kind": "finetune",\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"results.json:2: not valid JSON"):
        load_run(broken)
    broken.write_text('{"schema_version": 3, "kind": "finetune"}', encoding="utf-8")
    with pytest.raises(DataFormatError, match="schema_version 3 is not one this alignscope reads"):
        load_run(broken)
    broken.write_text('{"schema_version": 1, "task": "pos"}', encoding="utf-8")
    with pytest.raises(DataFormatError, match="not an alignscope result file"):
        load_run(broken)


def test_version_2_files_are_validated(tmp_path: Path) -> None:
    data = load_run(V1 / "similarity.json").data
    validate(data)
    bad = {**data, "layers": ["embeddings", "layer 1", "block.1"]}
    path = tmp_path / "similarity.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"similarity.json: does not follow results schema 2 "
                                              r"at similarity.layers.1"):
        load_run(path)
    short = {**data, "layers": ["embeddings", "block.0"]}
    with pytest.raises(DataFormatError, match=r"has 3 values for 2 layers"):
        validate(short)


def test_run_origin_of_a_finetune_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoint" / "encoder").mkdir(parents=True)
    (run / "checkpoint" / "encoder" / "config.json").write_text("{}", encoding="utf-8")
    shutil.copy(V1 / "finetune-ri.json", run / "results.json")
    for model in (run, run / "checkpoint", run / "checkpoint" / "encoder"):
        assert run_origin(model) == ("en", ["block.0"])
    assert run_origin("bert-base-multilingual-cased") == (None, [])


def test_one_writer_builds_the_header_and_validates_before_writing(tmp_path: Path) -> None:
    body = {"task": "pos", "metric": "upos_accuracy", "checkpoint": "run/checkpoint",
            "evaluations": [{"dataset": "ud:fr_pud", "language": "fr", "sentences": 2,
                             "metrics": {"upos_accuracy": 0.5}}]}
    result = make_result("evaluate", body, source_language="en", random_init=("block.0",),
                         model={"name": "run", "source": None}, config={"batch_size": 8})
    assert list(result)[:8] == ["schema_version", "kind", "source_language", "random_init",
                                "model", "config", "versions", "created"]
    assert result["versions"]["alignscope"] and result["created"][:4] == timestamp()[:4]
    path = write_result(tmp_path, result)
    assert path == tmp_path / RESULT_FILES["evaluate"]
    assert load_run(tmp_path).data == result
    assert write_result(tmp_path, result, "other.json") == tmp_path / "other.json"
    broken = {**result, "random_init": ["layer 0"]}
    with pytest.raises(ValueError, match=r"breaks results schema 2: at evaluate.random_init.0"):
        write_result(tmp_path / "broken", broken)
    assert not (tmp_path / "broken").exists()  # nothing written
    with pytest.raises(ValueError, match=r"sets header fields: \['kind'\]"):
        make_result("evaluate", {**body, "kind": "finetune"}, source_language=None,
                    random_init=[], model={"name": "run"}, config={})


def test_a_pretraining_record_of_schema_1_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "pretrain.json").write_text(json.dumps(
        {"kind": "alignscope-lab-pretrain", "schema_version": 1, "config": {}}), encoding="utf-8")
    with pytest.raises(DataFormatError, match="before results schema 2") as caught:
        load_run(tmp_path, "pretrain")
    assert caught.value.hint == "pretrain the model again (`alignscope lab pretrain --overwrite`)"

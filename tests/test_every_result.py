"""Every result every command writes follows docs/results.schema.json: a whole study on lab-made
data (corpus, a pretrained model, fine-tuning, evaluation, similarity, stability, correlation and
a sweep of them all), run from the repository alone. A sweep's similarity run holds the same
files as the same command run by hand."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from alignscope.analysis.correlation import CorrelationConfig, run_correlation
from alignscope.analysis.lens.run import run_lens
from alignscope.analysis.llm_settings import LensConfig, NeuronsConfig
from alignscope.analysis.neurons.run import run_neurons
from alignscope.analysis.similarity import SimilarityConfig, run_similarity
from alignscope.analysis.stability import StabilityConfig, run_stability
from alignscope.experiments.sweep import run_sweep
from alignscope.lab.generate import GenerateConfig, generate
from alignscope.lab.lexicon import LexiconSizes
from alignscope.lab.pretrain import PretrainConfig, pretrain
from alignscope.runs import KINDS, RESULT_FILES, load_run, part_dir
from alignscope.training.config import MergeConfig
from alignscope.training.evaluate import evaluate
from alignscope.training.finetune import finetune
from alignscope.training.merge import merge_runs

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "results.schema.json")
                    .read_text(encoding="utf-8"))
TARGETS = ["xx", "yy", "zz"]  # a correlation needs three target languages
ANALYSIS = {"parallel": "ud:labpud", "max_sentences": 12, "cache": False, "device": "cpu"}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("study")
    data = str(root / "data")
    sizes = LexiconSizes(nouns=30, verbs=15, adjectives=8, adverbs=4, names=4, topics=2)
    generate(GenerateConfig(languages=["en", *TARGETS], anchor_share=0.2, sentences=120,
                            transforms=dict.fromkeys(TARGETS, "vocab-shift"), eval_sentences=12,
                            parallel_sentences=12, sizes=sizes), data)
    model = str(root / "model")
    pretrain(PretrainConfig(corpus=data, vocab_size=300, num_blocks=2, hidden=32, steps=2,
                            batch_size=8, threads=1, device="cpu"), model, show_progress=False)
    evals = [f"ud:{lang}_lab" for lang in TARGETS]
    finetune(model=model, train="ud:en_lab", eval=evals, data_dir=data, epochs=1,
             batch_size=8, max_train_sentences=16, max_dev_sentences=8, max_eval_sentences=8,
             device="cpu", threads=1, out=root / "finetune", show_progress=False)
    evaluate(root / "finetune", evals[:1], data_dir=data, max_sentences=8, device="cpu",
             show_progress=False)
    run_similarity(SimilarityConfig(model=model, source="en", targets=tuple(TARGETS),
                                    data_dir=data, **ANALYSIS), root / "similarity")
    run_stability(StabilityConfig(pretrained=model, finetuned=str(root / "finetune"),
                                  languages=("en", "xx"), data_dir=data, **ANALYSIS),
                  root / "stability")
    run_correlation(CorrelationConfig(similarity=str(root / "similarity"),
                                      transfer=str(root / "finetune")),
                    root / "correlation")
    run_sweep({"name": "every-result", "model": model, "data_dir": data, "seeds": [1],
               "tasks": {"pos": {"source": "ud:en_lab", "targets": evals}},
               "random_init": {"reference": True, "groups": ["block.0"]},
               "finetune": {"epochs": 1, "batch_size": 8, "max_train_sentences": 16,
                            "max_dev_sentences": 8, "max_eval_sentences": 8},
               "analyses": {"parallel": "ud:labpud",
                            "settings": {"max_sentences": 12, "cache": False},
                            "similarity": {"pretrained": True, "finetuned": True},
                            "stability": {"groups": ["REF"]}, "correlation": {"groups": ["REF"]}},
               "device": "cpu", "threads": 1}, root / "sweep", jobs=1, progress=False)
    # The whole masked LM `lab pretrain` writes beside the encoder: the lens reads its head.
    run_lens(LensConfig(model=f"{model}/mlm", languages=("en",), tasks=("repetition",),
                        lenses=("logit",), max_items=3, demos=1, device="cpu"), root / "lens")
    run_neurons(NeuronsConfig(model=f"{model}/mlm", languages=("en", "xx"), parallel="ud:labpud",
                              ppl_sentences=4, data_dir=data, device="cpu"), root / "neurons")
    merge_runs(MergeConfig(runs=[root / "finetune", root / "finetune"], layers=["", "block.0"]),
               root / "merge")
    return root


@pytest.mark.slow
def test_every_result_file_validates_against_the_committed_schema(study: Path) -> None:
    found: dict[str, int] = {}
    for path in sorted(study.rglob("*.json")):
        if path.name not in RESULT_FILES.values() or "checkpoint" in path.parts:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(data, SCHEMA)
        run = load_run(path)
        assert RESULT_FILES[run.kind] == path.name and run.data == data
        found[run.kind] = found.get(run.kind, 0) + 1
    assert set(found) == set(KINDS)
    # by hand one of each; the sweep: REF and block.0 fine-tuned, the similarity of the
    # pretrained model and of both fine-tuned ones, REF's stability and correlation
    assert found == {"pretrain": 1, "finetune": 3, "evaluate": 1, "similarity": 4,
                     "stability": 2, "correlation": 2, "lens": 1, "neurons": 1, "merge": 1}


@pytest.mark.slow
def test_a_sweep_run_writes_what_the_command_writes(study: Path, tmp_path: Path) -> None:
    swept = part_dir(study / "sweep" / "runs" / "similarity-pretrained", "similarity")
    config = json.loads((swept.parent / "run.json").read_text(encoding="utf-8"))["config"]
    run_similarity(SimilarityConfig(**config), tmp_path / "by-hand")
    names = sorted(p.name for p in (tmp_path / "by-hand").iterdir())
    assert names == sorted(p.name for p in swept.iterdir())
    assert {"similarity.json", "linear.csv", "similarity-linear.png",
            "similarity-linear.svg"} <= set(names)

"""NER task: label set, targets, decoding, strict span F1 (seqeval), predictions files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, Entities

from alignscope.data.ner import read_iob
from alignscope.data.registry import resolve
from alignscope.errors import AlignscopeError, DataFormatError
from alignscope.tasks.base import IGNORE_INDEX
from alignscope.tasks.metrics import span_scores
from alignscope.tasks.ner import NamedEntityRecognition, strict_iob2

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def sentences_from(tmp_path: Path, text: str) -> list:
    path = tmp_path / "data.iob"
    path.write_text(text, encoding="utf-8")
    return read_iob(path)


def test_hand_computed_scores_agree_with_seqeval() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"], ["B-LOC", "I-LOC"]]
    # PER exact; LOC typed ORG; orphan I-ORG is no entity in strict IOB2; LOC cut short.
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "O"], ["B-LOC", "O"]]
    scores = span_scores(gold, predicted)
    assert scores["gold_entities"] == 4
    assert scores["predicted_entities"] == 3
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == pytest.approx(1 / 4)
    assert scores["f1"] == pytest.approx(2 / 7)
    options = {"mode": "strict", "scheme": IOB2}
    assert scores["precision"] == pytest.approx(precision_score(gold, predicted, **options))
    assert scores["recall"] == pytest.approx(recall_score(gold, predicted, **options))
    assert scores["f1"] == pytest.approx(f1_score(gold, predicted, **options))


def test_no_entity_anywhere_scores_zero_without_warning() -> None:
    assert span_scores([["O", "O"]], [["O", "O"]])["f1"] == 0.0


@given(st.lists(st.sampled_from(TAGS), min_size=1, max_size=10))
def test_strict_repair_keeps_the_entities_seqeval_finds(tags: list[str]) -> None:
    def entities(sequence: list[str]) -> list[tuple]:
        return sorted(e.to_tuple() for e in Entities([sequence], IOB2).entities[0])

    repaired = strict_iob2(tags)
    assert entities(repaired) == entities(tags)
    assert span_scores([repaired], [tags])["f1"] in (0.0, 1.0)


def test_labels_targets_and_decoding(tmp_path: Path) -> None:
    task = NamedEntityRecognition()
    train = sentences_from(tmp_path, "Karl\tB-PER\nOve\tI-PER\nin\tO\nOslo\tB-LOC\n")
    labels = task.build_labels(train)
    assert labels == {"ner": ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]}
    targets = task.targets(train, labels, max_words=5)["ner"]
    assert targets.tolist() == [[3, 4, 0, 1, IGNORE_INDEX]]
    perfect = torch.nn.functional.one_hot(targets.clamp(min=0), 5).float() * 20
    mask = torch.tensor([[True, True, True, True, False]])
    assert task.loss(perfect, {"ner": targets}, mask).item() < 1e-6
    # Logits for B-PER, I-PER, O, then an orphan I-PER (read as O), then padding.
    logits = torch.nn.functional.one_hot(torch.tensor([[3, 4, 0, 4, 4]]), 5).float()
    predictions = task.decode(logits, mask, labels)
    assert predictions == [["B-PER", "I-PER", "O", "O"]]
    scores = task.score(train, predictions, labels)
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)


def test_tag_outside_the_label_set_names_the_line(tmp_path: Path) -> None:
    task = NamedEntityRecognition()
    labels = {"ner": ["O", "B-PER", "I-PER"]}
    evaluation = sentences_from(tmp_path, "Karl\tB-PER\n\nThe\tO\nEU\tB-ORG\n")
    with pytest.raises(DataFormatError) as error:
        task.targets(evaluation, labels, max_words=2)
    assert error.value.line == 4
    assert "'B-ORG'" in error.value.problem
    # Predictions reloaded from disk, scored by a fresh task object: the labels still count.
    with pytest.raises(DataFormatError, match=r"data\.iob:4"):
        NamedEntityRecognition().score(evaluation, [["O"], ["O", "O"]], labels)


def test_head_learns_a_tiny_set() -> None:
    torch.manual_seed(0)
    task = NamedEntityRecognition()
    labels = {"ner": ["O", "B-PER", "I-PER"]}
    head = task.build_head(8, labels, dropout=0.0)
    words = torch.randn(2, 3, 8)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    gold = {"ner": torch.tensor([[1, 2, 0], [0, 1, IGNORE_INDEX]])}
    optimiser = torch.optim.Adam(head.parameters(), lr=0.1)
    for _ in range(30):
        optimiser.zero_grad()
        task.loss(head(words, mask), gold, mask).backward()
        optimiser.step()
    assert task.decode(head(words, mask), mask, labels) == [["B-PER", "I-PER", "O"],
                                                            ["O", "B-PER"]]


def test_wikiann_reference_gold_scores_one_and_round_trips(tmp_path: Path,
                                                            data_slices: Path) -> None:
    task = NamedEntityRecognition()
    dataset = resolve("ner:wikiann:de", role="eval", data_dir=data_slices)
    sentences = task.read(dataset, limit=50)
    gold = [list(s.ner_tags) for s in sentences]
    scores = task.score(sentences, gold, task.build_labels(sentences))
    assert scores["f1"] == 1.0 and scores["words"] == sum(map(len, sentences))
    out = tmp_path / "pred.conllu"
    task.write_predictions(out, sentences, gold)
    original = dataset.path.read_text(encoding="utf-8").split("\n\n")[:50]
    assert out.read_text(encoding="utf-8").split("\n\n")[:50] == original


def test_read_rejects_conllu_files(tmp_path: Path) -> None:
    path = tmp_path / "en_ewt-ud-test.conllu"
    path.write_text("1\tA\ta\tDET\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    with pytest.raises(AlignscopeError, match="NER needs an IOB2 file"):
        NamedEntityRecognition().read(resolve(str(path)))


def test_finetune_then_evaluate_end_to_end(tmp_path: Path, data_slices: Path, tiny_bert: Path,
                                          first_sentences: Callable[[Path, str, int], Path],
                                          ) -> None:
    from alignscope.training.config import FinetuneConfig
    from alignscope.training.evaluate import evaluate
    from alignscope.training.finetune import finetune

    wikiann = data_slices / "wikiann"
    train = first_sentences(wikiann / "en/train.conllu", "en.iob", 40)
    german = first_sentences(wikiann / "de/test.conllu", "de.iob", 20)
    config = FinetuneConfig(model=str(tiny_bert), train=str(train), eval=[str(german)],
                            task="ner", epochs=2, batch_size=8, lr=1e-3, device="cpu", seed=3,
                            random_init="block.3", write_predictions=True)
    results = finetune(config, tmp_path / "run", show_progress=False)
    assert (results["task"], results["metric"]) == ("ner", "f1")
    [german_eval] = results["evaluations"]
    assert german_eval["language"] == "de"
    metrics = german_eval["metrics"]
    assert set(metrics) >= {"precision", "recall", "f1", "gold_entities", "predicted_entities"}
    predicted = read_iob(german_eval["predictions"])  # strict IOB2, or it would raise
    gold = read_iob(german)
    assert [s.words for s in predicted] == [s.words for s in gold]
    assert span_scores([s.ner_tags for s in gold],
                       [s.ner_tags for s in predicted])["f1"] == metrics["f1"]
    again = evaluate(tmp_path / "run", [str(german)], show_progress=False, device="cpu")
    assert again["evaluations"][0]["metrics"] == metrics


def test_an_entity_type_unseen_in_training_is_refused_before_training(tmp_path: Path) -> None:
    from alignscope.training.finetune import finetune

    train = tmp_path / "en.iob"
    train.write_text("0\tParis\tB-LOC\n1\tis\tO\n\n0\tBerlin\tB-LOC\n\n", encoding="utf-8")
    target = tmp_path / "de.iob"
    target.write_text("0\tAngela\tB-PER\n1\tMerkel\tI-PER\n\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"de\.iob:1: NER tag 'B-PER' is outside"):
        # No such (hub) model: the data check must come first, before any loading.
        finetune(model="no-such-model", train=str(train), eval=[str(target)], task="ner",
                 out=tmp_path / "run", device="cpu", show_progress=False)
    assert not (tmp_path / "run").exists()

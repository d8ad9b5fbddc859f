"""Dependency parsing task: gold-tree checks, UAS/LAS, biaffine head, MST decoding, write-back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from alignscope.data.conllu import read_conllu
from alignscope.data.registry import resolve
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError
from alignscope.tasks.base import IGNORE_INDEX
from alignscope.tasks.metrics import attachment_scores
from alignscope.tasks.parsing import DependencyParsing

EWT_DEV = "ud/UD_English-EWT/en_ewt-ud-dev.conllu"

# Gold: heads 2 0 2 5 3; relations nsubj root obj case nmod:poss.
SENTENCE = """# sent_id = s1
# text = She saw his dog's tail
1\tShe\tshe\tPRON\tPRP\t_\t2\tnsubj\t_\t_
2\tsaw\tsee\tVERB\tVBD\t_\t0\troot\t_\t_
3\this\the\tPRON\tPRP$\t_\t2\tobj\t_\t_
4-5\tdog's\t_\t_\t_\t_\t_\t_\t_\t_
4\tdog\tdog\tNOUN\tNN\t_\t5\tcase\t_\t_
5\t's\t's\tPART\tPOS\t_\t3\tnmod:poss\t_\tSpaceAfter=No

"""


def is_single_root_tree(heads: list[int]) -> bool:
    """Exactly one root, and every word reaches it."""
    def reaches_root(word: int) -> bool:
        for _ in heads:
            word = heads[word - 1]
            if word == 0:
                return True
        return False

    return heads.count(0) == 1 and all(reaches_root(w) for w in range(1, len(heads) + 1))


def conllu_file(tmp_path: Path, text: str, name: str = "en_test-ud-test.conllu") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_hand_computed_attachment_scores() -> None:
    gold_heads, gold_rels = [[2, 0, 2, 5, 3]], [["nsubj", "root", "obj", "case", "nmod:poss"]]
    # Word 3: wrong label; word 4: wrong head; word 5: right universal label, wrong subtype.
    heads, rels = [[2, 0, 2, 3, 3]], [["nsubj", "root", "iobj", "case", "nmod"]]
    universal = attachment_scores(gold_heads, gold_rels, heads, rels)
    assert (universal["uas"], universal["las"], universal["words"]) == (0.8, 0.6, 5)
    full = attachment_scores(gold_heads, gold_rels, heads, rels, scoring="full",
                             known_deprels=frozenset({"nsubj", "root", "obj", "case", "nmod"}))
    assert (full["uas"], full["las"], full["unknown_deprels"]) == (0.8, 0.4, 1)


def test_gold_against_gold_scores_one(data_slices: Path) -> None:
    task = DependencyParsing()
    sentences = task.read(resolve("ud:en_ewt:dev", data_dir=data_slices), limit=200)
    gold = [{"heads": list(s.heads), "deprels": list(s.deprels)} for s in sentences]
    scores = task.score(sentences, gold, task.build_labels(sentences))
    assert (scores["uas"], scores["las"]) == (1.0, 1.0)
    assert scores["words"] == sum(map(len, sentences))


@pytest.mark.parametrize(("head_of_word_2", "problem"), [
    ("7", "HEAD 7 points outside the sentence"),
    ("3", "cycle"),
])
def test_bad_gold_trees_are_errors(tmp_path: Path, head_of_word_2: str, problem: str) -> None:
    text = SENTENCE.replace("2\tsaw\tsee\tVERB\tVBD\t_\t0", f"2\tsaw\tsee\tVERB\tVBD\t_\t"
                            f"{head_of_word_2}")
    text = text.replace("1\tShe\tshe\tPRON\tPRP\t_\t2", "1\tShe\tshe\tPRON\tPRP\t_\t0")
    with pytest.raises(DataFormatError, match=problem):
        read_conllu(conllu_file(tmp_path, text))


def test_unknown_evaluation_relation_is_ignored_in_loss_and_counted(tmp_path: Path) -> None:
    task = DependencyParsing()
    sentences = read_conllu(conllu_file(tmp_path, SENTENCE))
    labels = {"deprels": ["case", "nmod", "nsubj", "obj", "root"]}  # no nmod:poss
    targets = task.targets(sentences, labels, max_words=6)
    assert targets["heads"].tolist() == [[2, 0, 2, 5, 3, IGNORE_INDEX]]
    assert targets["deprels"].tolist() == [[2, 4, 3, 0, IGNORE_INDEX, IGNORE_INDEX]]
    head = task.build_head(8, labels, dropout=0.0)
    mask = torch.tensor([[True] * 5 + [False]])
    output = head(torch.randn(1, 6, 8), mask)
    assert torch.isfinite(task.loss(output, targets, mask))
    predictions = task.decode(output, mask, labels)
    assert task.score(sentences, predictions, labels)["unknown_deprels"] == 0  # nmod is known
    # A fresh task object (predictions reloaded from disk) checks the labels it is given.
    full = DependencyParsing(deprel="full")
    assert full.score(sentences, predictions, labels)["unknown_deprels"] == 1


def test_decoding_outside_autocast_accepts_bf16_outputs(tmp_path: Path) -> None:
    task = DependencyParsing()
    sentences = read_conllu(conllu_file(tmp_path, SENTENCE))
    labels = task.build_labels(sentences)
    head = task.build_head(8, labels, dropout=0.0)
    mask = torch.ones(1, 5, dtype=torch.bool)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = head(torch.randn(1, 5, 8), mask)
        assert torch.isfinite(task.loss(output, task.targets(sentences, labels, 5), mask))
    [prediction] = task.decode(output, mask, labels)
    assert is_single_root_tree(prediction["heads"])


def test_unknown_deprel_scoring_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="universal or full"):
        DependencyParsing(deprel="basic")  # type: ignore[arg-type]


def test_head_learns_trees_and_decodes_single_root_trees(data_slices: Path) -> None:
    torch.manual_seed(0)
    task = DependencyParsing()
    sentences = read_conllu(data_slices / EWT_DEV, limit=6)
    labels = task.build_labels(sentences)
    head = task.build_head(16, labels, dropout=0.0)
    width = max(map(len, sentences))
    mask = torch.tensor([[i < len(s) for i in range(width)] for s in sentences])
    words = torch.randn(len(sentences), width, 16)
    targets = task.targets(sentences, labels, width)
    untrained = task.decode(head(words, mask), mask, labels)
    assert all(is_single_root_tree(p["heads"]) for p in untrained)
    optimiser = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(60):
        optimiser.zero_grad()
        task.loss(head(words, mask), targets, mask).backward()
        optimiser.step()
    with torch.no_grad():
        scores = task.score(sentences, task.decode(head(words, mask), mask, labels), labels)
    assert scores["las"] > 0.9


def test_predictions_written_back_keep_every_other_column(tmp_path: Path) -> None:
    task = DependencyParsing()
    sentences = read_conllu(conllu_file(tmp_path, SENTENCE))
    predicted = [{"heads": [2, 0, 2, 3, 3], "deprels": ["nsubj", "root", "iobj", "case", "nmod"]}]
    out = tmp_path / "out" / "pred.conllu"
    task.write_predictions(out, sentences, predicted)
    expected = (SENTENCE.replace("\t5\tcase", "\t3\tcase").replace("\tobj", "\tiobj")
                .replace("\tnmod:poss", "\tnmod"))
    assert out.read_text(encoding="utf-8") == expected
    assert task.score(sentences, [{"heads": list(s.heads), "deprels": list(s.deprels)}
                                  for s in read_conllu(out)], task.build_labels(sentences))["uas"] == 0.8


def test_read_rejects_iob_files_and_trees_without_heads(tmp_path: Path) -> None:
    iob = tmp_path / "train.iob"
    iob.write_text("0\tKarl\tB-PER\n\n", encoding="utf-8")
    with pytest.raises(AlignscopeError, match="needs a CoNLL-U file"):
        DependencyParsing().read(resolve(str(iob)))
    no_tree = SENTENCE.replace("\t2\tnsubj", "\t_\t_")
    with pytest.raises(AlignscopeError, match="no dependency tree"):
        DependencyParsing().read(resolve(str(conllu_file(tmp_path, no_tree))))


def test_finetune_then_evaluate_end_to_end(tmp_path: Path, data_slices: Path, tiny_bert: Path,
                                          first_sentences: Callable[[Path, str, int], Path],
                                          ) -> None:
    from alignscope.training.config import FinetuneConfig
    from alignscope.training.evaluate import evaluate
    from alignscope.training.finetune import finetune

    ud = data_slices / "ud"
    train = first_sentences(ud / "UD_English-EWT/en_ewt-ud-train.conllu",
                            "en_ewt-ud-train.conllu", 24)
    french = first_sentences(ud / "UD_French-PUD/fr_pud-ud-test.conllu",
                             "fr_pud-ud-test.conllu", 12)
    config = FinetuneConfig(model=str(tiny_bert), train=str(train), eval=[str(french)],
                            task="parsing", epochs=2, batch_size=8, lr=1e-3, device="cpu",
                            seed=3, random_init="block.0", write_predictions=True,
                            task_options={"deprel": "full"})
    results = finetune(config, tmp_path / "run", show_progress=False)
    assert (results["task"], results["metric"]) == ("parsing", "las")
    [french_eval] = results["evaluations"]
    assert french_eval["language"] == "fr"
    metrics = french_eval["metrics"]
    assert 0 <= metrics["las"] <= metrics["uas"] <= 1
    assert metrics["words"] == sum(map(len, read_conllu(french)))
    assert metrics["unknown_deprels"] > 0  # 24 English sentences miss many French relations
    predicted = read_conllu(french_eval["predictions"])  # valid trees, or it would raise
    assert all(s.heads.count(0) == 1 for s in predicted)
    assert [s.words for s in predicted] == [s.words for s in read_conllu(french)]
    again = evaluate(tmp_path / "run", [str(french)], show_progress=False, device="cpu")
    assert again["evaluations"][0]["metrics"] == metrics
    universal = evaluate(tmp_path / "run", [str(french)], show_progress=False, device="cpu",
                         task_options={"deprel": "universal"}, max_sentences=5,
                         out=tmp_path / "universal.json")
    [scored] = universal["evaluations"]
    assert scored["sentences"] == 5 and universal["task_options"] == {"deprel": "universal"}
    assert scored["metrics"]["unknown_deprels"] <= metrics["unknown_deprels"]

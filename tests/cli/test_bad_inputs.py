"""Bad inputs across every command: exit status 2, a message naming the culprit and what to do,
no traceback, and nothing written. Each case spoils one thing in an otherwise valid workspace
(see conftest.py); every one fails before any training, so the table runs in seconds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignscope.cli import app

SENTENCE = """# sent_id = s{n}
# text = The cat sleeps .
1\tThe\tthe\tDET\t_\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\tsleeps\tsleep\tVERB\t_\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_
"""
WORDS = ["the", "The", "cat", "sleeps", "le", "chat", "dort", "."]


def conllu(count: int = 3) -> str:
    return "\n".join(SENTENCE.format(n=n) for n in range(1, count + 1)) + "\n"


@dataclass(frozen=True)
class Workspace:
    root: Path
    model: Path  # a complete tiny BERT folder
    data: Path  # en_tiny-ud-{train,dev,test}.conllu, fr_tiny-ud-test.conllu
    train: Path  # a valid CoNLL-U file outside the data folder
    run: Path  # a finetune run folder (checkpoint/ with task.json, head, encoder/)
    similarity: Path  # a similarity run folder (similarity.json)
    out: Path  # an output path that does not exist yet

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def model_copy(self, name: str, *, drop: tuple[str, ...] = (),
                   replace: dict[str, bytes] | None = None) -> Path:
        """A copy of the tiny model with files removed or overwritten."""
        folder = self.root / name
        folder.mkdir()
        for file in self.model.iterdir():
            if file.name not in drop:
                (folder / file.name).write_bytes(file.read_bytes())
        for file_name, content in (replace or {}).items():
            (folder / file_name).write_bytes(content)
        return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT with a 40-entry WordPiece vocabulary: built in well under a second."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("cli_model")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS,
             *sorted(set("abcdefghijklmnopqrstuvwxyz")), "##s"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), model_max_length=64,
                      do_lower_case=False).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture
def ws(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
       result_header: Callable[..., dict]) -> Workspace:
    import torch
    from safetensors.torch import save_file

    monkeypatch.chdir(tmp_path)  # a command writing to a default relative path is caught too
    monkeypatch.setenv("ALIGNSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ALIGNSCOPE_DATA", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    for name in ("en_tiny-ud-train", "en_tiny-ud-dev", "en_tiny-ud-test", "fr_tiny-ud-test"):
        (data / f"{name}.conllu").write_text(conllu(), encoding="utf-8")
    train = tmp_path / "train.conllu"
    train.write_text(conllu(), encoding="utf-8")
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "checkpoint" / "task.json").write_text(json.dumps(
        {"task": "pos", "labels": {"upos": ["DET", "NOUN", "PUNCT", "VERB"]}, "max_length": 64}))
    save_file({"classifier.weight": torch.zeros(4, 16), "classifier.bias": torch.zeros(4)},
              str(run / "checkpoint" / "head.safetensors"))
    (run / "checkpoint" / "encoder").mkdir()
    for file in tiny_model_dir.iterdir():
        (run / "checkpoint" / "encoder" / file.name).write_bytes(file.read_bytes())
    (run / "results.json").write_text(json.dumps(result_header(
        "finetune", task="pos", metric="upos_accuracy", training={},
        reinit={"spec": None, "regex": None, "scope": "all", "scheme": "model", "seed": 1,
                "tensors": []},
        evaluations=[{"dataset": "ud:fr_tiny", "language": "fr", "sentences": 2,
                      "metrics": {"upos_accuracy": 0.5}}])))
    similarity = tmp_path / "sim"
    similarity.mkdir()
    (similarity / "similarity.json").write_text(json.dumps(result_header(
        "similarity", layers=["embeddings", "block.0"], target_languages=["fr"],
        measures=["linear"], conditions=["parallel"],
        results={"linear": {"parallel": {"fr": [0.5, 0.4]}}})))
    return Workspace(tmp_path, tiny_model_dir, data, train, run, similarity, tmp_path / "out")


Args = Callable[[Workspace], list[str]]


def finetune(*extra: str) -> Args:
    return lambda w: ["finetune", "--model", str(w.model), "--train", str(w.train),
                      "--out", str(w.out), "--device", "cpu", "--threads", "1", *extra]


def finetune_on(name: str, content: str | bytes, *extra: str) -> Args:
    """finetune with --train a file of this content."""
    def args(w: Workspace) -> list[str]:
        return [*finetune(*extra)(w)[:3], "--train", str(w.write(name, content)),
                *finetune(*extra)(w)[5:]]
    return args


def finetune_yaml(text: str | bytes, *extra: str) -> Args:
    return lambda w: [*finetune(*extra)(w), "--config", str(w.write("run.yaml", text))]


def finetune_model(**spoil: object) -> Args:
    return lambda w: ["finetune", "--model", str(w.model_copy("bad_model", **spoil)),  # type: ignore[arg-type]
                      "--train", str(w.train), "--out", str(w.out)]


def evaluate(*extra: str, run: Callable[[Workspace], Path] | None = None) -> Args:
    return lambda w: ["evaluate", "--checkpoint", str(run(w) if run else w.run),
                      "--eval", str(w.train), "--device", "cpu", *extra]


def parallel(w: Workspace, *more: str, fr: str | bytes = "Le chat dort .\nLe chat dort .\n") -> str:
    """The template of line-aligned files for en, fr and the languages `more`."""
    w.write("par/en.txt", "The cat sleeps .\nThe cat sleeps .\n")
    w.write("par/fr.txt", fr)
    for language in more:
        w.write(f"par/{language}.txt", "a .\nb .\n")
    return str(w.root / "par" / "{lang}.txt")


def similarity(*extra: str, fr: str | bytes = "Le chat dort .\nLe chat dort .\n") -> Args:
    return lambda w: ["similarity", "--model", str(w.model), "--targets", "fr", "--parallel",
                      parallel(w, fr=fr), "--out", str(w.out), "--device", "cpu", "--no-progress",
                      *extra]


def stability(*extra: str) -> Args:
    return lambda w: ["stability", "--pretrained", str(w.model), "--finetuned", str(w.run),
                      "--languages", "en,fr", "--parallel", parallel(w), "--out", str(w.out),
                      "--device", "cpu", "--no-progress", *extra]


def correlate(*extra: str) -> Args:
    return lambda w: ["correlate", "--similarity", str(w.similarity), "--transfer", str(w.run),
                      "--out", str(w.out), *extra]


def lab_pretrain(*extra: str) -> Args:
    return lambda w: ["lab", "pretrain", "--corpus", str(w.data), "--out", str(w.out),
                      "--threads", "1", *extra]


def drop_file(*relative: str) -> Callable[[Workspace], Path]:
    def spoil(w: Workspace) -> Path:
        for name in relative:
            (w.run / name).unlink()
        return w.run
    return spoil


def overwrite_file(relative: str, content: str) -> Callable[[Workspace], Path]:
    def spoil(w: Workspace) -> Path:
        (w.run / relative).write_text(content)
        return w.run
    return spoil


MULTIWORD = "# sent_id = m1\n1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n1\tde\tde\tADP\t_\t_\t3\tcase\t_\t_\n" \
            "2\tle\tle\tDET\t_\t_\t3\tdet\t_\t_\n3\tchat\tchat\tNOUN\t_\t_\t0\troot\t_\t_\n\n"
LATIN1 = conllu(2).replace("cat", "caf\u00e9").encode("latin-1")
WORD = SENTENCE.format(n=9).splitlines()


def sentence_with(*lines: str) -> str:
    """The test sentence with extra token lines inserted before word `3`."""
    return "\n".join([*WORD[:4], *lines, *WORD[4:]]) + "\n\n"


CASES: list[tuple[str, Args, tuple[str, ...]]] = [
    # finetune: numeric flags
    ("lr-negative", finetune("--lr", "-1"), ("--lr", "greater than 0")),
    ("lr-nan", finetune("--lr", "nan"), ("--lr", "finite")),
    ("head-lr-negative", finetune("--head-lr", "-0.001"), ("--head-lr",)),
    ("dropout-above-1", finetune("--dropout", "1.5"), ("--dropout", "less than 1")),
    ("dropout-negative", finetune("--dropout", "-0.1"), ("--dropout",)),
    ("warmup-1", finetune("--warmup-ratio", "1"), ("--warmup-ratio",)),
    ("weight-decay-negative", finetune("--weight-decay", "-1"), ("--weight-decay",)),
    ("threads-0", finetune("--threads", "0"), ("--threads", "greater than or equal to 1")),
    ("batch-size-0", finetune("--batch-size", "0"), ("--batch-size",)),
    ("epochs-0", finetune("--epochs", "0"), ("--epochs",)),
    ("train-sentences-0", finetune("--max-train-sentences", "0"), ("--max-train-sentences",)),
    ("train-sentences-negative", finetune("--max-train-sentences", "-5"),
     ("--max-train-sentences",)),
    ("dev-sentences-0", finetune("--max-dev-sentences", "0"), ("--max-dev-sentences",)),
    ("eval-sentences-negative", finetune("--max-eval-sentences", "-1"),
     ("--max-eval-sentences",)),
    ("max-steps-0", finetune("--max-steps", "0"), ("--max-steps",)),
    ("max-length-tiny", finetune("--max-length", "4"), ("--max-length",)),
    ("seed-negative", finetune("--seed", "-1"), ("--seed",)),
    ("device-unknown", finetune("--device", "gpu"), ("--device", "'gpu'", "cuda:N")),
    ("device-bad-index", finetune("--device", "cuda:x"), ("--device", "cuda:x")),
    ("precision-unknown", finetune("--precision", "fp8"), ("--precision", "'fp8'", "bf16")),
    ("yaml-precision", finetune_yaml("precision: double\n"), ("run.yaml", "precision")),
    ("freeze-empty", finetune("--freeze", ""), ("--freeze", "empty")),
    ("freeze-bad-name", finetune("--freeze", "blk.0"), ("--freeze", "blk.0")),
    ("device-map-unknown", finetune("--device-map", "manual"), ("--device-map", "manual")),
    # finetune: RANDOM-INIT combinations
    ("random-init-empty", finetune("--random-init", ""), ("--random-init", "empty")),
    ("random-init-garbage", finetune("--random-init", "a-b"), ("--random-init", "a-b")),
    ("random-init-reversed", finetune("--random-init", "5-2"), ("--random-init", "5-2")),
    ("random-init-beyond-model", finetune("--random-init", "7"), ("block.7", "block.0-1")),
    # finetune: freeze and revert, loading
    ("freeze-garbage", finetune("--freeze", "a-b"), ("--freeze", "a-b")),
    ("freeze-beyond-model", finetune("--freeze", "block.2"), ("--freeze", "block.2", "block.0-1")),
    ("revert-empty-group", finetune("--revert", "block.0;"), ("--revert",)),
    ("revert-beyond-model", finetune("--revert", "block.0;block.0-3"),
     ("--revert block.0-3", "block.2-3 do not exist", "block.0-1")),
    ("scope-with-freeze-unknown", finetune("--freeze", "block.0", "--scope", "mlp"), ("--scope", "ffn")),
    ("dtype-unknown", finetune("--dtype", "bf17"), ("--dtype", "bfloat16")),
    ("scheme-without-layers", finetune("--init-scheme", "torch-default"),
     ("--init-scheme", "--random-init")),
    ("scope-without-layers", finetune("--scope", "ffn"), ("--scope", "--random-init")),
    ("scheme-unknown", finetune("--random-init", "block.0", "--init-scheme", "xavier"),
     ("--init-scheme", "xavier")),
    ("scheme-bad-sigma", finetune("--random-init", "block.0", "--init-scheme", "normal:big"),
     ("--init-scheme", "normal:big")),
    ("scope-unknown", finetune("--random-init", "block.0", "--scope", "everything"),
     ("--scope", "attention")),
    ("regex-invalid", finetune("--random-init-regex", "layer.(1"),
     ("--random-init-regex", "regular expression")),
    ("task-unknown", finetune("--task", "postag"), ("postag", "pos")),
    ("deprel-unknown", finetune("--task", "parsing", "--deprel", "partial"), ("partial",)),
    ("deprel-for-pos", finetune("--deprel", "full"), ("pos", "deprel")),
    # finetune: model folders and paths
    ("model-missing-path", lambda w: ["finetune", "--model", str(w.root / "models/nope"),
                                      "--train", str(w.train), "--out", str(w.out)],
     ("models/nope", "does not exist")),
    ("model-no-tokenizer", finetune_model(drop=("vocab.txt", "tokenizer.json",
                                                "tokenizer_config.json")), ("tokenizer",)),
    ("model-no-weights", finetune_model(drop=("model.safetensors",)), ("model.safetensors",)),
    ("model-no-config", finetune_model(drop=("config.json",)), ("config.json",)),
    ("model-damaged-config", finetune_model(replace={"config.json": b"{not json"}),
     ("config.json", "damaged")),
    ("model-only-pickle", finetune_model(drop=("model.safetensors",),
                                         replace={"pytorch_model.bin": b"x"}),
     ("pytorch_model.bin", "--allow-pickle")),
    ("model-too-short-for-max-length", finetune("--max-length", "512"), ("--max-length", "64")),
    ("out-is-a-file", lambda w: [*finetune()(w)[:-6], "--out", str(w.train)],
     ("--out", "existing file")),
    ("out-below-a-file", lambda w: [*finetune()(w), "--out", str(w.train / "sub")],
     ("--out", "not a folder")),
    ("model-missing", lambda w: ["finetune", "--train", str(w.train), "--out", str(w.out)],
     ("--model", "required")),
    ("train-missing", lambda w: ["finetune", "--model", str(w.model), "--out", str(w.out)],
     ("--train", "required")),
    ("eval-unknown-treebank", finetune("--data-dir", "data", "--eval", "ud:xx_nope"),
     ("xx_nope",)),
    ("train-is-a-folder", lambda w: [*finetune()(w), "--train", str(w.data)],
     ("data", "is a folder")),
    ("train-file-missing", lambda w: [*finetune()(w), "--train", "nowhere.conllu"],
     ("nowhere.conllu",)),
    # finetune: text files
    ("train-latin1", finetune_on("latin.conllu", LATIN1), ("latin.conllu:2", "UTF-8", "iconv")),
    ("train-utf16", finetune_on("wide.conllu", conllu(1).encode("utf-16")),
     ("wide.conllu", "UTF-16", "iconv")),
    ("train-binary", finetune_on("blob.conllu", b"\x00\x01\x02garbage\n"),
     ("blob.conllu:1", "binary")),
    ("train-emoji-like-line", finetune_on("a:smile:.conllu", "1\tx\n"),
     ("a:smile:.conllu", "CoNLL-U")),
    ("conllu-overlapping-ranges", finetune_on("ov.conllu", sentence_with(
        "3-4\tab\t_\t_\t_\t_\t_\t_\t_\t_").replace("3-4", "2-3", 1) + conllu(1)),
     ("ov.conllu:5", "range 2-3")),
    ("conllu-range-beyond-sentence", finetune_on("far.conllu", sentence_with(
        "3-9\tab\t_\t_\t_\t_\t_\t_\t_\t_")), ("far.conllu:5", "3-9", "beyond")),
    ("conllu-range-reversed", finetune_on("rev.conllu", sentence_with(
        "3-2\tab\t_\t_\t_\t_\t_\t_\t_\t_")), ("rev.conllu:5", "3-2")),
    ("conllu-two-ranges-overlap", finetune_on("two.conllu", MULTIWORD.replace(
        "1\tde", "1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n1\tde")), ("two.conllu:3", "overlaps")),
    ("conllu-empty-node-misplaced", finetune_on("empty.conllu", sentence_with(
        "5.1\tx\t_\t_\t_\t_\t_\t_\t_\t_")), ("empty.conllu:5", "empty node 5.1")),
    ("conllu-empty-node-with-head", finetune_on("eh.conllu", sentence_with(
        "2.1\tx\t_\t_\t_\t_\t1\tdep\t_\t_")), ("eh.conllu:5", "HEAD")),
    ("conllu-word-id-gap", finetune_on("gap.conllu", conllu(1).replace("4\t.", "5\t.")),
     ("gap.conllu:6", "word ID 5")),
    ("iob-bad-tag", finetune_on("ner.iob", "Paris B-LOC\nis Z-X\n", "--task", "ner"),
     ("ner.iob:2", "Z-X")),
    # finetune: YAML configs
    ("yaml-missing", lambda w: [*finetune()(w), "--config", "absent.yaml"], ("absent.yaml",)),
    ("yaml-is-folder", lambda w: [*finetune()(w), "--config", str(w.data)],
     ("--config", "data", "folder")),
    ("yaml-invalid", finetune_yaml("lr: [1\nseed: 2\n"), ("run.yaml:", "YAML")),
    ("yaml-a-list", finetune_yaml("- lr: 1\n"), ("run.yaml", "mapping")),
    ("yaml-unknown-key", finetune_yaml("learning_rate: 0.1\n"), ("learning_rate",)),
    ("yaml-wrong-type", finetune_yaml("lr: fast\n"), ("run.yaml", "lr", "fast")),
    ("yaml-list-of-numbers", finetune_yaml("eval: [1, 2]\n"), ("eval",)),
    ("yaml-dropout", finetune_yaml("dropout: 2\n"), ("dropout", "less than 1")),
    ("yaml-empty-layers", finetune_yaml("random_init: ''\n"), ("random_init", "empty")),
    ("yaml-latin1", finetune_yaml("seed: 1\ntask: p\xf6s\n".encode("latin-1")),
     ("run.yaml:2", "UTF-8")),
    ("yaml-duplicate-key", finetune_yaml("seed: 1\nlr: 0.1\nseed: 2\n"),
     ("run.yaml:3", "'seed' appears twice")),
    ("yaml-seed-boolean", finetune_yaml("seed: yes\n"), ("run.yaml", "seed", "integer")),
    ("yaml-epochs-fraction", finetune_yaml("epochs: 2.5\n"), ("epochs", "2.5")),
    ("yaml-sigma-infinite", finetune_yaml("random_init: '0'\ninit_scheme: normal:inf\n"),
     ("run.yaml", "init_scheme", "normal:inf")),
    ("yaml-scheme-without-layers", finetune_yaml("init_scheme: normal:0.02\n"),
     ("init_scheme", "--random-init")),
    ("yaml-old-key-warns", finetune_yaml("reinit_scheme: normal:inf\nrandom_init: '0'\n"),
     ("`reinit_scheme` (--reinit-scheme) is deprecated", "0.3", "init_scheme", "normal:inf")),
    # evaluate
    ("eval-checkpoint-missing", lambda w: ["evaluate", "--checkpoint", "nope",
                                           "--eval", str(w.train)], ("nope", "not found")),
    ("eval-not-a-run", evaluate(run=lambda w: w.data), ("task.json",)),
    ("eval-damaged-task-json", evaluate(run=overwrite_file("checkpoint/task.json", "{oops")),
     ("task.json", "damaged")),
    ("eval-no-head", evaluate(run=drop_file("checkpoint/head.safetensors")),
     ("head.safetensors",)),
    ("eval-no-encoder-weights", evaluate(run=drop_file("checkpoint/encoder/model.safetensors")),
     ("model.safetensors",)),
    ("eval-batch-size-0", evaluate("--batch-size", "0"), ("--batch-size",)),
    ("eval-max-sentences-0", evaluate("--max-sentences", "0"), ("--max-sentences",)),
    ("eval-device", evaluate("--device", "tpu"), ("--device", "tpu")),
    ("eval-precision", evaluate("--precision", "half"), ("--precision", "half")),
    ("eval-no-dataset", lambda w: ["evaluate", "--checkpoint", str(w.run), "--eval", ""],
     ("--eval",)),
    ("eval-out-is-a-file", evaluate("--out", "train.conllu"), ("--out", "existing file")),
    ("eval-out-below-a-file", evaluate("--out", "train.conllu/sub"), ("--out", "not a folder")),
    ("eval-latin1-data", lambda w: ["evaluate", "--checkpoint", str(w.run), "--eval",
                                    str(w.write("fr.conllu", LATIN1)), "--device", "cpu"],
     ("fr.conllu:2", "UTF-8")),
    # similarity
    ("sim-max-tokens-0", similarity("--max-tokens", "0"), ("--max-tokens",)),
    ("sim-max-tokens-2", similarity("--max-tokens", "2"), ("--max-tokens", "3")),
    ("sim-batch-tokens-0", similarity("--batch-tokens", "0"), ("--batch-tokens",)),
    ("sim-confidence", similarity("--confidence", "1.5"), ("--confidence",)),
    ("sim-half-samples-negative", similarity("--half-samples", "-1"), ("--half-samples",)),
    ("sim-bootstrap-negative", similarity("--bootstrap", "-1"),
     ("--half-samples", "`bootstrap` (--bootstrap) is deprecated", "0.3")),
    ("sim-max-sentences-0", similarity("--max-sentences", "0"), ("--max-sentences",)),
    ("sim-measure", similarity("--measures", "cca"), ("cca",)),
    ("sim-measure-typo", similarity("--measures", "linear,mexx"), ("mexx", "mexa")),
    ("sim-margin-k-0", similarity("--measures", "margin", "--margin-k", "0"), ("--margin-k",)),
    ("sim-margin-k-too-large", similarity("--measures", "margin", "--margin-k", "2"),
     ("--margin-k", "2")),
    ("sim-half-samples-too-few", similarity("--half-samples", "5"),
     ("--half-samples", "8 sentences")),
    ("sim-flores-code", lambda w: [*similarity()(w), "--parallel", "flores:devtest"],
     ("fra_Latn", "'en'")),
    ("sim-flores-split", lambda w: [*similarity()(w), "--parallel", "flores:test"],
     ("flores:test", "flores:devtest")),
    ("sim-folder-missing-language", lambda w: [*similarity()(w), "--parallel",
                                               str(w.write("folder/en.txt", "a\n").parent)],
     ("folder", "'fr'", "present: en")),
    ("sim-folder-not-found", lambda w: [*similarity()(w), "--parallel", "no/such/folder"],
     ("no/such/folder", "not a folder")),
    ("sim-pooling", similarity("--pooling", "max"), ("max", "mean")),
    ("sim-control", similarity("--controls", "bogus"), ("bogus",)),
    ("sim-preset", similarity("--preset", "paper"), ("paper",)),
    ("sim-device", similarity("--device", "cuda0"), ("--device", "cuda0")),
    ("sim-precision", similarity("--precision", "int8"), ("--precision", "int8")),
    ("sim-no-targets", similarity("--targets", ""), ("--targets",)),
    ("sim-source-is-target", similarity("--targets", "en"), ("source", "en")),
    ("sim-model-missing", lambda w: similarity()(w)[:1] + similarity()(w)[3:],
     ("--model", "required")),
    ("sim-model-incomplete", lambda w: [*similarity()(w), "--model",
                                        str(w.model_copy("m2", drop=("vocab.txt",
                                                                      "tokenizer.json")))],
     ("m2", "tokenizer")),
    ("sim-out-is-file", lambda w: [*similarity()(w), "--out", str(w.train)], ("--out",)),
    ("sim-parallel-missing-file", lambda w: [*similarity()(w), "--parallel",
                                             "en=en.txt,fr=fr.txt"], ("en.txt", "not found")),
    ("sim-parallel-latin1", similarity(fr="Le chat dort .\n\xe9t\xe9\n".encode("latin-1")),
     ("fr.txt:2", "UTF-8")),
    ("sim-parallel-misaligned", similarity(fr="Le chat dort .\n"), ("fr.txt", "line-aligned")),
    ("sim-parallel-folder-no-language", lambda w: [
        *similarity()(w), "--targets", "de", "--parallel", str(w.root / "par")],
     ("'de'", "en, fr")),
    ("sim-parallel-flores-split", similarity("--parallel", "flores:test"), ("flores:test",)),
    ("sim-yaml-targets-numbers", lambda w: [*similarity()(w)[:3], *similarity()(w)[5:],
                                            "--config",
                                            str(w.write("s.yaml", "targets: [1, 2]\n"))],
     ("s.yaml", "targets")),
    ("sim-yaml-unknown", lambda w: [*similarity()(w), "--config",
                                    str(w.write("s.yaml", "measure: rbf\n"))],
     ("measure", "measures")),
    # stability
    ("stab-no-languages", stability("--languages", ""), ("--languages",)),
    ("stab-old-langs-flag", lambda w: [*stability()(w)[:5], "--langs", "", *stability()(w)[7:]],
     ("--languages", "--langs", "deprecated")),
    ("stab-random-init-control", stability("--controls", "random-init"), ("random-init",)),
    ("stab-finetuned-missing", lambda w: stability()(w)[:3] + stability()(w)[5:],
     ("--finetuned", "required")),
    ("stab-finetuned-incomplete", lambda w: [
        *stability()(w), "--finetuned", str(drop_file("checkpoint/encoder/vocab.txt",
                                                 "checkpoint/encoder/tokenizer.json")(w))],
     ("encoder", "tokenizer")),
    ("stab-pooling", stability("--pooling", "sum"), ("sum",)),
    # correlate
    ("corr-similarity-missing", correlate("--similarity", "nope"), ("nope",)),
    ("corr-similarity-not-a-run", correlate("--similarity", "data"), ("similarity.json",)),
    ("corr-similarity-damaged", lambda w: correlate("--similarity", str(
        w.write("bad/similarity.json", "{")))(w), ("similarity.json",)),
    ("corr-transfer-not-results", lambda w: correlate("--transfer", str(
        w.write("x/results.json", '{"a": 1}')))(w), ("results.json",)),
    ("corr-out-is-file", lambda w: correlate("--out", str(w.train))(w), ("--out",)),
    # table
    ("table-run-missing", lambda w: ["table", "nope"], ("nope",)),
    ("table-format", lambda w: ["table", str(w.run), "--format", "html"], ("--format", "html")),
    ("table-layers-words", lambda w: ["table", str(w.similarity), "--layers", "a,b"],
     ("--layers",)),
    ("table-layers-negative", lambda w: ["table", str(w.similarity), "--layers", "-1"],
     ("--layers",)),
    ("table-out-is-a-file", lambda w: ["table", str(w.run), "--out", str(w.train)],
     ("--out", "existing file")),
    ("table-damaged-results", lambda w: ["table", str(overwrite_file("results.json", "{bad")(w))],
     ("results.json:1", "not valid JSON")),
    ("table-damaged-similarity", lambda w: ["table", str(w.write("s2/similarity.json", "[1,"))],
     ("similarity.json", "not valid JSON")),
    ("table-out-holds-a-table", lambda w: ["table", str(w.run), "--out",
                                           str(w.write("tables/table.md", "kept").parent)],
     ("table.md", "--overwrite")),
    ("table-not-a-run", lambda w: ["table", str(w.data)], ("results",)),
    # data
    ("data-list-missing", lambda w: ["data", "list", "--data-dir", "nowhere"],
     ("nowhere", "not found")),
    ("data-list-file", lambda w: ["data", "list", "--data-dir", str(w.train)],
     ("train.conllu", "folder")),
    ("data-download-no-language", lambda w: ["data", "download", "ner", "wikiann"],
     ("wikiann", "languages")),
    # lab pretrain
    ("lab-objective-unknown", lab_pretrain("--objective", "gpt"),
     ("--objective", "'gpt'", "'clm'")),
    ("lab-kv-heads-not-dividing", lab_pretrain("--objective", "clm", "--heads", "4",
                                               "--kv-heads", "3"), ("--kv-heads 3", "--heads 4")),
    ("lab-kv-heads-for-mlm", lab_pretrain("--kv-heads", "1"), ("--kv-heads", "--objective clm")),
    ("lab-hidden-not-divisible", lab_pretrain("--hidden", "30", "--heads", "4"),
     ("--hidden 30", "--heads 4")),
    ("lab-steps-0", lab_pretrain("--steps", "0"), ("--steps", "greater than or equal to 1")),
    ("lab-intermediate-0", lab_pretrain("--objective", "clm", "--intermediate", "0"),
     ("--intermediate",)),
    ("lab-lr-nan", lab_pretrain("--lr", "nan"), ("--lr", "finite")),
    ("lab-dropout-1", lab_pretrain("--dropout", "1"), ("--dropout", "less than 1")),
    ("lab-device", lab_pretrain("--device", "gpu"), ("--device", "cuda:N")),
    ("lab-clm-with-bert-tokenizer", lambda w: lab_pretrain("--objective", "clm", "--tokenizer",
                                                           str(w.model))(w),
     ("--tokenizer", "bos_token", "--objective clm")),
    ("lab-out-is-a-file", lambda w: [*lab_pretrain()(w), "--out", str(w.train)],
     ("--out", "existing file")),
    ("lab-no-corpus-text", lab_pretrain("--objective", "clm"), ("no pretraining text",)),
]


# --- long runs (issue 20): sweep files and folders, reports, resuming, the lab, decoders ------
def experiment(w: Workspace, **changes: object) -> dict:
    """A valid experiment over the workspace's tiny model and treebanks."""
    spec: dict = {"name": "tiny", "model": str(w.model), "data_dir": str(w.data), "seeds": [1],
                  "tasks": {"pos": {"source": "ud:en_tiny", "targets": ["ud:fr_tiny"]}},
                  "random_init": {"reference": True}, "finetune": {"epochs": 1}, "threads": 1}
    for key, value in changes.items():  # dotted keys: finetune.epochs
        node = spec
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return spec


def sweep(*extra: str, text: str | None = None, **changes: object) -> Args:
    """`sweep` of an experiment file: the valid one with `changes`, or `text` as written."""
    def args(w: Workspace) -> list[str]:
        import yaml

        body = text if text is not None else yaml.safe_dump(experiment(w, **changes))
        return ["sweep", str(w.write("exp.yaml", body)), "--out", str(w.out), "--no-progress",
                *extra]
    return args


def sweep_folder(w: Workspace, runs: dict[str, dict], files: dict[str, str] | None = None) -> Path:
    """A hand-made sweep folder: manifest entries `runs`, and the files `files` under it."""
    folder = w.root / "swept"
    w.write("swept/manifest.json", json.dumps({"schema": 1, "experiment": "tiny", "sweeps": [],
                                               "runs": runs}))
    for name, content in (files or {}).items():
        w.write(f"swept/{name}", content)
    return folder


def sealed_run(w: Workspace, value: float) -> Path:
    """A sweep whose one finetune run is sealed (run.json holds its files' hashes), scoring
    `value` on fr."""
    import hashlib

    results = (w.run / "results.json").read_text()
    results = results.replace('"upos_accuracy": 0.5', f'"upos_accuracy": {json.dumps(value)}')
    digest = hashlib.sha256(results.encode()).hexdigest()
    record = {"name": "pos-REF-s1", "kind": "finetune", "key": "k", "status": "done",
              "labels": {"task": "pos", "model": "m", "group": "REF", "seed": 1},
              "config": {}, "files": {"finetune/results.json": digest}}
    return sweep_folder(w, {"pos-REF-s1": {"kind": "finetune", "key": "k", "status": "done",
                                           "labels": record["labels"], "deps": []}},
                        {"runs/pos-REF-s1/run.json": json.dumps(record),
                         "runs/pos-REF-s1/finetune/results.json": results})


def report(folder: Callable[[Workspace], Path]) -> Args:
    return lambda w: ["report", str(folder(w)), "--out", str(w.out)]


def resume_state(w: Workspace, config: dict) -> None:
    """An interrupted fine-tune's checkpoint in --out, written by `config`."""
    w.write("out/resume/state.json", json.dumps({"format": 1, "config": config,
                                                 "progress": {"step": 3}, "tensor_groups": []}))


def lab_generate(*extra: str) -> Args:
    """`lab generate` of two languages, xx vocabulary-shifted from en; `extra` overrides."""
    return lambda w: ["lab", "generate", "--out", str(w.out), "--sentences", "20",
                      "--languages", "en,xx", "--transforms", "xx=vocab-shift", *extra]


def t5_model(w: Workspace) -> Path:
    """The tiny model's folder with a T5 (encoder-decoder) configuration."""
    config = {"model_type": "t5", "d_model": 16, "num_layers": 2, "num_heads": 2, "d_ff": 32,
              "vocab_size": 40, "is_encoder_decoder": True}
    return w.model_copy("t5", replace={"config.json": json.dumps(config).encode()})


LONG_RUN_CASES: list[tuple[str, Args, tuple[str, ...]]] = [
    # sweep files
    ("sweep-seeds-a-word", sweep(seeds="one"), ("seeds",)),
    ("sweep-unknown-top-key", sweep(text="name: t\nmodle: m\n"), ("modle", "model")),
    ("sweep-unknown-finetune-key", sweep(**{"finetune.epoch": 2}),
     ("finetune.epoch", "epochs")),
    ("sweep-epochs-a-list", sweep(**{"finetune.epochs": [1]}), ("finetune.epochs",)),
    ("sweep-unset-variable", sweep(model="${ALIGNSCOPE_SURELY_UNSET}"),
     ("`model`", "ALIGNSCOPE_SURELY_UNSET")),
    ("sweep-malformed-variable", sweep(data_dir="${HOME:data}"),
     ("`data_dir`", "${HOME:data}", "${NAME:-DEFAULT}")),
    ("sweep-group-beyond-model", sweep(**{"random_init.groups": ["block.5"]}),
     ("random_init.groups.0", "block.5", "block.0-1")),
    ("sweep-stability-group-not-run", lambda w: sweep(**{
        "analyses.stability.groups": ["block.0"], "analyses.parallel": parallel(w)})(w),
     ("analyses.stability.groups.0", "block.0", "REF")),
    ("sweep-correlation-group-not-run", lambda w: sweep(**{
        "analyses.similarity.pretrained": True, "analyses.correlation.groups": ["block.1"],
        "analyses.parallel": parallel(w, "de", "ru"), "analyses.languages": ["fr", "de", "ru"]})(w),
     ("analyses.correlation.groups.0", "block.1")),
    ("sweep-model-empty", lambda w: sweep(**{"analyses.similarity.pretrained": True,
                                             "analyses.parallel": parallel(w)}, model="")(w),
     ("key `model`", "empty")),
    ("sweep-device-unknown", sweep(device="gpu"), ("key `device`", "gpu")),
    ("sweep-shared-setting-out-of-range", lambda w: sweep(**{
        "analyses.similarity.pretrained": True, "analyses.parallel": parallel(w),
        "analyses.settings.max_sentences": 0})(w),
     ("key `analyses.settings.max_sentences`",)),
    ("sweep-encoder-decoder", lambda w: sweep(model=str(t5_model(w)))(w),
     ("`models`", "encoder-decoder", "t5")),
    ("sweep-malformed-training-file", lambda w: sweep(**{"tasks.pos.source": str(w.write(
        "broken.conllu", conllu(1) + "1\tx\n"))})(w), ("broken.conllu:8",)),
    ("sweep-set-without-value", sweep("--set", "finetune.epochs"), ("--set", "KEY=VALUE")),
    ("sweep-set-bad-yaml", sweep("--set", "seeds=[1,"), ("--set", "YAML")),
    ("sweep-set-into-a-list", sweep("--set", "seeds.first=1"), ("--set", "`seeds`")),
    ("sweep-jobs-0", sweep("--jobs", "0"), ("--jobs",)),
    ("sweep-backend-unknown", sweep("--backend", "slurm"), ("--backend", "slurm")),
    ("sweep-address-without-ray", sweep("--address", "127.0.0.1:6379"),
     ("--address", "--backend ray")),
    ("sweep-runs-per-device-0", sweep("--runs-per-device", "0"), ("--runs-per-device",)),
    ("sweep-another-configuration-in-folder", lambda w: [
        *sweep()(w), "--out", str(w.write("old/runs/pos-REF-s1/run.json", json.dumps(
            {"status": "done", "key": "0123456789abcdef", "files": {}})).parents[2])],
     ("pos-REF-s1", "different configuration", "0123456789abcdef")),
    ("sweep-checkpoint-of-another-configuration", lambda w: [
        *sweep()(w), "--out", str(w.write("old/resume/pos-REF-s1/state.json", json.dumps(
            {"format": 1, "config": {"epochs": 7}, "progress": {"step": 2},
             "tensor_groups": []})).parents[2])],
     ("resume/pos-REF-s1", "another configuration", "epochs")),
    # sweep folders: status and report
    ("status-manifest-of-another-version", lambda w: [
        "sweep", "status", str(w.write("swept/manifest.json", '{"schema": 9}').parent)],
     ("manifest.json", "not a sweep manifest")),
    ("report-missing-folder", report(lambda w: w.root / "never"), ("never", "no such folder")),
    ("report-empty-folder", report(lambda w: w.write("empty/.keep", "").parent),
     ("empty", "not a sweep folder")),
    ("report-foreign-folder", report(lambda w: w.run), ("not a sweep folder", "finetune result",
                                                        "alignscope table")),
    ("report-damaged-manifest", report(lambda w: w.write("swept/manifest.json", "{").parent),
     ("manifest.json:", "not valid JSON")),
    ("report-all-failed", report(lambda w: sweep_folder(w, {
        name: {"kind": "finetune", "key": "k", "status": "failed", "error": "boom",
               "labels": {}, "deps": []} for name in ("a", "b")})),
     ("no finished run", "2 failed", "sweep status")),
    ("report-altered-run", report(lambda w: (sealed_run(w, 0.5), w.write(
        "swept/runs/pos-REF-s1/finetune/results.json", "{}"))[0]),
     ("pos-REF-s1", "no longer hold")),
    ("report-nan-score", report(lambda w: sealed_run(w, float("nan"))),
     ("pos-REF-s1", "upos_accuracy", "nan", "not a score")),
    # evaluate and resuming
    ("eval-sweep-checkpoint-deleted", lambda w: evaluate(run=lambda _: (
        w.write("swept/runs/pos-REF-s1/run.json", "{}"),
        w.write("swept/runs/pos-REF-s1/finetune/results.json",
                (w.run / "results.json").read_text()))[1].parent)(w),
     ("deleted", "keep_checkpoints")),
    ("finetune-interrupted-without-resume", lambda w: (resume_state(w, {}), finetune()(w))[1],
     ("interrupted", "--resume", "--overwrite")),
    ("finetune-resume-another-configuration", lambda w: (
        resume_state(w, {"lr": 0.5}), finetune("--resume")(w))[1],
     ("another configuration", "lr: 0.5 then")),
    ("finetune-checkpoint-every-0", finetune("--checkpoint-every", "0"),
     ("--checkpoint-every",)),
    # the lab
    ("lab-language-code-bad", lab_generate("--languages", "en,X1"), ("X1", "2-3 lowercase")),
    ("lab-transform-unknown", lab_generate("--transforms", "xx=flip"), ("flip", "vocab-shift")),
    ("lab-transform-foreign-language", lab_generate("--transforms", "xx=invert,zz=invert"),
     ("zz",)),
    ("lab-anchor-share-above-1", lab_generate("--anchor-share", "1.5"),
     ("--anchor-share", "[0, 1]")),
    ("lab-anchor-share-negative", lab_generate("--anchor-share", "xx=-0.1"),
     ("--anchor-share", "xx", "[0, 1]")),
    ("lab-anchor-share-without-vocab-shift", lab_generate("--transforms", "xx=invert",
                                                          "--anchor-share", "xx=0.3"),
     ("--anchor-share xx=0.3", "no effect", "vocab-shift")),
    ("lab-sentences-0", lab_generate("--sentences", "0"), ("--sentences",)),
    ("lab-eval-sentences-0", lab_generate("--eval-sentences", "0"), ("--eval-sentences",)),
    ("lab-no-transform-copies-english", lab_generate("--languages", "en,xx,yy"),
     ("yy", "copy", "--transforms")),
    ("lab-pretrain-tokenizer-missing", lab_pretrain("--tokenizer", "models/none"),
     ("--tokenizer", "models/none", "no such folder")),
    ("lab-pretrain-vocab-size-0", lab_pretrain("--vocab-size", "0"), ("--vocab-size",)),
    # decoder options and parallel folders
    ("sim-prompt-template-without-sentence", similarity(
        "--pooling", "prompt-last", "--prompt-template", "Say it:"), ("{sentence}",)),
    ("sim-prompt-template-without-pooling", similarity("--prompt-template", "X {sentence}"),
     ("--prompt-template", "prompt-last")),
    ("sim-pooling-typo", similarity("--pooling", "lats"), ("lats", "last")),
    ("sim-parallel-empty-file", similarity(fr=""), ("fr.txt", "empty")),
    ("sim-parallel-blank-line", similarity(fr="Le chat dort .\n\n"), ("fr.txt:2", "empty line")),
    ("sim-parallel-missing-language-file", lambda w: [
        *similarity()(w), "--targets", "fr,de"], ("de.txt", "not found")),
    ("finetune-revert-overlapping-twice", finetune("--revert", "block.0;block.0"),
     ("--revert", "block.0")),
    # the demo: every section before the corpus is generated
    ("demo-finetune-epochs-0", lambda w: ["demo", "--out", str(w.out), "--no-progress", "--set",
                                          "sweep.finetune.epochs=0"],
     ("sweep.finetune.epochs", "greater than or equal to 1")),
    ("demo-stability-group-beyond-model", lambda w: [
        "demo", "--out", str(w.out), "--set", "pretrain.num_blocks=2", "--set",
        "sweep.analyses.stability.groups=[block.4]"], ("sweep.analyses.stability.groups.0",
                                                       "block.4")),
    ("finetune-freeze-everything-and-random-init", finetune("--freeze", "block.0-1",
                                                            "--random-init", "block.0-2"),
     ("block.2", "block.0-1")),
]


def _snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize(("args", "culprits"), [pytest.param(a, c, id=i)
                                                for i, a, c in [*CASES, *LONG_RUN_CASES]])
def test_bad_input_is_refused_cleanly(ws: Workspace, args: Args,
                                      culprits: tuple[str, ...]) -> None:
    argv = args(ws)
    before = _snapshot(ws.root)
    result = CliRunner().invoke(app, argv)
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output and not isinstance(result.exception, Exception), output
    for culprit in culprits:
        assert culprit in output, (culprit, output)
    assert "what to do:" in output or "Usage:" in output, output
    assert _snapshot(ws.root) == before, "something was written"


def test_enough_cases() -> None:
    assert len(CASES) >= 60 and len(LONG_RUN_CASES) >= 40
    names = [name for name, _, _ in [*CASES, *LONG_RUN_CASES]]
    assert len(set(names)) == len(names)


def test_no_misleading_length_warning_for_windowed_sentences(tiny_model_dir: Path) -> None:
    """alignscope windows long sentences itself: the tokenizer must not warn that they are too
    long for the model."""
    import logging

    from alignscope.models.encoder import load_encoder

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("transformers.tokenization_utils_base")
    logger.addHandler(handler)
    try:
        encoder = load_encoder(tiny_model_dir)
        encoder.tokenizer(" ".join(["cat"] * 200))
    finally:
        logger.removeHandler(handler)
    assert len(encoder.tokenizer(" ".join(["cat"] * 200))["input_ids"]) > 64
    assert not [r for r in records if "sequence length" in r.getMessage()]

"""A held-out set of bad inputs (not the test suite's table): for each, the exit status, whether
a traceback was printed, whether the message names the culprit, and whether anything was
written.

    python benchmarks/heldout_bad_inputs.py [--out /tmp/heldout.json]

Each case spoils one thing in an otherwise valid workspace (a tiny BERT, a tiny treebank, a
parallel folder, a finished fine-tuning run, a sweep folder) and runs the command in-process
(Typer's CliRunner). A case passes when the status is 2, there is no traceback, every culprit
string appears in the output and no file changed. Prints one line per case and the totals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

SENTENCE = ("# sent_id = s{n}\n# text = The cat sleeps .\n1\tThe\tthe\tDET\t_\t_\t2\tdet\t_\t_\n"
            "2\tcat\tcat\tNOUN\t_\t_\t3\tnsubj\t_\t_\n3\tsleeps\tsleep\tVERB\t_\t_\t0\troot\t_\t_\n"
            "4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_\n")


def conllu(count: int = 3) -> str:
    return "\n".join(SENTENCE.format(n=n) for n in range(1, count + 1)) + "\n"


class Workspace:
    """A folder with everything a valid command needs; cases spoil one thing."""

    def __init__(self, root: Path) -> None:
        import torch
        from transformers import BertConfig, BertModel, BertTokenizerFast

        self.root = root
        self.model = root / "model"
        self.model.mkdir()
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "The", "cat", "sleeps",
                 "le", "chat", "dort", ".", *"abcdefghijklmnopqrstuvwxyz", "##s"]
        (self.model / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        BertTokenizerFast(vocab_file=str(self.model / "vocab.txt"), model_max_length=64,
                          do_lower_case=False).save_pretrained(self.model)
        torch.manual_seed(0)
        BertModel(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                             num_attention_heads=2, intermediate_size=32,
                             max_position_embeddings=64)).save_pretrained(self.model)
        self.data = root / "data"
        for name in ("en_tiny-ud-train", "en_tiny-ud-dev", "en_tiny-ud-test", "fr_tiny-ud-test"):
            self.write(f"data/{name}.conllu", conllu())
        self.train = self.write("train.conllu", conllu())
        self.write("par/en.txt", "The cat sleeps .\nThe cat sleeps .\n")
        self.write("par/fr.txt", "Le chat dort .\nLe chat dort .\n")
        self.out = root / "out"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def experiment(self, **changes: Any) -> Path:
        import yaml

        spec: dict[str, Any] = {
            "name": "tiny", "model": str(self.model), "data_dir": str(self.data), "seeds": [1],
            "tasks": {"pos": {"source": "ud:en_tiny", "targets": ["ud:fr_tiny"]}},
            "random_init": {"reference": True}, "finetune": {"epochs": 1}, "threads": 1}
        for key, value in changes.items():
            node = spec
            *parents, last = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        return self.write("exp.yaml", yaml.safe_dump(spec))

    def finished_run(self) -> Path:
        """A fine-tuning run folder, trained for real (once)."""
        run = self.root / "run"
        if not (run / "results.json").is_file():
            from typer.testing import CliRunner

            from alignscope.cli import app

            result = CliRunner().invoke(app, [
                "finetune", "--model", str(self.model), "--train", "ud:en_tiny", "--eval",
                "ud:fr_tiny", "--data-dir", str(self.data), "--out", str(run), "--epochs", "1",
                "--threads", "1", "--device", "cpu", "--no-progress"])
            assert result.exit_code == 0, result.output
        return run

    def sealed_sweep(self) -> Path:
        """A sweep folder whose one finetune run is sealed, hashes and all."""
        folder = self.root / "swept"
        results = (self.finished_run() / "results.json").read_text()
        record = {"name": "pos-REF-s1", "kind": "finetune", "key": "k", "status": "done",
                  "labels": {"task": "pos", "model": "m", "group": "REF", "seed": 1},
                  "config": {}, "files": {"finetune/results.json": hashlib.sha256(
                      results.encode()).hexdigest()}}
        self.write("swept/manifest.json", json.dumps({
            "schema": 1, "experiment": "tiny", "sweeps": [], "runs": {"pos-REF-s1": {
                "kind": "finetune", "key": "k", "status": "done", "labels": record["labels"],
                "deps": []}}}))
        self.write("swept/runs/pos-REF-s1/run.json", json.dumps(record))
        self.write("swept/runs/pos-REF-s1/finetune/results.json", results)
        return folder


Args = Callable[[Workspace], list[str]]


def sweep(*extra: str, **changes: Any) -> Args:
    return lambda w: ["sweep", str(w.experiment(**changes)), "--out", str(w.out),
                      "--no-progress", *extra]


def sweep_text(text: str | bytes) -> Args:
    return lambda w: ["sweep", str(w.write("exp.yaml", text)), "--out", str(w.out)]


def finetune(*extra: str) -> Args:
    return lambda w: ["finetune", "--model", str(w.model), "--train", str(w.train),
                      "--out", str(w.out), "--device", "cpu", "--threads", "1", "--no-progress",
                      *extra]


def lab_generate(*extra: str) -> Args:
    return lambda w: ["lab", "generate", "--out", str(w.out), "--sentences", "20",
                      "--languages", "en,xx", "--transforms", "xx=vocab-shift", *extra]


def similarity(*extra: str) -> Args:
    return lambda w: ["similarity", "--model", str(w.model), "--targets", "fr", "--parallel",
                      str(w.root / "par" / "{lang}.txt"), "--out", str(w.out), "--device",
                      "cpu", "--no-progress", *extra]


def state(w: Workspace, content: str) -> None:
    w.write("out/resume/state.json", content)


def report(folder: Callable[[Workspace], Path]) -> Args:
    return lambda w: ["report", str(folder(w)), "--out", str(w.out)]


def failed_sweep(w: Workspace) -> Path:
    """A sweep folder whose only run failed."""
    w.write("failed/manifest.json", json.dumps({
        "schema": 1, "experiment": "tiny", "sweeps": [], "runs": {"pos-REF-s1": {
            "kind": "finetune", "key": "k", "status": "failed", "labels": {}, "deps": [],
            "error": "boom"}}}))
    return w.root / "failed"


CASES: list[tuple[str, Args, tuple[str, ...]]] = [
    # sweep files
    ("sweep-seeds-empty", sweep(seeds=[]), ("seeds",)),
    ("sweep-seeds-repeated", sweep(seeds=[1, 1]), ("seeds", "twice")),
    ("sweep-no-tasks", sweep(tasks={}), ("tasks",)),
    ("sweep-no-targets", sweep(**{"tasks.pos.targets": []}), ("targets",)),
    ("sweep-task-typo", sweep(tasks={"tagging": {"source": "ud:en_tiny",
                                                 "targets": ["ud:fr_tiny"]}}),
     ("tagging",)),
    ("sweep-window-0", sweep(**{"random_init.window": 0}), ("random_init.window",)),
    ("sweep-no-group", sweep(**{"random_init.reference": False}), ("random_init", "no run")),
    ("sweep-group-garbage", sweep(**{"random_init.groups": ["blk.0"]}),
     ("random_init.groups.0", "blk.0")),
    ("sweep-lr-word", sweep(**{"finetune.lr": "fast"}), ("finetune.lr", "fast")),
    ("sweep-finetune-seed", sweep(**{"finetune.seed": 3}), ("finetune.seed", "set by the sweep")),
    ("sweep-measure-unknown", lambda w: sweep(**{
        "analyses.similarity.pretrained": True, "analyses.parallel": str(
            w.root / "par" / "{lang}.txt"),
        "analyses.similarity.settings.measures": ["cca"]})(w), ("cca",)),
    ("sweep-parallel-missing", sweep(**{"analyses.similarity.pretrained": True,
                                        "analyses.parallel": "nowhere/{lang}.txt"}),
     ("analyses.parallel", "nowhere")),
    ("sweep-keep-checkpoints-word", sweep(keep_checkpoints="maybe"), ("keep_checkpoints",)),
    ("sweep-yaml-tabs", sweep_text("name: t\n\tmodel: x\n"), ("exp.yaml", "YAML")),
    ("sweep-yaml-latin1", sweep_text("name: caf\xe9\n".encode("latin-1")), ("exp.yaml", "UTF-8")),
    ("sweep-set-unknown-key", sweep("--set", "modle=x"), ("modle",)),
    ("sweep-empty-default-variable", sweep(model="${ALIGNSCOPE_SURELY_UNSET:-}"),
     ("`model`", "empty")),  # the key written (`model:`), not `models`
    ("sweep-data-dir-a-file", lambda w: sweep(data_dir=str(w.train))(w), ("train.conllu",)),
    ("sweep-models-twice", lambda w: sweep_text(
        f"name: t\nmodels: [{w.model}, {w.model}]\nseeds: [1]\n"
        "tasks: {pos: {source: x, targets: [y]}}\n")(w), ("models", "twice")),
    ("sweep-model-and-models", lambda w: sweep(models=[str(w.model)])(w),
     ("`model` or `models`",)),
    # sweep folders
    ("report-out-a-file", lambda w: ["report", str(w.sealed_sweep()), "--out", str(w.train)],
     ("--out", "train.conllu")),
    ("report-manifest-a-list", lambda w: ["report", str(w.write("bad/manifest.json",
                                                                "[]").parent), "--out",
                                          str(w.out)], ("manifest.json",)),
    ("report-runs-subfolder", lambda w: ["report", str(w.sealed_sweep() / "runs"), "--out",
                                         str(w.out)], ("runs", "not a sweep folder")),
    ("status-of-a-file", lambda w: ["sweep", "status", str(w.train)], ("train.conllu",)),
    ("report-run-json-damaged", lambda w: ["report", str((w.sealed_sweep(), w.write(
        "swept/runs/pos-REF-s1/run.json", "{"))[0]), "--out", str(w.out)],
     ("pos-REF-s1",)),
    # resuming
    ("resume-damaged-state", lambda w: (state(w, "{"), finetune("--resume")(w))[1],
     ("state.json", "start the run again")),
    ("resume-state-of-another-version", lambda w: (state(w, '{"format": 99}'),
                                                   finetune("--resume")(w))[1],
     ("state.json", "version")),
    ("checkpoint-every-negative", finetune("--checkpoint-every", "-5"), ("--checkpoint-every",)),
    # the lab
    ("lab-languages-empty", lab_generate("--languages", ""), ("--languages",)),
    ("lab-languages-twice", lab_generate("--languages", "en,en"), ("twice",)),
    ("lab-transform-no-equals", lab_generate("--transforms", "xx"), ("xx", "LANG=")),
    ("lab-script-unknown", lab_generate("--transforms", "xx=vocab-shift:klingon"), ("klingon",)),
    ("lab-copy-combined", lab_generate("--transforms", "xx=copy+invert"), ("copy",)),
    ("lab-anchor-share-word", lab_generate("--anchor-share", "abc"), ("--anchor-share", "abc")),
    ("lab-parallel-sentences-0", lab_generate("--parallel-sentences", "0"),
     ("--parallel-sentences",)),
    ("lab-pretrain-corpus-missing", lambda w: ["lab", "pretrain", "--corpus", "nowhere",
                                               "--out", str(w.out)], ("nowhere",)),
    ("lab-pretrain-mask-prob", lambda w: ["lab", "pretrain", "--corpus", str(w.data),
                                          "--out", str(w.out), "--mask-prob", "1.5"],
     ("--mask-prob",)),
    # decoder options, layer specs and parallel files
    ("sim-prompt-last-without-template", similarity("--pooling", "prompt-last"),
     ("prompt-last", "--prompt-template")),
    ("sim-parallel-file-missing", lambda w: [*similarity()(w), "--parallel",
                                             f"en={w.root / 'par/en.txt'},fr=par/missing.txt"],
     ("missing.txt",)),
    ("sim-parallel-longer", lambda w: (w.write("par/fr.txt", "a\nb\nc\n"), similarity()(w))[1],
     ("fr.txt", "line")),
    ("finetune-freeze-beyond", finetune("--freeze", "embeddings,block.9"),
     ("--freeze", "block.9")),
    ("finetune-revert-empty-middle", finetune("--revert", "block.0;;block.1"), ("--revert",)),
    ("evaluate-sweep-root", lambda w: ["evaluate", "--checkpoint", str(w.sealed_sweep()),
                                       "--eval", str(w.train)], ("swept",)),
    ("stability-deleted-checkpoint", lambda w: [
        "stability", "--pretrained", str(w.model), "--finetuned",
        str(w.sealed_sweep() / "runs" / "pos-REF-s1"), "--langs", "en,fr", "--parallel",
        str(w.root / "par" / "{lang}.txt"), "--out", str(w.out), "--device", "cpu"],
     ("pos-REF-s1", "deleted")),
    # a second held-out round (2026-12-04 15:30, written after the first round's fixes)
    ("sweep-seed-word", sweep(seeds=["a"]), ("seeds",)),
    ("sweep-epochs-0", sweep(**{"finetune.epochs": 0}), ("finetune.epochs",)),
    ("sweep-threads-0", sweep(threads=0), ("threads",)),
    ("sweep-device-tpu", sweep(device="tpu"), ("device", "tpu")),
    ("sweep-unset-variable", sweep(data_dir="${ALIGNSCOPE_NOT_SET_X}"),
     ("ALIGNSCOPE_NOT_SET_X",)),
    ("sweep-set-no-equals", sweep("--set", "seeds"), ("--set", "seeds")),
    ("sweep-top-key-typo", sweep(analysis={}), ("analysis", "analyses")),
    ("sweep-group-beyond", sweep(**{"random_init.groups": ["block.7"]}), ("block.7",)),
    ("sweep-correlation-group-not-run", lambda w: sweep(**{
        "analyses.similarity.pretrained": True,
        "analyses.parallel": str(w.root / "par" / "{lang}.txt"),
        "analyses.correlation.groups": ["block.0"]})(w), ("analyses.correlation",)),
    ("sweep-other-experiment-in-out", lambda w: [
        "sweep", str(w.experiment()), "--out", str(w.sealed_sweep()), "--no-progress"],
     ("swept",)),
    ("report-empty-folder", report(lambda w: (w.root / "emptydir").mkdir() or
                                   w.root / "emptydir"), ("emptydir",)),
    ("report-missing-folder", report(lambda w: w.root / "nothere"), ("nothere",)),
    ("report-all-failed", report(failed_sweep), ("failed",)),
    ("lab-sentences-negative", lab_generate("--sentences", "-3"), ("--sentences",)),
    ("lab-anchor-share-nan", lab_generate("--anchor-share", "xx=nan"), ("--anchor-share",)),
    ("lab-language-upper", lab_generate("--languages", "en,XX", "--transforms",
                                        "XX=vocab-shift"), ("XX",)),
    ("lab-pretrain-steps-0", lambda w: ["lab", "pretrain", "--corpus", str(w.data), "--out",
                                        str(w.out), "--steps", "0"], ("--steps",)),
    ("sim-pooling-unknown", similarity("--pooling", "first-token"),
     ("--pooling", "first-token")),
    ("finetune-freeze-range-beyond", finetune("--freeze", "block.0-9"), ("--freeze", "block")),
    ("finetune-revert-only-separator", finetune("--revert", ";"), ("--revert",)),
    ("finetune-random-init-reversed", finetune("--random-init", "block.1-0"), ("block.1-0",)),
    ("sim-parallel-shorter-source", lambda w: (w.write("par/en.txt", "The cat sleeps .\n"),
                                               similarity()(w))[1], ("en.txt",)),
    ("sim-parallel-not-utf8", lambda w: (w.write("par/fr.txt", "Le chat d\xe9ort .\nLe chat .\n"
                                                 .encode("latin-1")), similarity()(w))[1],
     ("fr.txt",)),
    ("sim-parallel-no-lang-pattern", lambda w: [*similarity()(w), "--parallel",
                                                str(w.root / "par" / "fr.txt")], ("--parallel",)),
    ("finetune-eval-missing-file", finetune("--eval", "nowhere.conllu"), ("nowhere.conllu",)),
]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/heldout-bad-inputs.json"))
    args = parser.parse_args()
    from typer.testing import CliRunner

    from alignscope.cli import app

    rows = []
    with tempfile.TemporaryDirectory(prefix="heldout-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        os.environ["ALIGNSCOPE_CACHE"] = str(Path(tmp) / "cache")
        template = Workspace(base)
        template.finished_run()
        for name, make, culprits in CASES:
            root = Path(tmp) / name
            shutil.copytree(base, root)
            w = Workspace.__new__(Workspace)
            w.root, w.model, w.data = root, root / "model", root / "data"
            w.train, w.out = root / "train.conllu", root / "out"
            argv = make(w)
            before = snapshot(root)
            os.chdir(root)
            result = CliRunner().invoke(app, argv)
            output = result.output
            after = snapshot(root)
            written = sorted(set(after) - set(before) | {k for k in before
                                                         if after.get(k) != before[k]})
            row = {"case": name, "exit": result.exit_code,
                   "traceback": "Traceback" in output or (
                       result.exception is not None
                       and not isinstance(result.exception, SystemExit)),
                   "culprit_named": all(c in output for c in culprits),
                   "written": written, "message": output.strip().splitlines()[:2]}
            row["ok"] = row["exit"] == 2 and not row["traceback"] and row["culprit_named"] \
                and not written
            rows.append(row)
            print(f"{'ok ' if row['ok'] else 'BAD'} {name:38} exit {row['exit']} "
                  f"{'traceback ' if row['traceback'] else ''}"
                  f"{'' if row['culprit_named'] else 'culprit not named '}"
                  f"{'wrote ' + ','.join(written) if written else ''}")
    totals = {"cases": len(rows), "ok": sum(r["ok"] for r in rows),
              "exit_0": sum(r["exit"] == 0 for r in rows),
              "tracebacks": sum(r["traceback"] for r in rows),
              "culprit_named": sum(r["culprit_named"] for r in rows),
              "wrote_something": sum(bool(r["written"]) for r in rows)}
    args.out.write_text(json.dumps({"totals": totals, "cases": rows}, indent=1),
                        encoding="utf-8")
    print(json.dumps(totals))


if __name__ == "__main__":
    main()

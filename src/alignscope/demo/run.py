"""`alignscope demo`: generate languages -> pretrain a multilingual model and a source-only
control -> RANDOM-INIT sweep with similarity and stability -> report, all offline.

Every stage resumes: the corpus and the models are reused when their configuration matches
(an interrupted pretraining continues from its last checkpoint), and the sweeps redo only
unfinished runs. The demo folder holds:

  data/            the lab corpus (a data directory: ud:en_lab, --parallel ud:labpud)
  models/multilingual, models/control    pretrained checkpoints (use them as --model)
  sweep/, control/                       the sweeps (`alignscope sweep status` reads them)
  report/          the sweep report (report.html, figures, tables)
  REPORT.md        the findings: transfer against the control, anchors, RANDOM-INIT, CKA
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from alignscope.config import build, load_yaml
from alignscope.demo.options import DemoConfig
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError
from alignscope.experiments.spec import apply_overrides
from alignscope.io import atomic_directory

DEMO_FILE = "demo.json"


def load_demo_config(config: str | Path | dict[str, Any] | DemoConfig | None = None,
                     overrides: list[str] | None = None) -> dict[str, Any]:
    """The configuration's sections: the bundled demo.yaml, with the sections a file, a
    mapping or a DemoConfig gives instead, then the `--set`s."""
    if isinstance(config, DemoConfig):
        data = config.sections()
    elif config is None or isinstance(config, dict):
        data = build(DemoConfig, copy.deepcopy(config or {})).sections()
    else:
        data = build(DemoConfig, load_yaml(config), source=config).sections()
    return build(DemoConfig, apply_overrides(data, overrides or [])).sections()


def _section_error(section: str, error: ConfigError) -> ConfigError:
    """An options class's or the experiment's error, said of the demo configuration's section
    the user wrote (`sweep.finetune.epochs`, not the sweep's `finetune.epochs`)."""
    message = error.message.removeprefix("the experiment: ")
    if section == "sweep" and "key `" in message:
        message = message.replace("key `", "key `sweep.", 1)
    else:
        message = f"key `{section}`: {message}"
    hint = f"change it under `{section}` in the --config file or with --set {section}.KEY=VALUE"
    if section == "sweep" and error.hint != ConfigError.default_hint:  # advice of its own
        hint = error.hint
    return ConfigError(f"demo configuration, {message}", hint)


def _corpus_config(config: dict[str, Any]) -> Any:
    from alignscope.lab.generate import GenerateConfig

    try:
        return GenerateConfig(**{"seed": config["seed"], **config["corpus"]})
    except ConfigError as error:  # the options class names the bad key
        raise _section_error("corpus", error) from None


def _check(settings: dict[str, Any], out: Path) -> None:
    """Every section is valid before anything is generated or trained: the sweeps as far as
    they can be without their models and data, which the demo makes."""
    from alignscope.experiments.plan import check_offline
    from alignscope.experiments.spec import load_spec

    _corpus_config(settings)
    depths = {name: _pretrain_config(settings, out, extra).num_blocks
              for name, extra in (("sweep", {}), ("control", settings["control"]))}
    models = out / "models"
    for name, spec in sweep_specs(settings, out, models / "multilingual",
                                  models / "control").items():
        try:
            check_offline(load_spec(spec), depths[name])
        except ConfigError as error:
            raise _section_error("sweep", error) from None


def _corpus(config: dict[str, Any], out: Path) -> dict[str, Any]:
    from alignscope.lab.generate import generate, read_manifest

    generate_config = _corpus_config(config)
    folder = out / "data"
    if folder.exists():
        manifest = read_manifest(folder)
        if manifest["config"] == generate_config.to_dict():
            return manifest
        raise AlignscopeError(f"{folder} holds a corpus of another configuration", "use another "
                              "--out or delete it")
    return generate(generate_config, folder)


def _pretrain_config(config: dict[str, Any], out: Path, extra: dict[str, Any]) -> Any:
    from alignscope.lab.options import PretrainConfig

    try:
        return PretrainConfig(corpus=str(out / "data"), seed=config["seed"],
                              threads=config["threads"], tokenizer=str(out / "models" / "tokenizer"),
                              **{**config["pretrain"], **extra})
    except ConfigError as error:  # the options class names the bad key
        raise _section_error("control" if extra else "pretrain", error) from None


def _finished(folder: Path, config: Any) -> bool:
    """The folder holds a pretrained model of exactly this configuration (one recorded by an
    alignscope before results schema 2 is pretrained again)."""
    from alignscope.lab.options import PretrainConfig
    from alignscope.runs import load_run, result_file

    if not result_file(folder, "pretrain").is_file():
        return False
    try:
        recorded = dict(load_run(folder, "pretrain").data["config"])
    except DataFormatError:
        return False
    recorded["languages"] = tuple(recorded["languages"]) if recorded["languages"] else None
    return PretrainConfig(**recorded).identity() == config.identity()


def _pretrain_models(settings: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """The multilingual model and the source-only control, side by side when `jobs` > 1;
    both read one tokenizer, built first from every language of the corpus."""
    from alignscope.lab.pretrain import corpus_tokenizer, pretrain

    models = out / "models"
    configs = {"multilingual": _pretrain_config(settings, out, {}),
               "control": _pretrain_config(settings, out, settings["control"])}
    if not (models / "tokenizer" / "tokenizer.json").is_file():
        multilingual = configs["multilingual"]
        tokenizer = corpus_tokenizer(out / "data", multilingual.vocab_size,
                                     multilingual.max_length, multilingual.objective)
        with atomic_directory(models / "tokenizer") as tmp:
            tokenizer.save_pretrained(tmp)
    todo = {name: config for name, config in configs.items()
            if not _finished(models / name, config)}
    if todo:
        print(f"pretraining {' and '.join(todo)} ({configs['multilingual'].steps} steps)")
    background = None
    if "control" in todo and len(todo) == 2 and settings["jobs"] > 1:
        context = multiprocessing.get_context("spawn")  # a fresh torch, not a forked one
        background = ProcessPoolExecutor(1, mp_context=context)
        job = background.submit(pretrain, todo.pop("control"), models / "control", True, False)
    try:
        for name, config in todo.items():
            pretrain(config, models / name, overwrite=True)
        if background is not None:
            job.result()
    finally:
        if background is not None:
            background.shutdown(cancel_futures=True)
    return models / "multilingual", models / "control"


def sweep_specs(config: dict[str, Any], out: Path, multilingual: Path,
                control: Path) -> dict[str, dict[str, Any]]:
    """The two sweeps: RANDOM-INIT on the multilingual model; REF only on the control."""
    base = {**copy.deepcopy(config["sweep"]), "data_dir": str(out / "data"),
            "threads": config["threads"]}
    main = {**base, "models": [str(multilingual)]}
    control_spec = {**copy.deepcopy(base), "name": f"{base.get('name', 'demo')}-control",
                    "models": [str(control)], "random_init": {"reference": True}}
    analyses = dict(control_spec.get("analyses", {}))
    analyses.pop("stability", None)
    analyses["similarity"] = {"pretrained": True, "finetuned": False}
    control_spec["analyses"] = analyses
    return {"sweep": main, "control": control_spec}


def _word_retrieval(settings: dict[str, Any], out: Path, models: dict[str, Path]) -> None:
    """Word translation retrieval of each model against the lexicon, into words/NAME.json;
    kept while the model it was measured on is (its pretraining result's `created`)."""
    from alignscope.analysis.words import word_retrieval
    from alignscope.io import atomic_write_json
    from alignscope.lab.generate import read_manifest
    from alignscope.runs import load_run

    manifest = read_manifest(out / "data")
    source = manifest["source_language"]
    targets = [code for code in manifest["languages"] if code != source]
    for name, model in models.items():
        stamp = load_run(model, "pretrain").data["created"]
        path = out / "words" / f"{name}.json"
        if path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("of") == stamp:
            continue
        result = word_retrieval(model, out / "data", source, targets, device="cpu")
        atomic_write_json(path, {**result, "model": name, "of": stamp})


def _cpu_seconds() -> float:
    """User and system CPU time of this process and of the child processes it has waited for
    (the pretraining and sweep workers, once their pools shut down)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def run_demo(out: str | Path, config: str | Path | dict[str, Any] | DemoConfig | None = None,
             overrides: list[str] | None = None, progress: bool | None = None) -> dict[str, Path]:
    """Run (or resume) the whole demo into `out`; returns where the reports are."""
    from alignscope.demo.findings import TITLE, findings, write_findings
    from alignscope.experiments.sweep import run_sweep
    from alignscope.io import atomic_write_json
    from alignscope.progress import quiet_third_party
    from alignscope.report.render import render_report

    out = Path(out)
    settings = load_demo_config(config, overrides)
    quiet_third_party()  # in a log (and in the workers), no weight-loading bars
    _check(settings, out)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    last = {"wall": time.perf_counter(), "cpu": _cpu_seconds()}

    def lap(stage: str) -> None:
        """Each stage's wall time and CPU time (this process and its finished workers: the
        CPU figure is what load on a shared machine does not inflate)."""
        now = {"wall": time.perf_counter(), "cpu": _cpu_seconds()}
        timings[stage] = round(now["wall"] - last["wall"], 1)
        cpu[stage] = round(now["cpu"] - last["cpu"], 1)
        last.update(now)

    _corpus(settings, out)
    lap("generate")
    multilingual, control = _pretrain_models(settings, out)
    lap("pretrain")
    _word_retrieval(settings, out, {"multilingual": multilingual, "control": control})
    lap("word retrieval")
    for name, spec in sweep_specs(settings, out, multilingual, control).items():
        result = run_sweep(spec, out / name, jobs=settings["jobs"], progress=progress,
                           retry_failed=True)  # a re-run of the demo retries what failed
        if result.failed:
            raise AlignscopeError(f"{len(result.failed)} run(s) of the {name} sweep failed "
                                  f"({', '.join(result.failed[:3])}); see "
                                  f"`alignscope sweep status {out / name}`")
        lap(f"sweep {name}")
    sections = findings(out, settings, out / "report" / "figures")
    paths = render_report(out / "sweep", out / "report", preface=sections,
                          title=TITLE.replace("findings", "report"))
    written = write_findings(out, sections)
    lap("report")
    atomic_write_json(out / DEMO_FILE, {"config": settings, "seconds": timings,
                                        "cpu_seconds": cpu})
    return {"findings": written, "report": Path(paths["html"])}

"""`alignscope lab generate` and `alignscope lab pretrain`: synthetic languages and small
models pretrained on them, offline."""

from __future__ import annotations

from alignscope.cli._app import command, console, group, quiet_third_party
from alignscope.config import Progress, check_out_folder
from alignscope.lab.generate import GenerateConfig, GenerateOutput
from alignscope.lab.options import PretrainConfig, PretrainOutput

lab_app = group("lab", "Synthetic parallel languages and models pretrained on them.")


@command(lab_app, GenerateConfig, GenerateOutput)
def generate(config: GenerateConfig, output: GenerateOutput) -> None:
    """Generate parallel synthetic treebanks (UPOS, trees) in derived languages."""
    from alignscope.lab.generate import generate as run_generate

    manifest = run_generate(config, output.out, output.overwrite)
    out_console = console()
    for info in manifest["languages"].values():
        out_console.print(f"{info['treebank']}: {' + '.join(info['transforms']) or 'canonical'}, "
                          f"anchors {info['anchor_token_share']:.1%} of tokens")
    out_console.print(f"written to {output.out} (use --data-dir {output.out}; parallel set: "
                      "--parallel ud:labpud)")


@command(lab_app, PretrainConfig, PretrainOutput, Progress)
def pretrain(config: PretrainConfig, output: PretrainOutput, display: Progress) -> None:
    """Pretrain a small BERT (masked LM) or Llama-style decoder (causal LM) from scratch;
    resumes an interrupted run in --out."""
    from alignscope.lab.pretrain import pretrain as run_pretrain

    check_out_folder(output.out)
    quiet_third_party(not display.progress)
    result = run_pretrain(config, output.out, output.overwrite, show_progress=display.progress)
    out_console = console()
    for lang, scores in result["heldout"].items():
        perplexity = f" (perplexity {scores['perplexity']:.2f})" if "perplexity" in scores else ""
        out_console.print(f"{lang}: held-out {config.objective.upper()} loss "
                          f"{scores['loss']:.3f}{perplexity}, accuracy {scores['accuracy']:.1%}")
    out_console.print(f"model written to {output.out} (use --model {output.out}); loss curve "
                      f"{output.out / 'loss.png'}")

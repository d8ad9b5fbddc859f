"""`alignscope lab generate` and `alignscope lab pretrain`: synthetic languages and small
models pretrained on them, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignscope.cli._app import app, console, quiet_third_party, run_guarded
from alignscope.config import check_out_folder
from alignscope.errors import ConfigError

Opt = typer.Option
lab_app = typer.Typer(help="Synthetic parallel languages and models pretrained on them.",
                      no_args_is_help=True)
app.add_typer(lab_app, name="lab")


def split_list(value: str | None) -> list[str]:
    """`en, xx,yy` -> ['en', 'xx', 'yy']."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _assignments(value: str | None, option: str) -> dict[str, str]:
    """`xx=vocab-shift,yy=head-final` -> {'xx': 'vocab-shift', 'yy': 'head-final'}."""
    result: dict[str, str] = {}
    for item in split_list(value):
        code, sep, setting = item.partition("=")
        if not sep or not code.strip() or not setting.strip():
            raise ConfigError(f"bad {option} item {item!r}; write LANG=VALUE, e.g. "
                              f"{'xx=vocab-shift' if option == '--transform' else 'xx=0.1'}")
        result[code.strip()] = setting.strip()
    return result


def _anchor_shares(value: str) -> float | dict[str, float]:
    try:
        if "=" not in value:
            return float(value)
        return {code: float(share) for code, share in _assignments(value, "--anchor-share").items()}
    except ValueError:
        raise ConfigError(f"--anchor-share {value!r}: give a number (0.1) or LANG=NUMBER items "
                          "(xx=0,yy=0.3)") from None


@lab_app.command("generate")
def generate(
    out: Annotated[Path, Opt(help="Output folder: a data directory for --data-dir.")],
    languages: Annotated[str, Opt(help="Comma-separated codes (2-3 letters); the first is the "
                                       "source.")] = "en,xx,yy",
    transform: Annotated[str | None, Opt(help="LANG=T1+T2,... with T in vocab-shift[:latin|greek|"
                                              "cyrillic], head-final, adj-after-noun, invert.")]
    = None,
    anchor_share: Annotated[str, Opt(help="Share of lexemes a vocab-shifted language keeps "
                                          "identical: 0.1, or xx=0,yy=0.3.")] = "0.1",
    sentences: Annotated[int, Opt(help="Treebank sentences (train + dev + test).")] = 50_000,
    eval_sentences: Annotated[int | None, Opt(help="Dev and test sentences each (default "
                                                   "min(1000, sentences/10)).")] = None,
    parallel_sentences: Annotated[int, Opt(help="Sentences of the separate parallel set "
                                                "(LANG_labpud).")] = 1000,
    seed: Annotated[int, Opt()] = 1,
    overwrite: Annotated[bool, Opt(help="Replace an existing --out folder.")] = False,
) -> None:
    """Generate parallel synthetic treebanks (UPOS, trees) in derived languages."""

    def body() -> None:
        from alignscope.lab.generate import GenerateConfig, generate, language_specs

        specs = language_specs(split_list(languages), _assignments(transform, "--transform"),
                               _anchor_shares(anchor_share))
        manifest = generate(GenerateConfig(specs, sentences, eval_sentences, parallel_sentences,
                                           seed), out, overwrite)
        out_console = console()
        for info in manifest["languages"].values():
            out_console.print(f"{info['treebank']}: {' + '.join(info['transforms']) or 'canonical'}, "
                          f"anchors {info['anchor_token_share']:.1%} of tokens")
        out_console.print(f"written to {out} (use --data-dir {out}; parallel set: "
                      "--parallel ud:labpud)")

    run_guarded(body)


@lab_app.command("pretrain")
def pretrain(
    corpus: Annotated[Path, Opt(help="A `lab generate` folder (its text/LANG.train.txt).")],
    out: Annotated[Path, Opt(help="Output folder: a Hugging Face checkpoint.")],
    objective: Annotated[str, Opt(help="mlm: a BERT, masked LM | clm: a Llama-style decoder, "
                                       "next-token prediction.")] = "mlm",
    languages: Annotated[str | None, Opt(help="Pretrain on these languages only (default all); "
                                              "the tokenizer still covers all.")] = None,
    tokenizer: Annotated[str | None, Opt(help="Reuse this model folder's tokenizer.")] = None,
    vocab_size: Annotated[int, Opt(help="WordPiece vocabulary size.")] = 4000,
    layers: Annotated[int, Opt()] = 4,
    hidden: Annotated[int, Opt()] = 128,
    heads: Annotated[int | None, Opt(help="Attention heads (default hidden/64, at least 2).")]
    = None,
    kv_heads: Annotated[int | None, Opt(help="clm: key/value heads, dividing --heads "
                                             "(grouped-query attention; default one per head).")]
    = None,
    intermediate: Annotated[int | None, Opt(help="MLP width (default 4 x hidden; clm's SwiGLU "
                                                 "8/3 x hidden, rounded up to 32).")] = None,
    steps: Annotated[int, Opt()] = 2000,
    batch_size: Annotated[int, Opt()] = 64,
    lr: Annotated[float, Opt()] = 1e-3,
    dropout: Annotated[float, Opt()] = 0.1,
    seed: Annotated[int, Opt()] = 1,
    save_every: Annotated[int, Opt(help="Steps between resumable checkpoints.")] = 500,
    threads: Annotated[int | None, Opt(help="CPU threads.")] = None,
    device: Annotated[str, Opt(help="auto | cpu | cuda.")] = "auto",
    overwrite: Annotated[bool, Opt(help="Replace a finished model in --out.")] = False,
    quiet: Annotated[bool, Opt(help="No progress bar.")] = False,
) -> None:
    """Pretrain a small BERT (masked LM) or Llama-style decoder (causal LM) from scratch;
    resumes an interrupted run in --out."""

    def body() -> None:
        from alignscope.lab.pretrain import PretrainConfig
        from alignscope.lab.pretrain import pretrain as run_pretrain

        config = PretrainConfig(
            corpus=str(corpus), objective=objective,
            languages=tuple(split_list(languages)) or None, tokenizer=tokenizer,
            vocab_size=vocab_size, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads,
            intermediate=intermediate, steps=steps, batch_size=batch_size, lr=lr,
            dropout=dropout, seed=seed, save_every=save_every, threads=threads, device=device)
        check_out_folder(out)
        quiet_third_party(quiet)
        result = run_pretrain(config, out, overwrite, show_progress=not quiet)
        out_console = console()
        for lang, scores in result["heldout"].items():
            perplexity = f" (perplexity {scores['perplexity']:.2f})" \
                if "perplexity" in scores else ""
            out_console.print(f"{lang}: held-out {config.objective.upper()} loss "
                              f"{scores['loss']:.3f}{perplexity}, accuracy "
                              f"{scores['accuracy']:.1%}")
        out_console.print(f"model written to {out} (use --model {out}); loss curve {out / 'loss.png'}")

    run_guarded(body)


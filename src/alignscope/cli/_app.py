"""The Typer application that every command module registers on."""

import typer

app = typer.Typer(
    name="alignscope",
    help="Dissect how multilingual encoders achieve zero-shot cross-lingual transfer.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Fetch datasets (UD treebanks, NER corpora).", no_args_is_help=True)
app.add_typer(data_app, name="data")

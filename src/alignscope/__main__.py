"""`python -m alignscope`: the same CLI as the `alignscope` command."""

from alignscope.cli import app

app(prog_name="alignscope")

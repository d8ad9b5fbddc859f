"""The CLI starts without heavy libraries: `import alignscope.cli` and every `COMMAND --help`
leave torch, transformers, scikit-learn, seqeval, matplotlib and ray unimported."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "sklearn", "seqeval", "matplotlib", "ray")
SCRIPT = f"""
import json, sys
heavy = lambda: sorted(m for m in {HEAVY!r} if m in sys.modules)
import alignscope.cli
found = {{"import alignscope.cli": heavy()}}
from typer.testing import CliRunner
from alignscope.cli import app
from alignscope.cli.docs import commands
found["docs"] = heavy()
for path in [(), *(path for path, _ in commands())]:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    found[" ".join(("alignscope", *path, "--help"))] = heavy()
print(json.dumps(found))
"""


def test_help_imports_no_heavy_library() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          check=True)
    found = json.loads(done.stdout)
    assert len(found) >= 16  # the import, the docs walk, alignscope --help and 14 commands
    assert {step: modules for step, modules in found.items() if modules} == {}


def test_the_entry_point_help_imports_no_heavy_library() -> None:
    script = ("import runpy, sys\nsys.argv = ['alignscope', 'finetune', '--help']\n"
              "try:\n    runpy.run_module('alignscope', run_name='__main__')\n"
              "except SystemExit:\n    pass\n"
              f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert "--epochs N" in done.stdout and done.stderr.strip().splitlines()[-1] == "[]"

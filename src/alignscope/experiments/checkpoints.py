"""Interrupted fine-tunes of a sweep continue from their last checkpoint, not from step 0.

Each fine-tuning run checkpoints its whole training state (alignscope.train_state) in
`OUT/resume/NAME/`, at every epoch end and every `finetune.checkpoint_every` steps; a run
killed with its sweep, by a lost worker or a lost Ray node, resumes from there when it runs
again. The checkpoint outlives the fine-tune itself until the run is sealed: a run killed
during its analyses (similarity, stability of the fine-tuned model) redoes only the final
evaluation. A checkpoint of another configuration is refused before any run starts.

A Ray task on another node uses the folder only if it sees this very sweep folder (a shared
filesystem): `OUT/resume/.sweep-id` holds a random token that the task compares. Otherwise
the task checkpoints into its own temporary folder, and a run lost with its node restarts
from step 0 (with the same results: a seed fixes a run).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from alignscope import train_state
from alignscope.experiments.plan import RunSpec
from alignscope.experiments.store import RunConflictError
from alignscope.io import atomic_write_text

RESUME = "resume"
_TOKEN = ".sweep-id"


class Checkpoints:
    def __init__(self, out: str | Path) -> None:
        self.root = Path(out).resolve() / RESUME

    def folder(self, name: str) -> Path:
        return self.root / name

    def step(self, run: RunSpec) -> int | None:
        """The step an unfinished run would resume from (None: from scratch); a checkpoint
        of another configuration is refused."""
        from alignscope.training.config import RUNTIME_FIELDS

        if run.kind != "finetune":
            return None
        folder = self.folder(run.name)
        try:
            checkpoint = train_state.load(folder, run.config["finetune"], runtime=RUNTIME_FIELDS)
        except train_state.ConfigChanged as error:
            raise RunConflictError(
                f"{folder} holds the checkpoint of an unfinished run of another configuration "
                f"({error.changes})", "use another --out, or remove that folder to start the "
                "run again") from None
        return None if checkpoint is None else int(checkpoint.progress["step"])

    def saved_step(self, name: str) -> int | None:
        """The step of a run's checkpoint, read without checking it (for `sweep status`)."""
        try:
            state = json.loads((self.folder(name) / train_state.STATE_FILE).read_text())
            return int(state["progress"]["step"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def runtime(self, run: RunSpec) -> dict[str, Any]:
        """What a fine-tuning run needs to find its checkpoint folder."""
        if run.kind != "finetune":
            return {}
        token = self.root / _TOKEN
        if not token.is_file():
            atomic_write_text(token, secrets.token_hex(16))
        return {"state_dir": str(self.folder(run.name)), "state_token": token.read_text()}

    def remove(self, name: str) -> None:
        train_state.remove(self.folder(name))


def state_dir(runtime: dict[str, Any]) -> Path | None:
    """The sweep's checkpoint folder of a run, if this process sees the sweep folder itself."""
    if "state_dir" not in runtime:
        return None
    folder = Path(runtime["state_dir"])
    try:
        seen = (folder.parent / _TOKEN).read_text()
    except OSError:
        return None
    return folder if seen == runtime["state_token"] else None

"""Progress display: a live bar on a terminal, plain timestamped lines elsewhere, or silence."""

from __future__ import annotations

import io
import re

import pytest

from alignscope.progress import JobProgress


def events(display: JobProgress) -> None:
    with display:
        display.started("pos-REF-s1", "local")
        display.finished("pos-REF-s1", "done")
        display.started("pos-REF-s2", "local")
        display.finished("pos-REF-s2", "failed", "worker lost")


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    events(JobProgress("sweep", 2, stream=stream))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert all(re.match(r"\d\d:\d\d:\d\d \[\d/2\] ", line) for line in lines)
    assert lines[0].endswith("[0/2] start pos-REF-s1 (local)")
    assert re.search(r"\[1/2\] done pos-REF-s1 in \d+\.\d s$", lines[1])
    assert re.search(r"\[2/2\] failed pos-REF-s2 in \d+\.\d s: worker lost$", lines[3])


def test_silent_when_disabled() -> None:
    stream = io.StringIO()
    events(JobProgress("sweep", 2, enabled=False, stream=stream))
    assert stream.getvalue() == ""


def test_live_bar_when_forced() -> None:
    stream = io.StringIO()
    display = JobProgress("sweep", 2, enabled=True, stream=stream)
    assert display.progress is not None
    events(display)
    text = stream.getvalue()
    assert "start pos-REF-s1 (local)" in text and "2/2" in text and "sweep" in text
    assert not re.search(r"^\d\d:\d\d:\d\d ", text, re.M)  # the bar's log: no timestamps
    assert display.progress.tasks[0].completed == 2


def test_third_party_bars_are_off_in_a_log_and_on_at_a_terminal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from transformers.utils import logging as hf_logging

    from alignscope.progress import quiet_third_party

    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS",
                 "TRANSFORMERS_VERBOSITY"):
        monkeypatch.delenv(name, raising=False)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet_third_party(stream=Terminal())
    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
    quiet_third_party(stream=io.StringIO())  # a log file: bars off, warnings kept
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert "TRANSFORMERS_VERBOSITY" not in os.environ
    assert not hf_logging.is_progress_bar_enabled()  # imported before: switched off too
    hf_logging.enable_progress_bar()

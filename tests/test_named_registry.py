"""The shared registry type: lookups, and unknown names with close matches and the choices."""

from __future__ import annotations

import pytest

from alignscope.errors import UnknownNameError, did_you_mean
from alignscope.registry import Registry


def test_register_and_look_up() -> None:
    measures: Registry[int] = Registry("measure")
    measures.register("linear", 1)

    @measures.register("debiased")
    def debiased() -> int:
        return 2

    assert measures["linear"] == 1 and measures["debiased"] is debiased
    assert measures.names == ("linear", "debiased") and list(measures) == ["linear", "debiased"]
    assert "linear" in measures and "rbf" not in measures and len(measures) == 2
    assert measures.check("linear") == "linear"


def test_unknown_name_lists_close_matches_and_choices() -> None:
    tasks: Registry[str] = Registry("task")
    for name in ("pos", "parsing", "ner"):
        tasks.register(name, name)
    with pytest.raises(UnknownNameError) as caught:
        tasks["postag"]
    assert str(caught.value) == ("unknown task 'postag'; did you mean pos?; "
                                 "available: ner, parsing, pos")
    with pytest.raises(ValueError, match="registered twice"):
        tasks.register("pos", "again")


def test_one_rule_for_close_matches() -> None:
    """Unknown names, option keys and sweep keys are all answered by `did_you_mean`."""
    assert did_you_mean("postag", ["pos", "parsing", "ner"]) == "; did you mean pos?"
    assert did_you_mean("seeds", {"seed", "seeds_", "lr"}) == "; did you mean seeds_, seed?"  # closest first
    assert did_you_mean("xyz", ["pos"]) == ""

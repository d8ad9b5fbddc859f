"""Freeze and revert act on exactly the RANDOM-INIT selection, on every family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel

from alignscope.layer_names import LayerSelection
from alignscope.models.ablation import freeze, revert, revert_point, reverted
from alignscope.models.reinit import select_parameters


@pytest.mark.parametrize("family", ["llama", "gpt2", "xlm-roberta"])
def test_freeze_turns_off_exactly_the_selection(families: dict[str, Path], family: str) -> None:
    model = AutoModel.from_pretrained(families[family])
    selection = LayerSelection((0, 2), embeddings=True)
    records = freeze(model, selection, scope="ffn")
    expected = list(select_parameters(model, selection, scope="ffn"))
    assert [r.name for r in records] == expected
    assert [name for name, p in model.named_parameters() if not p.requires_grad] == expected
    assert all(r.to_dict() == {"name": r.name, "shape": list(r.shape)} for r in records)


@pytest.mark.parametrize("family", ["qwen2", "bert"])
def test_revert_restores_the_pretrained_tensors_exactly(families: dict[str, Path],
                                                        family: str) -> None:
    model = AutoModel.from_pretrained(families[family])
    pretrained = {k: v.clone() for k, v in model.state_dict().items()}
    point = revert_point(model, LayerSelection((1,), embeddings=True))
    torch.manual_seed(0)
    with torch.no_grad():  # stands in for fine-tuning: every tensor moves
        for param in model.parameters():
            param.add_(0.01 * torch.randn_like(param))
    tuned = {k: v.clone() for k, v in model.state_dict().items()}

    with reverted(model, point) as records:
        assert [r.name for r in records] == list(point.tensors)
        state = model.state_dict()
        for name in state:
            assert torch.equal(state[name], pretrained[name] if name in point.tensors
                               else tuned[name]), name
        for record in records:  # the drift undone, against numpy's norms
            moved = tuned[record.name].double().numpy() - pretrained[record.name].double().numpy()
            expected = np.linalg.norm(moved) / np.linalg.norm(pretrained[record.name].double().numpy())
            assert record.change == pytest.approx(expected, rel=1e-9)
    # Leaving the block puts the fine-tuned values back.
    assert all(torch.equal(v, tuned[k]) for k, v in model.state_dict().items())

    records = revert(model, point)  # and without the block it stays reverted
    assert all(torch.equal(model.state_dict()[r.name], pretrained[r.name]) for r in records)


def test_revert_point_keeps_cpu_copies_not_views(families: dict[str, Path]) -> None:
    model = AutoModel.from_pretrained(families["llama"])
    point = revert_point(model, LayerSelection((2,)), scope="attention")
    params = dict(model.named_parameters())
    for name, saved in point.tensors.items():
        assert saved.device.type == "cpu" and saved.data_ptr() != params[name].data_ptr()
    assert all(".self_attn." in name for name in point.tensors)

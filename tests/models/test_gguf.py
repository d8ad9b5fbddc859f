"""GGUF models: tiny Llama, Qwen2 and Gemma 3 checkpoints written to GGUF files here (with the
`gguf` package's writer, in llama.cpp's conventions), loaded with `--model FILE.gguf`, give the
hidden states of the same weights loaded from safetensors; a quantised file gives those of its
dequantised weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel, Gemma3TextConfig, PreTrainedTokenizerFast

from alignscope.analysis.similarity import SimilarityConfig, run_similarity
from alignscope.errors import AlignscopeError
from alignscope.experiments.plan import model_depth
from alignscope.models import gguf as gguf_models
from alignscope.models.encoder import load_encoder
from alignscope.training.config import FinetuneConfig
from alignscope.training.finetune import finetune

ARCHITECTURES = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2,
                 "gemma3_text": gguf.MODEL_ARCH.GEMMA3}
SENTENCES = ["The quick brown fox jumps over the lazy dog .",
             "Le président a déclaré mardi que la réforme serait votée .",
             "Die Regierung hat gestern ein neues Gesetz beschlossen ."]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Converted GGUF tokenizers and configs stay in this test's own cache."""
    monkeypatch.setenv("ALIGNSCOPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _llama_cpp_permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's q/k row order for Llama (convert_hf_to_gguf.py's `permute`)."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]) \
        .swapaxes(1, 2).reshape(weight.shape)


def _tokenizer_metadata(writer: gguf.GGUFWriter, tokenizer: PreTrainedTokenizerFast,
                        byte_level: bool) -> None:
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    tokens = [token for token, _ in vocab]
    special = set(tokenizer.all_special_tokens)
    types = [gguf.TokenType.UNKNOWN if token == tokenizer.unk_token and not byte_level else
             gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL
             for token in tokens]
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_tokenizer_model("gpt2" if byte_level else "llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(index) for index in range(len(tokens))])
    writer.add_token_types(types)
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    if not byte_level:
        writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_add_bos_token(not byte_level)


def write_gguf(folder: Path, out: Path, quantise: gguf.GGMLQuantizationType | None = None,
               ) -> Path:
    """The safetensors checkpoint in `folder` as a GGUF file, the way llama.cpp writes it:
    llama.cpp tensor names, Llama q/k rows permuted, Gemma norms stored as 1 + w; 2-D weights
    quantised to `quantise` if given, norms and biases kept in F32."""
    config = AutoConfig.from_pretrained(folder)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    arch = ARCHITECTURES[config.model_type]
    writer = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[arch])
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    rope = config.rope_parameters
    writer.add_rope_freq_base(rope["full_attention"]["rope_theta"] if "full_attention" in rope
                              else rope["rope_theta"])
    if arch == gguf.MODEL_ARCH.LLAMA:
        writer.add_rope_dimension_count(head_dim)
    if arch == gguf.MODEL_ARCH.GEMMA3:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_sliding_window(config.sliding_window)
    _tokenizer_metadata(writer, tokenizer, byte_level=arch == gguf.MODEL_ARCH.QWEN2)
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    for name, tensor in load_file(folder / "model.safetensors").items():
        data = tensor.float().numpy()
        if arch == gguf.MODEL_ARCH.LLAMA and name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = config.num_attention_heads if "q_proj" in name else config.num_key_value_heads
            data = _llama_cpp_permute(data, heads)
        if arch == gguf.MODEL_ARCH.GEMMA3 and name.endswith("norm.weight"):
            data = data + 1
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if quantise is not None and data.ndim == 2:
            writer.add_tensor(target, gguf.quants.quantize(data, quantise), raw_dtype=quantise)
        else:
            writer.add_tensor(target, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


@pytest.fixture(scope="module")
def gemma3_gguf_ready(families: dict[str, Path], family_model: Any,
                      tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Gemma 3 whose config a GGUF file can state: llama.cpp stores no layer pattern,
    no query scale and no local rope base, so they are Gemma 3's defaults (every 6th layer
    global, query_pre_attn_scalar 256, local base 10,000); a 4-token sliding window."""
    config = Gemma3TextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=6,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                              sliding_window=4, max_position_embeddings=256)
    assert config.layer_types.count("full_attention") == 1
    return family_model(config, PreTrainedTokenizerFast.from_pretrained(families["gemma3"]),
                        tmp_path_factory.mktemp("gemma3_gguf_ready"), seed=2)


def checkpoints(families: dict[str, Path], gemma3: Path) -> dict[str, Path]:
    return {"llama": families["llama"], "qwen2": families["qwen2"], "gemma3": gemma3}


def hidden_states(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        states = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    return torch.stack(states)[:, 0]


@pytest.mark.parametrize("family", ["llama", "qwen2", "gemma3"])
def test_a_gguf_file_gives_the_hidden_states_of_its_safetensors_twin(
        families: dict[str, Path], gemma3_gguf_ready: Path, tmp_path: Path,
        family: str) -> None:
    folder = checkpoints(families, gemma3_gguf_ready)[family]
    path = write_gguf(folder, tmp_path / f"{family}.gguf")
    from_gguf, reference = load_encoder(path), load_encoder(folder)
    assert type(from_gguf.model) is type(reference.model) and from_gguf.is_causal
    assert from_gguf.source == str(path) and from_gguf.num_blocks == reference.num_blocks
    assert {p.dtype for p in from_gguf.model.parameters()} == {torch.float32}
    for text in SENTENCES:
        ids = reference.tokenizer(text)["input_ids"]
        expected = hidden_states(reference.model, ids)
        torch.testing.assert_close(hidden_states(from_gguf.model, ids), expected,
                                   atol=1e-5, rtol=1e-5)
        assert (expected[-1] - expected[1]).abs().max() > 0.1  # the blocks do something
    if family == "llama":  # a sentencepiece vocabulary with its merges reads back the same
        assert [from_gguf.tokenizer(t)["input_ids"] for t in SENTENCES] == \
            [reference.tokenizer(t)["input_ids"] for t in SENTENCES]
    for text in SENTENCES:  # the file's own tokenizer is whole and usable
        ids = from_gguf.tokenizer(text)["input_ids"]
        assert from_gguf.tokenizer.decode(ids, skip_special_tokens=True).strip() == text


def test_a_quantised_file_gives_the_states_of_its_dequantised_weights(
        families: dict[str, Path], tmp_path: Path) -> None:
    q8 = gguf.GGMLQuantizationType.Q8_0
    path = write_gguf(families["llama"], tmp_path / "llama-q8_0.gguf", quantise=q8)
    weights = load_file(families["llama"] / "model.safetensors")
    dequantised = {name: torch.from_numpy(gguf.quants.dequantize(
        gguf.quants.quantize(tensor.numpy(), q8), q8)) if tensor.ndim == 2 else tensor
        for name, tensor in weights.items()}
    assert any(not torch.equal(dequantised[n], weights[n]) for n in weights)  # it is lossy
    twin = tmp_path / "dequantised"
    AutoConfig.from_pretrained(families["llama"]).save_pretrained(twin)
    save_file(dequantised, twin / "model.safetensors", metadata={"format": "pt"})
    reference = AutoModel.from_pretrained(twin).eval()
    encoder = load_encoder(path)
    assert encoder.gguf["quantisation"] == {"F32": 7, "Q8_0": 22}
    ids = encoder.tokenizer(SENTENCES[1])["input_ids"]
    torch.testing.assert_close(hidden_states(encoder.model, ids), hidden_states(reference, ids),
                               atol=1e-5, rtol=1e-5)


def test_the_chosen_dtype_and_a_folder_with_a_gguf_file_name(families: dict[str, Path],
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    write_gguf(families["qwen2"], folder / "tiny.gguf")
    encoder = load_encoder(folder, gguf_file="tiny.gguf", dtype="bfloat16")
    assert {p.dtype for p in encoder.model.parameters()} == {torch.bfloat16}
    assert encoder.gguf["file"] == "tiny.gguf"
    with pytest.raises(AlignscopeError, match=r"has no GGUF file 'other.gguf' \(files there: tiny.gguf\)"):
        load_encoder(folder, gguf_file="other.gguf")


def test_the_tokenizer_is_converted_once_per_file(families: dict[str, Path], tmp_path: Path,
                                                  private_cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_gguf(families["llama"], tmp_path / "llama.gguf")
    first = load_encoder(path)
    entries = list((private_cache / "gguf").iterdir())
    assert len(entries) == 1 and entries[0].name == hashlib.sha256(path.read_bytes()).hexdigest()[:32]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf_models, "_convert", refuse)
    again = load_encoder(path)
    assert [again.tokenizer(t)["input_ids"] for t in SENTENCES] == \
        [first.tokenizer(t)["input_ids"] for t in SENTENCES]


def test_results_record_the_gguf_file(families: dict[str, Path], tmp_path: Path,
                                      data_slices: Path) -> None:
    path = write_gguf(families["qwen2"], tmp_path / "qwen2.gguf")
    result = run_similarity(SimilarityConfig(
        model=str(path), targets=("fr",), data_dir=str(data_slices), max_sentences=20,
        controls=(), measures=("linear",), device="cpu"))
    assert result["model"]["gguf"] == {
        "file": "qwen2.gguf", "size": path.stat().st_size, "architecture": "qwen2",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "quantisation": {"F32": len(load_file(families["qwen2"] / "model.safetensors"))}}
    assert all(np.isfinite(v) for v in result["results"]["linear"]["parallel"]["fr"])


def test_finetune_and_sweep_planning_take_a_gguf_file(families: dict[str, Path], tmp_path: Path,
                                                      data_slices: Path) -> None:
    path = write_gguf(families["llama"], tmp_path / "llama.gguf")
    assert model_depth(str(path)) == 3
    out = tmp_path / "run"
    results = finetune(FinetuneConfig(
        model=str(path), train="ud:en_ewt", eval=["ud:fr_pud"], data_dir=str(data_slices),
        epochs=1, batch_size=8, max_train_sentences=16, max_dev_sentences=8,
        max_eval_sentences=8, threads=1), out, show_progress=False)
    assert results["model"]["gguf"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert results["model"]["class"] == "LlamaModel" and results["training"]["steps"] == 2
    saved = load_encoder(out)  # the fine-tuned encoder is an ordinary safetensors folder
    assert saved.gguf is None and (out / "checkpoint/encoder/model.safetensors").is_file()


def test_an_architecture_transformers_cannot_read_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state-space.gguf"
    writer = gguf.GGUFWriter(path, "mamba2")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(AlignscopeError, match="holds a 'mamba2' model, and transformers cannot"):
        load_encoder(path)
    (tmp_path / "not.gguf").write_bytes(b"this is no gguf file")
    with pytest.raises(AlignscopeError, match="not a readable GGUF file"):
        load_encoder(tmp_path / "not.gguf")


def test_missing_packages_are_named_before_loading(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_models.importlib.util, "find_spec",
                        lambda name: None if name == "accelerate" else object())
    with pytest.raises(AlignscopeError, match=r"needs the accelerate package") as caught:
        load_encoder(tmp_path / "absent.gguf")
    assert "alignscope[gguf]" in str(caught.value.hint)


def test_a_gguf_file_loads_with_its_lm_head_for_the_lens(lm_families: dict[str, Path],
                                                         tmp_path: Path) -> None:
    """`head=True` (lens, neurons) reads the file's output weights: the logits of its twin."""
    folder = lm_families["llama"]
    path = write_gguf(folder, tmp_path / "llama-lm.gguf")
    from_gguf, reference = load_encoder(path, head=True), load_encoder(folder, head=True)
    assert from_gguf.lm is not None and reference.lm is not None
    ids = torch.tensor([reference.tokenizer(SENTENCES[2])["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(from_gguf.lm(ids).logits, reference.lm(ids).logits,
                                   atol=1e-5, rtol=1e-5)

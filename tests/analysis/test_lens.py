"""The lens against an independent implementation from the papers' definitions.

Wendler et al. (2024), logit lens: p_layer = softmax(W_U · norm(h_layer)), h_layer the residual
stream (hidden_states[k] of transformers for k < L; the last layer is the model's own logits);
the answer's probability is the sum over its tokens, its rank that of its best token, the
entropy -Σ p log2 p. Here the norm and the unembedding are written out from their formulas
(RMSNorm, Gemma's (1 + w) RMSNorm, LayerNorm; tanh soft-capping), not called as modules.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

from alignscope.analysis.lens.answers import Vocabulary, first_token
from alignscope.analysis.lens.run import run_lens
from alignscope.analysis.lens.tasks import TaskSpec, build_prompt, cloze_query
from alignscope.analysis.lens.words import Concept, read_words
from alignscope.analysis.llm_settings import LensConfig
from alignscope.errors import AlignscopeError, DataFormatError

LANGUAGES = ("fr", "de", "zh")


def _rms(h: torch.Tensor, weight: torch.Tensor, eps: float, plus_one: bool) -> torch.Tensor:
    scale = (1 + weight) if plus_one else weight
    return h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + eps) * scale


def _layer_norm(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float):
    mean = h.mean(-1, keepdim=True)
    var = (h - mean).pow(2).mean(-1, keepdim=True)
    return (h - mean) / torch.sqrt(var + eps) * weight + bias


@torch.no_grad()
def independent_logits(family: str, model, item: dict) -> list[np.ndarray]:
    """Every layer's logits at the item's read position, from the definitions."""
    ids = torch.tensor([item["input_ids"]])
    with torch.no_grad():
        output = model(input_ids=ids, output_hidden_states=True)
    position = item["position"]
    states = [h[0, position].double() for h in output.hidden_states[:-1]]
    config = model.config
    logits = []
    for h in states:
        if family == "llama":
            z = _rms(h, model.model.norm.weight.double(), config.rms_norm_eps, False)
            out = z @ model.lm_head.weight.double().T
        elif family == "gemma3":
            z = _rms(h, model.model.norm.weight.double(), config.rms_norm_eps, True)
            cap = config.final_logit_softcapping
            out = torch.tanh(z @ model.model.embed_tokens.weight.double().T / cap) * cap
        else:  # gpt2
            ln = model.transformer.ln_f
            z = _layer_norm(h, ln.weight.double(), ln.bias.double(), ln.eps)
            out = z @ model.transformer.wte.weight.double().T
        logits.append(out.numpy())
    logits.append(output.logits[0, position].double().numpy())  # the last layer: the model's own
    return logits


def measures(logits: np.ndarray, ids: list[int]) -> tuple[float, range, float]:
    """Probability mass of `ids`, the ranks their best token may have (tokens within float32
    rounding of it may fall either side), entropy in bits."""
    p = np.exp(logits - logits.max())
    p /= p.sum()
    chosen = p[ids]
    best = chosen.max()
    ranks = range(1 + int((p > best * (1 + 1e-5)).sum()), 2 + int((p > best * (1 - 1e-5)).sum()))
    entropy = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    return float(chosen.sum()), ranks, entropy


@pytest.fixture(scope="module")
def logit_runs(lm_families: dict[str, Path], data_slices: Path,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    runs = {}
    for family in ("llama", "gemma3", "gpt2"):
        out = tmp_path_factory.mktemp("lens") / family
        runs[family] = run_lens(LensConfig(model=str(lm_families[family]), languages=LANGUAGES,
                                           lenses=("logit",), max_items=3, device="cpu",
                                           data_dir=str(data_slices)), out)
    return runs


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2"])
def test_logit_lens_agrees_with_the_definition(family: str, logit_runs: dict[str, dict],
                                               lm_families: dict[str, Path]) -> None:
    result = logit_runs[family]
    model = AutoModelForCausalLM.from_pretrained(lm_families[family]).eval()
    tokenizer = AutoTokenizer.from_pretrained(lm_families[family])
    assert result["readout"]["max_relative_difference"] < 1e-5
    assert {item["task"] for item in result["items"]} == {"translation", "repetition", "cloze"}
    for item in result["items"]:
        assert tokenizer(item["prompt"])["input_ids"] == item["input_ids"]
        assert item["position"] == len(item["input_ids"]) - 1
        values = item["values"]["logit"]
        for layer, logits in enumerate(independent_logits(family, model, item)):
            prob, rank, entropy = measures(logits, item["target_ids"])
            assert values["target.prob"][layer] == pytest.approx(prob, abs=1e-5)
            assert values["target.rank"][layer] in rank
            assert values["entropy"][layer] == pytest.approx(entropy, abs=1e-4)
            assert values["top_token"][layer] == int(np.argmax(logits))
            latent = measures(logits, item["latent_ids"]["en"])
            assert values["latent.en.prob"][layer] == pytest.approx(latent[0], abs=1e-5)
            if item["control_ids"]:
                control = measures(logits, item["control_ids"]["en"])
                assert values["control.en.prob"][layer] == pytest.approx(control[0], abs=1e-5)


def test_controls_are_other_concepts_with_disjoint_tokens(logit_runs) -> None:
    items = logit_runs["gpt2"]["items"]
    with_control = [item for item in items if item["control"]]
    assert len(with_control) >= len(items) // 2
    for item in with_control:
        assert item["control"]["en"] != item["latent"]["en"]
        assert not set(item["control_ids"]["en"]) & (set(item["target_ids"])
                                                     | set(item["latent_ids"]["en"]))
        same_task = {i["latent"]["en"] for i in items if (i["task"], i["source"], i["target"])
                     == (item["task"], item["source"], item["target"])}
        assert item["control"]["en"] in same_task


def test_curves_are_means_over_items_with_intervals(logit_runs: dict[str, dict],
                                                    check_result, tmp_path_factory) -> None:
    result = logit_runs["llama"]
    key = "translation:fr-de"
    items = [i for i in result["items"] if i["task"] == "translation"
             and (i["source"], i["target"]) == ("fr", "de")]
    curve = result["curves"]["logit"][key]["target.prob"]
    values = np.array([i["values"]["logit"]["target.prob"] for i in items])
    assert curve["mean"] == pytest.approx(values.mean(0).tolist())
    assert curve["n"] == [len(items)] * len(result["layers"])
    from scipy import stats
    half = stats.t.ppf(0.975, len(items) - 1) * values.std(0, ddof=1) / math.sqrt(len(items))
    assert curve["high"] == pytest.approx((values.mean(0) + half).tolist())
    rr = result["curves"]["logit"][key]["target.rr"]["mean"]
    ranks = np.array([i["values"]["logit"]["target.rank"] for i in items])
    assert rr == pytest.approx((1 / ranks).mean(0).tolist())
    assert result["layers"] == ["embeddings", "block.0", "block.1", "block.2"]
    counts = result["item_counts"][key]
    assert counts["items"] == len(items) and counts["missing"] == 0


def test_written_run_validates_and_tables_match(logit_runs, tmp_path: Path, check_result,
                                                lm_families, data_slices) -> None:
    out = tmp_path / "run"
    result = run_lens(LensConfig(model=str(lm_families["gpt2"]), languages=("de",),
                                 tasks=("repetition",), lenses=("logit",), max_items=2,
                                 device="cpu"), out)
    assert check_result(out / "lens.json")["items"] == result["items"]
    rows = (out / "curves.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "lens,task,metric,layer,mean,low,high,n"
    metrics = result["curves"]["logit"]["repetition:de"]
    assert {"target.prob", "target.rr", "latent.en.prob", "entropy"} <= set(metrics)
    assert len(rows) == 1 + len(metrics) * 4  # metrics x layers


@torch.no_grad()
def test_masked_lm_reads_the_mask_through_its_head(lm_families, data_slices) -> None:
    result = run_lens(LensConfig(model=str(lm_families["bert"]), languages=("fr", "de"),
                                 tasks=("translation",), lenses=("logit",), max_items=2,
                                 demos=1, device="cpu"))
    model = AutoModelForMaskedLM.from_pretrained(lm_families["bert"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(lm_families["bert"])
    head = model.cls.predictions
    assert result["items"]
    for item in result["items"]:
        assert item["prompt"].endswith(tokenizer.mask_token)
        assert item["input_ids"][item["position"]] == tokenizer.mask_token_id
        with torch.no_grad():
            states = model(input_ids=torch.tensor([item["input_ids"]]),
                           output_hidden_states=True).hidden_states
        for layer, hidden in enumerate(states):
            h = hidden[0, item["position"]].double()
            z = head.transform.dense.weight.double() @ h + head.transform.dense.bias.double()
            z = 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))  # GELU
            norm = head.transform.LayerNorm
            z = _layer_norm(z, norm.weight.double(), norm.bias.double(), norm.eps)
            logits = (head.decoder.weight.double() @ z + head.bias.double()).numpy()
            prob, rank, _ = measures(logits, item["target_ids"])
            assert item["values"]["logit"]["target.prob"][layer] == pytest.approx(prob, abs=1e-5)
            assert item["values"]["logit"]["target.rank"][layer] in rank


@torch.no_grad()
def test_tuned_lens_trains_saves_and_is_reused(lm_families, data_slices, tmp_path: Path) -> None:
    config = dict(model=str(lm_families["llama"]), languages=("fr", "de"), tasks=("translation",),
                  max_items=2, device="cpu", data_dir=str(data_slices), train_tokens=400,
                  tuned_steps=40, tuned_batch=64, tuned_lr=3e-3)
    first = run_lens(LensConfig(**config), tmp_path / "first")
    saved = tmp_path / "first" / "tuned-lens"
    meta = json.loads((saved / "tuned-lens.json").read_text(encoding="utf-8"))
    assert meta["languages"] == ["fr", "de", "en"] and meta["sentences"]["heldout"] == 20
    heldout = first["tuned_lens"]["heldout_kl_bits"]
    for lang in ("fr", "de", "en"):
        logit, tuned = heldout["logit"][lang], heldout["tuned"][lang]
        assert logit[-1] == pytest.approx(0, abs=1e-6) and tuned[-1] == pytest.approx(0, abs=1e-6)
        assert all(t < g for t, g in zip(tuned[:-1], logit[:-1], strict=True))  # held out
    # the tuned values are readout(A h + b) with the saved translators
    weights = load_file(str(saved / "tuned-lens.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(lm_families["llama"]).eval()
    item = first["items"][0]
    with torch.no_grad():
        states = model(input_ids=torch.tensor([item["input_ids"]]),
                       output_hidden_states=True).hidden_states
        for layer, name in enumerate(first["layers"][:-1]):
            h = states[layer][0, item["position"]].double()
            h = weights[f"{name}.weight"].double() @ h + weights[f"{name}.bias"].double()
            z = _rms(h, model.model.norm.weight.double(), model.config.rms_norm_eps, False)
            prob, _, _ = measures((model.lm_head.weight.double() @ z).numpy(), item["target_ids"])
            assert item["values"]["tuned"]["target.prob"][layer] == pytest.approx(prob, abs=1e-5)
    reused = run_lens(LensConfig(**config, tuned_lens=str(saved)))
    assert [i["values"]["tuned"] for i in reused["items"]] == \
        [i["values"]["tuned"] for i in first["items"]]
    assert not reused["tuned_lens"]["trained_here"]
    with pytest.raises(DataFormatError, match="another model"):
        run_lens(LensConfig(**{**config, "model": str(lm_families["gemma3"])},
                            tuned_lens=str(saved)))


def test_bfloat16_weights(lm_families, data_slices) -> None:
    result = run_lens(LensConfig(model=str(lm_families["llama"]), languages=("fr",),
                                 tasks=("repetition",), max_items=2, dtype="bfloat16",
                                 train_tokens=64, heldout_tokens=32, tuned_steps=2, device="cpu",
                                 data_dir=str(data_slices)))
    assert result["readout"]["max_relative_difference"] < 3e-2
    assert all(0 <= p <= 1 for item in result["items"]
               for p in item["values"]["tuned"]["target.prob"])


def test_answer_tokens_follow_the_prefix_rule(lm_families) -> None:
    for family in ("llama", "gpt2"):
        tokenizer = AutoTokenizer.from_pretrained(lm_families[family])
        vocabulary = Vocabulary(tokenizer)
        for word in ("fleur", "Stadt", "livre"):
            found = set(vocabulary.prefix_tokens(word))
            # independent: each prefix, with and without a space, encoded alone as one token
            singles = set()
            for end in range(1, len(word) + 1):
                for text in (word[:end], " " + word[:end]):
                    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                    if len(ids) == 1:
                        singles.add(ids[0])
            assert singles <= found and found
            for token in found:
                text = tokenizer.decode([tokenizer.convert_tokens_to_ids("a"), token])[1:]
                assert word.startswith(text.removeprefix(" ")) and text.strip()
    gpt2 = Vocabulary(AutoTokenizer.from_pretrained(lm_families["gpt2"]))
    first_byte = "书".encode()[:1]  # byte-level BPE: the first byte of a CJK character
    assert set(gpt2.index[first_byte]) <= set(gpt2.prefix_tokens("书"))


def test_first_token_rule(lm_families) -> None:
    tokenizer = AutoTokenizer.from_pretrained(lm_families["gpt2"])
    prompt = 'Deutsch: "'
    full = tokenizer(prompt + "Stadt", add_special_tokens=False)["input_ids"]
    body = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert first_token(tokenizer, prompt, "Stadt") == full[len(body)]
    result = run_lens(LensConfig(model=str(lm_families["gpt2"]), languages=("de", "fr"),
                                 tasks=("translation",), lenses=("logit",), max_items=3,
                                 answer_tokens="first", device="cpu"))
    for item in result["items"]:
        assert item["target_ids"] == [item["first_token"]]
        prompt = item["prompt"]
        assert item["latent_ids"]["en"] == [first_token(tokenizer, prompt, item["latent"]["en"])]


def test_prompts_follow_the_paper() -> None:
    concepts = [Concept(w, {"fr": f, "zh": z, "en": w}, {"fr": c})
                for w, f, z, c in [("book", "livre", "书", 'Un "___" sert à lire. Réponse : "livre".'),
                                   ("cat", "chat", "猫", 'Un "___" ronronne. Réponse : "chat".'),
                                   ("dog", "chien", "狗", 'Un "___" aboie. Réponse : la "chien".')]]
    from alignscope.analysis.lens.tasks import PromptOptions
    options = PromptOptions(demos=2, cloze_demos=2, seed=3)
    prompt = build_prompt(TaskSpec("translation", "fr", "zh"), concepts[0], concepts, options, "x")
    lines = prompt.split("\n")
    assert lines[-1] == 'Français: "livre" - 中文: "'
    assert sorted(lines[:-1]) == ['Français: "chat" - 中文: "猫"', 'Français: "chien" - 中文: "狗"']
    cloze = build_prompt(TaskSpec("cloze", None, "fr"), concepts[2], concepts, options, "x")
    assert cloze.endswith('Un "___" aboie. Réponse : la "')
    assert 'Un "___" ronronne. Réponse : "chat".\n' in cloze
    assert cloze_query('"_"用来阅读故事。答案："书"。', "x") == '"_"用来阅读故事。答案："'
    with pytest.raises(DataFormatError, match="quoted blank"):
        cloze_query("no blank here", "words.csv")


def test_builtin_word_list() -> None:
    words = read_words("builtin")
    assert len(words.concepts) >= 60 and len(words.languages) >= 6
    assert {"en", "fr", "de", "es", "ru", "zh", "ja"} <= set(words.languages)
    assert all(len(c.words) == len(words.languages) for c in words.concepts)
    cloze = [c for c in words.concepts if c.cloze]
    assert len(cloze) >= 30
    for concept in cloze:
        for lang, text in concept.cloze.items():
            assert text.endswith(f'"{concept.words[lang]}".') and '"___"' in text


def test_latent_language_layout_is_read_as_is(tmp_path: Path) -> None:
    header = "lang,word_original,word_translation,blank_prompt_original,blank_prompt_translation," \
             "blank_prompt_translation_masked,error\n"
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "clean.csv").write_text(
        header + 'fr,cloud,nuage,x,y,"Un ""___"" flotte. Réponse : ""nuage"".",no error\n'
        'fr,bag,sac,x,y,"Un ""___"" porte. Réponse : ""sac"".",no error\n'
        'fr,bag,sachet,x,y,z,no error\n', encoding="utf-8")
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "clean.csv").write_text(
        "lang,word_original,word_translation\nzh,cloud,云\nzh,sun,日\n", encoding="utf-8")
    words = read_words(tmp_path)
    assert words.layout == "latent-language" and words.duplicates == 1
    by_id = {c.id: c for c in words.concepts}
    assert by_id["cloud"].words == {"en": "cloud", "fr": "nuage", "zh": "云"}
    assert by_id["bag"].words == {"en": "bag", "fr": "sac"}
    assert by_id["cloud"].cloze == {"fr": 'Un "___" flotte. Réponse : "nuage".'}


def test_bad_word_lists_name_the_problem(tmp_path: Path, lm_families) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("en,French\nbook,livre\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.csv:1: column 'French'"):
        read_words(bad)
    bad.write_text("en,fr\nbook,livre\nbook,bouquin\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.csv:3: concept 'book' already on line 2"):
        read_words(bad)
    with pytest.raises(DataFormatError, match="no word in language 'xx'"):
        run_lens(LensConfig(model=str(lm_families["gpt2"]), languages=("xx",)))


def test_a_model_without_its_head_is_refused(families) -> None:
    with pytest.raises(AlignscopeError, match=r"lm_head\.weight"):
        run_lens(LensConfig(model=str(families["llama"]), languages=("fr",), lenses=("logit",)))

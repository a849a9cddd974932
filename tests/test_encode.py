"""``Encoder.encode`` / ``encode_all_layers``: layer selection, batching, the oneDNN CPU path and the
model-forward path (with its hooks and early stop), all against a plain per-sentence computation.

Fast: everything runs on the tiny 2-layer, 32-dim BERT from ``conftest.py``.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from scriptbridge.models import Encoder, load_encoder, loading

TEXTS = [
    "the cat sat on the mat",
    "i like green tea",
    "",
    "a",
    "where is the train station and where is the park, the dog runs in the park",
    "यह एक किताब है",
    "मुझे चाय पसंद है",
    "猫はマットの上に座った",
    "hello world, how are you?",
    "kutta park mein daudta hai",
    "tea",
    "the dog " * 40,  # longer than the 64 positions: truncated
    "green tea green tea",
    "고양이가 매트 위에 앉았다",
]


def reference(enc: Encoder, texts: list[str], prefix: str = "", pooling: str = "mean") -> np.ndarray:
    """Every layer of every text, one text at a time, through the model's own forward:
    float32 ``[num_layers + 1, n, hidden]``."""
    out = []
    for text in texts:
        batch = enc.tokenizer(prefix + text, truncation=True, max_length=enc.max_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = enc.model(input_ids=batch["input_ids"], output_hidden_states=True).hidden_states
        out.append([(h[0].mean(0) if pooling == "mean" else h[0, 0]).numpy() for h in hidden])
    return np.asarray(out, dtype=np.float32).transpose(1, 0, 2).reshape(enc.num_layers + 1, len(texts), -1)


@pytest.fixture(params=["onednn", "forward"])
def encoder(request, tiny_encoder, monkeypatch) -> Encoder:
    """The session's tiny encoder, once through the oneDNN CPU path and once through the model's forward."""
    if request.param == "forward":
        monkeypatch.setattr(tiny_encoder, "cpu_fast_path", False)
        assert tiny_encoder._cpu_bert() is None
    else:
        assert tiny_encoder._cpu_bert() is not None, "the tiny BERT should take the oneDNN path"
    return tiny_encoder


@pytest.fixture(scope="module")
def ref(tiny_encoder) -> np.ndarray:
    return reference(tiny_encoder, TEXTS)


# --------------------------------------------------------------------------- layers


def test_all_layers_match_per_sentence_forward(encoder, ref):
    got = encoder.encode_all_layers(TEXTS)
    assert got.shape == (3, len(TEXTS), 32) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_selected_layers_are_slices_in_the_order_given(encoder, ref):
    full = encoder.encode_all_layers(TEXTS)
    for layers in ([2], [0], [1], [2, 0], [1, 2, 0], [0, 1], [1, 1], []):
        got = encoder.encode_all_layers(TEXTS, layers=layers)
        assert got.shape == (len(layers), len(TEXTS), 32)
        np.testing.assert_allclose(got, full[layers], atol=1e-6, rtol=0, err_msg=str(layers))
    for k in range(3):
        np.testing.assert_allclose(encoder.encode(TEXTS, layer=k), full[k], atol=1e-6, rtol=0)
        np.testing.assert_allclose(encoder.encode(TEXTS, layer=k), ref[k], atol=1e-5, rtol=0)
    np.testing.assert_allclose(encoder.encode(TEXTS), full[2], atol=1e-6, rtol=0)


def test_negative_layers(encoder):
    full = encoder.encode_all_layers(TEXTS)
    got = encoder.encode_all_layers(TEXTS, layers=[-1, -2, -3, 0])
    np.testing.assert_allclose(got, full[[2, 1, 0, 0]], atol=1e-6, rtol=0)
    np.testing.assert_allclose(encoder.encode(TEXTS, layer=-2), full[1], atol=1e-6, rtol=0)


@pytest.mark.parametrize("bad", [3, -4, 100, 1.0, "1", None, True])
def test_invalid_layer_raises(tiny_encoder, bad):
    with pytest.raises(ValueError, match="layer"):
        tiny_encoder.encode_all_layers(TEXTS, layers=[0, bad])
    with pytest.raises(ValueError, match="layer"):
        tiny_encoder.encode_all_layers([], layers=[bad])  # checked before anything runs
    if bad is not None:
        with pytest.raises(ValueError, match="layer"):
            tiny_encoder.encode(TEXTS, layer=bad)


def test_numpy_integer_layers(tiny_encoder):
    full = tiny_encoder.encode_all_layers(TEXTS)
    got = tiny_encoder.encode_all_layers(TEXTS, layers=np.array([2, 0]))
    np.testing.assert_allclose(got, full[[2, 0]], atol=1e-6, rtol=0)


def test_pooling_and_normalize_options(encoder):
    cls = encoder.encode_all_layers(TEXTS, layers=[0, 2], pooling="cls", normalize=True)
    want = reference(encoder, TEXTS, pooling="cls")[[0, 2]]
    want /= np.linalg.norm(want, axis=-1, keepdims=True)
    np.testing.assert_allclose(cls, want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        encoder.encode(TEXTS, layer=0, pooling="cls", normalize=True), cls[0], atol=1e-6
    )
    with pytest.raises(ValueError, match="pooling"):
        encoder.encode_all_layers(TEXTS, layers=[1], pooling="max")
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode_all_layers(TEXTS, batch_size=0)


def test_prefix(encoder):
    got = encoder.encode_all_layers(TEXTS[:5], layers=[1, 2], prefix="query: ")
    np.testing.assert_allclose(
        got, reference(encoder, TEXTS[:5], prefix="query: ")[[1, 2]], atol=1e-5, rtol=0
    )


# --------------------------------------------------------------------------- batching


def test_order_preserved_with_shuffled_lengths(encoder):
    rng = random.Random(7)
    words = "the cat sat on a mat and the dog ran in green park".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 30))) for _ in range(60)]
    rng.shuffle(texts)
    got = encoder.encode_all_layers(texts, layers=[2, 1], batch_size=3)
    want = reference(encoder, texts)[[2, 1]]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("batch_size", [1, 2, 5, 32, 10_000])
@pytest.mark.parametrize("per_thread", [1, 16, 100, 1_000_000])
def test_independent_of_batch_size_and_token_budget(encoder, ref, batch_size, per_thread, monkeypatch):
    monkeypatch.setattr(encoder, "cpu_tokens_per_thread", per_thread)
    got = encoder.encode_all_layers(TEXTS, batch_size=batch_size)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_batches_cover_every_text_once_within_the_budget(tiny_encoder, monkeypatch):
    rng = random.Random(3)
    texts = [" ".join(["tea"] * rng.randint(0, 40)) for _ in range(200)]
    monkeypatch.setattr(tiny_encoder, "cpu_tokens_per_thread", 64)
    budget = tiny_encoder._token_budget(32, tiny_encoder.max_length)
    assert budget == 64 * torch.get_num_threads()
    lengths = [len(x) for x in tiny_encoder.tokenizer(texts, truncation=True, max_length=64)["input_ids"]]
    seen = []
    for rows, ids, mask in tiny_encoder._batches(texts, "", 32, 512):
        assert ids.shape == mask.shape and ids.dtype == mask.dtype == np.int64
        assert ids.size <= budget or len(rows) == 1
        assert mask.sum(axis=1).tolist() == [lengths[i] for i in rows]
        assert mask[:, 0].all() and mask.any(axis=0).all()  # right-padded, no all-pad column
        seen += rows.tolist()
    assert sorted(seen) == list(range(len(texts)))
    # on the CPU batch_size still bounds the budget when it is the smaller one
    assert tiny_encoder._token_budget(1, 10) == 10


def test_empty_input_and_single_string(encoder):
    assert encoder.encode_all_layers([]).shape == (3, 0, 32)
    assert encoder.encode_all_layers([], layers=[2, 0]).shape == (2, 0, 32)
    assert encoder.encode_all_layers([], layers=[]).shape == (0, 0, 32)
    assert encoder.encode([]).shape == (0, 32)
    one = encoder.encode_all_layers("the cat sat", layers=[1])
    assert one.shape == (1, 1, 32)
    np.testing.assert_allclose(one[0], encoder.encode(["the cat sat"], layer=1), atol=1e-6)


def test_progress_bar(encoder, ref, capsys):
    got = encoder.encode_all_layers(TEXTS, progress=True, batch_size=2)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert capsys.readouterr().out == ""  # the bar goes to stderr


# --------------------------------------------------------------------------- paths


def test_hook_path_stops_early_and_leaves_the_model_as_it_was(tiny_encoder, monkeypatch):
    monkeypatch.setattr(tiny_encoder, "cpu_fast_path", False)
    calls = []
    handle = tiny_encoder.model.encoder.layer[1].register_forward_hook(lambda *a: calls.append(1))
    try:
        tiny_encoder.encode(TEXTS, layer=1)
        tiny_encoder.encode_all_layers(TEXTS, layers=[0, 1])
        assert calls == []  # layer 2 (module index 1) never ran
        tiny_encoder.encode(TEXTS, layer=2)
        assert calls
        # outside encode the hooks do nothing: the model's own forward is unchanged
        batch = tiny_encoder.tokenizer(TEXTS[:3], padding=True, return_tensors="pt")
        with torch.inference_mode():
            out = tiny_encoder.model(**batch, output_hidden_states=True)
        assert len(out.hidden_states) == 3
    finally:
        handle.remove()


def test_output_hidden_states_fallback(tiny_encoder, ref, monkeypatch):
    """Models whose layer list is not found: no hooks, no early stop, same numbers."""
    monkeypatch.setattr(tiny_encoder, "cpu_fast_path", False)
    monkeypatch.setattr(tiny_encoder, "_hooked", lambda: False)
    np.testing.assert_allclose(tiny_encoder.encode_all_layers(TEXTS, layers=[1, 0]), ref[[1, 0]], atol=1e-5)
    np.testing.assert_allclose(tiny_encoder.encode(TEXTS), ref[2], atol=1e-5)


def test_fast_path_follows_weight_changes_and_training_mode(tiny_encoder_dir):
    enc = load_encoder(str(tiny_encoder_dir), device="cpu")  # its own copy: the weights get modified
    before = enc.encode(TEXTS)
    fast = enc._cpu_bert()
    assert fast is not None and enc._cpu_bert() is fast  # cached
    with torch.no_grad():
        enc.model.encoder.layer[0].output.dense.weight.mul_(2.0)
    assert enc._cpu_bert() is not fast  # rebuilt
    after = enc.encode(TEXTS)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, reference(enc, TEXTS)[-1], atol=1e-5, rtol=0)
    enc.model.train()
    assert enc._cpu_bert() is None
    enc.model.eval()
    assert enc._cpu_bert() is not None


def test_fast_path_refuses_other_architectures(tiny_encoder):
    from transformers import BertConfig, BertModel

    cfg = BertConfig(**{**tiny_encoder.model.config.to_dict(), "hidden_act": "relu"})
    model = BertModel(cfg, add_pooling_layer=False).eval()
    enc = Encoder(model, tiny_encoder.tokenizer, spec="relu", name="relu", source="test")
    assert enc._cpu_bert() is None
    np.testing.assert_allclose(enc.encode_all_layers(TEXTS), reference(enc, TEXTS), atol=1e-5, rtol=0)


def test_fast_path_self_check_falls_back_with_a_warning(tiny_encoder_dir, monkeypatch):
    enc = load_encoder(str(tiny_encoder_dir), device="cpu")
    monkeypatch.setattr(loading._CpuBert, "_matches_model", lambda self, encoder: False)
    with pytest.warns(RuntimeWarning, match="fast CPU path"):
        assert enc._cpu_bert() is None
    np.testing.assert_allclose(enc.encode(TEXTS), reference(enc, TEXTS)[-1], atol=1e-5, rtol=0)

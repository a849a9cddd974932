"""From-scratch Unigram tokenizer + small BERT: the tokenizer is a real SentencePiece-style Unigram model
with BERT's special-token layout, the model is sized from it, and the saved folder loads through
``load_encoder`` like any other checkpoint."""

from __future__ import annotations

import json
import pickle
import random
import unicodedata
import warnings
from pathlib import Path

import pytest

from scriptbridge.models.scratch import (
    SPECIAL_TOKENS,
    ScratchConfig,
    ScratchError,
    build_scratch_model,
    save_scratch,
    train_unigram_tokenizer,
)

# Syllables in three scripts (no nukta or presentation forms, so every text is NFKC-stable and
# decoding must give it back unchanged).
_SYLLABLES = {
    "latin": [c + v for c in "kmtsrlnpdg" for v in "aeiou"],
    "devanagari": [c + v for c in "कमतसरलनपदग" for v in ("", "ा", "ि", "ी", "ु", "े", "ो")],
    "arabic": [c + v for c in "كمتسرلنبدج" for v in ("", "ا", "و", "ي")],
}
VOCAB = 300
SMALL = ScratchConfig(
    vocab_size=VOCAB, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_position=64
)


def _corpus(n: int = 600, seed: int = 0) -> list[str]:
    """Pseudo-word sentences, one script each, with enough distinct words to fill VOCAB pieces."""
    rng = random.Random(seed)
    lexicon = {
        script: ["".join(rng.choice(syl) for _ in range(rng.randint(2, 4))) for _ in range(80)]
        for script, syl in _SYLLABLES.items()
    }
    scripts = list(lexicon)
    return [" ".join(rng.choice(lexicon[scripts[i % 3]]) for _ in range(rng.randint(3, 9))) for i in range(n)]


CORPUS = _corpus()


@pytest.fixture(scope="module")
def tok():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # this corpus is big enough: no size warning
        tokenizer = train_unigram_tokenizer(CORPUS, VOCAB)
    tokenizer.model_max_length = SMALL.max_position
    return tokenizer


@pytest.fixture(scope="module")
def model(tok):
    import torch

    torch.manual_seed(0)
    return build_scratch_model(SMALL, tok).eval()


# ---------------------------------------------------------------------- tokenizer


def test_corpus_is_nfkc_stable_and_multiscript():
    assert all(unicodedata.normalize("NFKC", t) == t for t in CORPUS)
    assert any("\u0900" <= c <= "\u097f" for c in CORPUS[1]) and any(
        "\u0600" <= c <= "\u06ff" for c in CORPUS[2]
    )


def test_unigram_with_metaspace_and_nfkc(tok):
    from tokenizers import models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    assert isinstance(tok, PreTrainedTokenizerFast)
    backend = tok.backend_tokenizer
    assert isinstance(backend.model, models.Unigram)
    assert isinstance(backend.pre_tokenizer, pre_tokenizers.Metaspace)
    assert backend.pre_tokenizer.replacement == "\u2581"
    assert isinstance(backend.normalizer, normalizers.NFKC)
    assert len(tok) == VOCAB
    assert tok.tokenize(CORPUS[0])[0].startswith("\u2581")
    # NFKC folds compatibility forms (fullwidth letters, ligatures) onto the ordinary pieces
    word = CORPUS[0].split()[0]
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in word)
    assert tok(fullwidth)["input_ids"] == tok(word)["input_ids"]


def test_special_ids(tok):
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == [0, 1, 2, 3, 4]
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (
        0,
        1,
        2,
        3,
        4,
    )
    assert tok(chr(0x10330))["input_ids"][1:-1].count(1) >= 1  # an unseen script is [UNK]


@pytest.mark.parametrize("text", CORPUS[:30] + CORPUS[-30:])
def test_round_trip(tok, text):
    ids = tok(text)["input_ids"]
    assert 1 not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_single_and_pair_layout(tok):
    a, b = CORPUS[0], CORPUS[1]
    ids_a = tok(a, add_special_tokens=False)["input_ids"]
    ids_b = tok(b, add_special_tokens=False)["input_ids"]

    single = tok(a)
    assert single["input_ids"] == [2, *ids_a, 3]
    assert single["token_type_ids"] == [0] * (len(ids_a) + 2)

    pair = tok(a, b)
    assert pair["input_ids"] == [2, *ids_a, 3, *ids_b, 3]
    assert pair["token_type_ids"] == [0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1)
    assert pair["attention_mask"] == [1] * len(pair["input_ids"])

    # the id-level helpers BERT-style MLM/TLM code uses agree with __call__
    assert tok.build_inputs_with_special_tokens(ids_a, ids_b) == pair["input_ids"]
    assert tok.create_token_type_ids_from_sequences(ids_a, ids_b) == pair["token_type_ids"]
    mask = tok.get_special_tokens_mask(ids_a, ids_b)
    assert mask == [int(i in (2, 3)) for i in pair["input_ids"]]
    assert tok.build_inputs_with_special_tokens(ids_a) == single["input_ids"]
    assert tok.create_token_type_ids_from_sequences(ids_a) == single["token_type_ids"]
    assert tok.get_special_tokens_mask(ids_a) == [1] + [0] * len(ids_a) + [1]
    assert tok.get_special_tokens_mask(pair["input_ids"], already_has_special_tokens=True) == mask


def test_padding_batch(tok):
    batch = tok(CORPUS[:4], padding=True)
    width = max(len(tok(t)["input_ids"]) for t in CORPUS[:4])
    for ids, att in zip(batch["input_ids"], batch["attention_mask"], strict=True):
        assert len(ids) == width
        assert all(i == 0 for i, m in zip(ids, att, strict=True) if m == 0)


def test_lowercase_option():
    words = ["Mountain River", "Yellow Garden Window", "School Market"] * 20
    with pytest.warns(UserWarning, match="pieces"):  # three phrases cannot fill 40 pieces
        tok = train_unigram_tokenizer(words, 40, lowercase=True)
    assert tok.tokenize("RIVER") == tok.tokenize("river")
    assert tok.decode(tok("Mountain RIVER")["input_ids"], skip_special_tokens=True) == "mountain river"


def test_deterministic(tok):
    # the raw trainer is not (hash-map order, parallel float sums); three runs make a shuffle likely to show
    for texts in (CORPUS, iter(CORPUS), list(CORPUS)):  # a one-shot iterator works too
        again = train_unigram_tokenizer(texts, VOCAB)
        assert again.get_vocab() == tok.get_vocab()
        assert again.backend_tokenizer.to_str() == tok.backend_tokenizer.to_str()


def test_pieces_in_score_order(tok):
    vocab = json.loads(tok.backend_tokenizer.to_str())["model"]["vocab"]
    assert [piece for piece, _ in vocab[:5]] == list(SPECIAL_TOKENS)
    keys = [(-score, piece) for piece, score in vocab[5:]]
    assert keys == sorted(keys)


def test_small_corpus_warns_with_real_size():
    tiny = ["kama lipu", "नदी घर", "كتاب بيت"] * 5
    with pytest.warns(UserWarning, match=r"asked for a Unigram vocabulary of 300") as caught:
        tok = train_unigram_tokenizer(tiny, 300)
    assert len(tok) < 300
    assert f"has {len(tok)} pieces" in str(caught[0].message)
    assert tok.decode(tok("नदी घर")["input_ids"], skip_special_tokens=True) == "नदी घर"


@pytest.mark.parametrize("texts", [[], ["", "  ", "\n"], (t for t in ())], ids=["list", "blank", "generator"])
def test_empty_corpus(texts):
    with pytest.raises(ScratchError, match="empty"):
        train_unigram_tokenizer(texts, 100)


def test_bad_inputs():
    with pytest.raises(ScratchError, match="not a str"):
        train_unigram_tokenizer(["fine", 3], 100)
    with pytest.raises(ScratchError, match="not one string"):
        train_unigram_tokenizer("one string", 100)
    with pytest.raises(ScratchError, match="vocab_size"):
        train_unigram_tokenizer(CORPUS, 5)
    # fewer pieces than the corpus has characters: a clear minimum instead of the trainer's bare error
    with pytest.raises(ScratchError, match=r"distinct characters .* vocab_size >= \d+"):
        train_unigram_tokenizer(CORPUS, 12)


def test_tokenizer_pickles(tok):
    clone = pickle.loads(pickle.dumps(tok))
    assert type(clone) is type(tok)
    assert clone(CORPUS[5], CORPUS[6]) == tok(CORPUS[5], CORPUS[6])


# ---------------------------------------------------------------------- model


def test_build_model_sizes(tok, model):
    import torch

    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (32, 2, 2)
    assert (cfg.intermediate_size, cfg.max_position_embeddings, cfg.type_vocab_size) == (64, 64, 2)
    assert cfg.vocab_size == len(tok) and cfg.pad_token_id == tok.pad_token_id == 0
    assert cfg.hidden_act == "gelu" and cfg.initializer_range == 0.02
    assert cfg.hidden_dropout_prob == cfg.attention_probs_dropout_prob == SMALL.dropout
    assert model.pooler is None
    assert model.embeddings.word_embeddings.num_embeddings == len(tok)

    batch = tok(CORPUS[:3], CORPUS[3:6], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch).last_hidden_state
    assert out.shape == (3, batch["input_ids"].shape[1], 32)
    assert torch.isfinite(out).all()


def test_model_sized_from_tokenizer_not_config():
    tiny = ["kama lipu", "नदी घर"] * 5
    with pytest.warns(UserWarning):
        tok = train_unigram_tokenizer(tiny, 300)
    model = build_scratch_model(SMALL, tok)  # SMALL.vocab_size says 300
    assert model.config.vocab_size == len(tok) < 300


def test_bad_heads(tok):
    bad = ScratchConfig(hidden_size=30, num_heads=4, num_layers=1, intermediate_size=32, max_position=64)
    with pytest.raises(ScratchError, match=r"hidden_size=30.*num_heads=4"):
        build_scratch_model(bad, tok)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("num_layers", 0, "num_layers"), ("dropout", 1.5, "dropout"), ("hidden_size", 32.0, "hidden_size")],
)
def test_bad_config_values(tok, field, value, match):
    config = ScratchConfig(hidden_size=32, num_heads=2, num_layers=1, intermediate_size=32, max_position=64)
    setattr(config, field, value)
    with pytest.raises(ScratchError, match=match):
        build_scratch_model(config, tok)


def test_tokenizer_longer_than_positions(tok):
    long = train_unigram_tokenizer(CORPUS, VOCAB)
    long.model_max_length = 128
    with pytest.raises(ScratchError, match="model_max_length=128"):
        build_scratch_model(SMALL, long)


# ---------------------------------------------------------------------- save / load


def test_save_and_load_encoder(tok, model, tmp_path: Path):
    import torch
    from transformers import AutoTokenizer

    from scriptbridge.models import load_encoder
    from scriptbridge.models.scratch import ScratchTokenizerFast

    folder = tmp_path / "scratch-bert"
    save_scratch(model, tok, folder)
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    assert json.loads((folder / "tokenizer_config.json").read_text())["tokenizer_class"] == (
        "PreTrainedTokenizerFast"
    )

    enc = load_encoder(str(folder), device="cpu")
    vec = enc.encode(["some text"])
    assert vec.shape == (1, SMALL.hidden_size)
    assert enc.num_layers == SMALL.num_layers and enc.max_length == SMALL.max_position

    # the saved weights are the ones loaded (not re-initialised): mean pooling by hand agrees
    batch = tok(CORPUS[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    want = ((h * m).sum(1) / m.sum(1)).numpy()
    assert abs(enc.encode(CORPUS[:3]) - want).max() < 1e-4

    for loaded in (AutoTokenizer.from_pretrained(folder), enc.tokenizer):
        assert len(loaded) == len(tok) and loaded.model_max_length == SMALL.max_position
        for a, b in zip(CORPUS[:20], CORPUS[20:40], strict=True):
            assert loaded(a) == tok(a)
            assert loaded(a, b) == tok(a, b)
        assert loaded.decode(loaded(CORPUS[7])["input_ids"], skip_special_tokens=True) == CORPUS[7]

    # the class with the id-level helpers can load the same folder
    again = ScratchTokenizerFast.from_pretrained(folder)
    assert again.build_inputs_with_special_tokens([7, 8], [9]) == [2, 7, 8, 3, 9, 3]


def test_save_into_a_file_path(tok, model, tmp_path: Path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ScratchError, match="is a file"):
        save_scratch(model, tok, path)

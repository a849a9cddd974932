"""Static word vectors, BLI (nearest neighbour and CSLS, OOV policies) and Procrustes alignment, on
synthetic spaces whose true map is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scriptbridge.align.static import align_procrustes, dictionary_pairs, identical_pairs, procrustes
from scriptbridge.evaluate.bli import bli, translate
from scriptbridge.models.static import StaticEmbeddings, StaticEmbeddingsError, read_vectors, write_vectors


def spaces(n: int = 400, d: int = 24, noise: float = 0.05, seed: int = 0):
    """A source space and a target space that is a rotation of it plus noise; word i <-> word i."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    y = (x @ q + noise * rng.normal(size=(n, d))).astype(np.float32)
    src = StaticEmbeddings([f"s{i}" for i in range(n)], x)
    tgt = StaticEmbeddings([f"t{i}" for i in range(n)], y)
    return src, tgt, q.astype(np.float32)


def test_vectors_round_trip_and_errors(tmp_path: Path) -> None:
    src, _, _ = spaces(n=5, d=3)
    write_vectors(tmp_path / "v.vec", src)
    back = read_vectors(tmp_path / "v.vec")
    assert back.words == src.words and np.allclose(back.vectors, src.vectors, atol=1e-5)
    assert read_vectors(tmp_path / "v.vec", max_words=2).words == ["s0", "s1"]
    (tmp_path / "noheader.txt").write_text("a 1 2\nb 3 4\na 5 6\n", encoding="utf-8")
    plain = read_vectors(tmp_path / "noheader.txt")
    assert plain.dim == 2 and plain.vector("a").tolist() == [1, 2]  # a duplicate keeps the first
    (tmp_path / "bad.txt").write_text("2 2\na 1 2\nb 3\n", encoding="utf-8")
    with pytest.raises(StaticEmbeddingsError, match=r"bad.txt:3: 1 numbers after the word, expected 2"):
        read_vectors(tmp_path / "bad.txt")
    (tmp_path / "nan.txt").write_text("a 1 x\n", encoding="utf-8")
    with pytest.raises(StaticEmbeddingsError, match=r"nan.txt:1: the vector of 'a' is not all numbers"):
        read_vectors(tmp_path / "nan.txt")


def test_csls_translation_matches_brute_force() -> None:
    src, tgt, q = spaces(n=60, d=8, noise=0.5, seed=1)
    mapped = src.mapped(q)
    got = translate(mapped, tgt, range(60), method="csls", k=3, csls_k=5, chunk_size=7)
    s = mapped.vectors / np.linalg.norm(mapped.vectors, axis=1, keepdims=True)
    t = tgt.vectors / np.linalg.norm(tgt.vectors, axis=1, keepdims=True)
    cos = s.astype(np.float64) @ t.T.astype(np.float64)
    r_t = np.sort(cos, axis=1)[:, -5:].mean(1)  # each source word to its 5 nearest targets
    r_s = np.sort(cos.T, axis=1)[:, -5:].mean(1)  # each target word to its 5 nearest sources
    want = np.argsort(-(2 * cos - r_t[:, None] - r_s[None, :]), axis=1)[:, :3]
    assert (got == want).mean() > 0.99
    nn = translate(mapped, tgt, range(60), method="nn", k=1)
    assert (nn[:, 0] == np.argmax(cos, axis=1)).all()


def test_procrustes_recovers_the_rotation_and_bli_sees_it() -> None:
    src, tgt, q = spaces()
    train = [(f"s{i}", f"t{i}") for i in range(200)]
    test = [(f"s{i}", f"t{i}") for i in range(200, 400)]
    before = bli(src, tgt, test)
    w, history = align_procrustes(src, tgt, dictionary_pairs(src, tgt, train))
    assert np.allclose(w, q, atol=0.02) and np.allclose(w @ w.T, np.eye(w.shape[0]), atol=1e-5)
    after = bli(src.mapped(w), tgt, test)
    assert before["p@1"] < 0.05 and after["p@1"] == 1.0 and after["p@10"] == 1.0
    assert history == [{"round": 0, "pairs": 200, "source": "seed"}]
    x = np.random.default_rng(2).normal(size=(10, 4))
    assert np.allclose(procrustes(x, x), np.eye(4), atol=1e-6)


def test_refinement_grows_a_small_seed() -> None:
    src, tgt, q = spaces(noise=0.7, seed=3)
    seed = dictionary_pairs(src, tgt, [(f"s{i}", f"t{i}") for i in range(24)])  # barely d pairs: a rough map
    test = [(f"s{i}", f"t{i}") for i in range(200, 400)]
    w0, _ = align_procrustes(src, tgt, seed)
    w3, history = align_procrustes(src, tgt, seed, refine=3)
    assert [h["round"] for h in history] == [0, 1, 2, 3] and history[-1]["pairs"] > 300
    assert bli(src.mapped(w0), tgt, test)["p@1"] < 0.6 < 0.95 < bli(src.mapped(w3), tgt, test)["p@1"]


def test_identical_strings_seed() -> None:
    a = StaticEmbeddings(["1990", "paris", "x", "paris"], np.eye(4, dtype=np.float32))
    b = StaticEmbeddings(["paris", "y", "1990"], np.eye(3, 4, dtype=np.float32))
    assert identical_pairs(a, b).tolist() == [[0, 2], [1, 0]]


def test_oov_policies_and_coverage() -> None:
    src, tgt, q = spaces(n=50, d=8, noise=0.0)
    mapped = src.mapped(q)
    pairs = [(f"s{i}", f"t{i}") for i in range(10)] + [
        ("unknown", "t1"),
        ("s20", "nope"),
        ("s21", "t21"),
        ("s21", "zz"),
    ]
    drop = bli(mapped, tgt, pairs)
    strict = bli(mapped, tgt, pairs, oov="strict")
    assert drop["queries"] == 11 and drop["dictionary_words"] == 13 and drop["p@1"] == 1.0
    assert strict["p@1"] == pytest.approx(11 / 13) and strict["oov"] == "strict"
    assert drop["coverage"] == pytest.approx(11 / 13) and drop["pairs_kept"] == 11 and drop["pairs"] == 14
    with pytest.raises(ValueError, match="oov must be"):
        bli(mapped, tgt, pairs, oov="lenient")
    other = StaticEmbeddings(["a"], np.ones((1, 3)))
    with pytest.raises(ValueError, match="map one onto the other first"):
        translate(src, other, [0])


def test_cli_bli_and_align_static(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from scriptbridge.cli import app

    src, tgt, q = spaces(noise=0.2, seed=4)
    write_vectors(tmp_path / "src.vec", src)
    write_vectors(tmp_path / "tgt.vec", tgt)
    (tmp_path / "train.txt").write_text("".join(f"s{i} t{i}\n" for i in range(150)), encoding="utf-8")
    (tmp_path / "test.txt").write_text("".join(f"s{i}\tt{i}\n" for i in range(200, 400)), encoding="utf-8")
    runner = CliRunner()
    args = ["--src-emb", str(tmp_path / "src.vec"), "--tgt-emb", str(tmp_path / "tgt.vec")]
    res = runner.invoke(
        app,
        [
            "align-static",
            *args,
            "--dict",
            str(tmp_path / "train.txt"),
            "-o",
            str(tmp_path / "al"),
            "--refine",
            "1",
            "--test-dict",
            str(tmp_path / "test.txt"),
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "al" / "align.json").read_text())
    assert report["bli_after"]["p@1"] > 0.95 > report["bli_before"]["p@1"]
    assert [r["round"] for r in report["rounds"]] == [0, 1]
    w = np.load(tmp_path / "al" / "map.npy", allow_pickle=False)
    assert w.shape == (24, 24)
    mapped, tgt_vec, test = (str(tmp_path / n) for n in ("al/mapped.vec", "tgt.vec", "test.txt"))
    bli_args = [
        "bli",
        "--src-emb",
        mapped,
        "--tgt-emb",
        tgt_vec,
        "--dict",
        test,
        "-o",
        str(tmp_path / "b.json"),
    ]
    res = runner.invoke(
        app,
        bli_args,
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "b.json").read_text())
    assert metrics["p@1"] > 0.95 and metrics["oov"] == "drop" and metrics["method"] == "csls"
    again = runner.invoke(
        app,
        bli_args,
    )
    assert again.exit_code != 0 and "--overwrite" in again.output
    refused = runner.invoke(app, ["align-static", *args, "-o", str(tmp_path / "x")])
    assert refused.exit_code != 0 and "give a seed" in refused.output
    (tmp_path / "broken.vec").write_text("a 1 2\nb 1\n", encoding="utf-8")
    broken = runner.invoke(
        app,
        [
            "bli",
            "--src-emb",
            str(tmp_path / "broken.vec"),
            "--tgt-emb",
            str(tmp_path / "tgt.vec"),
            "--dict",
            str(tmp_path / "test.txt"),
        ],
    )
    assert broken.exit_code != 0 and "broken.vec:2" in broken.output


def test_word_vectors_from_an_encoder(tiny_encoder) -> None:
    from scriptbridge.models.static import encoder_word_vectors

    words = ["cat", "tea", "park", "cat"]
    iso = encoder_word_vectors(tiny_encoder, words)
    assert iso.words == ["cat", "tea", "park"] and iso.dim == 32
    assert np.allclose(iso.vector("tea"), tiny_encoder.encode(["tea"])[0], atol=1e-5)
    corpus = ["the cat sat on the mat", "i like green tea", "a dog runs"]
    ctx = encoder_word_vectors(tiny_encoder, words, mode="context", corpus=corpus)
    assert not np.allclose(ctx.vector("cat"), iso.vector("cat"))  # from its sentence, not alone
    assert np.allclose(ctx.vector("park"), iso.vector("park"))  # never seen: the isolated vector
    # the mean over its occurrences of the word vectors contextual alignment uses
    from scriptbridge.align.contextual import word_vectors

    twice = ["the cat sat", "a cat runs"]
    per_sentence = word_vectors(tiny_encoder, [s.split() for s in twice], [tiny_encoder.num_layers])
    expected = (per_sentence[0][0, 1] + per_sentence[1][0, 1]).numpy() / 2
    both = encoder_word_vectors(tiny_encoder, ["cat"], mode="context", corpus=twice)
    assert np.allclose(both.vector("cat"), expected, atol=1e-5)
    with pytest.raises(ValueError, match="needs a corpus"):
        encoder_word_vectors(tiny_encoder, words, mode="context")

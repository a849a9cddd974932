"""`scriptbridge probe` and its Python API on a tiny BERT built in the tests (no network, no big model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from scriptbridge.cli import app
from scriptbridge.evaluate.embedding_cache import EmbeddingCache, encode_layers, model_fingerprint
from scriptbridge.evaluate.probe import ParallelProbe, ProbeSettings, parse_layers, probe
from scriptbridge.tasks.parallel import ParallelData

EN = [
    "the cat sat on the mat",
    "a dog runs in the park",
    "i like green tea",
    "where is the train station",
    "hello world, how are you?",
    "the park is green",
    "a cat and a dog",
    "tea in the station",
]
HI = [
    "बिल्ली चटाई पर बैठी",
    "कुत्ता पार्क में दौड़ता है",
    "मुझे हरी चाय पसंद है",
    "रेलवे स्टेशन कहाँ है",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "पार्क हरा है",
    "एक बिल्ली और एक कुत्ता",
    "स्टेशन में चाय",
]
REQUIRED_LAYER_KEYS = (
    "top1_src2tgt",
    "top1_tgt2src",
    "top5_src2tgt",
    "top10_src2tgt",
    "csls_top1_src2tgt",
    "matched_mean",
    "random_mean",
    "gap",
)

runner = CliRunner()


@pytest.fixture
def tatoeba(tmp_path: Path) -> Path:
    (tmp_path / "tatoeba.hin-eng.eng").write_text("\n".join(EN) + "\n", encoding="utf-8")
    (tmp_path / "tatoeba.hin-eng.hin").write_text("\n".join(HI) + "\n", encoding="utf-8")
    return tmp_path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTBRIDGE_CACHE", str(tmp_path / "cache"))


def test_parse_layers() -> None:
    assert parse_layers("all", 2) == [0, 1, 2]
    assert parse_layers("last", 12) == [12]
    assert parse_layers("12,0,-1, 6", 12) == [0, 6, 12]
    assert parse_layers([-3], 2) == [0]
    with pytest.raises(ValueError, match="layers 0 \\(embeddings\\) to 2"):
        parse_layers("3", 2)
    with pytest.raises(ValueError, match="comma-separated"):
        parse_layers("first", 2)


def test_probe_result_schema(tiny_encoder) -> None:
    data = ParallelData.from_texts(EN, HI, "en", "hi")
    run = probe(tiny_encoder, data, ProbeSettings(cache=False))
    r = run.result
    assert r["model"] == tiny_encoder.name and r["pooling"] == "mean" and r["n_pairs"] == len(EN)
    assert set(r["layers"]) == {"0", "1", "2"}
    assert r["best_layer"] in (0, 1, 2)
    for m in r["layers"].values():
        for key in REQUIRED_LAYER_KEYS:
            assert isinstance(m[key], float), key
        for key in ("top1_src2tgt", "top1_tgt2src", "top10_src2tgt", "csls_top1_src2tgt"):
            assert 0.0 <= m[key] <= 1.0
        assert m["top1_src2tgt"] <= m["top5_src2tgt"] <= m["top10_src2tgt"]
        assert m["gap"] == pytest.approx(m["matched_mean"] - m["random_mean"])
    best = r["layers"][str(r["best_layer"])]
    assert all(
        (best["top1_src2tgt"] + best["top1_tgt2src"]) >= (m["top1_src2tgt"] + m["top1_tgt2src"])
        for m in r["layers"].values()
    )
    assert r["run"]["seed"] == 0 and "versions" in r["run"] and "device" in r["run"]
    # the plotted layers (first, best, last) keep their vectors for the 2-D maps
    assert set(run.embeddings) == {0, r["best_layer"], 2}


def test_identical_sides_retrieve_perfectly(tiny_encoder) -> None:
    run = probe(tiny_encoder, ParallelData.from_texts(EN, EN), ProbeSettings(cache=False, projection="none"))
    for m in run.result["layers"].values():
        assert m["top1_src2tgt"] == m["top1_tgt2src"] == m["csls_top1_src2tgt"] == 1.0
        assert m["matched_mean"] == pytest.approx(1.0, abs=1e-5)
        assert m["gap"] > 0
    assert run.embeddings == {}


def test_probe_layers_match_direct_encoding(tiny_encoder) -> None:
    """The numbers come from the same vectors Encoder.encode gives for that layer."""
    from scriptbridge.evaluate.probe import layer_metrics

    data = ParallelData.from_texts(EN, HI)
    run = probe(tiny_encoder, data, ProbeSettings(layers="1", cache=False, projection="none"))
    direct = layer_metrics(tiny_encoder.encode(EN, layer=1), tiny_encoder.encode(HI, layer=1))
    assert run.result["layers"]["1"]["top1_src2tgt"] == direct["top1_src2tgt"]
    assert run.result["layers"]["1"]["matched_mean"] == pytest.approx(direct["matched_mean"], abs=1e-6)


def test_sample_subsets_pairs(tiny_encoder) -> None:
    run = probe(tiny_encoder, ParallelData.from_texts(EN, HI), ProbeSettings(sample=5, cache=False))
    assert run.result["n_pairs"] == 5
    assert any("sampled 5 of 8" in n for n in run.result["notes"])


def test_cache_hits_and_keys(tiny_encoder, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "emb")
    args = {"pooling": "mean", "prefix": ""}
    first, hits = encode_layers(tiny_encoder, EN, [0, 2], cache=cache, **args)
    assert hits == 0
    again, hits = encode_layers(tiny_encoder, EN, [2, 0, 1], cache=cache, **args)
    assert hits == 2  # layers 0 and 2 from disk, layer 1 computed
    np.testing.assert_array_equal(first[2], again[2])
    np.testing.assert_allclose(again[1], tiny_encoder.encode(EN, layer=1, prefix=""), atol=1e-5)
    for other in ({"pooling": "cls", "prefix": ""}, {"pooling": "mean", "prefix": "query: "}):
        _, hits = encode_layers(tiny_encoder, EN, [0], cache=cache, **other)
        assert hits == 0
    _, hits = encode_layers(tiny_encoder, EN[:-1], [0], cache=cache, **args)
    assert hits == 0
    _, hits = encode_layers(tiny_encoder, EN, [0], cache=cache, view="romanize:hi", **args)
    assert hits == 0


def test_damaged_cache_entry_is_recomputed(tiny_encoder, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "emb")
    encode_layers(tiny_encoder, EN, [1], cache=cache, pooling="mean", prefix="")
    [entry] = list((tmp_path / "emb").rglob("layer_1.npy"))
    entry.write_bytes(b"not an array")
    vecs, hits = encode_layers(tiny_encoder, EN, [1], cache=cache, pooling="mean", prefix="")
    assert hits == 0 and vecs[1].shape == (len(EN), tiny_encoder.hidden_size)


def test_model_fingerprint_follows_weights(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    import shutil

    from scriptbridge.models import load_encoder

    copy = tmp_path / "copy"
    shutil.copytree(tiny_encoder_dir, copy)
    a = model_fingerprint(load_encoder(str(copy), device="cpu"))
    assert a == model_fingerprint(load_encoder(str(copy), device="cpu"))
    (copy / "model.safetensors").touch()
    import os

    st = (copy / "model.safetensors").stat()
    os.utime(copy / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert model_fingerprint(load_encoder(str(copy), device="cpu")) != a


def test_evaluator_on_encoder_and_on_a_training_model(tiny_encoder) -> None:
    evaluator = ParallelProbe(EN, HI, layers="0,-1", name="heldout")
    metrics = evaluator(tiny_encoder)
    assert all(isinstance(v, float) for v in metrics.values())
    assert metrics["heldout/top1_src2tgt"] == metrics["heldout/L2/top1_src2tgt"]
    assert "heldout/L0/gap" in metrics and "heldout/csls_top1_src2tgt" in metrics
    model = tiny_encoder.model
    model.train()
    try:
        again = evaluator(model, tiny_encoder.tokenizer)
        assert model.training  # the evaluator puts the model back as it found it
    finally:
        model.eval()
    assert again["heldout/top1_src2tgt"] == metrics["heldout/top1_src2tgt"]
    with pytest.raises(TypeError, match="tokenizer"):
        evaluator(model)


def test_evaluator_from_files(tatoeba: Path, tiny_encoder) -> None:
    evaluator = ParallelProbe.from_files(str(tatoeba / "tatoeba.hin-eng.hin"), "romanize:hi:uroman")
    assert evaluator.data.tgt.texts[0].isascii()
    assert 0.0 <= evaluator(tiny_encoder)["probe/top1_src2tgt"] <= 1.0


# ---------------------------------------------------------------------------- CLI


def _probe_cli(*args: str):
    return runner.invoke(app, ["probe", *args])


def test_cli_probe_writes_json_report_and_table(
    tatoeba: Path, tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    r = _probe_cli(
        "--model", str(tiny_encoder_dir), "--src", str(tatoeba / "tatoeba.hin-eng.eng"), "-o", str(out)
    )
    assert r.exit_code == 0, r.output
    result = json.loads((out / "probe.json").read_text(encoding="utf-8"))
    assert result["n_pairs"] == len(EN) and result["src"]["lang"] == "en" and result["tgt"]["lang"] == "hi"
    assert set(result["layers"]) == {"0", "1", "2"}
    assert {"model", "pooling", "n_pairs", "best_layer"} <= set(result)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 3  # retrieval chart, histograms, t-SNE
    assert "top1 s→t" in r.stdout and "eng" in r.stdout

    # a second run refuses to clobber, then reuses the cached embeddings with --overwrite
    r = _probe_cli(
        "--model", str(tiny_encoder_dir), "--src", str(tatoeba / "tatoeba.hin-eng.eng"), "-o", str(out)
    )
    assert r.exit_code == 2 and "--overwrite" in r.output
    r = _probe_cli(
        "--model",
        str(tiny_encoder_dir),
        "--src",
        str(tatoeba / "tatoeba.hin-eng.eng"),
        "-o",
        str(out),
        "--overwrite",
    )
    assert r.exit_code == 0, r.output
    again = json.loads((out / "probe.json").read_text(encoding="utf-8"))
    assert again["run"]["cached_layers"] == 6
    assert again["layers"] == result["layers"]


def test_cli_probe_view_layers_and_no_projection(
    tatoeba: Path, tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rom"
    r = _probe_cli(
        "--model",
        str(tiny_encoder_dir),
        "--src",
        str(tatoeba / "tatoeba.hin-eng.hin"),
        "--tgt",
        "romanize:hi:uroman",
        "--layers",
        "0,2",
        "--projection",
        "none",
        "--pooling",
        "cls",
        "-o",
        str(out),
    )
    assert r.exit_code == 0, r.output
    result = json.loads((out / "probe.json").read_text(encoding="utf-8"))
    assert set(result["layers"]) == {"0", "2"} and result["pooling"] == "cls"
    assert result["tgt"]["view"] == "romanize:hi:uroman"
    assert (out / "report.html").read_text(encoding="utf-8").count("data:image/png;base64,") == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layers", "7"], "layers 0 (embeddings) to 2"),
        (["--tgt", "missing.txt"], "no such file"),
        (["--tgt", "romanize:xx:nosuchscheme"], "romanize:xx:nosuchscheme"),
    ],
)
def test_cli_probe_errors_are_one_line(
    tatoeba: Path, tiny_encoder_dir: Path, tmp_path: Path, extra, message
) -> None:
    r = _probe_cli(
        "--model",
        str(tiny_encoder_dir),
        "--src",
        str(tatoeba / "tatoeba.hin-eng.hin"),
        "-o",
        str(tmp_path / "o"),
        *extra,
    )
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o" / "probe.json").exists()


def test_cli_probe_help_teaches() -> None:
    r = runner.invoke(app, ["probe", "--help"])
    assert r.exit_code == 0
    for word in ("romanize:hi", "--layers", "--sample", "report.html", "tatoeba"):
        assert word in r.stdout


def test_cli_report_renders_in_a_real_browser(tatoeba: Path, tiny_encoder_dir: Path, tmp_path: Path) -> None:
    """End to end: the report `scriptbridge probe` writes shows all its plots in headless chromium."""
    from test_report_browser import rendered_plot_counts

    out = tmp_path / "out"
    r = _probe_cli(
        "--model", str(tiny_encoder_dir), "--src", str(tatoeba / "tatoeba.hin-eng.eng"), "-o", str(out)
    )
    assert r.exit_code == 0, r.output
    rendered, expected = rendered_plot_counts(out / "report.html", tmp_path)
    assert rendered == expected == 3

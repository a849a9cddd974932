"""Token classification through `train()` on a tiny BERT: plain, CoSDA-ML and PhoneXL variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# (word, label, ipa): English-like source sentences (in the tiny tokenizer's vocabulary)
SRC = [
    [
        ("the", "O", "ðə"),
        ("cat", "B-ANI", "kæt"),
        ("sat", "O", "sæt"),
        ("on", "O", "ɑn"),
        ("the", "O", "ðə"),
        ("mat", "O", "mæt"),
    ],
    [
        ("a", "O", "ə"),
        ("dog", "B-ANI", "dɔɡ"),
        ("runs", "O", "ɹʌnz"),
        ("in", "O", "ɪn"),
        ("the", "O", "ðə"),
        ("park", "B-LOC", "pɑɹk"),
    ],
    [("i", "O", "aɪ"), ("like", "O", "laɪk"), ("green", "B-DRK", "ɡɹin"), ("tea", "I-DRK", "ti")],
    [
        ("where", "O", "wɛɹ"),
        ("is", "O", "ɪz"),
        ("the", "O", "ðə"),
        ("train", "B-LOC", "tɹeɪn"),
        ("station", "I-LOC", "steɪʃən"),
    ],
    [
        ("the", "O", "ðə"),
        ("dog", "B-ANI", "dɔɡ"),
        ("and", "O", "ənd"),
        ("the", "O", "ðə"),
        ("cat", "B-ANI", "kæt"),
    ],
    [
        ("green", "B-DRK", "ɡɹin"),
        ("tea", "I-DRK", "ti"),
        ("in", "O", "ɪn"),
        ("the", "O", "ðə"),
        ("park", "B-LOC", "pɑɹk"),
    ],
]
# a "target language": the same sentences with a few words swapped for romanized Hindi
TGT = [
    [
        ("kutta", "B-ANI", "kʊtːa"),
        ("park", "B-LOC", "pɑɹk"),
        ("mein", "O", "meːn"),
        ("daudta", "O", "d̪ɔːɽt̪a"),
        ("hai", "O", "ɦɛː"),
    ],
    [("mujhe", "O", "mʊdʒʱeː"), ("chai", "B-DRK", "tʃaːj"), ("pasand", "O", "pəsənd̪"), ("hai", "O", "ɦɛː")],
]
DICTIONARY = [
    ("cat", "kæt", "billi", "bɪlːiː"),
    ("dog", "dɔɡ", "kutta", "kʊtːa"),
    ("tea", "ti", "chai", "tʃaːj"),
]


def phonexl_file(path: Path, sentences) -> str:
    path.write_text(
        "\n".join("".join(f"{w}\t{lab}\t{ipa}\t{w}\n" for w, lab, ipa in s) for s in sentences),
        encoding="utf-8",
    )
    return str(path)


def token_recipe(tmp_path: Path, model_dir: Path, **method):
    from scriptbridge.train.recipe import recipe_from_dict

    dict_path = tmp_path / "en-hi-dict.txt"
    dict_path.write_text("".join("\t".join(row) + "\n" for row in DICTIONARY), encoding="utf-8")
    data = {
        "name": "tiny-ner",
        "task": "token-classification",
        "seed": 0,
        "model": {"spec": str(model_dir), "max_length": 32},
        "data": {
            "train": {"path": phonexl_file(tmp_path / "train-en.tsv", SRC), "lang": "en"},
            "dev": {"path": str(tmp_path / "train-en.tsv"), "lang": "en", "skip": 3, "name": "dev"},
        },
        "views": {"target_lang": "hi"},
        "method": {
            "variant": "plain",
            "dictionary": f"phonexl:{dict_path}:en-hi",
            "lambda_align": 0.1,
            "beta_mlm": 0.1,
            "gamma_xmlm": 0.1,
            "mask_ratio": 0.3,
            "cs_ratio": 0.5,
            **method,
        },
        "train": {"epochs": 2, "batch_size": 3, "lr": 1e-3, "patience": 5, "precision": "fp32"},
        "evaluate": [
            {"path": phonexl_file(tmp_path / "test-hi.tsv", TGT), "lang": "hi", "name": "hi (target)"}
        ],
    }
    return recipe_from_dict(data, base_dir=tmp_path)


@pytest.mark.parametrize("variant", ["plain", "cosda", "words", "pe", "full"])
def test_token_variants_train_end_to_end(tmp_path: Path, tiny_encoder_dir: Path, variant: str) -> None:
    from scriptbridge.train.run import TrainError, train

    recipe = token_recipe(tmp_path, tiny_encoder_dir, variant=variant)
    out = tmp_path / "out"
    result = train(recipe, out, progress=False)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"] == "token-classification" and metrics["scheme"] == "iob2"
    assert metrics["labels"][0] == "O" and {"B-ANI", "B-DRK", "I-DRK", "B-LOC", "I-LOC"} <= set(
        metrics["labels"]
    )
    assert set(metrics["sets"]) == {"dev: dev", "hi (target)"}
    for m in metrics["sets"].values():
        assert {"f1", "f1_conlleval", "precision", "recall", "n"} <= set(m)
        assert 0.0 <= m["f1"] <= 1.0
    # one predicted tag per word of every sentence
    predictions = json.loads((out / "predictions.json").read_text(encoding="utf-8"))
    got = predictions["hi (target)"]
    assert [len(p) for p in got["pred"]] == [len(s) for s in TGT]
    assert all(tag in metrics["labels"] for p in got["pred"] for tag in p)
    history = metrics["history"]
    assert len(history) == 2 and result.best_epoch in (1, 2)
    expected_terms = {"full": {"L_align", "L_MLM", "L_XMLM"}}.get(variant, set())
    assert expected_terms <= set(history[0])
    assert not ({"L_align", "L_MLM", "L_XMLM"} - expected_terms) & set(history[0])
    assert metrics["cost"]["seconds_per_epoch"] > 0 and metrics["cost"]["peak_rss_mib"] > 0
    model_dir = out / "model"
    assert (model_dir / "token_head.safetensors").is_file()
    meta = json.loads((model_dir / "scriptbridge.json").read_text(encoding="utf-8"))
    assert meta["format"] == "scriptbridge-token-classifier" and meta["variant"] == variant
    assert (model_dir / "phonemic").is_dir() == (variant in ("words", "pe", "full"))
    assert "entity F1" in (out / "report.md").read_text(encoding="utf-8")
    assert not (out / "checkpoints" / "last").exists()
    with pytest.raises(TrainError, match="--overwrite"):
        train(recipe, out, progress=False)


def test_phonexl_loss_terms_all_move_the_weights(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    """Each PhoneXL objective alone trains: its term is reported and positive."""
    from scriptbridge.train.run import train

    for variant, term in (("align", "L_align"), ("mlm", "L_MLM"), ("xmlm", "L_XMLM")):
        recipe = token_recipe(tmp_path, tiny_encoder_dir, variant=variant)
        result = train(recipe, tmp_path / variant, progress=False)
        first = result.metrics["history"][0]
        assert first[term] > 0 and first["loss"] > first["task"]


def test_killed_token_run_resumes(
    tmp_path: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scriptbridge.train.run as run_module
    from scriptbridge.train.run import train

    recipe = token_recipe(tmp_path, tiny_encoder_dir, variant="full")
    out = tmp_path / "out"
    real_save = run_module.save_checkpoint

    def save_then_die(folder, **kwargs):
        real_save(folder, **kwargs)
        raise KeyboardInterrupt  # killed right after the first epoch's checkpoint

    monkeypatch.setattr(run_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(recipe, out, progress=False)
    assert (out / "checkpoints" / "last" / "state.json").is_file()
    monkeypatch.setattr(run_module, "save_checkpoint", real_save)
    resumed = train(recipe, out, progress=False)
    assert resumed.resumed and [h["epoch"] for h in resumed.metrics["history"]] == [1, 2]
    fresh = train(recipe, tmp_path / "fresh", progress=False)
    assert fresh.metrics["history"][1]["loss"] == pytest.approx(
        resumed.metrics["history"][1]["loss"], rel=1e-4
    )


CONLLU = """# sent_id = 1
# text = the cat sat
1\tthe\tthe\tDET\t_\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\tsat\tsit\tVERB\t_\t_\t0\troot\t_\t_

# sent_id = 2
1\ti\ti\tPRON\t_\t_\t2\tnsubj\t_\t_
2\tlike\tlike\tVERB\t_\t_\t0\troot\t_\t_
3\tgreen\tgreen\tADJ\t_\t_\t4\tamod\t_\t_
4\ttea\ttea\tNOUN\t_\t_\t2\tobj\t_\t_

# sent_id = 3
1\tthe\tthe\tDET\t_\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\truns\trun\tVERB\t_\t_\t0\troot\t_\t_
"""
CONLLU_HI = """# sent_id = 1
1\tमुझे\tमुझे\tPRON\t_\t_\t3\tiobj\t_\t_
2\tचाय\tचाय\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\tपसंद\tपसंद\tADJ\t_\t_\t0\troot\t_\t_
4\tहै\tहै\tAUX\t_\t_\t3\tcop\t_\t_
"""


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_pos_from_conllu_with_views(tmp_path: Path, tiny_encoder_dir: Path, pooling: str) -> None:
    """UPOS tagging (linear head): tag scores, and the same Hindi set evaluated in Devanagari and romanized."""
    from scriptbridge.train.recipe import recipe_from_dict
    from scriptbridge.train.run import train

    (tmp_path / "en.conllu").write_text(CONLLU, encoding="utf-8")
    (tmp_path / "hi.conllu").write_text(CONLLU_HI, encoding="utf-8")
    recipe = recipe_from_dict(
        {
            "name": "tiny-pos",
            "task": "token-classification",
            "model": {"spec": str(tiny_encoder_dir), "max_length": 32},
            "data": {"train": {"path": "en.conllu", "lang": "en"}},
            "method": {"variant": "plain", "head": "linear", "word_pooling": pooling},
            "train": {"epochs": 1, "batch_size": 2, "lr": 1e-3},
            "evaluate": [
                {"path": "hi.conllu", "lang": "hi", "name": "hi"},
                {"path": "hi.conllu", "lang": "hi", "view": "romanize:hi:uroman", "name": "hi (uroman)"},
            ],
        },
        base_dir=tmp_path,
    )
    result = train(recipe, tmp_path / "out", progress=False)
    assert result.metrics["scheme"] == "tags" and result.metrics["selection_metric"] == "train loss"
    for m in result.metrics["sets"].values():
        assert {"accuracy", "macro_f1"} <= set(m) and m["n"] == 1
    predictions = json.loads((tmp_path / "out" / "predictions.json").read_text(encoding="utf-8"))
    assert predictions["hi (uroman)"]["gold"] == [["PRON", "NOUN", "ADJ", "AUX"]]
    assert len(predictions["hi (uroman)"]["pred"][0]) == 4


def test_token_recipe_errors(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    from scriptbridge.train.recipe import RecipeError, recipe_from_dict

    base = token_recipe(tmp_path, tiny_encoder_dir).to_dict()
    base["method"]["dictionary"] = None
    base["method"]["variant"] = "xmlm"
    with pytest.raises(RecipeError, match="method.dictionary"):
        recipe_from_dict(base, base_dir=tmp_path)
    base["method"]["variant"] = "joint-ts"
    with pytest.raises(RecipeError, match="plain"):
        recipe_from_dict(base, base_dir=tmp_path)
    with pytest.raises(RecipeError, match="task: token-classification"):
        recipe_from_dict(
            {"name": "x", "data": {"train": "a.tsv"}, "method": {"variant": "en", "head": "crf"}},
            base_dir=tmp_path,
        )
    with pytest.raises(RecipeError, match="skip"):
        recipe_from_dict(
            {"name": "x", "task": "token-classification", "data": {"train": {"path": "a.tsv", "skip": -1}}},
            base_dir=tmp_path,
        )
    # the dump of a token recipe reads back equal; a sentence recipe's dump has no token keys
    tok = token_recipe(tmp_path, tiny_encoder_dir, variant="full")
    assert recipe_from_dict(tok.to_dict(), base_dir=tmp_path) == tok
    sentence = recipe_from_dict({"name": "x", "data": {"train": "a.tsv"}, "method": {"variant": "en"}})
    assert "head" not in sentence.to_dict()["method"] and "task" not in sentence.to_dict()


def test_cli_train_prints_entity_scores(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    from typer.testing import CliRunner

    from scriptbridge.cli import app

    recipe = token_recipe(tmp_path, tiny_encoder_dir)
    path = tmp_path / "r.yaml"
    path.write_text(recipe.dump(include_base_dir=True), encoding="utf-8")
    r = CliRunner().invoke(
        app, ["train", "-r", str(path), "-o", str(tmp_path / "o"), "--set", "train.epochs=1"]
    )
    assert r.exit_code == 0, r.output
    assert "entity F1" in r.stdout
    (tmp_path / "bad.tsv").write_text("cat\tB-ANI\n\nthe\n", encoding="utf-8")
    r = CliRunner().invoke(
        app,
        [
            "train",
            "-r",
            str(path),
            "-o",
            str(tmp_path / "o2"),
            "--set",
            f"data.train.path={tmp_path / 'bad.tsv'}",
        ],
    )
    assert r.exit_code != 0 and "bad.tsv" in r.output


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.slow
def test_phonexl_recipe_on_real_data_with_the_embedded_encoder(tmp_path: Path) -> None:
    """The shipped PhoneXL recipe end to end on the PhoneXL data and e5 (a few steps): the IPA
    vocabulary extension, the bridged MUSE dictionary and every objective on real inputs."""
    if not (SHARED / "cjkv_phonemic").is_dir() or not (SHARED / "muse").is_dir():
        pytest.skip(f"the PhoneXL data or MUSE is not in {SHARED}")
    from scriptbridge.train.recipe import load_recipe
    from scriptbridge.train.run import train

    recipe = load_recipe(
        "phonexl_pos_zh_vi",
        [
            "data.train.limit=24",
            "data.dev.limit=8",
            "evaluate.0.limit=8",
            "evaluate.1.limit=8",
            "train.epochs=1",
            "train.batch_size=8",
            "train.precision=fp32",
        ],
    )
    result = train(recipe, tmp_path / "out", progress=False)
    history = result.metrics["history"][0]
    assert {"task", "L_align", "L_MLM", "L_XMLM"} <= set(history)
    assert result.metrics["scheme"] == "tags" and result.metrics["dictionary"].startswith("MUSE zh-en")
    assert set(result.metrics["sets"]) >= {"zh test (source)", "vi test (target)"}
    saved = json.loads((tmp_path / "out" / "model" / "phonemic" / "phonemic_encoder.json").read_text("utf-8"))
    assert saved["added_ipa_symbols"] and saved["languages"][:2] == ["zh", "vi"]


def test_lone_sentencepiece_markers_do_not_stand_for_their_word() -> None:
    """XLM-R-style tokenizers split CJK words as ["▁", "東京"]: the bare marker leaves the word's
    pooling when the word has other pieces, and stays when it is all there is."""
    import torch

    from scriptbridge.train.tokens import without_bare_markers

    marker = 6
    # <s> ▁我们 | ▁ 喜欢 | ▁ 绿 茶 </s>   and   <s> ▁ 東京 | ▁ に | ▁(alone) </s>
    word_ids = torch.tensor([[-1, 0, 1, 1, 2, 2, 2, -1], [-1, 0, 0, 1, 1, 2, -1, -1]])
    input_ids = torch.tensor([[0, 10, 6, 11, 6, 12, 13, 2], [0, 6, 14, 6, 15, 6, 2, 1]])
    out = without_bare_markers(word_ids, input_ids, marker)
    assert out.tolist() == [[-1, 0, -1, 1, -1, 2, 2, -1], [-1, -1, 0, -1, 1, 2, -1, -1]]
    assert without_bare_markers(word_ids, input_ids, None) is word_ids  # WordPiece: no marker

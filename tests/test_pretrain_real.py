"""Alignment pretraining on real data with the embedded encoder (slow).

The shipped recipes load and check their files; a short TCM run (40 steps of the ``tcm_hindi_roman``
recipe, batch 16) raises the held-out probe (SIB-200 dev: English vs uroman Hindi and vs Hindi), and
its output trains a classifier through ``model.spec``; a from-scratch run of ``translit_pl_uk`` (20
steps, tiny sizes) writes a Unigram tokenizer and a model ``load_encoder`` opens.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(
            f"{path} not found: the shared evaluation data sits beside the repository in ../shared/data"
        )


def test_tcm_on_the_embedded_encoder_raises_the_probe(tmp_path: Path) -> None:
    _needs(DATA / "dakshina" / "hi")
    from scriptbridge.train.pretrain import pretrain
    from scriptbridge.train.pretrain_recipe import load_pretrain_recipe

    recipe = load_pretrain_recipe(
        "tcm_hindi_roman",
        [
            "train.batch_size=16",
            "train.max_steps=40",
            "train.eval_every=20",
            "stages.0.pairs.0.limit=600",
            "model.max_length=64",
        ],
    )
    result = pretrain(recipe, tmp_path / "tcm", progress=False)
    stage = result.metrics["stages"][0]
    assert stage["steps"] == 40
    before, best = stage["probe_before"]["score"], stage["best_score"]
    assert best > before + 0.05, (before, best)
    assert set(stage["probe_before"]["sets"]) == {"en-hi uroman", "en-hi"}

    from scriptbridge.models import load_encoder

    enc = load_encoder(str(tmp_path / "tcm" / "model"), device="cpu")
    assert enc.default_prefix == "query: " and enc.encode(["namaste duniya"]).shape == (1, 384)


def test_from_scratch_on_real_text(tmp_path: Path) -> None:
    _needs(DATA / "ud" / "UD_Ukrainian-IU")
    from scriptbridge.models import load_encoder
    from scriptbridge.train.pretrain import pretrain
    from scriptbridge.train.pretrain_recipe import load_pretrain_recipe

    recipe = load_pretrain_recipe(
        "translit_pl_uk",
        [
            "model.scratch.vocab_size=2000",
            "model.scratch.hidden_size=64",
            "model.scratch.num_layers=2",
            "model.scratch.intermediate_size=128",
            "train.max_steps=20",
            "train.eval_every=10",
            "stages.0.objectives.tcm=1.0",
            "stages.0.objectives.tlm=1.0",
        ],
    )
    result = pretrain(recipe, tmp_path / "scratch", progress=False)
    assert result.metrics["stages"][0]["steps"] == 20
    enc = load_encoder(str(tmp_path / "scratch" / "model"), device="cpu")
    assert enc.num_layers == 2 and enc.encode(["Привіт світ", "Witaj świecie"]).shape == (2, 64)
    assert 1000 < len(enc.tokenizer) <= 2000


def test_shipped_recipes_find_their_files() -> None:
    _needs(DATA / "sib200")
    from scriptbridge.train.pretrain_recipe import check_pretrain_files, load_pretrain_recipe

    for name in ("tcm_hindi_roman", "tpp_sib200", "translit_hi_ur", "translit_pl_uk"):
        check_pretrain_files(load_pretrain_recipe(name))

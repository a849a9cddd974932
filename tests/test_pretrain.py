"""Alignment pretraining (``scriptbridge pretrain``): recipes, data, the step batch, the packed forward,
the loop (stages, probe, early stopping, resume), from scratch, and ``pretrain:`` inside a training
recipe; on the tiny BERT of conftest and small files written here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from scriptbridge.train.pretrain_recipe import load_pretrain_recipe, pretrain_recipe_from_dict
from scriptbridge.train.recipe import RecipeError

EN = [
    "the cat sat on the mat",
    "a dog runs in the park",
    "i like green tea",
    "where is the train station",
    "hello world, how are you?",
    "the dog and the cat",
    "green tea in the park",
    "a cat in the station",
]
HI = [
    "यह एक किताब है",
    "मुझे चाय पसंद है",
    "कुत्ता पार्क में दौड़ता है",
    "बिल्ली चटाई पर बैठी",
    "नमस्ते दुनिया",
    "कुत्ता और बिल्ली",
    "पार्क में हरी चाय",
    "स्टेशन में एक बिल्ली",
]


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    (tmp_path / "pairs.tsv").write_text(
        "en\thi\n" + "".join(f"{a}\t{b}\n" for a, b in zip(EN, HI, strict=True)), encoding="utf-8"
    )
    (tmp_path / "hi.txt").write_text("\n".join(HI) + "\n", encoding="utf-8")
    conllu = "".join(
        f"# sent_id = {i}\n# text = {t}\n1\t{t.split()[0]}\t_\tNOUN\t_\t_\t0\troot\t_\t_\n\n"
        for i, t in enumerate(HI)
    )
    (tmp_path / "hi_pud-ud-test.conllu").write_text(conllu, encoding="utf-8")
    return tmp_path


def recipe_dict(model: str, folder: Path, **train) -> dict:
    return {
        "kind": "pretrain",
        "name": "tiny",
        "model": {"spec": model, "max_length": 32},
        "train": {"batch_size": 4, "epochs": 2, "lr": 1e-3, "eval_every": 2, "precision": "fp32", **train},
        "probe": {"src": str(folder / "pairs.tsv"), "columns": ["en", "hi"]},
        "stages": [
            {
                "name": "all four",
                "pairs": [
                    {"src": str(folder / "pairs.tsv"), "columns": ["en", "hi"]},
                    {"src": str(folder / "hi.txt"), "tgt": "romanize:hi:uroman"},
                ],
                "texts": [str(folder / "hi_pud-ud-test.conllu")],
                "objectives": {"mlm": 1.0, "tlm": 0.5, "tcm": {"weight": 1.0, "layer": 1}, "tpp": 1.0},
            },
            {
                "name": "mlm",
                "texts": [str(folder / "hi.txt")],
                "objectives": {"mlm": 1.0},
                "train": {"epochs": 1},
            },
        ],
    }


# ------------------------------------------------------------------------------------------- recipes
def test_shipped_pretraining_recipes_load() -> None:
    for name in ("tcm_hindi_roman", "tpp_sib200", "translit_hi_ur", "translit_pl_uk"):
        recipe = load_pretrain_recipe(name)
        assert recipe.stages and all(s.active() for s in recipe.stages)
    hi_ur = load_pretrain_recipe(
        "translit_hi_ur", ["stages.0.objectives.tcm=1.0", "stages.0.objectives.tlm=1.0"]
    )
    assert hi_ur.stages[0].active() == ["mlm", "tlm", "tcm", "tpp"][:3]
    assert hi_ur.stages[0].objectives["tcm"]["temperature"] == 0.05  # a bare weight keeps the defaults
    m1 = load_pretrain_recipe("translit_hi_ur", ["stages.0.mlm_sides=src"])
    assert m1.stages[0].mlm_sides == "src"
    assert load_pretrain_recipe("tpp_sib200").stages[1].train.lr == 2e-5  # stages inherit `train`


def test_missing_files_fail_before_any_model_loads(tmp_path: Path) -> None:
    from scriptbridge.train.pretrain import pretrain

    bad = tmp_path / "r.yaml"
    bad.write_text(
        "kind: pretrain\nmodel: {spec: no/such/model}\nstages:\n  - pairs:\n"
        "      - {src: missing.tsv, tgt: 'romanize:hi'}\n    objectives: {tcm: 1.0}\n",
        encoding="utf-8",
    )
    with pytest.raises(RecipeError, match=r"r.yaml:5: stages.0.pairs.0.src: 'missing.tsv' does not exist"):
        pretrain(load_pretrain_recipe(bad), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_recipe_errors_name_file_line_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: pretrain\nname: x\nstages:\n  - name: a\n    texts: [x.txt]\n    objectives: {mlm: 1.0, tcn: 1.0}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        RecipeError, match=r"bad.yaml:6: stages.0.objectives.tcn: unknown objective 'tcn'; did you mean 'tcm'"
    ):
        load_pretrain_recipe(bad)
    bad.write_text(
        "kind: pretrain\nstages:\n  - texts: [x.txt]\n    objectives: {tcm: 1.0}\n", encoding="utf-8"
    )
    with pytest.raises(RecipeError, match="tcm need pairs"):
        load_pretrain_recipe(bad)
    bad.write_text(
        "kind: pretrain\nstages:\n  - texts: [x.txt]\n    objectives: {mlm: 1.0}\n    train: {batch_sise: 3}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        RecipeError, match=r":5: stages.0.train.batch_sise: unknown key .*did you mean 'batch_size'"
    ):
        load_pretrain_recipe(bad)
    with pytest.raises(RecipeError, match=r"no objective has a weight > 0"):
        load_pretrain_recipe(bad, ["stages.0.train={}", "stages.0.objectives.mlm=0"])
    ok = {"kind": "pretrain", "stages": [{"texts": ["x"], "objectives": {"tcm": {"weight": 1, "layer": 0}}}]}
    with pytest.raises(RecipeError, match="layer"):
        pretrain_recipe_from_dict(ok)
    with pytest.raises(RecipeError, match="training recipe"):
        load_pretrain_recipe("quickstart")
    with pytest.raises(RecipeError, match="multiple of num_heads"):
        pretrain_recipe_from_dict(
            {
                "model": {"spec": "scratch", "scratch": {"hidden_size": 30, "num_heads": 4}},
                "stages": ok["stages"],
            }
        )


# ---------------------------------------------------------------------------------------------- data
def test_stage_data_reads_pairs_views_and_treebank_texts(files: Path, tiny_encoder) -> None:
    from scriptbridge.tasks.pretraining import build_stage_data

    recipe = pretrain_recipe_from_dict(recipe_dict("x", files), base_dir=files)
    data = build_stage_data(
        recipe, recipe.stages[0], tiny_encoder.tokenizer, prefix="", max_length=16, seed=0
    )
    assert len(data.pairs) == 16 and len(data.texts) == len(set(data.texts))
    a, b = data.texts[data.pairs[8, 0]], data.texts[data.pairs[8, 1]]
    assert a in HI and b.isascii()  # Hindi and its uroman romanization, made on the fly
    # every Hindi text is one entry (pairs.tsv, hi.txt and the treebank share them): ids tell duplicates
    assert data.pairs[:8, 1].tolist() == data.pairs[8:, 0].tolist()
    # MLM reads both sides of every pair plus the treebank's `# text =` lines
    assert len(data.mlm) == 16 * 2 + 8
    assert all(len(ids) <= 14 for ids in data.ids)  # room left for [CLS] and [SEP]


def test_epoch_plan_covers_everything_and_groups_lengths() -> None:
    from scriptbridge.tasks.pretraining import epoch_plan

    lengths = np.random.default_rng(0).integers(1, 60, size=1000)
    plan = epoch_plan(1000, 8, seed=0, epoch=0, lengths=lengths)
    assert sorted(np.concatenate(plan).tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in plan])
    random_plan = epoch_plan(1000, 8, seed=0, epoch=0)
    assert spread < 0.25 * np.mean([lengths[b].max() - lengths[b].min() for b in random_plan])
    assert [b.tolist() for b in plan] != [
        b.tolist() for b in epoch_plan(1000, 8, seed=0, epoch=1, lengths=lengths)
    ]
    two = epoch_plan(1001, 8, seed=0, epoch=0, lengths=np.append(lengths, 3), world=2)
    assert all(len(b) % 2 == 0 and len(b) <= 16 for b in two)


def test_step_batch_masks_only_mlm_and_tlm_rows(files: Path, tiny_encoder) -> None:
    from scriptbridge.tasks.pretraining import build_stage_data, build_step

    tok = tiny_encoder.tokenizer
    recipe = pretrain_recipe_from_dict(recipe_dict("x", files), base_dir=files)
    data = build_stage_data(recipe, recipe.stages[0], tok, prefix="", max_length=24, seed=0)
    batch = build_step(
        data,
        data.pairs[:4],
        data.mlm[:6],
        tokenizer=tok,
        roles={"mlm", "tlm", "a"},
        generator=torch.Generator().manual_seed(0),
        mlm_ratio=0.5,
        tlm_ratio=0.5,
        restart_positions=True,
        position_offset=0,
        max_length=24,
    )
    assert batch.rows == {"mlm": slice(0, 6), "tlm": slice(6, 10), "a": slice(10, 14), "b": slice(14, 18)}
    targets = batch.labels != -100
    assert targets[:10].any() and not targets[10:].any()  # TCM / TPP rows stay clean
    assert not (targets & batch.special).any()  # never a special token or padding
    cls = tok.cls_token_id
    clean = batch.input_ids[10:]
    assert (clean[:, 0] == cls).all()
    for row, a in zip(clean[:4], data.pairs[:4, 0], strict=True):
        assert row[1 : 1 + len(data.ids[a])].tolist() == data.ids[a]
    tlm = batch.position_ids[6]
    n = int(batch.attention_mask[6].sum())
    assert tlm[0] == 0 and (tlm[1:n] == 0).sum() == 1  # positions restart once, for the second text
    assert torch.equal(batch.a_ids, torch.as_tensor(data.pairs[:4, 0]))


def test_pool_rows_averages_non_special_tokens() -> None:
    from scriptbridge.train.pretrain import pool_rows

    lengths = torch.tensor([3, 4, 2])
    states = torch.arange(9 * 2, dtype=torch.float32).view(9, 2)
    nonspecial = torch.tensor([0, 1, 0, 0, 1, 1, 0, 0, 1], dtype=torch.bool)
    got = pool_rows(states, lengths, nonspecial, slice(1, 3), "mean")
    torch.testing.assert_close(got, torch.stack([states[4:6].mean(0), states[8]]))
    torch.testing.assert_close(pool_rows(states, lengths, nonspecial, slice(0, 2), "cls"), states[[0, 3]])


@pytest.mark.parametrize("packing", [True, False])
def test_packed_and_plain_forwards_agree_with_the_model(
    files: Path, tiny_encoder_dir: Path, packing: bool
) -> None:
    from scriptbridge.models import load_encoder
    from scriptbridge.tasks.pretraining import build_stage_data, build_step
    from scriptbridge.train.pretrain import Forward

    enc = load_encoder(str(tiny_encoder_dir), device="cpu")
    recipe = pretrain_recipe_from_dict(recipe_dict("x", files), base_dir=files)
    data = build_stage_data(recipe, recipe.stages[0], enc.tokenizer, prefix="", max_length=24, seed=0)
    batch = build_step(
        data,
        data.pairs[:5],
        data.mlm[:7],
        tokenizer=enc.tokenizer,
        roles={"mlm", "tlm", "a"},
        generator=torch.Generator().manual_seed(1),
        mlm_ratio=0.15,
        tlm_ratio=0.15,
        restart_positions=True,
        position_offset=0,
        max_length=24,
    )
    forward = Forward(enc.model.eval(), packing=packing)
    assert forward.packed == packing
    with torch.no_grad():
        last, captured = forward(batch, {1})
        ref = enc.model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            token_type_ids=batch.token_type_ids,
            position_ids=batch.position_ids,
            output_hidden_states=True,
        )
    keep = batch.attention_mask.bool()
    torch.testing.assert_close(last, ref.last_hidden_state[keep], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(captured[1], ref.hidden_states[1][keep], atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------------ the loop
def test_pretrain_runs_stages_probes_and_saves_a_normal_checkpoint(
    files: Path, tiny_encoder_dir: Path
) -> None:
    from scriptbridge.models import load_encoder
    from scriptbridge.train.pretrain import pretrain

    out = files / "out"
    recipe = pretrain_recipe_from_dict(recipe_dict(str(tiny_encoder_dir), files), base_dir=files)
    result = pretrain(recipe, out, progress=False)
    first, second = result.metrics["stages"]
    assert first["steps"] == 8 and len(first["history"]) == 4  # 16 pairs / 4, two epochs, a probe every 2
    assert {"mlm", "tlm", "tcm", "tpp", "probe"} <= set(first["history"][0])
    assert first["probe_before"]["score"] is not None and first["best_step"] in (2, 4, 6, 8)
    assert second["steps"] == 2 and "tcm" not in second["history"][0]  # 8 texts / 4, one epoch
    for folder in (
        out / "model",
        out / "stages" / "01-all-four" / "model",
        out / "stages" / "02-mlm" / "model",
    ):
        assert (folder / "model.safetensors").is_file() and (folder / "pretrain_heads.safetensors").is_file()
        assert not list(folder.glob("*.bin"))
    enc = load_encoder(str(out / "model"), device="cpu")
    assert enc.encode(["the cat"]).shape == (1, 32)
    assert (
        json.loads((out / "model" / "scriptbridge.json").read_text())["format"] == "scriptbridge-pretrained"
    )
    assert (out / "report.md").read_text().count("| before |") == 2
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 0 and "torch" in run["versions"]
    assert not (out / "checkpoints").exists()
    # the weights changed, and stage 2 started from stage 1's best (not from the original)
    original = load_encoder(str(tiny_encoder_dir), device="cpu")
    after_one = load_encoder(str(out / "stages" / "01-all-four" / "model"), device="cpu")
    w = "encoder.layer.1.output.dense.weight"
    assert not torch.equal(
        dict(original.model.named_parameters())[w], dict(after_one.model.named_parameters())[w]
    )
    from scriptbridge.train.pretrain import PretrainError

    with pytest.raises(PretrainError, match="--overwrite"):
        pretrain(recipe, out, progress=False)


def test_pretrain_continues_heads_from_an_earlier_run(files: Path, tiny_encoder_dir: Path) -> None:
    from safetensors.torch import load_file

    from scriptbridge.train.pretrain import pretrain

    d = recipe_dict(str(tiny_encoder_dir), files)
    d["stages"] = d["stages"][1:]
    pretrain(pretrain_recipe_from_dict(d, base_dir=files), files / "one", progress=False)
    d["model"]["spec"] = str(files / "one" / "model")
    d["train"]["lr"] = 1e-12  # (almost) no update: the heads must come back as saved
    pretrain(pretrain_recipe_from_dict(d, base_dir=files), files / "two", progress=False)
    one = load_file(str(files / "one" / "model" / "pretrain_heads.safetensors"))
    two = load_file(str(files / "two" / "model" / "pretrain_heads.safetensors"))
    for key in one:
        torch.testing.assert_close(one[key], two[key], atol=1e-6, rtol=0)


def test_a_killed_run_resumes_to_the_same_weights(files: Path, tiny_encoder_dir: Path, monkeypatch) -> None:
    from safetensors.torch import load_file

    import scriptbridge.train.pretrain as pt

    d = recipe_dict(str(tiny_encoder_dir), files)
    recipe = pretrain_recipe_from_dict(d, base_dir=files)
    pt.pretrain(recipe, files / "whole", progress=False)

    real = pt.optimizer_step
    calls = {"n": 0}

    def dying(optimizer) -> None:
        calls["n"] += 1
        if calls["n"] == 6:  # stage 1, after the probe at step 4
            raise KeyboardInterrupt
        real(optimizer)

    monkeypatch.setattr(pt, "optimizer_step", dying)
    with pytest.raises(KeyboardInterrupt):
        pt.pretrain(recipe, files / "killed", progress=False)
    assert (files / "killed" / "checkpoints" / "last" / "state.json").is_file()
    monkeypatch.setattr(pt, "optimizer_step", real)
    result = pt.pretrain(recipe, files / "killed", progress=False)
    assert result.resumed
    a = load_file(str(files / "whole" / "model" / "model.safetensors"))
    b = load_file(str(files / "killed" / "model" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
    whole = json.loads((files / "whole" / "metrics.json").read_text())["stages"]
    again = result.metrics["stages"]
    assert [h["step"] for h in whole[0]["history"]] == [h["step"] for h in again[0]["history"]]
    assert whole[0]["best_step"] == again[0]["best_step"]


def test_pretrain_from_scratch(files: Path) -> None:
    from transformers import AutoTokenizer

    from scriptbridge.models import load_encoder
    from scriptbridge.train.pretrain import pretrain

    d = recipe_dict("scratch", files)
    d["model"]["scratch"] = {
        "vocab_size": 120,
        "hidden_size": 32,
        "num_layers": 2,
        "num_heads": 2,
        "intermediate_size": 64,
        "max_position": 64,
    }
    d["stages"][0]["objectives"] = {"mlm": 1.0, "tcm": 1.0}
    result = pretrain(pretrain_recipe_from_dict(d, base_dir=files), files / "scratch", progress=False)
    assert result.metrics["stages"][0]["history"][-1]["probe"]["top1_src2tgt"] >= 0
    enc = load_encoder(str(files / "scratch" / "model"), device="cpu")
    assert enc.num_layers == 2 and enc.hidden_size == 32 and enc.default_prefix == ""
    tok = AutoTokenizer.from_pretrained(str(files / "scratch" / "tokenizer"))
    assert type(tok.backend_tokenizer.model).__name__ == "Unigram" and len(tok) <= 120


def test_train_recipe_with_a_pretrain_section(files: Path, tiny_encoder_dir: Path) -> None:
    from scriptbridge.train.recipe import recipe_from_dict
    from scriptbridge.train.run import train

    (files / "train.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{'a' if i % 2 else 'b'}\n" for i, t in enumerate(EN)),
        encoding="utf-8",
    )
    pre = recipe_dict(str(tiny_encoder_dir), files)
    pre["stages"] = pre["stages"][1:]
    recipe = recipe_from_dict(
        {
            "name": "with-pretraining",
            "model": {"spec": str(tiny_encoder_dir), "max_length": 32},
            "data": {"train": str(files / "train.tsv")},
            "method": {"variant": "en", "freeze_layers": 0},
            "train": {"epochs": 1, "batch_size": 4, "precision": "fp32"},
            "evaluate": [str(files / "train.tsv")],
            "pretrain": pre,
        },
        base_dir=files,
    )
    assert "pretrain" in recipe.dump()
    result = train(recipe, files / "ft", progress=False)
    assert (files / "ft" / "pretrain" / "metrics.json").is_file()
    saved = json.loads((files / "ft" / "model" / "scriptbridge.json").read_text())
    assert saved["format"] == "scriptbridge-classifier" and result.metrics["sets"]
    run_recipe = (files / "ft" / "recipe.yaml").read_text()
    assert str(files / "ft" / "pretrain" / "model") in run_recipe


def test_cli_pretrain(files: Path, tiny_encoder_dir: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from scriptbridge.cli import app

    runner = CliRunner()
    help_text = runner.invoke(app, ["pretrain", "--help"]).output
    assert "torchrun" in help_text and "tcm" in help_text
    d = recipe_dict(str(tiny_encoder_dir), files)
    d["stages"] = d["stages"][1:]
    (files / "r.yaml").write_text(yaml.safe_dump(d), encoding="utf-8")
    res = runner.invoke(app, ["pretrain", "-r", str(files / "r.yaml"), "-o", str(files / "cli")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["pretrain", "-r", str(files / "r.yaml"), "-o", str(files / "cli")])
    assert res.exit_code != 0 and "--overwrite" in res.output
    res = runner.invoke(
        app,
        [
            "pretrain",
            "-r",
            str(files / "r.yaml"),
            "-o",
            str(files / "x"),
            "--set",
            "stages.0.objectives.tcm=1",
        ],
    )
    assert res.exit_code != 0 and "tcm need pairs" in res.output
    shutil.rmtree(files / "cli")


# ----------------------------------------------------------------------------------- several processes
def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pretrain_worker(rank: int, port: int, recipe: dict, folder: str) -> None:
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from scriptbridge.train.pretrain import pretrain

    try:
        pretrain(pretrain_recipe_from_dict(recipe, base_dir=folder), Path(folder) / "two", progress=False)
    finally:
        torch.distributed.destroy_process_group()


def test_two_processes_train_like_one_with_the_whole_batch(files: Path, tmp_path: Path) -> None:
    """The whole loop under two gloo processes (each half of every batch, TCM negatives gathered with
    gradients, gradients averaged) ends with the weights one process gets on the whole batch."""
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    from conftest import build_tiny_encoder
    from scriptbridge.train.pretrain import pretrain

    enc = build_tiny_encoder(tmp_path / "enc")
    config = json.loads((enc / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # same draws everywhere
    (enc / "config.json").write_text(json.dumps(config))
    d = recipe_dict(str(enc), files, batch_size=4, eval_every=None)
    d["stages"] = [
        {
            "name": "tcm",
            "pairs": d["stages"][0]["pairs"],
            "objectives": {"tcm": {"weight": 1.0, "temperature": 0.1}},
        }
    ]
    mp.spawn(_pretrain_worker, args=(_free_port(), d, str(files)), nprocs=2)
    d["train"]["batch_size"] = 8  # one process, the same global batches
    pretrain(pretrain_recipe_from_dict(d, base_dir=files), files / "one", progress=False)
    one = load_file(str(files / "one" / "model" / "model.safetensors"))
    two = load_file(str(files / "two" / "model" / "model.safetensors"))
    original = load_file(str(enc / "model.safetensors"))
    key = "encoder.layer.1.output.dense.weight"
    assert not torch.allclose(one[key], original[key], atol=1e-4)  # it trained
    for k in one:
        torch.testing.assert_close(one[k], two[k], atol=2e-5, rtol=1e-4)
    m1 = json.loads((files / "one" / "metrics.json").read_text())["stages"][0]
    m2 = json.loads((files / "two" / "metrics.json").read_text())["stages"][0]
    assert m1["steps"] == m2["steps"] == 4
    assert [round(h["tcm"], 4) for h in m1["history"]] == [round(h["tcm"], 4) for h in m2["history"]]
    assert json.loads((files / "two" / "run.json").read_text())["world_size"] == 2


def test_held_out_probe_sets_and_metrics(files: Path, tiny_encoder) -> None:
    from scriptbridge.train.pretrain import HeldOutProbe

    d = recipe_dict("x", files)
    pairs = {"src": str(files / "pairs.tsv"), "columns": ["en", "hi"]}
    d["probe"] = [{**pairs, "name": "a"}, {**pairs, "name": "b", "metric": "top5"}]
    found = HeldOutProbe(pretrain_recipe_from_dict(d, base_dir=files), "mean", "", 32)(tiny_encoder)
    a, b = found["sets"]["a"], found["sets"]["b"]
    assert a["score"] == pytest.approx((a["top1_src2tgt"] + a["top1_tgt2src"]) / 2)
    assert b["score"] == pytest.approx((b["top5_src2tgt"] + b["top5_tgt2src"]) / 2)
    assert found["score"] == pytest.approx((a["score"] + b["score"]) / 2)
    assert found["top1_src2tgt"] == a["top1_src2tgt"]  # the first set at the top level
    d["probe"] = {**pairs, "metric": "top3"}
    with pytest.raises(RecipeError, match="probe.metric: expected one of top1, top5, top10"):
        pretrain_recipe_from_dict(d, base_dir=files)


def test_mlm_starts_from_the_checkpoints_own_head(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    """A *ForMaskedLM checkpoint (mBERT, XLM-R on the hub) keeps its prediction head for MLM."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from scriptbridge.models import load_encoder
    from scriptbridge.objectives.word_mlm import WordMLMHead
    from scriptbridge.train.pretrain import load_pretrained_mlm_head

    torch.manual_seed(3)
    config = BertConfig.from_pretrained(str(tiny_encoder_dir))
    mlm = BertForMaskedLM(config)
    with torch.no_grad():
        mlm.cls.predictions.bias.uniform_(-1, 1)
    mlm.save_pretrained(tmp_path / "mlm", safe_serialization=True)
    AutoTokenizer.from_pretrained(str(tiny_encoder_dir)).save_pretrained(tmp_path / "mlm")
    saved = load_file(str(tmp_path / "mlm" / "model.safetensors"))
    enc = load_encoder(str(tmp_path / "mlm"), device="cpu")
    head = WordMLMHead(enc.model.get_input_embeddings())
    assert load_pretrained_mlm_head(enc, head)
    torch.testing.assert_close(head.dense.weight, saved["cls.predictions.transform.dense.weight"])
    torch.testing.assert_close(head.layer_norm.bias, saved["cls.predictions.transform.LayerNorm.bias"])
    torch.testing.assert_close(head.bias, saved["cls.predictions.bias"])
    # the same logits as the model's own head (the decoder is tied to the input embeddings)
    states = torch.randn(3, config.hidden_size)
    with torch.no_grad():
        torch.testing.assert_close(head(states), mlm.cls(states), atol=1e-5, rtol=1e-4)
    plain = load_encoder(str(tiny_encoder_dir), device="cpu")  # an encoder without a head
    assert not load_pretrained_mlm_head(plain, WordMLMHead(plain.model.get_input_embeddings()))

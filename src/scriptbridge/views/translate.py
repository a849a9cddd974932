"""Translate the labelled English training data into the target language, with pluggable, cached providers.

The teacher-student method (cross-script transfer) trains a student on target-language (then romanized)
versions of the labelled English examples. Where those target-language texts come from is up to the user;
pick the best provider available:

* ``GivenTranslations`` (``provider: given``): translations you already have -- a list, a column of a
  CSV/TSV/JSONL file, or a file with one translation per line. The best choice whenever a human or an
  external MT system already translated the data.
* ``HFTranslator`` (``provider: hf``): a Hugging Face sequence-to-sequence MT model (MarianMT
  ``Helsinki-NLP/opus-mt-en-hi``, NLLB ``facebook/nllb-200-distilled-600M``, M2M-100 ...), from a local
  folder or the hub. Real machine translation: word order, morphology and idioms come out right (mostly).
  Use it when you have such a model.
* ``DictionaryTranslator`` (``provider: dictionary``): word by word through a bilingual dictionary (the
  MUSE ``en-hi.0-5000.txt`` format). Crude -- no reordering, no morphology, no multi-word expressions --
  but fully offline, fast, and enough to give the student target-language vocabulary. The fallback.
* Or translate nothing (``provider: none``) and align the encoders with a separate parallel corpus instead.

Every provider except ``given`` is wrapped in a ``CachedTranslator`` by ``build_translator``: translations
are stored in ``cache_dir()/translations/<key>.jsonl`` where the key is derived from the provider's
``fingerprint()`` (file hash, model id and revision, generation settings), so a re-run only translates new
texts and a changed dictionary or model starts a fresh cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import regex

from scriptbridge.utils.io import cache_dir

__all__ = [
    "PROVIDERS",
    "CachedTranslator",
    "DictionaryTranslator",
    "GivenTranslations",
    "HFTranslator",
    "TranslationError",
    "Translator",
    "build_translator",
]


class TranslationError(ValueError):
    """A translation provider could not be set up or used; the message names the provider, the file and
    line where relevant, and what to do."""


@runtime_checkable
class Translator(Protocol):
    """Anything that turns a batch of source texts into the same number of target-language texts."""

    name: str  # e.g. "dictionary:en-hi.0-5000.txt", "hf:Helsinki-NLP/opus-mt-en-hi", "file:hi.txt"

    def fingerprint(self) -> str:
        """A string that changes whenever the provider's output could change."""
        ...

    def translate(self, texts: Sequence[str]) -> list[str]:
        """One translation per text, in order."""
        ...


def _sha256(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------------
# (a) given translations


class GivenTranslations:
    """Translations that already exist: ``translations`` (a list), or ``path`` -- a CSV/TSV/JSONL file and
    its ``column``, or a plain file with one translation per line.

    With ``source_texts`` (the English text of each translation, same length), ``translate`` looks each text
    up by exact match, so the order and the subset of texts asked for do not matter. Without, ``translate``
    needs exactly as many texts as there are translations and returns them in order. When a source text
    occurs twice, its first translation wins.

    Never cached: the translations are already at hand.
    """

    def __init__(
        self,
        translations: Sequence[str] | None = None,
        *,
        path: str | os.PathLike | None = None,
        column: str | None = None,
        source_texts: Sequence[str] | None = None,
    ) -> None:
        if (translations is None) == (path is None):
            raise TranslationError("given translations: pass either a list of translations or path=FILE")
        if path is not None:
            from scriptbridge.utils.tables import TableError, read_table

            try:
                table = read_table(os.fspath(path), column=column)
            except TableError as e:
                raise TranslationError(f"given translations: {e}") from e
            self.translations = list(table.texts)
            self.name = f"file:{Path(path).name}" + (f"[{table.column}]" if table.column else "")
            self.path: Path | None = Path(path)
        else:
            if column is not None:
                raise TranslationError("given translations: column= only applies to a file (path=...)")
            assert translations is not None
            bad = next((i for i, t in enumerate(translations) if not isinstance(t, str)), None)
            if bad is not None:
                raise TranslationError(
                    f"given translations: item {bad} is {type(translations[bad]).__name__}, expected a string"
                )
            self.translations = list(translations)
            self.name = f"given:{len(self.translations)} texts"
            self.path = None
        self._lookup: dict[str, str] | None = None
        if source_texts is not None:
            sources = list(source_texts)
            if len(sources) != len(self.translations):
                raise TranslationError(
                    f"{self.name}: {len(sources)} source texts for {len(self.translations)} translations; "
                    "they must pair up one to one"
                )
            self._lookup = {}
            for src, tgt in zip(sources, self.translations, strict=True):
                self._lookup.setdefault(src, tgt)

    def fingerprint(self) -> str:
        payload = json.dumps(
            {"translations": self.translations, "lookup": self._lookup}, ensure_ascii=False, sort_keys=True
        )
        return f"given:{_sha256(payload)}"

    def translate(self, texts: Sequence[str]) -> list[str]:
        texts = list(texts)
        if self._lookup is not None:
            out = []
            for i, text in enumerate(texts):
                try:
                    out.append(self._lookup[text])
                except KeyError:
                    shown = text if len(text) <= 80 else text[:77] + "..."
                    raise TranslationError(
                        f"{self.name}: no translation for text {i} ({shown!r}); the source texts must match "
                        "the training texts exactly (same spelling, spacing and case)"
                    ) from None
            return out
        if len(texts) != len(self.translations):
            raise TranslationError(
                f"{self.name}: {len(texts)} texts to translate but {len(self.translations)} translations; "
                "give one translation per training text in the same order, or pass the source texts "
                "(source_texts= / source_column) to match them by text"
            )
        return list(self.translations)


# ----------------------------------------------------------------------------------------------------------
# (c) word-by-word dictionary

# a number (3, 3.5, 1,000) that is not the start of a word; a word (letters, marks, digits, with
# apostrophes inside: don't, l'eau); any other non-space character on its own
_TOKEN = regex.compile(
    r"(?P<num>\d+(?:[.,]\d+)*(?![\w]))|(?P<word>\w+(?:['\u2019]\w+)*)|(?P<punct>[^\w\s])",
    regex.UNICODE | regex.V0,
)
_NO_SPACE_BEFORE = frozenset(".,!?;:)]}%\u0964\u0965\u3001\u3002")  # includes danda and CJK stops
_NO_SPACE_AFTER = frozenset("([{")


def _join(tokens: Sequence[str]) -> str:
    out: list[str] = []
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
            out.append(" ")
        out.append(tok)
    return "".join(out)


class DictionaryTranslator:
    """Word-by-word translation through a bilingual dictionary in the MUSE format: ``source target`` per
    line (a tab or spaces between), several lines for a word with several translations -- the first one
    listed wins.

    Crude: no reordering, no morphology, no multi-word expressions, no word-sense choice. But it is offline
    and instant, and it gives the student the target language's vocabulary, which is what cross-script
    transfer needs most. Prefer real MT (``HFTranslator``) when you have a model.

    Numbers and punctuation pass through; a word missing from the dictionary is kept as is
    (``keep_unknown``) or dropped. With ``lowercase`` (the default, as MUSE is lowercase) words are looked
    up in lowercase. After each ``translate``, ``last_coverage`` is the fraction of word tokens found in the
    dictionary and ``last_unknown`` counts the missing words.
    """

    def __init__(self, path: str | os.PathLike, *, lowercase: bool = True, keep_unknown: bool = True) -> None:
        self.path = Path(path)
        self.lowercase = lowercase
        self.keep_unknown = keep_unknown
        self.name = f"dictionary:{self.path.name}"
        if not self.path.is_file():
            raise TranslationError(
                f"{self.name}: no such file {self.path}; pass a bilingual dictionary such as MUSE's "
                "en-hi.0-5000.txt (one 'source target' pair per line)"
            )
        self._hash = _file_sha256(self.path)
        self.entries: dict[str, str] = self._load()
        self.last_coverage: float | None = None
        self.last_unknown: Counter[str] = Counter()

    def _load(self) -> dict[str, str]:
        from scriptbridge.views.code_switch import DictionaryError, read_muse_pairs

        entries: dict[str, str] = {}
        try:
            for src, tgt in read_muse_pairs(self.path):
                # the first translation of a word wins
                entries.setdefault(src.lower() if self.lowercase else src, tgt)
        except DictionaryError as e:
            raise TranslationError(str(e)) from None
        if not entries:
            raise TranslationError(f"{self.path}: the dictionary is empty")
        return entries

    def fingerprint(self) -> str:
        current = _file_sha256(self.path) if self.path.is_file() else "missing"
        if current != self._hash:  # edited since loading: reload so output and fingerprint agree
            self._hash = current
            self.entries = self._load()
        return f"dictionary:v1:{self._hash}:lower={self.lowercase}:keep={self.keep_unknown}"

    def _translate_one(self, text: str, counts: list[int]) -> str:
        out: list[str] = []
        for m in _TOKEN.finditer(text):
            tok = m.group()
            if m.lastgroup != "word":
                out.append(tok)
                continue
            counts[0] += 1
            key = tok.lower() if self.lowercase else tok
            tgt = self.entries.get(key)
            if tgt is None and ("'" in key or "\u2019" in key):
                tgt = self.entries.get(key.replace("\u2019", "'")) or self.entries.get(
                    key.replace("'", "\u2019")
                )
            if tgt is not None:
                counts[1] += 1
                out.append(tgt)
            else:
                self.last_unknown[key] += 1
                if self.keep_unknown:
                    out.append(tok)
        return _join(out)

    def translate(self, texts: Sequence[str]) -> list[str]:
        self.last_unknown = Counter()
        counts = [0, 0]  # word tokens, found
        result = [self._translate_one(t, counts) for t in texts]
        self.last_coverage = counts[1] / counts[0] if counts[0] else 1.0
        return result


# ----------------------------------------------------------------------------------------------------------
# (b) Hugging Face seq2seq models


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class HFTranslator:
    """A Hugging Face sequence-to-sequence translation model (MarianMT, NLLB, M2M-100, mBART ...), loaded on
    the first ``translate`` from a local folder or a hub id; weights are read from safetensors only.

    For multilingual models, ``src_lang`` sets the tokenizer's source language and ``tgt_lang`` forces the
    first generated token, in the model's own code (NLLB: ``eng_Latn``/``hin_Deva``; M2M-100: ``en``/``hi``).
    MarianMT pairs (``opus-mt-en-hi``) need neither. Greedy decoding (``num_beams=1``) by default: beams are
    slower and matter little for training data.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        device: Any = None,
        batch_size: int = 16,
        max_length: int = 256,
        num_beams: int = 1,
        revision: str | None = None,
        progress: bool = True,
    ) -> None:
        if batch_size < 1 or max_length < 1 or num_beams < 1:
            raise TranslationError(
                f"hf:{model}: batch_size, max_length and num_beams must be positive integers"
            )
        self.model_spec = os.fspath(model)
        self.src_lang = src_lang
        self.tgt_lang = tgt_lang
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.num_beams = num_beams
        self.revision = revision
        self.progress = progress
        local = Path(self.model_spec).expanduser()
        self.local_path: Path | None = local if local.exists() else None
        self.name = f"hf:{local.name if self.local_path else self.model_spec}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._forced_bos: int | None = None
        self._loaded_fingerprint: str | None = None

    # -- fingerprint ---------------------------------------------------------------------------------------

    def _source_fingerprint(self) -> str:
        if self.local_path is not None:
            h = hashlib.sha256()
            files = (
                sorted(p for p in self.local_path.iterdir() if p.is_file())
                if self.local_path.is_dir()
                else []
            )
            for p in files:
                st = p.stat()
                if st.st_size <= (16 << 20):  # configs, tokenizers, small vocabularies: their content
                    h.update(f"{p.name}:{_file_sha256(p)}\n".encode())
                else:  # weights: name, size and modification time (hashing GBs on every run is too slow)
                    h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
            return f"local:{h.hexdigest()}"
        revision = self.revision or "main"
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(self.model_spec, "config.json", revision=self.revision)
            if isinstance(cached, str):  # .../snapshots/<commit>/config.json
                revision = Path(cached).parent.name
        except Exception:  # pragma: no cover - an odd cache layout only costs a cache miss
            pass
        return f"hub:{self.model_spec}@{revision}"

    def fingerprint(self) -> str:
        source = self._loaded_fingerprint or self._source_fingerprint()
        settings = f"src={self.src_lang}:tgt={self.tgt_lang}:max={self.max_length}:beams={self.num_beams}"
        return f"hf:v1:{source}:{settings}"

    # -- loading -------------------------------------------------------------------------------------------

    def _from_pretrained(self, where: str, **kwargs: Any) -> tuple[Any, Any]:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        if self.revision:
            kwargs["revision"] = self.revision
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
        quiet = self.local_path is not None or bool(kwargs.get("local_files_only"))
        with _quiet_loading() if quiet else contextlib.nullcontext():
            model = AutoModelForSeq2SeqLM.from_pretrained(where, use_safetensors=True, **kwargs)
        return model, tokenizer

    def _unreachable(self, reason: str) -> TranslationError:
        spec = self.model_spec
        return TranslationError(
            f"hf:{spec}: could not load the model ({reason}); it is not a local folder and not in the local "
            "Hugging Face cache, and the hub cannot be reached from here.\n"
            "Download it on a machine with network access:\n"
            f"    huggingface-cli download {spec} --local-dir DIR      (newer huggingface_hub: hf download ...)\n"
            "copy DIR here and pass the folder instead (recipe: model: DIR). Without any MT model, use "
            "provider: dictionary (word by word through a MUSE dictionary) or provider: given."
        )

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch

        spec = self.model_spec
        if self.local_path is not None:
            if not self.local_path.is_dir():
                raise TranslationError(f"hf:{spec}: is a file; pass the model *folder* (with config.json)")
            try:
                model, tokenizer = self._from_pretrained(str(self.local_path))
            except (OSError, ValueError, KeyError) as e:
                hint = ""
                if not list(self.local_path.glob("*.safetensors")):
                    hint = (
                        " (only safetensors weights are loaded; convert a pytorch_model.bin with "
                        "AutoModelForSeq2SeqLM.from_pretrained(DIR).save_pretrained(DIR))"
                    )
                raise TranslationError(
                    f"hf:{spec}: could not load the model in {self.local_path}: {e}{hint}"
                ) from e
        else:
            model, tokenizer = self._load_hub()
        device = self.device
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model = model.to(device).eval()
        self._tokenizer = tokenizer
        self._device = device
        self._setup_langs()
        self._loaded_fingerprint = self._source_fingerprint()

    def _load_hub(self) -> tuple[Any, Any]:
        spec = self.model_spec
        if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
            raise TranslationError(f"hf:{spec}: no such model folder")
        try:  # a copy in the hub cache works without any network wait
            return self._from_pretrained(spec, local_files_only=True)
        except (OSError, ValueError):
            pass
        if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
            raise self._unreachable("HF_HUB_OFFLINE is set")
        try:  # one quick request instead of transformers' retries with back-off
            from huggingface_hub import model_info
            from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

            try:
                model_info(spec, timeout=10)
            except RepositoryNotFoundError as e:
                raise TranslationError(
                    f"hf:{spec}: neither a local folder nor a model on the Hugging Face hub (or it is private: "
                    "log in with `hf auth login`)"
                ) from e
            except HfHubHTTPError:
                pass  # the hub answered: let transformers explain
            except Exception as e:  # DNS failure, refused connection, timeout
                raise self._unreachable(f"{type(e).__name__}: {e}".strip()) from e
        except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
            pass
        try:
            return self._from_pretrained(spec)
        except (OSError, ValueError) as e:
            raise TranslationError(
                f"hf:{spec}: could not load the model from the Hugging Face hub: {e}"
            ) from e

    def _setup_langs(self) -> None:
        tok = self._tokenizer
        if self.src_lang is not None:
            if hasattr(tok, "src_lang"):
                tok.src_lang = self.src_lang
            else:
                raise TranslationError(
                    f"{self.name}: src_lang={self.src_lang!r} was given but this tokenizer has no source "
                    "language setting (a single-pair model such as MarianMT); leave src_lang out"
                )
        self._forced_bos = None
        if self.tgt_lang is not None:
            ids: list[Any] = []
            if hasattr(tok, "get_lang_id"):  # M2M-100: "hi" -> "__hi__"
                with contextlib.suppress(KeyError, ValueError, AttributeError):
                    ids.append(tok.get_lang_id(self.tgt_lang))
            ids.append(tok.convert_tokens_to_ids(self.tgt_lang))
            unk = getattr(tok, "unk_token_id", None)
            good = [i for i in ids if isinstance(i, int) and i != unk]
            if not good:
                raise TranslationError(
                    f"{self.name}: tgt_lang={self.tgt_lang!r} is not a language token of this model; use its own "
                    "codes (NLLB: hin_Deva, urd_Arab ...; M2M-100: hi, ur ...), or leave tgt_lang out for a "
                    "single-pair model such as MarianMT"
                )
            self._forced_bos = good[0]

    # -- translation ---------------------------------------------------------------------------------------

    def translate(self, texts: Sequence[str]) -> list[str]:
        texts = list(texts)
        out = [""] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if not todo:
            return out
        self._load()
        import torch

        order = sorted(todo, key=lambda i: len(texts[i]), reverse=True)  # similar lengths pad little
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_length,
            "num_beams": self.num_beams,
            "do_sample": False,
        }
        if self._forced_bos is not None:
            gen_kwargs["forced_bos_token_id"] = self._forced_bos
        bar = (
            _progress_bar(len(order), f"translating ({self.name})")
            if self.progress and len(batches) > 1
            else None
        )
        try:
            with torch.inference_mode():
                for batch in batches:
                    enc = self._tokenizer(
                        [texts[i] for i in batch],
                        return_tensors="pt",
                        padding=True,
                        truncation=True,
                        max_length=self.max_length,
                    )
                    enc.pop("token_type_ids", None)
                    enc = {k: v.to(self._device) for k, v in enc.items()}
                    generated = self._model.generate(**enc, **gen_kwargs)
                    decoded = self._tokenizer.batch_decode(generated, skip_special_tokens=True)
                    for i, t in zip(batch, decoded, strict=True):
                        out[i] = t.strip()
                    if bar is not None:
                        bar.advance(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return out


def _quiet_loading() -> contextlib.AbstractContextManager[None]:
    """Hide transformers' "Loading weights" bar (reading local weights is quick; downloads keep theirs)."""
    from scriptbridge.models.embedded import _quiet_transformers

    return _quiet_transformers()


def _progress_bar(total: int, description: str) -> Any:
    from scriptbridge.models.loading import _Progress

    return _Progress(total, description)


# ----------------------------------------------------------------------------------------------------------
# cache


class CachedTranslator:
    """Wraps any ``Translator`` with an on-disk cache, one JSONL file per provider fingerprint:
    ``cache_root/<sha256(fingerprint)[:16]>.jsonl`` (``cache_root`` defaults to
    ``cache_dir()/translations``, i.e. ``$SCRIPTBRIDGE_CACHE/translations``).

    Each line is ``{"src": text, "tgt": translation}``; new translations are appended, and lines that do not
    decode (a crash mid-write) are skipped. Only distinct texts missing from the cache reach the inner
    translator. After each ``translate``, ``hits`` and ``misses`` count the distinct texts found in the cache
    and sent to the inner translator.
    """

    def __init__(self, inner: Translator, cache_root: str | os.PathLike | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self._root = Path(cache_root) if cache_root is not None else None
        self.hits = 0
        self.misses = 0
        self._loaded_path: Path | None = None
        self._entries: dict[str, str] = {}

    @property
    def cache_root(self) -> Path:
        return self._root if self._root is not None else cache_dir() / "translations"

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def cache_path(self) -> Path:
        """The JSONL file for the inner translator's current fingerprint."""
        return self.cache_root / f"{_sha256(self.inner.fingerprint())[:16]}.jsonl"

    def _read(self, path: Path) -> dict[str, str]:
        entries: dict[str, str] = {}
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return entries
        except OSError as e:
            raise TranslationError(f"{self.name}: cannot read the translation cache {path}: {e}") from e
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue  # a truncated line from a crash: that text is simply translated again
            if isinstance(obj, dict) and isinstance(obj.get("src"), str) and isinstance(obj.get("tgt"), str):
                entries.setdefault(_sha256(obj["src"]), obj["tgt"])
        return entries

    def _append(self, path: Path, pairs: list[tuple[str, str]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps({"src": s, "tgt": t}, ensure_ascii=False) + "\n" for s, t in pairs)
        with open(path, "ab+") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:  # a last line cut short by a crash must not swallow the next entry
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    lines = "\n" + lines
            f.write(lines.encode("utf-8"))

    def translate(self, texts: Sequence[str]) -> list[str]:
        texts = list(texts)
        path = self.cache_path()
        if path != self._loaded_path:
            self._entries = self._read(path)
            self._loaded_path = path
        keys = [_sha256(t) for t in texts]
        missing: dict[str, str] = {}  # key -> text, distinct, in first-seen order
        hits: set[str] = set()
        for key, text in zip(keys, texts, strict=True):
            if key in self._entries:
                hits.add(key)
            elif key not in missing:
                missing[key] = text
        self.hits, self.misses = len(hits), len(missing)
        if missing:
            sources = list(missing.values())
            translated = list(self.inner.translate(sources))
            if len(translated) != len(sources):
                raise TranslationError(
                    f"{self.name}: returned {len(translated)} translations for {len(sources)} texts"
                )
            try:
                self._append(path, list(zip(sources, translated, strict=True)))
            except OSError as e:
                raise TranslationError(
                    f"{self.name}: cannot write the translation cache {path}: {e}; set SCRIPTBRIDGE_CACHE "
                    "to a writable folder or turn the cache off (cache: false)"
                ) from e
            for key, tgt in zip(missing, translated, strict=True):
                self._entries[key] = tgt
        return [self._entries[k] for k in keys]


# ----------------------------------------------------------------------------------------------------------
# recipes

PROVIDERS: tuple[str, ...] = ("none", "given", "dictionary", "hf")
_ALLOWED: dict[str, tuple[str, ...]] = {
    "none": ("provider",),
    "given": ("provider", "path", "column", "source_column", "translations", "cache"),
    "dictionary": ("provider", "path", "lowercase", "keep_unknown", "cache"),
    "hf": (
        "provider",
        "model",
        "src_lang",
        "tgt_lang",
        "batch_size",
        "max_length",
        "num_beams",
        "device",
        "revision",
        "cache",
    ),
}
_REQUIRED: dict[str, tuple[str, ...]] = {"none": (), "given": (), "dictionary": ("path",), "hf": ("model",)}


def _resolve(value: Any, base_dir: Path | None) -> Path:
    p = Path(os.fspath(value)).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


def build_translator(
    config: Mapping[str, Any], *, base_dir: Path | None = None, cache_root: Path | None = None
) -> Translator | None:
    """A translator from a recipe's ``translate:`` mapping, e.g.::

        {"provider": "dictionary", "path": "muse/en-hi.0-5000.txt"}
        {"provider": "hf", "model": "facebook/nllb-200-distilled-600M", "src_lang": "eng_Latn",
         "tgt_lang": "hin_Deva", "batch_size": 16}
        {"provider": "given", "path": "train_hi.tsv", "column": "text_hi", "source_column": "text"}
        {"provider": "none"}

    Relative paths resolve against ``base_dir`` (the recipe's folder). ``provider: none`` gives None (no
    translation: align with a parallel corpus instead). The result is wrapped in a ``CachedTranslator``
    unless ``cache: false``; given translations are never cached.
    """
    if not isinstance(config, Mapping):
        raise TranslationError(
            f"translation config must be a mapping with a 'provider' key, got {type(config).__name__}"
        )
    if "provider" not in config:
        raise TranslationError(f"translation config: missing key 'provider' (one of {', '.join(PROVIDERS)})")
    provider = str(config["provider"]).strip().lower()
    if provider not in _ALLOWED:
        raise TranslationError(
            f"translation config: unknown provider {config['provider']!r}; use one of {', '.join(PROVIDERS)}"
        )
    allowed = _ALLOWED[provider]
    for key in config:
        if key not in allowed:
            raise TranslationError(
                f"translation config: unknown key {key!r} for provider {provider!r}; allowed keys: "
                f"{', '.join(allowed)}"
            )
    for key in _REQUIRED[provider]:
        if config.get(key) in (None, ""):
            raise TranslationError(
                f"translation config: provider {provider!r} needs the key {key!r}; allowed keys: "
                f"{', '.join(allowed)}"
            )
    cache = config.get("cache", True)
    if not isinstance(cache, bool):
        raise TranslationError(f"translation config: 'cache' must be true or false, got {cache!r}")

    if provider == "none":
        return None
    if provider == "given":
        has_path = config.get("path") not in (None, "")
        if has_path == ("translations" in config):
            raise TranslationError(
                "translation config: provider 'given' needs exactly one of the keys 'path' (a file) or "
                f"'translations' (a list); allowed keys: {', '.join(allowed)}"
            )
        if not has_path:
            if "column" in config or "source_column" in config:
                raise TranslationError("translation config: 'column'/'source_column' need 'path' (a file)")
            return GivenTranslations(list(config["translations"]))
        path = _resolve(config["path"], base_dir)
        sources = None
        if config.get("source_column"):
            from scriptbridge.utils.tables import TableError, read_table

            try:
                sources = read_table(str(path), column=str(config["source_column"])).texts
            except TableError as e:
                raise TranslationError(f"given translations: {e}") from e
        column = config.get("column")
        return GivenTranslations(
            path=str(path), column=None if column is None else str(column), source_texts=sources
        )

    inner: Translator
    if provider == "dictionary":
        inner = DictionaryTranslator(
            _resolve(config["path"], base_dir),
            lowercase=bool(config.get("lowercase", True)),
            keep_unknown=bool(config.get("keep_unknown", True)),
        )
    else:
        model = os.fspath(config["model"])
        local = _resolve(model, base_dir)
        if local.exists() or model.startswith((".", "/", "~")):
            model = str(local)
        ints = {}
        for key, default in (("batch_size", 16), ("max_length", 256), ("num_beams", 1)):
            value = config.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TranslationError(
                    f"translation config: {key!r} must be a positive integer, got {value!r}"
                )
            ints[key] = value
        inner = HFTranslator(
            model,
            src_lang=config.get("src_lang"),
            tgt_lang=config.get("tgt_lang"),
            device=config.get("device"),
            revision=config.get("revision"),
            **ints,
        )
    return CachedTranslator(inner, cache_root) if cache else inner

"""A small BERT and its tokenizer built from scratch, for alignment pretraining.

The transliteration-alignment paper trains its models from scratch with a SentencePiece Unigram
tokenizer (30k pieces) so that the vocabulary is shaped by the pretraining corpus (original script plus
its romanization) rather than inherited from a multilingual checkpoint.  The ``tokenizers`` library's
Unigram trainer implements SentencePiece's algorithm, so the ``sentencepiece`` package is not needed,
and the result is an ordinary transformers checkpoint folder that :func:`scriptbridge.models.load_encoder`
reads like any other.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI imports this module without training anything
    import transformers

#: The special tokens in id order (BERT's names, so BERT-style training code finds them where it expects).
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: SentencePiece's word-boundary marker; Metaspace puts it where the spaces were, so decoding is lossless.
METASPACE = "\u2581"


@dataclass
class ScratchConfig:
    """Sizes of a from-scratch model; the defaults are a small BERT that trains on one GPU in hours.

    ``vocab_size`` is what the tokenizer is asked for (the paper's 30k); the model itself is sized from
    the tokenizer actually trained, which can differ on small corpora.
    """

    vocab_size: int = 30000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    max_position: int = 512
    dropout: float = 0.1
    lowercase: bool = False


class ScratchError(ValueError):
    """A from-scratch model or tokenizer cannot be built as asked; the message says how to fix it."""


def _fast_tokenizer_class() -> type:
    """The tokenizer class, built on first use so importing this module does not import transformers."""
    global _SCRATCH_TOKENIZER
    if _SCRATCH_TOKENIZER is not None:
        return _SCRATCH_TOKENIZER
    from transformers import PreTrainedTokenizerFast

    class ScratchTokenizerFast(PreTrainedTokenizerFast):
        """A ``PreTrainedTokenizerFast`` that also answers BERT's special-token helpers.

        transformers 5 dropped ``build_inputs_with_special_tokens`` and
        ``create_token_type_ids_from_sequences`` from fast tokenizers (and ``get_special_tokens_mask``
        only handles already-formatted input), but BERT-style MLM/TLM code builds pairs from token ids
        with them.  They follow the same ``[CLS] A [SEP] B [SEP]`` template as the backend's
        post-processor, so they agree with ``tokenizer(a, b)``.

        The folder is saved with ``tokenizer_class`` ``PreTrainedTokenizerFast``, so it loads anywhere
        without scriptbridge (as a plain fast tokenizer that encodes identically);
        ``ScratchTokenizerFast.from_pretrained(folder)`` gives these helpers back.
        """

        def build_inputs_with_special_tokens(
            self, token_ids_0: list[int], token_ids_1: list[int] | None = None
        ) -> list[int]:
            cls, sep = [self.cls_token_id], [self.sep_token_id]
            if token_ids_1 is None:
                return cls + list(token_ids_0) + sep
            return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

        def get_special_tokens_mask(
            self,
            token_ids_0: list[int],
            token_ids_1: list[int] | None = None,
            already_has_special_tokens: bool = False,
        ) -> list[int]:
            if already_has_special_tokens:
                return super().get_special_tokens_mask(
                    token_ids_0, token_ids_1, already_has_special_tokens=True
                )
            mask = [1] + [0] * len(token_ids_0) + [1]
            if token_ids_1 is not None:
                mask += [0] * len(token_ids_1) + [1]
            return mask

        def create_token_type_ids_from_sequences(
            self, token_ids_0: list[int], token_ids_1: list[int] | None = None
        ) -> list[int]:
            first = [0] * (len(token_ids_0) + 2)
            if token_ids_1 is None:
                return first
            return first + [1] * (len(token_ids_1) + 1)

        def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> tuple:
            files = super().save_pretrained(save_directory, *args, **kwargs)
            # a class name only scriptbridge knows would make other installs guess the class
            for name in files:
                if str(name).endswith("tokenizer_config.json") and os.path.isfile(name):
                    path = Path(name)
                    config = json.loads(path.read_text(encoding="utf-8"))
                    config["tokenizer_class"] = "PreTrainedTokenizerFast"
                    text = json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
                    path.write_text(text, encoding="utf-8")
            return files

    # pickle (DataLoader workers under spawn) finds the class through the module __getattr__ below
    ScratchTokenizerFast.__module__ = __name__
    ScratchTokenizerFast.__qualname__ = "ScratchTokenizerFast"
    _SCRATCH_TOKENIZER = ScratchTokenizerFast
    return ScratchTokenizerFast


_SCRATCH_TOKENIZER: type | None = None


def __getattr__(name: str) -> Any:
    # ``from scriptbridge.models.scratch import ScratchTokenizerFast`` works, still lazily
    if name == "ScratchTokenizerFast":
        return _fast_tokenizer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CorpusStats:
    """Watches the texts on their way to the trainer: an iterable can be consumed only once, and the
    trainer's own errors (an empty corpus trains silently; too many characters for the vocabulary
    fails without numbers) need these counts to be explained."""

    def __init__(self) -> None:
        self.texts = 0
        self.nonblank = 0
        self.chars: set[str] = set()

    def watch(self, texts: Iterable[str]) -> Iterator[str]:
        for text in texts:
            if not isinstance(text, str):
                raise ScratchError(
                    f"text #{self.texts} of the corpus is a {type(text).__name__}, not a str; "
                    "pass an iterable of strings (one sentence or document each)"
                )
            self.texts += 1
            if text.strip():
                self.nonblank += 1
                self.chars.update(text)
            yield text

    def alphabet_size(self, normalizer: Any) -> int:
        """Distinct characters after normalization, spaces counted once as the Metaspace marker."""
        raw = "".join(sorted(self.chars))
        normalized = normalizer.normalize_str(raw) if normalizer is not None else raw
        chars = {c for c in normalized if not c.isspace()}
        return len(chars) + 1


#: Scores are rounded to this many decimals: far below any difference that matters to segmentation, far
#: above the trainer's run-to-run float noise (~1e-15).
_SCORE_DECIMALS = 6
#: The trainer's spacing between the scores it gives characters it had to add back (see below).
_FILL_IN_STEP = 1e-4


def _canonical_unigram(backend: Any) -> Any:
    """The trained Unigram model with ids and scores that do not depend on the run.

    The ``tokenizers`` trainer is not reproducible bit for bit: it iterates hash maps (randomly seeded
    per process) and sums in parallel chunks, so scores differ in the last bits, and characters it had
    to add back ("required chars" that pruning dropped) get ``min_score + k * 1e-4`` with ``k`` in hash
    order, so the ids of equal or near-equal pieces come out shuffled.  Here the added-back characters
    get their penalties in character order, scores are rounded, and pieces are ordered by score (as
    SentencePiece does) with ties broken by the piece itself.  Which pieces are kept is decided by the
    trainer and stays as it is.
    """
    from tokenizers import models

    vocab = json.loads(backend.to_str())["model"]["vocab"]
    specials = [(token, 0.0) for token in SPECIAL_TOKENS]
    pieces = [(str(piece), float(score)) for piece, score in vocab if piece not in SPECIAL_TOKENS]
    if pieces:
        floor = min(score for _, score in pieces)
        fill_ins = []
        for piece, score in pieces:
            k = round((score - floor) / _FILL_IN_STEP)
            if len(piece) == 1 and abs(score - floor - k * _FILL_IN_STEP) < 1e-9:
                fill_ins.append(piece)
        rescored = {piece: floor + i * _FILL_IN_STEP for i, piece in enumerate(sorted(fill_ins))}
        pieces = [(piece, round(rescored.get(piece, score), _SCORE_DECIMALS)) for piece, score in pieces]
        pieces.sort(key=lambda item: (-item[1], item[0]))
    return models.Unigram(specials + pieces, unk_id=SPECIAL_TOKENS.index("[UNK]"), byte_fallback=False)


def train_unigram_tokenizer(
    texts: Iterable[str], vocab_size: int, *, lowercase: bool = False, show_progress: bool = False
) -> transformers.PreTrainedTokenizerFast:
    """Train a SentencePiece Unigram tokenizer on ``texts`` (any iterable, read once).

    NFKC (the core of SentencePiece's default nmt_nfkc) and Metaspace make the pieces independent of how a
    character happened to be encoded, and keep spaces recoverable: ``decode`` gives the NFKC text back
    (single spaces, no leading space; unseen characters become ``[UNK]``).  The special ids are fixed
    (``[PAD]``=0 ... ``[MASK]``=4) so configs and collators never have to look them up.

    A corpus with too few distinct words gives fewer pieces than asked (and one with a huge alphabet
    more): that is warned about, not an error, because the model is sized from ``len(tokenizer)``.
    ``model_max_length`` is left unset: set it to the model's ``max_position``.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    if isinstance(texts, str):
        raise ScratchError("texts must be an iterable of sentences, not one string; wrap it in a list")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= len(SPECIAL_TOKENS):
        raise ScratchError(
            f"vocab_size must be an integer above the {len(SPECIAL_TOKENS)} special tokens, got {vocab_size!r}; "
            "the paper uses 30000"
        )
    backend = Tokenizer(models.Unigram())
    normalizer = normalizers.NFKC()
    backend.normalizer = (
        normalizers.Sequence([normalizer, normalizers.Lowercase()]) if lowercase else normalizer
    )
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        unk_token="[UNK]",
        show_progress=show_progress,
    )
    stats = _CorpusStats()
    try:
        backend.train_from_iterator(stats.watch(texts), trainer=trainer)
    except ScratchError:
        raise
    except Exception as e:
        if "not large enough" not in str(e):
            raise
        alphabet = stats.alphabet_size(backend.normalizer)
        raise ScratchError(
            f"vocab_size={vocab_size} is too small for this corpus: it has {alphabet} distinct characters "
            f"(after NFKC{', lowercasing' if lowercase else ''}; spaces count as '{METASPACE}'), each of "
            f"which needs a piece of its own besides the {len(SPECIAL_TOKENS)} special tokens; use "
            f"vocab_size >= {alphabet + len(SPECIAL_TOKENS)} (the paper uses 30000)"
        ) from e
    if stats.nonblank == 0:
        raise ScratchError(
            f"the corpus is empty ({stats.texts} texts, none with any non-space character); "
            "pass the pretraining sentences"
        )
    real = backend.get_vocab_size()
    if real != vocab_size:
        reason = "too few distinct words" if real < vocab_size else "more distinct characters than that"
        warnings.warn(
            f"asked for a Unigram vocabulary of {vocab_size} but the corpus ({stats.nonblank} texts) has "
            f"{reason}: the tokenizer has {real} pieces; the model will be sized for {real}",
            UserWarning,
            stacklevel=2,
        )
    backend.model = _canonical_unigram(backend)
    ids = {token: backend.token_to_id(token) for token in SPECIAL_TOKENS}
    if list(ids.values()) != list(range(len(SPECIAL_TOKENS))):  # pragma: no cover - trainer guarantee
        raise ScratchError(f"the trainer put the special tokens at {ids}, expected ids 0..4")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    return _fast_tokenizer_class()(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        # transformers' default leaves token_type_ids out, but pair objectives (TLM) need segment ids
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        # the cleanup undoes spaces before punctuation, which Metaspace restores exactly
        clean_up_tokenization_spaces=False,
    )


def _positive_int(config: ScratchConfig, field: str) -> int:
    value = getattr(config, field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScratchError(f"ScratchConfig.{field} must be a positive integer, got {value!r}")
    return value


def build_scratch_model(config: ScratchConfig, tokenizer: Any) -> transformers.BertModel:
    """A randomly initialised BERT encoder sized for ``tokenizer``.

    The vocabulary comes from ``len(tokenizer)``, not ``config.vocab_size``: the trainer may have
    produced another size, and a mismatch would only show up as an index error deep in training.
    No pooler, because scriptbridge pools hidden states itself and an unused pooler would be saved
    (and reloaded) as dead weights.  Seed torch beforehand for reproducible weights.
    """
    for field in ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position"):
        _positive_int(config, field)
    if config.hidden_size % config.num_heads:
        lower = config.hidden_size // config.num_heads * config.num_heads
        raise ScratchError(
            f"hidden_size={config.hidden_size} is not divisible by num_heads={config.num_heads}: every "
            f"attention head gets hidden_size / num_heads dimensions; use a hidden_size that is a multiple "
            f"of {config.num_heads} (e.g. {lower or config.num_heads} or {lower + config.num_heads}) or a "
            f"num_heads that divides {config.hidden_size}"
        )
    if isinstance(config.dropout, bool) or not isinstance(config.dropout, (int, float)):
        raise ScratchError(f"ScratchConfig.dropout must be a number in [0, 1), got {config.dropout!r}")
    if not 0.0 <= config.dropout < 1.0:
        raise ScratchError(f"ScratchConfig.dropout must be in [0, 1), got {config.dropout!r}")
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None:
        raise ScratchError(
            "the tokenizer has no pad token; build it with train_unigram_tokenizer (which sets [PAD]=0)"
        )
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and config.max_position < limit < 1_000_000:  # unset limits read ~1e30
        raise ScratchError(
            f"tokenizer.model_max_length={limit} exceeds ScratchConfig.max_position={config.max_position}: "
            f"longer inputs would index past the position embeddings; set "
            f"tokenizer.model_max_length = {config.max_position} or raise max_position"
        )
    from transformers import BertConfig, BertModel

    bert_config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        hidden_act="gelu",
        hidden_dropout_prob=float(config.dropout),
        attention_probs_dropout_prob=float(config.dropout),
        max_position_embeddings=config.max_position,
        type_vocab_size=2,
        initializer_range=0.02,
        pad_token_id=int(pad_id),
    )
    return BertModel(bert_config, add_pooling_layer=False)


def save_scratch(model: Any, tokenizer: Any, folder: str | os.PathLike) -> None:
    """Write ``model`` and ``tokenizer`` as one checkpoint folder that ``load_encoder(folder)`` reads.

    safetensors only, because scriptbridge refuses pickled weights when loading.
    """
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise ScratchError(f"{path} is a file; save_scratch needs a folder path (it is created if missing)")
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


__all__ = [
    "METASPACE",
    "SPECIAL_TOKENS",
    "ScratchConfig",
    "ScratchError",
    "build_scratch_model",
    "save_scratch",
    "train_unigram_tokenizer",
]

"""Shared fixtures: a tiny BERT encoder (2 layers, 32 dims) with a WordPiece tokenizer trained on the
fly, saved as an ordinary safetensors checkpoint folder, so tests exercise the real loading path
without the network or the embedded model."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_CORPUS = [
    "the cat sat on the mat",
    "a dog runs in the park",
    "i like green tea",
    "where is the train station",
    "यह एक किताब है",
    "मुझे चाय पसंद है",
    "कुत्ता पार्क में दौड़ता है",
    "yah ek kitab hai",
    "mujhe chai pasand hai",
    "kutta park mein daudta hai",
    "猫はマットの上に座った",
    "我喜欢绿茶",
    "고양이가 매트 위에 앉았다",
    "hello world, how are you?",
]


def build_tiny_encoder(folder: Path, *, layers: int = 2, hidden: int = 32, seed: int = 0) -> Path:
    """Write a randomly initialised ``layers``-layer BERT + a WordPiece tokenizer to ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False
    )
    tok.train_from_iterator(TINY_CORPUS * 3, trainer=trainer)
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=64,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    model.save_pretrained(folder, safe_serialization=True)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny BERT checkpoint folder (load it with ``load_encoder(str(path))``)."""
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_encoder(tiny_encoder_dir: Path):
    """The tiny BERT loaded on the CPU through :func:`scriptbridge.models.load_encoder`."""
    from scriptbridge.models import load_encoder

    return load_encoder(str(tiny_encoder_dir), device="cpu")

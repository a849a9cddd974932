"""Encoders: the embedded offline multilingual-e5-small, local checkpoints and Hugging Face hub models."""

from scriptbridge.models.embedded import embedded_checkpoint
from scriptbridge.models.loading import Encoder, EncoderLoadError, load_encoder

__all__ = ["Encoder", "EncoderLoadError", "embedded_checkpoint", "load_encoder"]

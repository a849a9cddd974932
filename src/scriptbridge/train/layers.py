"""Run a BERT-family encoder in two halves: the frozen bottom once, the trainable top every step.

With the embeddings and the bottom ``k`` layers frozen and in eval mode (no dropout), their output
for a sentence never changes during training, so it is computed once and cached; each training step
then runs only layers ``k+1..N``.  That is most of the teacher-student method's speed on a CPU.
"""

from __future__ import annotations

from typing import Any

import torch


class LayerStack:
    """The embeddings and the list of transformer layers of an encoder model (BERT, RoBERTa, XLM-R,
    e5...), callable in parts.  ``hidden(k)`` below means the states after layer ``k`` (0 = the
    embedding layer's output)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.embeddings = getattr(model, "embeddings", None)
        encoder = getattr(model, "encoder", None)
        self.layers = getattr(encoder, "layer", None) or getattr(encoder, "layers", None)
        if self.embeddings is None or self.layers is None:
            raise TypeError(
                f"{type(model).__name__} is not a BERT-style encoder (no .embeddings and .encoder.layer); "
                "freezing with cached bottom layers needs one"
            )
        self.num_layers = len(self.layers)

    def _mask(self, hidden: torch.Tensor, mask: torch.Tensor) -> Any:
        from transformers.masking_utils import create_bidirectional_mask

        # the same mask the model builds for itself (sdpa / eager / flash all supported)
        return create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden, attention_mask=mask)

    def bottom(self, input_ids: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
        """``hidden(k)`` from token ids: the embeddings, then layers ``1..k``."""
        hidden = self.embeddings(input_ids=input_ids)
        return self.run(hidden, mask, 0, k)

    def run(self, hidden: torch.Tensor, mask: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """From ``hidden(start)`` to ``hidden(stop)``."""
        if not 0 <= start <= stop <= self.num_layers:
            raise ValueError(f"layers {start}..{stop} out of range 0..{self.num_layers}")
        if start == stop:
            return hidden
        attn = self._mask(hidden, mask)
        for layer in self.layers[start:stop]:
            out = layer(hidden, attention_mask=attn)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def freeze(self, k: int, *, embeddings: bool = True) -> list[torch.nn.Module]:
        """Freeze the embeddings (when ``embeddings``) and layers ``1..k``; return the frozen modules,
        which the caller keeps in eval mode so their outputs stay fixed.  ``k = -1`` freezes nothing."""
        frozen: list[torch.nn.Module] = []
        if k >= 0 and embeddings:
            frozen.append(self.embeddings)
        frozen.extend(self.layers[: max(k, 0)])
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
        return frozen


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Mean over the attention mask (special tokens included, as e5) or the first token."""
    if pooling == "cls":
        return hidden[:, 0]
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)

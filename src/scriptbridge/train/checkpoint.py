"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A resume checkpoint holds the trainable weights, the head, the AdamW state (flattened into named
tensors), the scheduler's counters, the torch RNG state and the loop's own counters, so a killed run
continues where its last completed epoch ended.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from scriptbridge.utils.io import atomic_path, atomic_write_text


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train (frozen ones never change, so the checkpoint skips them)."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, {"param_groups": state["param_groups"]}


def load_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(
    folder: Path,
    *,
    model: torch.nn.Module,
    head: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loop: dict[str, Any],
) -> None:
    """Write ``folder/{weights,optimizer}.safetensors`` and ``folder/state.json`` (last, so a
    checkpoint without ``state.json`` is incomplete and ignored)."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = {f"model.{k}": v for k, v in trainable_state(model).items()}
    weights.update({f"head.{k}": v for k, v in head.state_dict().items()})
    weights["rng.torch"] = torch.get_rng_state()
    save_tensors(folder / "weights.safetensors", weights)
    opt_tensors, opt_meta = optimizer_tensors(optimizer)
    save_tensors(folder / "optimizer.safetensors", opt_tensors)
    state = {"loop": loop, "optimizer": opt_meta, "scheduler": scheduler.state_dict()}
    atomic_write_text(folder / "state.json", json.dumps(state, indent=2, default=float) + "\n")


def load_checkpoint(
    folder: Path,
    *,
    model: torch.nn.Module,
    head: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the loop counters."""
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    weights = load_file(str(folder / "weights.safetensors"))
    load_weights(model, head, weights)
    torch.set_rng_state(weights["rng.torch"])
    load_optimizer(optimizer, load_file(str(folder / "optimizer.safetensors")), state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return state["loop"]


def load_weights(model: torch.nn.Module, head: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            if name.startswith("model."):
                params[name[len("model.") :]].copy_(value)
    head.load_state_dict({k[len("head.") :]: v for k, v in weights.items() if k.startswith("head.")})


def has_checkpoint(folder: Path) -> bool:
    return (folder / "state.json").is_file() and (folder / "weights.safetensors").is_file()

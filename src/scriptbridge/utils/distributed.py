"""Small helpers around :mod:`torch.distributed`, all safe to call when it is not initialised (a single
process then behaves as a world of one: gathers return their input, gradient averaging does nothing).

Launch with ``torchrun --nproc-per-node N ...`` or ``accelerate launch ...``: both set ``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``, which :func:`init_from_env` reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


def _initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def world_size() -> int:
    """The number of processes (1 when torch.distributed is not initialised)."""
    return torch.distributed.get_world_size() if _initialized() else 1


def rank() -> int:
    """This process's global rank (0 when torch.distributed is not initialised)."""
    return torch.distributed.get_rank() if _initialized() else 0


def is_distributed() -> bool:
    """True when a process group is initialised with more than one process."""
    return _initialized() and torch.distributed.get_world_size() > 1


def init_from_env(backend: str | None = None) -> bool:
    """Initialise the default process group from the launcher's environment when ``WORLD_SIZE > 1``.

    The backend defaults to NCCL when CUDA is available, else gloo.  With CUDA, this process's device is
    set to ``LOCAL_RANK`` first (NCCL binds a communicator to the current device, so every process must
    select its own GPU before the first collective).  A group that is already initialised is kept.
    Returns :func:`is_distributed`.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return is_distributed()
    if not torch.distributed.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if not torch.distributed.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend or ("nccl" if cuda else "gloo"))
    return is_distributed()


class _AllGather(torch.autograd.Function):
    """All-gather along dim 0 whose backward sends each rank the gradient of its own slice, summed over
    the ranks (every rank's loss may depend on every rank's rows)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.rows = x.shape[0]
        return torch.cat(_all_gather_list(x), dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()  # all_reduce works in place: never on autograd's own buffer
        torch.distributed.all_reduce(grad, op=torch.distributed.ReduceOp.SUM)
        start = rank() * ctx.rows
        return grad[start : start + ctx.rows]


def _all_gather_list(x: torch.Tensor) -> list[torch.Tensor]:
    x = x.contiguous()
    parts = [torch.empty_like(x) for _ in range(world_size())]
    torch.distributed.all_gather(parts, x)
    return parts


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``[world * n, ...]``: every rank's ``x`` (``[n, ...]``, the same shape on every rank) concatenated
    along dim 0 in rank order, differentiable.

    :func:`torch.distributed.all_gather` fills plain buffers: the other ranks' rows arrive without a
    graph, and the gradient a loss puts on them is silently lost (only the local rows' path remains).
    Here the backward all-reduces (sums) the gradient of the whole gathered tensor and hands each rank
    its own slice, so each input receives the gradient of the sum of all ranks' losses.  (What
    ``torch.distributed.nn.functional.all_gather`` does; that one warns as deprecated in torch 2.13 and
    points to a private module, so this uses public collectives only.)  Returns ``x`` itself when not
    distributed.
    """
    if not is_distributed():
        return x
    return _AllGather.apply(x)


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Like :func:`gather_with_grad` without a graph: for integer tensors (ids, labels) that carry no
    gradient.  Returns ``x`` itself when not distributed."""
    if not is_distributed():
        return x
    return torch.cat(_all_gather_list(x), dim=0)


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Replace each parameter's ``.grad`` by its mean over the ranks (all-reduce SUM, then / world).

    Gradients are flattened into one buffer per (dtype, device), so there is one collective per buffer
    rather than one per tensor.  A trainable parameter without a gradient on this rank (a branch not
    used by this batch) contributes zeros, so every rank launches the same collectives with the same
    sizes (a mismatch would hang), and it receives the average of the others'.  Parameters with
    ``requires_grad=False`` are skipped (on every rank alike).  Every rank must pass the same parameters
    in the same order.  No-op when not distributed.
    """
    if not is_distributed():
        return
    world = world_size()
    buckets: dict[tuple[torch.dtype, torch.device], list[tuple[nn.Parameter, torch.Tensor]]] = {}
    for p in params:
        if not p.requires_grad:
            continue
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        if grad.is_sparse:
            raise ValueError("average_gradients handles dense gradients only")
        buckets.setdefault((grad.dtype, grad.device), []).append((p, grad))
    for members in buckets.values():  # insertion order: the same on every rank
        grads = [g for _, g in members]
        flat = _flatten_dense_tensors(grads)
        torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
        flat.div_(world)
        for (p, grad), averaged in zip(members, _unflatten_dense_tensors(flat, grads), strict=True):
            if p.grad is None:
                p.grad = averaged.clone()
            else:
                grad.copy_(averaged)

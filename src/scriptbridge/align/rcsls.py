"""RCSLS: a linear map learnt by minimising a relaxed CSLS loss on the dictionary pairs (Joulin et al.
2018, "Loss in Translation: Learning Bilingual Word Mapping with a Retrieval Criterion").

Procrustes makes each mapped source word close to its translation; CSLS retrieval also penalises
words that are close to everything (hubs).  RCSLS trains the map for the retrieval criterion itself.
For the dictionary pairs ``(x_i, y_i)`` (rows of unit length) and the map ``W`` (``x -> x W``):

    loss(W) = 1/n sum_i [ -2 <x_i W, y_i> + 1/k sum_{y in NN_k(x_i W)} <x_i W, y>
                                           + 1/k sum_{x W in NN_k(y_i)} <x W, y_i> ]

``NN_k(x_i W)`` are the ``k`` target words nearest to the mapped ``x_i`` among the first ``max_neg``
target words (the most frequent ones), ``NN_k(y_i)`` the ``k`` mapped source words nearest to
``y_i`` among the first ``max_neg`` source words.  Inner products equal the cosines of the loss in
the paper while ``W`` is orthogonal (the vectors have unit length); the authors' released code
optimises the inner products, with no constraint by default (``constraint="none"``) or with the
singular values clipped to [0, 1] (``"spectral"``, the convex hull of the orthogonal group).
``"orthogonal"`` projects onto the orthogonal group after every step.

The loss is piecewise linear in ``W``: its gradient, with the neighbours fixed, is
``1/n [-2 X^T Y + 1/k (X^T N_t + N_s^T Y)]`` where ``N_t[i]`` sums the target neighbours of
``x_i W`` and ``N_s[i]`` the source neighbours of ``y_i``.  Optimisation as released: full-batch
gradient steps from the Procrustes solution, learning rate 1.0, halved (and the step undone) when
the loss rises.  Neighbours are found in chunks of the ``[n, max_neg]`` similarity matrix, so memory
stays at ``chunk_size x max_neg`` floats; time per iteration is two ``n x max_neg x d`` products.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

CONSTRAINTS = ("none", "spectral", "orthogonal")


def _project(w: torch.Tensor, constraint: str) -> torch.Tensor:
    if constraint == "none":
        return w
    u, s, vt = torch.linalg.svd(w.double())
    if constraint == "orthogonal":
        return (u @ vt).float()
    return (u @ torch.diag(s.clamp(0.0, 1.0)) @ vt).float()


def _topk_neighbours(
    queries: torch.Tensor, candidates: torch.Tensor, rows: torch.Tensor, k: int, chunk_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query row: the sum of its ``k`` largest inner products with ``candidates``, and the
    sum of the ``rows`` at those ``k`` candidates' positions (``[n]``, ``[n, d]``)."""
    n = queries.shape[0]
    values = torch.empty(n)
    sums = torch.empty(n, rows.shape[1])
    buf = torch.empty(min(chunk_size, n), candidates.shape[0])
    for a in range(0, n, chunk_size):
        b = min(a + chunk_size, n)
        sims = torch.matmul(queries[a:b], candidates.T, out=buf[: b - a])
        top = torch.topk(sims, k, dim=1)
        values[a:b] = top.values.sum(dim=1)
        sums[a:b] = rows[top.indices].sum(dim=1)
    return values, sums


def rcsls_loss_and_grad(
    x: torch.Tensor,
    y: torch.Tensor,
    z_src: torch.Tensor,
    z_tgt: torch.Tensor,
    w: torch.Tensor,
    *,
    k: int = 10,
    chunk_size: int = 1024,
) -> tuple[float, torch.Tensor]:
    """The RCSLS loss at ``w`` and its gradient (module docstring).  ``x`` / ``y``: the paired
    rows; ``z_src`` / ``z_tgt``: the candidate neighbours of each side (unmapped)."""
    n = x.shape[0]
    xw = x @ w
    k_t, k_s = min(k, z_tgt.shape[0]), min(k, z_src.shape[0])
    val_t, nn_t = _topk_neighbours(xw, z_tgt, z_tgt, k_t, chunk_size)
    val_s, nn_s = _topk_neighbours(y, z_src @ w, z_src, k_s, chunk_size)
    loss = (-2 * (xw * y).sum() + val_t.sum() / k_t + val_s.sum() / k_s) / n
    grad = (-2 * x.T @ y + x.T @ nn_t / k_t + nn_s.T @ y / k_s) / n
    return float(loss), grad


@torch.no_grad()
def rcsls(
    src: np.ndarray,
    tgt: np.ndarray,
    pairs: np.ndarray,
    *,
    init: np.ndarray | None = None,
    k: int = 10,
    max_neg: int = 50000,
    lr: float = 1.0,
    niter: int = 10,
    constraint: str = "none",
    chunk_size: int = 1024,
    min_lr: float = 1e-4,
    log: Any = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Learn the ``[d, d]`` map ``W`` (``src @ W`` lands in the target space) with RCSLS.

    ``src`` / ``tgt``: ``[n, d]`` vectors, most frequent word first, of unit length (normalise them
    first: :meth:`~scriptbridge.models.static.StaticEmbeddings.normalized`).  ``pairs``: ``[m, 2]``
    row indices of the dictionary pairs.  ``init``: the starting map (default: Procrustes on the
    pairs).  ``niter`` gradient steps (a step that raises the loss is undone and the learning rate
    halved; optimisation stops early below ``min_lr``).  Returns the map and one record a step
    (``loss``, ``lr``, ``accepted``)."""
    from scriptbridge.align.static import procrustes

    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {', '.join(CONSTRAINTS)}, got {constraint!r}")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("RCSLS needs dictionary pairs with vectors on both sides; none were found")
    if k < 1 or max_neg < 1 or niter < 0 or lr <= 0:
        raise ValueError("k, max_neg and lr must be positive and niter non-negative")
    s = torch.as_tensor(np.asarray(src, dtype=np.float32))
    t = torch.as_tensor(np.asarray(tgt, dtype=np.float32))
    x, y = s[torch.as_tensor(pairs[:, 0])], t[torch.as_tensor(pairs[:, 1])]
    z_src, z_tgt = s[:max_neg], t[:max_neg]
    w0 = procrustes(x.numpy(), y.numpy()) if init is None else np.asarray(init, dtype=np.float32)
    w = _project(torch.as_tensor(w0, dtype=torch.float32), constraint)
    loss, grad = rcsls_loss_and_grad(x, y, z_src, z_tgt, w, k=k, chunk_size=chunk_size)
    history: list[dict[str, Any]] = [
        {"step": 0, "loss": loss, "lr": lr, "accepted": True, "pairs": int(len(pairs))}
    ]
    for step in range(1, niter + 1):
        if lr < min_lr:
            break
        candidate = _project(w - lr * grad, constraint)
        new_loss, new_grad = rcsls_loss_and_grad(x, y, z_src, z_tgt, candidate, k=k, chunk_size=chunk_size)
        accepted = new_loss <= loss
        history.append({"step": step, "loss": new_loss, "lr": lr, "accepted": accepted})
        if log:
            log(f"RCSLS step {step}: loss {new_loss:.4f} (lr {lr:g}{'' if accepted else ', undone'})")
        if accepted:
            w, loss, grad = candidate, new_loss, new_grad
        else:
            lr /= 2
    return w.numpy().astype(np.float32), history

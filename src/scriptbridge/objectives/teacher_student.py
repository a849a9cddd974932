"""The teacher-student alignment loss (``L_ts``, ``L_tr``, ``L_tl`` of the teacher-student paper).

Each term is ``mean(1 - cos(T(x_en), S(x_view)))``: the student's vector of a view (the English
source itself, its translation, or the romanized translation) is pulled towards the *frozen
teacher's* vector of the English source, so the target language and its romanization land where
the source already is, and the source stays put (``L_ts``).
"""

from __future__ import annotations

import torch
from torch import nn


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``mean(1 - cos(a_i, b_i))`` over the rows (the paper's ``d``, averaged over N samples)."""
    return (1.0 - nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-8)).mean()


class TeacherStudentLoss(nn.Module):
    """``L_u = b1 * L_ts + b2 * L_tr + b3 * L_tl`` (Eq. 1-2).

    | input | shape |
    |---|---|
    | teacher | ``[batch, hidden]`` the frozen teacher's vectors of the English sources |
    | students | ``{"en": [batch, hidden], "tr": ..., "tl": ...}`` the student's vectors of each view |

    A missing view contributes nothing (the weights of the present views are not renormalised).
    The teacher's vectors are constant, so they are computed once and cached by the training loop:
    no teacher forward pass per step.

    >>> loss = TeacherStudentLoss(betas=(1.0, 1.0, 1.0))
    >>> loss.compute_loss_from_embeddings(t, {"en": s_en, "tr": s_tr, "tl": s_tl})
    """

    VIEWS = ("en", "tr", "tl")

    def __init__(self, betas: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        super().__init__()
        if len(betas) != 3 or any(b < 0 for b in betas):
            raise ValueError(f"betas must be three non-negative numbers, got {betas!r}")
        self.betas = dict(zip(self.VIEWS, (float(b) for b in betas), strict=True))

    def terms(self, teacher: torch.Tensor, students: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The unweighted ``L_ts``, ``L_tr``, ``L_tl`` of the views present (for logging)."""
        unknown = set(students) - set(self.VIEWS)
        if unknown:
            raise ValueError(f"unknown views {sorted(unknown)}; use {self.VIEWS}")
        teacher = teacher.detach()
        return {view: cosine_distance(teacher, s) for view, s in students.items()}

    def compute_loss_from_embeddings(
        self, teacher: torch.Tensor, students: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        terms = self.terms(teacher, students)
        total = teacher.new_zeros(())
        for view, value in terms.items():
            total = total + self.betas[view] * value
        return total

    def forward(self, features: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """``features``: ``{"teacher": ..., "en"/"tr"/"tl": ...}``; ``labels`` is unused (the loss is
        unsupervised) and kept for the common signature."""
        students = {k: v for k, v in features.items() if k != "teacher"}
        return self.compute_loss_from_embeddings(features["teacher"], students)

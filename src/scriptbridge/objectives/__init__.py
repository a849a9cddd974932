"""Training objectives, one small module a loss (sentence-transformers style): each has
``forward(features, labels)`` and ``compute_loss_from_embeddings(...)`` so it runs on cached vectors too."""

from scriptbridge.objectives.classification import ClassificationLoss
from scriptbridge.objectives.teacher_student import TeacherStudentLoss

__all__ = ["ClassificationLoss", "TeacherStudentLoss"]

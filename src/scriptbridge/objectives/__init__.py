"""Training objectives, one small module a loss (sentence-transformers style): each has
``forward(features, labels)`` and ``compute_loss_from_embeddings(...)`` so it runs on cached vectors too."""

from scriptbridge.objectives.classification import ClassificationLoss
from scriptbridge.objectives.crf import CRF
from scriptbridge.objectives.mlm import MaskedLMLoss
from scriptbridge.objectives.phonemic_alignment import OrthoPhonemicAlignmentLoss
from scriptbridge.objectives.tcm import ContrastiveAlignmentLoss
from scriptbridge.objectives.teacher_student import TeacherStudentLoss
from scriptbridge.objectives.token_classification import TokenClassificationHead, TokenClassificationLoss
from scriptbridge.objectives.tpp import TranslationPairLoss
from scriptbridge.objectives.word_mlm import WordMaskedLMLoss, WordMLMHead

__all__ = [
    "CRF",
    "ClassificationLoss",
    "ContrastiveAlignmentLoss",
    "MaskedLMLoss",
    "OrthoPhonemicAlignmentLoss",
    "TeacherStudentLoss",
    "TokenClassificationHead",
    "TokenClassificationLoss",
    "TranslationPairLoss",
    "WordMLMHead",
    "WordMaskedLMLoss",
]

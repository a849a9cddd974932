"""Aligning embedding spaces: static word vectors (Procrustes, refinement) and, later, contextual layers."""

"""Deprecated location: the dataset container is part of the core (``visgen.core.dataset``).

Kept so that code written against ``visgen.data.dataset`` keeps working; import
``visgen.Dataset`` / ``visgen.Mixture`` instead.
"""
from ..core.dataset import Dataset, Mixture

__all__ = ["Dataset", "Mixture"]

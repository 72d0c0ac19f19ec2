"""Shared model pieces for plugins: MLPs, conv encoders/decoders, projections.

Imports torch. Plugins import from here rather than writing the same block twice.
"""
from .blocks import MLP, ConvDecoder, ConvEncoder
from .projection import PCA2D
from .batches import BatchSampler

__all__ = ["MLP", "ConvEncoder", "ConvDecoder", "PCA2D", "BatchSampler"]

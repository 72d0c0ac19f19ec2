"""Shared model pieces for plugins: MLPs, conv encoders/decoders, projections, time embeddings,
uniform dequantisation.

Imports torch. Plugins import from here rather than writing the same block twice.
"""
from .blocks import MLP, ConvDecoder, ConvEncoder
from .projection import PCA2D
from .batches import BatchSampler
from .dequantise import dequantise
from ..core.modes import evaluating
from .optim import set_lr
from .time_embedding import TimeEmbedding, sinusoidal


__all__ = ["MLP", "ConvEncoder", "ConvDecoder", "PCA2D", "BatchSampler", "TimeEmbedding", "sinusoidal", "evaluating", "set_lr", "dequantise"]

"""Layers: the building blocks of a network, one module per kind.

Every layer follows the protocol of :class:`nnscratch.layers.base.Layer`: ``forward`` keeps
what ``backward`` needs, ``backward`` fills ``grads`` and returns the input gradient. The
layers are re-exported here, so ``from nnscratch.layers import Dense`` works; each is
documented in the module that defines it.
"""

from .base import Layer
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm, BatchNorm2D, LayerNorm
from .conv import Conv2D, ConvTranspose2D
from .pooling import AvgPool2D, Flatten, MaxPool2D, Unflatten
from .embedding import Embedding, EmbeddingBag
from .recurrent import LSTM, RNN
from .attention import MultiHeadAttention
from .position import PositionEmbedding, SinusoidalPositions
from .masked import AttentionPooling, MaxOverTime, MeanOverTime

__all__ = [
    "Layer",
    "Dense",
    "Dropout",
    "BatchNorm",
    "BatchNorm2D",
    "Conv2D",
    "ConvTranspose2D",
    "MaxPool2D",
    "AvgPool2D",
    "Flatten",
    "Unflatten",
    "Embedding",
    "EmbeddingBag",
    "RNN",
    "LSTM",
    "LayerNorm",
    "MultiHeadAttention",
    "PositionEmbedding",
    "SinusoidalPositions",
    "MeanOverTime",
    "MaxOverTime",
    "AttentionPooling",
]

"""Layers. Every layer follows the protocol of :class:`nnscratch.layers.base.Layer`."""

from .base import Layer
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm, LayerNorm
from .conv import Conv2D
from .pooling import AvgPool2D, Flatten, MaxPool2D
from .embedding import Embedding
from .recurrent import LSTM, RNN
from .attention import MultiHeadAttention
from .position import PositionEmbedding, SinusoidalPositions

__all__ = ["Layer", "Dense", "Dropout", "BatchNorm", "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten",
           "Embedding", "RNN", "LSTM", "LayerNorm", "MultiHeadAttention", "PositionEmbedding",
           "SinusoidalPositions"]

"""Layers. Every layer follows the protocol of :class:`nnscratch.layers.base.Layer`."""

from .base import Layer
from .dense import Dense

__all__ = ["Layer", "Dense"]

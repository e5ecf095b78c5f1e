"""The layer protocol that every layer in nnscratch follows."""

from __future__ import annotations

import numpy as np


class Layer:
    """Base class of the layer protocol.

    A layer owns two dicts with the same keys: ``params`` (the arrays it learns) and
    ``grads`` (the gradient of the loss with respect to each, filled by ``backward``).

    ``forward(x, training=False)`` computes the output and keeps what ``backward`` needs.
    ``backward(dout)`` takes the gradient of the loss with respect to the output, fills
    ``grads`` (overwriting, never accumulating) and returns the gradient with respect to the
    input. Neither method mutates its argument.

    Layers never divide by the batch size: the loss owns the batch mean.

    A layer whose ``can_skip_dx`` is True also accepts ``backward(dout, need_dx=False)``:
    it then fills ``grads`` but skips the input gradient and returns None. A network's first
    layer needs no input gradient (its input is the data), and for a dense or convolutional
    layer that gradient costs as much as the forward pass; PyTorch skips it the same way,
    because the data does not ``requires_grad``.
    """

    #: Whether ``backward`` accepts ``need_dx=False``.
    can_skip_dx = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training=training)

    def _require_forward(self, cache) -> None:
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

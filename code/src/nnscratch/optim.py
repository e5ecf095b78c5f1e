"""Optimizers. Every optimizer has ``step(params, grads)``: it updates each array in
``params`` in place from the array under the same key in ``grads``, keeping any state
(velocities, moment estimates) per key.

See Also
--------
Book, Step 4 "Optimization" derives each update rule.
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    """Base class: checks the ``step`` arguments and counts steps."""

    def __init__(self, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        self.lr = lr
        self.t = 0  # number of steps taken

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        if params.keys() != grads.keys():
            raise KeyError(
                f"{type(self).__name__}.step: params and grads must have the same keys, "
                f"got {sorted(params)} and {sorted(grads)}"
            )
        for k, p in params.items():
            if grads[k].shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: grads[{k!r}] has shape {grads[k].shape}, "
                    f"params[{k!r}] has shape {p.shape}"
                )
        self.t += 1
        for k, p in params.items():
            self._update(k, p, grads[k])

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError


class SGD(Optimizer):
    """Plain gradient descent: :math:`\\theta \\leftarrow \\theta - \\eta\\, g`.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\\eta`.
    """

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        p -= p.dtype.type(self.lr) * g

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr})"

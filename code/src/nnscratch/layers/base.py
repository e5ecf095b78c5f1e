"""The layer protocol that every layer in nnscratch follows.

:class:`Layer` states it once: which dicts a layer owns, what ``forward`` and ``backward``
take and return, and what they may not do. Networks, optimizers and gradient checks rely on
nothing else, which is why a whole network can be checked like a single layer.
"""

from __future__ import annotations

import copy

import numpy as np


class Layer:
    """Base class of the layer protocol.

    A layer owns three dicts:

    - ``params``: the arrays it learns by gradient;
    - ``grads``: the gradient of the loss with respect to each parameter, same keys, filled by
      ``backward``;
    - ``buffers``: arrays it keeps but does not learn by gradient (BatchNorm's running
      statistics); empty for most layers. They are saved and restored with the parameters.

    ``forward(x, training=False)`` computes the output and keeps what ``backward`` needs.
    ``backward(dout, need_dx=True)`` takes the gradient of the loss with respect to the
    output, fills ``grads`` (overwriting, never accumulating) and returns the gradient with
    respect to the input. With ``need_dx=False`` it fills ``grads`` but may skip the input
    gradient, and returns None: a network's first layer needs no input gradient (its input
    is the data), and for a dense or convolutional layer that gradient costs as much as the
    forward pass; PyTorch skips it the same way, because the data does not
    ``requires_grad``. Neither method mutates its argument.

    Layers never divide by the batch size: the loss owns the batch mean. A batch of zero
    examples goes through every layer (the output has zero rows); it is the losses that
    refuse it, since the mean over no examples is undefined.

    Inputs follow the dtype policy of :mod:`nnscratch`: floating-point only, and a layer
    with parameters takes inputs of its parameters' dtype.

    A copy (``copy.deepcopy``, :func:`nnscratch.network.clone`) copies everything but what
    ``forward`` keeps for ``backward``, in the attributes the class names in
    ``_forward_state``: it starts as if no forward had run, and refuses ``backward`` until it
    has run one itself.

    A layer made of layers (:class:`nnscratch.network.Sequential`, a residual block) is a
    layer too: it exposes its parts' ``params``, ``grads`` and ``buffers`` under nested keys
    ``"<index>.<name>"``, so optimizers, checkpoints and gradient checks need no special case.
    :class:`Composite` assembles those views once for every such layer.
    """

    #: The attributes in which ``forward`` leaves what ``backward`` needs (the last batch's
    #: activations, which can be far larger than the parameters). A copy does not copy
    #: them: see ``__deepcopy__``.
    _forward_state: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    def __deepcopy__(self, memo: dict) -> "Layer":
        """A deep copy without the forward state: it starts as if no forward had run.

        Everything else is copied: parameters, gradients, buffers, settings, random
        generators and the layers inside. Copying the last forward pass's cache would cost
        more than the parameters themselves once the layer has seen a large batch (Step 7's
        CNN caches 100 MB after predicting 1024 images), and no copy needs it: its backward
        pass must follow a forward pass of its own.
        """
        new = object.__new__(type(self))
        memo[id(self)] = new
        dropped = set(self._forward_state)
        for name, value in self.__dict__.items():
            new.__dict__[name] = (
                None if name in dropped else copy.deepcopy(value, memo)
            )
        return new

    def forward(
        self, x: np.ndarray, training: bool = False
    ) -> np.ndarray:  # pragma: no cover
        """Compute the output for the batch ``x`` (examples along the first axis)."""
        raise NotImplementedError

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:  # pragma: no cover
        """Fill ``grads`` from ``dout``; return ``dx`` (None allowed when ``need_dx`` is False)."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training=training)

    def _require_forward(self, cache) -> None:
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Composite(Layer):
    """A layer made of named layers, whose arrays it shows under nested keys.

    ``params``, ``grads`` and ``buffers`` are views assembled on demand from
    :meth:`parts`, keyed ``"<part name>.<key>"``, so they always reflect the parts (a
    layer's backward replaces its grads arrays) and an optimizer that updates ``params``
    in place updates the parts. They cannot be assigned: the parts own the arrays.
    """

    def parts(self) -> list[tuple[str, Layer]]:  # pragma: no cover
        """The named parts, in order: ``[(name, layer), ...]``."""
        raise NotImplementedError

    def _assembled(self, attr: str) -> dict[str, np.ndarray]:
        return {
            f"{name}.{k}": v
            for name, part in self.parts()
            for k, v in getattr(part, attr).items()
        }

    def _refuse(self, attr: str, value) -> None:
        # Layer.__init__ assigns {}; anything else would be silently lost.
        if value:
            raise AttributeError(
                f"{type(self).__name__}.{attr} is assembled from its parts; set the "
                "arrays there (only {} may be assigned), got a non-empty "
                f"{type(value).__name__}"
            )

    params = property(
        lambda self: self._assembled("params"),
        lambda self, value: self._refuse("params", value),
        doc="The parts' parameters, keys ``<part>.<name>``.",
    )
    grads = property(
        lambda self: self._assembled("grads"),
        lambda self, value: self._refuse("grads", value),
        doc="The parts' gradients, keyed like ``params``.",
    )
    buffers = property(
        lambda self: self._assembled("buffers"),
        lambda self, value: self._refuse("buffers", value),
        doc="State the parts keep but do not learn by gradient (BatchNorm's "
        "running statistics), keyed like ``params``.",
    )

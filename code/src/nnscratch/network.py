"""``Sequential``: a network is a list of layers applied in order.

A ``Sequential`` follows the layer protocol itself, so anything that works on a layer
(gradient checks, nesting) works on a whole network. :func:`mlp` builds the fully connected
network of any architecture ``[n0, n1, ..., nL]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .layers.base import Layer
from .layers.dense import Dense


class Sequential(Layer):
    """Layers applied one after the other.

    Parameters
    ----------
    layers : list of Layer
        Applied in order by :meth:`forward`, in reverse order by :meth:`backward`.

    Notes
    -----
    ``params`` and ``grads`` are flat dicts keyed ``"<index>.<name>"`` (``"0.W"``, ``"0.b"``,
    ``"2.W"``, ...). Their values are the layers' own arrays, not copies, so an optimizer
    that updates ``params`` in place updates the layers.

    See Also
    --------
    Book, Step 3 "Deep networks": backpropagation as a loop over layers in reverse.
    """

    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not all(hasattr(layer, a) for a in ("forward", "backward", "params", "grads")):
                raise TypeError(
                    f"Sequential: item {i} must follow the layer protocol "
                    f"(forward, backward, params, grads), got {type(layer).__name__}"
                )
        self.layers = layers

    # params and grads are views assembled on demand, so they always reflect the layers
    # (a layer's backward replaces its grads arrays).
    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @params.setter
    def params(self, value) -> None:  # Layer.__init__ assigns {}; the layers own the arrays.
        if value:
            raise AttributeError("Sequential.params is assembled from its layers; set them there")

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    @grads.setter
    def grads(self, value) -> None:
        if value:
            raise AttributeError("Sequential.grads is assembled from its layers")

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        """State the layers keep but do not learn by gradient (BatchNorm's running
        statistics), keyed like ``params`` (``"2.running_mean"``; nested ``"1.0.running_mean"``)."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in getattr(layer, "buffers", {}).items()}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Apply every layer in order; returns the last layer's output."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    can_skip_dx = True

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """Backpropagate ``dout`` through the layers in reverse; returns ``dx``.

        With ``need_dx=False`` (training, where the input is the data) the first layer skips
        its input gradient when it can (``layer.can_skip_dx``), and None is returned.
        """
        if not self.layers:
            return dout if need_dx else None
        for i in range(len(self.layers) - 1, 0, -1):
            dout = self.layers[i].backward(dout)
        first = self.layers[0]
        if not need_dx and getattr(first, "can_skip_dx", False):
            return first.backward(dout, need_dx=False)
        dx = first.backward(dout)
        return dx if need_dx else None

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Forward pass in evaluation mode, in batches to bound memory; returns the outputs."""
        outs = [self.forward(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
        return np.concatenate(outs, axis=0)

    @property
    def n_params(self) -> int:
        """Number of learned scalars."""
        return int(sum(v.size for v in self.params.values()))

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n])"


# Each activation with the initialisation that keeps its signal's variance steady (Step 3).
ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid}
DEFAULT_INIT = {"relu": "he", "leaky_relu": "he", "tanh": "glorot", "sigmoid": "glorot"}


def mlp(sizes: list[int], *, rng: np.random.Generator, activation: str = "relu",
        init: str | float | None = None, dtype=np.float64) -> Sequential:
    """A fully connected network with widths ``sizes = [n0, n1, ..., nL]``.

    Parameters
    ----------
    sizes : list of int
        ``n0`` input features, hidden widths ``n1 ... n(L-1)``, ``nL`` outputs; at least two.
    rng : numpy.random.Generator
        Source of the initial weights (layers draw from it in order).
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}, default "relu"
        Applied after every layer but the last, whose output is left as logits (the losses
        take logits).
    init : {"he", "glorot"} or float, optional
        Passed to every :class:`~nnscratch.layers.Dense`; by default He for the ReLU family
        and Glorot for tanh and sigmoid.
    dtype : numpy dtype, default float64

    Returns
    -------
    Sequential
        ``Dense(n0, n1), act, Dense(n1, n2), act, ..., Dense(n(L-1), nL)``: ``2L - 1`` layers.

    Notes
    -----
    Layer :math:`l` computes :math:`Z^{(l)} = A^{(l-1)} W^{(l)} + b^{(l)}` and
    :math:`A^{(l)} = f(Z^{(l)})`, with :math:`A^{(0)} = X` and no :math:`f` at :math:`l = L`.

    See Also
    --------
    Book, Step 3 "Deep networks" (practice): the generalised network and its experiments.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
        raise ValueError(f"mlp: sizes must be at least two positive integers [n0, ..., nL], got {sizes!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    init = DEFAULT_INIT[activation] if init is None else init
    layers: list[Layer] = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        layers.append(Dense(n_in, n_out, rng=rng, dtype=dtype, init=init))
        if l < len(sizes) - 1:
            layers.append(ACTIVATIONS[activation]())
    return Sequential(layers)


def model_state(model: Layer) -> dict[str, np.ndarray]:
    """Every array that defines a trained model: its ``params`` and its ``buffers``.

    The arrays themselves, not copies, keyed as in ``model.params`` and ``model.buffers``.
    Without the buffers a model with BatchNorm would be restored with the running
    statistics it started with, and would predict differently.
    """
    params, buffers = model.params, getattr(model, "buffers", {})
    shared = sorted(params.keys() & buffers.keys())
    if shared:
        raise ValueError(f"model_state: {shared} name both a parameter and a buffer")
    return {**params, **buffers}


def save_params(model: Layer, path: str | Path) -> None:
    """Save a model's learned state to a ``.npz`` file: :func:`model_state`, its ``params``
    and ``buffers`` (BatchNorm's running statistics), under the same keys."""
    np.savez(path, **model_state(model))


def load_params(model: Layer, path: str | Path) -> None:
    """Load the state saved by :func:`save_params` into ``model``, in place.

    Raises ``ValueError`` when the file's keys, shapes or dtypes differ from the model's,
    naming the first difference: weights are never loaded into the wrong architecture, and
    a file without the model's buffers is refused rather than half loaded.
    """
    state = model_state(model)
    with np.load(path) as data:
        if set(data.files) != set(state):
            raise ValueError(
                f"load_params: {path} holds arrays {sorted(data.files)}, "
                f"but the model has {sorted(state)}"
            )
        for k, v in state.items():
            a = data[k]
            if a.shape != v.shape or a.dtype != v.dtype:
                raise ValueError(
                    f"load_params: array {k!r} in {path} has shape {a.shape} and dtype "
                    f"{a.dtype}; the model expects {v.shape} and {v.dtype}"
                )
        for k, v in state.items():
            v[...] = data[k]

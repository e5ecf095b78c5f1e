"""``Sequential``: a network is a list of layers applied in order.

A ``Sequential`` follows the layer protocol itself, so anything that works on a layer
(gradient checks, nesting) works on a whole network; so does a :class:`Residual` block,
``x + f(x)``. :func:`mlp` builds the fully connected network of any architecture
``[n0, n1, ..., nK]``. :func:`save_params` and :func:`load_params` write and read a model's
learned state; a save never leaves a half-written file behind. :func:`clone` copies a
trained model and :func:`replace_head` swaps its last layers for new ones (transfer
learning, Book, Step 13). :func:`refresh_batchnorm` recomputes BatchNorm's running
statistics for parameters that training did not produce, such as averaged ones;
:func:`batchnorm_refreshed` does so for one ``with`` block only.
"""

from __future__ import annotations

import contextlib
import copy
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._checks import check_int
from ._files import write_atomically
from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .layers.base import Composite, Layer
from .layers.dense import Dense
from .layers.normalization import BatchNorm


def _layers_within(layer: Layer):
    """``layer`` and, for a composite, every layer inside it."""
    yield layer
    if isinstance(layer, Composite):
        for _, part in layer.parts():
            yield from _layers_within(part)


def _require_layer_protocol(layer, what: str) -> None:
    """Refuse ``layer`` unless it has what every layer has (a subclass of Layer or not)."""
    attributes = ("forward", "backward", "params", "grads", "buffers")
    if not all(hasattr(layer, a) for a in attributes):
        raise TypeError(
            f"{what} must follow the layer protocol "
            f"(forward, backward, params, grads, buffers), got {type(layer).__name__}"
        )


def _refuse_reuse(layers: list[Layer]) -> None:
    """Refuse one layer object (or one parameter array) in two places of ``layers``.

    A layer keeps what its last forward pass saw for its backward pass, and its
    ``grads`` are replaced by each backward: used twice, the second use overwrites
    the first's, and an optimizer would update its arrays twice with a wrong gradient.
    """
    where: dict[int, tuple[int, str]] = {}
    for i, layer in enumerate(layers):
        for inner in _layers_within(layer):
            arrays = [(type(inner).__name__, inner)] + [
                (f"parameter {k!r} of {type(inner).__name__}", v)
                for k, v in inner.params.items()
            ]
            for what, obj in arrays:
                first = where.setdefault(id(obj), (i, what))
                if first[0] != i:
                    raise ValueError(
                        f"Sequential: items {first[0]} and {i} share one {what}; "
                        "each place needs a layer of its own (a layer used twice "
                        "gets wrong gradients): make a second one, or copy the first "
                        "with nnscratch.network.clone"
                    )


#: Examples per forward pass when predicting or evaluating
#: (:meth:`~nnscratch.network.Sequential.predict`, :func:`~nnscratch.train.evaluate`).
PREDICT_BATCH = 256


class Sequential(Composite):
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
            _require_layer_protocol(layer, f"Sequential: item {i}")
        _refuse_reuse(layers)
        self.layers = layers

    def parts(self) -> list[tuple[str, Layer]]:
        """The layers, named by their index: keys ``"0.W"``, ``"1.0.b"``."""
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Apply every layer in order; returns the last layer's output."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Backpropagate ``dout`` through the layers in reverse; returns ``dx``.

        With ``need_dx=False`` (training, where the input is the data) nothing needs the
        gradient below the first layer with parameters: that layer skips its input
        gradient, the parameter-free layers before it (a ``Flatten``, say) are not run
        backward at all, and None is returned.
        """
        first = 0 if need_dx else self._first_with_params()
        for i in range(len(self.layers) - 1, first - 1, -1):
            dout = self.layers[i].backward(
                dout, need_dx=need_dx or i > first
            )
        return dout if need_dx else None

    def _first_with_params(self) -> int:
        """Index of the first layer with parameters (the length if none has)."""
        return next(
            (i for i, k in enumerate(self.layers) if k.params),
            len(self.layers),
        )

    def predict(
        self, x: np.ndarray, batch_size: int = PREDICT_BATCH
    ) -> np.ndarray:
        """Forward pass in evaluation mode, in batches to bound memory; returns the outputs.

        The default batch keeps a convolution's unfolded input small, which is faster: with
        1024 images Step 7's CNN unfolds 100 MB at its second convolution (25 MB with 256)
        and predicts more slowly on one core (``benchmarks/bench_predict.py``, run with
        ``--batch 256`` and ``--batch 1024``, measures by how much).
        """
        batch_size = check_int(
            batch_size, "batch_size", "Sequential.predict"
        )
        if (
            len(x) == 0
        ):  # no batches: the layers pass an empty batch through
            return self.forward(x, training=False)
        outs = [
            self.forward(x[i : i + batch_size], training=False)
            for i in range(0, len(x), batch_size)
        ]
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
        # Nested layers (a block of Residuals) indent one level deeper, line by line.
        inner = ",\n".join(
            textwrap.indent(repr(layer), "  ") for layer in self.layers
        )
        return f"Sequential([\n{inner}\n])"


class Residual(Composite):
    """A residual block :math:`y = x + f(x)`, itself a layer (He et al., 2016).

    Parameters
    ----------
    body : Layer
        The branch :math:`f`; its output must have its input's shape.

    Notes
    -----
    Backward adds the two paths: :math:`dx = dy + \\partial f^\\top dy`, so the gradient
    reaches ``x`` unchanged through the identity whatever ``f`` does to it. The body's
    ``params``, ``grads`` and ``buffers`` appear under keys ``"0.<name>"`` (``"0.0.W"`` for a
    ``Sequential`` body), as a one-layer ``Sequential`` would name them, so optimizers and
    checkpoints see a block like any other layer. The block is a
    :class:`~nnscratch.layers.base.Composite` whose one part is the body, so whatever
    looks inside a network's layers (:func:`refresh_batchnorm`, the check against one layer
    used twice) looks inside the block too.
    """

    def __init__(self, body: Layer) -> None:
        super().__init__()
        _require_layer_protocol(body, "Residual: the body")
        self.body = body

    def parts(self) -> list[tuple[str, Layer]]:
        """The one part, the body, named ``"0"``."""
        return [("0", self.body)]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Return ``x + body(x)``, same shape as ``x``."""
        fx = self.body.forward(x, training=training)
        if fx.shape != x.shape:
            raise ValueError(
                f"Residual.forward: the body maps shape {x.shape} to {fx.shape}; a residual "
                f"block needs its body to keep the shape"
            )
        return x + fx

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill the body's ``grads``; return ``dout + body.backward(dout)``."""
        d_body = self.body.backward(dout, need_dx=need_dx)
        return dout + d_body if need_dx else None

    def __repr__(self) -> str:
        return f"Residual({self.body!r})"


# Each activation with the initialization that keeps its signal's variance steady (Step 3).
ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
}
DEFAULT_INIT = {
    "relu": "he",
    "leaky_relu": "he",
    "tanh": "glorot",
    "sigmoid": "glorot",
}


def mlp(
    sizes: list[int],
    *,
    rng: np.random.Generator,
    activation: str = "relu",
    init: str | float | None = None,
    dtype=np.float64,
) -> Sequential:
    """A fully connected network with widths ``sizes = [n0, n1, ..., nK]``.

    Parameters
    ----------
    sizes : list of int
        ``n0`` input features, hidden widths ``n1 ... n(K-1)``, ``nK`` outputs; at least two.
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
        ``Dense(n0, n1), act, Dense(n1, n2), act, ..., Dense(n(K-1), nK)``: ``2K - 1`` layers.

    Notes
    -----
    Layer :math:`l` computes :math:`Z^{(l)} = A^{(l-1)} W^{(l)} + b^{(l)}` and
    :math:`A^{(l)} = f(Z^{(l)})`, with :math:`A^{(0)} = X` and no :math:`f` at :math:`l = K`.

    See Also
    --------
    Book, Step 3 "Deep networks" (practice): the generalized network and its experiments.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(
            "mlp: sizes must be at least two positive integers [n0, ..., "
            f"nK], got {sizes!r}"
        )
    sizes = [
        check_int(n, f"sizes[{i}]", "mlp") for i, n in enumerate(sizes)
    ]
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"mlp: activation must be one of {sorted(ACTIVATIONS)}, got "
            f"{activation!r}"
        )
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
    params, buffers = model.params, model.buffers
    shared = sorted(params.keys() & buffers.keys())
    if shared:
        raise ValueError(
            f"model_state: a name must be a parameter or a buffer, not both; "
            f"got {shared} as both"
        )
    return {**params, **buffers}


#: The one suffix of a weights file. Refused otherwise, rather than appended as ``np.savez``
#: does, so that the file name you give is the file name you get.
WEIGHTS_SUFFIX = ".npz"


def check_weights_path(path: str | Path, where: str) -> Path:
    """Return ``path`` as a ``Path`` if it ends in ``.npz``, else raise ``ValueError``.

    Used by :func:`save_params`, :func:`load_params` and the command line alike.
    """
    path = Path(path)
    if path.suffix != WEIGHTS_SUFFIX:
        raise ValueError(
            f"{where}: a weights file name must end in {WEIGHTS_SUFFIX}, got {str(path)!r}; "
            f"use e.g. {str(path.with_name(path.name + WEIGHTS_SUFFIX))!r}"
        )
    return path


def _write_npz(file, state: dict[str, np.ndarray]) -> None:
    """Write ``state`` to the open binary ``file`` in the ``.npz`` format (one place to fail)."""
    np.savez(file, **state)


def save_params(model: Layer, path: str | Path) -> None:
    """Save a model's learned state to a ``.npz`` file, atomically.

    Writes :func:`model_state`, the model's ``params`` and ``buffers`` (BatchNorm's running
    statistics), under the same keys.

    Parameters
    ----------
    model : Layer
    path : str or Path
        Must end in ``.npz`` (else ``ValueError``); the file is written under exactly this
        name.

    Notes
    -----
    The arrays go to a temporary file in the same directory, which is flushed to disk and
    then renamed over ``path`` in one step (``os.replace``). A failure part-way (a full disk,
    an interrupted run) leaves the previous file at ``path`` intact and no temporary file
    behind; the ``OSError`` raised names ``path``.
    """
    path = check_weights_path(path, "save_params")
    state = model_state(model)
    write_atomically(
        path, lambda f: _write_npz(f, state), where="save_params"
    )


def load_params(model: Layer, path: str | Path) -> None:
    """Load the state saved by :func:`save_params` into ``model``, in place.

    Raises ``FileNotFoundError`` when there is no file at ``path``, and ``ValueError`` when
    its name does not end in ``.npz``, when it is not a readable ``.npz`` archive of plain
    arrays, or when its keys, shapes or dtypes differ from the model's, naming the path and
    the first difference. Weights are never loaded into the wrong architecture, a file
    without the model's buffers is refused rather than half loaded, and nothing in the model
    changes unless every array fits.
    """
    path = check_weights_path(path, "load_params")
    if not path.is_file():
        raise FileNotFoundError(
            f"load_params: no weights file at {str(path)!r}"
        )
    state = model_state(model)
    unreadable = (
        f"load_params: {str(path)!r} is not a weights file written by save_params "
        f"(not a readable .npz archive of numeric arrays"
    )
    # NumPy's own messages are not passed on: for object arrays it suggests allow_pickle=True,
    # which would run code from the file.
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{unreadable}: {type(e).__name__})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{unreadable}: it holds a single {type(loaded).__name__})"
        )
    try:
        with loaded as data:
            arrays = {k: data[k] for k in data.files}
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
    ) as e:
        raise ValueError(f"{unreadable}: {type(e).__name__})") from None
    if set(arrays) != set(state):
        raise ValueError(
            f"load_params: {str(path)!r} holds arrays {sorted(arrays)}, "
            f"but the model has {sorted(state)}"
        )
    for k, v in state.items():
        a = arrays[k]
        if a.shape != v.shape or a.dtype != v.dtype:
            raise ValueError(
                f"load_params: array {k!r} in {str(path)!r} has shape {a.shape} and dtype "
                f"{a.dtype}; the model expects {v.shape} and {v.dtype}"
            )
    for k, v in state.items():
        v[...] = arrays[k]


def clone(model: Layer) -> Layer:
    """An independent copy of ``model``: same outputs, no array shared.

    Parameters
    ----------
    model : Layer
        Any layer or network, usually a trained ``Sequential``.

    Returns
    -------
    Layer
        A deep copy: its ``params``, ``buffers`` and layers are new objects holding equal
        values, so training the copy leaves ``model`` unchanged (and the other way round).

    Notes
    -----
    Everything is copied, including the state of the random generators that layers such as
    :class:`~nnscratch.layers.Dropout` hold: the copy draws the same dropout masks as the
    original would have. What the last forward pass kept for backward is not copied (see
    :class:`~nnscratch.layers.base.Layer`): after a large batch it can be far larger than
    the parameters, so a copy costs about as much as the parameters, whatever the network
    did before.

    See Also
    --------
    Book, Step 13 "Transfer learning": one pretrained network, many fine-tuned copies.
    """
    if not isinstance(model, Layer):
        raise TypeError(
            f"clone: expected a Layer (e.g. a Sequential), got {type(model).__name__}"
        )
    return copy.deepcopy(model)


def replace_head(
    model: Sequential, new_head: Layer | list[Layer], n_old: int = 1
) -> Sequential:
    """A network with ``model``'s layers but its last ``n_old`` replaced by ``new_head``.

    Parameters
    ----------
    model : Sequential
        The trained network; it is not modified.
    new_head : Layer or list of Layer
        The layers that take the place of the old head, e.g. ``Dense(64, 5, rng=rng)`` for
        five new classes.
    n_old : int, default 1
        How many of ``model``'s last layers form the old head (at least 1, fewer than
        ``len(model)``).

    Returns
    -------
    Sequential
        ``model.layers[:-n_old] + new_head``. The kept layers are **the same objects** as in
        ``model`` (training one trains the other): pass ``clone(model)`` to keep the
        pretrained network intact.

    Raises
    ------
    TypeError
        When ``model`` is not a :class:`Sequential`, ``n_old`` is not an integer, or an
        element of ``new_head`` does not follow the layer protocol.
    ValueError
        When ``n_old`` is out of range, when ``new_head`` is an empty list (it holds no
        layers), or when the first new layer and the first old one both hold a weight matrix
        ``W`` whose input sizes differ (the new head would not fit the features the body
        produces).

    See Also
    --------
    Book, Step 13 "Transfer learning": a new softmax head on pretrained features.
    """
    if not isinstance(model, Sequential):
        raise TypeError(
            f"replace_head: expected a Sequential, got {type(model).__name__}"
        )
    n_old = check_int(n_old, "n_old", "replace_head")
    if n_old >= len(model):
        raise ValueError(
            f"replace_head: n_old must be less than the model's {len(model)} layers "
            f"(a body must remain), got {n_old}"
        )
    head = [new_head] if isinstance(new_head, Layer) else list(new_head)
    if not head:
        raise ValueError("replace_head: new_head holds no layers")
    old = model.layers[-n_old]
    new = head[0]
    old_w, new_w = old.params.get("W"), getattr(new, "params", {}).get("W")
    if (
        old_w is not None
        and new_w is not None
        and old_w.ndim == new_w.ndim == 2
        and old_w.shape[0] != new_w.shape[0]
    ):
        raise ValueError(
            f"replace_head: the old head takes {old_w.shape[0]} features "
            f"(W of shape {old_w.shape}), the new one {new_w.shape[0]} "
            f"(W of shape {new_w.shape}); they must match"
        )
    return Sequential(model.layers[:-n_old] + head)


def refresh_batchnorm(model: Layer, x: np.ndarray) -> Layer:
    """Set every BatchNorm's running statistics to those of ``x`` under the current parameters.

    Parameters
    ----------
    model : Layer
        A network holding at least one :class:`~nnscratch.layers.BatchNorm` (or
        ``BatchNorm2D``) layer, usually a ``Sequential``.
    x : ndarray
        Inputs of the shape ``model.forward`` takes, at least 2 examples: one batch, whose
        statistics become the running ones.

    Returns
    -------
    Layer
        ``model`` itself. Each BatchNorm's ``running_mean`` and ``running_var`` now hold the
        mean and the unbiased variance of what that layer receives when ``x`` passes through
        the network in training mode; nothing else in ``model`` changed.

    Raises
    ------
    TypeError
        When ``model`` is not a layer.
    ValueError
        When ``model`` holds no BatchNorm layer (there is nothing to refresh), or when
        ``x`` does not fit the model; ``model`` is then left as it was.

    Notes
    -----
    Running statistics average the batches that training saw, each normalized under the
    parameters of its own step. Put other parameters into the model, such as the averages
    of :meth:`~nnscratch.optim.ParameterAverage.applied`, and the statistics no longer fit
    them: evaluation normalizes with a mean and a variance that the new parameters do not
    produce. This recomputes them with one training-mode forward pass in which every
    BatchNorm's momentum is 1 (the running values become the batch's). The pass runs on a
    :func:`clone`, so the model draws no dropout mask from its generators and keeps its
    forward caches; only the BatchNorm buffers are copied back, after the pass succeeded.
    PyTorch's ``torch.optim.swa_utils.update_bn`` does the same for averaged weights.

    See Also
    --------
    Book, Step 12 "Generative adversarial networks", Exercise 4: the averaged parameters of
    a convolutional generator with BatchNorm.
    """
    if not isinstance(model, Layer):
        raise TypeError(
            f"refresh_batchnorm: expected a Layer (e.g. a Sequential), got "
            f"{type(model).__name__}"
        )
    norms = [k for k in _layers_within(model) if isinstance(k, BatchNorm)]
    if not norms:
        raise ValueError(
            f"refresh_batchnorm: expected a model with a BatchNorm layer, got "
            f"{type(model).__name__} without one; there are no statistics to refresh"
        )
    twin = clone(model)
    twins = [k for k in _layers_within(twin) if isinstance(k, BatchNorm)]
    for norm in twins:
        norm.momentum = 1.0
        for v in norm.buffers.values():
            v[...] = 0  # momentum 1 keeps nothing of them (not even a NaN)
    twin.forward(x, training=True)
    for norm, fresh in zip(norms, twins):
        for k, v in norm.buffers.items():
            v[...] = fresh.buffers[k]
    return model


@contextlib.contextmanager
def batchnorm_refreshed(model: Layer, x: np.ndarray):
    """``with batchnorm_refreshed(model, x):`` BatchNorm uses ``x``'s statistics in the block.

    On entering, :func:`refresh_batchnorm` sets every BatchNorm's running statistics to
    those of ``x`` under the parameters the model holds then; on leaving the block, also
    when it raises, each layer gets back the statistics it had before. Bad input raises on
    entering, as :func:`refresh_batchnorm` does, and changes nothing.

    With :meth:`~nnscratch.optim.ParameterAverage.applied` entered first, the block
    evaluates averaged parameters with statistics that fit them, and leaves the live
    model as it was::

        with avg.applied(net.params), batchnorm_refreshed(net, x):
            out = net.forward(z)
    """
    norms = [k for k in _layers_within(model) if isinstance(k, BatchNorm)]
    saved = [{k: v.copy() for k, v in n.buffers.items()} for n in norms]
    refresh_batchnorm(model, x)
    try:
        yield model
    finally:
        for norm, kept in zip(norms, saved):
            for k, v in norm.buffers.items():
                v[...] = kept[k]

"""Ready-made networks for MNIST, the ones the book trains and the command line offers.

Each factory takes an ``rng`` (the initial weights) and a ``dtype`` and returns a fresh
:class:`~nnscratch.network.Sequential` whose output is 10 logits. ``MODELS`` maps the names
used by ``python -m nnscratch.cli train <name>`` to the factories, and ``INPUT_SHAPES`` the
same names to the shape of one example each model takes (the command line reshapes the
images to it).

See Also
--------
Book, Step 6 "MNIST" (the MLP) and Step 7 (the CNN).
"""

from __future__ import annotations

import numpy as np

from .activations import ReLU
from .layers.conv import Conv2D
from .layers.dense import Dense
from .layers.dropout import Dropout
from .layers.pooling import Flatten, MaxPool2D
from .network import Sequential

#: Shape of one example for the MLP: an image flattened to a row of 784 pixels.
MNIST_MLP_INPUT_SHAPE = (784,)
#: Widths of the chapter's multi-layer perceptron: 784 pixels in, 10 logits out.
MNIST_MLP_SIZES = (784, 256, 128, 10)
#: Dropout probability after each hidden layer of the MLP.
MNIST_MLP_DROPOUT = 0.2


def mnist_mlp(rng: np.random.Generator, dtype=np.float32) -> Sequential:
    """The multi-layer perceptron of Step 6: 784-256-128-10, ReLU, dropout 0.2, He init.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the initial weights and of the dropout masks.
    dtype : numpy dtype, default float32
        float32 trains about twice as fast as float64 and is precise enough for SGD.

    Returns
    -------
    Sequential
        ``Dense(784, 256), ReLU, Dropout(0.2), Dense(256, 128), ReLU, Dropout(0.2),
        Dense(128, 10)``: input ``(N, 784)`` flattened images, output ``(N, 10)`` logits;
        ``784*256 + 256 + 256*128 + 128 + 128*10 + 10 = 235,146`` parameters.

    Notes
    -----
    Without dropout this network fits the training set almost perfectly within a few
    epochs and its test accuracy stalls near 98%; dropout (Step 5) buys a few tenths of a
    percent at no cost in evaluation.

    See Also
    --------
    Book, Step 6 "MNIST": training it to over 98% test accuracy.
    """
    layers = []
    n_hidden = len(MNIST_MLP_SIZES) - 2
    for i, (n_in, n_out) in enumerate(
        zip(MNIST_MLP_SIZES[:-1], MNIST_MLP_SIZES[1:])
    ):
        layers.append(Dense(n_in, n_out, rng=rng, dtype=dtype, init="he"))
        if i < n_hidden:
            layers += [ReLU(), Dropout(MNIST_MLP_DROPOUT, rng=rng)]
    return Sequential(layers)


#: Shape of one example for the CNN: one channel of 28x28 pixels.
MNIST_CNN_INPUT_SHAPE = (1, 28, 28)
#: Filters of the CNN's two convolutional layers (5x5 kernels, no padding).
MNIST_CNN_CHANNELS = (16, 32)
#: Width of the CNN's hidden dense layer, and the dropout probability after it.
MNIST_CNN_HIDDEN, MNIST_CNN_DROPOUT = 128, 0.25


def mnist_cnn(rng: np.random.Generator, dtype=np.float32) -> Sequential:
    """The convolutional network of Step 7: two conv-ReLU-maxpool blocks and a small MLP head.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the initial weights (He) and of the dropout masks.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input ``(N, 1, 28, 28)`` images, output ``(N, 10)`` logits::

            Conv2D(1, 16, 5)  -> ReLU -> MaxPool2D(2)    # (N, 16, 24, 24) -> (N, 16, 12, 12)
            Conv2D(16, 32, 5) -> ReLU -> MaxPool2D(2)    # (N, 32, 8, 8)   -> (N, 32, 4, 4)
            Flatten -> Dense(512, 128) -> ReLU -> Dropout(0.25) -> Dense(128, 10)

        ``16*25 + 16 + 32*16*25 + 32 + 512*128 + 128 + 128*10 + 10 = 80,202`` parameters, a
        third of the MLP's 235,146.

    See Also
    --------
    Book, Step 7 "Convolutional networks — practice": training it to over 99% test accuracy
    and comparing it with the MLP.
    """
    c1, c2 = MNIST_CNN_CHANNELS
    return Sequential(
        [
            Conv2D(1, c1, 5, rng=rng, dtype=dtype),
            ReLU(),
            MaxPool2D(2),
            Conv2D(c1, c2, 5, rng=rng, dtype=dtype),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Dense(
                c2 * 4 * 4,
                MNIST_CNN_HIDDEN,
                rng=rng,
                dtype=dtype,
                init="he",
            ),
            ReLU(),
            Dropout(MNIST_CNN_DROPOUT, rng=rng),
            Dense(MNIST_CNN_HIDDEN, 10, rng=rng, dtype=dtype, init="he"),
        ]
    )


#: Name -> factory ``(rng, dtype) -> Sequential``; the choices of ``nnscratch train``.
MODELS = {"mlp": mnist_mlp, "cnn": mnist_cnn}
#: Name -> shape of one input example, ``(N,) + INPUT_SHAPES[name]`` being a batch's shape.
INPUT_SHAPES = {"mlp": MNIST_MLP_INPUT_SHAPE, "cnn": MNIST_CNN_INPUT_SHAPE}

"""Ready-made networks: for MNIST, the ones the book trains and the command line offers; for
text, the decoder-only Transformer of Step 9 (:func:`transformer_block`, :func:`gpt`).

Every factory returns a fresh :class:`~nnscratch.network.Sequential` whose initial weights
come from its ``rng``, in its ``dtype``.

- The MNIST factories (:func:`mnist_mlp`, :func:`mnist_cnn`) take ``rng`` and ``dtype`` (the
  MLP also its activation and initialization, the CNN its pooling, for experiments that
  change one of them);
  their output is 10 logits. ``MODELS`` maps the names used by
  ``python -m nnscratch.cli train <name>`` to them, and ``INPUT_SHAPES`` the same names to the
  shape of one example each model takes (the command line reshapes the images to it).
- The text factories also take their sizes: :func:`transformer_block` (``n_embed``,
  ``n_heads``) maps (N, T, D) to (N, T, D), and :func:`gpt` (``n_tokens``, ``block_size``,
  ``n_embed``, ``n_heads``, ``n_layers``) maps (N, T) token ids to (N, T, V) logits.

See Also
--------
Book, Step 6 "MNIST" (the MLP), Step 7 (the CNN) and Step 9 (the Transformer).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int
from .activations import GELU, ReLU
from .layers.conv import Conv2D
from .layers.attention import MultiHeadAttention
from .layers.dense import Dense
from .layers.dropout import Dropout
from .layers.embedding import Embedding
from .layers.normalization import LayerNorm
from .layers.pooling import Flatten, MaxPool2D
from .layers.position import PositionEmbedding, SinusoidalPositions
from .network import Residual, Sequential

#: Shape of one example for the MLP: an image flattened to a row of 784 pixels.
MNIST_MLP_INPUT_SHAPE = (784,)
#: Widths of the chapter's multi-layer perceptron: 784 pixels in, 10 logits out.
MNIST_MLP_SIZES = (784, 256, 128, 10)
#: Dropout probability after each hidden layer of the MLP.
MNIST_MLP_DROPOUT = 0.2


def mnist_mlp(
    rng: np.random.Generator,
    dtype=np.float32,
    *,
    activation=ReLU,
    init="he",
) -> Sequential:
    """The multi-layer perceptron of Step 6: 784-256-128-10, ReLU, dropout 0.2, He init.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the initial weights and of the dropout masks.
    dtype : numpy dtype, default float32
        float32 trains about twice as fast as float64 and is precise enough for SGD.
    activation : layer class, default ReLU
        Called with no arguments for each hidden layer's activation (e.g. ``Sigmoid``).
    init : {"he", "glorot"} or float, default "he"
        Every :class:`~nnscratch.layers.Dense` layer's initialization.

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
        layers.append(Dense(n_in, n_out, rng=rng, dtype=dtype, init=init))
        if i < n_hidden:
            layers += [activation(), Dropout(MNIST_MLP_DROPOUT, rng=rng)]
    return Sequential(layers)


#: Shape of one example for the CNN: one channel of 28x28 pixels.
MNIST_CNN_INPUT_SHAPE = (1, 28, 28)
#: Filters of the CNN's two convolutional layers (5x5 kernels, no padding).
MNIST_CNN_CHANNELS = (16, 32)
#: Width of the CNN's hidden dense layer, and the dropout probability after it.
MNIST_CNN_HIDDEN, MNIST_CNN_DROPOUT = 128, 0.25


def mnist_cnn(
    rng: np.random.Generator, dtype=np.float32, *, pool=MaxPool2D
) -> Sequential:
    """The convolutional network of Step 7: two conv-ReLU-maxpool blocks and a small MLP head.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the initial weights (He) and of the dropout masks.
    dtype : numpy dtype, default float32
    pool : layer class, default MaxPool2D
        Called with the window 2 for each block's pooling (e.g. ``AvgPool2D``); it has no
        parameters, so the same ``rng`` gives the same weights whatever the pooling.

    Returns
    -------
    Sequential
        Input ``(N, 1, 28, 28)`` images, output ``(N, 10)`` logits:

        ::

            Conv2D(1, 16, 5)  -> ReLU -> MaxPool2D(2)  # (N, 16, 12, 12)
            Conv2D(16, 32, 5) -> ReLU -> MaxPool2D(2)  # (N, 32, 4, 4)
            Flatten -> Dense(512, 128) -> ReLU -> Dropout(0.25)
                    -> Dense(128, 10)

        (before pooling, the two convolutions' maps are 24 x 24 and 8 x 8), with
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
            pool(2),
            Conv2D(c1, c2, 5, rng=rng, dtype=dtype),
            ReLU(),
            pool(2),
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


def transformer_block(
    n_embed: int,
    n_heads: int,
    *,
    rng: np.random.Generator,
    causal: bool = True,
    mlp_ratio: int = 4,
    n_layers: int = 1,
    dtype=np.float32,
) -> Sequential:
    """One pre-norm Transformer block: two residual layers, nothing else.

    Parameters
    ----------
    n_embed : int
        Width D of the stream of vectors the block reads and writes.
    n_heads : int
        Attention heads; must divide D.
    rng : numpy.random.Generator
        Initial weights, drawn in the order the layers appear.
    causal : bool, default True
        Each position attends to itself and the positions before it only.
    mlp_ratio : int, default 4
        Hidden width of the MLP, ``mlp_ratio * D``.
    n_layers : int, default 1
        Depth of the whole model: the two projections that write into the residual stream
        start with standard deviation :math:`0.02/\\sqrt{2 L}` (GPT-2), so the stream's
        variance at the top does not grow with depth.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input and output (N, T, D):

        ::

            # x + attn(norm(x)):
            Residual(LayerNorm(D) -> MultiHeadAttention(D, H))
            # x + mlp(norm(x)):
            Residual(LayerNorm(D) -> Dense(D, 4D) -> GELU
                                  -> Dense(4D, D))

        :math:`12 D^2 + 13 D` parameters at ``mlp_ratio=4``.

    Notes
    -----
    The block is a :class:`~nnscratch.network.Sequential` of two
    :class:`~nnscratch.network.Residual` layers, so it follows the layer protocol with no
    special case anywhere: backward of :math:`x + f(x)` adds :math:`dout` and
    :math:`f`'s input gradient. Normalizing *before* each branch (pre-norm, GPT-2) leaves the
    identity path from the input to the output untouched.

    See Also
    --------
    gpt
    Book, Step 9 "Attention" (practice): the block, and a language model built of it.
    """
    d = check_int(n_embed, "n_embed", "transformer_block")
    ratio = check_int(mlp_ratio, "mlp_ratio", "transformer_block")
    depth = check_int(n_layers, "n_layers", "transformer_block")
    std, out_std = 0.02, 0.02 / np.sqrt(2 * depth)
    attn = MultiHeadAttention(
        d, n_heads, rng=rng, causal=causal, dtype=dtype, init_std=std
    )
    # GPT-2's scaled projection
    attn.params["W_o"] *= attn.dtype.type(out_std / std)
    return Sequential(
        [
            Residual(Sequential([LayerNorm(d, dtype=dtype), attn])),
            Residual(
                Sequential(
                    [
                        LayerNorm(d, dtype=dtype),
                        Dense(d, ratio * d, rng=rng, dtype=dtype, init=std),
                        GELU(),
                        Dense(
                            ratio * d,
                            d,
                            rng=rng,
                            dtype=dtype,
                            init=float(out_std),
                        ),
                    ]
                )
            ),
        ]
    )


def gpt(
    n_tokens: int,
    *,
    block_size: int,
    n_embed: int,
    n_heads: int,
    n_layers: int,
    rng: np.random.Generator,
    positions: str = "learned",
    dtype=np.float32,
) -> Sequential:
    """A small decoder-only Transformer (GPT): token ids in, next-token logits out.

    Parameters
    ----------
    n_tokens : int
        Vocabulary size V.
    block_size : int
        Context length: the longest sequence the model reads.
    n_embed, n_heads, n_layers : int
        Width D, heads per block H, and number of blocks L.
    rng : numpy.random.Generator
        Every initial weight, drawn in the order the layers appear.
    positions : {"learned", "sinusoidal"}, default "learned"
        :class:`~nnscratch.layers.PositionEmbedding` (GPT-2) or
        :class:`~nnscratch.layers.SinusoidalPositions` (the original Transformer).
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, T) integer ids with T at most ``block_size``, output (N, T, V) logits, the
        logits at position t predicting token t + 1 from tokens 0..t::

            Embedding(V, D) -> positions -> L x transformer_block
                            -> LayerNorm(D) -> Dense(D, V)

    See Also
    --------
    transformer_block
    Book, Step 9 "Attention" (practice): sorting digits and writing Shakespeare.
    """
    d = check_int(n_embed, "n_embed", "gpt")
    depth = check_int(n_layers, "n_layers", "gpt")
    block_size = check_int(block_size, "block_size", "gpt")
    if positions == "learned":
        pos = PositionEmbedding(block_size, d, rng=rng, dtype=dtype)
    elif positions == "sinusoidal":
        pos = SinusoidalPositions(block_size, d, dtype=dtype)
    else:
        raise ValueError(
            f"gpt: positions must be 'learned' or 'sinusoidal', got {positions!r}"
        )
    blocks = [
        transformer_block(d, n_heads, rng=rng, n_layers=depth, dtype=dtype)
        for _ in range(depth)
    ]
    return Sequential(
        [
            Embedding(n_tokens, d, rng=rng, dtype=dtype, std=0.02),
            pos,
            *blocks,
            LayerNorm(d, dtype=dtype),
            Dense(d, n_tokens, rng=rng, dtype=dtype, init=0.02),
        ]
    )

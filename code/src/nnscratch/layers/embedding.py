"""The embedding layer: integer tokens in, learned vectors out."""

from __future__ import annotations

import numpy as np

from .._checks import (
    check_array,
    check_float_array,
    check_float_dtype,
    check_int,
    check_number,
    check_rng,
    check_token_ids,
)
from .base import Layer


def _table_gradient(
    x: np.ndarray, rows: np.ndarray, n_tokens: int, dtype
) -> np.ndarray:
    """The gradient of a (V, D) table from the upstream rows of a batch of lookups.

    ``rows`` has shape ``x.shape + (D,)``: the upstream gradient of each lookup, added into
    the table's row of its token. Rows used by several tokens get the sum of theirs,
    accumulated in float64 whatever the dtype and rounded once; rows no token used are
    zero. The sums are taken over the U distinct ids of the batch only (``np.unique``
    numbers them ``0 .. U-1``) and then placed in a table of zeros: a batch uses a few
    hundred of a vocabulary's tens of thousands of rows, and a sum over the whole table
    would cost as much again as the rest of the backward pass.
    """
    d = rows.shape[-1]
    # the U distinct ids (U,), and each token's slot among them (x.size,)
    ids, slot = np.unique(x.reshape(-1), return_inverse=True)
    # position slot * D + column in a flat (U, D) array; slots are intp
    flat = slot[:, None] * d + np.arange(d)
    sums = np.bincount(
        flat.reshape(-1), weights=rows.reshape(-1), minlength=ids.size * d
    )
    dw = np.zeros((n_tokens, d), dtype=dtype)
    # rounded to dtype once, as astype would
    dw[ids] = sums.reshape(ids.size, d)
    return dw


class Embedding(Layer):
    """Look up row ``x`` of a learned table: ``out = W[x]``.

    Parameters
    ----------
    n_tokens : int
        Size V of the vocabulary; tokens are the integers ``0 .. V-1``.
    n_dim : int
        Width D of each embedding vector.
    rng : numpy.random.Generator
        Initial table, normal with standard deviation ``std``.
    dtype : numpy dtype, default float64
    std : float, default 1.0
        Standard deviation of the initial entries (PyTorch's ``nn.Embedding`` uses 1).

    Attributes
    ----------
    params : dict
        ``"W"``: ndarray of shape (V, D), one row per token.

    Notes
    -----
    The lookup is the product of one-hot rows with the table, :math:`\\text{out} = X_{oh} W`,
    without ever forming :math:`X_{oh}`. Its gradient is therefore
    :math:`dW = X_{oh}^\\top \\, d\\text{out}`: row :math:`v` of :math:`dW` is the sum of the
    upstream gradients at every position holding token :math:`v`, and zero for tokens absent
    from the batch (a *sparse* gradient). ``_table_gradient`` computes it: ``np.unique``
    numbers the U distinct tokens of the batch, and one ``np.bincount`` over the flat index
    ``slot * D + column`` sums the upstream rows into a (U, D) array, which sums repeated
    tokens correctly (``dW[x] += dout`` would not: with repeated indices, fancy assignment
    keeps only one addend) and accumulates in float64, so no addend is lost whatever the
    parameters' dtype.
    The input is integers, so there is no input gradient: :meth:`backward` returns None.

    See Also
    --------
    Book, Step 8 "Sequences" (practice): characters as learned vectors.
    Book, Step 10 "Words" (theory): the sparse gradient, checked against the
    dense one-hot product.
    """

    _forward_state = ("_x",)

    def __init__(
        self,
        n_tokens: int,
        n_dim: int,
        *,
        rng: np.random.Generator,
        dtype=np.float64,
        std: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_tokens = check_int(n_tokens, "n_tokens", "Embedding")
        self.n_dim = check_int(n_dim, "n_dim", "Embedding")
        check_rng(rng, "Embedding")
        self.dtype = check_float_dtype(dtype, "Embedding")
        std = check_number(std, "std", "Embedding", low=0)
        self.params = {
            "W": (
                rng.standard_normal((self.n_tokens, self.n_dim)) * std
            ).astype(self.dtype)
        }
        self.grads = {"W": np.zeros_like(self.params["W"])}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Rows of ``W`` for the tokens ``x`` of any shape, e.g. (N, T) -> (N, T, D)."""
        check_token_ids(x, self.n_tokens, where="Embedding.forward")
        self._x = x
        return self.params["W"][x]  # x.shape + (D,)

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> None:
        """Fill ``grads["W"]`` from ``dout`` of shape ``x.shape + (D,)``; return None.

        Tokens are not differentiable, so there is no ``dx`` whatever ``need_dx`` says.
        """
        self._require_forward(self._x)
        x, d = self._x, self.n_dim
        check_float_array(
            dout, "dout", dtype=self.dtype, where="Embedding.backward"
        )
        if dout.shape != x.shape + (d,):
            raise ValueError(
                f"Embedding.backward: dout must have shape "
                f"{x.shape + (d,)}, got {dout.shape}"
            )
        self.grads["W"] = _table_gradient(
            x, dout, self.n_tokens, self.dtype
        )  # (V, D)
        return None

    def __repr__(self) -> str:
        return (
            f"Embedding({self.n_tokens}, {self.n_dim}, dtype={self.dtype})"
        )


class EmbeddingBag(Layer):
    """Sum (or mean) of the learned rows of a bag of tokens: ``out[n] = sum_l w[n, l] W[x[n, l]]``.

    The layer of a bag-of-words (or bag-of-n-grams) model: with width ``n_dim = 1`` it is a
    linear model over a vocabulary of any size, ``out[n] = sum of the weights of the tokens
    in sentence n``, without ever forming the (N, V) matrix of counts. PyTorch's twin is
    ``torch.nn.EmbeddingBag`` with ``padding_idx``.

    Parameters
    ----------
    n_tokens : int
        Size V of the vocabulary.
    n_dim : int
        Width D of each row (1 for a linear model with one output).
    rng : numpy.random.Generator
        Initial table, normal with standard deviation ``std``.
    mode : {"sum", "mean"}, default "sum"
        Sum of the rows, or their mean over the bag's real positions.
    padding_idx : int, default 0
        The id that fills short bags; its positions count for nothing.
    dtype : numpy dtype, default float64
    std : float, default 1.0
        Standard deviation of the initial entries (0 for a linear model started at zero).

    Attributes
    ----------
    params : dict
        ``"W"``: ndarray of shape (V, D).

    Notes
    -----
    With :math:`c_{nl} = w_{nl} [x_{nl} \\ne \\text{pad}]` (divided by the bag's size in
    ``"mean"`` mode), :math:`\\text{out}_n = \\sum_l c_{nl} W_{x_{nl}}`, so row :math:`v` of
    the gradient is :math:`dW_v = \\sum_{n, l:\\, x_{nl} = v} c_{nl}\\, d\\text{out}_n`: one
    ``np.bincount``, as in :class:`Embedding`, and exactly zero for the padding row.

    See Also
    --------
    Book, Step 10 "Words" (practice): bag-of-n-grams logistic regression and NB weighting.
    """

    _forward_state = ("_cache",)

    def __init__(
        self,
        n_tokens: int,
        n_dim: int,
        *,
        rng: np.random.Generator,
        mode: str = "sum",
        padding_idx: int = 0,
        dtype=np.float64,
        std: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_tokens = check_int(n_tokens, "n_tokens", "EmbeddingBag")
        self.n_dim = check_int(n_dim, "n_dim", "EmbeddingBag")
        check_rng(rng, "EmbeddingBag")
        if mode not in ("sum", "mean"):
            raise ValueError(
                f"EmbeddingBag: mode must be 'sum' or 'mean', got {mode!r}"
            )
        self.mode = mode
        self.padding_idx = check_int(
            padding_idx, "padding_idx", "EmbeddingBag", minimum=0
        )
        if self.padding_idx >= self.n_tokens:
            raise ValueError(
                f"EmbeddingBag: padding_idx must be a token id, below n_tokens = "
                f"{self.n_tokens}, got {self.padding_idx}"
            )
        self.dtype = check_float_dtype(dtype, "EmbeddingBag")
        std = check_number(std, "std", "EmbeddingBag", low=0)
        w = rng.standard_normal((self.n_tokens, self.n_dim)) * std
        self.params = {"W": w.astype(self.dtype)}
        self.grads = {"W": np.zeros_like(self.params["W"])}
        self._cache: tuple | None = None

    def forward(
        self,
        x: np.ndarray,
        training: bool = False,
        *,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """Pool the rows of the bags ``x`` (N, L) into (N, D).

        ``weights`` (N, L), optional and only in ``"sum"`` mode, multiplies each
        position's row (``per_sample_weights`` in PyTorch).
        """
        where = "EmbeddingBag.forward"
        check_token_ids(x, self.n_tokens, where=where, bags=True)
        c = (x != self.padding_idx).astype(self.dtype)  # (N, L)
        if weights is not None:
            if self.mode != "sum":
                raise ValueError(
                    f"{where}: weights need mode='sum', got mode={self.mode!r}"
                )
            check_float_array(
                weights, "weights", dtype=self.dtype, where=where
            )
            if weights.shape != x.shape:
                raise ValueError(
                    f"{where}: weights must have the shape of x, {x.shape}, got "
                    f"{weights.shape}"
                )
            c = c * weights
        elif self.mode == "mean":
            c = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
        self._cache = (x, c)
        return np.einsum("nl,nld->nd", c, self.params["W"][x])  # (N, D)

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> None:
        """Fill ``grads["W"]`` from ``dout`` of shape (N, D); return None (ids have no gradient)."""
        self._require_forward(self._cache)
        x, c = self._cache
        n, d = x.shape[0], self.n_dim
        check_float_array(
            dout, "dout", dtype=self.dtype, where="EmbeddingBag.backward"
        )
        if dout.shape != (n, d):
            raise ValueError(
                f"EmbeddingBag.backward: dout must have shape {(n, d)}, got {dout.shape}"
            )
        contrib = c[..., None] * dout[:, None, :]  # (N, L, D)
        self.grads["W"] = _table_gradient(
            x, contrib, self.n_tokens, self.dtype
        )
        return None

    def __repr__(self) -> str:
        return (
            f"EmbeddingBag({self.n_tokens}, {self.n_dim}, mode={self.mode!r}, "
            f"padding_idx={self.padding_idx}, dtype={self.dtype})"
        )

"""Loss functions. Each returns ``(loss, grad)``: the scalar loss and its gradient with
respect to the prediction, in the prediction's shape and dtype. (One helper is not a loss
but a score: :func:`bernoulli_nll_per_example` returns one value per image, no gradient,
and accepts an empty batch.)

Losses own the batch mean: the ``1/N`` appears here and nowhere else, so layers can simply
sum over the batch in their backward pass. For the same reason a loss refuses an empty batch
(N = 0): the mean over no examples is undefined.

Following the dtype policy of :mod:`nnscratch`, predictions must be floating-point; targets
are cast to the prediction's dtype (labels stay integers), and the loss itself is summed in
float32 or wider, so a float16 batch cannot overflow it.

See Also
--------
Book, Step 1 (binary cross-entropy) and Step 3 (MSE, softmax cross-entropy and its ``p - y``
gradient).
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    accumulation_dtype,
    check_array,
    check_binary,
    check_float_array,
    check_labels,
    check_nonempty_batch,
    check_same_shape,
    policy_divide,
)
from .activations import sigmoid


def mean_squared_error(
    y_hat: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean squared error over every element.

    Parameters
    ----------
    y_hat : ndarray of any shape, e.g. (N,) or (N, D)
        Predictions, floating-point, with at least one element.
    y : ndarray of the same shape as ``y_hat``
        Targets.

    Returns
    -------
    loss : float
        The mean over every element; for (N, D),
        :math:`L = \\frac{1}{N D} \\sum_{i,j} (\\hat y_{ij} - y_{ij})^2` (PyTorch's ``MSELoss``).
    dy_hat : ndarray, same shape as ``y_hat``
        :math:`\\partial L / \\partial \\hat y = \\frac{2}{N D} (\\hat y - y)`, with
        :math:`N D` the number of elements (``y_hat.size``).
    """
    where = "mean_squared_error"
    check_float_array(y_hat, "y_hat", where=where)
    check_array(y, "y", where=where)
    check_same_shape(y_hat, y, ("y_hat", "y"), where=where)
    check_nonempty_batch(y_hat.size, "y_hat", where=where)
    diff = y_hat - y.astype(y_hat.dtype, copy=False)
    loss = float(
        np.mean(np.square(diff, dtype=accumulation_dtype(diff.dtype)))
    )
    # 2/size is subnormal in float16 from 2^15 elements: scaled in float32
    if diff.dtype == np.float16:
        return loss, (np.float32(2.0 / diff.size) * diff).astype(np.float16)
    return loss, y_hat.dtype.type(2.0 / diff.size) * diff


def binary_cross_entropy(
    z: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on logits, stable for logits of any size.

    Parameters
    ----------
    z : ndarray of shape (N,) or (N, 1)
        Logits; the predicted probability is :math:`\\sigma(z)`.
    y : ndarray of shape (N,)
        Labels, 0 or 1 (integer or float).

    Returns
    -------
    loss : float
        :math:`L = -\\frac1N \\sum_i [y_i \\log \\sigma(z_i) + {}`
        :math:`(1 - y_i) \\log(1 - \\sigma(z_i))]`.
    dz : ndarray, same shape as ``z``
        :math:`\\partial L / \\partial z_i = (\\sigma(z_i) - y_i) / N`.

    Notes
    -----
    Written as :math:`\\max(z, 0) - z y + \\log(1 + e^{-|z|})`, which equals the definition
    but never takes the log of 0 or the exp of a large number. Computing
    ``log(sigmoid(z))`` directly returns ``-inf`` once ``sigmoid(z)`` rounds to 0. For
    :math:`y_i = 1` the gradient's :math:`\\sigma(z_i) - 1` is computed as
    :math:`-\\sigma(-z_i)`, which keeps its relative precision where the subtraction would
    round to 0.
    """
    where = "binary_cross_entropy"
    check_float_array(z, "z", where=where)
    check_array(y, "y", where=where)
    n = z.shape[0] if z.ndim else 0
    if z.ndim not in (1, 2) or (z.ndim == 2 and z.shape[1] != 1):
        raise ValueError(
            f"{where}: z must have shape (N,) or (N, 1), got {z.shape}"
        )
    if y.shape != (n,):
        raise ValueError(
            f"{where}: y must have shape ({n},) to match z, got {y.shape}"
        )
    check_nonempty_batch(n, "z", where=where)
    check_binary(y, "y must contain only 0 and 1", where)
    zf = z.reshape(n)
    yf = y.astype(z.dtype, copy=False)
    per_example = (
        np.maximum(zf, 0) - zf * yf + np.log1p(np.exp(-np.abs(zf)))
    )
    loss = float(np.mean(per_example, dtype=accumulation_dtype(z.dtype)))
    # sigma(z) - 1 as -sigma(-z): the subtraction rounds to 0 for z > 37
    positive = yf == 1
    s = sigmoid(np.where(positive, -zf, zf))
    dz = policy_divide(np.where(positive, -s, s), n)
    return loss, dz.reshape(z.shape)


def softmax_cross_entropy(
    z: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Softmax followed by cross-entropy, on logits and integer labels.

    Parameters
    ----------
    z : ndarray of shape (N, C)
        Logits.
    y : ndarray of shape (N,)
        Integer class labels in ``[0, C)``.

    Returns
    -------
    loss : float
        :math:`L =` :math:`\\frac1N \\sum_i (\\log \\sum_k e^{z_{ik}} - z_{i y_i})`.
    dz : ndarray of shape (N, C)
        :math:`\\partial L / \\partial z = (p - Y) / N`, with :math:`p = \\mathrm{softmax}(z)`
        and :math:`Y` the one-hot labels.

    Notes
    -----
    The log-sum-exp is shifted by the row maximum, so large logits neither overflow nor make
    the loss ``inf``.
    """
    where = "softmax_cross_entropy"
    check_float_array(z, "z", ndim=2, where=where)
    n, c = z.shape
    check_labels(y, n, c, where=where)
    check_nonempty_batch(n, "z", where=where)
    return _softmax_cross_entropy(z, y)


def _softmax_cross_entropy(
    z: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """:func:`softmax_cross_entropy` on arguments its caller has checked (N ≥ 1)."""
    n = len(z)
    acc = accumulation_dtype(z.dtype)
    rows = np.arange(n)
    shifted = z - z.max(axis=1, keepdims=True)  # (N, C)
    e = np.exp(shifted)
    norm = e.sum(axis=1, keepdims=True, dtype=acc).astype(
        z.dtype, copy=False
    )  # (N, 1)
    loss = float(np.mean(np.log(norm[:, 0]) - shifted[rows, y], dtype=acc))
    dz = e / norm  # softmax(z), reusing the exponentials
    dz[rows, y] -= 1
    return loss, policy_divide(dz, n)


def bernoulli_nll(z: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of images under independent Bernoulli pixels, from logits.

    The reconstruction term of an autoencoder or a VAE on images in [0, 1]: summed over
    the pixels of an image (so the loss is in nats per image, the unit in which a VAE's
    negative ELBO is reported) and averaged over the batch.

    Parameters
    ----------
    z : ndarray of shape (N, D)
        Logits; pixel ``j`` of image ``i`` is 1 with probability :math:`\\sigma(z_{ij})`.
    x : ndarray of shape (N, D)
        Targets in [0, 1]: binary pixels for a likelihood, grey levels for a
        cross-entropy.

    Returns
    -------
    loss : float
        :math:`L`, the mean over the batch of each image's negative log-likelihood (see Notes).
    dz : ndarray of shape (N, D)
        :math:`\\partial L / \\partial z = (\\sigma(z) - x) / N`.

    Notes
    -----
    :math:`L = \\frac1N \\sum_{i,j} \\ell_{ij}`, where

    .. math::

        \\ell_{ij} &= \\operatorname{softplus}(z_{ij}) - x_{ij} z_{ij} \\\\
                  &= -x_{ij} \\log \\sigma(z_{ij}) \\\\
                  &\\quad {} - (1 - x_{ij}) \\log(1 - \\sigma(z_{ij})).

    :math:`\\operatorname{softplus}(z) = \\log(1 + e^z)` is computed as
    :math:`\\max(z, 0) + \\log(1 + e^{-|z|})`, which never overflows; PyTorch's
    ``binary_cross_entropy_with_logits(z, x, reduction="sum") / N`` is the same number.

    See Also
    --------
    bernoulli_nll_per_example : the same sum, one value per image.
    Book, Step 11 "Autoencoders — theory".
    """
    where = "bernoulli_nll"
    check_float_array(z, "z", ndim=2, where=where)
    check_array(x, "x", where=where)
    check_same_shape(z, x, ("z", "x"), where=where)
    check_nonempty_batch(z.shape[0], "z", where=where)
    n = z.shape[0]
    loss = float(np.mean(bernoulli_nll_per_example(z, x), dtype=np.float64))
    dz = policy_divide(sigmoid(z) - x.astype(z.dtype, copy=False), n)
    return loss, dz


def bernoulli_nll_per_example(z: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-image Bernoulli negative log-likelihood :math:`\\sum_j [\\operatorname{softplus}(z_{ij}) - x_{ij} z_{ij}]`.

    Parameters
    ----------
    z, x : ndarray of shape (N, D)
        Logits and targets in [0, 1], as for :func:`bernoulli_nll`.

    Returns
    -------
    ndarray of shape (N,)
        Nats per image, summed in float64 (an image's 784 terms in float32 would lose
        digits).
    """
    where = "bernoulli_nll_per_example"
    check_float_array(z, "z", ndim=2, where=where)
    check_array(x, "x", where=where)
    check_same_shape(z, x, ("z", "x"), where=where)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{where}: x must lie in [0, 1] (pixel probabilities), got values in "
            f"[{x.min():.3g}, {x.max():.3g}]"
        )
    softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))  # (N, D)
    return np.sum(
        softplus - z * x.astype(z.dtype, copy=False),
        axis=1,
        dtype=np.float64,
    )

"""Autoencoders and variational autoencoders: the code layer, its loss terms, the models.

An **autoencoder** is a network ``decoder(encoder(x))`` trained to give back its input
through a narrow **code**; :func:`autoencoder` builds one as a ``Sequential`` of two
``Sequential`` halves, so the code of a batch is ``model[0].forward(x)``.

A **variational autoencoder** (VAE) makes the code random: the encoder outputs the mean
``mu`` and the log-variance ``logvar`` of a diagonal Gaussian, the code is a sample
``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` (:func:`reparameterize`), and
training minimizes the negative evidence lower bound: the Bernoulli reconstruction term
(:func:`nnscratch.losses.bernoulli_nll`) plus the KL divergence of the code's distribution
from ``N(0, I)`` (:func:`gaussian_kl`). :class:`VAE` follows the layer protocol: its output
carries ``mu`` and ``logvar`` beside the logits, so that :func:`vae_loss` can see them and
``fit`` trains it like any other model, with no special case in ``Sequential``.

See Also
--------
Book, Step 11 "Autoencoders": theory (the ELBO, the KL term, the reparameterization
trick) and practice (anomaly detection, samples).
"""

from __future__ import annotations

import textwrap

import numpy as np

from ._checks import (
    accumulation_dtype,
    check_dout,
    check_float_array,
    check_int,
    check_nonempty_batch,
    check_rng,
    check_same_shape,
    policy_divide,
)
from .activations import ReLU, sigmoid
from .layers.base import Composite, Layer
from .layers.dense import Dense
from .losses import bernoulli_nll, bernoulli_nll_per_example
from .network import Sequential


def reparameterize(
    mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray
) -> np.ndarray:
    """A sample of :math:`\\mathcal N(\\mu, \\operatorname{diag} e^{\\mathrm{logvar}})` as a differentiable function of its parameters.

    Parameters
    ----------
    mu, logvar : ndarray of shape (N, K)
        Mean and log-variance of each code coordinate.
    eps : ndarray of shape (N, K)
        Standard normal noise, drawn by the caller (held fixed, the sample is a smooth
        function of ``mu`` and ``logvar``).

    Returns
    -------
    z : ndarray of shape (N, K)
        :math:`z = \\mu + \\sigma \\odot \\varepsilon`, :math:`\\sigma = e^{\\mathrm{logvar}/2}`.

    Notes
    -----
    The gradients (:func:`reparameterize_backward`):
    :math:`\\partial z / \\partial \\mu = 1` and
    :math:`\\partial z / \\partial\\, \\mathrm{logvar} = \\tfrac12 \\sigma \\odot \\varepsilon`.
    """
    check_same_shape(mu, logvar, ("mu", "logvar"), where="reparameterize")
    check_same_shape(mu, eps, ("mu", "eps"), where="reparameterize")
    return mu + np.exp(0.5 * logvar) * eps


def reparameterize_backward(
    dz: np.ndarray, logvar: np.ndarray, eps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`reparameterize`: ``(dmu, dlogvar)`` from ``dz``, all (N, K)."""
    return dz, dz * 0.5 * np.exp(0.5 * logvar) * eps


class Reparameterize(Layer):
    """The random code of a VAE as a layer: input ``[mu | logvar]`` (N, 2K), output z (N, K).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the noise in training mode.

    Notes
    -----
    ``forward(x, training=False, eps=None)``: with ``eps`` given, that noise is used (held
    fixed for a gradient check, or drawn by the caller to evaluate the ELBO); else in
    training mode fresh noise is drawn from ``rng``; else (evaluation) ``eps = 0`` and the
    output is the mean ``mu``, the deterministic code of an input. No parameters.
    """

    _forward_state = ("_cache",)

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.rng = check_rng(rng, "Reparameterize")
        self._cache = None

    def forward(
        self,
        x: np.ndarray,
        training: bool = False,
        eps: np.ndarray | None = None,
    ) -> np.ndarray:
        check_float_array(x, "x", ndim=2, where="Reparameterize.forward")
        n, two_k = x.shape
        if two_k % 2:
            raise ValueError(
                "Reparameterize.forward: x must be [mu | logvar] with an "
                f"even number of columns, got shape {x.shape}"
            )
        k = two_k // 2
        mu, logvar = x[:, :k], x[:, k:]  # (N, K) each
        if eps is None and training:
            # numpy draws normals in float32 or float64: float16 rounds once
            draw = accumulation_dtype(x.dtype)
            eps = self.rng.standard_normal((n, k), dtype=draw)
            eps = eps.astype(x.dtype, copy=False)
        elif eps is None:
            eps = np.zeros((n, k), dtype=x.dtype)
        else:  # given noise must not change the code's dtype
            check_float_array(
                eps, "eps", dtype=x.dtype, where="Reparameterize.forward"
            )
        z = reparameterize(mu, logvar, eps)
        self._cache = (logvar, eps)
        return z

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        self._require_forward(self._cache)
        logvar, eps = self._cache
        check_dout(dout, eps.shape, eps.dtype, "Reparameterize.backward")
        if not need_dx:
            return None
        dmu, dlogvar = reparameterize_backward(dout, logvar, eps)
        return np.concatenate([dmu, dlogvar], axis=1)  # (N, 2K)


def gaussian_kl(
    mu: np.ndarray, logvar: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """KL divergence of :math:`\\mathcal N(\\mu, \\operatorname{diag} \\sigma^2)` from :math:`\\mathcal N(0, I)`, batch mean.

    Parameters
    ----------
    mu, logvar : ndarray of shape (N, K)
        Mean and log-variance :math:`\\log \\sigma^2` of each example's code.

    Returns
    -------
    loss : float
        :math:`\\frac1N \\sum_{i,k} \\tfrac12 \\bigl(\\mu_{ik}^2 + \\sigma_{ik}^2 - {}`
        :math:`1 - \\log \\sigma_{ik}^2\\bigr)`, in nats per example.
    dmu : ndarray of shape (N, K)
        :math:`\\mu / N`.
    dlogvar : ndarray of shape (N, K)
        :math:`(\\sigma^2 - 1) / (2N)`.

    See Also
    --------
    Book, Step 11 "Autoencoders — theory": the formula derived and checked with SymPy.
    """
    where = "gaussian_kl"
    check_float_array(mu, "mu", ndim=2, where=where)
    check_float_array(logvar, "logvar", ndim=2, where=where)
    check_same_shape(mu, logvar, ("mu", "logvar"), where=where)
    check_nonempty_batch(mu.shape[0], "mu", where=where)
    n = mu.shape[0]
    var = np.exp(logvar)
    loss = float(
        np.mean(gaussian_kl_per_example(mu, logvar), dtype=np.float64)
    )
    return loss, policy_divide(mu, n), policy_divide(var - 1, 2 * n)


def gaussian_kl_per_example(
    mu: np.ndarray, logvar: np.ndarray
) -> np.ndarray:
    """The KL term of :func:`gaussian_kl` for each example: shape (N,), summed in float64."""
    terms = 0.5 * (np.square(mu) + np.exp(logvar) - 1 - logvar)  # (N, K)
    return np.sum(terms, axis=1, dtype=np.float64)


def _split(out: np.ndarray, x: np.ndarray, where: str):
    check_float_array(out, "out", ndim=2, where=where)
    check_float_array(x, "x", ndim=2, where=where)
    d = x.shape[1]
    extra = out.shape[1] - d
    if out.shape[0] != x.shape[0] or extra <= 0 or extra % 2:
        raise ValueError(
            f"{where}: out must be [logits | mu | logvar] of shape (N, D + 2K) for x of "
            f"shape (N, D) = {x.shape}, got {out.shape}"
        )
    k = extra // 2
    return out[:, :d], out[:, d : d + k], out[:, d + k :]


def vae_loss(out: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """The negative ELBO of a batch, in nats per image: reconstruction plus KL.

    Parameters
    ----------
    out : ndarray of shape (N, D + 2K)
        A :class:`VAE`'s output ``[logits | mu | logvar]``.
    x : ndarray of shape (N, D)
        The images, pixels in [0, 1] (binary for a likelihood).

    Returns
    -------
    loss : float
        ``bernoulli_nll(logits, x) + gaussian_kl(mu, logvar)``, both batch means.
    dout : ndarray of shape (N, D + 2K)
        The gradient with respect to each of the three parts, side by side.
    """
    logits, mu, logvar = _split(out, x, "vae_loss")
    rec, dlogits = bernoulli_nll(logits, x)
    kl, dmu, dlogvar = gaussian_kl(mu, logvar)
    return rec + kl, np.concatenate([dlogits, dmu, dlogvar], axis=1)


class VAE(Composite):
    """A variational autoencoder following the layer protocol.

    Parameters
    ----------
    encoder : Layer
        Maps images (N, D) to ``[mu | logvar]`` (N, 2K).
    decoder : Layer
        Maps codes (N, K) to pixel logits (N, D).
    rng : numpy.random.Generator
        Draws the code's noise in training mode.

    Notes
    -----
    ``forward`` returns ``[logits | mu | logvar]`` of shape (N, D + 2K), the input of
    :func:`vae_loss`; ``backward`` takes that loss's gradient, sends the logits' part
    through the decoder and the reparameterization, adds the KL term's direct gradient
    with respect to ``mu`` and ``logvar``, and sends the sum through the encoder.
    ``params`` are keyed ``"encoder.<key>"`` and ``"decoder.<key>"``.
    """

    _forward_state = ("_d", "_out")

    def __init__(
        self, encoder: Layer, decoder: Layer, *, rng: np.random.Generator
    ) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.code = Reparameterize(rng)
        self._d = None

    def parts(self) -> list[tuple[str, Layer]]:
        """The encoder and the decoder: keys ``"encoder.<key>"``, ``"decoder.<key>"``."""
        return [("encoder", self.encoder), ("decoder", self.decoder)]

    def forward(
        self,
        x: np.ndarray,
        training: bool = False,
        eps: np.ndarray | None = None,
    ) -> np.ndarray:
        """``[logits | mu | logvar]`` (N, D + 2K); ``eps`` (N, K) as for :class:`Reparameterize`."""
        h = self.encoder.forward(x, training=training)  # (N, 2K)
        z = self.code.forward(h, training=training, eps=eps)  # (N, K)
        logits = self.decoder.forward(z, training=training)  # (N, D)
        self._d = logits.shape[1]
        out = np.concatenate([logits, h], axis=1)
        self._out = (out.shape, out.dtype)  # what backward's dout must be
        return out

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        self._require_forward(self._d)
        check_dout(dout, *self._out, "VAE.backward")
        dlogits, dh = dout[:, : self._d], dout[:, self._d :]
        dz = self.decoder.backward(dlogits)  # (N, K)
        dh = dh + self.code.backward(
            dz
        )  # (N, 2K): KL's part + the path through z
        return self.encoder.backward(dh, need_dx=need_dx)

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, logvar)`` of each image's code, each (N, K), in evaluation mode."""
        h = self.encoder.forward(x, training=False)
        k = h.shape[1] // 2
        return h[:, :k], h[:, k:]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Pixel probabilities :math:`\\sigma(\\text{decoder}(z))` (N, D) of codes z (N, K)."""
        logits = self.decoder.forward(z, training=False)
        # the package's sigmoid: no exp overflow for very negative logits
        return sigmoid(logits)

    def negative_elbo(
        self,
        x: np.ndarray,
        *,
        rng: np.random.Generator,
        batch_size: int = 1000,
    ) -> np.ndarray:
        """Each image's negative ELBO in nats, estimated with one code sample from ``rng``.

        Parameters
        ----------
        x : ndarray of shape (N, D)
            Images, pixels in [0, 1].
        rng : numpy.random.Generator
            Draws the noise of each image's code sample.

        Returns
        -------
        ndarray of shape (N,)
            :math:`-\\mathrm{ELBO}(x_i) \\approx`
            :math:`-\\log p(x_i \\mid z_i) + {}`
            :math:`\\mathrm{KL}(q(z \\mid x_i) \\,\\|\\, \\mathcal N(0, I))`, with
            :math:`z_i \\sim q(z \\mid x_i)`: an unbiased estimate of the negative ELBO,
            which bounds :math:`-\\log p(x_i)` from above.
        """
        check_rng(rng, "VAE.negative_elbo")
        batch_size = check_int(
            batch_size, "batch_size", "VAE.negative_elbo"
        )
        out = []
        for s in range(0, len(x), batch_size):
            xb = x[s : s + batch_size]
            h = self.encoder.forward(xb, training=False)
            k = h.shape[1] // 2
            # drawn as Reparameterize draws: float16 is rounded from float32
            eps = rng.standard_normal(
                (len(xb), k), dtype=accumulation_dtype(h.dtype)
            ).astype(h.dtype, copy=False)
            o = self.forward(xb, training=False, eps=eps)
            logits, mu, logvar = _split(o, xb, "VAE.negative_elbo")
            out.append(
                bernoulli_nll_per_example(logits, xb)
                + gaussian_kl_per_example(mu, logvar)
            )
        return np.concatenate(out)

    def __repr__(self) -> str:
        # one argument per line, nested layers indented one level deeper
        parts = ",\n".join(
            textwrap.indent(f"{name}={part!r}", "  ")
            for name, part in (
                ("encoder", self.encoder),
                ("decoder", self.decoder),
            )
        )
        return f"VAE(\n{parts}\n)"


def _mlp(sizes, rng, dtype) -> Sequential:
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(
            Dense(
                n_in,
                n_out,
                rng=rng,
                dtype=dtype,
                init="glorot" if last else "he",
            )
        )
        if not last:
            layers.append(ReLU())
    return Sequential(layers)


def _check_sizes(sizes, where: str) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"{where}: sizes must be (n_in, ..., code), at least two widths, got {sizes}"
        )
    return tuple(check_int(s, "sizes", where) for s in sizes)


def autoencoder(
    sizes, *, rng: np.random.Generator, dtype=np.float32
) -> Sequential:
    """A dense autoencoder: ``Sequential([encoder, decoder])``, mirror images of each other.

    Parameters
    ----------
    sizes : sequence of int
        ``(n_in, hidden..., code)``: the encoder's widths; the decoder runs them backwards.
    rng : numpy.random.Generator
        Initial weights.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        ``model[0]`` the encoder (ReLU between its dense layers, a linear code),
        ``model[1]`` the decoder (ReLU between its layers, logits out: train with
        :func:`nnscratch.losses.bernoulli_nll`). ``sizes=(784, 64, 32)`` gives
        784-64-32-64-784.
    """
    sizes = _check_sizes(sizes, "autoencoder")
    check_rng(rng, "autoencoder")
    return Sequential(
        [_mlp(sizes, rng, dtype), _mlp(sizes[::-1], rng, dtype)]
    )


def vae(sizes, *, rng: np.random.Generator, dtype=np.float32) -> VAE:
    """A dense VAE with ``sizes = (n_in, hidden..., K)``; the encoder's last layer outputs 2K.

    Returns
    -------
    VAE
        Encoder ``n_in -> hidden... -> 2K`` (``[mu | logvar]``), decoder
        ``K -> ...hidden -> n_in`` logits, ReLU between dense layers. ``rng`` draws the
        initial weights and, later, the code's noise during training.
    """
    sizes = _check_sizes(sizes, "vae")
    check_rng(rng, "vae")
    encoder = _mlp(sizes[:-1] + (2 * sizes[-1],), rng, dtype)
    decoder = _mlp(sizes[::-1], rng, dtype)
    return VAE(encoder, decoder, rng=rng)

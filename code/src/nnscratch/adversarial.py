"""Generative adversarial networks: the two players' losses, a training step, mode counting.

A **GAN** trains two networks against each other. The **generator** ``G`` maps noise
``z ~ N(0, I)`` to samples; the **discriminator** ``D`` maps a sample to one logit ``s``,
its belief (through :math:`D = \\sigma(s)`) that the sample is real. ``D`` minimizes the
binary cross-entropy of telling real (label 1) from generated (label 0) samples
(:func:`discriminator_loss`); ``G`` minimizes either the *saturating* loss
:math:`\\log(1 - D(G(z)))` of the original minimax game or the *non-saturating* loss
:math:`-\\log D(G(z))` used in practice (:func:`generator_loss`). :class:`GAN` takes one
alternating step: the discriminator first, then the generator against the updated
discriminator; a step whose gradients are not finite changes neither network.

:func:`~nnscratch.data.synthetic.ring_of_gaussians` and :func:`modes_covered`
are the two-dimensional test bed where mode collapse can be counted.

See Also
--------
Book, Step 12 "Generative adversarial networks": theory (the optimal discriminator, the
Jensen-Shannon divergence, the two generator losses) and practice (a ring of Gaussians,
MNIST, measuring generators).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from ._checks import (
    accumulation_dtype,
    check_array,
    check_float_array,
    check_float_dtype,
    check_int,
    check_nonempty_batch,
    check_number,
    check_rng,
    policy_divide,
)
from .activations import sigmoid
from .layers.base import Layer
from .optim import Optimizer, ParameterAverage


class GANDiverged(FloatingPointError):
    """A GAN step met a non-finite loss or gradient; neither network was changed."""


#: The two generator losses :func:`generator_loss` knows.
GENERATOR_LOSSES = ("non_saturating", "saturating")


def _softplus(s: np.ndarray) -> np.ndarray:
    """log(1 + e^s) without overflow: max(s, 0) + log(1 + e^-|s|)."""
    return np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s)))


def _check_logits(s, name: str, where: str) -> np.ndarray:
    check_float_array(s, name, where=where)
    if s.ndim not in (1, 2) or (s.ndim == 2 and s.shape[1] != 1):
        raise ValueError(
            f"{where}: {name} must be the discriminator's logits of shape (N,) or "
            f"(N, 1), got shape {s.shape}"
        )
    check_nonempty_batch(s.shape[0], name, where=where)
    return s.reshape(-1)


def discriminator_loss(
    real_logits: np.ndarray, fake_logits: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """The discriminator's binary cross-entropy: real samples labelled 1, generated ones 0.

    Parameters
    ----------
    real_logits : ndarray of shape (N,) or (N, 1)
        The discriminator's logits :math:`s` on real samples.
    fake_logits : ndarray of shape (M,) or (M, 1)
        Its logits on generated samples, same dtype.

    Returns
    -------
    loss : float
        :math:`L_D =` :math:`\\frac1N \\sum_i \\operatorname{softplus}(-s_i) + {}`
        :math:`\\frac1M \\sum_j \\operatorname{softplus}(s_j)`, that is
        :math:`-\\overline{\\log D(x)} - {}` :math:`\\overline{\\log(1 - D(G(z)))}`.
    d_real : ndarray, shape of ``real_logits``
        :math:`(\\sigma(s_i) - 1) / N`.
    d_fake : ndarray, shape of ``fake_logits``
        :math:`\\sigma(s_j) / M`.

    Notes
    -----
    Each half is PyTorch's ``binary_cross_entropy_with_logits`` (mean reduction) with
    targets 1 and 0; the two means are added, so real and generated batches weigh the same
    whatever their sizes.
    """
    where = "discriminator_loss"
    r = _check_logits(real_logits, "real_logits", where)
    f = _check_logits(fake_logits, "fake_logits", where)
    if real_logits.dtype != fake_logits.dtype:
        raise TypeError(
            f"{where}: real_logits and fake_logits must have the same dtype, got "
            f"{real_logits.dtype} and {fake_logits.dtype}"
        )
    acc = accumulation_dtype(r.dtype)
    loss = float(
        np.mean(_softplus(-r), dtype=acc) + np.mean(_softplus(f), dtype=acc)
    )
    # sigma(s) - 1 = -sigma(-s), which keeps its relative precision for large s
    d_real = policy_divide(-sigmoid(-r), len(r))
    d_fake = policy_divide(sigmoid(f), len(f))
    return (
        loss,
        d_real.reshape(real_logits.shape),
        d_fake.reshape(fake_logits.shape),
    )


def generator_loss(
    fake_logits: np.ndarray, kind: str = "non_saturating"
) -> tuple[float, np.ndarray]:
    """The generator's loss on the discriminator's logits for generated samples.

    Parameters
    ----------
    fake_logits : ndarray of shape (M,) or (M, 1)
        The discriminator's logits :math:`s_j` on generated samples.
    kind : {"non_saturating", "saturating"}
        ``"saturating"``: the minimax game's :math:`\\frac1M \\sum_j \\log(1 - \\sigma(s_j)) =`
        :math:`-\\frac1M \\sum_j \\operatorname{softplus}(s_j)`, gradient
        :math:`-\\sigma(s_j) / M`, which vanishes where the discriminator confidently
        rejects the samples (:math:`s \\to -\\infty`). ``"non_saturating"`` (default):
        :math:`-\\frac1M \\sum_j \\log \\sigma(s_j) =`
        :math:`\\frac1M \\sum_j \\operatorname{softplus}(-s_j)`, gradient
        :math:`(\\sigma(s_j) - 1) / M`, which
        tends to :math:`-1/M` there.

    Returns
    -------
    loss : float
    d_fake : ndarray, shape of ``fake_logits``
    """
    where = "generator_loss"
    if kind not in GENERATOR_LOSSES:
        raise ValueError(
            f"{where}: kind must be one of {GENERATOR_LOSSES}, got {kind!r}"
        )
    f = _check_logits(fake_logits, "fake_logits", where)
    acc = accumulation_dtype(f.dtype)
    if kind == "saturating":
        loss = -float(np.mean(_softplus(f), dtype=acc))
        d = policy_divide(-sigmoid(f), len(f))
    else:
        loss = float(np.mean(_softplus(-f), dtype=acc))
        # sigma(s) - 1, without the cancellation
        d = policy_divide(-sigmoid(-f), len(f))
    return loss, d.reshape(fake_logits.shape)


@dataclass
class GANStep:
    """What one :meth:`GAN.step` measured (before its updates).

    Attributes
    ----------
    d_loss : float
        :func:`discriminator_loss` on the batch.
    g_loss : float
        :func:`generator_loss` on fresh samples, against the updated discriminator.
    d_real, d_fake : float
        Mean :math:`D = \\sigma(s)` the discriminator gave the real and the generated batch.
    """

    d_loss: float
    g_loss: float
    d_real: float
    d_fake: float


class GAN:
    """A generator and a discriminator with their optimizers, trained by alternating steps.

    Parameters
    ----------
    generator : Layer
        Maps noise ``(M, noise_dim)`` to samples shaped like the data ``(M, ...)``.
    discriminator : Layer
        Maps samples ``(N, ...)`` to logits ``(N, 1)``.
    g_optimizer, d_optimizer : Optimizer
        Two separate optimizers (each keeps its own state, e.g. Adam's moments).
    noise_dim : int
        Width of the noise :math:`z \\sim \\mathcal N(0, I)`.
    rng : numpy.random.Generator
        Draws the noise.
    kind : {"non_saturating", "saturating"}
        The generator's loss (:func:`generator_loss`).
    dtype : numpy dtype, default float32
        Dtype of the noise (the networks' dtype).
    average : float, optional
        If given, the decay :math:`\\beta` of a :class:`~nnscratch.optim.ParameterAverage`
        of the generator's parameters, updated after every generator step (attribute
        ``g_average``); :meth:`sample` then draws from the averaged generator.
    """

    def __init__(
        self,
        generator: Layer,
        discriminator: Layer,
        g_optimizer: Optimizer,
        d_optimizer: Optimizer,
        *,
        noise_dim: int,
        rng: np.random.Generator,
        kind: str = "non_saturating",
        dtype=np.float32,
        average: float | None = None,
    ) -> None:
        if g_optimizer is d_optimizer:
            raise ValueError(
                "GAN: the generator and the discriminator need two separate "
                "optimizers (each keeps per-parameter state under the same keys)"
            )
        if kind not in GENERATOR_LOSSES:
            raise ValueError(
                f"GAN: kind must be one of {GENERATOR_LOSSES}, got {kind!r}"
            )
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.noise_dim = check_int(noise_dim, "noise_dim", "GAN")
        self.rng = check_rng(rng, "GAN")
        self.kind = kind
        self.dtype = check_float_dtype(dtype, "GAN")
        self.g_average = (
            None
            if average is None
            else ParameterAverage(generator.params, average)
        )

    def noise(self, m: int) -> np.ndarray:
        """``m`` noise vectors :math:`z \\sim \\mathcal N(0, I)`, shape (m, noise_dim)."""
        m = check_int(m, "m", "GAN.noise")
        # NumPy draws normals in float32 or float64 only: float16 noise is rounded from float32
        z = self.rng.standard_normal(
            (m, self.noise_dim), dtype=accumulation_dtype(self.dtype)
        )
        return z.astype(self.dtype, copy=False)

    def sample(
        self,
        m: int,
        batch_size: int = 1000,
        *,
        averaged: bool | None = None,
    ) -> np.ndarray:
        """``m`` generated samples (evaluation mode, in batches).

        ``averaged`` (default: whether the GAN keeps an average) draws them from the
        generator with its averaged parameters; the training parameters are restored after.
        A generator with BatchNorm then normalizes with the running statistics of the
        training parameters: see :func:`~nnscratch.network.batchnorm_refreshed`.
        """
        m = check_int(m, "m", "GAN.sample")
        z = self.noise(m)
        batch_size = check_int(batch_size, "batch_size", "GAN.sample")
        if averaged is None:
            averaged = self.g_average is not None
        if averaged and self.g_average is None:
            raise ValueError(
                "GAN.sample: averaged=True needs a GAN made with average=<decay>"
            )
        with (
            self.g_average.applied(self.generator.params)
            if averaged
            else contextlib.nullcontext()
        ):
            return np.concatenate(
                [
                    self.generator.forward(z[i : i + batch_size])
                    for i in range(0, m, batch_size)
                ]
            )

    def step(self, x_real: np.ndarray) -> GANStep:
        """One discriminator step on ``x_real`` and as many generated samples, then one
        generator step on fresh noise against the updated discriminator.

        If a loss or a gradient is not finite, both networks (parameters and buffers such
        as BatchNorm's running statistics), both optimizers and the noise generator are left
        as they were before the call, and :class:`GANDiverged` is raised.
        """
        where = "GAN.step"
        check_array(x_real, "x_real", where=where)
        if x_real.dtype != self.dtype:
            raise TypeError(
                f"{where}: x_real must have the networks' dtype {self.dtype}, got "
                f"{x_real.dtype}"
            )
        m = len(x_real)
        check_nonempty_batch(m, "x_real", where=where)
        G, D = self.generator, self.discriminator
        # Training-mode forward passes update BatchNorm's running statistics, and noise
        # advances rng: both are put back, with D's update, if the step is refused.
        buffers = [*G.buffers.values(), *D.buffers.values()]
        saved_buffers = [b.copy() for b in buffers]
        rng_state = self.rng.bit_generator.state
        # D's parameters and optimizer, copied once it is about to step
        saved = None
        try:
            # --- discriminator: real and generated samples in one batch ---
            fake = G.forward(self.noise(m), training=True)  # (m, ...)
            logits = D.forward(
                np.concatenate([x_real, fake]), training=True
            )
            d_loss, d_real, d_fake = discriminator_loss(
                logits[:m], logits[m:]
            )
            D.backward(np.concatenate([d_real, d_fake]), need_dx=False)
            d_grads = D.grads
            self._require_finite(d_loss, d_grads, "discriminator", where)
            saved = (
                {k: v.copy() for k, v in D.params.items()},
                self.d_optimizer.snapshot(),
            )
            self.d_optimizer.step(D.params, d_grads)
            # --- generator: fresh noise, through the updated discriminator ---
            fake = G.forward(self.noise(m), training=True)
            s = D.forward(fake, training=True)
            g_loss, ds = generator_loss(s, self.kind)
            G.backward(D.backward(ds), need_dx=False)
            g_grads = G.grads
            self._require_finite(g_loss, g_grads, "generator", where)
        except BaseException:
            if saved is not None:  # undo the discriminator's update
                params, state = saved
                for k, v in D.params.items():
                    v[...] = params[k]
                self.d_optimizer.restore(state)
            for b, kept in zip(buffers, saved_buffers):
                b[...] = kept
            self.rng.bit_generator.state = rng_state
            raise
        self.g_optimizer.step(G.params, g_grads)
        if self.g_average is not None:
            self.g_average.update(G.params)
        return GANStep(
            d_loss,
            g_loss,
            float(np.mean(sigmoid(logits[:m]))),
            float(np.mean(sigmoid(logits[m:]))),
        )

    @staticmethod
    def _require_finite(loss, grads, who: str, where: str) -> None:
        bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
        if not np.isfinite(loss) or bad:
            raise GANDiverged(
                f"{where}: the {who}'s loss is {loss} and its gradients "
                f"{bad or 'are finite'}; neither network was updated"
            )


@dataclass(frozen=True)
class ModeCount:
    """How a set of 2-D samples covers a mixture's modes (:func:`modes_covered`).

    Attributes
    ----------
    covered : int
        Modes that received at least ``min_count`` high-quality samples.
    counts : ndarray of shape (K,)
        High-quality samples nearest each mode.
    high_quality : float
        Share of all samples within ``n_std`` standard deviations of their nearest mode.
    """

    covered: int
    counts: np.ndarray
    high_quality: float


def modes_covered(
    samples: np.ndarray,
    centers: np.ndarray,
    std: float,
    *,
    n_std: float = 3.0,
    min_count: int = 20,
) -> ModeCount:
    """Count the modes of a Gaussian mixture that generated samples cover.

    Parameters
    ----------
    samples : ndarray of shape (M, 2)
    centers : ndarray of shape (K, 2)
        The modes' means.
    std : float
        The modes' standard deviation (each coordinate).
    n_std : float, default 3
        A sample is *high quality* if it lies within ``n_std * std`` of its nearest center.
    min_count : int, default 20
        A mode is covered if at least this many high-quality samples are nearest it.
        Srivastava et al. (2017) count a mode with one; the default of 20 (among, say,
        2,500 samples) keeps a few stray samples from counting as a mode.

    Returns
    -------
    ModeCount
    """
    where = "modes_covered"
    check_float_array(samples, "samples", where=where)
    check_float_array(centers, "centers", where=where)
    if samples.ndim != 2 or centers.ndim != 2:
        raise ValueError(
            f"{where}: samples (M, d) and centers (K, d) must be 2-D, got shapes "
            f"{samples.shape} and {centers.shape}"
        )
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"{where}: samples have {samples.shape[1]} coordinates, centers "
            f"{centers.shape[1]}"
        )
    check_nonempty_batch(len(samples), "samples", where=where)
    std = check_number(std, "std", where, low=0, low_open=True)
    n_std = check_number(n_std, "n_std", where, low=0, low_open=True)
    min_count = check_int(min_count, "min_count", where)
    d2 = ((samples[:, None, :] - centers[None, :, :]) ** 2).sum(
        -1
    )  # (M, K)
    nearest = d2.argmin(axis=1)  # (M,)
    good = d2[np.arange(len(samples)), nearest] <= (n_std * std) ** 2
    counts = np.bincount(nearest[good], minlength=len(centers))
    return ModeCount(
        int(np.sum(counts >= min_count)), counts, float(np.mean(good))
    )

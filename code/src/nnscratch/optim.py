"""Optimizers: SGD (with momentum), RMSprop, Adam and AdamW.

Every optimizer has ``step(params, grads)``: it updates each array in ``params`` **in place**
from the array under the same key in ``grads``, keeping its state (momentum buffers, moment
estimates) per key in ``self.state[key]``. The update rules, defaults and the place of
``eps`` are exactly those documented for PyTorch's ``torch.optim.SGD``, ``RMSprop``,
``Adam`` and ``AdamW``, so the numbers a reader gets here are the numbers a framework gives.

No dtype is changed: float32 parameters stay float32 (scalars are cast with
``p.dtype.type``), and ``grads`` is never modified. float16 parameters are the exception the
dtype policy of :mod:`nnscratch` states: their optimizer state is kept in float32 and their
update computed in float32, then rounded back to float16 (what mixed-precision training in
the frameworks does; in float16 the default ``eps = 1e-8`` rounds to 0 and Adam divides by
zero).

Learning-rate schedules live in :mod:`nnscratch.schedules`: they wrap an optimizer and set
its ``lr`` once per epoch. :func:`l2_penalty` is the explicit form of ``weight_decay``;
:func:`clip_grad_norm` rescales the gradients before a step when their global norm is large.

Every optimizer also takes ``lr_scale={key: factor}``: a learning rate per parameter, and a
factor of 0 freezes a parameter (what fine-tuning a pretrained network needs, Book, Step 13).

A step is taken whole: Ctrl-C pressed while ``step`` updates the parameters one by one is
held until the last one is updated, then raised (in the main thread, with Python's own
Ctrl-C handler in place), so an interrupted training never holds half a step.

See Also
--------
Book, Step 4 "Optimization": each update rule derived and compared.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading

import numpy as np

from ._checks import accumulation_dtype, check_number

__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "l2_penalty",
    "global_norm",
    "clip_grad_norm",
    "ParameterAverage",
]


@contextlib.contextmanager
def _ctrl_c_held():
    """Hold Ctrl-C (SIGINT) until the block ends, then raise ``KeyboardInterrupt``.

    Only where Python's own handler is in place, in the main thread (the only one that
    receives signals); anywhere else the block runs as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    pressed = []
    signal.signal(
        signal.SIGINT, lambda signum, frame: pressed.append(signum)
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt


class Optimizer:
    """Base class: checks the ``step`` arguments, counts steps and keeps per-key state.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\\eta`, read at every step (a schedule may change it).
    weight_decay : float, default 0
        Coefficient :math:`\\lambda`; what it does depends on the optimizer.
    lr_scale : dict of str to float, optional
        Per-parameter factors :math:`s_k \\ge 0` on the learning rate: ``params[k]`` is
        updated with the rate :math:`s_k \\eta` (keys not named keep :math:`s_k = 1`), as
        PyTorch's parameter groups do. :math:`s_k = 0` **freezes** ``params[k]``: ``step``
        skips it entirely, so its array, its state (no momentum or moment buffers are
        created) and its weight decay are untouched; its gradient is still checked. Every key
        must name a parameter at each ``step`` (a typo is an error, not a silent no-op).

    Attributes
    ----------
    t : int
        Number of steps taken.
    steps : dict of str to int
        Number of steps each parameter has taken: a frozen one takes none. Adam's bias
        correction counts these, as PyTorch counts steps per parameter, so a parameter
        unfrozen after a while starts with a first step's correction.
    state : dict
        ``state[key]`` holds the buffers of ``params[key]`` (created at its first step), in
        the parameter's dtype, or float32 for float16 parameters.

    Notes
    -----
    :meth:`snapshot` and :meth:`restore` copy and put back all of this, so that a step whose
    result is refused (a diverged batch in :func:`~nnscratch.train.fit`) leaves no trace.
    """

    def __init__(
        self,
        lr: float,
        weight_decay: float = 0.0,
        *,
        lr_scale: dict[str, float] | None = None,
    ) -> None:
        where = type(self).__name__
        self.lr = check_number(lr, "lr", where, low=0, low_open=True)
        self.weight_decay = check_number(
            weight_decay, "weight_decay", where, low=0
        )
        if lr_scale is None:
            lr_scale = {}
        if not isinstance(lr_scale, dict):
            raise TypeError(
                f"{where}: lr_scale must be a dict {{parameter key: factor}}, "
                f"got {type(lr_scale).__name__}"
            )
        self.lr_scale = {
            k: check_number(s, f"lr_scale[{k!r}]", where, low=0)
            for k, s in lr_scale.items()
        }
        self.t = 0
        self.steps: dict[str, int] = {}
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def lr_for(self, key: str) -> float:
        """The learning rate of ``params[key]``: ``lr`` times its ``lr_scale`` factor."""
        return self.lr * self.lr_scale.get(key, 1.0)

    def step(
        self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]
    ) -> None:
        """Update every ``params[k]`` in place from ``grads[k]``."""
        if params.keys() != grads.keys():
            raise KeyError(
                f"{type(self).__name__}.step: params and grads must have the same keys, "
                f"got {sorted(params)} and {sorted(grads)}"
            )
        for k, p in params.items():
            g = grads[k]
            if g.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: grads[{k!r}] has shape {g.shape}, "
                    f"params[{k!r}] has shape {p.shape}"
                )
            if g.dtype != p.dtype:
                raise TypeError(
                    f"{type(self).__name__}.step: grads[{k!r}] has dtype {g.dtype}, "
                    f"params[{k!r}] has dtype {p.dtype}; they must match (nothing is cast silently)"
                )
            if not np.issubdtype(p.dtype, np.floating):
                raise TypeError(
                    f"{type(self).__name__}.step: params[{k!r}] has dtype {p.dtype}; only "
                    f"floating-point parameters can be learned by gradient"
                )
        unknown = sorted(self.lr_scale.keys() - params.keys())
        if unknown:
            raise KeyError(
                f"{type(self).__name__}.step: lr_scale names {unknown}, which are not "
                f"parameters; params has {sorted(params)}"
            )
        with _ctrl_c_held():
            self.t += 1
            for k, p in params.items():
                if self.lr_scale.get(k, 1.0) == 0:
                    continue  # frozen: no update, no state, no weight decay
                self.steps[k] = self.steps.get(k, 0) + 1
                work = accumulation_dtype(p.dtype)
                if work == p.dtype:
                    self._update(k, p, grads[k])
                else:  # float16: state and update in float32, rounded back once
                    p_work = p.astype(work)
                    self._update(k, p_work, grads[k].astype(work))
                    p[...] = p_work

    def snapshot(self, into: dict | None = None) -> dict:
        """A copy of everything ``step`` changes: ``t``, ``steps`` and the state arrays.

        Pass the previous snapshot as ``into`` to copy into its arrays instead of allocating
        new ones (:func:`~nnscratch.train.fit` takes one before every step).
        """
        saved = {"state": {}} if into is None else into
        saved["t"], saved["steps"] = self.t, dict(self.steps)
        arrays = saved["state"]
        for key in arrays.keys() - self.state.keys():
            del arrays[key]
        for key, buffers in self.state.items():
            kept = arrays.setdefault(key, {})
            for name in kept.keys() - buffers.keys():
                del kept[name]
            for name, a in buffers.items():
                b = kept.get(name)
                if b is None or b.shape != a.shape or b.dtype != a.dtype:
                    kept[name] = a.copy()
                else:
                    np.copyto(b, a)
        return saved

    def restore(self, saved: dict) -> None:
        """Put back what :meth:`snapshot` copied: the optimizer is as it was then."""
        self.t, self.steps = saved["t"], dict(saved["steps"])
        self.state = {
            key: {name: a.copy() for name, a in buffers.items()}
            for key, buffers in saved["state"].items()
        }

    def _buffers(
        self, key: str, p: np.ndarray, *names: str
    ) -> list[np.ndarray]:
        """The state arrays ``names`` of ``params[key]``, zeros of ``p``'s shape at first."""
        st = self.state.setdefault(key, {})
        for name in names:
            if name not in st:
                st[name] = np.zeros_like(p)
        return [st[name] for name in names]

    def _update(
        self, key: str, p: np.ndarray, g: np.ndarray
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    def _args(self) -> str:
        return f"lr={self.lr}, weight_decay={self.weight_decay}"

    def __repr__(self) -> str:
        # lr_scale freezes or slows parameters: shown whenever it is set
        scale = f", lr_scale={self.lr_scale}" if self.lr_scale else ""
        return f"{type(self).__name__}({self._args()}{scale})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and L2 weight decay.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\\eta`.
    momentum : float, default 0
        Momentum :math:`\\mu \\in [0, 1)`; 0 is plain gradient descent.
    nesterov : bool, default False
        Use Nesterov momentum (needs ``momentum > 0``).
    weight_decay : float, default 0
        L2 coefficient :math:`\\lambda`, added to the gradient.
    lr_scale : dict of str to float, optional
        Per-parameter learning-rate factors; 0 freezes a parameter (see :class:`Optimizer`).

    Notes
    -----
    PyTorch's rule (without dampening), with :math:`g` the gradient and :math:`b` the
    momentum buffer:

    .. math::

        g &\\leftarrow g + \\lambda\\theta, \\\\
        b &\\leftarrow \\mu b + g, \\\\
        \\theta &\\leftarrow \\theta - \\eta\\, d,

    with :math:`b = g` at the first step, and :math:`d = b`, or :math:`d = g + \\mu b` for
    Nesterov; without momentum :math:`d = g`.

    See Also
    --------
    Book, Step 4 "Optimization": momentum as an exponential moving average.
    """

    def __init__(
        self,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        *,
        lr_scale: dict[str, float] | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, lr_scale=lr_scale)
        momentum = check_number(
            momentum, "momentum", "SGD", low=0, high=1, high_open=True
        )
        if nesterov and momentum == 0:
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0, got momentum={momentum}"
            )
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        f = p.dtype.type
        if self.weight_decay:
            g = (
                g + f(self.weight_decay) * p
            )  # a new array: grads stay untouched
        if self.momentum:
            first = key not in self.state
            (b,) = self._buffers(key, p, "b")
            if first:
                b[...] = g
            else:
                b *= f(self.momentum)
                b += g
            g = g + f(self.momentum) * b if self.nesterov else b
        p -= f(self.lr_for(key)) * g

    def _args(self) -> str:
        return (
            f"lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, "
            f"weight_decay={self.weight_decay}"
        )


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    Parameters
    ----------
    lr : float, default 0.01
    alpha : float, default 0.99
        Decay :math:`\\alpha` of the running average of squared gradients.
    eps : float, default 1e-8
        Added to :math:`\\sqrt{v}` (after the square root, as in PyTorch).
    momentum : float, default 0
    weight_decay : float, default 0
        L2 coefficient :math:`\\lambda`, added to the gradient.
    lr_scale : dict of str to float, optional
        Per-parameter learning-rate factors; 0 freezes a parameter (see :class:`Optimizer`).

    Notes
    -----
    .. math::

        g &\\leftarrow g + \\lambda\\theta, \\\\
        v &\\leftarrow \\alpha v + (1 - \\alpha) g^2, \\\\
        \\theta &\\leftarrow \\theta - \\eta\\, \\frac{g}{\\sqrt{v} + \\epsilon},

    with :math:`v = 0` at the start. With momentum :math:`\\mu > 0`:
    :math:`b \\leftarrow \\mu b + g / (\\sqrt{v} + \\epsilon)`, :math:`\\theta \\leftarrow \\theta - \\eta b`.
    """

    def __init__(
        self,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        *,
        lr_scale: dict[str, float] | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, lr_scale=lr_scale)
        self.alpha = check_number(
            alpha, "alpha", "RMSprop", low=0, high=1, high_open=True
        )
        self.eps = check_number(eps, "eps", "RMSprop", low=0, low_open=True)
        self.momentum = check_number(
            momentum, "momentum", "RMSprop", low=0, high=1, high_open=True
        )

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        f = p.dtype.type
        if self.weight_decay:
            g = g + f(self.weight_decay) * p
        (v,) = self._buffers(key, p, "v")
        v *= f(self.alpha)
        v += f(1 - self.alpha) * (g * g)
        direction = g / (np.sqrt(v) + f(self.eps))
        if self.momentum:
            (b,) = self._buffers(key, p, "b")
            b *= f(self.momentum)
            b += direction
            direction = b
        p -= f(self.lr_for(key)) * direction

    def _args(self) -> str:
        return (
            f"lr={self.lr}, alpha={self.alpha}, eps={self.eps}, momentum={self.momentum}, "
            f"weight_decay={self.weight_decay}"
        )


class Adam(Optimizer):
    """Adam: momentum on the gradient, RMSprop's scaling, and bias correction of both.

    Parameters
    ----------
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Decays :math:`\\beta_1, \\beta_2` of the first and second moment estimates.
    eps : float, default 1e-8
        Added to :math:`\\sqrt{\\hat v}` (after the square root of the bias-corrected estimate).
    weight_decay : float, default 0
        L2 coefficient :math:`\\lambda`, added to the gradient (so it is scaled by Adam's
        per-parameter step size: not the same as weight decay; see :class:`AdamW`).
    lr_scale : dict of str to float, optional
        Per-parameter learning-rate factors; 0 freezes a parameter (see :class:`Optimizer`).

    Notes
    -----
    At a parameter's step :math:`t = 1, 2, \\ldots` (counted per parameter, ``steps[key]``),
    from :math:`m = v = 0`:

    .. math::

        g &\\leftarrow g + \\lambda\\theta, \\\\
        m &\\leftarrow \\beta_1 m + (1 - \\beta_1) g, \\\\
        v &\\leftarrow \\beta_2 v + (1 - \\beta_2) g^2, \\\\
        \\hat m &= m / (1 - \\beta_1^t), \\\\
        \\hat v &= v / (1 - \\beta_2^t), \\\\
        \\theta &\\leftarrow \\theta - \\eta\\, \\hat m / (\\sqrt{\\hat v} + \\epsilon)

    See Also
    --------
    Book, Step 4 "Optimization": the bias correction derived with SymPy.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        lr_scale: dict[str, float] | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, lr_scale=lr_scale)
        where = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(
                f"{where}: betas must be two numbers in [0, 1), got {betas!r}"
            )
        self.betas = tuple(
            check_number(
                b, f"betas[{i}]", where, low=0, high=1, high_open=True
            )
            for i, b in enumerate(betas)
        )
        self.eps = check_number(eps, "eps", where, low=0, low_open=True)

    def _adam_step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        f = p.dtype.type
        beta1, beta2 = self.betas
        m, v = self._buffers(key, p, "m", "v")
        m *= f(beta1)
        m += f(1 - beta1) * g
        v *= f(beta2)
        v += f(1 - beta2) * (g * g)
        # this parameter's own step count, as in PyTorch
        t = self.steps[key]
        bias1, bias2 = 1 - beta1**t, 1 - beta2**t
        # m_hat / (sqrt(v_hat) + eps) with m_hat = m / bias1 and sqrt(v_hat)
        # = sqrt(v) / sqrt(bias2),
        # arranged so that only one temporary array is made (this runs for
        # every minibatch).
        step = np.sqrt(v)
        step *= f(1 / math.sqrt(bias2))
        step += f(self.eps)
        np.divide(m, step, out=step)
        step *= f(self.lr_for(key) / bias1)
        p -= step

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        if self.weight_decay:
            g = g + p.dtype.type(self.weight_decay) * p
        self._adam_step(key, p, g)

    def _args(self) -> str:
        return f"lr={self.lr}, betas={self.betas}, eps={self.eps}, weight_decay={self.weight_decay}"


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter).

    Parameters
    ----------
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
        Decay coefficient :math:`\\lambda`: each step shrinks :math:`\\theta` by the factor
        :math:`1 - \\eta\\lambda` before the Adam step, whatever the gradient's scale.
    lr_scale : dict of str to float, optional
        Per-parameter learning-rate factors; 0 freezes a parameter (see :class:`Optimizer`).

    Notes
    -----
    :math:`\\theta \\leftarrow \\theta - \\eta\\lambda\\theta`, then the :class:`Adam` update with
    the gradient :math:`g` unchanged (no :math:`\\lambda\\theta` added to it).
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        *,
        lr_scale: dict[str, float] | None = None,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay, lr_scale=lr_scale)

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        if self.weight_decay:
            p *= p.dtype.type(1 - self.lr_for(key) * self.weight_decay)
        self._adam_step(key, p, g)


def l2_penalty(
    params: dict[str, np.ndarray], lam: float, keys=None
) -> tuple[float, dict[str, np.ndarray]]:
    """The L2 penalty :math:`\\frac{\\lambda}{2} \\sum_k \\lVert \\theta_k \\rVert^2` and its gradient.

    Parameters
    ----------
    params : dict of ndarray
    lam : float
        :math:`\\lambda \\ge 0`.
    keys : iterable of str, optional
        Which parameters to penalize (default all; e.g. only the weights ``"0.W", "2.W"``).

    Returns
    -------
    value : float
    grads : dict of ndarray
        :math:`\\lambda \\theta_k` for each penalized key (add them to the loss's gradients).

    Notes
    -----
    Adding this penalty to the loss and stepping with :class:`SGD` is the same as
    ``SGD(weight_decay=lam)`` on the loss alone; with :class:`Adam` it is ``Adam(weight_decay=lam)``,
    which is *not* :class:`AdamW`'s decoupled decay.
    """
    lam = check_number(lam, "lam", "l2_penalty", low=0)
    keys = list(params) if keys is None else list(keys)
    missing = [k for k in keys if k not in params]
    if missing:
        raise KeyError(
            f"l2_penalty: no parameters {missing}; params has {sorted(params)}"
        )
    value = (
        0.5
        * lam
        * sum(
            float(
                np.sum(
                    np.square(
                        params[k], dtype=accumulation_dtype(params[k].dtype)
                    )
                )
            )
            for k in keys
        )
    )
    return value, {k: params[k].dtype.type(lam) * params[k] for k in keys}


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """:math:`\\sqrt{\\sum_k \\lVert g_k \\rVert^2}` over every array, accumulated in float64."""
    return math.sqrt(
        sum(
            float(np.sum(np.square(g, dtype=np.float64)))
            for g in grads.values()
        )
    )


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale every gradient **in place** so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict of ndarray
        All the gradients of a model (``model.grads``), modified in place.
    max_norm : float
        Largest global norm :math:`\\kappa > 0` allowed.

    Returns
    -------
    float
        The global norm :math:`\\lVert g \\rVert` *before* clipping (log it: how often and
        how hard clipping acts says whether training is stable).

    Notes
    -----
    With :math:`\\lVert g \\rVert = \\sqrt{\\sum_k \\lVert g_k \\rVert^2}` over every array,
    each :math:`g_k` is multiplied by :math:`\\min(1, \\kappa / (\\lVert g \\rVert + 10^{-6}))`,
    as PyTorch's ``clip_grad_norm_`` does: one factor for all arrays, so the update keeps
    its direction and only its length is capped (clipping each array on its own would
    change the direction). The norm is accumulated in float64. A non-finite norm leaves the
    gradients alone, so the training loop's check still sees them.

    See Also
    --------
    Book, Step 8 "Sequences" (theory): exploding gradients and why clipping tames them.
    """
    max_norm = check_number(
        max_norm, "max_norm", "clip_grad_norm", low=0, low_open=True
    )
    total = global_norm(grads)
    scale = max_norm / (total + 1e-6)
    if math.isfinite(total) and scale < 1:
        for g in grads.values():
            g *= g.dtype.type(scale)
    return total


class ParameterAverage:
    """An exponential moving average of a model's parameters (Polyak averaging).

    Training moves the parameters :math:`\\theta_t` noisily, and in a game such as a GAN's
    it may circle an equilibrium without reaching it. The average of the recent iterates
    sits closer to the centre than any one of them. After every optimizer step,
    :meth:`update` sets

    .. math::

        m_t = \\beta\\, m_{t-1} + (1 - \\beta)\\, \\theta_t, \\quad m_0 = 0, \\qquad
        \\bar\\theta_t = m_t / (1 - \\beta^t),

    the bias correction of Adam's moments: :math:`\\bar\\theta_t` is a weighted mean of
    :math:`\\theta_1, \\dots, \\theta_t` whose weights :math:`(1-\\beta)\\beta^{t-i} / (1 -
    \\beta^t)` sum to 1, so even the first averages are not pulled towards zero. The
    weights halve every :math:`\\ln 2 / -\\ln\\beta` steps (693 for :math:`\\beta = 0.999`).

    Parameters
    ----------
    params : dict of ndarray
        The model's parameters (``model.params``); the keys and shapes to average.
    decay : float, default 0.999
        :math:`\\beta`, in [0, 1).

    Notes
    -----
    :meth:`applied` puts :math:`\\bar\\theta_t` into the model for a ``with`` block (to
    sample or evaluate) and restores the training parameters afterwards, also on error.
    Only parameters are averaged; state such as BatchNorm's running statistics stays the
    model's own, and no longer fits the averages: inside the block,
    :func:`~nnscratch.network.batchnorm_refreshed` recomputes it for them and gives the
    training statistics back on leaving. The sums are kept
    in float64 (an average over thousands of float32 steps would lose the small increments).

    See Also
    --------
    Book, Step 12 "Generative adversarial networks": averaging the circling iterates of a
    game, and the GAN's generator averaged.
    """

    def __init__(self, params: dict[str, np.ndarray], decay: float = 0.999):
        self.decay = check_number(
            decay,
            "decay",
            "ParameterAverage",
            low=0,
            high=1,
            high_open=True,
        )
        self._m = {k: np.zeros(v.shape) for k, v in params.items()}
        self.steps = 0

    def _check(self, params: dict[str, np.ndarray], where: str) -> None:
        if params.keys() != self._m.keys() or any(
            params[k].shape != m.shape for k, m in self._m.items()
        ):
            expected = {k: self._m[k].shape for k in sorted(self._m)}
            got = {k: np.shape(params[k]) for k in sorted(params)}
            raise ValueError(
                f"ParameterAverage.{where}: params must have the keys and shapes the "
                f"average was made for, {expected}, got {got}"
            )

    def update(self, params: dict[str, np.ndarray]) -> None:
        """Fold the current parameters into the average (after each optimizer step)."""
        self._check(params, "update")
        b = self.decay
        for k, m in self._m.items():
            m *= b
            m += (1 - b) * params[k]
        self.steps += 1

    def averaged(self) -> dict[str, np.ndarray]:
        """The bias-corrected averages :math:`\\bar\\theta_t`, in float64."""
        if self.steps == 0:
            raise RuntimeError(
                "ParameterAverage.averaged: nothing averaged yet; call update() after "
                "an optimizer step first"
            )
        c = 1 - self.decay**self.steps
        return {k: m / c for k, m in self._m.items()}

    @contextlib.contextmanager
    def applied(self, params: dict[str, np.ndarray]):
        """``with avg.applied(model.params):`` the model holds the averages in the block.

        The arrays are written in place (in their own dtype) and restored on leaving the
        block, also when it raises.
        """
        self._check(params, "applied")
        averaged = self.averaged()
        saved = {k: v.copy() for k, v in params.items()}
        try:
            for k, v in params.items():
                v[...] = averaged[k]
            yield params
        finally:
            for k, v in params.items():
                v[...] = saved[k]

"""Learning-rate schedules: small objects that set an optimizer's ``lr`` once per epoch.

Each schedule is a pure function of the epoch (``lr_at``) plus a ``step()`` that advances
it; :class:`Product` composes schedules by multiplying their factors (warm-up then cosine).
They act on any optimizer with an ``lr`` (:mod:`nnscratch.optim`), which knows nothing of them.

See Also
--------
Book, Step 4 "Optimization" (practice): a schedule in use.
"""

from __future__ import annotations

import math

from ._checks import check_int, check_number


class Schedule:
    """Base class of learning-rate schedules: ``lr_at(epoch)`` and ``step()``.

    The schedule remembers the learning rate it starts from (``base_lr``): the optimizer's
    ``initial_lr`` if an earlier schedule of the same optimizer set it, as PyTorch does, so
    that schedules built together (see :class:`Product`) share one starting rate; otherwise
    the optimizer's ``lr`` when the schedule is created, which it then records as
    ``initial_lr``. Delete ``optimizer.initial_lr`` to start a new schedule from a rate set
    by hand.
    ``step()``, called once at the end of every epoch, advances ``epoch`` and sets
    ``optimizer.lr = lr_at(epoch)``. ``lr_at`` is a pure function of the epoch, so a schedule
    can be plotted without training, and two schedules compose by multiplying: see
    :class:`Product`.
    """

    def __init__(self, optimizer) -> None:
        # A subclass checks its own arguments before calling this, which is the first thing
        # that changes the optimizer: a schedule refused leaves the optimizer untouched.
        self.base_lr = self._base_lr(optimizer)
        self.optimizer = optimizer
        # Several schedules may wrap one optimizer (see Product): all start from the lr it had
        # before the first of them touched it, remembered as ``initial_lr`` as PyTorch does.
        if not hasattr(optimizer, "initial_lr"):
            optimizer.initial_lr = self.base_lr
        self.epoch = 0

    def _args(self) -> str:
        """The schedule's settings, as the keyword arguments that give them."""
        return ""

    def __repr__(self) -> str:
        # The optimizer is left out, as a layer's random generator is: it is not a setting.
        return f"{type(self).__name__}({self._args()})"

    @classmethod
    def _base_lr(cls, optimizer) -> float:
        """The learning rate a new schedule of ``optimizer`` starts from; changes nothing."""
        if not hasattr(optimizer, "lr"):
            raise TypeError(
                f"{cls.__name__}: expected an optimizer with an lr, "
                f"got {type(optimizer).__name__}"
            )
        return getattr(optimizer, "initial_lr", optimizer.lr)

    def factor(self, epoch: int) -> float:  # pragma: no cover
        """Multiplier of ``base_lr`` after ``epoch`` epochs."""
        raise NotImplementedError

    def lr_at(self, epoch: int) -> float:
        """Learning rate of the epoch that follows ``epoch`` completed epochs."""
        return self.base_lr * self.factor(epoch)

    def step(self) -> float:
        """Advance one epoch, set the optimizer's ``lr`` and return it."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr


class StepLR(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    :math:`\\eta_e = \\eta_0\\, \\gamma^{\\lfloor e / s \\rfloor}`, as PyTorch's ``StepLR``.
    """

    def __init__(
        self, optimizer, step_size: int, gamma: float = 0.1
    ) -> None:
        self.step_size = check_int(step_size, "step_size", "StepLR")
        self.gamma = check_number(
            gamma, "gamma", "StepLR", low=0, low_open=True
        )
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return self.gamma ** (epoch // self.step_size)

    def _args(self) -> str:
        return f"step_size={self.step_size}, gamma={self.gamma}"


class CosineLR(Schedule):
    """Cosine annealing from the initial learning rate down to ``lr_min`` over ``t_max`` epochs.

    :math:`\\eta_e =`
    :math:`\\eta_{\\min} + {}` :math:`\\tfrac12(\\eta_0 - \\eta_{\\min})(1 + \\cos(\\pi e / T))`
    for :math:`e \\le T` (PyTorch's ``CosineAnnealingLR``), and :math:`\\eta_{\\min}` afterwards.
    """

    def __init__(self, optimizer, t_max: int, lr_min: float = 0.0) -> None:
        self.t_max = check_int(t_max, "t_max", "CosineLR")
        self.lr_min = check_number(
            lr_min,
            "lr_min",
            "CosineLR",
            low=0,
            high=self._base_lr(optimizer),
        )
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        e = min(epoch, self.t_max)
        return self.lr_min + 0.5 * (self.base_lr - self.lr_min) * (
            1 + math.cos(math.pi * e / self.t_max)
        )

    def factor(self, epoch: int) -> float:
        return self.lr_at(epoch) / self.base_lr

    def _args(self) -> str:
        return f"t_max={self.t_max}, lr_min={self.lr_min}"


class LinearWarmup(Schedule):
    """Ramp the learning rate linearly from ``base_lr / warmup`` to ``base_lr`` over ``warmup`` epochs.

    Factor :math:`\\min(1, (e + 1) / w)`. Compose it with a decay through :class:`Product`.
    """

    def __init__(self, optimizer, warmup: int) -> None:
        self.warmup = check_int(warmup, "warmup", "LinearWarmup")
        super().__init__(optimizer)
        optimizer.lr = self.lr_at(
            0
        )  # the first epoch already runs at the reduced rate

    def factor(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.warmup)

    def _args(self) -> str:
        return f"warmup={self.warmup}"


class Product(Schedule):
    """Several schedules of one optimizer applied together: their factors multiply.

    ``Product(LinearWarmup(opt, 5), CosineLR(opt, 50))`` warms up for 5 epochs while the
    cosine decays. Every part must wrap the same optimizer.
    """

    def __init__(self, *parts: Schedule) -> None:
        if not parts:
            raise ValueError(
                "Product: give at least one schedule, got none"
            )
        opt = parts[0].optimizer
        for i, p in enumerate(parts):
            if p.optimizer is not opt:
                raise ValueError(
                    f"Product: every schedule must wrap the same optimizer, got part 0 "
                    f"wrapping {opt!r} and part {i} another, {p.optimizer!r}"
                )
        super().__init__(opt)
        self.parts = parts
        opt.lr = self.lr_at(0)

    def factor(self, epoch: int) -> float:
        return math.prod(p.factor(epoch) for p in self.parts)

    def _args(self) -> str:
        return ", ".join(repr(p) for p in self.parts)

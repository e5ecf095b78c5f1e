"""Progress reports of the training loop: a tqdm bar, one line per epoch, or nothing.

:func:`nnscratch.train.fit` prints nothing itself. It tells a :class:`Reporter` what
happened (an epoch began, a minibatch was done, an epoch ended with these metrics, training
stopped) and the reporter decides what to show. Write a subclass to log elsewhere (a file,
a plot that updates) without touching the loop.

See Also
--------
Book, Step 4 "Optimization" (practice): the training loop.
"""

from __future__ import annotations

import sys

from ._checks import check_int


def format_epoch(
    epoch: int,
    epochs: int,
    metrics: dict[str, float],
    seconds: float,
    unit: str = "epoch",
) -> str:
    """One line of progress: ``epoch  3/10  loss 0.2345/0.2501  acc 0.9312/0.9290  2.1 s``.

    A metric measured on the validation set too (``val_loss`` beside ``loss``) is shown after
    a slash: training/validation. Lines stay under 77 characters, the width of the book's
    code column. ``unit`` names what is counted (a language model counts optimizer steps:
    ``unit="step"``).
    """
    width = len(str(epochs))
    parts = [f"{unit} {epoch:>{width}}/{epochs}"]
    for k, v in metrics.items():
        if k.startswith("val_") and k[4:] in metrics:
            continue  # shown with its training twin
        if k == "lr":
            parts.append(f"lr {v:.2g}")
        elif f"val_{k}" in metrics:
            parts.append(f"{k} {v:.4f}/{metrics[f'val_{k}']:.4f}")
        else:
            parts.append(f"{k} {v:.4f}")
    return "  ".join(parts) + f"  {seconds:.1f} s"


class Reporter:
    """What the training loop reports, as methods that do nothing: a silent reporter.

    ``fit`` calls :meth:`start_epoch`, then :meth:`end_batch` after every minibatch, then
    :meth:`end_epoch`; :meth:`note` for a message such as early stopping, and :meth:`close`
    once at the end, also when training fails.
    """

    def start_epoch(self, epoch: int, epochs: int, n: int) -> None:
        """Epoch ``epoch`` of ``epochs`` begins, over ``n`` examples."""

    def end_batch(self, n_examples: int) -> None:
        """A minibatch of ``n_examples`` examples was trained on."""

    def end_epoch(
        self,
        epoch: int,
        epochs: int,
        metrics: dict[str, float],
        seconds: float,
        last: bool,
    ) -> None:
        """Epoch ``epoch`` ended with ``metrics``; ``last`` when no epoch follows."""

    def note(self, text: str) -> None:
        """A message for the reader (early stopping, a failure)."""

    def close(self) -> None:
        """Training is over."""


class EpochLines(Reporter):
    """One line per epoch on stdout, as :func:`format_epoch` writes it.

    Parameters
    ----------
    log_every : int, default 1
        Print every ``log_every`` epochs, and always the last one.
    unit : str, default "epoch"
        What the counter counts, as the line names it.
    """

    def __init__(self, log_every: int = 1, unit: str = "epoch") -> None:
        self.log_every = check_int(log_every, "log_every", "EpochLines")
        self.unit = unit
        self._legend_shown = False

    def end_epoch(self, epoch, epochs, metrics, seconds, last) -> None:
        if epoch % self.log_every == 0 or last:
            if not self._legend_shown and any(
                k.startswith("val_") for k in metrics
            ):
                print(
                    "(a/b: a on the training set, b on the validation set)",
                    flush=True,
                )
            self._legend_shown = True
            print(
                format_epoch(epoch, epochs, metrics, seconds, self.unit),
                flush=True,
            )

    def note(self, text: str) -> None:
        print(text, flush=True)


class ProgressBar(Reporter):
    """A tqdm progress bar per epoch on stderr, with the epoch's metrics at its end.

    ``unit`` names the counter (``"epoch"``; ``"step"`` for a language model, whose bar
    counts steps rather than examples).
    """

    def __init__(self, unit: str = "epoch") -> None:
        self._bar = None
        self.unit = unit

    def start_epoch(self, epoch, epochs, n) -> None:
        from tqdm import tqdm  # imported only when a bar is drawn

        self._bar = tqdm(
            total=n,
            desc=f"{self.unit} {epoch}/{epochs}",
            unit="ex" if self.unit == "epoch" else self.unit,
            leave=True,
        )

    def end_batch(self, n_examples) -> None:
        self._bar.update(n_examples)

    def end_epoch(self, epoch, epochs, metrics, seconds, last) -> None:
        self._bar.set_postfix(
            {k: f"{v:.4f}" for k, v in metrics.items() if k != "lr"},
            refresh=False,
        )
        self.close()

    def note(self, text: str) -> None:
        print(text, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_reporter(
    progress,
    log_every: int = 1,
    unit: str = "epoch",
    *,
    where: str = "make_reporter",
) -> Reporter:
    """The reporter that ``fit``'s ``progress`` argument asks for.

    Parameters
    ----------
    progress : None, True, False, "bar", "lines" or Reporter
        None or True: a :class:`ProgressBar` when stderr is a terminal, else
        :class:`EpochLines`; False: silent; a :class:`Reporter`: itself.
    log_every : int, default 1
        Passed to :class:`EpochLines`.
    unit : str, default "epoch"
        What the reporter's counter counts, passed to the reporter it makes.
    where : str, default "make_reporter"
        The function whose ``progress`` argument this is (``"fit"``, ``"train_lm"``),
        named in the error message.

    Raises
    ------
    ValueError
        If ``progress`` is none of the above.
    """
    if isinstance(progress, Reporter):
        return progress
    if progress is False:
        return Reporter()
    if progress is None or progress is True:
        progress = "bar" if sys.stderr.isatty() else "lines"
    if progress == "bar":
        return ProgressBar(unit)
    if progress == "lines":
        return EpochLines(log_every, unit)
    raise ValueError(
        f"{where}: progress must be None, True, False, 'bar', 'lines' or a "
        f"Reporter, got {progress!r}"
    )

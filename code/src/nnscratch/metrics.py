"""Measuring a classifier: predicted classes, accuracy, confusions and calibration.

See Also
--------
Book, Step 1 (accuracy of one neuron) and Step 6 "MNIST": the error analysis of the MLP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_array, check_int, check_labels


def predict_classes(logits: np.ndarray) -> np.ndarray:
    """Predicted classes from logits.

    Parameters
    ----------
    logits : ndarray of shape (N, C), (N,) or (N, 1)
        Class scores; with one column (or none) a binary classifier whose logit is positive
        for class 1.

    Returns
    -------
    ndarray of shape (N,)
        ``argmax`` over the classes (int64), or for a binary classifier ``logit > 0`` (bool).
    """
    check_array(logits, "logits", where="predict_classes")
    if logits.ndim not in (1, 2):
        raise ValueError(
            f"predict_classes: logits must have shape (N, C), (N,) or (N, 1), got {logits.shape}"
        )
    if logits.ndim == 2 and logits.shape[1] > 1:
        return logits.argmax(axis=1)
    return logits.reshape(-1) > 0


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions.

    Parameters
    ----------
    logits : ndarray of shape (N, C), (N,) or (N, 1)
        Class scores, as for :func:`predict_classes`.
    y : ndarray of shape (N,)
        Integer (or boolean) class labels.

    Returns
    -------
    float
        Mean of ``predict_classes(logits) == y``; NaN for an empty batch (N = 0).
    """
    check_array(logits, "logits", where="accuracy")
    check_array(y, "y", where="accuracy")
    if logits.ndim not in (1, 2):
        raise ValueError(
            f"accuracy: logits must have shape (N, C), (N,) or (N, 1), got {logits.shape}"
        )
    if y.shape != (len(logits),):
        raise ValueError(
            f"accuracy: y must have shape ({len(logits)},), got {y.shape}"
        )
    return (
        float(np.mean(predict_classes(logits) == y))
        if len(y)
        else float("nan")
    )


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int
) -> np.ndarray:
    """Count how often each true class was predicted as each class.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (N,)
        Integer class labels in ``[0, n_classes)``.
    n_classes : int

    Returns
    -------
    cm : ndarray of shape (n_classes, n_classes), int64
        ``cm[i, j]`` = number of examples of true class ``i`` predicted as ``j``; the diagonal
        holds the correct predictions, each row sums to the class's count.
    """
    n_classes = check_int(n_classes, "n_classes", "confusion_matrix")
    check_labels(y_true, len(y_true), n_classes, where="confusion_matrix")
    check_labels(y_pred, len(y_true), n_classes, where="confusion_matrix")
    # each (true, pred) pair gets one flat index; bincount counts them all in one pass
    return (
        np.bincount(
            y_true * n_classes + y_pred, minlength=n_classes * n_classes
        )
        .reshape(n_classes, n_classes)
        .astype(np.int64)
    )


def most_confused(cm: np.ndarray, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal entries of a confusion matrix.

    Returns
    -------
    list of (true, predicted, count)
        Sorted by count, largest first (ties: smaller true class, then smaller predicted
        class first); pairs with count 0 are left out.
    """
    check_array(cm, "cm", ndim=2, where="most_confused")
    k = check_int(k, "k", "most_confused", minimum=0)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:k]
    pairs = [
        (int(i), int(j), int(off[i, j]))
        for i, j in zip(*np.unravel_index(flat, off.shape))
    ]
    return [p for p in pairs if p[2] > 0]


@dataclass(frozen=True)
class Reliability:
    """Accuracy per confidence bin (what a reliability diagram draws).

    Attributes
    ----------
    edges : ndarray of shape (B + 1,)
        Bin edges over [0, 1].
    confidence : ndarray of shape (B,)
        Mean confidence of the examples in each bin (NaN for an empty bin).
    accuracy : ndarray of shape (B,)
        Fraction of those examples classified correctly (NaN for an empty bin).
    counts : ndarray of shape (B,)
        Number of examples in each bin.
    ece : float
        Expected calibration error: :math:`\\sum_b \\frac{n_b}{N} |\\text{acc}_b - \\text{conf}_b|`.
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    ece: float


def reliability(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> Reliability:
    """Group predictions by confidence and measure the accuracy within each group.

    Parameters
    ----------
    confidence : ndarray of shape (N,)
        The probability the model gave its predicted class, in [0, 1].
    correct : ndarray of shape (N,), bool
        Whether each prediction was right.
    n_bins : int, default 10
        Equal-width bins over [0, 1]; a confidence of exactly 1 falls in the last bin.

    Returns
    -------
    Reliability

    Notes
    -----
    A calibrated model is right 90% of the time when it says 0.9: its accuracy per bin lies
    on the diagonal, and the ECE is 0.
    """
    check_array(confidence, "confidence", ndim=1, where="reliability")
    n_bins = check_int(n_bins, "n_bins", "reliability")
    check_array(correct, "correct", ndim=1, where="reliability")
    if correct.shape != confidence.shape:
        raise ValueError(
            f"reliability: correct must have shape {confidence.shape}, got {correct.shape}"
        )
    if confidence.size and (confidence.min() < 0 or confidence.max() > 1):
        raise ValueError("reliability: confidence must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(
        np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1
    )  # (N,)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        conf = (
            np.bincount(which, weights=confidence, minlength=n_bins)
            / counts
        )
        acc = (
            np.bincount(
                which, weights=correct.astype(np.float64), minlength=n_bins
            )
            / counts
        )
    filled = counts > 0
    ece = float(
        np.sum(
            counts[filled]
            / counts.sum()
            * np.abs(acc[filled] - conf[filled])
        )
    )
    return Reliability(edges, conf, acc, counts, ece)

"""Measuring a classifier: predicted classes, accuracy, confusions and calibration; and a
score's ranking of positives above negatives (ROC curve and its area).

See Also
--------
Book, Step 1 (accuracy of one neuron), Step 6 "MNIST": the error analysis of the MLP, and
Step 11 "Autoencoders — practice": anomaly scores measured by AUROC.
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


def _check_scores(
    scores, labels, where: str
) -> tuple[np.ndarray, np.ndarray]:
    check_array(scores, "scores", ndim=1, where=where)
    check_array(labels, "labels", ndim=1, where=where)
    if labels.shape != scores.shape:
        raise ValueError(
            f"{where}: labels must have shape {scores.shape} like scores, got {labels.shape}"
        )
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError(
            f"{where}: labels must be 0 (negative) or 1 (positive)"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{where}: scores must be finite")
    positive = labels.astype(bool)
    if positive.all() or not positive.any():
        raise ValueError(
            f"{where}: needs at least one positive and one negative example, got "
            f"{int(positive.sum())} positives of {len(labels)}"
        )
    return scores.astype(np.float64), positive


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..N of the values of ``a`` (N,), tied values sharing their mean rank."""
    order = np.argsort(a, kind="stable")
    sorted_a = a[order]
    # a run of equal values spans positions first..last (0-based); its mean rank is
    # (first + last) / 2 + 1
    starts = np.r_[True, sorted_a[1:] != sorted_a[:-1]]  # (N,) run begins
    run = np.cumsum(starts) - 1  # (N,) run id of each sorted position
    first = np.flatnonzero(starts)  # (R,)
    last = np.r_[first[1:], len(a)] - 1  # (R,)
    ranks = np.empty(len(a))
    ranks[order] = (first[run] + last[run]) / 2 + 1
    return ranks


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a positive outscores a negative.

    Parameters
    ----------
    scores : ndarray of shape (N,)
        Higher means "more likely positive" (an anomaly score, a logit).
    labels : ndarray of shape (N,)
        1 for positives, 0 for negatives; both must occur.

    Returns
    -------
    float
        :math:`\\mathrm{AUC} = P(s^+ > s^-) + \\tfrac12 P(s^+ = s^-)` over all
        positive-negative pairs; 1 for a perfect ranking, 0.5 for a random one.

    Notes
    -----
    Computed from ranks (the Mann-Whitney U statistic): with :math:`R^+` the sum of the
    positives' ranks among all scores (ties given their mean rank), :math:`n^+` positives
    and :math:`n^-` negatives,

    .. math:: \\mathrm{AUC} = \\frac{R^+ - n^+ (n^+ + 1) / 2}{n^+ n^-},

    in :math:`O(N \\log N)` instead of comparing all :math:`n^+ n^-` pairs. The area under
    :func:`roc_curve` by the trapezoid rule is the same number.

    See Also
    --------
    Book, Step 11 "Autoencoders — practice": anomaly detection.
    """
    s, positive = _check_scores(scores, labels, "roc_auc")
    n_pos = int(positive.sum())
    n_neg = len(s) - n_pos
    rank_sum = float(average_ranks(s)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def roc_curve(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve: false- and true-positive rates as the threshold sweeps the scores.

    Parameters
    ----------
    scores, labels : ndarray of shape (N,)
        As for :func:`roc_auc`.

    Returns
    -------
    fpr, tpr : ndarray of shape (M + 1,)
        Rates of negatives and positives with score >= each threshold, from (0, 0) to
        (1, 1); tied scores make one step, a diagonal one when positives and negatives tie.
    thresholds : ndarray of shape (M + 1,)
        The M distinct scores in decreasing order, after ``+inf`` (nothing flagged).
    """
    s, positive = _check_scores(scores, labels, "roc_curve")
    order = np.argsort(-s, kind="stable")
    s, positive = s[order], positive[order]
    last_of_run = np.r_[s[1:] != s[:-1], True]  # (N,) end of a run of ties
    tp = np.cumsum(positive)[last_of_run]
    fp = np.cumsum(~positive)[last_of_run]
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    return fpr, tpr, np.r_[np.inf, s[last_of_run]]

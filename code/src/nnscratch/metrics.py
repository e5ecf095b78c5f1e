"""Measuring a classifier: predicted classes, accuracy, confusions and calibration; a
score's ranking of positives above negatives (ROC curve and its area); and measuring a
generator with a classifier (classifier score, Fréchet distance of features, class shares).

See Also
--------
Book, Step 1 (accuracy of one neuron), Step 6 "MNIST": the error analysis of the MLP,
Step 11 "Autoencoders — practice": anomaly scores measured by AUROC, and Step 12
"Generative adversarial networks — practice": generators measured by Step 7's CNN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import (
    check_array,
    check_binary,
    check_finite,
    check_int,
    check_labels,
    check_nonempty_batch,
    describe_non_finite,
)


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
    # argmax would pick the first NaN
    check_finite(logits, "logits", "predict_classes")
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
        Integer (or boolean) class labels, in ``[0, C)`` (0 or 1 for a binary classifier).

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
    # booleans are the labels of a binary classifier; integers must name a class
    if y.dtype != np.bool_:
        n_classes = (
            logits.shape[1]
            if logits.ndim == 2 and logits.shape[1] > 1
            else 2
        )
        check_labels(y, len(logits), n_classes, where="accuracy", name="y")
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
    check_labels(
        y_true,
        len(y_true),
        n_classes,
        where="confusion_matrix",
        name="y_true",
    )
    check_labels(
        y_pred,
        len(y_true),
        n_classes,
        where="confusion_matrix",
        name="y_pred",
    )
    # each (true, pred) pair gets one flat index; bincount counts them all in one pass.
    # Both widened first: in uint8, y_true * n_classes would wrap round to the wrong cell,
    # and intp plus uint64 promotes to float64, which bincount refuses.
    flat = y_true.astype(np.intp) * n_classes + y_pred.astype(np.intp)
    return (
        np.bincount(flat, minlength=n_classes * n_classes)
        .reshape(n_classes, n_classes)
        .astype(np.int64)
    )


def most_confused(cm: np.ndarray, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal entries of a confusion matrix.

    Parameters
    ----------
    cm : ndarray of shape (C, C), any integer dtype (signed or unsigned)
        Counts, as :func:`confusion_matrix` returns them. A matrix of rates (a
        row-normalized, floating-point one) is refused: its entries are not counts.
    k : int, default 5
        How many pairs at most (0: none).

    Returns
    -------
    list of (true, predicted, count)
        Sorted by count, largest first (ties: smaller true class, then smaller predicted
        class first); pairs with count 0 are left out. The counts are ``int``.

    Raises
    ------
    TypeError
        If ``cm`` does not hold integers (a float or boolean matrix).
    ValueError
        If ``cm`` is not square.
    """
    check_array(cm, "cm", ndim=2, where="most_confused")
    if cm.shape[0] != cm.shape[1]:
        raise ValueError(
            f"most_confused: cm must be a square confusion matrix (C, C), got {cm.shape}"
        )
    if not np.issubdtype(cm.dtype, np.integer):
        raise TypeError(
            f"most_confused: cm must hold integer counts (a confusion matrix as "
            f"confusion_matrix returns it), got dtype {cm.dtype}"
        )
    k = check_int(k, "k", "most_confused", minimum=0)
    # a signed copy: -off of an unsigned matrix would wrap round, ranking the zeros first
    off = cm.astype(np.int64)
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
    check_array(
        correct, "correct", ndim=1, dtype=np.bool_, where="reliability"
    )
    if correct.shape != confidence.shape:
        raise ValueError(
            f"reliability: correct must have shape {confidence.shape}, got {correct.shape}"
        )
    check_nonempty_batch(len(confidence), "confidence", where="reliability")
    if not np.all(np.isfinite(confidence)):
        raise ValueError(
            f"reliability: confidence must be finite, in [0, 1], got "
            f"{describe_non_finite(confidence)}"
        )
    if confidence.size and (confidence.min() < 0 or confidence.max() > 1):
        raise ValueError(
            f"reliability: confidence must lie in [0, 1], got values from "
            f"{confidence.min():.4g} to {confidence.max():.4g}"
        )
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
    check_binary(
        labels, "labels must be 0 (negative) or 1 (positive)", where
    )
    check_finite(scores, "scores", where)
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
        :math:`\\mathrm{AUC} =` :math:`P(s^+ > s^-) + \\tfrac12 P(s^+ = s^-)` over all
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


def classifier_score(probs: np.ndarray) -> float:
    """The Inception score's formula on any classifier's predicted class probabilities.

    Parameters
    ----------
    probs : ndarray of shape (N, C)
        Rows :math:`p(y \\mid x_i)`: non-negative, each summing to 1 (softmax outputs).

    Returns
    -------
    float
        :math:`\\exp\\big(\\frac1N \\sum_i {}`
        :math:`\\mathrm{KL}(p(y \\mid x_i) \\,\\|\\, \\hat p(y))\\big)`
        with the marginal :math:`\\hat p(y) = \\frac1N \\sum_i p(y \\mid x_i)`. Between 1
        (every sample gets the same prediction, for instance a one-class generator) and
        :math:`C` (each sample confidently one class, all classes equally often).

    Notes
    -----
    The mean KL equals :math:`H(\\hat p) - \\frac1N \\sum_i H(p(y \\mid x_i))`: high when
    the samples are diverse (high entropy of the marginal) and each is recognizable (low
    entropy of its prediction). Salimans et al. (2016) compute it with Inception-v3 on
    ImageNet's classes; the book uses its own MNIST classifier. Terms with
    :math:`p = 0` count as 0.

    See Also
    --------
    Book, Step 12 "Generative adversarial networks — practice".
    """
    where = "classifier_score"
    check_array(probs, "probs", ndim=2, where=where)
    if len(probs) == 0:
        raise ValueError(f"{where}: probs holds no samples (N = 0)")
    p = probs.astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise ValueError(
            f"{where}: probs must be finite and non-negative (class probabilities), "
            f"got {describe_non_finite(p)}"
        )
    if p.min() < 0:
        raise ValueError(
            f"{where}: probs must be finite and non-negative (class probabilities), "
            f"got {int((p < 0).sum())} negative values, the smallest {p.min():.4g}"
        )
    if not np.allclose(p.sum(axis=1), 1, atol=1e-4):
        raise ValueError(
            f"{where}: each row of probs must sum to 1 (softmax outputs), got row "
            f"sums between {p.sum(axis=1).min():.4g} and {p.sum(axis=1).max():.4g}"
        )
    marginal = p.mean(axis=0)  # (C,)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / marginal), 0.0)  # (N, C)
    return float(np.exp(terms.sum(axis=1).mean()))


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (eigh)."""
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _check_covariance(c: np.ndarray, name: str, where: str) -> None:
    """Refuse a matrix that is not a covariance: symmetric and positive semi-definite.

    Rounding is tolerated: an asymmetry, or a negative eigenvalue, of at most
    :math:`\\sqrt{\\epsilon}` (of ``c``'s float dtype, float64's for others) times the
    largest entry or eigenvalue in magnitude.
    """
    check_finite(c, name, where)
    dt = c.dtype if np.issubdtype(c.dtype, np.floating) else np.float64
    tol = float(np.sqrt(np.finfo(dt).eps))
    c = c.astype(np.float64)
    scale = float(np.abs(c).max(initial=0.0))
    asym = float(np.abs(c - c.T).max(initial=0.0))
    if asym > tol * scale:
        raise ValueError(
            f"{where}: {name} must be a covariance matrix, symmetric, got entries "
            f"that differ from their transposes by up to {asym:.4g} (largest entry "
            f"{scale:.4g})"
        )
    eig = np.linalg.eigvalsh((c + c.T) / 2)
    if eig.size and eig[0] < -tol * float(np.abs(eig).max()):
        raise ValueError(
            f"{where}: {name} must be a covariance matrix, positive semi-definite, "
            f"got smallest eigenvalue {eig[0]:.4g} (largest {eig[-1]:.4g})"
        )


def gaussian_frechet(
    mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray
) -> float:
    """Squared Fréchet (2-Wasserstein) distance between two Gaussians.

    Parameters
    ----------
    mu1, mu2 : ndarray of shape (d,)
        Finite means.
    cov1, cov2 : ndarray of shape (d, d)
        Covariance matrices: finite, symmetric and positive semi-definite, up to
        rounding (a relative error of about :math:`\\sqrt{\\epsilon}` of their dtype).

    Returns
    -------
    float
        :math:`\\lVert \\mu_1 - \\mu_2 \\rVert^2 + {}`
        :math:`\\operatorname{tr}\\big(\\Sigma_1 + \\Sigma_2 - {}`
        :math:`2 (\\Sigma_1^{1/2} \\Sigma_2 \\Sigma_1^{1/2})^{1/2}\\big)`, never negative.

    Notes
    -----
    :math:`\\operatorname{tr}(\\Sigma_1 \\Sigma_2)^{1/2}` is computed as the trace of the
    square root of the *symmetric* matrix :math:`\\Sigma_1^{1/2} \\Sigma_2 \\Sigma_1^{1/2}`,
    which has the same eigenvalues as :math:`\\Sigma_1 \\Sigma_2`; both square roots come
    from symmetric eigendecompositions (``numpy.linalg.eigh``), with rounding's tiny
    negative eigenvalues clipped to 0. No general matrix square root is needed.
    """
    where = "gaussian_frechet"
    for name, m in (("mu1", mu1), ("mu2", mu2)):
        check_array(m, name, ndim=1, where=where)
    d = len(mu1)
    for name, c in (("cov1", cov1), ("cov2", cov2)):
        check_array(c, name, ndim=2, where=where)
        if c.shape != (d, d):
            raise ValueError(
                f"{where}: {name} must have shape ({d}, {d}) to match mu1, got {c.shape}"
            )
    if mu2.shape != (d,):
        raise ValueError(
            f"{where}: mu2 must have shape ({d},) like mu1, got {mu2.shape}"
        )
    for name, m in (("mu1", mu1), ("mu2", mu2)):
        check_finite(m, name, where)
    for name, c in (("cov1", cov1), ("cov2", cov2)):
        _check_covariance(c, name, where)
    mu1, mu2 = mu1.astype(np.float64), mu2.astype(np.float64)
    c1, c2 = cov1.astype(np.float64), cov2.astype(np.float64)
    s1 = _sqrtm_psd((c1 + c1.T) / 2)
    inner = s1 @ c2 @ s1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0, None))))
    dist = float(np.sum((mu1 - mu2) ** 2)) + float(
        np.trace(c1) + np.trace(c2) - 2 * tr_sqrt
    )
    return max(dist, 0.0)


def frechet_distance(features1: np.ndarray, features2: np.ndarray) -> float:
    """The Fréchet distance between two sets of feature vectors (FID's formula).

    Parameters
    ----------
    features1 : ndarray of shape (N1, d)
    features2 : ndarray of shape (N2, d)
        Feature vectors (in the book, the MNIST CNN's penultimate layer) of, say, real and
        generated images; at least two rows each.

    Returns
    -------
    float
        :func:`gaussian_frechet` between Gaussians with each set's mean and covariance
        (unbiased, divisor :math:`N - 1`). 0 for identical sets.

    Notes
    -----
    Heusel et al. (2017) use Inception-v3's 2048 pooled features; with other features the
    numbers are on another scale, comparable only with each other.

    See Also
    --------
    Book, Step 12 "Generative adversarial networks — practice".
    """
    where = "frechet_distance"
    for name, f in (("features1", features1), ("features2", features2)):
        check_array(f, name, ndim=2, where=where)
        if len(f) < 2:
            raise ValueError(
                f"{where}: {name} needs at least 2 rows for a covariance, got {len(f)}"
            )
        check_finite(f, name, where)
    if features1.shape[1] != features2.shape[1]:
        raise ValueError(
            f"{where}: the two sets must have the same number of features, got "
            f"{features1.shape[1]} and {features2.shape[1]}"
        )
    f1, f2 = features1.astype(np.float64), features2.astype(np.float64)
    return gaussian_frechet(
        f1.mean(axis=0),
        np.cov(f1, rowvar=False).reshape(f1.shape[1], -1),
        f2.mean(axis=0),
        np.cov(f2, rowvar=False).reshape(f2.shape[1], -1),
    )


def class_shares(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The share of samples in each class: ``bincount(labels) / N``, shape (n_classes,).

    With a classifier's predictions of generated samples, a class far below
    ``1 / n_classes`` is a mode the generator misses.
    """
    n_classes = check_int(n_classes, "n_classes", "class_shares")
    check_labels(
        labels, len(labels), n_classes, where="class_shares", name="labels"
    )
    if len(labels) == 0:
        raise ValueError(
            "class_shares: labels must hold at least one sample, got none (N = 0)"
        )
    return np.bincount(labels, minlength=n_classes) / len(labels)

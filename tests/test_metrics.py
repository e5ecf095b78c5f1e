"""Confusion matrices and calibration, against hand-counted examples and brute force."""

import numpy as np
import pytest

from nnscratch.metrics import confusion_matrix, most_confused, reliability


def test_confusion_matrix_by_hand():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    expected = np.array([[1, 1, 0],
                         [0, 1, 0],
                         [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 3), expected)


def test_confusion_matrix_matches_a_loop(rng):
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    loop = np.zeros((7, 7), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        loop[t, p] += 1
    cm = confusion_matrix(y_true, y_pred, 7)
    np.testing.assert_array_equal(cm, loop)
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=7))


def test_confusion_matrix_checks_labels():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def test_most_confused_sorted_and_skips_diagonal_and_zeros():
    cm = np.array([[50, 3, 0],
                   [7, 40, 3],
                   [0, 1, 60]])
    assert most_confused(cm, k=10) == [(1, 0, 7), (0, 1, 3), (1, 2, 3), (2, 1, 1)]
    assert most_confused(cm, k=1) == [(1, 0, 7)]


def test_reliability_bins_by_hand():
    conf = np.array([0.15, 0.18, 0.95, 0.97, 1.0, 0.55])
    correct = np.array([True, False, True, True, False, True])
    rel = reliability(conf, correct, n_bins=10)
    assert rel.counts.tolist() == [0, 2, 0, 0, 0, 1, 0, 0, 0, 3]
    np.testing.assert_allclose(rel.accuracy[[1, 5, 9]], [0.5, 1.0, 2 / 3])
    np.testing.assert_allclose(rel.confidence[[1, 5, 9]], [0.165, 0.55, (0.95 + 0.97 + 1.0) / 3])
    assert np.isnan(rel.accuracy[0])
    ece = (2 * abs(0.5 - 0.165) + 1 * abs(1 - 0.55) + 3 * abs(2 / 3 - 2.92 / 3)) / 6
    assert rel.ece == pytest.approx(ece)


def test_reliability_of_a_calibrated_sampler_is_near_zero(rng):
    conf = rng.uniform(0.1, 1.0, 200_000)
    correct = rng.random(200_000) < conf   # right with exactly the stated probability
    assert reliability(conf, correct).ece < 0.01


def test_reliability_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability(np.array([1.2]), np.array([True]))


def test_accuracy_and_predicted_classes_live_here():
    from nnscratch.metrics import accuracy, predict_classes
    np.testing.assert_array_equal(predict_classes(np.array([[0.1, 0.9], [2.0, -1.0]])), [1, 0])
    np.testing.assert_array_equal(predict_classes(np.array([[0.3], [-0.2]])), [True, False])
    assert accuracy(np.array([0.5, -1.0, 2.0]), np.array([1, 1, 1])) == pytest.approx(2 / 3)
    assert np.isnan(accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int)))


def test_accuracy_names_what_is_wrong():
    from nnscratch.metrics import accuracy
    with pytest.raises(TypeError, match="accuracy: logits must be a numpy.ndarray, got list"):
        accuracy([0.1, 0.2], np.array([0, 1]))
    with pytest.raises(ValueError, match=r"accuracy: logits must have shape \(N, C\)"):
        accuracy(np.zeros((2, 3, 4)), np.array([0, 1]))


# -- ROC AUC (Step 11) ------------------------------------------------------------------------

from nnscratch.metrics import average_ranks, roc_auc, roc_curve  # noqa: E402


def pairwise_auc(scores, labels):
    """The definition: over all positive-negative pairs, 1 if the positive scores higher,
    1/2 for a tie (the Mann-Whitney U statistic divided by n+ n-)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def test_roc_auc_by_hand_with_a_tie():
    # positives 0.35, 0.8, 0.4; negatives 0.1, 0.4. Pairs won: 0.35 beats 0.1 (1) but not
    # 0.4 (0); 0.8 beats both (2); 0.4 beats 0.1 (1) and ties 0.4 (1/2): 4.5 of 6 pairs.
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4])
    labels = np.array([0, 0, 1, 1, 1])
    assert roc_auc(scores, labels) == 0.75
    # the rank formula by hand: ranks 1, 3.5, 2, 5, 3.5; positives' sum 10.5;
    # (10.5 - 3*4/2) / (3*2) = 0.75
    np.testing.assert_array_equal(average_ranks(scores), [1, 3.5, 2, 5, 3.5])


def test_roc_auc_agrees_with_the_pairwise_definition_and_the_curve(rng):
    for _ in range(20):
        n = int(rng.integers(2, 60))
        scores = rng.integers(0, 8, n).astype(float)       # many ties
        labels = rng.integers(0, 2, n)
        labels[:2] = [0, 1]
        auc = roc_auc(scores, labels)
        assert auc == pytest.approx(pairwise_auc(scores, labels), abs=1e-12)
        fpr, tpr, thresholds = roc_curve(scores, labels)
        assert auc == pytest.approx(np.trapezoid(tpr, fpr), abs=1e-12)
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
        assert thresholds[0] == np.inf and np.all(np.diff(thresholds[1:]) < 0)


def test_roc_auc_extremes_and_symmetry(rng):
    labels = np.array([0, 0, 0, 1, 1])
    assert roc_auc(np.arange(5.0), labels) == 1.0
    assert roc_auc(-np.arange(5.0), labels) == 0.0
    assert roc_auc(np.ones(5), labels) == 0.5
    s = rng.standard_normal(40)
    y = rng.integers(0, 2, 40)
    y[:2] = [0, 1]
    assert roc_auc(s, y) + roc_auc(-s, y) == pytest.approx(1.0)
    assert roc_auc(s, y) + roc_auc(s, 1 - y) == pytest.approx(1.0)


def test_roc_auc_checks_its_inputs():
    with pytest.raises(ValueError, match="at least one positive and one negative"):
        roc_auc(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(ValueError, match="0 .negative. or 1 .positive."):
        roc_auc(np.array([0.1, 0.2]), np.array([0, 2]))
    with pytest.raises(ValueError, match="labels must have shape"):
        roc_auc(np.array([0.1, 0.2]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="finite"):
        roc_auc(np.array([0.1, np.nan]), np.array([0, 1]))


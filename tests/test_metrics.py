"""Confusion matrices and calibration, against hand-counted examples and brute force."""

import re

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


def test_confusion_matrix_small_integer_labels_land_in_the_right_cell():
    # 19 * 20 + 19 = 399 wraps round in uint8 unless the labels are widened first
    y = np.array([19, 19, 3], dtype=np.uint8)
    cm = confusion_matrix(y, np.array([19, 2, 3], dtype=np.uint8), 20)
    assert cm[19, 19] == 1 and cm[19, 2] == 1 and cm[3, 3] == 1 and cm.sum() == 3


def test_confusion_matrix_takes_labels_of_any_integer_dtype():
    # uint64 plus the widened intp labels promoted to float64, and bincount raised a bare
    # TypeError ("Cannot cast array data from dtype('float64')")
    y_true = np.array([0, 2, 2, 1, 0])
    y_pred = np.array([0, 1, 2, 1, 2])
    expected = np.array([[1, 0, 1], [0, 1, 0], [0, 1, 1]])
    for t_dtype, p_dtype in [
        (np.int64, np.uint64),
        (np.uint64, np.int64),
        (np.uint64, np.uint64),
        (np.uint32, np.int8),
    ]:
        cm = confusion_matrix(y_true.astype(t_dtype), y_pred.astype(p_dtype), 3)
        assert cm.dtype == np.int64, (t_dtype, p_dtype)
        np.testing.assert_array_equal(cm, expected)


def test_confusion_matrix_checks_labels():
    with pytest.raises(ValueError, match=r"confusion_matrix: y_true must lie in \[0, 3\), "
                                         r"got values from 0 to 3"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match=r"confusion_matrix: y_pred must have shape \(2,\) to "
                                         r"match the batch, got \(1,\)"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)
    with pytest.raises(TypeError, match="confusion_matrix: y_pred must hold integer class labels, "
                                        "got dtype float64"):
        confusion_matrix(np.array([0, 1]), np.array([0.0, 1.0]), 3)


def test_most_confused_sorted_and_skips_diagonal_and_zeros():
    cm = np.array([[50, 3, 0],
                   [7, 40, 3],
                   [0, 1, 60]])
    assert most_confused(cm, k=10) == [(1, 0, 7), (0, 1, 3), (1, 2, 3), (2, 1, 1)]
    assert most_confused(cm, k=1) == [(1, 0, 7)]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint64, np.int32])
def test_most_confused_ranks_unsigned_and_narrow_counts_like_int64(dtype):
    # -off of an unsigned matrix wrapped round: the zeros ranked first, and with k=2 the
    # result was [] (the two zeros picked, then left out)
    cm = np.array([[50, 3, 0], [7, 40, 0], [0, 1, 60]], dtype=dtype)
    assert most_confused(cm, k=2) == [(1, 0, 7), (0, 1, 3)]
    assert most_confused(cm, k=10) == [(1, 0, 7), (0, 1, 3), (2, 1, 1)]
    assert all(type(c) is int for _, _, c in most_confused(cm))


def test_most_confused_refuses_rates_and_booleans():
    # a row-normalised matrix gave [] (int() truncated every rate to 0), silently
    cm = np.array([[50, 3, 0], [7, 40, 3], [0, 1, 60]])
    rates = cm / cm.sum(axis=1, keepdims=True)
    with pytest.raises(
        TypeError,
        match=r"most_confused: cm must hold integer counts \(a "
        r"confusion matrix as confusion_matrix returns it\), "
        r"got dtype float64$",
    ):
        most_confused(rates)
    with pytest.raises(
        TypeError,
        match="most_confused: cm must hold integer counts .*, got dtype bool$",
    ):
        most_confused(cm > 2)


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
    with pytest.raises(ValueError, match=r"reliability: confidence must lie in \[0, 1\], "
                                         r"got values from 0.5 to 1.2"):
        reliability(np.array([1.2, 0.5]), np.array([True, False]))


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
        fpr, tpr, thresholds = roc_curve(scores, labels)
        # after the +inf that flags nothing, every distinct score once, the highest first
        assert thresholds[0] == np.inf
        np.testing.assert_array_equal(thresholds[1:], np.unique(scores)[::-1])
        # the rates of each threshold, counted one by one: score >= threshold flags
        pos, neg = scores[labels == 1], scores[labels == 0]
        np.testing.assert_array_equal(
            tpr, [np.sum(pos >= t) / len(pos) for t in thresholds]
        )
        np.testing.assert_array_equal(
            fpr, [np.sum(neg >= t) / len(neg) for t in thresholds]
        )
        auc = roc_auc(scores, labels)
        assert auc == pytest.approx(pairwise_auc(scores, labels), abs=1e-12)
        assert auc == pytest.approx(np.trapezoid(tpr, fpr), abs=1e-12)
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


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
    with pytest.raises(ValueError, match=r"roc_auc: labels must be 0 .negative. or 1 .positive., "
                                         r"got 2 other values: \[-1, 2\]"):
        roc_auc(np.array([0.1, 0.2, 0.3]), np.array([0, 2, -1]))
    with pytest.raises(ValueError, match="labels must have shape"):
        roc_auc(np.array([0.1, 0.2]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"roc_auc: scores must be finite, got 1 non-finite "
                                         r"values of 2, the first nan at index 1"):
        roc_auc(np.array([0.1, np.nan]), np.array([0, 1]))



# --- measures of generators (Step 12): classifier score, Fréchet distance, class shares ---

from nnscratch.metrics import (  # noqa: E402
    class_shares,
    classifier_score,
    frechet_distance,
    gaussian_frechet,
)


def test_classifier_score_known_answers(rng):
    one_class = np.zeros((50, 10))
    one_class[:, 4] = 1  # a one-class generator, however confident
    assert classifier_score(one_class) == pytest.approx(1.0)
    uniform_preds = np.full((50, 10), 0.1)  # nothing recognizable
    assert classifier_score(uniform_preds) == pytest.approx(1.0)
    perfect = np.eye(10)[np.arange(100) % 10]  # confident and balanced
    assert classifier_score(perfect) == pytest.approx(10.0)
    five = np.eye(10)[np.arange(100) % 5]  # five classes only
    assert classifier_score(five) == pytest.approx(5.0)


def test_classifier_score_matches_the_entropy_form(rng):
    logits = 3 * rng.standard_normal((200, 7))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    marginal = p.mean(0)
    h_marginal = -np.sum(marginal * np.log(marginal))
    h_each = -np.sum(p * np.log(p), axis=1).mean()
    assert classifier_score(p) == pytest.approx(np.exp(h_marginal - h_each), rel=1e-12)
    assert 1 <= classifier_score(p) <= 7


def test_classifier_score_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        classifier_score(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"classifier_score: probs must be finite and "
                                         r"non-negative .*got 1 negative values, "
                                         r"the smallest -0.5"):
        classifier_score(np.array([[1.5, -0.5]]))
    with pytest.raises(ValueError, match=r"classifier_score: probs must be finite .*got 1 "
                                         r"non-finite values of 4, "
                                         r"the first inf at index \(1, 0\)"):
        classifier_score(np.array([[0.5, 0.5], [np.inf, 0.0]]))
    with pytest.raises(ValueError, match="no samples"):
        classifier_score(np.zeros((0, 3)))


def test_frechet_identical_sets_and_one_dimensional_formula(rng):
    f = rng.standard_normal((300, 6))
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-9)
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert gaussian_frechet(
        np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])
    ) == pytest.approx(9.0 + 1.0)
    # a shift by c moves the distance by |c|^2 exactly
    c = rng.standard_normal(6)
    assert frechet_distance(f, f + c) == pytest.approx(np.sum(c**2), rel=1e-9)


def test_frechet_commuting_covariances_and_symmetry(rng):
    # diagonal covariances: trace term is sum (sqrt(a) - sqrt(b))^2
    a, b = rng.uniform(0.5, 3, 5), rng.uniform(0.5, 3, 5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = gaussian_frechet(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)
    # general covariances: symmetric in its arguments, and equal to the trace of the
    # principal square root of S1 S2 computed another way (eigenvalues of S1 S2)
    A, B = rng.standard_normal((2, 5, 5))
    s1, s2 = A @ A.T + 0.1 * np.eye(5), B @ B.T + 0.1 * np.eye(5)
    d12 = gaussian_frechet(mu1, s1, mu2, s2)
    assert d12 == pytest.approx(gaussian_frechet(mu2, s2, mu1, s1), rel=1e-9)
    tr_sqrt = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
    direct = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * tr_sqrt
    assert d12 == pytest.approx(direct, rel=1e-9)


def test_frechet_errors(rng):
    with pytest.raises(ValueError, match="same number of features"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"frechet_distance: features1 must be finite, got 6 "
                                         r"non-finite values of 6, "
                                         r"the first nan at index \(0, 0\)"):
        frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        gaussian_frechet(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_class_shares():
    np.testing.assert_allclose(
        class_shares(np.array([0, 0, 1, 3]), 4), [0.5, 0.25, 0.0, 0.25]
    )
    with pytest.raises(ValueError, match=r"class_shares: labels must lie in \[0, 3\)"):
        class_shares(np.array([0, 3]), 3)
    with pytest.raises(TypeError, match="class_shares: labels must hold integer class labels, got "
                                        "dtype float64"):
        class_shares(np.array([0.0, 1.0]), 3)


def test_frechet_distance_of_two_different_sets_matches_the_direct_formula():
    # Different covariances and means, against trace(S1 + S2 - 2 (S1 S2)^(1/2)) computed from
    # the eigenvalues of S1 S2 (unbiased covariances, as documented).
    rng = np.random.default_rng(0)
    f1 = rng.standard_normal((6, 3))
    f2 = rng.standard_normal((9, 3)) @ np.diag([3.0, 0.5, 1.0]) + 1.0
    m1, m2 = f1.mean(0), f2.mean(0)
    s1 = (f1 - m1).T @ (f1 - m1) / (len(f1) - 1)
    s2 = (f2 - m2).T @ (f2 - m2) / (len(f2) - 1)
    tr_sqrt = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2) - 2 * tr_sqrt
    assert frechet_distance(f1, f2) == pytest.approx(expected, rel=1e-9)


# --- refused inputs that used to give a number ------------------------------------------

def test_reliability_refuses_non_boolean_correct_and_non_finite_confidence():
    conf = np.array([0.2, 0.5, 0.9])
    # integers counted as "right" 3 and 7 times: an ECE of 3.13, above its maximum of 1
    with pytest.raises(TypeError, match="reliability: correct must have dtype bool, got int64"):
        reliability(conf, np.array([3, 7, 1]))
    with pytest.raises(ValueError, match=r"reliability: confidence must be finite, in \[0, 1\], "
                                         r"got 1 non-finite values of 3, the first nan at "
                                         r"index 1"):
        reliability(np.array([0.2, np.nan, 0.9]), np.array([True, False, True]))
    # bool still accepted: one prediction per bin, ECE = (|1 - 0.2| + |0 - 0.5| + |1 - 0.9|) / 3
    rel = reliability(conf, np.array([True, False, True]))
    assert rel.counts.sum() == 3 and rel.counts.max() == 1
    assert rel.ece == pytest.approx(7 / 15, rel=1e-12)


def test_accuracy_refuses_float_labels_and_labels_outside_the_classes():
    from nnscratch.metrics import accuracy
    logits = np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]])
    with pytest.raises(TypeError, match="accuracy: y must hold integer class labels, "
                                        "got dtype float64"):
        accuracy(logits, np.array([0.3, 1.0, 0.0]))
    with pytest.raises(ValueError, match=r"accuracy: y must lie in \[0, 2\), "
                                         r"got values from 0 to 7"):
        accuracy(logits, np.array([0, 1, 7]))
    with pytest.raises(ValueError, match=r"accuracy: y must lie in \[0, 2\), "
                                         r"got values from 0 to 2"):
        accuracy(np.array([0.5, -1.0, 2.0]), np.array([0, 1, 2]))   # binary logit
    # any integer dtype, and booleans for a binary classifier, are labels
    assert accuracy(logits, np.array([1, 0, 0], dtype=np.uint8)) == pytest.approx(2 / 3)
    assert accuracy(np.array([0.5, -1.0, 2.0]), np.array([True, True, True])) == pytest.approx(2 / 3)


def test_gaussian_frechet_refuses_what_is_not_a_covariance():
    z, eye = np.zeros(2), np.eye(2)
    # an eigenvalue of -5: the trace term went negative and max(dist, 0) returned 0.0
    with pytest.raises(ValueError, match=r"gaussian_frechet: cov1 must be a covariance matrix, "
                                         r"positive semi-definite, got smallest eigenvalue -5 "
                                         r"\(largest 1\)"):
        gaussian_frechet(z, np.array([[1.0, 0], [0, -5.0]]), z, eye)
    with pytest.raises(ValueError, match=r"gaussian_frechet: cov2 must be a covariance matrix, "
                                         r"symmetric, got entries that differ from their "
                                         r"transposes by up to 0.5 \(largest entry 1\)"):
        gaussian_frechet(z, eye, z, np.array([[1.0, 0.5], [0, 1.0]]))
    with pytest.raises(ValueError, match=r"gaussian_frechet: cov1 must be finite, got 1 "
                                         r"non-finite values of 4, the first nan at index "
                                         r"\(0, 0\)"):
        gaussian_frechet(z, np.array([[np.nan, 0], [0, 1.0]]), z, eye)
    with pytest.raises(ValueError, match="gaussian_frechet: mu2 must be finite, got 1 "
                                         "non-finite values of 2, the first inf at index 1"):
        gaussian_frechet(z, eye, np.array([0.0, np.inf]), eye)


def test_gaussian_frechet_accepts_singular_covariances_and_their_rounding(rng):
    # fewer samples than features: a rank-deficient covariance whose zero eigenvalues
    # come out of rounding slightly negative; float32 features as well as float64
    for dtype in (np.float64, np.float32):
        f1 = rng.standard_normal((5, 40)).astype(dtype)
        assert frechet_distance(f1, f1 + 1) == pytest.approx(40.0, rel=1e-5)
    a = rng.standard_normal((2, 3))
    s = a.T @ a   # rank 2 of 3: positive semi-definite, one eigenvalue 0 up to rounding
    assert gaussian_frechet(np.zeros(3), s, np.zeros(3), s) == pytest.approx(0.0, abs=1e-9)


def test_predict_classes_most_confused_and_reliability_refuse_what_has_no_answer():
    from nnscratch.metrics import predict_classes

    with pytest.raises(ValueError, match=r"predict_classes: logits must be finite, got 1 non-finite values of 4, the first nan at index \(1, 0\)"):
        predict_classes(np.array([[0.0, 1.0], [np.nan, 0.0]]))  # argmax picked the NaN
    with pytest.raises(ValueError, match=r"most_confused: cm must be a square confusion matrix \(C, C\), got \(2, 3\)"):
        most_confused(np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="reliability: confidence holds no examples"):
        reliability(np.zeros(0), np.zeros(0, bool))  # gave an ECE of 0.0


def test_predict_classes_refuses_logits_of_more_than_two_axes():
    from nnscratch.metrics import predict_classes

    for shape in [(2, 3, 4), ()]:
        with pytest.raises(ValueError, match=r"predict_classes: logits must have shape \(N, C\), "
                                             rf"\(N,\) or \(N, 1\), got {re.escape(str(shape))}$"):
            predict_classes(np.zeros(shape))


def test_reliability_refuses_correct_of_another_length_than_confidence():
    conf = np.array([0.2, 0.5, 0.9])
    for correct in [np.ones(2, bool), np.ones(4, bool)]:
        with pytest.raises(ValueError, match=r"reliability: correct must have shape \(3,\), got "
                                             rf"\({len(correct)},\)$"):
            reliability(conf, correct)


def test_gaussian_frechet_refuses_means_of_different_dimensions():
    with pytest.raises(ValueError, match=r"gaussian_frechet: mu2 must have shape \(2,\) like mu1, "
                                         r"got \(3,\)$"):
        gaussian_frechet(np.zeros(2), np.eye(2), np.zeros(3), np.eye(2))


def test_class_shares_refuses_no_labels():
    # bincount / 0 gave NaN shares and a warning
    with pytest.raises(ValueError, match=r"class_shares: labels must hold at least one sample, "
                                         r"got none \(N = 0\)$"):
        class_shares(np.zeros(0, np.int64), 3)

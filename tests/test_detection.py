import numpy as np
import pytest

from nnscratch import detection as D
from nnscratch.activations import sigmoid
from nnscratch.gradcheck import check_loss, numerical_gradient, relative_error

# ----------------------------------------------------------------- IoU


def test_iou_known_answers():
    a = np.array([[0.0, 0, 2, 2], [0, 0, 1, 1], [10, 10, 11, 12]])
    b = np.array([[0.0, 0, 2, 2], [1, 0, 3, 2], [5, 5, 6, 6]])
    iou = D.box_iou(a, b)
    assert iou.shape == (3, 3)
    assert iou[0, 0] == 1.0  # identical boxes
    assert iou[0, 1] == pytest.approx(
        2 / 6
    )  # half overlap: 2 / (4 + 4 - 2)
    assert iou[0, 2] == 0.0  # disjoint
    assert iou[1, 0] == pytest.approx(0.25)  # contained
    assert iou[1, 1] == 0.0  # touching edges: zero-area intersection
    np.testing.assert_allclose(D.box_iou(b, a), iou.T)


def test_iou_of_empty_sets_and_degenerate_boxes():
    assert D.box_iou(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    point = np.array([[1.0, 1, 1, 1]])
    assert (
        D.box_iou(point, point)[0, 0] == 0.0
    )  # no area, no union: 0, not NaN


def _random_boxes(rng, n):
    """n boxes (x0, y0, x1, y1) with corners in [0, 10) and sides in [0.1, 5)."""
    xy = rng.uniform(0, 10, (n, 2))
    return np.hstack([xy, xy + rng.uniform(0.1, 5, (n, 2))])


def test_iou_matches_torchvision_formula_in_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 7), _random_boxes(rng, 5)
    ta, tb = torch.tensor(a), torch.tensor(b)
    lt = torch.max(ta[:, None, :2], tb[None, :, :2])
    rb = torch.min(ta[:, None, 2:], tb[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
    ref = inter / (area(ta)[:, None] + area(tb)[None] - inter)
    np.testing.assert_allclose(D.box_iou(a, b), ref.numpy(), rtol=1e-12)


def test_iou_matches_torchvision_if_installed():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 7), _random_boxes(rng, 5)
    ta, tb = torch.tensor(a), torch.tensor(b)
    np.testing.assert_allclose(
        D.box_iou(a, b), ops.box_iou(ta, tb).numpy(), rtol=1e-12
    )


def test_bad_boxes_say_what_was_expected():
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        D.box_iou(np.zeros((3, 3)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="x0 <= x1"):
        D.box_iou(np.array([[2.0, 0, 1, 1]]), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        D.box_area(np.array([[0, 0, np.nan, 1]]))
    with pytest.raises(
        ValueError,
        match=r"box_area: boxes holds non-finite coordinates, row 1 is \[0.0, inf, 1.0, 1.0\]",
    ):
        D.box_area(np.array([[0, 0, 1, 1], [0, np.inf, 1, 1]]))


def test_box_area_is_width_times_height_and_zero_for_flat_boxes():
    boxes = [[0, 0, 2, 3], [1.5, 2, 4, 2.5], [5, 5, 5, 9], [-1, -2, 1, 0]]
    area = D.box_area(boxes)  # a list of ints is taken too
    assert area.dtype == np.float64 and area.shape == (4,)
    np.testing.assert_array_equal(area, [6.0, 1.25, 0.0, 4.0])
    assert D.box_area(np.zeros((0, 4))).shape == (0,)


# ----------------------------------------------------------------- NMS


def test_nms_keeps_best_of_each_cluster():
    boxes = np.array(
        [[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]]
    )
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    keep = D.nms(boxes, scores, 0.5)
    np.testing.assert_array_equal(keep, [3, 2])
    np.testing.assert_array_equal(D.nms(boxes, scores, 1.0), [3, 0, 1, 2])


def test_nms_ties_in_scores_go_in_index_order():
    boxes = np.array([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    scores = np.array([0.5, 0.5, 0.5])
    np.testing.assert_array_equal(D.nms(boxes, scores, 0.5), [0])
    np.testing.assert_array_equal(
        D.nms(boxes[::-1].copy(), scores, 0.5), [0]
    )


def test_nms_empty_and_bad_input():
    assert D.nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match="one per box"):
        D.nms(np.zeros((2, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="iou_threshold"):
        D.nms(np.zeros((2, 4)), np.zeros(2), 1.5)


def _greedy_nms(boxes, scores, threshold):
    """NMS as its definition reads, one box at a time: visit the boxes by decreasing
    score (ties in index order) and keep a box unless a kept one overlaps it by more
    than the threshold. IoU from the boxes' corners, written out again here."""
    def iou(p, q):
        w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
        return w * h / union

    keep = []
    for i in sorted(range(len(scores)), key=lambda k: (-scores[k], k)):
        if all(iou(boxes[i], boxes[k]) <= threshold for k in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 0.7])
def test_nms_matches_the_greedy_definition_on_random_boxes(threshold):
    rng = np.random.default_rng(int(threshold * 10))
    xy = rng.uniform(0, 20, (60, 2))
    boxes = np.hstack([xy, xy + rng.uniform(2, 8, (60, 2))])
    scores = rng.random(60).round(1)  # many ties, broken by index
    keep = D.nms(boxes, scores, threshold)
    assert 1 < len(keep) < 60  # some boxes kept, some suppressed
    np.testing.assert_array_equal(keep, _greedy_nms(boxes, scores, threshold))


def test_nms_matches_torchvision_if_installed():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 20, (40, 2))
    boxes = np.hstack([xy, xy + rng.uniform(2, 8, (40, 2))])
    scores = rng.random(40)
    ref = ops.nms(torch.tensor(boxes), torch.tensor(scores), 0.4).numpy()
    np.testing.assert_array_equal(D.nms(boxes, scores, 0.4), ref)


# ----------------------------------------------------------------- AP


def test_average_precision_hand_worked_example():
    # 5 detections by score, 4 ground-truth boxes: hits T F T F T.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    tp = np.array([True, False, True, False, True])
    p, r = D.precision_recall(scores, tp, 4)
    np.testing.assert_allclose(p, [1, 1 / 2, 2 / 3, 2 / 4, 3 / 5])
    np.testing.assert_allclose(r, [1 / 4, 1 / 4, 2 / 4, 2 / 4, 3 / 4])
    # envelope 1, 2/3, 2/3, 3/5, 3/5; recall steps 1/4 at ranks 1, 3, 5
    expected = 0.25 * 1 + 0.25 * 2 / 3 + 0.25 * 3 / 5
    assert D.average_precision(scores, tp, 4) == pytest.approx(expected)
    # The order of the arrays does not matter, only the scores
    perm = np.array([4, 2, 0, 3, 1])
    assert D.average_precision(scores[perm], tp[perm], 4) == pytest.approx(
        expected
    )


def test_average_precision_edge_cases():
    assert D.average_precision([0.9, 0.1], [True, True], 2) == 1.0
    assert D.average_precision([0.9, 0.1], [False, False], 2) == 0.0
    assert D.average_precision([], [], 3) == 0.0  # nothing detected
    assert np.isnan(
        D.average_precision([0.5], [False], 0)
    )  # no ground truth
    # a false positive ranked above every hit halves the precision
    assert D.average_precision([0.9, 0.8], [False, True], 1) == 0.5
    with pytest.raises(ValueError, match="true positives"):
        D.precision_recall([0.9, 0.8], [True, True], 1)


def test_precision_recall_needs_one_tp_flag_per_score():
    with pytest.raises(
        ValueError,
        match=r"precision_recall: scores and tp must be 1-D of one length, "
        r"got shapes \(2,\) and \(3,\)",
    ):
        D.precision_recall([0.9, 0.8], [True, False, True], 2)
    with pytest.raises(
        ValueError, match=r"1-D of one length, got shapes \(1, 2\) and \(1, 2\)"
    ):
        D.precision_recall([[0.9, 0.8]], [[True, False]], 2)


def test_ties_in_scores_are_broken_in_index_order():
    # tie: the hit listed first counts first
    assert D.average_precision([0.5, 0.5], [True, False], 1) == 1.0
    assert D.average_precision([0.5, 0.5], [False, True], 1) == 0.5


def test_matching_is_greedy_by_score_one_detection_per_box():
    gt = np.array([[0.0, 0, 10, 10]])
    det = np.array([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 6]])
    tp = D.match_detections(det, np.array([0.3, 0.9, 0.8]), gt, [0.5, 0.7])
    # the 0.9 detection takes the box; the duplicate is a false positive;
    # the 0.6-IoU box fails both (its box is taken anyway)
    np.testing.assert_array_equal(tp, [[False, True, False]] * 2)
    tp = D.match_detections(det[2:], np.array([0.8]), gt, [0.5, 0.7])
    np.testing.assert_array_equal(tp, [[True], [False]])
    assert D.match_detections(det, np.ones(3), np.zeros((0, 4))).sum() == 0


def test_mean_average_precision_skips_classes_without_ground_truth():
    gt = [(np.array([[0.0, 0, 10, 10]]), np.array([1]))]
    perfect = [
        (np.array([[0.0, 0, 10, 10]]), np.array([0.9]), np.array([1]))
    ]
    res = D.mean_average_precision(perfect, gt, 3, D.COCO_THRESHOLDS)
    assert res["map"] == 1.0
    assert np.isnan(res["ap"][:, [0, 2]]).all()
    # a detection of a class with no ground truth costs nothing
    extra = [
        (
            np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]]),
            np.array([0.9, 0.95]),
            np.array([1, 2]),
        )
    ]
    assert D.mean_average_precision(extra, gt, 3)["map"] == 1.0
    # a box shifted to IoU 73.5/126.5 (0.58) counts at 0.50 and 0.55 only: COCO mean 0.2
    shifted = [(np.array([[2.65, 0, 12.65, 10]]), np.array([0.9]), [1])]
    assert D.box_iou(shifted[0][0], gt[0][0])[0, 0] == pytest.approx(
        73.5 / 126.5
    )
    res = D.mean_average_precision(shifted, gt, 3, D.COCO_THRESHOLDS)
    assert res["map"] == pytest.approx(0.2)
    np.testing.assert_allclose(D.COCO_THRESHOLDS[[0, -1]], [0.5, 0.95])


def test_mean_average_precision_bad_input():
    gt = [(np.zeros((0, 4)), np.zeros(0, int))]
    det = [(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))]
    with pytest.raises(ValueError, match="no ground-truth"):
        D.mean_average_precision(det, gt, 2)
    with pytest.raises(ValueError, match="one list entry per image"):
        D.mean_average_precision(det * 2, gt, 2)
    gt = [(np.array([[0.0, 0, 1, 1]]), np.array([5]))]
    with pytest.raises(ValueError, match=r"mean_average_precision: the labels of ground_truth\[0\] "
                                         r"must lie in \[0, 2\), got values from 5 to 5"):
        D.mean_average_precision(det, gt, 2)


def test_mean_average_precision_refuses_boxes_of_the_wrong_shape():
    """Two boxes passed transposed, (4, 2), were read as two wrong boxes: mAP 0, no error."""
    boxes = np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]])
    labels = np.array([0, 1])
    det = [(boxes, np.array([0.9, 0.8]), labels)]
    assert D.mean_average_precision(det, [(boxes, labels)], 2)["map"] == 1.0
    with pytest.raises(ValueError, match=r"mean_average_precision: the boxes of ground_truth\[0\] "
                                         r"must have shape \(N, 4\).*got shape \(4, 2\)"):
        D.mean_average_precision(det, [(boxes.T, labels)], 2)


# ----------------------------------------------------------------- CenterNet


def _targets():
    boxes = [
        np.array([[4.0, 8.0, 20.0, 28.0], [30.0, 30.0, 44.0, 50.0]]),
        np.array([[40.0, 2.0, 58.0, 20.0]]),
    ]
    labels = [np.array([3, 7]), np.array([3])]
    return boxes, labels, D.encode_centernet(boxes, labels, 10, 16, 4)


def test_encode_centernet_places_centres_sizes_and_offsets():
    boxes, labels, t = _targets()
    assert t.shape == (2, 15, 16, 16) and t.dtype == np.float32
    # first box: centre (12, 18) px = (3, 4.5) cells -> cell (row 4, col 3)
    assert t[0, 3, 4, 3] == 1.0 and t[0, 14, 4, 3] == 1.0
    np.testing.assert_allclose(t[0, 10:14, 4, 3], [4.0, 5.0, 0.0, 0.5])
    assert t[0, 14].sum() == 2 and t[1, 14].sum() == 1
    assert (t[:, :10] <= 1).all() and (t[:, :10] == 1).sum() == 3
    assert t[0, 7].max() == 1.0 and t[0, 5].max() == 0.0


def test_encode_centernet_keeps_the_last_of_two_centres_in_one_cell():
    # both centres in cell (row 4, col 3) at stride 4: (13, 18) and (14, 17) px
    boxes = [np.array([[9.0, 14.0, 17.0, 22.0], [4.0, 10.0, 24.0, 24.0]])]
    for order in ([0, 1], [1, 0]):
        t = D.encode_centernet([boxes[0][order]], [np.array([2, 5])], 10, 16, 4)
        last = boxes[0][order[-1]] / 4
        np.testing.assert_allclose(
            t[0, 10:15, 4, 3],
            [last[2] - last[0], last[3] - last[1],
             (last[0] + last[2]) / 2 - 3, (last[1] + last[3]) / 2 - 4, 1.0],
        )
        assert t[0, 14].sum() == 1 and t[0, 2, 4, 3] == t[0, 5, 4, 3] == 1.0


def test_decode_inverts_encode():
    boxes, labels, t = _targets()
    y = np.clip(t[:, :10].astype(np.float64), 1e-6, 1 - 1e-6)
    out = np.concatenate([np.log(y / (1 - y)), t[:, 10:14]], axis=1)
    dets = D.decode_centernet(out, stride=4)
    for (b, s, lab), gb, gl in zip(dets, boxes, labels):
        order = np.argsort(lab * 100 + b[:, 0])
        ref = np.argsort(gl * 100 + gb[:, 0])
        np.testing.assert_allclose(b[order], gb[ref], atol=1e-5)
        np.testing.assert_array_equal(lab[order], gl[ref])
        assert (s > 0.999).all()


def test_centernet_loss_gradient_float64():
    boxes, labels, _ = _targets()
    t = D.encode_centernet(boxes, labels, 10, 8, 8, dtype=np.float64)
    rng = np.random.default_rng(0)
    out = rng.normal(size=(2, 14, 8, 8))
    # keep the L1 terms away from their kink at 0
    out[:, 10:] = t[:, 10:14] + np.where(
        rng.random((2, 4, 8, 8)) < 0.5, -1, 1
    )
    loss, dout = D.centernet_loss(out, t)
    num = numerical_gradient(lambda: D.centernet_loss(out, t)[0], out, 1e-6)
    assert relative_error(dout, num) < 1e-7
    assert dout[:, 10:][t[:, 14:15].repeat(4, 1) == 0].sum() == 0


def test_centernet_loss_matches_torch():
    torch = pytest.importorskip("torch")
    _, _, t = _targets()
    t = t.astype(np.float64)
    rng = np.random.default_rng(1)
    out = rng.normal(size=(2, 14, 16, 16)) * 3
    loss, dout = D.centernet_loss(out, t)
    z = torch.tensor(out, requires_grad=True)
    tt = torch.tensor(t)
    p = torch.sigmoid(z[:, :10])
    y = tt[:, :10]
    pos = y == 1
    m = tt[:, 14:15]
    ref = torch.where(
        pos,
        -((1 - p) ** 2) * torch.nn.functional.logsigmoid(z[:, :10]),
        -((1 - y) ** 4) * p**2 * torch.nn.functional.logsigmoid(-z[:, :10]),
    ).sum()
    w = torch.tensor([0.1, 0.1, 1.0, 1.0], dtype=torch.float64)[
        None, :, None, None
    ]
    ref = ref + (w * (z[:, 10:] - tt[:, 10:14]).abs() * m).sum()
    ref = ref / m.sum()
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dout, z.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_centernet_loss_is_finite_for_huge_logits():
    _, _, t = _targets()
    out = np.zeros((2, 14, 16, 16), np.float32)
    out[:, :10] = np.where(t[:, :10] == 1, -80, 80)
    loss, dout = D.centernet_loss(out, t)
    assert np.isfinite(loss) and np.isfinite(dout).all()
    assert dout.dtype == np.float32


def test_centernet_bad_input():
    _, _, t = _targets()
    with pytest.raises(ValueError, match=r"must agree"):
        D.centernet_loss(np.zeros((2, 13, 16, 16)), t)
    with pytest.raises(ValueError, match=r"encode_centernet: the labels of image 0 must lie in "
                                         r"\[0, 10\), got values from 10 to 10"):
        D.encode_centernet([np.zeros((1, 4))], [np.array([10])], 10, 16, 4)
    # a float label is refused, not truncated to a class
    with pytest.raises(TypeError, match=r"encode_centernet: the labels of image 0 must hold "
                                        r"integer class labels, got dtype float64"):
        D.encode_centernet([np.zeros((1, 4))], [np.array([1.7])], 10, 16, 4)
    with pytest.raises(ValueError, match="one entry per image"):
        D.encode_centernet([np.zeros((1, 4))], [], 10, 16, 4)


def test_nms_keeps_a_box_whose_iou_equals_the_threshold():
    boxes = np.array([[0.0, 0, 4, 1], [0, 0, 2, 1]])  # IoU exactly 2/4
    assert D.box_iou(boxes[:1], boxes[1:])[0, 0] == 0.5
    np.testing.assert_array_equal(
        D.nms(boxes, np.array([0.9, 0.8]), 0.5), [0, 1]
    )


def test_a_detection_at_exactly_the_iou_threshold_is_a_hit():
    gt = np.array([[0.0, 0, 4, 1]])
    det = np.array([[0.0, 0, 2, 1]])  # IoU exactly 0.5
    np.testing.assert_array_equal(
        D.match_detections(det, np.array([0.9]), gt, [0.5]), [[True]]
    )


def test_average_precision_uses_the_interpolated_envelope():
    # hits F T T with 2 boxes: precision 0, 1/2, 2/3; the envelope at rank 2 is 2/3
    assert D.average_precision(
        [0.9, 0.8, 0.7], [False, True, True], 2
    ) == pytest.approx(2 / 3)


# ------------------------------------------------- mismatched counts and float labels

_GT3 = np.array([[0.0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]])


def test_match_detections_needs_one_score_per_box():
    # one score for three boxes used to match only the first box, five scores raised a bare
    # IndexError
    for scores in (np.array([0.9]), np.array([0.9, 0.8, 0.7, 0.1, 0.2])):
        with pytest.raises(
            ValueError,
            match=rf"match_detections: det_scores must have shape \(3,\), one per box, "
            rf"got \({len(scores)},\)",
        ):
            D.match_detections(_GT3, scores, _GT3)
    # also when there is no ground truth to match against
    with pytest.raises(ValueError, match=r"det_scores must have shape \(3,\)"):
        D.match_detections(_GT3, np.ones(2), np.zeros((0, 4)))


def test_mean_average_precision_refuses_float_labels_and_mismatched_lengths():
    scores, labels = np.array([0.9, 0.8, 0.7]), np.array([0, 0, 0])
    gt = [(_GT3, labels)]
    # a ground-truth label of 0.5 was counted in class 0's n_gt but never matched
    with pytest.raises(
        TypeError,
        match=r"mean_average_precision: the labels of ground_truth\[0\] must hold integer "
        r"class labels, got dtype float64",
    ):
        D.mean_average_precision([(_GT3, scores, labels)], [(_GT3, np.array([0.5, 0, 0]))], 1)
    with pytest.raises(
        TypeError,
        match=r"mean_average_precision: the labels of detections\[0\] must hold integer "
        r"class labels, got dtype float64",
    ):
        D.mean_average_precision([(_GT3, scores, np.array([0.0, 0, 0]))], gt, 1)
    with pytest.raises(
        ValueError,
        match=r"mean_average_precision: the scores of detections\[0\] must have shape "
        r"\(3,\), one per box, got \(2,\)",
    ):
        D.mean_average_precision([(_GT3, scores[:2], labels)], gt, 1)
    with pytest.raises(
        ValueError,
        match=r"mean_average_precision: the labels of detections\[1\] must have shape "
        r"\(3,\), one per box, got \(2,\)",
    ):
        D.mean_average_precision(
            [(_GT3, scores, labels), (_GT3, scores, labels[:2])], gt * 2, 1
        )
    with pytest.raises(
        ValueError,
        match=r"mean_average_precision: the labels of ground_truth\[0\] must have shape "
        r"\(3,\), one per box, got \(2,\)",
    ):
        D.mean_average_precision([(_GT3, scores, labels)], [(_GT3, labels[:2])], 1)
    # valid inputs still work: int32 labels, list labels, empty images given as lists
    res = D.mean_average_precision(
        [(_GT3, scores, labels.astype(np.int32)), (np.zeros((0, 4)), [], [])],
        [(_GT3, [0, 0, 0]), (np.zeros((0, 4)), [])],
        1,
    )
    assert res["map"] == 1.0 and res["n_gt"].tolist() == [3]


def test_nan_scores_are_refused_wherever_boxes_are_ranked():
    """argsort(-scores) put a NaN score first: its box was silently ranked best."""
    scores = np.array([0.9, np.nan, 0.5])
    message = r"must be finite, got 1 non-finite values of 3, the first nan at index 1"
    with pytest.raises(ValueError, match="nms: scores " + message):
        D.nms(_GT3, scores)
    with pytest.raises(ValueError, match="match_detections: det_scores " + message):
        D.match_detections(_GT3, scores, _GT3)
    labels = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match=r"the scores of detections\[0\] " + message):
        D.mean_average_precision([(_GT3, scores, labels)], [(_GT3, labels)], 1)
    with pytest.raises(TypeError, match="average_precision: n_gt must be a non-negative integer, got 0.5"):
        D.average_precision(np.array([0.9]), np.array([True]), 0.5)


# ------------------------------------- CenterNet: peaks, k, min_score, float16, bad input


def _cone_logits(c, hw, peaks, n=1, floor=None):
    """A detector output (n, c + 4, hw, hw) whose heatmaps peak exactly at ``peaks``.

    ``peaks`` maps (image, class, i, j) to a logit; each is the apex of a cone falling by
    2 per cell of Euclidean distance, and a channel is the maximum of its cones, so no
    other cell is the maximum of its 3x3 neighbourhood (a step towards the nearest apex
    always climbs). ``floor``: the logit of cells far from every cone, a plateau. Every
    cell predicts a 2 x 3-cell box, offset (0.25, 0.5) in its cell.
    """
    out = np.full((n, c + 4, hw, hw), -np.inf if floor is None else floor)
    ii, jj = np.mgrid[:hw, :hw]
    for (e, cls, i, j), logit in peaks.items():
        cone = logit - 2 * np.hypot(ii - i, jj - j)
        np.maximum(out[e, cls], cone, out=out[e, cls])
    out[:, c:] = np.array([2.0, 3.0, 0.25, 0.5])[None, :, None, None]
    return out


def test_decode_centernet_returns_peaks_only_even_at_min_score_zero():
    # two peaks on a 4 x 4 grid; every other cell has a higher neighbour. Non-peaks were
    # given score 0 and kept by "score >= min_score": 16 boxes at min_score=0, 14 of score 0
    out = _cone_logits(1, 4, {(0, 0, 1, 1): 3.0, (0, 0, 3, 3): 2.0})
    assert out.shape == (1, 5, 4, 4) and np.isfinite(out).all()
    s3, s2 = sigmoid(np.array([3.0, 2.0]))
    for min_score, scores in [
        (0, [s3, s2]),
        (0.0, [s3, s2]),
        (s2, [s3, s2]),  # a score equal to min_score is kept
        (0.9, [s3]),  # between the two scores
        (1.0, []),
    ]:
        ((boxes, got, labels),) = D.decode_centernet(
            out, stride=4, min_score=min_score
        )
        np.testing.assert_array_equal(got, scores)
        np.testing.assert_array_equal(labels, [0] * len(scores))
        assert boxes.shape == (len(scores), 4)
    ((boxes, _, _),) = D.decode_centernet(out, stride=4, min_score=0)
    # centres ((j + 0.25) * 4, (i + 0.5) * 4), sizes 8 x 12
    np.testing.assert_array_equal(
        boxes, [[1.0, 0.0, 9.0, 12.0], [9.0, 8.0, 17.0, 20.0]]
    )


def test_decode_centernet_keeps_the_k_highest_peaks():
    # image 0: six peaks in three classes, every score above the default 0.05; image 1: two
    peaks = {
        (0, 2, 4, 3): 0.5,
        (0, 0, 1, 1): 3.0,
        (0, 1, 6, 1): -1.0,
        (0, 1, 2, 5): 2.5,
        (0, 0, 5, 6): 1.0,
        (0, 2, 7, 7): 2.0,
        (1, 1, 3, 3): 1.5,
        (1, 2, 0, 7): 0.0,
    }
    out = _cone_logits(3, 8, peaks, n=2, floor=-30.0)
    by_score = sorted(peaks, key=peaks.get, reverse=True)
    for k in (1, 4, 5, 6, 20):
        dets = D.decode_centernet(out, stride=4, k=k)
        for e, (boxes, scores, labels) in enumerate(dets):
            best = [p for p in by_score if p[0] == e][:k]
            assert len(scores) == min(k, 6 if e == 0 else 2)
            np.testing.assert_array_equal(
                scores, sigmoid(np.array([peaks[p] for p in best]))
            )
            np.testing.assert_array_equal(labels, [p[1] for p in best])
            i = np.array([p[2] for p in best])
            j = np.array([p[3] for p in best])
            np.testing.assert_array_equal(
                boxes,
                np.stack(
                    [4 * j - 3, 4 * i - 4, 4 * j + 5, 4 * i + 8], 1
                ).astype(float),
            )
    # k and min_score together: of the four highest, those of at least 0.85
    (boxes, scores, labels), _ = D.decode_centernet(
        out, stride=4, k=4, min_score=0.85
    )
    np.testing.assert_array_equal(labels, [0, 1, 2])  # logits 3, 2.5, 2
    assert (scores >= 0.85).all() and len(scores) == 3


def test_decode_centernet_refuses_bad_min_score_and_too_few_channels():
    out = _cone_logits(1, 4, {(0, 0, 1, 1): 3.0})
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(
            ValueError,
            match=r"decode_centernet: min_score must be a finite number in \[0, 1\], "
            rf"got {bad}",
        ):
            D.decode_centernet(out, stride=4, min_score=bad)
    with pytest.raises(
        TypeError, match="decode_centernet: min_score must be"
    ):
        D.decode_centernet(out, stride=4, min_score="0.1")
    # no class channel: 4 channels returned no boxes, 3 failed with "index 0 is out of
    # bounds for array with size -16"
    for channels in (4, 3):
        message = (
            r"must have C \+ 4 channels, C >= 1 heatmap logits and then w, h, dx, dy, "
            rf"so at least 5; got shape \(1, {channels}, 4, 4\) \({channels} channels\)"
        )
        with pytest.raises(
            ValueError, match="decode_centernet: out " + message
        ):
            D.decode_centernet(out[:, :channels].copy(), stride=4)
        target = np.zeros((1, channels + 1, 4, 4))
        with pytest.raises(
            ValueError, match="centernet_loss: out " + message
        ):
            D.centernet_loss(out[:, :channels].copy(), target)


def _centernet_terms(out, target, alpha, beta):
    """The parts of CenterNet's loss, computed from its formula one cell at a time:
    the focal heatmap sum, the L1 sums of sizes and of offsets at the centres, and M.
    """
    c = out.shape[1] - 4
    heat = 0.0
    for index in np.ndindex(out[:, :c].shape):
        p = 1 / (1 + np.exp(-out[index]))
        y = target[index]
        if y == 1:
            heat -= (1 - p) ** alpha * np.log(p)
        else:
            heat -= (1 - y) ** beta * p**alpha * np.log(1 - p)
    size = offset = 0.0
    for e, i, j in zip(*np.nonzero(target[:, c + 4])):
        d = np.abs(out[e, c : c + 4, i, j] - target[e, c : c + 4, i, j])
        size += d[0] + d[1]
        offset += d[2] + d[3]
    return heat, size, offset, int(target[:, c + 4].sum())


def _away_from_the_kink(target, rng):
    """A random output whose sizes and offsets differ from the target's by 0.5 to 1."""
    out = rng.normal(size=target[:, :-1].shape)
    c = target.shape[1] - 5
    step = rng.uniform(0.5, 1.0, out[:, c:].shape)
    out[:, c:] = target[:, c : c + 4] + np.where(
        rng.random(step.shape) < 0.5, -step, step
    )
    return out


def test_centernet_loss_value_follows_the_formula_at_other_weights():
    boxes, labels, _ = _targets()
    t = D.encode_centernet(boxes, labels, 10, 8, 8, dtype=np.float64)
    out = _away_from_the_kink(t, np.random.default_rng(3))
    for alpha, beta in [(2.0, 4.0), (1.5, 3.0), (0.0, 0.0), (3.0, 1.0)]:
        heat, size, offset, m = _centernet_terms(out, t, alpha, beta)
        assert m == 3 and size > 0 and offset > 0
        for lam_s, lam_o in [(0.1, 1.0), (0.7, 0.3), (0.0, 2.0)]:
            loss, _ = D.centernet_loss(
                out,
                t,
                alpha=alpha,
                beta=beta,
                size_weight=lam_s,
                offset_weight=lam_o,
            )
            expected = (heat + lam_s * size + lam_o * offset) / m
            assert loss == pytest.approx(expected, rel=1e-12)
    # doubling a weight adds its term once more, and nothing else
    base = D.centernet_loss(out, t, size_weight=0.2, offset_weight=0.5)[0]
    heat, size, offset, m = _centernet_terms(out, t, 2.0, 4.0)
    more_size = D.centernet_loss(
        out, t, size_weight=0.4, offset_weight=0.5
    )[0]
    more_offset = D.centernet_loss(
        out, t, size_weight=0.2, offset_weight=1.0
    )[0]
    assert more_size - base == pytest.approx(0.2 * size / m, rel=1e-9)
    assert more_offset - base == pytest.approx(0.5 * offset / m, rel=1e-9)


def test_centernet_loss_gradient_float64_at_other_weights():
    boxes, labels, _ = _targets()
    t = D.encode_centernet(boxes, labels, 10, 8, 8, dtype=np.float64)
    out = _away_from_the_kink(t, np.random.default_rng(4))
    for weights in [
        dict(alpha=1.5, beta=3.0, size_weight=0.7, offset_weight=0.3),
        dict(alpha=0.0, beta=0.0, size_weight=2.0, offset_weight=0.0),
    ]:
        result = check_loss(
            lambda o, y: D.centernet_loss(o, y, **weights), out, t
        )
        assert result.passed, (weights, result.errors)


def test_centernet_loss_float16_sums_in_float32():
    # 64 images of 3 classes on a 32 x 32 grid, every logit 2: the heatmap sum is about
    # 325,000, past float16's largest number 65504; it was inf
    boxes = [np.array([[8.0, 8.0, 40.0, 40.0]])] * 64
    labels = [np.array([1])] * 64
    t16 = D.encode_centernet(boxes, labels, 3, 32, 4, dtype=np.float16)
    out16 = np.full((64, 7, 32, 32), 2.0, np.float16)
    loss16, dout16 = D.centernet_loss(out16, t16)
    loss64, dout64 = D.centernet_loss(
        out16.astype(np.float64), t16.astype(np.float64)
    )
    assert loss64 > 5000 and loss16 == pytest.approx(loss64, rel=1e-3)
    assert dout16.dtype == np.float16
    np.testing.assert_allclose(dout16, dout64, rtol=1e-2, atol=1e-6)


def test_centernet_loss_float16_with_more_centres_than_float16_can_count():
    # 70000 one-cell images, each a centre: M = 70000 is inf in float16, which made the
    # loss and every gradient 0; the L1 sum, 2.2 per image, overflowed too
    n = 70_000
    t = np.zeros((n, 6, 1, 1), np.float16)
    t[:, :, 0, 0] = [
        1.0,
        2.0,
        3.0,
        0.25,
        0.5,
        1.0,
    ]  # heatmap, w, h, dx, dy, mask
    out = np.zeros((n, 5, 1, 1), np.float16)
    out[:, 1:] = t[:, 1:5] + 1  # every L1 difference 1
    loss, dout = D.centernet_loss(out, t)
    ref_loss, ref_dout = D.centernet_loss(
        out.astype(np.float64), t.astype(np.float64)
    )
    # per image: -(1/2)^2 log(1/2) + 0.1 + 0.1 + 1 + 1
    assert ref_loss == pytest.approx(0.25 * np.log(2) + 2.2, rel=1e-12)
    assert loss == pytest.approx(ref_loss, rel=1e-3)
    # the gradients are about 1e-6 to 1e-5, float16's subnormal range: a few percent
    assert (dout != 0).all()
    np.testing.assert_allclose(dout, ref_dout, rtol=0.05)


def test_centernet_loss_bad_input_says_what_was_expected():
    _, _, t = _targets()
    out = np.zeros((2, 14, 16, 16), np.float32)
    with pytest.raises(
        TypeError,
        match="centernet_loss: target must be a numpy.ndarray, got list",
    ):
        D.centernet_loss(out, [[1]])
    with pytest.raises(
        TypeError,
        match=r"centernet_loss: target must hold floating-point numbers .*got dtype int64",
    ):
        D.centernet_loss(out, t.astype(np.int64))
    with pytest.raises(
        ValueError,
        match=r"centernet_loss: target must have 4 dimensions, got shape \(15, 16, 16\)",
    ):
        D.centernet_loss(out, t[0])
    with pytest.raises(
        TypeError, match="centernet_loss: out must hold floating-point"
    ):
        D.centernet_loss(out.astype(np.int32), t)
    for name in ("alpha", "beta", "size_weight", "offset_weight"):
        with pytest.raises(
            ValueError,
            match=rf"centernet_loss: {name} must be non-negative and finite, got -1.0",
        ):
            D.centernet_loss(out, t, **{name: -1.0})
        with pytest.raises(
            TypeError,
            match=rf"centernet_loss: {name} must be non-negative and finite, got '1'",
        ):
            D.centernet_loss(out, t, **{name: "1"})
    # the book's plain cross-entropy: alpha = beta = 0 is allowed
    assert np.isfinite(D.centernet_loss(out, t, alpha=0.0, beta=0.0)[0])


def test_boxes_and_scores_that_are_not_numbers_are_refused_by_name():
    boxes = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11]])
    words = [["a", "b", "c", "d"]]
    for call, message in [
        (
            lambda: D.box_iou(words, boxes),
            r"box_iou: a must hold real numbers",
        ),
        (
            lambda: D.box_iou(boxes, words),
            r"box_iou: b must hold real numbers",
        ),
        (
            lambda: D.box_area([[None, 0, 1, 1]]),
            r"box_area: boxes must hold real",
        ),
        (lambda: D.box_area(boxes > 0), r"box_area: boxes must hold real"),
        (
            lambda: D.nms(words, ["0.9"]),
            r"nms: boxes must hold real numbers",
        ),
        (
            lambda: D.nms(boxes, ["0.9", "0.8"]),
            r"nms: scores must hold real",
        ),
        (
            lambda: D.match_detections(boxes, [0.9, 0.8], boxes, ["0.5"]),
            r"match_detections: thresholds must hold real numbers",
        ),
        (
            lambda: D.precision_recall(["0.9"], [True], 1),
            r"precision_recall: scores must hold real numbers",
        ),
        (
            lambda: D.mean_average_precision(
                [(words, [0.9], [0])], [(boxes, [0, 0])], 1
            ),
            r"mean_average_precision: the boxes of detections\[0\] must hold real",
        ),
    ]:
        with pytest.raises(
            TypeError, match=message + r".*, got dtype \S+$"
        ):
            call()
    with pytest.raises(
        TypeError,
        match=r"box_iou: a must hold real numbers \(floats or integers\), got dtype <U1",
    ):
        D.box_iou(words, boxes)
    with pytest.raises(
        ValueError,
        match=r"box_area: boxes must be a rectangular array of numbers, got a ragged "
        r"sequence \(.*inhomogeneous",
    ):
        D.box_area([[0, 0, 1, 1], [0, 0, 1]])
    # numbers of any kind still work: integers, float32, lists
    np.testing.assert_allclose(
        D.box_iou(
            np.array([[0, 0, 2, 2]], np.uint8), boxes.astype(np.float32)
        ),
        [[4 / 100, 1 / 103]],
        rtol=1e-15,
    )

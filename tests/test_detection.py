import numpy as np
import pytest

from nnscratch import detection as D
from nnscratch.gradcheck import numerical_gradient, relative_error

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

"""Object detection: boxes, IoU, non-maximum suppression, average precision, CenterNet.

**Box convention.** A box is a row ``(x0, y0, x1, y1)`` of floats in pixel coordinates:
``x`` to the right, ``y`` down, ``x0 < x1`` and ``y0 < y1``, with continuous coordinates
(pixel ``(row i, column j)`` covers ``[j, j + 1) x [i, i + 1)``), so a box's area is
``(x1 - x0) * (y1 - y0)`` with no "+1". A set of boxes is an array of shape (N, 4).

**Evaluation.** Detections are matched to ground truth greedily in order of decreasing
score, each to the unmatched ground-truth box of its class with the highest IoU above the
threshold (COCO's rule); the rest are false positives. Average precision is the area under
the precision–recall curve with Pascal VOC's all-point interpolation (precision made
non-increasing in recall). :func:`mean_average_precision` averages it over the classes
that have ground truth and over IoU thresholds: ``(0.5,)`` is mAP@0.5,
:data:`COCO_THRESHOLDS` (0.50:0.95 in steps of 0.05) the COCO mean. The official COCO tool
samples the curve at 101 recall points instead and keeps at most 100 detections per image;
the numbers differ slightly.

**Detector.** A centre-point detector (CenterNet, "Objects as points"): a network maps an
image to a grid (stride ``s``) with, per cell, one heatmap logit per class, a box size
``(w, h)`` and a sub-cell offset of the centre, all in grid units. :func:`encode_centernet`
turns boxes into that target, :func:`centernet_loss` is the focal loss on the heatmaps plus
L1 on sizes and offsets at the object centres, with its gradient, and
:func:`decode_centernet` reads boxes back from the peaks of the heatmaps.

See Also
--------
Book, Step 14 "Object detection — theory": every formula and gradient, derived and checked.
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    accumulation_dtype,
    check_finite,
    check_float_array,
    check_int,
    check_labels,
    check_number,
    policy_divide,
)
from .activations import sigmoid

#: IoU thresholds of the COCO mean average precision: 0.50, 0.55, ..., 0.95.
COCO_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)


def _real_array(x, name: str, where: str) -> np.ndarray:
    """``x`` as a float64 array if it holds real numbers (floats or integers).

    Strings, None, booleans and complex numbers are refused naming the dtype that
    arrived, ragged nested lists naming the shape NumPy found: NumPy's own "could not
    convert string to float" names neither the function nor the argument.
    """
    try:
        arr = np.asarray(x)
    except ValueError as e:  # a ragged nested list
        raise ValueError(
            f"{where}: {name} must be a rectangular array of numbers, got a ragged "
            f"sequence ({e})"
        ) from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{where}: {name} must hold real numbers (floats or integers), got dtype "
            f"{arr.dtype}"
        )
    return arr.astype(np.float64, copy=False)


def _check_boxes(boxes, name: str, where: str) -> np.ndarray:
    boxes = _real_array(boxes, name, where)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{where}: {name} must have shape (N, 4), rows (x0, y0, x1, y1), "
            f"got shape {boxes.shape}"
        )
    finite = np.isfinite(boxes).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise ValueError(
            f"{where}: {name} holds non-finite coordinates, row {i} is "
            f"{boxes[i].tolist()}"
        )
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{where}: {name} must have x0 <= x1 and y0 <= y1, row {i} is "
            f"{boxes[i].tolist()}"
        )
    return boxes


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas ``(x1 - x0)(y1 - y0)`` of boxes of shape (N, 4); returns shape (N,)."""
    boxes = _check_boxes(boxes, "boxes", "box_area")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` with every box of ``b``.

    Parameters
    ----------
    a : ndarray of shape (N, 4)
    b : ndarray of shape (M, 4)

    Returns
    -------
    iou : ndarray of shape (N, M)
        :math:`|A \\cap B| / |A \\cup B|`, 0 for disjoint boxes and where both boxes have
        zero area.
    """
    a = _check_boxes(a, "a", "box_iou")
    b = _check_boxes(b, "b", "box_iou")
    lo = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])  # (N, M, 2)
    wh = np.clip(hi - lo, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(
        inter, union, out=np.zeros_like(inter), where=union > 0
    )


def _check_scores(scores, n: int, name: str, where: str) -> np.ndarray:
    """``scores`` as float64 if they are ``n`` finite numbers, one per box; else raise.

    A NaN score would sort as the largest (``argsort`` puts NaN last, and the order is
    by ``-scores``), silently ranking that box first.
    """
    scores = _real_array(scores, name, where)
    if scores.shape != (n,):
        raise ValueError(
            f"{where}: {name} must have shape ({n},), one per box, "
            f"got {scores.shape}"
        )
    return check_finite(scores, name, where)


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5
) -> np.ndarray:
    """Greedy non-maximum suppression.

    Repeatedly keep the highest-scoring remaining box and drop every remaining box whose
    IoU with it exceeds ``iou_threshold``. Equal scores are taken in index order (a stable
    sort), so the result is deterministic.

    Parameters
    ----------
    boxes : ndarray of shape (N, 4)
    scores : ndarray of shape (N,)
    iou_threshold : float in [0, 1]

    Returns
    -------
    keep : ndarray of shape (K,), int64
        Indices of the kept boxes, by decreasing score.
    """
    boxes = _check_boxes(boxes, "boxes", "nms")
    scores = _check_scores(scores, len(boxes), "scores", "nms")
    check_number(iou_threshold, "iou_threshold", "nms", low=0, high=1)
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)  # (N, N), one vectorized product
    alive = np.ones(len(boxes), dtype=bool)
    keep = []
    for i in order:
        if alive[i]:
            keep.append(i)
            alive &= iou[i] <= iou_threshold
    return np.array(keep, dtype=np.int64)


def precision_recall(
    scores: np.ndarray, tp: np.ndarray, n_gt: int
) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each detection, by decreasing score.

    Parameters
    ----------
    scores : ndarray of shape (D,)
    tp : ndarray of shape (D,), bool
        Whether each detection matched a ground-truth box.
    n_gt : int
        Number of ground-truth boxes (> 0).

    Returns
    -------
    precision, recall : ndarrays of shape (D,)
        After the k highest-scoring detections (ties in index order).
    """
    scores = _real_array(scores, "scores", "precision_recall")
    tp = np.asarray(tp, dtype=bool)
    if scores.ndim != 1 or tp.shape != scores.shape:
        raise ValueError(
            f"precision_recall: scores and tp must be 1-D of one length, got "
            f"shapes {scores.shape} and {tp.shape}"
        )
    n_gt = check_int(n_gt, "n_gt", "precision_recall")
    if tp.sum() > n_gt:
        raise ValueError(
            f"precision_recall: {int(tp.sum())} true positives but only {n_gt} "
            "ground-truth boxes"
        )
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(tp[order])
    precision = hits / np.arange(1, len(tp) + 1)
    return precision, hits / n_gt


def average_precision(
    scores: np.ndarray, tp: np.ndarray, n_gt: int
) -> float:
    """Area under the precision–recall curve, Pascal VOC's all-point interpolation.

    The precision at recall :math:`r` is replaced by the best precision at any recall
    :math:`\\geq r` (the curve made non-increasing), and the area is summed over the
    recall steps: :math:`\\mathrm{AP} = \\sum_k (r_k - r_{k-1})\\, p^{\\text{interp}}(r_k)`.

    Returns NaN when ``n_gt`` is 0 (AP is undefined for a class without ground truth;
    :func:`mean_average_precision` leaves such classes out), 0 when there are ground-truth
    boxes but no detections.
    """
    n_gt = check_int(n_gt, "n_gt", "average_precision", minimum=0)
    if n_gt == 0:
        return float("nan")
    if len(np.asarray(scores)) == 0:
        return 0.0
    precision, recall = precision_recall(scores, tp, n_gt)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(recall, prepend=0.0)
    return float(np.sum(steps * envelope))


def match_detections(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_boxes: np.ndarray,
    thresholds=(0.5,),
) -> np.ndarray:
    """Which detections of one image and one class are true positives, per IoU threshold.

    Greedy by decreasing score (ties in index order): each detection takes the unmatched
    ground-truth box with the highest IoU, if that IoU is at least the threshold.

    Parameters
    ----------
    det_boxes : ndarray of shape (D, 4)
    det_scores : ndarray of shape (D,)
        One score per detection.
    gt_boxes : ndarray of shape (G, 4)
    thresholds : sequence of float, default (0.5,)

    Returns
    -------
    tp : ndarray of shape (T, D), bool
        For each of the T thresholds, in the detections' original order.
    """
    thresholds = np.atleast_1d(
        _real_array(thresholds, "thresholds", "match_detections")
    )
    det_boxes = _check_boxes(det_boxes, "det_boxes", "match_detections")
    gt_boxes = _check_boxes(gt_boxes, "gt_boxes", "match_detections")
    n_t, n_d, n_g = len(thresholds), len(det_boxes), len(gt_boxes)
    det_scores = _check_scores(
        det_scores, n_d, "det_scores", "match_detections"
    )
    tp = np.zeros((n_t, n_d), dtype=bool)
    if n_d == 0 or n_g == 0:
        return tp
    iou = box_iou(det_boxes, gt_boxes)  # (D, G)
    taken = np.zeros((n_t, n_g), dtype=bool)
    rows = np.arange(n_t)
    for d in np.argsort(-det_scores, kind="stable"):
        # All thresholds at once: IoU of free boxes above the threshold, else -1.
        ok = (iou[d][None, :] >= thresholds[:, None]) & ~taken  # (T, G)
        cand = np.where(ok, iou[d][None, :], -1.0)
        best = np.argmax(cand, axis=1)  # (T,)
        hit = cand[rows, best] >= 0
        tp[hit, d] = True
        taken[rows[hit], best[hit]] = True
    return tp


def _check_box_labels(
    labels,
    n_boxes: int,
    n_classes: int,
    entry: str,
    where: str = "mean_average_precision",
) -> np.ndarray:
    """The class labels of one image's boxes as an integer array, checked.

    ``entry`` names the image's list entry (``"detections[3]"``) in the message.
    """
    labels = np.asarray(labels)
    if labels.shape != (n_boxes,):
        raise ValueError(
            f"{where}: the labels of {entry} must have shape ({n_boxes},), one per "
            f"box, got {labels.shape}"
        )
    # an empty list holds no wrong label, whatever its dtype
    if labels.size == 0:
        return labels.astype(np.int64)
    return check_labels(
        labels,
        n_boxes,
        n_classes,
        where=where,
        name=f"the labels of {entry}",
    )


def _image_boxes(boxes, name: str, where: str) -> np.ndarray:
    """One image's boxes, (N, 4), checked; an empty list (no box) of any shape is (0, 4)."""
    boxes = _real_array(boxes, name, where)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    return _check_boxes(boxes, name, where)


def mean_average_precision(
    detections: list,
    ground_truth: list,
    n_classes: int,
    thresholds=(0.5,),
) -> dict:
    """Mean average precision over classes and IoU thresholds, on a set of images.

    Parameters
    ----------
    detections : list of (boxes, scores, labels), one per image
        ``boxes`` of shape (D, 4), ``scores`` (D,), ``labels`` (D,) integers in
        ``[0, n_classes)``.
    ground_truth : list of (boxes, labels), one per image
        ``boxes`` of shape (G, 4), ``labels`` (G,) integers in ``[0, n_classes)``.
    n_classes : int
    thresholds : sequence of float, default (0.5,)
        IoU thresholds; :data:`COCO_THRESHOLDS` for the COCO mean.

    Returns
    -------
    dict
        ``"map"``: the mean over thresholds of the mean over classes with ground truth;
        ``"ap"``: ndarray (T, n_classes) of AP per threshold and class (NaN for a class
        without ground truth); ``"thresholds"``; ``"scores"``, ``"tp"``, ``"n_gt"``: the
        pooled detections of each class (lists indexed by class), for curves.
    """
    where = "mean_average_precision"
    n_classes = check_int(n_classes, "n_classes", where)
    if len(detections) != len(ground_truth):
        raise ValueError(
            f"{where}: one list entry per image: {len(detections)} detections but "
            f"{len(ground_truth)} ground truths"
        )
    thresholds = np.atleast_1d(_real_array(thresholds, "thresholds", where))
    n_t = len(thresholds)
    scores = [[] for _ in range(n_classes)]
    tps = [[] for _ in range(n_classes)]
    n_gt = np.zeros(n_classes, dtype=np.int64)
    for i, ((db, ds, dl), (gb, gl)) in enumerate(
        zip(detections, ground_truth)
    ):
        db = _image_boxes(db, f"the boxes of detections[{i}]", where)
        gb = _image_boxes(gb, f"the boxes of ground_truth[{i}]", where)
        ds = _check_scores(
            ds, len(db), f"the scores of detections[{i}]", where
        )
        dl = _check_box_labels(dl, len(db), n_classes, f"detections[{i}]")
        gl = _check_box_labels(gl, len(gb), n_classes, f"ground_truth[{i}]")
        n_gt += np.bincount(gl, minlength=n_classes)
        for c in np.unique(dl):
            d_c, g_c = dl == c, gl == c
            tp = match_detections(db[d_c], ds[d_c], gb[g_c], thresholds)
            scores[c].append(ds[d_c])
            tps[c].append(tp)
    ap = np.full((n_t, n_classes), np.nan)
    out_scores, out_tp = [], []
    for c in range(n_classes):
        s = np.concatenate(scores[c]) if scores[c] else np.zeros(0)
        t = (
            np.concatenate(tps[c], axis=1)
            if tps[c]
            else np.zeros((n_t, 0), bool)
        )
        out_scores.append(s)
        out_tp.append(t)
        for k in range(n_t):
            ap[k, c] = average_precision(s, t[k], n_gt[c])
    has_gt = n_gt > 0
    if not has_gt.any():
        raise ValueError(f"{where}: no ground-truth boxes in any image")
    return {
        "map": float(np.mean(ap[:, has_gt])),
        "ap": ap,
        "thresholds": thresholds,
        "scores": out_scores,
        "tp": out_tp,
        "n_gt": n_gt,
    }


# ------------------------------------------------------------------ CenterNet


def encode_centernet(
    boxes: list,
    labels: list,
    n_classes: int,
    grid: int,
    stride: int,
    dtype=np.float32,
) -> np.ndarray:
    """The training target of a centre-point detector.

    Parameters
    ----------
    boxes : list of ndarray of shape (G_i, 4), one per image, in pixels
    labels : list of ndarray of shape (G_i,)
    n_classes, grid, stride : int
        The output grid is ``grid x grid`` cells of ``stride`` pixels.

    Returns
    -------
    target : ndarray of shape (N, n_classes + 5, grid, grid)
        Channels ``0..C-1``: heatmaps, a Gaussian :math:`\\exp(-d^2 / 2\\sigma^2)` around
        each object's centre cell in its class's channel (the maximum where two overlap),
        exactly 1 at the centre cell; ``C, C+1``: the box's width and height in grid units,
        at the centre cell; ``C+2, C+3``: the offset of the centre inside its cell, in
        [0, 1); ``C+4``: 1 at the centre cells, 0 elsewhere (the regression mask).

    Notes
    -----
    The centre ``(c_x, c_y)`` lies in cell ``(floor(c_y / s), floor(c_x / s))``. The
    Gaussian's width grows with the box: :math:`\\sigma = \\max(0.5, \\sqrt{wh} / 6)` in grid
    units (CenterNet derives it from an IoU radius; any width that covers the cells whose
    box would still overlap well serves the same purpose). Two objects whose centres fall in
    one cell keep the size and offset of the one listed last (written object by object, not
    by a fancy-indexed assignment, whose order for repeated indices NumPy leaves open).
    """
    where = "encode_centernet"
    n_classes = check_int(n_classes, "n_classes", where)
    grid = check_int(grid, "grid", where)
    stride = check_int(stride, "stride", where)
    if len(boxes) != len(labels):
        raise ValueError(
            f"{where}: boxes and labels must have one entry per image, got "
            f"{len(boxes)} and {len(labels)}"
        )
    c = n_classes
    target = np.zeros((len(boxes), c + 5, grid, grid), dtype=dtype)
    cells = np.arange(grid, dtype=np.float64)
    for n, (b, lab) in enumerate(zip(boxes, labels)):
        b = _check_boxes(b, f"boxes[{n}]", where) / stride  # grid units
        lab = _check_box_labels(lab, len(b), c, f"image {n}", where)
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        j = np.clip(np.floor(cx).astype(int), 0, grid - 1)
        i = np.clip(np.floor(cy).astype(int), 0, grid - 1)
        sigma = np.maximum(0.5, np.sqrt(w * h) / 6)
        # Every object's Gaussian on the whole grid at once: (G, grid, grid).
        g = np.exp(
            -((cells[None, :, None] - i[:, None, None]) ** 2)
            / (2 * sigma[:, None, None] ** 2)
            - ((cells[None, None, :] - j[:, None, None]) ** 2)
            / (2 * sigma[:, None, None] ** 2)
        )
        # object by object, in order: of two centres in one cell, the last stays
        for k in range(len(b)):
            np.maximum(target[n, lab[k]], g[k], out=target[n, lab[k]])
            target[n, c:, i[k], j[k]] = (
                w[k],
                h[k],
                cx[k] - j[k],
                cy[k] - i[k],
                1,
            )
    return target


def _centernet_classes(out, where: str) -> int:
    """The number C of classes of a detector's output (N, C + 4, H, W), at least 1."""
    check_float_array(out, "out", ndim=4, where=where)
    c = out.shape[1] - 4
    if c < 1:
        raise ValueError(
            f"{where}: out must have C + 4 channels, C >= 1 heatmap logits and then "
            f"w, h, dx, dy, so at least 5; got shape {out.shape} ({out.shape[1]} "
            f"channels)"
        )
    return c


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    """:math:`\\log \\sigma(z) = -\\operatorname{softplus}(-z)`, without overflow."""
    return -(np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z))))


def centernet_loss(
    out: np.ndarray,
    target: np.ndarray,
    *,
    alpha: float = 2.0,
    beta: float = 4.0,
    size_weight: float = 0.1,
    offset_weight: float = 1.0,
) -> tuple[float, np.ndarray]:
    """Focal loss on the heatmaps plus L1 on sizes and offsets, and its gradient.

    Parameters
    ----------
    out : ndarray of shape (N, C + 4, H, W)
        The network's output: C heatmap logits :math:`z`, then ``w, h, dx, dy``.
    target : ndarray of shape (N, C + 5, H, W)
        From :func:`encode_centernet`.
    alpha, beta : float
        Focal exponents (CenterNet's 2 and 4).
    size_weight, offset_weight : float
        Weights of the L1 terms (CenterNet's 0.1 and 1).

    Returns
    -------
    loss : float
    dout : ndarray of shape (N, C + 4, H, W)

    Notes
    -----
    With :math:`p = \\sigma(z)`, heatmap target :math:`y`, and :math:`M` the number of
    centre cells in the batch (at least 1; the objects, unless two centres share a cell), the
    loss is

    .. math::

        L &= \\tfrac1M \\big(L_\\text{heat} + L_\\text{box}\\big), \\\\
        L_\\text{heat} &= -\\sum_{y = 1} (1 - p)^\\alpha \\log p \\\\
        &\\quad {} - \\sum_{y < 1} (1 - y)^\\beta p^\\alpha \\log(1 - p), \\\\
        L_\\text{box} &= \\sum_{\\text{centres}} \\lambda_s |\\hat s - s|_1 \\\\
        &\\quad {} + \\lambda_o |\\hat o - o|_1,

    and its gradient with respect to the logits is :math:`(1 - p)^\\alpha(\\alpha p \\log p -
    (1 - p)) / M` at the centres, :math:`(1 - y)^\\beta p^\\alpha \\bigl(p - {}`
    :math:`\\alpha (1 - p) \\log(1 - p)\\bigr) / M` elsewhere; the L1 terms give
    :math:`\\lambda\\, \\mathrm{sign}(\\hat s - s) / M`
    at the centres (0 where the prediction equals the target).
    """
    where = "centernet_loss"
    c = _centernet_classes(out, where)
    check_float_array(target, "target", ndim=4, where=where)
    n, _, hh, ww = out.shape
    if target.shape != (n, c + 5, hh, ww):
        raise ValueError(
            f"{where}: out (N, C + 4, H, W) and target (N, C + 5, H, W) "
            f"must agree, got {out.shape} and {target.shape}"
        )
    for name, value in (
        ("alpha", alpha),
        ("beta", beta),
        ("size_weight", size_weight),
        ("offset_weight", offset_weight),
    ):
        check_number(value, name, where, low=0)
    # float16 accumulates its sums, and is divided by M, in float32
    acc = accumulation_dtype(np.result_type(out, target))
    z = out[:, :c]
    y = target[:, :c]
    mask = target[:, c + 4 : c + 5]  # (N, 1, H, W)
    m = max(float(mask.sum(dtype=acc)), 1.0)
    log_p = _log_sigmoid(z)
    log_q = log_p - z  # log(1 - p) = log sigma(-z) = log sigma(z) - z
    p = np.exp(log_p)
    q = 1 - p
    pos = y == 1
    loss_pos = -(q**alpha) * log_p
    neg_w = (1 - y) ** beta
    loss_neg = -neg_w * p**alpha * log_q
    heat = np.where(pos, loss_pos, loss_neg).sum(dtype=acc)
    dz = np.where(
        pos,
        q**alpha * (alpha * p * log_p - q),
        neg_w * p**alpha * (p - alpha * q * log_q),
    )
    diff = (out[:, c:] - target[:, c : c + 4]) * mask  # (N, 4, H, W)
    weights = np.array(
        [size_weight, size_weight, offset_weight, offset_weight],
        dtype=out.dtype,
    )[None, :, None, None]
    reg = float(np.sum(weights * np.abs(diff), dtype=acc))
    # / M (float16: in float32, where M >= 65520 is inf), in out's dtype
    dout = np.empty_like(out)
    dout[:, :c] = policy_divide(dz, m)
    dout[:, c:] = policy_divide(weights * np.sign(diff), m)
    return float((heat + reg) / m), dout


def decode_centernet(
    out: np.ndarray,
    stride: int,
    k: int = 20,
    min_score: float = 0.05,
) -> list:
    """Boxes, scores and labels from a centre-point detector's output.

    A cell is a peak if its heatmap score :math:`\\sigma(z)` is the maximum of its 3x3
    neighbourhood in its class's channel (this replaces NMS); the ``k`` highest peaks of
    each image with a score of at least ``min_score`` become boxes centred at
    ``(cell + offset) * stride`` with size ``(w, h) * stride``. Cells that are not
    peaks never become boxes, whatever ``min_score``.

    Parameters
    ----------
    out : ndarray of shape (N, C + 4, H, W)
        C >= 1 heatmap logits, then ``w, h, dx, dy``.
    stride : int
    k : int, default 20
        The most boxes per image (positive).
    min_score : float in [0, 1], default 0.05
        The lowest score of a box; 0 keeps every peak (up to ``k``).

    Returns
    -------
    list of (boxes (D, 4), scores (D,), labels (D,)), one per image, by decreasing score
    """
    where = "decode_centernet"
    c = _centernet_classes(out, where)
    stride = check_int(stride, "stride", where)
    k = check_int(k, "k", where)
    check_number(min_score, "min_score", where, low=0, high=1)
    n, _, hh, ww = out.shape
    heat = sigmoid(out[:, :c].astype(np.float64))  # (N, C, H, W)
    padded = np.pad(
        heat, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-1
    )
    windows = np.lib.stride_tricks.sliding_window_view(
        padded, (3, 3), axis=(2, 3)
    )  # (N, C, H, W, 3, 3)
    peak = heat >= windows.max(axis=(4, 5))  # (N, C, H, W), bool
    # ranked by score, non-peaks at 0 (below every peak of a positive score);
    # kept by the mask: peaks of at least min_score, never a non-peak's 0
    flat = np.where(peak, heat, 0.0).reshape(n, -1)  # (N, C*H*W)
    kept = (peak & (heat >= min_score)).reshape(n, -1)
    k = min(k, flat.shape[1])
    top = np.argpartition(-flat, k - 1, axis=1)[:, :k]  # (N, k)
    result = []
    for e in range(n):
        idx = top[e][np.argsort(-flat[e, top[e]], kind="stable")]
        idx = idx[kept[e, idx]]
        cls, i, j = np.unravel_index(idx, (c, hh, ww))
        w, h, dx, dy = out[e, c:, i, j].astype(np.float64).T  # (4, D)
        cx, cy = (j + dx) * stride, (i + dy) * stride
        w, h = np.maximum(w, 0) * stride, np.maximum(h, 0) * stride
        boxes = np.stack(
            [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1
        )
        result.append((boxes, flat[e, idx], cls.astype(np.int64)))
    return result

import numpy as np
import pytest

from nnscratch.data.canvases import make_canvases
from nnscratch.detection import box_iou


def _digits():
    # Ten synthetic "digits": a filled rectangle of known ink extent each.
    images = np.zeros((10, 28, 28), np.float32)
    for k in range(10):
        images[k, 4 : 24 - k, 6:22] = 1.0
    return images, np.arange(10)


def test_shapes_determinism_and_labels():
    images, labels = _digits()
    x, boxes, labs = make_canvases(
        images, labels, 30, rng=np.random.default_rng(0)
    )
    assert x.shape == (30, 1, 64, 64) and x.dtype == np.float32
    assert len(boxes) == len(labs) == 30
    counts = [len(b) for b in boxes]
    assert min(counts) >= 1 and max(counts) <= 4
    x2, boxes2, _ = make_canvases(
        images, labels, 30, rng=np.random.default_rng(0)
    )
    np.testing.assert_array_equal(x, x2)
    for b, b2 in zip(boxes, boxes2):
        np.testing.assert_array_equal(b, b2)
    x3, _, _ = make_canvases(
        images, labels, 30, rng=np.random.default_rng(1)
    )
    assert not np.array_equal(x, x3)


def test_boxes_are_the_ink_and_overlap_is_bounded():
    images, labels = _digits()
    x, boxes, labs = make_canvases(
        images, labels, 50, rng=np.random.default_rng(2), max_overlap=0.1
    )
    for img, b, lab in zip(x[:, 0], boxes, labs):
        assert ((b >= 0) & (b <= 64)).all()
        # ink inside the union of the boxes only
        inside = np.zeros_like(img, bool)
        for x0, y0, x1, y1 in b.astype(int):
            inside[y0:y1, x0:x1] = True
            assert img[y0:y1, x0:x1].max() > 0.5  # each box holds ink
        assert img[~inside].max(initial=0) == 0
        iou = box_iou(b, b)
        assert (iou[~np.eye(len(b), dtype=bool)] <= 0.1 + 1e-12).all()
        # ink height of digit k is 20 - k pixels, scaled by 0.6..1.1
        h = b[:, 3] - b[:, 1]
        assert (
            (h >= 0.6 * (20 - lab) - 1) & (h <= 1.1 * (20 - lab) + 1)
        ).all()


def test_takes_mnist_layouts_and_refuses_bad_input():
    images, labels = _digits()
    rng = np.random.default_rng(0)
    for layout in (images.reshape(10, 784), images.reshape(10, 1, 28, 28)):
        x, _, _ = make_canvases(
            layout, labels, 2, rng=np.random.default_rng(0)
        )
        x0, _, _ = make_canvases(
            images, labels, 2, rng=np.random.default_rng(0)
        )
        np.testing.assert_array_equal(x, x0)
    with pytest.raises(ValueError, match="28x28"):
        make_canvases(np.zeros((3, 10)), np.zeros(3), 2, rng=rng)
    with pytest.raises(ValueError, match="one per image"):
        make_canvases(images, labels[:5], 2, rng=rng)
    with pytest.raises(ValueError, match="scale"):
        make_canvases(images, labels, 2, rng=rng, size=28, scale=(0.5, 1.5))
    with pytest.raises(TypeError):
        make_canvases(images, labels, 2, rng=0)


def test_a_blank_image_gives_no_box_and_no_label():
    blank = np.zeros((1, 28, 28), np.float32)
    x, boxes, labs = make_canvases(
        blank, np.array([7]), 10, rng=np.random.default_rng(0)
    )
    assert not x.any()
    for b, lab in zip(boxes, labs):
        assert b.shape == (0, 4)
        assert lab.shape == (0,) and lab.dtype == np.int64
    # beside a digit with ink, the blank one's label never appears
    images, labels = _digits()
    images[7] = 0
    _, boxes, labs = make_canvases(
        images, labels, 40, rng=np.random.default_rng(0)
    )
    drawn = np.concatenate(labs)
    assert 7 not in drawn and set(drawn) == set(range(10)) - {7}
    assert all(len(b) == len(lab) for b, lab in zip(boxes, labs))


def test_a_digit_that_finds_no_free_place_is_left_out():
    # a digit inked edge to edge at scale 1 fills the 28-pixel canvas: every later digit
    # overlaps it with IoU 1
    full = np.ones((1, 28, 28), np.float32)
    kw = dict(size=28, max_digits=4, scale=(1.0, 1.0))
    _, boxes, labs = make_canvases(
        full, np.array([3]), 20, rng=np.random.default_rng(0), max_overlap=0.1, **kw
    )
    for b, lab in zip(boxes, labs):
        np.testing.assert_array_equal(b, [[0, 0, 28, 28]])
        np.testing.assert_array_equal(lab, [3])
    # with any overlap allowed the same seed gives canvases of several digits: the
    # overlap was what left them out
    _, boxes, _ = make_canvases(
        full, np.array([3]), 20, rng=np.random.default_rng(0), max_overlap=1.0, **kw
    )
    assert max(len(b) for b in boxes) > 1

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
    with pytest.raises(TypeError, match="make_canvases: rng must be a numpy.random.Generator"):
        make_canvases(images, labels, 2, rng=0)


@pytest.mark.parametrize("labels, dtype", [
    (np.array([0.7, 2.9] * 5), "float64"),   # would be cut to 0 and 2
    (np.arange(10) == 3, "bool"),
])
def test_labels_that_are_not_integers_are_refused(labels, dtype):
    images, _ = _digits()
    with pytest.raises(TypeError, match="make_canvases: labels must hold integer class "
                                        f"labels, got dtype {dtype}"):
        make_canvases(images, labels, 2, rng=np.random.default_rng(0))


def test_images_must_be_floats_in_0_1_and_at_least_one():
    images, labels = _digits()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"make_canvases: images holds no digits \(M = 0, "
                                         r"shape \(0, 28, 28\)\); pass at least one"):
        make_canvases(images[:0], labels[:0], 2, rng=rng)
    with pytest.raises(ValueError, match=r"images holds no digits \(M = 0, shape \(0, 784\)"):
        make_canvases(np.zeros((0, 784), np.float32), labels[:0], 2, rng=rng)
    for raw in ((images * 255).astype(np.uint8), images.astype(np.int64)):
        with pytest.raises(TypeError, match=r"make_canvases: images must hold pixel values in "
                                            r"\[0, 1\] as float16, float32 or float64, got "
                                            rf"dtype {raw.dtype}; for raw MNIST bytes pass "
                                            r"images.astype\(np.float32\) / 255"):
            make_canvases(raw, labels, 2, rng=rng)
    for low, high in ((0.0, 255.0), (-0.5, 1.0)):
        bad = images.copy()
        bad[0, 0, 0], bad[1, 0, 0] = low, high
        with pytest.raises(ValueError, match=r"make_canvases: images must hold pixel values in "
                                             rf"\[0, 1\], got values from {low} to {high}"):
            make_canvases(bad, labels, 2, rng=rng)
    bad = images.copy()
    bad[3, 10, 10] = np.nan
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\], got values from nan"):
        make_canvases(bad, labels, 2, rng=rng)
    # float16 and float64 images, and images exactly 0 and 1, are fine
    for dtype in (np.float16, np.float64):
        x, _, _ = make_canvases(images.astype(dtype), labels, 2, rng=np.random.default_rng(0))
        x0, _, _ = make_canvases(images, labels, 2, rng=np.random.default_rng(0))
        np.testing.assert_array_equal(x, x0)


def test_the_canvas_dtype_must_be_a_float():
    images, labels = _digits()
    images = images * np.float32(0.5)   # ink of 0.5: integer canvases would be blank
    for dtype in (np.int64, np.uint8, "bool"):
        with pytest.raises(TypeError, match="make_canvases: dtype must be float16, float32 or "
                                            "float64, got"):
            make_canvases(images, labels, 2, rng=np.random.default_rng(0), dtype=dtype)
    x, _, _ = make_canvases(images, labels, 2, rng=np.random.default_rng(0), dtype=np.float64)
    assert x.dtype == np.float64 and x.max() == 0.5


@pytest.mark.parametrize("scale, error, words", [
    (0.8, TypeError, "scale must be a pair (low, high) of numbers, got 0.8"),
    ((0.5, 0.8, 1.0), TypeError, "scale must be a pair (low, high) of numbers, got (0.5, 0.8, 1.0)"),
    ((0.5,), TypeError, "scale must be a pair (low, high) of numbers, got (0.5,)"),
    (("a", 1.0), TypeError, "scale's low must be finite, got 'a' of type str"),
    ((0.5, None), TypeError, "scale's high must be finite, got None of type NoneType"),
    ((0.5, np.nan), ValueError, "scale's high must be finite, got nan"),
    ((0.8, 0.6), ValueError, "scale must satisfy 0 < low <= high <= size / 28, got (0.8, 0.6)"),
    ((0.0, 1.0), ValueError, "scale must satisfy 0 < low <= high <= size / 28, got (0.0, 1.0)"),
])
def test_a_scale_that_is_not_a_pair_in_range_is_refused(scale, error, words):
    images, labels = _digits()
    with pytest.raises(error) as info:
        make_canvases(images, labels, 2, rng=np.random.default_rng(0), scale=scale)
    assert str(info.value) == f"make_canvases: {words}"


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

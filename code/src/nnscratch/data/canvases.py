"""Detection canvases: a few digits at random positions and scales on a blank image.

:func:`make_canvases` draws, from an explicit ``np.random.Generator``, images holding one
to ``max_digits`` digits taken from the images it is given (MNIST's training digits for a
training set, its test digits for a test set), each cropped to its ink, scaled, and pasted
where it overlaps the digits already placed by at most ``max_overlap`` (IoU). A digit's box
is the extent of its scaled ink crop, ``(x0, y0, x1, y1)`` in pixels (the convention of
:mod:`nnscratch.detection`), its class its label.

See Also
--------
Book, Step 14 "Object detection — practice".
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import (
    check_float_dtype,
    check_int,
    check_labels,
    check_number,
    check_rng,
)


def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Linear interpolation from ``n_in`` to ``n_out`` samples: shape (n_out, n_in)."""
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    t = pos - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - t
    m[np.arange(n_out), hi] += t
    return m


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area(box) + area(boxes) - inter)


def make_canvases(
    images: np.ndarray,
    labels: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator,
    size: int = 64,
    max_digits: int = 4,
    scale: tuple[float, float] = (0.6, 1.1),
    max_overlap: float = 0.1,
    dtype=np.float32,
) -> tuple[np.ndarray, list, list]:
    """Draw ``n`` canvases of one to ``max_digits`` digits with their boxes and labels.

    Parameters
    ----------
    images : ndarray of shape (M, 28, 28), (M, 1, 28, 28) or (M, 784), M >= 1
        Floating-point pixel values in [0, 1] (raw MNIST bytes: divide by 255 first).
    labels : ndarray of shape (M,), integers
    n : int
        Number of canvases.
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the same canvases.
    size : int, default 64
        Canvas side in pixels.
    max_digits : int, default 4
        Each canvas holds a number of digits drawn uniformly from 1..max_digits.
    scale : (float, float), default (0.6, 1.1)
        Range ``(low, high)`` of the factor applied to a digit's ink crop (an MNIST
        digit's ink is about 20 pixels tall, so digits are about 12 to 22 pixels tall);
        ``0 < low <= high <= size / 28``.
    max_overlap : float, default 0.1
        Largest IoU allowed between a new digit's box and each earlier one; a digit that
        finds no such place in 20 draws is left out (so a canvas may hold fewer digits).
    dtype : float16, float32 or float64, default float32
        dtype of the canvases.

    Returns
    -------
    x : ndarray of shape (n, 1, size, size)
        Canvases, pixel-wise maximum of the pasted digits, in ``dtype``.
    boxes : list of n ndarrays of shape (G_i, 4)
    labels : list of n ndarrays of shape (G_i,), int64

    Raises
    ------
    TypeError
        For labels that are not integers, images or a ``dtype`` that are not floats, or a
        ``scale`` that is not a pair of numbers.
    ValueError
        For no images, images of another shape or with values outside [0, 1], one label
        per image missing, or a ``scale`` out of range.
    """
    where = "make_canvases"
    check_rng(rng, where)
    n = check_int(n, "n", where)
    size = check_int(size, "size", where, minimum=28)
    max_digits = check_int(max_digits, "max_digits", where)
    check_number(max_overlap, "max_overlap", where, low=0, high=1)
    dtype = check_float_dtype(dtype, where)
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim < 2 or math.prod(images.shape[1:]) != 784:
        raise ValueError(
            f"{where}: images must be 28x28 digits, shape (M, 28, 28), (M, 1, 28, 28) "
            f"or (M, 784), got {images.shape}"
        )
    if len(images) == 0:
        raise ValueError(
            f"{where}: images holds no digits (M = 0, shape {images.shape}); pass at "
            f"least one to draw from"
        )
    if images.dtype.kind != "f" or images.dtype.itemsize > 8:
        raise TypeError(
            f"{where}: images must hold pixel values in [0, 1] as float16, float32 or "
            f"float64, got dtype {images.dtype}; for raw MNIST bytes pass "
            f"images.astype(np.float32) / 255"
        )
    lo_px, hi_px = images.min(), images.max()
    if not (lo_px >= 0 and hi_px <= 1):  # also refuses NaN
        raise ValueError(
            f"{where}: images must hold pixel values in [0, 1], got values from "
            f"{lo_px} to {hi_px}"
        )
    images = images.reshape(-1, 28, 28)
    if labels.shape != (len(images),):
        raise ValueError(
            f"{where}: labels must have shape ({len(images)},), one per image, got "
            f"{labels.shape}"
        )
    check_labels(labels, len(images), where=where, name="labels")
    try:
        lo_s, hi_s = scale
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: scale must be a pair (low, high) of numbers, got {scale!r}"
        ) from None
    lo_s = check_number(lo_s, "scale's low", where)
    hi_s = check_number(hi_s, "scale's high", where)
    if not 0 < lo_s <= hi_s or hi_s * 28 > size:
        raise ValueError(
            f"{where}: scale must satisfy 0 < low <= high <= size / 28, got {scale}"
        )
    x = np.zeros((n, 1, size, size), dtype=dtype)
    all_boxes, all_labels = [], []
    for e in range(n):
        k = rng.integers(1, max_digits + 1)
        boxes, labs = np.zeros((0, 4)), []
        for _ in range(k):
            idx = rng.integers(len(images))
            digit = images[idx]
            rows = np.flatnonzero(digit.max(axis=1) > 0)
            cols = np.flatnonzero(digit.max(axis=0) > 0)
            if rows.size == 0:
                continue  # a blank image has no box
            crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            s = rng.uniform(lo_s, hi_s)
            h = max(2, int(round(crop.shape[0] * s)))
            w = max(2, int(round(crop.shape[1] * s)))
            for _attempt in range(20):
                y0 = rng.integers(0, size - h + 1)
                x0 = rng.integers(0, size - w + 1)
                box = np.array([x0, y0, x0 + w, y0 + h], dtype=float)
                if (
                    len(boxes) == 0
                    or _iou_one(box, boxes).max() <= max_overlap
                ):
                    break
            else:
                continue
            scaled = (
                _resize_matrix(crop.shape[0], h)
                @ crop
                @ _resize_matrix(crop.shape[1], w).T
            )  # (h, w)
            region = x[e, 0, y0 : y0 + h, x0 : x0 + w]
            np.maximum(region, scaled.astype(dtype), out=region)
            boxes = np.vstack([boxes, box])
            labs.append(int(labels[idx]))
        all_boxes.append(boxes)
        all_labels.append(np.array(labs, dtype=np.int64))
    return x, all_boxes, all_labels

"""Input validation shared by every module: errors that say what was expected and what arrived.

Every check of an argument lives here, so that one kind of mistake gets one kind of message
everywhere: the caller (``"Dense"``, ``"fit"``), the argument's name, what was expected and
what arrived. Wrong values raise ``ValueError``, wrong types and dtypes ``TypeError``.

This module also implements the dtype policy stated in :mod:`nnscratch` (floats accepted and
kept, integers and booleans refused by layers and losses, low precision accumulated in
float32): :func:`check_float_array` refuses, :func:`accumulation_dtype` and
:func:`policy_sum` accumulate.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def check_array(
    x, name: str, *, ndim: int | None = None, dtype=None, where: str = ""
) -> np.ndarray:
    """Return ``x`` if it is an ndarray of the expected rank and dtype, else raise.

    Parameters
    ----------
    x : object
        The value to check.
    name : str
        How the value is called in the error message (``"x"``, ``"dout"``, ...).
    ndim : int, optional
        Required number of dimensions.
    dtype : numpy dtype, optional
        Required dtype; no silent casting, because casts in hot paths cost time and hide bugs.
    where : str
        The caller, named in the error message (``"Dense.forward"``).
    """
    prefix = _prefix(where)
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{prefix}{name} must be a numpy.ndarray, got {type(x).__name__}"
        )
    if ndim is not None and x.ndim != ndim:
        raise ValueError(
            f"{prefix}{name} must have {ndim} dimensions, got shape {x.shape} ({x.ndim} dimensions)"
        )
    if dtype is not None and x.dtype != np.dtype(dtype):
        raise TypeError(
            f"{prefix}{name} must have dtype {np.dtype(dtype)}, got {x.dtype}; "
            f"convert it first, e.g. {name}.astype(np.{np.dtype(dtype)})"
        )
    return x


def check_float_array(
    x, name: str, *, ndim: int | None = None, dtype=None, where: str = ""
) -> np.ndarray:
    """Like :func:`check_array`, and refuse anything but float16, float32 or float64.

    Integers and booleans are refused rather than cast: a cast would silently truncate
    (a leaky slope of 0.01 times an integer is 0) or silently change the dtype of every
    array downstream.
    """
    check_array(x, name, ndim=ndim, where=where)
    # dtype.kind rather than np.issubdtype: the same test, and this runs in every forward
    # and backward pass, where issubdtype's few microseconds add up over small batches
    if x.dtype.kind != "f" or x.dtype.itemsize > 8:
        raise TypeError(
            f"{_prefix(where)}{name} must hold floating-point numbers (float16, float32 or "
            f"float64), got dtype {x.dtype}; convert it first, e.g. {name}.astype(np.float32)"
        )
    if dtype is not None:
        check_array(x, name, dtype=dtype, where=where)
    return x


def check_dout(dout, shape: tuple, dtype, where: str) -> np.ndarray:
    """Refuse an upstream gradient unless it is a float array of ``shape`` and ``dtype``."""
    check_float_array(dout, "dout", dtype=dtype, where=where)
    if dout.shape != shape:
        raise ValueError(
            f"{_prefix(where)}dout must have shape {shape}, got {dout.shape}"
        )
    return dout


def check_float_dtype(dtype, where: str) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float16, float32 or float64, else raise ``TypeError``.

    For the ``dtype=`` of a layer's parameters: integer parameters cannot learn by gradient.
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f" or dt.itemsize > 8:
        raise TypeError(
            f"{_prefix(where)}dtype must be float16, float32 or float64, got {dtype!r}"
        )
    return dt


def accumulation_dtype(dtype) -> np.dtype:
    """The dtype in which sums over many elements of ``dtype`` are accumulated.

    float16 sums overflow past 65504 and lose every addend below 1/2048 of the running total,
    so they accumulate in float32 (what PyTorch and cuDNN do); float32 and float64 accumulate
    in their own dtype.
    """
    return np.promote_types(dtype, np.float32)


def policy_divide(a: np.ndarray, n: float) -> np.ndarray:
    """``a / n`` in ``a``'s dtype; for float16, divided in float32 and rounded once.

    A loss's ``1/N``: float16 has no number above 65504, so ``float16(N)`` for a larger
    batch (a sequence loss over N·T positions, say) would be infinite and every gradient 0.
    """
    if a.dtype == np.float16:
        return (a.astype(np.float32) / np.float32(n)).astype(np.float16)
    return a / a.dtype.type(n)


def policy_sum(a: np.ndarray, axis: int) -> np.ndarray:
    """``a.sum(axis)`` accumulated in :func:`accumulation_dtype`, returned in ``a``'s dtype.

    The sums over a batch in the layers' backward passes (bias gradients, BatchNorm's sums):
    a no-op cast for float32 and float64, float32 accumulation for float16.
    """
    return a.sum(axis=axis, dtype=accumulation_dtype(a.dtype)).astype(
        a.dtype, copy=False
    )


def policy_mean(a: np.ndarray, axis: int) -> np.ndarray:
    """``a.mean(axis)`` accumulated in :func:`accumulation_dtype`, returned in ``a``'s dtype.

    Unlike ``policy_sum(a) / n``, the result is as large as the elements, never ``n`` times
    larger, so it does not overflow float16 when ``a``'s sum would.
    """
    return a.mean(axis=axis, dtype=accumulation_dtype(a.dtype)).astype(
        a.dtype, copy=False
    )


def check_same_shape(
    a: np.ndarray, b: np.ndarray, names: tuple[str, str], where: str = ""
) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{_prefix(where)}{names[0]} and {names[1]} must have the same shape, "
            f"got {names[0]}.shape={a.shape} and {names[1]}.shape={b.shape}"
        )


def check_labels(
    y,
    n: int,
    n_classes: int | None = None,
    where: str = "",
    name: str = "y",
) -> np.ndarray:
    """Check integer class labels of shape ``(n,)`` with values in ``[0, n_classes)``.

    ``name`` is how the caller calls the labels (``"y"``, ``"y_true"``, ``"y_pred"``,
    ``"labels"``), named in the error message.
    """
    prefix = _prefix(where)
    if not isinstance(y, np.ndarray):
        raise TypeError(
            f"{prefix}{name} must be a numpy.ndarray of integer labels, got {type(y).__name__}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(
            f"{prefix}{name} must hold integer class labels, got dtype {y.dtype}"
        )
    if y.shape != (n,):
        raise ValueError(
            f"{prefix}{name} must have shape ({n},) to match the batch, got {y.shape}"
        )
    if (
        n_classes is not None
        and y.size
        and (y.min() < 0 or y.max() >= n_classes)
    ):
        raise ValueError(
            f"{prefix}{name} must lie in [0, {n_classes}), got values from "
            f"{y.min()} to {y.max()}"
        )
    return y


def check_token_ids(
    x,
    n_tokens: int | None,
    *,
    where: str,
    bags: bool = False,
    name: str = "x",
) -> np.ndarray:
    """Raise unless ``x`` holds integer token ids in ``[0, n_tokens)`` (``n_tokens``
    None: integers, their range unchecked) and, with ``bags``, is a (N, L) array;
    return ``x``.

    ``name`` is how the caller calls the ids in the message, which says what was
    expected and what arrived.
    """
    check_array(x, name, where=where)
    within = "" if n_tokens is None else f" in [0, {n_tokens})"
    if not np.issubdtype(x.dtype, np.integer) or (bags and x.ndim != 2):
        expected = "be a (N, L) array of" if bags else "hold"
        raise TypeError(
            f"{_prefix(where)}{name} must {expected} integer token ids{within}, "
            f"got dtype {x.dtype} and shape {x.shape}"
        )
    if within and x.size and (x.min() < 0 or x.max() >= n_tokens):
        raise ValueError(
            f"{_prefix(where)}{name} must lie in [0, {n_tokens}), got values from "
            f"{x.min()} to {x.max()}"
        )
    return x


def describe_non_finite(a: np.ndarray) -> str:
    """What arrived, for a message about an array that should be finite and is not.

    ``"2 non-finite values of 6, the first nan at index (0, 1)"``; ``a`` must hold at least
    one NaN or infinity.
    """
    bad = ~np.isfinite(a)
    first = np.unravel_index(int(np.argmax(bad)), a.shape)
    index = int(first[0]) if a.ndim == 1 else tuple(int(i) for i in first)
    return (
        f"{int(bad.sum())} non-finite values of {a.size}, the first "
        f"{float(a[first])} at index {index}"
    )


def check_finite(a: np.ndarray, name: str, where: str = "") -> np.ndarray:
    """Return ``a`` if every value is finite; else raise ``ValueError`` naming what arrived:
    ``"f: x must be finite, got 2 non-finite values of 6, the first nan at index (0, 1)"``.
    """
    if not np.isfinite(a).all():
        raise ValueError(
            f"{_prefix(where)}{name} must be finite, got {describe_non_finite(a)}"
        )
    return a


def check_binary(y: np.ndarray, what: str, where: str = "") -> None:
    """Refuse labels other than 0 and 1; ``what`` says what was expected.

    The message names how many values are neither and the first few of them:
    ``"f: y must contain only 0 and 1, got 2 other values: [2, 5]"``.
    """
    other = (y != 0) & (y != 1)
    if other.any():
        raise ValueError(
            f"{_prefix(where)}{what}, got {int(other.sum())} other values: "
            f"{np.unique(y[other])[:5].tolist()}"
        )


def check_nonempty_batch(n: int, name: str, where: str = "") -> None:
    """Refuse a batch of zero examples, where a mean over the batch is undefined."""
    if n == 0:
        raise ValueError(
            f"{_prefix(where)}{name} holds no examples (N = 0); a mean over an empty batch is "
            f"undefined, so pass at least one example"
        )


def check_rng(rng, where: str) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise ``TypeError``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{_prefix(where)}rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_int(v, name: str, where: str, minimum: int = 1) -> int:
    """Return ``v`` as an ``int`` if it is an integer of at least ``minimum``, else raise.

    Booleans are refused (``True`` is an ``int`` in Python, but never meant as a size);
    ``minimum=1`` checks a positive integer, ``minimum=0`` a non-negative one.

    Raises
    ------
    TypeError
        If ``v`` is not an integer (a float such as ``3.0``, a string, None or a boolean).
    ValueError
        If ``v`` is an integer below ``minimum``.
    """
    kind = {1: "a positive integer", 0: "a non-negative integer"}.get(
        minimum, f"an integer of at least {minimum}"
    )
    if isinstance(v, (bool, np.bool_)) or not isinstance(
        v, (int, np.integer)
    ):
        raise TypeError(
            f"{_prefix(where)}{name} must be {kind}, got {v!r} "
            f"of type {type(v).__name__}"
        )
    if v < minimum:
        raise ValueError(
            f"{_prefix(where)}{name} must be {kind}, got {v!r}"
        )
    return int(v)


def check_number(
    v,
    name: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``v`` as a ``float`` if it is a finite real number in the given interval.

    Parameters
    ----------
    v : object
        The value to check; NaN and infinities are always refused, and so are booleans.
    name, where : str
        Named in the error message.
    low, high : float, optional
        Bounds of the interval (None: unbounded on that side).
    low_open, high_open : bool, default False
        Whether the bound itself is excluded (``low=0, low_open=True``: positive).

    Raises
    ------
    TypeError
        If ``v`` is not a real number (a string, None, a complex number or a boolean).
    ValueError
        If ``v`` is a real number that is NaN, infinite or outside the interval.
    """
    if low is None and high is None:
        interval = "finite"
    elif low == 0 and high is None:
        interval = (
            "positive and finite" if low_open else "non-negative and finite"
        )
    else:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        lb = "(" if low is None or low_open else "["
        rb = ")" if high is None or high_open else "]"
        interval = f"a finite number in {lb}{left}, {right}{rb}"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(
            f"{_prefix(where)}{name} must be {interval}, got {v!r} "
            f"of type {type(v).__name__}"
        )
    ok = math.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        raise ValueError(
            f"{_prefix(where)}{name} must be {interval}, got {v!r}"
        )
    return float(v)

"""Input validation shared by every module: errors that say what was expected and what arrived."""

from __future__ import annotations

import numpy as np


def check_array(x, name: str, *, ndim: int | None = None, dtype=None, where: str = "") -> np.ndarray:
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
    prefix = f"{where}: " if where else ""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{prefix}{name} must be a numpy.ndarray, got {type(x).__name__}")
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


def check_same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str], where: str = "") -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}{names[0]} and {names[1]} must have the same shape, "
            f"got {names[0]}.shape={a.shape} and {names[1]}.shape={b.shape}"
        )


def check_labels(y, n: int, n_classes: int | None = None, where: str = "") -> np.ndarray:
    """Check integer class labels of shape ``(n,)`` with values in ``[0, n_classes)``."""
    prefix = f"{where}: " if where else ""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{prefix}y must be a numpy.ndarray of integer labels, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{prefix}y must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{prefix}y must have shape ({n},) to match the batch, got {y.shape}")
    if n_classes is not None and y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"{prefix}labels must lie in [0, {n_classes}), got values from {y.min()} to {y.max()}"
        )
    return y

"""nnscratch: deep learning from first principles, in NumPy.

Each concept lives in its own module (``activations``, ``losses``, ``layers``, ``network``,
``optim``, ``gradcheck``, ``symbolic``, ``data``, ``plots``, ...). Submodules are imported on
first use, so ``import nnscratch`` stays cheap and ``nnscratch.layers.Dense`` still works.

**dtype policy.** The one statement of it; every layer, loss, activation and optimizer
follows it, and the tests check each one.

- *Floats are accepted and kept.* float16, float32 and float64 arrays go in, and results come
  out in the same dtype. A layer with parameters (``Dense``, ``Conv2D``, ``BatchNorm``) is
  built in one dtype (``dtype=``) and takes inputs of exactly that dtype: a mismatch is a
  ``TypeError``, never a silent cast (a cast in a hot path costs time and hides bugs).
- *Integers and booleans are refused* by every layer (forward and backward) and as the
  predictions of every loss, with a ``TypeError`` that names the argument and its dtype and
  says how to convert, e.g. ``x.astype(np.float32)``. Casting them would silently truncate
  (a leaky slope of 0.01 times an integer is 0) or silently change every dtype downstream.
  Class labels are the exception: they must be integers. Targets of a regression loss are
  cast to the prediction's dtype.
- *Sums over many elements accumulate in float32 or wider* (the loss values, the batch
  statistics of ``BatchNorm`` and the batch sums of its backward pass, the bias gradients,
  average pooling): a float16 sum overflows past 65504. The result is rounded back to the
  input's dtype.
- *Optimizers keep float16 parameters' state in float32* and compute their update in
  float32, rounding the new parameters back to float16 once per step (as mixed-precision
  training does in the frameworks: in float16, Adam's ``eps = 1e-8`` is 0). float32 and
  float64 parameters keep their state in their own dtype.
- *Gradient checks run in float64 only* (:mod:`nnscratch.gradcheck` refuses anything else).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {
        "activations",
        "adversarial",
        "cli",
        "data",
        "detection",
        "generative",
        "gradcheck",
        "language",
        "layers",
        "losses",
        "metrics",
        "models",
        "network",
        "optim",
        "plots",
        "progress",
        "schedules",
        "sentiment",
        "symbolic",
        "text",
        "timing",
        "train",
    }
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))

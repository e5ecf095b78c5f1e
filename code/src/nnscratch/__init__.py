"""nnscratch: deep learning from first principles, in NumPy.

Each concept lives in its own module (``activations``, ``losses``, ``layers``, ``network``,
``optim``, ``gradcheck``, ``symbolic``, ``data``, ``plots``, ...). Submodules are imported on
first use, so ``import nnscratch`` stays cheap and ``nnscratch.layers.Dense`` still works.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {
        "activations",
        "data",
        "gradcheck",
        "layers",
        "losses",
        "metrics",
        "models",
        "network",
        "optim",
        "plots",
        "schedules",
        "symbolic",
        "train",
    }
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))

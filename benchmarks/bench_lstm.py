"""Time an LSTM's forward and backward pass with nnscratch and with PyTorch (CPU).

The reference layer (issue 15; the book's Step 8): batch 32, sequence length 64, input width 64,
hidden width 256, float32; one *iteration* is a forward pass over the whole sequence and
backpropagation through time to the weights and to the input, as training a layer that is
not the first one needs::

    out = LSTM(64, 256).forward(x)          # x: (32, 64, 64), out: (32, 64, 256)
    dx = LSTM.backward(dout)                # fills dWx, dWh, db; dx: (32, 64, 64)

PyTorch's ``torch.nn.LSTM(64, 256, batch_first=True)`` starts from the same weights (gates
reordered, bias split) and does the same: ``out.backward(dout)`` with ``x.requires_grad``.
Both outputs and gradients are compared once, so the two time the same computation.

The libraries take turns, a block of iterations each, so that both see the same load on a
shared machine; the ratio of their times is meaningful even when absolute times are not.
Each library is timed with one thread and with its default thread count (NumPy's BLAS: one
per core; PyTorch: its intra-op threads) unless ``--threads`` fixes one. PyTorch is
optional: without it only nnscratch is timed. Usage, from the repository root::

    .venv/bin/python benchmarks/bench_lstm.py
    .venv/bin/python benchmarks/bench_lstm.py --threads 1 --iterations 60

The bar: nnscratch at most 1.5x PyTorch's time; the goal: at most 1.0x.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import _compare

from nnscratch.layers import LSTM

BATCH, LENGTH, N_IN, HIDDEN = 32, 64, 64, 256
TORCH_ORDER = [
    0,
    1,
    3,
    2,
]  # torch's gate blocks i, f, g, o from ours i, f, o, g


nnscratch_iteration = _compare.forward_backward


def torch_twin(torch, layer: LSTM):
    """``torch.nn.LSTM`` with ``layer``'s weights (transposed, gates reordered, bias split)."""
    h = layer.n_hidden
    cols = np.concatenate(
        [np.arange(k * h, (k + 1) * h) for k in TORCH_ORDER]
    )
    twin = torch.nn.LSTM(layer.n_in, h, batch_first=True)
    p = layer.params
    with torch.no_grad():
        twin.weight_ih_l0.copy_(torch.from_numpy(p["Wx"][:, cols].T.copy()))
        twin.weight_hh_l0.copy_(torch.from_numpy(p["Wh"][:, cols].T.copy()))
        twin.bias_ih_l0.copy_(torch.from_numpy(p["b"][cols].copy()))
        twin.bias_hh_l0.zero_()
    return twin, cols


def torch_iteration(torch, twin, x_t, dout_t):
    """The same in PyTorch; returns ``(out, dx)`` as tensors."""
    xr = x_t.detach().requires_grad_(True)
    twin.zero_grad(set_to_none=True)
    out, _ = twin(xr)
    out.backward(dout_t)
    return out, xr.grad


def check_agreement(torch, layer, twin, cols, x, dout) -> float:
    """Largest difference between the two libraries' outputs and gradients (float32)."""
    out, dx = nnscratch_iteration(layer, x, dout)
    out_t, dx_t = torch_iteration(
        torch, twin, torch.from_numpy(x), torch.from_numpy(dout)
    )
    pairs = [
        (out, out_t),
        (dx, dx_t),
        (layer.grads["Wx"][:, cols].T, twin.weight_ih_l0.grad),
        (layer.grads["Wh"][:, cols].T, twin.weight_hh_l0.grad),
        (layer.grads["b"][cols], twin.bias_ih_l0.grad),
    ]
    return max(
        float(np.max(np.abs(a - b.detach().numpy()))) for a, b in pairs
    )


def setup(rng: np.random.Generator):
    """The reference layer, its input and an upstream gradient; and the report's title."""
    layer = LSTM(N_IN, HIDDEN, rng=rng, dtype=np.float32)
    x = rng.standard_normal((BATCH, LENGTH, N_IN)).astype(np.float32)
    dout = rng.standard_normal((BATCH, LENGTH, HIDDEN)).astype(np.float32)
    return (
        layer,
        x,
        dout,
        (
            f"LSTM forward + backward: batch {BATCH}, length {LENGTH}, "
            f"input {N_IN}, hidden {HIDDEN}, float32"
        ),
    )


def main(argv: list[str] | None = None) -> int:
    return _compare.main(SimpleNamespace(**globals()), argv)


if __name__ == "__main__":
    sys.exit(main())

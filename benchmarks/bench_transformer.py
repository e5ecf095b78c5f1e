"""Time one Transformer block's forward and backward pass with nnscratch and with PyTorch (CPU).

The reference block (issue 16; the book's Step 9): batch 32, sequence length 64, width 128, 4 heads,
causal, float32; pre-norm, as GPT-2 and nanoGPT build it::

    h = x + Attention(LayerNorm(x))               # x: (32, 64, 128)
    y = h + MLP(LayerNorm(h))                     # MLP: Dense(128, 512), GELU, Dense(512, 128)

One *iteration* is a forward pass and the backward pass to every weight and to the input,
as training a block that is not the first layer needs. PyTorch's twin is nanoGPT's block,
``nn.Linear`` layers around ``F.scaled_dot_product_attention(..., is_causal=True)``, with
the same weights; outputs and gradients are compared once, so both time the same
computation.

The libraries take turns, a block of iterations each, so that both see the same load on a
shared machine; the ratio of their times is meaningful even when absolute times are not.
Each library is timed with one thread and with its default thread count unless
``--threads`` fixes one. PyTorch is optional: without it only nnscratch is timed. Usage,
from the repository root::

    .venv/bin/python benchmarks/bench_transformer.py
    .venv/bin/python benchmarks/bench_transformer.py --threads 1 --iterations 60

The bar: nnscratch at most 1.5x PyTorch's time; the goal: at most 1.0x.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import _compare

from nnscratch.models import transformer_block

BATCH, LENGTH, WIDTH, HEADS = 32, 64, 128, 4


nnscratch_iteration = _compare.forward_backward
torch_iteration = _compare.torch_forward_backward
check_agreement = _compare.gradients_difference


def torch_twin(torch, block):
    """nanoGPT's block in PyTorch, with ``block``'s weights; returns the module."""
    nn, F = torch.nn, torch.nn.functional
    p = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in block.params.items()
    }

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
            self.qkv, self.proj = nn.Linear(WIDTH, 3 * WIDTH), nn.Linear(
                WIDTH, WIDTH
            )
            self.fc, self.fc2 = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(
                4 * WIDTH, WIDTH
            )

        def forward(self, x):
            n, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (
                a.view(n, t, HEADS, d // HEADS).transpose(1, 2)
                for a in (q, k, v)
            )
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(o.transpose(1, 2).reshape(n, t, d))
            return x + self.fc2(
                F.gelu(self.fc(self.ln2(x)), approximate="tanh")
            )

    twin = Block()
    # Our keys: "0.0.0.gamma" (first LayerNorm), "0.0.1.W_qkv", ..., "1.0.2.W" (MLP's first Dense).
    pairs = [
        (twin.ln1.weight, "0.0.0.gamma"),
        (twin.ln1.bias, "0.0.0.beta"),
        (twin.qkv.weight, "0.0.1.W_qkv"),
        (twin.qkv.bias, "0.0.1.b_qkv"),
        (twin.proj.weight, "0.0.1.W_o"),
        (twin.proj.bias, "0.0.1.b_o"),
        (twin.ln2.weight, "1.0.0.gamma"),
        (twin.ln2.bias, "1.0.0.beta"),
        (twin.fc.weight, "1.0.1.W"),
        (twin.fc.bias, "1.0.1.b"),
        (twin.fc2.weight, "1.0.3.W"),
        (twin.fc2.bias, "1.0.3.b"),
    ]
    with torch.no_grad():
        for param, key in pairs:
            param.copy_(p[key].T if p[key].ndim == 2 else p[key])
    return twin, pairs


def setup(rng: np.random.Generator):
    """The reference block, its input and an upstream gradient; and the report's title."""
    block = transformer_block(WIDTH, HEADS, rng=rng, dtype=np.float32)
    for (
        v
    ) in (
        block.params.values()
    ):  # trained-looking weights, not only GPT-2's 0.02
        v += rng.standard_normal(v.shape).astype(np.float32) * np.float32(
            0.05
        )
    x = rng.standard_normal((BATCH, LENGTH, WIDTH)).astype(np.float32)
    dout = rng.standard_normal((BATCH, LENGTH, WIDTH)).astype(np.float32)
    return (
        block,
        x,
        dout,
        (
            f"Transformer block forward + backward: batch {BATCH}, length "
            f"{LENGTH}, width {WIDTH}, {HEADS} heads, causal, float32"
        ),
    )


def main(argv: list[str] | None = None) -> int:
    return _compare.main(SimpleNamespace(**globals()), argv)


if __name__ == "__main__":
    sys.exit(main())

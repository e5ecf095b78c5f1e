"""Time Step 12's DCGAN (Exercise 4) forward and backward with nnscratch and PyTorch (CPU).

The reference network is the exercise's generator followed by its discriminator, float32,
batch 128 (the page's ``GAN_BATCH``); one *iteration* is the pass a generator step makes:
noise through both networks in training mode, and backpropagation from the logits to every
weight and to the noise::

    Dense(64→3136) → BatchNorm → ReLU → Unflatten(64, 7, 7)
    → ConvTranspose2D(64→32, 4×4, 2, 1) → BatchNorm2D → ReLU    # (N, 32, 14, 14)
    → ConvTranspose2D(32→1, 4×4, 2, 1) → Tanh → Flatten          # (N, 784) images
    → Unflatten(1, 28, 28) → Conv2D(1→32, 4×4, 2, 1) → LeakyReLU(0.2)
    → Conv2D(32→64, 4×4, 2, 1) → LeakyReLU(0.2) → Flatten → Dense(3136→1)

(the numbers after the kernel are stride and padding).

PyTorch's twin is the same ``nn.Sequential`` (``ConvTranspose2d``, ``BatchNorm1d`` and
``BatchNorm2d`` in training mode, ...) with the same weights; outputs and gradients are
compared once, so the two time the same computation.

The libraries take turns, a block of iterations each, so that both see the same load on a
shared machine; the ratio of their times is meaningful even when absolute times are not.
Each library is timed with one thread and with its default thread count unless
``--threads`` fixes one. PyTorch is optional: without it only nnscratch is timed. Usage,
from the repository root::

    .venv/bin/python benchmarks/bench_dcgan.py
    .venv/bin/python benchmarks/bench_dcgan.py --threads 1 --iterations 40

The bar: nnscratch at most 1.5x PyTorch's time; the goal: at most 1.0x.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import _compare

from nnscratch.activations import LeakyReLU, ReLU, Tanh
from nnscratch.layers import (
    BatchNorm,
    BatchNorm2D,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Flatten,
    Unflatten,
)
from nnscratch.network import Sequential

BATCH, NOISE = 128, 64


def dcgan(rng: np.random.Generator) -> Sequential:
    """The exercise's generator and discriminator as one network: noise -> logit."""
    f32 = dict(dtype=np.float32)
    return Sequential(
        [
            Dense(NOISE, 64 * 7 * 7, rng=rng, **f32),
            BatchNorm(64 * 7 * 7, **f32),
            ReLU(),
            Unflatten((64, 7, 7)),
            ConvTranspose2D(64, 32, 4, 2, 1, rng=rng, **f32),
            BatchNorm2D(32, **f32),
            ReLU(),
            ConvTranspose2D(32, 1, 4, 2, 1, rng=rng, **f32),
            Tanh(),
            Flatten(),  # the generator's images, (N, 784)
            Unflatten((1, 28, 28)),
            Conv2D(1, 32, 4, 2, 1, rng=rng, **f32),
            LeakyReLU(0.2),
            Conv2D(32, 64, 4, 2, 1, rng=rng, **f32),
            LeakyReLU(0.2),
            Flatten(),
            Dense(64 * 7 * 7, 1, rng=rng, **f32),
        ]
    )


nnscratch_iteration = _compare.forward_backward
torch_iteration = _compare.torch_forward_backward
check_agreement = _compare.gradients_difference


def _torch_layer(torch, layer):
    """The PyTorch module computing what ``layer`` computes, with its weights; and the
    pairs (torch parameter, our key within the layer) to compare."""
    nn = torch.nn
    kind = type(layer).__name__
    if kind == "Dense":
        n_in, n_out = layer.params["W"].shape
        module, names = nn.Linear(n_in, n_out), (("weight", "W"), ("bias", "b"))
    elif kind in ("Conv2D", "ConvTranspose2D"):
        make = nn.Conv2d if kind == "Conv2D" else nn.ConvTranspose2d
        module = make(
            layer.c_in, layer.c_out, layer.kernel_size, layer.stride, layer.padding
        )
        names = (("weight", "W"), ("bias", "b"))
    elif kind in ("BatchNorm", "BatchNorm2D"):
        make = nn.BatchNorm1d if kind == "BatchNorm" else nn.BatchNorm2d
        module = make(layer.n_features, eps=layer.eps, momentum=layer.momentum)
        names = (("weight", "gamma"), ("bias", "beta"))
    else:
        module = {
            "ReLU": lambda: nn.ReLU(),
            "LeakyReLU": lambda: nn.LeakyReLU(layer.alpha),
            "Tanh": lambda: nn.Tanh(),
            "Flatten": lambda: nn.Flatten(),
            "Unflatten": lambda: nn.Unflatten(1, layer.shape),
        }[kind]()
        names = ()
    pairs = []
    with torch.no_grad():
        for theirs, ours in names:
            param = getattr(module, theirs)
            value = layer.params[ours]  # Dense's W is (in, out), Linear's (out, in)
            param.copy_(torch.from_numpy(value.T.copy() if value.ndim == 2 else value))
            pairs.append((param, ours))
    return module, pairs


def torch_twin(torch, net: Sequential):
    """``nn.Sequential`` with ``net``'s weights; and (torch parameter, our key) pairs."""
    modules, pairs = [], []
    for i, layer in enumerate(net.layers):
        module, layer_pairs = _torch_layer(torch, layer)
        modules.append(module)
        pairs += [(p, f"{i}.{key}") for p, key in layer_pairs]
    twin = torch.nn.Sequential(*modules)
    twin.train()
    return twin, pairs


def setup(rng: np.random.Generator):
    """The reference network, a batch of noise and an upstream gradient; the title."""
    net = dcgan(rng)
    z = rng.standard_normal((BATCH, NOISE)).astype(np.float32)
    # the non-saturating generator loss's gradient has this size: (sigmoid - 1) / N
    dout = (rng.uniform(-1, 0, (BATCH, 1)) / BATCH).astype(np.float32)
    return (
        net,
        z,
        dout,
        (
            f"DCGAN generator and discriminator forward + backward: batch {BATCH}, "
            f"noise {NOISE}, 28 x 28 images, float32"
        ),
    )


def main(argv: list[str] | None = None) -> int:
    return _compare.main(SimpleNamespace(**globals()), argv)


if __name__ == "__main__":
    sys.exit(main())

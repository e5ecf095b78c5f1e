"""PyTorch as an independent oracle for the layers and losses that had no twin: Dense,
the activation layers, Embedding, masked mean and max pooling over time, learned position
embeddings, the residual block and the three basic losses, in float64.

Each test runs the same numbers through nnscratch and through torch and compares the
output (or loss value) and every gradient: for a layer, the input gradient that
``backward`` returns for a random upstream gradient and every parameter's gradient; for a
loss, the gradient it returns with respect to its prediction. Where the conventions differ
(weight layout, label layout), the test says how one is turned into the other.
"""

import numpy as np
import pytest

from nnscratch.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnscratch.layers import Dense, Embedding, MaxOverTime, MeanOverTime, PositionEmbedding
from nnscratch.network import Residual, Sequential
from nnscratch.losses import (
    binary_cross_entropy,
    mean_squared_error,
    softmax_cross_entropy,
)

try:
    import torch
except ImportError:  # every test here needs it; a skip mark, not a module-level skip, so
    torch = None     # that runs which deselect these tests do not count them as skipped
pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional oracle)")
F = None if torch is None else torch.nn.functional

TOL = dict(rtol=1e-9, atol=1e-12)      # float64 on both sides: only rounding differs


def _close(ours, theirs):
    """Compare a NumPy result with a torch tensor (or a float with a 0-d tensor)."""
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    np.testing.assert_allclose(ours, theirs, **TOL)


def _compare_layer(layer, torch_fn, x, dout, **forward_kw):
    """Run ``x`` through ``layer`` (forward in training mode, then backward of ``dout``) and
    through ``torch_fn`` (autograd); compare the outputs and the input gradients.

    Returns nnscratch's (out, dx); torch's parameter gradients are then in its modules.
    """
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn(xt)
    yt.backward(torch.from_numpy(dout))
    out = layer.forward(x, training=True, **forward_kw)
    dx = layer.backward(dout)
    _close(out, yt)
    _close(dx, xt.grad)
    return out, dx


def _linear_twin(W, b):
    """torch.nn.Linear holding nnscratch's Dense weights: its weight is W transposed."""
    lin = torch.nn.Linear(*W.shape).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W.T.copy()))
        lin.bias.copy_(torch.from_numpy(b))
    return lin


# ------------------------------------------------------------------------------ Dense


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5)], ids=["rows", "sequence"])
def test_dense_equals_torch_linear(shape, rng):
    """Output, dx, dW and db; nnscratch's W is (n_in, n_out), torch's weight its transpose.

    A sequence (N, T, n_in) is mapped over its leading axes by both.
    """
    layer = Dense(5, 3, rng=rng)
    layer.params["b"][:] = rng.standard_normal(3)   # a zero bias would not test its path
    x = rng.standard_normal(shape)
    dout = rng.standard_normal(shape[:-1] + (3,))
    twin = _linear_twin(layer.params["W"], layer.params["b"])
    _compare_layer(layer, twin, x, dout)
    _close(layer.grads["W"], twin.weight.grad.T)
    _close(layer.grads["b"], twin.bias.grad)


# ------------------------------------------------------------------------ activations

# name -> (a fresh nnscratch layer, the same function in torch)
ACTIVATIONS = {  # torch's functions looked up when called: the module loads without torch
    "sigmoid": (Sigmoid, lambda z: torch.sigmoid(z)),
    "tanh": (Tanh, lambda z: torch.tanh(z)),
    "relu": (ReLU, lambda z: torch.relu(z)),
    "leaky_relu_0.2": (lambda: LeakyReLU(0.2), lambda z: F.leaky_relu(z, 0.2)),
    # a slope outside [0, 1] takes the np.where branch instead of max(z, alpha z)
    "leaky_relu_1.5": (lambda: LeakyReLU(1.5), lambda z: F.leaky_relu(z, 1.5)),
    "leaky_relu_-0.5": (lambda: LeakyReLU(-0.5), lambda z: F.leaky_relu(z, -0.5)),
    # nnscratch's GELU is the tanh form (GPT-2's), torch's approximate="tanh"
    "gelu_tanh": (GELU, lambda z: F.gelu(z, approximate="tanh")),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_layer_equals_torch(name, rng):
    """Output and the input gradient that backward returns for a random upstream gradient.

    The inputs reach |z| ~ 10, where sigmoid, tanh and GELU saturate; none is exactly 0, the
    kink where ReLU's derivative is a convention.
    """
    make, fn = ACTIVATIONS[name]
    z = 3 * rng.standard_normal((3, 4, 5))
    assert np.all(z != 0) and np.abs(z).max() > 6
    _compare_layer(make(), fn, z, rng.standard_normal(z.shape))


def test_softmax_layer_equals_torch(rng):
    """Row-wise softmax of (N, C) and its vector-Jacobian product, against torch's softmax
    over dim=1; one row of large logits checks the shift by the row maximum."""
    z = 3 * rng.standard_normal((4, 6))
    z[0] += 800                                    # exp(800) overflows without the shift
    dout = rng.standard_normal(z.shape)
    out, dz = _compare_layer(Softmax(), lambda t: torch.softmax(t, dim=1), z, dout)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dz))


# -------------------------------------------------------------------------- Embedding


@pytest.mark.parametrize("id_dtype", [np.int64, np.uint8])
def test_embedding_equals_torch_embedding(id_dtype, rng):
    """Output W[x] and the table's gradient: repeated tokens sum their upstream gradients,
    a token absent from the batch gets a zero row. torch wants int64 ids; nnscratch also
    takes narrow ones: in uint8 the flat index id * D (up to 98 * 4 here) must not wrap."""
    layer = Embedding(100, 4, rng=rng)
    x = rng.integers(0, 99, (4, 30)).astype(id_dtype)    # 120 ids of 99 tokens; 99 never
    dout = rng.standard_normal((4, 30, 4))
    twin = torch.nn.Embedding(100, 4).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.params["W"]))
    yt = twin(torch.from_numpy(x.astype(np.int64)))
    yt.backward(torch.from_numpy(dout))
    out = layer.forward(x, training=True)
    assert layer.backward(dout) is None                  # ids have no gradient
    _close(out, yt)
    _close(layer.grads["W"], twin.weight.grad)
    assert np.all(layer.grads["W"][99] == 0)
    assert len(np.unique(x)) < x.size                    # repeats were tested


# ----------------------------------------------------------------------------- losses


@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 4)], ids=["N", "NxD", "NxTxD"])
def test_mean_squared_error_equals_torch_mse_loss(shape, rng):
    """Value and gradient: both average over every element (torch's reduction="mean"), so
    no conversion is needed; the gradient is 2 (y_hat - y) / y_hat.size."""
    y_hat, y = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, grad = mean_squared_error(y_hat, y)
    yt = torch.tensor(y_hat, requires_grad=True)
    lt = F.mse_loss(yt, torch.from_numpy(y))
    lt.backward()
    _close(loss, lt)
    _close(grad, yt.grad)


@pytest.mark.parametrize("z_shape", [(8,), (8, 1)], ids=["z(N)", "z(N,1)"])
@pytest.mark.parametrize("label_dtype", [np.int64, np.float64])
def test_binary_cross_entropy_equals_torch_bce_with_logits(z_shape, label_dtype, rng):
    """nnscratch takes logits z, (N,) or (N, 1), and labels y of shape (N,), integer or
    float; torch's binary_cross_entropy_with_logits wants float targets of z's shape, so y is
    reshaped and cast. Both average over the N examples. Logits of +-40 check stability."""
    z = 2 * rng.standard_normal(8)
    z[:2] = [40.0, -40.0]
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0], dtype=label_dtype)  # both extremes wrong-way round
    z = z.reshape(z_shape)
    loss, dz = binary_cross_entropy(z, y)
    zt = torch.tensor(z, requires_grad=True)
    target = torch.from_numpy(y.astype(np.float64).reshape(z_shape))
    lt = F.binary_cross_entropy_with_logits(zt, target)
    lt.backward()
    assert dz.shape == z_shape and np.isfinite(loss)
    _close(loss, lt)
    _close(dz, zt.grad)


def test_softmax_cross_entropy_equals_torch_cross_entropy(rng):
    """Logits (N, C) and integer labels (N,), like torch's cross_entropy with class-index
    targets (int64 there); both average over the N examples. One row of large logits checks
    the log-sum-exp shift."""
    z = 3 * rng.standard_normal((5, 4))
    z[0] += 1000
    y = rng.integers(0, 4, 5)
    loss, dz = softmax_cross_entropy(z, y)
    zt = torch.tensor(z, requires_grad=True)
    lt = F.cross_entropy(zt, torch.from_numpy(y.astype(np.int64)))
    lt.backward()
    assert np.isfinite(loss)
    _close(loss, lt)
    _close(dz, zt.grad)


# ------------------------------------------------------------- pooling over time, masked

# Sentences of lengths 4, 1 and 3 padded to T = 4: True at the real positions.
MASK = np.array([[1, 1, 1, 1], [1, 0, 0, 0], [0, 1, 1, 1]], dtype=bool)


def _pool_in_torch(kind, xt, mask):
    m = torch.from_numpy(mask)[..., None]                          # (N, T, 1)
    if kind == "mean":
        return (xt * m).sum(dim=1) / m.sum(dim=1)
    return xt.masked_fill(~m, float("-inf")).max(dim=1).values     # padding never wins


@pytest.mark.parametrize("kind", ["mean", "max"])
def test_pooling_over_time_equals_torch_with_a_mask(kind, rng):
    """Output and dx of masked mean and max pooling, padding included: the padded
    positions get exactly zero gradient in both. The padded positions hold the largest
    values, so a max that looked at them would differ; continuous random values have no
    ties, where the two libraries might pick different positions."""
    layer = {"mean": MeanOverTime, "max": MaxOverTime}[kind]()
    x = rng.standard_normal((3, 4, 5))
    x[~MASK] = 10.0 + rng.random(((~MASK).sum(), 5))
    dout = rng.standard_normal((3, 5))
    _, dx = _compare_layer(layer, lambda t: _pool_in_torch(kind, t, MASK), x, dout, mask=MASK)
    assert not np.any(dx[~MASK])


# ---------------------------------------------------------------- position embeddings


def test_position_embedding_equals_gpt2_style_wpe(rng):
    """nanoGPT's ``x + wpe(arange(T))`` with torch.nn.Embedding(max_len, D) holding the
    same table: output, dx, and dP, whose rows at and beyond T get no gradient."""
    layer = PositionEmbedding(6, 4, rng=rng, std=1.0)
    x = rng.standard_normal((3, 5, 4))                  # T = 5 < max_len = 6
    dout = rng.standard_normal(x.shape)
    wpe = torch.nn.Embedding(6, 4).double()
    with torch.no_grad():
        wpe.weight.copy_(torch.from_numpy(layer.params["P"]))
    _compare_layer(layer, lambda t: t + wpe(torch.arange(5)), x, dout)
    _close(layer.grads["P"], wpe.weight.grad)
    assert not np.any(layer.grads["P"][5:])


# --------------------------------------------------------------------- residual block


def test_residual_block_equals_torch(rng):
    """x + f(x) with f = Dense -> Tanh -> Dense, against the same in torch: output, dx
    (both paths added) and every parameter of the body, under the block's keys."""
    body = Sequential([Dense(4, 6, rng=rng), Tanh(), Dense(6, 4, rng=rng)])
    for k in ("0.b", "2.b"):
        body.params[k][:] = rng.standard_normal(body.params[k].shape)
    block = Residual(body)
    x = rng.standard_normal((5, 4))
    dout = rng.standard_normal(x.shape)
    first, second = (_linear_twin(body.params[f"{i}.W"], body.params[f"{i}.b"]) for i in (0, 2))
    _compare_layer(block, lambda t: t + second(torch.tanh(first(t))), x, dout)
    for lin, i in ((first, 0), (second, 2)):
        _close(block.grads[f"0.{i}.W"], lin.weight.grad.T)
        _close(block.grads[f"0.{i}.b"], lin.bias.grad)

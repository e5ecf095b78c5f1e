"""RNN and LSTM: BPTT against finite differences, PyTorch as an oracle, state, errors."""

import importlib.util

import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import LSTM, RNN, Layer
from nnscratch.layers.recurrent import sigmoid_

CELLS = [RNN, LSTM]
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.parametrize("cell", CELLS)
def test_bptt_matches_finite_differences_over_many_steps(cell, rng):
    layer = cell(3, 4, rng=rng)
    check_layer(layer, rng.standard_normal((2, 7, 3)), rng=rng).assert_ok()


@pytest.mark.parametrize("cell", CELLS)
def test_output_is_the_whole_sequence_batch_first(cell, rng):
    layer = cell(3, 5, rng=rng, dtype=np.float32)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    out = layer.forward(x)
    assert out.shape == (4, 6, 5) and out.dtype == np.float32 and out.flags.c_contiguous
    # step t only depends on steps <= t: changing the last input leaves earlier outputs alone
    x2 = x.copy()
    x2[:, -1] += 1
    np.testing.assert_array_equal(layer.forward(x2)[:, :-1], out[:, :-1])


@pytest.mark.parametrize("cell", CELLS)
def test_parameter_shapes_and_seeded_initialization(cell):
    a = cell(3, 4, rng=np.random.default_rng(5))
    b = cell(3, 4, rng=np.random.default_rng(5))
    g = 4 * cell.n_gates
    assert {k: v.shape for k, v in a.params.items()} == {"Wx": (3, g), "Wh": (4, g), "b": (g,)}
    assert a.params.keys() == a.grads.keys() and a.buffers == {}
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert np.abs(a.params["Wh"]).max() <= 0.5           # uniform in [-1/sqrt(H), 1/sqrt(H)]


@pytest.mark.parametrize("cell", CELLS)
def test_backward_does_not_mutate_and_overwrites(cell, rng):
    layer = cell(3, 4, rng=rng)
    x, dout = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    x0, d0 = x.copy(), dout.copy()
    layer.forward(x, training=True)
    dx1 = layer.backward(dout)
    first = {k: v.copy() for k, v in layer.grads.items()}
    dx2 = layer.backward(dout)
    np.testing.assert_array_equal(dx1, dx2)
    for k in first:
        np.testing.assert_array_equal(layer.grads[k], first[k])
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


@pytest.mark.parametrize("cell", CELLS)
def test_a_long_sequence_equals_its_halves_with_carried_state(cell, rng):
    x = rng.standard_normal((3, 10, 2))
    whole = cell(2, 4, rng=np.random.default_rng(1)).forward(x)
    layer = cell(2, 4, rng=np.random.default_rng(1), stateful=True)
    halves = np.concatenate([layer.forward(x[:, :4]), layer.forward(x[:, 4:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=0, atol=1e-14)
    layer.reset_state()
    np.testing.assert_allclose(layer.forward(x[:, :4]), whole[:, :4], rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="carried state holds 3 sequences but x holds 1; call reset_state"):
        layer.forward(x[:1])


def _random_state(cell, n, h, rng):
    """A non-zero carried state: (h0,) for an RNN, (h0, c0) for an LSTM, each (n, h)."""
    h0 = rng.uniform(-0.9, 0.9, (n, h))                  # a hidden state lies in (-1, 1)
    return (h0,) if cell is RNN else (h0, 1.5 * rng.standard_normal((n, h)))


class _FromState(Layer):
    """A stateful layer restarted from the same carried state at every forward pass.

    A stateful layer replaces its state at each forward pass, so without this the repeated
    forward passes of a gradient check would each start from a different state.
    """

    def __init__(self, layer, state0):
        super().__init__()
        self.layer, self.state0 = layer, state0
        self.params, self.grads = layer.params, layer.grads  # the same dicts: backward fills them

    def forward(self, x, training=False):
        self.layer.state = tuple(s.copy() for s in self.state0)
        return self.layer.forward(x, training=training)

    def backward(self, dout, need_dx=True):
        return self.layer.backward(dout, need_dx=need_dx)


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_bptt_matches_finite_differences_from_a_nonzero_carried_state(cell, rng):
    """Every parameter and the input, from a fixed random h0 (and c0 for the LSTM).

    h0 enters dWh through the first step and c0 the forget gate's gradient; with a zero
    state both terms vanish, so only this check sees them. The state itself is held fixed
    (truncated BPTT: no gradient flows into it).
    """
    layer = cell(3, 4, rng=rng, stateful=True)
    wrapped = _FromState(layer, _random_state(cell, 2, 4, rng))
    x = rng.standard_normal((2, 5, 3))
    result = check_layer(wrapped, x, rng=rng).assert_ok()
    assert set(result.errors) == {"x", "Wx", "Wh", "b"}
    out = wrapped.forward(x)
    layer.reset_state()
    assert np.abs(layer.forward(x) - out).max() > 1e-2   # the carried state does matter


@pytest.mark.parametrize("cell", CELLS)
def test_errors_name_what_was_expected_and_what_arrived(cell, rng):
    name = cell.__name__
    layer = cell(3, 4, rng=rng)
    with pytest.raises(ValueError, match=rf"{name}.forward: x must have shape \(N, T, 3\) .*got \(2, 5\)"):
        layer.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=rf"{name}.forward: x must have shape \(N, T, 3\) .*got \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4)))
    with pytest.raises(TypeError, match=rf"{name}.forward: x must have dtype float64, got float32"):
        layer.forward(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward"):
        cell(3, 4, rng=rng).backward(np.zeros((2, 5, 4)))
    layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=rf"{name}.backward: dout must have shape \(2, 5, 4\), got \(2, 4, 4\)"):
        layer.backward(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=rf"{name}: n_hidden must be a positive integer, got 0"):
        cell(3, 0, rng=rng)


def test_lstm_cell_update_is_f_c_plus_i_g(rng):
    """c_t = f_t c_{t-1} + i_t g_t: one step by hand against the layer's own cache."""
    layer = LSTM(2, 3, rng=rng)
    x = rng.standard_normal((1, 2, 2))
    layer.forward(x)
    c_all, gates = layer._cache["c_all"], layer._cache["gates"]
    i, f, o, g = np.split(gates[1], 4, axis=0)
    np.testing.assert_allclose(c_all[2], f * c_all[1] + i * g)


def test_lstm_cell_path_jacobian_is_the_forget_gate(rng):
    """d c_t / d c_{t-1} = diag(f_t), measured: the previous cell state perturbed entry by
    entry (central differences) against the forget gate the step computed."""
    layer = LSTM(2, 3, rng=rng, stateful=True)
    x = rng.standard_normal((1, 1, 2))
    h0, c0 = rng.uniform(-0.9, 0.9, (1, 3)), rng.standard_normal((1, 3))

    def c1(c_start):
        layer.state = (h0.copy(), c_start)
        layer.forward(x)
        return layer.state[1][0]  # the cell state after the step, (3,)

    eps = 1e-6
    jacobian = np.stack(
        [(c1(c0 + eps * e) - c1(c0 - eps * e)) / (2 * eps) for e in np.eye(3)[:, None, :]],
        axis=1,
    )  # column j: d c_1 / d c_0[j]
    c1(c0.copy())
    f = np.split(layer._cache["gates"][0], 4, axis=0)[1][:, 0]  # (3,)
    np.testing.assert_allclose(jacobian, np.diag(f), rtol=1e-6, atol=1e-9)


def test_sigmoid_in_place_is_stable():
    a = np.array([-1000.0, -5.0, 0.0, 5.0, 1000.0])
    expected = 1 / (1 + np.exp(-np.clip(a, -700, 700)))
    with np.errstate(all="raise"):                       # no overflow warning on the way
        got = sigmoid_(a.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-300)


# -- PyTorch as an independent oracle ------------------------------------------------------------

def _torch_twin(cell, layer, torch):
    """torch.nn.RNN/LSTM with ``layer``'s weights: transposed, gates reordered, bias split."""
    d, h = layer.n_in, layer.n_hidden
    twin = {RNN: torch.nn.RNN, LSTM: torch.nn.LSTM}[cell](d, h, batch_first=True).double()
    order = [0, 1, 3, 2] if cell is LSTM else [0]      # torch's blocks i, f, g, o from ours i, f, o, g
    cols = np.concatenate([np.arange(k * h, (k + 1) * h) for k in order])
    with torch.no_grad():
        twin.weight_ih_l0.copy_(torch.from_numpy(layer.params["Wx"][:, cols].T.copy()))
        twin.weight_hh_l0.copy_(torch.from_numpy(layer.params["Wh"][:, cols].T.copy()))
        twin.bias_ih_l0.copy_(torch.from_numpy(0.25 * layer.params["b"][cols]))
        twin.bias_hh_l0.copy_(torch.from_numpy(0.75 * layer.params["b"][cols]))  # two biases, one sum
    return twin, cols


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (optional oracle)")
@pytest.mark.parametrize("start", ["zeros", "carried"])
@pytest.mark.parametrize("cell", CELLS)
def test_equals_pytorch_in_float64(cell, start, rng):
    """Output, dx and every weight gradient, from zeros or from a random carried state
    (torch's h0, or (h0, c0)); from a carried state also the state carried onwards."""
    torch = pytest.importorskip("torch")
    layer = cell(5, 6, rng=rng, stateful=start == "carried")
    twin, cols = _torch_twin(cell, layer, torch)
    x, dout = rng.standard_normal((3, 9, 5)), rng.standard_normal((3, 9, 6))
    state0 = _random_state(cell, 3, 6, rng) if start == "carried" else None
    if state0 is not None:
        layer.state = tuple(s.copy() for s in state0)
    out = layer.forward(x, training=True)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    if state0 is None:
        out_t, last_t = twin(xt)
    else:
        s0 = tuple(torch.tensor(s[None]) for s in state0)    # (num_layers, N, H)
        out_t, last_t = twin(xt, s0[0] if cell is RNN else s0)
    out_t.backward(torch.from_numpy(dout))
    tol = dict(rtol=0, atol=1e-10)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.grads["Wx"][:, cols], twin.weight_ih_l0.grad.numpy().T, **tol)
    np.testing.assert_allclose(layer.grads["Wh"][:, cols], twin.weight_hh_l0.grad.numpy().T, **tol)
    np.testing.assert_allclose(layer.grads["b"][cols], twin.bias_ih_l0.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.grads["b"][cols], twin.bias_hh_l0.grad.numpy(), **tol)
    if state0 is not None:                               # the (h_T, c_T) handed to the next call
        last_t = (last_t,) if cell is RNN else last_t
        assert len(layer.state) == len(last_t)
        for ours, theirs in zip(layer.state, last_t):
            np.testing.assert_allclose(ours, theirs.detach().numpy()[0], **tol)

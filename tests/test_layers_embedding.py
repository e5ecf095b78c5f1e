"""Embedding: lookup, sparse gradient with repeated tokens, errors."""

import re

import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import Embedding


def test_gradient_matches_finite_differences(rng):
    layer = Embedding(7, 3, rng=rng)
    result = check_layer(layer, rng.integers(0, 7, (4, 6)), rng=rng).assert_ok()
    assert set(result.errors) == {"W"}                  # token ids have no gradient


def test_lookup_and_sparse_gradient_with_repeated_tokens(rng):
    layer = Embedding(5, 2, rng=rng)
    x = np.array([[1, 3, 1], [1, 0, 3]])
    out = layer.forward(x)
    np.testing.assert_array_equal(out, layer.params["W"][x])
    dout = rng.standard_normal((2, 3, 2))
    assert layer.backward(dout) is None
    expected = np.zeros((5, 2))
    np.add.at(expected, x, dout)                         # the obvious, slow reference
    np.testing.assert_allclose(layer.grads["W"], expected, rtol=1e-15)
    np.testing.assert_array_equal(layer.grads["W"][[2, 4]], 0)   # absent tokens: zero rows
    np.testing.assert_allclose(layer.grads["W"][1], dout[0, 0] + dout[0, 2] + dout[1, 0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int64])
def test_small_integer_ids_reach_the_right_rows(dtype, rng):
    # 40 * 8 = 320 wraps round in uint8 (to 64 = row 8) unless the ids are widened first
    layer = Embedding(300, 8, rng=rng)
    x = np.array([[40, 1], [120, 40]], dtype=dtype)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    layer.backward(dout)
    expected = np.zeros((300, 8))
    np.add.at(expected, x.astype(np.int64), dout)
    np.testing.assert_allclose(layer.grads["W"], expected, rtol=1e-15)


def test_float32_gradient_is_summed_in_float64_and_rounded_once(rng):
    # About 190 tokens per row: summed in float32, the rows would differ from the float64
    # sum in their last bits. An empty batch gives a zero gradient of the table's shape.
    layer = Embedding(50, 4, rng=rng, dtype=np.float32)
    x = rng.integers(0, 10, (64, 30))
    dout = rng.standard_normal(x.shape + (4,)).astype(np.float32)
    layer.forward(x)
    layer.backward(dout)
    expected = np.zeros((50, 4))
    np.add.at(expected, x, dout.astype(np.float64))
    assert layer.grads["W"].dtype == np.float32
    np.testing.assert_array_equal(layer.grads["W"], expected.astype(np.float32))
    empty = np.zeros((0, 5), dtype=np.int64)
    layer.forward(empty)
    layer.backward(np.zeros((0, 5, 4), dtype=np.float32))
    assert layer.grads["W"].shape == (50, 4) and not layer.grads["W"].any()


def test_float32_table_and_seeded_init():
    a = Embedding(6, 4, rng=np.random.default_rng(3), dtype=np.float32)
    b = Embedding(6, 4, rng=np.random.default_rng(3), dtype=np.float32)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    out = a.forward(np.arange(6).reshape(2, 3))
    assert out.shape == (2, 3, 4) and out.dtype == np.float32
    a.backward(np.ones_like(out))
    assert a.grads["W"].dtype == np.float32


def test_errors_name_what_was_expected_and_what_arrived(rng):
    layer = Embedding(5, 2, rng=rng)
    with pytest.raises(TypeError, match=r"Embedding.forward: x must hold integer token ids in \[0, 5\), got dtype float64"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"x must lie in \[0, 5\), got values from 0 to 5"):
        layer.forward(np.array([[0, 5]]))
    with pytest.raises(RuntimeError, match="Embedding.backward called before forward"):
        layer.backward(np.zeros((1, 2, 2)))
    layer.forward(np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 2, 2\), got \(1, 2, 3\)"):
        layer.backward(np.zeros((1, 2, 3)))


# -- EmbeddingBag ----------------------------------------------------------------------------

from nnscratch.layers import EmbeddingBag  # noqa: E402

BAGS = np.array([[3, 1, 4, 0], [2, 0, 0, 0], [4, 4, 2, 5]])   # 0 pads


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("pad", [0, 3])
def test_bag_is_the_dense_count_product_and_its_gradient_a_bincount(mode, pad, rng):
    bags = np.where(BAGS == 0, pad, np.where(BAGS == pad, 0, BAGS))  # pad swapped with 0
    layer = EmbeddingBag(6, 3, rng=rng, mode=mode, padding_idx=pad)
    counts = np.zeros((3, 6))
    np.add.at(counts, (np.arange(3)[:, None].repeat(4, 1), bags), 1.0)
    counts[:, pad] = 0                                    # padding counts for nothing
    if mode == "mean":
        counts /= counts.sum(1, keepdims=True)
    out = layer.forward(bags)
    np.testing.assert_allclose(out, counts @ layer.params["W"], rtol=1e-13)
    dout = rng.standard_normal((3, 3))
    assert layer.backward(dout) is None
    np.testing.assert_allclose(layer.grads["W"], counts.T @ dout, rtol=1e-13, atol=1e-15)
    assert np.all(layer.grads["W"][pad] == 0)             # the padding row: exactly zero
    result = check_layer(layer, bags, rng=rng).assert_ok()
    assert set(result.errors) == {"W"}


def test_bag_small_integer_ids_reach_the_right_rows(rng):
    layer = EmbeddingBag(300, 8, rng=rng)
    x = np.array([[40, 1, 0], [120, 40, 40]], dtype=np.uint8)
    layer.forward(x)
    dout = rng.standard_normal((2, 8))
    layer.backward(dout)
    counts = np.zeros((2, 300))
    np.add.at(counts, (np.arange(2)[:, None].repeat(3, 1), x.astype(np.int64)), 1.0)
    counts[:, 0] = 0                                      # padding counts for nothing
    np.testing.assert_allclose(layer.grads["W"], counts.T @ dout, rtol=1e-13, atol=1e-15)


def test_bag_weights_scale_each_position(rng):
    layer = EmbeddingBag(6, 2, rng=rng)
    w = rng.standard_normal(BAGS.shape)
    out = layer.forward(BAGS, weights=w)
    expected = np.einsum("nl,nld->nd", w * (BAGS != 0), layer.params["W"][BAGS])
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    g = rng.standard_normal((3, 2))
    layer.backward(g)

    def f():
        return float(np.sum(layer.forward(BAGS, weights=w) * g))

    from nnscratch.gradcheck import numerical_gradient, relative_error
    dw = layer.grads["W"].copy()
    assert relative_error(dw, numerical_gradient(f, layer.params["W"])) < 1e-8


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_bag_matches_torch_embeddingbag(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    layer = EmbeddingBag(6, 3, rng=rng, mode=mode)
    twin = torch.nn.EmbeddingBag(6, 3, mode=mode, padding_idx=0).double()
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(layer.params["W"]))
    w = rng.standard_normal(BAGS.shape) if mode == "sum" else None
    out = layer.forward(BAGS, weights=w)
    ot = twin(torch.tensor(BAGS),
              per_sample_weights=None if w is None else torch.tensor(w))
    g = rng.standard_normal((3, 3))
    (ot * torch.tensor(g)).sum().backward()
    layer.backward(g)
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], twin.weight.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_bag_errors_name_what_arrived(rng):
    with pytest.raises(ValueError, match="mode must be 'sum' or 'mean', got 'max'"):
        EmbeddingBag(4, 2, rng=rng, mode="max")
    # a padding id no token can have would silently pad nothing
    with pytest.raises(ValueError, match="padding_idx must be a token id, below n_tokens = 4, "
                                         "got 99"):
        EmbeddingBag(4, 2, rng=rng, padding_idx=99)
    layer = EmbeddingBag(4, 2, rng=rng, mode="mean")
    with pytest.raises(TypeError, match=r"x must be a \(N, L\) array of integer token ids"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="weights need mode='sum'"):
        layer.forward(np.array([[1, 2]]), weights=np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"x must lie in \[0, 4\), got values from 1 to 4"):
        layer.forward(np.array([[1, 4]]))


def test_bag_weights_of_another_shape_than_the_bags_are_refused(rng):
    layer = EmbeddingBag(6, 2, rng=rng)
    for shape in [(3, 3), (3,), (1, 4)]:          # (1, 4) and (3,) would broadcast silently
        with pytest.raises(ValueError, match=rf"EmbeddingBag.forward: weights must have the shape "
                                             rf"of x, \(3, 4\), got {re.escape(str(shape))}$"):
            layer.forward(BAGS, weights=np.ones(shape))


def test_bag_backward_refuses_a_dout_of_the_wrong_shape_and_keeps_its_gradient(rng):
    layer = EmbeddingBag(6, 2, rng=rng)
    layer.forward(BAGS)
    layer.backward(np.ones((3, 2)))
    before = layer.grads["W"].copy()
    for shape in [(3, 3), (1, 2), (3, 4, 2)]:     # (1, 2) would broadcast silently
        with pytest.raises(ValueError, match=rf"EmbeddingBag.backward: dout must have shape "
                                             rf"\(3, 2\), got {re.escape(str(shape))}$"):
            layer.backward(np.ones(shape))
    np.testing.assert_array_equal(layer.grads["W"], before)

"""Attention, multi-head attention, positions, LayerNorm, GELU and the Transformer block:
finite differences, structural identities, PyTorch as an oracle, errors."""

import importlib.util

import numpy as np
import pytest

from nnscratch.activations import GELU, gelu, gelu_prime
from nnscratch.gradcheck import check_layer, numerical_gradient, relative_error
from nnscratch.layers import (LayerNorm, MultiHeadAttention, PositionEmbedding,
                              SinusoidalPositions)
from nnscratch.layers.attention import attention_backward, attention_forward, causal_mask
from nnscratch.layers.position import sinusoidal_table
from nnscratch.models import gpt, transformer_block

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (optional oracle)")


def mha(rng, d=8, h=2, causal=False, dtype=np.float64):
    return MultiHeadAttention(d, h, rng=rng, causal=causal, dtype=dtype, init_std=0.5)


# ------------------------------------------------------- scaled dot-product attention

@pytest.mark.parametrize("causal", [False, True])
def test_attention_backward_matches_finite_differences(causal, rng):
    q, k, v = (rng.standard_normal((2, 3, 5, 4)) for _ in range(3))
    g = rng.standard_normal((2, 3, 5, 4))
    out, p = attention_forward(q, k, v, causal=causal)
    grads = attention_backward(g, q, k, v, p)
    for a, da in zip((q, k, v), grads):
        num = numerical_gradient(lambda: float(np.sum(attention_forward(q, k, v, causal)[0] * g)), a)
        assert relative_error(da, num) < 1e-7


def test_attention_is_a_softmax_weighted_average_of_the_values(rng):
    q, k, v = (rng.standard_normal((6, 3)) for _ in range(3))
    out, p = attention_forward(q, k, v)
    s = q @ k.T / np.sqrt(3)
    ref = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, ref, rtol=1e-12)
    np.testing.assert_allclose(out, ref @ v, rtol=1e-12)


def test_causal_attention_ignores_the_future(rng):
    q, k, v = (rng.standard_normal((1, 6, 3)) for _ in range(3))
    out, p = attention_forward(q, k, v, causal=True)
    assert np.all(p[0][~causal_mask(6)] == 0)
    np.testing.assert_allclose(p.sum(-1), 1, rtol=1e-12)
    k2, v2 = k.copy(), v.copy()
    k2[0, -1] += 5
    v2[0, -1] += 5
    np.testing.assert_array_equal(attention_forward(q, k2, v2, causal=True)[0][0, :-1], out[0, :-1])


def test_attention_refuses_mismatched_shapes(rng):
    q = rng.standard_normal((2, 5, 4))
    with pytest.raises(ValueError, match="k must have q's leading axes and width"):
        attention_forward(q, rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4)))
    with pytest.raises(ValueError, match="v must have one row per key"):
        attention_forward(q, q, rng.standard_normal((2, 6, 4)))
    with pytest.raises(ValueError, match="a causal mask needs as many queries as keys"):
        k = rng.standard_normal((2, 7, 4))
        attention_forward(q, k, k, causal=True)
    with pytest.raises(TypeError, match="must have dtype float64"):
        attention_forward(q, q.astype(np.float32), q)


# ------------------------------------------------------------------ multi-head attention

@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_gradients(causal, rng):
    check_layer(mha(rng, causal=causal), rng.standard_normal((2, 5, 8)), rng=rng).assert_ok()


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_is_the_concatenation_of_single_heads(causal, rng):
    layer = mha(rng, d=12, h=3, causal=causal)
    x = rng.standard_normal((2, 7, 12))
    out = layer.forward(x)
    p = layer.params
    d, dh = 12, 4
    heads = []
    for h in range(3):
        cols = slice(h * dh, (h + 1) * dh)
        q = x @ p["W_qkv"][:, :d][:, cols] + p["b_qkv"][:d][cols]
        k = x @ p["W_qkv"][:, d:2 * d][:, cols] + p["b_qkv"][d:2 * d][cols]
        v = x @ p["W_qkv"][:, 2 * d:][:, cols] + p["b_qkv"][2 * d:][cols]
        heads.append(attention_forward(q, k, v, causal=causal)[0])
    ref = np.concatenate(heads, axis=-1) @ p["W_o"] + p["b_o"]
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


def test_self_attention_without_positions_is_permutation_equivariant(rng):
    layer = mha(rng)
    x = rng.standard_normal((3, 6, 8))
    perm = rng.permutation(6)
    np.testing.assert_allclose(layer.forward(x[:, perm]), layer.forward(x)[:, perm], atol=1e-12)
    pos = PositionEmbedding(6, 8, rng=rng, dtype=np.float64, std=1.0)
    a, b = layer.forward(pos.forward(x[:, perm])), layer.forward(pos.forward(x))[:, perm]
    assert np.abs(a - b).max() > 1e-3            # with positions, order matters


def test_multi_head_attention_protocol_and_errors(rng):
    layer = mha(rng, causal=True, dtype=np.float32)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    x0 = x.copy()
    out = layer.forward(x, training=True)
    assert out.shape == x.shape and out.dtype == np.float32
    assert layer.attention.shape == (2, 2, 5, 5)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    d0 = dout.copy()
    dx = layer.backward(dout)
    assert dx.dtype == np.float32 and layer.backward(dout, need_dx=False) is None
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)
    assert {k: v.shape for k, v in layer.grads.items()} == {k: v.shape for k, v in layer.params.items()}
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, 8\)"):
        layer.forward(x[:, :, :4])
    with pytest.raises(TypeError, match="must have dtype float32"):
        layer.forward(x.astype(np.float64))
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(2, 5, 8\)"):
        layer.backward(dout[:, :4])
    with pytest.raises(ValueError, match=r"n_heads \(3\) must divide n_embed \(8\)"):
        MultiHeadAttention(8, 3, rng=rng)
    with pytest.raises(RuntimeError, match="before forward"):
        mha(rng).backward(dout)


def test_multi_head_attention_is_seeded():
    a, b = (mha(np.random.default_rng(3)) for _ in range(2))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


# ---------------------------------------------------------------------------- positions

def test_learned_positions_gradients(rng):
    check_layer(PositionEmbedding(7, 4, rng=rng, std=1.0), rng.standard_normal((3, 5, 4)),
                rng=rng).assert_ok()


def test_sinusoidal_positions_are_fixed_and_pass_the_gradient(rng):
    layer = SinusoidalPositions(10, 6)
    assert layer.params == {}
    x = rng.standard_normal((2, 4, 6))
    np.testing.assert_allclose(layer.forward(x) - x, np.broadcast_to(sinusoidal_table(10, 6)[:4], x.shape), atol=1e-15)
    check_layer(layer, x, rng=rng).assert_ok()
    table = sinusoidal_table(50, 8)
    np.testing.assert_allclose(table[:, 0], np.sin(np.arange(50)))
    np.testing.assert_allclose(table[:, 7], np.cos(np.arange(50) / 10000 ** (6 / 8)))
    with pytest.raises(ValueError, match="T at most max_len = 10"):
        layer.forward(rng.standard_normal((2, 11, 6)))
    with pytest.raises(ValueError, match="n_embed must be even"):
        sinusoidal_table(4, 5)


# ---------------------------------------------------------------------------- LayerNorm

def test_layer_norm_gradients_on_rows_and_sequences(rng):
    layer = LayerNorm(5)
    layer.params["gamma"] = rng.standard_normal(5)
    layer.params["beta"] = rng.standard_normal(5)
    check_layer(layer, rng.standard_normal((4, 5)), rng=rng).assert_ok()
    check_layer(layer, rng.standard_normal((2, 3, 5)), rng=rng).assert_ok()


def test_layer_norm_normalises_each_row_alone(rng):
    layer = LayerNorm(6)
    x = rng.standard_normal((3, 4, 6)) * 5 + 2
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-3)   # eps/var off 1
    np.testing.assert_allclose(layer.forward(x[:1])[0], y[0])      # no batch dependence
    with pytest.raises(ValueError, match=r"x must have shape \(N, \.\.\., 6\)"):
        layer.forward(x[..., :5])


def test_layer_norm_float16_statistics_do_not_overflow():
    layer = LayerNorm(4, dtype=np.float16)
    x = np.array([[300.0, 310.0, 290.0, 305.0]], dtype=np.float16)   # squares overflow fp16
    y = layer.forward(x)
    assert y.dtype == np.float16 and np.all(np.isfinite(y))


# --------------------------------------------------------------------------------- GELU

def test_gelu_derivative_and_layer(rng):
    z = np.linspace(-4, 4, 41)
    num = np.array([(gelu(np.array(a + 1e-6)) - gelu(np.array(a - 1e-6))) / 2e-6 for a in z])
    np.testing.assert_allclose(gelu_prime(z), num, rtol=1e-6, atol=1e-9)
    check_layer(GELU(), rng.standard_normal((3, 4, 5)), rng=rng).assert_ok()
    x = rng.standard_normal((4, 6)).astype(np.float32)
    assert GELU().forward(x).dtype == np.float32
    np.testing.assert_allclose(GELU().forward(x), gelu(x), rtol=1e-5, atol=1e-7)
    z = rng.standard_normal((3, 7)) * 4           # the layer uses sigma(2u) = (1 + tanh u) / 2
    np.testing.assert_allclose(GELU().forward(z), gelu(z), rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------- block and whole model

def sharpen(model):
    """Weights 20 times GPT-2's 0.02: gradients large enough for a sharp finite-difference check."""
    for k, v in model.params.items():
        if not k.endswith(("gamma", "beta")):
            v *= 20
    return model


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_gradients(causal, rng):
    block = sharpen(transformer_block(8, 2, rng=rng, causal=causal, dtype=np.float64))
    check_layer(block, rng.standard_normal((2, 5, 8)), rng=rng).assert_ok()
    assert block.n_params == 12 * 8 * 8 + 13 * 8


def test_gpt_gradients_and_causality(rng):
    model = sharpen(gpt(11, block_size=6, n_embed=8, n_heads=2, n_layers=2, rng=rng,
                        dtype=np.float64))
    x = rng.integers(0, 11, (3, 6))
    check_layer(model, x, rng=rng).assert_ok()
    out = model.forward(x)
    x2 = x.copy()
    x2[:, -1] = (x2[:, -1] + 1) % 11
    np.testing.assert_allclose(model.forward(x2)[:, :-1], out[:, :-1], atol=1e-12)
    sin = sharpen(gpt(11, block_size=6, n_embed=8, n_heads=2, n_layers=1, rng=rng,
                      positions="sinusoidal", dtype=np.float64))
    check_layer(sin, x, rng=rng).assert_ok()
    with pytest.raises(ValueError, match="positions must be 'learned' or 'sinusoidal'"):
        gpt(11, block_size=6, n_embed=8, n_heads=2, n_layers=1, rng=rng, positions="rope")


# ------------------------------------------------------------------- PyTorch as oracle

@needs_torch
@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_torch_sdpa(causal, rng):
    import torch
    q, k, v = (rng.standard_normal((2, 3, 6, 4)) for _ in range(3))
    g = rng.standard_normal((2, 3, 6, 4))
    out, p = attention_forward(q, k, v, causal=causal)
    dq, dk, dv = attention_backward(g, q, k, v, p)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    to.backward(torch.from_numpy(g))
    for ours, theirs in ((out, to), (dq, tq.grad), (dk, tk.grad), (dv, tv.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)


@needs_torch
def test_layer_norm_equals_torch(rng):
    import torch
    layer = LayerNorm(6)
    layer.params["gamma"] = rng.standard_normal(6)
    layer.params["beta"] = rng.standard_normal(6)
    x, g = rng.standard_normal((3, 4, 6)), rng.standard_normal((3, 4, 6))
    twin = torch.nn.LayerNorm(6).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.params["gamma"]))
        twin.bias.copy_(torch.from_numpy(layer.params["beta"]))
    tx = torch.tensor(x, requires_grad=True)
    ty = twin(tx)
    ty.backward(torch.from_numpy(g))
    out, dx = layer.forward(x), layer.backward(g)
    for ours, theirs in ((out, ty), (dx, tx.grad), (layer.grads["gamma"], twin.weight.grad),
                         (layer.grads["beta"], twin.bias.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)


@needs_torch
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_equals_torch(causal, rng):
    import torch
    layer = mha(rng, d=12, h=3, causal=causal)
    layer.params["b_qkv"][:] = rng.standard_normal(36)
    layer.params["b_o"][:] = rng.standard_normal(12)
    x, g = rng.standard_normal((2, 5, 12)), rng.standard_normal((2, 5, 12))
    twin = torch.nn.MultiheadAttention(12, 3, batch_first=True).double()
    p = layer.params
    with torch.no_grad():
        twin.in_proj_weight.copy_(torch.from_numpy(p["W_qkv"].T.copy()))
        twin.in_proj_bias.copy_(torch.from_numpy(p["b_qkv"]))
        twin.out_proj.weight.copy_(torch.from_numpy(p["W_o"].T.copy()))
        twin.out_proj.bias.copy_(torch.from_numpy(p["b_o"]))
    tx = torch.tensor(x, requires_grad=True)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64) if causal else None
    ty, _ = twin(tx, tx, tx, attn_mask=mask, need_weights=False)
    ty.backward(torch.from_numpy(g))
    out, dx = layer.forward(x), layer.backward(g)
    pairs = [(out, ty), (dx, tx.grad), (layer.grads["W_qkv"].T, twin.in_proj_weight.grad),
             (layer.grads["b_qkv"], twin.in_proj_bias.grad),
             (layer.grads["W_o"].T, twin.out_proj.weight.grad),
             (layer.grads["b_o"], twin.out_proj.bias.grad)]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)


@needs_torch
def test_gelu_equals_torch_tanh_form(rng):
    import torch
    z = rng.standard_normal(50) * 3
    tz = torch.tensor(z, requires_grad=True)
    ty = torch.nn.functional.gelu(tz, approximate="tanh")
    ty.backward(torch.ones_like(tz))
    np.testing.assert_allclose(gelu(z), ty.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(gelu_prime(z), tz.grad.numpy(), rtol=0, atol=1e-12)

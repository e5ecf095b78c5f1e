"""Scaled dot-product attention and MultiHeadAttention: finite differences with and without
the causal mask, heads = concatenated single heads, permutation equivariance, PyTorch as an
oracle, errors."""

import importlib.util

import numpy as np
import pytest

from nnscratch.gradcheck import (
    check_layer,
    numerical_gradient,
    relative_error,
)
from nnscratch.layers import MultiHeadAttention, PositionEmbedding
from nnscratch.layers.attention import (
    attention_backward,
    attention_forward,
    causal_mask,
)

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="PyTorch is not installed (optional oracle)"
)


# (leading axes, T, T_k, d, d_v, causal): T queries of width d, T_k keys of width d, values
# of width d_v. Square with d_v = d (the original case), then more and fewer keys than
# queries and values wider and narrower than the keys; a causal mask needs T_k = T, so
# the causal cases vary only d_v; one case has no leading axes at all.
ATTENTION_SHAPES = [
    ((2, 3), 5, 5, 4, 4, False),
    ((2, 3), 5, 5, 4, 4, True),
    ((2, 3), 4, 6, 3, 5, False),
    ((2,), 6, 3, 5, 2, False),
    ((), 4, 7, 2, 3, False),
    ((2, 3), 5, 5, 3, 6, True),
    ((3,), 6, 6, 4, 1, True),
]


def _shape_id(case):
    lead, t, t_k, d, d_v, causal = case
    return f"lead{len(lead)}-T{t}-Tk{t_k}-d{d}-dv{d_v}" + ("-causal" if causal else "")


def _qkv(rng, lead, t, t_k, d, d_v):
    """Random q (..., T, d), k (..., T_k, d), v (..., T_k, d_v) and dout (..., T, d_v)."""
    return (
        rng.standard_normal(lead + (t, d)),
        rng.standard_normal(lead + (t_k, d)),
        rng.standard_normal(lead + (t_k, d_v)),
        rng.standard_normal(lead + (t, d_v)),
    )


def mha(rng, d=8, h=2, causal=False, dtype=np.float64):
    return MultiHeadAttention(
        d, h, rng=rng, causal=causal, dtype=dtype, init_std=0.5
    )


# ------------------------------------------------------- scaled dot-product attention


@pytest.mark.parametrize("case", ATTENTION_SHAPES, ids=_shape_id)
def test_attention_backward_matches_finite_differences(case, rng):
    """dq, dk, dv against central differences, also with T_k != T and d_v != d."""
    lead, t, t_k, d, d_v, causal = case
    q, k, v, g = _qkv(rng, lead, t, t_k, d, d_v)
    out, p = attention_forward(q, k, v, causal=causal)
    assert out.shape == lead + (t, d_v) and p.shape == lead + (t, t_k)
    grads = attention_backward(g, q, k, v, p)
    for a, da in zip((q, k, v), grads):
        assert da.shape == a.shape
        num = numerical_gradient(
            lambda: float(
                np.sum(attention_forward(q, k, v, causal)[0] * g)
            ),
            a,
        )
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
    np.testing.assert_array_equal(
        attention_forward(q, k2, v2, causal=True)[0][0, :-1], out[0, :-1]
    )


def test_attention_refuses_mismatched_shapes(rng):
    q = rng.standard_normal((2, 5, 4))
    with pytest.raises(
        ValueError, match="k must have q's leading axes and width"
    ):
        attention_forward(
            q,
            rng.standard_normal((2, 5, 3)),
            rng.standard_normal((2, 5, 4)),
        )
    with pytest.raises(ValueError, match="v must have one row per key"):
        attention_forward(q, q, rng.standard_normal((2, 6, 4)))
    with pytest.raises(
        ValueError, match="a causal mask needs as many queries as keys"
    ):
        k = rng.standard_normal((2, 7, 4))
        attention_forward(q, k, k, causal=True)
    with pytest.raises(TypeError, match="must have dtype float64"):
        attention_forward(q, q.astype(np.float32), q)


# ------------------------------------------------------------------ multi-head attention


# (N, T, D, H) for MultiHeadAttention: self-attention, so its keys are always as many as
# its queries and each head's values as wide as its keys (d = D / H); what can vary is one
# head or as many heads as features (d = 1), a single position, an odd length.
MHA_SHAPES = [(2, 5, 8, 2), (2, 7, 6, 1), (3, 4, 6, 6), (2, 1, 6, 3)]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n, t, d, h", MHA_SHAPES)
def test_multi_head_attention_gradients(n, t, d, h, causal, rng):
    """Every parameter and the input against central differences, biases non-zero."""
    layer = mha(rng, d=d, h=h, causal=causal)
    layer.params["b_qkv"][:] = rng.standard_normal(3 * d)  # zero biases would not test their paths
    layer.params["b_o"][:] = rng.standard_normal(d)
    result = check_layer(layer, rng.standard_normal((n, t, d)), rng=rng).assert_ok()
    assert set(result.errors) == {"x", "W_qkv", "b_qkv", "W_o", "b_o"}


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
        k = (
            x @ p["W_qkv"][:, d : 2 * d][:, cols]
            + p["b_qkv"][d : 2 * d][cols]
        )
        v = x @ p["W_qkv"][:, 2 * d :][:, cols] + p["b_qkv"][2 * d :][cols]
        heads.append(attention_forward(q, k, v, causal=causal)[0])
    ref = np.concatenate(heads, axis=-1) @ p["W_o"] + p["b_o"]
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


def test_self_attention_without_positions_is_permutation_equivariant(rng):
    layer = mha(rng)
    x = rng.standard_normal((3, 6, 8))
    perm = rng.permutation(6)
    np.testing.assert_allclose(
        layer.forward(x[:, perm]), layer.forward(x)[:, perm], atol=1e-12
    )
    pos = PositionEmbedding(6, 8, rng=rng, dtype=np.float64, std=1.0)
    a, b = (
        layer.forward(pos.forward(x[:, perm])),
        layer.forward(pos.forward(x))[:, perm],
    )
    assert np.abs(a - b).max() > 1e-3  # with positions, order matters


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
    assert (
        dx.dtype == np.float32
        and layer.backward(dout, need_dx=False) is None
    )
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)
    assert {k: v.shape for k, v in layer.grads.items()} == {
        k: v.shape for k, v in layer.params.items()
    }
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, 8\)"):
        layer.forward(x[:, :, :4])
    with pytest.raises(TypeError, match="must have dtype float32"):
        layer.forward(x.astype(np.float64))
    with pytest.raises(
        ValueError, match=r"dout must have the output's shape \(2, 5, 8\)"
    ):
        layer.backward(dout[:, :4])
    with pytest.raises(
        ValueError, match=r"n_heads \(3\) must divide n_embed \(8\)"
    ):
        MultiHeadAttention(8, 3, rng=rng)
    with pytest.raises(RuntimeError, match="before forward"):
        mha(rng).backward(dout)


def test_multi_head_attention_is_seeded():
    a, b = (mha(np.random.default_rng(3)) for _ in range(2))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


# ------------------------------------------------------------------- PyTorch as oracle


@pytest.mark.parametrize("case", ATTENTION_SHAPES, ids=_shape_id)
def test_attention_equals_torch_sdpa(case, rng):
    """Output, dq, dk, dv against torch's scaled_dot_product_attention (its scale is
    1/sqrt(d), the width of the queries and keys, whatever d_v)."""
    torch = pytest.importorskip("torch")
    lead, t, t_k, d, d_v, causal = case
    q, k, v, g = _qkv(rng, lead, t, t_k, d, d_v)
    out, p = attention_forward(q, k, v, causal=causal)
    dq, dk, dv = attention_backward(g, q, k, v, p)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    to = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, is_causal=causal
    )
    to.backward(torch.from_numpy(g))
    for ours, theirs in (
        (out, to),
        (dq, tq.grad),
        (dk, tk.grad),
        (dv, tv.grad),
    ):
        np.testing.assert_allclose(
            ours, theirs.detach().numpy(), rtol=0, atol=1e-10
        )


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
    mask = (
        torch.nn.Transformer.generate_square_subsequent_mask(
            5, dtype=torch.float64
        )
        if causal
        else None
    )
    ty, _ = twin(tx, tx, tx, attn_mask=mask, need_weights=False)
    ty.backward(torch.from_numpy(g))
    out, dx = layer.forward(x), layer.backward(g)
    pairs = [
        (out, ty),
        (dx, tx.grad),
        (layer.grads["W_qkv"].T, twin.in_proj_weight.grad),
        (layer.grads["b_qkv"], twin.in_proj_bias.grad),
        (layer.grads["W_o"].T, twin.out_proj.weight.grad),
        (layer.grads["b_o"], twin.out_proj.bias.grad),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(
            ours, theirs.detach().numpy(), rtol=0, atol=1e-10
        )


def test_attention_without_keys_is_refused_with_a_message_not_a_numpy_error():
    q, k, v = np.zeros((2, 3)), np.zeros((0, 3)), np.zeros((0, 4))
    with pytest.raises(ValueError, match=r"attention_forward: attention needs at least one key .* got T_k = 0"):
        attention_forward(q, k, v)
    m = MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"MultiHeadAttention.forward: x must have shape \(N, T, 8\) .* T >= 1 .* got \(2, 0, 8\)"):
        m.forward(np.zeros((2, 0, 8)))
    assert m.forward(np.zeros((0, 3, 8))).shape == (0, 3, 8)  # an empty batch is fine


def test_attention_refuses_a_query_key_or_value_without_a_length_axis(rng):
    q = rng.standard_normal((2, 5, 4))
    with pytest.raises(ValueError, match=r"attention_forward: q must have shape \(\.\.\., length, "
                                         r"width\), got \(4,\)"):
        attention_forward(q[0, 0], q[0], q[0])
    with pytest.raises(ValueError, match=r"attention_forward: k must have shape \(\.\.\., length, "
                                         r"width\), got \(4,\)"):
        attention_forward(q, q[0, 0], q)
    with pytest.raises(ValueError, match=r"attention_forward: v must have shape \(\.\.\., length, "
                                         r"width\), got \(\)"):
        attention_forward(q, q, np.ones(()))

"""The SymPy leg of the three-way gradient checks (by hand, by SymPy, by finite differences)
for the layers and losses whose theory pages derive the backward pass in prose only. Each
test writes the forward computation in SymPy on a tiny input, with symbols for what is
differentiated, differentiates :math:`L = \\sum G \\odot \\text{out}` (for a loss, the loss
itself) with ``sympy.diff``, evaluates the derivative to 30 digits at random points, and
asserts that the package's ``backward`` (its return value and its ``grads``) equals it to
float64 precision. The random points are exact binary fractions, so SymPy and the package
see exactly the same numbers; each test also checks the forward values, so the SymPy model
is shown to be the function the package computes.
"""

import numpy as np
import pytest
import sympy as sp

from nnscratch.activations import GELU, Tanh, gelu_prime
from nnscratch.adversarial import discriminator_loss
from nnscratch.detection import centernet_loss
from nnscratch.layers import (
    AvgPool2D,
    BatchNorm2D,
    ConvTranspose2D,
    Dense,
    Dropout,
    EmbeddingBag,
    MaxOverTime,
    MeanOverTime,
    PositionEmbedding,
)
from nnscratch.layers.conv import (
    conv_transpose2d_forward_naive,
    conv_transpose_output_size,
)
from nnscratch.network import Residual, Sequential

RTOL = 1e-10  # float64 against 30-digit SymPy values
ATOL = 1e-14  # for entries whose exact value is 0 or underflows


# ----------------------------------------------------------------------------- helpers


def _values(rng, shape, scale=1.0):
    """Random float64 values that are multiples of 1/256: exact in float64 and in SymPy."""
    return np.round(rng.standard_normal(shape) * scale * 256) / 256


def _symbols(name, shape):
    """An object array of real SymPy symbols ``name_0, name_1, ...`` of ``shape``."""
    n = int(np.prod(shape))
    return np.array(
        sp.symbols(f"{name}_0:{n}", real=True), dtype=object
    ).reshape(shape)


def _exact(values):
    """``values`` (float64) as an object array of the SymPy rationals they equal exactly."""
    values = np.asarray(values, dtype=np.float64)
    return np.array(
        [sp.Rational(float(v)) for v in values.flat], dtype=object
    ).reshape(values.shape)


def _at(symbols, values):
    """The substitution ``{symbol: its exact value}``."""
    return dict(zip(symbols.flat, _exact(values).flat))


def _number(expr, point):
    """``expr`` at ``point``, evaluated to 30 digits, as a float."""
    return float(sp.sympify(expr).xreplace(point).evalf(30))


def _evaluate(exprs, point):
    """Every entry of an object array of expressions at ``point``, as float64."""
    exprs = np.asarray(exprs, dtype=object)
    return np.array(
        [_number(e, point) for e in exprs.flat], dtype=np.float64
    ).reshape(exprs.shape)


def _grad(loss, symbols, point):
    """SymPy's :math:`\\partial L / \\partial s` for every symbol ``s``, evaluated at
    ``point``: a float64 array of the symbols' shape."""
    return np.array(
        [_number(sp.diff(loss, s), point) for s in symbols.flat],
        dtype=np.float64,
    ).reshape(symbols.shape)


def _upstream(out, g):
    """:math:`L = \\sum G \\odot \\text{out}` for a symbolic ``out`` and numeric ``G``."""
    return sp.Add(*(_exact(g) * np.asarray(out, dtype=object)).flat)


def _close(got, expected, what):
    np.testing.assert_allclose(
        got, expected, rtol=RTOL, atol=ATOL, err_msg=what
    )


# ------------------------------------------------------------------------ 1. GELU

GELU_POINTS = np.array(
    [-12, -8, -5, -3, -1.5, -0.5, -1 / 64, 0, 1 / 64, 0.5, 1.5, 3, 5, 8, 12]
)


def _gelu_sympy(z):
    u = sp.sqrt(2 / sp.pi) * (z + sp.Rational(44715, 10**6) * z**3)
    return z * (1 + sp.tanh(u)) / 2


def test_gelu_layer_backward_equals_sympy(rng):
    # Tails included: the layer's sigmoid form keeps full relative precision out to
    # |z| = 12, where GELU'(-12) is about -5e-60.
    z = _symbols("z", GELU_POINTS.shape)
    out = np.array([_gelu_sympy(s) for s in z.flat], dtype=object)
    g = _values(rng, GELU_POINTS.shape)
    point = _at(z, GELU_POINTS)
    layer = GELU()
    y = layer.forward(GELU_POINTS)
    dx = layer.backward(g)
    np.testing.assert_allclose(
        y, _evaluate(out, point), rtol=RTOL, atol=0, err_msg="forward"
    )
    expected = _grad(_upstream(out, g), z, point)
    np.testing.assert_allclose(dx, expected, rtol=RTOL, atol=0, err_msg="dx")


def test_gelu_prime_equals_sympy_derivative():
    z = sp.Symbol("z", real=True)
    derivative = sp.diff(_gelu_sympy(z), z)
    expected = np.array(
        [_number(derivative, {z: sp.Rational(p)}) for p in GELU_POINTS]
    )
    # The tanh form computes 1 + tanh(u) with cancellation in the negative tail, so only
    # absolute precision holds there (gelu_prime(-8) is 0, not -4.7e-20); the layer above,
    # which uses the sigmoid form, is exact in relative terms.
    np.testing.assert_allclose(
        gelu_prime(GELU_POINTS), expected, rtol=RTOL, atol=1e-15
    )


# -------------------------------------------------------------------- 2. AvgPool2D


def _avgpool_sympy(x, k, s):
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((n, c, ho, wo), dtype=object)
    for e, ch, p, q in np.ndindex(out.shape):
        window = x[e, ch, s * p : s * p + k, s * q : s * q + k]
        out[e, ch, p, q] = sp.Add(*window.flat) / k**2
    return out


@pytest.mark.parametrize(
    "shape, size, stride",
    [
        ((1, 1, 4, 4), 2, None),  # windows side by side
        ((1, 1, 4, 4), 2, 1),  # overlapping windows
        ((1, 2, 5, 5), 2, 2),  # last row and column in no window
        ((1, 1, 5, 5), 3, 2),  # overlapping, 3 x 3
        ((1, 1, 5, 5), 2, 3),  # gaps between windows
    ],
)
def test_avgpool_backward_equals_sympy(shape, size, stride, rng):
    x = _symbols("x", shape)
    out = _avgpool_sympy(x, size, size if stride is None else stride)
    xv = _values(rng, shape)
    g = _values(rng, out.shape)
    point = _at(x, xv)
    layer = AvgPool2D(size, stride)
    _close(layer.forward(xv), _evaluate(out, point), "forward")
    _close(layer.backward(g), _grad(_upstream(out, g), x, point), "dx")


# ------------------------------------------------- 3. MaxOverTime, MeanOverTime

MASK = np.array(
    [[True, True, True, False], [True, True, False, False]]
)  # (N, T) = (2, 4)


def _distinct_values(rng, shape):
    """Distinct multiples of 1/8, the largest at the padded positions of ``MASK``: a
    layer that let padding take part would pick them (and route gradient to them)."""
    v = rng.permutation(np.prod(shape)).reshape(shape) / 8 - 1
    v[~MASK] += 100
    return v


@pytest.mark.parametrize("cls", [MaxOverTime, MeanOverTime])
def test_pooling_over_time_with_a_mask_backward_equals_sympy(cls, rng):
    n, t, d = 2, 4, 3
    x = _symbols("x", (n, t, d))
    out = np.empty((n, d), dtype=object)
    for i, k in np.ndindex(n, d):
        real = [x[i, j, k] for j in range(t) if MASK[i, j]]
        # SymPy's Max differentiates to Heaviside selectors: 1 on the unique maximum.
        out[i, k] = sp.Max(*real) if cls is MaxOverTime else sp.Add(*real) / len(real)
    xv = _distinct_values(rng, (n, t, d))
    g = _values(rng, (n, d))
    point = _at(x, xv)
    layer = cls()
    _close(layer.forward(xv, mask=MASK), _evaluate(out, point), "forward")
    dx = layer.backward(g)
    _close(dx, _grad(_upstream(out, g), x, point), "dx")
    assert np.all(dx[~MASK] == 0.0), "padded positions must get exactly zero gradient"


# -------------------------------------------------------------- 4. PositionEmbedding


def test_position_embedding_backward_equals_sympy(rng):
    max_len, d, n, t = 4, 2, 2, 3  # T < max_len: the last row of P gets no gradient
    layer = PositionEmbedding(max_len, d, rng=rng)
    x, p = _symbols("x", (n, t, d)), _symbols("P", (max_len, d))
    out = x + p[None, :t]
    xv, pv = _values(rng, (n, t, d)), _values(rng, (max_len, d))
    g = _values(rng, (n, t, d))
    point = {**_at(x, xv), **_at(p, pv)}
    layer.params["P"][...] = pv
    _close(layer.forward(xv), _evaluate(out, point), "forward")
    dx = layer.backward(g)
    loss = _upstream(out, g)
    _close(dx, _grad(loss, x, point), "dx")
    _close(layer.grads["P"], _grad(loss, p, point), "dP")  # summed over the batch


# ------------------------------------------------------------------- 5. Dropout


def test_dropout_with_a_fixed_mask_backward_equals_sympy(rng):
    p = 0.25
    keep = np.array(
        [[True, False, True, True], [False, True, True, False], [True, True, False, True]]
    )
    layer = Dropout(p, rng=rng).fix_mask(keep)
    x = _symbols("x", keep.shape)
    out = x * _exact(keep.astype(float)) / (1 - sp.Rational(p))
    xv, g = _values(rng, keep.shape), _values(rng, keep.shape)
    point = _at(x, xv)
    _close(layer.forward(xv, training=True), _evaluate(out, point), "forward")
    dx = layer.backward(g)
    _close(dx, _grad(_upstream(out, g), x, point), "dx")
    assert np.all(dx[~keep] == 0.0)


# ----------------------------------------------------------------- 6. ConvTranspose2D


def _conv_transpose_sympy(x, w, b, s, pd, op):
    """The docstring's definition as an explicit sum: input pixel (p, q) of channel c adds
    ``x[n, c, p, q] · W[c, o, i, j]`` to output pixel ``(s·p + i - P, s·q + j - P)``."""
    n, c_in, h, wd = x.shape
    _, c_out, k, _ = w.shape
    ho = conv_transpose_output_size(h, k, s, pd, op)
    wo = conv_transpose_output_size(wd, k, s, pd, op)
    out = np.empty((n, c_out, ho, wo), dtype=object)
    for e, o, a, bb in np.ndindex(out.shape):
        terms = [b[o]]
        for c, p, q, i, j in np.ndindex(c_in, h, wd, k, k):
            if s * p + i - pd == a and s * q + j - pd == bb:
                terms.append(x[e, c, p, q] * w[c, o, i, j])
        out[e, o, a, bb] = sp.Add(*terms)
    return out


@pytest.mark.parametrize(
    "c_in, c_out, k, s, pd, op, hw",
    [
        (1, 1, 2, 2, 0, 0, 2),  # patches side by side
        (1, 2, 2, 2, 0, 0, 2),
        (2, 1, 3, 2, 1, 1, 2),  # overlapping patches, cropped, output padding
        (1, 2, 3, 1, 0, 0, 2),  # stride 1: every patch overlaps
    ],
)
def test_conv_transpose_backward_equals_sympy(c_in, c_out, k, s, pd, op, hw, rng):
    n = 2 if c_in == 1 else 1
    layer = ConvTranspose2D(c_in, c_out, k, s, pd, op, rng=rng)
    x, w, b = (
        _symbols("x", (n, c_in, hw, hw)),
        _symbols("W", (c_in, c_out, k, k)),
        _symbols("b", (c_out,)),
    )
    out = _conv_transpose_sympy(x, w, b, s, pd, op)
    # The teaching loops, run on SymPy objects, build the very same expressions.
    naive = conv_transpose2d_forward_naive(x, w, b, s, pd, op)
    assert naive.shape == out.shape
    assert all(sp.expand(u - v) == 0 for u, v in zip(naive.flat, out.flat))
    xv, wv, bv = (
        _values(rng, x.shape),
        _values(rng, w.shape),
        _values(rng, b.shape),
    )
    g = _values(rng, out.shape)
    point = {**_at(x, xv), **_at(w, wv), **_at(b, bv)}
    layer.params["W"][...], layer.params["b"][...] = wv, bv
    _close(layer.forward(xv), _evaluate(out, point), "forward")
    dx = layer.backward(g)
    loss = _upstream(out, g)
    _close(dx, _grad(loss, x, point), "dX")
    _close(layer.grads["W"], _grad(loss, w, point), "dW")
    _close(layer.grads["b"], _grad(loss, b, point), "db")


# -------------------------------------------------------------------- 7. EmbeddingBag

BAGS = np.array([[1, 3, 3, 0], [2, 4, 0, 0], [0, 0, 0, 0]])  # 0 pads; token 3 twice


@pytest.mark.parametrize("mode, weighted", [("sum", False), ("mean", False), ("sum", True)])
def test_embedding_bag_backward_equals_sympy(mode, weighted, rng):
    v, d, pad = 5, 2, 0
    layer = EmbeddingBag(v, d, rng=rng, mode=mode, padding_idx=pad)
    w = _symbols("W", (v, d))
    wts = _values(rng, BAGS.shape) if weighted else np.ones(BAGS.shape)
    out = np.empty((len(BAGS), d), dtype=object)
    for i in range(len(BAGS)):
        real = [l for l in range(BAGS.shape[1]) if BAGS[i, l] != pad]
        for k in range(d):
            total = sp.Add(*(sp.Rational(wts[i, l]) * w[BAGS[i, l], k] for l in real))
            # an all-padding bag pools to zero, in both modes
            out[i, k] = total / len(real) if mode == "mean" and real else total
    wv, g = _values(rng, (v, d)), _values(rng, (len(BAGS), d))
    point = _at(w, wv)
    layer.params["W"][...] = wv
    y = layer.forward(BAGS, weights=wts if weighted else None)
    _close(y, _evaluate(out, point), "forward")
    assert layer.backward(g) is None  # token ids have no gradient
    _close(layer.grads["W"], _grad(_upstream(out, g), w, point), "dW")
    assert np.all(layer.grads["W"][pad] == 0.0)


# ------------------------------------------------------------------------ 8. Residual


@pytest.mark.parametrize("body", ["dense", "dense_tanh_dense"])
def test_residual_backward_equals_sympy(body, rng):
    n, d = 2, 3
    if body == "dense":
        layers = [Dense(d, d, rng=rng)]
    else:
        layers = [Dense(d, d, rng=rng), Tanh(), Dense(d, d, rng=rng)]
    block = Residual(layers[0] if body == "dense" else Sequential(layers))
    prefix = "0." if body == "dense" else "0.{}."
    x = _symbols("x", (n, d))
    xv = _values(rng, (n, d))
    point = _at(x, xv)
    h, params = x, {}
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense):
            w, b = _symbols(f"W{i}", (d, d)), _symbols(f"b{i}", (d,))
            wv, bv = _values(rng, (d, d)), _values(rng, (d,))
            layer.params["W"][...], layer.params["b"][...] = wv, bv
            point.update({**_at(w, wv), **_at(b, bv)})
            key = prefix.format(i)
            params[key + "W"], params[key + "b"] = w, b
            h = h.dot(w) + b
        else:
            h = np.vectorize(sp.tanh, otypes=[object])(h)
    out = x + h
    g = _values(rng, (n, d))
    _close(block.forward(xv), _evaluate(out, point), "forward")
    dx = block.backward(g)
    loss = _upstream(out, g)
    _close(dx, _grad(loss, x, point), "dx")
    assert set(block.grads) == set(params)
    for key, sym in params.items():
        _close(block.grads[key], _grad(loss, sym, point), key)


# --------------------------------------------------------------------- 9. BatchNorm2D


def test_batchnorm2d_training_backward_equals_sympy(rng):
    n, c, h, w = 2, 2, 2, 2
    layer = BatchNorm2D(c)
    eps = sp.Rational(layer.eps)  # the float the layer adds, exactly
    x = _symbols("x", (n, c, h, w))
    gamma, beta = _symbols("gamma", (c,)), _symbols("beta", (c,))
    out = np.empty(x.shape, dtype=object)
    for ch in range(c):
        vals = list(x[:, ch].flat)
        mu = sp.Add(*vals) / len(vals)
        var = sp.Add(*((v - mu) ** 2 for v in vals)) / len(vals)  # biased
        out[:, ch] = gamma[ch] * (x[:, ch] - mu) / sp.sqrt(var + eps) + beta[ch]
    xv, gv, bv = (
        _values(rng, x.shape),
        1 + _values(rng, (c,), 0.5),
        _values(rng, (c,)),
    )
    g = _values(rng, x.shape)
    point = {**_at(x, xv), **_at(gamma, gv), **_at(beta, bv)}
    layer.params["gamma"][...], layer.params["beta"][...] = gv, bv
    _close(layer.forward(xv, training=True), _evaluate(out, point), "forward")
    dx = layer.backward(g)
    loss = _upstream(out, g)
    _close(dx, _grad(loss, x, point), "dx")
    _close(layer.grads["gamma"], _grad(loss, gamma, point), "dgamma")
    _close(layer.grads["beta"], _grad(loss, beta, point), "dbeta")


# ------------------------------------------------------------- 10. discriminator_loss


@pytest.mark.parametrize("column", [False, True])  # logits (N,) or (N, 1)
def test_discriminator_loss_gradients_equal_sympy(column, rng):
    real_v = np.array([-3.0, 0.5, 2.25, 9.0])
    fake_v = np.array([-6.5, 1.75, 0.0])
    r, f = _symbols("r", real_v.shape), _symbols("f", fake_v.shape)

    def softplus(s):
        return sp.log(1 + sp.exp(s))

    loss = sp.Add(*(softplus(-s) for s in r)) / len(r) + sp.Add(
        *(softplus(s) for s in f)
    ) / len(f)
    point = {**_at(r, real_v), **_at(f, fake_v)}
    shape = (lambda a: a[:, None]) if column else (lambda a: a)
    value, d_real, d_fake = discriminator_loss(shape(real_v), shape(fake_v))
    assert value == pytest.approx(_number(loss, point), rel=RTOL)
    assert d_real.shape == shape(real_v).shape and d_fake.shape == shape(fake_v).shape
    _close(d_real.reshape(-1), _grad(loss, r, point), "d_real")
    _close(d_fake.reshape(-1), _grad(loss, f, point), "d_fake")


# ----------------------------------------------------------------- 11. centernet_loss


def _centernet_case():
    """A 1-image, 2-class, 3 x 3 output and target with 2 objects (so M = 2).

    Class 0 has its centre at cell (0, 1), class 1 at (2, 2); the heatmaps are 1 there,
    below 1 elsewhere. The predicted width at (2, 2) equals its target, where the L1 term
    has a zero (sub)gradient.
    """
    c, hw = 2, 3
    target = np.zeros((1, c + 5, hw, hw))
    target[0, 0] = [[0.5, 1.0, 0.5], [0.25, 0.5, 0.25], [0.0, 0.125, 0.0]]
    target[0, 1] = [[0.0, 0.0, 0.0], [0.0, 0.25, 0.5], [0.0, 0.5, 1.0]]
    for (i, j), (sw, sh, ox, oy) in {
        (0, 1): (2.5, 1.75, 0.25, 0.625),
        (2, 2): (1.5, 3.0, 0.75, 0.125),
    }.items():
        target[0, c:, i, j] = [sw, sh, ox, oy, 1.0]
    return c, target


def test_centernet_loss_gradient_equals_sympy(rng):
    c, target = _centernet_case()
    _, ch, hh, ww = target.shape
    alpha, beta, lam_s, lam_o = 2, 4, sp.Rational(1, 10), 1
    out_v = _values(rng, (1, c + 4, hh, ww))
    out_v[0, c, 2, 2] = target[0, c, 2, 2]  # prediction = target: zero L1 gradient
    z = _symbols("z", out_v.shape)
    y, mask = _exact(target[:, :c]), target[0, c + 4]
    m = int(mask.sum())
    heat = []
    for k, i, j in np.ndindex(c, hh, ww):
        p = 1 / (1 + sp.exp(-z[0, k, i, j]))
        yk = y[0, k, i, j]
        if yk == 1:
            heat.append(-((1 - p) ** alpha) * sp.log(p))
        else:
            heat.append(-((1 - yk) ** beta) * p**alpha * sp.log(1 - p))
    reg = []
    for i, j in zip(*np.nonzero(mask)):
        for r, lam in zip(range(4), (lam_s, lam_s, lam_o, lam_o)):
            t = sp.Rational(float(target[0, c + r, i, j]))
            reg.append(lam * sp.Abs(z[0, c + r, i, j] - t))
    loss = (sp.Add(*heat) + sp.Add(*reg)) / m
    point = _at(z, out_v)
    value, dout = centernet_loss(out_v, target)  # CenterNet's defaults: 2, 4, 0.1, 1
    assert value == pytest.approx(_number(loss, point), rel=RTOL)
    expected = _grad(loss, z, point)
    _close(dout[:, :c], expected[:, :c], "heatmap logits")
    _close(dout[:, c:], expected[:, c:], "sizes and offsets (L1)")
    assert dout[0, c, 2, 2] == 0.0  # prediction equal to the target
    assert np.all(dout[0, c:][:, mask == 0] == 0.0)  # no regression away from centres

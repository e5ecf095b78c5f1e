import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from nnscratch import activations as act
from nnscratch.activations import GELU, gelu, gelu_prime
from nnscratch.gradcheck import check_layer

ELEMENTWISE = [
    (
        act.Sigmoid,
        act.sigmoid,
        act.sigmoid_prime,
        lambda z: 1 / (1 + sp.exp(-z)),
    ),
    (act.Tanh, act.tanh, act.tanh_prime, sp.tanh),
    (act.ReLU, act.relu, act.relu_prime, lambda z: sp.Max(0, z)),
    (
        act.LeakyReLU,
        act.leaky_relu,
        act.leaky_relu_prime,
        lambda z: sp.Piecewise((z, z > 0), (sp.Rational(1, 100) * z, True)),
    ),
]


@pytest.mark.parametrize(
    "layer_cls", [e[0] for e in ELEMENTWISE] + [act.Softmax]
)
def test_layer_gradients_match_finite_differences(layer_cls, rng):
    x = rng.standard_normal((5, 4))
    check_layer(layer_cls(), x, rng=rng).assert_ok()


@pytest.mark.parametrize("layer_cls, f, df, sym", ELEMENTWISE)
def test_function_and_derivative_match_sympy(layer_cls, f, df, sym, rng):
    z = sp.symbols("z", real=True)
    expr = sym(z)
    f_sym = sp.lambdify(z, expr, "numpy")
    df_sym = sp.lambdify(z, sp.diff(expr, z), "numpy")
    # Points away from the kink at 0, where the derivative of ReLU is undefined.
    pts = rng.standard_normal(50)
    pts = pts[np.abs(pts) > 1e-3]
    np.testing.assert_allclose(
        f(pts), np.array([f_sym(p) for p in pts], dtype=float), rtol=1e-12
    )
    np.testing.assert_allclose(
        df(pts), np.array([df_sym(p) for p in pts], dtype=float), rtol=1e-12
    )


def test_sigmoid_is_stable_for_huge_inputs():
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    # e^{-1000} underflows to 0, the right answer; nothing may overflow
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = act.sigmoid(z)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert s[1] == pytest.approx(np.exp(-50.0), rel=1e-15)  # not rounded to 0
    assert np.all(np.isfinite(act.sigmoid_prime(z)))


@pytest.mark.parametrize("dtype, tiny", [(np.float64, 1e-300), (np.float32, 1e-36)])
def test_sigmoid_keeps_full_relative_precision(dtype, tiny):
    # sigma(z) to 40 digits; below -37, (1 + tanh(z/2)) / 2 rounds to exactly 0
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    z = np.linspace(-700, 700, 2801).astype(dtype)
    exact = np.array(
        [float(1 / (1 + mpmath.exp(-mpmath.mpf(float(v))))) for v in z]
    )
    keep = exact > tiny  # normal numbers of the dtype: relative error is defined
    # e^{-|z|} may underflow to 0, the right answer; nothing may overflow
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = act.sigmoid(z)
    assert s.dtype == dtype
    eps = np.finfo(dtype).eps
    rel = np.abs(s[keep] - exact[keep]) / exact[keep]
    assert rel.max() <= 4 * eps, rel.max()


def test_softmax_rows_sum_to_one_and_survive_large_logits():
    z = np.array([[1000.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]])
    p = act.softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0])


def test_softmax_backward_equals_explicit_jacobian(rng):
    z = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    layer = act.Softmax()
    p = layer.forward(z)
    dz = layer.backward(dout)
    for i in range(3):
        jac = np.diag(p[i]) - np.outer(p[i], p[i])
        np.testing.assert_allclose(dz[i], jac.T @ dout[i], rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    seed=st.integers(0, 2**32 - 1),
)
def test_activation_layers_keep_shape_dtype_and_do_not_mutate(shape, seed):
    rng = np.random.default_rng(seed)
    for layer in [
        act.Sigmoid(),
        act.Tanh(),
        act.ReLU(),
        act.LeakyReLU(0.1),
        act.Softmax(),
    ]:
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(shape).astype(dtype)
            dout = rng.standard_normal(shape).astype(dtype)
            x0, d0 = x.copy(), dout.copy()
            out = layer.forward(x)
            dx = layer.backward(dout)
            assert out.shape == dx.shape == shape
            assert out.dtype == dx.dtype == dtype
            np.testing.assert_array_equal(x, x0)
            np.testing.assert_array_equal(dout, d0)


def test_backward_before_forward_and_wrong_shapes_raise():
    with pytest.raises(RuntimeError, match="before forward"):
        act.ReLU().backward(np.ones((2, 2)))
    layer = act.Sigmoid()
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*got \(3, 2\)"):
        layer.backward(np.ones((3, 2)))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        act.ReLU().forward([1.0, 2.0])
    with pytest.raises(ValueError, match="2 dimensions"):
        act.softmax(np.ones(3))


def test_softmax_backward_refuses_a_dout_of_another_shape_and_keeps_its_forward(rng):
    layer = act.Softmax()
    z = rng.standard_normal((2, 3))
    p = layer.forward(z)
    with pytest.raises(
        ValueError,
        match=r"Softmax.backward: dout must have shape \(2, 3\), got \(3, 2\)",
    ):
        layer.backward(np.ones((3, 2)))
    # the refused call leaves the forward pass in place: a right-shaped dout still works
    dout = rng.standard_normal((2, 3))
    np.testing.assert_allclose(
        layer.backward(dout),
        p * (dout - np.sum(dout * p, axis=1, keepdims=True)),
        rtol=1e-15,
    )


# --------------------------------------------------------------------------------- GELU


def test_gelu_derivative_and_layer(rng):
    z = np.linspace(-4, 4, 41)
    num = np.array(
        [
            (gelu(np.array(a + 1e-6)) - gelu(np.array(a - 1e-6))) / 2e-6
            for a in z
        ]
    )
    np.testing.assert_allclose(gelu_prime(z), num, rtol=1e-6, atol=1e-9)
    check_layer(GELU(), rng.standard_normal((3, 4, 5)), rng=rng).assert_ok()
    x = rng.standard_normal((4, 6)).astype(np.float32)
    assert GELU().forward(x).dtype == np.float32
    np.testing.assert_allclose(
        GELU().forward(x), gelu(x), rtol=1e-5, atol=1e-7
    )
    z = (
        rng.standard_normal((3, 7)) * 4
    )  # the layer uses sigma(2u) = (1 + tanh u) / 2
    np.testing.assert_allclose(
        GELU().forward(z), gelu(z), rtol=1e-13, atol=1e-15
    )


def test_gelu_in_float16_stays_finite_far_out():
    # z * z overflows float16 beyond 256; the layer works in float32 and rounds once
    z = np.array([-60000, -300, -3, 0, 3, 300, 60000], dtype=np.float16)
    layer = GELU()
    out = layer.forward(z)
    dz = layer.backward(np.ones_like(z))
    assert out.dtype == dz.dtype == np.float16
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(out, gelu(z64), rtol=2e-3, atol=1e-3)
    np.testing.assert_allclose(dz, gelu_prime(z64), rtol=2e-3, atol=1e-3)


def test_gelu_takes_a_python_number():
    for fn in (gelu, gelu_prime):
        value = fn(1.5)
        assert np.ndim(value) == 0 and value == float(fn(np.array(1.5)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_slope_is_0_or_1_where_z_cubed_overflows(dtype):
    """|z|^3 is infinite here; the slope is still 0 on the left and 1 on the right (as in
    PyTorch), not inf * 0 = nan, and no overflow warning reaches the reader.
    """
    big = np.finfo(dtype).max ** 0.5  # its cube overflows
    z = np.array([-big, -3e13, 3e13, big], dtype=dtype)
    layer = GELU()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = layer.forward(z)
        dz = layer.backward(np.ones_like(z))
    np.testing.assert_array_equal(out, np.array([0, 0, 3e13, big], dtype=dtype))
    np.testing.assert_array_equal(dz, [0, 0, 1, 1])


def test_gelu_equals_torch_tanh_form(rng):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal(50) * 3
    tz = torch.tensor(z, requires_grad=True)
    ty = torch.nn.functional.gelu(tz, approximate="tanh")
    ty.backward(torch.ones_like(tz))
    np.testing.assert_allclose(
        gelu(z), ty.detach().numpy(), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        gelu_prime(z), tz.grad.numpy(), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("alpha", [-0.5, 2.0])
def test_leaky_relu_with_a_slope_outside_0_1(alpha):
    rng = np.random.default_rng(0)
    z = rng.standard_normal(20)
    np.testing.assert_array_equal(
        act.leaky_relu(z, alpha), np.where(z > 0, z, alpha * z)
    )
    np.testing.assert_array_equal(
        act.leaky_relu_prime(z, alpha), np.where(z > 0, 1.0, alpha)
    )
    check_layer(
        act.LeakyReLU(alpha), rng.standard_normal((4, 5)), rng=rng
    ).assert_ok()

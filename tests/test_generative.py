"""Autoencoders and VAEs: the reparameterization, the KL term, the VAE's backward pass.

Gradients are checked by finite differences in float64 with the noise held fixed, the KL
formula against SymPy and a Monte Carlo estimate, and both against PyTorch when installed.
"""

import warnings

import numpy as np
import pytest
import sympy as sp

from nnscratch import generative as gen
from nnscratch.gradcheck import check_layer, numerical_gradient, relative_error
from nnscratch.losses import bernoulli_nll
from nnscratch.optim import Adam
from nnscratch.train import fit


class FixedNoise(gen.Reparameterize):
    """The layer with its noise held fixed, so that finite differences see one function."""

    def __init__(self, eps):
        super().__init__(np.random.default_rng(0))
        self.eps = eps

    def forward(self, x, training=False, eps=None):
        return super().forward(x, training, eps=self.eps)


def test_reparameterize_value_and_gradient_at_fixed_noise(rng):
    mu, logvar, eps = rng.standard_normal((3, 4, 5))
    z = gen.reparameterize(mu, logvar, eps)
    np.testing.assert_allclose(z, mu + np.sqrt(np.exp(logvar)) * eps, rtol=1e-14)
    check_layer(FixedNoise(eps), np.concatenate([mu, logvar], axis=1), rng=rng).assert_ok()


def test_reparameterize_layer_modes(rng):
    layer = gen.Reparameterize(np.random.default_rng(3))
    x = rng.standard_normal((1000, 4))
    x[:, 2:] = np.log(4.0)                                   # sigma = 2
    np.testing.assert_array_equal(layer.forward(x), x[:, :2])  # evaluation: the mean
    z = layer.forward(x, training=True)
    assert z.shape == (1000, 2)
    assert np.std(z - x[:, :2]) == pytest.approx(2.0, rel=0.05)
    again = gen.Reparameterize(np.random.default_rng(3)).forward(x, training=True)
    np.testing.assert_array_equal(z, again)                  # same seed, same noise
    with pytest.raises(ValueError, match="even number of columns"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        gen.Reparameterize(rng).backward(np.zeros((2, 2)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_reparameterize_layer_keeps_the_dtype_and_checks_what_arrives(dtype, rng):
    layer = gen.Reparameterize(np.random.default_rng(3))
    x = rng.standard_normal((5, 6)).astype(dtype)
    z = layer.forward(x, training=True)                      # float16: drawn in float32
    assert z.dtype == dtype and z.shape == (5, 3)
    assert layer.backward(np.ones((5, 3), dtype=dtype)).dtype == dtype
    assert layer.backward(np.ones((5, 3), dtype=dtype), need_dx=False) is None
    with pytest.raises(ValueError, match=r"Reparameterize.backward: dout must have shape \(5, 3\), got \(1, 3\)"):
        layer.backward(np.ones((1, 3), dtype=dtype))          # would broadcast silently
    other = np.float32 if dtype == np.float64 else np.float64
    with pytest.raises(TypeError, match=rf"Reparameterize.forward: eps must have dtype {np.dtype(dtype)}"):
        layer.forward(x, eps=np.zeros((5, 3), dtype=other))


def test_gaussian_kl_formula_sympy_and_monte_carlo(rng):
    m, lv = sp.symbols("mu l", real=True)
    zs = sp.symbols("z", real=True)
    s2 = sp.exp(lv)
    q = sp.exp(-(zs - m) ** 2 / (2 * s2)) / sp.sqrt(2 * sp.pi * s2)
    log_q = -(zs - m) ** 2 / (2 * s2) - sp.log(2 * sp.pi * s2) / 2
    log_p = -zs ** 2 / 2 - sp.log(2 * sp.pi) / 2
    kl = sp.integrate(sp.expand(q * (log_q - log_p)), (zs, -sp.oo, sp.oo))
    formula = (m ** 2 + s2 - 1 - lv) / 2
    assert sp.simplify(kl - formula) == 0
    mu, logvar = rng.standard_normal((2, 3, 4)) * 0.5
    loss, dmu, dlogvar = gen.gaussian_kl(mu, logvar)
    f = sp.lambdify((m, lv), formula)
    assert loss == pytest.approx(f(mu, logvar).sum() / 3, rel=1e-12)
    np.testing.assert_allclose(dmu, sp.lambdify((m, lv), sp.diff(formula, m))(mu, logvar) / 3)
    np.testing.assert_allclose(dlogvar, sp.lambdify((m, lv), sp.diff(formula, lv))(mu, logvar) / 3)
    # Monte Carlo: E_q[log q - log p] for one coordinate
    z = 0.3 + np.exp(0.5 * -0.4) * rng.standard_normal(400_000)
    lq = -(z - 0.3) ** 2 / (2 * np.exp(-0.4)) - 0.5 * np.log(2 * np.pi * np.exp(-0.4))
    lp = -z ** 2 / 2 - 0.5 * np.log(2 * np.pi)
    assert np.mean(lq - lp) == pytest.approx(f(0.3, -0.4), abs=3e-3)


def test_gaussian_kl_finite_differences(rng):
    mu, logvar = rng.standard_normal((2, 4, 3))
    _, dmu, dlogvar = gen.gaussian_kl(mu, logvar)
    assert relative_error(dmu, numerical_gradient(lambda: gen.gaussian_kl(mu, logvar)[0], mu)) < 1e-7
    assert relative_error(
        dlogvar, numerical_gradient(lambda: gen.gaussian_kl(mu, logvar)[0], logvar)) < 1e-7
    assert gen.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3)))[0] == 0.0


def test_gaussian_kl_matches_torch(rng):
    torch = pytest.importorskip("torch")
    mu, logvar = rng.standard_normal((2, 5, 3))
    mt, lt = torch.tensor(mu, requires_grad=True), torch.tensor(logvar, requires_grad=True)
    q = torch.distributions.Normal(mt, torch.exp(0.5 * lt))
    p = torch.distributions.Normal(torch.zeros(5, 3, dtype=torch.float64), 1.0)
    ref = torch.distributions.kl_divergence(q, p).sum() / 5
    ref.backward()
    loss, dmu, dlogvar = gen.gaussian_kl(mu, logvar)
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dmu, mt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dlogvar, lt.grad.numpy(), rtol=1e-10)


def test_vae_loss_is_reconstruction_plus_kl_and_its_gradient_checks(rng):
    x = (rng.random((4, 6)) < 0.5).astype(float)
    out = rng.standard_normal((4, 6 + 2 * 2))
    loss, dout = gen.vae_loss(out, x)
    rec, _ = bernoulli_nll(out[:, :6], x)
    kl, _, _ = gen.gaussian_kl(out[:, 6:8], out[:, 8:])
    assert loss == pytest.approx(rec + kl, rel=1e-12)
    num = numerical_gradient(lambda: gen.vae_loss(out, x)[0], out)
    assert relative_error(dout, num) < 1e-7
    with pytest.raises(ValueError, match=r"\[logits \| mu \| logvar\]"):
        gen.vae_loss(out[:, :7], x)


def test_vae_backward_matches_finite_differences_at_fixed_noise(rng):
    model = gen.vae((6, 5, 2), rng=rng, dtype=np.float64)
    x = 0.1 + 0.8 * rng.random((3, 6))  # grey levels: perturbed, they stay in [0, 1]
    eps = rng.standard_normal((3, 2))
    out = model.forward(x, eps=eps)
    assert out.shape == (3, 6 + 4)
    _, dout = gen.vae_loss(out, x)
    dx = model.backward(dout)
    analytic = {"x": dx, **{k: v.copy() for k, v in model.grads.items()}}
    assert set(model.params) == {"encoder.0.W", "encoder.0.b", "encoder.2.W", "encoder.2.b",
                                 "decoder.0.W", "decoder.0.b", "decoder.2.W", "decoder.2.b"}

    target = x.copy()  # the loss's target stays put; only the model's input moves

    def f():
        return gen.vae_loss(model.forward(x, eps=eps), target)[0]

    assert relative_error(analytic["x"], numerical_gradient(f, x)) < 1e-6
    for k, p in model.params.items():
        assert relative_error(analytic[k], numerical_gradient(f, p)) < 1e-6, k


def test_vae_negative_elbo_is_the_loss_per_example(rng):
    model = gen.vae((6, 5, 2), rng=rng, dtype=np.float64)
    x = (rng.random((8, 6)) < 0.5).astype(float)
    per = model.negative_elbo(x, rng=np.random.default_rng(1), batch_size=3)
    eps = np.random.default_rng(1)
    # the same noise, drawn batch by batch as negative_elbo draws it
    e = np.concatenate([eps.standard_normal((n, 2)) for n in (3, 3, 2)])
    assert per.shape == (8,)
    assert per.mean() == pytest.approx(gen.vae_loss(model.forward(x, eps=e), x)[0], rel=1e-12)
    assert model.decode(np.zeros((2, 2))).shape == (2, 6)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (8, 2)


def test_autoencoder_shapes_and_a_short_fit_lowers_the_loss(rng):
    model = gen.autoencoder((16, 8, 3), rng=rng, dtype=np.float64)
    assert model[0].forward(np.zeros((2, 16))).shape == (2, 3)   # the code
    assert model.forward(np.zeros((2, 16))).shape == (2, 16)     # logits
    check_layer(model, rng.standard_normal((3, 16)), rng=rng).assert_ok()
    x = (rng.random((64, 16)) < 0.3).astype(np.float64)
    before = bernoulli_nll(model.forward(x), x)[0]
    fit(model, bernoulli_nll, Adam(lr=1e-2), x, x, rng=rng, epochs=20, batch_size=16,
        progress=False)
    assert bernoulli_nll(model.forward(x), x)[0] < 0.8 * before


def test_vae_trains_with_fit_and_is_reproducible():
    def run():
        r = np.random.default_rng(0)
        x = (r.random((64, 12)) < 0.3).astype(np.float32)
        model = gen.vae((12, 8, 2), rng=r)
        h = fit(model, gen.vae_loss, Adam(lr=1e-2), x, x, rng=r, epochs=5, batch_size=16,
                progress=False)
        return h["loss"]
    a, b = run(), run()
    assert a == b and a[-1] < a[0]


def test_builders_check_their_sizes(rng):
    with pytest.raises(ValueError, match="at least two widths"):
        gen.autoencoder((784,), rng=rng)
    with pytest.raises(TypeError, match="rng"):
        gen.vae((4, 2), rng=0)


def test_vae_encode_and_decode_values():
    rng = np.random.default_rng(0)
    model = gen.vae((6, 5, 2), rng=rng, dtype=np.float64)
    x = rng.random((4, 6))
    h = model.encoder.forward(x)
    mu, logvar = model.encode(x)
    np.testing.assert_array_equal(mu, h[:, :2])
    np.testing.assert_array_equal(logvar, h[:, 2:])
    z = rng.standard_normal((3, 2))
    p = model.decode(z)
    np.testing.assert_allclose(
        p, 1 / (1 + np.exp(-model.decoder.forward(z))), rtol=1e-14
    )
    assert np.all((p > 0) & (p < 1))


def test_vae_decode_and_negative_elbo_in_float16_and_far_logits(rng):
    """decode: no overflow warning for very negative logits (an error under -W error);
    negative_elbo: float16 noise, which NumPy cannot draw directly."""
    model = gen.vae((6, 5, 2), rng=rng, dtype=np.float64)
    model.decoder.layers[-1].params["b"][...] = -800.0  # exp(800) overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = model.decode(np.zeros((2, 2)))
    assert np.all(p == 0)
    half = gen.vae((6, 5, 2), rng=rng, dtype=np.float16)
    x = (rng.random((3, 6)) > 0.5).astype(np.float16)
    nelbo = half.negative_elbo(x, rng=np.random.default_rng(1))
    assert nelbo.shape == (3,) and np.all(np.isfinite(nelbo))


def test_vae_backward_checks_dout_before_touching_any_gradient(rng):
    model = gen.vae((6, 5, 2), rng=rng, dtype=np.float64)
    x = rng.random((4, 6))
    out = model.forward(x, eps=rng.standard_normal((4, 2)))
    model.backward(np.ones_like(out))  # gradients that are not all zero
    before = {k: v.copy() for k, v in model.grads.items()}
    assert all(np.any(v != 0) for v in before.values())
    # refused douts that are not zero either: a backward that wrote before
    # refusing would leave other gradients behind
    for dout, error, message in [
        (np.ones((4, 11)), ValueError, r"VAE.backward: dout must have shape \(4, 10\), got \(4, 11\)"),
        (np.full(out.shape, 2, np.float32), TypeError, "VAE.backward: dout must have dtype float64"),
    ]:
        with pytest.raises(error, match=message):
            model.backward(dout)
        for k, v in model.grads.items():
            np.testing.assert_array_equal(v, before[k], err_msg=k)

"""GANs: both players' losses and gradients, the alternating step, mode counting.

The losses are checked by finite differences in float64, against SymPy's derivatives and
against PyTorch's binary cross-entropy with logits when it is installed; the networks of
both players by finite differences through the losses; the step by what it must and must
not change.
"""

import numpy as np
import pytest
import sympy as sp

from nnscratch import adversarial as adv
from nnscratch.activations import LeakyReLU
from nnscratch.data.synthetic import ring_centers, ring_of_gaussians
from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.layers import Dense
from nnscratch.network import Sequential
from nnscratch.optim import SGD, Adam


def _net(sizes, rng, dtype=np.float64):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b, rng=rng, dtype=dtype, init="he"))
        if i < len(sizes) - 2:
            layers.append(LeakyReLU(0.2))
    return Sequential(layers)


def test_discriminator_loss_value_and_gradients(rng):
    r, f = rng.standard_normal(5) * 3, rng.standard_normal((7, 1)) * 3
    loss, dr, df = adv.discriminator_loss(r, f)
    sig = lambda s: 1 / (1 + np.exp(-s))
    expected = -np.mean(np.log(sig(r))) - np.mean(np.log(1 - sig(f)))
    assert loss == pytest.approx(expected, rel=1e-12)
    assert dr.shape == r.shape and df.shape == f.shape
    num_r = numerical_gradient(lambda: adv.discriminator_loss(r, f)[0], r)
    num_f = numerical_gradient(lambda: adv.discriminator_loss(r, f)[0], f)
    assert relative_error(dr, num_r) < 1e-7
    assert relative_error(df, num_f) < 1e-7


@pytest.mark.parametrize("kind", adv.GENERATOR_LOSSES)
def test_generator_losses_value_and_gradient(rng, kind):
    f = rng.standard_normal((6, 1)) * 3
    loss, d = adv.generator_loss(f, kind)
    p = 1 / (1 + np.exp(-f))
    expected = (
        np.mean(np.log(1 - p)) if kind == "saturating" else -np.mean(np.log(p))
    )
    assert loss == pytest.approx(expected, rel=1e-12)
    num = numerical_gradient(lambda: adv.generator_loss(f, kind)[0], f)
    assert relative_error(d, num) < 1e-7


def test_generator_gradients_match_sympy_and_saturate_where_expected():
    s = sp.Symbol("s", real=True)
    sig = 1 / (1 + sp.exp(-s))
    sat, non_sat = sp.log(1 - sig), -sp.log(sig)
    assert sp.simplify(sp.diff(sat, s) + sig) == 0
    assert sp.simplify(sp.diff(non_sat, s) - (sig - 1)) == 0
    # where the discriminator confidently rejects the samples (s -> -inf)
    assert sp.limit(sp.diff(sat, s), s, -sp.oo) == 0
    assert sp.limit(sp.diff(non_sat, s), s, -sp.oo) == -1
    very_confident = np.array([-30.0])
    assert abs(adv.generator_loss(very_confident, "saturating")[1][0]) < 1e-12
    assert adv.generator_loss(very_confident)[1][0] == pytest.approx(-1.0)


def test_losses_are_stable_for_huge_logits():
    big = np.array([1000.0, -1000.0])
    loss, dr, df = adv.discriminator_loss(big, big)
    assert np.isfinite(loss) and np.all(np.isfinite(dr)) and np.all(np.isfinite(df))
    assert loss == pytest.approx(1000.0)
    for kind in adv.GENERATOR_LOSSES:
        g, dg = adv.generator_loss(big, kind)
        assert np.isfinite(g) and np.all(np.isfinite(dg))
    # sigma(s) - 1 for a confident real logit keeps its relative precision
    s = np.array([40.0])
    tiny = -np.exp(-40.0) / (1 + np.exp(-40.0))  # sigma(40) - 1, about -4.2e-18
    assert adv.discriminator_loss(s, s)[1][0] == pytest.approx(tiny, rel=1e-15)
    assert adv.generator_loss(s)[1][0] == pytest.approx(tiny, rel=1e-15)


def test_losses_match_pytorch(rng):
    torch = pytest.importorskip("torch")
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    r, f = rng.standard_normal(8) * 4, rng.standard_normal(5) * 4
    tr = torch.tensor(r, requires_grad=True)
    tf = torch.tensor(f, requires_grad=True)
    t_loss = bce(tr, torch.ones(8, dtype=torch.float64)) + bce(
        tf, torch.zeros(5, dtype=torch.float64)
    )
    t_loss.backward()
    loss, dr, df = adv.discriminator_loss(r, f)
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dr, tr.grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(df, tf.grad.numpy(), rtol=1e-10, atol=1e-15)
    # non-saturating: BCE with target 1; saturating: minus BCE with target 0
    for kind, target, sign in (("non_saturating", 1.0, 1), ("saturating", 0.0, -1)):
        tf = torch.tensor(f, requires_grad=True)
        t = sign * bce(tf, torch.full((5,), target, dtype=torch.float64))
        t.backward()
        g, dg = adv.generator_loss(f, kind)
        assert g == pytest.approx(t.item(), rel=1e-12)
        np.testing.assert_allclose(dg, tf.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_loss_input_errors():
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 1\)"):
        adv.discriminator_loss(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="no examples"):
        adv.generator_loss(np.zeros(0))
    with pytest.raises(ValueError, match="kind must be one of"):
        adv.generator_loss(np.zeros(3), "minimax")
    with pytest.raises(TypeError, match="same dtype"):
        adv.discriminator_loss(np.zeros(3), np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="generator_loss: fake_logits must hold floating-point "
                                        "numbers .*got dtype int64"):
        adv.generator_loss(np.zeros(3, dtype=np.int64))


def test_both_players_networks_by_finite_differences(rng):
    """The gradients GAN.step uses: D's through its loss, G's through D and its loss."""
    G, D = _net((3, 5, 2), rng), _net((2, 6, 1), rng)
    x_real, z = rng.standard_normal((4, 2)), rng.standard_normal((4, 3))

    def d_loss():
        logits = D.forward(np.concatenate([x_real, G.forward(z)]))
        return adv.discriminator_loss(logits[:4], logits[4:])

    _, dr, df = d_loss()
    D.backward(np.concatenate([dr, df]))
    analytic = {k: g.copy() for k, g in D.grads.items()}
    for k, p in D.params.items():
        num = numerical_gradient(lambda: d_loss()[0], p)
        assert relative_error(analytic[k], num) < 1e-6, k
    for kind in adv.GENERATOR_LOSSES:
        g_loss = lambda: adv.generator_loss(D.forward(G.forward(z)), kind)
        _, ds = g_loss()
        G.backward(D.backward(ds))
        analytic = {k: g.copy() for k, g in G.grads.items()}
        for k, p in G.params.items():
            num = numerical_gradient(lambda: g_loss()[0], p)
            assert relative_error(analytic[k], num) < 1e-6, (kind, k)


def _gan(rng, **kw):
    G, D = _net((3, 8, 2), rng, np.float32), _net((2, 8, 1), rng, np.float32)
    return adv.GAN(G, D, Adam(1e-3), Adam(1e-3), noise_dim=3, rng=rng, **kw)


def test_step_updates_d_then_g_and_is_reproducible():
    x = np.random.default_rng(1).standard_normal((16, 2)).astype(np.float32)
    a, b = _gan(np.random.default_rng(5)), _gan(np.random.default_rng(5))
    before_d = {k: v.copy() for k, v in a.discriminator.params.items()}
    before_g = {k: v.copy() for k, v in a.generator.params.items()}
    out = a.step(x)
    assert isinstance(out, adv.GANStep)
    assert 0 < out.d_real < 1 and 0 < out.d_fake < 1
    assert all(
        not np.array_equal(before_d[k], v) for k, v in a.discriminator.params.items()
    )
    assert all(
        not np.array_equal(before_g[k], v) for k, v in a.generator.params.items()
    )
    assert b.step(x) == out  # same seed, same numbers
    for k, v in a.generator.params.items():
        np.testing.assert_array_equal(v, b.generator.params[k])


def test_step_is_d_then_g_on_fresh_noise_against_the_updated_d():
    """With SGD, one step rebuilt by hand: D's update on the first noise draw, then G's
    gradient through the *updated* D on a second, fresh draw."""
    lr, m = 0.1, 6
    x = np.random.default_rng(1).standard_normal((m, 2))
    nets = lambda: (_net((3, 8, 2), np.random.default_rng(3)),
                    _net((2, 8, 1), np.random.default_rng(4)))
    G, D = nets()
    gan = adv.GAN(G, D, SGD(lr), SGD(lr), noise_dim=3, rng=np.random.default_rng(7),
                  dtype=np.float64)
    G0, D0 = nets()  # the same weights, stepped by hand
    noise = np.random.default_rng(7)
    z1, z2 = noise.standard_normal((m, 3)), noise.standard_normal((m, 3))
    assert not np.allclose(z1, z2)
    logits = D0.forward(np.concatenate([x, G0.forward(z1)]))
    d_loss, dr, df = adv.discriminator_loss(logits[:m], logits[m:])
    D0.backward(np.concatenate([dr, df]))
    for k, p in D0.params.items():
        p -= lr * D0.grads[k]
    g_loss, ds = adv.generator_loss(D0.forward(G0.forward(z2)))
    G0.backward(D0.backward(ds))
    for k, p in G0.params.items():
        p -= lr * G0.grads[k]

    out = gan.step(x)
    assert out.d_loss == pytest.approx(d_loss, rel=1e-12)
    assert out.g_loss == pytest.approx(g_loss, rel=1e-12)
    for k, p in D.params.items():
        np.testing.assert_allclose(p, D0.params[k], rtol=1e-12, atol=1e-15, err_msg=k)
    for k, p in G.params.items():
        np.testing.assert_allclose(p, G0.params[k], rtol=1e-12, atol=1e-15, err_msg=k)
    # the step drew exactly the two batches of noise
    assert gan.rng.bit_generator.state == noise.bit_generator.state


def test_step_leaves_both_networks_unchanged_on_error():
    gan = _gan(np.random.default_rng(2))
    gan.step(np.ones((8, 2), dtype=np.float32))  # optimizers have state now
    d_before = {k: v.copy() for k, v in gan.discriminator.params.items()}
    g_before = {k: v.copy() for k, v in gan.generator.params.items()}
    d_t = gan.d_optimizer.t
    d_state = {k: {n: a.copy() for n, a in s.items()} for k, s in gan.d_optimizer.state.items()}
    g_saved = gan.g_optimizer.snapshot()
    rng_state = gan.rng.bit_generator.state

    def unchanged():
        for k, v in gan.discriminator.params.items():
            np.testing.assert_array_equal(v, d_before[k])
        for k, v in gan.generator.params.items():
            np.testing.assert_array_equal(v, g_before[k])
        assert gan.d_optimizer.t == d_t and gan.g_optimizer.t == g_saved["t"]
        for k, s in gan.d_optimizer.state.items():
            for n, a in s.items():
                np.testing.assert_array_equal(a, d_state[k][n])
        assert gan.g_optimizer.steps == g_saved["steps"]
        assert gan.g_optimizer.state.keys() == g_saved["state"].keys()
        for k, s in gan.g_optimizer.state.items():
            for n, a in s.items():
                np.testing.assert_array_equal(a, g_saved["state"][k][n])
        assert gan.rng.bit_generator.state == rng_state  # a retry draws the same noise

    class Boom(Exception):
        pass

    def fail(*args, **kwargs):
        raise Boom

    gan.generator.backward = fail  # the generator's half fails after D's update
    with pytest.raises(Boom):
        gan.step(np.ones((8, 2), dtype=np.float32))
    unchanged()
    del gan.generator.backward
    with pytest.raises(adv.GANDiverged, match="neither network was updated"):
        gan.step(np.full((8, 2), np.nan, dtype=np.float32))
    unchanged()
    backward = gan.generator.backward

    def poisoned(*args, **kwargs):  # D's half is finite, G's gradient is not
        out = backward(*args, **kwargs)
        next(iter(gan.generator.grads.values()))[...] = np.nan
        return out

    gan.generator.backward = poisoned
    with pytest.raises(adv.GANDiverged, match="the generator's loss .* neither network"):
        gan.step(np.ones((8, 2), dtype=np.float32))
    unchanged()


def test_a_refused_step_puts_back_batchnorm_statistics_and_the_noise():
    """A diverged step ran training-mode forwards (which move BatchNorm's running
    statistics) and drew noise; all of it is put back, so the retry is the same step."""
    from nnscratch.activations import ReLU
    from nnscratch.layers import BatchNorm

    def make(seed):
        rng = np.random.default_rng(seed)
        f32 = np.float32
        G = Sequential([Dense(3, 8, rng=rng, dtype=f32), BatchNorm(8, dtype=f32), ReLU(),
                        Dense(8, 2, rng=rng, dtype=f32)])
        D = Sequential([Dense(2, 8, rng=rng, dtype=f32), BatchNorm(8, dtype=f32), ReLU(),
                        Dense(8, 1, rng=rng, dtype=f32)])
        return adv.GAN(G, D, Adam(1e-3), Adam(1e-3), noise_dim=3, rng=rng)

    gan, twin = make(4), make(4)
    x = np.random.default_rng(1).standard_normal((8, 2)).astype(np.float32)
    buffers = {**gan.generator.buffers, **{f"D{k}": v for k, v in gan.discriminator.buffers.items()}}
    assert buffers  # the test needs running statistics to watch
    before = {k: v.copy() for k, v in buffers.items()}
    with pytest.raises(adv.GANDiverged, match="neither network was updated"):
        gan.step(np.full((8, 2), np.nan, dtype=np.float32))
    for k, v in buffers.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert gan.step(x) == twin.step(x)  # as if the refused step had never happened


def test_gan_input_errors(rng):
    gan = _gan(rng)
    with pytest.raises(TypeError, match="dtype float32"):
        gan.step(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no examples"):
        gan.step(np.zeros((0, 2), dtype=np.float32))
    opt = SGD(0.1)
    with pytest.raises(ValueError, match="two separate"):
        adv.GAN(gan.generator, gan.discriminator, opt, opt, noise_dim=3, rng=rng)
    with pytest.raises(ValueError, match="kind must be one of"):
        _gan(rng, kind="wasserstein")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        adv.GAN(gan.generator, gan.discriminator, SGD(0.1), SGD(0.1), noise_dim=3, rng=0)
    assert gan.sample(2500, batch_size=1000).shape == (2500, 2)
    with pytest.raises(TypeError, match="GAN: dtype must be float16, float32 or float64"):
        _gan(rng, dtype="int64")


def test_gan_noise_in_float16_is_drawn_in_float32_and_rounded(rng):
    """NumPy cannot draw float16 normals; the noise is float32's, rounded, same seed same z."""
    gan = _gan(np.random.default_rng(5), dtype=np.float16)
    z = gan.noise(4)
    ref = np.random.default_rng(5)
    _gan(ref)  # the same draws for the networks' weights
    expected = ref.standard_normal((4, 3), dtype=np.float32).astype(np.float16)
    assert z.dtype == np.float16
    np.testing.assert_array_equal(z, expected)


def test_gan_learns_a_one_dimensional_gaussian():
    """A tiny GAN moves its samples to the data's mean within a few hundred steps."""
    rng = np.random.default_rng(0)
    G, D = _net((1, 16, 1), rng, np.float32), _net((1, 16, 1), rng, np.float32)
    gan = adv.GAN(
        G, D, Adam(2e-3, betas=(0.5, 0.999)), Adam(2e-3, betas=(0.5, 0.999)),
        noise_dim=1, rng=rng,
    )
    for _ in range(600):
        gan.step((3.0 + 0.5 * rng.standard_normal((64, 1))).astype(np.float32))
    s = gan.sample(2000)
    assert abs(s.mean() - 3.0) < 0.3
    assert 0.2 < s.std() < 1.0


def test_modes_covered_known_answers(rng):
    centers = ring_centers(8, 2.0)
    x, y = ring_of_gaussians(2400, rng, std=0.02)
    count = adv.modes_covered(x, centers, 0.02)
    assert count.covered == 8 and count.high_quality > 0.95
    np.testing.assert_array_equal(count.counts.sum(), int(round(count.high_quality * 2400)))
    one = x[y == 3]  # a collapsed generator: a single mode
    c1 = adv.modes_covered(one, centers, 0.02)
    assert c1.covered == 1 and c1.counts[3] == c1.counts.sum() > 0.95 * len(one)
    far = np.zeros((100, 2))  # the center of the ring: no mode, no quality
    c0 = adv.modes_covered(far, centers, 0.02)
    assert c0.covered == 0 and c0.high_quality == 0
    few = x[:50]  # too few samples per mode to count
    assert adv.modes_covered(few, centers, 0.02, min_count=20).covered == 0


def test_modes_covered_errors():
    c = ring_centers()
    with pytest.raises(ValueError, match="must be 2-D"):
        adv.modes_covered(np.zeros(5), c, 0.1)
    with pytest.raises(ValueError, match="coordinates"):
        adv.modes_covered(np.zeros((5, 3)), c, 0.1)
    with pytest.raises(ValueError, match="std"):
        adv.modes_covered(np.zeros((5, 2)), c, 0.0)


def test_an_averaged_generator_samples_with_its_averages_and_keeps_training_weights():
    x = np.random.default_rng(1).standard_normal((16, 2)).astype(np.float32)
    gan = _gan(np.random.default_rng(5), average=0.9)
    plain = _gan(np.random.default_rng(5))
    for _ in range(5):
        assert gan.step(x) == plain.step(x)   # averaging does not change training
    assert gan.g_average.steps == 5
    trained = {k: v.copy() for k, v in gan.generator.params.items()}
    state = gan.rng.bit_generator.state
    s_avg = gan.sample(10)
    gan.rng.bit_generator.state = state
    s_live = gan.sample(10, averaged=False)
    for k, v in gan.generator.params.items():
        np.testing.assert_array_equal(v, trained[k])
    gan.rng.bit_generator.state = state
    with gan.g_average.applied(gan.generator.params):
        expected = gan.generator.forward(gan.noise(10))
    np.testing.assert_array_equal(s_avg, expected)
    assert not np.allclose(s_avg, s_live)
    with pytest.raises(ValueError, match="averaged=True needs a GAN made with average"):
        plain.sample(4, averaged=True)


def test_modes_covered_counts_a_mode_with_exactly_min_count_samples():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.zeros((20, 2))
    assert (
        adv.modes_covered(samples, centers, 0.1, min_count=20).covered == 1
    )

import re

import numpy as np
import pytest
import sympy as sp

from nnscratch import losses
from nnscratch.gradcheck import check_loss


def test_mse_value_and_gradient(rng):
    y_hat, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    loss, _ = losses.mean_squared_error(y_hat, y)
    assert loss == pytest.approx(np.mean((y_hat - y) ** 2))
    check_loss(losses.mean_squared_error, y_hat, y).assert_ok()


def test_mse_takes_any_pair_of_equal_shapes_and_means_over_every_element(rng):
    # as documented: not only (N, D) but (N,) and (N, C, H, W) too
    for shape in [(5,), (2, 3, 4, 4)]:
        y_hat, y = rng.standard_normal(shape), rng.standard_normal(shape)
        loss, dy_hat = losses.mean_squared_error(y_hat, y)
        assert loss == pytest.approx(np.mean((y_hat - y) ** 2))
        np.testing.assert_allclose(dy_hat, 2 * (y_hat - y) / y_hat.size)


def test_bce_gradient_for_both_label_layouts(rng):
    y = rng.integers(0, 2, size=7)
    check_loss(losses.binary_cross_entropy, rng.standard_normal((7, 1)), y).assert_ok()
    check_loss(losses.binary_cross_entropy, rng.standard_normal(7), y).assert_ok()


def test_bce_matches_the_textbook_formula_and_sympy(rng):
    z = rng.standard_normal(5)
    y = np.array([0, 1, 1, 0, 1])
    p = 1 / (1 + np.exp(-z))
    loss, dz = losses.binary_cross_entropy(z, y)
    assert loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-12)
    zs, ys = sp.symbols("z y", real=True)
    ps = 1 / (1 + sp.exp(-zs))
    dL = sp.lambdify((zs, ys), sp.diff(-(ys * sp.log(ps) + (1 - ys) * sp.log(1 - ps)), zs))
    np.testing.assert_allclose(dz, [dL(a, b) / 5 for a, b in zip(z, y)], rtol=1e-10)


def test_bce_is_finite_for_huge_logits():
    loss, dz = losses.binary_cross_entropy(np.array([1000.0, -1000.0]), np.array([0, 1]))
    assert loss == pytest.approx(1000.0)
    np.testing.assert_allclose(dz, [0.5, -0.5])


def test_bce_gradient_keeps_its_relative_precision_for_confident_logits():
    # sigma(40) - 1 rounds to 0 in float64; the exact value is -sigma(-40) = -4.2e-18
    z, y = np.array([40.0, -40.0, 0.5, 30.0]), np.array([1, 0, 1, 0])
    _, dz = losses.binary_cross_entropy(z, y)
    tiny = 1 / (1 + np.exp(40.0))
    exact = np.array([-tiny, tiny, -1 / (1 + np.exp(0.5)), 1 / (1 + np.exp(-30.0))]) / 4
    np.testing.assert_allclose(dz, exact, rtol=1e-14)
    assert dz[0] < 0 < dz[1]


def test_softmax_cross_entropy_gradient_is_p_minus_y(rng):
    z = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, size=6)
    check_loss(losses.softmax_cross_entropy, z, y).assert_ok()
    loss, dz = losses.softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), y])), rel=1e-12)
    np.testing.assert_allclose(dz, (p - np.eye(4)[y]) / 6, rtol=1e-12)


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    loss, dz = losses.softmax_cross_entropy(np.array([[1e4, 0.0, -1e4]]), np.array([1]))
    assert loss == pytest.approx(1e4)
    assert np.all(np.isfinite(dz))


def test_losses_keep_dtype_and_do_not_mutate(rng):
    z = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 1])
    z0 = z.copy()
    _, dz = losses.softmax_cross_entropy(z, y)
    assert dz.dtype == np.float32
    np.testing.assert_array_equal(z, z0)


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match=r"shape \(3,\).*got \(2,\)"):
        losses.softmax_cross_entropy(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        losses.softmax_cross_entropy(np.zeros((2, 2)), np.array([0, 2]))
    with pytest.raises(TypeError, match="integer class labels"):
        losses.softmax_cross_entropy(np.zeros((2, 2)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="same shape"):
        losses.mean_squared_error(np.zeros((2, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: y must contain only 0 and 1, "
                                         r"got 3 other values: \[-1.0, 0.5\]"):
        losses.binary_cross_entropy(np.zeros(4), np.array([0.5, 1.0, -1.0, 0.5]))


# -- the Bernoulli reconstruction term of Step 11 ---------------------------------------------

def test_bernoulli_nll_value_gradient_and_sympy(rng):
    z, x = rng.standard_normal((4, 6)), rng.random((4, 6))
    loss, dz = losses.bernoulli_nll(z, x)
    p = 1 / (1 + np.exp(-z))
    assert loss == pytest.approx(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p)) / 4, rel=1e-12)
    check_loss(losses.bernoulli_nll, z, x).assert_ok()
    zs, xs = sp.symbols("z x", real=True)
    term = sp.log(1 + sp.exp(zs)) - xs * zs          # softplus(z) - x z
    dterm = sp.lambdify((zs, xs), sp.diff(term, zs))
    np.testing.assert_allclose(dz, dterm(z, x) / 4, rtol=1e-12)
    per_image = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    np.testing.assert_allclose(losses.bernoulli_nll_per_example(z, x), per_image, rtol=1e-12)


def test_bernoulli_nll_per_example_accepts_an_empty_batch():
    out = losses.bernoulli_nll_per_example(np.zeros((0, 6)), np.zeros((0, 6)))
    assert out.shape == (0,)


def test_bernoulli_nll_is_finite_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0]])
    loss, dz = losses.bernoulli_nll(z, np.array([[0.0, 1.0, 1.0]]))
    assert loss == pytest.approx(2000 + np.log(2))
    np.testing.assert_allclose(dz, [[1.0, -1.0, -0.5]])


def test_bernoulli_nll_checks_its_inputs(rng):
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        losses.bernoulli_nll(np.zeros((2, 3)), np.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="same shape"):
        losses.bernoulli_nll(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="empty"):
        losses.bernoulli_nll(np.zeros((0, 3)), np.zeros((0, 3)))


def test_bernoulli_nll_matches_torch(rng):
    torch = pytest.importorskip("torch")
    z, x = rng.standard_normal((5, 7)) * 4, (rng.random((5, 7)) < 0.5).astype(float)
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        zt, torch.tensor(x), reduction="sum") / 5
    ref.backward()
    loss, dz = losses.bernoulli_nll(z, x)
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_bce_refuses_logits_of_more_than_one_column_and_labels_of_another_length():
    y = np.array([0, 1, 1])
    for shape in [(3, 2), (3, 1, 1), ()]:           # (3, 2) is a softmax's input, not BCE's
        with pytest.raises(ValueError, match=rf"binary_cross_entropy: z must have shape \(N,\) or "
                                             rf"\(N, 1\), got {re.escape(str(shape))}$"):
            losses.binary_cross_entropy(np.zeros(shape), y)
    for z, bad in [(np.zeros(3), y[:2]), (np.zeros((3, 1)), y[:, None]), (np.zeros(3), y[:1])]:
        with pytest.raises(ValueError, match=rf"binary_cross_entropy: y must have shape \(3,\) to "
                                             rf"match z, got {re.escape(str(bad.shape))}$"):
            losses.binary_cross_entropy(z, bad)

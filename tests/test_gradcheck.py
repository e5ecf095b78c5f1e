import numpy as np
import pytest

from nnscratch import gradcheck
from nnscratch.layers import Dense, Layer


class BrokenDense(Dense):
    """A Dense layer whose weight gradient forgets the transpose's scale: a typical bug."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = 2 * self.grads["W"]
        return dx


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    g = gradcheck.numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored exactly


def test_a_wrong_backward_is_caught(rng):
    result = gradcheck.check_layer(BrokenDense(3, 2, rng=rng), rng.standard_normal((4, 3)), rng=rng)
    assert not result.passed
    assert result.errors["x"] < 1e-7 and result.errors["W"] > 0.1
    with pytest.raises(AssertionError, match="W"):
        result.assert_ok()


def test_refuses_anything_but_float64(rng):
    with pytest.raises(TypeError, match="float64"):
        gradcheck.check_layer(Dense(3, 2, rng=rng, dtype=np.float32),
                              rng.standard_normal((2, 3)).astype(np.float32), rng=rng)
    with pytest.raises(TypeError, match=r"params\['W'\]"):
        gradcheck.check_layer(Dense(3, 2, rng=rng, dtype=np.float32), rng.standard_normal((2, 3)), rng=rng)


def test_float64_errors_name_the_function_that_was_called(rng):
    with pytest.raises(TypeError, match="numerical_gradient: gradient checks need float64 .*x has "
                                        "dtype float32"):
        gradcheck.numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="check_layer: gradient checks need float64 .*x has dtype "
                                        "float32"):
        gradcheck.check_layer(Dense(3, 2, rng=rng), np.zeros((2, 3), dtype=np.float32), rng=rng)
    with pytest.raises(TypeError, match="check_loss: gradient checks need float64 .*output has type "
                                        "list"):
        gradcheck.check_loss(lambda y_hat, y: (0.0, y_hat), [0.0, 1.0], np.zeros(2))


def test_a_non_contiguous_array_is_refused_with_its_strides_and_the_fix():
    x = np.zeros((4, 3)).T                  # a view that reshape(-1) cannot flatten in place
    with pytest.raises(ValueError, match=r"numerical_gradient: x must be an array it can perturb "
                                         r"in place .*"
                                         r"got shape \(3, 4\) with strides \(8, 24\); "
                                         r"make a copy with np.ascontiguousarray\(x\)"):
        gradcheck.numerical_gradient(lambda: float(x.sum()), x)


def test_check_does_not_modify_the_callers_input(rng):
    x = rng.standard_normal((3, 3))
    x0 = x.copy()
    gradcheck.check_layer(Dense(3, 2, rng=rng), x, rng=rng)
    np.testing.assert_array_equal(x, x0)


def test_relative_error_edge_cases():
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.relative_error(np.ones(3), -np.ones(3)) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        gradcheck.relative_error(np.ones(2), np.ones(3))


@pytest.mark.parametrize("errors", [{"W": np.nan, "b": 1e-10}, {"b": 1e-10, "W": np.nan}])
def test_a_nan_error_fails_wherever_it_stands(errors):
    """A gradient that holds a NaN gives a NaN error; Python's max skips a NaN not first."""
    result = gradcheck.GradCheckResult(errors)
    assert not result.passed and np.isnan(result.worst)
    with pytest.raises(AssertionError, match="W: nan"):
        result.assert_ok()


def test_worst_is_the_largest_error_and_every_error_must_pass():
    result = gradcheck.GradCheckResult({"W": 3e-9, "b": 5e-8, "x": 1e-9})
    assert result.worst == 5e-8 and result.passed
    assert not gradcheck.GradCheckResult({"W": 3e-9, "b": 2e-7}).passed


def test_empty_result_never_passes():
    assert not gradcheck.GradCheckResult({}).passed
    with pytest.raises(AssertionError, match="compared nothing"):
        gradcheck.GradCheckResult({}).assert_ok()


def test_a_training_mode_check_leaves_batchnorm_statistics_as_it_found_them():
    from nnscratch.layers import BatchNorm

    rng = np.random.default_rng(0)
    bn = BatchNorm(3)
    x = rng.standard_normal((6, 3)) * 2 + 1
    before = {k: v.copy() for k, v in bn.buffers.items()}
    assert gradcheck.check_layer(bn, x, rng=rng, training=True).passed
    for k, v in bn.buffers.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


class BrokenInputGradient(Dense):
    """A Dense layer whose input gradient is twice what it should be."""

    def backward(self, dout, need_dx=True):
        dx = super().backward(dout, need_dx=need_dx)
        return None if dx is None else 2 * dx


def test_a_wrong_input_gradient_is_caught(rng):
    result = gradcheck.check_layer(
        BrokenInputGradient(3, 2, rng=rng), rng.standard_normal((4, 3)), rng=rng
    )
    assert not result.passed
    assert result.errors["x"] > 0.1 and result.errors["W"] < 1e-7
    with pytest.raises(AssertionError, match="x"):
        result.assert_ok()


def test_a_wrong_loss_gradient_is_caught(rng):
    from nnscratch.losses import mean_squared_error

    def doubled(y_hat, y):  # the right value, twice the gradient
        loss, grad = mean_squared_error(y_hat, y)
        return loss, 2 * grad

    y_hat, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    assert gradcheck.check_loss(mean_squared_error, y_hat, y).passed
    result = gradcheck.check_loss(doubled, y_hat, y)
    assert not result.passed and result.errors["output"] > 0.1
    with pytest.raises(AssertionError, match="output"):
        result.assert_ok()

import numpy as np
import pytest

from nnscratch.optim import SGD


def test_sgd_step_matches_hand_computation():
    params = {"W": np.array([1.0, -2.0]), "b": np.array([0.5])}
    grads = {"W": np.array([0.5, 0.25]), "b": np.array([-1.0])}
    opt = SGD(lr=0.1)
    opt.step(params, grads)
    np.testing.assert_allclose(params["W"], [0.95, -2.025])
    np.testing.assert_allclose(params["b"], [0.6])
    assert opt.t == 1


def test_sgd_updates_in_place_and_keeps_dtype():
    w = np.ones(3, dtype=np.float32)
    SGD(lr=0.5).step({"w": w}, {"w": np.ones(3, dtype=np.float32)})
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, 0.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr must be positive"):
        SGD(lr=0)
    with pytest.raises(KeyError, match="same keys"):
        SGD(lr=0.1).step({"a": np.ones(1)}, {"b": np.ones(1)})
    with pytest.raises(ValueError, match="shape"):
        SGD(lr=0.1).step({"a": np.ones(2)}, {"a": np.ones(3)})

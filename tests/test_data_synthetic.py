import numpy as np
import pytest

from nnscratch import data

MAKERS = [data.make_blobs, data.make_xor, data.make_moons, data.make_circles, data.make_spirals,
          data.ring_of_gaussians]


@pytest.mark.parametrize("make", MAKERS)
def test_shapes_dtypes_balance_and_determinism(make):
    X, y = make(120, np.random.default_rng(1))
    assert X.shape == (120, 2) and X.dtype == np.float64
    assert y.shape == (120,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    X2, y2 = make(120, np.random.default_rng(1))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(120, np.random.default_rng(2))
    assert not np.array_equal(X, X3)


def test_xor_labels_follow_the_quadrants():
    X, y = data.make_xor(400, np.random.default_rng(0), noise=0.05)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


def test_circles_radius():
    X, y = data.make_circles(200, np.random.default_rng(0), noise=0.0, factor=0.3)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 1], 0.3)
    np.testing.assert_allclose(r[y == 0], 1.0)


def test_split_and_one_hot(rng):
    X, y = data.make_moons(100, rng)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, rng=rng, test_fraction=0.2)
    assert len(Xte) == 20 and len(Xtr) == 80 and len(ytr) == 80 and len(yte) == 20
    np.testing.assert_array_equal(data.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_bad_arguments():
    with pytest.raises(TypeError, match="Generator"):
        data.make_moons(10, 0)
    with pytest.raises(ValueError, match="at least 2"):
        data.make_xor(1, np.random.default_rng())
    # the argument named as the caller names it
    with pytest.raises(ValueError, match="make_blobs: std must be"):
        data.make_blobs(10, np.random.default_rng(), std=-1)
    with pytest.raises(ValueError, match="ring_of_gaussians: std must be"):
        data.ring_of_gaussians(10, np.random.default_rng(), std=-1)
    with pytest.raises(ValueError, match="make_spirals: n_classes must be a positive integer"):
        data.make_spirals(10, np.random.default_rng(), n_classes=0)
    with pytest.raises(TypeError, match="make_spirals: n_classes must be"):
        data.make_spirals(10, np.random.default_rng(), n_classes=2.5)
    with pytest.raises(ValueError, match=r"make_circles: factor \(the radius ratio\) must be a "
                                         r"finite number in \(0, 1\), got 2"):
        data.make_circles(10, np.random.default_rng(), factor=2)
    X, rng = np.zeros((3, 2)), np.random.default_rng()
    with pytest.raises(ValueError,
                       match="train_test_split: X and y must have the same length, got 3 and 2"):
        data.train_test_split(X, np.zeros(2), rng=rng)
    with pytest.raises(ValueError, match=r"train_test_split: test_fraction must be a finite "
                                         r"number in \(0, 1\), got 1.5"):
        data.train_test_split(X, np.zeros(3), rng=rng, test_fraction=1.5)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        data.one_hot(np.array([3]), 3)
    with pytest.raises(TypeError, match="one_hot: y must hold integer class labels, "
                                        "got dtype float64"):
        data.one_hot(np.array([1.0, 2.0]), 3)
    with pytest.raises(TypeError, match="one_hot: y must be a numpy.ndarray, got list"):
        data.one_hot([1, 2], 3)
    with pytest.raises(ValueError, match=r"one_hot: y must have 1 dimensions, got shape \(1, 2\)"):
        data.one_hot(np.array([[1, 2]]), 3)


def test_ring_of_gaussians_modes():
    X, y = data.ring_of_gaussians(8000, np.random.default_rng(2), radius=2.0, std=0.02)
    centers = data.ring_centers(8, 2.0)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0)
    np.testing.assert_allclose(centers[2], [0.0, 2.0], atol=1e-12)   # angle pi/2
    for k in range(8):
        dev = X[y == k] - centers[k]
        np.testing.assert_allclose(dev.mean(0), 0, atol=0.003)
        np.testing.assert_allclose(dev.std(0), 0.02, rtol=0.1)
    with pytest.raises(ValueError, match="n_modes"):
        data.ring_centers(0)
    with pytest.raises(ValueError, match="radius"):
        data.ring_centers(8, -1.0)
    with pytest.raises(TypeError, match="Generator"):
        data.ring_of_gaussians(10, 0)


def test_train_test_split_refuses_to_leave_no_training_example():
    X, y = np.zeros((10, 2)), np.arange(10)
    for fraction in (0.96, 0.999):
        with pytest.raises(ValueError, match=f"test_fraction {fraction} of 10 examples leaves no training example"):
            data.train_test_split(X, y, rng=np.random.default_rng(0), test_fraction=fraction)
    with pytest.raises(ValueError, match="leaves no training example"):
        data.train_test_split(X[:1], y[:1], rng=np.random.default_rng(0))
    assert len(data.train_test_split(X, y, rng=np.random.default_rng(0), test_fraction=0.9)[0]) == 1

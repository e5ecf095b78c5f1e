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


def test_split_keeps_rows_paired_disjoint_and_complete_and_follows_the_seed():
    n = 40
    y = np.arange(n)                                  # each example's index...
    X = np.stack([y, -10 * y], axis=1).astype(float)  # ...written into its row of X too

    def split(seed):
        return data.train_test_split(X, y, rng=np.random.default_rng(seed), test_fraction=0.25)

    Xtr, Xte, ytr, yte = split(0)
    assert len(yte) == 10 and len(ytr) == 30
    for Xp, yp in ((Xtr, ytr), (Xte, yte)):
        np.testing.assert_array_equal(Xp, X[yp])      # every row with its own label
    assert not set(ytr) & set(yte)                    # disjoint...
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yte])), y)  # ...and complete
    assert not np.array_equal(np.sort(yte), np.arange(n)[-10:])  # shuffled, not a plain cut
    again = split(0)
    for a, b in zip((Xtr, Xte, ytr, yte), again):
        np.testing.assert_array_equal(a, b)           # same seed, same split
    assert not np.array_equal(split(1)[3], yte)       # another seed, another split


def test_make_blobs_draws_class_k_around_centers_k_and_checks_them():
    centers = [(-4.0, 0.0), (0.0, 4.0), (4.0, 0.0)]
    X, y = data.make_blobs(300, np.random.default_rng(0), centers=centers, std=0.1)
    assert sorted(set(y)) == [0, 1, 2]
    for k, c in enumerate(centers):
        np.testing.assert_allclose(X[y == k].mean(axis=0), c, atol=0.05)
    rng = np.random.default_rng(0)
    for bad, shape in ((np.zeros((3, 3)), r"\(3, 3\)"), ([], r"\(0,\)"),
                       (np.zeros((0, 2)), r"\(0, 2\)"), ((1.0, 2.0), r"\(2,\)"),
                       (None, r"\(\)")):
        with pytest.raises(ValueError, match=r"make_blobs: centers must be k >= 1 points "
                                             r"\(x, y\), an array-like of shape \(k, 2\), "
                                             f"got shape {shape}"):
            data.make_blobs(10, rng, centers=bad)
    for bad in ("ab", [(0, 0), (1, 2, 3)], {"a": 1}):
        with pytest.raises(TypeError, match=r"make_blobs: centers must be .* of numbers, got"):
            data.make_blobs(10, rng, centers=bad)
    with pytest.raises(ValueError, match=r"make_blobs: centers must be finite, got 1 "
                                         r"non-finite values of 4, the first nan"):
        data.make_blobs(10, rng, centers=[(0, 0), (np.nan, 1)])


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
    with pytest.raises(TypeError, match="train_test_split: X must be a numpy.ndarray, got list"):
        data.train_test_split([[0, 1], [2, 3]], np.zeros(2), rng=rng)
    with pytest.raises(TypeError, match="train_test_split: y must be a numpy.ndarray, got list"):
        data.train_test_split(X, [0, 1, 0], rng=rng)
    with pytest.raises(ValueError, match="train_test_split: y must hold one row per example "
                                         r"\(at least 1 dimension\), got a 0-d array"):
        data.train_test_split(X, np.array(3), rng=rng)
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

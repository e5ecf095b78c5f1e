import numpy as np
import pytest
import sympy as sp

from nnscratch import symbolic

x, w, b = sp.symbols("x w b", real=True)
sig = 1 / (1 + sp.exp(-x))


def test_correct_derivative_passes_and_renders():
    v = symbolic.verify_derivative(sig, x, sig * (1 - sig), "sigmoid'")
    md = v._repr_markdown_()
    assert "✓" in md and "$$" in md


def test_wrong_derivative_fails_the_check():
    with pytest.raises(AssertionError, match="stated formula is wrong"):
        symbolic.verify_derivative(sig, x, sig * (1 + sig), "sigmoid'")


def test_hyperbolic_identity_is_recognised():
    symbolic.verify_equal(sp.diff(sp.tanh(x), x), 1 - sp.tanh(x) ** 2, "tanh'")


def test_matrix_derivative_and_shape_mismatch():
    W = sp.Matrix(2, 1, sp.symbols("w1 w2"))
    X = sp.Matrix(1, 2, sp.symbols("x1 x2"))
    f = (X * W)[0, 0] ** 2
    symbolic.verify_derivative(f, W, 2 * (X * W)[0, 0] * X.T, "d(xw)^2/dw")
    with pytest.raises(AssertionError, match="shapes differ"):
        symbolic.verify_equal(W, X, "shapes")


def test_numeric_agreement_and_disagreement(rng):
    expr = sp.diff(sig, x)
    ok = symbolic.verify_numeric(expr, [x], lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2,
                                 rng=rng, name="sigmoid'")
    assert "random points" in ok.how
    with pytest.raises(AssertionError, match="disagrees with SymPy"):
        symbolic.verify_numeric(expr, [x], lambda v: 0.25, rng=rng, name="wrong")


def test_checklist_counts_and_lists():
    checks = symbolic.Checklist()
    checks.derivative(x * w + b, w, x, "dz/dw")
    checks.equal(sp.diff(x * w + b, b), sp.Integer(1), "dz/db")
    assert len(checks) == 2
    assert "dz/db" in checks._repr_markdown_()

import numpy as np
import pytest
import sympy as sp

from nnscratch import symbolic

x, w, b = sp.symbols("x w b", real=True)
sig = 1 / (1 + sp.exp(-x))


def test_correct_derivative_passes_and_renders():
    v = symbolic.verify_derivative(sig, x, sig * (1 - sig), "sigmoid'")
    # the equation shown is d/dx of f (the default lhs) = the stated formula, sigma (1 - sigma)
    # as SymPy typesets it, not the derivative SymPy found
    equation = (
        r"\frac{d}{d x} \frac{1}{1 + e^{- x}} = "
        r"\frac{1 - \frac{1}{1 + e^{- x}}}{1 + e^{- x}}"
    )
    assert v.latex() == equation
    assert v._repr_markdown_() == (
        f"✓ **sigmoid'** (SymPy: derivative matches)\n\n$$\n{equation}\n$$\n"
    )


def test_a_check_without_its_formula_shows_its_line_alone():
    v = symbolic.verify_derivative(sig, x, sig * (1 - sig), "sigmoid' with a_b")
    line = v.without_formula()
    assert line._repr_markdown_() == "✓ **sigmoid' with a\\_b** (SymPy: derivative matches)\n"
    assert "$$" not in line._repr_markdown_() and not hasattr(line, "_repr_latex_")
    assert str(line) == str(v)


def test_wrong_derivative_fails_the_check():
    with pytest.raises(AssertionError, match="stated formula is wrong"):
        symbolic.verify_derivative(sig, x, sig * (1 + sig), "sigmoid'")


def test_hyperbolic_identity_is_recognized():
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


def test_clearly_nonzero_disproves_only_what_is_nonzero():
    from nnscratch.symbolic import _clearly_nonzero

    x, y = sp.symbols("x y", real=True)
    n = sp.symbols("n", integer=True)
    assert _clearly_nonzero(sp.exp(x) - 1 - x)             # nonzero at the chosen point
    assert not _clearly_nonzero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1)
    # zero at every integer n, not at the fractional point the test would choose: left alone
    assert not _clearly_nonzero(sp.sin(sp.pi * n, evaluate=False))
    assert not _clearly_nonzero(x * y - y * x)
    f = sp.Function("f")
    assert not _clearly_nonzero(f(x) - x)                   # an unknown f cannot be evaluated


def test_wrong_batch_hessian_fails_quickly():
    # Second derivatives of a sigmoid over a batch: the slow expand path used to take minutes.
    xs = sp.symbols("x1:3", real=True)
    w = sp.symbols("w", real=True)
    L = sum(sp.log(1 + sp.exp(-xi * w)) for xi in xs)
    right = sum(xi**2 * sp.exp(-xi * w) / (1 + sp.exp(-xi * w)) ** 2 for xi in xs)
    symbolic.verify_derivative(sp.diff(L, w), w, right, "Hessian")
    with pytest.raises(AssertionError, match="wrong"):
        symbolic.verify_derivative(sp.diff(L, w), w, 2 * right, "Hessian")


def test_symbolic_sigmoid_knows_its_derivative_and_evaluates():
    z = sp.symbols("z", real=True)
    s = symbolic.sigmoid(z)
    assert sp.expand(s.diff(z) - s * (1 - s)) == 0
    explicit = s.rewrite(sp.exp)
    assert sp.simplify(explicit - 1 / (1 + sp.exp(-z))) == 0
    # the stated derivative is the true derivative of the explicit form
    assert sp.simplify(explicit.diff(z) - (s * (1 - s)).rewrite(sp.exp)) == 0
    f = sp.lambdify([z], s.diff(z), modules="numpy")
    v = np.array([-800.0, 0.0, 3.0])
    np.testing.assert_allclose(f(v), [0.0, 0.25, np.exp(-3) / (1 + np.exp(-3)) ** 2], atol=1e-300)


# --- the displayed equation is the verified one ---------------------------------------------

N_, D_, H_ = 2, 3, 2
Xm = sp.Matrix(N_, D_, sp.symbols("x0:6", real=True))
Gm = sp.Matrix(N_, H_, sp.symbols("g0:4", real=True))
Xs, Gs = sp.MatrixSymbol("X", N_, D_), sp.MatrixSymbol("G", N_, H_)


def test_display_form_is_checked_and_typeset_from_sympy():
    v = symbolic.verify_equal(Xm.T * Gm, Xm.T * Gm, "dW", lhs=symbolic.d("L", "W"),
                              rhs=Xs.T * Gs, where={Xs: Xm, Gs: Gm}, label="eq-dw")
    assert v.latex() == r"\frac{\partial L}{\partial W} = X^{\top} G"
    assert v.label == "eq-dw" and v._repr_latex_().startswith("$$")


def test_a_display_form_that_differs_from_the_checked_formula_fails():
    with pytest.raises(AssertionError, match="shapes differ"):
        symbolic.verify_equal(Xm.T * Gm, Xm.T * Gm, "dW", rhs=Gs.T * Xs, where={Xs: Xm, Gs: Gm})
    with pytest.raises(AssertionError, match="displayed right-hand side is not the formula"):
        symbolic.verify_equal(Xm.T * Gm, Xm.T * Gm, "dW", rhs=2 * Xs.T * Gs,
                              where={Xs: Xm, Gs: Gm})
    with pytest.raises(AssertionError, match="displayed left-hand side"):
        symbolic.verify_equal(x * w, x * w, "xw", lhs=x + w, rhs=w * x)


def test_hand_typed_latex_is_refused():
    with pytest.raises(TypeError, match="SymPy expression"):
        symbolic.verify_derivative(sig, x, sig * (1 - sig), "sigmoid'", rhs=r"\sigma(1-\sigma)")
    with pytest.raises(TypeError, match="SymPy expression"):
        symbolic.verify_equal(x, x, "x", lhs=r"\frac{\partial L}{\partial w}")


def test_update_rule_renders_with_an_arrow_and_the_book_notation():
    eta, y, yhat = sp.symbols(r"eta y \hat{y}", real=True)
    v = symbolic.verify_equal(w + eta * (y - yhat) * x, w + eta * x * (y - yhat), "perceptron",
                              lhs=w, relation=r"\leftarrow")
    assert v.latex().startswith(r"w \leftarrow ")
    A = sp.MatrixSymbol("A", 2, 2)
    assert symbolic.latex(sp.HadamardProduct(A, sp.OneMatrix(2, 2) - A)) == (
        r"A \odot \left(\mathbf{1} - A\right)")
    assert symbolic.latex(sp.OneMatrix(1, 2) * A) == r"\mathbf{1}^{\top} A"


def test_checklist_collects_labels():
    checks = symbolic.Checklist()
    checks.derivative(x * w + b, w, x, "dz/dw", lhs=symbolic.d("z", "w"), label="eq-dz")
    checks.equal(x, x, "x")
    assert checks.labels == ["eq-dz"]


def test_display_names_may_stand_for_expressions_in_other_names():
    mu, g, b_prev, b_t, theta, eta = sp.symbols("mu g b_{t-1} b_t theta eta", real=True)
    v = symbolic.verify_equal(theta - eta * (mu * b_prev + g), theta - eta * (mu * b_prev + g),
                              "momentum", rhs=theta - eta * b_t, where={b_t: mu * b_prev + g})
    assert "b_{t}" in v.latex()
    with pytest.raises(AssertionError, match="not the formula"):
        symbolic.verify_equal(theta - eta * g, theta - eta * g, "gd", rhs=theta - eta * b_t,
                              where={b_t: mu * b_prev + g})


def test_a_display_name_may_stand_for_a_plain_python_number():
    total = sp.Symbol(r"8 \cdot 26 + 16 \cdot 201")
    v = symbolic.verify_equal(sp.Integer(3424), sp.Integer(3424), "count", rhs=total,
                              where={total: 8 * 26 + 16 * 201})
    assert v.latex().endswith(r"8 \cdot 26 + 16 \cdot 201")
    with pytest.raises(AssertionError, match="not the formula"):
        symbolic.verify_equal(sp.Integer(3424), sp.Integer(3424), "count", rhs=total,
                              where={total: 8 * 26 + 16 * 200})


def test_names_with_markdown_characters_show_as_written():
    x = sp.Symbol("x")
    checks = symbolic.Checklist()
    v = checks.equal(2 * x, x + x, "step at η* with a_b | c")
    md = v._repr_markdown_()
    assert r"η\* with a\_b \| c" in md          # no stray emphasis, no broken table cell
    assert r"η\* with a\_b \| c" in checks._repr_markdown_()


def test_inline_maths_in_a_name_is_kept_and_the_text_around_it_escaped():
    checks = symbolic.Checklist()
    checks.equal(x, x, r"sum of $h_{t-1}^\top \delta a_t$ over t_0 ($|a|$)")
    row = checks._repr_markdown_().splitlines()[-1]
    assert row.startswith(
        r"| 1 | sum of $h_{t-1}^\top \delta a_t$ over t\_0 ($\vert a\vert $) | "
    )
    assert symbolic._markdown_text(r"$p \| q$") == r"$p \Vert  q$"
    assert (
        symbolic._markdown_text("max error 5.6e-17, then 2e+03 and 1.0e5 in x1e3")
        == r"max error $5.6 \times 10^{-17}$, then $2 \times 10^{3}$ and "
        r"$1.0 \times 10^{5}$ in x1e3"
    )
    assert symbolic._markdown_text("max error 0.0e+00, 1.5e+00") == "max error 0, 1.5"
    # a lone dollar is text, escaped as before
    assert symbolic._markdown_text("costs $5") == r"costs \$5"


def test_identities_beyond_simplify_are_proved_and_wrong_ones_still_fail():
    # simplify alone misses all three: expanding first proves the first, rewriting in exp the
    # second, and the last, over integers (which the quick numeric test leaves alone), is
    # found not to be zero.
    sinh_exp = (sp.exp(x) - sp.exp(-x)) / 2
    symbolic.verify_equal(x**2 * (x + sp.sinh(x)), x**2 * (x + sinh_exp), "x^2 (x + sinh)")
    with pytest.raises(AssertionError, match="sinh: the stated formula is wrong"):
        symbolic.verify_equal(x**2 * (x + sp.sinh(x)), x**2 * (x - sinh_exp), "sinh")
    symbolic.verify_equal(sp.tanh(x), (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 1), "tanh")
    with pytest.raises(AssertionError, match="tanh: the stated formula is wrong"):
        symbolic.verify_equal(sp.tanh(x), (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 2), "tanh")
    n = sp.symbols("n", integer=True)
    with pytest.raises(AssertionError, match=r"n\^2: the stated formula is wrong"):
        symbolic.verify_equal(n**2, n, "n^2")


def test_an_unbound_matrix_name_is_displayed_and_checked_element_by_element():
    A = sp.MatrixSymbol("A", 2, 2)
    Am = A.as_explicit()                                     # the matrix of A's entries
    v = symbolic.verify_equal(Am.T, Am.T, "transpose", rhs=A.T)
    assert v.latex().endswith(r"= A^{\top}")
    with pytest.raises(AssertionError, match="transpose: the displayed right-hand side is not"):
        symbolic.verify_equal(Am.T, Am.T, "transpose", rhs=A)


def test_a_one_by_one_display_may_show_a_scalar():
    P = sp.Matrix(2, 1, sp.symbols("p1 p2", real=True))
    Y = sp.Matrix(2, 1, sp.symbols("y1 y2", real=True))
    Ps, Ys = sp.MatrixSymbol("P", 2, 1), sp.MatrixSymbol("Y", 2, 1)
    total = sum(P - Y)                                       # a scalar, not a 1 x 1 matrix
    v = symbolic.verify_equal(total, total, "sum", rhs=sp.OneMatrix(1, 2) * (Ps - Ys),
                              where={Ps: P, Ys: Y})
    assert v.latex().endswith(r"= \mathbf{1}^{\top} \left(P - Y\right)")
    with pytest.raises(AssertionError, match=r"sum: the displayed right-hand side .*\n.*"
                                             r"\n  evaluates to: p1 \+ p2 \+ y1 \+ y2"):
        symbolic.verify_equal(total, total, "sum", rhs=sp.OneMatrix(1, 2) * (Ps + Ys),
                              where={Ps: P, Ys: Y})


def test_a_matrix_of_names_names_the_result_and_a_matrix_with_a_formula_is_checked():
    W = sp.Matrix(2, 1, sp.symbols("w1 w2", real=True))
    X = sp.Matrix(1, 2, sp.symbols("x1 x2", real=True))
    g1, g2 = sp.symbols("g_1 g_2")
    v = symbolic.verify_derivative((X * W)[0, 0], W, X.T, "grad", lhs=sp.Matrix([g1, g2]))
    assert v.latex().startswith(r"\left[\begin{matrix}g_{1}\\g_{2}\end{matrix}\right] =")
    with pytest.raises(AssertionError, match="grad: the displayed left-hand side is not"):
        symbolic.verify_derivative((X * W)[0, 0], W, X.T, "grad", lhs=sp.Matrix([g1, 2 * W[1]]))


def test_a_function_of_names_names_the_result_and_of_a_formula_is_checked():
    L = sp.Function("L")
    v = symbolic.verify_derivative(x * w, w, x, "dL", lhs=L(w))
    assert v.latex() == r"L{\left(w \right)} = x"
    with pytest.raises(AssertionError, match="dL: the displayed left-hand side is not"):
        symbolic.verify_derivative(x * w, w, x, "dL", lhs=L(2 * w))


def test_a_numeric_check_shows_a_display_form_only_once_it_is_checked(rng):
    s = sp.Symbol(r"\sigma")
    package = lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2
    v = symbolic.verify_numeric(sig * (1 - sig), [x], package, rng=rng, name="sigmoid'",
                                rhs=s * (1 - s), where={s: sig})
    assert v.latex() == r"\texttt{nnscratch} = \sigma \left(1 - \sigma\right)"
    with pytest.raises(AssertionError, match="sigmoid': the displayed right-hand side is not"):
        symbolic.verify_numeric(sig * (1 - sig), [x], package, rng=rng, name="sigmoid'",
                                rhs=s * (1 + s), where={s: sig})


def test_a_numeric_check_draws_its_points_from_sample():
    # |x| and the package's x agree only for x >= 0: standard normal points (sample ignored)
    # would include negative ones and fail
    gen, drawn = np.random.default_rng(0), []

    def positive(rng, k):
        assert rng is gen  # the caller's generator draws the points
        vals = rng.uniform(1.0, 2.0, k)
        drawn.append(vals)
        return vals

    seen = []

    def package(v):
        seen.append(v)
        return v

    v = symbolic.verify_numeric(
        sp.Abs(x), [x], package, rng=gen, name="|x|", n_points=6, sample=positive
    )
    assert v.how.startswith("package = SymPy at 6 random points")
    # one draw of one value per point, and the package was given exactly those values
    assert [d.shape for d in drawn] == [(1,)] * 6
    assert seen == [d[0] for d in drawn]
    with pytest.raises(
        AssertionError, match=r"\|x\|: the package disagrees with SymPy"
    ):
        symbolic.verify_numeric(
            sp.Abs(x),
            [x],
            package,
            rng=np.random.default_rng(0),
            name="|x|",
            n_points=6,
        )


def test_a_numeric_check_of_a_different_shape_fails_naming_both():
    with pytest.raises(AssertionError,
                       match=r"pair: SymPy gives shape \(2, 1\), the package \(3,\)"):
        symbolic.verify_numeric(sp.Matrix([x, 2 * x]), [x], lambda v: np.array([v, 2 * v, 0]),
                                rng=np.random.default_rng(0), name="pair")


def test_checklist_records_a_numeric_check_that_passed_and_not_one_that_failed(rng):
    checks = symbolic.Checklist()
    v = checks.numeric(2 * x, [x], lambda t: t + t, rng=rng, name="double", label="eq-2x")
    assert checks.items == [v] and checks.labels == ["eq-2x"]
    with pytest.raises(AssertionError, match="disagrees with SymPy"):
        checks.numeric(2 * x, [x], lambda t: 3 * t, rng=rng, name="triple")
    assert checks.items == [v]

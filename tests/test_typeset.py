"""The LaTeX printer of the book's verified equations, on small matrix expressions."""

import sympy as sp

from nnscratch._typeset import latex

A = sp.MatrixSymbol("A", 2, 2)
B = sp.MatrixSymbol("B", 2, 2)


def test_a_transpose_of_a_name_is_a_superscript_and_of_a_formula_brackets_it():
    assert latex(sp.Transpose(A)) == r"A^{\top}"
    assert latex(sp.Transpose(A + B)) == r"\left(A + B\right)^{\top}"
    assert latex(sp.Transpose(A * B)) == r"\left(A B\right)^{\top}"


def test_a_transpose_joins_the_layer_index_of_a_name():
    A1 = sp.MatrixSymbol("A^{(1)}", 2, 2)
    assert latex(A1.T) == r"A^{(1)\top}"
    assert latex(A1.T * B) == r"A^{(1)\top} B"


def test_an_elementwise_square_is_written_as_a_product():
    assert latex(sp.HadamardPower(A, 2)) == r"A \odot A"
    assert latex(sp.HadamardPower(A + B, 2)) == r"\left(A + B\right) \odot \left(A + B\right)"
    assert latex(sp.HadamardPower(A * B, 2)) == r"A B \odot A B"  # as HadamardProduct prints it


def test_other_elementwise_powers_keep_sympys_notation():
    assert latex(sp.HadamardPower(A, 3)) == r"A^{\circ {3}}"


def test_a_sum_of_matrices_keeps_its_plus_and_minus_signs():
    assert latex(A + B) == "A + B"
    assert latex(A - B) == "A - B"
    assert latex(-A + B) == "B - A"                               # subtracted terms last
    assert latex(sp.OneMatrix(2, 2) - A) == r"\mathbf{1} - A"


def test_a_fraction_in_front_of_a_matrix_product_is_printed_without_brackets():
    quarter = sp.Rational(1, 4)
    mm = lambda *args: sp.MatMul(*args, evaluate=False)
    assert latex(mm(quarter, A)) == r"\frac{1}{4} A"
    assert latex(mm(quarter, A, B)) == r"\frac{1}{4} A B"
    assert latex(mm(quarter, A + B)) == r"\frac{1}{4} \left(A + B\right)"
    assert latex(mm(quarter, sp.Matrix([[1, 2]]))) == (
        r"\frac{1}{4} \left[\begin{matrix}1 & 2\end{matrix}\right]"
    )
    # what SymPy already printed well is unchanged: minus signs, integers, symbolic fractions
    assert latex(mm(-quarter, A)) == r"- \frac{1}{4} A"
    assert latex(mm(2, A, B)) == "2 A B"
    N = sp.Symbol("N")
    assert latex(mm(2 / N, A - B)) == r"\frac{2}{N} \left(A - B\right)"

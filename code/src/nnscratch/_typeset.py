"""The LaTeX printer of verified equations: SymPy's, with the book's notation.

Kept apart from :mod:`nnscratch.symbolic` (which re-exports :func:`latex`) because it is
presentation, not verification.

See Also
--------
Book, "Notation": the symbols the printer follows.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE


class _BookLatexPrinter(LatexPrinter):
    r"""SymPy's LaTeX printer with the book's notation (see the notation page).

    ``A^\top`` for a transpose, ``\odot`` for the elementwise product, ``\mathbf 1`` for a
    matrix of ones, ``\frac{\partial L}{\partial W}`` for a derivative of a named quantity, and
    sums printed in the order they were written (``1 - A``, not ``-A + 1``).
    """

    def __init__(self, settings=None):
        super().__init__({"order": "none", **(settings or {})})

    def _print_Symbol(self, expr, style="plain"):
        # A name already written in LaTeX (r"\nabla_w L", r"\sigma'(z)") is printed as given.
        if "\\" in expr.name or "'" in expr.name:
            return expr.name
        return super()._print_Symbol(expr, style=style)

    def _as_ordered_terms(self, expr, order=None):
        # Sums as written, but subtracted terms last: "2 sigma(2z) - 1", "w + eta x".
        terms = (
            list(expr.args)
            if isinstance(expr, sp.Add)
            else super()._as_ordered_terms(expr, order)
        )
        return sorted(terms, key=_could_extract_minus_sign)

    def _print_Transpose(self, expr):
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, (sp.MatrixSymbol, sp.Symbol)):
            inner = rf"\left({inner}\right)"
        elif re.fullmatch(
            r"[^^]*\^\{.*\}", inner
        ):  # A^{(1)}: the transpose joins the index
            return inner[:-1] + r"\top}"
        return rf"{inner}^{{\top}}"

    def _print_HadamardProduct(self, expr):
        # SymPy sorts the factors; products and names first, sums (in brackets) last.
        args = sorted(expr.args, key=lambda a: isinstance(a, sp.MatAdd))
        return r" \odot ".join(
            (
                self.parenthesize(a, PRECEDENCE["Mul"], strict=True)
                if isinstance(a, sp.MatAdd)
                else self._print(a)
            )
            for a in args
        )

    def _print_HadamardPower(self, expr):
        if expr.exp == 2:  # A ⊙ A, not a power that reads as A A
            base = (
                self.parenthesize(expr.base, PRECEDENCE["Mul"], strict=True)
                if isinstance(expr.base, sp.MatAdd)
                else self._print(expr.base)
            )
            return rf"{base} \odot {base}"
        return super()._print_HadamardPower(expr)

    def _print_OneMatrix(self, expr):
        rows, cols = expr.shape
        return (
            r"\mathbf{1}^{\top}"
            if rows == 1 and cols != 1
            else r"\mathbf{1}"
        )

    def _print_MatAdd(self, expr):
        # Terms without a leading minus first, in the order given: "1 - A", not "-A + 1".
        terms = sorted(
            expr.args,
            key=lambda t: (
                _could_extract_minus_sign(t),
                not isinstance(t, (sp.MatrixSymbol, sp.OneMatrix)),
            ),
        )
        out = self._print(terms[0])
        for t in terms[1:]:
            if _could_extract_minus_sign(t):
                out += " - " + self._print(-t)
            else:
                out += " + " + self._print(t)
        return out

    def _print_MatMul(self, expr):
        # A fraction in front is printed bare, "1/4 [...]", as SymPy already prints a product
        # such as 2/(N D) (A - B); SymPy's own printer puts a lone Rational in brackets.
        coeff, *rest = expr.args
        if coeff.is_Rational and coeff.q != 1 and coeff > 0:
            factors = (
                self.parenthesize(f, PRECEDENCE["Mul"]) for f in rest
            )
            return " ".join([self._print(coeff), *factors])
        return super()._print_MatMul(expr)

    def _print_Derivative(self, expr):
        f = self._print(expr.expr)
        if len(f) > 12 and not isinstance(
            expr.expr, (sp.Symbol, sp.MatrixSymbol)
        ):
            return super()._print_Derivative(expr)
        n = sum(count for _, count in expr.variable_count)
        den = " ".join(
            rf"\partial {self._print(v)}" + (f"^{{{c}}}" if c > 1 else "")
            for v, c in expr.variable_count
        )
        num = rf"\partial^{{{n}}} {f}" if n > 1 else rf"\partial {f}"
        return rf"\frac{{{num}}}{{{den}}}"


def _could_extract_minus_sign(term) -> bool:
    if isinstance(term, sp.MatMul):
        return (
            term.args[0].could_extract_minus_sign()
            if term.args[0].is_number
            else False
        )
    # every term of an Add or a MatAdd is a SymPy Expr, which has this method
    return bool(term.could_extract_minus_sign())


def latex(expr) -> str:
    """LaTeX of a SymPy expression in the book's notation (the printer the checks use)."""
    return _BookLatexPrinter().doprint(expr)

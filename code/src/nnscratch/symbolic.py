"""SymPy helpers that let a chapter state a hand-derived formula and have it checked.

Three kinds of check, each raising ``AssertionError`` when it fails (so a wrong formula fails
the book's build) and returning a :class:`Verified` that renders the verified equation in a
notebook. The equation is typeset from the SymPy expressions that were compared, or from a
display form (``X.T * G`` with ``MatrixSymbol`` s) that is itself checked equal to them; a
hand-typed LaTeX string is refused. A check's ``label`` names the displayed equation of the
text that it verifies (``$$ ... $$ (label)``); tests/test_prose.py fails on a displayed
derivative or update rule that no check names. The three checks:

- :func:`verify_equal`: two symbolic expressions are identical;
- :func:`verify_derivative`: SymPy's derivative of an expression equals the hand formula;
- :func:`verify_numeric`: a symbolic result agrees with the package's numbers at random points.

:class:`Checklist` collects the checks of a page so the page can count and summarize them.
:class:`sigmoid` is the logistic function as a SymPy function whose derivative is
``sigmoid * (1 - sigmoid)``, which keeps symbolic gradients of whole networks fast to verify.

See Also
--------
Book, Step 0 "Before you start": how the book checks itself.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from ._typeset import latex


def _clearly_nonzero(expr) -> bool:
    """True when ``expr`` evaluates, to 30 digits, far from zero at a fixed point.

    Each free symbol gets a distinct value in (0, 1), valid for real and positive symbols;
    integer-valued symbols are left alone (the test answers False), as is anything that does
    not evaluate to a finite real number.
    """
    free = sorted(expr.free_symbols, key=str)
    if any(s.is_integer for s in free):
        return False
    point = {
        s: sp.Rational(k + 3, 2 * len(free) + 7) for k, s in enumerate(free)
    }
    try:
        value = complex(sp.N(expr.subs(point), 30))
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(value)) and abs(value) > 1e-12


def _is_zero(expr) -> bool:
    """True when SymPy can prove ``expr`` is identically zero (scalar or matrix)."""
    if isinstance(expr, (sp.MatrixBase, sp.NDimArray)):
        return all(_is_zero(e) for e in expr)
    # Cheapest first. Expanding is exact and fast for sums of products (matrix calculus over
    # symbols), but products of exp-fractions (second derivatives of a sigmoid over a batch)
    # can blow up to thousands of terms, so those go to simplify alone first.
    if not expr.has(sp.exp) and sp.expand(expr) == 0:
        return True
    if sp.simplify(expr) == 0:
        return True
    if _clearly_nonzero(
        expr
    ):  # a wrong formula fails in seconds instead of in the slow path
        return False
    expr = sp.simplify(sp.expand(expr))
    if expr == 0:
        return True
    # simplify is a heuristic; rewriting piecewise-free expressions in exp catches hyperbolic forms.
    return sp.simplify(expr.rewrite(sp.exp)) == 0


def _require_sympy(value, what: str):
    if isinstance(value, str):
        raise TypeError(
            f"{what} must be a SymPy expression, got the string {value!r}: a verified equation "
            "is typeset from SymPy objects, so that what is shown is what was checked"
        )
    return sp.sympify(value)


def _bind(display, where: dict | None):
    """``display`` with the symbols of ``where`` replaced by their values, evaluated."""
    if where:  # values may be plain numbers (a count computed in Python)
        where = {name: sp.sympify(value) for name, value in where.items()}
    expr = display
    for _ in range(10):  # names may stand for expressions in other names
        bound = expr.xreplace(where) if where else expr
        if bound == expr:
            break
        expr = bound
    expr = expr.doit()
    if isinstance(expr, sp.MatrixExpr) and not isinstance(
        expr, sp.MatrixBase
    ):
        expr = expr.as_explicit()
    return expr


def _check_display(display, checked, where, name: str, side: str) -> None:
    """Assert that a hand-chosen display form equals the expression that was checked."""
    value = _bind(display, where)
    if (
        isinstance(value, sp.MatrixBase)
        and value.shape == (1, 1)
        and not isinstance(checked, sp.MatrixBase)
    ):
        value = value[0, 0]  # "1ᵀ (p - y)" is a 1 x 1 matrix, a scalar
    _assert_same_shape(value, checked, f"{name} (displayed {side})")
    if not _is_zero(value - checked):
        raise AssertionError(
            f"{name}: the displayed {side} is not the formula that was checked.\n"
            f"  displayed: {latex(display)}\n  evaluates to: {sp.sstr(value)}\n"
            f"  checked:   {sp.sstr(checked)}"
        )


def _assert_same_shape(a, b, name: str) -> None:
    if isinstance(a, sp.MatrixBase) != isinstance(b, sp.MatrixBase) or (
        isinstance(a, sp.MatrixBase) and a.shape != b.shape
    ):
        raise AssertionError(
            f"{name}: shapes differ, {getattr(a, 'shape', '()')} "
            f"and {getattr(b, 'shape', '()')}"
        )


@dataclass
class Verified:
    r"""A formula that passed a check; renders as the equation with a check mark.

    ``lhs`` and ``rhs`` are SymPy objects: the equation shown is typeset from the expressions
    that were compared (or from display forms that were themselves checked equal to them), so
    the page cannot show one formula and check another. ``relation`` is the LaTeX between
    them (``=``, or ``\leftarrow`` for an update rule); ``label`` names the equation so that the
    text can display it with ``{glue:math}`` and refer to it.
    """

    name: str
    lhs: sp.Basic  # the quantity (a name, or the derived expression)
    rhs: sp.Basic  # the verified formula
    how: str  # what verified it
    relation: str = "="
    label: str | tuple[str, ...] | None = None

    def latex(self) -> str:
        """The equation as LaTeX, without delimiters."""
        return f"{latex(self.lhs)} {self.relation} {latex(self.rhs)}"

    def _repr_markdown_(self) -> str:
        return f"✓ **{_markdown_text(self.name)}** ({_markdown_text(self.how)})\n\n$$\n{self.latex()}\n$$\n"

    def _repr_latex_(self) -> str:
        return f"$$\n{self.latex()}\n$$"

    def __str__(self) -> str:
        return f"verified ({self.how}): {self.name}"

    __repr__ = __str__

    def without_formula(self) -> "VerifiedLine":
        """This check as its line alone, for a formula far wider than the page (a matrix of
        long entries): where the check runs, the page still says that it passed.
        """
        return VerifiedLine(self)


@dataclass(frozen=True)
class VerifiedLine:
    """A passed check shown as its first line only: the check mark, its name and how."""

    verified: Verified

    def _repr_markdown_(self) -> str:
        v = self.verified
        return f"✓ **{_markdown_text(v.name)}** ({_markdown_text(v.how)})\n"

    def __str__(self) -> str:
        return str(self.verified)

    __repr__ = __str__


def verify_equal(
    derived,
    claimed,
    name: str,
    *,
    lhs=None,
    rhs=None,
    where: dict | None = None,
    relation: str = "=",
    label: str | None = None,
) -> Verified:
    r"""Assert that two SymPy expressions (or matrices) are identical.

    Parameters
    ----------
    derived : sympy expression or Matrix
        What SymPy computed.
    claimed : sympy expression or Matrix
        The formula the text states.
    name : str
        Short description shown with the verdict; inline maths in it, ``$...$``, is
        typeset.
    lhs : sympy expression, optional
        The quantity as displayed (default: ``derived``). A name (a symbol such as
        ``Symbol("b_5")``, or :func:`d` ``("L", "W")``) is shown as given; anything else is a
        formula and is checked equal to ``derived``, like ``rhs``.
    rhs : sympy expression, optional
        The formula as displayed (default: ``claimed``), typically written with
        ``MatrixSymbol`` s (``X.T * G``) instead of explicit matrices. It is checked: with the
        symbols of ``where`` replaced by their values it must equal ``claimed``.
    where : dict, optional
        Binds the display symbols to the expressions they stand for; a bound expression may
        use other bound names (``b_t`` for ``mu b_{t-1} + g_t``). A display that is a bare name
        bound to the whole checked expression shows that name: the way to show a result too
        long to print, such as SymPy's gradient of a whole network.
    relation : str
        LaTeX between the two sides: ``"="``, or ``r"\leftarrow"`` for an update rule.
    label : str or tuple of str, optional
        Name of the displayed equation of the text that this check verifies (several names
        when one check covers several displays), for ``{glue:math}`` and references.
    """
    _assert_same_shape(derived, claimed, name)
    if not _is_zero(derived - claimed):
        raise AssertionError(
            f"{name}: the stated formula is wrong.\n  SymPy: {sp.sstr(sp.simplify(derived))}\n"
            f"  text:  {sp.sstr(claimed)}"
        )
    shown_rhs = claimed
    if rhs is not None:
        shown_rhs = _require_sympy(rhs, "rhs")
        _check_display(shown_rhs, claimed, where, name, "right-hand side")
    shown_lhs = derived
    if lhs is not None:
        shown_lhs = _require_sympy(lhs, "lhs")
        if not _is_name(
            shown_lhs
        ):  # a formula, not a name: it is checked too
            _check_display(
                shown_lhs, derived, where, name, "left-hand side"
            )
    return Verified(
        name, shown_lhs, shown_rhs, "SymPy: identical", relation, label
    )


def _is_name(expr) -> bool:
    """True for an expression that only names a quantity: a symbol, a matrix symbol, an
    undefined function applied to names, or the derivative of a name with respect to names.
    """
    from sympy.core.function import AppliedUndef

    if isinstance(expr, (sp.Symbol, sp.MatrixSymbol, sp.Indexed)):
        return True
    if isinstance(expr, sp.MatrixBase):
        return all(_is_name(e) for e in expr)
    if isinstance(expr, AppliedUndef):
        return all(_is_name(a) for a in expr.args)
    if isinstance(expr, sp.Derivative):
        return _is_name(expr.expr) and all(
            _is_name(v) for v in expr.variables
        )
    return False


def d(of: str | sp.Basic, *wrt: str | sp.Basic) -> sp.Derivative:
    r"""The name :math:`\partial\,\text{of} / \partial\,\text{wrt}` of a derivative, for display.

    ``d("L", "W_1")`` renders as ``\frac{\partial L}{\partial W_{1}}``. It names what
    :func:`verify_derivative` computes; it is not itself evaluated.
    """
    as_symbol = lambda x: sp.Symbol(x) if isinstance(x, str) else x
    return sp.Derivative(as_symbol(of), *map(as_symbol, wrt))


def verify_derivative(
    f,
    wrt,
    claimed,
    name: str,
    *,
    lhs=None,
    rhs=None,
    where: dict | None = None,
    relation: str = "=",
    label: str | None = None,
) -> Verified:
    """Assert that :math:`\\partial f / \\partial\\, \\text{wrt}` equals ``claimed``.

    ``wrt`` may be a symbol or a Matrix of symbols; for a scalar ``f`` and a Matrix ``wrt``
    the derivative is the Matrix of partial derivatives, of ``wrt``'s shape (the gradient
    laid out like the variable, as the book does). ``lhs`` names the derivative (default:
    ``Derivative(f, wrt)``, best replaced by a short name such as ``d("L", "W")``); ``rhs``,
    ``where``, ``relation`` and ``label`` are as in :func:`verify_equal`.
    """
    if isinstance(wrt, sp.MatrixBase):
        derived = wrt.applyfunc(lambda s: sp.diff(f, s))
    else:
        derived = sp.diff(f, wrt)
    if lhs is None:
        lhs = (
            sp.Derivative(f, wrt)
            if not isinstance(wrt, sp.MatrixBase)
            else d("f", "w")
        )
    v = verify_equal(
        derived,
        claimed,
        name,
        lhs=lhs,
        rhs=rhs,
        where=where,
        relation=relation,
        label=label,
    )
    v.how = "SymPy: derivative matches"
    return v


def verify_numeric(
    expr,
    symbols: Sequence[sp.Symbol],
    numeric: Callable[..., np.ndarray],
    *,
    rng: np.random.Generator,
    name: str,
    n_points: int = 5,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    lhs=None,
    rhs=None,
    where: dict | None = None,
    label: str | None = None,
    sample: Callable[[np.random.Generator, int], np.ndarray] | None = None,
) -> Verified:
    """Assert that a symbolic expression and the package agree at random points.

    Parameters
    ----------
    expr : sympy expression or Matrix
        The symbolic result (for example a gradient derived by SymPy).
    symbols : sequence of Symbol
        The free symbols, in the order ``numeric`` takes them.
    numeric : callable
        ``numeric(*values)`` computes the same quantity with the package, in float64.
    rng : numpy.random.Generator
        Draws the points (standard normal, unless ``sample`` says otherwise).
    sample : callable, optional
        ``sample(rng, k)`` returns ``k`` values for one point (for domains such as labels).
    lhs : sympy expression, optional
        Names what the package computed (default: ``Symbol("nnscratch")``).
    rhs, where, label : optional
        The formula as displayed, checked equal to ``expr`` (default: ``expr``), as in
        :func:`verify_equal`.
    """
    shown_rhs = expr
    if rhs is not None:
        shown_rhs = _require_sympy(rhs, "rhs")
        _check_display(shown_rhs, expr, where, name, "right-hand side")
    shown_lhs = (
        _require_sympy(lhs, "lhs")
        if lhs is not None
        else sp.Symbol(r"\texttt{nnscratch}")
    )
    f = sp.lambdify(list(symbols), expr, modules="numpy")
    worst = 0.0
    for _ in range(n_points):
        vals = (
            sample(rng, len(symbols))
            if sample
            else rng.standard_normal(len(symbols))
        )
        expected = np.asarray(f(*vals), dtype=np.float64)
        got = np.asarray(numeric(*vals), dtype=np.float64)
        if expected.size == got.size:
            expected = expected.reshape(got.shape)
        if expected.shape != got.shape:
            raise AssertionError(
                f"{name}: SymPy gives shape {expected.shape}, the package {got.shape}"
            )
        if not np.allclose(got, expected, rtol=rtol, atol=atol):
            raise AssertionError(
                f"{name}: the package disagrees with SymPy at {dict(zip(map(str, symbols), vals))}:\n"
                f"  SymPy:   {expected}\n  package: {got}"
            )
        scale = np.maximum(np.abs(expected), 1.0)
        worst = max(worst, float(np.max(np.abs(got - expected) / scale)))
    return Verified(
        name,
        shown_lhs,
        shown_rhs,
        f"package = SymPy at {n_points} random points, max error {worst:.1e}",
        label=label,
    )


class Checklist:
    """The checks of one page, collected so they can be counted and listed.

    Each method calls the function of the same name, records the result, and returns it.
    """

    def __init__(self) -> None:
        self.items: list[Verified] = []

    def equal(self, *args, **kwargs) -> Verified:
        return self._add(verify_equal(*args, **kwargs))

    def derivative(self, *args, **kwargs) -> Verified:
        return self._add(verify_derivative(*args, **kwargs))

    def numeric(self, *args, **kwargs) -> Verified:
        return self._add(verify_numeric(*args, **kwargs))

    def _add(self, v: Verified) -> Verified:
        self.items.append(v)
        return v

    def __len__(self) -> int:
        return len(self.items)

    @property
    def labels(self) -> list[str]:
        """The labels of the labelled checks, in order (each names an equation of the text)."""
        out = []
        for v in self.items:
            out += (
                [v.label]
                if isinstance(v.label, str)
                else list(v.label or ())
            )
        return out

    def _repr_markdown_(self) -> str:
        rows = "\n".join(
            f"| {i} | {_markdown_text(v.name)} | {_markdown_text(v.how)} |"
            for i, v in enumerate(self.items, 1)
        )
        return f"| # | formula | verified by |\n|---|---|---|\n{rows}\n"


def _markdown_text(text: str) -> str:
    """``text`` with Markdown's markup characters escaped, so that it shows as written, and
    its inline maths ``$...$`` kept as maths.

    A check's name may hold ``*`` (η*), ``_`` or ``|``; unescaped they would start emphasis
    or end a table cell in the rendered output. Between two ``$`` the text is LaTeX, left as
    it is but for ``|``, which would end a table cell there too and is written ``\\vert``
    (``\\|``, ``\\Vert``).
    """
    parts = re.split(r"(\$[^$\n]+\$)", text)  # odd indices: the maths
    return "".join(
        (
            part.replace(r"\|", r"\Vert ").replace("|", r"\vert ")
            if i % 2
            else _scientific_as_maths(
                re.sub(r"([\\`*_{}\[\]<>|$#])", r"\\\1", part)
            )
        )
        for i, part in enumerate(parts)
    )


def _scientific_as_maths(text: str) -> str:
    """Numbers such as ``5.6e-17`` in ``text`` as maths, :math:`5.6 \\times 10^{-17}`: read
    as a power of ten, and never broken at the exponent's hyphen at the end of a line.
    Zero (``0.0e+00``) is written 0, and a power :math:`10^0` is left out.
    """

    def as_maths(m: re.Match) -> str:
        mantissa, sign, power = m[1], m[2].lstrip("+"), m[3]
        if float(mantissa) == 0:
            return "0"
        if power == "0":
            return mantissa
        return f"${mantissa} \\times 10^{{{sign}{power}}}$"

    return re.sub(r"\b(\d+(?:\.\d+)?)e([-+]?)0*(\d+)\b", as_maths, text)


class sigmoid(sp.Function):
    """The logistic sigmoid as a SymPy function that knows its derivative.

    ``sigmoid(z).diff(z)`` gives ``sigmoid(z) * (1 - sigmoid(z))`` — the identity Step 1
    proves (and checks against ``1 / (1 + exp(-z))``) — instead of a fraction of
    exponentials. Gradients of whole networks then stay polynomials in the activations, which
    SymPy verifies in a fraction of a second; ``rewrite(sp.exp)`` recovers the explicit form and
    ``lambdify`` evaluates it with NumPy.

    See Also
    --------
    Book, Step 1 "Neuron and activation" (the derivative), Step 2 "From math to code" (use).
    """

    def fdiff(self, argindex: int = 1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    # lambdify calls this for NumPy input; the tanh form cannot overflow.
    _imp_ = staticmethod(lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)))

"""SymPy helpers that let a chapter state a hand-derived formula and have it checked.

Three kinds of check, each raising ``AssertionError`` when it fails (so a wrong formula fails
the book's build) and returning an object that renders the verified equation in a notebook:

- :func:`verify_equal`: two symbolic expressions are identical;
- :func:`verify_derivative`: SymPy's derivative of an expression equals the hand formula;
- :func:`verify_numeric`: a symbolic result agrees with the package's numbers at random points.

:class:`Checklist` collects the checks of a page so the page can count and summarise them.
:class:`sigmoid` is the logistic function as a SymPy function whose derivative is
``sigmoid * (1 - sigmoid)``, which keeps symbolic gradients of whole networks fast to verify.

See Also
--------
Book, Step 0 "Before you start": how the book checks itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import sympy as sp


def _clearly_nonzero(expr) -> bool:
    """True when ``expr`` evaluates, to 30 digits, far from zero at a fixed point.

    Each free symbol gets a distinct value in (0, 1), valid for real and positive symbols;
    integer-valued symbols are left alone (the test answers False), as is anything that does
    not evaluate to a finite real number.
    """
    free = sorted(expr.free_symbols, key=str)
    if any(s.is_integer for s in free):
        return False
    point = {s: sp.Rational(k + 3, 2 * len(free) + 7) for k, s in enumerate(free)}
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
    if _clearly_nonzero(expr):  # a wrong formula fails in seconds instead of in the slow path
        return False
    expr = sp.simplify(sp.expand(expr))
    if expr == 0:
        return True
    # simplify is a heuristic; rewriting piecewise-free expressions in exp catches hyperbolic forms.
    return sp.simplify(expr.rewrite(sp.exp)) == 0


@dataclass
class Verified:
    """A formula that passed a check; renders as the equation with a check mark."""

    name: str
    lhs: str          # LaTeX of the quantity
    rhs: str          # LaTeX of the verified formula
    how: str          # what verified it

    def _repr_markdown_(self) -> str:
        return f"✓ **{self.name}** ({self.how})\n\n$$\n{self.lhs} = {self.rhs}\n$$\n"

    def __str__(self) -> str:
        return f"verified ({self.how}): {self.name}"

    __repr__ = __str__


def _latex(x) -> str:
    return x if isinstance(x, str) else sp.latex(x)


def verify_equal(derived, claimed, name: str, *, lhs: str | None = None,
                 rhs: str | None = None) -> Verified:
    """Assert that two SymPy expressions (or matrices) are identical.

    Parameters
    ----------
    derived : sympy expression or Matrix
        What SymPy computed.
    claimed : sympy expression or Matrix
        The formula the text states.
    name : str
        Short description shown with the verdict.
    lhs : str, optional
        LaTeX of the quantity (defaults to the LaTeX of ``derived``).
    rhs : str, optional
        LaTeX of the formula as the text writes it (defaults to the LaTeX of ``claimed``).
    """
    if isinstance(derived, sp.MatrixBase) != isinstance(claimed, sp.MatrixBase) or (
        isinstance(derived, sp.MatrixBase) and derived.shape != claimed.shape
    ):
        raise AssertionError(f"{name}: shapes differ, {getattr(derived, 'shape', '()')} "
                             f"and {getattr(claimed, 'shape', '()')}")
    if not _is_zero(derived - claimed):
        raise AssertionError(
            f"{name}: the stated formula is wrong.\n  SymPy: {sp.sstr(sp.simplify(derived))}\n"
            f"  text:  {sp.sstr(claimed)}"
        )
    return Verified(name, _latex(lhs if lhs is not None else derived),
                    _latex(rhs if rhs is not None else claimed), "SymPy: identical")


def verify_derivative(f, wrt, claimed, name: str, *, lhs: str | None = None,
                      rhs: str | None = None) -> Verified:
    """Assert that :math:`\\partial f / \\partial\\, \\text{wrt}` equals ``claimed``.

    ``wrt`` may be a symbol or a Matrix of symbols; for a scalar ``f`` and a Matrix ``wrt``
    the derivative is the Matrix of partial derivatives, of ``wrt``'s shape (the gradient
    laid out like the variable, as the book does).
    """
    if isinstance(wrt, sp.MatrixBase):
        derived = wrt.applyfunc(lambda s: sp.diff(f, s))
    else:
        derived = sp.diff(f, wrt)
    default_lhs = rf"\frac{{\partial {sp.latex(f) if not isinstance(f, sp.MatrixBase) else 'f'}}}" \
                  rf"{{\partial {sp.latex(wrt)}}}"
    v = verify_equal(derived, claimed, name, lhs=lhs if lhs is not None else default_lhs, rhs=rhs)
    v.how = "SymPy: derivative matches"
    return v


def verify_numeric(expr, symbols: Sequence[sp.Symbol], numeric: Callable[..., np.ndarray], *,
                   rng: np.random.Generator, name: str, n_points: int = 5,
                   rtol: float = 1e-9, atol: float = 1e-12, lhs: str | None = None,
                   rhs: str | None = None,
                   sample: Callable[[np.random.Generator, int], np.ndarray] | None = None) -> Verified:
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
    lhs, rhs : str, optional
        LaTeX shown for the quantity and the formula (default: the LaTeX of ``expr``).
    """
    f = sp.lambdify(list(symbols), expr, modules="numpy")
    worst = 0.0
    for _ in range(n_points):
        vals = sample(rng, len(symbols)) if sample else rng.standard_normal(len(symbols))
        expected = np.asarray(f(*vals), dtype=np.float64)
        got = np.asarray(numeric(*vals), dtype=np.float64)
        if expected.size == got.size:
            expected = expected.reshape(got.shape)
        if expected.shape != got.shape:
            raise AssertionError(f"{name}: SymPy gives shape {expected.shape}, the package {got.shape}")
        if not np.allclose(got, expected, rtol=rtol, atol=atol):
            raise AssertionError(
                f"{name}: the package disagrees with SymPy at {dict(zip(map(str, symbols), vals))}:\n"
                f"  SymPy:   {expected}\n  package: {got}"
            )
        scale = np.maximum(np.abs(expected), 1.0)
        worst = max(worst, float(np.max(np.abs(got - expected) / scale)))
    return Verified(name, _latex(lhs) if lhs is not None else _latex(expr),
                    _latex(rhs) if rhs is not None else _latex(expr),
                    f"package = SymPy at {n_points} random points, max error {worst:.1e}")


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

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {i} | {v.name} | {v.how} |" for i, v in enumerate(self.items, 1))
        return f"| # | formula | verified by |\n|---|---|---|\n{rows}\n"


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

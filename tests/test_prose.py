"""The book keeps two promises in its text, checked on the sources (no build needed).

1. **No result number typed by hand.** A number in the prose is a result when a unit or noun
   of a measured outcome follows it (``%``, ``MB``, ``s``, ``seconds``, ``× ``, ``times
   faster``, ``parameters``, ``mistakes``...) or when it is the value of a named outcome
   (``accuracy of 0.97``, ``loss is 0.31``, ``speed-up of 40``). Results must come from the
   code, through a ``{glue}`` role. Definitions and chosen constants (a learning rate of 0.1,
   784 inputs, 5 × 5 kernels, seeds, years, step and equation numbers, thresholds such as
   "a loss below 0.1") pass: no result word is attached to them, or they are written in maths.
   The few justified exceptions are listed in ``ALLOWLIST``, page by page, each with its
   reason.

2. **No unverified derivative, gradient or update rule on display.** A displayed equation
   (``$$ ... $$`` or a ``{math}`` directive) that states a derivative (``\\partial``,
   ``\\nabla``, a prime ``f'(``, ``\\frac{d``), a gradient array (``dW``, ``dZ``, ...) or an
   update rule (``\\leftarrow``, or a quantity at step ``t`` defined from step ``t-1``) must
   carry a label, ``$$ (eq-name)``, that a verified check on the same page names with
   ``label="eq-name"``. The alternative is to show the verified equation itself, typeset from
   SymPy, with a ``{glue:math}`` directive; that is not a ``$$`` block, so this test does not
   need to look at it.

3. **One spelling.** The book and the library spell in the Oxford way: British "colour"
   and "behaviour", with the -ize of the code's own names (``optimizer``, ``normalize``,
   ``tokenize``). ``test_one_spelling_of_ize_words`` finds the -ise forms of those verbs.

What counts as prose: everything outside code cells, maths (``$...$``,
``$$...$$``), roles (``{glue:text}`...```, ``{cite:p}`...```, ``{ref}`...```), inline code,
link targets, labels and directive options.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _book import ROOT, notebook_chapters

# -- what a page's prose is ---------------------------------------------------------------------

CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```[ \t]*$", re.S | re.M)
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$(?:[ \t]*\([\w-]+\))?", re.S)
MATH_DIRECTIVE = re.compile(r"^```\{math\}.*?^```", re.S | re.M)
INLINE_MATH = re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$")
ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
LABEL_LINE = re.compile(r"^\([\w-]+\)=\s*$", re.M)
OPTION_LINE = re.compile(r"^\s*:[\w-]+:.*$", re.M)
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)


def prose(text: str) -> str:
    """The page with code cells, maths, roles, inline code, labels and options blanked out
    (line numbers kept). Other fenced blocks (a table's or a figure's caption, a bash command)
    are read as prose, numbers and all: nothing a reader sees escapes the checks."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))

    for pattern in (FRONT_MATTER, CODE_CELL, MATH_DIRECTIVE, COMMENT, DISPLAY_MATH, INLINE_MATH):
        text = pattern.sub(blank, text)
    # A glued value stays a word ("take {glue} hours" is not "take hours"), without its digits.
    text = ROLE.sub(lambda m: re.sub(r"[^\n]", "§", m.group(0)), text)
    for pattern in (INLINE_CODE, LINK_TARGET, LABEL_LINE, OPTION_LINE):
        text = pattern.sub(blank, text)
    return text


# -- 1. result numbers ---------------------------------------------------------------------------

NUM = r"\d[\d,]*(?:\.\d+)?"
# A number is a result when a unit or noun of a measured outcome follows it ...
RESULT_AFTER = re.compile(
    rf"^\s*(?:%|percent\b|MB\b|KB\b|GB\b|bytes?\b|ms\b|s\b|seconds?\b|minutes?\b|hours?\b"
    r"|×(?!\s*\d)|x\b(?!\s*\d)|times\s+(?:faster|slower|fewer|more|larger|smaller|as\b)"
    r"|(?:\w+\s+){0,2}?(?:parameters|mistakes|errors|multiply-adds|steps faster)|in all\b|in total\b)"
)
# Quantities in words claim a measurement just as digits do ("about twice as fast").
RESULT_PHRASE = re.compile(
    r"\b(?:twice|half|a third|a quarter)\s+(?:as fast|(?:of\s+)?(?:the\s+|\w+'s\s+)?parameters"
    r"|as many parameters)"
    r"|\ban? order of magnitude|\borders of magnitude"
    r"|\b(?:tenths|hundredths) of a percent"
    r"|\b(?:hundreds?|thousands?|millions?)\s+(?:of\s+)?parameters"
    r"|\b(?:take|takes|would take)\s+(?:hours|minutes)|\bin a minute\b",
    re.I,
)
# A number written in maths and followed by a result unit: "$\approx 0.94$ MB".
MATH_THEN_UNIT = re.compile(
    r"(?<!\\)\$[^$\n]*(?:\\approx|=|\\sim)\s*[\d.,{}\\ ]*\d[\d.,{}\\ ]*\$"
    r"\s*(?:million\b|MB\b|KB\b|GB\b|%|parameters\b|multiply-adds\b)"
    r"|(?:accuracy|loss|error|reaches|reached|speed-up)\s+(?:about|only|of|is|was)?\s*"
    r"\$\s*(?:\\approx\s*)?[\d.,]*\s*(?:\\times\s*)?(?:10\^\{?-?\d+\}?)?\s*\$"
)
# ... or when it is the value of a named outcome ("accuracy of 0.97", "loss is 0.31").
RESULT_BEFORE = re.compile(
    r"(?:accuracy|accuracies|loss|losses|error|error rate|speed-up|speedup|score|ECE)"
    r"(?:\s+\w+){0,2}?(?:\s+(?:of|is|was|at|to|reaches|reached|=|:))?(?:\s+(?:about|around|only|roughly))?\s*$",
    re.I,
)
NUMBER = re.compile(rf"(?<![\w.]){NUM}")
# ... unless it counts something the page chose ("the loss after 100 steps").
CHOSEN_COUNT = re.compile(r"^\s*(?:steps?|epochs?|points|units|layers|hidden|examples|images|"
                          r"seeds|runs|rates|filters|channels|pixels|times per)\b")
THRESHOLD = re.compile(r"(?:below|above|under|over|least|most|than|threshold|within)\s*$")

# Numbers that may stand next to a result word without being results.
ALLOWED_BEFORE = re.compile(
    r"(?:Step|Steps|step|steps|Exercise|Exercises|exercise|Section|section|Chapter|chapter|"
    r"Figure|figure|Table|table|epoch|layer|row|column|seed|version|Python|equation|item)"
    r"\s+(?:\d+\s*(?:,|and|or|to|–|-)\s*)*$"
)
YEAR = re.compile(r"^(19|20)\d\d$")


# Justified exceptions, page by page: (text that occurs in the flagged line, reason).
ALLOWLIST: dict[str, list[tuple[str, str]]] = {
    "06_mnist.md": [
        ("over 98% test accuracy", "a goal the page asserts (test_acc >= 0.98), not a result"),
        ("98.04% on its validation images", "a cited result from Nielsen's book, not computed here"),
        ("less than 90% of the time", "a hypothetical in an exercise, not a measurement"),
        ("are 255 times larger", "follows from the scaling by 255: the layer is linear, bias 0"),
        ("take 4 bytes each in float32", "the size of a float32 number, a definition"),
        ("255 times as far", "follows from the scaling by 255, an argument, not a measurement"),
    ],
    "07_cnn_practice.md": [
        ("to over 99% test accuracy", "a goal the page asserts (cnn_test_acc >= 0.99), not a result"),
        ("reaches 99.23%", "a cited result from Nielsen's book, not computed here"),
    ],
    "03_deep_networks_theory.md": [
        ("15 parameters and 4 inputs", "the size of the symbolic network SymPy checks, chosen"),
    ],
    "05_regularization_practice.md": [
        ("by at least 30%", "a bound the cell above asserts on this run's numbers (< 0.7 x)"),
    ],
    "04_optimization_theory.md": [
        ("reach 90% of its limit", "the target of an exercise, a chosen constant"),
    ],
}


def result_numbers(page: Path, text: str | None = None) -> list[str]:
    """Hand-typed result numbers in a page's prose, as 'file:line: number in line' strings."""
    raw = page.read_text() if text is None else text
    body = prose(raw)
    lines = raw.splitlines()
    allowed = ALLOWLIST.get(page.name, [])
    found = []
    for m in NUMBER.finditer(body):
        number = m.group(0).rstrip(",")
        before = " ".join(body[max(0, m.start() - 60):m.start()].split())
        after = body[m.end():m.end() + 40]
        if YEAR.match(number) or ALLOWED_BEFORE.search(before):
            continue
        unit = RESULT_AFTER.match(after)
        named = RESULT_BEFORE.search(before)
        if not (unit or named) or (named and not unit and CHOSEN_COUNT.match(after)):
            continue
        if number in ("0", "1") and not unit and re.search(r"(?:approach\w*|to)\s*$", before):
            continue                                # "accuracy approaches 1": a bound, not a value
        if THRESHOLD.search(before) and not (unit and unit.group(0).strip().startswith("%")):
            continue                                # "loss below 0.1": a chosen threshold
        line_no = body.count("\n", 0, m.start())
        window = "\n".join(lines[max(0, line_no - 1):line_no + 2])
        if any(snippet in window for snippet, _ in allowed):
            continue
        found.append(f"{page.name}:{line_no + 1}: {number} in {lines[line_no].strip()!r}")
    # Word quantities in the prose, and numbers in maths followed by a result unit.
    no_math = prose(raw)
    keep_math = raw
    for pattern in (FRONT_MATTER, CODE_CELL, MATH_DIRECTIVE, COMMENT, DISPLAY_MATH):
        keep_math = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), keep_math)
    hits = [(m, no_math) for m in RESULT_PHRASE.finditer(" ".join(no_math.split(" ")))]
    hits += [(m, keep_math) for m in MATH_THEN_UNIT.finditer(keep_math)]
    for m, text in hits:
        line_no = text.count("\n", 0, m.start())
        window = "\n".join(lines[max(0, line_no - 1):line_no + 2])
        if any(snippet in window for snippet, _ in allowed):
            continue
        found.append(f"{page.name}:{line_no + 1}: {m.group(0)!r} in {lines[line_no].strip()!r}")
    return found


PAGES = notebook_chapters()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_result_number_typed_by_hand(page):
    found = result_numbers(page)
    assert not found, (
        "result numbers typed by hand (glue them from the cell that computed them, rewrite the "
        "sentence as something the page shows, or add a justified entry to ALLOWLIST):\n  "
        + "\n  ".join(found)
    )


def test_allowlist_entries_are_still_needed(monkeypatch):
    for name, entries in ALLOWLIST.items():
        for entry in entries:
            monkeypatch.setitem(ALLOWLIST, name, [e for e in entries if e is not entry])
            assert result_numbers(ROOT / "book" / name), (
                f"{name}: allowlist entry {entry[0]!r} ({entry[1]}) excuses nothing; remove it")
        monkeypatch.setitem(ALLOWLIST, name, entries)


def test_the_scan_catches_typed_results_and_allows_constants(tmp_path):
    page = tmp_path / "demo.md"
    page.write_text(
        "---\njupytext: x\n---\n"
        "The network reaches 97.5% test accuracy after 12 seconds.\n\n"
        "We train with a learning rate of 0.1 on 784 inputs with $5 \\times 5$ kernels (Step 3).\n\n"
        "It reaches {glue:text}`acc:.2%` accuracy, about 3 times faster.\n\n"
        "```{code-cell} ipython3\nprint('accuracy 0.99')\n```\n"
    )
    found = result_numbers(page)
    assert [f.split(": ")[1].split(" in ")[0] for f in found] == ["97.5", "12", "3"]


# -- 2. displayed derivatives and update rules ---------------------------------------------------

STATES_DERIVATIVE = re.compile(
    r"\\partial|\\nabla|\\leftarrow|[\w}]'\s*\(|\\frac\{d|\\mathrm d[A-Za-z]"
    r"|(?<![\\\w])d(?:W|Z|X|A|b|z|x|w|y|\\hat)|_\{?t\s*-\s*1\}?"
)
DISPLAY_BLOCK = re.compile(r"\$\$(?P<body>.*?)\$\$(?:[ \t]*\((?P<label>[\w-]+)\))?", re.S)
# The other displays MyST typesets: a {math} directive (its label an option) and, with the
# amsmath extension, an environment standing alone (which carries no label the checks name).
MATH_DIRECTIVE_BLOCK = re.compile(
    r"^```\{math\}[^\n]*\n(?P<options>(?:[ \t]*:[\w-]+:[^\n]*\n)*)(?P<body>.*?)^```", re.S | re.M)
AMSMATH_BLOCK = re.compile(r"^\\begin\{(?P<env>align|equation|gather|multline)\*?\}(?P<body>.*?)"
                           r"^\\end\{(?P=env)\*?\}", re.S | re.M)
# The calls that verify a formula: nnscratch.symbolic's verify_* functions and the methods of
# its Checklist (``checks.equal(...)``) that call them.
VERIFIERS = {"verify_equal", "verify_derivative", "verify_numeric", "equal", "derivative", "numeric"}


def cell_sources(text: str) -> list[str]:
    """The Python source of each code cell (its option lines and IPython magics left out)."""
    sources = []
    for m in CODE_CELL.finditer(text):
        lines = m.group(0).splitlines()[1:-1]
        if lines and lines[0] == "---":  # a YAML block of options
            lines = lines[lines.index("---", 1) + 1:]
        while lines and OPTION_LINE.match(lines[0]):
            lines.pop(0)
        sources.append("\n".join("pass" if re.match(r"\s*[%!]", ln) else ln for ln in lines))
    return sources


def check_labels(text: str) -> set[str]:
    """The labels that verifying calls in the page's code name (``label="eq-x"``, a tuple, ...).

    Only the ``label`` keyword of a call to a verifier counts: the same words in a comment, a
    string or a plot's ``label=`` name no check.
    """
    import ast

    labels = set()
    for source in cell_sources(text):
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in VERIFIERS:
                continue
            for keyword in node.keywords:
                if keyword.arg != "label":
                    continue
                # a string, a tuple of them, or an expression choosing one ("eq-x" if a else None)
                labels |= {v.value for v in ast.walk(keyword.value)
                           if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return labels


def unverified_displays(page: Path, text: str | None = None) -> list[str]:
    """Displayed equations stating a derivative or update rule that no check on the page names."""
    raw = page.read_text() if text is None else text
    labels = check_labels(raw)
    outside_code = CODE_CELL.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), raw)
    displays = [(m.start(), m.group("body"), m.group("label")) for m in DISPLAY_BLOCK.finditer(outside_code)]
    for m in MATH_DIRECTIVE_BLOCK.finditer(outside_code):
        label = re.search(r":label:\s*(\S+)", m.group("options"))
        displays.append((m.start(), m.group("body"), label and label.group(1)))
    outside_dollars = DISPLAY_BLOCK.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), outside_code)
    displays += [(m.start(), m.group("body"), None) for m in AMSMATH_BLOCK.finditer(outside_dollars)]
    found = []
    for start, body, label in sorted(displays, key=lambda d: d[0]):
        if not STATES_DERIVATIVE.search(body) or label in labels:
            continue
        line_no = outside_code.count("\n", 0, start) + 1
        first = " ".join(body.split())[:70]
        why = "no label" if not label else f"label {label!r} is named by no check on the page"
        found.append(f"{page.name}:{line_no}: {why}: {first} ...")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_displayed_derivative_is_verified(page):
    found = unverified_displays(page)
    assert not found, (
        "displayed derivatives or update rules that no check verifies (label the block "
        "'$$ (eq-name)' and pass label=\"eq-name\" to the check that verifies it, or show the "
        "verified equation with {glue:math}):\n  " + "\n  ".join(found)
    )


def test_the_formula_check_needs_a_label_named_by_a_check(tmp_path):
    page = tmp_path / "demo.md"
    cell = '```{code-cell} ipython3\nchecks.equal(a, b, "rule", label="eq-ok")\n```\n'
    page.write_text(
        "$$\nw \\leftarrow w - \\eta g\n$$ (eq-ok)\n\n"
        "$$\n\\frac{\\partial L}{\\partial w} = x\n$$\n\n"
        "$$\nb_t = \\mu b_{t-1} + g_t\n$$ (eq-missing)\n\n"
        "$$\nZ = X W + b\n$$\n\n" + cell
    )
    found = unverified_displays(page)
    assert len(found) == 2 and "no label" in found[0] and "eq-missing" in found[1]


def test_the_formula_check_reads_math_directives_and_amsmath_environments_too(tmp_path):
    page = tmp_path / "demo.md"
    cell = '```{code-cell} ipython3\nchecks.equal(a, b, "rule", label="eq-ok")\n```\n'
    page.write_text(
        "```{math}\n:label: eq-ok\n\\frac{\\partial L}{\\partial w} = x\n```\n\n"
        "```{math}\n:label: eq-other\nw \\leftarrow w - \\eta g\n```\n\n"
        "```{math}\n\\nabla L = 0\n```\n\n"
        "\\begin{align}\n\\frac{\\partial L}{\\partial b} &= 1\n\\end{align}\n\n"
        "$$\n\\begin{aligned} Z &= X W \\end{aligned}\n$$\n\n" + cell
    )
    found = unverified_displays(page)
    assert [f.split(": ")[1] for f in found] == [
        "label 'eq-other' is named by no check on the page", "no label", "no label"], found
    assert [f.split(": ")[0] for f in found] == ["demo.md:6", "demo.md:11", "demo.md:15"]


@pytest.mark.parametrize("cell", [
    '# checks.equal(a, b, "rule", label="eq-ok")\n',                 # a comment
    'ax.plot(x, y, label="eq-ok")\n',                                # a plot's label
    'note = \'checks.equal(a, b, "rule", label="eq-ok")\'\n',        # a string
])
def test_a_label_counts_only_as_the_label_of_a_verifying_call(tmp_path, cell):
    page = tmp_path / "demo.md"
    page.write_text("$$\nw \\leftarrow w - \\eta g\n$$ (eq-ok)\n\n"
                    "```{code-cell} ipython3\n:tags: [remove-cell]\n%matplotlib inline\n"
                    + cell + "```\n")
    found = unverified_displays(page)
    assert len(found) == 1 and "'eq-ok' is named by no check" in found[0]
    page.write_text(page.read_text().replace(
        "```\n", 'checks.derivative(e, x, d, "rule", label=("eq-a", "eq-ok"))\n```\n', 1
    ).replace("```{code-cell} ipython3\nchecks", "```{code-cell} ipython3\n:tags: [remove-cell]\nchecks", 1))
    assert unverified_displays(page) == []


# -- 3. one spelling ----------------------------------------------------------------------------

# Verbs the book uses whose Oxford spelling is -ize: "initialise", "minimised", "normalisation"...
# ("exercise", "noise", "precise", "otherwise" and "analyse" are not among them).
IZE_STEMS = (
    "binari centrali characteri discreti emphasi generali initiali lineari maximi memori "
    "minimi normali optimi organi parameteri penali populari randomi reali recogni regulari "
    "speciali stabili standardi summari tokeni utili vectori visuali"
).split()
ISE_SPELLING = re.compile(
    r"(?i)\b\w*(?:" + "|".join(IZE_STEMS) + r")s(?:e|ed|es|er|ers|ing|ation|ations|able)(?![a-z])"
)
SPELLED_FILES = sorted(
    [*(ROOT / "book").glob("*.md"), *(ROOT / "code" / "src" / "nnscratch").rglob("*.py"),
     ROOT / "README.md"]
)


def ise_spellings(text: str) -> list[str]:
    return ISE_SPELLING.findall(text)


def test_one_spelling_of_ize_words():
    found = {
        str(path.relative_to(ROOT)): words
        for path in SPELLED_FILES
        if (words := ise_spellings(path.read_text(encoding="utf-8")))
    }
    assert not found, f"-ise spellings where the book writes -ize: {found}"


def test_the_spelling_scan_finds_ise_forms_and_passes_other_words():
    text = (
        "He initialisation, re-initialised, Normalises and tokeniser_state; "
        "otherwise the exercise adds noise, precise and analysed; optimistic realism."
    )
    assert ise_spellings(text) == ["initialisation", "initialised", "Normalises", "tokeniser"]



#: An equation reference in parentheses of its own: ``{eq}`` already writes "(4.3)", so
#: "({eq}`label`)" reads "((4.3))". Write "{eq}`label`", or "(see {eq}`label`)".
DOUBLED_EQ_PARENS = re.compile(r"\(\{eq\}`[^`]*`[);,]")


def doubled_eq_parens(text: str) -> list[str]:
    return DOUBLED_EQ_PARENS.findall(text)


def test_no_equation_reference_in_parentheses_of_its_own():
    found = {
        path.name: hits
        for path in sorted((ROOT / "book").glob("*.md"))
        if (hits := doubled_eq_parens(path.read_text(encoding="utf-8")))
    }
    assert not found, f"({{eq}}`...`) renders with two pairs of parentheses: {found}"


def test_the_parentheses_scan_catches_doubles_and_passes_prose_around_a_reference():
    text = (
        "as ({eq}`eq-a`) and ({eq}`eq-b`; after it) shows; by {eq}`eq-c` (see "
        "{eq}`eq-d`), and (the mean, {eq}`eq-e`)"
    )
    assert doubled_eq_parens(text) == ["({eq}`eq-a`)", "({eq}`eq-b`;"]

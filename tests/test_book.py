"""What every page of the book must have, checked on the sources (no build needed).

- every chapter: learning goals at the top, a summary, and at least three exercises, each with
  a solution the reader reveals (the style of Step 0);
- every public module of nnscratch has its place in the API reference (book/api/);
- every citation names an entry of book/references.bib, which holds the works the book rests on;
- tools/book_extension.py turns the docstrings' "See Also: Book, Step N" into links.
"""

import ast
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from _book import ROOT, notebook_chapters, readme_command

import nnscratch


def chapters() -> list[Path]:
    """The notebook pages of the table of contents (not the landing page or the reference)."""
    return notebook_chapters()


def h2_sections(text: str) -> dict[str, str]:
    """Level-2 sections of a MyST page, title -> body (code cells are not headings)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # drop fenced blocks' bodies
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.M)
    return {title: body for title, body in zip(parts[1::2], parts[2::2])}


def test_there_are_chapters():
    assert chapters(), "_toc.yml lists no notebook chapter"


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.stem)
def test_chapter_opens_with_learning_goals(page):
    text = page.read_text()
    goals = re.search(r"[:`]{3,}\{admonition\} Learning goals\s*\n:class: tip\b", text)
    assert goals, f"{page.name}: no ':::{{admonition}} Learning goals' with ':class: tip'"
    first_h2 = re.search(r"^## ", text, flags=re.M)
    assert first_h2 is None or goals.start() < first_h2.start(), (
        f"{page.name}: the learning goals must come before the first section"
    )


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.stem)
def test_chapter_has_summary_and_exercises_with_solutions(page):
    raw = page.read_text()
    titles = re.findall(r"^## +(.+?)\s*$", raw, flags=re.M)
    assert "Summary" in titles, f"{page.name}: no '## Summary' section"
    assert "Exercises" in titles, f"{page.name}: no '## Exercises' section"
    exercises = raw.split("\n## Exercises", 1)[1]
    exercises = re.split(r"^## ", exercises, flags=re.M)[0]
    items = re.split(r"^\d+\. ", exercises, flags=re.M)[1:]
    assert len(items) >= 3, f"{page.name}: {len(items)} numbered exercises, need at least 3"
    solution = re.compile(r"[`:]{3,}\{admonition\} Solution\s*\n\s*:class: dropdown\b")
    unsolved = [i + 1 for i, item in enumerate(items) if not solution.search(item)]
    assert not unsolved, (
        f"{page.name}: exercises {unsolved} have no '{{admonition}} Solution' with "
        "':class: dropdown' (indented under the item)"
    )


def public_modules() -> list[str]:
    names = ["nnscratch"]
    for info in pkgutil.walk_packages(nnscratch.__path__, "nnscratch."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def documented_modules() -> set[str]:
    """The modules the API reference documents (its '.. automodule::' blocks)."""
    documented = set()
    for page in (ROOT / "book" / "api").glob("*.md"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), flags=re.M))
    return documented


def test_every_module_is_in_the_api_reference():
    documented = documented_modules()
    missing = sorted(set(public_modules()) - documented)
    assert not missing, (
        f"modules missing from the API reference: {missing}; add an "
        "'.. automodule:: <name>' block (with ':members:') to a page in book/api/"
    )
    unknown = sorted(m for m in documented if importlib.util.find_spec(m) is None)
    assert not unknown, f"book/api/ documents modules that do not exist: {unknown}"


def test_every_top_level_module_is_reachable_as_an_attribute_of_the_package():
    """``import nnscratch; nnscratch.detection`` works for every public module: the package
    imports its submodules on first use, from a list that must not fall behind the files."""
    import subprocess
    import sys

    top = sorted({m.split(".")[1] for m in public_modules() if m.count(".") >= 1})
    assert len(top) > 15, top
    # a fresh interpreter: here the test suite has already imported most submodules
    code = "import nnscratch\n" + "".join(f"nnscratch.{m}\n" for m in top)
    code += f"assert set({top!r}) <= set(dir(nnscratch))\n"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.stem)
def test_values_quoted_from_another_page_carry_a_format(page):
    """myst-nb splits ``page.md::key`` at its last colon, so without a format (``:d``, ``:.1f``)
    it looks up the key ``page.md:`` and the build fails, but only after every chapter ran."""
    bare = re.findall(r"\{glue(?::\w+)?\}`([^`]+\.(?:md|ipynb)::[^`:]+)`", page.read_text())
    assert not bare, f"{page.name}: add a format to {bare}, e.g. ':d' or ':.2f'"


def test_qualified_references_in_docstrings_name_documented_objects():
    # Sphinx runs nitpicky (-n -W): a :func:`nnscratch._files.write_atomically` in a docstring
    # is a broken link that fails the whole build, 10 minutes in. Every fully qualified
    # reference must name an object that exists, in a module the API reference documents
    # (so never in a private one); short names are resolved by Sphinx within their module.
    documented = documented_modules()
    role = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj):`~?(nnscratch[\w.]*)`")
    source = Path(nnscratch.__file__).parent
    bad = []
    for path in sorted(source.rglob("*.py")):
        for target in role.findall(path.read_text()):
            parts = target.split(".")
            found = None
            for cut in range(len(parts), 0, -1):  # the longest importable module prefix
                module_name = ".".join(parts[:cut])
                try:
                    if importlib.util.find_spec(module_name) is None:
                        continue
                except ModuleNotFoundError:  # a prefix that is a module, not a package
                    continue
                obj = importlib.import_module(module_name)
                for attr in parts[cut:]:
                    obj = getattr(obj, attr, None)
                found = (module_name, obj)
                break
            if found is None or found[1] is None:
                bad.append(f"{path.relative_to(source)}: {target} does not exist")
            elif found[0] not in documented:
                bad.append(f"{path.relative_to(source)}: {target} is in {found[0]}, "
                           "which the API reference does not document")
    assert not bad, "cross-references Sphinx cannot resolve:\n" + "\n".join(bad)


def test_docstrings_hold_no_control_characters():
    # A single backslash in a non-raw docstring is an escape: ":math:`\beta`" holds a
    # backspace, which MathJax cannot read and which stops pdflatex with "invalid character".
    bad = []
    for name in public_modules():
        module = importlib.import_module(name)
        objects = [module] + [obj for _, obj in vars(module).items()
                              if getattr(obj, "__module__", None) == name]
        objects += [member for obj in objects if isinstance(obj, type)
                    for member in vars(obj).values() if callable(member) or isinstance(member, property)]
        for obj in objects:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str) and re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", doc):
                bad.append(f"{name}: {getattr(obj, '__qualname__', getattr(obj, '__name__', obj))}")
    assert not bad, f"docstrings with control characters (write \\\\ or use r-strings): {bad}"


def test_api_pages_are_in_the_toc():
    import toc

    pages = toc.pages(ROOT)
    for page in (ROOT / "book" / "api").glob("*.md"):
        assert f"book/api/{page.stem}" in pages, f"{page.name} is not in _toc.yml"


REQUIRED_WORKS = {
    "rosenblatt1958perceptron", "rumelhart1986learning", "lecun1998gradient",
    "glorot2010understanding", "he2015delving", "kingma2015adam", "loshchilov2019decoupled",
    "srivastava2014dropout", "ioffe2015batch", "goodfellow2016deep", "nielsen2015neural",
}


def bib_keys() -> set[str]:
    from pybtex.database import parse_file

    return set(parse_file(ROOT / "book" / "references.bib").entries.keys())


def test_bibliography_holds_the_works_the_book_rests_on():
    keys = bib_keys()
    assert REQUIRED_WORKS <= keys, f"missing from references.bib: {REQUIRED_WORKS - keys}"


def test_every_citation_is_in_the_bibliography():
    keys = bib_keys()
    cited = {}
    for page in (ROOT / "book").rglob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text()):
            for key in group.split(","):
                cited.setdefault(key.strip(), page.name)
    unknown = {k: p for k, p in cited.items() if k not in keys}
    assert not unknown, f"cited but not in book/references.bib: {unknown}"
    assert cited, "no page cites anything"


def test_no_directive_argument_holds_a_backtick():
    # CommonMark: the info string of a backtick fence may not contain a backtick, so
    # ```{table} One `step` ...  is no fence at all, and its closing ``` opens a code block
    # that swallows the page's next paragraphs (the build does not warn).
    bad = [
        f"{page.relative_to(ROOT)}:{i}"
        for page in (ROOT / "book").rglob("*.md")
        for i, line in enumerate(page.read_text().splitlines(), 1)
        if re.match(r"\s*```+\{[\w:-]+\}.*`", line)
    ]
    assert not bad, f"a backtick in a directive's argument: {bad}"


def load_book_extension():
    """tools/book_extension.py, loaded from its file (it is not an installed module)."""
    spec = importlib.util.spec_from_file_location("book_extension", ROOT / "tools" / "book_extension.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_see_also_book_lines_become_links():
    book_see_also = load_book_extension().book_see_also
    app = SimpleNamespace(srcdir=str(ROOT), env=SimpleNamespace(
        found_docs={"book/index", "book/01_neuron_practice", "book/01_neuron_theory",
                    "book/09_sequences_theory", "book/09_sequences_practice"}
    ))
    lines = [
        "Summary.", "", "See Also", "--------", "sigmoid_prime : its derivative",
        'Book, Step 1 "Neuron", Step 8 "Sequences" and Step 4 "Optimization"',
        "derive it.", "", "Notes", "-----", "Maths.",
    ]
    book_see_also(app, "function", "f", None, {}, lines)
    text = "\n".join(lines)
    assert ":doc:`Step 1 </book/01_neuron_theory>`" in text  # theory page first
    # steps are numbered by their place in _toc.yml, not by file name
    assert ":doc:`Step 8 </book/09_sequences_theory>`" in text
    assert "Step 4" in text and "Step 4 <" not in text  # no page yet: plain text, no link
    assert "See Also\n--------\nsigmoid_prime : its derivative" in text  # real entries stay
    assert "Book," not in text and lines[-3:] == ["Notes", "-----", "Maths."]
    # the note precedes every section: after Raises, napoleon would read it as an exception
    assert text.index("admonition:: Derived in the book") < text.index("See Also")
    raises = ["Summary.", "", "Raises", "------", "ValueError", "    When.", "",
              "See Also", "--------", 'Book, Step 1 "Neuron".']
    book_see_also(app, "function", "f", None, {}, raises)
    assert raises[2].endswith("admonition:: Derived in the book")
    assert raises[-5:] == ["Raises", "------", "ValueError", "    When.", ""]


def test_pages_workflow_builds_with_the_readme_commands():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    runs = [s.get("run", "") for s in workflow["jobs"]["build"]["steps"]]
    for name in ("install", "build"):
        command = readme_command(name)  # as CI reads it
        assert command in runs, f"the Pages workflow must run README.md's {name} command"
    uses = {s.get("uses", "").split("@")[0] for job in workflow["jobs"].values() for s in job["steps"]}
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= uses


def test_module_constant_comment_stays_prose():
    keep = load_book_extension().keep_attribute_prose
    lines = ["Widths of the MLP: 784 pixels in, 10 logits out."]
    keep(None, "data", "m.SIZES", None, {}, lines)             # before napoleon: saved
    lines[:] = ["784 pixels in, 10 logits out.", "", ":type: Widths of the MLP"]  # napoleon
    keep(None, "data", "m.SIZES", None, {}, lines)             # after napoleon: restored
    assert lines == ["Widths of the MLP: 784 pixels in, 10 logits out."]
    other = ["A plain sentence."]
    keep(None, "data", "m.OTHER", None, {}, other)
    assert other == ["A plain sentence."]


LITERALINCLUDE = re.compile(r"^```\{literalinclude\} (\S+)\n((?::[\w-]+:.*\n)*)```", re.M)


def _included_lines(page: Path, target: str, options: dict) -> tuple[list[str], list[str]]:
    """(lines of the :pyobject:, lines the reader sees after :lines:)."""
    import ast

    source = (page.parent / target).resolve().read_text()
    node = ast.parse(source)
    for name in options["pyobject"].split("."):
        node = next(n for n in ast.walk(node)
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name)
    lines = source.splitlines()[node.lineno - 1:node.end_lineno]
    if "lines" not in options:
        return lines, lines
    shown = []
    for part in options["lines"].split(","):
        first, _, last = part.strip().partition("-")
        stop = (int(last) if last else len(lines)) if "-" in part else int(first)
        shown += lines[int(first) - 1:stop]
    return lines, shown


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.stem)
def test_included_code_fits_the_text_column(page):
    """The column holds 77 characters of code at 1280 px (tools/format_cells.py); Black keeps
    the package's code at 76 but cannot shorten a comment or a string, and a longer line
    that a page shows makes the reader scroll (check_html finds it too, but only after a
    whole build)."""
    for target, opts in LITERALINCLUDE.findall(page.read_text()):
        options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", opts, flags=re.M))
        if "pyobject" not in options:
            continue
        _, shown = _included_lines(page, target, options)
        long = [line for line in shown if len(line) > 77]
        assert not long, (f"{page.name}: {options['pyobject']} shows lines longer than 77 "
                          f"characters: {[line.strip()[:50] for line in long]}")


def test_the_package_is_formatted_as_its_pyproject_says():
    """Black at the line length of code/pyproject.toml, which the chapters' column needs."""
    black = pytest.importorskip("black")
    import tomllib

    config = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["tool"]["black"]
    mode = black.Mode(line_length=config["line-length"])
    unformatted = []
    for path in sorted((ROOT / "code" / "src" / "nnscratch").rglob("*.py")):
        try:
            black.format_file_contents(path.read_text(), fast=True, mode=mode)
        except black.NothingChanged:
            continue
        unformatted.append(str(path.relative_to(ROOT)))
    assert not unformatted, f"run black in code/: {unformatted}"


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.stem)
def test_included_code_shows_no_raw_docstring_maths(page):
    """A literalinclude shows code, not reST maths with doubled backslashes (``:math:`\\\\sigma```
    reads as noise on the page). Such objects are included with ``:lines:`` that skip exactly
    their docstring; if the docstring grows or shrinks, this fails instead of showing half of it.
    """
    for target, opts in LITERALINCLUDE.findall(page.read_text()):
        options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", opts, flags=re.M))
        if "pyobject" not in options:
            continue
        lines, shown = _included_lines(page, target, options)
        assert not any(":math:" in line for line in shown), (
            f"{page.name}: {options['pyobject']} is shown with its docstring's reST maths; "
            f"skip the docstring with :lines:")
        if "lines" in options:
            hidden = [line for line in lines if line not in shown]
            assert '"""' in hidden[0] and hidden[-1].strip().endswith('"""'), (
                f"{page.name}: the :lines: of {options['pyobject']} no longer skip exactly "
                f"its docstring (hidden: {hidden[0].strip()!r} ... {hidden[-1].strip()!r})")
            assert not any('"""' in line for line in shown)


def test_every_titled_step_reference_in_the_code_names_that_steps_title():
    """`Step N "Title"` in the package, tools and benchmarks: chapter N of _toc.yml has that title.

    File names do not give step numbers (book/09_sequences is Step 8), so a reference written
    from a file name is caught here. A title may add " — theory" or "(practice)".
    """
    import toc

    titles = [
        next(line[2:].strip() for line in (ROOT / f"{doc}.md").open() if line.startswith("# "))
        for doc in toc.numbered_chapters()
    ]
    sources = [*(ROOT / "code" / "src" / "nnscratch").rglob("*.py"),
               *(ROOT / "tools").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    wrong, seen = [], 0
    for path in sources:
        for match in re.finditer(r'\bStep (\d+),? "([^"]+)"', path.read_text()):
            seen += 1
            step, title = int(match[1]), re.split(r" — |\s*\(", match[2])[0]
            if step >= len(titles) or not titles[step].startswith(title):
                found = titles[step] if step < len(titles) else "no such step"
                wrong.append(f"{path.relative_to(ROOT)}: Step {step} {title!r} (toc: {found!r})")
    assert seen > 20, "the pattern no longer finds the references"
    assert not wrong, "\n".join(wrong)


def test_the_dcgan_solution_shows_the_code_its_cell_runs():
    # Step 12's Exercise 4: the solution's networks are the ones the collapsed cell trains
    # and measures, so the numbers it quotes belong to the code it shows.
    text = (ROOT / "book" / "13_gans_practice.md").read_text(encoding="utf-8")
    shown = re.search(r"^   ```python\n(   f32 = dict\(.*?)^   ```$", text, flags=re.S | re.M)
    assert shown, "the DCGAN solution's code block was not found"
    code = "\n".join(line[3:] for line in shown[1].splitlines())
    assert "ConvTranspose2D" in code and "Conv2D(32, 64" in code
    cells = re.findall(r"^```\{code-cell\}.*?\n(.*?)^```$", text[: shown.start()], flags=re.S | re.M)
    assert any(code in cell for cell in cells), "no code cell runs the code the solution shows"


def _silent_checks(source: str) -> list[str]:
    """The checks.* calls of a code cell whose verified formula the reader would not see.

    Jupyter displays only a cell's last expression; any other bare ``checks.equal(...)``,
    ``checks.derivative(...)`` or ``checks.numeric(...)``, in a loop too, shows nothing unless
    it is passed to ``display``.
    """
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body else None
    return [f"line {node.lineno}: {ast.unparse(node.value.func)}(...)"
            for node in ast.walk(tree)
            if node is not last and isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func).startswith("checks.")]


def test_silent_checks_are_found():
    cell = "checks.equal(a, b, 'one')\nfor k in ks:\n    checks.numeric(k)\nchecks.derivative(c, x, d, 'two')\n"
    assert _silent_checks(cell) == ["line 1: checks.equal(...)", "line 3: checks.numeric(...)"]
    shown = "display(checks.equal(a, b, 'one'))\nchecks.derivative(c, x, d, 'two')\n"
    assert _silent_checks(shown) == []


@pytest.mark.parametrize("page", chapters(), ids=lambda p: p.stem)
def test_every_check_shows_its_formula_where_it_runs(page):
    from run_chapter import code_cells  # tools/: numbered as the script's cells are

    silent = [f"cell{i}, {call}" for i, source in enumerate(code_cells(page), 1)
              for call in _silent_checks(source)]
    assert not silent, (f"{page.name}: checks whose result the reader does not see (pass them to "
                        f"display()): {silent}")

"""The pure checks of tools/check_html.py, on examples of what they must catch and pass.

The browser check itself runs in CI on the built book (`.ci/run`); these run in milliseconds.
"""

import check_html
import pytest

BOOK = "Deep Learning from First Principles"


def test_book_title_is_read_from_the_config():
    assert check_html.book_title() == BOOK


@pytest.mark.parametrize("titles, landing", [
    ([BOOK], True),
    ([f"Step 1 — Neuron and activation: theory — {BOOK}"], False),
    ([f"Search - {BOOK}"], False),
])
def test_titles_that_name_the_book_once_pass(titles, landing):
    assert check_html.title_problems(titles, BOOK, landing) == []


@pytest.mark.parametrize("titles, landing, words", [
    ([f"{BOOK} — {BOOK}"], True, "landing page"),      # the defect this check was made for
    ([f"{BOOK} — {BOOK}"], False, "once"),
    (["Search - Search"], False, "once"),
    ([BOOK], False, "once"),                           # a page that lost its own title
    ([], False, "0 <title>"),
    ([BOOK, BOOK], True, "2 <title>"),
])
def test_titles_that_repeat_or_miss_the_book_fail(titles, landing, words):
    problems = check_html.title_problems(titles, BOOK, landing)
    assert len(problems) == 1 and words in problems[0]


def test_machine_paths_are_found():
    text = ("Loaded 60000 images from /work/shared/data/mnist/train.gz.\n"
            'File "/home/runner/work/book/book/code/src/nnscratch/train.py", line 3\n'
            "saved to /tmp/tmpab12/out.npz and C:\\Users\\me\\mnist")
    assert check_html.machine_paths(text) == [
        "/work/shared/data/mnist/train.gz.", "/home/runner/work/book/book/code/src/nnscratch/train.py",
        "/tmp/tmpab12/out.npz", "C:\\Users\\me\\mnist",
    ]
    assert check_html.machine_paths("the repo at /srv/ci/book ran", also=("/srv/ci/book",)) == ["/srv/ci/book"]


@pytest.mark.parametrize("text", [
    "See https://example.org/home/index.html and ./work/notes.md",   # not absolute paths
    "the ratio 3/4 of the /usr/bin/chromium browser",                  # a system path, not the build's
    "~/tmp/data and NNSCRATCH_MNIST_DIR=/path/to/mnist",
])
def test_text_without_machine_paths_passes(text):
    assert check_html.machine_paths(text) == []


@pytest.mark.parametrize("signature", [
    "class nnscratch.layers.dense.Dense(n_in: int, n_out: int, *, rng: numpy.random.Generator, "
    "dtype=np.float64, init: str | float = 'he')",
    "nnscratch.metrics.accuracy(y_hat: ndarray, y: ndarray) → float",
])
def test_clean_signatures_pass(signature):
    assert check_html.signature_problems(signature) == []


@pytest.mark.parametrize("signature, words", [
    ("Dense(n_in: int, dtype=<class 'numpy.float64'>)", "repr"),
    ("Dense(n_in: int, *, rng: numpy.random._generator.Generator)", "private module path"),
    ("Dense(n_in: int, *, rng: ~numpy.random.Generator)", "'~'"),
])
def test_signatures_with_repr_private_paths_or_tildes_fail(signature, words):
    problems = check_html.signature_problems(signature)
    assert len(problems) == 1 and words in problems[0]


@pytest.mark.parametrize("counts, words", [
    ({"snippets": 0, "formulas": 0, "raw": []}, "show no snippet"),
    ({"snippets": 5, "formulas": 0, "raw": []}, "no maths typeset"),
    ({"snippets": 5, "formulas": 3, "raw": ["\\frac{a}{b}"]}, "raw TeX in a search snippet"),
])
def test_search_results_without_snippets_or_typeset_maths_fail(counts, words):
    problems = check_html.search_problems("gradient", counts, [])
    assert len(problems) == 1 and words in problems[0]


def test_search_results_with_typeset_maths_pass_and_console_errors_fail():
    counts = {"snippets": 5, "formulas": 3, "raw": []}
    assert check_html.search_problems("gradient", counts, []) == []
    assert check_html.search_problems("gradient", counts, ["boom"]) == ["console error: boom"]


def test_the_formulas_that_scroll_on_a_phone_are_named_in_the_pages_account():
    assert check_html.scrolling_account([]) == ""
    assert check_html.scrolling_account(['"a=b": 519 px in 358 px']) == (
        '; at phone width 1 displayed formula scrolls: "a=b": 519 px in 358 px')
    assert check_html.scrolling_account(["x", "y"]) == (
        "; at phone width 2 displayed formulas scroll: x; y")


def test_a_chapter_without_its_notebook_source_is_a_problem_not_a_pass(tmp_path):
    """check_downloads compares a chapter's downloads with its source: a chapter whose source
    is missing (or not recognised as a notebook) must not pass unchecked."""
    from types import SimpleNamespace

    server = SimpleNamespace(root=tmp_path)
    chapter = tmp_path / "book" / "01_neuron_theory.html"
    problems = check_html.check_downloads(chapter, server, {"downloads": []})
    assert problems == ["no notebook source _sources/book/01_neuron_theory.md beside the chapter: "
                        "cannot check its downloads"]
    assert check_html.check_downloads(tmp_path / "book" / "notation.html", server, {"downloads": []}) == []
    # a source whose front matter starts with its kernelspec is a notebook too, as for the build
    source = tmp_path / "_sources" / "book" / "01_neuron_theory.md"
    source.parent.mkdir(parents=True)
    source.write_text("---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n"
                      "jupytext:\n  text_representation: {}\n---\n"
                      "# T\n\n```{code-cell} ipython3\nx = 1\n```\n")
    assert check_html.notebook_source(tmp_path, chapter) == source
    assert check_html.check_downloads(chapter, server, {"downloads": []}) == [
        "no .ipynb download link", "no .py download link"]

"""The build: parallel, cached by what each chapter depends on, never stale, timed and budgeted.

The slow tests build a two-chapter book in a temporary folder with the real extension
(tools/book_execution.py) and the real `jupyter-book build -W -n --keep-going`, and change
one thing at a time: a file of the "package" the chapters import, nothing, a chapter's cell.
The fast tests check the pieces (fingerprints, front matter, the table of contents reader).
"""

import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import book_execution
import nnscratch.data
import pytest
import toc
from _book import ROOT
from execution_rule import THREAD_VARIABLES, THREADS_PER_CHAPTER, chapter_env, parallel_jobs

JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"

NOTEBOOK_HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
{extra}---
"""


def chapter(name: str, body: str, extra: str = "") -> str:
    return NOTEBOOK_HEADER.format(extra=extra) + f"# {name}\n\n" + textwrap.dedent(body)


def make_book(root: Path, answer: int = 41) -> Path:
    """A book of two chapters; `one` glues `answer.VALUE` from the package folder `pkg`."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "answer.py").write_text(f"VALUE = {answer}\n")
    (root / "_config.yml").write_text(textwrap.dedent(f"""\
        title: Mini
        only_build_toc_files: true
        exclude_patterns: [".*", "_build", "pkg"]
        execute:
          execute_notebooks: cache
          timeout: 120
        sphinx:
          local_extensions:
            book_execution: {ROOT / "tools"}
          config:
            nnbook_dependencies: [pkg]
            nnbook_report_page: build
    """))
    (root / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: index
        chapters:
          - file: one
          - file: two
          - file: build
    """))
    (root / "index.md").write_text("# Mini\n\nA book of two chapters.\n")
    (root / "one.md").write_text(chapter("One", """
        ```{code-cell} ipython3
        import os
        from myst_nb import glue
        import answer
        glue("value", answer.VALUE, display=False)
        glue("threads", os.environ.get("OPENBLAS_NUM_THREADS"), display=False)
        ```

        The answer is {glue:text}`value`; BLAS threads: {glue:text}`threads`.
    """))
    (root / "notes.txt").write_text("first\n")
    (root / "two.md").write_text(chapter("Two", """
        ```{code-cell} ipython3
        print("two", 6 * 7, open("notes.txt").read().strip())
        ```
    """, extra="nnbook:\n  depends: [notes.txt]\n"))
    (root / "build.md").write_text("# Build\n\nTotal: {build}`total_seconds` s.\n\n```{build-record}\n```\n")
    return root


def build(root: Path) -> tuple[int, str]:
    """`jupyter-book build -W -n --keep-going` of the book at root: (exit status, log)."""
    env = {**os.environ, "PYTHONPATH": str(root / "pkg")}
    proc = subprocess.run([str(JUPYTER_BOOK), "build", "-W", "-n", "--keep-going", str(root)],
                          env=env, capture_output=True, text=True, timeout=600)
    log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    return proc.returncode, log


def html(root: Path, page: str) -> str:
    """A built page's text, tags removed."""
    return re.sub(r"<[^>]+>", "", (root / "_build" / "html" / f"{page}.html").read_text())


def executed(log: str) -> int:
    """How many chapters the build executed, from its own log line."""
    match = re.search(r"nnbook: \d+ chapters to read, (\d+) to execute", log)
    return int(match.group(1)) if match else 0


@pytest.mark.slow
def test_rebuilds_execute_exactly_what_changed(tmp_path):
    root = make_book(tmp_path / "book")

    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 2
    assert "The answer is 41" in html(root, "one")
    assert f"BLAS threads: {THREADS_PER_CHAPTER}" in html(root, "one")
    assert "this build executed 2 chapters" in log
    assert re.search(r"one\s+\d+\.\d+\s+240\s+executed", log), log  # the table of times

    # Nothing changed: nothing is executed, nothing is even read again.
    status, log = build(root)
    assert status == 0, log
    assert "this build executed no chapter" in log
    assert "0 added, 0 changed, 0 removed" in log

    # A change in the package the chapters import: both execute again, the new number shows.
    (root / "pkg" / "answer.py").write_text("VALUE = 42\n")
    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 2
    assert "The answer is 42" in html(root, "one")

    # A change to one chapter's source executes that chapter alone.
    text = (root / "two.md").read_text()
    (root / "two.md").write_text(text.replace("6 * 7", "6 * 9"))
    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 1
    assert "two 54" in html(root, "two") and "The answer is 42" in html(root, "one")

    # A change to a file that a chapter declares it reads (nnbook: depends:) executes it.
    (root / "notes.txt").write_text("second\n")
    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 1
    assert "two 54 second" in html(root, "two")

    # The record page shows both chapters with their times and budget, built by the extension
    # (in its table: the sidebar names every chapter on every page).
    record = (root / "_build" / "html" / "build.html").read_text()
    table = re.sub(r"<[^>]+>", "", record[record.index("<table"):record.index("</table>")])
    for name in ("One", "Two"):
        assert re.search(rf"\b{name}\s+\d+\.\d+\s+240\b", table), table


@pytest.mark.slow
def test_a_value_quoted_from_another_page_follows_that_page(tmp_path):
    """myst-nb fills in `one.md::value` when it writes `two`; `two` must be written again when
    `one` changes, though its own source did not (and it need not execute)."""
    root = make_book(tmp_path / "book")
    (root / "two.md").write_text(chapter("Two", """
        ```{code-cell} ipython3
        print("two", 6 * 7)
        ```

        Two quotes one: {glue:text}`one.md::value:d`.
    """))
    status, log = build(root)
    assert status == 0, log
    assert "Two quotes one: 41" in html(root, "two")

    text = (root / "one.md").read_text()
    (root / "one.md").write_text(text.replace("answer.VALUE,", "answer.VALUE + 1,"))
    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 1  # one alone: two is read and written again, not executed
    assert "The answer is 42" in html(root, "one")
    assert "Two quotes one: 42" in html(root, "two")


@pytest.mark.slow
def test_data_a_chapter_downloads_does_not_make_the_next_build_execute_it(tmp_path, monkeypatch):
    # A fresh clone has no data yet: the chapter downloads it while it runs. The record must
    # keep the data's fingerprint after the run, or the rebuild executes the chapter again.
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("NNSCRATCH_DATA", str(data))
    root = make_book(tmp_path / "book")
    (root / "one.md").write_text(chapter("One", """
        ```{code-cell} ipython3
        import os
        from pathlib import Path
        folder = Path(os.environ["NNSCRATCH_DATA"]) / "tinyshakespeare"
        folder.mkdir(exist_ok=True)
        (folder / "input.txt").write_text("First Citizen:\\n")  # as a download would
        ```
    """, extra="nnbook:\n  data: [tinyshakespeare]\n"))
    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 2 and (data / "tinyshakespeare" / "input.txt").exists()
    status, log = build(root)
    assert status == 0, log
    assert "this build executed no chapter" in log, log

    # The data changing afterwards does execute the chapter that declares it, and only it.
    (data / "tinyshakespeare" / "extra.txt").write_text("more")
    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 1, log


@pytest.mark.slow
def test_a_failing_cell_fails_the_build_with_its_traceback(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "two.md").write_text(chapter("Two", """
        ```{code-cell} ipython3
        def broken():
            return 1 / 0
        broken()
        ```
    """))
    status, log = build(root)
    assert status != 0
    assert "two FAILED" in log and "ZeroDivisionError" in log and "broken()" in log
    # The chapter that works was still executed and cached; the failing one was not recorded.
    record = json.loads((root / "_build" / ".jupyter_cache" / book_execution.RECORD_NAME).read_text())
    assert "one" in record["pages"] and "two" not in record["pages"]
    # Fixed: only the failing chapter executes.
    (root / "two.md").write_text(chapter("Two", "```{code-cell} ipython3\nprint('fixed')\n```\n"))
    status, log = build(root)
    assert status == 0, log
    assert executed(log) == 1


@pytest.mark.slow
def test_a_page_over_its_budget_fails_the_build_naming_it(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "two.md").write_text(chapter("Two", """
        ```{code-cell} ipython3
        import time
        time.sleep(0.5)
        ```
    """, extra="nnbook:\n  budget: 0.1\n  budget_reason: a test of the budget check\n"))
    status, log = build(root)
    assert status != 0
    assert re.search(r"two executed in \d+\.\d s, over its budget of 0 s", log), log
    # The budget holds for cached pages too: a rebuild with nothing to execute still fails.
    status, log = build(root)
    assert status != 0 and "over its budget" in log and "this build executed no chapter" in log


@pytest.mark.slow
def test_the_record_lists_a_larger_budget_and_its_reason_after_the_table(tmp_path):
    root = make_book(tmp_path / "book")
    reason = "trains two models for the same steps, since comparing them is the point"
    (root / "two.md").write_text(chapter("Two", """
        ```{code-cell} ipython3
        print("two")
        ```
    """, extra=f"nnbook:\n  budget: 300\n  budget_reason: {reason}\n"))
    status, log = build(root)
    assert status == 0, log
    record = (root / "_build" / "html" / "build.html").read_text()
    table = re.sub(r"<[^>]+>", "", record[record.index("<table"):record.index("</table>")])
    assert "300 *" in table and reason not in table       # marked in the table, not explained
    after = re.sub(r"<[^>]+>", "", record[record.index("</table>"):])
    assert "Budgets larger than the default" in after and f"300 s: {reason}" in after
    assert "Two" in after[:after.index(reason)]            # the reason names its page


@pytest.mark.slow
def test_a_glued_nan_fails_the_build_naming_it(tmp_path):
    """A NaN result would show as "nan" in the text: the chapter fails like a failing cell,
    and so does the chapter run as a script."""
    root = make_book(tmp_path / "book")
    body = """
        ```{code-cell} ipython3
        import numpy as np
        from myst_nb import glue
        glue("fine", 0.5, display=False)
        glue("mean_of_nothing", np.float32(np.nan), display=False)
        ```

        Fine: {glue:text}`fine`; the mean: {glue:text}`mean_of_nothing`.
    """
    (root / "two.md").write_text(chapter("Two", body))
    status, log = build(root)
    assert status != 0
    assert "two FAILED" in log and "glued values that are not finite numbers" in log, log
    assert "mean_of_nothing = np.float32(nan)" in log and "fine =" not in log
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_chapter.py"), str(root / "two.md"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "glue: mean_of_nothing = np.float32(nan) is not a finite number" in proc.stderr


# ---------------------------------------------------------------------------------------
# The pieces
# ---------------------------------------------------------------------------------------


def _glued(name: str, text: str) -> dict:
    """One output as myst-nb's glue stores it in an executed notebook."""
    prefix = "application/papermill.record/"
    return {"output_type": "display_data", "data": {prefix + "text/plain": text},
            "metadata": {"scrapbook": {"mime_prefix": prefix, "name": name}}}


def test_quoted_pages_are_found_in_the_books_own_pages():
    """The reflection quotes most chapters; every name the pattern finds is a page's file."""
    text = (ROOT / "book" / "08_reflection.md").read_text()
    names = set(book_execution.QUOTED_PAGE.findall(text))
    assert len(names) >= 10, names
    assert all((ROOT / "book" / name).is_file() for name in names), names
    assert book_execution.QUOTED_PAGE.findall("{glue}`a.md::k` {glue:md}`b.ipynb::k:.1f`") == [
        "a.md", "b.ipynb"]


def test_nonfinite_glued_values_are_found_by_name():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    values = {"a": "0.25", "b": "nan", "c": "-inf", "d": "np.float64(nan)", "e": "np.float32(inf)",
              "f": "'nan'", "g": "array([nan])", "h": "1e308", "i": "'infinite'", "j": "zoo", "k": "-oo",
              "l": "array(nan)", "m": "(nan+0j)", "n": "np.longdouble('nan')", "o": "array(1.0)",
              "p": "(1+2j)", "q": "np.float64(0.5)"}
    cell.outputs = [_glued(k, v) for k, v in values.items()]
    cell.outputs.append({"output_type": "stream", "name": "stdout", "text": "nan\n"})  # not glue
    nb.cells.append(cell)
    assert book_execution.nonfinite_glue(nb) == [
        "b = nan", "c = -inf", "d = np.float64(nan)", "e = np.float32(inf)", "j = zoo", "k = -oo",
        "l = array(nan)", "m = (nan+0j)", "n = np.longdouble('nan')"]


def test_only_a_kernel_that_died_at_start_through_no_fault_of_its_own_is_started_again():
    transient = book_execution.kernel_start_failed_transiently
    died = "RuntimeError: Kernel died before replying to kernel_info"
    port = "zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:48943')"
    assert transient(died, "...\n" + port)  # lost its port to a kernel started with it
    assert transient(died, "") and transient(died, " \n")  # died without a word
    assert not transient(died, "MemoryError")  # a real failure, said in its log
    assert not transient("ZeroDivisionError: division by zero", port)
    assert not transient("ZeroDivisionError: division by zero", "")  # a cell's error
    assert not transient(None, port)  # it ran
    assert book_execution.KERNEL_START_RETRIES >= 1


def test_toc_expands_globs_and_lists_every_page():
    pages = toc.pages(ROOT)
    assert pages[0] == "book/index"
    api = [p for p in pages if p.startswith("book/api/")]
    assert "book/api/index" in api and len(api) == len(list((ROOT / "book" / "api").glob("*.md")))
    assert len(pages) == len(set(pages))
    assert set(toc.notebooks(ROOT)) < set(pages)
    assert "book/build" in pages and "book/build" not in toc.notebooks(ROOT)


def test_toc_names_entries_without_a_source_file(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: gone\n  - glob: api/*\n")
    (tmp_path / "index.md").write_text("# Home\n")
    with pytest.raises(FileNotFoundError, match=r"file: gone.*glob: api/\*"):
        toc.pages(tmp_path)


def test_toc_check_of_a_built_book(tmp_path, capsys):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - glob: api/*\n")
    (tmp_path / "index.md").write_text("# Home\n")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "a.md").write_text("# A\n")
    html_dir = tmp_path / "html"
    (html_dir / "api").mkdir(parents=True)
    (html_dir / "index.html").write_text("")
    assert toc.main(["--root", str(tmp_path), "--built", str(html_dir)]) == 1
    assert "api/a" in capsys.readouterr().err
    (html_dir / "api" / "a.html").write_text("")
    assert toc.main(["--root", str(tmp_path), "--built", str(html_dir)]) == 0


def test_the_execution_rule_is_one_thread_per_chapter_one_chapter_per_core(monkeypatch):
    monkeypatch.delenv("NNBOOK_JOBS", raising=False)
    env = chapter_env({"PATH": "/bin", "OPENBLAS_NUM_THREADS": "8"})
    assert env["PATH"] == "/bin"
    assert all(env[name] == str(THREADS_PER_CHAPTER) for name in THREAD_VARIABLES)
    assert parallel_jobs(15, cores=2) == 2 and parallel_jobs(1, cores=2) == 1
    assert parallel_jobs(0, cores=4) == 1


def test_the_number_of_parallel_chapters_can_be_chosen(monkeypatch):
    monkeypatch.setenv("NNBOOK_JOBS", "1")
    assert parallel_jobs(15, cores=2) == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("NNBOOK_JOBS", bad)
        with pytest.raises(ValueError, match=f"NNBOOK_JOBS must be a whole number.*{bad!r}"):
            parallel_jobs(15)


def test_no_page_sets_its_own_thread_limit():
    """The rule lives in one place: no chapter pins BLAS threads or times itself."""
    for page in ROOT.joinpath("book").glob("*.md"):
        text = page.read_text()
        assert "threadpool_limits" not in text, f"{page.name} sets its own BLAS thread limit"
        assert "page_start" not in text, f"{page.name} times itself; the build records every page's time"


def test_fingerprint_follows_content_not_timestamps(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("A = 1\n")
    (tmp_path / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"junk")
    first = book_execution.hash_paths(tmp_path, ["pkg", "requirements.txt"])
    os.utime(tmp_path / "pkg" / "a.py", (1, 1))                       # touched, same content
    (tmp_path / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"other")  # caches do not count
    assert book_execution.hash_paths(tmp_path, ["pkg", "requirements.txt"]) == first
    (tmp_path / "pkg" / "a.py").write_text("A = 2\n")
    assert book_execution.hash_paths(tmp_path, ["pkg", "requirements.txt"]) != first
    (tmp_path / "requirements.txt").write_text("numpy\n")               # appears: counts
    assert book_execution.hash_paths(tmp_path, ["pkg"]) != book_execution.hash_paths(tmp_path, ["pkg", "requirements.txt"])


@pytest.mark.parametrize("front, words", [
    ("nnbook: 3\n", "must be a mapping"),
    ("nnbook:\n  budgt: 3\n", "unknown keys"),
    ("nnbook:\n  data: mnist\n", "list of data set names"),
    ("nnbook:\n  budget: -1\n  budget_reason: x\n", "positive number of seconds"),
    ("nnbook:\n  budget: 300\n", "needs a 'budget_reason:'"),
    ("nnbook:\n  depends: tests\n", "list of paths from the book's root"),
    ("nnbook:\n  depends: [../tests]\n", "paths inside the book"),
    ("nnbook:\n  depends: [/etc]\n", "paths inside the book"),
])
def test_page_options_refuse_malformed_front_matter(tmp_path, front, words):
    page = tmp_path / "page.md"
    page.write_text(NOTEBOOK_HEADER.format(extra=front) + "# Page\n")
    with pytest.raises(ValueError, match=re.escape(words)) as info:
        book_execution.page_options(page)
    assert str(page) in str(info.value)


def test_pages_that_read_a_data_set_declare_it():
    """A chapter's outputs depend on its data: the build can only know it if the page says so."""
    # data set name -> the public functions of its module (every module built on data.store):
    # load_mnist, but also mnist_files, load_images, image_splits... A name that several
    # modules define (resolve_directory) says nothing about which data set a page reads.
    functions = {}
    for info in pkgutil.iter_modules(nnscratch.data.__path__):
        module = importlib.import_module(f"nnscratch.data.{info.name}")
        if hasattr(module, "SOURCE") and hasattr(module, "resolve_directory"):
            functions[info.name] = {n for n, f in vars(module).items() if inspect.isfunction(f)
                                    and f.__module__ == module.__name__ and not n.startswith("_")}
    assert {"mnist", "tinyshakespeare"} <= set(functions)
    shared = {n for name in functions for n in functions[name]
              if any(n in functions[other] for other in functions if other != name)}
    loaders = {name: sorted(fs - shared) for name, fs in functions.items()}
    assert {"load_mnist", "mnist_files", "load_images"} <= set(loaders["mnist"])
    for page in toc.notebooks(ROOT):
        path = toc.source(ROOT, page)
        # names of nnscratch.data modules (CONTRIBUTING.md); a folder name with a hyphen
        # ("fashion-mnist") names the same module
        declared = {n.replace("-", "_") for n in book_execution.page_options(path).data}
        text = path.read_text()
        used = {name for name, calls in loaders.items()
                if any(re.search(rf"\b{call}\(", text) for call in calls)}
        assert used <= declared, f"{page} reads {used - declared} without 'nnbook: data:' in its front matter"
        for name in declared:
            book_execution.data_fingerprint(name)  # the data module exists and can be located


def test_pages_that_read_the_repository_declare_what_they_read():
    """A page's outputs that count or read files outside the package (the reflection counts
    the tests) go stale unless its fingerprint covers them: it must declare them."""
    outside = {"tests", "benchmarks", "tools"}
    pages_reading = 0
    for page in toc.notebooks(ROOT):
        path = toc.source(ROOT, page)
        named = set(re.findall(r"""["'](\w+)["']""", path.read_text())) & outside
        declared = set(book_execution.page_options(path).depends)
        assert named <= declared, f"{page} reads {sorted(named - declared)} without 'nnbook: depends:'"
        pages_reading += bool(named)
    assert pages_reading >= 1  # the reflection counts the tests


def test_the_commit_is_marked_changed_by_any_file_git_would_see(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("_build/\n")
    (tmp_path / "a.py").write_text("A = 1\n")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    clean = book_execution.git_commit(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{10}", clean)
    (tmp_path / "_build").mkdir()
    (tmp_path / "_build" / "out.html").write_text("ignored")
    assert book_execution.git_commit(tmp_path) == clean
    (tmp_path / "b.py").write_text("B = 2\n")  # new, not yet committed: the inputs differ
    assert book_execution.git_commit(tmp_path) == clean + "+changes"
    (tmp_path / "b.py").unlink()
    (tmp_path / "a.py").write_text("A = 2\n")
    assert book_execution.git_commit(tmp_path) == clean + "+changes"
    assert book_execution.git_commit(tmp_path / "_build") == clean + "+changes"  # any folder of it
    assert book_execution.git_commit(tmp_path.parent / "elsewhere-missing") == "not a git checkout"


def test_record_is_written_atomically_and_read_defensively(tmp_path):
    path = tmp_path / "cache" / book_execution.RECORD_NAME
    assert book_execution.load_record(path) == {"pages": {}, "last_run": None}
    book_execution.save_record(path, {"pages": {"a": {"seconds": 1.0}}, "last_run": None})
    assert book_execution.load_record(path)["pages"]["a"]["seconds"] == 1.0
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    path.write_text("{ truncated")
    assert book_execution.load_record(path)["pages"] == {}  # unreadable: everything re-executes


def test_a_chapter_run_as_a_script_follows_the_same_rule(tmp_path):
    """tools/run_chapter.py gives the chapter one BLAS thread, as the build does."""
    page = tmp_path / "page.md"
    page.write_text(chapter("Page", """
        ```{code-cell} ipython3
        import os
        from myst_nb import glue
        glue("threads", os.environ["OPENBLAS_NUM_THREADS"])
        ```
    """))
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_chapter.py"), str(page), "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"glue: threads = '{THREADS_PER_CHAPTER}'" in proc.stdout


def test_a_chapter_run_as_a_script_fails_on_text_too_small_to_read(tmp_path):
    """A figure's 5 pt label fails the run, named with its cell and size; every cell still
    runs and every figure is still saved."""
    page = tmp_path / "page.md"
    page.write_text(chapter("Page", """
        ```{code-cell} ipython3
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.text(0.5, 0.5, "tiny label", fontsize=5)
        ax.set_title("a title at the default size")
        ```

        ```{code-cell} ipython3
        print("the next cell ran")
        ```
    """))
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_chapter.py"), str(page), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "fig-01-1.png (cell 1) has text smaller than 8 pt as a reader sees it: 'tiny label' at 5 pt" \
        in proc.stderr, proc.stderr
    assert "a title" not in proc.stderr
    assert "the next cell ran" in proc.stdout and (tmp_path / "page" / "fig-01-1.png").exists()


def _fake_app(root: Path, pages: dict[str, str]):
    """Just enough of a Sphinx app for the fingerprint functions: pages ``<name>.md`` in root."""
    from types import SimpleNamespace

    root = root.resolve()
    for name, text in pages.items():
        (root / f"{name}.md").write_text(text)

    def path2doc(path):
        path = Path(path)
        return path.stem if path.parent == root and path.exists() else None

    env = SimpleNamespace(doc2path=lambda d: str(root / f"{d}.md"), path2doc=path2doc,
                          docname=None, nnbook_read={})
    return SimpleNamespace(srcdir=str(root), env=env, config=SimpleNamespace(nnbook_dependencies=[]),
                           nnbook_state=book_execution.BuildState(root / "record.json", {"pages": {}}, "c0ffee"))


def test_a_page_quoting_a_chapter_that_failed_is_read_again_next_time(tmp_path):
    """A failed chapter is not read, so a page quoting it shows its older values: no read key
    is stored for that page, and the next build reads it again once the chapter has run."""
    app = _fake_app(tmp_path, {"a": "# A\n\nquotes {glue:text}`b.md::k`\n", "b": "# B\n"})
    for doc in ("a", "b"):
        book_execution.fingerprint(app, doc)
    app.nnbook_state.failed.append("b")
    app.env.docname = "a"
    book_execution.remember_fingerprint(app, None)
    assert "a" not in app.env.nnbook_read
    app.nnbook_state.failed.clear()
    book_execution.remember_fingerprint(app, None)
    assert app.env.nnbook_read["a"] == book_execution.read_key(app, "a")


def test_the_fingerprint_recorded_after_a_run_keeps_the_source_read_before_it(tmp_path):
    """A page edited while its chapter ran must stay stale: fingerprinting again after the run
    (for data it downloaded) must not take in the edit."""
    app = _fake_app(tmp_path, {"a": "# A\n"})
    before = book_execution.fingerprint(app, "a")
    (tmp_path / "a.md").write_text("# A, edited while it ran\n")
    del app.nnbook_state.fingerprints["a"]  # as _finish does
    assert book_execution.fingerprint(app, "a") == before
    next_build = _fake_app(tmp_path, {})
    assert book_execution.fingerprint(next_build, "a") != before


def test_the_book_refuses_a_configuration_that_lets_a_cell_error_through():
    from types import SimpleNamespace

    from sphinx.errors import ConfigError

    ok = SimpleNamespace(nb_execution_mode="cache", nb_execution_allow_errors=False)
    book_execution.check_config(None, ok)
    with pytest.raises(ConfigError, match=r"needs a cell error to fail the build .*allow_errors: "
                                          r"false\), got True"):
        book_execution.check_config(None, SimpleNamespace(nb_execution_mode="cache",
                                                          nb_execution_allow_errors=True))
    with pytest.raises(ConfigError, match="execution mode 'cache'"):
        book_execution.check_config(None, SimpleNamespace(nb_execution_mode="auto",
                                                          nb_execution_allow_errors=False))

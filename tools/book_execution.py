"""Sphinx extension: the book's chapters executed in parallel, cached by what they depend on, timed.

Registered in ``_config.yml`` (``sphinx: local_extensions``), with ``execute_notebooks: cache``.

How a build executes the chapters
    myst-nb, in its "cache" mode, takes a notebook's outputs from jupyter-cache when the cache
    holds a notebook with the same code cells; otherwise it executes the notebook itself, one
    at a time, while Sphinx reads the page. This extension acts first, on Sphinx's
    ``env-before-read-docs`` event: it decides which of the chapters about to be read need
    executing, executes them all at once in a pool of processes (one chapter per core, one
    BLAS thread each: :mod:`execution_rule`), and stores their outputs in that same cache,
    where myst-nb then finds them. A failing cell fails the build with its traceback.

When a chapter is executed: never stale
    jupyter-cache keys a notebook on its code cells alone, so on its own it would keep showing
    outputs computed by older code after a change under ``code/``. Here each chapter has a
    *fingerprint*: a hash of its source, of every file under ``nnbook_dependencies`` (the
    package, ``requirements.txt``), of the data sets its front matter declares
    (``nnbook: {data: [mnist]}``, hashed from the files the loader would read), of any other
    files or folders of the book that it reads and declares (``nnbook: {depends: [tests]}``,
    paths from the book's root), of the Python and library versions and of the execution
    rule. A chapter is executed when its
    fingerprint differs from the one recorded at its last execution, or when the cache has no
    outputs for its code. Sphinx re-reads a page only when its source changed; the
    ``env-get-outdated`` hook adds every chapter whose fingerprint differs from the one its
    outputs were read with, so a change under ``code/`` reaches the HTML in a plain rebuild,
    and a rebuild with nothing changed executes nothing. A page that quotes another's glued
    values (``{glue:text}`06_mnist.md::key```, the reflection's table) is read again when a
    page it quotes changed (:func:`read_key`), since myst-nb fills those values in only when
    it writes the quoting page.

Time, visible and budgeted
    Each execution is timed and recorded (``nnbook-record.json`` beside jupyter-cache's
    database). The build ends with a table of pages and seconds. A page whose execution took
    longer than its budget (``nnbook_budget``, 240 s, or the page's own ``nnbook: {budget:
    N, budget_reason: ...}``) is a warning naming the page and its time, which fails a build
    run with ``-W``. The ``build-record`` directive and the ``{build}`` role show the record
    on the page "How this book was built".

No NaN in the text
    A glued value that is NaN or infinite fails its chapter like a failing cell, naming the
    value: the prose would show "nan" where a result belongs, and the cause is upstream.
"""

from __future__ import annotations

import cmath
import concurrent.futures
import datetime as dt
import hashlib
import importlib
import importlib.metadata
import json
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

from execution_rule import THREADS_PER_CHAPTER, chapter_env, parallel_jobs
from toc import is_notebook

logger = logging.getLogger(__name__)

RECORD_NAME = "nnbook-record.json"
HEARTBEAT_SECONDS = 60  # while chapters run, say which every so often
#: Libraries whose version is part of every fingerprint (a new NumPy can change a digit).
VERSIONED = ("numpy", "matplotlib", "sympy", "ipykernel", "myst-nb", "jupyter-cache")
#: Hashed into every fingerprint: change it when the way chapters are executed changes.
RULE = f"one chapter per core, {THREADS_PER_CHAPTER} BLAS thread each; cwd = the page's folder"
_IGNORED_PARTS = ("__pycache__",)
_IGNORED_SUFFIXES = (".pyc", ".egg-info")


# ---------------------------------------------------------------------------------------
# Fingerprints: what a chapter's outputs depend on
# ---------------------------------------------------------------------------------------


def _ignored(rel: Path) -> bool:
    return any(
        part.startswith(".") or part in _IGNORED_PARTS or part.endswith(_IGNORED_SUFFIXES)
        for part in rel.parts
    )


def hash_paths(root: Path, paths: list[str]) -> str:
    """SHA-256 over the names and contents of the files at ``paths`` (files or folders)."""
    digest = hashlib.sha256()
    for rel in sorted(paths):
        path = root / rel
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not _ignored(p.relative_to(root)))
        else:
            digest.update(f"missing:{rel}\n".encode())
            continue
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def front_matter(path: Path) -> dict:
    """The YAML front matter of a MyST page (``{}`` if it has none)."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    return yaml.safe_load(text[3:].split("\n---", 1)[0]) or {}


@dataclass(frozen=True)
class PageOptions:
    """What a page's front matter says under ``nnbook:``."""

    data: tuple[str, ...] = ()
    budget: float | None = None
    budget_reason: str = ""
    depends: tuple[str, ...] = ()


def page_options(path: Path) -> PageOptions:
    """Read and check ``nnbook:`` in a page's front matter; raise ``ValueError`` if it is malformed."""
    raw = front_matter(path).get("nnbook") or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: front matter 'nnbook:' must be a mapping, got {raw!r}")
    unknown = set(raw) - {"data", "budget", "budget_reason", "depends"}
    if unknown:
        raise ValueError(f"{path}: unknown keys under 'nnbook:': {sorted(unknown)}; "
                         "expected data, budget, budget_reason, depends")
    data = raw.get("data") or []
    if isinstance(data, str) or not all(isinstance(d, str) for d in data):
        raise ValueError(f"{path}: 'nnbook: data:' must be a list of data set names, got {data!r}")
    budget = raw.get("budget")
    reason = str(raw.get("budget_reason") or "").strip()
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
            raise ValueError(f"{path}: 'nnbook: budget:' must be a positive number of seconds, got {budget!r}")
        if not reason:
            raise ValueError(f"{path}: 'nnbook: budget: {budget}' needs a 'budget_reason:' saying why")
    depends = raw.get("depends") or []
    if isinstance(depends, str) or not all(isinstance(d, str) and d.strip() for d in depends):
        raise ValueError(f"{path}: 'nnbook: depends:' must be a list of paths from the book's root, "
                         f"got {depends!r}")
    for rel in depends:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"{path}: 'nnbook: depends:' names paths inside the book, from its root; "
                             f"got {rel!r}")
    return PageOptions(tuple(data), None if budget is None else float(budget), reason, tuple(depends))


def data_fingerprint(name: str) -> str:
    """Hash of the files that ``nnscratch.data.<name>`` would read now ("absent" if none yet).

    The data module's ``resolve_directory()`` names the folder its loader reads (argument,
    environment variable or per-user cache, in the loader's own lookup order). ``name`` is
    the data set's folder name, as under ``$NNSCRATCH_DATA``; its module is that name with
    hyphens as underscores (``fashion-mnist`` -> ``nnscratch.data.fashion_mnist``).
    """
    module = importlib.import_module(f"nnscratch.data.{name.replace('-', '_')}")
    directory, _ = module.resolve_directory()
    files = sorted(p for p in Path(directory).glob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        return "absent"
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def environment_fingerprint() -> str:
    """Python, key library versions and the execution rule."""
    versions = []
    for dist in VERSIONED:
        try:
            versions.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist} absent")
    return "\n".join([sys.version, *versions, RULE])


# ---------------------------------------------------------------------------------------
# The record of executions
# ---------------------------------------------------------------------------------------


def load_record(path: Path) -> dict:
    """The execution record; an empty one if it is missing or unreadable (everything re-executes)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and isinstance(record.get("pages"), dict):
            return record
    except (OSError, ValueError):
        pass
    return {"pages": {}, "last_run": None}


def save_record(path: Path, record: dict) -> None:
    """Write the record atomically: a temporary file in the same folder, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def git_commit(root: Path) -> str:
    """The checked-out commit, with ``+changes`` if the working tree differs from it.

    Untracked files count (those ``.gitignore`` leaves visible): a new module under ``code/``
    changes the chapters' fingerprints, so the commit alone would not name their inputs.
    """
    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return head + ("+changes" if dirty else "")


def blas_description() -> str:
    """The BLAS library NumPy uses, as threadpoolctl reports it."""
    import numpy  # noqa: F401  (loads the BLAS library so that threadpoolctl sees it)
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "unknown"
    info = blas[0]
    return f"{info.get('internal_api', '?')} {info.get('version', '?')} ({info.get('architecture', '?')})"


# ---------------------------------------------------------------------------------------
# Execution in a pool of processes
# ---------------------------------------------------------------------------------------


# A glued scalar's text/plain form may be wrapped: np.float32(nan), np.longdouble('nan'),
# array(nan) (0-d); SymPy writes its infinities oo, -oo and zoo.
_WRAPPED = re.compile(r"(np\.\w+|array)\((.*)\)")
_SYMPY_INFINITIES = {"oo", "+oo", "-oo", "zoo"}


def _not_finite_text(text: str) -> bool:
    """Whether a glued value's text is a scalar NaN or infinity (real or complex)."""
    wrapped = _WRAPPED.fullmatch(text)
    if wrapped:
        text = wrapped.group(2).strip()
        if wrapped.group(1).startswith("np.") and len(text) > 1 and text[0] == text[-1] == "'":
            text = text[1:-1]  # np.longdouble('nan')
    if text in _SYMPY_INFINITIES:
        return True
    try:
        value = complex(text)  # nan, -inf, 1e308, (nan+0j); not 'nan' or [nan]
    except ValueError:
        return False
    return not cmath.isfinite(value)


def nonfinite_glue(nb) -> list[str]:
    """The values an executed notebook glues that are NaN or infinite, as ``"name = text"``.

    myst-nb's ``glue`` stores each value as an output whose metadata holds ``scrapbook``
    (the name and a MIME prefix) and whose data holds the value's text under that prefix.
    """
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            text = out.get("data", {}).get(meta.get("mime_prefix", "") + "text/plain")
            if text is not None and _not_finite_text(text.strip()):
                found.append(f"{meta.get('name')} = {text.strip()}")
    return found


# Kernels started at the same moment in two processes can pick the same free TCP port; the
# loser dies before it runs a line ("Address already in use"), and is simply started again.
# So is a kernel that died at start without a word in its log (seen on a loaded machine).
KERNEL_START_RETRIES = 3


def kernel_start_failed_transiently(exc_string: str | None, kernel_log: str) -> bool:
    """Whether an execution failed only because its kernel died at start, before running a
    line, for no fault of its own: it lost its port, or it died with an empty log. A kernel
    whose start-up printed an error (an ImportError, a MemoryError) is not started again."""
    return bool(exc_string) and "Kernel died before replying to kernel_info" in exc_string \
        and ("Address already in use" in kernel_log or not kernel_log.strip())


def _init_worker(env: dict[str, str]) -> None:
    """Pool initializer: the chapter's environment, inherited by the kernel it starts."""
    os.environ.clear()
    os.environ.update(env)


def _execute(docname: str, notebook_json: str, cwd: str, timeout: int | None, allow_errors: bool,
             log_path: str) -> dict:
    """Execute one notebook (in a worker process); return its outputs, time and any error.

    The kernel's own stderr (start-up chatter, not cell output: cells' output is in the
    notebook) goes to ``log_path``; its last lines are added to the error if the chapter fails.
    """
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.reads(notebook_json, as_version=4)
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    for _ in range(1 + KERNEL_START_RETRIES):
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        saved_stderr = os.dup(2)
        os.dup2(log, 2)  # inherited by the kernel process
        try:
            result = single_nb_execution(nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors)
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            os.close(log)
        kernel_log = None if result.err is None else Path(log_path).read_text(errors="replace")
        if kernel_log is None or not kernel_start_failed_transiently(result.exc_string,
                                                                     kernel_log):
            break  # the log is read once, and only when the attempt failed
    error = None
    if result.err is not None:
        tail = kernel_log.splitlines()[-20:]
        error = result.exc_string + (f"\nkernel log ({log_path}), last lines:\n" + "\n".join(tail) if tail else "")
    elif bad := nonfinite_glue(result.nb):
        error = ("glued values that are not finite numbers, which the text would show: "
                 + "; ".join(bad))
    return {"docname": docname, "seconds": result.time, "error": error, "notebook": nbformat.writes(result.nb)}


@dataclass
class BuildState:
    """What this extension knows during one Sphinx run."""

    record_path: Path
    record: dict
    commit: str
    shared: str | None = None  # the part of every fingerprint that is not the page's own
    fingerprints: dict[str, str] = field(default_factory=dict)
    source_parts: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)  # _source_parts
    options: dict[str, PageOptions] = field(default_factory=dict)  # each page's front matter
    notebooks: dict = field(default_factory=dict)                  # each chapter, as myst-nb reads it
    facts: dict[str, str] | None = None  # what the report page shows; None when the record changed
    executed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _state(app: Sphinx) -> BuildState:
    if getattr(app, "nnbook_state", None) is None:
        cache_dir = Path(app.env.mystnb_config.execution_cache_path)
        record_path = cache_dir / RECORD_NAME
        app.nnbook_state = BuildState(record_path, load_record(record_path), git_commit(Path(app.srcdir)))
    return app.nnbook_state


def _notebook_docs(app: Sphinx, docnames) -> list[str]:
    return [d for d in docnames if is_notebook(Path(app.env.doc2path(d)))]


def _options(app: Sphinx, docname: str) -> PageOptions:
    """A page's ``nnbook:`` front matter, read once per build."""
    state = _state(app)
    if docname not in state.options:
        state.options[docname] = page_options(Path(app.env.doc2path(docname)))
    return state.options[docname]


def _source_parts(app: Sphinx, docname: str) -> tuple[bytes, bytes]:
    """What a chapter's fingerprint hashes before and after its data: the shared inputs and
    the page's source, then the files it declares (read once per build, before any run)."""
    state = _state(app)
    if docname not in state.source_parts:
        root = Path(app.srcdir)
        if state.shared is None:
            state.shared = hashlib.sha256(
                (hash_paths(root, list(app.config.nnbook_dependencies)) + environment_fingerprint()).encode()
            ).hexdigest()
        path = Path(app.env.doc2path(docname))
        options = _options(app, docname)
        after = b""
        if options.depends:
            missing = [rel for rel in options.depends if not (root / rel).exists()]
            if missing:
                raise ValueError(f"{path}: 'nnbook: depends:' names {missing}, not found under the "
                                 f"book's root {root}")
            after = f"files:{hash_paths(root, list(options.depends))}".encode()
        state.source_parts[docname] = (state.shared.encode() + hashlib.sha256(path.read_bytes()).digest(),
                                       after)
    return state.source_parts[docname]


def fingerprint(app: Sphinx, docname: str) -> str:
    """The fingerprint of a chapter now (computed once per build).

    Its data are hashed again after the chapter runs (:func:`_finish`), its source and declared
    files never: a page or test edited while its chapter ran must leave it stale, not recorded
    as the inputs of outputs computed from the older ones.
    """
    state = _state(app)
    if docname not in state.fingerprints:
        before, after = _source_parts(app, docname)
        digest = hashlib.sha256(before)
        for name in sorted(_options(app, docname).data):
            digest.update(f"data:{name}:{data_fingerprint(name)}".encode())
        digest.update(after)
        state.fingerprints[docname] = digest.hexdigest()
    return state.fingerprints[docname]


# A value glued on another page: {glue:text}`06_mnist.md::key` (also {glue}, {glue:md}, ...)
QUOTED_PAGE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+\.(?:md|ipynb))::")


def quoted_pages(app: Sphinx, docname: str) -> list[str]:
    """The chapters whose glued values a page quotes, as docnames."""
    path = Path(app.env.doc2path(docname))
    docs = []
    for name in sorted(set(QUOTED_PAGE.findall(path.read_text(encoding="utf-8")))):
        doc = app.env.path2doc(str((path.parent / name).resolve()))
        if doc is None:
            raise ValueError(f"{path.name}: quotes a glued value of {name}, which is not a page "
                             f"of the book")
        docs.append(doc)
    return docs


def read_key(app: Sphinx, docname: str) -> str:
    """What a chapter's HTML depends on: its fingerprint, and those of the chapters it quotes.

    myst-nb fills in a value quoted from another page (``{glue:text}`06_mnist.md::key```) when
    it writes the quoting page, and only pages read again are written again. So a page is read
    again when a page it quotes changed, not only when it did, or it would show the quoted
    page's older numbers.
    """
    quoted = quoted_pages(app, docname)
    if not quoted:
        return fingerprint(app, docname)
    digest = hashlib.sha256(fingerprint(app, docname).encode())
    for doc in quoted:
        digest.update(f"{doc}:{fingerprint(app, doc)}".encode())
    return digest.hexdigest()


def _read_notebook(app: Sphinx, docname: str):
    """The notebook exactly as myst-nb reads it, so that jupyter-cache's hashes agree (read once
    per build; nothing here modifies it)."""
    from myst_nb.core.read import create_nb_reader

    notebooks = _state(app).notebooks
    if docname not in notebooks:
        path = app.env.doc2path(docname)
        text = Path(path).read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), app.env.myst_config, app.env.mystnb_config, text)
        notebooks[docname] = reader.read(text)
    return notebooks[docname]


def _cache(app: Sphinx):
    from jupyter_cache import get_cache

    return get_cache(app.env.mystnb_config.execution_cache_path)


def _is_fresh(app: Sphinx, cache, docname: str) -> bool:
    entry = _state(app).record["pages"].get(docname)
    if not entry or entry.get("fingerprint") != fingerprint(app, docname):
        return False
    try:
        cache.match_cache_notebook(_read_notebook(app, docname))
    except KeyError:
        return False
    return True


def _store(app: Sphinx, cache, docname: str, notebook_json: str, seconds: float) -> None:
    """Put an executed notebook in jupyter-cache, replacing older outputs of the same page."""
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    uri = str(Path(app.env.doc2path(docname)).resolve())
    nb = nbformat.reads(notebook_json, as_version=4)
    record = cache.cache_notebook_bundle(
        CacheBundleIn(nb, uri, data={"execution_seconds": seconds}), check_validity=False, overwrite=True
    )
    for old in cache.list_cache_records():
        if old.uri == uri and old.pk != record.pk:
            cache.remove_cache(old.pk)
    # What myst-nb will look up must be what was stored; otherwise it would execute again, serially.
    cache.match_cache_notebook(_read_notebook(app, docname))


def _budget(app: Sphinx, docname: str) -> tuple[float, str]:
    options = _options(app, docname)
    if options.budget is not None:
        return options.budget, options.budget_reason
    return float(app.config.nnbook_budget), ""


def execute_stale(app: Sphinx, env, docnames: list[str]) -> None:
    """``env-before-read-docs``: execute, in parallel, the chapters about to be read that are stale."""
    state = _state(app)
    chapters = _notebook_docs(app, docnames)
    if not chapters:
        return
    try:
        for doc in chapters:
            fingerprint(app, doc)
    except ValueError as exc:  # a malformed front matter: say which page and what is wrong
        raise ConfigError(str(exc)) from exc
    cache = _cache(app)
    stale = [d for d in chapters if not _is_fresh(app, cache, d)]
    logger.info(f"nnbook: {len(chapters)} chapters to read, {len(stale)} to execute, "
                f"{len(chapters) - len(stale)} unchanged (outputs from the cache)")
    if stale:
        _run_pool(app, cache, stale)
    for doc in state.failed:
        docnames.remove(doc)


def remember_fingerprint(app: Sphinx, doctree) -> None:
    """``doctree-read``: the fingerprint of the outputs a chapter was just read with.

    Stored here, not before reading: Sphinx purges a page's data from the environment just
    before it reads the page again.
    """
    docname, state = app.env.docname, _state(app)
    if docname not in state.fingerprints or docname in state.failed:
        return
    # A quoted chapter that failed was not read: this page shows its older values, so it must
    # be read again once that chapter has run, even if nothing else changes.
    if any(doc in state.failed for doc in quoted_pages(app, docname)):
        return
    app.env.nnbook_read[docname] = read_key(app, docname)


def _finish(app: Sphinx, cache, doc: str, future: concurrent.futures.Future, counter: str) -> None:
    """Store and record one chapter's execution, or report its failure with the traceback."""
    state = _state(app)
    try:
        result = future.result()
    except Exception as exc:  # the worker itself died (not a cell error)
        result = {"docname": doc, "seconds": 0.0, "error": f"{type(exc).__name__}: {exc}", "notebook": None}
    if result["error"]:
        state.failed.append(doc)
        logger.error(f"nnbook: {counter} {doc} FAILED after {result['seconds']:.1f} s:\n{result['error']}",
                     type="nnbook", subtype="execute")
        return
    _store(app, cache, doc, result["notebook"], result["seconds"])
    # Fingerprint its data again now: a chapter that downloads its data found it "absent"
    # before it ran, and recording that would make the next build execute it again for nothing.
    del state.fingerprints[doc]
    state.record["pages"][doc] = {
        "fingerprint": fingerprint(app, doc),
        "seconds": round(result["seconds"], 2),
        "commit": state.commit,
        "executed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "threads": THREADS_PER_CHAPTER,
    }
    state.executed.append(doc)
    state.facts = None
    save_record(state.record_path, state.record)
    logger.info(f"nnbook: {counter} {doc} executed in {result['seconds']:.1f} s")


def _run_pool(app: Sphinx, cache, stale: list[str]) -> None:
    import nbformat

    state = _state(app)
    pages = state.record["pages"]
    # Longest first (by the last recorded time, else the shipped estimate): the pool's last
    # chapter to start is then a short one, and the cores finish together.
    hints = app.config.nnbook_time_hints or {}
    order = sorted(stale, key=lambda d: -(pages.get(d, {}).get("seconds") or hints.get(d, 0.0)))
    jobs = parallel_jobs(len(order))
    timeout = app.config.nb_execution_timeout
    allow_errors = bool(app.config.nb_execution_allow_errors)
    logger.info(f"nnbook: executing {len(order)} chapters, {jobs} at a time, "
                f"{THREADS_PER_CHAPTER} BLAS thread each")
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                                initargs=(chapter_env(),)) as pool:
        # Submitted one per free worker, so that "running" below is what runs: the pool would
        # otherwise mark a queued chapter as running before a worker takes it.
        queue, futures, done, finished_all = list(order), {}, 0, set()

        def submit_next() -> None:
            doc = queue.pop(0)
            nb = _read_notebook(app, doc)
            cwd = str(Path(app.env.doc2path(doc)).parent)
            log = str(Path(app.env.mystnb_config.execution_cache_path) / "logs" / f"{doc}.log")
            futures[pool.submit(_execute, doc, nbformat.writes(nb), cwd, timeout, allow_errors, log)] = doc

        for _ in range(min(jobs, len(queue))):
            submit_next()
        pending = set(futures)
        while pending:
            finished, pending = concurrent.futures.wait(pending, timeout=HEARTBEAT_SECONDS,
                                                        return_when=concurrent.futures.FIRST_COMPLETED)
            if not finished:  # a sign of life while long chapters run
                running = ", ".join(sorted(futures[f] for f in pending))
                logger.info(f"nnbook: {done}/{len(order)} done after {time.perf_counter() - start:.0f} s; "
                            f"running: {running}")
            for future in finished:
                done += 1
                _finish(app, cache, futures[future], future, f"[{done}/{len(order)}]")
                if queue:
                    submit_next()
            finished_all |= finished
            pending = set(futures) - finished_all
    wall = time.perf_counter() - start
    state.record["last_run"] = {
        "chapters": len(order), "succeeded": len(state.executed), "jobs": jobs,
        "wall_seconds": round(wall, 1), "commit": state.commit,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    state.facts = None
    save_record(state.record_path, state.record)
    logger.info(f"nnbook: executed {len(state.executed)} chapters in {wall:.1f} s of wall time")


# ---------------------------------------------------------------------------------------
# Sphinx environment: which pages must be read again
# ---------------------------------------------------------------------------------------


def _report_key(app: Sphinx) -> str:
    state = _state(app)
    record = json.dumps(state.record, sort_keys=True)
    return hashlib.sha256(f"{record}\n{state.commit}".encode()).hexdigest()


def outdated(app: Sphinx, env, added, changed, removed) -> list[str]:
    """``env-get-outdated``: chapters whose dependencies changed since their outputs were read."""
    extra = []
    try:
        for doc in _notebook_docs(app, sorted(env.found_docs)):
            if env.nnbook_read.get(doc) != read_key(app, doc):
                extra.append(doc)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    report = app.config.nnbook_report_page
    if report in env.found_docs:
        # The report shows the record: read it again when this build may execute a chapter
        # (which changes the record), or the record or the commit changed since it was read.
        if extra or getattr(env, "nnbook_report_key", None) != _report_key(app):
            extra.append(report)
    return extra


def init_env(app: Sphinx) -> None:
    """``builder-inited``: the environment (new or loaded) has a map of what each chapter was read with."""
    if not hasattr(app.env, "nnbook_read"):
        app.env.nnbook_read = {}


def purge(app: Sphinx, env, docname: str) -> None:
    env.nnbook_read.pop(docname, None)


def merge(app: Sphinx, env, docnames, other) -> None:
    for doc in docnames:
        if doc in other.nnbook_read:
            env.nnbook_read[doc] = other.nnbook_read[doc]


# ---------------------------------------------------------------------------------------
# The end of the build, and the page "How this book was built"
# ---------------------------------------------------------------------------------------


def report_rows(app: Sphinx) -> list[dict]:
    """One row per chapter of the book, in reading order, from the record."""
    from toc import notebooks

    pages = _state(app).record["pages"]
    rows = []
    for doc in notebooks(Path(app.srcdir)):
        entry = pages.get(doc, {})
        budget, reason = _budget(app, doc)
        rows.append({"docname": doc, "seconds": entry.get("seconds"), "budget": budget, "reason": reason,
                     "commit": entry.get("commit", ""), "executed_now": doc in _state(app).executed})
    return rows


def print_table(app: Sphinx, exception) -> None:
    """``build-finished``: a table of the chapters' execution times."""
    if exception is not None or getattr(app, "nnbook_state", None) is None:
        return
    rows = report_rows(app)
    width = max(len(r["docname"]) for r in rows) if rows else 10
    lines = [f"{'page':<{width}}  {'seconds':>8}  {'budget':>6}  this build"]
    for r in rows:
        seconds = "-" if r["seconds"] is None else f"{r['seconds']:.1f}"
        over = "  OVER BUDGET" if r["seconds"] is not None and r["seconds"] > r["budget"] else ""
        lines.append(f"{r['docname']:<{width}}  {seconds:>8}  {r['budget']:>6.0f}  "
                     f"{'executed' if r['executed_now'] else 'cached'}{over}")
    total = sum(r["seconds"] or 0.0 for r in rows)
    lines.append(f"{'total':<{width}}  {total:>8.1f}")
    state = _state(app)
    run = state.record.get("last_run") or {}
    if state.executed and run:
        lines.append(f"this build executed {len(state.executed)} chapters, {run['jobs']} at a time, "
                     f"in {run['wall_seconds']:.1f} s of wall time")
    else:
        lines.append("this build executed no chapter")
    logger.info("nnbook: execution times\n" + "\n".join(lines))
    # Every page of the book, cached or not: a warning here fails a build run with -W.
    for r in rows:
        if r["seconds"] is not None and r["seconds"] > r["budget"]:
            logger.warning(f"nnbook: {r['docname']} executed in {r['seconds']:.1f} s, over its budget of "
                           f"{r['budget']:.0f} s (at {THREADS_PER_CHAPTER} BLAS thread); make it faster, or "
                           "declare 'nnbook: {budget: N, budget_reason: ...}' in its front matter",
                           type="nnbook", subtype="budget", location=r["docname"])


def _facts(app: Sphinx) -> dict[str, str]:
    """What the report page shows, computed once per build (the page has a role per fact)."""
    state = _state(app)
    if state.facts is None:
        state.facts = _compute_facts(app)
    return state.facts


def _compute_facts(app: Sphinx) -> dict[str, str]:
    import nnscratch

    state = _state(app)
    rows = report_rows(app)
    run = state.record.get("last_run") or {}
    total = sum(r["seconds"] or 0.0 for r in rows)
    return {
        "commit": state.commit,
        "package_version": f"nnscratch {nnscratch.__version__}",
        "python": platform.python_version(),
        "numpy": importlib.metadata.version("numpy"),
        "blas": blas_description(),
        "cores": str(os.cpu_count()),
        "threads": str(THREADS_PER_CHAPTER),
        "chapters": str(len(rows)),
        "total_seconds": f"{total:.0f}",
        "slowest": max(rows, key=lambda r: r["seconds"] or 0.0)["docname"] if rows else "",
        "slowest_seconds": f"{max((r['seconds'] or 0.0) for r in rows):.0f}" if rows else "0",
        "last_run_chapters": str(run.get("chapters", 0)),
        "last_run_jobs": str(run.get("jobs", 0)),
        "last_run_wall_seconds": f"{run.get('wall_seconds', 0.0):.0f}",
        "budget": f"{float(app.config.nnbook_budget):.0f}",
    }


def _doc_ref(docname: str, refdoc: str) -> nodes.Node:
    """A link to a page, shown with the page's title."""
    return addnodes.pending_xref("", nodes.inline("", docname), refdomain="std", reftype="doc",
                                 reftarget="/" + docname, refexplicit=False, refdoc=refdoc, refwarn=True)


class BuildRole(SphinxRole):
    """``{build}`name``: a fact of this build (commit, cores, total_seconds, ...), as text."""

    def run(self):
        self.env.nnbook_report_key = _report_key(self.env.app)
        facts = _facts(self.env.app)
        if self.text not in facts:
            msg = self.inliner.reporter.error(
                f"{{build}}: unknown fact {self.text!r}; known: {sorted(facts)}", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        if self.text == "commit":
            return [nodes.literal(self.rawtext, facts[self.text])], []
        if self.text == "slowest" and facts[self.text]:  # a page: shown by its title, as in the table
            return [_doc_ref(facts[self.text], self.env.docname)], []
        return [nodes.Text(facts[self.text])], []


class BuildRecordDirective(SphinxDirective):
    """``build-record``: the table of every chapter's execution time and budget."""

    has_content = False

    def run(self):
        self.env.nnbook_report_key = _report_key(self.env.app)
        rows = report_rows(self.env.app)
        # colwidths-given: the PDF sets these widths (wrapping columns) instead of
        # sizing the columns to their content, which ran past the margin.
        table = nodes.table(classes=["nnbook-build-record", "colwidths-given"])
        # A caption: the PDF numbers every long table and repeats its number on each page.
        table += nodes.title("", "Each chapter's execution time and budget, in seconds, "
                             "and the commit its outputs come from.")
        group = nodes.tgroup(cols=4)
        table += group
        for width in (44, 12, 12, 32):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["Page", "Seconds", "Budget", "Executed at commit"])
        body = nodes.tbody()
        group += body
        # A page's reason for a larger budget is a paragraph: in the table's narrow column it
        # made rows hundreds of pixels tall, so it follows the table, the budget marked.
        reasons = nodes.bullet_list()
        for r in rows:
            seconds = "not executed" if r["seconds"] is None else f"{r['seconds']:.1f}"
            budget = f"{r['budget']:.0f}" + (" *" if r["reason"] else "")
            body += self._row([self._ref(r["docname"]), seconds, budget, nodes.literal("", r["commit"])])
            if r["reason"]:
                item = nodes.paragraph()
                item += self._ref(r["docname"])
                item += nodes.Text(f", {r['budget']:.0f} s: {r['reason']}")
                reasons += nodes.list_item("", item)
        total = sum(r["seconds"] or 0.0 for r in rows)
        body += self._row([nodes.strong("", "Total"), nodes.strong("", f"{total:.1f}"), "", ""])
        if not len(reasons):
            return [table]
        intro = nodes.paragraph("", "* Budgets larger than the default, and why:")
        return [table, intro, reasons]

    def _ref(self, docname: str) -> nodes.Node:
        return _doc_ref(docname, self.env.docname)

    @staticmethod
    def _row(cells) -> nodes.row:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph += cell if isinstance(cell, nodes.Node) else nodes.Text(str(cell))
            entry += paragraph
            row += entry
        return row


def check_config(app: Sphinx, config) -> None:
    if config.nb_execution_mode != "cache":
        raise ConfigError(f"book_execution needs myst-nb's execution mode 'cache' "
                          f"(_config.yml: execute: execute_notebooks: cache), got {config.nb_execution_mode!r}")
    # The book fails on any cell error: a traceback is never published as a chapter's output.
    if config.nb_execution_allow_errors:
        raise ConfigError("book_execution needs a cell error to fail the build (_config.yml: "
                          f"execute: allow_errors: false), got {config.nb_execution_allow_errors!r}")


def _tools_version() -> int:
    """Changes whenever a file of tools/ changes, so that Sphinx rebuilds its environment then."""
    digest = hash_paths(Path(__file__).parent, [p.name for p in Path(__file__).parent.glob("*.py")])
    return int(digest[:12], 16)


def setup(app: Sphinx) -> dict:
    app.add_config_value("nnbook_dependencies", ["code", "requirements.txt"], "env")
    app.add_config_value("nnbook_budget", 240, "env")
    app.add_config_value("nnbook_report_page", "book/build", "env")
    app.add_config_value("nnbook_time_hints", {}, "")
    app.connect("config-inited", check_config)
    app.connect("builder-inited", init_env)
    app.connect("env-get-outdated", outdated)
    app.connect("env-before-read-docs", execute_stale)
    app.connect("doctree-read", remember_fingerprint)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("build-finished", print_table)
    app.add_role("build", BuildRole())
    app.add_directive("build-record", BuildRecordDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": _tools_version()}

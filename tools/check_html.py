"""Check the built book in a real browser, as a reader would see it.

Usage (after the book is built; Debian's ``chromium`` must be installed)::

    python tools/check_html.py [_build/html] [--screenshots DIR]

The book is served from a local web server on 127.0.0.1 (as GitHub Pages will serve it; over
``file://`` the browser refuses the search page's requests). Every HTML page is opened in
headless Chromium (driven by Playwright, which uses the system's ``/usr/bin/chromium`` and
downloads nothing), with every request that leaves that server blocked, and checked for:

- it loads, with no console error, no uncaught JavaScript exception and no failed request;
- nothing is requested from outside the book's own files (no CDN, no web font, no tracker);
- maths: if the page has any, MathJax typeset it (``mjx-container`` elements present), no TeX
  error is shown, and no raw ``$...$``, ``\\(...\\)`` or ``\\[...\\]`` is left in the prose;
- every image loads (``naturalWidth > 0``) and has alt text that says something (not empty
  and not just its file name, which is what Sphinx writes when a figure has none);
- every link to a file of the book points to a file that exists;
- one search field is visible (no second one in a top bar);
- layout, at 1280 px: no code block, output, table or displayed formula (with its number)
  wider than the text column (a reader would have to scroll sideways), no output longer than
  150 lines (a printed list of 3,000 losses), no image shown at less than 3/4 of its size
  (figures are made at the column's width), every figure drawn by a code cell captioned and
  numbered, and a link to itself at full size (a phone shows it small); at a phone's width
  (360 px, the narrowest of common phones) nothing makes the page scroll sideways, no
  formula is cut off at the column's edge (inline ones, in solutions too, must fit: a phone
  shows no scroll bar; a displayed one is broken into lines for the column it is shown in,
  and one that MathJax cannot break may scroll if a shadow at the edge shows it), no inline
  formula is on another line than the punctuation touching it (a line starting with ":", at
  1280 px too), no word of a table is split across two lines without a hyphen ("scra" /
  "tch"), and a table too wide for the column scrolls in its box with its caption in view
  and a fade at the edge where it goes on;
- chapters (notebook pages): the download menu offers ``.ipynb`` and ``.py`` files that
  exist, are valid, and hold exactly the code cells of the chapter's source;
- no request is answered with an error status (a missing file is a 404, not a failure);
- one ``<title>``, naming the book once: "Page — Book", the landing page just "Book";
- a favicon that the browser can draw, and the logo;
- the licence links (CC BY 4.0 for the text, MIT for the code) in the footer;
- no absolute path of the machine that built the book in the page's text (a data folder
  printed by a cell, a traceback): ``/home/...``, ``/tmp/...``, the repository's own path;
- signatures of the API reference: no ``<class '...'>`` default, no private module path
  (``numpy.random._generator.Generator``), no unresolved ``~`` prefix.

Then the search page is asked for a word every chapter uses and must list results whose
snippets show typeset maths, not raw TeX.
Screenshots of a few pages are written to ``--screenshots`` for a person to look at.
Exit status 1 if any check fails; the last line says how many pages passed and failed.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import toc  # tools/, beside this script: the one reader of _toc.yml

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SKIP = ("_static", "_sources", "_images", "_sphinx_design_static", "jupyter_execute")

# Raw TeX in a page's prose, as a regular expression that JavaScript and Python read alike:
# a displayed or inline formula left with its dollars, TeX's other delimiters, or a TeX command
# or a dollar before one (a line of a formula that starts with "+ " or "- " becomes a list
# item, and the formula's pieces are left as text with one unpaired dollar).
RAW_TEX = r"\$\$|\$[^$\s][^$\n]*\$|\$\\|\\[A-Za-z]{2,}|\\\(|\\\)|\\\[|\\\]|\\begin\{"

# A NumPy scalar's repr in a page's prose (NumPy 2 writes np.float64(0.03)): a number glued
# without float() or int(), which the text shows as code instead of as the number.
NUMPY_REPR = r"\bnp\.(?:float|int|uint|complex|bool|str)\w*\("

# Runs in the page once it has loaded and MathJax (if any) has finished.
PAGE_REPORT_JS = r"""
async ([RAW_TEX, NUMPY_REPR]) => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const hasMath = document.querySelector('.math, mjx-container') !== null;
  const mjx = document.querySelectorAll('mjx-container').length;
  const texErrors = [...document.querySelectorAll('mjx-merror')].map(e =>
      (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120));
  // Raw TeX left in the prose (code, preformatted text and typeset maths are not prose).
  const raw = [];
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                           NodeFilter.SHOW_TEXT);
  const skip = 'PRE, CODE, SCRIPT, STYLE, TEXTAREA, MJX-CONTAINER, KBD, SAMP, .highlight';
  const pattern = new RegExp(RAW_TEX);
  const numpyPattern = new RegExp(NUMPY_REPR);
  const reprs = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && n.parentElement.closest(skip)) continue;
    const m = n.textContent.match(pattern);
    if (m) raw.push(n.textContent.trim().slice(0, 80));
    if (numpyPattern.test(n.textContent)) reprs.push(n.textContent.trim().slice(0, 80));
  }
  const images = [...document.images].map(img => ({
    src: img.getAttribute('src'), alt: img.getAttribute('alt'),
    loaded: img.complete && img.naturalWidth > 0,
    inContent: img.closest('main, article, .bd-article') !== null,
    // For a figure drawn by a code cell: the cell's first line, to say which cell it is.
    cell: (() => {
      const cell = img.closest('.cell');
      const code = cell && cell.querySelector('.cell_input pre');
      return code ? code.textContent.trim().split('\n')[0].slice(0, 70) : null;
    })(),
    // A figure drawn by a code cell opens alone, at full size, when tapped.
    drawn: img.closest('.cell_output') !== null,
    linked: img.closest('a') !== null && img.closest('a').href === img.src,
  }));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const downloads = [...document.querySelectorAll('a.dropdown-item[href*="_sources/"]')]
      .map(a => a.href);
  // Search fields a reader can see (the theme once added a second one in a top bar).
  const searchFields = [...document.querySelectorAll('.search-button-field')]
      .filter(e => e.offsetParent !== null).length;
  const titles = [...document.head.querySelectorAll('title')].map(t => t.textContent);
  // Icons: each one the page offers, drawn by the browser (headless Chromium requests none).
  const icons = await Promise.all(
    [...document.querySelectorAll('link[rel~="icon"], link[rel="apple-touch-icon"]')].map(
      link => new Promise(resolve => {
        const img = new Image();
        img.onload = () => resolve({href: link.href, rel: link.rel, loaded: img.naturalWidth > 0});
        img.onerror = () => resolve({href: link.href, rel: link.rel, loaded: false});
        img.src = link.href;
      })));
  const logos = [...document.querySelectorAll('.navbar-brand img')]
      .filter(img => img.offsetParent !== null && img.complete && img.naturalWidth > 0).length;
  const licences = [...document.querySelectorAll('footer a[rel~="license"], .bd-footer a[rel~="license"]')]
      .map(a => a.href);
  // All text of the page, shown or folded away (hidden outputs too), without scripts.
  const texts = [];
  const all = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = all.nextNode(); n; n = all.nextNode()) {
    if (!(n.parentElement && n.parentElement.closest('script, style'))) texts.push(n.textContent);
  }
  const signatures = [...document.querySelectorAll('dt.sig')].map(dt => dt.textContent);
  return {hasMath, mjx, texErrors, raw, reprs, images, links, downloads, title: document.title,
          searchFields, titles, icons, logos, licences, text: texts.join(' '), signatures};
}
"""

# The licences the footer of every page must link to (book/index.md and README.md say which).
LICENCES = {
    "CC BY 4.0 (the text)": "creativecommons.org/licenses/by/4.0",
    "MIT (the code)": "opensource.org/license/mit",
}
# Absolute paths that only exist on the machine that built the book.
MACHINE_PATH = re.compile(
    r"(?<![\w.:/~-])(?:/home/|/root/|/tmp/|/work/|/Users/|/var/folders/|/private/|[A-Z]:\\Users\\)"
    r"[^\s'\"<>)\]]*"
)


def book_title() -> str:
    """The book's title, from the ``_config.yml`` of the repository this checker belongs to."""
    import yaml

    config = Path(__file__).resolve().parent.parent / "_config.yml"
    return str(yaml.safe_load(config.read_text(encoding="utf-8"))["title"])


def title_problems(titles: list[str], book: str, landing: bool) -> list[str]:
    """The page's ``<title>`` elements: exactly one, naming the book once.

    The landing page's title is the book's; every other page's names the page, then the book.
    """
    if len(titles) != 1:
        return [f"{len(titles)} <title> elements (one expected)"]
    title = " ".join(titles[0].split())
    if landing and title != book:
        return [f"title {title!r}: the landing page's title is the book's, {book!r}"]
    if not landing and (title.count(book) != 1 or title == book):
        return [f"title {title!r}: expected the page's title, then {book!r} once"]
    return []


def machine_paths(text: str, also: tuple[str, ...] = ()) -> list[str]:
    """Absolute paths of a build machine in ``text`` (each once, in order of appearance).

    ``also`` are more paths to look for, such as the repository's own folder.
    """
    found = [m.group(0) for m in MACHINE_PATH.finditer(text)]
    found += [p for p in also if p and p in text]
    return list(dict.fromkeys(found))


PRIVATE_PATH = re.compile(r"\b[A-Za-z]\w*(?:\.\w+)*\._[A-Za-z]\w*\.\w+")


def signature_problems(signature: str) -> list[str]:
    """What an API signature must not show: a default's repr, a private path, a raw ``~``."""
    sig = " ".join(signature.split())
    problems = []
    if "<class '" in sig:
        problems.append(f"a default written as its repr (autodoc_preserve_defaults): {sig[:120]!r}")
    problems += [f"private module path {m!r} (name the public one): {sig[:120]!r}"
                 for m in PRIVATE_PATH.findall(sig)]
    if re.search(r"~\w", sig):
        problems.append(f"unresolved '~' in a type: {sig[:120]!r}")
    return problems


def notebook_source(html_root: Path, page: Path) -> Path | None:
    """``_sources/<page>.md`` if that page's source is a notebook (as the build decides)."""
    source = html_root / "_sources" / page.relative_to(html_root).with_suffix(".md")
    if source.exists() and toc.is_notebook(source):
        return source
    return None


class Server:
    """The built book on http://127.0.0.1:<free port>/, served from a background thread."""

    def __init__(self, html_root: Path):
        class QuietHandler(SimpleHTTPRequestHandler):
            def log_message(self, *args):  # the checks report what matters
                pass

        handler = functools.partial(QuietHandler, directory=str(html_root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.root = html_root
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url_of(self, page: Path) -> str:
        return self.url + page.relative_to(self.root).as_posix()

    def local_path(self, url: str) -> Path | None:
        """The file of the book a URL points to, or None for a URL outside the book."""
        url = urldefrag(url)[0].split("?")[0]
        if not url.startswith(self.url):
            return None
        path = self.root / unquote(urlparse(url).path).lstrip("/")
        return path / "index.html" if path.is_dir() else path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def check_downloads(page: Path, server: Server, report: dict) -> list[str]:
    """The .ipynb and .py of a chapter are linked, exist, and hold the source's code cells."""
    import jupytext
    import nbformat

    source = notebook_source(server.root, page)
    if source is None:
        docname = page.relative_to(server.root).with_suffix("").as_posix()
        if docname in toc.notebooks():  # a chapter whose source the build left out
            return [f"no notebook source _sources/{docname}.md beside the chapter: cannot check "
                    f"its downloads"]
        return []
    problems = []
    source_code = [c.source for c in jupytext.read(source).cells if c.cell_type == "code"]
    for suffix in (".ipynb", ".py"):
        links = [u for u in report["downloads"] if urldefrag(u)[0].endswith(suffix)]
        if not links:
            problems.append(f"no {suffix} download link")
            continue
        path = server.local_path(links[0])
        if path is None or not path.is_file():
            problems.append(f"{suffix} download link points to a missing file: {links[0]}")
            continue
        if suffix == ".ipynb":
            nbformat.validate(nbformat.read(path, as_version=4))
        else:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        code = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
        if code != source_code:
            problems.append(f"{suffix} download does not hold the chapter's code cells")
    return problems


# The longest output a page shows (the longest in the book, a training log, has 55 lines).
MAX_OUTPUT_LINES = 150

# Runs after PAGE_REPORT_JS: what does not fit the text column, and figures without captions.
LAYOUT_REPORT_JS = r"""
(MAX_OUTPUT_LINES) => {
  const main = document.querySelector('main') || document.body;
  const firstLine = el => {
    const cell = el.closest('.cell');
    const code = cell && cell.querySelector('.cell_input pre');
    return (code || el).textContent.trim().split('\n')[0].slice(0, 70);
  };
  const wideCode = [], longOutputs = [];
  for (const pre of main.querySelectorAll('.cell_output pre')) {
    // A cell that ends on an expression prints its value: a list of 3,000 losses is 1,000
    // lines of digits, in the HTML and for pages of the PDF.
    const lines = pre.textContent.split('\n').length;
    if (lines > MAX_OUTPUT_LINES) {
      longOutputs.push(`output of the cell starting ${JSON.stringify(firstLine(pre))}: ` +
                       `${lines} lines`);
    }
  }
  for (const pre of main.querySelectorAll('pre')) {
    if (pre.offsetParent === null) continue;           // hidden (a collapsed cell): not measured
    const over = pre.scrollWidth - pre.clientWidth;
    if (over > 2) {
      const longest = Math.max(...pre.textContent.split('\n').map(l => l.length));
      const where = pre.closest('.cell_output') ? 'output of the cell' : 'code block';
      wideCode.push(`${where} starting ${JSON.stringify(firstLine(pre))}: ` +
                    `${over} px too wide (longest line ${longest} characters)`);
    }
  }
  // A table wider than the column scrolls inside its container; at 1280 px the reader does
  // not expect to, and sees the last column cut.
  for (const table of main.querySelectorAll('table')) {
    if (table.offsetParent === null) continue;
    const over = table.getBoundingClientRect().width - table.parentElement.clientWidth;
    if (over > 2) {
      wideCode.push(`table starting ${JSON.stringify(table.textContent.trim().slice(0, 50))}: ` +
                    `${Math.round(over)} px too wide`);
    }
  }
  const wideMath = [];
  for (const m of main.querySelectorAll('mjx-container[display="true"]')) {
    if (m.offsetParent === null) continue;
    const column = m.parentElement.getBoundingClientRect().width;
    const math = m.querySelector('mjx-math') || m;
    const width = math.getBoundingClientRect().width;
    // A numbered formula's maths can fit while the whole, with its number, does not: its
    // box then scrolls, without a visible scrollbar, and the reader sees it cut.
    const hidden = m.scrollWidth - m.clientWidth;
    if (width > column + 2 || hidden > 2) {
      wideMath.push(`${Math.round(Math.max(width, column + hidden))} px in a ` +
                    `${Math.round(column)} px column: ` +
                    JSON.stringify(m.textContent.slice(0, 60)));
    }
  }
  const shrunk = [], uncaptioned = [];
  for (const img of main.querySelectorAll('img')) {
    if (!img.complete || img.naturalWidth === 0 || img.offsetParent === null) continue;
    const scale = img.getBoundingClientRect().width / img.naturalWidth;
    if (scale < 0.75) {
      shrunk.push(`${img.getAttribute('src')} shown at ${scale.toFixed(2)} of its size`);
    }
    // The frames of an animation's player (matplotlib's JavaScript) are not figures.
    // Numbered, not only captioned: Sphinx numbers a figure that has a name (an id).
    if (img.closest('.cell_output') && !img.closest('.animation') && !(img.closest('figure') &&
                        img.closest('figure').querySelector('figcaption .caption-number'))) {
      uncaptioned.push(firstLine(img));
    }
  }
  return {wideCode, wideMath, shrunk, uncaptioned, longOutputs};
}
"""

DESKTOP = {"width": 1280, "height": 1000}
PHONE = {"width": 360, "height": 800}  # many Android phones; an iPhone is 375-430
# Elements that stick out of the window at phone width (the page would scroll sideways).
PHONE_OVERFLOW_JS = r"""
() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width + 1) return [];
  const out = [];
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && el.offsetParent !== null &&
        !(el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1)) {
      out.push(`<${el.tagName.toLowerCase()} class="${el.className}"> reaches ${Math.round(r.right)} px`);
      if (out.length >= 5) break;
    }
  }
  return out.length ? out : [`the page is ${document.documentElement.scrollWidth} px wide`];
}
"""

# Formulas cut off at the column's edge, in what the reader can open too (solutions, collapsed
# cells), once _static/math_reflow.js has broken them again for the phone's column (and for
# what was hidden, which MathJax typeset without a width). MathJax 4 breaks a displayed
# formula to fit the column (tools/book_mathjax.py): one it broke for another width than the
# one it is shown in (the column measured wrong, or not measured again) is a problem. One
# wider than the column must be one that MathJax cannot break (a boxed result): its box
# scrolls and shows it, a shadow at the column's edge saying that it runs on (a phone shows no
# scroll bar; the shadow is a background that scrolls, `local`). An inline formula may not be
# cut: its box scrolls too (_static/book.css), but mid-sentence the formula just stops.
# MathJax 4 breaks an inline formula after a relation or a binary operator, where TeX's
# convention does; one with no such place must fit. No line is broken inside a table of
# several columns (an aligned derivation, a matrix): MathJax would break left-hand sides and
# entries and unalign the relations (_static/math_aligned.js). Such a formula scrolls like
# one that cannot break, and no column of it is drawn over the next. The displayed formulas
# that scroll as they should are listed too (`scrolling`): not a failure, but the page's
# account names them, for an author to set by hand in rows that fit (CONTRIBUTING.md).
# Run after OPEN_HIDDEN_JS and MATH_REFLOW_JS.
PHONE_CLIPPED_MATH_JS = r"""
() => {
  const inline = [], display = [], measured = [], numbers = [], aligned = [], scrolling = [];
  for (const block of document.querySelectorAll('main div.math')) {
    const number = block.querySelector(':scope > span.eqno');
    const box = block.querySelector('mjx-container');
    if (!number || !box || block.offsetParent === null) continue;
    // Beside the formula, or (on a phone: _static/book.css) on a line of its own under it.
    const f = box.getBoundingClientRect(), n = number.getBoundingClientRect();
    const over = Math.min(f.right - n.left, n.right - f.left);
    const sameLines = Math.min(f.bottom, n.bottom) - Math.max(f.top, n.top) > 1;
    if (over > 1 && sameLines) {
      numbers.push(`${number.textContent.trim()} overlaps its formula by ${Math.round(over)} px`);
    }
  }
  const items = window.MathJax?.startup?.document?.math;
  for (const item of items ? [...items] : []) {
    const box = item.typesetRoot;
    if (!item.display || !box || box.offsetParent === null) continue;
    const width = item.metrics.containerWidth;
    if (Math.abs(width - box.clientWidth) > 4) {
      measured.push(`broken for ${Math.round(width)} px, shown in ${box.clientWidth} px: ` +
                    JSON.stringify(box.textContent.trim().slice(0, 60)));
    }
  }
  for (const el of document.querySelectorAll('main span.math')) {
    // A formula set inline (in a table: _static/book.css) has no box to be cut by: it flows
    // with the text, and a table too wide for the column scrolls inside its own box.
    if (el.offsetParent === null || getComputedStyle(el).display === 'inline') continue;
    // Typeset, the formula's own width; the box's scrollWidth also counts the few pixels of
    // MathJax's hidden speech text and glyph overhang.
    const math = el.querySelector('mjx-math');
    const width = math ? math.getBoundingClientRect().width : el.scrollWidth;
    if (width > el.clientWidth + 2) {
      inline.push(`${Math.round(width)} px in ${el.clientWidth} px: ` +
                  JSON.stringify(el.textContent.trim().slice(0, 60)));
    }
  }
  // The glyphs of a table's cell, left to right: [left edge of the first, right of the last].
  const extent = cell => {
    const xs = [...cell.querySelectorAll('mjx-c')].map(c => c.getBoundingClientRect())
      .filter(r => r.width > 0);
    return xs.length ? [Math.min(...xs.map(r => r.left)), Math.max(...xs.map(r => r.right))]
                     : null;
  };
  for (const box of document.querySelectorAll('main mjx-container[display="true"]')) {
    if (box.offsetParent === null) continue;
    const text = JSON.stringify(box.textContent.trim().slice(0, 60));
    for (const table of box.querySelectorAll('mjx-mtable')) {
      const rows = [...table.querySelectorAll(':scope > mjx-table > mjx-itable > mjx-mtr')]
        .map(row => [...row.querySelectorAll(':scope > mjx-mtd')]);
      if (!rows.some(cells => cells.length > 1)) continue;
      if (table.querySelector('mjx-linestack')) {
        aligned.push(`${text}: broken into lines`);
        break;
      }
      const overlaps = rows.some(cells => cells.slice(1).some((cell, i) => {
        const [left, right] = [extent(cells[i]), extent(cell)];
        return left && right && left[1] > right[0] + 1;
      }));
      if (overlaps) {
        aligned.push(`${text}: a column is drawn over the next`);
        break;
      }
    }
  }
  for (const el of document.querySelectorAll('main div.math, main mjx-container[display="true"]')) {
    if (el.scrollWidth <= el.clientWidth + 2) continue;
    const style = getComputedStyle(el);
    const text = JSON.stringify(el.textContent.trim().slice(0, 60));
    if (!['auto', 'scroll'].includes(style.overflowX)) {
      display.push(`${text}: its box does not scroll`);
    } else if (!style.backgroundAttachment.split(', ').includes('local')) {
      display.push(`${text}: its box scrolls with no shadow at the edge to say so`);
    } else {
      scrolling.push(`${text}: ${el.scrollWidth} px in ${el.clientWidth} px`);
    }
  }
  return {inline, display, measured, numbers, aligned, scrolling};
}
"""


# Opens every solution and collapsed cell.
OPEN_HIDDEN_JS = r"""
() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
}
"""


# After the window changed width or hidden parts were opened: wait until
# _static/math_reflow.js has broken the formulas again for the new column. A page with no
# displayed formula has nothing to wait for.
MATH_REFLOW_JS = r"""
async () => {
  if (!document.querySelector('div.math')) return;
  await new Promise(resolve => setTimeout(resolve, 400));   // the reflow's debounce
  if (window.nnbookMathReflow) await window.nnbookMathReflow;
}
"""


# Inline formulas on another line than the character touching them: a line that starts with
# the ":" after a formula, or ends with the "(" before one, or a formula that MathJax broke
# into lines inside its box with the ";" after it beside the first. The formula is Sphinx's
# span.math (MathJax's output inside it); its neighbour is the text next to it, through any
# inline element that wraps the two. Run at 1280 px and at a phone's width.
DETACHED_MATH_JS = r"""
() => {
  const inline = el => getComputedStyle(el).display.startsWith('inline');
  const neighbour = (node, forward) => {
    const side = n => forward ? n.nextSibling : n.previousSibling;
    while (!side(node) && node.parentElement && inline(node.parentElement))
      node = node.parentElement;
    let next = side(node);
    while (next && next.nodeType === 1 && inline(next) && !next.matches('span.math'))
      next = forward ? next.firstChild : next.lastChild;
    return next && next.nodeType === 3 ? next : null;
  };
  const out = [];
  for (const math of document.querySelectorAll('main span.math')) {
    const shown = [...math.getClientRects()].some(r => r.width > 0);
    if (!shown || !math.offsetParent) continue;            // folded away
    // The formula's lines: those of MathJax's output, which it may break inside the box
    // (the theme's span.math is an inline-flex box: a character after it then sits on
    // the box's first line, however many lines the formula takes).
    const typeset = math.querySelector('mjx-math') ?? math;
    const rects = [...typeset.getClientRects()].filter(r => r.width > 0);
    if (!rects.length) continue;
    const tex = (math.querySelector('mjx-math[data-latex]')?.dataset.latex
                 ?? math.textContent).trim().slice(0, 60);
    for (const forward of [true, false]) {
      const text = neighbour(math, forward);
      if (!text || !text.data) continue;
      const at = forward ? 0 : text.data.length - 1;
      if (/\s/.test(text.data[at])) continue;
      const range = document.createRange();
      range.setStart(text, at);
      range.setEnd(text, at + 1);
      const char = range.getBoundingClientRect();
      const edge = forward ? rects[rects.length - 1] : rects[0];
      const apart = char.top >= edge.bottom - 2 || char.bottom <= edge.top + 2;
      const char0 = `"${text.data[at]}"`;
      if (apart) out.push(forward ? `"${tex}" | ${char0}` : `${char0} | "${tex}"`);
    }
  }
  return out;
}
"""


# Words of four letters or more in table cells that the browser split across lines (a
# word-break, not a hyphenation): a narrow table is to scroll inside its container instead.
PHONE_BROKEN_WORDS_JS = r"""
() => {
  const out = [];
  for (const cell of document.querySelectorAll('main table th, main table td')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/[A-Za-z_][A-Za-z_0-9]{3,}/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1 && !out.includes(m[0])) out.push(m[0]);
      }
    }
  }
  return out;
}
"""


# Tables that scroll sideways inside their box, as a phone shows them: a caption the reader
# cannot read whole (wider than the box, or scrolled out of it with the columns), and a box
# with nothing to say that the table goes on (a phone shows no scroll bar; the box must fade
# at that edge: _static/table_scroll.js).
PHONE_SCROLLING_TABLES_JS = r"""
() => {
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const quote = el => JSON.stringify((el ? el.textContent : '').trim().slice(0, 60));
  const captions = [], unmarked = [];
  for (const table of document.querySelectorAll('main table')) {
    let box = table.parentElement;
    while (box && !scrolls(box)) box = box.parentElement;
    if (!box || !box.offsetParent || box.scrollWidth <= box.clientWidth + 1) continue;
    if (getComputedStyle(box).maskImage === 'none') {
      unmarked.push(quote(table.querySelector('caption, th, td')));
    }
    const caption = table.querySelector(':scope > caption');
    const start = box.scrollLeft;
    for (const at of caption ? [0, box.scrollWidth] : []) {
      box.scrollLeft = at;
      const r = caption.getBoundingClientRect(), b = box.getBoundingClientRect();
      if (r.left < b.left - 1 || r.right > b.left + box.clientWidth + 1) {
        captions.push(quote(caption));
        break;
      }
    }
    box.scrollLeft = start;
  }
  return {captions, unmarked};
}
"""


def layout_problems(layout: dict) -> list[str]:
    """The findings of LAYOUT_REPORT_JS as problems, one line each."""
    problems = [f"wider than the column: {w}" for w in layout["wideCode"]]
    problems += [f"formula wider than the column: {w}" for w in layout["wideMath"]]
    problems += [f"image shrunk: {s} (make the figure at the column's width)"
                 for s in layout["shrunk"]]
    problems += [f"figure without a numbered caption, drawn by the code cell starting {c!r}: "
                 f"add 'mystnb: figure: caption: ... name: ...' to its metadata"
                 for c in layout["uncaptioned"]]
    problems += [f"too long ({MAX_OUTPUT_LINES} lines at most): {o}; does the cell end on an "
                 f"expression whose value it prints?" for o in layout.get("longOutputs", [])]
    problems += [f"at phone width ({PHONE['width']} px) the page scrolls sideways: {o}"
                 for o in layout.get("phoneOverflow", [])]
    clipped = layout.get("phoneClippedMath", {})
    problems += [f"at phone width ({PHONE['width']} px) an inline formula is cut off: {m} "
                 f"(offer a line break: $a =$ $b$, $a + {{}}$ $b$)"
                 for m in clipped.get("inline", [])]
    problems += [f"at phone width ({PHONE['width']} px) a displayed formula is cut off: {m} "
                 f"(_static/book.css)" for m in clipped.get("display", [])]
    problems += [f"at phone width ({PHONE['width']} px) MathJax broke a displayed formula for "
                 f"another column: {m} (_static/book.css, _static/math_reflow.js)"
                 for m in clipped.get("measured", [])]
    problems += [f"at phone width ({PHONE['width']} px) an equation's number {m} (the room "
                 f"for it: div.math in _static/book.css)" for m in clipped.get("numbers", [])]
    problems += [f"at phone width ({PHONE['width']} px) a table in a formula (aligned rows, a "
                 f"matrix) lost its columns: {m} (_static/math_aligned.js)"
                 for m in clipped.get("aligned", [])]
    problems += [f"at {width} an inline formula and the character touching it are on two "
                 f"lines: {m} (book_extension.MathKeepsItsPunctuation; in a table cell, "
                 f"_static/book.css; or offer a line break: $a =$ $b$)"
                 for key, width in (("detachedMath", "1280 px"),
                                    ("phoneDetachedMath", f"phone width ({PHONE['width']} px)"))
                 for m in layout.get(key, [])]
    problems += [f"at phone width ({PHONE['width']} px) a table's caption is cut off at the "
                 f"edge of the box its table scrolls in: {c} (_static/book.css)"
                 for c in layout.get("phoneScrollingTables", {}).get("captions", [])]
    problems += [f"at phone width ({PHONE['width']} px) a table scrolls sideways with no fade "
                 f"at the edge to say so: the table starting {t} (_static/table_scroll.js)"
                 for t in layout.get("phoneScrollingTables", {}).get("unmarked", [])]
    if layout.get("phoneBrokenWords"):
        words = ", ".join(repr(w) for w in layout["phoneBrokenWords"][:8])
        problems.append(f"at phone width ({PHONE['width']} px) table words split across lines: "
                        f"{words} (tables keep words whole and scroll inside their container: "
                        f"_static/book.css)")
    return problems


def _add_new(layout: dict, found: dict) -> None:
    """Add to each list of ``layout`` the findings of ``found`` it does not hold yet."""
    for key, items in found.items():
        layout[key] = layout.get(key, []) + [i for i in items if i not in layout.get(key, [])]


def check_page(browser, page: Path, server: Server, shot: Path | None,
               book: str = "") -> tuple[list[str], str]:
    """Problems found on one page, and a one-line account of what was checked."""
    context = browser.new_context(viewport=DESKTOP)
    errors, outside, failed, statuses = [], [], [], []

    def on_request(request):
        url = request.url
        if not (url.startswith(server.url) or url.startswith(("data:", "blob:", "about:"))):
            outside.append(url)

    # No network: anything that is not a file of the book is refused before it leaves.
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    browser_page = context.new_page()
    browser_page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    browser_page.on("pageerror", lambda e: errors.append(f"uncaught exception: {e}"))
    browser_page.on("request", on_request)
    browser_page.on("requestfailed",
                    lambda r: failed.append(f"{r.url} ({r.failure})") if r.url not in outside else None)
    browser_page.on("response",
                    lambda r: statuses.append(f"{r.url} ({r.status})") if r.status >= 400 else None)
    problems = []
    try:
        response = browser_page.goto(server.url_of(page), wait_until="load", timeout=30_000)
        if response is not None and not response.ok:
            problems.append(f"load failed: {response.status}")
        report = browser_page.evaluate(PAGE_REPORT_JS, [RAW_TEX, NUMPY_REPR])
        layout = browser_page.evaluate(LAYOUT_REPORT_JS, MAX_OUTPUT_LINES)
        layout["detachedMath"] = browser_page.evaluate(DETACHED_MATH_JS)
        # On a phone the column is narrower than any code: wide blocks must scroll inside
        # themselves, never make the whole page scroll sideways.
        browser_page.set_viewport_size(PHONE)
        browser_page.evaluate(MATH_REFLOW_JS)
        layout["phoneOverflow"] = browser_page.evaluate(PHONE_OVERFLOW_JS)
        layout["phoneBrokenWords"] = browser_page.evaluate(PHONE_BROKEN_WORDS_JS)
        layout["phoneScrollingTables"] = browser_page.evaluate(PHONE_SCROLLING_TABLES_JS)
        browser_page.wait_for_timeout(200)  # let late console messages arrive
        if shot is not None:
            browser_page.screenshot(path=str(shot), full_page=False)
        # Last: every solution and collapsed cell opened, and what they hid measured like the
        # rest (at phone width, then at 1280 px), each finding once.
        browser_page.evaluate(OPEN_HIDDEN_JS)
        browser_page.evaluate(MATH_REFLOW_JS)
        layout["phoneClippedMath"] = browser_page.evaluate(PHONE_CLIPPED_MATH_JS)
        layout["phoneDetachedMath"] = browser_page.evaluate(DETACHED_MATH_JS)
        _add_new(layout, {"phoneOverflow": browser_page.evaluate(PHONE_OVERFLOW_JS)})
        browser_page.set_viewport_size(DESKTOP)
        browser_page.evaluate(MATH_REFLOW_JS)
        _add_new(layout, browser_page.evaluate(LAYOUT_REPORT_JS, MAX_OUTPUT_LINES))
    finally:
        context.close()

    problems += [f"console error: {e}" for e in errors]
    problems += [f"request to outside the book: {u}" for u in outside]
    problems += [f"failed request: {u}" for u in failed]
    problems += [f"request answered with an error: {u}" for u in statuses]
    if report["hasMath"] and report["mjx"] == 0:
        problems.append("page has maths but MathJax typeset none of it")
    problems += [f"TeX error: {e}" for e in report["texErrors"]]
    problems += [f"raw TeX left in text: {t!r}" for t in report["raw"]]
    problems += [f"a NumPy scalar's repr in the text (glue float() or int() of it): {t!r}"
                 for t in report["reprs"]]
    for img in report["images"]:
        if not img["loaded"]:
            problems.append(f"image does not load: {img['src']}")
        if img["drawn"] and not img["linked"]:
            problems.append(f"figure not linked to itself at full size "
                            f"(_static/figure_links.js): {img['src']}")
        if img["inContent"]:
            alt = (img["alt"] or "").strip()
            if not alt or Path(alt).name == Path(img["src"] or "").name:
                if img["cell"] is not None:
                    problems.append(
                        f"figure without alt text, drawn by the code cell starting "
                        f"{img['cell']!r}: add 'mystnb: image: alt: ...' to its metadata"
                    )
                else:
                    problems.append(f"image without alt text (add :alt:): {img['src']}")
    for url in report["links"]:
        path = server.local_path(url)
        if path is not None and not path.exists():
            problems.append(f"broken link: {url}")
    if report["searchFields"] != 1:
        problems.append(f"{report['searchFields']} search fields visible at 1280 px (one expected)")
    problems += layout_problems(layout)
    problems += check_downloads(page, server, report)
    problems += check_surroundings(page, server, report, book)
    stats = f"{report['mjx']} formulas typeset, {len(report['images'])} images"
    if report["downloads"]:
        stats += ", " + " ".join(sorted(Path(urldefrag(u)[0]).suffix for u in report["downloads"]))
    stats += scrolling_account(layout.get("phoneClippedMath", {}).get("scrolling", []))
    return problems, stats


def scrolling_account(scrolling: list[str]) -> str:
    """The displayed formulas that scroll at phone width, for a page's line of the report."""
    if not scrolling:
        return ""
    n = len(scrolling)
    return (f"; at phone width {n} displayed formula{'s' * (n > 1)} "
            f"scroll{'s' * (n == 1)}: {'; '.join(scrolling)}")


def check_surroundings(page: Path, server: Server, report: dict, book: str) -> list[str]:
    """Title, favicon, logo, licence; no path of the build machine; clean API signatures."""
    problems = []
    if book:
        landing = page.relative_to(server.root).as_posix() == "book/index.html"
        problems += title_problems(report["titles"], book, landing)
    if not any("icon" in icon["rel"].split() for icon in report["icons"]):
        problems.append("no favicon (<link rel=\"icon\">)")
    for icon in report["icons"]:
        path = server.local_path(icon["href"])
        if path is None or not path.is_file():
            problems.append(f"icon that is not a file of the book: {icon['href']}")
        elif path.suffix == ".ico":
            # Playwright takes any URL ending in /favicon.ico for the browser's own favicon
            # request, and a page whose requests are routed cannot load it: read it here.
            from PIL import Image

            try:
                with Image.open(path) as image:
                    image.load()
            except Exception as exc:  # noqa: BLE001 - reported as a failed check
                problems.append(f"icon that cannot be read ({exc}): {icon['href']}")
        elif not icon["loaded"]:
            problems.append(f"icon that the browser cannot draw: {icon['href']}")
    if report["logos"] < 1:
        problems.append("no logo shown in the sidebar at 1280 px")
    for name, address in LICENCES.items():
        if not any(address in href for href in report["licences"]):
            problems.append(f"no licence link for {name} ({address}) in the footer")
    # This checkout and the built book's folder, wherever they are (CI's runner, a laptop).
    here = (str(Path(__file__).resolve().parent.parent), str(server.root))
    problems += [f"path of the build machine in the page: {p!r}"
                 for p in machine_paths(report["text"], also=here)]
    for signature in report["signatures"]:
        problems += signature_problems(signature)
    return problems


# Runs on the search page once results are listed: the snippets' text outside typeset maths.
SNIPPETS_JS = r"""
async () => {
  const snippets = [...document.querySelectorAll('#search-results p.context')];
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    await MathJax.typesetPromise(snippets);
  }
  const pattern = /\$\$|\$[^$\s][^$\n]*\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\frac/;
  const raw = [];
  for (const p of snippets) {
    const copy = p.cloneNode(true);
    copy.querySelectorAll('mjx-container').forEach(m => m.remove());
    const m = copy.textContent.match(pattern);
    if (m) raw.push(copy.textContent.trim().slice(0, 100));
  }
  return {snippets: snippets.length, formulas: document.querySelectorAll('#search-results mjx-container').length, raw};
}
"""


def check_search(browser, server: Server, word: str, shot: Path | None) -> list[str]:
    context = browser.new_context(viewport=DESKTOP)
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server.url}search.html?q={word}", wait_until="load")
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        # Results are listed one by one, then a summary; each snippet is fetched with its page.
        page.wait_for_function(
            "[...document.querySelectorAll('#search-results p.search-summary')]"
            ".some(p => p.textContent.includes('found'))", timeout=60_000)
        page.wait_for_load_state("networkidle")
        n = page.locator("#search-results ul.search li").count()
        snippets = page.evaluate(SNIPPETS_JS)
        if shot is not None:
            page.screenshot(path=str(shot), full_page=False)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return [f"search for {word!r} listed no results ({type(exc).__name__})"] + errors
    finally:
        context.close()
    print(f"ok    search.html?q={word}: {n} results, {snippets['snippets']} snippets, "
          f"{snippets['formulas']} formulas typeset in them")
    return search_problems(word, snippets, errors)


def search_problems(word: str, snippets: dict, errors: list[str]) -> list[str]:
    """What is wrong with the results of a search for ``word`` (SNIPPETS_JS's counts).

    The word is one whose results hold maths, so the results must show snippets, with maths
    typeset in them and no raw TeX left.
    """
    problems = [f"console error: {e}" for e in errors]
    if snippets["snippets"] == 0:
        problems.append(f"the results for {word!r} show no snippet")
    elif snippets["formulas"] == 0:
        problems.append(f"no maths typeset in the snippets of the results for {word!r}")
    return problems + [f"raw TeX in a search snippet: {t!r}" for t in snippets["raw"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, nargs="?", default=Path("_build/html"))
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="folder for screenshots of a few pages")
    parser.add_argument("--search-word", default="gradient")
    args = parser.parse_args(argv)
    html_root = args.html.resolve()
    if not (html_root / "searchindex.js").exists():
        print(f"check_html: {html_root} is not a built book (no searchindex.js)", file=sys.stderr)
        return 1

    from playwright.sync_api import sync_playwright

    pages = sorted(
        p for p in html_root.rglob("*.html")
        if not p.relative_to(html_root).parts[0] in SKIP
        and p.relative_to(html_root) != Path("index.html")  # a redirect to book/index.html
    )
    # Screenshots: the landing page, the first chapter of every step, the references and an
    # API page.
    wanted, seen_steps = set(), set()
    for p in pages:
        rel = p.relative_to(html_root).as_posix()
        step = re.match(r"book/(\d\d)_", rel)
        if rel in ("book/index.html", "book/references.html", "book/api/layers.html") or (
            step and step.group(1) not in seen_steps
        ):
            wanted.add(p)
            if step:
                seen_steps.add(step.group(1))
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)

    n_ok, n_bad = 0, 0
    book = book_title()
    start = time.perf_counter()
    server = Server(html_root)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for page in pages:
            rel = page.relative_to(html_root).as_posix()
            shot = None
            if args.screenshots and page in wanted:
                shot = args.screenshots / (rel.replace("/", "_").removesuffix(".html") + ".png")
            problems, stats = check_page(browser, page, server, shot, book)
            if problems:
                n_bad += 1
                print(f"FAIL  {rel}")
                for problem in problems:
                    print(f"        {problem}")
            else:
                n_ok += 1
                print(f"ok    {rel}: {stats}")
        shot = args.screenshots / "search.png" if args.screenshots else None
        problems = check_search(browser, server, args.search_word, shot)
        if problems:
            n_bad += 1
            print("FAIL  search.html\n        " + "\n        ".join(problems))
        else:
            n_ok += 1
        browser.close()
    server.close()
    print(f"check_html: {len(pages)} pages and the search checked in "
          f"{time.perf_counter() - start:.0f} s"
          + (f"; screenshots in {args.screenshots}" if args.screenshots else ""))
    print(f"check_html: {n_ok} passed, {n_bad} failed")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())

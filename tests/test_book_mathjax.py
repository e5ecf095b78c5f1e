"""MathJax 4 for the HTML build (tools/book_mathjax.py): fetched once, verified, all or nothing.

No test touches the network: the packages are small tarballs made here, served from a folder
(as ``NNBOOK_MATHJAX`` gives one) or by a local HTTP server standing in for the npm registry.
"""

import base64
import contextlib
import hashlib
import io
import re
import tarfile
from types import SimpleNamespace

import book_mathjax
import pytest
from conftest import closed_port_url


def tarball(files: dict[str, bytes]) -> bytes:
    """A .tgz holding ``files`` (name -> content), as npm packs a package."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


MAIN = {
    "package/tex-chtml.js": b"// the component",
    "package/input/tex/extensions/cancel.js": b"// loaded on demand",
    "package/node-main.js": b"// for Node only",
    "package/tex-svg.js": b"// another component",
    "package/../../escaped.js": b"// must not leave the folder",
    "other/input/x.js": b"// outside package/",
}
FONT = {
    "package/chtml/woff2/mjx-ncm-n.woff2": b"font",
    "package/svg/x.js": b"// the SVG output's",
}


@pytest.fixture
def packages(monkeypatch, tmp_path):
    """Two fake packages pinned as book_mathjax pins the real ones; returns their folder."""
    main, font = tarball(MAIN), tarball(FONT)
    pinned = (
        book_mathjax.Package("mathjax", "9.0.1", integrity(main),
                             keep=("tex-chtml.js", "input"), into=""),
        book_mathjax.Package("@mathjax/some-font", "9.0.2", integrity(font),
                             keep=("chtml",), into="fonts/some-font"),
    )
    monkeypatch.setattr(book_mathjax, "PACKAGES", pinned)
    monkeypatch.delenv(book_mathjax.ENV, raising=False)
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "mathjax-9.0.1.tgz").write_bytes(main)
    (packed / "mathjax-some-font-9.0.2.tgz").write_bytes(font)
    return packed


def served_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_served_folder_holds_what_the_book_serves_and_nothing_else(packages, tmp_path):
    folder = book_mathjax.ensure_mathjax(tmp_path / "cache" / "mj", local=packages)
    assert served_files(folder) == [
        "mathjax/fonts/some-font/chtml/woff2/mjx-ncm-n.woff2",
        "mathjax/input/tex/extensions/cancel.js",
        "mathjax/tex-chtml.js",
    ]
    assert (folder / "mathjax" / "tex-chtml.js").read_bytes() == b"// the component"
    assert not list(tmp_path.rglob("escaped.js"))
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["mj"]   # no temporary left


def test_the_environment_variable_names_the_folder_of_packed_files(packages, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv(book_mathjax.ENV, str(packages))
    folder = book_mathjax.ensure_mathjax(tmp_path / "mj")
    assert (folder / "mathjax" / "tex-chtml.js").is_file()


def test_a_folder_already_served_is_used_as_it_is(packages, tmp_path):
    folder = book_mathjax.ensure_mathjax(tmp_path / "mj", local=packages)
    (folder / "mathjax" / "tex-chtml.js").write_bytes(b"// kept")
    for packed in packages.iterdir():
        packed.unlink()                  # nothing to read: it must not be read again
    assert book_mathjax.ensure_mathjax(folder, local=packages) == folder
    assert (folder / "mathjax" / "tex-chtml.js").read_bytes() == b"// kept"


def test_a_build_that_finishes_second_uses_the_first_ones_folder(packages, tmp_path,
                                                                 monkeypatch):
    folder = tmp_path / "cache" / "mj"
    read = book_mathjax.read_package
    first = tmp_path / "first"
    book_mathjax.ensure_mathjax(first, local=packages)
    (first / "mathjax" / "tex-chtml.js").write_bytes(b"// the first build's")

    def another_build_finishes_meanwhile(package, local):
        if not folder.exists():
            first.rename(folder)
        return read(package, local)

    monkeypatch.setattr(book_mathjax, "read_package", another_build_finishes_meanwhile)
    assert book_mathjax.ensure_mathjax(folder, local=packages) == folder
    assert (folder / "mathjax" / "tex-chtml.js").read_bytes() == b"// the first build's"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["mj"]   # no temporary left


def test_a_rename_that_fails_for_another_reason_is_not_hidden(packages, tmp_path, monkeypatch):
    def refused(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(book_mathjax.os, "replace", refused)
    with pytest.raises(PermissionError):
        book_mathjax.ensure_mathjax(tmp_path / "cache" / "mj", local=packages)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_damaged_package_is_refused_and_leaves_nothing(packages, tmp_path):
    font = packages / "mathjax-some-font-9.0.2.tgz"
    font.write_bytes(font.read_bytes()[:-10])          # cut off: the second package fails
    with pytest.raises(book_mathjax.IntegrityError,
                       match=r"mathjax-some-font-9\.0\.2\.tgz: @mathjax/some-font 9\.0\.2 has "
                             r"sha512 .*, expected .*Nothing was unpacked"):
        book_mathjax.ensure_mathjax(tmp_path / "cache" / "mj", local=packages)
    # the first package, verified and unpacked, went with the temporary folder
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_missing_packed_file_says_which_file_and_what_is_there(packages, tmp_path):
    (packages / "mathjax-9.0.1.tgz").rename(packages / "mathjax.tgz")
    with pytest.raises(FileNotFoundError, match=r"expected the file mathjax-9\.0\.1\.tgz "
                       r"there \(`npm pack mathjax@9\.0\.1` writes it\); found "
                       r"\['mathjax-some-font-9\.0\.2\.tgz', 'mathjax\.tgz'\]"):
        book_mathjax.ensure_mathjax(tmp_path / "mj", local=packages)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        book_mathjax.ensure_mathjax(tmp_path / "mj", local=tmp_path / "nowhere")
    assert not (tmp_path / "mj").exists()


def test_without_a_folder_the_packages_come_from_the_registry(packages, tmp_path, serve,
                                                              monkeypatch):
    registry = tmp_path / "registry"        # laid out as registry.npmjs.org serves tarballs
    (registry / "mathjax" / "-").mkdir(parents=True)
    (registry / "@mathjax" / "some-font" / "-").mkdir(parents=True)
    (packages / "mathjax-9.0.1.tgz").rename(registry / "mathjax" / "-" / "mathjax-9.0.1.tgz")
    (packages / "mathjax-some-font-9.0.2.tgz").rename(
        registry / "@mathjax" / "some-font" / "-" / "some-font-9.0.2.tgz")
    monkeypatch.setattr(book_mathjax, "REGISTRY", serve(registry).rstrip("/"))
    folder = book_mathjax.ensure_mathjax(tmp_path / "cache" / "mj")
    assert len(served_files(folder)) == 3


@pytest.mark.parametrize("where", ["closed", "cut off"])
def test_a_failed_download_says_how_to_build_offline(packages, tmp_path, monkeypatch,
                                                     cut_off_server, where):
    url = closed_port_url() if where == "closed" else cut_off_server
    monkeypatch.setattr(book_mathjax, "REGISTRY", url.rstrip("/"))
    with pytest.raises(RuntimeError, match=r"could not download .*mathjax-9\.0\.1\.tgz .*"
                       r"point NNBOOK_MATHJAX at it"):
        book_mathjax.ensure_mathjax(tmp_path / "cache" / "mj")
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_pinned_packages_are_the_registrys_names_and_sha512():
    main, font = book_mathjax.PACKAGES
    assert main.url == "https://registry.npmjs.org/mathjax/-/mathjax-4.1.3.tgz"
    assert font.url == ("https://registry.npmjs.org/@mathjax/mathjax-newcm-font/-/"
                        "mathjax-newcm-font-4.1.3.tgz")
    assert font.packed == "mathjax-mathjax-newcm-font-4.1.3.tgz"
    for package in book_mathjax.PACKAGES:
        algorithm, _, digest = package.integrity.partition("-")
        assert algorithm == "sha512" and len(base64.b64decode(digest)) == 64


def test_every_page_is_told_where_the_fonts_are_and_to_break_wide_formulas():
    config = SimpleNamespace(mathjax3_config={"tex": {"macros": {"R": "\\mathbb{R}"}}},
                             mathjax_path="elsewhere.js")
    book_mathjax.use_mathjax(None, config)
    assert config.mathjax_path == "mathjax/tex-chtml.js"
    assert config.mathjax3_config["output"]["displayOverflow"] == "linebreak"
    assert config.mathjax3_config["loader"] == {"paths": {"fonts": "[mathjax]/fonts"}}
    assert config.mathjax3_config["tex"] == {"macros": {"R": "\\mathbb{R}"}}  # the book's own kept


def test_only_an_html_build_fetches_mathjax(monkeypatch, tmp_path):
    monkeypatch.setattr(book_mathjax, "served_folder", lambda: tmp_path / "mj")
    monkeypatch.setattr(book_mathjax, "ensure_mathjax", lambda folder: pytest.fail("fetched"))
    app = SimpleNamespace(builder=SimpleNamespace(format="latex"),
                          config=SimpleNamespace(html_static_path=["_static"]))
    book_mathjax.add_static(app)
    assert app.config.html_static_path == ["_static"]
    said = []
    monkeypatch.setattr(book_mathjax.logger, "info", said.append)
    monkeypatch.setattr(book_mathjax, "ensure_mathjax", lambda folder: folder)
    app.builder.format = "html"
    book_mathjax.add_static(app)
    assert app.config.html_static_path == ["_static", str(tmp_path / "mj")]
    assert said == [f"nnbook: MathJax 4.1.3 is not in {tmp_path / 'mj'}: taking it from the "
                    f"npm registry (two packages, 19 MB)"]
    (tmp_path / "mj" / "mathjax").mkdir(parents=True)
    (tmp_path / "mj" / "mathjax" / "tex-chtml.js").write_text("// cached")
    book_mathjax.add_static(app)      # in the cache: nothing to say
    assert len(said) == 1


@contextlib.contextmanager
def phone_math_tab(tmp_path, serve, page: str):
    """A headless Chromium tab at a phone's width showing ``page`` (HTML whose ``{config}``
    is filled with the book's MathJax configuration), served with MathJax and the book's
    ``book.css``, ``math_reflow.js`` and ``math_aligned.js``, once MathJax has typeset it;
    skips without Chromium or without MathJax in the cache."""
    import json
    import os

    import check_html
    from _book import ROOT

    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(check_html.CHROMIUM):
        pytest.skip(f"no {check_html.CHROMIUM}")
    if not book_mathjax.is_served(book_mathjax.served_folder()):
        pytest.skip("MathJax is not in the cache yet (the book's HTML build fetches it)")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "mathjax").symlink_to(book_mathjax.served_folder() / "mathjax")
    for name in ("book.css", "math_reflow.js", "math_aligned.js"):
        (tmp_path / "_static" / name).write_text((ROOT / "_static" / name).read_text())
    config = dict(book_mathjax.MATHJAX_CONFIG, options=dict(
        book_mathjax.MATHJAX_CONFIG["options"], processHtmlClass="math"))
    (tmp_path / "page.html").write_text(page.replace("{config}", json.dumps(config)))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=check_html.CHROMIUM,
                                     args=check_html.CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport=check_html.PHONE)
            tab.goto(serve(tmp_path) + "page.html", wait_until="load")
            tab.evaluate("async () => { await MathJax.startup.promise; }")
            tab.evaluate(check_html.MATH_REFLOW_JS)
            yield tab
        finally:
            browser.close()


# A numbered formula too wide for a phone, one folded away, and the theme's own CSS
# for displayed maths (a flex row, the number beside the formula), which book.css replaces.
WIDE = " + ".join(f"a_{{{i}}}" for i in range(1, 41))
MATH_PAGE = """<!DOCTYPE html><html><head>
<style>div.math {{ align-items: center; display: flex; flex-direction: row-reverse; gap: .5em;
  max-width: 100%; overflow: hidden; }} div.math mjx-container {{ flex-grow: 1; overflow: auto; }}
  span.eqno {{ float: right; }}
  /* folded away as a browser may do it, with no layout at all (Chromium keeps a closed
     <details>'s width) */
  .toggle-hidden {{ display: none; }}</style>
{book_css}
<script>window.MathJax = {config};</script>
<script defer src="_static/mathjax/tex-chtml.js"></script>
{reflow}
</head><body><main><article>
<div class="math" id="shown"><span class="eqno">(8.1)</span>\\[{wide}\\]</div>
<div class="toggle-hidden"><div class="math" id="folded">\\[{wide} = b\\]</div></div>
</article></main></body></html>"""


@pytest.mark.slow
@pytest.mark.parametrize("css, reflow", [(True, True), (False, True), (True, False)])
def test_wide_formulas_break_to_the_phones_column_shown_or_unfolded(tmp_path, serve, css,
                                                                    reflow):
    """With book.css and math_reflow.js, MathJax breaks every formula for the column it is
    shown in; without them, check_html sees formulas broken for another width."""
    import check_html

    page = MATH_PAGE.format(
        config="{config}", wide=WIDE,
        book_css='<link rel="stylesheet" href="_static/book.css">' if css else "",
        reflow='<script src="_static/math_reflow.js"></script>' if reflow else "")
    with phone_math_tab(tmp_path, serve, page) as tab:
        on_load = tab.evaluate(check_html.PHONE_CLIPPED_MATH_JS)
        lines = tab.evaluate("document.querySelectorAll('#shown mjx-linebox').length")
        tab.evaluate(check_html.OPEN_HIDDEN_JS)
        tab.evaluate(check_html.MATH_REFLOW_JS)
        unfolded = tab.evaluate(check_html.PHONE_CLIPPED_MATH_JS)
        tab.set_viewport_size({"width": 1280, "height": 900})
        tab.evaluate(check_html.MATH_REFLOW_JS)
        wide_lines = tab.evaluate("document.querySelectorAll('#shown mjx-linebox').length")
        tab.set_viewport_size(check_html.PHONE)
        tab.evaluate(check_html.MATH_REFLOW_JS)
        turned = tab.evaluate(check_html.PHONE_CLIPPED_MATH_JS)
    if css and reflow:
        for report in (on_load, unfolded, turned):
            assert report == {"inline": [], "display": [], "measured": [], "numbers": [],
                              "aligned": [], "scrolling": []}   # broken: none scrolls
        assert lines >= 4 and wide_lines < lines   # 40 terms: several lines on a phone only
    elif not css:
        # The theme's flex row: MathJax measured a sliver of the column (35 px of 305).
        assert on_load["measured"]
        width, shown = re.match(r"broken for (\d+) px, shown in (\d+) px",
                                on_load["measured"][0]).groups()
        assert int(width) < int(shown) / 4
    else:
        # Shown on load, the formula fits; the folded one, typeset while hidden, had no
        # column to break for, and once unfolded nothing breaks it again.
        assert on_load["measured"] == []
        assert unfolded["measured"]
        assert all(m.startswith("broken for 1000000 px") for m in unfolded["measured"])


# Sphinx's HTML for a numbered derivation of several lines (a "split" around the aligned
# rows), too wide for a phone, after a flat formula that MathJax breaks for the column and
# one it breaks for a narrow box (as a formula in a table's cell).
ALIGNED = r"""\begin{split}
\begin{aligned}
\langle G, X\,\mathrm dW \rangle &= \operatorname{tr}(G^\top X\,\mathrm dW)
= \langle X^\top G, \mathrm dW \rangle \;\Rightarrow\; \tfrac{\partial L}{\partial W} = X^\top G, \\
\langle G, \mathrm dX\, W \rangle &= \operatorname{tr}(W G^\top \mathrm dX)
= \langle G W^\top, \mathrm dX \rangle \;\Rightarrow\; \tfrac{\partial L}{\partial X} = G\, W^\top
\end{aligned}
\end{split}"""
ALIGNED_PAGE = """<!DOCTYPE html><html><head>
<style>:root {{ --pst-color-background: #fff; --pst-color-text-base: #222832; }}</style>
<link rel="stylesheet" href="_static/book.css">
<script>window.MathJax = {config};</script>
{aligned_js}
<script defer src="_static/mathjax/tex-chtml.js"></script>
<script src="_static/math_reflow.js"></script>
</head><body><main><article>
<div class="math" id="flat"><span class="eqno">(3.1)</span>\\[{wide}\\]</div>
<div style="width: 60px"><div class="math" id="narrow">\\[a + b + c + d\\]</div></div>
<div class="math" id="aligned"><span class="eqno">(3.2)</span>\\[{aligned}\\]</div>
</article></main></body></html>"""
# For each row of the aligned formula: the right edge of its left-hand side, and the left
# edge of the relation that starts its right-hand side.
ROWS_JS = r"""() => [...document.querySelectorAll('#aligned mjx-mtable')].filter(t =>
    t.querySelector(':scope > mjx-table > mjx-itable > mjx-mtr > mjx-mtd + mjx-mtd')).flatMap(t =>
  [...t.querySelectorAll(':scope > mjx-table > mjx-itable > mjx-mtr')].map(row => {
    const [left, right] = row.querySelectorAll(':scope > mjx-mtd');
    return [left.getBoundingClientRect().right,
            right.querySelector('mjx-mo').getBoundingClientRect().left];
  }))"""


@pytest.mark.slow
@pytest.mark.parametrize("aligned_js", [True, False])
def test_an_aligned_derivation_keeps_its_columns_on_a_phone_and_scrolls(tmp_path, serve,
                                                                        aligned_js):
    """With math_aligned.js, a derivation too wide for a phone is set whole, its relations
    in one column, and scrolls in its box; a flat formula still breaks. Without it, MathJax
    breaks the derivation's lines, and check_html says so."""
    import check_html

    page = ALIGNED_PAGE.format(
        config="{config}", wide=WIDE, aligned=ALIGNED,
        aligned_js='<script src="_static/math_aligned.js"></script>' if aligned_js else "")
    with phone_math_tab(tmp_path, serve, page) as tab:
        report = tab.evaluate(check_html.PHONE_CLIPPED_MATH_JS)
        flat_lines = tab.evaluate("document.querySelectorAll('#flat mjx-linebox').length")
        rows = tab.evaluate(ROWS_JS)
        scrolls = tab.evaluate("(() => { const b = document.querySelector("
                               "'#aligned mjx-container'); "
                               "return b.scrollWidth > b.clientWidth + 10; })()")
        tab.set_viewport_size({"width": 1280, "height": 900})
        tab.evaluate(check_html.MATH_REFLOW_JS)
        wide_rows = tab.evaluate(ROWS_JS)
    assert flat_lines >= 4    # the flat formula is broken for the phone either way
    if aligned_js:
        scrolling = report.pop("scrolling")
        assert report == {"inline": [], "display": [], "measured": [], "numbers": [],
                          "aligned": []}
        assert scrolls
        # no problem, but named in the page's account (the derivation, not the flat formula)
        assert len(scrolling) == 1 and scrolling[0].startswith('"⟨')
        assert re.search(r": \d+ px in \d+ px$", scrolling[0])
        for page_rows in (rows, wide_rows):
            assert len(page_rows) == 2
            relations = [right for _, right in page_rows]
            assert max(relations) - min(relations) < 1           # one column of "="
            assert all(left <= right + 1 for left, right in page_rows)   # none overlaps
    else:
        assert len(report["aligned"]) == 1 and report["aligned"][0].startswith('"⟨')
        assert report["aligned"][0].endswith(": broken into lines")

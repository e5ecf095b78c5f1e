"""MathJax 4, served with the book: formulas that break into lines to fit a phone, no CDN.

MathJax typesets the book's formulas in the reader's browser. MathJax 3 cannot break a formula
into lines: on a phone, every displayed formula wider than the column (more than a hundred of
them) had to scroll sideways, behind a shadow that said it ran on. MathJax 4 breaks displayed
and inline formulas where TeX would, after a relation or a binary operator, to fit the column
(:data:`MATHJAX_CONFIG`).

No Python package ships MathJax 4, so on the first HTML build this extension takes it from the
npm registry, as npm would: two pinned packages (:data:`PACKAGES`), each checked against the
SHA-512 that the registry publishes for it (``npm view mathjax@4.1.3 dist.integrity``). What
the book serves is unpacked into a temporary folder beside the cache and renamed into place
only once complete and verified, so an interrupted or corrupt download leaves nothing that a
later build would trust. Later builds read the cache and need no network.

Where the packages come from, in order:

1. ``$NNBOOK_MATHJAX``: a folder holding the two ``.tgz`` files, named as ``npm pack`` names
   them (``mathjax-4.1.3.tgz``, ``mathjax-mathjax-newcm-font-4.1.3.tgz``), for a build with
   no network; they are verified just the same;
2. otherwise the npm registry, once, into the per-user cache
   (``~/.cache/nnscratch/mathjax-4.1.3-mathjax-newcm-font-4.1.3/`` on Linux:
   :func:`served_folder`, :func:`nnscratch.data.store.default_cache_dir`).

Registered in ``_config.yml`` under ``sphinx: local_extensions``. The PDF does not use it:
LaTeX typesets the formulas there.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.client
import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nnscratch.data.store import default_cache_dir
from sphinx.util import logging

logger = logging.getLogger(__name__)

ENV = "NNBOOK_MATHJAX"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    """An npm package: which of its files the book serves, and where under ``mathjax/``."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>", as the registry's dist.integrity gives it
    keep: tuple[str, ...]  # paths inside the package: a folder keeps everything under it
    into: str  # where they go, relative to the served mathjax/ folder

    @property
    def url(self) -> str:
        """Where the registry serves its tarball."""
        base = self.name.rsplit("/", 1)[-1]
        return f"{REGISTRY}/{self.name}/-/{base}-{self.version}.tgz"

    @property
    def packed(self) -> str:
        """The tarball's name as ``npm pack`` writes it (``@a/b`` becomes ``a-b``)."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


PACKAGES = (
    # The browser component for TeX input and HTML output, with what it loads on demand: TeX
    # extensions (input/), the accessibility tools and their speech rules (a11y/, sre/), the
    # menu (ui/). Not the other combined components, nor the files for Node.
    Package(
        "mathjax",
        "4.1.3",
        "sha512-BN/8Pkgn7G1pIDYJqd9md+JHsE/jydSYbyOZnSdS"
        "A0WziuVO8mRxdYiWFumkVVly/8U+hm9DpIIoWuvySverzw==",
        keep=("tex-chtml.js", "LICENSE", "package.json",
              "input", "output", "a11y", "adaptors", "sre", "ui"),
        into="",
    ),
    # Its default font (New Computer Modern), the web fonts and the tables loaded on demand;
    # not the SVG output's, nor the modules for Node.
    Package(
        "@mathjax/mathjax-newcm-font",
        "4.1.3",
        "sha512-gzAB3dFHilHX1l5x2xUqRL+1jDQt3Fyza1DkEMVX"
        "WC4E8SvsGdlgEza47HYi2WhVcgfkvf4zgUGzuhbq3Pjlew==",
        keep=("chtml", "package.json"),
        into="fonts/mathjax-newcm-font",
    ),
)

# What every page's MathJax is told (Sphinx writes it as window.MathJax).
# - The fonts are found beside the component, not on a CDN.
# - A displayed formula too wide for the column breaks into lines (MathJax 4's default for
#   display maths is to overflow), to 95 % of the column: to the full width, lines that end in
#   a piece MathJax cannot break (a fraction, a subscript) ran a few pixels past the edge of a
#   phone's column in seven formulas; at 95 % none does. Inline formulas break too.
# - Accessibility as MathJax 3 gave it: hidden MathML beside each formula, which screen readers
#   read. MathJax 4 also computes speech and braille strings for every formula, in the page:
#   Step 8's theory page took 11 to 12 s to load and typeset in headless Chromium here,
#   against 2 to 3 s without them, and the reader sees nothing of them. Its menu still turns
#   them on.
MATHJAX_CONFIG = {
    "loader": {"paths": {"fonts": "[mathjax]/fonts"}},
    "output": {
        "displayOverflow": "linebreak",
        "linebreaks": {"inline": True, "width": "95%"},
    },
    "options": {
        "menuOptions": {
            "settings": {
                "assistiveMml": True,
                "enrich": False,
                "speech": False,
                "braille": False,
            }
        }
    },
}


class IntegrityError(ValueError):
    """A package whose bytes are not the ones the registry published."""


def is_served(folder: Path) -> bool:
    """Whether ``folder`` holds the unpacked MathJax the book serves."""
    return (Path(folder) / "mathjax" / "tex-chtml.js").is_file()


def npm_pack_command() -> str:
    """The command that writes the packed files ``NNBOOK_MATHJAX`` names a folder of."""
    return "npm pack " + " ".join(f"{p.name}@{p.version}" for p in PACKAGES)


def served_folder() -> Path:
    """The folder whose ``mathjax/`` subfolder the book serves, for these pinned versions."""
    tag = "-".join(f"{p.name.rsplit('/', 1)[-1]}-{p.version}" for p in PACKAGES)
    return default_cache_dir(tag)


def check_integrity(data: bytes, package: Package, where: str) -> bytes:
    """``data`` if its SHA-512 is the one the registry published; else IntegrityError."""
    algorithm, _, expected = package.integrity.partition("-")
    got = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if got != expected:
        raise IntegrityError(
            f"{where}: {package.name} {package.version} has {algorithm} {got[:16]}..., "
            f"expected {expected[:16]}... ({len(data)} bytes): damaged, cut off or another "
            f"version. Nothing was unpacked."
        )
    return data


def read_package(package: Package, local: Path | None, timeout: float = 60.0) -> bytes:
    """The verified bytes of ``package``'s tarball, from the folder ``local`` or the registry."""
    if local is not None:
        path = local / package.packed
        if not path.is_file():
            raise FileNotFoundError(
                f"{ENV}={local}: expected the file {package.packed} there "
                f"(`npm pack {package.name}@{package.version}` writes it); found "
                f"{sorted(p.name for p in local.iterdir()) if local.is_dir() else 'no such folder'}"
            )
        return check_integrity(path.read_bytes(), package, str(path))
    try:
        with urllib.request.urlopen(package.url, timeout=timeout) as response:
            data = response.read()
    except (OSError, http.client.HTTPException) as exc:  # a cut-off response: IncompleteRead
        raise RuntimeError(
            f"could not download {package.url} ({exc}). The HTML build serves MathJax "
            f"{package.version} from the book and fetches it once; without a network, put the "
            f"files that `{npm_pack_command()}` writes in a folder and point {ENV} at it."
        ) from exc
    return check_integrity(data, package, package.url)


def _kept(member: tarfile.TarInfo, package: Package) -> PurePosixPath | None:
    """Where ``member`` goes, relative to ``mathjax/``, or None if the book does not serve it."""
    path = PurePosixPath(member.name)
    if path.parts[:1] != ("package",) or ".." in path.parts or path.is_absolute():
        return None
    inner = PurePosixPath(*path.parts[1:])
    if not member.isfile() or not inner.parts or inner.parts[0] not in package.keep:
        return None
    return PurePosixPath(package.into) / inner


def unpack(data: bytes, package: Package, root: Path) -> int:
    """Write the served files of the tarball ``data`` under ``root``; returns how many.

    Only regular files under the tarball's ``package/`` folder, by the paths
    ``package.keep`` names; a member naming an absolute path or ``..`` is refused, so a
    tarball cannot write outside ``root``.
    """
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            where = _kept(member, package)
            if where is None:
                continue
            target = root / where
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
            count += 1
    if count == 0:
        raise IntegrityError(f"{package.name} {package.version}: no file of {package.keep} in it")
    return count


def ensure_mathjax(folder: Path | None = None, local: Path | None = None) -> Path:
    """The folder holding ``mathjax/``, downloaded and unpacked first if it is not there.

    All or nothing: the packages are unpacked into a temporary folder beside ``folder``,
    which is renamed to ``folder`` only when every package is in; on any failure it is
    removed and ``folder`` is left as it was (absent). Two builds that start at once each
    unpack their own copy; the first to finish renames it into place and the other, whose
    rename then fails on the full folder, uses that one.
    """
    folder = served_folder() if folder is None else Path(folder)
    if is_served(folder):
        return folder
    if local is None and os.environ.get(ENV):
        local = Path(os.environ[ENV]).expanduser()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        for package in PACKAGES:
            unpack(read_package(package, local), package, tmp / "mathjax")
        try:
            os.replace(tmp, folder)
        except OSError:
            if not is_served(folder):    # not a build that finished first: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def use_mathjax(app, config) -> None:
    """config-inited: serve MathJax 4 from ``_static/mathjax/`` and configure it."""
    merged = copy.deepcopy(MATHJAX_CONFIG)   # myst-parser adds to "options" in place
    merged.update(config.mathjax3_config or {})
    config.mathjax3_config = merged
    config.mathjax_path = "mathjax/tex-chtml.js"


def add_static(app) -> None:
    """builder-inited: for an HTML build, fetch MathJax if needed and add it to the static files."""
    if app.builder.format != "html":
        return
    folder = served_folder()
    if not is_served(folder):
        source = os.environ.get(ENV) or "the npm registry (two packages, 19 MB)"
        logger.info(f"nnbook: MathJax {PACKAGES[0].version} is not in {folder}: taking it "
                    f"from {source}")
    folder = ensure_mathjax(folder)
    app.config.html_static_path = [*app.config.html_static_path, str(folder)]


def setup(app) -> dict:
    app.connect("config-inited", use_mathjax)
    app.connect("builder-inited", add_static)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""tools/make_icons.py: the committed raster icons are the logo as it is drawn now."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import check_html
import make_icons

pytestmark = pytest.mark.slow  # a headless browser draws the logo


def pixels(data: bytes, size: int | None = None) -> np.ndarray:
    """An icon's RGBA pixels as floats in [0, 255], at ``size`` for a several-size .ico."""
    image = Image.open(io.BytesIO(data))
    if size is not None:
        image.size = (size, size)  # Pillow's way to pick one of the .ico's images
    return np.asarray(image.convert("RGBA"), dtype=np.float64)


@pytest.fixture(scope="module")
def drawn():
    pytest.importorskip("playwright.sync_api")
    if not Path(check_html.CHROMIUM).exists():
        pytest.skip(f"no {check_html.CHROMIUM}")
    return make_icons.icons(make_icons.LOGO.read_text(encoding="utf-8"))


def test_the_committed_icons_are_the_logo_drawn_again(drawn):
    # An edit of logo.svg without `python tools/make_icons.py` leaves old icons behind. A
    # browser of another version may anti-alias an edge differently, hence a tolerance on
    # the mean, far below what a changed shape or colour makes.
    for name, data in drawn.items():
        committed = make_icons.LOGO.with_name(name).read_bytes()
        sizes = make_icons.ICO_SIZES if name.endswith(".ico") else (None,)
        for size in sizes:
            new, old = pixels(data, size), pixels(committed, size)
            assert new.shape == old.shape, (name, size)
            assert np.abs(new - old).mean() < 2.0, (name, size)


def test_the_icons_have_the_sizes_browsers_ask_for(drawn):
    ico = Image.open(io.BytesIO(drawn["favicon.ico"]))
    assert sorted(ico.info["sizes"]) == [(s, s) for s in make_icons.ICO_SIZES]
    touch = Image.open(io.BytesIO(drawn["apple-touch-icon.png"]))
    assert touch.size == (make_icons.TOUCH_SIZE,) * 2
    assert touch.mode == "RGB"  # opaque: iOS fills transparency with black
    # the logo sits inside the white margin, which stays white on all four sides
    px = np.asarray(touch, dtype=np.int64)
    pad = make_icons.TOUCH_PADDING
    assert (px[:pad] == 255).all() and (px[-pad:] == 255).all()  # top, bottom
    assert (px[:, :pad] == 255).all() and (px[:, -pad:] == 255).all()  # left, right
    assert (px[pad:-pad, pad:-pad] < 250).any()


def test_a_changed_logo_is_told_apart_from_the_committed_icons(drawn):
    # The tolerance above must not hide a real change: the logo in another colour fails it.
    svg = make_icons.LOGO.read_text(encoding="utf-8")
    colours = sorted(set(re.findall(r"#[0-9a-fA-F]{6}\b", svg)))
    assert colours, "the logo names its colours as #rrggbb"
    recoloured = svg
    for c in colours:
        recoloured = recoloured.replace(c, "#ff00ff")
    changed = make_icons.icons(recoloured)
    old = make_icons.LOGO.with_name("apple-touch-icon.png").read_bytes()
    assert np.abs(pixels(changed["apple-touch-icon.png"]) - pixels(old)).mean() >= 2.0

"""Render the book's logo (book/logo/logo.svg) into the raster icons some browsers need.

Usage, after editing the SVG (Debian's ``chromium`` must be installed)::

    python tools/make_icons.py

Modern browsers show the SVG itself as the favicon. Safari shows ``favicon.ico`` instead, and
iOS puts ``apple-touch-icon.png`` (180 px, opaque: iOS fills transparency with black) on the
home screen. Both are written next to the SVG, drawn from it by headless Chromium so that
the three can never differ; the build links them from every page
(``tools/book_extension.py``). The files are committed: the build does not need a browser.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from check_html import CHROMIUM, CHROMIUM_ARGS  # tools/, beside this script

LOGO = Path(__file__).resolve().parent.parent / "book" / "logo" / "logo.svg"
ICO_SIZES = (16, 32, 48)
TOUCH_SIZE, TOUCH_PADDING = 180, 20


def render(browser, svg: str, size: int, background: str | None) -> Image.Image:
    """The SVG drawn at ``size`` x ``size`` pixels, transparent unless ``background``."""
    page = browser.new_page(viewport={"width": size, "height": size})
    style = f"background:{background}" if background else "background:transparent"
    page.set_content(f'<html><body style="margin:0;{style}">'
                     f'<img src="data:image/svg+xml;utf8,{svg}" width="{size}" height="{size}" '
                     f'style="display:block"></body></html>')
    png = page.screenshot(omit_background=background is None)
    page.close()
    return Image.open(io.BytesIO(png)).convert("RGBA")


def icons(svg: str) -> dict[str, bytes]:
    """The raster icons of the logo ``svg`` (its text), as the files' bytes by file name."""
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    svg = quote(svg)  # for the data: URL of each rendering
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # One large rendering; Pillow scales it down to each size of the .ico.
            big = render(browser, svg, 256, None)
            inner = render(browser, svg, TOUCH_SIZE - 2 * TOUCH_PADDING, "#ffffff")
        finally:
            browser.close()
    ico, png = io.BytesIO(), io.BytesIO()
    big.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    touch = Image.new("RGB", (TOUCH_SIZE, TOUCH_SIZE), "#ffffff")
    touch.paste(inner.convert("RGB"), (TOUCH_PADDING, TOUCH_PADDING))
    touch.save(png, format="PNG", optimize=True)
    return {"favicon.ico": ico.getvalue(), "apple-touch-icon.png": png.getvalue()}


def main() -> None:
    for name, data in icons(LOGO.read_text(encoding="utf-8")).items():
        path = LOGO.with_name(name)
        partial = path.with_name(path.name + ".partial")  # never a half-written icon
        partial.write_bytes(data)
        partial.replace(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

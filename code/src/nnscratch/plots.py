"""Plot helpers and the book's figure style.

Each helper takes ``ax=None`` (a new figure is made when it is None) and returns what it
drew, so the caller can style or test it. :func:`use_book_style` gives every figure of the
book one look, sized for its text column (:data:`COLUMN_WIDTH`, :func:`column_figure`).
"""

from __future__ import annotations

import base64
import io
import re
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np

#: Width of the book's text column, in inches. The HTML theme's column is about 688 CSS px
#: wide at a 1280 px window, and an SVG figure of ``w`` inches shows at ``96 * w`` px, so a
#: figure this wide is displayed at its natural size (scale 1): its 10 pt text reads as
#: 10 pt. The PDF's text width (6.5 in) shrinks it by only 4 %.
COLUMN_WIDTH = 6.8

#: The palette of every line, bar and scatter (matplotlib's "tab10", stated once, so the
#: prose's "blue", "orange", "green" and "red" curves mean the same colours on every page).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

BOOK_STYLE = {
    "figure.figsize": (COLUMN_WIDTH, 3.4),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,  # titles, labels and colorbars never overlap
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.framealpha": 0.85,
    "axes.prop_cycle": plt.cycler(color=list(PALETTE)),
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "0.85",
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "image.interpolation": "nearest",
    "svg.fonttype": "path",  # text as outlines: the same on every reader
}
"""The rcParams :func:`use_book_style` sets."""


def use_book_style() -> None:
    """Give every figure from here on the book's look, and vector output in a notebook.

    Call it once, in a page's first cell. It updates matplotlib's ``rcParams`` with
    :data:`BOOK_STYLE` (column-width figures, constrained layout, fonts legible at
    column width, one palette, a light grid). When it runs inside IPython (a notebook or
    the book's build) it also makes inline figures vector graphics: SVG for the web
    page and PDF for the printed book, each picked by the builder that needs it. Run as a
    plain script (no IPython, any backend such as Agg) it only sets the rcParams.

    It returns nothing, so that a page's first cell can end with it and print nothing.

    Notes
    -----
    This changes matplotlib's global settings, on purpose and only when called: the
    package itself never does so on import.
    """
    plt.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython installed
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg", "pdf")


def column_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    height: float | None = None,
    **subplots_kw,
):
    """A figure exactly as wide as the text column, with a grid of axes.

    Parameters
    ----------
    nrows, ncols : int, default 1
        Panels down and across. Keep ``ncols <= 2`` for plots with axes and titles
        (stack the rest in rows); small images can take more.
    height : float, optional
        Height in inches. Default: ``nrows`` rows of
        ``min(3.4, 0.8 * COLUMN_WIDTH / ncols)`` inches each.
    **subplots_kw
        Passed to ``plt.subplots`` (``sharex``, ``sharey``, ``gridspec_kw``...).

    Returns
    -------
    fig : matplotlib Figure
    axes : Axes or ndarray of Axes
        As ``plt.subplots`` returns them.
    """
    if nrows < 1 or ncols < 1:
        raise ValueError(
            f"column_figure needs at least one row and one column, "
            f"got nrows={nrows}, ncols={ncols}"
        )
    if height is None:
        height = nrows * min(3.4, 0.8 * COLUMN_WIDTH / ncols)
    return plt.subplots(
        nrows, ncols, figsize=(COLUMN_WIDTH, height), **subplots_kw
    )


def column_panels(
    n: int, *, ncols: int = 2, height: float | None = None, **subplots_kw
):
    """``n`` panels in rows of ``ncols``, column wide; spare cells of the grid removed.

    Parameters
    ----------
    n : int
        Number of panels.
    ncols : int, default 2
        Panels per row; the rows stack as many as needed.
    height : float, optional
        Height in inches (default as in :func:`column_figure`).
    **subplots_kw
        Passed to ``plt.subplots``.

    Returns
    -------
    fig : matplotlib Figure
    axes : list of Axes
        Exactly ``n`` of them, row by row.
    """
    if n < 1:
        raise ValueError(
            f"column_panels needs at least one panel, got n={n}"
        )
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, grid = column_figure(
        nrows, ncols, height=height, squeeze=False, **subplots_kw
    )
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


#: The smallest text, in points as a reader sees it, that a figure of the book may carry. The
#: book style's tick labels are 9 pt; 8 pt is the least a dense label (a legend squeezed
#: into a panel, a digit's score in a detection) may shrink to. On a phone the column is
#: about half as wide as the figure, so 8 pt shows as about 6 CSS px there: legible, and
#: sharp when zoomed, because the figures are vector graphics. Checked for every figure
#: of every chapter by ``tools/run_chapter.py`` (:func:`small_text`).
MIN_TEXT_POINTS = 8.0


def small_text(
    fig, min_points: float = MIN_TEXT_POINTS
) -> list[tuple[str, float]]:
    """The texts of ``fig`` that a reader would see smaller than ``min_points``.

    A figure is shown as its tight bounding box (what the notebook's inline backend and
    ``savefig(bbox_inches="tight")`` crop it to), at its natural size, or shrunk to the
    text column when it is wider than :data:`COLUMN_WIDTH`; a text's displayed size is its
    font size times that shrinking.

    Parameters
    ----------
    fig : matplotlib Figure
        Drawn here first, so that its layout (constrained layout) is final.
    min_points : float, default :data:`MIN_TEXT_POINTS`

    Returns
    -------
    list of (str, float)
        Each visible, non-empty text below the limit and its displayed size in points,
        smallest first; empty when every text is legible.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width = fig.get_tightbbox(renderer).width  # inches
    scale = min(1.0, COLUMN_WIDTH / width)
    small = []
    for text in fig.findobj(matplotlib.text.Text):
        shown = text.get_fontsize() * scale
        if (
            text.get_visible()
            and text.get_text().strip()
            and shown < min_points
        ):
            small.append((text.get_text(), round(shown, 2)))
    return sorted(small, key=lambda t: t[1])


def frame(ax, colour: str | None = "0.6"):
    """Frame an image panel on all four sides, or on none (``colour=None``).

    The book's style shows only the left and bottom spines, which suits a plot but leaves an
    image (a canvas, a strip of digits, a diagram of pixels) half framed. This draws all
    four spines in ``colour``, or hides all four, and turns off the style's grid, whose
    lines would cross the pixels.

    Parameters
    ----------
    ax : matplotlib Axes
    colour : str or None, default "0.6" (light grey)
        Any matplotlib colour for the frame; None for no frame.

    Returns
    -------
    ax : matplotlib Axes
    """
    ax.grid(False)
    ax.spines[:].set_visible(colour is not None)
    if colour is not None:
        ax.spines[:].set_color(colour)
    return ax


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_WIDTH * 0.6, 3.4))
    return ax


def label_points(
    ax,
    xy,
    labels: Sequence[str],
    *,
    fontsize: float = 10,
    pad: float = 5.0,
    max_rounds: int = 500,
) -> list:
    """Write ``labels[i]`` at the point ``xy[i]``, moving labels apart where they would overlap.

    Cluster centres often coincide (two digits whose codes share a region), and labels set
    at them print over each other. Each label starts at its point and, while any two
    labels' boxes (in display pixels, ``pad`` apart) overlap, the pair is pushed apart along
    the axis on which they overlap least, half each; labels stay inside the axes. A label
    that moved more than half its height is joined to its point by a thin line. The labels
    are bold with a white outline, so they read over dense points.

    Call it last, after everything that changes the figure's layout (legends, titles,
    colorbars): it lays the figure out to measure the labels in pixels.

    Parameters
    ----------
    ax : matplotlib Axes
    xy : array_like, shape (n, 2)
        The points, in data coordinates.
    labels : sequence of str
        ``n`` labels.
    fontsize : float, default 10
    pad : float, default 5
        Least gap between two labels' boxes, in pixels (their white outlines take 3).
    max_rounds : int, default 500
        Rounds of pushing at most.

    Returns
    -------
    list of matplotlib Annotation
        One per label, in order.
    """
    from matplotlib import patheffects

    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(labels):
        raise ValueError(
            f"label_points needs xy of shape (n, 2) and n labels, got xy of "
            f"shape {xy.shape} and {len(labels)} labels"
        )
    fig = ax.figure
    fig.canvas.draw()  # the final layout, and a renderer to measure text
    renderer = fig.canvas.get_renderer()
    style = {
        "fontsize": fontsize,
        "weight": "bold",
        "ha": "center",
        "va": "center",
        "path_effects": [
            patheffects.withStroke(linewidth=3, foreground="w")
        ],
        "zorder": 5,
    }
    size = np.empty((len(xy), 2))  # each label's box in pixels, with pad
    for i, label in enumerate(labels):
        probe = ax.text(0, 0, str(label), **style)
        extent = probe.get_window_extent(renderer)
        size[i] = extent.width + pad, extent.height + pad
        probe.remove()
    anchor = ax.transData.transform(xy)  # (n, 2) pixels
    box = ax.get_window_extent(renderer)
    low = np.array([box.x0, box.y0]) + size / 2
    high = np.array([box.x1, box.y1]) - size / 2
    centre = np.clip(anchor, low, high)
    for _ in range(max_rounds):
        moved = False
        for i in range(len(centre)):
            for j in range(i + 1, len(centre)):
                d = centre[j] - centre[i]
                overlap = (size[i] + size[j]) / 2 - np.abs(d)
                if np.any(overlap <= 0):
                    continue
                k = int(np.argmin(overlap))  # the cheaper way apart
                # coincident labels part by their order: the later goes
                # right (or up)
                sign = 1.0 if d[k] >= 0 else -1.0
                centre[i, k] -= sign * overlap[k] / 2
                centre[j, k] += sign * overlap[k] / 2
                moved = True
        centre = np.clip(centre, low, high)
        if not moved:
            break
    placed = ax.transData.inverted().transform(centre)
    texts = []
    for i, label in enumerate(labels):
        far = np.hypot(*(centre[i] - anchor[i])) > size[i, 1] / 2
        texts.append(
            ax.annotate(
                str(label),
                xy=tuple(xy[i]),
                xytext=tuple(placed[i]),
                arrowprops=(
                    {"arrowstyle": "-", "lw": 0.7, "color": "0.2"}
                    if far
                    else None
                ),
                **style,
            )
        )
    return texts


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    ax=None,
    resolution: int = 200,
    margin: float = 0.5,
    cmap: str = "coolwarm",
):
    """Shade the plane by a classifier's predicted class and scatter the data on top.

    Parameters
    ----------
    predict : callable
        Maps points of shape (M, 2) to integer classes of shape (M,).
    X : ndarray of shape (N, 2)
    y : ndarray of shape (N,)
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes
    """
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"plot_decision_boundary needs 2-D points of shape (N, 2), got {X.shape}"
        )
    ax = _axes(ax)
    x0 = np.linspace(
        X[:, 0].min() - margin, X[:, 0].max() + margin, resolution
    )
    x1 = np.linspace(
        X[:, 1].min() - margin, X[:, 1].max() + margin, resolution
    )
    g0, g1 = np.meshgrid(x0, x1)
    grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(X.dtype)
    classes = np.asarray(predict(grid)).reshape(g0.shape)
    n_classes = int(max(classes.max(), y.max())) + 1
    levels = np.arange(n_classes + 1) - 0.5
    # One colour per class, shared by regions and points: without resampling, contourf and
    # scatter sample a qualitative map (tab10) at different places and the colours disagree.
    cmap = plt.get_cmap(cmap).resampled(n_classes)
    ax.contourf(g0, g1, classes, levels=levels, cmap=cmap, alpha=0.3)
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=y,
        cmap=cmap,
        vmin=0,
        vmax=n_classes - 1,
        s=12,
        edgecolors="k",
        linewidths=0.3,
    )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    *,
    ax=None,
    xlabel: str = "epoch",
    ylabel: str | None = None,
    logy: bool = False,
):
    """Plot training curves: one line per key of ``history`` (e.g. ``"loss"``, ``"val_loss"``).

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    keys = list(history) if keys is None else list(keys)
    for k in keys:
        if k not in history:
            raise KeyError(
                f"plot_history: no {k!r} in history; it has {sorted(history)}"
            )
        values = np.asarray(history[k], dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, label=k)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plane_grid(
    X: np.ndarray, *, resolution: int = 100, margin: float = 0.5
):
    """A regular grid over the bounding box of 2-D points, widened by ``margin``.

    Returns
    -------
    g0, g1 : ndarray of shape (resolution, resolution)
        Grid coordinates, as from ``np.meshgrid``.
    points : ndarray of shape (resolution**2, 2)
        The same points as rows (in ``X``'s dtype), ready for a model's forward pass.
    """
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"plane_grid needs 2-D points of shape (N, 2), got {X.shape}"
        )
    x0 = np.linspace(
        X[:, 0].min() - margin, X[:, 0].max() + margin, resolution
    )
    x1 = np.linspace(
        X[:, 1].min() - margin, X[:, 1].max() + margin, resolution
    )
    g0, g1 = np.meshgrid(x0, x1)
    return g0, g1, np.column_stack([g0.ravel(), g1.ravel()]).astype(X.dtype)


def animation_html(anim, alt: str, **kwargs) -> str:
    """HTML that plays ``anim`` in a page with no network: frames embedded, nothing fetched.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
    alt : str
        Alt text of the player's image, for readers who cannot see it.
    **kwargs
        Passed to ``anim.to_jshtml``.

    Notes
    -----
    ``anim.to_jshtml(**kwargs)`` with two changes. matplotlib's player links a Font Awesome
    stylesheet from a CDN for its button icons: the link is removed, because the book's theme
    ships Font Awesome itself and a page must never load anything from outside (an offline
    reader would get a console error and a request to a third party). And its ``<img>`` gets
    the ``alt`` text.
    """
    if not alt.strip():
        raise ValueError(
            "animation_html: alt text must describe the animation, got an empty string"
        )
    html = anim.to_jshtml(**kwargs)
    html = re.sub(
        r'<link rel="stylesheet"\s+href="https?://[^"]*"\s*/?>', "", html
    )
    external = re.search(r"https?://[^\s\"'<>]*", html)
    if external:
        raise ValueError(
            "animation_html: the player must load nothing from outside, but "
            f"matplotlib's player still references {external.group()}"
        )
    alt_attr = (
        alt.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
    )
    html, n_img = re.subn(r"<img ", f'<img alt="{alt_attr}" ', html)
    if n_img != 1:
        raise ValueError(
            f"animation_html: expected one <img> in the player, found {n_img}"
        )
    return html


def animation_output(anim, alt: str, **kwargs) -> dict[str, str]:
    """A display bundle of ``anim``: the offline player for HTML, its last frame for print.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
    alt : str
        Alt text of the player's image (see :func:`animation_html`).
    **kwargs
        Passed to ``anim.to_jshtml``.

    Returns
    -------
    dict
        ``{"text/html": player, "image/png": base64 PNG}``: show it with
        ``IPython.display.display(bundle, raw=True)``. Each output format picks the
        representation it can show: the web page plays the animation, the PDF (which
        cannot) prints the frame the animation ends on instead of the text
        ``<IPython.core.display.HTML object>``.
    """
    html = animation_html(
        anim, alt, **kwargs
    )  # draws every frame; the last stays
    buffer = io.BytesIO()
    anim._fig.savefig(buffer, format="png")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"text/html": html, "image/png": png}


def animate_decision_boundary(
    frames: Sequence[np.ndarray],
    grid,
    X: np.ndarray,
    y: np.ndarray,
    *,
    titles: Sequence[str] | None = None,
    interval: int = 150,
    cmap: str = "coolwarm",
    figsize=(4.5, 4),
):
    """Animate a binary classifier's predicted probability over the plane as it trains.

    Parameters
    ----------
    frames : sequence of ndarray, each of shape (M,)
        :math:`P(y = 1 \\mid x)` at the grid's ``points``, one array per animation frame.
    grid : tuple ``(g0, g1, points)``
        From :func:`plane_grid`; ``M = g0.size``.
    X : ndarray of shape (N, 2)
    y : ndarray of shape (N,)
        Labels 0 or 1, drawn on every frame.
    titles : sequence of str, optional
        One title per frame (e.g. ``"epoch 40, loss 0.31"``).
    interval : int
        Milliseconds between frames.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Show it in a notebook with ``display(animation_output(anim, alt), raw=True)`` (the frames
        are embedded in the page, so it plays offline) or save it with
        ``anim.save(path, writer=matplotlib.animation.PillowWriter(fps=...))``. Its figure is
        already closed, so a notebook does not also show it as a still image.
    """
    from matplotlib.animation import FuncAnimation

    g0, g1, _ = grid
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError(
            "animate_decision_boundary needs at least one frame, got 0"
        )
    for i, f in enumerate(frames):
        if f.size != g0.size:
            raise ValueError(
                f"animate_decision_boundary: frame {i} has {f.size} values, "
                f"the grid has {g0.size} points"
            )
    if titles is not None and len(titles) != len(frames):
        raise ValueError(
            f"animate_decision_boundary: {len(titles)} titles for {len(frames)} frames"
        )
    # Laid out once (below), not at every frame: a changing title must not move the axes.
    fig, ax = plt.subplots(figsize=figsize, layout="none")
    levels = np.linspace(0, 1, 11)

    def draw(i: int):
        ax.clear()
        ax.contourf(
            g0,
            g1,
            frames[i].reshape(g0.shape),
            levels=levels,
            cmap=cmap,
            alpha=0.45,
        )
        ax.contour(
            g0,
            g1,
            frames[i].reshape(g0.shape),
            levels=[0.5],
            colors="k",
            linewidths=1.5,
        )
        ax.scatter(
            X[:, 0],
            X[:, 1],
            c=y,
            cmap=cmap,
            vmin=0,
            vmax=1,
            s=12,
            edgecolors="k",
            linewidths=0.3,
        )
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        if titles is not None:
            ax.set_title(titles[i])
        return ax.collections

    draw(
        0
    )  # lay out with a title in place, so tight_layout leaves room for it
    fig.tight_layout()
    anim = FuncAnimation(
        fig, draw, frames=len(frames), interval=interval, blit=False
    )
    plt.close(fig)  # rendering still works on a closed figure
    return anim


def plot_digit_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 10,
    ax=None,
    title_colors: Sequence[str] | None = None,
    cmap: str = "gray_r",
    fontsize: float = 8,
    cell_inches: float = 0.65,
    row_labels: Sequence[str] | None = None,
):
    """Draw small grayscale images (e.g. MNIST digits) as one tiled picture.

    Parameters
    ----------
    images : ndarray of shape (N, H*W) with H = W, (N, H, W) or (N, 1, H, W)
        Pixel values; drawn with a shared grey scale from the smallest to the largest value.
    titles : sequence of str, optional
        One short caption per image, written above it.
    ncols : int, default 10
    ax : matplotlib Axes, optional
        A new figure sized to the grid when None.
    title_colors : sequence of str, optional
        One colour per caption (e.g. red for a mistake).
    fontsize : float, default 8
        Size of the captions.
    cell_inches : float, default 0.65
        Width of one image in a new figure (ignored when ``ax`` is given); widen it for long
        captions. A new figure is never wider than :data:`COLUMN_WIDTH`: the cells shrink
        to fit it.
    row_labels : sequence of str, optional
        One label per row of the grid, written at its left at the default text size (e.g.
        the training step or the method each row shows).

    Returns
    -------
    ax : matplotlib Axes

    Notes
    -----
    All images go into one array shown by a single ``imshow``: a grid of 100 digits is one
    artist, not 100 axes, so it draws in a blink.
    """
    x = np.asarray(images, dtype=float)
    n = len(x)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]  # (N, H, W)
    elif x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(
                f"plot_digit_grid: rows of {x.shape[1]} pixels are not square images"
            )
        x = x.reshape(n, side, side)  # (N, H, W)
    if x.ndim != 3 or n == 0:
        raise ValueError(
            f"plot_digit_grid: expected images of shape (N, H*W), (N, H, W) or "
            f"(N, 1, H, W) with N > 0, got {np.shape(images)}"
        )
    if titles is not None and len(titles) != n:
        raise ValueError(
            f"plot_digit_grid: {n} images but {len(titles)} titles"
        )
    h, w = x.shape[1:]
    pad, top = 2, (int(h * 0.45) if titles is not None else 0)
    nrows = -(-n // ncols)
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(
            f"plot_digit_grid: {nrows} rows of images but {len(row_labels)} row labels"
        )
    cell_h, cell_w = h + pad + top, w + pad
    canvas = np.full(
        (nrows * cell_h + pad, min(n, ncols) * cell_w + pad), np.nan
    )
    corners = []
    for k in range(n):
        r, c = divmod(k, ncols)
        y0, x0 = pad + r * cell_h + top, pad + c * cell_w
        canvas[y0 : y0 + h, x0 : x0 + w] = x[k]
        corners.append((y0, x0))
    if ax is None:
        inches_per_pixel = min(
            cell_inches / cell_w, COLUMN_WIDTH / canvas.shape[1]
        )
        _, ax = plt.subplots(
            figsize=(
                canvas.shape[1] * inches_per_pixel,
                canvas.shape[0] * inches_per_pixel,
            )
        )
    cm = plt.get_cmap(cmap).with_extremes(
        bad="#d9d9d9"
    )  # grey gaps between images
    ax.imshow(
        canvas,
        cmap=cm,
        vmin=np.nanmin(x),
        vmax=np.nanmax(x),
        interpolation="nearest",
    )
    if titles is not None:
        for k, (y0, x0) in enumerate(corners):
            color = title_colors[k] if title_colors is not None else "black"
            ax.text(
                x0 + w / 2,
                y0 - 1,
                titles[k],
                ha="center",
                va="bottom",
                fontsize=fontsize,
                color=color,
            )
    for r, label in enumerate(row_labels or ()):
        ax.text(
            -pad,
            pad + r * cell_h + top + h / 2,
            label,
            ha="right",
            va="center",
        )
    ax.set_axis_off()
    return ax


def plot_confusion_matrix(
    cm: np.ndarray,
    *,
    ax=None,
    class_names: Sequence[str] | None = None,
    hide_diagonal: bool = False,
    cmap: str = "Blues",
):
    """Draw a confusion matrix with its counts written in the cells.

    Parameters
    ----------
    cm : ndarray of shape (C, C)
        ``cm[i, j]`` = examples of true class ``i`` predicted as ``j``
        (:func:`nnscratch.metrics.confusion_matrix`).
    ax : matplotlib Axes, optional
    class_names : sequence of str, optional
        Default: ``0 ... C-1``.
    hide_diagonal : bool, default False
        Colour only the mistakes (the diagonal, much larger, would otherwise wash them out);
        the diagonal's counts are still written.

    Returns
    -------
    ax : matplotlib Axes
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(
            f"plot_confusion_matrix: cm must be square, got shape {cm.shape}"
        )
    c = cm.shape[0]
    names = (
        [str(i) for i in range(c)]
        if class_names is None
        else list(class_names)
    )
    ax = _axes(ax)
    shown = cm.astype(float)
    if hide_diagonal:
        shown[np.diag_indices(c)] = np.nan
    image = ax.imshow(shown, cmap=cmap, interpolation="nearest")
    top = np.nanmax(shown) if np.isfinite(shown).any() else 1.0
    for i in range(c):
        for j in range(c):
            dark = np.isfinite(shown[i, j]) and shown[i, j] > 0.6 * top
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
                fontweight="bold" if i == j else None,
            )
    ax.set_xticks(range(c), names)
    ax.set_yticks(range(c), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)  # grid lines would cross the cells' numbers
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_reliability(rel, *, ax=None, label: str | None = None):
    """Reliability diagram: accuracy against confidence, per confidence bin.

    Parameters
    ----------
    rel : nnscratch.metrics.Reliability
        From :func:`nnscratch.metrics.reliability`.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label of the bars (the ECE is appended). Each bar is annotated with the number
        of predictions in its bin: a bar far from the diagonal matters little if it holds a
        handful of them. The legend sits above the axes, where it cannot hide a bar (so
        give the axes no title, or a caption instead).

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    widths = np.diff(rel.edges)
    filled = rel.counts > 0
    ax.bar(
        rel.edges[:-1][filled],
        rel.accuracy[filled],
        width=widths[filled],
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label=f"{label or 'accuracy'} (ECE {rel.ece:.3f})",
    )
    for left, width, acc, n in zip(
        rel.edges[:-1][filled],
        widths[filled],
        rel.accuracy[filled],
        rel.counts[filled],
    ):
        ax.text(
            left + width / 2,
            min(acc, 0.93) + 0.02,
            f"n={n}",
            ha="center",
            fontsize=8,
            zorder=3,  # over the diagonal, whose dashes would cross it out
            bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none"),
        )
    ax.plot(
        [0, 1], [0, 1], "--", color="grey", label="calibrated", zorder=2
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("accuracy in the bin")
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1.01),
        ncols=2,
        frameon=False,
        borderaxespad=0,
    )
    return ax


def plot_graph(
    nodes: Mapping[str, tuple[float, float, str]],
    edges: Sequence[tuple[str, str, str]],
    *,
    backward: Sequence[tuple[str, str, str]] = (),
    ax=None,
    fontsize: float = 11,
    backward_color: str = "tab:red",
):
    """Draw a computational graph: labelled nodes, forward arrows, and backward arrows.

    Parameters
    ----------
    nodes : mapping of name to (x, y, label)
        Where each node sits (data coordinates) and its text (mathtext allowed, ``$Z^{(1)}$``).
    edges : sequence of (source, target, label)
        Forward arrows, solid, labelled at their middle (for example with a shape).
    backward : sequence of (source, target, label), optional
        Backward arrows (gradients), dashed and curved so they do not cover the forward ones.
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes
        With one annotation arrow per edge; the axes are hidden.

    See Also
    --------
    Book, Step 2 "From math to code", Step 3 "Deep networks" and Step 5 "Regularization",
    which draw their networks and the batch-normalization graph with it.
    """
    ax = _axes(ax)
    for name in {n for e in (*edges, *backward) for n in e[:2]} - set(
        nodes
    ):
        raise KeyError(
            f"plot_graph: an edge names node {name!r}, which is not in nodes "
            f"({sorted(nodes)})"
        )
    box = dict(
        boxstyle="round,pad=0.35", facecolor="white", edgecolor="0.3"
    )
    for name, (x, y, label) in nodes.items():
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=fontsize,
            bbox=box,
            zorder=3,
            gid=f"node:{name}",
        )

    def arrow(src, dst, label, color, style, rad, offset):
        (x0, y0, _), (x1, y1, _) = nodes[src], nodes[dst]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            zorder=2,
            arrowprops=dict(
                arrowstyle="-|>",
                color=color,
                linestyle=style,
                lw=1.3,
                shrinkA=18,
                shrinkB=18,
                connectionstyle=f"arc3,rad={rad}",
            ),
        )
        if label:
            along_x = abs(x1 - x0) >= abs(y1 - y0)
            lx = (x0 + x1) / 2 + (
                0 if along_x else 1.4 * offset
            )  # beside a vertical edge
            ly = (y0 + y1) / 2 + (offset if along_x else 0)
            ax.text(
                lx,
                ly,
                label,
                ha="center",
                va="center",
                fontsize=max(8, fontsize - 2),
                color=color,
                zorder=4,
                bbox=dict(
                    boxstyle="round,pad=0.1",
                    facecolor="white",
                    edgecolor="none",
                ),
            )

    for src, dst, label in edges:
        arrow(src, dst, label, "0.2", "-", 0.0, 0.0)
    for src, dst, label in backward:
        # Curved below a right-to-left chain (and to the side of a vertical edge), labelled
        # beneath the curve, so backward arrows never cover the forward ones.
        arrow(src, dst, label, backward_color, "--", -0.3, -0.5)
    xs = [x for x, _, _ in nodes.values()]
    ys = [y for _, y, _ in nodes.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.6)
    ax.set_axis_off()
    return ax

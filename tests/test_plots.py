import re

import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
import pytest

from nnscratch import plots
from nnscratch.data import make_blobs


def test_decision_boundary_draws_regions_and_points(rng):
    X, y = make_blobs(50, rng)
    fig, ax = plt.subplots()
    out = plots.plot_decision_boundary(lambda P: (P[:, 0] > 0).astype(int), X, y, ax=ax, resolution=50)
    assert out is ax
    assert len(ax.collections) >= 2  # filled regions and the scatter
    plt.close(fig)


def test_decision_boundary_rejects_non_2d(rng):
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_decision_boundary(lambda P: P, np.zeros((3, 3)), np.zeros(3, int))


def test_history_plots_each_key():
    ax = plots.plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]})
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    with pytest.raises(KeyError, match="no 'acc'"):
        plots.plot_history({"loss": [1]}, keys=["acc"])
    plt.close("all")


def test_plane_grid_covers_the_data(rng):
    X, _ = make_blobs(30, rng)
    g0, g1, points = plots.plane_grid(X, resolution=20, margin=0.5)
    assert g0.shape == g1.shape == (20, 20) and points.shape == (400, 2)
    assert points[:, 0].min() == X[:, 0].min() - 0.5 and points[:, 1].max() == X[:, 1].max() + 0.5
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plane_grid(np.zeros((3, 3)))


def test_animation_has_one_frame_per_array_and_renders(rng, tmp_path):
    from matplotlib.animation import PillowWriter

    X, y = make_blobs(20, rng)
    grid = plots.plane_grid(X, resolution=15)
    frames = [1 / (1 + np.exp(-k * grid[2][:, 0])) for k in (0.5, 1.0, 4.0)]
    anim = plots.animate_decision_boundary(frames, grid, X, y, titles=["a", "b", "c"])
    html = anim.to_jshtml()
    assert html.count("data:image/png;base64") == 3  # every frame embedded: plays offline
    anim.save(tmp_path / "a.gif", writer=PillowWriter(fps=2))
    assert (tmp_path / "a.gif").read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="frame 1 has 4 values"):
        plots.animate_decision_boundary([frames[0], np.zeros(4)], grid, X, y)
    with pytest.raises(ValueError, match="2 titles for 3 frames"):
        plots.animate_decision_boundary(frames, grid, X, y, titles=["a", "b"])


@pytest.mark.parametrize("shape", [(12, 784), (12, 28, 28), (12, 1, 28, 28)])
def test_digit_grid_tiles_every_image(rng, shape):
    images = rng.random(shape)
    ax = plots.plot_digit_grid(images, titles=[str(i) for i in range(12)], ncols=5,
                               title_colors=["red"] * 12)
    (im,) = ax.get_images()
    canvas = im.get_array()
    assert np.isfinite(canvas).sum() == 12 * 28 * 28     # every pixel of every image, no more
    assert len(ax.texts) == 12 and ax.texts[0].get_color() == "red"
    # the first image sits in the top-left cell, unchanged
    y0, x0 = np.argwhere(np.isfinite(np.ma.filled(canvas, np.nan)))[0]
    np.testing.assert_array_equal(np.ma.filled(canvas, np.nan)[y0:y0 + 28, x0:x0 + 28],
                                  images.reshape(12, 28, 28)[0])
    plt.close("all")


def test_digit_grid_labels_each_row_at_its_left_level_with_its_images(rng):
    images = rng.random((12, 28, 28))
    for titles in (None, [str(i) for i in range(12)]):   # captions move the rows down
        ax = plots.plot_digit_grid(images, titles=titles, ncols=5, row_labels=["a", "b", "c"])
        canvas = np.ma.filled(ax.get_images()[0].get_array(), np.nan)
        filled_rows = np.flatnonzero(np.isfinite(canvas).any(axis=1))
        filled_cols = np.flatnonzero(np.isfinite(canvas).any(axis=0))
        # the pixel rows of each grid row: runs of 28 separated by gaps
        starts = filled_rows[np.r_[True, np.diff(filled_rows) > 1]]
        labels = [t for t in ax.texts if t.get_text() in "abc"]
        assert [t.get_text() for t in labels] == ["a", "b", "c"]
        for label, y0 in zip(labels, starts):
            x, y = label.get_position()
            assert x < filled_cols[0] and label.get_ha() == "right"   # left of every image
            assert y0 <= y <= y0 + 28 and abs(y - (y0 + 13.5)) <= 1    # beside its own row
        plt.close("all")


def test_digit_grid_rejects_bad_input(rng):
    with pytest.raises(ValueError, match="not square"):
        plots.plot_digit_grid(rng.random((3, 10)))
    with pytest.raises(ValueError, match="3 images but 2 titles"):
        plots.plot_digit_grid(rng.random((3, 16)), titles=["a", "b"])
    with pytest.raises(ValueError, match="3 rows of images but 2 row labels"):
        plots.plot_digit_grid(rng.random((12, 16)), ncols=4, row_labels=["a", "b"])


def test_confusion_matrix_plot_writes_every_count():
    cm = np.array([[5, 1], [2, 9]])
    ax = plots.plot_confusion_matrix(cm, hide_diagonal=True)
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "5", "9"]
    shown = ax.get_images()[0].get_array()
    assert np.ma.is_masked(shown[0, 0]) or np.isnan(shown[0, 0])   # diagonal not coloured
    plt.close("all")


def test_reliability_plot_draws_filled_bins(rng):
    from nnscratch.metrics import reliability

    rel = reliability(np.array([0.95, 0.97, 0.15]), np.array([True, False, True]))
    ax = plots.plot_reliability(rel)
    assert len(ax.patches) == 2
    assert any("ECE" in t.get_text() for t in ax.get_legend().get_texts())
    # Each bin's count is legible where the dashed diagonal passes through it: drawn over
    # the line, on an opaque white ground.
    counts = [t for t in ax.texts if t.get_text().startswith("n=")]
    assert sorted(t.get_text() for t in counts) == ["n=1", "n=2"]
    (diagonal,) = ax.get_lines()
    for t in counts:
        ground = t.get_bbox_patch()
        assert t.get_zorder() > diagonal.get_zorder()
        assert ground is not None and ground.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    plt.close("all")


@pytest.mark.parametrize("colour", ["0.6", "tab:gray"])
def test_frame_draws_all_four_sides_of_an_image_in_one_colour(colour):
    import matplotlib
    from matplotlib.colors import to_rgba

    with matplotlib.rc_context():
        plots.use_book_style()  # two spines and a grid, as on every page
        _, ax = plt.subplots()
        ax.imshow(np.eye(3))
        assert not ax.spines["top"].get_visible()
        assert plots.frame(ax, colour) is ax
        for spine in ax.spines.values():
            assert spine.get_visible() and spine.get_edgecolor() == to_rgba(colour)
        assert not any(line.get_visible() for line in ax.get_xgridlines())
        plots.frame(ax, None)
        assert not any(spine.get_visible() for spine in ax.spines.values())
        plt.close("all")


def test_decision_boundary_regions_and_points_share_colours(rng):
    X, y = make_blobs(60, rng, centers=((-2, 0), (0, 2), (2, 0)))
    fig, ax = plt.subplots()
    plots.plot_decision_boundary(lambda P: np.argmin([np.hypot(*(P - c).T) for c in ((-2, 0), (0, 2), (2, 0))],
                                                     axis=0), X, y, ax=ax, cmap="tab10", resolution=40)
    fig.canvas.draw()  # scatter maps its values to colours when drawn
    filled, points = ax.collections[0], ax.collections[-1]
    region_colours = {tuple(np.round(c[:3], 3)) for c in filled.get_facecolor()}
    point_colours = {tuple(np.round(c[:3], 3)) for c in points.get_facecolor()}
    assert point_colours == region_colours and len(point_colours) == 3
    plt.close(fig)


def test_animation_html_plays_offline(rng):
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1])
    anim = FuncAnimation(fig, lambda i: (line,), frames=2)
    html = plots.animation_html(anim, alt='A line "moving"')
    plt.close(fig)
    assert '<img alt="A line &quot;moving&quot;" ' in html
    with pytest.raises(ValueError, match="alt text"):
        plots.animation_html(anim, alt=" ")
    assert html.count("data:image/png;base64") == 2  # both frames embedded in the page
    assert "http://" not in html and "https://" not in html


def test_graph_draws_every_node_and_edge():
    nodes = {"x": (0, 0, "$x$"), "z": (2, 0, "$z$"), "L": (4, 0, "$L$")}
    ax = plots.plot_graph(nodes, [("x", "z", "(N, D)"), ("z", "L", "")],
                          backward=[("L", "z", "$dz$")])
    texts = [t.get_text() for t in ax.texts]
    assert {"$x$", "$z$", "$L$", "(N, D)", "$dz$"} <= set(texts)
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation"]
    assert len(arrows) == 3 and not ax.axison
    plt.close("all")


def test_graph_names_an_unknown_node():
    with pytest.raises(KeyError, match="node 'y'"):
        plots.plot_graph({"x": (0, 0, "x")}, [("x", "y", "")])


def test_book_style_sets_rcparams_and_is_safe_in_a_script():
    import matplotlib

    with matplotlib.rc_context():
        # no IPython shell here: rcParams only; nothing returned, so nothing printed
        assert plots.use_book_style() is None
        assert all(plt.rcParams[k] == v or list(plt.rcParams[k]) == list(v)
                   for k, v in plots.BOOK_STYLE.items() if k != "axes.prop_cycle")
        assert plt.rcParams["figure.figsize"] == [plots.COLUMN_WIDTH, 3.4]
        assert plt.rcParams["figure.constrained_layout.use"]
        assert plt.rcParams["font.size"] >= 9 and plt.rcParams["xtick.labelsize"] >= 8
        fig, ax = plt.subplots()
        (line,) = ax.plot([0, 1])
        assert line.get_color() == plots.PALETTE[0]
        plt.close(fig)


def test_book_style_makes_inline_figures_vector(monkeypatch):
    """Inside IPython, figures are emitted as SVG (web) and PDF (print), not PNG."""
    import matplotlib
    from IPython.testing.globalipapp import get_ipython as start_ipython

    shell = start_ipython()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    with matplotlib.rc_context():
        plots.use_book_style()
        fig, _ = plots.column_figure()
        printers = shell.display_formatter.formatters

        def emits(mime):
            try:
                printers[mime].lookup(fig)
            except KeyError:
                return False
            return True

        assert emits("image/svg+xml") and emits("application/pdf")
        assert not emits("image/png")
        assert printers["image/svg+xml"].lookup(fig)(fig).startswith("<")
        plt.close(fig)


def test_column_figure_is_column_wide():
    fig, axes = plots.column_figure(2, 2)
    width, height = fig.get_size_inches()
    assert width == plots.COLUMN_WIDTH and axes.shape == (2, 2)
    assert height == 2 * min(3.4, 0.8 * plots.COLUMN_WIDTH / 2)
    fig, ax = plots.column_figure(height=2.5)
    assert tuple(fig.get_size_inches()) == (plots.COLUMN_WIDTH, 2.5)
    with pytest.raises(ValueError, match="ncols=0"):
        plots.column_figure(1, 0)
    plt.close("all")


def test_column_panels_stacks_and_drops_spare_cells():
    fig, axes = plots.column_panels(5)          # rows of two: 3 rows, one cell spare
    assert len(axes) == 5 and len(fig.axes) == 5
    assert fig.get_size_inches()[0] == plots.COLUMN_WIDTH
    rows = {round(ax.get_subplotspec().rowspan.start) for ax in axes}
    assert rows == {0, 1, 2}
    with pytest.raises(ValueError, match="n=0"):
        plots.column_panels(0)
    plt.close("all")


def test_small_text_finds_what_a_reader_sees_below_the_limit():
    fig, ax = plt.subplots(figsize=(plots.COLUMN_WIDTH, 3))
    ax.set_title("title")  # 10.5 pt: legible
    ax.text(0.2, 0.5, "small", fontsize=6)
    ax.text(0.5, 0.5, "smaller", fontsize=5)
    ax.text(0.7, 0.5, "hidden", fontsize=5, visible=False)
    ax.text(0.9, 0.5, "  ", fontsize=5)  # nothing to read
    assert plots.small_text(fig) == [("smaller", 5.0), ("small", 6.0)]
    assert plots.small_text(fig, min_points=5.5) == [("smaller", 5.0)]
    # A figure twice as wide as the column is shown at half its size: 10 pt reads as 5.
    wide = plt.figure(figsize=(2 * plots.COLUMN_WIDTH, 3))
    wide.text(0.0, 0.5, "wide", fontsize=10)  # from edge to edge: the tight box is it all
    wide.text(1.0, 0.5, "edge", fontsize=16, ha="right")
    assert plots.small_text(wide, min_points=9) == [("wide", 5.0), ("edge", 8.0)]
    assert plots.small_text(plt.figure()) == []
    plt.close("all")


def test_digit_grid_is_never_wider_than_the_column(rng):
    ax = plots.plot_digit_grid(rng.random((60, 28, 28)), ncols=20, cell_inches=1.0)
    assert ax.figure.get_size_inches()[0] <= plots.COLUMN_WIDTH + 1e-9
    plt.close("all")


def test_animation_output_plays_in_html_and_prints_its_last_frame(rng):
    import base64

    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1])

    def draw(i):
        line.set_ydata([0, i])
        return (line,)

    anim = FuncAnimation(fig, draw, frames=3)
    bundle = plots.animation_output(anim, alt="A line rising")
    assert set(bundle) == {"text/html", "image/png"}
    assert bundle["text/html"] == plots.animation_html(anim, alt="A line rising")
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(line.get_ydata()) == [0, 2]  # the still is the frame it ends on
    plt.close(fig)
    with pytest.raises(ValueError, match="alt text"):
        plots.animation_output(anim, alt="")


def test_label_points_parts_coincident_labels_and_leaves_lone_ones(rng):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(*rng.normal(size=(200, 2)).T, s=1)
    ax.set_xlim(-4, 4)
    ax.set_ylim(-4, 4)
    points = np.array([[0.0, 0.0], [0.0, 0.0], [0.05, 0.0], [3.0, 3.0]])
    texts = plots.label_points(ax, points, ["4", "9", "7", "1"])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    text_box = matplotlib.text.Text.get_window_extent  # without the line
    boxes = [text_box(t, renderer) for t in texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (i, j)
        assert ax.get_window_extent(renderer).contains(*boxes[i].p0)
    # the lone label stays on its point, with no line; moved ones get one
    np.testing.assert_allclose(texts[3].xyann, (3.0, 3.0))
    assert texts[3].arrow_patch is None
    assert sum(t.arrow_patch is not None for t in texts[:3]) >= 2
    assert [t.get_text() for t in texts] == ["4", "9", "7", "1"]
    plt.close(fig)


def test_label_points_rejects_mismatched_input():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"shape \(n, 2\) and n labels"):
        plots.label_points(ax, np.zeros((3, 2)), ["a", "b"])
    plt.close(fig)


def test_book_style_without_ipython_only_sets_rcparams(monkeypatch):
    import sys

    import matplotlib
    import matplotlib_inline.backend_inline as inline

    calls = []
    monkeypatch.setattr(inline, "set_matplotlib_formats", lambda *f: calls.append(f))
    monkeypatch.setitem(sys.modules, "IPython", None)  # `from IPython import ...` fails
    with matplotlib.rc_context({"font.size": 20, "axes.grid": False}):
        assert plots.use_book_style() is None
        assert plt.rcParams["font.size"] == plots.BOOK_STYLE["font.size"]
        assert plt.rcParams["axes.grid"] is True
    assert calls == []  # no inline formats chosen without IPython


def test_history_takes_a_y_label_and_a_log_scale():
    ax = plots.plot_history({"loss": [3, 1, 0.1]}, ylabel="cross-entropy", logy=True)
    assert ax.get_ylabel() == "cross-entropy" and ax.get_yscale() == "log"
    ax = plots.plot_history({"loss": [3, 1, 0.1]})  # neither by default
    assert ax.get_ylabel() == "" and ax.get_yscale() == "linear"
    plt.close("all")


class _Player:
    """Stands for an animation whose ``to_jshtml`` returns a given page."""

    def __init__(self, html):
        self.html = html

    def to_jshtml(self, **kwargs):
        return self.html


def test_animation_html_refuses_a_player_it_cannot_make_offline_or_label():
    css = '<link rel="stylesheet" href="https://cdn.example/fa.css">'
    page = css + '<img id="frame" src="data:image/png;base64,AA">'
    # the stylesheet link is dropped and the one image labelled
    assert plots.animation_html(_Player(page), alt="a") == '<img alt="a" id="frame" src=' \
        '"data:image/png;base64,AA">'
    with pytest.raises(ValueError, match=r"must load nothing from outside, but matplotlib's "
                                         r"player still references https://cdn.example/x.js$"):
        plots.animation_html(_Player(page + '<script src="https://cdn.example/x.js">'), alt="a")
    with pytest.raises(ValueError, match="expected one <img> in the player, found 0"):
        plots.animation_html(_Player(css + "<canvas>"), alt="a")
    with pytest.raises(ValueError, match="expected one <img> in the player, found 2"):
        plots.animation_html(_Player(page + page), alt="a")


def test_animation_needs_a_frame(rng):
    X, y = make_blobs(10, rng)
    grid = plots.plane_grid(X, resolution=5)
    figures = plt.get_fignums()
    with pytest.raises(ValueError, match="needs at least one frame, got 0"):
        plots.animate_decision_boundary([], grid, X, y)
    assert plt.get_fignums() == figures  # refused before a figure was made


@pytest.mark.parametrize("shape", [(0, 28, 28), (0, 784), (3, 2, 28, 28), (28,)])
def test_digit_grid_names_a_shape_that_is_not_a_stack_of_images(shape):
    with pytest.raises(ValueError, match=r"expected images of shape \(N, H\*W\), \(N, H, W\) or "
                                         r"\(N, 1, H, W\) with N > 0, got "
                                         + re.escape(str(shape))):
        plots.plot_digit_grid(np.zeros(shape))


@pytest.mark.parametrize("shape", [(2, 3), (4,), (2, 2, 2)])
def test_confusion_matrix_plot_refuses_a_matrix_that_is_not_square(shape):
    with pytest.raises(ValueError, match=r"plot_confusion_matrix: cm must be square, got shape "
                                         + re.escape(str(shape))):
        plots.plot_confusion_matrix(np.zeros(shape, int))

"""Shared style and helpers of the book's figures (every chapter module imports them)."""

from __future__ import annotations

#: Width (inches) of the book's figures: the content column (about 750 px) holds 7.8 in
#: at 96 px per inch, so a figure this wide shows its fonts at their size in points
#: (``anbn_utils.figures.min_displayed_fontsize``).
WIDTH = 7.8
#: The smallest font size (pt) of any text in a figure, at that width.
SMALL = 9


def integer_ticks(ax, axis: str = "x") -> None:
    """Ticks at whole numbers only on ``axis`` of ``ax`` (BN and layer indices: a tick at
    BN 2.5 names nothing)."""
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))


def _shared_colorbar(fig, vmin: float, vmax: float, *, label: str, cmap: str = "inferno"):
    """One colour bar at the right of a mosaic of brain maps drawn with these limits."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cax = fig.add_axes([0.92, 0.25, 0.012, 0.5])
    bar = fig.colorbar(ScalarMappable(Normalize(vmin, vmax), cmap), cax=cax)
    bar.set_label(label, fontsize=SMALL)
    bar.ax.tick_params(labelsize=SMALL)
    return bar

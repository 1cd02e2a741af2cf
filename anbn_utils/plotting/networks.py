"""Figures of chapters 00 (the phantom) and 03 (the BNs): network maps, time courses and
subject-averaged BN time courses."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..stats import zscore
from ..units import bn_name
from ._base import SMALL, WIDTH, _shared_colorbar

__all__ = [
    "plot_bn_timecourses",
    "plot_network_maps",
    "plot_timecourses",
]


def plot_network_maps(maps_img, names: list[str], *, highlight: dict[int, str] | None = None,
                      threshold: float = 0.2, vmax: float = 1.0, numbered: bool = True,
                      colorbar_label: str | None = None, title: str = "") -> plt.Figure:
    """Glass-brain mosaic of spatial maps (a 4D image, one volume per network).

    Parameters
    ----------
    maps_img : 4D Nifti image
    names : list of str
        Name of each volume.
    highlight : dict, optional
        Volume index -> a label added to its title (e.g. the AN that drives it).
    threshold : float
        Values below it are not shown.
    vmax : float
        Top of the colour scale, shared by all maps (one colour bar); the bottom is zero.
    numbered : bool
        Prefix each title with the volume's 0-based index.
    colorbar_label : str, optional
        Default: the maps as a fraction of their peak, shown above ``threshold``.
    """
    from nilearn import image, plotting

    n = len(names)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 1.55 * rows), squeeze=False)
    fig.subplots_adjust(left=0.0, right=0.9, hspace=0.5)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        label = f"{i}: {names[i]}" if numbered else names[i]
        if highlight and i in highlight:
            label += f"\n<- {highlight[i]}"
        plotting.plot_glass_brain(image.index_img(maps_img, i), axes=ax, display_mode="lzr",
                                  title=None, threshold=threshold, vmin=0.0, vmax=vmax,
                                  cmap="inferno", colorbar=False, annotate=False, black_bg=False)
        ax.set_title(label, fontsize=SMALL, color="tab:red" if highlight and i in highlight else "k")
    _shared_colorbar(fig, 0.0, vmax, label=colorbar_label or f"map / peak (shown above {threshold})")
    fig.suptitle(title, fontsize=SMALL, y=1.0 + 0.08 / rows)
    return fig


def plot_timecourses(courses: np.ndarray, names: list[str], *, tr: float = 1.5,
                     window: tuple[int, int] | None = None,
                     highlight: dict[int, str] | None = None, title: str = "") -> plt.Figure:
    """Stacked time courses, shape (n_times, n_series), with the story window shaded."""
    n = courses.shape[1]
    t = np.arange(courses.shape[0]) * tr
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * n + 1.2), layout="constrained")
    for i in range(n):
        color = "tab:red" if highlight and i in highlight else "0.3"
        ax.plot(t, courses[:, i] / 4 - i, color=color, lw=1)
        label = names[i] + (f" <- {highlight[i]}" if highlight and i in highlight else "")
        ax.text(t[-1] + tr, -i, label, fontsize=SMALL, va="center", color=color)
    if window:
        ax.axvspan(window[0] * tr, window[1] * tr, color="tab:blue", alpha=0.07,
                   label="story window")
        ax.legend(loc="upper left", fontsize=SMALL)
    ax.set_yticks([])
    ax.set_xlabel("scan time (s)")
    ax.set_xlim(0, t[-1] * 1.35)
    ax.set_title(title, fontsize=SMALL)
    return fig


def plot_bn_timecourses(timecourses: dict[str, np.ndarray], bns: list[int], *,
                        tr: dict[str, float], n_subjects: dict[str, int],
                        title: str = "") -> plt.Figure:
    """Subject-averaged time courses of a few BNs per story, each z-scored, stacked.

    Parameters
    ----------
    timecourses : dict of str -> ndarray of shape (n_trs, n_bns)
        Per story, the subject-averaged BN time courses.
    bns : list of int
        BNs shown (0-based).
    tr : dict of str -> float
        Repetition time of each story (s).
    n_subjects : dict of str -> int
        Subjects averaged, per story (for the titles).
    """
    n_bns = next(iter(timecourses.values())).shape[1]
    fig, axes = plt.subplots(len(timecourses), 1, figsize=(WIDTH, 2.2 * len(timecourses)),
                             squeeze=False, layout="constrained")
    for ax, (task, tc) in zip(axes[:, 0], timecourses.items()):
        t = np.arange(tc.shape[0]) * tr[task]
        for j in bns:
            ax.plot(t, zscore(tc[:, j]) - 3 * j / max(1, n_bns - 1), lw=1, label=bn_name(j))
        ax.set_title(f"{task}: subject-averaged BN time courses ({n_subjects[task]} subjects), "
                     "z-scored", fontsize=10)
        ax.set_yticks([])
        ax.legend(fontsize=SMALL, loc="upper right")
    axes[-1, 0].set_xlabel("time from the first kept volume (s)")
    fig.suptitle(title, fontsize=SMALL)
    return fig

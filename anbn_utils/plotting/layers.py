"""Figures of chapter 06 (the layers): the best pairs, their tags and peak slices."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..stats import zscore
from ..units import bn_name
from ._base import SMALL, WIDTH, _shared_colorbar
from .pos import plot_top_categories

__all__ = [
    "plot_best_pair_tags",
    "plot_best_pairs",
    "plot_peak_slices",
]


def _max_of(maps_img, volumes) -> float:
    """The largest value of the given volumes of a 4D image (a shared colour scale)."""
    data = np.asarray(maps_img.dataobj)[..., sorted({int(v) for v in volumes})]
    return float(data.max()) if data.size and data.max() > 0 else 1.0


def plot_best_pair_tags(pairs: pd.DataFrame, counts: np.ndarray, labels, *, story: str,
                        n_top: int = 8, title: str = "") -> plt.Figure:
    """Supp. Fig. 1-2: the part-of-speech categories of the top pairs of the best AN of
    each layer (:func:`anbn_utils.plotting.pos.plot_top_categories`, one panel per layer).

    Parameters
    ----------
    pairs : DataFrame
        ``layer``, ``an``, ``an_name``, ``bn``, ``pcc``, one row per layer
        (:func:`anbn_utils.interpret.best_pairs`).
    counts : ndarray of shape (n_ans, 17, 17)
        From :func:`anbn_utils.pos.an_categories` (chapter 05's ``category_counts.npy``).
    labels : sequence of str
        The 17 tags.
    """
    titles = [f"L{r.layer}: {r.an_name} - {bn_name(r.bn)} ({r.pcc:.2f})"
              for r in pairs.itertuples()]
    return plot_top_categories(np.asarray(counts)[pairs["an"].to_numpy()], labels, titles,
                               n_top=n_top, cols=2, title=title or story)


def plot_best_pairs(pairs: pd.DataFrame, maps_img, an_series: np.ndarray,
                    bn_series: np.ndarray, *, tr: float, title: str = "") -> plt.Figure:
    """Fig. 8: per layer, the best pair's BN map (glass brain) and both time courses.

    Parameters
    ----------
    pairs : DataFrame
        ``layer``, ``an``, ``an_name``, ``bn``, ``pcc`` (:func:`anbn_utils.interpret.best_pairs`).
    maps_img : 4D image
        The BN maps as displayed, one volume per BN.
    an_series : ndarray of shape (n_trs, n_ans)
        HRF-convolved AN series.
    bn_series : ndarray of shape (n_trs, n_bns)
        Subject-averaged BN time courses.
    tr : float
        Repetition time (s).
    """
    from nilearn import plotting
    from nilearn.image import index_img

    n = len(pairs)
    fig, axes = plt.subplots(n, 2, figsize=(WIDTH, 1.55 * n), width_ratios=[1, 1.3], squeeze=False)
    fig.subplots_adjust(left=0.0, right=0.9, hspace=0.6, wspace=0.05, top=1 - 0.35 / n)
    t = np.arange(len(an_series)) * tr
    vmax = _max_of(maps_img, pairs["bn"])
    for (ax_map, ax_tc), row in zip(axes, pairs.itertuples()):
        plotting.plot_glass_brain(index_img(maps_img, row.bn), axes=ax_map, display_mode="lzr",
                                  cmap="inferno", black_bg=False, plot_abs=False, threshold=1e-6,
                                  vmin=0.0, vmax=vmax, colorbar=False, annotate=False)
        ax_map.set_title(f"L{row.layer}: {row.an_name} - {bn_name(row.bn)} ({row.pcc:.2f})",
                         fontsize=SMALL)
        ax_tc.plot(t, zscore(an_series[:, row.an]), color="tab:red", lw=1, label=row.an_name)
        ax_tc.plot(t, zscore(bn_series[:, row.bn]), color="tab:blue", lw=1, label=bn_name(row.bn))
        ax_tc.legend(fontsize=SMALL, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2,
                     frameon=False, borderaxespad=0.1)  # above the panel, off the series
        ax_tc.set_yticks([])
        ax_tc.tick_params(labelsize=SMALL)
    axes[-1, 1].set_xlabel("time from the first kept volume (s)")
    _shared_colorbar(fig, 0.0, vmax, label="map / its s.d.")
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_peak_slices(pairs: pd.DataFrame, maps_img, *, title: str = "") -> plt.Figure:
    """Fig. 9: one axial slice per layer through the best pair's BN peak.

    Parameters
    ----------
    pairs : DataFrame
        ``layer``, ``bn``, ``peak_z`` (MNI mm of the BN's displayed peak).
    maps_img : 4D image
        The BN maps as displayed.
    """
    from nilearn import plotting
    from nilearn.image import index_img

    cols = min(len(pairs), 4)
    rows = int(np.ceil(len(pairs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.2 * rows), squeeze=False)
    fig.subplots_adjust(left=0.0, right=0.9, hspace=0.3, wspace=0.05)
    for ax in axes.flat[len(pairs):]:
        ax.axis("off")
    vmax = _max_of(maps_img, pairs["bn"])
    for ax, row in zip(axes.flat, pairs.itertuples()):
        plotting.plot_stat_map(index_img(maps_img, row.bn), display_mode="z", axes=ax,
                               colorbar=False, cut_coords=[row.peak_z], cmap="inferno",
                               threshold=1e-6, vmin=0.0, vmax=vmax, annotate=False, title=None)
        ax.set_title(f"L{row.layer}: {bn_name(row.bn)}, z = {row.peak_z:.0f}", fontsize=SMALL)
    _shared_colorbar(fig, 0.0, vmax, label="map / its s.d.")
    fig.suptitle(title, fontsize=SMALL, y=1.02)
    return fig

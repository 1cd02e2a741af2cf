"""Figures of chapter 01 (the data): the transcript on the TR grid."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._base import SMALL, WIDTH

__all__ = [
    "plot_transcript_on_trs",
]


def plot_transcript_on_trs(
    words: pd.DataFrame,
    *,
    start: int,
    n_trs: int,
    tr: float = 1.5,
    first_tr: int = 0,
    n_show: int = 20,
    title: str = "",
) -> plt.Figure:
    """The transcript laid on the TR grid, and the number of words per TR.

    Parameters
    ----------
    words : DataFrame
        From :func:`anbn_utils.narratives.prepare_story`: ``word``, ``punct``, ``start``,
        ``end`` (scan seconds), ``tr`` (relative TR), ``interpolated``, ``clipped``.
    start : int
        Absolute index of the first kept volume (relative TR 0).
    n_trs : int
        Kept volumes.
    tr : float
        Repetition time (s).
    first_tr, n_show : int
        Relative TRs shown in the top panel: ``[first_tr, first_tr + n_show)``.
    title : str
        Figure title (say which data and parameters made it).
    """
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(WIDTH, 5), height_ratios=[2.2, 1],
                                  layout="constrained")
    t0 = (start + first_tr) * tr
    t1 = t0 + n_show * tr
    for k in range(n_show):
        if k % 2 == 0:
            ax.axvspan(t0 + k * tr, t0 + (k + 1) * tr, color="0.93", lw=0)
        ax.text(t0 + (k + 0.5) * tr, -0.6, str(first_tr + k), ha="center", va="top", fontsize=SMALL,
                color="0.35")
    shown = words[(words["end"] > t0) & (words["start"] < t1)]
    for i, w in enumerate(shown.itertuples()):
        color = "tab:red" if w.interpolated else "0.5" if w.clipped else "black"
        y = 3 - (i % 4)
        ax.plot([w.start, w.end], [y - 0.25, y - 0.25], color=color, lw=2, alpha=0.5)
        ax.text(w.start, y, f"{w.word}{w.punct}", fontsize=SMALL, color=color, va="bottom")
        ax.plot([w.end], [y - 0.25], marker="|", color=color, ms=6)
    ax.set_xlim(t0, t1)
    ax.set_ylim(-1.4, 4)
    ax.set_yticks([])
    ax.set_xlabel("scan time (s); shaded bands are TRs, numbered from the first kept volume")
    fig.suptitle(title or "Transcript on the TR grid", fontsize=10)
    ax.plot([], [], color="black", lw=2, label="aligned (start to end)")
    ax.plot([], [], color="tab:red", lw=2, label="time interpolated")
    ax.plot([], [], color="0.5", lw=2, label="clipped to the window")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=SMALL,
              frameon=False)
    counts = np.bincount(words["tr"].to_numpy(dtype=int), minlength=n_trs)
    ax2.bar(np.arange(n_trs), counts, width=1.0, color="tab:blue")
    ax2.axvspan(first_tr - 0.5, first_tr + n_show - 0.5, color="tab:orange", alpha=0.2,
                label="shown above")
    ax2.set_xlim(-0.5, n_trs - 0.5)
    ax2.set_xlabel("TR (relative to the first kept volume)")
    ax2.set_ylabel("words per TR")
    ax2.legend(loc="upper right", fontsize=SMALL)
    return fig

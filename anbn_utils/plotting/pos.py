"""Figures of chapter 05 (parts of speech): category heatmaps, anchor counts,
over-representation, top categories (chapter 06's best-pair tags draw them too), exemplars
and the text heatmap (HTML)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..units import bn_name
from ._base import SMALL, WIDTH, integer_ticks

__all__ = [
    "plot_anchor_counts",
    "plot_category_heatmap",
    "plot_exemplars",
    "plot_over_representation",
    "plot_top_categories",
    "text_heatmap_html",
]


def plot_category_heatmap(matrix: np.ndarray, labels, *, ax=None, title: str = "",
                          diverging: bool = False, fmt: str = "{:.0f}",
                          colorbar_label: str = "", annotate_all: bool = False,
                          gamma: float = 1.0) -> plt.Axes:
    """A 17 x 17 (query tag x key tag) matrix as an annotated heatmap (NaN cells in grey).

    Sequential values in viridis, signed ones (``diverging``) in blue-white-red around
    zero (colour-blind safe); cells of at least a quarter of the largest magnitude are
    annotated (every non-zero cell with ``annotate_all``), in white on dark cells.
    ``gamma`` below one spreads the colours of small sequential values (a power scale,
    ``matplotlib.colors.PowerNorm``; the colour bar shows it).
    """
    from matplotlib.colors import Normalize, PowerNorm

    if ax is None:
        _, ax = plt.subplots(figsize=(WIDTH, 7.0), layout="constrained")
    finite = np.isfinite(matrix)
    lim = (np.abs(matrix[finite]).max() if finite.any() else 0.0) or 1.0
    cmap = plt.get_cmap("RdBu_r" if diverging else "viridis").with_extremes(bad="0.85")
    norm = (Normalize(-lim, lim) if diverging else
            Normalize(0, lim) if gamma == 1 else PowerNorm(gamma, 0, lim))
    im = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, norm=norm)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=10)
    ax.set_yticks(range(len(labels)), labels, fontsize=10)
    ax.set_xlabel("key tag", fontsize=10)
    ax.set_ylabel("query tag", fontsize=10)
    for (i, j), v in np.ndenumerate(matrix):
        if np.isfinite(v) and v != 0 and (annotate_all or abs(v) >= 0.25 * lim):
            r, g, b, _ = cmap(norm(v))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(j, i, fmt.format(v), ha="center", va="center",
                    fontsize=SMALL if annotate_all else 10,
                    color="white" if dark else "black")
    bar = ax.figure.colorbar(im, ax=ax, shrink=0.7)
    bar.ax.tick_params(labelsize=10)
    if colorbar_label:
        bar.set_label(colorbar_label, fontsize=10)
    ax.set_title(title, fontsize=11)
    return ax


def plot_anchor_counts(counts: pd.DataFrame, *, threshold: float, title: str = "") -> plt.Figure:
    """Fig. 6a: ANs anchored to each BN (Eq. 1, max PCC >= threshold), per story.

    Parameters
    ----------
    counts : DataFrame
        ``story``, ``bn``, ``n_ans``, ``most_anchored``
        (:func:`anbn_utils.interpret.anchor_counts` per story); the most anchored BN in red.
    """
    stories = list(dict.fromkeys(counts["story"]))
    fig, axes = plt.subplots(1, len(stories), figsize=(WIDTH, 2.8), squeeze=False,
                             layout="constrained")
    for ax, task in zip(axes[0], stories):
        c = counts[counts["story"] == task]
        ax.bar(c["bn"] + 1, c["n_ans"],  # viridis' ends: the most anchored BN in yellow
               color=np.where(c["most_anchored"], "#fde725", "#3b528b"), edgecolor="0.2",
               linewidth=0.3)
        top = c[c["most_anchored"]]
        what = (f"most anchored {bn_name(top['bn'].iloc[0])} ({top['n_ans'].iloc[0]} ANs)"
                if len(top) else f"no AN reaches PCC {threshold}")
        ax.set(xlabel="BN", ylabel=f"ANs anchored (PCC >= {threshold})")
        integer_ticks(ax)
        ax.set_title(f"(a) {task}: {what}", fontsize=SMALL)
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_over_representation(shares: np.ndarray, ratio: np.ndarray, labels, *, story: str,
                             title: str = "") -> plt.Figure:
    """The categories of all top pairs (share) and their log2 over-representation against
    all token pairs of the text (grey: undefined), one above the other.

    Parameters
    ----------
    shares, ratio : ndarray of shape (17, 17)
        From :func:`anbn_utils.pos.top_pair_shares` and
        :func:`anbn_utils.pos.over_representation`.
    """
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 14), layout="constrained")
    plot_category_heatmap(100 * shares, labels, ax=axes[0], title=f"{story}: % of all top pairs",
                          fmt="{:.1f}", colorbar_label="% of top pairs")
    plot_category_heatmap(ratio, labels, ax=axes[1], diverging=True, fmt="{:+.1f}",
                          title=f"{story}: log2(top pairs / all token pairs of the text)",
                          colorbar_label="log2 ratio")
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_top_categories(counts: np.ndarray, labels, titles, *, n_top: int = 8, cols: int = 2,
                        title: str = "") -> plt.Figure:
    """The (query tag, key tag) categories with most top pairs, one panel per AN: bars of
    the share (%) of the AN's top pairs in each of its ``n_top`` largest categories, and
    the AN's two most frequent query and key tags under the bars.

    Parameters
    ----------
    counts : ndarray of shape (n_panels, 17, 17)
        Top-pair counts per category of each AN shown
        (:func:`anbn_utils.pos.an_categories` rows).
    labels : sequence of str
        The 17 tags.
    titles : sequence of str
        One title per panel.
    n_top : int
        Categories shown per AN.
    cols : int
        Panels per row.
    """
    from ..pos import tag_marginals

    counts = np.asarray(counts, dtype=float)
    n = len(counts)
    if len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} panels")
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 0.24 * n_top * rows + 1.4 * rows),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.axis("off")
    names = [f"{q} \u2192 {k}" for q in labels for k in labels]
    for ax, c, name in zip(axes.flat, counts, titles):
        total = c.sum()
        share = 100 * c.ravel() / total if total else np.zeros(c.size)
        top = np.argsort(-share, kind="stable")[:n_top]
        ax.barh(np.arange(len(top)), share[top], color="#3b528b")  # viridis' blue
        ax.set_yticks(np.arange(len(top)), [names[i] for i in top], fontsize=SMALL)
        ax.invert_yaxis()
        for y, v in enumerate(share[top]):
            ax.text(v, y, f" {v:.1f}", va="center", fontsize=SMALL)
        ax.set_xlim(0, max(share[top].max(initial=0) * 1.25, 1))
        ax.tick_params(axis="x", labelsize=SMALL)
        ax.set_xlabel("% of the AN's top pairs", fontsize=SMALL)
        query, key = tag_marginals(c) if total else (np.zeros(len(labels)),) * 2
        lead = [", ".join(f"{labels[j]} {m[j]:.0f}%" for j in np.argsort(-m, kind="stable")[:2])
                for m in (query, key)]
        ax.set_title(f"{name}\nqueries: {lead[0]}\nkeys: {lead[1]}", fontsize=SMALL)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_exemplars(exemplars: pd.DataFrame, counts: np.ndarray, labels, *, story: str,
                   n_top: int = 8, title: str = "") -> plt.Figure:
    """Fig. 10: the (query tag, key tag) categories of the top pairs of exemplar ANs
    (:func:`plot_top_categories`).

    Parameters
    ----------
    exemplars : DataFrame
        ``an``, ``an_name``, ``bn``, ``pcc``, one row per AN shown.
    counts : ndarray of shape (n_ans, 17, 17)
        From :func:`anbn_utils.pos.an_categories`.
    labels : sequence of str
        The 17 tags.
    """
    titles = [f"({'abcdefgh'[i % 8]}) {story}: {r.an_name} - {bn_name(r.bn)} ({r.pcc:.2f})"
              for i, r in enumerate(exemplars.itertuples())]
    return plot_top_categories(np.asarray(counts)[exemplars["an"].to_numpy()], labels, titles,
                               n_top=n_top, cols=min(2, len(exemplars)), title=title)


def text_heatmap_html(tokens: pd.DataFrame, transcript: str, top_query: np.ndarray,
                      top_key: np.ndarray, top_values: np.ndarray, an: int, *,
                      title: str = "") -> str:
    """Static HTML of one AN's top query-key pairs laid on the transcript.

    Each token is shaded red by the summed magnitude of the pairs it takes part in as a
    query and blue as a key (purple when both), relative to the most involved token.  The
    HTML has no script and no external resource.

    Parameters
    ----------
    tokens : DataFrame
        Token table (``segment``, ``position``, ``special``, ``char_start``, ``char_end``).
    transcript : str
    top_query, top_key, top_values : ndarray of shape (n_segments, n_ans, top_k)
    an : int
        Flattened AN index.
    """
    import html

    key = {(s, p): i for i, (s, p) in enumerate(zip(tokens["segment"], tokens["position"]))}
    q_w, k_w = np.zeros(len(tokens)), np.zeros(len(tokens))
    for s in range(top_query.shape[0]):
        mag = np.abs(np.asarray(top_values[s, an], dtype=float))
        for pos, w in zip(np.asarray(top_query[s, an]), mag):
            q_w[key[s, int(pos)]] += w
        for pos, w in zip(np.asarray(top_key[s, an]), mag):
            k_w[key[s, int(pos)]] += w
    scale = max(q_w.max(), k_w.max()) or 1.0
    parts, cursor = [], 0
    for i, row in enumerate(tokens.itertuples()):
        if row.special or row.char_start < cursor:
            continue
        parts.append(html.escape(transcript[cursor:row.char_start]))
        a_q, a_k = q_w[i] / scale, k_w[i] / scale
        text = html.escape(transcript[row.char_start:row.char_end])
        if a_q or a_k:
            r, b = int(255 * min(1, a_q / max(a_q + a_k, 1e-12) * 2)), int(255 * min(1, a_k / max(a_q + a_k, 1e-12) * 2))
            alpha = min(1.0, 0.15 + 0.85 * max(a_q, a_k))
            parts.append(f'<span style="background:rgba({r},0,{b},{alpha:.2f});color:'
                         f'{"white" if alpha > 0.6 else "black"}" title="query {q_w[i]:.2f}, '
                         f'key {k_w[i]:.2f}">{text}</span>')
        else:
            parts.append(text)
        cursor = row.char_end
    parts.append(html.escape(transcript[cursor:]))
    return (f'<div style="font-family:serif;font-size:13px;line-height:1.7;max-height:24em;'
            f'overflow-y:auto;border:1px solid #ccc;padding:0.6em"><b>{html.escape(title)}</b> '
            '<span style="background:rgb(255,0,0);color:white">&nbsp;query&nbsp;</span> '
            '<span style="background:rgb(0,0,255);color:white">&nbsp;key&nbsp;</span><br>'
            + "".join(parts).replace("\n", "<br>") + "</div>")

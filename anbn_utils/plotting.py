"""Figures of the book.  Each function returns the matplotlib figure it drew."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .stats import zscore
from .units import an_layers, bn_name

__all__ = [
    "plot_an_distributions",
    "plot_an_examples",
    "plot_an_heatmaps",
    "plot_an_max_distributions",
    "plot_anchor_counts",
    "plot_best_pairs",
    "plot_bn_timecourses",
    "plot_category_heatmap",
    "plot_exemplars",
    "plot_fig4",
    "plot_fig5",
    "plot_layer_curves",
    "plot_method_comparison",
    "plot_network_maps",
    "plot_over_representation",
    "plot_peak_slices",
    "plot_predictive_by_run",
    "plot_qk_decomposition",
    "plot_r2_per_bn",
    "plot_split_halves",
    "plot_tag_distributions",
    "plot_timecourses",
    "plot_transcript_on_trs",
    "text_heatmap_html",
]


def plot_transcript_on_trs(
    words: pd.DataFrame,
    *,
    start: int,
    n_trs: int,
    tr: float = 1.5,
    first_tr: int = 0,
    n_show: int = 24,
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
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(12, 5.5), height_ratios=[2.2, 1],
                                  layout="constrained")
    t0 = (start + first_tr) * tr
    t1 = t0 + n_show * tr
    for k in range(n_show):
        if k % 2 == 0:
            ax.axvspan(t0 + k * tr, t0 + (k + 1) * tr, color="0.93", lw=0)
        ax.text(t0 + (k + 0.5) * tr, -0.6, str(first_tr + k), ha="center", va="top", fontsize=7,
                color="0.35")
    shown = words[(words["end"] > t0) & (words["start"] < t1)]
    for i, w in enumerate(shown.itertuples()):
        color = "tab:red" if w.interpolated else "0.5" if w.clipped else "black"
        y = 3 - (i % 4)
        ax.plot([w.start, w.end], [y - 0.25, y - 0.25], color=color, lw=2, alpha=0.5)
        ax.text(w.start, y, f"{w.word}{w.punct}", fontsize=8, color=color, va="bottom")
        ax.plot([w.end], [y - 0.25], marker="|", color=color, ms=6)
    ax.set_xlim(t0, t1)
    ax.set_ylim(-1.4, 4)
    ax.set_yticks([])
    ax.set_xlabel("scan time (s); shaded bands are TRs, numbered from the first kept volume")
    ax.set_title(title or "Transcript on the TR grid", fontsize=10)
    ax.plot([], [], color="tab:red", lw=2, label="time interpolated (not found in audio)")
    ax.plot([], [], color="0.5", lw=2, label="outside the story window (clipped)")
    ax.plot([], [], color="black", lw=2, label="aligned word (bar: start to end)")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
    counts = np.bincount(words["tr"].to_numpy(dtype=int), minlength=n_trs)
    ax2.bar(np.arange(n_trs), counts, width=1.0, color="tab:blue")
    ax2.axvspan(first_tr - 0.5, first_tr + n_show - 0.5, color="tab:orange", alpha=0.2,
                label="shown above")
    ax2.set_xlim(-0.5, n_trs - 0.5)
    ax2.set_xlabel("TR (relative to the first kept volume)")
    ax2.set_ylabel("words per TR")
    ax2.legend(loc="upper right", fontsize=7)
    return fig


def plot_qk_decomposition(
    tokens: list[str], q: np.ndarray, k: np.ndarray, *, dims: tuple[int, ...] = (0, 1, 2),
    title: str = "",
) -> plt.Figure:
    """Fig. 2 of the paper on a real sentence: the score map is a sum of one map per AN.

    Parameters
    ----------
    tokens : list of str
        The sentence's tokens (n).
    q, k : ndarray of shape (n, d)
        Queries and keys of one head.
    dims : tuple of int
        Dimensions (0-based) whose product maps are drawn.
    """
    d = q.shape[1]
    products = q[:, None, :] * k[None, :, :]  # (n, n, d)
    score = products.sum(-1) / np.sqrt(d)
    panels = [("(a) pre-softmax scores $q_a^\\top k_b/\\sqrt{d}$", score)]
    panels += [(f"(b) dimension {i + 1}: $q_a[{i + 1}]\\,k_b[{i + 1}]$", products[..., i])
               for i in dims]
    panels.append(((f"(c) sum of the {d} maps $/\\sqrt{{d}}$ - (a)\n"
                    f"max |difference| = {np.abs(products.sum(-1) / np.sqrt(d) - score).max():.1e}"),
                   products.sum(-1) / np.sqrt(d) - score))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.6),
                             layout="constrained")
    for ax, (name, mat) in zip(axes, panels):
        lim = np.abs(mat).max() or 1.0
        im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
        ax.set_title(name, fontsize=8)
        fig.colorbar(im, ax=ax, shrink=0.6)
    axes[0].set_ylabel("query token $a$")
    axes[0].set_xlabel("key token $b$")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_an_heatmaps(activations: np.ndarray, *, title: str = "") -> plt.Figure:
    """AN activations over time, one panel per layer (columns z-scored for display).

    Parameters
    ----------
    activations : ndarray of shape (n_trs, n_layers, n_heads, head_dim)
    """
    n_trs, n_layers, n_heads, head_dim = activations.shape
    cols = min(n_layers, 6)
    rows = int(np.ceil(n_layers / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False,
                             layout="constrained")
    for layer, ax in enumerate(axes.flat):
        if layer >= n_layers:
            ax.axis("off")
            continue
        z = zscore(activations[:, layer].reshape(n_trs, -1))
        im = ax.imshow(z.T, aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3, interpolation="none")
        ax.set_title(f"layer {layer + 1}", fontsize=9)
        ax.set_xlabel("TR")
        ax.set_yticks([h * head_dim for h in range(0, n_heads, max(1, n_heads // 4))],
                      [f"H{h + 1}" for h in range(0, n_heads, max(1, n_heads // 4))], fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.6, label="z-score over TRs")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_an_examples(
    raw: np.ndarray, hrf: np.ndarray, names: list[str], *, tr: float = 1.5, title: str = ""
) -> plt.Figure:
    """Example AN time series before and after HRF convolution (each z-scored).

    Parameters
    ----------
    raw, hrf : ndarray of shape (n_trs, n_examples)
    names : list of str
        AN names of the columns.
    """
    n = raw.shape[1]
    t = np.arange(raw.shape[0]) * tr
    fig, axes = plt.subplots(n, 1, figsize=(11, 1.7 * n), sharex=True, squeeze=False,
                             layout="constrained")
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t, zscore(raw[:, i]), color="0.6", lw=0.8, label="per-TR activation")
        ax.plot(t, zscore(hrf[:, i]), color="tab:red", lw=1.4, label="convolved with the HRF")
        ax.set_ylabel(names[i], fontsize=8)
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("time from the first kept volume (s)")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_an_distributions(activations: np.ndarray, *, title: str = "") -> plt.Figure:
    """Distribution of AN activations (all ANs and TRs) per layer, as box plots.

    Parameters
    ----------
    activations : ndarray of shape (n_trs, n_layers, n_heads, head_dim)
    """
    n_layers = activations.shape[1]
    data = [activations[:, layer].ravel() for layer in range(n_layers)]
    fig, ax = plt.subplots(figsize=(1.0 * n_layers + 3, 3.4), layout="constrained")
    ax.boxplot(data, showfliers=False, whis=(1, 99))
    ax.set_xticks(range(1, n_layers + 1), [f"L{layer + 1}" for layer in range(n_layers)])
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_ylabel("activation (whiskers: 1-99 %)")
    ax.set_title(title, fontsize=9)
    return fig


def plot_network_maps(maps_img, names: list[str], *, highlight: dict[int, str] | None = None,
                      title: str = "") -> plt.Figure:
    """Glass-brain mosaic of spatial maps (a 4D image, one volume per network).

    Parameters
    ----------
    maps_img : 4D Nifti image
    names : list of str
        Name of each volume.
    highlight : dict, optional
        Volume index -> a label added to its title (e.g. the AN that drives it).
    """
    from nilearn import image, plotting

    n = len(names)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 1.9 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        label = f"{i}: {names[i]}"
        if highlight and i in highlight:
            label += f"\n<- {highlight[i]}"
        plotting.plot_glass_brain(image.index_img(maps_img, i), axes=ax, display_mode="lzr",
                                  title=None, threshold=0.2, vmax=1.0, cmap="inferno",
                                  colorbar=False, annotate=False, black_bg=False)
        ax.set_title(label, fontsize=8, color="tab:red" if highlight and i in highlight else "k")
    fig.suptitle(title, fontsize=9, y=1.0 + 0.08 / rows)
    return fig


def plot_timecourses(courses: np.ndarray, names: list[str], *, tr: float = 1.5,
                     window: tuple[int, int] | None = None,
                     highlight: dict[int, str] | None = None, title: str = "") -> plt.Figure:
    """Stacked time courses, shape (n_times, n_series), with the story window shaded."""
    n = courses.shape[1]
    t = np.arange(courses.shape[0]) * tr
    fig, ax = plt.subplots(figsize=(11, 0.55 * n + 1.2), layout="constrained")
    for i in range(n):
        color = "tab:red" if highlight and i in highlight else "0.3"
        ax.plot(t, courses[:, i] / 4 - i, color=color, lw=1)
        label = names[i] + (f" <- {highlight[i]}" if highlight and i in highlight else "")
        ax.text(t[-1] + tr, -i, label, fontsize=7, va="center", color=color)
    if window:
        ax.axvspan(window[0] * tr, window[1] * tr, color="tab:blue", alpha=0.07,
                   label="story window")
        ax.legend(loc="upper left", fontsize=7)
    ax.set_yticks([])
    ax.set_xlabel("scan time (s)")
    ax.set_xlim(0, t[-1] * 1.3)
    ax.set_title(title, fontsize=9)
    return fig


def plot_fig4(results: dict, n_layers: int, *, threshold: float = 0.25, title: str = "") -> plt.Figure:
    """Fig. 4: ANs' maximal PCC: (a) distribution, (b) mean per layer, (c) % below threshold.

    Parameters
    ----------
    results : dict
        Story -> :func:`anbn_utils.coupling.couple_story` output.
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.4), layout="constrained")
    for task, r in results.items():
        an_max = r["an_max"]
        layer = an_layers(len(an_max), n_layers)
        axes[0].hist(an_max, bins=40, alpha=0.5, label=task)
        axes[1].plot(range(1, n_layers + 1), [an_max[layer == l].mean() for l in range(n_layers)],
                     marker="o", label=task)
        axes[2].plot(range(1, n_layers + 1),
                     [100 * (an_max[layer == l] < threshold).mean() for l in range(n_layers)],
                     marker="o", label=task)
    axes[0].set(xlabel="max PCC over BNs", ylabel="ANs", title="(a) ANs' max PCC")
    axes[1].set(xlabel="layer", ylabel="mean max PCC", title="(b) per layer")
    axes[2].set(xlabel="layer", ylabel=f"% ANs with max PCC < {threshold}",
                title=f"(c-d) ANs below {threshold} per layer")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def plot_fig5(results: dict, n_layers: int, *, title: str = "") -> plt.Figure:
    """Fig. 5: (a-b) each BN's maximal PCC, (c-d) the layers of the ANs anchored by BNs."""
    n = len(results)
    fig, axes = plt.subplots(2, n, figsize=(6 * n, 5.6), squeeze=False, layout="constrained")
    for j, (task, r) in enumerate(results.items()):
        bn_max = r["bn_max"]
        axes[0, j].bar(np.arange(1, len(bn_max) + 1), bn_max, color="tab:blue")
        axes[0, j].set(xlabel="BN", ylabel="max PCC over ANs",
                       title=f"({'ab'[j % 2]}) {task}: BNs' max PCC "
                             f"(mean {bn_max.mean():.3f} ± {bn_max.std():.3f})")
        layer = an_layers(r["pcc"].shape[0], n_layers)
        counts = np.bincount(layer[r["bn_to_an"]], minlength=n_layers)
        axes[1, j].bar(np.arange(1, n_layers + 1), counts, color="tab:orange")
        axes[1, j].set(xlabel="layer", ylabel="ANs anchored by BNs (Eq. 2)",
                       title=f"({'cd'[j % 2]}) {task}: layers of the BNs' anchors")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_category_heatmap(matrix: np.ndarray, labels, *, ax=None, title: str = "",
                          diverging: bool = False, fmt: str = "{:.0f}") -> plt.Axes:
    """A 17 x 17 (query tag x key tag) matrix as an annotated heatmap (NaN cells in grey)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6))
    finite = np.isfinite(matrix)
    lim = (np.abs(matrix[finite]).max() if finite.any() else 0.0) or 1.0
    cmap = plt.get_cmap("RdBu_r" if diverging else "Reds").with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap,
                   vmin=-lim if diverging else 0, vmax=lim)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("key tag")
    ax.set_ylabel("query tag")
    for (i, j), v in np.ndenumerate(matrix):
        if abs(v) >= 0.25 * lim and v != 0:
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=5.5)
    ax.figure.colorbar(im, ax=ax, shrink=0.7)
    ax.set_title(title, fontsize=9)
    return ax


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
    fig, axes = plt.subplots(len(timecourses), 1, figsize=(11, 2.4 * len(timecourses)),
                             squeeze=False, layout="constrained")
    for ax, (task, tc) in zip(axes[:, 0], timecourses.items()):
        t = np.arange(tc.shape[0]) * tr[task]
        for j in bns:
            ax.plot(t, zscore(tc[:, j]) - 3 * j / max(1, n_bns - 1), lw=1, label=bn_name(j))
        ax.set_title(f"{task}: subject-averaged BN time courses ({n_subjects[task]} subjects), "
                     "z-scored", fontsize=9)
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time from the first kept volume (s)")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_anchor_counts(counts: pd.DataFrame, *, threshold: float, title: str = "") -> plt.Figure:
    """Fig. 6a: ANs anchored to each BN (Eq. 1, max PCC >= threshold), per story.

    Parameters
    ----------
    counts : DataFrame
        ``story``, ``bn``, ``n_ans``, ``most_anchored``
        (:func:`anbn_utils.interpret.anchor_counts` per story); the most anchored BN in red.
    """
    stories = list(dict.fromkeys(counts["story"]))
    fig, axes = plt.subplots(1, len(stories), figsize=(6 * len(stories), 2.8), squeeze=False,
                             layout="constrained")
    for ax, task in zip(axes[0], stories):
        c = counts[counts["story"] == task]
        ax.bar(c["bn"] + 1, c["n_ans"],
               color=np.where(c["most_anchored"], "tab:red", "tab:blue"))
        top = c[c["most_anchored"]]
        what = (f"most anchored {bn_name(top['bn'].iloc[0])} ({top['n_ans'].iloc[0]} ANs)"
                if len(top) else f"no AN reaches PCC {threshold}")
        ax.set(xlabel="BN", ylabel=f"ANs anchored (PCC >= {threshold})",
               title=f"(a) {task}: {what}")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_tag_distributions(dist: dict[str, np.ndarray], labels, *, title: str = "") -> plt.Figure:
    """Fig. 7 (a-c): % of ANs per (query tag, key tag) category per story, and the
    difference of the first two stories.

    Parameters
    ----------
    dist : dict of str -> ndarray of shape (17, 17)
        From :func:`anbn_utils.pos.tag_distribution`, per story.
    labels : sequence of str
        The 17 tags.
    """
    tasks = list(dist)
    n = len(tasks) + (len(tasks) >= 2)
    fig, axes = plt.subplots(1, n, figsize=(7 * n, 6), squeeze=False, layout="constrained")
    for i, task in enumerate(tasks):
        plot_category_heatmap(dist[task], labels, ax=axes[0, i],
                              title=f"({'ab'[i % 2]}) {task}: % of ANs")
    if len(tasks) >= 2:
        plot_category_heatmap(dist[tasks[0]] - dist[tasks[1]], labels, ax=axes[0, -1],
                              diverging=True, fmt="{:+.1f}", title=f"(c) {tasks[0]} - {tasks[1]}")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_over_representation(shares: np.ndarray, ratio: np.ndarray, labels, *, story: str,
                             title: str = "") -> plt.Figure:
    """The categories of all top pairs (share) and their log2 over-representation against
    all token pairs of the text (grey: undefined).

    Parameters
    ----------
    shares, ratio : ndarray of shape (17, 17)
        From :func:`anbn_utils.pos.top_pair_shares` and
        :func:`anbn_utils.pos.over_representation`.
    """
    fig, axes = plt.subplots(1, 2, figsize=(14, 6), layout="constrained")
    plot_category_heatmap(100 * shares, labels, ax=axes[0], title=f"{story}: % of all top pairs",
                          fmt="{:.1f}")
    plot_category_heatmap(ratio, labels, ax=axes[1], diverging=True, fmt="{:+.1f}",
                          title=f"{story}: log2(top pairs / all token pairs of the text)")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_exemplars(exemplars: pd.DataFrame, counts: np.ndarray, labels, *, story: str,
                   title: str = "") -> plt.Figure:
    """Fig. 10: the (query tag, key tag) shares of the top pairs of exemplar ANs.

    Parameters
    ----------
    exemplars : DataFrame
        ``an``, ``an_name``, ``bn``, ``pcc``, one row per AN shown.
    counts : ndarray of shape (n_ans, 17, 17)
        From :func:`anbn_utils.pos.an_categories`.
    labels : sequence of str
        The 17 tags.
    """
    from .pos import tag_marginals

    fig, axes = plt.subplots(1, len(exemplars), figsize=(7 * len(exemplars), 6.2),
                             squeeze=False, layout="constrained")
    for ax, row in zip(axes[0], exemplars.itertuples()):
        c = counts[row.an]
        query, key = tag_marginals(c)
        top = [", ".join(f"{labels[j]} {m[j]:.1f}%" for j in np.argsort(-m, kind="stable")[:2])
               for m in (query, key)]
        plot_category_heatmap(100 * c / c.sum(), labels, ax=ax, fmt="{:.1f}",
                              title=f"{story}: {row.an_name} - {bn_name(row.bn)} ({row.pcc:.2f})\n"
                                    f"queries: {top[0]}; keys: {top[1]}")
    fig.suptitle(title, fontsize=9)
    return fig


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
    fig, axes = plt.subplots(n, 2, figsize=(13, 1.9 * n), width_ratios=[1, 1.6], squeeze=False)
    fig.subplots_adjust(hspace=0.55, wspace=0.05, top=1 - 0.35 / n)
    t = np.arange(len(an_series)) * tr
    for (ax_map, ax_tc), row in zip(axes, pairs.itertuples()):
        plotting.plot_glass_brain(index_img(maps_img, row.bn), axes=ax_map, display_mode="lzr",
                                  cmap="inferno", black_bg=False, plot_abs=False, threshold=1e-6,
                                  colorbar=False, annotate=False)
        ax_map.set_title(f"L{row.layer}: {row.an_name} - {bn_name(row.bn)} ({row.pcc:.2f})",
                         fontsize=8)
        ax_tc.plot(t, zscore(an_series[:, row.an]), color="tab:red", lw=1, label=row.an_name)
        ax_tc.plot(t, zscore(bn_series[:, row.bn]), color="tab:blue", lw=1, label=bn_name(row.bn))
        ax_tc.legend(fontsize=6, loc="upper right", ncol=2)
        ax_tc.set_yticks([])
    axes[-1, 1].set_xlabel("time from the first kept volume (s)")
    fig.suptitle(title, fontsize=9)
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

    fig, axes = plt.subplots(1, len(pairs), figsize=(2.6 * len(pairs), 2.6), squeeze=False)
    for ax, row in zip(axes[0], pairs.itertuples()):
        plotting.plot_stat_map(index_img(maps_img, row.bn), display_mode="z", axes=ax,
                               colorbar=False, cut_coords=[row.peak_z], cmap="inferno",
                               threshold=1e-6, annotate=False, title=None)
        ax.set_title(f"L{row.layer}: {bn_name(row.bn)}, z = {row.peak_z:.0f}", fontsize=8)
    fig.suptitle(title, fontsize=9, y=1.1)
    return fig


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


def plot_layer_curves(curves: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """Per-layer mean maximal PCC of each run, one panel per story
    (:func:`anbn_utils.comparisons.layer_curves`)."""
    stories = list(dict.fromkeys(curves["story"]))
    fig, axes = plt.subplots(1, len(stories), figsize=(5.5 * len(stories), 3.4), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, story in zip(axes[0], stories):
        for run, part in curves[curves["story"] == story].groupby("run", sort=False):
            ax.plot(part["layer"], part["an_max_pcc_mean"], marker="o", label=run)
        ax.set(title=story, xlabel="layer", xticks=sorted(curves["layer"].unique()))
    axes[0, 0].set_ylabel("mean of the ANs' maximal PCC")
    axes[0, -1].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_an_max_distributions(dists: dict[str, dict[str, np.ndarray]], *,
                              title: str = "") -> plt.Figure:
    """Empirical distribution functions of the ANs' maximal PCC, one line per run, one
    panel per story; ``dists`` maps run -> story -> values
    (:func:`anbn_utils.comparisons.an_max_distribution`)."""
    stories = list(dict.fromkeys(s for d in dists.values() for s in d))
    fig, axes = plt.subplots(1, len(stories), figsize=(5.5 * len(stories), 3.4), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, story in zip(axes[0], stories):
        for run, d in dists.items():
            if story in d:
                x = np.sort(d[story])
                ax.plot(x, np.arange(1, x.size + 1) / x.size, label=run)
        ax.set(title=story, xlabel="an AN's maximal PCC over the BNs")
    axes[0, 0].set_ylabel("share of ANs at or below")
    axes[0, -1].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_r2_per_bn(checks: dict[str, dict[str, np.ndarray]], planted: dict[int, str], *,
                   title: str = "") -> plt.Figure:
    """Out-of-sample R^2 per BN, sorted, one panel per check (rows) and story (columns);
    BNs matched to planted networks in red (:func:`anbn_utils.predictive.out_of_sample_r2`)."""
    stories = list(checks)
    labels = list(checks[stories[0]])
    fig, axes = plt.subplots(len(labels), len(stories), figsize=(4.5 * len(stories), 5),
                             squeeze=False, layout="constrained", sharey=True)
    for row, label in zip(axes, labels):
        for ax, story in zip(row, stories):
            r2 = checks[story][label]
            order = np.argsort(r2)[::-1]
            ax.bar(np.arange(len(order)), r2[order],
                   color=["tab:red" if k in planted else "tab:blue" for k in order])
            ax.axhline(0, color="k", lw=0.8)
            ax.set_title(f"{story} | {label}", fontsize=9)
        row[0].set_ylabel("out-of-sample R²")
    for ax in axes[-1]:
        ax.set_xlabel("BNs, sorted by R²")
    fig.suptitle(title + (" | red: BNs matched to planted networks" if planted else ""),
                 fontsize=8)
    return fig


def plot_method_comparison(table: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """BN methods side by side (:func:`anbn_utils.comparisons.method_comparison`): map
    recovery, the share of planted pairs whose AN is its BN's best (by |r| and by signed r),
    and the fit's wall time; one bar per run."""
    runs = table["run"].tolist()
    y = np.arange(len(runs))
    fig, axes = plt.subplots(1, 3, figsize=(10, 0.45 * len(runs) + 1.6), sharey=True,
                             layout="constrained")
    axes[0].barh(y, table["map_r"], color="tab:blue")
    axes[0].set(xlabel="planted maps: mean |spatial r|", xlim=(0, 1))
    share = lambda col: table[col] / table["planted_pairs"]
    axes[1].barh(y - 0.2, share("planted_rank1_abs"), height=0.4, label="by |r|",
                 color="tab:blue")
    axes[1].barh(y + 0.2, share("planted_rank1_signed"), height=0.4, label="by signed r",
                 color="tab:orange")
    axes[1].set(xlabel="planted pairs at rank 1", xlim=(0, 1))
    axes[1].legend(fontsize=8, loc="lower right")
    axes[2].barh(y, table["fit_s"], color="tab:gray")
    axes[2].set(xlabel="03_bns wall time (s)")
    axes[0].set(yticks=y, yticklabels=runs)
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=9)
    return fig


def plot_split_halves(an_max: dict[str, tuple[np.ndarray, np.ndarray]], *,
                      labels: tuple[str, str] = ("half 1", "half 2"),
                      title: str = "") -> plt.Figure:
    """Each AN's maximal PCC in one split half against the other, one panel per story
    (:func:`anbn_utils.reliability.an_max_pairs`), with Pearson's r in the title."""
    stories = list(an_max)
    fig, axes = plt.subplots(1, len(stories), figsize=(4.2 * len(stories), 3.8), squeeze=False,
                             layout="constrained")
    for ax, story in zip(axes[0], stories):
        a, b = an_max[story]
        ax.scatter(a, b, s=4, alpha=0.4, color="tab:blue", rasterized=True)
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        ax.set(title=f"{story}: r = {np.corrcoef(a, b)[0, 1]:.2f}",
               xlabel=f"AN max PCC, {labels[0]}", ylabel=f"AN max PCC, {labels[1]}")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_predictive_by_run(table: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """The best BN's out-of-sample R^2 per run (:func:`anbn_utils.comparisons.predictive_by_run`):
    ridge from all ANs and the anchor AN, bars at the mean over the stories, each story a dot."""
    runs = list(dict.fromkeys(table["run"]))
    y = np.arange(len(runs))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(runs) + 1.6), layout="constrained")
    for offset, col, label, color in ((-0.2, "ridge_r2_max", "ridge, all ANs", "tab:blue"),
                                      (0.2, "anchor_r2_max", "anchor AN", "tab:orange")):
        means = table.groupby("run", sort=False)[col].mean().reindex(runs)
        ax.barh(y + offset, means, height=0.4, color=color, label=label)
        ax.scatter(table[col], [runs.index(r) + offset for r in table["run"]], s=10,
                   color="k", zorder=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(yticks=y, yticklabels=runs, xlabel="best BN's out-of-sample R² (dots: stories)")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=9)
    return fig

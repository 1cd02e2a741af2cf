"""Figures of the book.  Each function returns the matplotlib figure it drew."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .stats import zscore
from .units import an_layers, bn_name

#: Width (inches) of the book's figures: the content column (about 750 px) holds 7.8 in
#: at 96 px per inch, so a figure this wide shows its fonts at their size in points
#: (``anbn_utils.figures.min_displayed_fontsize``).
WIDTH = 7.8
#: The smallest font size (pt) of any text in a figure, at that width.
SMALL = 9

__all__ = [
    "plot_an_distributions",
    "plot_an_examples",
    "plot_an_heatmaps",
    "plot_an_max_distributions",
    "plot_anchor_counts",
    "plot_best_pair_tags",
    "plot_best_pairs",
    "plot_bn_timecourses",
    "plot_calibration",
    "plot_category_heatmap",
    "plot_claims",
    "plot_exemplars",
    "plot_fig4",
    "plot_fig5",
    "plot_layer_curves",
    "plot_method_comparison",
    "plot_network_maps",
    "plot_nuisance",
    "plot_over_representation",
    "plot_peak_slices",
    "plot_predictive_by_run",
    "plot_qk_decomposition",
    "plot_r2_per_bn",
    "plot_split_halves",
    "plot_timecourses",
    "plot_top_categories",
    "plot_transcript_on_trs",
    "plot_verdict_calibration",
    "text_heatmap_html",
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
    panels = [("(a) scores $q_a^\\top k_b/\\sqrt{d}$", score)]
    panels += [(f"(b) AN {i + 1}: $q_a[{i + 1}]\\,k_b[{i + 1}]$", products[..., i])
               for i in dims]
    panels.append(((f"(c) sum of the {d} maps $/\\sqrt{{d}}$ - (a)\n"
                    f"max |diff.| = {np.abs(products.sum(-1) / np.sqrt(d) - score).max():.1e}"),
                   products.sum(-1) / np.sqrt(d) - score))
    cols = 2
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 3.3 * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    axes = axes.ravel()
    for ax, (name, mat) in zip(axes, panels):
        lim = np.abs(mat).max() or 1.0
        im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=SMALL)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=SMALL)
        ax.set_title(name, fontsize=SMALL)
        fig.colorbar(im, ax=ax, shrink=0.6).ax.tick_params(labelsize=SMALL)
    fig.suptitle(f"{title}\nrows: query tokens $a$, columns: key tokens $b$".strip(),
                 fontsize=SMALL)
    return fig


def plot_an_heatmaps(activations: np.ndarray, *, title: str = "") -> plt.Figure:
    """AN activations over time, one panel per layer (columns z-scored for display).

    Parameters
    ----------
    activations : ndarray of shape (n_trs, n_layers, n_heads, head_dim)
    """
    n_trs, n_layers, n_heads, head_dim = activations.shape
    cols = min(n_layers, 3)
    rows = int(np.ceil(n_layers / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.4 * rows), squeeze=False,
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
                      [f"H{h + 1}" for h in range(0, n_heads, max(1, n_heads // 4))], fontsize=SMALL)
    fig.colorbar(im, ax=axes, shrink=0.6, label="z-score over TRs")
    fig.suptitle(title, fontsize=SMALL)
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
    fig, axes = plt.subplots(n, 1, figsize=(WIDTH, 1.5 * n), sharex=True, squeeze=False,
                             layout="constrained")
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t, zscore(raw[:, i]), color="0.6", lw=0.8, label="per-TR activation")
        ax.plot(t, zscore(hrf[:, i]), color="tab:red", lw=1.4, label="convolved with the HRF")
        ax.set_ylabel(names[i], fontsize=SMALL)
    axes[0, 0].legend(loc="upper right", fontsize=SMALL, ncol=2)
    axes[-1, 0].set_xlabel("time from the first kept volume (s)")
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_an_distributions(activations: np.ndarray, *, title: str = "") -> plt.Figure:
    """Distribution of AN activations (all ANs and TRs) per layer, as box plots.

    Parameters
    ----------
    activations : ndarray of shape (n_trs, n_layers, n_heads, head_dim)
    """
    n_layers = activations.shape[1]
    data = [activations[:, layer].ravel() for layer in range(n_layers)]
    fig, ax = plt.subplots(figsize=(min(WIDTH, 0.5 * n_layers + 2), 3.0), layout="constrained")
    ax.boxplot(data, showfliers=False, whis=(1, 99))
    ax.set_xticks(range(1, n_layers + 1), [f"L{layer + 1}" for layer in range(n_layers)])
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_ylabel("activation (whiskers: 1-99 %)")
    ax.set_title(title, fontsize=SMALL)
    return fig


def plot_nuisance(r2: dict[str, np.ndarray], n_layers: int, *,
                  cross: dict[str, np.ndarray] | None = None, title: str = "") -> plt.Figure:
    """What the nuisance regressors (:func:`anbn_utils.ans.nuisance_regressors`) explain.

    (a) per layer and story, the median (dot and line) and quartiles (vertical bar) of the
    ANs' in-sample R^2 (:func:`anbn_utils.ans.nuisance_r2`); (b) when ``cross`` is given,
    histograms of the same-AN correlation across stories, one per entry, with its median
    (dashed line, and in the legend).

    Parameters
    ----------
    r2 : dict of str to ndarray of shape (n_ans,)
        Per story, each AN's R^2, ANs in ``an_names`` order.
    n_layers : int
    cross : dict of str to ndarray, optional
        Label (``"before"``, ``"after"`` regressing out) -> the ANs' cross-story r.
    title : str
    """
    fig, axes = plt.subplots(1, 2 if cross else 1, figsize=(WIDTH, 3.2), squeeze=False,
                             layout="constrained")
    ax = axes[0, 0]
    layers = np.arange(1, n_layers + 1)
    offsets = np.linspace(-0.15, 0.15, len(r2)) if len(r2) > 1 else [0.0]
    for (story, values), dx in zip(r2.items(), offsets):
        by_layer = [values[an_layers(len(values), n_layers) == layer] for layer in range(n_layers)]
        q1, med, q3 = np.nanpercentile(np.array(by_layer), [25, 50, 75], axis=1)
        line, = ax.plot(layers + dx, med, marker="o", label=story)
        ax.vlines(layers + dx, q1, q3, color=line.get_color())
    ax.set(xticks=layers, xlabel="layer", ylabel="R² of the nuisance regressors", ylim=(0, 1))
    ax.set_title("(a) variance of each AN explained (median, quartiles)", fontsize=SMALL)
    ax.legend(fontsize=SMALL, loc="lower right")
    if cross:
        ax = axes[0, 1]
        bins = np.linspace(-1, 1, 41)
        for (label, values), color in zip(cross.items(), ("tab:gray", "tab:blue", "tab:orange")):
            median = float(np.nanmedian(values))
            ax.hist(values[np.isfinite(values)], bins=bins, color=color, alpha=0.6,
                    label=f"{label} (median {median:.2f})")
            ax.axvline(median, color=color, ls="--")
        ax.set(xlabel="same AN, r across stories", ylabel="ANs")
        ax.set_title("(b) the same AN in two stories", fontsize=SMALL)
        ax.legend(fontsize=SMALL, loc="upper left")
    fig.suptitle(title, fontsize=SMALL)
    return fig


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


def _shared_colorbar(fig, vmin: float, vmax: float, *, label: str, cmap: str = "inferno"):
    """One colour bar at the right of a mosaic of brain maps drawn with these limits."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cax = fig.add_axes([0.92, 0.25, 0.012, 0.5])
    bar = fig.colorbar(ScalarMappable(Normalize(vmin, vmax), cmap), cax=cax)
    bar.set_label(label, fontsize=SMALL)
    bar.ax.tick_params(labelsize=SMALL)
    return bar


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


def plot_fig4(results: dict, n_layers: int, *, threshold: float = 0.25, title: str = "") -> plt.Figure:
    """Fig. 4: ANs' maximal PCC: (a) distribution, (b) mean per layer, (c) % below threshold.

    Parameters
    ----------
    results : dict
        Story -> :func:`anbn_utils.coupling.couple_story` output.
    """
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 3.0), layout="constrained")
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
    axes[0].legend(fontsize=SMALL)
    for ax in axes:
        ax.title.set_fontsize(10)
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_fig5(results: dict, n_layers: int, *, title: str = "") -> plt.Figure:
    """Fig. 5: (a-b) each BN's maximal PCC, (c-d) the layers of the ANs anchored by BNs."""
    n = len(results)
    fig, axes = plt.subplots(2, n, figsize=(WIDTH, 5.6), squeeze=False, layout="constrained")
    for j, (task, r) in enumerate(results.items()):
        bn_max = r["bn_max"]
        axes[0, j].bar(np.arange(1, len(bn_max) + 1), bn_max, color="tab:blue")
        axes[0, j].set(xlabel="BN", ylabel="max PCC over ANs",
                       title=f"({'ab'[j % 2]}) {task}: BNs' max PCC\n"
                             f"(mean {bn_max.mean():.3f} ± {bn_max.std():.3f})")
        layer = an_layers(r["pcc"].shape[0], n_layers)
        counts = np.bincount(layer[r["bn_to_an"]], minlength=n_layers)
        axes[1, j].bar(np.arange(1, n_layers + 1), counts, color="tab:orange")
        axes[1, j].set(xlabel="layer", ylabel="ANs anchored by BNs (Eq. 2)",
                       title=f"({'cd'[j % 2]}) {task}: layers of the BNs' anchors")
        for ax in axes[:, j]:
            ax.title.set_fontsize(10)
    fig.suptitle(title, fontsize=SMALL)
    return fig


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
    from .pos import tag_marginals

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


def plot_best_pair_tags(pairs: pd.DataFrame, counts: np.ndarray, labels, *, story: str,
                        n_top: int = 8, title: str = "") -> plt.Figure:
    """Supp. Fig. 1-2: the part-of-speech categories of the top pairs of the best AN of
    each layer (:func:`plot_top_categories`, one panel per layer).

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
        ax_tc.legend(fontsize=SMALL, loc="upper right", ncol=2)
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


def _max_of(maps_img, volumes) -> float:
    """The largest value of the given volumes of a 4D image (a shared colour scale)."""
    data = np.asarray(maps_img.dataobj)[..., sorted({int(v) for v in volumes})]
    return float(data.max()) if data.size and data.max() > 0 else 1.0


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


def _legend_below(fig, ax) -> None:
    """One legend of the runs under the panels (it hid the curves inside a panel)."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)),
               fontsize=SMALL, frameon=False)


def plot_layer_curves(curves: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """Per-layer mean maximal PCC of each run, one panel per story
    (:func:`anbn_utils.comparisons.layer_curves`)."""
    stories = list(dict.fromkeys(curves["story"]))
    fig, axes = plt.subplots(1, len(stories), figsize=(WIDTH, 3.0), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, story in zip(axes[0], stories):
        for run, part in curves[curves["story"] == story].groupby("run", sort=False):
            ax.plot(part["layer"], part["an_max_pcc_mean"], marker="o", label=run)
        ax.set(title=story, xlabel="layer", xticks=sorted(curves["layer"].unique()))
    axes[0, 0].set_ylabel("mean of the ANs' maximal PCC")
    _legend_below(fig, axes[0, 0])
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_an_max_distributions(dists: dict[str, dict[str, np.ndarray]], *,
                              title: str = "") -> plt.Figure:
    """Empirical distribution functions of the ANs' maximal PCC, one line per run, one
    panel per story; ``dists`` maps run -> story -> values
    (:func:`anbn_utils.comparisons.an_max_distribution`)."""
    stories = list(dict.fromkeys(s for d in dists.values() for s in d))
    fig, axes = plt.subplots(1, len(stories), figsize=(WIDTH, 3.0), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, story in zip(axes[0], stories):
        for run, d in dists.items():
            if story in d:
                x = np.sort(d[story])
                ax.plot(x, np.arange(1, x.size + 1) / x.size, label=run)
        ax.set(title=story, xlabel="an AN's maximal PCC over the BNs")
    axes[0, 0].set_ylabel("share of ANs at or below")
    _legend_below(fig, axes[0, 0])
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_r2_per_bn(checks: dict[str, dict[str, np.ndarray]], planted: dict[int, str], *,
                   title: str = "") -> plt.Figure:
    """Out-of-sample R^2 per BN, sorted, one panel per check (rows) and story (columns);
    BNs matched to planted networks in red (:func:`anbn_utils.predictive.out_of_sample_r2`)."""
    stories = list(checks)
    labels = list(checks[stories[0]])
    fig, axes = plt.subplots(len(labels), len(stories), figsize=(WIDTH, 1.4 * len(labels) + 0.8),
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
                 fontsize=SMALL)
    return fig


def plot_method_comparison(table: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """BN methods side by side (:func:`anbn_utils.comparisons.method_comparison`): map
    recovery, the share of planted pairs whose AN is its BN's best (by |r| and by signed r),
    and the fit's wall time; one bar per run."""
    runs = table["run"].tolist()
    y = np.arange(len(runs))
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 0.45 * len(runs) + 1.8), sharey=True,
                             layout="constrained")
    axes[0].barh(y, table["map_r"], color="tab:blue")
    axes[0].set(xlabel="planted maps: mean |spatial r|", xlim=(0, 1))
    share = lambda col: table[col] / table["planted_pairs"]
    axes[1].barh(y - 0.2, share("planted_rank1_abs"), height=0.4, label="by |r|",
                 color="tab:blue")
    axes[1].barh(y + 0.2, share("planted_rank1_signed"), height=0.4, label="by signed r",
                 color="tab:orange")
    axes[1].set(xlabel="planted pairs at rank 1", xlim=(0, 1))
    axes[1].legend(fontsize=SMALL, loc="lower right")
    axes[2].barh(y, table["fit_s"], color="tab:gray")
    axes[2].set(xlabel="03_bns wall time (s)")
    axes[0].set(yticks=y, yticklabels=runs)
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=SMALL)
    return fig


#: How :func:`plot_claims` draws a run's status: glyph and colour.
STATUS_GLYPHS = {"reproduced": ("\u2713", "tab:green"), "not reproduced": ("\u2717", "tab:gray"),
                 "untested": ("?", "tab:orange")}

#: The colour of each verdict (the keys of :data:`anbn_utils.verdict.VERDICTS`).
VERDICT_COLOURS = {"holds": "tab:green", "not evidence": "tab:red", "not reproduced": "tab:gray",
                   "untested": "tab:orange", "text": "tab:purple"}


def plot_claims(table: pd.DataFrame, runs: list[str], *, width: float = WIDTH) -> plt.Figure:
    """The claims table at a glance (:func:`anbn_utils.verdict.claims_table`): one row per
    claim, one column per run with a glyph for reproduced / not reproduced / untested, and
    the verdict's first words, coloured.

    Parameters
    ----------
    table : DataFrame
        ``claims_table``'s output (``key``, ``status``, ``<run> status``, ``verdict``).
    runs : list of str
        The real run first, then the runs compared with it, as named in ``table``.
    """
    from .verdict import VERDICTS

    n, k = len(table), len(runs)
    fig, ax = plt.subplots(figsize=(width, 0.3 * n + 1.4), layout="constrained")
    for i in range(n):
        row = table.iloc[i]
        for j, run in enumerate(runs):
            glyph, colour = STATUS_GLYPHS[row["status" if j == 0 else f"{run} status"]]
            ax.text(j, i, glyph, ha="center", va="center", color=colour, fontsize=11,
                    fontweight="bold")
        verdict = str(row["verdict"])
        first = next((key for key, start in VERDICTS.items() if verdict.startswith(start)), "")
        ax.text(k - 0.4, i, verdict.split(":")[0], ha="left", va="center", fontsize=SMALL,
                color=VERDICT_COLOURS.get(first, "k"))
    ax.set(xlim=(-0.5, k + 3.2), ylim=(n - 0.5, -0.5), yticks=range(n),
           yticklabels=table["key"], xticks=range(k))
    ax.set_xticklabels(runs, rotation=35, ha="left", fontsize=SMALL)
    ax.xaxis.tick_top()
    ax.tick_params(length=0, labelsize=SMALL)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.text(k - 0.4, -1.0, "verdict", ha="left", va="bottom", fontsize=SMALL, fontweight="bold")
    return fig


def plot_verdict_calibration(rates: pd.DataFrame) -> plt.Figure:
    """The verdict calibration (:func:`anbn_utils.verdict.calibration.load_verdict_calibration`):
    per claim, the share of datasets on which it held, one panel per scenario (null data:
    the dashed line is the level; planted data at each r); points are rates, bars 95 %
    Clopper-Pearson intervals.  The text claim is left out (it gets no coupling verdict)."""
    rates = rates[rates["kind"] != "text"]
    keys = list(dict.fromkeys(rates["key"]))
    scenarios = list(dict.fromkeys(rates["scenario"]))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(WIDTH, 0.28 * len(keys) + 1.6),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, scenario in zip(axes[0], scenarios):
        part = rates[rates["scenario"] == scenario].set_index("key").reindex(keys)
        y = np.arange(len(keys))
        ax.errorbar(part["holds"], y, xerr=[part["holds"] - part["holds_low"],
                                            part["holds_high"] - part["holds"]],
                    fmt="o", color="tab:blue", capsize=2)
        if scenario == "null":
            ax.axvline(float(part["alpha"].dropna().iloc[0]), color="k", ls="--", lw=0.8)
        n = int(part["datasets"].dropna().iloc[0])
        r = part["planted_r"].dropna() if "planted_r" in part else part["datasets"].iloc[:0]
        ax.set(xlim=(-0.02, 1.02), xlabel="holds (share of datasets)")
        ax.set_title(f"{scenario}{f', r {r.iloc[0]:g}' if len(r) else ''} ({n})", fontsize=SMALL)
    axes[0][0].set(yticks=range(len(keys)), yticklabels=keys)
    axes[0][0].invert_yaxis()
    return fig


def plot_split_halves(an_max: dict[str, tuple[np.ndarray, np.ndarray]], *,
                      labels: tuple[str, str] = ("half 1", "half 2"),
                      title: str = "") -> plt.Figure:
    """Each AN's maximal PCC in one split half against the other, one panel per story
    (:func:`anbn_utils.reliability.an_max_pairs`), with Pearson's r in the title."""
    stories = list(an_max)
    fig, axes = plt.subplots(1, len(stories), figsize=(WIDTH, WIDTH / max(len(stories), 1) * 0.9), squeeze=False,
                             layout="constrained")
    for ax, story in zip(axes[0], stories):
        a, b = an_max[story]
        ax.scatter(a, b, s=4, alpha=0.4, color="tab:blue", rasterized=True)
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        ax.set(title=f"{story}: r = {np.corrcoef(a, b)[0, 1]:.2f}",
               xlabel=f"AN max PCC, {labels[0]}", ylabel=f"AN max PCC, {labels[1]}")
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_predictive_by_run(table: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """The best BN's out-of-sample R^2 per run (:func:`anbn_utils.comparisons.predictive_by_run`):
    the ANs' unique share beyond the nuisance regressors, the ridge from all ANs and the
    anchor AN, bars at the mean over the stories, each story a dot."""
    runs = list(dict.fromkeys(table["run"]))
    y = np.arange(len(runs))
    fig, ax = plt.subplots(figsize=(WIDTH, 0.6 * len(runs) + 1.6), layout="constrained")
    for offset, col, label, color in ((-0.27, "r2_unique_max", "unique share of the ANs", "tab:green"),
                                      (0.0, "ridge_r2_max", "ridge, all ANs", "tab:blue"),
                                      (0.27, "anchor_r2_max", "anchor AN", "tab:orange")):
        means = table.groupby("run", sort=False)[col].mean().reindex(runs)
        ax.barh(y + offset, means, height=0.27, color=color, label=label)
        ax.scatter(table[col], [runs.index(r) + offset for r in table["run"]], s=10,
                   color="k", zorder=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(yticks=y, yticklabels=runs, xlabel="best BN's out-of-sample R² (dots: stories)")
    ax.invert_yaxis()
    ax.legend(fontsize=SMALL, loc="lower right")
    fig.suptitle(title, fontsize=SMALL)
    return fig


def plot_calibration(rates: pd.DataFrame, *, alpha: float = 0.05) -> plt.Figure:
    """The calibration study (:mod:`anbn_utils.inference.calibration`) at one level.

    (a) the per-test false-positive rate of each null model on independent AR(1) pairs
    (scenario ``pair_ar1``, log scale); (b) the family-wise error rate (some AN significant
    family-wise) on null data of each scenario; (c) the share of planted pairs found,
    family-wise (filled) and after FDR (open).  Points are rates, bars 95 % Clopper-Pearson
    intervals, the dashed line the nominal level.

    Parameters
    ----------
    rates : DataFrame
        :func:`anbn_utils.inference.calibration.calibration_rates`.
    alpha : float
        The level shown.
    """
    rates = rates[np.isclose(rates["alpha"], alpha)]
    nulls = list(dict.fromkeys(rates["null"]))
    colors = dict(zip(nulls, plt.get_cmap("tab10").colors))
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 3.4), layout="constrained")

    def points(ax, part, outcome, x_of, marker="o", fill=True):
        for null in nulls:
            sel = part[(part["null"] == null) & (part["outcome"] == outcome)]
            if sel.empty:
                continue
            x = [x_of(r) + 0.12 * (nulls.index(null) - len(nulls) / 2) for r in sel.itertuples()]
            ax.errorbar(x, sel["rate"], yerr=[sel["rate"] - sel["low"], sel["high"] - sel["rate"]],
                        fmt=marker, color=colors[null], mfc=colors[null] if fill else "white",
                        capsize=2, label=null)

    pair = rates[rates["scenario"] == "pair_ar1"]
    points(axes[0], pair, "per_test", lambda r: 0)
    axes[0].set(yscale="log", xticks=[], ylabel="false-positive rate", xlim=(-1, 1))
    axes[0].set_title("(a) one pair, AR(1) 0.9", fontsize=SMALL)
    null_scenarios = [s for s in dict.fromkeys(rates["scenario"])
                      if s != "pair_ar1" and "planted" not in s]
    points(axes[1], rates[rates["scenario"].isin(null_scenarios)], "fwer_any",
           lambda r: null_scenarios.index(r.scenario))
    axes[1].set(xticks=range(len(null_scenarios)), ylabel="FWER (any AN significant)")
    axes[1].set_xticklabels(null_scenarios, rotation=20, fontsize=SMALL)
    axes[1].set_title("(b) null data, family-wise", fontsize=SMALL)
    planted = [s for s in dict.fromkeys(rates["scenario"]) if "planted" in s]
    part = rates[rates["scenario"].isin(planted)]
    points(axes[2], part, "planted_fwer", lambda r: planted.index(r.scenario))
    points(axes[2], part, "planted_fdr", lambda r: planted.index(r.scenario) + 0.5, fill=False)
    axes[2].set(xticks=[i + 0.25 for i in range(len(planted))], ylim=(-0.05, 1.05),
                ylabel="planted pairs found")
    axes[2].set_xticklabels(planted, rotation=20, fontsize=SMALL)
    axes[2].set_title("(c) power: FWER (filled), FDR (open)", fontsize=SMALL)
    for ax in axes[:2]:
        ax.axhline(alpha, color="k", ls="--", lw=1)
    handles, labels = axes[0].get_legend_handles_labels()
    by_label = dict(zip(labels, handles))
    for ax in axes[1:]:
        by_label.update(dict(zip(*ax.get_legend_handles_labels()[::-1])))
    fig.legend(by_label.values(), by_label.keys(), loc="outside lower center",
               ncol=len(by_label), fontsize=SMALL)
    fig.suptitle(f"Calibration of the coupling tests at alpha = {alpha}", fontsize=SMALL)
    return fig

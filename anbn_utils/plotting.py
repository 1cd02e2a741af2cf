"""Figures of the book.  Each function returns the matplotlib figure it drew."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = [
    "plot_an_distributions",
    "plot_an_examples",
    "plot_an_heatmaps",
    "plot_category_heatmap",
    "plot_fig4",
    "plot_fig5",
    "plot_network_maps",
    "plot_qk_decomposition",
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
        x = activations[:, layer].reshape(n_trs, -1)
        z = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
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

    def z(x):
        return (x - x.mean()) / (x.std() or 1)

    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t, z(raw[:, i]), color="0.6", lw=0.8, label="per-TR activation")
        ax.plot(t, z(hrf[:, i]), color="tab:red", lw=1.4, label="convolved with the HRF")
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
        layer = np.arange(len(an_max)) // (len(an_max) // n_layers)
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
        n_ans = r["pcc"].shape[0]
        counts = np.bincount(r["bn_to_an"] // (n_ans // n_layers), minlength=n_layers)
        axes[1, j].bar(np.arange(1, n_layers + 1), counts, color="tab:orange")
        axes[1, j].set(xlabel="layer", ylabel="ANs anchored by BNs (Eq. 2)",
                       title=f"({'cd'[j % 2]}) {task}: layers of the BNs' anchors")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_category_heatmap(matrix: np.ndarray, labels, *, ax=None, title: str = "",
                          diverging: bool = False, fmt: str = "{:.0f}") -> plt.Axes:
    """A 17 x 17 (query tag x key tag) matrix as an annotated heatmap."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6))
    lim = np.abs(matrix).max() or 1.0
    im = ax.imshow(matrix, cmap="RdBu_r" if diverging else "Reds",
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

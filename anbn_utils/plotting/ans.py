"""Figures of chapter 02 (the ANs): the q x k decomposition, AN heatmaps, examples and
distributions, what the nuisance regressors explain."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..stats import zscore
from ..units import an_layers
from ._base import SMALL, WIDTH

__all__ = [
    "plot_an_distributions",
    "plot_an_examples",
    "plot_an_heatmaps",
    "plot_model_distributions",
    "plot_nuisance",
    "plot_qk_decomposition",
]


def plot_qk_decomposition(
    tokens: list[str], q: np.ndarray, k: np.ndarray, weights: np.ndarray, *, scaling: float,
    mask: np.ndarray | None = None, dims: tuple[int, ...] = (0, 1, 2), title: str = "",
) -> plt.Figure:
    """Fig. 2 of the paper on a real sentence: the attention of one head is the softmax of a
    sum of one map per AN.

    Parameters
    ----------
    tokens : list of str
        The sentence's tokens (n).
    q, k : ndarray of shape (n, d)
        Queries and keys of one head as its attention multiplies them
        (:func:`anbn_utils.ans.attention.head_decomposition`).
    weights : ndarray of shape (n, n)
        The model's own attention weights of that head (``output_attentions``): panel (a).
    scaling : float
        The factor of ``q . k`` in the logit.
    mask : ndarray of shape (n, n), optional
        The additive mask of the logit (0 where allowed).
    dims : tuple of int
        Dimensions (0-based) whose product maps are drawn (b).

    Panel (c) is ``softmax(scaling * sum_i q_a[i] k_b[i] + mask)``, on (a)'s colour scale:
    the same map when the AN maps make up what the model computes; its title gives the
    largest absolute difference from (a) (a panel of the difference itself was blank: zero
    up to float rounding).
    """
    from scipy.special import softmax

    d = q.shape[1]
    products = q[:, None, :].astype(np.float64) * k[None, :, :]  # (n, n, d)
    logits = products.sum(-1) * scaling + (0.0 if mask is None else mask.astype(np.float64))
    rebuilt = softmax(logits, axis=-1)
    panels = [("(a) the model's attention weights", weights)]
    panels += [(f"(b) AN {i + 1}: $q_a[{i + 1}]\\,k_b[{i + 1}]$", products[..., i])
               for i in dims]
    panels.append(((f"(c) softmax of the {d} maps' sum (scaled, masked)\n"
                    f"max |(c) - (a)| = {np.abs(rebuilt - weights).max():.1e}"), rebuilt))
    cols = 2
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 3.3 * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    axes = axes.ravel()
    for j, (ax, (name, mat)) in enumerate(zip(axes, panels)):
        lim = np.abs(weights if j == len(panels) - 1 else mat).max() or 1.0  # (c) on (a)'s
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
    fig, ax = plt.subplots(figsize=(min(WIDTH, 0.5 * n_layers + 2), 3.0), layout="constrained")
    _layer_boxes(ax, activations)
    ax.set_title(title, fontsize=SMALL)
    return fig


def plot_model_distributions(activations: dict[str, np.ndarray]) -> plt.Figure:
    """Per model, the distribution of its AN activations per layer (box plots, one panel
    per model; each panel its own scale: the models' activations differ in size).

    Parameters
    ----------
    activations : dict of str to ndarray of shape (n_trs, n_layers, n_heads, head_dim)
        Per model (the panel's title), its ANs on one story.
    """
    fig, axes = plt.subplots(1, len(activations), figsize=(WIDTH, 3.0), layout="constrained",
                             squeeze=False)
    for ax, (name, act), letter in zip(axes[0], activations.items(), "abcdefgh"):
        _layer_boxes(ax, act)
        n = act.shape[1] * act.shape[2] * act.shape[3]
        ax.set_title(f"({letter}) {name}: {n:,} ANs", fontsize=SMALL)
    return fig


def _layer_boxes(ax, activations: np.ndarray) -> None:
    """Box plots of all ANs and TRs of each layer on ``ax`` (whiskers 1-99 %)."""
    n_layers = activations.shape[1]
    ax.boxplot([activations[:, layer].ravel() for layer in range(n_layers)], showfliers=False,
               whis=(1, 99))
    ax.set_xticks(range(1, n_layers + 1), [f"L{layer + 1}" for layer in range(n_layers)])
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_ylabel("activation (whiskers: 1-99 %)")


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

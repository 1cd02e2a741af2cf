"""Figures of chapter 07 (the verdict): runs side by side, the claims table and the
verdicts' calibration."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._base import SMALL, WIDTH

__all__ = [
    "plot_an_max_distributions",
    "plot_claims",
    "plot_layer_curves",
    "plot_method_comparison",
    "plot_predictive_by_run",
    "plot_split_halves",
    "plot_verdict_calibration",
]


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
    from ..verdict import VERDICTS

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
    per claim, the share of datasets on which it held, one panel per scenario (null data, of
    simulated networks or whole-pipeline phantoms: the dashed line is the level; planted
    data at each r, or the book's planted couplings); points are rates, bars 95 %
    Clopper-Pearson intervals.  The text claim is left out (it gets no coupling verdict)."""
    from ..verdict.calibration import is_null_scenario

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
        if is_null_scenario(scenario):
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

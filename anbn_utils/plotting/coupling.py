"""Figures of chapter 04 (the coupling): Fig. 4, Fig. 5, the out-of-sample R^2 per
BN and the calibration of the coupling tests."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..units import an_layers
from ._base import SMALL, WIDTH, integer_ticks

__all__ = [
    "plot_calibration",
    "plot_fig4",
    "plot_fig5",
    "plot_r2_per_bn",
]


def plot_fig4(results: dict, n_layers: int, *, threshold: float = 0.25, title: str = "") -> plt.Figure:
    """Fig. 4: ANs' maximal PCC: (a) distribution, (b) mean per layer, (c) % below threshold.

    Parameters
    ----------
    results : dict
        Story -> :func:`anbn_utils.coupling.statistics.couple_story` output.
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
    for ax in axes:
        ax.title.set_fontsize(10)
    for ax in axes[1:]:
        integer_ticks(ax)
    # one legend for the three panels (each draws every story), outside the data
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center",
               ncol=len(results), fontsize=SMALL, frameon=False)
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
            integer_ticks(ax)
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


def plot_calibration(rates: pd.DataFrame, *, alpha: float = 0.05) -> plt.Figure:
    """The calibration study (:mod:`anbn_utils.inference.calibration`) at one level.

    (a) the per-test false-positive rate of each null model on independent AR(1) pairs
    (scenario ``pair_ar1``, log scale); (b) the family-wise error rate (some AN significant
    family-wise) on null data of each scenario; (c) the share of planted pairs found,
    family-wise (filled) and after FDR (open).  Points are rates, bars 95 % Clopper-Pearson
    intervals, the dashed line the nominal level.  Scenarios measured on held-out AN series
    (:func:`anbn_utils.inference.calibration.is_held_out`) are left to chapter 07.

    Parameters
    ----------
    rates : DataFrame
        :func:`anbn_utils.inference.calibration.calibration_rates`.
    alpha : float
        The level shown.
    """
    from ..inference.calibration import is_held_out

    rates = rates[np.isclose(rates["alpha"], alpha) & ~rates["scenario"].map(is_held_out)]
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

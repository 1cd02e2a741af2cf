"""Figures draw what they are given: undefined cells, missing anchors, the data's TR."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pandas as pd

from anbn_utils.plotting import (
    plot_anchor_counts,
    plot_best_pairs,
    plot_category_heatmap,
)


def test_category_heatmap_greys_out_undefined_cells():
    """With a NaN the colour limit was NaN (nothing drawn in colour)."""
    m = np.zeros((17, 17))
    m[0, 0], m[1, 1], m[2, 2] = 2.0, -1.0, np.nan
    ax = plot_category_heatmap(m, [str(i) for i in range(17)], diverging=True)
    im = ax.images[0]
    assert (im.norm.vmin, im.norm.vmax) == (-2.0, 2.0)
    assert np.ma.getmaskarray(im.get_array())[2, 2] and not np.ma.getmaskarray(im.get_array())[0, 0]
    plt.close("all")


def test_anchor_counts_say_when_no_bn_is_most_anchored():
    counts = pd.DataFrame({"story": ["a"] * 3 + ["b"] * 3, "bn": [0, 1, 2] * 2,
                           "n_ans": [0, 4, 1, 0, 0, 0],
                           "most_anchored": [False, True, False, False, False, False]})
    fig = plot_anchor_counts(counts, threshold=0.25)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["(a) a: most anchored BN2 (4 ANs)", "(a) b: no AN reaches PCC 0.25"]
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [0, 4, 1]
    assert [b.get_facecolor() for b in bars][1] != bars[0].get_facecolor()
    plt.close("all")


def test_best_pairs_time_axis_uses_the_given_tr():
    """The TR was hard-coded as 1.5 s in chapter 06."""
    img = nib.Nifti1Image(np.random.default_rng(0).random((5, 6, 5, 2)).astype(np.float32),
                          np.diag([8.0, 8.0, 8.0, 1.0]) @ np.array(
                              [[1, 0, 0, -20], [0, 1, 0, -25], [0, 0, 1, -20], [0, 0, 0, 1.0]]))
    pairs = pd.DataFrame({"layer": [1], "an": [3], "an_name": ["L1H1D4"], "bn": [1], "pcc": [0.5]})
    rng = np.random.default_rng(1)
    fig = plot_best_pairs(pairs, img, rng.standard_normal((40, 6)), rng.standard_normal((40, 2)),
                          tr=2.0)
    line = fig.axes[1].lines[0]
    assert line.get_xdata()[-1] == 39 * 2.0
    assert fig.axes[1].lines[1].get_label() == "BN2"
    plt.close("all")


def test_bn_timecourses_are_z_scored_and_stacked_on_the_storys_tr():
    from anbn_utils.plotting import plot_bn_timecourses
    from anbn_utils.stats import zscore

    tc = np.random.default_rng(2).standard_normal((20, 4)) * 5 + 3
    fig = plot_bn_timecourses({"pieman": tc}, [0, 3], tr={"pieman": 1.5}, n_subjects={"pieman": 6})
    lines = fig.axes[0].lines
    assert [ln.get_label() for ln in lines] == ["BN1", "BN4"]
    np.testing.assert_allclose(lines[1].get_ydata(), zscore(tc[:, 3]) - 3 * 3 / 3)
    assert lines[0].get_xdata()[-1] == 19 * 1.5
    assert "(6 subjects)" in fig.axes[0].get_title()
    plt.close("all")


def test_comparison_figures_draw_the_tables_values():
    from anbn_utils.plotting import (
        plot_method_comparison,
        plot_predictive_by_run,
        plot_split_halves,
    )

    methods = pd.DataFrame({"run": ["this run", "canica"], "map_r": [0.4, 0.9],
                            "planted_rank1_abs": [2, 8], "planted_rank1_signed": [1, 6],
                            "planted_pairs": [8, 8], "fit_s": [30.0, 12.0]})
    fig = plot_method_comparison(methods)
    widths = lambda ax: [round(p.get_width(), 6) for p in ax.patches]
    assert widths(fig.axes[0]) == [0.4, 0.9]
    assert widths(fig.axes[1]) == [0.25, 1.0, 0.125, 0.75]  # by |r| then by signed r
    assert widths(fig.axes[2]) == [30.0, 12.0]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["this run", "canica"]

    rng = np.random.default_rng(0)
    a = rng.standard_normal(50)
    b = a + rng.standard_normal(50)
    fig = plot_split_halves({"pieman": (a, b)})
    assert fig.axes[0].get_title() == f"pieman: r = {np.corrcoef(a, b)[0, 1]:.2f}"
    np.testing.assert_array_equal(fig.axes[0].collections[0].get_offsets(), np.c_[a, b])

    pred = pd.DataFrame({"run": ["x", "x", "y", "y"], "story": ["s", "t", "s", "t"],
                         "ridge_r2_max": [0.1, 0.3, -0.1, 0.1],
                         "anchor_r2_max": [0.5, 0.7, 0.0, 0.2]})
    fig = plot_predictive_by_run(pred)
    ax = fig.axes[0]
    assert widths(ax) == [0.2, 0.0, 0.6, 0.1]  # ridge means of x, y, then anchor means
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    plt.close("all")

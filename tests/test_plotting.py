"""Figures draw what they are given: undefined cells, missing anchors, the data's TR."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pandas as pd

from anbn_utils.plotting.layers import plot_best_pairs
from anbn_utils.plotting.pos import plot_anchor_counts, plot_category_heatmap


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
    from anbn_utils.plotting.networks import plot_bn_timecourses
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
    from anbn_utils.plotting.verdict import (
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
                         "r2_unique_max": [0.3, 0.5, 0.0, 0.0],
                         "ridge_r2_max": [0.1, 0.3, -0.1, 0.1],
                         "anchor_r2_max": [0.5, 0.7, 0.0, 0.2]})
    fig = plot_predictive_by_run(pred)
    ax = fig.axes[0]
    # unique-share means of x, y, then ridge means, then anchor means
    assert widths(ax) == [0.4, 0.0, 0.2, 0.0, 0.6, 0.1]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    plt.close("all")


def _calibration_rates():
    rows = []
    for scenario, outcomes in (("pair_ar1", ["per_test"]), ("phantom_null", ["fwer_any"]),
                               ("phantom_planted", ["planted_fwer", "planted_fdr"])):
        for null, rate in (("circular", 0.04), ("phase", 0.06)):
            for outcome in outcomes:
                rows.append({"scenario": scenario, "null": null, "alpha": 0.05,
                             "outcome": outcome, "rate": rate, "low": rate - 0.01,
                             "high": rate + 0.02})
    return pd.DataFrame(rows)


def test_calibration_figure_draws_each_rate_with_its_interval():
    from anbn_utils.plotting.coupling import plot_calibration

    fig = plot_calibration(_calibration_rates(), alpha=0.05)
    a, b, c = fig.axes
    # one error bar per null model in (a) and (b): the point at the rate, the bar its interval
    for ax in (a, b):
        assert [e.get_label() for e in ax.containers] == ["circular", "phase"]
        assert [float(e.lines[0].get_ydata()[0]) for e in ax.containers] == [0.04, 0.06]
        segments = ax.containers[0].lines[2][0].get_segments()[0]
        np.testing.assert_allclose(segments[:, 1], [0.03, 0.06])
        assert ax.lines[-1].get_ydata()[0] == 0.05  # the nominal level
    assert a.get_yscale() == "log"
    assert [t.get_text() for t in b.get_xticklabels()] == ["phantom_null"]
    assert len(c.containers) == 4  # found family-wise and after FDR, per null model
    plt.close("all")


# --- legibility and the part-of-speech panels (issue 15) --------------------------------

def _counts(seed=0, n=5):
    return np.random.default_rng(seed).integers(0, 30, size=(n, 17, 17))


def test_top_categories_show_each_ans_largest_shares_in_order():
    from anbn_utils.plotting.pos import plot_top_categories
    from anbn_utils.pos import TAGS

    c = np.zeros((1, 17, 17))
    c[0, 0, 2], c[0, 3, 14], c[0, 8, 0] = 6, 3, 1  # NOUN->PRON 60 %, VERB->PUNCT 30 %, DET->NOUN
    fig = plot_top_categories(c, TAGS, ["one AN"], n_top=3)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "NOUN \u2192 PRON", "VERB \u2192 PUNCT", "DET \u2192 NOUN"]
    np.testing.assert_allclose([b.get_width() for b in ax.patches], [60, 30, 10])
    # query marginals: NOUN 60 %, VERB 30 %; key marginals: PRON 60 %, PUNCT 30 %
    assert "queries: NOUN 60%, VERB 30%\nkeys: PRON 60%, PUNCT 30%" in ax.get_title()
    plt.close("all")


def test_best_pair_tags_draw_the_best_an_of_each_layer():
    """Supp. Fig. 1-2 were missing: one panel per layer, from that layer's best AN's counts."""
    from anbn_utils.plotting.layers import plot_best_pair_tags
    from anbn_utils.pos import TAGS

    counts = np.zeros((4, 17, 17))
    for an in range(4):
        counts[an, an, an] = 1  # AN i: all its pairs in TAGS[i] -> TAGS[i]
    pairs = pd.DataFrame({"layer": [1, 2], "an": [1, 3], "an_name": ["L1H1D2", "L2H1D2"],
                          "bn": [0, 4], "pcc": [0.41, 0.52]})
    fig = plot_best_pair_tags(pairs, counts, TAGS, story="pieman")
    panels = [ax for ax in fig.axes if ax.patches]
    assert [ax.get_yticklabels()[0].get_text() for ax in panels] == [
        f"{TAGS[1]} \u2192 {TAGS[1]}", f"{TAGS[3]} \u2192 {TAGS[3]}"]
    assert panels[1].get_title().startswith("L2: L2H1D2 - BN5 (0.52)")
    plt.close("all")


def test_figures_are_legible_at_the_books_width():
    """The figures were up to 16 in wide with 5.5-7 pt text: shown in the book's ~800 px
    column, tick labels and annotations were 3-5 pt."""
    from anbn_utils.figures import min_displayed_fontsize
    from anbn_utils.plotting.ans import plot_an_heatmaps, plot_qk_decomposition
    from anbn_utils.plotting.coupling import plot_calibration, plot_fig4, plot_fig5
    from anbn_utils.plotting.pos import plot_exemplars, plot_over_representation
    from anbn_utils.plotting.verdict import (
        plot_claims,
        plot_method_comparison,
        plot_predictive_by_run,
        plot_split_halves,
    )
    from anbn_utils.pos import TAGS

    rng = np.random.default_rng(0)
    n_layers, n_ans, n_bns = 3, 3 * 4, 5
    pcc = rng.uniform(-0.5, 0.6, size=(n_ans, n_bns))
    results = {t: {"an_max": pcc.max(1), "bn_max": pcc.max(0), "pcc": pcc,
                   "bn_to_an": pcc.argmax(0)} for t in ("pieman", "shapessocial")}
    shares = rng.random((17, 17))
    exemplars = pd.DataFrame({"an": [0, 2, 4], "an_name": ["a", "b", "c"], "bn": [0, 1, 2],
                              "pcc": [0.5, 0.4, 0.3]})
    figures = {
        "fig4": plot_fig4(results, n_layers),
        "fig5": plot_fig5(results, n_layers),
        "fig7": plot_category_heatmap(rng.random((17, 17)) * 10, TAGS).figure,
        "over": plot_over_representation(shares / shares.sum(), np.log2(shares), TAGS, story="s"),
        "fig10": plot_exemplars(exemplars, _counts(), TAGS, story="pieman"),
        "fig2": plot_qk_decomposition(list("abcdef"), rng.standard_normal((6, 4)),
                                      rng.standard_normal((6, 4)), np.full((6, 6), 1 / 6),
                                      scaling=0.5),
        "heatmaps": plot_an_heatmaps(rng.standard_normal((30, 6, 4, 4))),
        "methods": plot_method_comparison(pd.DataFrame({
            "run": ["this run", "vsdbn_paper_rules", "canica"], "map_r": [0.4, 0.2, 0.9],
            "planted_rank1_abs": [2, 1, 8], "planted_rank1_signed": [1, 1, 6],
            "planted_pairs": [8] * 3, "fit_s": [30.0, 40.0, 12.0]})),
        "halves": plot_split_halves({"pieman": (rng.random(20), rng.random(20)),
                                     "shapessocial": (rng.random(20), rng.random(20))}),
        "predictive": plot_predictive_by_run(pd.DataFrame({
            "run": ["a", "a", "b", "b"], "story": ["s", "t"] * 2, "r2_unique_max": rng.random(4),
            "ridge_r2_max": rng.random(4), "anchor_r2_max": rng.random(4)})),
        "calibration": plot_calibration(_calibration_rates()),
        "claims": plot_claims(pd.DataFrame({
            "key": [f"claim_{i}" for i in range(13)], "status": ["reproduced"] * 13,
            **{f"{r} status": ["untested"] * 13 for r in ("null phantom", "untrained",
                                                          "shuffled_words", "other_story",
                                                          "an_phase")},
            "verdict": ["not evidence about language: untrained"] * 13}),
            ["this run", "null phantom", "untrained", "shuffled_words", "other_story",
             "an_phase"]),
    }
    sizes = {name: min_displayed_fontsize(fig) for name, fig in figures.items()}
    assert all(s >= 9 for s in sizes.values()), sizes
    plt.close("all")


def test_tag_heatmaps_use_colour_blind_safe_maps():
    """Fig. 7 used matplotlib's 'Reds' (a single hue, and red-green pairs with RdYlGn-like
    readings); sequential maps are viridis, signed ones blue-red."""
    from anbn_utils.pos import TAGS

    m = np.random.default_rng(1).random((17, 17))
    assert plot_category_heatmap(m, TAGS).images[0].get_cmap().name.startswith("viridis")
    assert plot_category_heatmap(m - 0.5, TAGS, diverging=True).images[0].get_cmap().name.startswith("RdBu")
    plt.close("all")


def test_nuisance_figure_draws_per_layer_quartiles_and_cross_story_medians():
    from anbn_utils.figures import min_displayed_fontsize
    from anbn_utils.plotting.ans import plot_nuisance

    # 3 layers of 4 ANs; story "a": layer l holds l/10 + (0, 0.1, 0.2, 0.3)
    a = np.concatenate([layer / 10 + np.array([0.0, 0.1, 0.2, 0.3]) for layer in range(3)])
    b = np.full(12, 0.5)
    before, after = np.array([0.9, 0.5, 0.7, np.nan]), np.array([0.1, -0.2, 0.0, 0.3])
    fig = plot_nuisance({"a": a, "b": b}, 3, cross={"before": before, "after": after})
    ax_r2, ax_cross = fig.axes
    line_a, line_b = ax_r2.lines
    assert (line_a.get_label(), line_b.get_label()) == ("a", "b")
    np.testing.assert_allclose(line_a.get_ydata(), [0.15, 0.25, 0.35])  # medians
    np.testing.assert_allclose(line_b.get_ydata(), [0.5] * 3)
    segments = ax_r2.collections[0].get_segments()  # quartiles of story a
    np.testing.assert_allclose([s[:, 1] for s in segments],
                               [[0.075 + l / 10, 0.225 + l / 10] for l in range(3)])
    medians = [ln.get_xdata()[0] for ln in ax_cross.lines]
    np.testing.assert_allclose(medians, [0.7, 0.05])  # NaN left out
    assert [t.get_text() for t in ax_cross.get_legend().get_texts()] == [
        "before (median 0.70)", "after (median 0.05)"]
    assert sum(p.get_height() for p in ax_cross.patches) == 7  # 3 finite + 4
    assert min_displayed_fontsize(fig) >= 9
    # one story: no cross-story panel
    assert len(plot_nuisance({"a": a}, 3).axes) == 1
    plt.close("all")


def test_claims_figure_draws_one_glyph_per_claim_and_run_and_the_verdict():
    from anbn_utils.plotting.verdict import STATUS_GLYPHS, plot_claims

    table = pd.DataFrame({
        "key": ["a", "b", "c"],
        "status": ["reproduced", "not reproduced", "untested"],
        "null phantom status": ["not reproduced", "reproduced", "untested"],
        "verdict": ["holds on this data: stronger than null phantom by pieman +0.1",
                    "not reproduced on this data", "untested: no comparison with x"]})
    fig = plot_claims(table, ["this run", "null phantom"])
    texts = [(t.get_text(), t.get_position(), t.get_color()) for t in fig.axes[0].texts]
    glyphs = {(pos, text) for text, pos, _ in texts if len(text) == 1}
    expected = {((0, 0), STATUS_GLYPHS["reproduced"][0]), ((1, 0), STATUS_GLYPHS["not reproduced"][0]),
                ((0, 1), STATUS_GLYPHS["not reproduced"][0]), ((1, 1), STATUS_GLYPHS["reproduced"][0]),
                ((0, 2), "?"), ((1, 2), "?")}
    assert glyphs == expected
    verdicts = [text for text, _, _ in texts if len(text) > 1]
    assert verdicts == ["holds on this data", "not reproduced on this data", "untested", "verdict"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    plt.close(fig)


def test_bn_and_layer_axes_have_whole_ticks_only():
    """Fig. 5's and Fig. 6's BN axes showed BN 2.5 and the like."""
    from anbn_utils.plotting.coupling import plot_fig5
    from anbn_utils.plotting.pos import plot_anchor_counts

    rng = np.random.default_rng(0)
    pcc = rng.uniform(-0.5, 0.6, size=(12, 3))  # three bars: matplotlib ticks every 0.5
    fig5 = plot_fig5({"pieman": {"bn_max": pcc.max(0), "pcc": pcc, "bn_to_an": pcc.argmax(0)}}, 3)
    counts = pd.DataFrame({"story": "pieman", "bn": range(3), "n_ans": [3, 1, 6],
                           "most_anchored": [False, False, True]})
    fig6 = plot_anchor_counts(counts, threshold=0.1)
    for fig in (fig5, fig6):
        fig.canvas.draw()
        for ax in fig.axes:
            ticks = ax.get_xticks()
            assert np.allclose(ticks, np.round(ticks)), (ax.get_title(), ticks)
    plt.close("all")


def _legends_off_the_data(fig) -> list[str]:
    """The legends of ``fig`` that overlap an axes' data area (in display pixels)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    boxes = [ax.get_window_extent(renderer) for ax in fig.axes if ax.has_data()]
    return [", ".join(t.get_text() for t in legend.get_texts()) for legend in legends
            if any(legend.get_window_extent(renderer).overlaps(box) for box in boxes)]


def test_legends_name_every_story_and_stay_off_the_data():
    """Fig. 4 (b-d) drew a line per story with no legend, and the best pairs' legend sat on
    their time courses."""
    from anbn_utils.plotting.coupling import plot_fig4

    rng = np.random.default_rng(0)
    results = {t: {"an_max": rng.uniform(0, 0.6, 24)} for t in ("pieman", "shapessocial")}
    fig4 = plot_fig4(results, 3)
    assert [t.get_text() for t in fig4.legends[0].get_texts()] == ["pieman", "shapessocial"]
    img = nib.Nifti1Image(rng.random((5, 6, 5, 2)).astype(np.float32), np.diag([8.0] * 3 + [1]))
    pairs = pd.DataFrame({"layer": [1, 2], "an": [3, 4], "an_name": ["L1H1D4", "L2H1D1"],
                          "bn": [1, 0], "pcc": [0.5, 0.4]})
    best = plot_best_pairs(pairs, img, rng.standard_normal((40, 6)),
                           rng.standard_normal((40, 2)), tr=1.5)
    for fig in (fig4, best):
        assert _legends_off_the_data(fig) == []
    plt.close("all")


def test_shared_chunks_rebuild_each_document_and_store_a_repeat_once():
    from anbn_utils.plotting.explorer import shared_chunks

    lib, image = "<script src='x'>var lib = 1;</script>", "data:image/png;base64,QUJD"
    documents = [f"<p>{k}</p>{lib}<img src='{image}'><i>{k}</i>" for k in range(3)]
    chunks, docs = shared_chunks(documents)
    assert ["".join(chunks[i] for i in d) for d in docs] == documents
    assert chunks.count(lib) == 1 and chunks.count(image) == 1

"""The claims, their own nulls, the contrasts and the verdicts: known answers, planted
couplings and coupling-free data with the dependence of real ANs (the dimensions of a head
move together)."""

import dataclasses

import numpy as np
import pytest
import torch

from anbn_utils.coupling.statistics import anchors, pcc_matrix
from anbn_utils.coupling.summaries import summarize
from anbn_utils.errors import DataError
from anbn_utils.inference.calibration import plant, smooth_series
from anbn_utils.verdict import (
    CLAIMS,
    KINDS,
    NULL_NAME,
    REQUIRED_CONTROLS,
    Measurement,
    Rules,
    anchored_tag_distance,
    claim_replicates,
    claims_table,
    comparability,
    contrast,
    layer_slope,
    own_null_p,
    share_contrast,
    story_difference_test,
    verdict,
    verdict_counts,
)
from anbn_utils.verdict.calibration import verdict_rates, write_coupling_run
from anbn_utils.verdict.claims import RunResult, _against_null, _field, _slope
from anbn_utils.verdict.replicates import _weighted_pcc

N_LAYERS, N_HEADS, HEAD_DIM, N_BNS, T = 4, 3, 8, 5, 282
CLAIM = {c.key: c for c in CLAIMS}


def _heads(rng, n_trs=T, share=0.8):
    """AN series whose dimensions share their head's smooth latent (correlated ~share^2):
    the dependence that made the old uniform-spread rule fail on the null phantom."""
    latent = smooth_series(rng, n_trs, N_LAYERS * N_HEADS)
    own = smooth_series(rng, n_trs, N_LAYERS * N_HEADS * HEAD_DIM)
    return share * np.repeat(latent, HEAD_DIM, axis=1) + np.sqrt(1 - share**2) * own


def test_layer_slope_is_the_least_squares_slope():
    assert layer_slope([1, 2, 3]) == pytest.approx(1)
    assert layer_slope([0.3, 0.2, 0.1, 0.0]) == pytest.approx(-0.1)
    assert layer_slope([2, 0, 2]) == pytest.approx(0)
    rows = np.random.default_rng(0).standard_normal((5, 6))
    np.testing.assert_allclose(layer_slope(rows), [np.polyfit(np.arange(6), r, 1)[0] for r in rows])


def test_story_difference_test_known_answers():
    same = np.arange(200) % 7
    assert story_difference_test(same, same, n_permutations=99) == (0.0, 1.0)
    tvd, p = story_difference_test(np.zeros(200, int), np.ones(200, int), n_permutations=99)
    assert tvd == 1.0 and p == pytest.approx(1 / 100)
    a, b = np.zeros(100, int), np.r_[np.zeros(50, int), np.ones(50, int)]
    assert story_difference_test(a, b, n_permutations=9)[0] == pytest.approx(0.5)


def test_anchored_tag_distance_by_hand():
    tags = np.array([0, 0, 1, 1])  # all ANs: half 0, half 1
    sel = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]], bool)
    np.testing.assert_allclose(anchored_tag_distance(tags, sel), [0.5, 0.0, 0.0])


def test_observed_replicate_equals_the_coupling_summary_and_a_unit_weight_bootstrap():
    rng = np.random.default_rng(1)
    ans, bns = _heads(rng), smooth_series(rng, T, N_BNS)
    obs = claim_replicates(ans, bns, N_LAYERS, kind="observed", threshold=0.1)
    pcc = pcc_matrix(torch.tensor(ans), torch.tensor(bns))
    s = summarize({"pcc": pcc.numpy(), **{k: v.numpy() for k, v in anchors(pcc).items()},
                   "tests": {}}, N_LAYERS, threshold=0.1)
    np.testing.assert_allclose(obs.an_max_per_layer[0], s["an_max_pcc_per_layer"])
    np.testing.assert_allclose(obs.below_pct_per_layer[0], s["ans_below_0.1_pct_per_layer"])
    np.testing.assert_array_equal(obs.anchored_per_layer[0], s["anchored_ans_per_layer"])
    assert obs.bn_max_mean[0] == pytest.approx(s["bn_max_pcc_mean"])
    # the most-anchored BN by hand (ties: the lower BN)
    an_to_bn, an_max = pcc.numpy().argmax(1), pcc.numpy().max(1)
    counts = np.bincount(an_to_bn[an_max >= 0.1], minlength=N_BNS)
    assert obs.most_anchored_share[0] == pytest.approx(counts.max() / counts.sum())
    np.testing.assert_array_equal(obs.anchored()[0], (an_to_bn == counts.argmax()) & (an_max >= 0.1))
    # a bootstrap resample is the correlation of the repeated rows
    w = np.random.default_rng(2).multinomial(T, np.full(T, 1 / T), size=3).astype(float)
    got = _weighted_pcc(torch.tensor(ans), torch.tensor(bns), torch.tensor(w)).numpy()
    for row, weights in zip(got, w):
        rows = np.repeat(np.arange(T), weights.astype(int))
        expected = np.corrcoef(ans[rows].T, bns[rows].T)[:ans.shape[1], ans.shape[1]:]
        np.testing.assert_allclose(row, expected, atol=1e-10)
    # circular null: every lag once; the bootstrap: as many resamples as asked
    null = claim_replicates(ans, bns, N_LAYERS, kind="null", threshold=0.1)
    boot = claim_replicates(ans, bns, N_LAYERS, kind="boot", threshold=0.1, n_boot=30)
    assert (len(null), len(boot)) == (T - 1, 30)
    lag = 7  # the null's 7th copy is the BNs rolled by 7 TRs
    rolled = claim_replicates(ans, np.roll(bns, lag, axis=0), N_LAYERS, kind="observed",
                              threshold=0.1)
    assert null.bn_max_mean[lag - 1] == pytest.approx(rolled.bn_max_mean[0])


def _p_values(ans, bns, statistics):
    reps = {k: claim_replicates(ans, bns, N_LAYERS, kind=k, threshold=0.25)
            for k in ("observed", "null")}
    return {name: own_null_p(stat(reps["observed"], None, "")[0], stat(reps["null"], None, ""))
            for name, stat in statistics.items()}


STATISTICS = {"most_anchored": _field("most_anchored_share"), "bn_max": _field("bn_max_mean"),
              "rises": _slope("an_max_per_layer", +1), "fewer_weak": _slope("below_pct_per_layer", -1),
              "anchor_deeper": _slope("anchored_per_layer", +1)}


def test_each_rule_against_its_own_null_rejects_coupling_free_data_at_about_alpha():
    """200 coupling-free stories (head-dependent ANs, independent smooth BNs): each claim's
    own-null test at 0.05 rejects within a binomial tolerance of 5 %.  The rule it replaces
    (the most-anchored BN's count against ANs spread uniformly over the BNs, as if
    independent) rejects far more often on the same data."""
    rejected = {name: 0 for name in STATISTICS}
    uniform = 0
    n = 200
    for seed in range(n):
        rng = np.random.default_rng(100 + seed)
        ans, bns = _heads(rng), smooth_series(rng, T, N_BNS)
        p = _p_values(ans, bns, STATISTICS)
        for name in STATISTICS:
            rejected[name] += p[name] <= 0.05
        pcc = np.corrcoef(ans.T, bns.T)[:ans.shape[1], ans.shape[1]:]
        counts = np.bincount(pcc.argmax(1)[pcc.max(1) >= 0.25], minlength=N_BNS)
        spread = rng.multinomial(counts.sum(), np.full(N_BNS, 1 / N_BNS), size=199).max(1)
        uniform += (1 + (spread >= counts.max()).sum()) / 200 <= 0.05
    rates = {k: v / n for k, v in rejected.items()}
    # binomial: 5 % of 200, an upper bound 3.5 sd above (0.05 + 3.5 * 0.0154)
    assert max(rates.values()) <= 0.104, rates
    assert uniform / n > 0.2


def test_each_rule_finds_a_planted_coupling():
    """A deeper head drives three BNs: the BNs' maximal PCC and the rise with depth are
    found in every one of 10 stories."""
    found = {"bn_max": 0, "rises": 0}
    for seed in range(10):
        rng = np.random.default_rng(seed)
        ans, bns = _heads(rng), smooth_series(rng, T, N_BNS)
        deep = (N_LAYERS - 1) * N_HEADS * HEAD_DIM  # the first AN of the last layer
        bns = plant(ans, bns, [(deep, 0), (deep + HEAD_DIM, 1), (deep + 2 * HEAD_DIM, 2)], 0.7)
        p = _p_values(ans, bns, {k: STATISTICS[k] for k in found})
        for k in found:
            found[k] += p[k] <= 0.05
    assert found == {"bn_max": 10, "rises": 10}


def _measurement(ans, bns, statistic, seed=0):
    reps = {k: claim_replicates(ans, bns, N_LAYERS, kind=k, n_boot=400, random_state=seed)
            for k in KINDS}
    obs = float(statistic(reps["observed"], None, "")[0])
    return Measurement("reproduced", "", observed={"s": obs},
                       boot={"s": statistic(reps["boot"], None, "")},
                       resampling={"s": (len(ans), seed, 20, 400)})


def test_a_planted_contrast_is_found_and_a_null_contrast_is_not():
    """The BNs' mean maximal PCC of a run with planted coupling minus a coupling-free
    control: the interval is above 0.  Two coupling-free runs: above 0 in at most a few of
    20 pairs of datasets (a two-sided 95 % interval: 2.5 % expected)."""
    stat = _field("bn_max_mean")
    rng = np.random.default_rng(5)
    ans = _heads(rng)
    free = smooth_series(rng, T, N_BNS)
    planted = plant(ans, smooth_series(rng, T, N_BNS), [(i * HEAD_DIM * 2, i) for i in range(N_BNS)], 0.6)
    c = contrast(_measurement(ans, planted, stat), _measurement(ans, free, stat))
    assert c.weaker and c.low["s"] > 0.1
    above = 0
    for seed in range(20):
        rng = np.random.default_rng(50 + seed)
        a = _measurement(_heads(rng), smooth_series(rng, T, N_BNS), stat)
        b = _measurement(_heads(rng), smooth_series(rng, T, N_BNS), stat)
        above += contrast(a, b).weaker
    assert above <= 3


def test_share_contrast_known_answers():
    hits = np.r_[np.ones(10, bool), np.zeros(30, bool)]
    clusters = np.arange(40) // 8
    assert share_contrast(hits, hits, clusters) == (0.0, 0.0, 0.0)
    assert share_contrast(np.ones(40, bool), np.zeros(40, bool), clusters) == (100.0, 100.0, 100.0)
    est, low, high = share_contrast(hits, ~hits, clusters, n_boot=500)
    assert est == pytest.approx(100 * (10 - 30) / 40) and low <= est <= high
    with pytest.raises(DataError, match="paired units"):
        share_contrast(hits, hits[:-1], clusters)


def test_share_contrast_covers_a_null_difference_of_dependent_units():
    """Two runs whose heads are significant at rates drawn independently from one
    distribution (a head's dimensions are significant together, as in real runs): the
    difference of the shares is 0 in expectation.  The head bootstrap's 95 % interval covers
    it in about 95 % of 300 pairs of runs; the same bootstrap over dimensions, as if they
    were independent, covers it far less often."""
    n_heads, dim, n = 48, 8, 300
    clusters = np.repeat(np.arange(n_heads), dim)
    covered = {"heads": 0, "dimensions": 0}
    for seed in range(n):
        rng = np.random.default_rng(seed)
        a, b = (rng.random(n_heads * dim) < np.repeat(rng.beta(0.5, 0.5, n_heads), dim)
                for _ in range(2))
        for name, c in (("heads", clusters), ("dimensions", np.arange(n_heads * dim))):
            _, low, high = share_contrast(a, b, c, n_boot=500, random_state=seed)
            covered[name] += low <= 0 <= high
    assert 0.9 <= covered["heads"] / n <= 0.99, covered
    assert covered["dimensions"] / n < 0.75, covered  # expected about 0.65 here


def _significance_run(folder, share, rng):
    """A run whose ANs are significant (q 0) in ``share`` of its heads, the rest not (q 1)."""
    n_heads = N_LAYERS * N_HEADS
    hits = np.repeat(rng.permutation(n_heads) < round(share * n_heads), HEAD_DIM)
    (folder / "04_coupling" / "s").mkdir(parents=True)
    np.save(folder / "04_coupling" / "s" / "an_q_circular.npy", np.where(hits, 0.0, 1.0))
    return RunResult(folder.name, folder, {"stories": {"s": {
        "n_heads": N_HEADS, "n_ans": hits.size, "an_max_pcc_per_layer": [0.0] * N_LAYERS}}})


def test_significance_shares_are_contrasted_not_read_at_the_threshold(tmp_path):
    """The issue's example: a real run with 11 of 12 heads significant (92 %) against a
    control with 10 (83 %, below the paper's 'nearly all') is not significantly weaker; a
    control with 2 (17 %) is."""
    rng = np.random.default_rng(0)
    real, close, far = (_significance_run(tmp_path / name, share, rng)
                        for name, share in (("real", 11 / 12), ("close", 10 / 12), ("far", 2 / 12)))
    compare = CLAIM["significance_circular"].contrast
    c = compare(real, close, Rules())
    assert c.estimate["s"] == pytest.approx(100 / 12) and not c.weaker
    c = compare(real, far, Rules())
    assert c.estimate["s"] == pytest.approx(900 / 12) and c.weaker
    assert c.text().endswith("] % points")


def _write_run(folder, rng, *, planted=False, n_trs=T, parameters=None):
    """A finished 04_coupling of two stories as the stage writes it (coupling, summary and
    the claims' replicates; no variance partition, no tags)."""
    series = {}
    for story in ("pieman", "shapessocial"):
        ans, bns = _heads(rng, n_trs), smooth_series(rng, n_trs, N_BNS)
        if planted:
            deep = (N_LAYERS - 1) * N_HEADS * HEAD_DIM
            bns = plant(ans, bns, [(deep + k * HEAD_DIM, k) for k in range(3)], 0.8)
        series[story] = (ans, bns)
    return write_coupling_run(folder, series, N_LAYERS, N_HEADS, parameters={
        "n_permutations": 99, "claim_boot": 200, **(parameters or {})})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(11)
    return {"real": _write_run(root / "real", rng, planted=True),
            "null": _write_run(root / "null", rng),
            "control": _write_run(root / "control", rng),
            "strong_control": _write_run(root / "strong_control", rng, planted=True)}


def _controls(run, **others):
    return {**{c: run for c in REQUIRED_CONTROLS}, **others}


def test_claims_table_on_planted_runs(runs):
    table = claims_table(runs["real"], runs["null"], _controls(runs["control"])).set_index("claim")
    rows = {c.key: table.loc[c.text] for c in CLAIMS}
    assert list(table.columns[:4]) == ["key", "kind", "paper", "real"]
    assert list(table.columns[-5:]) == [f"{n} status" for n in (NULL_NAME, *REQUIRED_CONTROLS)]
    # planted deep coupling: the BNs' maximum and the rise with depth hold, beating both
    for key in ("bn_max_pcc", "pcc_rises_with_depth", "coupled_pairs"):
        assert rows[key]["status"] == "reproduced", rows[key]
        assert rows[key]["verdict"].startswith("holds on this data"), rows[key]["verdict"]
    assert "null phantom: pieman +" in rows["bn_max_pcc"]["contrasts"]
    assert rows["coupled_pairs"]["verdict"].endswith("an_phase (which does not meet the rule)")
    assert rows["coupled_pairs"]["real"].startswith("pieman: ")
    # nearly all ANs significant: no valid null says so of a few planted pairs
    assert rows["significance_circular"]["verdict"] == "not reproduced on this data"
    # no tags (05_pos not run) and no partition: untested, named
    assert rows["pos_anchored"]["verdict"].startswith("untested: no part-of-speech tags")
    assert rows["predicts_beyond_nuisance"]["verdict"].startswith("untested: no variance partition")
    assert rows["pos_stories"]["verdict"].startswith("untested")
    counts = verdict_counts(table.reset_index())
    assert sum(counts.values()) == len(CLAIMS) and counts["holds"] >= 3


def test_a_missing_null_or_control_gives_untested_never_holds(runs):
    assert verdict(CLAIM["bn_max_pcc"], runs["real"], Measurement("reproduced", ""), {})[0] == \
        "untested: no comparison with null phantom (not given)"
    # other_story and an_phase are required although not given
    table = claims_table(runs["real"], None, {"untrained": runs["control"], "shuffled_words": None})
    rows = dict(zip(table["claim"], table["verdict"]))
    v = rows[CLAIM["bn_max_pcc"].text]
    assert v.startswith("untested: no comparison with") and "null phantom (not run)" in v \
        and "shuffled_words (not run)" in v and "an_phase (not run)" in v
    assert not any(v.startswith("holds") for v in rows.values())
    assert table.loc[table.claim == CLAIM["bn_max_pcc"].text, NULL_NAME].item() == "untested: not run"
    table = claims_table(runs["real"], runs["null"], {"untrained": runs["control"]})
    assert not table["verdict"].str.startswith("holds").any()


def test_a_control_that_is_not_weaker_disqualifies_even_when_others_are_missing(runs):
    table = claims_table(runs["real"], runs["null"], {"untrained": runs["strong_control"],
                                                      "shuffled_words": None})
    v = dict(zip(table["claim"], table["verdict"]))[CLAIM["bn_max_pcc"].text]
    assert v.startswith("not evidence about language: untrained not significantly weaker (pieman")


def test_the_null_phantom_reproducing_is_not_evidence_of_coupling(runs):
    table = claims_table(runs["strong_control"], runs["real"], _controls(runs["control"]))
    v = dict(zip(table["claim"], table["verdict"]))[CLAIM["bn_max_pcc"].text]
    assert v.startswith("not evidence of coupling: the null phantom")


def test_runs_that_differ_in_what_the_statistics_depend_on_are_refused(runs, tmp_path):
    other = _write_run(tmp_path / "other", np.random.default_rng(3), n_trs=250,
                       parameters={"nuisance": "regress"})
    diff = comparability(runs["real"], other)
    assert "nuisance 'none' and 'regress'" in diff and "pieman: 282 and 250 TRs" in diff
    with pytest.raises(DataError, match=r"cannot be compared: they differ in nuisance 'none' "
                                        r"and 'regress'.*pieman: 282 and 250 TRs"):
        claims_table(runs["real"], other)
    table = claims_table(runs["real"], other, on_mismatch="untested")
    assert table[NULL_NAME].str.startswith("untested: not comparable: differs in nuisance").all()
    # the other story's brains are cut to the common TRs by design: not a difference
    other.summary["parameters"].update(nuisance="none", bn_pairing="crossed")
    assert comparability(runs["real"], other) == []


def test_text_claim_is_kept_apart_and_rules_need_their_level(runs):
    rules = Rules(alpha=0.01)  # the runs were tested at 0.05 only
    table = claims_table(runs["real"], runs["null"], _controls(runs["control"]), rules)
    rows = dict(zip(table["claim"], table["verdict"]))
    assert rows[CLAIM["significance_phase"].text] == \
        "untested: the phase null at level 0.01 was not run"
    tags = np.arange(N_LAYERS * N_HEADS * HEAD_DIM) % 3
    run = dataclasses.replace(runs["real"], an_tags={"pieman": tags, "shapessocial": tags})
    m = _against_null(_field("bn_max_mean"), ".3f")(run, Rules())
    assert m.status == "reproduced"
    text = CLAIM["pos_stories"].measure(run, Rules())
    assert text.status == "not reproduced" and text.text == "TVD 0.000, p = 1"
    table = claims_table(run, runs["null"], _controls(runs["control"]))
    rows = dict(zip(table["claim"], table["verdict"]))
    assert rows[CLAIM["pos_stories"].text] == "a property of the text: not reproduced"


def test_verdict_rates_count_holds_and_reproduced_with_exact_intervals():
    import pandas as pd
    from scipy.stats import binomtest

    tables = pd.DataFrame({"dataset": [0, 1, 2, 3], "key": ["a"] * 4, "kind": ["coupling"] * 4,
                           "status": ["reproduced", "reproduced", "not reproduced", "untested"],
                           "verdict": ["holds on this data: x", "not evidence of coupling: y",
                                       "not reproduced on this data", "untested: z"]})
    row = verdict_rates(tables).iloc[0]
    assert (row.datasets, row.holds, row.reproduced, row.untested) == (4, 0.25, 0.5, 1)
    ci = binomtest(1, 4).proportion_ci(method="exact")
    assert (row.holds_low, row.holds_high) == pytest.approx((ci.low, ci.high))


def test_the_verdict_calibration_reading_says_what_the_rates_say():
    import pandas as pd

    from anbn_utils.verdict.calibration import verdict_calibration_reading

    def rows(scenario, holds, reproduced, r=None):
        return [{"scenario": scenario, "alpha": 0.05, "planted_r": r, "key": k, "kind": "coupling",
                 "datasets": 20, "holds": h, "holds_low": max(h - 0.1, 0), "holds_high": h + 0.1,
                 "reproduced": p} for k, h, p in zip("ab", holds, reproduced)]

    calm = pd.DataFrame(rows("null", [0, 0], [0, 0]) + rows("planted", [0.9, 0.2], [1, 0.5], 0.8))
    text = verdict_calibration_reading(calm)
    assert text.startswith("no claim held on any of 20 null datasets (simulated networks; 95 % "
                           "upper bound 0.100")
    assert "reproduced no claim" in text
    assert "planted at r 0.8 (20 datasets, simulated networks)" in text
    assert "reproduced by the real run a 100%, b 50%, held a 90%." in text
    liberal = pd.DataFrame(rows("null", [0.3, 0.0], [0.4, 0.0]))
    text = verdict_calibration_reading(liberal)
    assert ("largest share of \"holds\" is 0.300 [0.200, 0.400] (a); above the level 0.05: a"
            in text)
    # the whole-pipeline phantoms: a null scenario of their own, planted couplings without an r
    phantoms = pd.DataFrame(rows("phantom_null", [0.1, 0.0], [0.1, 0.0])
                            + rows("phantom_planted", [0.6, 0.0], [0.7, 0.0]))
    text = verdict_calibration_reading(phantoms)
    assert text.startswith("on 20 null datasets (whole-pipeline phantoms) the largest share of "
                           "\"holds\" is 0.100 [0.000, 0.200] (a)")
    assert text.endswith("with the book's planted couplings (20 datasets, whole-pipeline "
                         "phantoms): reproduced by the real run a 70%, held a 60%.")
    assert verdict_calibration_reading(pd.DataFrame(rows("planted", [0.1, 0], [0, 0], 0.5))) \
        .startswith("no null datasets in the verdict calibration; planted at r 0.5")

"""Coupling: PCC against scipy, anchors against loops, null models' false-positive rates."""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from anbn_utils.coupling.statistics import anchors, max_statistic_test, pcc_matrix, randomize
from anbn_utils.errors import DataError
from anbn_utils.synthetic import ar1


def test_pcc_equals_scipy_and_anchors_equal_loops():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((120, 40)), rng.standard_normal((120, 7))
    pcc = pcc_matrix(torch.tensor(a), torch.tensor(b)).numpy()
    for i, k in zip(rng.integers(0, 40, 20), rng.integers(0, 7, 20)):
        assert pcc[i, k] == pytest.approx(pearsonr(a[:, i], b[:, k]).statistic, abs=1e-12)
    out = anchors(torch.tensor(pcc))
    for i in range(40):
        assert out["an_to_bn"][i] == max(range(7), key=lambda k: pcc[i, k])
    for k in range(7):
        assert out["bn_to_an"][k] == max(range(40), key=lambda i: pcc[i, k])
        assert out["bn_max"][k] == pcc[:, k].max()
    absolute = anchors(torch.tensor(pcc), "abs")
    assert np.all(np.abs(absolute["an_max"].numpy()) >= np.abs(out["an_max"].numpy()))


def test_randomizations_keep_what_they_should():
    rng = np.random.default_rng(1)
    b = torch.tensor(ar1(rng, 100, 3, 0.8), dtype=torch.float64)
    b = b - b.mean(0)
    b = b / b.norm(dim=0)
    g = torch.Generator().manual_seed(0)
    shift = randomize(b, 5, "circular", g, min_shift=10)
    lag = next(k for k in range(100) if torch.allclose(shift[0], torch.roll(b, k, 0)))
    assert 10 <= lag <= 90
    phase = randomize(b, 5, "phase", g)
    spec = lambda x: torch.fft.rfft(x, dim=-2).abs()[..., 1:, :]
    torch.testing.assert_close(spec(phase), spec(b)[None].expand_as(spec(phase)))
    # the same phases for all BNs: their correlations are kept
    torch.testing.assert_close(phase[0].T @ phase[0], b.T @ b)
    shuffled = randomize(b, 5, "shuffle", g)
    torch.testing.assert_close(shuffled[0].sort(0).values, b.sort(0).values)


def test_false_positive_rates_under_independence():
    """ANs and BNs independent and autocorrelated: the circular-shift and phase nulls keep
    the rate near alpha; the plain shuffle's rate is far above it (recorded here)."""
    rng = np.random.default_rng(2)
    ans = torch.tensor(ar1(rng, 150, 300, 0.9))
    bns = torch.tensor(ar1(rng, 150, 6, 0.9))
    rates = {null: float((max_statistic_test(ans, bns, null=null, n_permutations=400,
                                             random_state=3)["an_p"] < 0.05).mean())
             for null in ("shuffle", "circular", "phase")}
    assert rates["circular"] < 0.10 and rates["phase"] < 0.10
    assert rates["shuffle"] > 0.3, rates


def test_planted_pair_is_significant_after_fdr():
    rng = np.random.default_rng(4)
    bns = ar1(rng, 200, 5, 0.5)
    ans = ar1(rng, 200, 50, 0.5)
    ans[:, 7] = 0.6 * bns[:, 2] + 0.8 * ar1(rng, 200, 1, 0.5)[:, 0]  # r about 0.6
    out = max_statistic_test(torch.tensor(ans), torch.tensor(bns), n_permutations=1000)
    assert out["an_to_bn"][7] == 2 and out["bn_to_an"][2] == 7
    assert out["an_q"][7] < 0.05 and out["bn_q"][2] < 0.05
    assert (out["an_q"] < 0.05).sum() <= 3
    assert out["pair_p_fwer"][7, 2] <= 0.05 and out["an_p_fwer"][7] == out["pair_p_fwer"][7, 2]


def test_bad_series_name_the_story_and_units():
    a, b = torch.randn(50, 4), torch.randn(50, 3)
    with pytest.raises(DataError, match=r"story 'pieman': AN series have 50 TRs but BN series 40"):
        pcc_matrix(a, b[:40], story="pieman")
    a[:, 2] = 1.0
    with pytest.raises(DataError, match=r"story 'pieman', ANs: constant .* L1H1D3"):
        pcc_matrix(a, b, story="pieman", an_names=["L1H1D1", "L1H1D2", "L1H1D3", "L1H1D4"])
    a[:, 2] = torch.randn(50)
    b[5, 1] = float("nan")
    with pytest.raises(DataError, match=r"BNs: NaN or infinite values in 1 unit\(s\): BN2"):
        pcc_matrix(a, b, story="pieman", bn_names=["BN1", "BN2", "BN3"])


def _max_r(a: np.ndarray, b: np.ndarray, mode: str):
    """Each AN's max over BNs and each BN's max over ANs of Pearson's r, by scipy."""
    r = np.array([[pearsonr(a[:, i], b[:, k]).statistic for k in range(b.shape[1])]
                  for i in range(a.shape[1])])
    r = np.abs(r) if mode == "abs" else r
    return r.max(1), r.max(0)


@pytest.mark.parametrize("mode", ["signed", "abs"])
@pytest.mark.parametrize("null", ["shuffle", "circular", "phase"])
def test_p_values_equal_a_brute_force_count(null, mode):
    """p = (1 + #randomized maxima >= observed) / (1 + B) (Phipson and Smyth), each
    randomized copy's correlations recomputed one by one with scipy: for the batched
    shuffle and phase paths and every admissible lag of the circular shift."""
    rng = np.random.default_rng(11)
    ans, bns = ar1(rng, 40, 6, 0.7), ar1(rng, 40, 3, 0.7)
    ans[:, 0] = bns[:, 1] + 0.5 * rng.standard_normal(40)  # one coupled pair: small p
    B, chunk, seed = 45, 7, 5
    out = max_statistic_test(torch.tensor(ans), torch.tensor(bns), null=null, n_permutations=B,
                             mode=mode, random_state=seed, chunk=chunk, min_shift=5)
    # the same randomized copies (same generator, same batches), then a plain count;
    # correlations do not depend on the series' offset and scale, so raw BNs will do
    gen = torch.Generator().manual_seed(seed)
    b = torch.tensor(bns, dtype=torch.float32)
    if null == "circular":  # every lag at least 5 TRs from 0, once
        copies = np.stack([np.roll(bns, lag, 0) for lag in range(5, 36)])
        B = out["n_randomizations"]
    else:
        sizes = [min(chunk, B - s) for s in range(0, B, chunk)]
        copies = torch.cat([randomize(b, n, null, gen) for n in sizes]).double().numpy()
    assert copies.shape == (B, 40, 3)
    obs_an, obs_bn = _max_r(ans, bns, mode)
    count_an, count_bn = np.zeros(6), np.zeros(3)
    for copy in copies:
        null_an, null_bn = _max_r(ans, copy, mode)
        count_an += null_an >= obs_an
        count_bn += null_bn >= obs_bn
    np.testing.assert_allclose(out["an_p"], (1 + count_an) / (1 + B), rtol=1e-6)
    np.testing.assert_allclose(out["bn_p"], (1 + count_bn) / (1 + B), rtol=1e-6)
    assert out["an_p"][0] == pytest.approx(1 / (1 + B))  # the coupled AN: no copy beats it
    assert count_an[1:].sum() > 0  # the independent ANs are beaten: a real count is tested


@pytest.mark.parametrize("bad", [0, -1, 2.0])
def test_no_randomization_is_an_error_not_p_equal_1(bad):
    """n_permutations=0 used to run and report every p = 1."""
    from anbn_utils.coupling.statistics import couple_story
    from anbn_utils.errors import ParameterError

    a, b = torch.randn(50, 4), torch.randn(50, 3)
    with pytest.raises(ParameterError, match="n_permutations must be a positive integer"):
        max_statistic_test(a, b, n_permutations=bad)
    with pytest.raises(ParameterError, match="n_permutations must be a positive integer"):
        couple_story(a.numpy(), b.numpy(), n_permutations=bad)
    with pytest.raises(ParameterError, match="null model must be one of"):
        max_statistic_test(a, b, null="bootstrap", n_permutations=10)


def _fake_test(an_q, bn_q, an_p_fwer, bn_p_fwer):
    tail = {"needed": 0, "fitted": 0, "failed": 0}
    return {"an_q": np.array(an_q), "bn_q": np.array(bn_q), "an_p_fwer": np.array(an_p_fwer),
            "bn_p_fwer": np.array(bn_p_fwer), "family_null": np.arange(99) / 100,
            "n_randomizations": 99, "tail": {"ans": tail, "bns": tail}}


def _fake_result():
    """2 layers x 2 ANs, 2 BNs, with q-values and family-wise p-values whose significance
    at 0.01 and 0.05 is known, and a family null maximum of 0.00, 0.01, ..., 0.98."""
    pcc = np.array([[0.5, 0.1], [0.2, 0.3], [0.1, 0.4], [0.0, 0.2]])
    return {"pcc": pcc, "an_max": pcc.max(1), "an_to_bn": pcc.argmax(1), "bn_max": pcc.max(0),
            "bn_to_an": pcc.argmax(0), "tests": {
                "circular": _fake_test([0.005, 0.02, 0.3, 0.009], [0.001, 0.04],
                                       [0.01, 0.5, 0.5, 0.04], [0.01, 0.2]),
                "phase": _fake_test(np.full(4, 0.5), np.full(2, 0.5), np.ones(4), np.ones(2))}}


def test_summary_reports_each_fdr_level_the_papers_first():
    from anbn_utils.coupling.summaries import summarize

    s = summarize(_fake_result(), 2, alphas=[0.01, 0.05], threshold=0.25)
    circ = s["nulls"]["circular"]
    # FWER thresholds: with B = 99 at most 0 (0.01) or 4 (0.05) randomizations may reach r
    assert circ["by_alpha"] == [
        {"alpha": 0.01, "ans_significant_pct": 50.0, "ans_significant": 2, "bns_significant": 1,
         "ans_fwer_pct": 25.0, "ans_fwer": 1, "bns_fwer": 1, "fwer_threshold": 0.98},
        {"alpha": 0.05, "ans_significant_pct": 75.0, "ans_significant": 3, "bns_significant": 2,
         "ans_fwer_pct": 50.0, "ans_fwer": 2, "bns_fwer": 1, "fwer_threshold": 0.94}]
    assert (circ["n_randomizations"], circ["resolution"]) == (99, 0.01)
    assert "invalid" in s["nulls"]["phase"]["reading"] or "exact" in s["nulls"]["phase"]["reading"]
    # the flat keys are the primary (first) level, so older readers get the paper's level
    assert {k: circ[k] for k in ("alpha", "ans_significant_pct", "bns_significant")} == \
        {"alpha": 0.01, "ans_significant_pct": 50.0, "bns_significant": 1}
    assert s["nulls"]["phase"]["by_alpha"][1]["ans_significant"] == 0
    assert s["anchored_ans_per_layer"] == [1, 1]
    assert s["an_max_pcc_per_layer"] == pytest.approx([0.4, 0.3])
    assert s["ans_below_0.25_pct_per_layer"] == [0.0, 50.0]


@pytest.mark.parametrize("bad", [[], [0.0], [1.5], 0.05, [0.05, 0.05], ["0.05"]])
def test_bad_fdr_levels_are_rejected(bad):
    from anbn_utils.coupling.summaries import summarize
    from anbn_utils.errors import ParameterError

    with pytest.raises(ParameterError, match="alphas must be a non-empty list"):
        summarize(_fake_result(), 2, alphas=bad)


def test_significance_table_orders_levels_and_puts_the_paper_beside_its_level():
    from anbn_utils.coupling.summaries import significance_table, summarize
    from anbn_utils.paper import COUPLING as PAPER

    summary = {"stories": {"pieman": summarize(_fake_result(), 2, alphas=[0.01, 0.05])}}
    table = significance_table(summary, paper=PAPER)
    assert list(zip(table.alpha, table.null)) == [
        (0.01, "circular"), (0.01, "phase"), (0.01, "paper"), (0.05, "circular"), (0.05, "phase")]
    row = table[(table.alpha == 0.05) & (table.null == "circular")].iloc[0]
    assert (row.ans_significant_pct, row.bns_significant, row.n_bns) == (75.0, 2, 2)
    assert (row.ans_fwer_pct, row.bns_fwer, row.resolution) == (50.0, 1, 0.01)
    paper = table[table.null == "paper"].iloc[0]
    assert paper.ans_significant_pct == PAPER["pieman"]["ans_significant_pct"]
    assert len(significance_table(summary)) == 4  # no paper rows unless asked
    del summary["stories"]["pieman"]["nulls"]["phase"]["by_alpha"]
    with pytest.raises(DataError, match="re-run that stage"):
        significance_table(summary)


def test_significance_table_keeps_the_runs_order_after_a_json_round_trip(tmp_path):
    """summary.json is written with sorted keys: the table still follows the parameters."""
    from anbn_utils.coupling.summaries import significance_table, summarize
    from anbn_utils.io import read_json, write_json

    result = _fake_result()
    result["tests"] = {"phase": result["tests"]["phase"], "circular": result["tests"]["circular"]}
    summary = {"parameters": {"alphas": [0.05, 0.01], "nulls": ["phase", "circular"]},
               "stories": {"shapessocial": summarize(result, 2, alphas=[0.05, 0.01]),
                           "pieman": summarize(result, 2, alphas=[0.05, 0.01])}}
    write_json(tmp_path / "summary.json", summary)
    table = significance_table(read_json(tmp_path / "summary.json"))
    assert list(zip(table.alpha, table.null))[:4] == [
        (0.05, "phase"), (0.05, "circular"), (0.01, "phase"), (0.01, "circular")]


def test_false_positive_text_reads_each_null_and_level():
    from anbn_utils.coupling.summaries import false_positive_text, significance_table, summarize

    table = significance_table({"stories": {"pieman": summarize(_fake_result(), 2,
                                                                alphas=[0.01, 0.05])}})
    text = false_positive_text(table)
    assert text.split("; ")[0] == ("pieman circular at 0.01: 25.00 % of ANs family-wise, "
                                   "50.00 % after FDR")
    assert len(text.split("; ")) == 4
    # one level, the larger story's share (here the second's, ten points above the first's)
    import pandas as pd

    other = table.assign(story="shapessocial", ans_fwer_pct=table.ans_fwer_pct + 10)
    rows = pd.concat([table, other], ignore_index=True).query("alpha == 0.01")
    text = false_positive_text(rows, 0.01)
    first = rows[rows.null == rows.null.iloc[0]]
    assert text.startswith(f"at most {first.ans_fwer_pct.iloc[0] + 10:.2f} % of ANs "
                           "family-wise")
    assert text.endswith("at 0.01 (the largest over the stories)")

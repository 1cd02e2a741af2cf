"""Coupling: PCC against scipy, anchors against loops, null models' false-positive rates."""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from anbn_utils.coupling import anchors, max_statistic_test, pcc_matrix, randomize
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
    shift = randomize(b, 5, "circular", g)
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


@pytest.mark.parametrize("mode", ["signed", "abs"])
def test_circular_null_by_fft_equals_shifting_each_copy(mode):
    """The FFT path gives the p-values of rolling the BN series by each drawn lag."""
    from anbn_utils.coupling import _draw_lags, standardize

    rng = np.random.default_rng(5)
    ans = torch.tensor(ar1(rng, 80, 30, 0.6), dtype=torch.float64)
    bns = torch.tensor(ar1(rng, 80, 4, 0.6), dtype=torch.float64)
    out = max_statistic_test(ans, bns, null="circular", n_permutations=300, mode=mode,
                             random_state=7)
    a, b = standardize(ans.float()), standardize(bns.float())
    lags = _draw_lags(80, 300, torch.Generator().manual_seed(7), 10, "cpu")
    score = (lambda x: x) if mode == "signed" else torch.abs
    obs = score(a.T @ b)
    ex_an, ex_bn = torch.zeros(30), torch.zeros(4)
    for lag in lags:
        null = score(a.T @ torch.roll(b, int(lag), 0))
        ex_an += null.amax(1) >= obs.amax(1) - 1e-6
        ex_bn += null.amax(0) >= obs.amax(0) - 1e-6
    np.testing.assert_allclose(out["an_p"], (1 + ex_an.numpy()) / 301, atol=1.5 / 301)
    np.testing.assert_allclose(out["bn_p"], (1 + ex_bn.numpy()) / 301, atol=1.5 / 301)

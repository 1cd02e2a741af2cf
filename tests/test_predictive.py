"""The predictive check: blocked folds with a gap, closed-form ridge, R^2 on planted signals."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from anbn_utils.errors import DataError, ParameterError
from anbn_utils.predictive import (
    DEFAULT_ALPHAS,
    anchor_r2,
    banded_ridge_predictions,
    blocked_folds,
    r2_difference,
    ridge_predictions,
    ridge_r2,
    unique_share_null,
    variance_partition,
)


@pytest.mark.parametrize("n_trs, n_folds, gap", [(50, 5, 3), (283, 5, 10), (40, 2, 0)])
def test_blocked_folds_are_contiguous_cover_all_and_keep_the_gap(n_trs, n_folds, gap):
    folds = blocked_folds(n_trs, n_folds, gap)
    assert len(folds) == n_folds
    tests = [test for _, test in folds]
    np.testing.assert_array_equal(np.concatenate(tests), np.arange(n_trs))  # disjoint, cover
    assert max(map(len, tests)) - min(map(len, tests)) <= 1
    for train, test in folds:
        assert np.all(np.diff(test) == 1)  # one contiguous block
        distance = np.abs(train[:, None] - test[None]).min(1)
        assert distance.min() > gap  # no training TR within `gap` of a test TR
        # and every TR farther than that is used for training
        others = np.setdiff1d(np.arange(n_trs), test)
        far = others[np.abs(others[:, None] - test[None]).min(1) > gap]
        np.testing.assert_array_equal(train, far)


def test_nested_blocked_folds_respect_the_gap_across_a_hole():
    times = np.r_[0:20, 41:80]  # a training set around a removed test block
    for train, test in blocked_folds(times, 3, 4):
        assert set(train) | set(test) <= set(times) and not set(train) & set(test)
        assert np.abs(train[:, None] - test[None]).min() > 4


def test_blocked_folds_bad_input():
    with pytest.raises(ParameterError, match="ridge_folds must be an integer >= 2"):
        blocked_folds(100, 1)
    with pytest.raises(ParameterError, match="ridge_gap must be a non-negative integer"):
        blocked_folds(100, 5, -1)
    with pytest.raises(ParameterError, match="lower ridge_gap or ridge_folds"):
        blocked_folds(30, 2, 20)


@pytest.mark.parametrize("n_train, n_features", [(60, 200), (200, 30)])
def test_closed_form_equals_sklearn_ridge_after_standard_scaling(n_train, n_features):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_train, n_features)) * rng.uniform(0.5, 3, n_features) + 2
    X[:, 0] = 1.5  # a constant AN stays zero after standardization, as in scikit-learn
    Y = rng.standard_normal((n_train, 4)) + 5
    X_test = rng.standard_normal((15, n_features))
    alphas = np.array([0.01, 1.0, 300.0])
    pred = ridge_predictions(X, Y, X_test, alphas)
    assert pred.shape == (3, 15, 4)
    for a, p in zip(alphas, pred):
        expected = make_pipeline(StandardScaler(), Ridge(alpha=a)).fit(X, Y).predict(X_test)
        np.testing.assert_allclose(p, expected, atol=1e-8)


def test_r2_with_one_alpha_equals_a_brute_force_blocked_cross_validation():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 40))
    Y = X[:, :3] @ rng.standard_normal((3, 2)) + rng.standard_normal((120, 2))
    pred = np.empty_like(Y)
    for train, test in blocked_folds(120, 4, 5):
        model = make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(X[train], Y[train])
        pred[test] = model.predict(X[test])
    expected = r2_score(Y, pred, multioutput="raw_values")
    np.testing.assert_allclose(ridge_r2(X, Y, n_folds=4, gap=5, alphas=[10.0]), expected,
                               rtol=1e-10)


def test_r2_recovers_the_planted_share_of_variance():
    """Targets = (a few latent factors the ANs carry) @ w + noise of known variance: the
    out-of-sample R^2 is near 1 - noise variance / target variance."""
    rng = np.random.default_rng(2)
    n_trs, n_ans = 400, 300
    factors = rng.standard_normal((n_trs, 4))
    ans = factors @ rng.standard_normal((4, n_ans)) + 0.5 * rng.standard_normal((n_trs, n_ans))
    planted = np.array([0.2, 0.5, 0.8])
    w = rng.standard_normal((4, 3))
    w /= np.linalg.norm(w, axis=0)  # unit signal variance per target
    noise_sd = np.sqrt((1 - planted) / planted)
    noise = rng.standard_normal((n_trs, 3)) * noise_sd
    bns = factors @ w + noise
    expected = 1 - noise.var(0) / bns.var(0)  # the realized planted R^2
    r2, chosen = ridge_r2(ans, bns, n_folds=5, gap=3, return_alphas=True)
    assert chosen.shape == (5, 3)
    np.testing.assert_allclose(r2, expected, atol=0.05)
    assert np.all(np.diff(r2) > 0)


def _smooth(rng, shape, width=3.0):
    """White noise smoothed along time by a Gaussian kernel (autocorrelated, like BOLD)."""
    t = np.arange(-12, 13)
    kernel = np.exp(-t**2 / (2 * width**2))
    x = rng.standard_normal((shape[0] + len(t) - 1, shape[1]))
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, x)


#: The variance of :func:`_smooth`'s series (the kernel's sum of squares).
_KERNEL_SS = float((np.exp(-np.arange(-12, 13) ** 2 / 18.0) ** 2).sum())


def test_r2_is_near_zero_on_noise_targets():
    rng = np.random.default_rng(3)
    r2 = ridge_r2(rng.standard_normal((280, 500)), rng.standard_normal((280, 20)))
    assert r2.shape == (20,)
    assert -0.05 < r2.mean() <= 0.01 and r2.max() < 0.1
    rng = np.random.default_rng(3)
    # the best of 500 ANs on the training TRs predicts nothing on the held-out ones
    assert anchor_r2(rng.standard_normal((280, 500)), rng.standard_normal((280, 20))).mean() < 0


def test_the_gap_removes_the_leak_of_smooth_series():
    """Smooth, independent ANs and BNs: with short test blocks and no gap, the ridge
    interpolates the training TRs next to each block and noise looks predictable; with the
    default gap it does not."""
    rng = np.random.default_rng(3)
    ans, bns = _smooth(rng, (280, 500)), _smooth(rng, (280, 20))
    leaky = ridge_r2(ans, bns, n_folds=20, gap=0)
    assert leaky.mean() > 0.1
    for n_folds in (5, 20):
        r2 = ridge_r2(ans, bns, n_folds=n_folds)  # DEFAULT_GAP
        assert r2.mean() < 0
        assert r2.mean() < leaky.mean() - 0.2
    assert anchor_r2(ans, bns).mean() < 0


def test_ridge_r2_bad_input():
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((60, 5)), rng.standard_normal((60, 2))
    with pytest.raises(DataError, match="same TRs"):
        ridge_r2(X, Y[:50])
    Y[:, 1] = 3.0
    with pytest.raises(DataError, match=r"BN\(s\) \[1\] are constant"):
        ridge_r2(X, Y)
    Y[0, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ridge_r2(X, Y)
    with pytest.raises(ParameterError, match="inside the 18 training TRs of test block 1"):
        ridge_r2(X, rng.standard_normal((60, 2)), n_folds=2, gap=12)
    with pytest.raises(ParameterError, match="alphas must be"):
        ridge_r2(X, rng.standard_normal((60, 2)), alphas=[0.0, 1.0])


def test_anchor_r2_equals_a_brute_force_per_fold_line_fit():
    rng = np.random.default_rng(5)
    X = _smooth(rng, (150, 30))
    Y = X[:, [4, 17]] * [1.0, -2.0] + rng.standard_normal((150, 2))
    r2, anchors = anchor_r2(X, Y, n_folds=3, gap=6, return_anchors=True)
    pred = np.empty_like(Y)
    for k, (train, test) in enumerate(blocked_folds(150, 3, 6)):
        for j in range(2):
            r = [abs(np.corrcoef(X[train, i], Y[train, j])[0, 1]) for i in range(30)]
            best = int(np.argmax(r))
            assert anchors[k, j] == best
            slope, intercept = np.polyfit(X[train, best], Y[train, j], 1)
            pred[test, j] = intercept + slope * X[test, best]
    np.testing.assert_allclose(r2, r2_score(Y, pred, multioutput="raw_values"), rtol=1e-10)
    assert (anchors == [4, 17]).all()


def test_one_driving_an_among_many_ridge_versus_anchor():
    """A BN that is one AN plus noise (R^2 planted 0.8), among 2,000 smooth ANs and 250
    TRs: the cross-validated anchor recovers the planted share; the ridge, which shrinks
    every AN alike, recovers much less (the reason both are reported)."""
    rng = np.random.default_rng(6)
    ans = _smooth(rng, (250, 2000))
    ans /= ans.std(0)
    noise = rng.standard_normal(250) * 0.5
    bn = (ans[:, 123] + noise)[:, None]
    expected = 1 - noise.var() / bn.var()
    anchored = anchor_r2(ans, bn)
    assert anchored[0] == pytest.approx(expected, abs=0.05)
    assert ridge_r2(ans, bn)[0] < expected - 0.2


# --- variance partitioning: nuisance band + AN band (banded ridge), shift null, R^2 contrasts


def _ar(rng, n_trs, n, phi=0.8):
    """Standardized AR(1) series (smooth, like BOLD and HRF-convolved regressors)."""
    e = rng.standard_normal((n_trs + 200, n))
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, len(e)):
        x[t] = phi * x[t - 1] + e[t]
    x = x[200:]
    return (x - x.mean(0)) / x.std(0)


@pytest.mark.parametrize("n_train, n_ans", [(60, 200), (200, 30)])
def test_banded_closed_form_equals_sklearn_ridge_on_band_scaled_features(n_train, n_ans):
    """Penalties (l2 on the ANs, l1 on the nuisance) = ridge with penalty 1 on the
    standardized bands divided by sqrt(l2), sqrt(l1); l2 = inf leaves the ANs out."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n_train, n_ans)) * rng.uniform(0.5, 3, n_ans) + 2
    X[:, 0] = 1.5  # constant: zero after standardization
    N = rng.standard_normal((n_train, 4)) * [1, 2, 3, 4] - 1
    N[:, 3] = N[:, 2] + 0.01 * rng.standard_normal(n_train)  # nearly collinear nuisance
    Y = rng.standard_normal((n_train, 3)) + 5
    X_test, N_test = rng.standard_normal((15, n_ans)), rng.standard_normal((15, 4))
    alphas, nuisance_alphas = np.array([0.1, 30.0, 1e4, np.inf]), np.array([0.01, 5.0])
    pred = banded_ridge_predictions(X, N, Y, X_test, N_test, alphas, nuisance_alphas)
    assert pred.shape == (4, 2, 15, 3)
    sx, sn = StandardScaler().fit(X), StandardScaler().fit(N)
    for i, l2 in enumerate(alphas):
        for j, l1 in enumerate(nuisance_alphas):
            scaled = [np.c_[sn.transform(n) / np.sqrt(l1), sx.transform(x) / np.sqrt(l2)]
                      for n, x in ((N, X), (N_test, X_test))]
            expected = Ridge(alpha=1.0).fit(scaled[0], Y).predict(scaled[1])
            np.testing.assert_allclose(pred[i, j], expected, atol=1e-8)


def _planted(seed, n_trs, n_ans=200, n_null=0, carry=1.0):
    """Nuisance (5 AR series) and ANs carrying ``carry`` x the nuisance plus 3 latent AR
    series of their own.  BNs: 0 nuisance + AN part, 1 nuisance only, 2 AN part only, 3
    noise, then ``n_null`` more, alternately nuisance + noise and noise.  Returns ans,
    nuisance, bns, the planted unique share var(AN part not explained by the nuisance) /
    var(BN), and the planted full share 1 - var(noise) / var(BN)."""
    rng = np.random.default_rng(seed)
    N, F = _ar(rng, n_trs, 5), _ar(rng, n_trs, 3)
    ans = (carry * N @ rng.standard_normal((5, n_ans)) + F @ rng.standard_normal((3, n_ans))
           + _ar(rng, n_trs, n_ans, 0.5))
    with_nuisance = np.r_[1, 1, 0, 0, np.arange(n_null) % 2 == 0]
    with_ans = np.r_[1, 0, 1, 0, np.zeros(n_null)]
    k = len(with_ans)
    nuisance_part = N @ rng.standard_normal((5, k)) / np.sqrt(5) * with_nuisance
    an_part = F @ rng.standard_normal((3, k)) / np.sqrt(3) * with_ans
    noise = 0.8 * _ar(rng, n_trs, k, 0.5)
    bns = nuisance_part + an_part + noise
    design = np.c_[np.ones(n_trs), N]
    unexplained = an_part - design @ np.linalg.lstsq(design, an_part, rcond=None)[0]
    return ans, N, bns, unexplained.var(0) / bns.var(0), 1 - noise.var(0) / bns.var(0)


def test_variance_partition_recovers_the_planted_unique_share():
    """2,000 TRs of AR series; the ANs carry the nuisance (as real ANs carry tokens per TR):
    alone they predict a nuisance-only BN well, beyond the nuisance they add ~0.  Tolerance
    0.05 on the unique share: out-of-sample fits lose a little to estimation, and the planted
    share, residualized on the nuisance in sample, absorbs chance correlations of smooth
    series that do not replicate across blocks (measured over 10 seeds: at most 0.04)."""
    ans, N, bns, unique, full = _planted(0, 2000)
    vp = variance_partition(ans, N, bns)
    assert vp.r2_unique.shape == (4,) and vp.pred_full.shape == vp.targets.shape == (2000, 4)
    assert vp.alphas.shape == vp.nuisance_alphas.shape == (5, 4)
    np.testing.assert_allclose(vp.r2_unique, unique, atol=0.05)
    np.testing.assert_allclose(vp.r2_full, full, atol=0.03)  # measured: at most 0.027
    assert np.abs(vp.r2_unique[[1, 3]]).max() < 0.01  # measured: at most 0.003
    assert ridge_r2(ans, bns[:, [1]])[0] > 0.3  # the ANs alone "predict" the nuisance BN
    np.testing.assert_array_equal(vp.targets, bns)
    np.testing.assert_allclose(vp.r2_full, r2_score(bns, vp.pred_full, multioutput="raw_values"))
    np.testing.assert_allclose(vp.r2_unique, vp.r2_full - vp.r2_nuisance)
    # the noise BN: the AN band shut off (the top of the grid) in most folds
    assert np.median(vp.alphas[:, 3]) == DEFAULT_ALPHAS.max()


def test_variance_partition_equals_a_brute_force_nested_cross_validation():
    """Both models against nested blocked cross-validation with scikit-learn: ridge on the
    band-scaled features (the ANs standardized on the training TRs, the nuisance band
    centred there and scaled by its whole series' standard deviation), one pair of
    penalties chosen per fold and BN by the inner folds (ties to the larger penalties, the
    AN one first)."""
    rng = np.random.default_rng(8)
    ans, N = rng.standard_normal((90, 40)), rng.standard_normal((90, 3))
    bns = N @ rng.standard_normal((3, 2)) + ans[:, :2] + rng.standard_normal((90, 2))
    alphas, nuisance_alphas = np.array([20.0, 200.0]), np.array([0.1, 10.0])
    vp = variance_partition(ans, N, bns, n_folds=3, gap=2, alphas=alphas,
                            nuisance_alphas=nuisance_alphas, inner_folds=2)
    # both grids' penalties are chosen somewhere (the choice is exercised)
    assert set(vp.alphas.ravel()) == set(alphas)
    assert set(vp.nuisance_alphas.ravel()) == set(nuisance_alphas)

    def fit(train, test, j, l1, l2=None):
        sx = StandardScaler().fit(ans[train])
        sn = lambda t: (N[t] - N[train].mean(0)) / N.std(0)
        Z = [sn(t) / np.sqrt(l1) if l2 is None else
             np.c_[sn(t) / np.sqrt(l1), sx.transform(ans[t]) / np.sqrt(l2)]
             for t in (train, test)]
        return Ridge(alpha=1.0).fit(Z[0], bns[train, j]).predict(Z[1])

    grids = {"full": [(l1, l2) for l2 in alphas for l1 in nuisance_alphas],
             "nuisance": [(l1,) for l1 in nuisance_alphas]}
    for model, pred in (("full", vp.pred_full), ("nuisance", vp.pred_nuisance)):
        expected = np.empty_like(bns)
        for train, test in blocked_folds(90, 3, 2):
            for j in range(2):
                sse = [sum(((fit(itrain, itest, j, *pair) - bns[itest, j]) ** 2).sum()
                           for itrain, itest in blocked_folds(train, 2, 2))
                       for pair in grids[model]]
                best = len(sse) - 1 - int(np.argmin(sse[::-1]))
                expected[test, j] = fit(train, test, j, *grids[model][best])
        np.testing.assert_allclose(pred, expected, atol=1e-8, err_msg=model)


def test_shift_null_p_is_smallest_for_planted_ans_and_near_uniform_for_null_bns():
    """ANs independent of the nuisance (``carry=0``; with ANs that carry the nuisance the
    shift also breaks that relation, and the p of null BNs runs small: see the report in
    :func:`unique_share_null`).  The planted BNs beat every shift; the 22 null BNs' p
    spread over (0, 1]: their mean within 0.35..0.7 (uniform on the 20 attainable values:
    0.525, sd of a mean of 22 about 0.06) and at most a quarter at p <= 0.1 (expected a
    tenth)."""
    ans, N, bns, _, _ = _planted(11, 600, n_ans=100, n_null=20, carry=0.0)
    nu = unique_share_null(ans, N, bns, n_shifts=19)
    assert nu.null.shape == (19, 24) and nu.p.shape == (24,)
    np.testing.assert_array_equal(nu.lags, np.floor(np.linspace(10, 590, 19) + 0.5))
    np.testing.assert_allclose(nu.observed, variance_partition(ans, N, bns).r2_unique,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(nu.p[[0, 2]], 1 / 20)
    null_p = np.delete(nu.p, [0, 2])
    assert 0.35 < null_p.mean() < 0.7 and (null_p <= 0.1).mean() <= 0.25
    np.testing.assert_array_equal(nu.p, (1 + (nu.null >= nu.observed).sum(0)) / 20)


def test_r2_difference_of_identical_runs_is_exactly_zero_when_paired():
    rng = np.random.default_rng(12)
    y = _smooth(rng, (282, 5))
    pred = y + _smooth(rng, (282, 5))
    d = r2_difference(pred, y, pred, y, n_boot=300)
    assert d.paired
    for value in (d.estimate, d.low, d.high):
        np.testing.assert_array_equal(value, np.zeros(5))
    # copies: BLAS may round differently at another memory alignment, nothing more
    d = r2_difference(pred, y, pred.copy(), y.copy(), n_boot=300)
    for value in (d.estimate, d.low, d.high):
        np.testing.assert_allclose(value, np.zeros(5), atol=1e-12)
    # unequal lengths: resampled independently, so the interval is no longer a point
    d = r2_difference(pred, y, pred[:-1], y[:-1], n_boot=300)
    assert not d.paired and np.all(d.low < 0) and np.all(d.high > 0)


def test_r2_difference_estimate_and_summaries_match_sklearn():
    rng = np.random.default_rng(13)
    y_a, y_b = _smooth(rng, (200, 4)), _smooth(rng, (150, 3))
    pred_a, pred_b = y_a + 0.5 * _smooth(rng, (200, 4)), y_b + _smooth(rng, (150, 3))
    r2_a = r2_score(y_a, pred_a, multioutput="raw_values")
    r2_b = r2_score(y_b, pred_b, multioutput="raw_values")
    mean = r2_difference(pred_a, y_a, pred_b, y_b, summary="mean", n_boot=200)
    best = r2_difference(pred_a, y_a, pred_b, y_b, summary="max", n_boot=200)
    assert mean.estimate == pytest.approx(r2_a.mean() - r2_b.mean(), abs=1e-12)
    assert best.estimate == pytest.approx(r2_a.max() - r2_b.max(), abs=1e-12)
    assert mean.low < mean.estimate < mean.high and np.ndim(mean.low) == 0
    # one block of all the TRs: every resample is the run itself
    same = r2_difference(pred_a[:150, :3], y_a[:150, :3], pred_b, y_b, block=150, n_boot=50)
    expected = r2_score(y_a[:150, :3], pred_a[:150, :3], multioutput="raw_values") - r2_b
    for value in (same.estimate, same.low, same.high):
        np.testing.assert_allclose(value, expected, atol=1e-12)


def test_r2_difference_interval_covers_a_known_difference():
    """BN-like smooth series (Gaussian kernel, sd 3 TRs), 282 TRs, unit signal variance;
    the predictions of run a and b err by independent smooth noise of variance 0.3 and 0.6,
    so R^2_a - R^2_b = 0.3 in the population.  Paired (same BOLD, two predictions), 40
    repetitions of 8 BNs: the 95% intervals cover 0.3 in at least 80% of the 320 cases.
    The block bootstrap falls short of the nominal 95% at ~28 effective samples (measured
    0.87-0.89 for blocks of 10, 20 and 30 TRs over 1,200 cases each); 80% is 3 to 4
    standard errors below that."""
    rng = np.random.default_rng(14)
    covered = []
    for rep in range(40):
        y = _smooth(rng, (282, 8)) / np.sqrt(_KERNEL_SS)
        pred_a = y + np.sqrt(0.3 / _KERNEL_SS) * _smooth(rng, (282, 8))
        pred_b = y + np.sqrt(0.6 / _KERNEL_SS) * _smooth(rng, (282, 8))
        d = r2_difference(pred_a, y, pred_b, y, n_boot=500, random_state=rep)
        covered.append((d.low <= 0.3) & (0.3 <= d.high))
    assert 0.8 <= np.mean(covered) < 1.0


def test_variance_partition_null_and_contrast_bad_input():
    rng = np.random.default_rng(15)
    X, N, Y = (rng.standard_normal((60, n)) for n in (5, 2, 2))
    with pytest.raises(DataError, match=r"nuisance \(50, 2\) must be \(n_trs, n_nuisance\)"):
        variance_partition(X, N[:50], Y)
    with pytest.raises(DataError, match="at least one column"):
        variance_partition(X, N[:, :0], Y)
    bad = N.copy()
    bad[3, 1] = np.inf
    with pytest.raises(DataError, match="nuisance: NaN or infinite"):
        unique_share_null(X, bad, Y)
    with pytest.raises(ParameterError, match="nuisance_alphas must be"):
        variance_partition(X, N, Y, nuisance_alphas=[1.0, -1.0])
    with pytest.raises(ParameterError, match="alphas must be"):
        variance_partition(X, N, Y, alphas=[np.inf])
    for n_shifts in (0, -3, 2.5, True):
        with pytest.raises(ParameterError, match="n_shifts must be a positive integer"):
            unique_share_null(X, N, Y, n_shifts=n_shifts, n_folds=2, gap=2)
    with pytest.raises(ParameterError, match=r"n_shifts=42 is more than the 41 lags from "
                                             r"min_shift=10 to 50"):
        unique_share_null(X, N, Y, n_shifts=42)
    for min_shift in (0, 31, None):
        with pytest.raises(ParameterError, match="min_shift"):
            unique_share_null(X, N, Y, min_shift=min_shift)
    pred, y = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    with pytest.raises(DataError, match=r"run b: predictions \(50, 3\) and targets \(50, 2\)"):
        r2_difference(pred, y, pred, y[:, :2])
    with pytest.raises(DataError, match="same BNs, not 3 and 2: give a summary"):
        r2_difference(pred, y, pred[:, :2], y[:, :2])
    with pytest.raises(ParameterError, match="summary must be None, 'mean' or 'max'"):
        r2_difference(pred, y, pred, y, summary="median")
    for block in (0, 41, 2.0):
        with pytest.raises(ParameterError, match="block must be an integer from 1 to the 40"):
            r2_difference(pred, y, pred[:40], y[:40], block=block)
    with pytest.raises(ParameterError, match="n_boot must be a positive integer"):
        r2_difference(pred, y, pred, y, n_boot=0)
    for confidence in (0.0, 1.0, 95):
        with pytest.raises(ParameterError, match="confidence must be in"):
            r2_difference(pred, y, pred, y, confidence=confidence)


def test_a_difference_of_unique_shares_subtracts_each_runs_baseline():
    """With baselines, each run's R^2 is its gain over its own baseline on the same
    resampled TRs: identical runs differ by exactly 0; a run whose full model equals its
    baseline has no unique share."""
    from anbn_utils.predictive import r2_difference

    rng = np.random.default_rng(3)
    y = rng.standard_normal((80, 3))
    base, full = y + rng.standard_normal((80, 3)), y + 0.3 * rng.standard_normal((80, 3))
    d = r2_difference(full, y, full, y, baseline_a=base, baseline_b=base, n_boot=200)
    np.testing.assert_array_equal(d.estimate, 0)
    d = r2_difference(full, y, base, y, baseline_a=base, baseline_b=base, n_boot=500,
                      summary="mean")
    gain = r2_score(y, full, multioutput="raw_values") - r2_score(y, base, multioutput="raw_values")
    assert d.estimate == pytest.approx(gain.mean())
    assert d.low < d.estimate < d.high and d.low > 0
    with pytest.raises(ParameterError, match="give both baseline_a and baseline_b"):
        r2_difference(full, y, full, y, baseline_a=base)


def test_partition_round_trip_summary_and_reading(tmp_path):
    from anbn_utils.predictive import (
        load_partition,
        partition_reading,
        partition_summary,
        save_partition,
        unique_share_null,
        variance_partition,
    )

    ans, N, bns, _, _ = _planted(5, 300, n_ans=30, n_null=2, carry=0.0)
    part = variance_partition(ans, N, bns)
    null = unique_share_null(ans, N, bns, n_shifts=19)
    save_partition(part, null, tmp_path)
    back = load_partition(tmp_path)
    np.testing.assert_array_equal(back["r2_unique"], part.r2_unique)
    np.testing.assert_array_equal(back["unique_p"], null.p)
    np.testing.assert_array_equal(back["pred_full"], part.pred_full)
    summary = partition_summary(part, null)
    assert summary["unique_significant"] == int((null.p <= 0.05).sum())
    assert summary["r2_unique_max"] == pytest.approx(part.r2_unique.max())
    assert summary["unique_resolution"] == pytest.approx(1 / 20)
    text = partition_reading({"pieman": (part, null)}, {0: "language"})
    assert text.startswith(f"**pieman**: mean R² {part.r2_nuisance.mean():.3f} (nuisance)")
    assert "BN1 (language)" in text
    (tmp_path / "r2_full.npy").unlink()
    with pytest.raises(DataError, match="r2_full.npy missing.*predictive_check=True"):
        load_partition(tmp_path)

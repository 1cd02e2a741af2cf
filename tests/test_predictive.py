"""The predictive check: blocked folds with a gap, closed-form ridge, R^2 on planted signals."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from anbn_utils.errors import DataError, ParameterError
from anbn_utils.predictive import anchor_r2, blocked_folds, ridge_predictions, ridge_r2


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

"""Inference: exact nulls, family-wise control, tail p-values, against brute force and
planted truth; their false-positive rates on null data within binomial tolerances."""

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import binom, genpareto

from anbn_utils.coupling.statistics import couple_story, max_statistic_test
from anbn_utils.errors import ParameterError
from anbn_utils.inference import (
    MaxStatistic,
    check_randomizations,
    circular_lags,
    null_copies,
    tail_p_values,
)
from anbn_utils.inference.tail import anderson_darling_gpd, gpd_critical_value
from anbn_utils.synthetic import ar1


def _upper(alpha, n, level=0.999):
    """The largest rate a test at ``alpha`` may show over ``n`` independent tests (a
    one-sided binomial bound at ``level``)."""
    return binom.ppf(level, n, alpha) / n


def test_circular_lags_enumerate_every_shift_and_the_window_removes_both_ends():
    np.testing.assert_array_equal(circular_lags(6), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(circular_lags(10, min_shift=3), [3, 4, 5, 6, 7])
    with pytest.raises(ParameterError, match="min_shift=6 leaves no circular lag for 10 TRs"):
        circular_lags(10, min_shift=6)
    b = torch.randn(7, 2, dtype=torch.float64)
    copies = torch.cat(list(null_copies(b, "circular", 1, None, chunk=4)))
    for lag, copy in zip(range(1, 7), copies):
        torch.testing.assert_close(copy, torch.roll(b, lag, 0))


def test_circular_null_is_exact_on_independent_ar1_pairs():
    """One AN against one BN, independent AR(1) series at rho 0.9 and the paper's 282 TRs:
    every circular lag gives a false-positive rate at alpha (lags drawn outside a 10-TR
    window, the former test, gave 8 % at 0.05 and 4 % at 0.01)."""
    rng = np.random.default_rng(0)
    p = []
    for _ in range(60):  # 60 BNs, 50 independent ANs each: 3,000 tests
        ans, bn = ar1(rng, 282, 50, 0.9), ar1(rng, 282, 1, 0.9)
        p.append(max_statistic_test(torch.tensor(ans), torch.tensor(bn), null="circular",
                                    fdr_tail=False)["an_p"])
    p = np.concatenate(p)
    for alpha in (0.05, 0.01):
        assert (p <= alpha).mean() <= _upper(alpha, len(p)), alpha
        assert (p <= alpha).mean() >= alpha / 2, alpha  # not conservative to the point of blind


def _brute_force_fwer(obs, null, step_down):
    """Westfall and Young's adjusted p-values by the definition, one test at a time."""
    order = sorted(range(len(obs)), key=lambda i: -obs[i])
    p = np.empty(len(obs))
    running = 0.0
    for rank, i in enumerate(order):
        rest = order[rank:] if step_down else order
        count = sum(max(null[b][j] for j in rest) >= obs[i] for b in range(len(null)))
        running = max(running, (1 + count) / (1 + len(null))) if step_down else 0
        p[i] = running if step_down else (1 + count) / (1 + len(null))
    return p


@pytest.mark.parametrize("step_down", [True, False])
def test_max_statistic_equals_the_brute_force_definition(step_down):
    rng = np.random.default_rng(1)
    obs = rng.standard_normal((4, 3))
    obs[1, 2] += 3  # a strong pair, whose removal matters for the step-down
    null = rng.standard_normal((40, 4, 3))
    acc = MaxStatistic(torch.tensor(obs), 40)
    for s in (slice(0, 15), slice(15, 40)):  # in chunks, as the test feeds it
        acc.add(torch.tensor(null[s]))
    expected = _brute_force_fwer(obs.ravel(), null.reshape(40, -1), step_down).reshape(4, 3)
    np.testing.assert_allclose(acc.pair_p(step_down).numpy(), expected)
    np.testing.assert_array_equal(acc.an_null.numpy(), null.max(2).T)
    np.testing.assert_array_equal(acc.bn_null.numpy(), null.max(1).T)


def test_an_exact_step_down_for_the_top_ans_only_bounds_the_rest_from_above():
    """Six ANs with a strong pair each, whose null values stay close to their observed ones
    (as a coupled pair's do at small circular lags).  With the exact step-down for the 3 ANs
    of largest statistic only, their best pairs keep their exact p-values and every other
    p-value is at least the exact one (a subset of the rejections: the family-wise error
    rate is kept); the other strong pairs, found by the exact step-down, are not."""
    rng = np.random.default_rng(9)
    obs = rng.standard_normal((12, 4))
    null = rng.standard_normal((60, 12, 4))
    strong = np.arange(6), np.arange(6) % 4
    obs[strong] = 3.5 + 0.5 * np.arange(6)
    null[:, strong[0], strong[1]] = obs[strong] - 0.5 + 0.1 * rng.standard_normal((60, 6))
    p = {}
    for exact in (None, 3):
        acc = MaxStatistic(torch.tensor(obs), 60, exact_ans=exact)
        acc.add(torch.tensor(null))
        p[exact] = acc.pair_p().numpy()
    np.testing.assert_allclose(p[None], _brute_force_fwer(obs.ravel(), null.reshape(60, -1),
                                                          True).reshape(12, 4))
    assert (p[3] >= p[None] - 1e-12).all()
    top = np.arange(3, 6)  # the three largest
    np.testing.assert_allclose(p[3][top, top % 4], p[None][top, top % 4])
    assert (p[None][strong] <= 0.05).all() and (p[3][strong][:3] > 0.05).all()


@pytest.mark.parametrize("null,kind", [("circular", "ar"), ("phase", "ar"),
                                       ("shuffle", "white")])
def test_family_wise_error_on_null_families_is_at_most_alpha(null, kind):
    """200 null families of 40 ANs x 4 BNs: the share of families with any AN significant
    family-wise is at most alpha (plus the binomial tolerance).  The shuffle is exact only
    for series without autocorrelation."""
    rng = np.random.default_rng(2)
    any_fwer = []
    for seed in range(200):
        phi = 0.8 if kind == "ar" else 0.0
        ans, bns = ar1(rng, 120, 40, phi), ar1(rng, 120, 4, phi)
        out = max_statistic_test(torch.tensor(ans), torch.tensor(bns), null=null,
                                 n_permutations=199, random_state=seed, fdr_tail=False)
        any_fwer.append(out["an_p_fwer"].min() <= 0.05)
    assert np.mean(any_fwer) <= _upper(0.05, len(any_fwer))


def test_step_down_finds_every_planted_pair_the_single_step_may_miss():
    """Several strong couplings: each enters the others' null maximum at small circular
    lags (its r at lag 1 is nearly its r at lag 0); the step-down removes them once
    rejected, the single step does not."""
    rng = np.random.default_rng(0)
    bns, ans = ar1(rng, 300, 6, 0.9), ar1(rng, 300, 60, 0.9)
    for j, r in enumerate([0.95, 0.9, 0.85, 0.8, 0.75, 0.7]):
        ans[:, j] = r * bns[:, j] + np.sqrt(1 - r**2) * ans[:, j]
    out = max_statistic_test(torch.tensor(ans), torch.tensor(bns), null="circular")
    planted = np.arange(6), np.arange(6)
    step_down = out["pair_p_fwer"][planted]
    single = (1 + (out["family_null"][None] >= out["pcc"][planted][:, None]).sum(1)) / 300
    assert (step_down <= 0.01).all(), step_down
    assert (single > 0.01).any() and (single >= step_down - 1e-6).all(), single
    assert (np.delete(out["an_p_fwer"], range(6)) > 0.05).all()


def test_tail_p_value_agrees_with_a_million_randomizations():
    """The correlation of two fixed series under shuffling: 10^6 randomizations resolve
    p ~ 1e-4, which the tail of only 5,000 of them estimates: the free generalized Pareto
    fit (Knijnenburg et al.) within a factor of two; the default, whose shape is held at
    zero or above, conservatively (larger, at most the permutation floor)."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(40), rng.standard_normal(40)
    x, y = (x - x.mean()) / np.linalg.norm(x - x.mean()), (y - y.mean()) / np.linalg.norm(y - y.mean())
    null = np.concatenate([x[rng.permuted(np.tile(np.arange(40), (100_000, 1)), axis=1)] @ y
                           for _ in range(10)])
    for observed in (np.quantile(null, 1 - 2e-4), np.quantile(null, 1 - 5e-5)):
        brute = (1 + (null >= observed).sum()) / (1 + len(null))
        free = tail_p_values(np.array([observed]), null[None, :5000], min_shape=None)
        assert free.needed[0] and free.fitted[0]
        assert free.permutation_p[0] == pytest.approx(1 / 5001)  # the floor of 5,000
        assert abs(np.log10(free.p[0] / brute)) < 0.3, (free.p[0], brute)
        held = tail_p_values(np.array([observed]), null[None, :5000])
        assert held.fitted[0] and brute / 2 < held.p[0] <= 1 / 5001, (held.p[0], brute)


def test_tail_leaves_resolved_p_values_alone_and_reports_failed_fits():
    rng = np.random.default_rng(5)
    null = rng.standard_normal((3, 2000))
    out = tail_p_values(np.array([0.0, 2.0, 9.0]), null)
    assert not out.needed[0] and out.p[0] == out.permutation_p[0]
    assert out.needed[2] and out.fitted[2] and out.p[2] < 1 / 2001
    # a null with a heavy step at its top: no tail fit passes, the permutation p stays
    lumpy = np.concatenate([np.zeros(1900), np.repeat([5.0, 6.0], 50)])[None]
    bad = tail_p_values(np.array([7.0]), lumpy)
    assert bad.failed[0] and bad.p[0] == bad.permutation_p[0]
    assert bad.counts() == {"needed": 1, "fitted": 0, "failed": 1}


def test_anderson_darling_critical_value_matches_monte_carlo():
    """Choulakian and Stephens' 5 % points, against the 95th percentile of A^2 over samples
    drawn from a GPD and fitted by maximum likelihood as the tail does (250 exceedances):
    within the Monte Carlo error, and in scipy's sign of the shape (a bounded tail, c < 0,
    has the larger critical value; the other sign would be 40 % off at c = -0.5)."""
    rng = np.random.default_rng(6)
    for c in (0.0, -0.5):
        stats = []
        for _ in range(500):
            z = genpareto.rvs(c, scale=1.0, size=250, random_state=rng)
            chat, _, scale = genpareto.fit(z, floc=0)
            stats.append(anderson_darling_gpd(z, chat, scale))
        assert np.quantile(stats, 0.95) == pytest.approx(gpd_critical_value(c), rel=0.15), c
    assert gpd_critical_value(-0.5) > gpd_critical_value(0.0) > gpd_critical_value(0.5)


def test_bad_inference_input_fails_before_any_computation():
    with pytest.raises(ParameterError, match=r"n_permutations=50 cannot resolve alpha=0.01.*"
                                             r"at least 99"):
        check_randomizations(["phase"], 50, 300, [0.01, 0.05])
    with pytest.raises(ParameterError, match=r"circular null's 49 circular lags of 50 TRs.*"
                                             r"alpha=0.01"):
        couple_story(np.random.randn(50, 3), np.random.randn(50, 2), nulls=["circular"])
    with pytest.raises(ParameterError, match=r"unknown null model\(s\) \['block'\]"):
        check_randomizations(["block"], 500, 300, [0.05])
    with pytest.raises(ParameterError, match="min_shift=200 leaves no circular lag"):
        check_randomizations(["circular"], 500, 300, [0.05], min_shift=200)


def test_every_null_reads_the_same_observed_statistics():
    rng = np.random.default_rng(7)
    ans, bns = ar1(rng, 150, 20, 0.5), ar1(rng, 150, 3, 0.5)
    outs = [max_statistic_test(torch.tensor(ans), torch.tensor(bns), null=n, n_permutations=99)
            for n in ("shuffle", "circular", "phase")]
    for a, b in itertools.pairwise(outs):
        np.testing.assert_array_equal(a["an_max"], b["an_max"])
        np.testing.assert_array_equal(a["an_to_bn"], b["an_to_bn"])
    assert [o["n_randomizations"] for o in outs] == [99, 149, 99]


def test_the_held_fit_skips_the_optimizer_only_where_the_likelihood_falls_from_zero():
    """The closed-form exponential is taken where the score at c = 0 is negative; there the
    maximum likelihood shape is negative too, so the held fit is the same as fitting first."""
    from anbn_utils.inference.tail import _fit

    rng = np.random.default_rng(8)
    for c in (-0.3, -0.1, 0.0, 0.1, 0.3):
        for _ in range(20):
            z = genpareto.rvs(c, scale=1.0, size=100, random_state=rng)
            chat, _, scale = genpareto.fit(z, floc=0)
            expected = (0.0, z.mean()) if chat < 0 else (chat, scale)
            np.testing.assert_allclose(_fit(z, 0.0), expected, rtol=1e-3, atol=1e-3)


def test_regressing_the_ans_alone_keeps_the_family_wise_error_where_bns_follow_the_regressors():
    """BNs that follow smooth nuisance regressors, ANs that carry them, no AN driving any
    BN: with the regressors out of the ANs the family-wise error rate stays at alpha (the
    BNs' randomization is untouched).  (Regressing them out of the BNs too is liberal even
    with every randomized copy residualized alike: the calibration study's
    ``nuisance_regress_both``.)"""
    from anbn_utils.ans.nuisance import residualize
    from anbn_utils.inference.calibration import smooth_series

    rejected = 0
    for seed in range(120):
        rng = np.random.default_rng(seed)
        N = smooth_series(rng, 200, 12, kind="hrf", phi=0.9)
        ans = N @ rng.standard_normal((12, 40)) + smooth_series(rng, 200, 40, kind="hrf", phi=0.5)
        bns = N[:, :4] + smooth_series(rng, 200, 4, kind="hrf", phi=0.8)
        out = max_statistic_test(torch.tensor(residualize(ans, N)), torch.tensor(bns),
                                 fdr_tail=False)
        rejected += out["an_p_fwer"].min() <= 0.05
    assert rejected <= binom.ppf(0.999, 120, 0.05), rejected


def test_an_exponential_tail_is_checked_against_the_exponentials_own_critical_values():
    """The held fit estimates the scale only; Choulakian and Stephens' table is for shape
    and scale estimated and rejected true exponential samples about twice as often as 5 %."""
    from anbn_utils.inference.tail import _fits

    rng = np.random.default_rng(10)
    rejected = sum(not _fits(z, 0.0, z.mean(), 0.05) for z in rng.exponential(size=(400, 100)))
    assert binom.ppf(0.001, 400, 0.05) <= rejected <= binom.ppf(0.999, 400, 0.05), rejected

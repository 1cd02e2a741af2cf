"""The calibration study's pieces, and a small calibration run (the large one is
benchmarks/calibrate_inference.py): null data rejected at most at alpha, planted pairs found."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, binomtest

from anbn_utils.errors import ParameterError
from anbn_utils.inference.calibration import evaluate, plant, rate_table, smooth_series


def test_smooth_series_have_the_asked_autocorrelation_and_plants_their_r():
    rng = np.random.default_rng(0)
    x = smooth_series(rng, 20000, 3, kind="ar1", phi=0.9)
    np.testing.assert_allclose(x.std(0), 1)
    lag1 = [np.corrcoef(x[1:, j], x[:-1, j])[0, 1] for j in range(3)]
    np.testing.assert_allclose(lag1, 0.9, atol=0.02)
    h = smooth_series(rng, 20000, 2, kind="hrf", phi=0.8)
    assert np.corrcoef(h[1:, 0], h[:-1, 0])[0, 1] > 0.95  # the HRF smooths it further
    bns = plant(x, h, [(0, 1)], 0.6)
    assert np.corrcoef(x[:, 0], bns[:, 1])[0, 1] == pytest.approx(0.6, abs=0.03)
    np.testing.assert_array_equal(bns[:, 0], (h[:, 0] - h[:, 0].mean()) / h[:, 0].std())
    with pytest.raises(ParameterError, match="kind must be 'ar1' or 'hrf'"):
        smooth_series(rng, 10, 1, kind="white")
    with pytest.raises(ParameterError, match=r"planted correlation must be in \(0, 1\)"):
        plant(x, h, [(0, 1)], 1.0)


def test_a_small_calibration_rejects_null_data_at_most_at_alpha_and_finds_planted_pairs():
    rows = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        ans = smooth_series(rng, 150, 20, kind="hrf", phi=0.5)
        bns = smooth_series(rng, 150, 3, kind="hrf", phi=0.8)
        rows += [{**r, "kind": "null"} for r in evaluate(
            ans, bns, nulls=["circular", "phase"], n_permutations=199, alphas=[0.05],
            random_state=seed)]
        rows += [{**r, "kind": "planted"} for r in evaluate(
            ans, plant(ans, bns, [(0, 0)], 0.95), planted=[(0, 0)], nulls=["circular", "phase"],
            n_permutations=199, alphas=[0.05], random_state=seed)]
    table = rate_table(pd.DataFrame(rows), ["kind", "null", "alpha"]).set_index(
        ["kind", "null", "outcome"])
    for null in ("circular", "phase"):
        fwer = table.loc[("null", null, "fwer_any")]
        assert fwer.trials == 60 and fwer.successes <= binom.ppf(0.999, 60, 0.05), fwer
        assert table.loc[("planted", null, "planted_fwer")].rate >= 0.9
        assert table.loc[("planted", null, "fdp")].rate <= 0.05 + 0.05  # a mean over 60 datasets
    # the phase null resolves the planted AN's own p below BH's first step (alpha / m); the
    # circular null's own small lags keep the coupling of such smooth series, so its FDR
    # misses the pair in many datasets (a limit of that null, measured by the benchmark)
    assert table.loc[("planted", "phase", "planted_fdr")].rate >= 0.9
    per_test = table.loc[("null", "circular", "per_test")]
    assert per_test.trials == 60 * 20
    ci = binomtest(int(per_test.successes), int(per_test.trials)).proportion_ci(0.95)
    assert (per_test.low, per_test.high) == pytest.approx((ci.low, ci.high))


def test_the_committed_results_load_as_one_table_and_a_missing_file_names_the_fix(tmp_path):
    from anbn_utils.errors import DataError
    from anbn_utils.inference.calibration import RESULTS, load_calibration

    rates = load_calibration()
    assert RESULTS.is_file() and {"scenario", "null", "alpha", "outcome", "rate", "low",
                                  "high"} <= set(rates.columns)
    assert (rates["low"] <= rates["rate"]).all() and (rates["rate"] <= rates["high"]).all()
    with pytest.raises(DataError, match="make calibrate"):
        load_calibration(tmp_path / "none.json")


def _nuisance_results(fwer: dict, planted: dict, runs: dict) -> dict:
    """A calibration results file with nuisance scenarios: ``fwer`` and ``planted`` map a
    scenario name to (successes, trials); ``runs`` a suffix to its AN runs."""
    def rates(outcome, successes, trials):
        ci = binomtest(successes, trials).proportion_ci(0.95)
        return [{"null": null, "alpha": 0.05, "outcome": outcome, "rate": successes / trials,
                 "low": ci.low, "high": ci.high, "successes": successes, "trials": trials}
                for null in ("circular", "phase")]
    scenarios = {}
    for table, outcome in ((fwer, "fwer_any"), (planted, "planted_fwer")):
        for name, (k, n) in table.items():
            suffix = next((s for s in runs if s and name.endswith(s)), "")
            scenarios[name] = {"rates": rates(outcome, k, n),
                               "an_sources": [f"run{i}" for i in range(runs[suffix])]
                               if runs[suffix] else None}
    return {"scenarios": scenarios}


def test_the_nuisance_default_is_read_per_an_source_and_a_liberal_rate_is_named():
    from anbn_utils.inference.calibration import (
        NUISANCE_SOURCES,
        calibration_rates,
        calibration_reading,
        is_held_out,
        nuisance_holdout,
        nuisance_holdout_reading,
    )

    results = _nuisance_results(
        fwer={"nuisance_none": (6, 100), "nuisance_regress": (4, 100),
              "nuisance_none_holdout": (8, 100), "nuisance_regress_holdout": (3, 100),
              "nuisance_regress_both_holdout": (15, 100)},
        planted={"nuisance_planted_none_holdout": (40, 400),
                 "nuisance_planted_regress_holdout": (8, 400)},
        runs={"": 0, "_holdout": 20, "_untrained": 20})
    rates = calibration_rates(results)
    table = nuisance_holdout(rates)
    assert list(table["source"].unique()) == [NUISANCE_SOURCES[""], NUISANCE_SOURCES["_holdout"]]
    held = table[table["source"] == NUISANCE_SOURCES["_holdout"]].set_index("nuisance")
    assert list(held.index) == ["none", "regress", "regress_both"]
    assert held.loc["regress", "fwer"] == 0.03 and held.loc["regress", "planted"] == 0.02
    assert held.loc["regress", "an_runs"] == 20 and held.loc["regress", "datasets"] == 100
    assert pd.isna(held.loc["regress_both", "planted"])  # not measured: not invented
    reading = nuisance_holdout_reading(table)
    # 15 of 100 has its 95 % interval above 0.05 (0.086 ...); 8 of 100 does not
    assert reading.count("(above the level)") == 1
    assert "`regress_both` 0.15 [0.09, 0.24] (above the level)" in reading
    assert "(20 runs)" in reading and "0.10 without the regression and 0.02 with `regress`" in reading
    # chapter 04's reading keeps to the data the defaults were chosen on
    assert is_held_out("nuisance_regress_holdout") and not is_held_out("nuisance_regress")
    assert "holdout" not in calibration_reading(rates)
    assert "nuisance_regress phase 0.040" in calibration_reading(rates)

"""Runs side by side, from hand-written artifacts with known values."""

import numpy as np
import pandas as pd
import pytest

from anbn_utils.comparisons import (
    layer_curves,
    method_comparison,
    methods_reading,
    significance_by_run,
)
from anbn_utils.errors import DataError
from anbn_utils.io import write_json, write_table
from anbn_utils.stages.formats import COUPLING_FORMAT


def _run(folder, method, spatial_r, ranks, ranks_abs, r, wall):
    write_json(folder / "03_bns" / "stage.json", {"wall_s": wall})
    write_json(folder / "03_bns" / "bns.json", {"method": method, "n_bns": 16})
    write_table(folder / "03_bns" / "map_recovery.tsv",
                pd.DataFrame({"network": range(len(spatial_r)), "spatial_r": spatial_r}))
    write_json(folder / "04_coupling" / "stage.json", {"wall_s": 1})
    write_table(folder / "04_coupling" / "planted_recovery.tsv",
                pd.DataFrame({"rank": ranks, "rank_abs": ranks_abs, "r": r}))
    nulls = {"circular": {"alpha": 0.01, "ans_significant_pct": 2.5, "bns_significant": 3}}
    write_json(folder / "04_coupling" / "summary.json", {
        "format": COUPLING_FORMAT, "parameters": {"alpha": 0.01}, "stories": {
        "pieman": {"n_bns": 16, "an_max_pcc_mean": 0.3, "bn_max_pcc_mean": 0.5,
                   "an_max_pcc_per_layer": [0.1, 0.2], "nulls": nulls}}})
    return folder


def test_methods_side_by_side(tmp_path):
    runs = {"vsdbn": _run(tmp_path / "a", "vsdbn", [0.2, -0.4], [3, 1], [1, 1], [0.5, -0.3], 40),
            "canica": _run(tmp_path / "b", "canica", [0.9, -0.9], [1, 1], [1, 1], [0.7, 0.5], 9)}
    table = method_comparison(runs).set_index("run")
    assert table.loc["vsdbn", "map_r"] == pytest.approx(0.3)
    assert (table.loc["vsdbn", "planted_rank1_abs"], table.loc["vsdbn", "planted_rank1_signed"]) \
        == (2, 1)
    assert table.loc["vsdbn", "planted_abs_r"] == pytest.approx(0.4)
    assert table.loc["canica", "fit_s"] == 9 and table.loc["canica", "method"] == "canica"
    reading = methods_reading(table.reset_index())
    assert reading.startswith("canica recovers the planted truth best (2 of 2 planted pairs")
    curves = layer_curves(runs)
    assert curves.query("run == 'canica'")["an_max_pcc_mean"].tolist() == [0.1, 0.2]
    sig = significance_by_run(runs)
    assert sig.loc[0, ["null", "alpha", "ans_significant_pct"]].tolist() == ["circular", 0.01, 2.5]
    with pytest.raises(DataError, match="not a finished stage"):
        method_comparison({"none": tmp_path / "missing"})


def test_readings_from_known_tables():
    from anbn_utils.comparisons import curves_reading, significance_reading

    sig = pd.DataFrame({"run": ["a", "a", "b"], "story": ["x", "y", "x"],
                        "null": ["circular"] * 3, "ans_significant_pct": [2.0, 4.0, 10.0],
                        "an_max_pcc_mean": [0.2, 0.4, 0.5]})
    assert significance_reading(sig) == ("circular null, mean over the stories: a 3.0 % of ANs "
                                         "significant, mean maximal PCC 0.300; b 10.0 % of ANs "
                                         "significant, mean maximal PCC 0.500.")
    assert significance_reading(sig, "phase") == "no run used the phase null model"
    curves = pd.DataFrame({"run": ["a"] * 3 + ["b"] * 3, "story": ["x"] * 6,
                           "layer": [1, 2, 3] * 2, "an_max_pcc_mean": [1, 2, 3, 3, 2, 1]})
    assert curves_reading(curves) == ("slope of the mean maximal PCC per layer: a +1.0000, "
                                      "b -1.0000; rising in a.")


def test_predictive_and_reliability_readings():
    from anbn_utils.comparisons import predictive_reading, reliability_reading

    table = pd.DataFrame({"run": ["a", "a"], "story": ["x", "y"], "ridge_r2_mean": [0, 0],
                          "ridge_r2_max": [0.1, 0.3], "anchor_r2_mean": [0, 0],
                          "anchor_r2_max": [0.5, 0.7], "r2_unique_max": [0.02, 0.06]})
    assert predictive_reading(table) == ("best BN's out-of-sample R², mean over the stories: "
                                         "a unique share of the ANs 0.04 (ridge 0.20, anchor 0.60).")
    assert predictive_reading(table.iloc[:0]) == "no run ran the predictive check"
    agreement = pd.DataFrame({"story": ["x"], "an_max_r": [0.75], "anchor_agreement_pct": [14.5],
                              "anchor_chance_pct": [5.8], "map_abs_r_mean": [0.19]})
    seeds = pd.DataFrame({"abs_r_mean": [0.4, 0.6]})
    assert reliability_reading(agreement, seeds) == (
        "x: AN max-PCC r 0.75 between the halves, anchored BN the same for 14 % of ANs "
        "(chance 6 %), matched maps |r| 0.19; across seeds the matched maps correlate at "
        "|r| 0.50 on average.")
    two_splits = pd.concat([agreement.assign(split="s0"),
                            agreement.assign(split="s1", an_max_r=0.65)])
    assert reliability_reading(two_splits) == (
        "x: AN max-PCC r 0.70 between the halves, anchored BN the same for 14 % of ANs "
        "(chance 6 %), matched maps |r| 0.19 (means over 2 random splits).")
    by_method = pd.DataFrame({"method": ["vsdbn", "vsdbn", "canica"], "abs_r_mean": [0.4, 0.6, 0.9]})
    assert reliability_reading(agreement, by_method).endswith(
        "across seeds the matched maps correlate at |r| 0.50 (vsdbn), |r| 0.90 (canica) on "
        "average.")


def _partitioned(folder, targets, full, base):
    from anbn_utils.io import save_array

    write_json(folder / "04_coupling" / "summary.json",
               {"format": COUPLING_FORMAT, "stories": {"pieman": {}}})
    write_json(folder / "04_coupling" / "stage.json", {"wall_s": 1})
    for name, value in (("r2_nuisance", [0.0]), ("r2_full", [0.0]), ("r2_unique", [0.0]),
                        ("unique_p", [1.0]), ("unique_null", [[0.0]]), ("pred_nuisance", base), ("pred_full", full),
                        ("targets", targets)):
        save_array(folder / "04_coupling" / "pieman" / f"{name}.npy", np.asarray(value))
    return folder


def test_unique_share_contrasts_are_differences_with_intervals(tmp_path):
    """The real run's unique share against a control's: the difference of the two gains
    over their own baselines, paired (same TRs), with an interval that excludes zero when
    the control has no unique share; a run without a partition is left out."""
    from sklearn.metrics import r2_score

    from anbn_utils.comparisons import contrasts_reading, unique_share_contrasts

    rng = np.random.default_rng(0)
    y = rng.standard_normal((120, 2))
    base = 0.5 * y + rng.standard_normal((120, 2))
    real = _partitioned(tmp_path / "real", y, y + 0.3 * rng.standard_normal((120, 2)), base)
    control = _partitioned(tmp_path / "control", y, base, base)  # ANs add nothing
    write_json(tmp_path / "bare" / "04_coupling" / "stage.json", {"wall_s": 1})
    table = unique_share_contrasts(real, {"control": control, "bare": tmp_path / "bare"})
    assert table["run"].unique().tolist() == ["control"]
    row = table.set_index("summary").loc["mean"]
    gain = (r2_score(y, np.load(real / "04_coupling" / "pieman" / "pred_full.npy"),
                     multioutput="raw_values") - r2_score(y, base, multioutput="raw_values"))
    assert (row.real, row.other) == (pytest.approx(gain.mean()), pytest.approx(0.0))
    assert row.difference == pytest.approx(gain.mean()) and 0 < row.low < row.difference < row.high
    assert row.paired
    assert contrasts_reading(table).startswith("mean unique share of the ANs over the BNs")
    assert "control: pieman +" in contrasts_reading(table)
    assert "(above zero in 1 of 1 stories)" in contrasts_reading(table)
    empty = unique_share_contrasts(real, {})  # a run compared with nothing: the columns stay
    assert empty.empty and empty.set_index(["run", "story", "summary"]).columns.size == 6
    assert contrasts_reading(empty) == "no run to compare the ANs' unique share with"

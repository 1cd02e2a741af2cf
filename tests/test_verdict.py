"""The claims table and its verdicts, from known numbers."""

import numpy as np
import pandas as pd
import pytest

from anbn_utils.verdict import (
    CLAIMS,
    RunResult,
    claims_table,
    concentration_test,
    layer_slope,
    story_difference_test,
    verdict,
)


def test_layer_slope_is_the_least_squares_slope():
    assert layer_slope([1, 2, 3]) == pytest.approx(1)
    assert layer_slope([0.3, 0.2, 0.1, 0.0]) == pytest.approx(-0.1)
    assert layer_slope([2, 0, 2]) == pytest.approx(0)


def test_story_difference_test_known_answers():
    same = np.arange(200) % 7
    tvd, p = story_difference_test(same, same, n_permutations=99)
    assert (tvd, p) == (0.0, 1.0)  # every swap gives 0 >= 0
    tvd, p = story_difference_test(np.zeros(200, int), np.ones(200, int), n_permutations=99)
    assert tvd == 1.0 and p == pytest.approx(1 / 100)  # no random swap reaches 1
    # half the ANs change category between the stories: distance 0.5 by hand
    a = np.zeros(100, int)
    b = np.r_[np.zeros(50, int), np.ones(50, int)]
    assert story_difference_test(a, b, n_permutations=9)[0] == pytest.approx(0.5)


def test_concentration_test_known_answers():
    share, p = concentration_test([25, 25, 25, 25], n_permutations=199)
    assert share == 0.25 and p > 0.5  # a random spread has a larger maximum most of the time
    share, p = concentration_test([100, 0, 0, 0], n_permutations=199)
    assert share == 1.0 and p == pytest.approx(1 / 200)
    assert concentration_test([0, 0, 0]) == (0.0, 1.0)


def test_verdict_rules():
    assert verdict(False, True, {"untrained": True}) == "not reproduced on this data"
    assert verdict(True, True, {}).startswith("not evidence of coupling")
    assert verdict(True, False, {"untrained": True, "shuffled": False}) == \
        "not evidence about language: untrained shows it too"
    assert verdict(True, False, {"untrained": True, "shuffled": True}).endswith(
        "untrained, shuffled show it too")
    assert verdict(True, False, {"untrained": False}) == "holds on this data"
    assert verdict(True, None, {}) == \
        "holds on this data (no null phantom or control to compare with)"


def _run(name, pct, per_layer, n_bns=4, bns_sig=4, bn_max=0.45):
    nulls = {n: {"ans_significant_pct": pct[n], "bns_significant": bns_sig} for n in pct}
    story = {"n_bns": n_bns, "bn_max_pcc_mean": bn_max, "bn_max_pcc_sd": 0.05,
             "an_max_pcc_per_layer": per_layer, "ans_below_0.25_pct_per_layer": per_layer[::-1],
             "anchored_ans_per_layer": [1, 1, 1], "nulls": nulls}
    return RunResult(name, {"stories": {"pieman": story, "shapessocial": story}},
                     anchor_counts=pd.DataFrame({"story": ["pieman"] * 4, "bn": range(4),
                                                 "n_ans": [97, 1, 1, 1]}),
                     an_tags={"pieman": np.zeros(50, int), "shapessocial": np.zeros(50, int)})


def test_claims_table_from_known_numbers():
    real = _run("real", {"shuffle": 99.0, "circular": 2.0}, [0.1, 0.2, 0.3])
    null = _run("null", {"shuffle": 95.0, "circular": 0.0}, [0.3, 0.2, 0.1], bns_sig=0,
                bn_max=0.2)
    untrained = _run("untrained", {"shuffle": 10.0, "circular": 0.0}, [0.1, 0.25, 0.3],
                     bns_sig=0, bn_max=0.2)
    table = claims_table(real, null, {"untrained": untrained}).set_index("claim")
    assert list(table.columns) == ["paper", "real", "null", "untrained", "reproduced by",
                                   "verdict"]
    assert len(table) == len(CLAIMS)
    rows = {c.key: table.loc[c.text] for c in CLAIMS}
    assert rows["significance_shuffle"]["real"] == "pieman 99.0 %, shapessocial 99.0 %"
    assert rows["significance_shuffle"]["reproduced by"] == "real, null"
    assert rows["significance_shuffle"]["verdict"].startswith("not evidence of coupling")
    assert rows["significance_circular"]["verdict"] == "not reproduced on this data"
    assert rows["significance_phase"]["real"] == "not run"
    assert rows["all_bns_circular"]["verdict"] == "holds on this data"
    assert rows["bn_max_pcc"]["verdict"] == "holds on this data"
    # rising in the real run and in the untrained model, falling in the null phantom
    assert rows["pcc_rises_with_depth"]["reproduced by"] == "real, untrained"
    assert rows["pcc_rises_with_depth"]["verdict"] == \
        "not evidence about language: untrained shows it too"
    assert rows["fewer_weak_deeper"]["verdict"] == "not evidence about language: " \
        "untrained shows it too"
    assert rows["deeper_anchor_more"]["verdict"] == "not reproduced on this data"  # flat
    assert rows["pos_differs"]["real"].startswith("TVD 0.000")
    assert rows["most_anchored_bn"]["real"].startswith("pieman BN1 97 %")
    assert rows["most_anchored_bn"]["verdict"].startswith("not evidence of coupling")


def test_a_statistic_that_ignores_the_brain_data_is_named_so():
    assert verdict(True, True, {}, same_as_null=True).endswith(
        "it does not depend on the brain data (the same on the null phantom)")
    real = _run("real", {"circular": 2.0}, [0.1, 0.2, 0.3])
    null = _run("null", {"circular": 0.0}, [0.3, 0.2, 0.1])
    table = claims_table(real, null, {}).set_index("claim")
    pos = next(c.text for c in CLAIMS if c.key == "pos_differs")
    assert table.loc[pos, "real"] == table.loc[pos, "null"]

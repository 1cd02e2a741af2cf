"""The BNs and ANs chapters 05-06 single out, against hand-made answers and brute force."""

import numpy as np
import pytest

from anbn_utils.errors import ParameterError
from anbn_utils.interpret import (
    anchor_counts,
    anchored_ans,
    best_an_per_layer,
    best_pairs,
    exemplar_ans,
    random_an_baseline,
)


def test_anchor_counts_count_eq1_anchors_above_the_threshold():
    an_to_bn = np.array([0, 2, 2, 1, 2, 0])
    an_max = np.array([0.3, 0.25, 0.1, 0.4, 0.5, 0.2])
    c = anchor_counts(an_to_bn, an_max, 4, threshold=0.25)
    assert c["n_ans"].tolist() == [1, 1, 2, 0]  # AN 2 (0.1) and AN 5 (0.2) are below
    assert c["most_anchored"].tolist() == [False, False, True, False]
    np.testing.assert_array_equal(anchored_ans(an_to_bn, an_max, 2, 0.25), [1, 4])
    # a tie goes to the lower BN
    assert anchor_counts([1, 0], [0.3, 0.3], 2, 0.25)["most_anchored"].tolist() == [True, False]


def test_no_bn_is_most_anchored_when_no_an_reaches_the_threshold():
    """argmax of all-zero counts named BN1 the most anchored BN, with 0 ANs."""
    c = anchor_counts([0, 1, 1], [0.1, 0.2, 0.05], 3, threshold=0.25)
    assert c["n_ans"].sum() == 0 and not c["most_anchored"].any()
    assert anchored_ans([0, 1, 1], [0.1, 0.2, 0.05], None, 0.25).size == 0


def test_random_baseline_shares_and_seeded_draw():
    cats = np.array([5, 5, 7, 7, 7, 9, 9, 1, 1, 1])
    out = random_an_baseline(cats, np.array([2, 3, 5]), random_state=0)
    sel = out[out.group == "selected"]
    assert sel.category.tolist() == [7, 9] and sel.share_pct.tolist() == pytest.approx([200 / 3, 100 / 3])
    assert (sel.n_ans == 3).all()
    drawn = np.random.default_rng(0).choice(10, size=3, replace=False)
    rand = out[out.group == "random"]
    cats_drawn, n = np.unique(cats[drawn], return_counts=True)
    assert dict(zip(rand.category, rand.share_pct)) == pytest.approx(
        dict(zip(cats_drawn, 100 * n / 3)))
    assert rand.share_pct.is_monotonic_decreasing


def _pcc(rng, n_layers=3, per_layer=4, n_bns=5):
    return rng.standard_normal((n_layers * per_layer, n_bns))


def test_best_pairs_equal_a_loop_over_each_layer():
    rng = np.random.default_rng(0)
    pcc = _pcc(rng)
    names = [f"AN{i}" for i in range(12)]
    table = best_pairs(pcc, 3, names=names)
    for layer in range(3):
        best = max(((i, k) for i in range(layer * 4, layer * 4 + 4) for k in range(5)),
                   key=lambda ik: pcc[ik])
        row = table.iloc[layer]
        assert (row.layer, row.an, row.bn) == (layer + 1, *best)
        assert row.an_name == names[best[0]] and row.pcc == pcc[best]


def test_exemplars_are_the_global_best_then_each_layers_best():
    rng = np.random.default_rng(1)
    pcc = _pcc(rng)
    an_max, an_to_bn = pcc.max(1), pcc.argmax(1)
    ex = exemplar_ans(an_max, an_to_bn, 3, [1, 3])
    assert ex.role.tolist() == ["best", "best of layer", "best of layer"]
    assert ex.an.tolist() == [int(an_max.argmax()), int(an_max[:4].argmax()),
                              8 + int(an_max[8:].argmax())]
    assert ex.layer.tolist() == [int(an_max.argmax()) // 4 + 1, 1, 3]
    assert ex.bn.tolist() == an_to_bn[ex.an].tolist() and ex.pcc.tolist() == an_max[ex.an].tolist()
    np.testing.assert_array_equal(best_an_per_layer(an_max, 3),
                                  [l * 4 + an_max[l * 4:(l + 1) * 4].argmax() for l in range(3)])


@pytest.mark.parametrize("layers", [[0], [-1], [4], [1.0]])
def test_exemplar_layers_out_of_range_are_rejected(layers):
    """Layer -1 used to slice the second-to-last layer silently; 0 and 4 failed obscurely."""
    an_max = np.arange(12.0)
    with pytest.raises(ParameterError, match=r"exemplar_layers=.*between 1 and 3"):
        exemplar_ans(an_max, np.zeros(12, int), 3, layers)

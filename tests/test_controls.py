"""Controls of the coupling stage (issue 14): BNs of the other story, phase-randomized ANs,
and how a run says which controls it runs."""

import numpy as np
import pytest
import torch

from anbn_utils.controls import active_controls, bn_partners, caption_suffix, pair_series
from anbn_utils.coupling.statistics import couple_story, randomize, surrogate_series
from anbn_utils.errors import DataError, ParameterError
from anbn_utils.synthetic import ar1


def test_partners_swap_two_stories_and_rotate_more():
    assert bn_partners(["pieman", "shapessocial"]) == {"pieman": "pieman",
                                                       "shapessocial": "shapessocial"}
    assert bn_partners(["pieman", "shapessocial"], "crossed") == {"pieman": "shapessocial",
                                                                  "shapessocial": "pieman"}
    three = bn_partners(["a", "b", "c"], "crossed")
    assert three == {"a": "b", "b": "c", "c": "a"}
    assert all(k != v for k, v in three.items())
    with pytest.raises(ParameterError, match="at least two tasks"):
        bn_partners(["pieman"], "crossed")
    with pytest.raises(ParameterError, match="bn_pairing must be one of"):
        bn_partners(["pieman", "shapessocial"], "swapped")


def test_crossed_series_are_the_first_common_trs_of_both():
    ans = np.arange(300)[:, None] * np.ones((1, 4))  # value = TR index
    bns = 1000 + np.arange(270)[:, None] * np.ones((1, 3))
    a, b = pair_series(ans, bns, same_story=False)
    assert a.shape == (270, 4) and b.shape == (270, 3)
    assert (a[:, 0] == np.arange(270)).all() and (b[:, 0] == 1000 + np.arange(270)).all()
    a, b = pair_series(bns, ans, same_story=False)  # whichever is shorter
    assert len(a) == len(b) == 270 and (b[:, 0] == np.arange(270)).all()
    with pytest.raises(DataError, match="story 'pieman': AN series have 300 TRs but BN series 270"):
        pair_series(ans, bns, same_story=True, story="pieman")


def test_a_planted_coupling_vanishes_when_the_bns_come_from_the_other_story():
    """Story A's ANs carry story A's BN 0; story B's the same for B. Matched: found.
    Crossed: A's ANs against B's BNs over the common TRs, no coupling left."""
    rng = np.random.default_rng(0)
    bn = {"a": ar1(rng, 300, 5, 0.7), "b": ar1(rng, 260, 5, 0.7)}
    ans = {t: np.column_stack([bn[t][:, 0] + 0.3 * rng.standard_normal(len(bn[t])),
                               ar1(rng, len(bn[t]), 30, 0.7)]) for t in bn}
    found = {}
    for pairing in ("matched", "crossed"):
        partners = bn_partners(["a", "b"], pairing)
        for t in ("a", "b"):
            a, b = pair_series(ans[t], bn[partners[t]], same_story=partners[t] == t, story=t)
            res = couple_story(a, b, nulls=["phase"], n_permutations=1000, random_state=0)
            found[pairing, t] = (len(a), res["pcc"][0, 0], res["tests"]["phase"]["an_q"][0])
    for t, n in (("a", 300), ("b", 260)):
        assert found["matched", t][0] == n and found["matched", t][1] > 0.9
        assert found["matched", t][2] < 0.05
        assert found["crossed", t][0] == 260
        assert abs(found["crossed", t][1]) < 0.4 and found["crossed", t][2] > 0.05


@pytest.mark.parametrize("n_trs", [200, 201])
def test_phase_surrogate_keeps_spectra_and_mutual_correlations(n_trs):
    rng = np.random.default_rng(1)
    x = ar1(rng, n_trs, 6, 0.9).astype(np.float32) * 3 + 5
    x[:, 1] = 0.8 * x[:, 0] + 0.2 * x[:, 2]
    s = surrogate_series(x, "phase", random_state=0)
    assert s.shape == x.shape and s.dtype == x.dtype
    amp = lambda v: np.abs(np.fft.rfft(v.astype(np.float64), axis=0))
    np.testing.assert_allclose(amp(s), amp(x), rtol=1e-4, atol=1e-3 * amp(x).max())
    np.testing.assert_allclose(np.corrcoef(s.T), np.corrcoef(x.T), atol=1e-5)
    for i in range(x.shape[1]):  # each series differs from itself in time
        assert abs(np.corrcoef(s[:, i], x[:, i])[0, 1]) < 0.9
        assert not np.allclose(s[:, i], x[:, i])
    # seeded: the same seed and story give the same surrogate, another story other phases
    np.testing.assert_array_equal(s, surrogate_series(x, "phase", random_state=0))
    assert not np.allclose(s, surrogate_series(x, "phase", random_state=0, story=1))
    assert not np.allclose(s, surrogate_series(x, "phase", random_state=1))
    # not the first copy the BN phase null draws with the run's seed
    first_null = randomize(torch.tensor(x, dtype=torch.float64), 1, "phase",
                           torch.Generator().manual_seed(0))[0].numpy()
    assert abs(np.corrcoef(first_null[:, 0], s[:, 0])[0, 1]) < 0.99
    assert surrogate_series(x, None) is x
    with pytest.raises(ParameterError, match="an_surrogate must be None or one of"):
        surrogate_series(x, "shuffle")


def test_phase_randomized_ans_lose_a_planted_coupling():
    rng = np.random.default_rng(2)
    bns = ar1(rng, 300, 4, 0.8)
    ans = np.column_stack([bns[:, 0] + 0.3 * rng.standard_normal(300), ar1(rng, 300, 20, 0.8)])
    real = couple_story(ans, bns, nulls=["phase"], n_permutations=1000)
    ctl = couple_story(surrogate_series(ans, "phase", random_state=0), bns, nulls=["phase"],
                       n_permutations=1000)
    assert real["pcc"][0, 0] > 0.9 and real["tests"]["phase"]["an_q"][0] < 0.05
    assert abs(ctl["pcc"][0, 0]) < 0.4 and ctl["tests"]["phase"]["an_q"][0] > 0.05


def test_active_controls_name_each_control_and_none_for_the_paper():
    assert active_controls({"model": "sentence-transformers/all-MiniLM-L6-v2", "seed": 0,
                            "word_order": "original", "bn_pairing": "matched",
                            "an_surrogate": None}) == []
    assert caption_suffix([]) == ""
    found = active_controls({"model": "random:sentence-transformers/all-MiniLM-L6-v2",
                             "seed": 3, "word_order": "shuffled", "bn_pairing": "crossed",
                             "an_surrogate": "phase"},
                            partners={"pieman": "shapessocial", "shapessocial": "pieman"},
                            n_trs={"pieman": 270, "shapessocial": 270})
    assert [c.name for c in found] == ["model", "word_order", "bn_pairing", "an_surrogate"]
    assert "seed 3" in found[0].note and "sentence-transformers/all-MiniLM-L6-v2" in found[0].note
    assert "pieman's ANs with shapessocial's BNs over 270 TRs" in found[2].note
    assert caption_suffix(found) == (" | CONTROL: untrained model, shuffled words, BNs of the "
                                     "other story, phase-randomized ANs")
    gpt = active_controls({"model": "random:gpt2-wordpiece"})
    assert "not GPT-2's own BPE tokenizer" in gpt[0].note
    with pytest.raises(ParameterError, match="bn_pairing"):
        active_controls({"bn_pairing": "both"})

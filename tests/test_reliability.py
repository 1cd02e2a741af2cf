"""Reliability: split halves of subjects, and agreement of hand-built finished runs."""

import dataclasses

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from anbn_utils.bns.networks import fit_brain_networks, load_brain_networks, save_brain_networks
from anbn_utils.bns.vsdbn import VSDBN
from anbn_utils.errors import DataError, ParameterError
from anbn_utils.io import write_json, write_table
from anbn_utils.narratives import prepare_story
from anbn_utils.reliability import (
    anchor_agreement,
    best_pair_stability,
    compare_runs,
    fit_subjects_of_half,
    match_bns,
    seed_stability,
    seed_stability_by_method,
    split_subjects,
)
from anbn_utils.stages.formats import COUPLING_FORMAT

SUBJECTS = {"pieman": [f"sub-{i:03d}" for i in range(1, 12)],
            "shapessocial": [f"sub-{i}" for i in range(201, 211)]}


def test_split_halves_are_disjoint_cover_all_balanced_and_seeded():
    halves = split_subjects(SUBJECTS, 0)
    for task, subs in SUBJECTS.items():
        a, b = halves[task]
        assert not set(a) & set(b) and sorted(a + b) == sorted(subs)
        assert len(a) == (len(subs) + 1) // 2 and len(b) == len(subs) // 2
        assert a == [s for s in subs if s in a]  # in the given order
    assert split_subjects(SUBJECTS, 0) == halves  # deterministic
    draws = {tuple(split_subjects(SUBJECTS, seed)["pieman"][0]) for seed in range(10)}
    assert len(draws) >= 5  # differs across seeds
    # a story's split does not depend on the other stories
    assert split_subjects({"pieman": SUBJECTS["pieman"]}, 0)["pieman"] == halves["pieman"]


def test_fit_subjects_of_half():
    halves = split_subjects(SUBJECTS, 3)
    assert fit_subjects_of_half(SUBJECTS, None, 3) is None
    assert fit_subjects_of_half(SUBJECTS, 1, 3) == {t: h[0] for t, h in halves.items()}
    assert fit_subjects_of_half(SUBJECTS, 2, 3) == {t: h[1] for t, h in halves.items()}
    with pytest.raises(ParameterError, match="fit_half must be None, 1 or 2"):
        fit_subjects_of_half(SUBJECTS, 3, 0)
    with pytest.raises(ParameterError, match="story 'pieman' has 1 subject"):
        split_subjects({"pieman": ["sub-001"]}, 0)


@pytest.fixture(scope="module")
def stories(tiny_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {t: prepare_story(tiny_root, t, cache_dir=cache, progress=False)
            for t in ("pieman", "shapessocial")}


def _only(stories, subjects):
    return {t: dataclasses.replace(s, scans=s.scans[s.scans.subject.isin(subjects[t])])
            for t, s in stories.items()}


@pytest.mark.parametrize("method", ["vsdbn", "canica"])
def test_bns_fitted_on_one_half_give_the_time_courses_of_the_other(stories, method, tmp_path):
    everyone = {t: s.scans.subject.tolist() for t, s in stories.items()}
    fit = fit_subjects_of_half(everyone, 1, 0)
    held_out = {t: [s for s in subs if s not in fit[t]] for t, subs in everyone.items()}
    kw = {"method": method, "n_components": 3, "random_state": 0, "progress": False,
          "vsdbn": {"n_hidden": (6, 4, 3), "n_epochs": 2}, "device": "cpu"}
    bns = fit_brain_networks(stories, fit_subjects=fit, **kw)
    assert bns.subjects == held_out and bns.meta["fit_subjects"] == fit
    for task, subs in held_out.items():
        assert bns.timecourses[task].shape[0] == len(subs)
    # the maps are those of a fit on the fitting half alone
    alone = fit_brain_networks(_only(stories, fit), **kw)
    np.testing.assert_allclose(bns.maps[-1], alone.maps[-1], rtol=1e-5, atol=1e-7)
    if method == "vsdbn":  # the time courses: that model applied to the held-out subjects
        model = VSDBN(n_hidden=(6, 4, 3), n_epochs=2, random_state=0, device="cpu", verbose=0)
        model.fit([s.bold(sub) for t, s in stories.items() for sub in fit[t]])
        for task, subs in held_out.items():
            expected = np.stack([model.transform(stories[task].bold(sub)) for sub in subs])
            np.testing.assert_allclose(bns.timecourses[task], expected, rtol=1e-5, atol=1e-6)
    save_brain_networks(bns, tmp_path)
    back = load_brain_networks(tmp_path)
    assert back.meta["fit_subjects"] == fit and back.subjects == held_out
    # without a split, every subject fits and is transformed (and nothing is recorded)
    assert "fit_subjects" not in fit_brain_networks(stories, **kw).meta
    with pytest.raises(ParameterError, match="needs subjects on both sides"):
        fit_brain_networks(stories, fit_subjects=everyone, **kw)
    with pytest.raises(ParameterError, match="give every story's half"):
        fit_brain_networks(stories, fit_subjects={"pieman": fit["pieman"]}, **kw)


def test_match_bns_finds_a_permutation_with_sign_flips():
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((200, 6))
    perm = np.array([3, 0, 5, 1, 4, 2])  # BN k of A is BN perm[k] of B
    signs = np.array([1, -1, 1, 1, -1, 1])
    maps_b = np.empty_like(maps)
    maps_b[:, perm] = maps * signs
    m = match_bns(maps, maps_b)
    assert m.bn_a.tolist() == list(range(6)) and m.bn_b.tolist() == perm.tolist()
    np.testing.assert_allclose(m.spatial_r, signs, atol=1e-12)
    with pytest.raises(DataError, match="at least 6"):
        match_bns(maps, maps_b[:, :4])


def test_anchor_agreement_known_answers():
    match = np.array([2, 0, 1])  # BN k of A is BN match[k] of B
    a = np.array([0, 0, 1, 2, 2, 2])
    same = anchor_agreement(a, match[a], match)
    assert same["agreement_pct"] == 100
    b = match[a].copy()
    b[[0, 3, 4]] = [1, 0, 0]  # three ANs moved
    got = anchor_agreement(a, b, match)
    assert got["agreement_pct"] == 50
    # chance: sum over A's BNs k of P_a(k) * P_b(match[k]) by hand
    p_a = {0: 2 / 6, 1: 1 / 6, 2: 3 / 6}
    p_b = {0: 3 / 6, 1: 2 / 6, 2: 1 / 6}  # b = [1, 2, 0, 0, 0, 1]
    assert b.tolist() == [1, 2, 0, 0, 0, 1]
    expected = 100 * sum(p_a[k] * p_b[match[k]] for k in range(3))
    assert got["chance_pct"] == pytest.approx(expected)
    with pytest.raises(DataError, match="different ANs"):
        anchor_agreement(a, b[:4], match)


SHAPE = (5, 4, 3)


def _write_run(root, maps, coupling, *, best=None, n_layers=2):
    """A finished run as the pipeline writes it: 03_bns maps and 04_coupling arrays."""
    bns, coup = root / "03_bns", root / "04_coupling"
    bns.mkdir(parents=True)
    mask = nib.Nifti1Image(np.ones(SHAPE, np.uint8), np.eye(4))
    nib.save(mask, bns / "mask.nii.gz")
    nib.save(nib.Nifti1Image(maps.T.reshape(-1, *SHAPE).transpose(1, 2, 3, 0).astype(np.float32),
                             np.eye(4)), bns / "maps_layer1.nii.gz")
    write_json(bns / "bns.json", {"layers": [maps.shape[1]]})
    stories = {}
    for task, pcc in coupling.items():
        (coup / task).mkdir(parents=True)
        an_to_bn = pcc.argmax(1)
        np.save(coup / task / "pcc.npy", pcc)
        np.save(coup / task / "an_to_bn.npy", an_to_bn)
        np.save(coup / task / "an_max.npy", pcc[np.arange(len(pcc)), an_to_bn])
        stories[task] = {"an_max_pcc_per_layer": [0.0] * n_layers}
    write_json(coup / "summary.json", {"format": COUPLING_FORMAT, "stories": stories})
    if best is not None:
        (root / "06_layers").mkdir()
        write_table(root / "06_layers" / "best_pairs.tsv", best)
    return root


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(1)
    maps = rng.standard_normal((np.prod(SHAPE), 4))
    pcc = {t: rng.uniform(-0.5, 0.5, (10, 4)) for t in ("pieman", "shapessocial")}
    perm = np.array([2, 3, 1, 0])
    maps_b = np.empty_like(maps)
    maps_b[:, perm] = maps * [1, -1, 1, 1]  # B: the same BNs, renumbered, one sign flipped
    pcc_b = {}
    for t, p in pcc.items():
        pcc_b[t] = np.empty_like(p)
        pcc_b[t][:, perm] = p
    return {"a": _write_run(tmp_path / "a", maps, pcc),
            "b": _write_run(tmp_path / "b", maps_b, pcc_b),
            "maps": maps, "pcc": pcc, "perm": perm, "maps_b": maps_b, "tmp": tmp_path}


def test_identical_runs_up_to_numbering_agree_fully(runs):
    table = compare_runs(runs["a"], runs["b"])
    assert table.story.tolist() == ["pieman", "shapessocial"]
    np.testing.assert_allclose(table.an_max_r, 1)
    np.testing.assert_allclose(table.anchor_agreement_pct, 100)
    np.testing.assert_allclose(table.map_abs_r_mean, 1)
    assert table.bns_sign_flipped.tolist() == [1, 1] and table.n_ans.tolist() == [10, 10]
    assert (table.anchor_chance_pct < 100).all()
    pairs = best_pair_stability(runs["a"], runs["b"])
    assert len(pairs) == 4 and pairs.same_an.all() and pairs.same_bn.all()
    # layer 1 of pieman: the best pair, computed from pcc.npy (no 06_layers here)
    block = runs["pcc"]["pieman"][:5]
    i, k = np.unravel_index(block.argmax(), block.shape)
    row = pairs.iloc[0]
    assert (row.layer, row.an_a, row.bn_a, row.bn_b) == (1, i, k, runs["perm"][k])


def test_disagreeing_runs(runs):
    pcc = {t: p.copy() for t, p in runs["pcc"].items()}
    p = pcc["pieman"]
    p[:5] = p[:5, [1, 0, 2, 3]]  # ANs 0-4 swap BNs 0 and 1 (anchors move where either was best)
    p[7, :] *= -1  # AN 7: another anchor and max
    c = _write_run(runs["tmp"] / "c", runs["maps"], pcc)
    table = compare_runs(runs["a"], c, tasks=["pieman"])
    a_to_bn = runs["pcc"]["pieman"].argmax(1)
    c_to_bn = p.argmax(1)
    assert table.anchor_agreement_pct[0] == pytest.approx(100 * (a_to_bn == c_to_bn).mean())
    assert table.anchor_agreement_pct[0] < 100
    expected_r = np.corrcoef(runs["pcc"]["pieman"].max(1), p.max(1))[0, 1]
    assert table.an_max_r[0] == pytest.approx(expected_r)
    assert table.bns_sign_flipped[0] == 0


def test_best_pairs_are_read_from_06_layers_when_present(runs):
    best = pd.DataFrame({"story": ["pieman", "pieman"], "layer": [1, 2], "an": [0, 9],
                         "an_name": ["x", "y"], "bn": [3, 2], "pcc": [0.9, 0.8]})
    d = _write_run(runs["tmp"] / "d", runs["maps"], runs["pcc"], best=best)
    pairs = best_pair_stability(d, runs["b"], tasks=["pieman"])
    assert pairs.an_a.tolist() == [0, 9] and pairs.bn_a.tolist() == [3, 2]
    block = runs["pcc"]["pieman"]
    expected_an = [int(block[:5].max(1).argmax()), 5 + int(block[5:].max(1).argmax())]
    assert pairs.same_an.tolist() == [a == b for a, b in zip([0, 9], expected_an)]
    # B's BN is the match of A's: A's BN 3 is B's BN perm[3] = 0
    assert pairs.same_bn.tolist() == [runs["perm"][3] == pairs.bn_b[0],
                                      runs["perm"][2] == pairs.bn_b[1]]


def test_seed_stability_pairwise(runs):
    rng = np.random.default_rng(3)
    e = _write_run(runs["tmp"] / "e", rng.standard_normal(runs["maps"].shape), runs["pcc"])
    table = seed_stability({"seed0": runs["a"], "seed1": runs["b"], "random": e})
    assert list(zip(table.run_a, table.run_b)) == [("seed0", "seed1"), ("seed0", "random"),
                                                   ("seed1", "random")]
    assert table.abs_r_mean[0] == pytest.approx(1) and table.abs_r_min[0] == pytest.approx(1)
    # random maps on 60 voxels: |r| of a few tenths at most
    assert (table.abs_r_mean[1:] < 0.4).all() and table.n_bns.tolist() == [4, 4, 4]
    with pytest.raises(ParameterError, match="at least two runs"):
        seed_stability([runs["a"]])
    with pytest.raises(DataError, match="no brain networks"):
        seed_stability([runs["a"], runs["tmp"] / "nothing"])


def test_seed_stability_by_method_labels_each_group(runs):
    e = _write_run(runs["tmp"] / "e2", runs["maps"][:, ::-1], runs["pcc"])  # same BNs, reordered
    table = seed_stability_by_method({"vsdbn": {"s0": runs["a"], "s1": runs["b"]},
                                      "canica": {"c0": runs["a"], "c1": e},
                                      "alone": {"x": runs["a"]}})
    assert table.method.tolist() == ["vsdbn", "canica"]  # a group of one run has no pair
    expected = pd.concat([seed_stability({"s0": runs["a"], "s1": runs["b"]}),
                          seed_stability({"c0": runs["a"], "c1": e})], ignore_index=True)
    pd.testing.assert_frame_equal(table.drop(columns="method"), expected)
    assert table.abs_r_mean[1] == pytest.approx(1)  # reordering is undone by the matching
    empty = seed_stability_by_method({"alone": {"x": runs["a"]}})
    assert empty.empty and "method" in empty


def test_an_max_pairs_are_what_compare_runs_correlates(runs):
    from anbn_utils.reliability import an_max_pairs

    pairs = an_max_pairs(runs["a"], runs["b"])
    assert sorted(pairs) == ["pieman", "shapessocial"]
    a, b = pairs["pieman"]
    np.testing.assert_array_equal(a, runs["pcc"]["pieman"].max(1))
    table = compare_runs(runs["a"], runs["b"]).set_index("story")
    assert table.an_max_r["pieman"] == pytest.approx(np.corrcoef(a, b)[0, 1])


def test_split_half_agreement_stacks_the_splits(runs):
    from anbn_utils.reliability import split_half_agreement

    table = split_half_agreement({"seed0": (runs["a"], runs["b"]), "seed1": (runs["b"], runs["a"])})
    assert table.columns[0] == "split" and table.split.tolist() == ["seed0"] * 2 + ["seed1"] * 2
    pd.testing.assert_frame_equal(table.iloc[:2, 1:].reset_index(drop=True),
                                  compare_runs(runs["a"], runs["b"]))
    pd.testing.assert_frame_equal(table.iloc[2:, 1:].reset_index(drop=True),
                                  compare_runs(runs["b"], runs["a"]))
    with pytest.raises(ParameterError, match="at least one pair"):
        split_half_agreement({})


def test_study_reliability_uses_the_finished_variants_only(runs):
    from anbn_utils.reliability import split_half_agreement, study_reliability

    e = _write_run(runs["tmp"] / "e3", runs["maps"][:, ::-1], runs["pcc"])
    finished = {"half1": runs["a"], "half2": runs["b"], "c0": e}
    rel = study_reliability(finished, [["half1", "half2"], ["half1_s1", "half2_s1"]],
                            {"VS-DBN": ["seed1", "seed2"], "CanICA": ["c0", "c1"]},
                            extra_runs={"VS-DBN": {"this run": runs["a"]}, "CanICA": {"x": runs["b"]}})
    assert rel.first_pair == ("half1", "half2")
    pd.testing.assert_frame_equal(rel.agreement,
                                  split_half_agreement({"half1 / half2": (runs["a"], runs["b"])}))
    pd.testing.assert_frame_equal(rel.best_pairs, best_pair_stability(runs["a"], runs["b"]))
    np.testing.assert_array_equal(rel.an_max["pieman"][0], runs["pcc"]["pieman"].max(1))
    # VS-DBN: "this run" alone (no seed variant finished) has no pair; CanICA: x and c0
    assert rel.seeds.method.tolist() == ["CanICA"]
    assert (rel.seeds.run_a[0], rel.seeds.run_b[0]) == ("x", "c0")
    assert rel.seeds.abs_r_mean[0] == pytest.approx(1)
    none = study_reliability({"c0": e}, [["half1", "half2"]], {"CanICA": ["c0"]})
    assert none.agreement is None and none.first_pair is None and none.seeds.empty

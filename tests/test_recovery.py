"""Scoring against the phantom's truth: typed matching, time courses, planted pairs."""

from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from anbn_utils.coupling.recovery import coupling_recovery
from anbn_utils.errors import DataError
from anbn_utils.recovery import (
    map_recovery,
    signal_check,
    timecourse_recovery,
    true_timecourses,
)

SHAPE = (4, 4, 4)
MASK = nib.Nifti1Image(np.ones(SHAPE, np.uint8), np.eye(4))


def _truth(rng, n_trs=30):
    maps = np.zeros((*SHAPE, 3), np.float32)
    maps[:2, :2, :2, 0] = 1
    maps[2:, 2:, :2, 1] = 1
    maps[:2, 2:, 2:, 2] = 1
    return {"networks": [{"name": n} for n in ("DMN", "auditory", "visual")],
            "planted": [{"an": "L1H1D2", "network": 1, "network_name": "auditory"}],
            "maps_img": nib.Nifti1Image(maps, np.eye(4)),
            "timecourses": {"pieman": rng.standard_normal((n_trs + 5, 3))}}


def test_map_recovery_matches_each_network_to_its_bn_with_typed_fields():
    rng = np.random.default_rng(0)
    truth = _truth(rng)
    true = np.asarray(truth["maps_img"].dataobj).reshape(-1, 3)  # voxels in mask order (all)
    # BN 0 is noise, BN 1 = -network 2 (sign flip), BN 2 = network 0, BN 3 = network 1
    maps = np.column_stack([rng.standard_normal(64), -true[:, 2], true[:, 0], true[:, 1]])
    maps[:, 1:] += 0.1 * rng.standard_normal((64, 3))
    m = map_recovery(maps, truth, MASK)
    assert m.network.tolist() == [0, 1, 2] and m.bn.tolist() == [2, 3, 1]
    assert m.network_name.tolist() == ["DMN", "auditory", "visual"]
    assert m.planted_an.isna().tolist() == [True, False, True] and m.planted_an[1] == "L1H1D2"
    assert m.spatial_r[2] < -0.9 and m.spatial_r[0] > 0.9
    assert m.network.dtype.kind == "i" and m.bn.dtype.kind == "i"
    with pytest.raises(DataError, match="2 BNs cannot be matched one-to-one to the phantom's 3"):
        map_recovery(maps[:, :2], truth, MASK)


def test_timecourse_recovery_correlates_each_network_with_its_matched_bn():
    rng = np.random.default_rng(1)
    truth = _truth(rng)
    story = SimpleNamespace(task="pieman", start=3, n_trs=30)
    true_tc = true_timecourses(truth, story)
    np.testing.assert_array_equal(true_tc, truth["timecourses"]["pieman"][3:33])
    bn_tc = rng.standard_normal((30, 4))
    bn_tc[:, 3] = -2 * true_tc[:, 1] + 1  # exactly anti-correlated
    matched = pd.DataFrame({"network": [0, 1], "bn": [0, 3]})
    out = timecourse_recovery(matched, {"pieman": true_tc}, {"pieman": bn_tc})
    assert out.columns.tolist() == ["story", "network", "bn", "timecourse_r"]
    assert out.timecourse_r[1] == pytest.approx(-1)
    assert out.timecourse_r[0] == pytest.approx(pearsonr(true_tc[:, 0], bn_tc[:, 0]).statistic)
    with pytest.raises(DataError, match="run past the phantom's 35 volumes"):
        true_timecourses(truth, SimpleNamespace(task="pieman", start=10, n_trs=30))


def test_coupling_recovery_uses_the_runs_own_anchors():
    """The Eq. 1 column used the signed argmax even when the run anchored by |r|."""
    from anbn_utils.coupling.statistics import anchors

    truth = _truth(np.random.default_rng(2))
    names = ["L1H1D1", "L1H1D2", "L1H1D3"]
    pcc = np.array([[0.1, 0.2, 0.0], [0.3, -0.8, 0.1], [0.0, 0.5, 0.2]])
    matched = pd.DataFrame({"network": [0, 1, 2], "bn": [0, 1, 2],
                            "spatial_r": [0.5, -0.4, 0.6]})
    import torch

    anch = {k: v.numpy() for k, v in anchors(torch.tensor(pcc), "abs").items()}
    pair_p = np.array([[0.9, 0.9, 0.9], [0.9, 0.02, 0.9], [0.9, 0.9, 0.9]])
    result = {"pcc": pcc, **anch, "tests": {"circular": {
        "an_q": np.array([0.5, 0.004, 0.9]), "pair_p_fwer": pair_p,
        "family_null": np.arange(100) / 100}}}
    row = coupling_recovery(truth, matched, result, names).iloc[0]
    assert (row.planted_an, row.an, row.network, row.bn) == ("L1H1D2", 1, 1, 1)
    assert row.r == -0.8 and row["rank"] == 3 and row.rank_abs == 1
    assert row.eq1_anchor_is_bn  # by |r|, as the run anchored
    assert (row.map_sign, row.eq1_anchor, row.eq1_r) == (-1, 1, -0.8)
    assert row.q_circular == 0.004 and row.p_fwer_circular == 0.02
    # 100 randomizations: at most floor(0.05 x 101) - 1 = 4 may reach it, the 5th largest
    assert row.family_null_q95_circular == pytest.approx(0.95)
    signed = {**result, **{k: v.numpy() for k, v in anchors(torch.tensor(pcc)).items()}}
    row = coupling_recovery(truth, matched, signed, names).iloc[0]
    assert not row.eq1_anchor_is_bn and (row.eq1_anchor, row.eq1_r) == (0, 0.3)  # the other BN
    with pytest.raises(DataError, match="'L1H1D2' is not among this run's ANs"):
        coupling_recovery(truth, matched, result, ["A", "B", "C"])


def test_signal_check_against_scipy_with_typed_networks():
    rng = np.random.default_rng(3)
    truth = _truth(rng, n_trs=30)
    maps = np.asarray(truth["maps_img"].dataobj).reshape(-1, 3)
    courses = truth["timecourses"]["pieman"][0:30]
    bold = {s: courses @ maps.T + rng.standard_normal((30, 64)) for s in ("sub-1", "sub-2")}
    for b in bold.values():
        b[:, 63] = 0.0  # a constant voxel outside the networks: no r, left out (was NaN)
    story = SimpleNamespace(task="pieman", start=0, n_trs=30, mask_img=lambda: MASK,
                            scans=pd.DataFrame({"subject": ["sub-1", "sub-2"]}),
                            bold=lambda s: bold[s])
    rows = signal_check(story, truth)
    mean = (bold["sub-1"] + bold["sub-2"]) / 2
    outside = np.flatnonzero(maps.max(1) == 0)
    for k, row in enumerate(rows):
        assert (row["network"], row["network_name"]) == (k, truth["networks"][k]["name"])
        assert row["r with network average"] == pytest.approx(
            pearsonr(courses[:, k], mean @ maps[:, k]).statistic)
        expect = np.mean([abs(pearsonr(courses[:, k], mean[:, v]).statistic)
                          for v in outside if v != 63])
        assert row["mean |r| outside networks"] == pytest.approx(expect)
    assert rows[1]["driven by"] == "L1H1D2" and rows[0]["driven by"] == "unrelated signal"


def test_planted_found_counts_pairs_per_null_and_level_and_names_the_missed():
    from anbn_utils.coupling.recovery import planted_found, planted_found_text

    planted = pd.DataFrame({"story": ["pieman", "pieman"], "planted_an": ["L1H1D1", "L2H1D1"],
                            "bn": [0, 3], "r": [0.8, 0.41],
                            "p_fwer_circular": [0.004, 0.12], "family_null_q95_circular": [0.5, 0.5],
                            "p_fwer_phase": [0.001, 0.03], "family_null_q95_phase": [0.45, 0.45]})
    found = planted_found(planted, ["circular", "phase"], [0.01, 0.05])
    assert found[["null", "alpha", "found", "planted"]].values.tolist() == [
        ["circular", 0.01, 1, 2], ["circular", 0.05, 1, 2], ["phase", 0.01, 1, 2],
        ["phase", 0.05, 2, 2]]
    assert found.missed[1] == "pieman L2H1D1-BN4 (r 0.41, p 0.12, family null max q95 0.50)"
    assert found.missed[3] == ""
    text = planted_found_text(pd.concat({"this run": found}))
    assert text.startswith("this run: circular 1 of 2 at 0.01, circular 1 of 2 at 0.05")
    assert planted_found_text(pd.concat({"this run": found}), 0.05) == \
        "this run: 1 (circular), 2 (phase) of 2 at 0.05"


def test_label_recovery_compares_the_anchor_bns_label_with_the_planted_maps_own():
    """Two planted networks drawn on the ROIs of two networks of the Seitzman atlas (MNI
    space, 8 mm): each planted map's own label is the network most of the ROIs inside it
    belong to (counted here by hand: every value is one, so a vote is a count); a planted
    AN agrees when its anchor BN carries that label."""
    from nilearn.datasets import fetch_coords_seitzman_2018, load_mni152_brain_mask

    from anbn_utils.recovery import label_reading, label_recovery

    mask = load_mni152_brain_mask(resolution=8)
    atlas = fetch_coords_seitzman_2018()
    networks = np.asarray(atlas.networks)
    ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(mask.affine),
                                           atlas.rois[["x", "y", "z"]].to_numpy())).astype(int)
    inside = np.all((ijk >= 0) & (ijk < mask.shape), axis=1)
    inside[inside] = np.asarray(mask.dataobj)[tuple(ijk[inside].T)] > 0
    maps = np.zeros((*mask.shape, 2), np.float32)
    expected = []
    for k, name in enumerate(("Auditory", "DefaultMode")):
        chosen = inside & (networks == name)
        maps[(*ijk[chosen].T, np.full(chosen.sum(), k))] = 1
        covered = maps[..., k][tuple(ijk[inside].T)] > 0
        counts = pd.Series(networks[inside][covered]).value_counts().drop("unassigned",
                                                                          errors="ignore")
        expected.append(counts.idxmax())
    assert expected == ["Auditory", "DefaultMode"]
    truth = {"maps_img": nib.Nifti1Image(maps, mask.affine),
             "planted": [{"an": "L1H1D2", "network": 0, "network_name": "auditory"},
                         {"an": "L2H1D1", "network": 1, "network_name": "default mode"}]}
    labels = pd.DataFrame({"network": ["Visual", "DefaultMode", "Auditory"]})
    names = ["L1H1D1", "L1H1D2", "L2H1D1", "L2H1D2"]
    anchors = {"pieman": np.array([0, 2, 1, 0]), "shapessocial": np.array([0, 0, 1, 0])}
    table = label_recovery(truth, labels, anchors, names, mask)
    assert table.true_label.tolist() == expected * 2
    assert table.bn.tolist() == [2, 1, 0, 1]
    assert table.bn_label.tolist() == ["Auditory", "DefaultMode", "Visual", "DefaultMode"]
    assert table.agrees.tolist() == [True, True, False, True]
    reading = label_reading(table)
    assert reading.startswith("The BN a planted AN anchors to carries the planted network's "
                              "own label in 3 of 4 cases")
    assert "L1H1D2 (shapessocial): Visual for Auditory" in reading
    assert "all 2 cases" in label_reading(table.iloc[:2])
    with pytest.raises(DataError, match="planted AN L1H1D2 is not among this run's ANs"):
        label_recovery(truth, labels, anchors, ["L1H1D1"], mask)


def test_the_anchor_reading_names_each_planted_an_anchored_elsewhere():
    from anbn_utils.coupling.recovery import anchor_reading

    planted = pd.DataFrame({"story": ["pieman", "pieman"], "planted_an": ["L5H2D30", "L1H4D7"],
                            "bn": [12, 1], "r": [-0.575, 0.41], "map_sign": [-1, 1],
                            "eq1_anchor_is_bn": [False, True], "eq1_anchor": [2, 1],
                            "eq1_r": [0.62, 0.41]})
    text = anchor_reading(planted)
    assert text.startswith("In 1 of 2 cases (story x planted pair)")
    assert ("L5H2D30 (pieman) anchors to BN3 (r = 0.62), its network is BN13 (r = -0.57, the "
            "BN's map carrying the network with its sign flipped)") in text
    assert anchor_reading(planted.iloc[1:]).startswith("Every planted AN's own Eq. 1 anchor")


def test_a_runs_data_are_named_where_its_numbers_stand_beside_the_papers(tmp_path):
    import json

    import yaml

    from anbn_utils.recovery import data_label

    for planted, expected in (([{"an": "L1H1D1", "network": 0}],
                               "phantom (simulated, planted couplings)"),
                              ([], "null phantom (simulated, no coupling)")):
        truth = tmp_path / str(len(planted)) / "dataset" / "phantom_truth"
        truth.mkdir(parents=True)
        (truth / "truth.json").write_text(json.dumps({"networks": [], "planted": planted}))
        nib.save(nib.Nifti1Image(np.zeros((2, 2, 2, 1), np.float32), np.eye(4)),
                 truth / "maps.nii.gz")
        assert data_label(truth.parents[1]) == expected
    for kind, expected in (("narratives", "real fMRI (Narratives)"),
                           ("synthetic", "synthetic (simulated, no coupling)")):
        run = tmp_path / kind
        run.mkdir()
        (run / "params.yaml").write_text(yaml.safe_dump({"dataset": {"kind": kind}}))
        assert data_label(run) == expected


def test_planted_pairs_found_by_run_name_why_none_is_scored_and_the_compared_run(
        tmp_path, monkeypatch):
    """Chapter 04's planted pairs per run: a run without the phantom, a phantom that plants
    none, another model's ANs each say why nothing is scored; a compared run named after its
    method is named once, one of another name gets its method, a missing one is named."""
    import anbn_utils.recovery
    from anbn_utils.coupling.recovery import planted_found, planted_found_by_run
    from anbn_utils.io import write_json, write_table

    planted = pd.DataFrame({"story": ["pieman"], "planted_an": ["L1H1D1"], "bn": [0], "r": [0.8],
                            "p_fwer_circular": [0.004], "family_null_q95_circular": [0.5]})
    run = tmp_path / "run"
    found, note, short = planted_found_by_run(run, planted, "vsdbn", ["circular"], [0.05])
    assert found is None and short == "this run is not the phantom" and "phantom" in note
    (run / "dataset").mkdir(parents=True)
    truth = {"planted": [], "parameters": {"model": "m"}}
    monkeypatch.setattr(anbn_utils.recovery, "load_truth", lambda root: truth)
    assert planted_found_by_run(run, planted, "vsdbn", ["circular"], [0.05])[2] == \
        "this phantom plants none"
    truth["planted"] = [{"an": "L1H1D1"}]
    assert planted_found_by_run(run, None, "vsdbn", ["circular"], [0.05])[2] == \
        "none scored (another model's ANs)"

    for name in ("canica", "other"):
        write_json(tmp_path / name / "03_bns" / "bns.json", {"method": "canica"})
        write_table(tmp_path / name / "04_coupling" / "planted_recovery.tsv", planted)
    expected = planted_found(planted, ["circular"], [0.05])
    for name, label in (("canica", "canica"), ("other", "other (canica)")):
        found, note, short = planted_found_by_run(run, planted, "vsdbn", ["circular"], [0.05],
                                                  tmp_path / name)
        assert list(found.index.unique(0)) == ["this run (vsdbn)", label] and not note
        assert found.loc[label].found.tolist() == expected.found.tolist()
    found, note, _ = planted_found_by_run(run, planted, "vsdbn", ["circular"], [0.05],
                                          tmp_path / "missing")
    assert list(found.index.unique(0)) == ["this run (vsdbn)"] and "missing" in note

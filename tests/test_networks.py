"""The brain-network stage: display maps, labels, baselines, artifacts, bad input."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from anbn_utils.bns.networks import (
    BrainNetworks,
    display_maps,
    fit_brain_networks,
    label_networks,
    load_brain_networks,
    save_brain_networks,
)
from anbn_utils.errors import DataError, ParameterError
from anbn_utils.narratives import prepare_story
from anbn_utils.synthetic import brain_mask


def test_display_maps_flip_threshold_scale():
    maps = np.array([[-4.0, 1.0], [-2.0, 0.2], [0.5, 0.9], [-1.0, -0.1]])
    out = display_maps(maps, threshold=0.3)
    # column 0 is mostly negative: flipped to [4, 2, -0.5, 1] -> negatives dropped,
    # below 0.3 * 4 = 1.2 zeroed -> [4, 2, 0, 0], then divided by its std
    expected = np.array([4.0, 2.0, 0.0, 0.0])
    np.testing.assert_allclose(out[:, 0], expected / expected.std(), rtol=1e-6)
    assert out[3, 1] == 0 and out[1, 1] == 0 and out[0, 1] > 0


def test_a_blob_at_the_visual_cortex_is_labelled_visual():
    mask_img = brain_mask(6.0)
    mask = np.asanyarray(mask_img.dataobj) > 0
    xyz = nib.affines.apply_affine(mask_img.affine, np.argwhere(mask))
    blob = np.exp(-((xyz - [0, -88, 4]) ** 2).sum(1) / (2 * 10.0**2))
    dmn = np.exp(-((xyz - [0, -56, 30]) ** 2).sum(1) / (2 * 8.0**2)) \
        + np.exp(-((xyz - [0, 52, -4]) ** 2).sum(1) / (2 * 8.0**2))
    table = label_networks(np.stack([blob, -dmn], axis=1), mask_img)
    assert table.network.tolist() == ["Visual", "DefaultMode"]
    assert table.loc[0, "peak_y"] < -80 and table.bn.tolist() == ["BN1", "BN2"]


@pytest.fixture(scope="module")
def stories(tiny_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {t: prepare_story(tiny_root, t, cache_dir=cache, progress=False)
            for t in ("pieman", "shapessocial")}


@pytest.mark.parametrize("method", ["vsdbn", "canica"])
def test_fit_save_load(stories, method, tmp_path):
    ckpt = tmp_path / "checkpoints"
    bns = fit_brain_networks(stories, method=method, n_components=3,
                             vsdbn={"n_hidden": (6, 4, 3), "n_epochs": 2}, progress=False,
                             checkpoint_dir=ckpt)
    assert not (ckpt / "vsdbn_checkpoint.pt").exists()  # dropped once the fit succeeded
    n_vox = stories["pieman"].scans["n_voxels"].iloc[0]
    assert bns.maps[-1].shape == (n_vox, 3)
    assert len(bns.maps) == (3 if method == "vsdbn" else 1)
    assert bns.timecourses["pieman"].shape == (2, 282, 3)  # sub-001 excluded
    assert bns.timecourses["shapessocial"].shape == (3, 272, 3)
    save_brain_networks(bns, tmp_path)
    back = load_brain_networks(tmp_path)
    for a, b in zip(bns.maps, back.maps):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(back.mean_timecourses("pieman"), bns.timecourses["pieman"].mean(0),
                               rtol=1e-5)
    assert (tmp_path / "labels.tsv").is_file()
    assert nib.load(tmp_path / "maps_layer1.nii.gz").shape[3] == bns.maps[0].shape[1]
    assert back.meta == bns.meta
    if method == "canica":
        assert back.diagnostics is None and back.initial_upper_maps == {}
        return
    # a nilearn result saved over it does not inherit the VS-DBN's diagnostics
    other = BrainNetworks(bns.maps[-1:], bns.timecourses, bns.subjects, bns.mask_img,
                          meta={"method": "canica", "params": {"n_components": 3}})
    save_brain_networks(other, tmp_path / "other")
    save_brain_networks(bns, tmp_path / "other")
    save_brain_networks(other, tmp_path / "other")
    again = load_brain_networks(tmp_path / "other")
    assert again.diagnostics is None and again.initial_upper_maps == {}
    # the model parameters only (no device, checkpoint folder or verbosity)
    assert bns.meta["params"]["n_hidden"] == [6, 4, 3] and "device" not in bns.meta["params"]
    assert sorted(back.initial_upper_maps) == [2, 3]
    for layer, m in bns.initial_upper_maps.items():
        assert m.shape == bns.maps[layer - 1].shape
        np.testing.assert_allclose(back.initial_upper_maps[layer], m, rtol=1e-6)
    d = back.diagnostics
    assert d.layer.tolist() == [1, 2, 3] and d.n_hidden.tolist() == [6, 4, 3]
    assert d.n_visible.tolist() == [n_vox, 6, 4]
    np.testing.assert_allclose(d.final_training_error, [h[-1] for h in bns.history])
    np.testing.assert_allclose(d.relative_error, d.reconstruction_error / d.input_variance)
    pd.testing.assert_frame_equal(d, bns.diagnostics, check_dtype=False)


def test_progress_maps_to_the_estimators_verbose(stories, capsys):
    kw = {"vsdbn": {"n_hidden": (3,), "learning_rate": (0.01,), "l1": (0.0,), "n_epochs": 1}}
    fit_brain_networks(stories, progress=False, **kw)
    assert "VS-DBN layer 1" not in capsys.readouterr().err
    fit_brain_networks(stories, progress=True, **kw)
    assert "VS-DBN layer 1" in capsys.readouterr().err


def test_bad_network_inputs(stories, tmp_path):
    with pytest.raises(ParameterError, match="bn_method must be one of"):
        fit_brain_networks(stories, method="pca")
    other = dict(stories)
    shapes = other["shapessocial"]
    mask = np.asanyarray(nib.load(shapes.mask_path).dataobj).copy()
    flat = mask.ravel()
    flat[np.flatnonzero(flat)[0]] = 0
    path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(flat.reshape(mask.shape), nib.load(shapes.mask_path).affine), path)
    other["shapessocial"] = type(shapes)(task=shapes.task, scans=shapes.scans, words=shapes.words,
                                         transcript=shapes.transcript, mask_path=str(path))
    with pytest.raises(DataError, match="brain masks of 'pieman' and 'shapessocial' differ"):
        fit_brain_networks(other, progress=False)
    with pytest.raises(DataError, match="no brain networks"):
        load_brain_networks(tmp_path / "nothing")


def test_stories_on_different_grids_are_pooled_on_a_common_grid(tiny_root, tmp_path):
    """Shapes resampled to another grid (as the real data): refused as is, pooled on a
    common grid with the intersection of the masks."""
    import shutil

    from nilearn.image import resample_img

    from anbn_utils.narratives import common_mask, layout

    root = tmp_path / "ds"
    shutil.copytree(tiny_root, root)
    affine = nib.load(layout.mask_path(root, "shapessocial")).affine.copy()
    affine[:3, :3] *= 0.8  # a finer grid
    for path in [layout.mask_path(root, "shapessocial"),
                 *root.glob("derivatives/afni-smooth/sub-*/func/*shapessocial*bold.nii.gz")]:
        img = resample_img(nib.load(path), target_affine=affine, target_shape=(9, 10, 8),
                           interpolation="nearest" if "mask" in path.name else "continuous",
                           force_resample=True, copy_header=True)
        nib.save(img, path)
    cache = tmp_path / "cache"
    own = {t: prepare_story(root, t, cache_dir=cache, progress=False)
           for t in ("pieman", "shapessocial")}
    with pytest.raises(DataError, match="brain masks of 'pieman' and 'shapessocial' differ"):
        fit_brain_networks(own, progress=False)
    masks = {t: layout.mask_path(root, t) for t in own}
    common = common_mask(masks, "pieman", cache)
    keep = np.asanyarray(nib.load(common).dataobj) > 0
    assert 0 < keep.sum() <= (np.asanyarray(nib.load(masks["pieman"]).dataobj) > 0).sum()
    pooled = {t: prepare_story(root, t, cache_dir=cache, progress=False, mask=common)
              for t in own}
    assert {int(s.scans["n_voxels"].iloc[0]) for s in pooled.values()} == {int(keep.sum())}
    bns = fit_brain_networks(pooled, vsdbn={"n_hidden": (4, 3, 2), "n_epochs": 1}, progress=False)
    assert bns.timecourses["shapessocial"].shape == (3, 272, 2)
    with pytest.raises(DataError, match="common_grid='shapes'"):
        common_mask(masks, "shapes", cache)


def test_the_first_layer_can_be_the_bns(stories):
    """``bn_layer=1``: the VS-DBN's first-layer units are the BNs (their maps and time
    courses), as a BN method beside the paper's last layer."""
    from anbn_utils.errors import ParameterError

    kw = {"vsdbn": {"n_hidden": (6, 4, 2), "n_epochs": 2}, "random_state": 0, "progress": False}
    full = fit_brain_networks(stories, **kw)
    first = fit_brain_networks(stories, bn_layer=1, **kw)
    assert first.n_bns == 6 and len(first.maps) == 1 and first.meta["bn_layer"] == 1
    np.testing.assert_allclose(first.maps[0], full.maps[0], rtol=1e-6)
    task = next(iter(stories))
    assert first.timecourses[task].shape[-1] == 6
    with pytest.raises(ParameterError, match="does not apply to bn_method='canica'"):
        fit_brain_networks(stories, method="canica", bn_layer=1)
    with pytest.raises(ParameterError, match="has layers 1 to 3"):
        fit_brain_networks(stories, bn_layer=4, **kw)


def test_an_empty_component_is_dropped_with_its_missing_time_course():
    """nilearn's maps masker leaves out a component that is zero everywhere: its transform
    had 15 columns for 16 maps on the held-out phantom (dictionary learning), and the
    chapter failed on the last index; had it not, map k would have been paired with time
    course k + 1 after the empty one."""
    from anbn_utils.bns.networks import drop_empty_components
    from anbn_utils.errors import DataError

    comps = np.arange(1, 13, dtype=float).reshape(4, 3)
    comps[2] = 0.0
    tcs = {"pieman": np.ones((2, 5, 3)), "shapessocial": np.ones((2, 6, 3))}
    maps, empty = drop_empty_components(comps, tcs)
    np.testing.assert_array_equal(maps, comps[[0, 1, 3]])
    assert empty == [2]
    full = {"pieman": np.ones((2, 5, 4))}
    assert drop_empty_components(comps, full)[1] == []
    with pytest.raises(DataError, match="cannot be matched"):
        drop_empty_components(comps, {"pieman": np.ones((2, 5, 2))})

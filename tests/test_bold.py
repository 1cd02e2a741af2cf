import nibabel as nib
import numpy as np
import pytest
from scipy.stats import zscore

from anbn_utils.errors import DataError
from anbn_utils.narratives import bold as bold_module
from anbn_utils.narratives import (
    cache_task_bold,
    layout,
    load_mask,
    load_masked_bold,
    read_story_window,
    select_scans,
)


def _events(root, task="pieman", subject="sub-002", run=1):
    return layout.events_path(root, subject, task, run)


def test_pieman_window_paper_and_dataset_rounding(tiny_root):
    w = read_story_window(_events(tiny_root))
    assert (w.start, w.stop, w.n_volumes) == (10, 292, 282)  # the paper's 282 volumes
    w = read_story_window(_events(tiny_root), duration_rounding="round")
    assert (w.start, w.stop, w.n_volumes) == (10, 291, 281)  # the dataset's event_meta.json
    assert w.audio_offset == 0.0
    w = read_story_window(_events(tiny_root), initial_trim=6, duration_rounding="round")
    assert (w.start, w.stop, w.story_start) == (16, 291, 10)  # the Narratives ISC crop


def test_shapes_window_and_audio_offset(tiny_root):
    w = read_story_window(_events(tiny_root, "shapessocial", "sub-201", None))
    assert (w.start, w.stop, w.audio_offset) == (33, 305, 4.5)


def test_masked_bold_is_cropped_masked_and_zscored(tiny_root):
    bold = layout.bold_path(tiny_root, "sub-002", "pieman", 1)
    mask = load_mask(layout.mask_path(tiny_root, "pieman"))
    window = read_story_window(_events(tiny_root))
    data, n_constant = load_masked_bold(bold, mask, window)
    raw = np.asanyarray(nib.load(bold).dataobj)[np.asanyarray(mask.dataobj) > 0]  # (n_vox, n_t)
    expected = zscore(raw[:, 10:292], axis=1).T
    assert data.shape == (282, int(np.asanyarray(mask.dataobj).sum()))
    assert data.dtype == np.float32
    np.testing.assert_allclose(data, expected, atol=1e-4)
    assert n_constant == 0


def _write(tmp_path, data, affine=None, name="bold.nii.gz"):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), path)
    return path


def test_bad_bold_inputs_give_clear_errors(tmp_path, tiny_root):
    window = read_story_window(_events(tiny_root))
    mask = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    rng = np.random.default_rng(0)
    short = _write(tmp_path, rng.standard_normal((2, 2, 2, 100)).astype(np.float32))
    with pytest.raises(DataError, match=r"bold.nii.gz has 100 volumes.*\[10, 292\)"):
        load_masked_bold(short, mask, window)
    other_grid = _write(tmp_path, rng.standard_normal((3, 2, 2, 300)).astype(np.float32), name="g.nii.gz")
    with pytest.raises(DataError, match=r"g.nii.gz.*differs from mask.nii.gz.*resample_to_img"):
        load_masked_bold(other_grid, mask, window, mask_path="mask.nii.gz")
    data = rng.standard_normal((2, 2, 2, 300)).astype(np.float32)
    data[0, 1, 1, 50] = np.nan
    with pytest.raises(DataError, match=r"NaN or infinite values in 1 voxel"):
        load_masked_bold(_write(tmp_path, data, name="nan.nii.gz"), mask, window)
    with pytest.raises(DataError, match=r"missing.*datalad get"):
        load_masked_bold(tmp_path / "absent.nii.gz", mask, window)


def test_constant_voxels_are_zero_and_counted(tmp_path, tiny_root):
    window = read_story_window(_events(tiny_root))
    mask = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    data = np.random.default_rng(1).standard_normal((2, 2, 2, 300)).astype(np.float32)
    data[1, 1, 1] = 7.0
    out, n_constant = load_masked_bold(_write(tmp_path, data), mask, window)
    assert n_constant == 1
    assert np.all(out[:, -1] == 0)
    assert np.isfinite(out).all()


def test_empty_mask_is_an_error(tmp_path):
    path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), path)
    with pytest.raises(DataError, match="keeps no voxel"):
        load_mask(path)


def test_cache_is_reused(tiny_root, cache_dir, monkeypatch):
    scans = select_scans(tiny_root, "pieman")
    first = cache_task_bold(scans, layout.mask_path(tiny_root, "pieman"), cache_dir=cache_dir,
                            progress=False)
    assert first["n_volumes"].tolist() == [282, 282]
    arr = np.load(first["cache_path"].iloc[0], mmap_mode="r")
    assert isinstance(arr, np.memmap) and arr.shape == (282, first["n_voxels"].iloc[0])

    def fail(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(bold_module, "load_masked_bold", fail)
    again = cache_task_bold(scans, layout.mask_path(tiny_root, "pieman"), cache_dir=cache_dir,
                            progress=False)
    assert again["cache_path"].tolist() == first["cache_path"].tolist()
    # another window is another cache entry
    monkeypatch.undo()
    other = cache_task_bold(scans, layout.mask_path(tiny_root, "pieman"), cache_dir=cache_dir,
                            duration_rounding="round", progress=False)
    assert set(other["cache_path"]).isdisjoint(first["cache_path"])
    assert other["n_volumes"].tolist() == [281, 281]


def test_cache_is_keyed_by_the_code_and_the_mask_content(tiny_root, tmp_path, monkeypatch):
    """An edit of this module's code is a new cache entry (it served old arrays under a
    hand-bumped version); a mask rewritten with the same voxels is not (the `paper`
    profile's common mask made a new full copy of the data on every run)."""
    import os
    import shutil

    scans = select_scans(tiny_root, "pieman")
    mask = tmp_path / "mask.nii.gz"
    shutil.copyfile(layout.mask_path(tiny_root, "pieman"), mask)
    kwargs = {"cache_dir": tmp_path / "cache", "progress": False}
    first = cache_task_bold(scans, mask, **kwargs)
    nib.save(nib.load(mask), mask)  # the same voxels, written again
    os.utime(mask, ns=(1, 1))
    assert cache_task_bold(scans, mask, **kwargs)["cache_path"].tolist() == \
        first["cache_path"].tolist()
    monkeypatch.setattr(bold_module, "code_hash", lambda *a, **k: "edited code")
    edited = cache_task_bold(scans, mask, **kwargs)
    assert set(edited["cache_path"]).isdisjoint(first["cache_path"])


def test_common_mask_is_written_once(tiny_root, tmp_path):
    from anbn_utils.narratives import common_mask

    masks = {t: layout.mask_path(tiny_root, t) for t in ("pieman", "shapessocial")}
    path = common_mask(masks, "pieman", tmp_path)
    stamp = path.stat().st_mtime_ns
    assert common_mask(masks, "pieman", tmp_path) == path
    assert path.stat().st_mtime_ns == stamp


def test_truncated_nifti_is_named(tmp_path, tiny_root):
    src = layout.bold_path(tiny_root, "sub-002", "pieman", 1)
    cut = tmp_path / "cut_bold.nii.gz"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    mask = load_mask(layout.mask_path(tiny_root, "pieman"))
    with pytest.raises(DataError, match=r"cut_bold.nii.gz cannot be read.*truncated"):
        load_masked_bold(cut, mask, read_story_window(_events(tiny_root)))


def test_a_grid_that_differs_only_in_its_affine_says_so(tmp_path, tiny_root):
    """The same shape on a shifted grid used to be reported as "((7, 8, 6)) differs from
    ((7, 8, 6))"; the message now says the affines differ, by how much, and the origins."""
    from anbn_utils.narratives.bold import grid_difference

    window = read_story_window(_events(tiny_root))
    mask = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    shifted = np.eye(4)
    shifted[:3, 3] = [2.0, 0.0, 0.0]
    data = np.random.default_rng(0).standard_normal((2, 2, 2, 300)).astype(np.float32)
    path = tmp_path / "shifted.nii.gz"
    nib.save(nib.Nifti1Image(data, shifted), path)
    with pytest.raises(DataError, match=r"shifted.nii.gz differs from mask.nii.gz: the same "
                                        r"shape \(2, 2, 2\), but the affines differ by up to 2 "
                                        r"mm \(origin \(2.0, 0.0, 0.0\) against \(0.0, 0.0, "
                                        r"0.0\)\)"):
        load_masked_bold(path, mask, window, mask_path="mask.nii.gz")
    assert grid_difference(nib.Nifti1Image(data[:1], np.eye(4)), mask) == \
        "shape (1, 2, 2) against (2, 2, 2)"
    assert grid_difference(nib.Nifti1Image(data, np.eye(4)), mask) == ""

import json
from pathlib import Path

import pytest

from anbn_utils.errors import DataError
from anbn_utils.narratives import find_scans, is_excluded, layout, read_scan_exclude, select_scans


def test_pieman_keeps_75_of_82_subjects(pieman82_root):
    scans = find_scans(pieman82_root, "pieman")
    assert len(scans) == 82 + 14  # 14 subjects have run-1 and run-2
    kept = select_scans(pieman82_root, "pieman")
    assert len(kept) == 75
    gone = {"sub-001", "sub-021", "sub-022", "sub-038", "sub-056", "sub-068", "sub-069"}
    assert gone.isdisjoint(kept["subject"])
    # subjects whose run-2 is excluded keep run-1; every multi-run subject gives run-1
    assert kept.set_index("subject").loc[["sub-013", "sub-014", "sub-002"], "run"].tolist() == [1, 1, 1]
    assert kept["subject"].is_unique
    assert (kept.loc[kept["subject"] == "sub-017", "run"].isna()).all()


def test_without_exclusions_every_subject_is_kept(pieman82_root):
    assert len(select_scans(pieman82_root, "pieman", exclude=False)) == 82


def test_random_subset_is_seeded_and_sorted(pieman82_root):
    a = select_scans(pieman82_root, "pieman", n_subjects=10, random_state=3)
    b = select_scans(pieman82_root, "pieman", n_subjects=10, random_state=3)
    c = select_scans(pieman82_root, "pieman", n_subjects=10, random_state=4)
    assert a["subject"].tolist() == b["subject"].tolist() == sorted(a["subject"])
    assert a["subject"].tolist() != c["subject"].tolist()
    with pytest.raises(DataError, match="75 usable subjects"):
        select_scans(pieman82_root, "pieman", n_subjects=76)


def test_exclusion_matches_on_entity_boundaries():
    stems = ["sub-021_task-pieman", "sub-013_task-pieman_run-2"]
    assert is_excluded("sub-021_task-pieman_space-MNI_desc-clean_bold.nii.gz", stems)
    assert not is_excluded("sub-021_task-piemanpni_space-MNI_desc-clean_bold.nii.gz", stems)
    assert is_excluded("sub-013_task-pieman_run-2_space-MNI.nii.gz", stems)
    assert not is_excluded("sub-013_task-pieman_run-1_space-MNI.nii.gz", stems)


def test_scan_exclude_is_read_per_task(tiny_root):
    assert read_scan_exclude(tiny_root, "pieman") == [
        "sub-001_task-pieman_run-1", "sub-001_task-pieman_run-2"]
    assert read_scan_exclude(tiny_root, "shapessocial") == []


def test_piemanpni_files_are_not_pieman(tmp_path, tiny_root):
    src = layout.bold_path(tiny_root, "sub-002", "pieman", 1)
    other = Path(str(src).replace("task-pieman_run-1", "task-piemanpni"))
    other.symlink_to(src)
    try:
        assert not any("piemanpni" in p for p in find_scans(tiny_root, "pieman")["bold_path"])
    finally:
        other.unlink()


def test_bad_task_and_root_give_clear_errors(tmp_path, tiny_root):
    with pytest.raises(DataError, match="unknown task 'shapes'.*shapessocial"):
        find_scans(tiny_root, "shapes")
    with pytest.raises(DataError, match=r"derivatives/afni-smooth does not exist.*download"):
        find_scans(tmp_path, "pieman")
    (tmp_path / "derivatives" / "afni-smooth").mkdir(parents=True)
    with pytest.raises(DataError, match="no scans of task .pieman."):
        find_scans(tmp_path, "pieman")


def test_missing_scan_exclude_is_an_error(tmp_path, tiny_root):
    with pytest.raises(DataError, match=r"scan_exclude.json is missing.*exclude=False"):
        read_scan_exclude(tmp_path, "pieman")


def test_an_exclusion_of_a_subject_the_dataset_lacks_is_an_error(tmp_path):
    from anbn_utils.synthetic import make_narratives_like

    root = make_narratives_like(tmp_path / "ds", tasks=("pieman",), n_subjects=3,
                                shape=(2, 2, 2), random_state=0)
    assert read_scan_exclude(root, "pieman") == ["sub-001_task-pieman_run-1",
                                                 "sub-001_task-pieman_run-2"]
    path = root / "code" / "scan_exclude.json"
    path.write_text(json.dumps({"pieman": {"sub-999": ["sub-999_task-pieman_run-1"]}}))
    with pytest.raises(DataError, match=r"(?s)scan_exclude.json excludes scans of sub-999 in "
                                        r"'pieman'.*no such subject folder.*Re-fetch"):
        read_scan_exclude(root, "pieman")


def test_a_missing_bold_file_is_an_error_unless_its_subject_is_left_out(tmp_path):
    """Deleting a kept subject's BOLD used to drop the subject silently (4 of 5 subjects)."""
    from anbn_utils.synthetic import make_narratives_like

    root = make_narratives_like(tmp_path / "ds", tasks=("shapessocial",), n_subjects=3,
                                shape=(2, 2, 2), random_state=0)
    assert len(select_scans(root, "shapessocial")) == 3
    gone = layout.bold_path(root, "sub-202", "shapessocial")
    gone.unlink()
    with pytest.raises(DataError, match=r"1 scan\(s\) of task 'shapessocial'.*sub-202.*subjects"):
        select_scans(root, "shapessocial")
    kept = select_scans(root, "shapessocial", subjects=["sub-201", "sub-203"])
    assert kept["subject"].tolist() == ["sub-201", "sub-203"]
    with pytest.raises(DataError, match=r"subjects \['sub-999'\] have no scan"):
        select_scans(root, "shapessocial", subjects=["sub-999"])
    # a DataLad file not yet fetched (a broken annex symlink) counts as absent too
    gone.symlink_to("../../../.git/annex/objects/XX/YY/SHA256E-s1--abc.nii.gz")
    with pytest.raises(DataError, match="datalad get"):
        select_scans(root, "shapessocial")


def test_an_excluded_subject_asked_for_by_name_is_refused(pieman82_root):
    """``subjects`` naming a subject whose scan ``scan_exclude.json`` excludes used to drop
    it silently."""
    with pytest.raises(DataError, match=r"subjects \['sub-021'\] are asked for by name, but "
                                        r"scan_exclude.json excludes their 'pieman' scan"):
        select_scans(pieman82_root, "pieman", subjects=["sub-002", "sub-021"])
    kept = select_scans(pieman82_root, "pieman", subjects=["sub-002", "sub-021"], exclude=False)
    assert kept["subject"].tolist() == ["sub-002", "sub-021"]
    assert select_scans(pieman82_root, "pieman", subjects=["sub-002"])["subject"].tolist() == \
        ["sub-002"]

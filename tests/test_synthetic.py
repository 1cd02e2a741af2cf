import filecmp

import numpy as np
import pytest

from anbn_utils.errors import ParameterError
from anbn_utils.narratives import dataset_name, layout, read_align_json
from anbn_utils.synthetic import make_narratives_like


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = make_narratives_like(tmp_path / "a", tasks=("pieman",), n_subjects=1, random_state=7)
    b = make_narratives_like(tmp_path / "b", tasks=("pieman",), n_subjects=1, random_state=7)
    c = make_narratives_like(tmp_path / "c", tasks=("pieman",), n_subjects=1, random_state=8)
    assert _files(a) == _files(b) == _files(c)
    assert all(filecmp.cmp(a / f, b / f, shallow=False) for f in _files(a))
    bold = layout.bold_path(a, "sub-001", "pieman", 1).relative_to(a)
    assert not filecmp.cmp(a / bold, c / bold, shallow=False)


def test_layout_words_and_description(tiny_root):
    assert "not real data" in dataset_name(tiny_root)
    words, _ = read_align_json(layout.gentle_dir(tiny_root, "pieman") / "align.json")
    assert words["interpolated"].sum() == 3
    # about 2.2 words per second over the 422 s story, all inside it
    assert 900 <= len(words) <= 940
    assert words["start"].min() > 15.0 and words["end"].max() < 15.0 + 422.0
    assert np.all(np.diff(words["start"]) > 0)


def test_bad_parameters(tmp_path):
    with pytest.raises(ParameterError, match="n_subjects must be >= 1"):
        make_narratives_like(tmp_path, n_subjects=0)


def test_subjects_per_story_and_real_exclusions():
    from anbn_utils.synthetic import REAL_SCAN_EXCLUDE, scans_of

    counts = {"pieman": 82, "shapessocial": 59}
    kept = {t: len({s for s, _ in scans_of(t, counts)} - {
        s for s, runs in REAL_SCAN_EXCLUDE[t].items() if len(runs) == len(
            [r for sub, r in scans_of(t, counts) if sub == s])}) for t in counts}
    assert kept == {"pieman": 75, "shapessocial": 58}  # the real Narratives counts: 133 in all
    assert len(scans_of("pieman", counts)) == 96  # 14 Pie Man subjects have two runs
    with pytest.raises(ParameterError, match="no entry for 'pieman'"):
        scans_of("pieman", {"shapessocial": 2})
    with pytest.raises(ParameterError, match=">= 1"):
        scans_of("pieman", 0)


def test_grey_matter_mask_at_3mm():
    from anbn_utils.synthetic import brain_mask

    gm, brain = brain_mask(3.0, kind="gm"), brain_mask(3.0)
    n_gm, n_brain = (int(np.asanyarray(m.dataobj).sum()) for m in (gm, brain))
    assert (n_gm, n_brain) == (60_650, 69_804)
    assert gm.shape == brain.shape and np.allclose(gm.affine, brain.affine)
    with pytest.raises(ParameterError, match="mask must be one of"):
        brain_mask(3.0, kind="wm")

"""The phantom: deterministic, read by the public loaders, and carrying what it plants."""

import filecmp

import numpy as np
import pytest

from anbn_utils.errors import ParameterError
from anbn_utils.narratives import dataset_name, prepare_story
from anbn_utils.phantom import NETWORKS, make_phantom, story_text
from anbn_utils.recovery import load_truth, signal_check


def _phantom(root, model, **kw):
    args = {"tasks": ("shapessocial",), "n_subjects": 2, "resolution": 12.0, "n_networks": 3,
            "planted": [("L2H3D8", 0), ("L1H1D2", 2)], "model": str(model), "random_state": 0}
    return make_phantom(root, **{**args, **kw})


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory, tiny_bert_dir):
    return _phantom(tmp_path_factory.mktemp("ph"), tiny_bert_dir, snr=5.0)


def test_stories_are_original_and_long_enough():
    for task in ("pieman", "shapessocial"):
        n_words = len(story_text(task).split())
        assert 800 <= n_words <= 1000


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, tiny_bert_dir, phantom_root):
    again = _phantom(tmp_path / "a", tiny_bert_dir, snr=5.0, n_jobs=2)  # workers change nothing
    other = _phantom(tmp_path / "b", tiny_bert_dir, snr=5.0, random_state=1)
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(phantom_root) for p in phantom_root.rglob("*") if p.is_file())
    assert all(filecmp.cmp(again / f, phantom_root / f, shallow=False) for f in files)
    bold = next(f for f in files if f.name.endswith("bold.nii.gz"))
    assert not filecmp.cmp(again / bold, other / bold, shallow=False)


def test_public_loader_reads_the_phantom(phantom_root, tmp_path):
    assert "phantom" in dataset_name(phantom_root)
    story = prepare_story(phantom_root, "shapessocial", cache_dir=tmp_path, progress=False)
    assert len(story.scans) == 2 and story.n_trs == 272 and story.start == 33
    assert story.words["interpolated"].sum() == 3
    # every Gentle token of the story, in order, with offsets into the transcript
    words = story.words
    assert [story.transcript[a:b] for a, b in zip(words["start_offset"], words["end_offset"])] \
        == words["word"].tolist()
    assert words["word"].iloc[:4].tolist() == ["A", "small", "blue", "circle"]


def test_planted_an_is_in_its_network_and_not_outside(phantom_root, tmp_path, tiny_bert_dir):
    """At high SNR the planted AN's own series (chapter 02's computation) follows its network."""
    from anbn_utils.ans import extract_ans, load_model

    truth = load_truth(phantom_root)
    assert [p["an"] for p in truth["planted"]] == ["L2H3D8", "L1H1D2"]
    story = prepare_story(phantom_root, "shapessocial", cache_dir=tmp_path, progress=False)
    model, tok = load_model(str(tiny_bert_dir), "cpu")
    ans = extract_ans(story.transcript, story.words, model, tok, story_start=story.story_start,
                      start=story.start, stop=story.start + story.n_trs, top_k=1, progress=False)
    x = ans.activations_hrf[:, 1, 2, 7]  # L2H3D8
    from nilearn.masking import apply_mask

    maps = apply_mask(truth["maps_img"], story.mask_img())
    mean = np.mean([np.asarray(story.bold(s)) for s in story.scans["subject"]], axis=0)
    r = np.array([np.corrcoef(x, mean[:, v])[0, 1] for v in range(mean.shape[1])])
    inside, outside = maps[0] > 0.8, maps.max(0) == 0
    assert r[inside].mean() > 0.9
    assert np.abs(r[outside]).mean() < 0.2
    check = {row["network"]: row for row in signal_check(story, truth)}
    assert check[0]["driven by"] == "L2H3D8" and check[0]["r with network average"] > 0.95
    assert check[1]["driven by"] == "unrelated signal"


def test_null_phantom_plants_nothing(tmp_path, tiny_bert_dir):
    root = _phantom(tmp_path, tiny_bert_dir, planted=[])
    assert load_truth(root)["planted"] == []
    assert "no coupling" in dataset_name(root)


def test_bad_phantom_parameters(tmp_path, tiny_bert_dir):
    with pytest.raises(ParameterError, match="snr must be > 0"):
        _phantom(tmp_path, tiny_bert_dir, snr=0)
    with pytest.raises(ParameterError, match=f"has {len(NETWORKS)} network locations"):
        _phantom(tmp_path, tiny_bert_dir, n_networks=len(NETWORKS) + 1)
    with pytest.raises(ParameterError, match="planted network index out of range"):
        _phantom(tmp_path, tiny_bert_dir, planted=[("L1H1D1", 3)])
    with pytest.raises(ParameterError, match=r"do not exist in .*2 layers x 3 heads x 8 dims"):
        _phantom(tmp_path, tiny_bert_dir, planted=[("L7H1D1", 0)])
    with pytest.raises(ParameterError, match="cannot load model 'no-such/model'"):
        _phantom(tmp_path, "no-such/model")

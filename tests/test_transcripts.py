import json

import numpy as np
import pytest

from anbn_utils.errors import DataError
from anbn_utils.narratives import (
    assign_words_to_trs,
    layout,
    prepare_story,
    read_align_csv,
    read_align_json,
    read_words,
)

TRANSCRIPT = 'I was there, he said. "Pie man!"'


def _word(w, s, e, start=None, end=None):
    d = {"word": w, "startOffset": s, "endOffset": e}
    if start is None:
        d["case"] = "not-found-in-audio"
    else:
        d.update(case="success", alignedWord=w.lower(), start=start, end=end, phones=[])
    return d


WORDS = [
    _word("I", 0, 1, 15.09, 15.17),
    _word("was", 2, 5, 15.30, 15.50),
    _word("there", 6, 11),  # not found in audio: interpolated
    _word("he", 13, 15),  # not found in audio: interpolated
    _word("said", 16, 20, 16.40, 16.70),
    _word("Pie", 23, 26, 17.00, 17.20),
    _word("man", 27, 30, 17.25, 17.60),
]


@pytest.fixture
def gentle_root(tmp_path):
    folder = layout.gentle_dir(tmp_path, "pieman")
    folder.mkdir(parents=True)
    (folder / "align.json").write_text(json.dumps({"transcript": TRANSCRIPT, "words": WORDS}))
    rows = [f"{w['word']},{w.get('alignedWord', '')},{w.get('start', '')},{w.get('end', '')}"
            for w in WORDS]
    (folder / "align.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_unaligned_words_are_kept_with_interpolated_times(gentle_root):
    words, transcript = read_align_json(layout.gentle_dir(gentle_root, "pieman") / "align.json")
    assert transcript == TRANSCRIPT
    assert words["word"].tolist() == ["I", "was", "there", "he", "said", "Pie", "man"]
    assert words["interpolated"].tolist() == [False, False, True, True, False, False, False]
    # linear in the word index between "was" (index 1) and "said" (index 4)
    np.testing.assert_allclose(words["start"].iloc[2:4], [15.30 + 1.1 / 3, 15.30 + 2.2 / 3])
    np.testing.assert_allclose(words["end"].iloc[2:4], [15.50 + 1.2 / 3, 15.50 + 2.4 / 3])
    assert words["punct"].tolist() == ["", "", ",", "", '."', "", '!"']


def test_csv_gives_the_same_words_and_times(gentle_root):
    j, _ = read_align_json(layout.gentle_dir(gentle_root, "pieman") / "align.json")
    c, text = read_align_csv(layout.gentle_dir(gentle_root, "pieman") / "align.csv")
    assert text == "I was there he said Pie man"
    assert c["word"].tolist() == j["word"].tolist()
    np.testing.assert_allclose(c[["start", "end"]], j[["start", "end"]])
    assert [text[a:b] for a, b in zip(c["start_offset"], c["end_offset"])] == c["word"].tolist()


def test_audio_offset_shifts_to_scan_time(gentle_root):
    words, _ = read_words(gentle_root, "pieman", audio_offset=4.5)
    assert words["start"].iloc[0] == pytest.approx(15.09 + 4.5)


def test_no_aligned_word_is_an_error(tmp_path):
    path = tmp_path / "align.json"
    path.write_text(json.dumps({"transcript": "a b", "words": [_word("a", 0, 1), _word("b", 2, 3)]}))
    with pytest.raises(DataError, match=r"align.json has no aligned word"):
        read_align_json(path)
    with pytest.raises(DataError, match="is missing"):
        read_align_json(tmp_path / "nope.json")


def test_words_on_the_tr_grid(gentle_root):
    words, _ = read_words(gentle_root, "pieman")
    placed = assign_words_to_trs(words, 10, 292)
    # volume v covers [1.5 v, 1.5 v + 1.5): "I" ends at 15.17 s -> volume 10 -> TR 0
    assert placed["volume"].tolist()[:2] == [10, 10]
    assert placed["tr"].tolist() == (np.floor(words["end"] / 1.5) - 10).astype(int).tolist()
    by_start = assign_words_to_trs(words, 10, 292, anchor="start")
    assert by_start["tr"].iloc[0] == 0
    clipped = assign_words_to_trs(words, 11, 292)
    # the four words ending before 16.5 s (volume 10) go to the first kept TR
    assert clipped["clipped"].tolist() == [True] * 4 + [False] * 3
    assert clipped["tr"].tolist()[:4] == [0] * 4
    with pytest.raises(DataError, match="fall outside volumes"):
        assign_words_to_trs(words, 11, 292, outside="error")


def test_shapes_words_are_shifted_by_4_5_s(tiny_root, cache_dir):
    story = prepare_story(tiny_root, "shapessocial", cache_dir=cache_dir, progress=False)
    raw, _ = read_align_json(layout.gentle_dir(tiny_root, "shapessocial") / "align.json")
    np.testing.assert_allclose(story.words["start"], raw["start"] + 4.5)
    assert story.start == 33 and story.n_trs == 272
    assert len(story.words) == len(raw) and story.words["interpolated"].sum() == 3
    assert story.words["tr"].between(0, 271).all()


def test_a_phase_surrogate_of_the_bold_keeps_spectra_and_correlations_not_timing(
        tiny_root, cache_dir, tmp_path):
    """The null at the data's shape: each voxel's power spectrum and the correlation of any
    two voxels (of one subject, or of two subjects) are those of the recorded BOLD, computed
    here with numpy's FFT and corrcoef; the timing is not (the surrogate and the recording
    of one voxel are uncorrelated on average); the run's stage folder reads the files back
    through relative paths, wherever it moves."""
    from anbn_utils.errors import ParameterError
    from anbn_utils.narratives import load_story, save_story, surrogate_bold

    story = prepare_story(tiny_root, "pieman", cache_dir=cache_dir, progress=False)
    stage = tmp_path / "partial"
    null = surrogate_bold(story, stage / "pieman", random_state=3)
    save_story(null, stage)
    moved = tmp_path / "finished"
    stage.rename(moved)
    back = load_story(moved, "pieman")
    subjects = list(story.scans["subject"])
    a, b = (np.asarray(story.bold(s), dtype=float) for s in subjects[:2])
    x, y = (np.asarray(back.bold(s), dtype=float) for s in subjects[:2])
    assert x.shape == a.shape and not np.allclose(x, a)
    np.testing.assert_allclose(np.abs(np.fft.rfft(x, axis=0)), np.abs(np.fft.rfft(a, axis=0)),
                               rtol=1e-4, atol=1e-3)
    both = np.corrcoef(np.c_[a, b].T)
    np.testing.assert_allclose(np.corrcoef(np.c_[x, y].T), both, atol=1e-4)
    same = [np.corrcoef(x[:, v], a[:, v])[0, 1] for v in range(a.shape[1])]
    assert abs(np.mean(same)) < 0.2
    # one set of phases per story and seed: the same seed gives the same files
    again = surrogate_bold(story, tmp_path / "again", random_state=3)
    np.testing.assert_array_equal(again.bold(subjects[0]), back.bold(subjects[0]))
    with pytest.raises(ParameterError, match="bold_surrogate must be None or one of"):
        surrogate_bold(story, tmp_path / "x", "shuffle")


def test_an_alignment_that_is_not_utf8_is_named_with_its_fix(tmp_path):
    """A latin-1 ``align.json`` or ``align.csv`` used to raise a bare UnicodeDecodeError,
    without the file."""
    doc = json.dumps({"transcript": "café", "words": [_word("café", 0, 4, 0.0, 0.5)]},
                     ensure_ascii=False)
    for name, text in (("align.json", doc), ("align.csv", "café,café,0.0,0.5\n")):
        path = tmp_path / name
        path.write_bytes(text.encode("latin-1"))
        with pytest.raises(DataError, match=rf"{name} is not UTF-8 text \(byte 0xe9 at offset "
                                            r"\d+\).*iconv -f latin1 -t utf-8"):
            (read_align_json if name.endswith("json") else read_align_csv)(path)
        path.write_bytes(text.encode("utf-8"))
        words, _ = (read_align_json if name.endswith("json") else read_align_csv)(path)
        assert words["word"].tolist() == ["café"]

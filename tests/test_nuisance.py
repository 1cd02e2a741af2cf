"""Nuisance regressors of the ANs: known answers on a toy story placed by hand, the ANs' own
grid on a real extraction, and the fits against numpy, scikit-learn and scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import BSpline
from scipy.stats import pearsonr
from sklearn.linear_model import LinearRegression

from anbn_utils.ans import (
    convolve_hrf,
    cross_story_correlation,
    nuisance_r2,
    nuisance_regressors,
    residualize,
)
from anbn_utils.errors import DataError, ParameterError

#: The story starts at volume 2; volume 2 (story TR 0) is dropped, volumes 3..7 are kept.
META = {"story_start": 2, "start": 3, "stop": 8, "tr": 1.5, "hrf_model": "none", "max_tokens": 7}
#: Two segments, (token, position, special, word_index, volume).  Volume 1 is before the
#: story onset and volume 9 after the last kept volume: both go to the edge TRs, as in
#: extract_ans.  Volume 5 has no token.
TOKENS = pd.DataFrame([
    ("[CLS]", 0, True, -1, 1), ("so", 1, False, 0, 1), ("the", 2, False, 1, 3),
    ("pie", 3, False, 2, 3), ("##man", 4, False, 2, 3), (".", 5, False, 2, 3),
    ("[SEP]", 6, True, -1, 3),
    ("[CLS]", 0, True, -1, 4), ("he", 1, False, 3, 4), ("ran", 2, False, 4, 6),
    ("away", 3, False, 5, 6), ("bye", 4, False, 6, 9), (".", 5, False, 6, 9),
    ("[SEP]", 6, True, -1, 9),
], columns=["token", "position", "special", "word_index", "volume"]).assign(
    segment=[0] * 7 + [1] * 7)
#: Per kept volume 3..7, counted by hand.
N_TOKENS = [4, 1, 0, 2, 2]  # the, pie, ##man, . | he | - | ran, away | bye, .
N_WORDS = [2, 1, 0, 2, 1]   # the, pieman | he | - | ran, away | bye
SPEECH = [1, 1, 0, 1, 1]
#: Positions of each kept volume's tokens, specials included.
POSITIONS = [[2, 3, 4, 5, 6], [0, 1], [], [2, 3], [4, 5, 6]]


def _bspline_basis(x, n_knots, degree, upper):
    """B-splines with uniform knots over [0, upper], extended by ``degree`` knots of the same
    spacing beyond each end (the basis SplineTransformer fits), by scipy."""
    h = upper / (n_knots - 1)
    knots = np.arange(-degree, n_knots + degree) * h
    return BSpline.design_matrix(np.asarray(x, float), knots, degree).toarray()


def test_counts_and_position_means_per_tr_match_the_hand_placement():
    regs = nuisance_regressors(TOKENS, META, position_knots=4, position_degree=2)
    assert len(regs) == META["stop"] - META["start"]
    assert regs["tokens"].tolist() == N_TOKENS
    assert regs["words"].tolist() == N_WORDS
    assert regs["speech"].tolist() == SPEECH
    basis = _bspline_basis(np.arange(7), 4, 2, 7)  # (position, spline): 5 splines
    expected = np.array([basis[p].mean(0) if p else np.zeros(5) for p in POSITIONS])
    assert list(regs.columns[3:]) == [f"position_{j}" for j in range(5)]
    np.testing.assert_allclose(regs.iloc[:, 3:], expected, atol=1e-12)
    # a partition of unity: the full basis sums to the speech indicator
    np.testing.assert_allclose(regs.iloc[:, 3:].sum(axis=1), SPEECH, atol=1e-12)


def test_splines_no_position_reaches_are_dropped():
    """16 knots over [0, 7], spacing h = 7/15, cubic: 18 splines, spline j lives on
    ((j - 3) h, (j + 1) h); no position (0..6) reaches splines 16 (from 13 h = 6.07) and 17."""
    regs = nuisance_regressors(TOKENS, META)
    names = list(regs.columns)
    assert names == ["tokens", "words", "speech"] + [f"position_{j}" for j in range(16)]
    basis = _bspline_basis(np.arange(7), 16, 3, 7)
    for name in names[3:]:
        j = int(name.split("_")[1])
        expected = [basis[p, j].mean() if p else 0.0 for p in POSITIONS]
        np.testing.assert_allclose(regs[name], expected, atol=1e-12)
    assert (regs.iloc[:, 3:].std() > 0).all()


def test_regressors_are_convolved_from_the_story_onset_then_cropped():
    full = nuisance_regressors(TOKENS, {**META, "start": META["story_start"]},
                               position_knots=4, position_degree=2)
    assert full["tokens"].tolist() == [1] + N_TOKENS  # story TR 0: "so" (volume 1, clipped)
    regs = nuisance_regressors(TOKENS, {**META, "hrf_model": "spm"}, position_knots=4,
                               position_degree=2)
    assert list(regs.columns) == list(full.columns)
    expected = convolve_hrf(full.to_numpy(), META["tr"], "spm")[1:]
    np.testing.assert_allclose(regs.to_numpy(), expected, rtol=1e-6)


def test_bad_input_names_the_problem():
    with pytest.raises(DataError, match=r"\['word_index'\].*re-run 02_ans"):
        nuisance_regressors(TOKENS.drop(columns="word_index"), META)
    with pytest.raises(DataError, match=r"\['max_tokens'\].*re-run 02_ans"):
        nuisance_regressors(TOKENS, {k: v for k, v in META.items() if k != "max_tokens"})
    with pytest.raises(ParameterError, match="position_knots"):
        nuisance_regressors(TOKENS, META, position_knots=1)
    with pytest.raises(ParameterError, match="position_degree"):
        nuisance_regressors(TOKENS, META, position_degree=-1)
    with pytest.raises(ParameterError, match="one row per row of x"):
        residualize(np.zeros((5, 2)), np.zeros((4, 3)))
    with pytest.raises(ParameterError, match="same series"):
        cross_story_correlation(np.zeros((5, 2)), np.zeros((5, 3)))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    regs = rng.standard_normal((60, 4))
    regs = np.c_[regs, regs[:, 0] + regs[:, 1]]  # collinear, like the spline basis and speech
    x = regs @ rng.standard_normal((5, 7)) + 2.0 + rng.standard_normal((60, 7))
    return x, regs


def test_residualize_equals_lstsq_per_column_and_is_orthogonal(data):
    x, regs = data
    design = np.c_[np.ones(len(x)), regs]
    resid = residualize(x, pd.DataFrame(regs))
    for j in range(x.shape[1]):
        beta = np.linalg.lstsq(design, x[:, j], rcond=None)[0]
        np.testing.assert_allclose(resid[:, j], x[:, j] - design @ beta, atol=1e-10)
    np.testing.assert_allclose(design.T @ resid, 0, atol=1e-9)


def test_r2_equals_scikit_learns_score(data):
    x, regs = data
    expected = [LinearRegression().fit(regs, x[:, j]).score(regs, x[:, j])
                for j in range(x.shape[1])]
    np.testing.assert_allclose(nuisance_r2(x, regs), expected, rtol=1e-10)


def test_cross_story_correlation_equals_pearsonr_on_the_common_trs():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((40, 6)), rng.standard_normal((55, 6))
    b[:40] += a
    expected = [pearsonr(a[:, j], b[:40, j])[0] for j in range(6)]
    np.testing.assert_allclose(cross_story_correlation(a, b), expected, rtol=1e-10)
    np.testing.assert_allclose(cross_story_correlation(b, a), expected, rtol=1e-10)


def test_regressors_of_a_real_extraction_have_the_an_series_grid(tmp_path):
    """all-MiniLM-L6-v2 on a short text, two segments, read back from the saved files: one
    row per kept TR, and speech is off exactly where the ANs are zero before the HRF."""
    from test_ans import _words

    from anbn_utils.ans import extract_ans, load_ans, load_model, save_ans

    text = "The pie man ran. He threw a pie, quickly! Then he was gone. Bye now."
    volumes = [10, 10, 11, 11, 12, 12, 12, 13, 13, 14, 14, 17, 17, 18, 19, 19]
    model, tokenizer = load_model("sentence-transformers/all-MiniLM-L6-v2", "cpu")
    ans = extract_ans(text, _words(text, volumes), model, tokenizer, story_start=9, start=11,
                      stop=20, top_k=2, max_tokens=14, progress=False)
    assert len(ans.meta["segment_lengths"]) > 1
    save_ans(ans, tmp_path)
    saved = load_ans(tmp_path)
    regs = nuisance_regressors(saved.tokens, saved.meta)
    assert len(regs) == len(saved.activations_hrf) == len(saved.volumes)
    pd.testing.assert_frame_equal(regs, nuisance_regressors(ans.tokens, ans.meta))
    raw = nuisance_regressors(saved.tokens, {**saved.meta, "hrf_model": "none"})
    silent = np.all(np.asarray(saved.activations) == 0, axis=(1, 2, 3))
    assert silent.any() and (raw["speech"].to_numpy() == 0).tolist() == silent.tolist()
    assert nuisance_r2(np.asarray(saved.activations_hrf).reshape(len(regs), -1),
                       regs).shape == (ans.n_ans,)

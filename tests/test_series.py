"""The series a story's coupling reads: pairing, nuisance regression, surrogate."""

import numpy as np
import pandas as pd
import pytest

from anbn_utils.ans.nuisance import residualize
from anbn_utils.errors import DataError, ParameterError
from anbn_utils.io import write_table
from anbn_utils.series import coupling_series


def _story(folder, rng, n_trs):
    write_table(folder / "nuisance.tsv", pd.DataFrame(rng.standard_normal((n_trs, 3)),
                                                      columns=["tokens", "words", "speech"]))
    return pd.read_csv(folder / "nuisance.tsv", sep="\t").to_numpy()


def test_nuisance_is_regressed_out_of_the_ans_or_both_and_kept_for_the_partition(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "a").mkdir()
    reg = _story(tmp_path / "a", rng, 60)
    ans, bns = rng.standard_normal((60, 5)), rng.standard_normal((60, 2))
    s = coupling_series(tmp_path / "a", tmp_path / "a", ans, bns, same_story=True)
    np.testing.assert_allclose(s.ans, residualize(ans, reg))
    np.testing.assert_array_equal(s.bns, bns)  # the ANs alone by default
    assert s.bn_regressors is None
    s = coupling_series(tmp_path / "a", tmp_path / "a", ans, bns, same_story=True,
                        nuisance="regress_both")
    np.testing.assert_allclose(s.ans, residualize(ans, reg))
    np.testing.assert_allclose(s.bns, residualize(bns, reg))
    np.testing.assert_allclose(s.partition_ans, s.ans)
    np.testing.assert_array_equal(s.plain_ans, ans)
    np.testing.assert_array_equal(s.raw_bns, bns)
    np.testing.assert_allclose(s.nuisance, reg)
    np.testing.assert_allclose(s.bn_regressors, reg)
    none = coupling_series(tmp_path / "a", tmp_path / "a", ans, bns, same_story=True,
                           nuisance="none")
    np.testing.assert_array_equal(none.ans, ans)
    assert none.bn_regressors is None
    np.testing.assert_allclose(none.partition_ans, residualize(ans, reg))  # the partition's band
    with pytest.raises(ParameterError, match="nuisance must be one of"):
        coupling_series(tmp_path / "a", tmp_path / "a", ans, bns, same_story=True,
                        nuisance="remove")


def test_a_crossed_pairing_regresses_each_storys_own_regressors(tmp_path):
    rng = np.random.default_rng(1)
    for story in ("a", "b"):
        (tmp_path / story).mkdir()
    reg_a, reg_b = _story(tmp_path / "a", rng, 60), _story(tmp_path / "b", rng, 50)
    ans, bns = rng.standard_normal((60, 4)), rng.standard_normal((50, 2))
    s = coupling_series(tmp_path / "a", tmp_path / "b", ans, bns, same_story=False,
                        nuisance="regress_both")
    assert s.ans.shape == (50, 4)  # the first common TRs
    np.testing.assert_allclose(s.ans, residualize(ans[:50], reg_a[:50]))
    np.testing.assert_allclose(s.bns, residualize(bns, reg_b))
    np.testing.assert_allclose(s.nuisance, np.c_[reg_a[:50], reg_b])
    np.testing.assert_allclose(s.bn_regressors, reg_b)


def test_a_stage_without_regressors_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="nuisance.tsv is missing .* re-run the 02_ans stage"):
        coupling_series(tmp_path, tmp_path, np.ones((5, 2)), np.ones((5, 1)), same_story=True)

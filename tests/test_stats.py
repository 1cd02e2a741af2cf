"""The shared z-score and the permutation p-value."""

import numpy as np
import pytest
import scipy.stats
import torch

from anbn_utils.errors import ParameterError
from anbn_utils.stats import check_n_permutations, permutation_p_values, zscore


@pytest.mark.parametrize("axis", [0, 1])
def test_zscore_equals_scipy_on_arrays_and_tensors(axis):
    x = np.random.default_rng(0).standard_normal((30, 4)) * 3 + 2
    np.testing.assert_allclose(zscore(x, axis), scipy.stats.zscore(x, axis=axis), atol=1e-12)
    np.testing.assert_allclose(zscore(torch.tensor(x), axis).numpy(),
                               scipy.stats.zscore(x, axis=axis), atol=1e-12)


def test_zscore_of_a_constant_is_zero_not_nan():
    x = np.ones((5, 2))
    x[:, 1] = [1, 2, 3, 4, 5]
    z = zscore(x)
    assert np.all(z[:, 0] == 0)
    np.testing.assert_allclose(z[:, 1], scipy.stats.zscore(x[:, 1]))
    assert torch.all(zscore(torch.ones(4)) == 0)


def test_permutation_p_values_count_the_observed_statistic():
    """Phipson and Smyth (2010): (1 + count) / (1 + B), never 0."""
    np.testing.assert_allclose(permutation_p_values(np.array([0, 3, 99]), 99), [0.01, 0.04, 1.0])


@pytest.mark.parametrize("bad", [0, -5, 2.5, "100", True, None])
def test_n_permutations_must_be_a_positive_integer(bad):
    with pytest.raises(ParameterError, match="n_permutations must be a positive integer"):
        check_n_permutations(bad)
    with pytest.raises(ParameterError, match="n_permutations"):
        permutation_p_values(np.zeros(3), bad)
    assert check_n_permutations(np.int64(7)) == 7

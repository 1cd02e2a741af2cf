"""Inference for AN-BN coupling, one concern per module.

- :mod:`~anbn_utils.inference.nulls`       randomization nulls: shuffle (the paper's plain
  reading, invalid for smooth series), every circular lag (exact), phase randomization
- :mod:`~anbn_utils.inference.familywise`  family-wise control by the maximum statistic over
  all AN x BN pairs, single-step and step-down (exact for the pairs of the ANs of largest
  statistic, a conservative bound for the rest)
- :mod:`~anbn_utils.inference.tail`        p-values below the permutation floor from a
  generalized Pareto tail, for the false-discovery correction
- :mod:`~anbn_utils.inference.calibration` false-positive rates and power of every null and
  correction on simulated null and planted data, with binomial intervals

:func:`anbn_utils.coupling.statistics.max_statistic_test` puts them together for one story.
"""

from .familywise import MaxStatistic
from .nulls import check_randomizations, circular_lags, n_randomizations, null_copies, randomize
from .tail import TailPValues, tail_p_values

__all__ = ["MaxStatistic", "TailPValues", "check_randomizations", "circular_lags",
           "n_randomizations", "null_copies", "randomize", "tail_p_values"]

"""Coupling ANs and BNs, one concern per module.

- :mod:`~anbn_utils.coupling.statistics`  the computation of one story: synchronization (the
  PCC matrix), anchors (Eq. 1, Eq. 2), the permutation tests under each null model (FWER,
  FDR), :func:`~anbn_utils.coupling.statistics.couple_story`, the ``an_surrogate`` control
- :mod:`~anbn_utils.coupling.summaries`   numbers and tables of a story's results: headline
  numbers and significance per null model and level, the significance table, a null run's
  false positives in words; the check of ``alphas``
- :mod:`~anbn_utils.coupling.files`       the files of a story's coupling (PCC matrix,
  anchors, the tests' arrays)
- :mod:`~anbn_utils.coupling.recovery`    the phantom's planted pairs: their ranks and
  tests, and how many each null model finds

This package imports none of them: import a function from its module
(``from anbn_utils.coupling.summaries import significance_table``).  The runner keys each
stage by the source its notebook's imports reach (:mod:`anbn_utils.codehash`), so code that
reads the summaries does not depend on the statistics.
"""

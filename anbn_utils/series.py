"""The series a story's coupling reads: the ANs and the BNs on one time axis, their
nuisance regressors, and what the run's parameters do to them before the tests.

In order (:func:`coupling_series`):

1. **pairing** (:func:`anbn_utils.controls.pair_series`): the story's ANs with its own
   BNs, or with another story's (``bn_pairing='crossed'``) over their first common TRs;
2. **nuisance**: the AN story's nuisance regressors
   (:func:`anbn_utils.ans.nuisance.nuisance_regressors`, 02_ans ``nuisance.tsv``: token
   and word counts, speech, position in the model's segment) regressed out of the ANs
   (``nuisance='regress'``), so that a coupling is not the ANs and a BN sharing when and
   how densely words come: an AN then has no part along the regressors, and a BN's part
   along them adds nothing to its correlation.  ``'regress_both'`` also regresses the BN
   story's regressors out of the BNs, and the tests residualize every randomized BN copy
   alike; measured in the calibration study, that null is still liberal (the residual
   space of smooth regressors is not kept by a shift or a phase randomization), while
   regressing the ANs alone leaves the BNs' randomization, and the test, as they are;
3. **surrogate** (``an_surrogate='phase'``): the ANs replaced by a phase randomization of
   themselves (a control, :func:`anbn_utils.coupling.statistics.surrogate_series`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .choices import NUISANCE_MODELS
from .errors import DataError, ParameterError

__all__ = ["CouplingSeries", "coupling_series"]


@dataclass
class CouplingSeries:
    """One story's series, as the coupling tests read them.

    Attributes
    ----------
    ans : ndarray of shape (n_trs, n_ans)
        HRF-convolved AN series after the pairing, the nuisance step and the surrogate.
    bns : ndarray of shape (n_trs, n_bns)
        BN time courses after the pairing and the nuisance step.
    plain_ans : ndarray of shape (n_trs, n_ans)
        The ANs after the pairing and the surrogate, without the nuisance step (the plain
        predictive checks read them with ``raw_bns``, the series as the paper has them).
    partition_ans : ndarray of shape (n_trs, n_ans)
        The ANs residualized on their story's regressors whatever ``nuisance`` says, after
        the surrogate: the AN band of the variance partition
        (:func:`anbn_utils.predictive.variance_partition`), whose shift null is calibrated
        only for ANs that do not carry the nuisance band.
    raw_bns : ndarray of shape (n_trs, n_bns)
        The BNs after the pairing only: the partition's targets, predicted by the nuisance
        band and the ANs.
    nuisance : ndarray of shape (n_trs, n_regressors)
        The AN story's regressors, and the BN story's beside them when it is another story.
    bn_regressors : ndarray of shape (n_trs, n_bn_regressors) or None
        The regressors ``bns`` were residualized on (the BN story's, with
        ``nuisance='regress_both'``), which the tests' randomized BN copies are residualized
        on too; None otherwise.
    """

    ans: np.ndarray
    bns: np.ndarray
    plain_ans: np.ndarray
    partition_ans: np.ndarray
    raw_bns: np.ndarray
    nuisance: np.ndarray
    bn_regressors: np.ndarray | None = None


def coupling_series(ans_folder, bn_folder, ans: np.ndarray, bns: np.ndarray, *,
                    same_story: bool, nuisance: str = "regress", an_surrogate: str | None = None,
                    random_state: int = 0, story_index: int = 0,
                    story: str = "") -> CouplingSeries:
    """The series of one story's coupling (see the module docstring for the steps).

    Parameters
    ----------
    ans_folder, bn_folder : path
        The 02_ans folders of the AN story and of the BN story (the same unless crossed).
    ans : ndarray of shape (n_trs_a, n_ans)
    bns : ndarray of shape (n_trs_b, n_bns)
    same_story : bool
        The BNs are the AN story's own.
    nuisance : {'none', 'regress', 'regress_both'}
    an_surrogate : {'phase'} or None
    random_state, story_index : int
        Seed of the surrogate, and the story's index (its own phases).

    Returns
    -------
    CouplingSeries
    """
    from .ans.nuisance import load_nuisance, residualize
    from .controls import pair_series
    from .coupling.statistics import surrogate_series

    if nuisance not in NUISANCE_MODELS:
        raise ParameterError(f"nuisance must be one of {NUISANCE_MODELS}, not {nuisance!r}")
    raw_ans, raw_bns = pair_series(ans, bns, same_story=same_story, story=story)
    n = len(raw_ans)
    an_reg = load_nuisance(ans_folder).to_numpy()[:n]
    bn_reg = an_reg if same_story else load_nuisance(bn_folder).to_numpy()[:n]
    if len(an_reg) != n or len(bn_reg) != n:
        raise DataError(f"story {story!r}: the nuisance regressors have fewer TRs than the "
                        f"{n} coupled ones: re-run the 02_ans stage")
    def surrogate(x):
        return surrogate_series(x, an_surrogate, random_state=random_state, story=story_index)

    plain, resid = surrogate(raw_ans), surrogate(residualize(raw_ans, an_reg))
    a = plain if nuisance == "none" else resid
    b = residualize(raw_bns, bn_reg) if nuisance == "regress_both" else raw_bns
    both = an_reg if same_story else np.column_stack([an_reg, bn_reg])
    return CouplingSeries(ans=a, bns=b, plain_ans=plain, partition_ans=resid, raw_bns=raw_bns,
                          nuisance=both,
                          bn_regressors=bn_reg if nuisance == "regress_both" else None)

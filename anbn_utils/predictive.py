"""The predictive check: do the ANs predict a BN's time course on unseen time points?

Max-r anchoring (Eq. 1, 2) says which AN correlates best with a BN over the whole story;
with thousands of smooth AN series, some correlate well by chance.  This check asks a
different question: does a ridge regression from *all* ANs of a story predict each BN's
time course on time points it was not fitted on?

Cross-validation on time series: the TRs are cut into ``n_folds`` contiguous blocks; each
block is predicted by a model fitted on the TRs more than ``gap`` TRs away from it (the
HRF and the autocorrelation of BOLD spread a time point over its neighbours, so training
TRs next to the test block would leak it).  The ANs are standardized with the mean and
standard deviation of the training TRs only.  The ridge penalty is chosen per BN, inside
each training set, by the same blocked cross-validation with the same gap (a leave-one-out
or generalized cross-validation inside the training set would see each TR's neighbours and
choose too little regularization on smooth series).  Every fit, for all penalties and all
BNs at once, is one eigendecomposition of the Gram matrix of the standardized training ANs
(TRs x TRs, or ANs x ANs when there are fewer ANs than TRs; the singular value
decomposition of the ANs in the closed form of ridge regression, equal to
:class:`sklearn.linear_model.Ridge` after :class:`sklearn.preprocessing.StandardScaler`).

The result is the out-of-sample R^2 per BN, pooled over folds: ``1 - SSE / SST`` of all
held-out predictions (:func:`sklearn.metrics.r2_score`); 0 is as good as predicting the
mean, negative worse.

Ridge regression shrinks all ANs alike: it predicts a BN that many ANs carry together,
but a BN driven by one AN among thousands (the phantom's planted couplings, and the
paper's picture of one AN anchoring one BN) is predicted poorly, because with fewer TRs
than ANs the penalty that keeps the fit stable spreads the weight of that AN over all
the others.  :func:`anchor_r2` is the sparse counterpart on the same folds: the AN with
the largest |r| with the BN on the training TRs (Eq. 2 chosen without the test block),
then a straight-line fit of the BN on it, scored on the held-out block.

AN time courses also carry what is not about the words (tokens and words per TR, speech on
and off, position in the model's segment), and so does BOLD: predicting a BN from the ANs
alone cannot tell the story's brain from another story's.  Variance partitioning
(Lescroart et al. 2015) asks what the ANs predict beyond nuisance regressors of those:
:func:`variance_partition` fits, on the same folds, ridge on the nuisance band alone and
banded ridge on the nuisance and AN bands, each band with its own penalty (Nunez-Elizalde
et al. 2019; :func:`banded_ridge_predictions`), and reports the ANs' unique share, the
difference of the two R^2.  :func:`unique_share_null` tests it per BN against circular
shifts of the AN band, and :func:`r2_difference` contrasts two runs (the real story and a
control) with a moving-block bootstrap over TRs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

from .errors import DataError, ParameterError
from .stats import moving_block_counts

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_BLOCK",
    "DEFAULT_GAP",
    "DEFAULT_NUISANCE_ALPHAS",
    "DEFAULT_N_BOOT",
    "DEFAULT_N_SHIFTS",
    "PARTITION_ARRAYS",
    "R2Difference",
    "ShiftNull",
    "VariancePartition",
    "anchor_r2",
    "banded_ridge_predictions",
    "blocked_folds",
    "load_partition",
    "out_of_sample_r2",
    "partition_reading",
    "partition_summary",
    "r2_difference",
    "r2_reading",
    "r2_summary",
    "r2_table",
    "ridge_predictions",
    "ridge_r2",
    "save_partition",
    "unique_share_null",
    "variance_partition",
]

#: Default TRs left out on each side of a test block: 10 TRs are 15 s at the Narratives'
#: TR of 1.5 s, three times the canonical HRF's time to peak (5 s), past the bulk of its
#: response.
DEFAULT_GAP = 10

#: Default ridge penalties, on standardized ANs (half-decades from 1e-2 to 1e9; the largest
#: shrinks every prediction to the training mean, the answer for a BN the ANs do not
#: predict).
DEFAULT_ALPHAS = np.logspace(-2, 9, 23)

#: Default penalties on the standardized nuisance band (decades from 1e-2 to 1e5): ~20
#: columns against ~200 training TRs, each with a squared norm of one per TR, so 1e-2 is
#: least squares in all but exactly collinear directions, and 1e5, above the band's total
#: squared norm (~20 x 200), shrinks every weight to near zero.
DEFAULT_NUISANCE_ALPHAS = np.logspace(-2, 5, 8)

#: The nuisance grid of a fit without a nuisance band (its one penalty multiplies nothing).
_NO_NUISANCE = np.ones(1)

#: Default number of lags of :func:`unique_share_null`: p resolved down to 1/51 in a few
#: seconds per story (measured on one core of a busy 2-core machine, 282 TRs, 22 nuisance
#: columns: 2.4 s with 2,304 ANs and 16 BNs, 10 s with 9,216 ANs and 128 BNs; all 263 lags
#: of 282 TRs: 14 s with 2,304 ANs).
DEFAULT_N_SHIFTS = 50

#: Default block of :func:`r2_difference`, in TRs: 20 TRs are 30 s, twice the span over
#: which HRF-smoothed series stay correlated (~10 TRs at the Narratives' TR of 1.5 s), so
#: most of the dependence falls within blocks, and 282 TRs still hold 14 of them.  On smooth
#: synthetic series (282 TRs) the 95% interval covered the true difference in 87-89% of
#: cases for blocks of 10, 20 and 30 TRs alike (the shortfall is the few effective samples,
#: not the block).
DEFAULT_BLOCK = 20

#: Default bootstrap resamples of :func:`r2_difference` (Efron & Tibshirani 1993 advise 1,000
#: to 2,000 for percentile intervals): measured, the bounds of a 95% interval moved by ~2% of
#: its width across seeds, and 128 BNs x 282 TRs took 0.03 s.
DEFAULT_N_BOOT = 2000


def blocked_folds(times: int | np.ndarray, n_folds: int = 5,
                  gap: int = DEFAULT_GAP) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous test blocks, each with the training TRs more than ``gap`` TRs away.

    Parameters
    ----------
    times : int or ndarray of shape (n_trs,), int
        The number of TRs (``0 .. times - 1``), or the TR indices to split (sorted, unique;
        e.g. a training set, for a nested split).
    n_folds : int
        Test blocks, consecutive runs of ``times`` of equal size (up to one TR).
    gap : int
        A training TR is more than ``gap`` TRs from every TR of the test block.

    Returns
    -------
    list of (train, test)
        ``n_folds`` pairs of int arrays of TR indices (values of ``times``); the test blocks
        are disjoint and cover ``times``.

    Raises
    ------
    ParameterError
        If ``n_folds < 2``, ``gap < 0``, or a fold is left with fewer than two training TRs.
    """
    times = np.arange(times) if np.ndim(times) == 0 else np.asarray(times)
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ParameterError(f"ridge_folds must be an integer >= 2, not {n_folds!r}")
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ParameterError(f"ridge_gap must be a non-negative integer, not {gap!r}")
    if times.ndim != 1 or np.any(np.diff(times) <= 0):
        raise DataError("times must be a sorted 1-D array of distinct TR indices")
    if len(times) < n_folds:
        raise ParameterError(f"ridge_folds={n_folds} test blocks cannot be cut from "
                             f"{len(times)} TRs")
    folds = []
    for k, test in enumerate(np.array_split(times, n_folds)):
        train = times[(times < test[0] - gap) | (times > test[-1] + gap)]
        if len(train) < 2:
            raise ParameterError(
                f"with {len(times)} TRs, ridge_folds={n_folds} and ridge_gap={gap} leave test "
                f"block {k + 1} {len(train)} training TR(s): lower ridge_gap or ridge_folds")
        folds.append((train, test))
    return folds


def _standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``train`` and ``test`` standardized with the training mean and standard deviation (a
    constant column stays zero, as in :class:`sklearn.preprocessing.StandardScaler`)."""
    train = np.asarray(train, dtype=np.float64)
    mean, sd = train.mean(0), train.std(0)
    sd[sd == 0] = 1.0
    return (train - mean) / sd, (np.asarray(test, dtype=np.float64) - mean) / sd


def _an_basis(X_train: np.ndarray, X_test: np.ndarray):
    """The AN band of one training set in its own eigenbasis.

    With ``Xs`` the standardized training ANs (n_train x n_ans) and ``Xt`` the test ANs
    standardized alike: ``Xs = U diag(sqrt(s)) V^T`` (thin, components with ``s`` at
    rounding level dropped), and ``P = Xt Xs^T U`` (n_test x rank).  ``U`` and ``s`` come
    from the eigendecomposition of the smaller of ``Xs Xs^T`` (TRs x TRs, when there are more
    ANs than TRs) and ``Xs^T Xs``.
    """
    Xs, Xt = _standardize(X_train, X_test)
    n, p = Xs.shape
    if p >= n:
        s, U = np.linalg.eigh(Xs @ Xs.T)
        keep = s > s.max(initial=0) * n * np.finfo(float).eps
        U, s = U[:, keep], s[keep]
        return U, s, (Xt @ Xs.T) @ U
    s, V = np.linalg.eigh(Xs.T @ Xs)
    keep = s > s.max(initial=0) * p * np.finfo(float).eps
    V, s = V[:, keep], s[keep]
    root = np.sqrt(s)
    return (Xs @ V) / root, s, (Xt @ V) * root


def _banded(basis, N_train: np.ndarray, Y_train: np.ndarray, N_test: np.ndarray,
            alphas: np.ndarray, nuisance_alphas: np.ndarray,
            nuisance_sd: np.ndarray | None = None) -> np.ndarray:
    """Banded ridge predictions for every pair of penalties; see
    :func:`banded_ridge_predictions`, of which this is the body with the AN band already in
    its eigenbasis (``basis``, from :func:`_an_basis`), shared by every nuisance band and
    target fitted on the same TRs.  ``alphas`` may hold ``inf`` (the AN band left out).

    Minimizing ``|yc - Z1 b1 - Z2 b2|^2 + l1 |b1|^2 + l2 |b2|^2`` over ``b2`` leaves
    ``r^T W r`` with ``r = yc - Z1 b1`` and ``W = l2 (Z2 Z2^T + l2 I)^-1``, so
    ``b1 = (Z1^T W Z1 + l1 I)^-1 Z1^T W yc`` (a nuisance-sized system; ``W`` is diagonal in
    the AN eigenbasis) and ``Z2 b2 = Z2 Z2^T (Z2 Z2^T + l2 I)^-1 r``.

    ``nuisance_sd``: scale the nuisance band by these standard deviations (of the whole
    series) instead of the training TRs' (see :func:`variance_partition`).
    """
    U, s, P = basis
    if nuisance_sd is None:
        Z1, Z1t = _standardize(N_train, N_test)
    else:
        mean = np.asarray(N_train, dtype=np.float64).mean(0)
        Z1, Z1t = (N_train - mean) / nuisance_sd, (N_test - mean) / nuisance_sd
    Y_train = np.asarray(Y_train, dtype=np.float64)
    y_mean = Y_train.mean(0)
    yc = Y_train - y_mean
    Zr, yr = U.T @ Z1, U.T @ yc  # (rank, n_nuisance), (rank, n_targets)
    # the nuisance band outside the span of the training ANs, where W is the identity
    R, Ry = Z1.T @ Z1 - Zr.T @ Zr, Z1.T @ yc - Zr.T @ yr
    l2 = np.asarray(alphas, dtype=np.float64)[:, None]
    w = 1.0 / (1.0 + s / l2)  # W's eigenvalues, (n_alphas, rank); 1 for l2 = inf
    g = 1.0 / (s + l2)  # 0 for l2 = inf
    ZrW = Zr.T * w[:, None, :]  # (n_alphas, n_nuisance, rank)
    e, E = np.linalg.eigh(R + ZrW @ Zr)  # Z1^T W Z1 per AN penalty
    shrink = 1.0 / (np.clip(e, 0, None)[:, None, :, None]
                    + np.asarray(nuisance_alphas, dtype=np.float64)[None, :, None, None])
    Ec = np.swapaxes(E, 1, 2) @ (Ry + ZrW @ yr)  # E^T Z1^T W yc
    b1 = E[:, None] @ (shrink * Ec[:, None])  # (n_alphas, n_nuisance_alphas, n_nuis, n_bns)
    Pg = P * g[:, None, :]  # (n_alphas, n_test, rank)
    return (Z1t - Pg @ Zr)[:, None] @ b1 + (Pg @ yr)[:, None] + y_mean


def banded_ridge_predictions(X_train: np.ndarray, N_train: np.ndarray, Y_train: np.ndarray,
                             X_test: np.ndarray, N_test: np.ndarray,
                             alphas: np.ndarray = DEFAULT_ALPHAS,
                             nuisance_alphas: np.ndarray = DEFAULT_NUISANCE_ALPHAS
                             ) -> np.ndarray:
    """Banded ridge predictions (an AN band and a nuisance band, each with its own penalty)
    for every pair of penalties and every target.

    Both bands are standardized with their training mean and standard deviation (within
    :func:`variance_partition`, the nuisance band with its whole series' standard deviation
    instead), the targets centred on their training mean (the intercept).  Penalties ``(l2, l1)`` on the
    AN band ``X`` and the nuisance band ``N`` are the same model as plain ridge with penalty
    1 on ``[N / sqrt(l1), X / sqrt(l2)]`` (Nunez-Elizalde et al. 2019); here the AN band is
    decomposed once (the smaller of its Gram matrices, TRs x TRs with more ANs than TRs)
    and every pair costs a nuisance-sized system.  ``l2 = inf`` leaves the AN band out (ridge
    on the nuisance band alone); no nuisance column (``n_nuisance = 0``) is ridge on the ANs alone.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, n_ans)
    N_train : ndarray of shape (n_train, n_nuisance)
    Y_train : ndarray of shape (n_train, n_targets)
    X_test : ndarray of shape (n_test, n_ans)
    N_test : ndarray of shape (n_test, n_nuisance)
    alphas : ndarray of shape (n_alphas,)
        Penalties on the standardized AN band (``inf`` allowed).
    nuisance_alphas : ndarray of shape (n_nuisance_alphas,)
        Penalties on the standardized nuisance band.

    Returns
    -------
    ndarray of shape (n_alphas, n_nuisance_alphas, n_test, n_targets)
    """
    return _banded(_an_basis(X_train, X_test), N_train, Y_train, N_test, alphas,
                   nuisance_alphas)


def ridge_predictions(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray,
                      alphas: np.ndarray = DEFAULT_ALPHAS) -> np.ndarray:
    """Ridge predictions for every penalty and target from one eigendecomposition.

    The ANs are standardized with the training mean and standard deviation (a constant
    column stays zero), the targets centred on their training mean (the intercept):
    :func:`banded_ridge_predictions` without a nuisance band.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, n_features)
    Y_train : ndarray of shape (n_train, n_targets)
    X_test : ndarray of shape (n_test, n_features)
    alphas : ndarray of shape (n_alphas,)

    Returns
    -------
    ndarray of shape (n_alphas, n_test, n_targets)
    """
    none = np.empty((len(X_train), 0)), np.empty((len(X_test), 0))
    return banded_ridge_predictions(X_train, none[0], Y_train, X_test, none[1], alphas,
                                    _NO_NUISANCE)[:, 0]


def _check(ans, bns, nuisance=None):
    X, Y = np.asarray(ans, dtype=np.float64), np.asarray(bns, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise DataError(f"ANs {X.shape} and BNs {Y.shape} must be (n_trs, n_units) on the same "
                        "TRs")
    arrays = [("ANs", X), ("BNs", Y)]
    if nuisance is not None:
        N = np.asarray(nuisance, dtype=np.float64)
        if N.ndim != 2 or len(N) != len(Y) or N.shape[1] < 1:
            raise DataError(f"nuisance {N.shape} must be (n_trs, n_nuisance) with at least one "
                            f"column, on the BNs' {len(Y)} TRs")
        arrays.append(("nuisance", N))
    for what, a in arrays:
        if not np.isfinite(a).all():
            raise DataError(f"{what}: NaN or infinite values")
    const = np.flatnonzero(Y.std(0) == 0)
    if const.size:
        raise DataError(f"BN(s) {const.tolist()} are constant: R^2 is undefined")
    return tuple(a for _, a in arrays)


def _penalties(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not len(values) or np.any(~(values > 0)) or np.isinf(values).any():
        raise ParameterError(f"{name} must be a non-empty 1-D array of positive, finite "
                             f"penalties, not {values!r}")
    return np.sort(values)


def ridge_r2(ans: np.ndarray, bns: np.ndarray, *, n_folds: int = 5, gap: int = DEFAULT_GAP,
             alphas: np.ndarray = DEFAULT_ALPHAS, inner_folds: int = 3,
             return_alphas: bool = False):
    """Cross-validated R^2 of a ridge regression from all ANs to each BN.

    Parameters
    ----------
    ans : ndarray of shape (n_trs, n_ans)
        HRF-convolved AN series of one story.
    bns : ndarray of shape (n_trs, n_bns)
        The story's BN time courses.
    n_folds : int
        Contiguous test blocks (:func:`blocked_folds`).
    gap : int
        TRs left out between every test block and its training TRs (also in the inner
        split that chooses the penalty); default :data:`DEFAULT_GAP`.
    alphas : ndarray of shape (n_alphas,)
        Ridge penalties, on standardized ANs; one is chosen per BN and fold.
    inner_folds : int
        Blocked folds inside each training set that choose the penalty.
    return_alphas : bool
        Also return the penalties chosen.

    Returns
    -------
    r2 : ndarray of shape (n_bns,)
        Out-of-sample R^2 of each BN, pooled over the held-out blocks.
    chosen : ndarray of shape (n_folds, n_bns)
        Only with ``return_alphas``: the penalty chosen per fold and BN.
    """
    X, Y = _check(ans, bns)
    alphas = _penalties(alphas, "alphas")
    # one BLAS thread: the matrices are small (a TR x TR Gram matrix per fit), and BLAS
    # threads spinning on a busy CPU cost far more than they save (measured)
    with threadpool_limits(1):
        plan = _plan(X, n_folds, gap, inner_folds)
        pred, _, chosen, _ = _cross_validate(plan, np.empty((len(Y), 0)), Y, alphas,
                                             _NO_NUISANCE)
    r2 = r2_score(Y, pred, multioutput="raw_values")
    return (r2, chosen) if return_alphas else r2


def _plan(X, n_folds, gap, inner_folds):
    """Per outer fold, its inner (train, test, AN basis) triples, then its own."""
    plan = []
    for k, (train, test) in enumerate(blocked_folds(len(X), n_folds, gap)):
        try:
            inner = blocked_folds(train, inner_folds, gap)
        except ParameterError as e:
            raise ParameterError(f"choosing the ridge penalty inside the {len(train)} training "
                                 f"TRs of test block {k + 1}: {e}") from None
        plan.append([(tr, te, _an_basis(X[tr], X[te])) for tr, te in [*inner, (train, test)]])
    return plan


def _cross_validate(plan, N, Y, alphas, nuisance_alphas):
    """Held-out predictions, each (n_trs, n_bns), of the banded model and of the nuisance band
    alone, and the banded model's penalties chosen on the AN and nuisance bands, each
    (n_folds, n_bns); every penalty chosen per BN by the inner folds of ``plan``.  The
    nuisance band is scaled by its whole series' standard deviations (a regressor that a
    training set barely sees is not blown up by its tiny training spread: measured on the
    phantom, a position column nearly zero outside one test block reached 38,000 training
    standard deviations there and the nuisance model's R^2 -150)."""
    sd = N.std(0)
    sd[sd == 0] = 1.0
    l2 = np.r_[alphas, np.inf]  # the last: the AN band left out
    cols = np.arange(Y.shape[1])
    full, alone = np.empty_like(Y), np.empty_like(Y)
    chosen = np.empty((2, len(plan), Y.shape[1]))
    for k, (*inner, (train, test, basis)) in enumerate(plan):
        sse = sum(((_banded(b, N[tr], Y[tr], N[te], l2, nuisance_alphas, sd) - Y[te]) ** 2)
                  .sum(2) for tr, te, b in inner)  # (n_alphas + 1, n_nuisance_alphas, n_bns)
        pred = _banded(basis, N[train], Y[train], N[test], l2, nuisance_alphas, sd)
        a, m = _best(sse[:-1])
        full[test] = pred[a, m, :, cols].T
        chosen[:, k] = alphas[a], nuisance_alphas[m]
        alone[test] = pred[-1, _best(sse[-1:])[1], :, cols].T
    return full, alone, chosen[0], chosen[1]


def _best(sse):
    """Per target, the (AN, nuisance) penalty indices of the smallest error in ``sse``
    (n_alphas, n_nuisance_alphas, n_targets): the largest penalties among equally good ones
    (the simplest model), the AN penalty first."""
    flat = sse.reshape(-1, sse.shape[-1])
    return np.divmod(len(flat) - 1 - np.argmin(flat[::-1], axis=0), sse.shape[1])


@dataclass(frozen=True)
class VariancePartition:
    """Out-of-sample R^2 of the nuisance band alone, of nuisance + ANs, and the ANs' share.

    Attributes
    ----------
    r2_nuisance, r2_full, r2_unique : ndarray of shape (n_bns,)
        R^2 of the nuisance model, of the banded model, and ``r2_full - r2_nuisance``.
    pred_nuisance, pred_full, targets : ndarray of shape (n_trs, n_bns)
        The held-out predictions of both models and the BNs they predict (for
        :func:`r2_difference`).
    alphas, nuisance_alphas : ndarray of shape (n_folds, n_bns)
        The banded model's penalties on the AN and on the nuisance band, chosen per fold and
        BN (an AN penalty at the top of the grid leaves the ANs out).
    """

    r2_nuisance: np.ndarray
    r2_full: np.ndarray
    r2_unique: np.ndarray
    pred_nuisance: np.ndarray
    pred_full: np.ndarray
    targets: np.ndarray
    alphas: np.ndarray
    nuisance_alphas: np.ndarray


def variance_partition(ans: np.ndarray, nuisance: np.ndarray, bns: np.ndarray, *,
                       n_folds: int = 5, gap: int = DEFAULT_GAP,
                       alphas: np.ndarray = DEFAULT_ALPHAS,
                       nuisance_alphas: np.ndarray = DEFAULT_NUISANCE_ALPHAS,
                       inner_folds: int = 3) -> VariancePartition:
    """What the ANs predict of each BN beyond the nuisance regressors, on held-out TRs.

    Two models on the folds of :func:`ridge_r2` (blocked, with a gap, penalties chosen per
    BN and fold by the inner blocked folds): ridge on the nuisance band alone, and banded
    ridge on the nuisance band and the AN band, each band with its own penalty
    (:func:`banded_ridge_predictions`).  The ANs' unique share is the difference of their
    R^2 (Lescroart et al. 2015).

    Parameters
    ----------
    ans : ndarray of shape (n_trs, n_ans)
        HRF-convolved AN series of one story.
    nuisance : ndarray of shape (n_trs, n_nuisance)
        Regressors of what is not about the words (tokens and words per TR, speech, position
        in the model's segment), on the same TRs.
    bns : ndarray of shape (n_trs, n_bns)
    n_folds, gap, inner_folds : int
        As in :func:`ridge_r2`.
    alphas : ndarray of shape (n_alphas,)
        Penalties on the standardized AN band; default :data:`DEFAULT_ALPHAS`.
    nuisance_alphas : ndarray of shape (n_nuisance_alphas,)
        Penalties on the standardized nuisance band, in both models; every pair with
        ``alphas`` is tried; default :data:`DEFAULT_NUISANCE_ALPHAS`.

    Returns
    -------
    VariancePartition
    """
    X, Y, N = _check(ans, bns, nuisance)
    alphas = _penalties(alphas, "alphas")
    nuisance_alphas = _penalties(nuisance_alphas, "nuisance_alphas")
    with threadpool_limits(1):
        plan = _plan(X, n_folds, gap, inner_folds)
        full, alone, chosen, chosen_nuisance = _cross_validate(plan, N, Y, alphas,
                                                               nuisance_alphas)
    r2_full = r2_score(Y, full, multioutput="raw_values")
    r2_nuisance = r2_score(Y, alone, multioutput="raw_values")
    return VariancePartition(r2_nuisance, r2_full, r2_full - r2_nuisance, alone, full, Y,
                             chosen, chosen_nuisance)


@dataclass(frozen=True)
class ShiftNull:
    """The ANs' unique share against circular shifts of the AN band.

    Attributes
    ----------
    observed : ndarray of shape (n_bns,)
        ``r2_unique`` of :func:`variance_partition`.
    null : ndarray of shape (n_shifts, n_bns)
        The unique share with the ANs lagging by each of ``lags``.
    lags : ndarray of shape (n_shifts,), int
    p : ndarray of shape (n_bns,)
        ``(1 + #{null >= observed}) / (1 + n_shifts)``.
    """

    observed: np.ndarray
    null: np.ndarray
    lags: np.ndarray
    p: np.ndarray


def unique_share_null(ans: np.ndarray, nuisance: np.ndarray, bns: np.ndarray, *,
                      n_shifts: int | None = DEFAULT_N_SHIFTS, min_shift: int = DEFAULT_GAP,
                      n_folds: int = 5, gap: int = DEFAULT_GAP,
                      alphas: np.ndarray = DEFAULT_ALPHAS,
                      nuisance_alphas: np.ndarray = DEFAULT_NUISANCE_ALPHAS,
                      inner_folds: int = 3) -> ShiftNull:
    """A permutation p-value per BN for the ANs' unique share (:func:`variance_partition`).

    The AN band is shifted circularly in time against the nuisance band and the BNs, which
    stay aligned with each other, and the whole cross-validation (penalties included) is
    refitted: under the null that the ANs add nothing beyond the nuisance, a shifted AN band
    predicts as much as the aligned one.  Lags shorter than ``min_shift`` TRs (or as short,
    going round the other way) are left out: there the shifted ANs, smoothed by the HRF,
    still overlap the aligned ones, and the null would hold near-copies of the observed fit.

    The folds are cut on the ANs' time axis and the nuisance band and BNs move against it
    (the same pairs of TRs as moving the ANs), so every shift reuses the ANs'
    eigendecompositions and costs nuisance-sized systems only.

    Parameters
    ----------
    ans, nuisance, bns, n_folds, gap, alphas, nuisance_alphas, inner_folds
        As in :func:`variance_partition`.
    n_shifts : int or None
        Lags spread evenly from ``min_shift`` to ``n_trs - min_shift``; None: all of them.
        The default, :data:`DEFAULT_N_SHIFTS`, resolves p down to 1 / (1 + n_shifts).
    min_shift : int
        The shortest lag, in TRs; default :data:`DEFAULT_GAP`, the gap of the folds (past
        the bulk of the HRF).  ``min_shift=1`` gives all ``n_trs - 1`` lags.

    Returns
    -------
    ShiftNull

    Raises
    ------
    ParameterError
        If ``min_shift`` leaves no lag, or ``n_shifts`` is below 1 or more than the lags.

    Notes
    -----
    The shift also misaligns what the ANs share with the nuisance band.  Where the ANs carry
    the nuisance (as real ANs carry tokens per TR), the aligned AN band adds fewer new
    directions to the banded model than a shifted one, overfits less, and the p of BNs
    without AN signal runs small: on synthetic AR series (1,000 TRs, 200 ANs loading on 5
    nuisance series, 24 BNs of nuisance + noise or noise, 19 lags, 24 seeds) 14% of p were
    <= 0.1 and 34% <= 0.25 (uniform: 10% and 25%); with ANs independent of the nuisance,
    9% and 24%.  Shifting only the ANs' residual on the nuisance (its least-squares fit kept
    aligned) gave 12% and 26%, but a new AN band per lag (its decompositions recomputed,
    several times the cost).
    """
    X, Y, N = _check(ans, bns, nuisance)
    lags = _lags(len(Y), n_shifts, min_shift)
    alphas = _penalties(alphas, "alphas")
    nuisance_alphas = _penalties(nuisance_alphas, "nuisance_alphas")
    with threadpool_limits(1):
        plan = _plan(X, n_folds, gap, inner_folds)

        def unique(lag):  # the ANs at TR t paired with the nuisance and BNs at t + lag
            rows = (np.arange(len(Y)) + lag) % len(Y)
            full, alone, _, _ = _cross_validate(plan, N[rows], Y[rows], alphas, nuisance_alphas)
            return (r2_score(Y[rows], full, multioutput="raw_values")
                    - r2_score(Y[rows], alone, multioutput="raw_values"))

        observed = unique(0)
        null = np.array([unique(lag) for lag in lags])
    p = (1 + (null >= observed).sum(0)) / (1 + len(lags))
    return ShiftNull(observed, null, lags, p)


def _lags(n_trs, n_shifts, min_shift):
    """``n_shifts`` lags spread evenly over ``min_shift .. n_trs - min_shift`` (None: all)."""
    if isinstance(min_shift, bool) or not isinstance(min_shift, (int, np.integer)) \
            or min_shift < 1:
        raise ParameterError(f"min_shift must be a positive integer, not {min_shift!r}")
    available = n_trs - 2 * min_shift + 1
    if available < 1:
        raise ParameterError(f"min_shift={min_shift} leaves no lag in {n_trs} TRs (lags run "
                             "from min_shift to n_trs - min_shift)")
    if n_shifts is None:
        return np.arange(min_shift, n_trs - min_shift + 1)
    if isinstance(n_shifts, bool) or not isinstance(n_shifts, (int, np.integer)) \
            or n_shifts < 1:
        raise ParameterError(f"n_shifts must be a positive integer or None (every lag), not "
                             f"{n_shifts!r}")
    if n_shifts > available:
        raise ParameterError(f"n_shifts={n_shifts} is more than the {available} lags from "
                             f"min_shift={min_shift} to {n_trs - min_shift} in {n_trs} TRs")
    # floor(x + 0.5): lags at least one apart stay distinct (np.round sends 1.5 and 2.5 to 2)
    return np.floor(np.linspace(min_shift, n_trs - min_shift, n_shifts) + 0.5).astype(int)


@dataclass(frozen=True)
class R2Difference:
    """``R^2_a - R^2_b`` and its moving-block bootstrap percentile interval.

    Attributes
    ----------
    estimate, low, high : ndarray of shape (n_bns,), or float with a ``summary``
        The difference on the TRs given, and the interval's bounds.
    paired : bool
        Whether both runs were resampled at the same TRs (runs of equal length).
    """

    estimate: np.ndarray | float
    low: np.ndarray | float
    high: np.ndarray | float
    paired: bool


_SUMMARIES = {"mean": np.mean, "max": np.max}


def r2_difference(pred_a: np.ndarray, y_a: np.ndarray, pred_b: np.ndarray, y_b: np.ndarray, *,
                  baseline_a: np.ndarray | None = None, baseline_b: np.ndarray | None = None,
                  summary: str | None = None, block: int = DEFAULT_BLOCK,
                  n_boot: int = DEFAULT_N_BOOT, confidence: float = 0.95,
                  random_state: int = 0) -> R2Difference:
    """The difference in out-of-sample R^2 between two runs, with a block bootstrap interval.

    Each run is its held-out predictions and targets (e.g. :class:`VariancePartition`'s
    ``pred_full`` and ``targets`` for the real story and for a control).  A moving-block
    bootstrap resamples each run's TRs as ``ceil(n_trs / block)`` blocks of ``block``
    contiguous TRs, starts drawn with replacement, cut to ``n_trs``; runs of equal length
    are resampled at the same TRs (paired: what the two share, e.g. the same BOLD, cancels
    out of the difference), others independently.  The predictions are held fixed: the
    interval is for the TRs' sampling, not for refitting the models.

    Parameters
    ----------
    pred_a, y_a : ndarray of shape (n_trs_a, n_bns_a)
        Run a's held-out predictions and targets.
    pred_b, y_b : ndarray of shape (n_trs_b, n_bns_b)
        Run b's; ``n_bns_b == n_bns_a`` unless there is a ``summary``.
    baseline_a, baseline_b : ndarray, optional
        Held-out predictions of a baseline model of the same targets (e.g.
        :class:`VariancePartition`'s ``pred_nuisance``): each run's R^2 is then its gain over
        its baseline (the unique share), resampled at the same TRs as the run.
    summary : {None, "mean", "max"}
        None: one difference per BN; "mean": of the mean R^2 over each run's BNs; "max": of
        each run's best BN.
    block : int
        TRs per block; default :data:`DEFAULT_BLOCK`.
    n_boot : int
        Bootstrap resamples; default :data:`DEFAULT_N_BOOT`.
    confidence : float
        Coverage of the percentile interval, in (0, 1).
    random_state : int
        Seed of the resampling.

    Returns
    -------
    R2Difference

    Raises
    ------
    DataError
        If predictions and targets differ in shape or hold NaN, or per BN the runs differ
        in BNs.
    ParameterError
        If ``summary``, ``block``, ``n_boot`` or ``confidence`` is out of range.
    """
    runs = [_run(p, y, name) for p, y, name in ((pred_a, y_a, "a"), (pred_b, y_b, "b"))]
    if (baseline_a is None) != (baseline_b is None):
        raise ParameterError("give both baseline_a and baseline_b, or neither")
    bases = [None, None] if baseline_a is None else [
        _run(base, y, f"{name} (baseline)")[0]
        for base, (_, y), name in ((baseline_a, runs[0], "a"), (baseline_b, runs[1], "b"))]
    if summary is not None and summary not in _SUMMARIES:
        raise ParameterError(f"summary must be None, 'mean' or 'max', not {summary!r}")
    if summary is None and runs[0][1].shape[1] != runs[1][1].shape[1]:
        raise DataError(f"per BN (summary=None) both runs need the same BNs, not "
                        f"{runs[0][1].shape[1]} and {runs[1][1].shape[1]}: give a summary")
    shortest = min(len(y) for _, y in runs)
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) \
            or not 1 <= block <= shortest:
        raise ParameterError(f"block must be an integer from 1 to the {shortest} TRs of the "
                             f"shorter run, not {block!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ParameterError(f"n_boot must be a positive integer, not {n_boot!r}")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be in (0, 1), not {confidence!r}")
    reduce = (lambda r: r) if summary is None else (lambda r: _SUMMARIES[summary](r, axis=-1))
    rng = np.random.default_rng(random_state)
    paired = len(runs[0][1]) == len(runs[1][1])
    counts_a = moving_block_counts(len(runs[0][1]), block, n_boot, rng)
    counts_b = counts_a if paired else moving_block_counts(len(runs[1][1]), block, n_boot, rng)
    (pa, ya), (pb, yb) = runs

    def gain(counts, pred, base, y):  # resampled R^2, less the baseline's on the same TRs
        return _r2(counts, pred, y) - (0 if base is None else _r2(counts, base, y))

    full = [np.ones((1, len(ya))), np.ones((1, len(yb)))]
    boot = reduce(gain(counts_a, pa, bases[0], ya)) - reduce(gain(counts_b, pb, bases[1], yb))
    estimate = (reduce(gain(full[0], pa, bases[0], ya)) - reduce(gain(full[1], pb, bases[1], yb)))
    estimate = estimate[0] if np.ndim(estimate) else estimate
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    return R2Difference(estimate, low, high, paired)


#: The arrays :func:`save_partition` writes (``<name>.npy``) and :func:`load_partition` reads.
PARTITION_ARRAYS = ("r2_nuisance", "r2_full", "r2_unique", "unique_p", "unique_null",
                    "pred_nuisance", "pred_full", "targets")


def save_partition(partition: VariancePartition, null: ShiftNull, folder) -> None:
    """Write a story's variance partition, its shift null (n_shifts, n_bns) and p-values
    (the arrays of :data:`PARTITION_ARRAYS`) to ``folder``."""
    from pathlib import Path

    from .io import save_array

    values = {**{k: getattr(partition, k) for k in PARTITION_ARRAYS
                 if k not in ("unique_p", "unique_null")},
              "unique_p": null.p, "unique_null": null.null}
    for name in PARTITION_ARRAYS:
        save_array(Path(folder) / f"{name}.npy", np.asarray(values[name]))


def load_partition(folder) -> dict[str, np.ndarray]:
    """The arrays :func:`save_partition` wrote, by name; a clear error naming the folder
    when the run has none (run without ``predictive_check``, or by an older version)."""
    from pathlib import Path

    missing = [n for n in PARTITION_ARRAYS if not (Path(folder) / f"{n}.npy").is_file()]
    if missing:
        raise DataError(f"{folder} has no variance partition ({', '.join(missing)}.npy "
                        "missing): re-run 04_coupling with predictive_check=True")
    return {n: np.load(Path(folder) / f"{n}.npy") for n in PARTITION_ARRAYS}


def partition_summary(partition: VariancePartition, null: ShiftNull,
                      alpha: float = 0.05) -> dict[str, float]:
    """The keys ``summary.json`` holds per story: mean R^2 of the nuisance band and of the
    banded model, mean and best unique share, and how many BNs' unique share has a shift-null
    p-value at most ``alpha`` (``unique_significant``, uncorrected; resolution
    ``1 / (1 + n_shifts)``)."""
    return {"r2_nuisance_mean": float(partition.r2_nuisance.mean()),
            "r2_full_mean": float(partition.r2_full.mean()),
            "r2_unique_mean": float(partition.r2_unique.mean()),
            "r2_unique_max": float(partition.r2_unique.max()),
            "unique_significant": int((null.p <= alpha).sum()), "unique_alpha": alpha,
            "unique_resolution": 1 / (1 + len(null.lags))}


def _run(pred, y, name):
    pred, y = np.asarray(pred, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if pred.ndim != 2 or pred.shape != y.shape:
        raise DataError(f"run {name}: predictions {pred.shape} and targets {y.shape} must both "
                        "be (n_trs, n_bns)")
    if not (np.isfinite(pred).all() and np.isfinite(y).all()):
        raise DataError(f"run {name}: NaN or infinite values")
    return pred, y


def _r2(counts, pred, y):
    """R^2 per resample (rows of ``counts``, TR multiplicities) and target: (n_boot, n_bns)."""
    sse = counts @ (y - pred) ** 2
    y = y - y.mean(0)  # SST does not change; the sums below lose less to rounding
    sst = counts @ y**2 - (counts @ y) ** 2 / counts.sum(1, keepdims=True)
    return 1 - sse / sst


def anchor_r2(ans: np.ndarray, bns: np.ndarray, *, n_folds: int = 5, gap: int = DEFAULT_GAP,
              return_anchors: bool = False):
    """Cross-validated R^2 of each BN's best AN, chosen on the training TRs only.

    In each fold (:func:`blocked_folds`, the same as :func:`ridge_r2`'s): the AN with the
    largest absolute Pearson correlation with the BN over the training TRs, and the least
    squares line of the BN on that AN there, predict the held-out block.

    Parameters
    ----------
    ans : ndarray of shape (n_trs, n_ans)
    bns : ndarray of shape (n_trs, n_bns)
    n_folds, gap : int
        As in :func:`ridge_r2`.
    return_anchors : bool
        Also return the AN chosen per fold and BN.

    Returns
    -------
    r2 : ndarray of shape (n_bns,)
        Out-of-sample R^2, pooled over the held-out blocks.
    anchors : ndarray of shape (n_folds, n_bns), int
        Only with ``return_anchors``: the AN (column of ``ans``) chosen per fold and BN.
    """
    X, Y = _check(ans, bns)
    pred = np.empty_like(Y)
    anchors = np.empty((n_folds, Y.shape[1]), dtype=int)
    for k, (train, test) in enumerate(blocked_folds(len(Y), n_folds, gap)):
        x, y = X[train] - X[train].mean(0), Y[train] - Y[train].mean(0)
        sx, sy = np.sqrt((x * x).sum(0)), np.sqrt((y * y).sum(0))
        cov = x.T @ y  # (n_ans, n_bns)
        r = cov / np.where(sx > 0, sx, np.inf)[:, None] / sy  # a constant AN has r = 0
        best = np.abs(r).argmax(0)
        cols = np.arange(Y.shape[1])
        slope = cov[best, cols] / np.where(sx[best] > 0, sx[best] ** 2, np.inf)
        pred[test] = Y[train].mean(0) + slope * (X[test][:, best] - X[train][:, best].mean(0))
        anchors[k] = best
    r2 = r2_score(Y, pred, multioutput="raw_values")
    return (r2, anchors) if return_anchors else r2


def out_of_sample_r2(ans: np.ndarray, bns: np.ndarray, *, n_folds: int = 5,
                     gap: int = DEFAULT_GAP) -> dict[str, np.ndarray]:
    """Both checks on the same folds: ``{"ridge": ridge_r2(...), "anchor": anchor_r2(...)}``,
    each of shape (n_bns,)."""
    return {"ridge": ridge_r2(ans, bns, n_folds=n_folds, gap=gap),
            "anchor": anchor_r2(ans, bns, n_folds=n_folds, gap=gap)}


def r2_summary(checks: dict[str, np.ndarray]) -> dict[str, float]:
    """``{"<check>_r2_mean", "<check>_r2_max"}`` of :func:`out_of_sample_r2`'s result (the
    keys ``summary.json`` holds per story)."""
    return {f"{name}_r2_{stat}": float(getattr(r2, stat)())
            for name, r2 in checks.items() for stat in ("mean", "max")}


def partition_reading(partitions: dict[str, tuple[VariancePartition, ShiftNull]],
                      planted: dict[int, str], alpha: float = 0.05) -> str:
    """One line per story on :func:`variance_partition` and :func:`unique_share_null`: the
    mean R^2 of the nuisance band and of nuisance + ANs, the mean unique share, the best
    BN's with its p-value, and how many BNs' p-values are at most ``alpha`` (uncorrected),
    naming the planted networks' BNs (``planted``: BN index -> network)."""
    from .units import bn_name

    lines = []
    for story, (part, null) in partitions.items():
        best = int(np.argmax(part.r2_unique))
        found = np.flatnonzero(null.p <= alpha)
        named = ", ".join(bn_name(k) + (f" ({planted[k]})" if k in planted else "") for k in found)
        lines.append(
            f"**{story}**: mean R² {part.r2_nuisance.mean():.3f} (nuisance), "
            f"{part.r2_full.mean():.3f} (nuisance + ANs); the ANs' unique share "
            f"{part.r2_unique.mean():.3f} on average, at most {part.r2_unique[best]:.3f} "
            f"({bn_name(best)}, p {null.p[best]:.3f}); {len(found)} of {len(null.p)} BNs with "
            f"p ≤ {alpha:g} (uncorrected, smallest p {1 / (1 + len(null.lags)):.3f})"
            + (f": {named}" if named else "") + ".")
    return "  \n".join(lines)


def r2_reading(checks: dict[str, dict[str, np.ndarray]], planted: dict[int, str]) -> str:
    """One line per story on :func:`out_of_sample_r2`'s results (``checks``: story ->
    check -> R^2 per BN): mean and best R^2 per check, BNs above zero, and the BNs of
    planted networks (``planted``: BN index -> network name) against the others."""
    from .units import bn_name

    lines = []
    for story, by_check in checks.items():
        parts = []
        for label, r2 in by_check.items():
            best = int(np.argmax(r2))
            part = (f"{label} mean R² {r2.mean():.3f}, best {bn_name(best)} at {r2[best]:.3f}, "
                    f"{int((r2 > 0).sum())} of {len(r2)} BNs above zero")
            if planted:
                part += (f" (BNs of planted networks {np.mean([r2[k] for k in planted]):.3f} "
                         f"on average, the others {np.delete(r2, list(planted)).mean():.3f})")
            parts.append(part)
        lines.append(f"**{story}**: " + "; ".join(parts) + ".")
    return "  \n".join(lines)


def r2_table(checks: dict[str, dict[str, np.ndarray]], planted: dict[int, str],
             names: list[str]):
    """R^2 per BN (rows, named ``names``), story and check (columns), with the planted
    network of each BN when there are any; sorted by the first story's first check."""
    import pandas as pd

    table = pd.concat({story: pd.DataFrame(by_check, index=names)
                       for story, by_check in checks.items()}, axis=1)
    if planted:
        table.insert(0, "planted network", [planted.get(k, "") for k in range(len(names))])
    first = next(iter(checks))
    return table.sort_values((first, next(iter(checks[first]))), ascending=False)

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
(TRs x TRs; the singular value decomposition of the ANs in the closed form of ridge
regression, equal to :class:`sklearn.linear_model.Ridge` after
:class:`sklearn.preprocessing.StandardScaler`).

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
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

from .errors import DataError, ParameterError

__all__ = ["DEFAULT_ALPHAS", "DEFAULT_GAP", "anchor_r2", "blocked_folds", "out_of_sample_r2",
           "r2_reading", "r2_summary", "r2_table", "ridge_predictions", "ridge_r2"]

#: Default TRs left out on each side of a test block: 10 TRs are 15 s at the Narratives'
#: TR of 1.5 s, three times the canonical HRF's time to peak (5 s), past the bulk of its
#: response.
DEFAULT_GAP = 10

#: Default ridge penalties, on standardized ANs (half-decades from 1e-2 to 1e9; the largest
#: shrinks every prediction to the training mean, the answer for a BN the ANs do not
#: predict).
DEFAULT_ALPHAS = np.logspace(-2, 9, 23)


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


def ridge_predictions(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray,
                      alphas: np.ndarray = DEFAULT_ALPHAS) -> np.ndarray:
    """Ridge predictions for every penalty and target from one SVD.

    The ANs are standardized with the training mean and standard deviation (a constant
    column stays zero), the targets centred on their training mean (the intercept).

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
    X_train = np.asarray(X_train, dtype=np.float64)
    mean, sd = X_train.mean(0), X_train.std(0)
    sd[sd == 0] = 1.0
    Xs = (X_train - mean) / sd
    y_mean = np.asarray(Y_train, dtype=np.float64).mean(0)
    # Xs = U S V^T from the eigendecomposition of the Gram matrix Xs Xs^T = U S^2 U^T
    # (n_train x n_train, cheap when there are more ANs than TRs); the prediction
    # Xt V S / (S^2 + alpha) U^T Yc = (Xt Xs^T) U / (S^2 + alpha) U^T Yc needs no V.
    s2, U = np.linalg.eigh(Xs @ Xs.T)
    s2 = np.clip(s2, 0, None)
    A = (((np.asarray(X_test, dtype=np.float64) - mean) / sd) @ Xs.T) @ U  # (n_test, n_train)
    B = U.T @ (np.asarray(Y_train, dtype=np.float64) - y_mean)  # (n_train, n_targets)
    shrink = 1.0 / (s2 + np.asarray(alphas, dtype=np.float64)[:, None])  # (n_alphas, n_train)
    return np.einsum("tr,ar,rk->atk", A, shrink, B, optimize=True) + y_mean


def _check(ans, bns):
    X, Y = np.asarray(ans, dtype=np.float64), np.asarray(bns, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise DataError(f"ANs {X.shape} and BNs {Y.shape} must be (n_trs, n_units) on the same "
                        "TRs")
    for what, a in (("ANs", X), ("BNs", Y)):
        if not np.isfinite(a).all():
            raise DataError(f"{what}: NaN or infinite values")
    const = np.flatnonzero(Y.std(0) == 0)
    if const.size:
        raise DataError(f"BN(s) {const.tolist()} are constant: R^2 is undefined")
    return X, Y


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
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or not len(alphas) or np.any(alphas <= 0):
        raise ParameterError(f"alphas must be a non-empty 1-D array of positive penalties, "
                             f"not {alphas!r}")
    alphas = np.sort(alphas)
    # one BLAS thread: the matrices are small (a TR x TR Gram matrix per fit), and BLAS
    # threads spinning on a busy CPU cost far more than they save (measured)
    with threadpool_limits(1):
        pred, chosen = _cross_validate(X, Y, n_folds, gap, alphas, inner_folds)
    r2 = r2_score(Y, pred, multioutput="raw_values")
    return (r2, chosen) if return_alphas else r2


def _cross_validate(X, Y, n_folds, gap, alphas, inner_folds):
    """Held-out predictions (n_trs, n_bns) and the penalties chosen (n_folds, n_bns)."""
    pred = np.empty_like(Y)
    chosen = np.empty((n_folds, Y.shape[1]))
    for k, (train, test) in enumerate(blocked_folds(len(Y), n_folds, gap)):
        sse = np.zeros((len(alphas), Y.shape[1]))
        try:
            inner = blocked_folds(train, inner_folds, gap)
        except ParameterError as e:
            raise ParameterError(f"choosing the ridge penalty inside the {len(train)} training "
                                 f"TRs of test block {k + 1}: {e}") from None
        for itrain, itest in inner:
            p = ridge_predictions(X[itrain], Y[itrain], X[itest], alphas)
            sse += ((p - Y[itest]) ** 2).sum(1)
        # the largest penalty among equally good ones (the simplest model)
        best = len(alphas) - 1 - np.argmin(sse[::-1], axis=0)
        p = ridge_predictions(X[train], Y[train], X[test], alphas)
        pred[test] = np.take_along_axis(p, best[None, None, :], axis=0)[0]
        chosen[k] = alphas[best]
    return pred, chosen


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

"""Randomization nulls for the correlation of smooth time series.

Each null model makes randomized copies of the BN series ``b`` (n_trs, n_bns), one
randomization applied to all BNs alike (so the BNs keep their correlations with each
other), against which the ANs' correlations are recomputed:

- ``'shuffle'`` (the paper's "randomizations", read plainly): a random permutation of the
  TRs.  It destroys the autocorrelation of the series, so for smooth series (HRF-convolved
  ANs, BOLD) it is **invalid**: it declares most independent pairs significant.  Kept as
  the paper's reading and labelled so.
- ``'circular'``: every circular shift of the BNs by a lag ``L = 1 .. T - 1`` (exhaustive,
  not drawn).  Under circular stationarity the correlation at lag 0 is exchangeable with
  the correlation at every other lag, so the test is exact with resolution ``1 / T``.  An
  exclusion window (``min_shift``: only lags with ``min(L, T - L) >= min_shift``) is an
  option; it breaks the exchangeability, because a smooth cross-correlation function peaks
  by chance anywhere and the lags next to 0 are where it would match lag 0, and makes the
  test liberal (measured in the calibration study).  Default 1: no window.
- ``'phase'``: phase randomization (Theiler et al. 1992), the same random phases for every
  BN (Prichard and Theiler 1994), which keeps each series' power spectrum and the
  cross-BN correlations.  Exact for circularly stationary Gaussian series; resolution
  ``1 / (B + 1)``.  Measured on independent AR(1) pairs at the paper's length (the
  calibration study's ``pair_ar1``) it kept its level without an end correction
  (end-matching, tapering, amplitude adjustment), so none is applied.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from ..choices import NULL_MODELS
from ..errors import ParameterError
from ..stats import check_n_permutations, zscore

__all__ = ["NULL_MODELS", "NULL_READINGS", "check_randomizations", "circular_lags",
           "n_randomizations", "null_copies", "randomize"]

#: What each null model's significance means, as the book labels it.
NULL_READINGS = {
    "shuffle": "the paper's plain reading; invalid for autocorrelated series",
    "circular": "exact under circular stationarity (every circular lag)",
    "phase": "exact for stationary Gaussian series (phase randomization)",
}


def circular_lags(n_trs: int, min_shift: int = 1) -> np.ndarray:
    """The circular lags of the circular null: ``1 .. n_trs - 1`` with
    ``min(L, n_trs - L) >= min_shift``.

    Raises a :class:`ParameterError` if ``min_shift`` leaves no lag.
    """
    if isinstance(min_shift, bool) or not isinstance(min_shift, (int, np.integer)) \
            or min_shift < 1:
        raise ParameterError(f"min_shift must be a positive integer (1: every lag), not "
                             f"{min_shift!r}")
    lags = np.arange(1, n_trs)
    lags = lags[np.minimum(lags, n_trs - lags) >= min_shift]
    if not lags.size:
        raise ParameterError(f"min_shift={min_shift} leaves no circular lag for {n_trs} TRs; "
                             "lower min_shift (1: every lag)")
    return lags


def n_randomizations(null: str, n_permutations: int, n_trs: int, min_shift: int = 1) -> int:
    """Randomizations a null model makes: ``n_permutations``, or the number of admissible
    circular lags for ``'circular'`` (every one, enumerated)."""
    n_permutations = check_n_permutations(n_permutations)  # a bad value is an error for any null
    if null not in NULL_MODELS:
        raise ParameterError(f"null model must be one of {NULL_MODELS}, not {null!r}")
    if null == "circular":
        return len(circular_lags(n_trs, min_shift))
    return n_permutations


def check_randomizations(nulls, n_permutations: int, n_trs: int, alphas, *,
                         min_shift: int = 1, story: str = "") -> dict[str, int]:
    """Randomizations per null model, or one clear error before any computation.

    A family-wise p-value cannot go below ``1 / (1 + B)``: with ``B < 1 / alpha - 1``
    randomizations no test could ever be significant at ``alpha``.

    Returns
    -------
    dict of null model -> B
    """
    if isinstance(nulls, str) or not len(nulls):
        raise ParameterError(f"nulls must be a non-empty list of {NULL_MODELS}, not {nulls!r}")
    unknown = [n for n in nulls if n not in NULL_MODELS]
    if unknown:
        raise ParameterError(f"unknown null model(s) {unknown}: nulls must be among "
                             f"{NULL_MODELS}")
    out = {null: n_randomizations(null, n_permutations, n_trs, min_shift) for null in nulls}
    smallest = min(alphas)
    for null, b in out.items():
        if (1 + b) * smallest < 1:
            what = (f"{b} circular lags of {n_trs} TRs (min_shift={min_shift})"
                    if null == "circular" else f"n_permutations={b}")
            raise ParameterError(
                f"{'story ' + repr(story) + ': ' if story else ''}the {null} null's {what} "
                f"cannot resolve alpha={smallest}: its smallest p-value is 1/{1 + b}; it needs "
                f"at least {math.ceil(1 / smallest) - 1} randomizations")
    return out


def randomize(b: torch.Tensor, n: int, null: str, generator: torch.Generator,
              min_shift: int = 1) -> torch.Tensor:
    """``n`` randomized copies of the series ``b`` (n_trs, n_bns), standardized (zero mean,
    unit norm per column, so that a product with standardized ANs is Pearson's r).

    ``'circular'`` draws its lags uniformly from :func:`circular_lags` (for a single
    surrogate; the test itself enumerates them, :func:`null_copies`).

    Returns
    -------
    Tensor of shape (n, n_trs, n_bns)
    """
    T = b.shape[0]
    dev = b.device
    if null == "shuffle":
        idx = torch.argsort(torch.rand(n, T, generator=generator, device=dev), dim=1)
        out = b[idx]
    elif null == "circular":
        lags = torch.as_tensor(circular_lags(T, min_shift), device=dev)
        lag = lags[torch.randint(len(lags), (n,), generator=generator, device=dev)]
        out = b[(torch.arange(T, device=dev)[None] - lag[:, None]) % T]
    elif null == "phase":
        f = torch.fft.rfft(b, dim=0)  # (F, K)
        phase = 2 * torch.pi * torch.rand(n, f.shape[0], 1, generator=generator, device=dev,
                                          dtype=b.dtype)
        phase[:, 0] = 0  # keep the mean
        if T % 2 == 0:
            phase[:, -1] = 0  # the Nyquist term stays real
        out = torch.fft.irfft(f[None] * torch.exp(1j * phase), n=T, dim=1)
    else:
        raise ParameterError(f"null model must be one of {NULL_MODELS}, not {null!r}")
    return zscore(out, axis=1) / math.sqrt(T)


def null_copies(b: torch.Tensor, null: str, n_permutations: int, generator: torch.Generator,
                *, min_shift: int = 1, chunk: int = 64,
                regressors: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
    """The null model's randomized copies of the standardized series ``b`` (n_trs, n_bns),
    ``chunk`` at a time, each chunk a Tensor of shape (n, n_trs, n_bns).

    ``'circular'`` yields every admissible lag once (:func:`circular_lags`; ``n_permutations``
    is not used); the others ``n_permutations`` random copies from ``generator``.

    ``regressors`` (n_trs, n_regressors): the series were residualized on them (with an
    intercept), and so is every copy, then standardized again (as Freedman and Lane's
    permutation of residuals does, Winkler et al. 2014): a shifted or phase-randomized
    residual leaves the residual space, and correlating it with ANs inside that space would
    give a null narrower than the observed statistic's (measured: family-wise error rates
    of four to eight times the level, the calibration study's ``nuisance_regress``).
    """
    project = _residualizer(regressors, b)
    T = b.shape[0]
    if null == "circular":
        lags = torch.as_tensor(circular_lags(T, min_shift), device=b.device)
        t = torch.arange(T, device=b.device)
        for s in range(0, len(lags), chunk):
            yield project(b[(t[None] - lags[s:s + chunk, None]) % T])  # roll(b, L)
        return
    n_permutations = check_n_permutations(n_permutations)
    for s in range(0, n_permutations, chunk):
        yield project(randomize(b, min(chunk, n_permutations - s), null, generator))


def _residualizer(regressors, b: torch.Tensor):
    """Copies (n, n_trs, n_bns) less their least-squares fit on ``[1, regressors]``,
    standardized; the copies unchanged without regressors."""
    if regressors is None:
        return lambda copies: copies
    design = torch.cat([torch.ones(len(b), 1, dtype=b.dtype, device=b.device),
                        torch.as_tensor(regressors, dtype=b.dtype, device=b.device)], 1)
    q = torch.linalg.qr(design).Q  # (n_trs, rank)
    return lambda copies: zscore(copies - q @ (q.T @ copies), axis=1) / math.sqrt(len(b))

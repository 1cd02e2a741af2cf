"""Structure of the AN time series that is not about the words: nuisance regressors.

An AN's activation at a TR is a mean over that TR's tokens (:mod:`.activations`), so its
time course carries, besides what the words are, *how many* tokens fall in the TR, whether
anyone speaks, and where the tokens sit in the segment the model read (position
embeddings make a token's query and key depend on its position).  Measured on an
independent dataset (two unrelated stories, all-MiniLM-L6-v2, mean aggregation; the
shared note ``notes/inference.md``): the same AN in the two stories correlated at median
r 0.67; token count, speech on/off and the TR's mean of a B-spline basis of the token
position (16 knots over 0-512), HRF-convolved, explained a median 62 % of an AN's
variance in sample and brought that r to 0.16, while a polynomial of the TR's mean
position explained only 19 %: the position effect differs between ANs and is not linear.

:func:`nuisance_regressors` builds those regressors from what the 02_ans stage saves
(``tokens.tsv`` and ``ans.json``) on the ANs' own TR grid and HRF;
:func:`residualize`, :func:`nuisance_r2` and :func:`cross_story_correlation` measure what
they explain and regress them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from .activations import convolve_hrf

__all__ = ["cross_story_correlation", "load_nuisance", "nuisance_r2", "nuisance_regressors",
           "residualize"]

#: Columns of the token table (02_ans ``tokens.tsv``) the regressors are built from.
TOKEN_COLUMNS = ("position", "special", "word_index", "volume")
#: Keys of the AN metadata (02_ans ``ans.json``) the regressors are built from.
META_KEYS = ("story_start", "start", "stop", "tr", "hrf_model", "max_tokens")


def nuisance_regressors(
    tokens: pd.DataFrame,
    meta: Mapping[str, Any],
    *,
    position_knots: int = 16,
    position_degree: int = 3,
) -> pd.DataFrame:
    """Regressors of what an AN's time course owes to the TR grid rather than to the words.

    Built on exactly the grid of :func:`~anbn_utils.ans.extract.extract_ans`: one row per
    story TR from ``story_start`` to ``stop`` (token volumes clipped to that range), zeros
    in a TR without tokens, convolved with the ANs' HRF (``meta['hrf_model']`` at
    ``meta['tr']``), then the first ``start - story_start`` TRs dropped.

    Columns:

    - ``tokens``: the TR's model tokens, special tokens (``[CLS]``, ``[SEP]``) excluded;
    - ``words``: the TR's distinct words (``word_index``);
    - ``speech``: 1 when the TR holds at least one word, else 0;
    - ``position_<j>``: the mean over the TR's tokens (special tokens included, as in the
      AN's own mean) of B-spline ``j`` of the token's ``position`` in its segment, the
      basis spanning ``[0, meta['max_tokens']]`` with uniform knots
      (:class:`sklearn.preprocessing.SplineTransformer`; ``j`` is its output column).
      Basis columns that are constant over the kept TRs (splines that no token's position
      reaches) are dropped.  The basis sums to one at every token, so the position
      columns of the full basis sum to ``speech`` before the HRF (and after it): the
      design is collinear, which :func:`residualize` handles.

    Parameters
    ----------
    tokens : DataFrame
        The 02_ans token table (``load_ans(folder).tokens``, or ``ANs.tokens``): columns
        ``position``, ``special``, ``word_index``, ``volume``.
    meta : mapping
        The 02_ans metadata (``load_ans(folder).meta``): ``story_start``, ``start``,
        ``stop``, ``tr``, ``hrf_model``, ``max_tokens``.
    position_knots : int
        Knots of the position basis over ``[0, max_tokens]``: 16 over 512 tokens is one
        knot every 34 tokens, flexible enough for the per-AN, nonlinear position effect
        measured above (a polynomial of the mean position missed most of it).
    position_degree : int
        Degree of the splines (3: cubic); the basis has ``position_knots +
        position_degree - 1`` columns before constant ones are dropped.

    Returns
    -------
    DataFrame of shape (n_kept_trs, n_regressors)
        ``n_kept_trs = stop - start`` rows, in the order of the AN series
        (``ANs.activations_hrf``), float64.

    Raises
    ------
    DataError
        The token table or the metadata lacks what is needed (written by an older 02_ans).
    ParameterError
        ``position_knots`` < 2 or ``position_degree`` < 0.
    """
    missing = [c for c in TOKEN_COLUMNS if c not in tokens.columns]
    if missing:
        raise DataError(f"the token table lacks the column(s) {missing} that nuisance "
                        "regressors need (tokens.tsv of an older 02_ans?); re-run 02_ans")
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise DataError(f"the AN metadata lacks {missing} that nuisance regressors need "
                        "(ans.json of an older 02_ans?); re-run 02_ans")
    if not (isinstance(position_knots, int | np.integer) and position_knots >= 2):
        raise ParameterError(f"position_knots must be an integer >= 2, not {position_knots!r}")
    if not (isinstance(position_degree, int | np.integer) and position_degree >= 0):
        raise ParameterError(f"position_degree must be an integer >= 0, not {position_degree!r}")

    from sklearn.preprocessing import SplineTransformer  # imported here: slow to import

    story_start, start, stop = int(meta["story_start"]), int(meta["start"]), int(meta["stop"])
    n_story = stop - story_start
    rel = np.clip(tokens["volume"].to_numpy(dtype=int) - story_start, 0, n_story - 1)
    content = ~tokens["special"].to_numpy(dtype=bool)

    n_tokens = np.bincount(rel[content], minlength=n_story).astype(float)
    tr_words = np.unique(np.c_[rel[content], tokens["word_index"].to_numpy(dtype=int)[content]],
                         axis=0)
    n_words = np.bincount(tr_words[:, 0], minlength=n_story).astype(float)

    spline = SplineTransformer(n_knots=position_knots, degree=position_degree, knots="uniform")
    spline.fit(np.array([[0.0], [float(meta["max_tokens"])]]))
    basis = spline.transform(tokens[["position"]].to_numpy(dtype=float))  # (n_tokens, n_basis)
    all_counts = np.bincount(rel, minlength=n_story)
    sums = np.zeros((n_story, basis.shape[1]))
    np.add.at(sums, rel, basis)
    position = sums / np.maximum(all_counts, 1)[:, None]  # zero where a TR has no token

    raw = np.column_stack([n_tokens, n_words, (n_words > 0).astype(float), position])
    hrf = convolve_hrf(raw, float(meta["tr"]), meta["hrf_model"]).astype(float)
    kept = hrf[start - story_start:]
    names = ["tokens", "words", "speech"] + [f"position_{j}" for j in range(basis.shape[1])]
    keep = np.r_[np.ones(3, dtype=bool), np.ptp(kept[:, 3:], axis=0) > 0]
    return pd.DataFrame(kept[:, keep], columns=[n for n, k in zip(names, keep) if k])


def _design(x, regressors) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as float64 (n_trs, n_series) and the design [1, regressors]."""
    x = np.asarray(x, dtype=float)
    r = np.asarray(regressors, dtype=float)
    if x.ndim != 2:
        raise ParameterError(f"x must be 2-D (n_trs, n_series), not of shape {x.shape}")
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2 or len(r) != len(x):
        raise ParameterError(f"regressors (shape {r.shape}) must have one row per row of x "
                             f"({len(x)} TRs)")
    return x, np.column_stack([np.ones(len(x)), r])


def residualize(x, regressors) -> np.ndarray:
    """Residuals of an ordinary least-squares fit, with intercept, of each column on the
    regressors (one :func:`numpy.linalg.lstsq` for all columns; a collinear design gets its
    minimum-norm fit, whose residuals are the same).

    Parameters
    ----------
    x : array_like of shape (n_trs, n_series)
        Time series, time first (e.g. ``activations_hrf.reshape(n_trs, -1)``).
    regressors : array_like or DataFrame of shape (n_trs, n_regressors)
        From :func:`nuisance_regressors`.

    Returns
    -------
    ndarray of shape (n_trs, n_series), float64
    """
    x, design = _design(x, regressors)
    beta = np.linalg.lstsq(design, x, rcond=None)[0]
    return x - design @ beta


def nuisance_r2(x, regressors) -> np.ndarray:
    """In-sample R^2 of the fit of :func:`residualize`, per column.

    Parameters
    ----------
    x : array_like of shape (n_trs, n_series)
    regressors : array_like or DataFrame of shape (n_trs, n_regressors)

    Returns
    -------
    ndarray of shape (n_series,)
        ``1 - SS_residual / SS_total``; NaN for a constant column.
    """
    x, _ = _design(x, regressors)
    ss_res = (residualize(x, regressors) ** 2).sum(0)
    ss_tot = ((x - x.mean(0)) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def cross_story_correlation(x_a, x_b) -> np.ndarray:
    """Pearson's r of the same column of two stories over their first common TRs.

    Parameters
    ----------
    x_a : array_like of shape (n_trs_a, n_series)
    x_b : array_like of shape (n_trs_b, n_series)
        The same series (e.g. ANs in ``an_names`` order) in another story.

    Returns
    -------
    ndarray of shape (n_series,)
        r over the first ``min(n_trs_a, n_trs_b)`` TRs; NaN where a column is constant there.
    """
    a, b = np.asarray(x_a, dtype=float), np.asarray(x_b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ParameterError(f"x_a and x_b must be 2-D with the same series (columns), not of "
                             f"shapes {a.shape} and {b.shape}")
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(0), b[:n] - b[:n].mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a * b).sum(0) / np.sqrt((a ** 2).sum(0) * (b ** 2).sum(0))


def load_nuisance(folder) -> pd.DataFrame:
    """A story's nuisance regressors, written by 02_ans (``<folder>/nuisance.tsv``),
    shape (n_trs, n_regressors)."""
    from pathlib import Path

    from ..io import read_table

    path = Path(folder) / "nuisance.tsv"
    if not path.is_file():
        raise DataError(f"{path} is missing (written by 02_ans since the nuisance "
                        "regressors were added): re-run the 02_ans stage")
    return read_table(path)

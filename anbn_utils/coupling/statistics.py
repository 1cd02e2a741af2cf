"""Coupling ANs and BNs in one story: synchronization, anchors (Eq. 1, Eq. 2), the tests.

The synchronization of AN ``i`` and BN ``k`` is the Pearson correlation of their time
courses over the kept TRs of a story, computed for all pairs at once as one matrix
product of standardized series.  Eq. 1 anchors each AN to the BN it correlates with most,
Eq. 2 each BN to its AN.

Significance (:func:`max_statistic_test`, built from :mod:`anbn_utils.inference`): the
correlations of every AN x BN pair are recomputed under each null model (``'shuffle'``,
the paper's plain reading and invalid for smooth series; ``'circular'``, every circular
lag, exact; ``'phase'``, phase randomization), the same randomization applied to all BNs.
Three readings per null model (read at every level of ``alphas`` by
:func:`anbn_utils.coupling.summaries.summarize`):

- **FWER**: family-wise adjusted p-values by the step-down maximum statistic over all
  AN x BN pairs of the story; an AN (BN) is significant when its best pair is;
- **FDR**: Benjamini-Hochberg (``scipy.stats.false_discovery_control``) on each AN's
  (BN's) p-value against its own null maxima, refined below the permutation floor by a
  generalized Pareto tail;
- the **resolution** of each null, its smallest attainable p-value ``1 / (1 + B)``.

:func:`couple_story` runs the whole of one story; :func:`surrogate_series` is the
``an_surrogate`` control.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import false_discovery_control
from tqdm import tqdm

from ..choices import AN_SURROGATES, NULL_MODELS
from ..errors import DataError, ParameterError
from ..inference import (
    MaxStatistic,
    check_randomizations,
    n_randomizations,
    null_copies,
    randomize,
    tail_p_values,
)
from ..inference.familywise import EXACT_ANS
from ..paper import ALPHA
from ..stats import zscore
from .summaries import check_alphas

__all__ = [
    "NULL_MODELS",
    "anchors",
    "couple_story",
    "max_statistic_test",
    "pcc_matrix",
    "randomize",
    "standardize",
    "surrogate_series",
]


def standardize(x: torch.Tensor, names=None, what: str = "series") -> torch.Tensor:
    """Columns with zero mean and unit norm (so that ``a.T @ b`` is Pearson's r): the
    z-scores (:func:`anbn_utils.stats.zscore`) divided by ``sqrt(n_trs)``.

    Parameters
    ----------
    x : Tensor of shape (n_trs, n_units)

    Returns
    -------
    Tensor of shape (n_trs, n_units)

    Raises a :class:`DataError` naming the constant or non-finite columns.
    """
    bad = ~torch.isfinite(x).all(0)
    if bad.any():
        raise DataError(f"{what}: NaN or infinite values in {_name(bad, names)}")
    const = (x - x.mean(0)).norm(dim=0) <= 1e-8 * (1 + x.abs().amax(0))
    if const.any():
        raise DataError(f"{what}: constant (zero-variance) series {_name(const, names)}; "
                        "a correlation is undefined")
    return zscore(x, axis=0) / math.sqrt(x.shape[0])


def _name(mask: torch.Tensor, names) -> str:
    idx = torch.nonzero(mask).flatten().tolist()
    shown = [names[i] if names is not None else str(i) for i in idx[:5]]
    return f"{len(idx)} unit(s): {', '.join(shown)}{' ...' if len(idx) > 5 else ''}"


def pcc_matrix(ans: torch.Tensor, bns: torch.Tensor, *, an_names=None, bn_names=None,
               story: str = "") -> torch.Tensor:
    """Pearson correlation of every AN with every BN.

    Parameters
    ----------
    ans : Tensor of shape (n_trs, n_ans)
    bns : Tensor of shape (n_trs, n_bns)

    Returns
    -------
    Tensor of shape (n_ans, n_bns)
    """
    if ans.shape[0] != bns.shape[0]:
        raise DataError(f"story {story!r}: AN series have {ans.shape[0]} TRs but BN series "
                        f"{bns.shape[0]}; both must be on the kept volumes of the story")
    a = standardize(ans.to(torch.float64), an_names, f"story {story!r}, ANs")
    b = standardize(bns.to(torch.float64), bn_names, f"story {story!r}, BNs")
    return (a.T @ b).to(ans.dtype)


def anchors(pcc: torch.Tensor, mode: str = "signed") -> dict[str, torch.Tensor]:
    """Eq. 1 and Eq. 2: each AN's best BN and each BN's best AN.

    Parameters
    ----------
    pcc : Tensor of shape (n_ans, n_bns)
    mode : {'signed', 'abs'}
        Maximize r (the paper) or |r|.

    Returns
    -------
    dict with ``an_to_bn`` (n_ans,), ``an_max`` (n_ans,), ``bn_to_an`` (n_bns,),
    ``bn_max`` (n_bns,); maxima are of the signed r at the chosen partner.
    """
    score = _score(pcc, mode)
    an_to_bn = score.argmax(1)
    bn_to_an = score.argmax(0)
    return {"an_to_bn": an_to_bn, "an_max": pcc.gather(1, an_to_bn[:, None])[:, 0],
            "bn_to_an": bn_to_an, "bn_max": pcc.gather(0, bn_to_an[None])[0]}


def _score(pcc, mode):
    if mode == "signed":
        return pcc
    if mode == "abs":
        return pcc.abs()
    raise ParameterError(f"mode must be 'signed' or 'abs', not {mode!r}")


def surrogate_series(x: np.ndarray, method: str | None = "phase", *, random_state: int = 0,
                     story: int = 0) -> np.ndarray:
    """A surrogate of every column of ``x`` (the ``an_surrogate`` control), or ``x``.

    ``'phase'``: phase randomization by :func:`randomize` (the phase null of the BNs),
    one draw of random phases shared by all columns, so each column keeps its power
    spectrum and the columns keep their correlations with each other, while their timing
    is random.  Each column is brought back to its own mean and standard deviation (which
    the randomization keeps: the zero-frequency term and the amplitudes are unchanged), so
    the surrogate has exactly the column's power spectrum.

    Parameters
    ----------
    x : ndarray of shape (n_trs, n_series)
    method : {'phase'} or None
        None returns ``x`` unchanged.
    random_state : int
        The run's seed.  The phases come from a generator seeded from
        ``(random_state, story)`` by :class:`numpy.random.SeedSequence`, not from
        ``random_state`` itself, so they are not the first draw of the BN phase null run
        with the same seed.
    story : int
        Index of the story, so that each story gets its own phases.

    Returns
    -------
    ndarray of the shape and dtype of ``x``
    """
    if method is None:
        return x
    if method not in AN_SURROGATES:
        raise ParameterError(f"an_surrogate must be None or one of {AN_SURROGATES}, not {method!r}")
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    seed = int(np.random.SeedSequence([random_state, story, 0x5E]).generate_state(1)[0])
    out = randomize(t, 1, method, torch.Generator().manual_seed(seed))[0]  # z-scores / sqrt(T)
    sd = t.std(0, unbiased=False)
    out = out * math.sqrt(t.shape[0]) * sd + t.mean(0)
    return out.numpy().astype(np.asarray(x).dtype)


def max_statistic_test(
    ans: torch.Tensor, bns: torch.Tensor, *, null: str = "circular",
    n_permutations: int = 5000, mode: str = "signed", random_state: int = 0,
    chunk: int = 64, min_shift: int = 1, fdr_tail: bool = True,
    tail_options: dict | None = None, exact_ans: int | None = EXACT_ANS,
    regressors: np.ndarray | None = None, progress: bool = False, story: str = "",
) -> dict:
    """Permutation tests of every AN x BN pair, each AN's and each BN's maximum.

    Per randomization of the null model (:mod:`anbn_utils.inference.nulls`), the
    correlation of every AN with every randomized BN series is recomputed (one batched
    matrix product per chunk of randomizations).  From those:

    - **uncorrected** p-values of each AN's maximum over BNs (Eq. 1) and each BN's maximum
      over ANs (Eq. 2), against their own null maxima (so the choice of the best partner is
      accounted for): ``(1 + count) / (1 + B)``;
    - **family-wise** adjusted p-values of every pair, AN and BN by the step-down maximum
      statistic over all AN x BN pairs (:class:`anbn_utils.inference.MaxStatistic`);
    - **false-discovery** q-values (Benjamini-Hochberg) of the ANs' and BNs' p-values,
      refined below the permutation floor by a generalized Pareto tail where
      ``fdr_tail`` (:func:`anbn_utils.inference.tail_p_values`).

    Parameters
    ----------
    ans : Tensor of shape (n_trs, n_ans)
    bns : Tensor of shape (n_trs, n_bns)
    null : {'shuffle', 'circular', 'phase'}
    n_permutations : int
        Randomizations B of the shuffle and phase nulls; the circular null enumerates
        every admissible lag instead (:func:`anbn_utils.inference.circular_lags`).
    mode : {'signed', 'abs'}
        The pair statistic: r (the paper) or |r|.
    random_state : int
    chunk : int
        Randomized copies per batched matrix product.
    min_shift : int
        Circular lags with ``min(L, T - L) < min_shift`` are left out (1: none; a window
        makes the test liberal, see :mod:`anbn_utils.inference.nulls`).
    fdr_tail : bool
        Refine p-values at the permutation floor by the tail approximation before the FDR
        correction.
    tail_options : dict, optional
        Keyword arguments of :func:`anbn_utils.inference.tail_p_values` (its defaults
        otherwise); the calibration study measures other choices with it.
    exact_ans : int or None
        The ANs of largest statistic whose pairs get the exact step-down; the others get a
        conservative bound (:class:`anbn_utils.inference.MaxStatistic`).  None: all.
    regressors : ndarray of shape (n_trs, n_regressors), optional
        The nuisance regressors the ANs and BNs were residualized on: every randomized copy
        of the BNs is residualized on them too (:func:`anbn_utils.inference.null_copies`).

    Returns
    -------
    dict
        ``pcc`` (n_ans, n_bns); ``an_to_bn``, ``an_max``, ``an_p``, ``an_p_tail``,
        ``an_q``, ``an_p_fwer`` (n_ans,); the same for BNs (n_bns,); ``pair_p_fwer``
        (n_ans, n_bns); ``family_null`` (B,), the family's maximum per randomization;
        ``n_randomizations`` B; ``tail``: ``{"ans": counts, "bns": counts}`` of
        :meth:`anbn_utils.inference.TailPValues.counts`.
    """
    B = n_randomizations(null, n_permutations, ans.shape[0], min_shift)
    a = standardize(ans.to(torch.float32), what=f"story {story!r}, ANs")
    b = standardize(bns.to(torch.float32), what=f"story {story!r}, BNs")
    if a.shape[0] != b.shape[0]:
        raise DataError(f"story {story!r}: {a.shape[0]} AN TRs but {b.shape[0]} BN TRs")
    pcc = a.T @ b
    obs = anchors(pcc, mode)
    score = _score(pcc, mode)
    gen = torch.Generator(device=b.device).manual_seed(random_state)
    acc = MaxStatistic(score, B, exact_ans=exact_ans)
    copies = null_copies(b, null, n_permutations, gen, min_shift=min_shift, chunk=chunk,
                         regressors=regressors)
    for null_b in tqdm(copies, total=-(-B // chunk), desc=f"{null} null", disable=not progress):
        n = null_b.shape[0]
        # one (n_ans x T) @ (T x n*n_bns) product for the whole chunk (faster than n batched
        # products with few BNs, measured), then (n, n_ans, n_bns)
        flat = null_b.to(a.dtype).permute(1, 0, 2).reshape(b.shape[0], -1)
        null_pcc = (a.T @ flat).reshape(a.shape[1], n, b.shape[1]).permute(1, 0, 2)
        acc.add(_score(null_pcc, mode))
    pair_p = acc.pair_p()
    out = {"pcc": pcc.cpu().numpy(), "an_to_bn": obs["an_to_bn"].cpu().numpy(),
           "an_max": obs["an_max"].cpu().numpy(), "bn_to_an": obs["bn_to_an"].cpu().numpy(),
           "bn_max": obs["bn_max"].cpu().numpy(), "pair_p_fwer": pair_p.cpu().numpy(),
           "family_null": acc.family_null.cpu().numpy(), "n_randomizations": B, "tail": {}}
    for unit, axis, null_max in (("an", 1, acc.an_null), ("bn", 0, acc.bn_null)):
        observed = score.amax(axis).cpu().numpy()
        options = {**(tail_options or {}), **({} if fdr_tail else {"min_count": 0})}
        tail = tail_p_values(observed, null_max.cpu().numpy(), **options)
        out[f"{unit}_p"] = tail.permutation_p
        out[f"{unit}_p_tail"] = tail.p
        out[f"{unit}_q"] = false_discovery_control(tail.p, method="bh")
        out[f"{unit}_p_fwer"] = pair_p.amin(axis).cpu().numpy()
        out["tail"][f"{unit}s"] = tail.counts()
    return out


def couple_story(ans: np.ndarray, bns: np.ndarray, *, nulls=NULL_MODELS,
                 n_permutations: int = 5000, mode: str = "signed", random_state: int = 0,
                 min_shift: int = 1, alphas: Sequence[float] = (ALPHA, 0.05),
                 fdr_tail: bool = True, tail_options: dict | None = None,
                 regressors: np.ndarray | None = None, exact_ans: int | None = EXACT_ANS,
                 device: str = "cpu", story: str = "", an_names=None, bn_names=None) -> dict:
    """PCC, anchors and the permutation tests under each null model, for one story.

    Parameters
    ----------
    ans : ndarray of shape (n_trs, n_ans)
        HRF-convolved AN series.
    bns : ndarray of shape (n_trs, n_bns)
        Subject-averaged BN series.
    nulls, n_permutations, mode, random_state, min_shift, fdr_tail, tail_options, regressors,
    exact_ans
        See :func:`max_statistic_test`.
    alphas : sequence of float
        The levels that will be read: every null model must be able to resolve them
        (checked before any computation, :func:`anbn_utils.inference.check_randomizations`).

    Returns
    -------
    dict with ``pcc`` (n_ans, n_bns), the anchors of :func:`anchors` as ndarrays, and
    ``tests``: null model -> :func:`max_statistic_test` output.
    """
    check_randomizations(nulls, n_permutations, len(ans), check_alphas(alphas),
                         min_shift=min_shift, story=story)  # before any computation
    a = torch.tensor(np.asarray(ans, dtype=np.float32), device=device)
    b = torch.tensor(np.asarray(bns, dtype=np.float32), device=device)
    pcc = pcc_matrix(a, b, an_names=an_names, bn_names=bn_names, story=story)
    anch = {k: v.cpu().numpy() for k, v in anchors(pcc, mode).items()}
    tests = {null: max_statistic_test(a, b, null=null, n_permutations=n_permutations,
                                      mode=mode, random_state=random_state, min_shift=min_shift,
                                      fdr_tail=fdr_tail, tail_options=tail_options,
                                      regressors=regressors, exact_ans=exact_ans, story=story)
             for null in nulls}
    return {"pcc": pcc.cpu().numpy(), **anch, "tests": tests}

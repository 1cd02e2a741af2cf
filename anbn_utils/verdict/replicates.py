"""The statistics of the paper's claims, on a run and on its replicates.

A claim such as "the ANs' maximal PCC rises with depth" is a statistic of the AN x BN
correlation matrix.  To say whether a run reproduces it, the statistic needs a null *from
the run itself*, and to compare two runs it needs an interval; both come from recomputing
the statistic on replicates of the story's series:

- **randomizations** (:func:`claim_replicates` with ``kind="null"``): the BN series
  randomized by the null model of the coupling test (every circular lag, or phase
  randomization with the same phases for every BN), so the coupling between ANs and BNs is
  broken while each side keeps its own autocorrelation and the BNs their correlation with
  each other, and the ANs are untouched (the dimensions of one head stay as dependent as
  they are);
- **bootstrap** (``kind="boot"``): moving-block resamples of the TRs (the same TRs for the
  ANs and the BNs), so the statistic's sampling spread is kept with the dependence between
  neighbouring TRs.  Two runs of equal length and seed are resampled at the same TRs.

Every replicate gives the same :data:`FIELDS` as the observed series, so the observed value
of a claim and its replicates are computed by one function.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..coupling.statistics import _score, standardize
from ..errors import DataError, ParameterError
from ..inference.nulls import null_copies
from ..stats import moving_block_counts

__all__ = [
    "FIELDS",
    "KINDS",
    "ClaimReplicates",
    "check_replicate_options",
    "claim_replicates",
    "load_replicates",
    "save_replicates",
]

#: What each replicate records: per layer the mean of the ANs' maximal PCC (Eq. 1), the %
#: of ANs whose maximal PCC is below the threshold and the BNs' best ANs (Eq. 2) in that
#: layer; the mean of the BNs' maximal PCC; the most-anchored BN's share of the ANs whose
#: maximal PCC reaches the threshold, and which ANs those are (packed bits).
FIELDS = ("an_max_per_layer", "below_pct_per_layer", "anchored_per_layer", "bn_max_mean",
          "most_anchored_share", "most_anchored_ans")

#: The replicates of a story: the observed series, the null's randomizations, the bootstrap.
KINDS = ("observed", "null", "boot")

#: Default moving-block length in TRs (as :data:`anbn_utils.predictive.DEFAULT_BLOCK`).
DEFAULT_BLOCK = 20


@dataclass(frozen=True)
class ClaimReplicates:
    """One kind of replicate of a story: one row per replicate.

    Attributes
    ----------
    an_max_per_layer, below_pct_per_layer, anchored_per_layer : ndarray of shape (n, n_layers)
    bn_max_mean, most_anchored_share : ndarray of shape (n,)
        The share is 0 where no AN reaches the threshold.
    most_anchored_ans : ndarray of shape (n, ceil(n_ans / 8)), uint8
        ``np.packbits`` of the ANs anchored to the most-anchored BN (ties: the lower BN).
    n_ans : int
    """

    an_max_per_layer: np.ndarray
    below_pct_per_layer: np.ndarray
    anchored_per_layer: np.ndarray
    bn_max_mean: np.ndarray
    most_anchored_share: np.ndarray
    most_anchored_ans: np.ndarray
    n_ans: int

    def __len__(self) -> int:
        return len(self.bn_max_mean)

    def anchored(self) -> np.ndarray:
        """The most-anchored BN's ANs as a boolean array of shape (n, n_ans)."""
        return np.unpackbits(self.most_anchored_ans, axis=1, count=self.n_ans).astype(bool)


def _statistics(pcc: torch.Tensor, n_layers: int, threshold: float, mode: str) -> dict:
    """:data:`FIELDS` of a batch of correlation matrices (n, n_ans, n_bns)."""
    n, m, k = pcc.shape
    score = _score(pcc, mode)
    an_to_bn = score.argmax(2)
    an_max = pcc.gather(2, an_to_bn[..., None])[..., 0]  # (n, m)
    bn_to_an = score.argmax(1)
    bn_max = pcc.gather(1, bn_to_an[:, None])[:, 0]  # (n, k)
    per_layer = m // n_layers
    layer_of = torch.arange(m, device=pcc.device) // per_layer
    anchored_layer = torch.nn.functional.one_hot(layer_of[bn_to_an], n_layers).sum(1)
    reaches = an_max >= threshold
    counts = torch.zeros(n, k, dtype=torch.long, device=pcc.device)
    counts.scatter_add_(1, an_to_bn, reaches.long())
    top = counts.argmax(1)  # the first maximum: the lower BN on a tie
    total = counts.sum(1)
    share = torch.where(total > 0, counts.max(1).values / total.clamp(min=1), 0.0)
    selected = reaches & (an_to_bn == top[:, None]) & (total > 0)[:, None]
    layered = an_max.reshape(n, n_layers, per_layer)
    return {
        "an_max_per_layer": layered.mean(2).double().cpu().numpy(),
        "below_pct_per_layer": (100 * (layered < threshold).double().mean(2)).cpu().numpy(),
        "anchored_per_layer": anchored_layer.double().cpu().numpy(),
        "bn_max_mean": bn_max.double().mean(1).cpu().numpy(),
        "most_anchored_share": share.double().cpu().numpy(),
        "most_anchored_ans": np.packbits(selected.cpu().numpy(), axis=1),
    }


def _weighted_pcc(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Pearson's r of every column of ``a`` (T, m) with every column of ``b`` (T, k), the
    TRs weighted by each row of ``w`` (n, T) (multiplicities of a resample): (n, m, k)."""
    total = w.sum(1, keepdim=True)
    ma, mb = (w @ a) / total, (w @ b) / total  # (n, m), (n, k)
    cov = torch.einsum("tm,ntk->nmk", a, w[:, :, None] * b) / total[:, :, None] \
        - ma[:, :, None] * mb[:, None, :]
    va = (w @ a**2) / total - ma**2
    vb = (w @ b**2) / total - mb**2
    return cov / torch.sqrt(va[:, :, None] * vb[:, None, :]).clamp(min=1e-300)


def check_replicate_options(null: str, n_boot: int, block: int, n_trs: int,
                            story: str = "") -> None:
    """A :class:`ParameterError` naming the parameter (``claim_null``, ``claim_boot``,
    ``claim_block``) that :func:`claim_replicates` cannot use on ``n_trs`` TRs."""
    where = f"story {story!r}: " if story else ""
    if null not in ("circular", "phase"):
        raise ParameterError(f"claim_null must be 'circular' or 'phase', not {null!r} (the "
                             "shuffle null breaks the autocorrelation of the series)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ParameterError(f"claim_boot must be a positive integer, not {n_boot!r}")
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) \
            or not 1 <= block <= n_trs:
        raise ParameterError(f"{where}claim_block must be an integer from 1 to the story's "
                             f"{n_trs} TRs, not {block!r}")


def claim_replicates(ans: np.ndarray, bns: np.ndarray, n_layers: int, *, kind: str,
                     threshold: float = 0.25, mode: str = "signed", null: str = "circular",
                     n_permutations: int = 5000, min_shift: int = 1,
                     regressors: np.ndarray | None = None, n_boot: int = 1000,
                     block: int = DEFAULT_BLOCK, random_state: int = 0,
                     chunk: int = 32, device: str | torch.device = "cpu") -> ClaimReplicates:
    """The claims' statistics (:data:`FIELDS`) of a story, observed or on its replicates.

    Parameters
    ----------
    ans : ndarray of shape (n_trs, n_ans)
        The AN series the coupling is computed on, in layer order (every layer the same
        number of ANs).
    bns : ndarray of shape (n_trs, n_bns)
    n_layers : int
    kind : {'observed', 'null', 'boot'}
        The series as they are (one row), the null model's randomizations of the BNs, or
        moving-block bootstrap resamples of the TRs.
    threshold : float
        The PCC an AN's maximum must reach to count as anchored (the paper: 0.25).
    mode : {'signed', 'abs'}
        Maximize r (the paper) or |r|.
    null : {'circular', 'phase'}
        The randomizations of ``kind='null'`` (:func:`anbn_utils.inference.null_copies`:
        every circular lag; or ``n_permutations`` phase randomizations); ``'shuffle'`` is
        refused (it breaks the autocorrelation, the null of no coupling would be too narrow).
    n_permutations, min_shift, regressors
        As in :func:`anbn_utils.coupling.statistics.max_statistic_test`.
    n_boot : int
        Resamples of ``kind='boot'``.
    block : int
        TRs per block of the bootstrap.
    random_state : int
        Seeds the phase randomizations and the resampling: runs of the same length and seed
        are resampled at the same TRs (paired).
    chunk : int
        Replicates per batched product.
    device : str or torch.device

    Returns
    -------
    ClaimReplicates
    """
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {KINDS}, not {kind!r}")
    ans, bns = np.asarray(ans, dtype=np.float64), np.asarray(bns, dtype=np.float64)
    if ans.ndim != 2 or bns.ndim != 2 or len(ans) != len(bns):
        raise DataError(f"ANs {ans.shape} and BNs {bns.shape} must be (n_trs, n_units) with "
                        "the same TRs")
    if n_layers < 1 or ans.shape[1] % n_layers:
        raise DataError(f"{ans.shape[1]} ANs cannot be cut into {n_layers} equal layers")
    T = len(ans)
    check_replicate_options(null, n_boot, block, T)
    dev = torch.device(device)
    a = standardize(torch.as_tensor(ans, device=dev), what="ANs")
    b = standardize(torch.as_tensor(bns, device=dev), what="BNs")
    parts = []
    if kind == "observed":
        parts.append(_statistics((a.T @ b)[None], n_layers, threshold, mode))
    elif kind == "null":
        gen = torch.Generator(device=dev).manual_seed(random_state)
        reg = None if regressors is None else torch.as_tensor(regressors, device=dev)
        for copies in null_copies(b, null, n_permutations, gen, min_shift=min_shift,
                                  chunk=chunk, regressors=reg):
            parts.append(_statistics(torch.einsum("tm,ntk->nmk", a, copies), n_layers,
                                     threshold, mode))
    else:
        rng = np.random.default_rng(random_state)
        weights = torch.as_tensor(moving_block_counts(T, block, n_boot, rng), device=dev)
        for s in range(0, n_boot, chunk):
            parts.append(_statistics(_weighted_pcc(a, b, weights[s:s + chunk]), n_layers,
                                     threshold, mode))
    joined = {f: np.concatenate([p[f] for p in parts]) for f in FIELDS}
    return ClaimReplicates(**joined, n_ans=ans.shape[1])


def save_replicates(replicates: dict[str, ClaimReplicates], folder: str | os.PathLike) -> None:
    """Write a story's replicates (``{kind: ClaimReplicates}``) as
    ``claims_<kind>_<field>.npy`` in ``folder``."""
    from ..io import save_array

    for kind, rep in replicates.items():
        for f in FIELDS:
            save_array(Path(folder) / f"claims_{kind}_{f}.npy", getattr(rep, f))


def load_replicates(folder: str | os.PathLike, n_ans: int) -> dict[str, ClaimReplicates]:
    """Read what :func:`save_replicates` wrote; a kind with a missing file is left out."""
    out = {}
    for kind in KINDS:
        paths = {f: Path(folder) / f"claims_{kind}_{f}.npy" for f in FIELDS}
        if all(p.is_file() for p in paths.values()):
            out[kind] = ClaimReplicates(**{f: np.load(p) for f, p in paths.items()},
                                        n_ans=n_ans)
    return out

"""Family-wise error control by the maximum statistic, single-step and step-down.

The family is every AN x BN pair of a story.  Per randomization of the null model
(:mod:`anbn_utils.inference.nulls`), the statistic of every pair is recomputed; the
family-wise adjusted p-value of a pair is the share of randomizations whose maximum over
the family reaches the pair's observed statistic (Westfall and Young 1993; Nichols and
Holmes 2002), counting the observed data as one randomization:
``(1 + #{b: max_family null_b >= observed}) / (1 + B)``.  It controls the family-wise
error rate exactly under the randomization null, whatever the dependence between tests.

**Step-down** (Westfall and Young 1993, Algorithm 2.8; Holmes et al. 1996): the pairs are
ordered by their observed statistic; the pair of rank ``j`` is compared with the maximum
over the pairs of rank ``j`` and below only (the pairs already rejected are removed from
the family), and the adjusted p-values are made monotone.  It rejects everything the
single step rejects and more when several pairs are truly coupled: a planted pair's
correlation at a small circular lag is nearly its correlation at lag 0, and would
otherwise enter every other pair's null maximum.

An AN's adjusted p-value is that of its best pair (its maximum over BNs, the paper's
Eq. 1 statistic), a BN's that of its best pair (Eq. 2).
"""

from __future__ import annotations

import torch

__all__ = ["MaxStatistic"]


class MaxStatistic:
    """Accumulates randomizations of a family of pair statistics.

    Parameters
    ----------
    observed : Tensor of shape (n_ans, n_bns)
        The observed pair statistics (r, or |r|), larger is more extreme.
    n_randomizations : int
        How many randomizations :meth:`add` will be given in all.

    Attributes
    ----------
    an_null : Tensor of shape (n_ans, n_randomizations)
        Each AN's maximum over BNs, per randomization (its null distribution).
    bn_null : Tensor of shape (n_bns, n_randomizations)
        Each BN's maximum over ANs, per randomization.
    family_null : Tensor of shape (n_randomizations,)
        The maximum over the whole family, per randomization.
    """

    def __init__(self, observed: torch.Tensor, n_randomizations: int):
        n_ans, n_bns = observed.shape
        flat = observed.reshape(-1)
        # ascending: the successive maximum over the pairs ranked at or below a pair is a
        # running maximum from the bottom
        self._order = torch.argsort(flat, stable=True)
        self._sorted = flat[self._order]
        self._exceed = torch.zeros(flat.shape, dtype=torch.int64, device=flat.device)
        self._shape = observed.shape
        self.an_null = torch.empty(n_ans, n_randomizations, dtype=observed.dtype,
                                   device=observed.device)
        self.bn_null = torch.empty(n_bns, n_randomizations, dtype=observed.dtype,
                                   device=observed.device)
        self.family_null = torch.empty(n_randomizations, dtype=observed.dtype,
                                       device=observed.device)
        self.n_filled = 0

    def add(self, null: torch.Tensor) -> None:
        """Add randomizations: ``null`` of shape (n, n_ans, n_bns), the pair statistics of
        ``n`` randomized copies."""
        n = null.shape[0]
        s = slice(self.n_filled, self.n_filled + n)
        self.an_null[:, s] = null.amax(2).T
        self.bn_null[:, s] = null.amax(1).T
        # successive maxima: for each pair, the maximum over the pairs observed no larger
        successive = torch.cummax(null.reshape(n, -1)[:, self._order], 1).values
        self.family_null[s] = successive[:, -1]
        self._exceed += (successive >= self._sorted).sum(0)
        self.n_filled += n

    def pair_p(self, step_down: bool = True) -> torch.Tensor:
        """Family-wise adjusted p-values of every pair, shape (n_ans, n_bns)."""
        b = self.n_filled
        if step_down:
            p_sorted = (1 + self._exceed) / (1 + b)
            # monotone: a pair observed larger is never less significant
            p_sorted = p_sorted.flip(0).cummax(0).values.flip(0)
        else:
            family = torch.sort(self.family_null[:b]).values
            below = torch.searchsorted(family, self._sorted.contiguous(), side="left")
            p_sorted = (1 + b - below) / (1 + b)
        p = torch.empty_like(p_sorted, dtype=torch.float64)
        p[self._order] = p_sorted.to(torch.float64)
        return p.reshape(self._shape)

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

import math

import numpy as np
import torch

__all__ = ["EXACT_ANS", "MaxStatistic", "single_step_threshold"]


#: ANs whose pairs get the exact step-down by default (those with the largest observed
#: statistic); the other ANs' pairs get the single step, a conservative bound.  At the paper's size (9,216 ANs x 128 BNs, 5,000 randomizations) the step-down
#: over every pair cost three quarters of the test (the Performance page).
EXACT_ANS = 512


def single_step_threshold(family_null, alpha: float) -> float | None:
    """The statistic a pair must exceed to be significant family-wise at ``alpha`` in a
    single step: the order statistic of the family's null maxima that at most
    ``floor(alpha (1 + B)) - 1`` randomizations may reach; None when ``alpha`` is below the
    resolution ``1 / (1 + B)``."""
    desc = np.sort(np.asarray(family_null))[::-1]
    k = math.floor(alpha * (1 + len(desc))) - 1
    return float(desc[k]) if 0 <= k < len(desc) else None


def _single_step(null_max: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """``(1 + #{b: null_max_b >= observed}) / (1 + B)`` for each observed value."""
    b = len(null_max)
    below = torch.searchsorted(torch.sort(null_max).values, observed.contiguous(), side="left")
    return (1 + b - below).to(torch.float64) / (1 + b)


class MaxStatistic:
    """Accumulates randomizations of a family of pair statistics.

    The step-down is computed exactly for every pair of the ``exact_ans`` ANs with the
    largest observed statistic (their best pairs are the family's largest): for a pair of
    those, the maximum over the pairs observed no larger is the running maximum over their
    pairs, joined with the maximum over all other ANs' pairs (exact for every pair observed
    above all of those; larger, so conservative, for the rest).  A pair of another AN gets
    the single step (the family's maximum), a bound on its step-down p-value from above.
    Both keep the family-wise error rate: they reject a subset of what the exact step-down
    rejects, and exactly the same pairs while fewer than ``exact_ans`` ANs are significant.

    Parameters
    ----------
    observed : Tensor of shape (n_ans, n_bns)
        The observed pair statistics (r, or |r|), larger is more extreme.
    n_randomizations : int
        How many randomizations :meth:`add` will be given in all.
    exact_ans : int or None
        ANs whose pairs get the exact step-down (default :data:`EXACT_ANS`); None: all.

    Attributes
    ----------
    an_null : Tensor of shape (n_ans, n_randomizations)
        Each AN's maximum over BNs, per randomization (its null distribution).
    bn_null : Tensor of shape (n_bns, n_randomizations)
        Each BN's maximum over ANs, per randomization.
    family_null : Tensor of shape (n_randomizations,)
        The maximum over the whole family, per randomization.
    """

    def __init__(self, observed: torch.Tensor, n_randomizations: int,
                 exact_ans: int | None = EXACT_ANS):
        n_ans, n_bns = observed.shape
        dev, dtype = observed.device, observed.dtype
        by_an = torch.argsort(observed.amax(1), descending=True, stable=True)
        n_exact = n_ans if exact_ans is None else min(int(exact_ans), n_ans)
        self._exact, self._rest = by_an[:n_exact], by_an[n_exact:]
        flat = observed[self._exact].reshape(-1)
        # ascending: the successive maximum over the pairs observed no larger is a running
        # maximum from the bottom
        self._order = torch.argsort(flat, stable=True)
        self._sorted = flat[self._order]
        self._exceed = torch.zeros(flat.shape, dtype=torch.int64, device=dev)
        self._observed = observed
        self.an_null = torch.empty(n_ans, n_randomizations, dtype=dtype, device=dev)
        self.bn_null = torch.empty(n_bns, n_randomizations, dtype=dtype, device=dev)
        self.family_null = torch.empty(n_randomizations, dtype=dtype, device=dev)
        self._rest_null = torch.full((n_randomizations,), -torch.inf, dtype=dtype, device=dev)
        self.n_filled = 0

    def add(self, null: torch.Tensor) -> None:
        """Add randomizations: ``null`` of shape (n, n_ans, n_bns), the pair statistics of
        ``n`` randomized copies."""
        n = null.shape[0]
        s = slice(self.n_filled, self.n_filled + n)
        an_max = null.amax(2)  # (n, n_ans)
        self.an_null[:, s] = an_max.T
        self.bn_null[:, s] = null.amax(1).T
        self.family_null[s] = an_max.amax(1)
        if len(self._rest):
            self._rest_null[s] = an_max[:, self._rest].amax(1)
        exact = null[:, self._exact].reshape(n, -1)[:, self._order]
        successive = torch.maximum(torch.cummax(exact, 1).values, self._rest_null[s, None])
        self._exceed += (successive >= self._sorted).sum(0)
        self.n_filled += n

    def pair_p(self, step_down: bool = True) -> torch.Tensor:
        """Family-wise adjusted p-values of every pair, shape (n_ans, n_bns)."""
        b = self.n_filled
        obs = self._observed
        if not step_down:
            return _single_step(self.family_null[:b], obs.reshape(-1)).reshape(obs.shape)
        p = torch.empty(obs.shape, dtype=torch.float64, device=obs.device)
        exact = torch.empty_like(self._sorted, dtype=torch.float64)
        exact[self._order] = (1 + self._exceed).to(torch.float64) / (1 + b)
        p[self._exact] = exact.reshape(len(self._exact), -1)
        if len(self._rest):
            p[self._rest] = _single_step(self.family_null[:b], obs[self._rest].reshape(-1)
                                         ).reshape(len(self._rest), -1)
        # monotone: a pair observed larger is never less significant
        order = torch.argsort(obs.reshape(-1), stable=True)
        flat = p.reshape(-1)
        flat[order] = flat[order].flip(0).cummax(0).values.flip(0)
        return flat.reshape(obs.shape)

"""Top-k query-key token pairs of each AN within a segment.

For one AN the products over all pairs form the rank-1 matrix ``P = q k^T``
(``n x n``).  Sort ``q`` and ``k`` in descending order: in the corner where both are
non-negative, the product at ranks ``(r, c)`` is at most every product at ranks
``(r', c') <= (r, c)``, so it is among the ``k`` largest only if ``(r + 1)(c + 1) <= k``;
the same holds from the other end where both are non-positive.  When at least ``k``
products are positive, the top ``k`` lie in these two candidate sets of about
``k ln k`` pairs each, a fixed index pattern gathered for all ANs at once.  ANs with
fewer positive products (rare) and causal models (where a mask breaks the structure)
use a chunked brute-force ``topk`` over all pairs.  Ties may be ordered differently
from a full sort.
"""

from __future__ import annotations

import torch

__all__ = ["candidate_count", "top_pairs", "top_pairs_bruteforce"]


def _candidates(n: int, k: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted positions ``(row, col)`` of the candidates of both corners, without repeats.

    Corner A: ``(r, c)`` with ``(r + 1)(c + 1) <= k``; corner B: its mirror
    ``(n - 1 - r, n - 1 - c)``.  A position of B that is also in A (possible only when
    ``n <= k``) is dropped, so every candidate pair appears once.
    """
    r = torch.arange(min(n, k))
    r = r.repeat_interleave(torch.clamp(k // (r + 1), max=n))
    c = torch.cat([torch.arange(min(n, k // (i + 1))) for i in range(min(n, k))])
    rb, cb = n - 1 - r, n - 1 - c
    keep_b = (rb + 1) * (cb + 1) > k
    rows = torch.cat([r, rb[keep_b]]).to(device)
    cols = torch.cat([c, cb[keep_b]]).to(device)
    return rows, cols


def top_pairs_bruteforce(
    q: torch.Tensor, k: torch.Tensor, top: int, *, causal: bool = False, chunk: int = 256,
    allowed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top ``top`` products ``q[u, a] * k[u, b]`` per unit ``u`` over all pairs, chunked.

    Parameters
    ----------
    q, k : Tensor of shape (n_units, n_tokens), or (n_units, n_parts, n_tokens)
        With parts, a unit's product is the sum over its parts, ``sum_c q[u, c, a] *
        k[u, c, b]`` (the rotary pair units: :func:`anbn_utils.ans.pairs.rotary_pair_units`).
    top : int
    causal : bool
        Only pairs with ``b <= a``.
    chunk : int
        Units per batch (memory: ``chunk * n_tokens**2`` floats).
    allowed : Tensor of shape (n_tokens, n_tokens), bool, optional
        Only the pairs ``(a, b)`` it marks True (a model's mask, e.g. a sliding window;
        :func:`anbn_utils.ans.pairs.allowed_pairs`); replaces ``causal``.

    Returns
    -------
    values : Tensor (n_units, top)
    query, key : Tensor (n_units, top), int64 token positions
    """
    n_units, n = q.shape[0], q.shape[-1]
    if allowed is None and causal:
        allowed = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
    mask = None if allowed is None else allowed.to(q.device).logical_not()
    top = min(top, n * n if allowed is None else int(allowed.sum()))
    vals, idx = [], []
    for s in range(0, n_units, chunk):
        prod = (q[s:s + chunk, :, None] * k[s:s + chunk, None, :] if q.dim() == 2 else
                torch.einsum("uca,ucb->uab", q[s:s + chunk], k[s:s + chunk]))
        if mask is not None:
            prod = prod.masked_fill(mask, -torch.inf)
        v, i = prod.flatten(1).topk(top, dim=1)
        vals.append(v)
        idx.append(i)
    v, i = torch.cat(vals), torch.cat(idx)
    return v, i // n, i % n


def top_pairs(
    q: torch.Tensor, k: torch.Tensor, top: int, *, causal: bool = False, chunk: int = 1024,
    allowed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top ``top`` query-key pairs per unit, using the rank-1 structure (see module doc).

    Same inputs and outputs as :func:`top_pairs_bruteforce`; values are sorted in
    descending order.  A mask (``causal``, or ``allowed`` pairs other than all) breaks the
    structure: brute force.
    """
    n_units, n = q.shape
    if allowed is not None and bool(allowed.all()):
        allowed = None
    if causal or allowed is not None:
        return top_pairs_bruteforce(q, k, top, causal=causal, allowed=allowed)
    rows, cols = _candidates(n, top, q.device)
    if 2 * len(rows) >= n * n:  # short segments: the full product is as cheap
        return top_pairs_bruteforce(q, k, top)
    out_v = torch.empty(n_units, top, dtype=q.dtype, device=q.device)
    out_q = torch.empty(n_units, top, dtype=torch.long, device=q.device)
    out_k = torch.empty_like(out_q)
    for s in range(0, n_units, chunk):
        qs, ks = q[s:s + chunk], k[s:s + chunk]
        qv, qi = qs.sort(dim=1, descending=True)
        kv, ki = ks.sort(dim=1, descending=True)
        v, j = (qv[:, rows] * kv[:, cols]).topk(top, dim=1)
        out_v[s:s + chunk] = v
        out_q[s:s + chunk] = qi.gather(1, rows[j])
        out_k[s:s + chunk] = ki.gather(1, cols[j])
    # exact only where at least `top` products are positive; redo the others by brute force
    n_pos = ((q > 0).sum(1) * (k > 0).sum(1) + (q < 0).sum(1) * (k < 0).sum(1))
    redo = torch.nonzero(n_pos < top).flatten()
    if len(redo):
        v, a, b = top_pairs_bruteforce(q[redo], k[redo], top)
        out_v[redo], out_q[redo], out_k[redo] = v, a, b
    return out_v, out_q, out_k


def candidate_count(n: int, top: int) -> int:
    """Number of pairs examined per unit by :func:`top_pairs` (at most ``2 top (1 + ln top)``)."""
    return len(_candidates(n, top, "cpu")[0])


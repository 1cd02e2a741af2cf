"""Means of query-key products over the token pairs an attention mask allows.

An artificial neuron (layer, query head ``h``, dimension ``i``) contributes
``q[h, a, i] * k[g(h), b, i]`` to the logit of query token ``a`` and key token ``b``
(:mod:`anbn_utils.ans.attention`; ``g(h)`` is the key-value head of query head ``h``).  Its
activation over a set of pairs is the mean of that product over the pairs.  The sets here are
the pairs the model's own mask allows (:func:`allowed_pairs`), optionally restricted to pairs
whose two tokens share a group (a TR, as :func:`anbn_utils.ans.activations.aggregate_trs`
does).  For the three structures models produce the mean has a closed form in sums of
per-token vectors (``O(T d)`` per head, no ``T x T`` product):

* ``'all'`` (bidirectional encoders): ``(sum_a q_a)(sum_b k_b) / T^2``;
* ``'causal'`` (``b <= a``): ``sum_a q_a * cumsum(k)_a / (T (T + 1) / 2)``;
* ``'band'`` of width ``w`` (sliding window, ``a - w < b <= a``): ``sum_a q_a *
  (cumsum(k)_a - cumsum(k)_{a-w}) / count``.

Any other mask (padding, arbitrary patterns) is ``'general'``: the slow path multiplies the
boolean ``(T, T)`` matrix with the keys (``O(T^2 d)`` per key head, in chunks of heads).

:func:`rotary_pair_units` sums the dimensions a rotary embedding rotates together
(``i`` and ``i + r/2``), the unit whose product depends on the two tokens' distance only
(for fixed content).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..errors import ParameterError

__all__ = [
    "STRUCTURES",
    "MaskStructure",
    "PairMeans",
    "allowed_pairs",
    "group_sums",
    "pair_mean",
    "rotary_pair_units",
]

#: Mask structures :func:`allowed_pairs` recognises.
STRUCTURES = ("all", "causal", "band", "general")


@dataclass(frozen=True)
class MaskStructure:
    """The token pairs an attention mask allows.

    Attributes
    ----------
    kind : {'all', 'causal', 'band', 'general'}
        ``'all'``: every pair; ``'causal'``: ``b <= a``; ``'band'``: ``a - window < b <= a``
        (a band at least as wide as the sequence is reported as ``'causal'``); ``'general'``:
        anything else (padding, arbitrary).
    window : int or None
        The band width ``w`` for ``'band'``; None otherwise.
    allowed : Tensor of shape (T_q, T_k), bool, or None
        ``allowed[a, b]``: query ``a`` may attend to key ``b``.  Needed for ``'general'``;
        None where the structure was named without a mask (``MaskStructure('causal')``).
    """

    kind: str
    window: int | None = None
    allowed: torch.Tensor | None = None

    def __post_init__(self):
        if self.kind not in STRUCTURES:
            raise ParameterError(f"mask structure must be one of {STRUCTURES}, not {self.kind!r}")
        if self.kind == "band" and (self.window is None or self.window < 1):
            raise ParameterError(f"a band needs a window >= 1, not {self.window!r}")
        if self.kind == "general" and self.allowed is None:
            raise ParameterError("a 'general' mask structure needs its allowed-pair matrix")

    def matrix(self, n_tokens: int) -> torch.Tensor:
        """The boolean ``(T, T)`` allowed-pair matrix (from ``allowed`` or the structure)."""
        if self.allowed is not None:
            return self.allowed
        a = torch.arange(n_tokens)[:, None]
        b = torch.arange(n_tokens)[None, :]
        if self.kind == "all":
            return torch.ones(n_tokens, n_tokens, dtype=torch.bool)
        if self.kind == "causal":
            return b <= a
        return (b <= a) & (b > a - self.window)


def allowed_pairs(mask: torch.Tensor | None, n_tokens: int | None = None) -> MaskStructure:
    """The allowed-pair matrix of a recorded additive mask and its structure.

    Parameters
    ----------
    mask : Tensor of shape (T_q, T_k), or (1, ..., 1, T_q, T_k), or None
        The additive mask of :class:`~anbn_utils.ans.attention.QKRecord` (``masks[layer]``
        of one sequence): 0 where allowed, ``-inf`` or a value below half the dtype's
        minimum where masked.  A boolean mask is read as True = allowed.  None (the model
        passed no mask): every pair.
    n_tokens : int, optional
        The sequence length, needed only when ``mask`` is None (for ``allowed``).

    Returns
    -------
    MaskStructure
        ``kind`` among ``'all'``, ``'causal'``, ``'band'`` (with ``window``) and
        ``'general'``; ``allowed`` of shape (T_q, T_k) (None when ``mask`` and ``n_tokens``
        are both None).
    """
    if mask is None:
        allowed = None if n_tokens is None else torch.ones(n_tokens, n_tokens, dtype=torch.bool)
        return MaskStructure("all", None, allowed)
    while mask.ndim > 2:
        if mask.shape[0] != 1:
            raise ParameterError(f"pass the mask of one sequence, not shape {tuple(mask.shape)}")
        mask = mask[0]
    if mask.dtype == torch.bool:
        allowed = mask.clone()
    else:
        allowed = (mask > torch.finfo(mask.dtype).min / 2) & torch.isfinite(mask)
    allowed = allowed.cpu()
    t_q, t_k = allowed.shape
    if bool(allowed.all()):
        return MaskStructure("all", None, allowed)
    if t_q != t_k:
        return MaskStructure("general", None, allowed)
    offset = torch.arange(t_q)[:, None] - torch.arange(t_k)[None, :]  # a - b
    if torch.equal(allowed, offset >= 0):
        return MaskStructure("causal", None, allowed)
    window = int(allowed[-1].sum())
    if window >= 1 and torch.equal(allowed, (offset >= 0) & (offset < window)):
        return MaskStructure("band", window, allowed)
    return MaskStructure("general", None, allowed)


@dataclass(frozen=True)
class PairMeans:
    """Sums and mean of ``q[h, a, i] * k[g(h), b, i]`` over the allowed pairs.

    Attributes
    ----------
    sums : Tensor of shape (n_heads, T, d)
        ``sums[h, a, i] = q[h, a, i] * sum_{b allowed for a} k[g(h), b, i]``: per query
        token, the sum of its allowed pairs' products.
    counts : Tensor of shape (T,)
        Number of allowed pairs of each query token (float, the dtype of ``q``).
    mean : Tensor of shape (n_heads, d)
        ``sums.sum(1) / counts.sum()``: the mean over every allowed pair (0 if none).
    """

    sums: torch.Tensor
    counts: torch.Tensor
    mean: torch.Tensor


def _kv_index(n_heads: int, n_kv_heads: int, kv_head_of) -> torch.Tensor:
    if kv_head_of is None:
        if n_heads % n_kv_heads:
            raise ParameterError(f"{n_heads} query heads do not group over {n_kv_heads} key heads")
        return torch.arange(n_heads) // (n_heads // n_kv_heads)
    if callable(kv_head_of):
        idx = torch.tensor([int(kv_head_of(h)) for h in range(n_heads)])
    else:
        idx = torch.as_tensor(kv_head_of, dtype=torch.long).reshape(-1)
    if len(idx) != n_heads or int(idx.min()) < 0 or int(idx.max()) >= n_kv_heads:
        raise ParameterError(f"kv_head_of must map {n_heads} query heads to key heads "
                             f"0..{n_kv_heads - 1}")
    return idx


def _group_starts(groups: torch.Tensor) -> torch.Tensor:
    """For each token, the index of the first token of its (contiguous) group."""
    n = len(groups)
    first = torch.ones(n, dtype=torch.bool, device=groups.device)
    first[1:] = groups[1:] != groups[:-1]
    if len(torch.unique(groups[first])) != int(first.sum()):
        raise ParameterError("the tokens of each group must be contiguous")
    pos = torch.arange(n, device=groups.device)
    return torch.cummax(torch.where(first, pos, 0), 0).values


def pair_mean(
    q: torch.Tensor,
    k: torch.Tensor,
    mask_structure: MaskStructure | str,
    *,
    kv_head_of: Sequence[int] | Callable[[int], int] | None = None,
    groups: torch.Tensor | None = None,
    head_chunk: int = 8,
) -> PairMeans:
    """Per query head and dimension, the mean of ``q_a * k_b`` over the allowed pairs.

    The pairs that enter are the ``(a, b)`` the mask allows **and**, when ``groups`` is
    given, whose query and key tokens share a group: ``groups[a] == groups[b]``.  With
    ``groups`` the TR of each token this is the definition of
    :func:`~anbn_utils.ans.activations.aggregate_trs`: a TR's activation is the mean over the
    pairs whose query *and* key are tokens of that TR (of one segment), and, of those, the
    ones the mask allows (all for ``'all'``; ``b <= a`` for ``'causal'``, its ``pairs='causal'``;
    ``a - w < b <= a`` for a band).  Pairs with a key in an earlier TR are not counted, even
    though the model's attention allows them.  Sum :attr:`PairMeans.sums` and
    :attr:`PairMeans.counts` over the query tokens of a TR (:func:`group_sums`), and over the
    segments that share it, then divide.

    Parameters
    ----------
    q : Tensor of shape (n_heads, T, d)
        Queries of one layer and sequence (``QKRecord.q[layer][0]``).
    k : Tensor of shape (n_kv_heads, T, d)
        Keys before grouped-query repetition (``QKRecord.k[layer][0]``).
    mask_structure : MaskStructure or {'all', 'causal'}
        From :func:`allowed_pairs`; a band is ``MaskStructure('band', w)``.
    kv_head_of : sequence of int or callable, optional
        The key head of each query head; default ``h // (n_heads // n_kv_heads)``.
    groups : Tensor of shape (T,), int, optional
        A label per token (e.g. its TR); tokens of a group must be contiguous.  None: one
        group.
    head_chunk : int
        Key heads per ``(T, T) @ (T, d)`` product on the ``'general'`` path.

    Returns
    -------
    PairMeans
        ``sums`` (n_heads, T, d), ``counts`` (T,), ``mean`` (n_heads, d).

    Notes
    -----
    Closed forms (``O(T d)`` per head) for ``'all'``, ``'causal'`` and ``'band'``: the sum of
    the allowed keys of query ``a`` is a difference of cumulative sums of ``k``, from
    ``max(start of a's group, a - w + 1)`` (``'band'``) or the group start (``'causal'``) to
    ``a``; for ``'all'`` the group total.  ``'general'`` is the slow path: the boolean
    ``(T, T)`` matrix (restricted to same-group pairs) times the keys, ``O(T^2 d)`` per key
    head, computed ``head_chunk`` key heads at a time.
    """
    if isinstance(mask_structure, str):
        mask_structure = MaskStructure(mask_structure)
    if q.ndim != 3 or k.ndim != 3 or q.shape[1:] != k.shape[1:]:
        raise ParameterError(f"q must be (n_heads, T, d) and k (n_kv_heads, T, d), not "
                             f"{tuple(q.shape)} and {tuple(k.shape)}")
    n_heads, n_tokens, _ = q.shape
    kv = _kv_index(n_heads, k.shape[0], kv_head_of).to(q.device)
    if groups is None:
        groups = torch.zeros(n_tokens, dtype=torch.long, device=q.device)
    groups = torch.as_tensor(groups, device=q.device)
    if groups.shape != (n_tokens,):
        raise ParameterError(f"groups must have shape ({n_tokens},), not {tuple(groups.shape)}")
    start = _group_starts(groups)
    pos = torch.arange(n_tokens, device=q.device)
    kind = mask_structure.kind
    if kind == "general":
        allowed = mask_structure.allowed.to(q.device)
        if allowed.shape != (n_tokens, n_tokens):
            raise ParameterError(f"the mask is {tuple(allowed.shape)} for {n_tokens} tokens")
        allowed = allowed & (groups[:, None] == groups[None, :])
        m = allowed.to(q.dtype)
        key_sums = torch.cat([torch.matmul(m, k[c:c + head_chunk])
                              for c in range(0, k.shape[0], head_chunk)])
        counts = m.sum(1)
    else:
        cum = torch.cumsum(k, 1)  # (n_kv, T, d)
        zero = torch.zeros_like(cum[:, :1])
        cum0 = torch.cat([zero, cum], 1)  # cum0[:, j] = sum of k over tokens < j
        if kind == "all":
            last = torch.ones_like(groups, dtype=torch.bool)
            last[:-1] = groups[1:] != groups[:-1]
            # one past the group's last token: the next group end, looking right
            end = torch.where(last, pos + 1, n_tokens).flip(0).cummin(0).values.flip(0)
            lo = start
        else:
            end = pos + 1
            lo = start if kind == "causal" else torch.maximum(start,
                                                              pos - mask_structure.window + 1)
        key_sums = cum0[:, end] - cum0[:, lo]
        counts = (end - lo).to(q.dtype)
    sums = q * key_sums[kv]
    total = counts.sum()
    mean = sums.sum(1) / total if total > 0 else torch.zeros_like(sums[:, 0])
    return PairMeans(sums=sums, counts=counts, mean=mean)


def group_sums(result: PairMeans, groups: torch.Tensor,
               n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums and counts of :func:`pair_mean` over the query tokens of each group (TR).

    Parameters
    ----------
    result : PairMeans
        Computed with the same ``groups``.
    groups : Tensor of shape (T,), int in ``[0, n_groups)``
    n_groups : int

    Returns
    -------
    num : Tensor of shape (n_groups, n_heads, d)
    den : Tensor of shape (n_groups,)
        Add these over segments, then ``num / den`` (where ``den > 0``) is each group's mean.
    """
    groups = torch.as_tensor(groups, device=result.sums.device)
    n_heads, _, d = result.sums.shape
    num = torch.zeros(n_groups, n_heads, d, dtype=result.sums.dtype, device=result.sums.device)
    num.index_add_(0, groups, result.sums.transpose(0, 1))
    den = torch.zeros(n_groups, dtype=result.counts.dtype, device=result.counts.device)
    den.index_add_(0, groups, result.counts)
    return num, den


def rotary_pair_units(products: torch.Tensor, head_dim: int,
                      rotary_dims: int | None = None) -> torch.Tensor:
    """Sum the dimensions a rotary embedding rotates together: the 'rotary pair unit'.

    Rotary embeddings as transformers implements them (``rotate_half``) rotate dimension
    ``i`` with ``i + r/2`` (``i < r/2``) of the first ``r = rotary_dims`` dimensions of each
    head by an angle proportional to the token position.  The product of a query and a key
    summed over such a pair, ``q_i k_i + q_{i+r/2} k_{i+r/2}``, depends on the positions only
    through their distance (for fixed content), while each dimension alone does not.

    Parameters
    ----------
    products : Tensor of shape (..., head_dim)
        Anything linear in the per-dimension products (products, per-token sums, means),
        the head dimension last.
    head_dim : int
    rotary_dims : int, optional
        Rotated dimensions per head (GPT-NeoX's partial rotary: ``int(head_dim *
        rotary_pct)``); default ``head_dim`` (Llama, Mistral, Qwen, Gemma).  Must be even.

    Returns
    -------
    Tensor of shape (..., rotary_dims // 2 + head_dim - rotary_dims)
        Unit ``j < r/2`` is dimensions ``j`` and ``j + r/2`` summed; the non-rotated
        dimensions ``r .. head_dim - 1`` follow, each its own unit unchanged (their product
        does not depend on position at all).
    """
    rotary_dims = head_dim if rotary_dims is None else int(rotary_dims)
    if products.shape[-1] != head_dim:
        raise ParameterError(f"the last axis has {products.shape[-1]} dimensions, not "
                             f"head_dim={head_dim}")
    if rotary_dims % 2 or not 0 < rotary_dims <= head_dim:
        raise ParameterError(f"rotary_dims must be even and in (0, {head_dim}], "
                             f"not {rotary_dims}")
    half = rotary_dims // 2
    pairs = products[..., :half] + products[..., half:rotary_dims]
    return torch.cat([pairs, products[..., rotary_dims:]], -1)

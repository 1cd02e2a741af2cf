"""AN activations per TR, in closed form, and their convolution with the HRF.

An artificial neuron (AN) is dimension ``i`` of head ``h`` of layer ``l``, named
``L{l}H{h}D{i}`` with 1-based numbers (``L8H2D51``).  Its activation at a TR aggregates
the element-wise products ``q_a[i] * k_b[i]`` over the query tokens ``a`` and key tokens
``b`` of that TR.  No ``m x m`` block is formed:

- ``mean`` (the paper): the mean of an outer product is the product of the means,
  ``mean_ab q_a k_b = mean_a q_a * mean_b k_b``;
- ``absmean``: likewise with ``|q|`` and ``|k|``;
- ``max`` / ``min``: the extremes of ``{q_a k_b}`` are among the four products of the
  extremes of ``{q_a}`` and ``{k_b}``.

A TR whose tokens come from two segments (run through the model separately) pools the
pairs *within* each segment: for ``mean`` the activation is
``sum_s (sum_a q_a)(sum_b k_b) / sum_s m_s^2``.  A TR with no token gets 0.  For causal
models (GPT-2) with ``pairs='causal'`` only pairs with ``b <= a`` count (``mean`` only).
Models whose layers allow other pairs (a sliding-window band, or layers that differ) get
the mean over the pairs each layer's mask allows (:func:`masked_mean_trs`).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.signal import lfilter

from ..choices import AGGREGATIONS, HRF_MODELS
from ..errors import ParameterError

__all__ = ["AGGREGATIONS", "HRF_MODELS", "UNIT_LETTERS", "aggregate_trs", "an_index", "an_names",
           "convolve_hrf", "hrf_kernel", "masked_mean_trs"]



#: The letter of a head's unit in AN names, per ``an_unit``: ``D``imension (the paper's),
#: rotary ``P``air (:func:`anbn_utils.ans.pairs.rotary_pair_units`).
UNIT_LETTERS = {"dimension": "D", "rotary_pair": "P"}


def an_names(n_layers: int, n_heads: int, head_dim: int, an_unit: str = "dimension") -> list[str]:
    """AN names in the order of a flattened ``(n_layers, n_heads, head_dim)`` array
    (``head_dim``: the units per head; ``L8H2P3`` for the rotary pair units)."""
    letter = UNIT_LETTERS[an_unit]
    return [f"L{l + 1}H{h + 1}{letter}{d + 1}"
            for l in range(n_layers) for h in range(n_heads) for d in range(head_dim)]


def an_index(name: str) -> tuple[int, int, int]:
    """0-based ``(layer, head, unit)`` of an AN name such as ``L8H2D51`` (or ``L8H2P3``)."""
    import re

    m = re.fullmatch(r"L(\d+)H(\d+)[DP](\d+)", name)
    if m is None or min(int(g) for g in m.groups()) < 1:
        raise ParameterError(f"{name!r} is not an AN name like 'L8H2D51' (1-based numbers)")
    return tuple(int(g) - 1 for g in m.groups())


def aggregate_trs(
    segments: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    n_volumes: int,
    *,
    how: str = "mean",
    pairs: str = "all",
) -> torch.Tensor:
    """Aggregate per-dimension query-key products over the token pairs of each TR.

    Parameters
    ----------
    segments : list of (q, k, volume)
        Per segment: ``q`` and ``k`` of shape (n_tokens, n_units) (units = flattened
        layer x head x dim) and ``volume`` of shape (n_tokens,), int64, the TR index of
        each token in ``[0, n_volumes)``.
    n_volumes : int
        Length of the output series.
    how : {'mean', 'absmean', 'max', 'min'}
    pairs : {'all', 'causal'}
        ``'causal'`` counts only pairs whose key is not after its query (``mean`` only);
        tokens of one TR must then be contiguous within a segment.

    Returns
    -------
    Tensor of shape (n_volumes, n_units)
    """
    if how not in AGGREGATIONS:
        raise ParameterError(f"aggregation must be one of {AGGREGATIONS}, not {how!r}")
    if pairs not in ("all", "causal"):
        raise ParameterError(f"pairs must be 'all' or 'causal', not {pairs!r}")
    if pairs == "causal" and how != "mean":
        raise ParameterError(
            f"aggregation {how!r} with causal pairs has no closed form here; use how='mean' "
            "or pairs='all'"
        )
    q0 = segments[0][0]
    n_units = q0.shape[1]
    kw = {"device": q0.device, "dtype": q0.dtype}
    if how in ("mean", "absmean"):
        num = torch.zeros(n_volumes, n_units, **kw)
        den = torch.zeros(n_volumes, **kw)
        for q, k, vol in segments:
            if how == "absmean":
                q, k = q.abs(), k.abs()
            counts = torch.bincount(vol, minlength=n_volumes).to(q.dtype)
            if pairs == "causal":
                num.index_add_(0, vol, q * _within_tr_cumsum(k, vol))
                den += counts * (counts + 1) / 2
            else:
                sq = torch.zeros(n_volumes, n_units, **kw).index_add_(0, vol, q)
                sk = torch.zeros(n_volumes, n_units, **kw).index_add_(0, vol, k)
                num += sq * sk
                den += counts**2
        return torch.where(den[:, None] > 0, num / den.clamp(min=1)[:, None], 0.0)
    out = torch.full((n_volumes, n_units), -torch.inf if how == "max" else torch.inf, **kw)
    for q, k, vol in segments:
        idx = vol[:, None].expand_as(q)
        ext = {}
        for name, t in (("q", q), ("k", k)):
            for red in ("amax", "amin"):
                base = torch.full((n_volumes, n_units), torch.nan, **kw)
                ext[name, red] = base.scatter_reduce(0, idx, t, reduce=red, include_self=False)
        prods = torch.stack([ext["q", a] * ext["k", b] for a in ("amax", "amin")
                             for b in ("amax", "amin")])
        seg = prods.amax(0) if how == "max" else prods.amin(0)
        seg = torch.nan_to_num(seg, nan=-torch.inf if how == "max" else torch.inf)
        out = torch.maximum(out, seg) if how == "max" else torch.minimum(out, seg)
    return torch.where(torch.isfinite(out), out, 0.0)


def masked_mean_trs(segments: list[tuple], n_volumes: int) -> torch.Tensor:
    """Per TR, the mean of ``q_a[i] * k_b[i]`` over the pairs of its tokens that each layer's
    mask allows (both tokens in the TR and the segment; :func:`anbn_utils.ans.pairs.pair_mean`,
    closed forms for all, causal and banded masks).

    Parameters
    ----------
    segments : list of (q, k, volume, structures)
        Per segment: ``q`` and ``k`` of shape (n_layers, n_heads, n_tokens, head_dim) (the
        key each query head meets), ``volume`` of shape (n_tokens,) (each token's TR, in
        ``[0, n_volumes)``, contiguous), and per layer its
        :class:`~anbn_utils.ans.pairs.MaskStructure`.
    n_volumes : int

    Returns
    -------
    Tensor of shape (n_volumes, n_layers * n_heads * head_dim)
        Units in the order of :func:`an_names`; 0 for a TR with no allowed pair.
    """
    from .pairs import group_sums, pair_mean

    n_layers, n_heads, _, d = segments[0][0].shape
    kw = {"device": segments[0][0].device, "dtype": segments[0][0].dtype}
    num = torch.zeros(n_volumes, n_layers, n_heads, d, **kw)
    den = torch.zeros(n_volumes, n_layers, **kw)
    for q, k, vol, structures in segments:
        for layer, structure in enumerate(structures):
            s, c = group_sums(pair_mean(q[layer], k[layer], structure, groups=vol), vol,
                              n_volumes)
            num[:, layer] += s
            den[:, layer] += c
    mean = torch.where(den[..., None, None] > 0, num / den.clamp(min=1)[..., None, None], 0.0)
    return mean.reshape(n_volumes, -1)


def _within_tr_cumsum(k: torch.Tensor, vol: torch.Tensor) -> torch.Tensor:
    """For each token a, the sum of k_b over tokens b <= a of the same TR (contiguous)."""
    if torch.any(vol[1:] < vol[:-1]):
        raise ParameterError("causal pairs need tokens ordered by TR within each segment")
    cum = torch.cumsum(k, 0)
    first = torch.ones_like(vol, dtype=torch.bool)
    first[1:] = vol[1:] != vol[:-1]
    start = torch.cummax(torch.where(first, torch.arange(len(vol), device=vol.device), 0), 0).values
    before = torch.where((start > 0)[:, None], cum[(start - 1).clamp(min=0)], 0.0)
    return cum - before


def hrf_kernel(tr: float, model: str = "spm", *, oversampling: int = 16,
               time_length: float = 32.0) -> np.ndarray:
    """The HRF sampled at every TR, normalized to unit sum (as SPM's ``spm_hrf``).

    The response is computed by nilearn (``spm_hrf`` or ``glover_hrf``) at ``tr /
    oversampling`` (SPM's microtime resolution is 16) and taken at ``0, tr, 2 tr, ...``
    up to ``time_length``: at TR 1.5 s, 22 taps peaking at 4.5 s.
    """
    from nilearn.glm.first_level import glover_hrf, spm_hrf

    if model == "none":
        return np.ones(1)
    models = {"spm": spm_hrf, "glover": glover_hrf}
    if model not in models:
        raise ParameterError(f"hrf_model must be one of {HRF_MODELS}, not {model!r}")
    fine = models[model](tr, oversampling=oversampling, time_length=time_length)
    kernel = fine[::oversampling]
    return kernel / kernel.sum()


def convolve_hrf(series: np.ndarray, tr: float, model: str = "spm") -> np.ndarray:
    """Causal convolution of each column of ``series`` (time first) with :func:`hrf_kernel`.

    The output at TR ``t`` is ``sum_j h[j] x[t - j]``: the response to the story up to
    ``t``, with no contribution from before the series starts.
    """
    kernel = hrf_kernel(tr, model)
    return lfilter(kernel, [1.0], np.asarray(series), axis=0).astype(np.float32)

"""Which BNs and ANs the interpretation chapters single out (05 and 06).

- Fig. 6: how many ANs each BN anchors (Eq. 1, maximal PCC at least a threshold) and the
  most anchored BN (:func:`anchor_counts`);
- Fig. 7: the ANs anchored to that BN against as many random ANs
  (:func:`random_an_baseline`);
- Fig. 8/9: the best AN-BN pair of each layer (:func:`best_pairs`);
- Fig. 10: the globally best AN and the best AN of chosen layers (:func:`exemplar_ans`).

Units are 0-based integer indices (ANs in :func:`anbn_utils.ans.an_names` order, BNs in
map order); layers are 1-based as in the AN names ``L{layer}H{head}D{dim}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError
from .units import an_layers

__all__ = ["anchor_counts", "anchored_ans", "best_an_per_layer", "best_pairs", "exemplar_ans",
           "random_an_baseline"]


def anchor_counts(an_to_bn: np.ndarray, an_max: np.ndarray, n_bns: int,
                  threshold: float) -> pd.DataFrame:
    """ANs anchored to each BN (Eq. 1) with a maximal PCC of at least ``threshold`` (Fig. 6a).

    Parameters
    ----------
    an_to_bn : ndarray of shape (n_ans,), int
        Each AN's BN (Eq. 1).
    an_max : ndarray of shape (n_ans,)
        The PCC with that BN.
    n_bns : int
    threshold : float

    Returns
    -------
    DataFrame with one row per BN: ``bn``, ``n_ans``, ``most_anchored`` (True for the BN
    with the most such ANs, the lowest index on a tie; no BN when no AN reaches the
    threshold)
    """
    an_to_bn, an_max = np.asarray(an_to_bn), np.asarray(an_max)
    if an_to_bn.shape != an_max.shape:
        raise DataError(f"an_to_bn {an_to_bn.shape} and an_max {an_max.shape} differ in shape")
    if an_to_bn.size and not 0 <= an_to_bn.min() <= an_to_bn.max() < n_bns:
        raise DataError(f"an_to_bn points outside the {n_bns} BNs")
    n = np.bincount(an_to_bn[an_max >= threshold], minlength=n_bns)
    top = np.zeros(n_bns, dtype=bool)
    if n.max(initial=0) > 0:
        top[int(n.argmax())] = True
    return pd.DataFrame({"bn": np.arange(n_bns), "n_ans": n, "most_anchored": top})


def anchored_ans(an_to_bn: np.ndarray, an_max: np.ndarray, bn: int | None,
                 threshold: float) -> np.ndarray:
    """Indices of the ANs anchored to BN ``bn`` (Eq. 1) with a maximal PCC of at least
    ``threshold``; none when ``bn`` is None.

    Parameters
    ----------
    an_to_bn, an_max : ndarray of shape (n_ans,)
    bn : int or None
    threshold : float

    Returns
    -------
    ndarray of shape (n_selected,), int, increasing
    """
    if bn is None:
        return np.array([], dtype=int)
    return np.flatnonzero((np.asarray(an_to_bn) == bn) & (np.asarray(an_max) >= threshold))


def random_an_baseline(categories: np.ndarray, selected: np.ndarray,
                       random_state=None) -> pd.DataFrame:
    """AN tags of selected ANs against as many ANs drawn at random (Fig. 7's baseline).

    Parameters
    ----------
    categories : ndarray of shape (n_ans,), int
        Each AN's category (:func:`anbn_utils.pos.an_tags`).
    selected : ndarray of int
        Indices of the selected ANs (e.g. those anchored to the most anchored BN).
    random_state : int, numpy Generator or None
        Seeds the draw: ``len(selected)`` distinct ANs out of all ANs.

    Returns
    -------
    DataFrame with one row per group and category present in it: ``group`` (``'selected'``
    or ``'random'``), ``n_ans`` (size of the group), ``category``, ``share_pct`` (% of the
    group's ANs with that category); within a group, by decreasing share (then category
    index)
    """
    categories = np.asarray(categories, dtype=int)
    selected = np.asarray(selected, dtype=int)
    rng = np.random.default_rng(random_state)
    drawn = rng.choice(len(categories), size=len(selected), replace=False)
    frames = []
    for group, idx in (("selected", selected), ("random", drawn)):
        cats, n = np.unique(categories[idx], return_counts=True)
        order = np.lexsort((cats, -n))
        frames.append(pd.DataFrame({"group": group, "n_ans": len(idx), "category": cats[order],
                                    "share_pct": 100 * n[order] / max(len(idx), 1)}))
    return pd.concat(frames, ignore_index=True)


def best_an_per_layer(an_max: np.ndarray, n_layers: int) -> np.ndarray:
    """Index of the AN with the largest maximal PCC in each layer.

    Parameters
    ----------
    an_max : ndarray of shape (n_ans,)
    n_layers : int

    Returns
    -------
    ndarray of shape (n_layers,), int (indices into all ANs; the first AN on a tie)
    """
    an_max = np.asarray(an_max)
    an_layers(len(an_max), n_layers)  # checks the split
    per_layer = len(an_max) // n_layers
    return np.arange(n_layers) * per_layer + an_max.reshape(n_layers, per_layer).argmax(1)


def exemplar_ans(an_max: np.ndarray, an_to_bn: np.ndarray, n_layers: int,
                 layers: Sequence[int], names: Sequence[str] | None = None) -> pd.DataFrame:
    """The exemplar ANs of Fig. 10: the globally best AN, then the best AN of each of ``layers``.

    Parameters
    ----------
    an_max : ndarray of shape (n_ans,)
        Each AN's maximal PCC (Eq. 1).
    an_to_bn : ndarray of shape (n_ans,)
        Each AN's BN (Eq. 1).
    n_layers : int
    layers : sequence of int
        1-based layers (the ``exemplar_layers`` parameter).
    names : sequence of str, optional
        AN names; adds an ``an_name`` column.

    Returns
    -------
    DataFrame with one row per exemplar: ``role`` (``'best'`` or ``'best of layer'``),
    ``layer`` (1-based layer of the AN), ``an`` (index), [``an_name``], ``bn`` (its Eq. 1
    BN), ``pcc`` (its maximal PCC)
    """
    bad = [x for x in layers if isinstance(x, bool) or not isinstance(x, (int, np.integer))
           or not 1 <= x <= n_layers]
    if bad:
        raise ParameterError(f"exemplar_layers={list(layers)!r}: layers are 1-based, between 1 "
                             f"and {n_layers} for this model")
    an_max = np.asarray(an_max)
    layer = an_layers(len(an_max), n_layers)
    per_layer = best_an_per_layer(an_max, n_layers)
    best = int(an_max.argmax())
    rows = [{"role": "best", "layer": int(layer[best]) + 1, "an": best}]
    rows += [{"role": "best of layer", "layer": int(x), "an": int(per_layer[x - 1])}
             for x in layers]
    return _describe(pd.DataFrame(rows), names, bn=np.asarray(an_to_bn), pcc=an_max)


def _describe(table: pd.DataFrame, names, **per_an) -> pd.DataFrame:
    """Add ``an_name`` (when ``names`` is given) and per-AN values looked up by ``an``."""
    an = table["an"].to_numpy()
    if names is not None:
        table.insert(table.columns.get_loc("an") + 1, "an_name", [names[i] for i in an])
    for key, values in per_an.items():
        table[key] = values[an]
    return table


def best_pairs(pcc: np.ndarray, n_layers: int, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The AN-BN pair with the largest PCC in each layer (Fig. 8 and 9).

    Parameters
    ----------
    pcc : ndarray of shape (n_ans, n_bns)
        ANs in layer order.
    n_layers : int
    names : sequence of str, optional
        AN names; adds an ``an_name`` column.

    Returns
    -------
    DataFrame with one row per layer: ``layer`` (1-based), ``an`` (index), [``an_name``],
    ``bn`` (0-based), ``pcc``; the first pair in row-major order on a tie
    """
    pcc = np.asarray(pcc)
    an_layers(len(pcc), n_layers)  # checks the split
    per_layer = len(pcc) // n_layers
    blocks = pcc.reshape(n_layers, per_layer * pcc.shape[1])
    i, k = np.divmod(blocks.argmax(1), pcc.shape[1])
    an = np.arange(n_layers) * per_layer + i
    table = pd.DataFrame({"layer": np.arange(1, n_layers + 1), "an": an, "bn": k,
                          "pcc": pcc[an, k]})
    return _describe(table, names)

"""The pair explorer's data: what a run knows of its leading ANs and of every BN, per story.

Chapter 06 ends with an explorer (:func:`anbn_utils.plotting.explorer.explorer_html`): the
reader picks an AN or a BN and sees both time courses as they were coupled, the BN's map,
the AN's top query-key pairs with their part-of-speech tags, the p-values of the AN, the
BN and the pair under each null model and correction, and the AN's rank in its layer.
:func:`explorer_data` gathers all of it from the run's artifacts (``02_ans``, ``03_bns``,
``04_coupling``, ``05_pos``); the only thing computed again is the coupled series, by the
same :func:`anbn_utils.series.coupling_series` call as chapter 04, so that the PCC the
explorer shows is the one tested.

A run has thousands of ANs; the explorer carries the ones a reader asks about
(:func:`leading_ans`): each BN's best AN (Eq. 2), each layer's best pair's AN, the planted
ANs of a phantom, and the ``n_top`` ANs with the largest maximal PCC.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["P_VALUE_KINDS", "explorer_data", "leading_ans"]

#: The per-unit p-values of ``04_coupling`` the explorer shows, per null model: label ->
#: file name pattern (``{unit}``: ``an`` or ``bn``; ``{null}``: the null model).
P_VALUE_KINDS = {
    "permutation p": "{unit}_p_{null}.npy",
    "tail p": "{unit}_p_tail_{null}.npy",
    "FDR q": "{unit}_q_{null}.npy",
    "family-wise p": "{unit}_p_fwer_{null}.npy",
}

_AN_NAME = re.compile(r"L(\d+)H(\d+)([DP])(\d+)")


def leading_ans(an_max: dict[str, np.ndarray], bn_to_an: dict[str, np.ndarray],
                layer_best: dict[str, np.ndarray], *, n_top: int,
                planted: np.ndarray | None = None) -> dict[int, list[str]]:
    """The ANs the explorer carries, each with why.

    Parameters
    ----------
    an_max : dict of str -> ndarray of shape (n_ans,)
        Per story, each AN's maximal PCC (Eq. 1, ``04_coupling/<story>/an_max.npy``).
    bn_to_an : dict of str -> ndarray of shape (n_bns,)
        Per story, each BN's best AN (Eq. 2).
    layer_best : dict of str -> ndarray of shape (n_layers,)
        Per story, the AN of each layer's best pair.
    n_top : int
        The ANs with the largest maximal PCC (over the stories) also carried.
    planted : ndarray of int, optional
        A phantom's planted ANs.

    Returns
    -------
    dict of int -> list of str
        AN index -> the reasons it is carried, in index order.
    """
    why: dict[int, list[str]] = {}

    def add(an, reason):
        why.setdefault(int(an), [])
        if reason not in why[int(an)]:
            why[int(an)].append(reason)

    for an in np.asarray(planted if planted is not None else [], dtype=int):
        add(an, "planted")
    for story, best in bn_to_an.items():
        for k, an in enumerate(best):
            add(an, f"best AN of BN{k + 1} ({story})")
    for story, best in layer_best.items():
        for layer, an in enumerate(best):
            add(an, f"best pair of layer {layer + 1} ({story})")
    strongest = np.max(np.stack(list(an_max.values())), axis=0)
    for an in np.argsort(-strongest, kind="stable")[:n_top]:
        add(an, f"top {n_top} by maximal PCC")
    return dict(sorted(why.items()))


def _zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(0)
    return (x - x.mean(0)) / np.where(sd > 0, sd, 1.0)


def _rounded(x, digits: int = 4) -> list:
    """An array as nested lists of floats rounded for the page (NaN -> None)."""
    a = np.round(np.asarray(x, dtype=np.float64), digits)
    return np.where(np.isnan(a), None, a).tolist()


def _significant(x, digits: int = 3) -> list:
    """p-values for the page, as nested lists: ``digits`` significant digits (a tail
    p-value far below the permutation floor keeps its size), NaN -> None."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim > 1:
        return [_significant(row, digits) for row in a]
    return [None if np.isnan(v) else float(f"{v:.{digits}g}") for v in a]


def _rank_in_layer(an_max: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """1-based rank of each AN's maximal PCC among its layer's ANs (1: the largest; ties
    share the best rank)."""
    from scipy.stats import rankdata

    rank = np.empty(len(an_max), dtype=int)
    for layer in np.unique(layers):
        idx = np.flatnonzero(layers == layer)
        rank[idx] = rankdata(-np.asarray(an_max[idx]), method="min")
    return rank


def _top_pairs(ans, tokens: pd.DataFrame, an: int, n_pairs: int) -> list[list]:
    """An AN's ``n_pairs`` largest query-key products over every segment:
    ``[query text, query tag, key text, key tag, value]``, descending (``tokens``: the
    story's tagged tokens, ``05_pos``'s ``token_tags.tsv``, indexed by segment and
    position)."""
    values = np.asarray(ans.top_values[:, an], dtype=np.float64)  # (n_segments, top_k)
    order = np.argsort(-values, axis=None, kind="stable")[:n_pairs]
    seg, j = np.unravel_index(order, values.shape)
    out = []
    for s, jj in zip(seg, j):
        pair = []
        for positions in (ans.top_query, ans.top_key):
            row = tokens.loc[(int(s), int(positions[s, an, jj]))]
            text = (ans.transcript[int(row.char_start):int(row.char_end)]
                    if not row.special else row.token)
            pair += [text, row.tag]
        out.append([*pair, round(float(values[s, jj]), 4)])
    return out


def explorer_data(run_dir: str | os.PathLike, tasks, *, n_top: int = 24,
                  n_pairs: int = 5) -> dict[str, Any]:
    """Everything the explorer shows of a run, JSON-serializable.

    Parameters
    ----------
    run_dir : path
        A run with finished ``02_ans``, ``03_bns``, ``04_coupling`` and ``05_pos``.
    tasks : sequence of str
        The stories.
    n_top : int
        See :func:`leading_ans`.
    n_pairs : int
        Top query-key pairs shown per AN.

    Returns
    -------
    dict
        ``stories``, ``nulls``, ``mode``, ``ans`` (the carried ANs: ``index``, ``name``,
        ``layer``, ``head``, ``unit``, ``kv_head`` (grouped-query models; else None),
        ``n_layer`` (ANs in its layer),
        ``why``), ``bns`` (``name``, ``label``, ``share``, ``peak``) and ``story``: per
        story, ``partner`` (the story of its BNs), ``tr``, the z-scored coupled series
        ``an_series`` (carried ANs x TRs) and ``bn_series`` (BNs x TRs), ``pcc`` (carried
        ANs x BNs), ``an_bn``/``an_max`` (Eq. 1), ``rank_in_layer``, ``bn_an`` (index into
        ``ans`` of each BN's Eq. 2 AN) and ``bn_max``, ``an_p``/``bn_p`` (null -> kind of
        :data:`P_VALUE_KINDS` -> values), ``pair_p_fwer`` (null -> carried ANs x BNs) and
        ``top_pairs`` (per carried AN, :func:`_top_pairs`).
    """
    from .ans import load_ans
    from .bns.networks import load_brain_networks
    from .interpret import best_an_per_layer
    from .io import read_table
    from .series import coupling_series
    from .stages.formats import load_coupling_summary, require
    from .units import an_layers, bn_name

    run_dir = Path(run_dir)
    require(run_dir, "02_ans", "03_bns", "04_coupling", "05_pos")
    coupling = run_dir / "04_coupling"
    summary = load_coupling_summary(coupling)
    p, partners = summary["parameters"], summary["bn_stories"]
    bns = load_brain_networks(run_dir / "03_bns")
    labels = read_table(run_dir / "03_bns" / "labels.tsv")
    ans = {t: load_ans(run_dir / "02_ans" / t) for t in tasks}
    first = ans[tasks[0]]
    n_layers, n_ans = first.meta["n_layers"], len(first.names)
    layers = an_layers(n_ans, n_layers)
    arrays = {t: {name: np.load(coupling / t / f"{name}.npy")
                  for name in ("pcc", "an_to_bn", "an_max", "bn_to_an", "bn_max")}
              for t in tasks}
    planted = None
    if (coupling / "planted_recovery.tsv").is_file():
        planted = read_table(coupling / "planted_recovery.tsv")["an"].unique()
    why = leading_ans({t: a["an_max"] for t, a in arrays.items()},
                      {t: a["bn_to_an"] for t, a in arrays.items()},
                      {t: best_an_per_layer(a["an_max"], n_layers) for t, a in arrays.items()},
                      n_top=n_top, planted=planted)
    carried = np.array(list(why), dtype=int)
    position = {an: i for i, an in enumerate(carried)}
    grouped = (first.meta.get("n_kv_heads") or first.meta["n_heads"]) < first.meta["n_heads"]
    kv_of = first.meta["kv_head_of"] if grouped else None
    out: dict[str, Any] = {
        "stories": list(tasks), "nulls": list(p["nulls"]), "mode": p["mode"],
        "ans": [], "bns": [], "story": {}, "p_value_kinds": list(P_VALUE_KINDS)}
    for an, reasons in why.items():
        name = first.names[an]
        m = _AN_NAME.fullmatch(name)
        if m is None:
            raise DataError(f"{run_dir / '02_ans'}: AN name {name!r} is not L<l>H<h>D<d> or "
                            "L<l>H<h>P<p>; recompute 02_ans with this version")
        head = int(m.group(2))
        out["ans"].append({
            "index": an, "name": name, "layer": int(m.group(1)), "head": head,
            "unit": f"{'dimension' if m.group(3) == 'D' else 'rotary pair'} {m.group(4)}",
            "kv_head": None if kv_of is None else int(kv_of[head - 1]) + 1,
            "n_layer": int((layers == layers[an]).sum()), "why": reasons})
    for k in range(bns.n_bns):
        row = labels.iloc[k]
        out["bns"].append({"name": bn_name(k), "label": str(row.network),
                           "share": round(float(row.share), 3),
                           "peak": [None if np.isnan(v := float(row[f"peak_{a}"])) else round(v)
                                    for a in "xyz"]})
    for i, task in enumerate(tasks):
        a, c = ans[task], arrays[task]
        partner = partners[task]
        s = coupling_series(
            run_dir / "02_ans" / task, run_dir / "02_ans" / partner,
            np.asarray(a.activations_hrf).reshape(len(a.volumes), -1),
            bns.mean_timecourses(partner), same_story=partner == task,
            nuisance=p["nuisance"], an_surrogate=p["an_surrogate"], random_state=p["seed"],
            story_index=i, story=task)
        tokens = read_table(run_dir / "05_pos" / task / "token_tags.tsv").set_index(
            ["segment", "position"])

        def p_values(unit, index=slice(None), task=task):
            return {null: {label: _significant(np.load(coupling / task / f.format(
                        unit=unit, null=null))[index])
                           for label, f in P_VALUE_KINDS.items()
                           if (coupling / task / f.format(unit=unit, null=null)).is_file()}
                    for null in p["nulls"]}

        out["story"][task] = {
            "partner": partner, "tr": float(a.meta["tr"]),
            "an_series": _rounded(_zscore(s.ans[:, carried]).T, 3),
            "bn_series": _rounded(_zscore(s.bns).T, 3),
            "pcc": _rounded(c["pcc"][carried]),
            "an_bn": c["an_to_bn"][carried].tolist(), "an_max": _rounded(c["an_max"][carried]),
            "rank_in_layer": _rank_in_layer(c["an_max"], layers)[carried].tolist(),
            "bn_an": [position[int(an)] for an in c["bn_to_an"]],
            "bn_max": _rounded(c["bn_max"]),
            "an_p": p_values("an", carried), "bn_p": p_values("bn"),
            "pair_p_fwer": {null: _significant(np.load(f)[carried]) for null in p["nulls"]
                            if (f := coupling / task / f"pair_p_fwer_{null}.npy").is_file()},
            "top_pairs": [_top_pairs(a, tokens, an, n_pairs) for an in carried]}
    return out

"""Score the phantom's planted couplings: is each planted AN coupled with the BN matched to
its network, and do the tests find it (chapter 04)?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from ..inference.familywise import single_step_threshold

__all__ = ["FAMILY_NULL_QUANTILE", "anchor_reading", "coupling_recovery", "planted_found",
           "planted_found_by_run", "planted_found_text"]

#: The quantile of the family's null maximum reported beside each planted pair
#: (``family_null_q95_<null>``): what a pair must exceed to be significant family-wise at
#: one minus it, in a single step.
FAMILY_NULL_QUANTILE = 0.95


def coupling_recovery(truth: dict, matched: pd.DataFrame, result: dict,
                      names: list[str]) -> pd.DataFrame:
    """For each planted pair: is the planted AN coupled with the BN matched to its network?

    Parameters
    ----------
    truth : dict
        From :func:`anbn_utils.recovery.load_truth`.
    matched : DataFrame
        From :func:`anbn_utils.recovery.map_recovery` (``network`` -> ``bn``).
    result : dict
        One story's :func:`anbn_utils.coupling.statistics.couple_story` output: ``pcc``
        (n_ans, n_bns), ``an_to_bn`` (n_ans,; Eq. 1 anchors in the run's ``mode``), ``tests``
        (null model -> :func:`anbn_utils.coupling.statistics.max_statistic_test` output:
        ``an_q``, ``pair_p_fwer``, ``family_null``).
    names : list of str
        AN names, in the rows' order of ``pcc``.

    Returns
    -------
    DataFrame, one row per planted pair: ``planted_an``, ``an`` (index), ``network``,
    ``network_name``, ``bn`` (the matched BN, 0-based), ``r`` (the pair's PCC), ``rank``
    (the AN's rank among all ANs for that BN by r; 1 = the BN's anchor, Eq. 2),
    ``rank_abs`` (the same by |r|), ``map_sign`` (the sign of the matched BN's map against
    the network's, ``matched``'s ``spatial_r``: -1 when the BN carries the network with its
    sign flipped, so that the planted pair comes out anti-correlated), ``eq1_anchor_is_bn``
    (the AN's own Eq. 1 anchor is that BN), ``eq1_anchor`` and ``eq1_r`` (that anchor,
    0-based, and the PCC there: the BN a reader of the coupling sees, shown beside the
    matched one where they differ), and under each null model ``q_<null>`` (the AN's FDR q-value), ``p_fwer_<null>``
    (the pair's family-wise adjusted p-value, step-down over all AN x BN pairs) and
    ``family_null_q95_<null>`` (what a pair's statistic must exceed to be significant
    family-wise at 0.05 in a single step: the order statistic of the family's null maxima
    that at most 5 % of the randomizations reach,
    :func:`anbn_utils.inference.familywise.single_step_threshold`).
    """
    pcc = result["pcc"]
    bn_of = dict(zip(matched["network"].astype(int), matched["bn"].astype(int)))
    sign_of = dict(zip(matched["network"].astype(int), np.sign(matched["spatial_r"])))
    rows = []
    for p in truth["planted"]:
        if p["an"] not in names:
            raise DataError(f"planted AN {p['an']!r} is not among this run's ANs: the ANs come "
                            "from another model than the phantom's")
        i, k = names.index(p["an"]), bn_of[p["network"]]
        row = {"planted_an": p["an"], "an": i, "network": int(p["network"]),
               "network_name": p["network_name"], "bn": k, "r": float(pcc[i, k]),
               "rank": int((pcc[:, k] > pcc[i, k]).sum() + 1),
               "rank_abs": int((np.abs(pcc[:, k]) > abs(pcc[i, k])).sum() + 1),
               "map_sign": int(sign_of[p["network"]]),
               "eq1_anchor_is_bn": bool(result["an_to_bn"][i] == k),
               "eq1_anchor": int(result["an_to_bn"][i]),
               "eq1_r": float(pcc[i, result["an_to_bn"][i]])}
        for null, t in result["tests"].items():
            row[f"q_{null}"] = float(t["an_q"][i])
            row[f"p_fwer_{null}"] = float(t["pair_p_fwer"][i, k])
            row[f"family_null_q95_{null}"] = single_step_threshold(t["family_null"],
                                                                   1 - FAMILY_NULL_QUANTILE)
        rows.append(row)
    return pd.DataFrame(rows)


def anchor_reading(planted: pd.DataFrame) -> str:
    """Where a planted AN's own Eq. 1 anchor (what chapters 05 and 06 show of it) is not the
    BN matched to its network by the maps (what this table scores), in a sentence computed
    from :func:`coupling_recovery`'s rows."""
    from ..units import bn_name

    other = planted[~planted["eq1_anchor_is_bn"].astype(bool)]
    if other.empty:
        return ("Every planted AN's own Eq. 1 anchor is the BN matched to its network: the "
                "chapters that show anchors (05, 06) show these pairs.")
    cases = "; ".join(
        f"{r.planted_an} ({r.story}) anchors to {bn_name(r.eq1_anchor)} (r = {r.eq1_r:.2f}), "
        f"its network is {bn_name(r.bn)} (r = {r.r:.2f}"
        + (", the BN's map carrying the network with its sign flipped)" if r.map_sign < 0
           else ")")
        for r in other.itertuples())
    return (f"In {len(other)} of {len(planted)} cases (story x planted pair) the planted AN's "
            f"own Eq. 1 anchor is not the BN matched to its network by the maps: {cases}. "
            "Chapters 05 and 06 show anchors, so they show these pairs under the other BN.")


def planted_found(planted: pd.DataFrame, nulls, alphas) -> pd.DataFrame:
    """How many planted pairs each null model finds family-wise, per level.

    Parameters
    ----------
    planted : DataFrame
        :func:`coupling_recovery`'s rows (of one or more stories), with ``p_fwer_<null>``.
    nulls : sequence of str
    alphas : sequence of float

    Returns
    -------
    DataFrame, one row per null model and level: ``null``, ``alpha``, ``found`` (pairs
    with a family-wise p-value at most ``alpha``), ``planted`` (pairs in all), and
    ``missed``: the pairs not found, as ``"<story> <AN>-BN<k> (r 0.41, p 0.12)"``.
    """
    rows = []
    for null in nulls:
        p = planted[f"p_fwer_{null}"]
        for alpha in alphas:
            missed = planted[p > alpha]
            rows.append({"null": null, "alpha": alpha, "found": int((p <= alpha).sum()),
                         "planted": len(planted),
                         "missed": "; ".join(
                             f"{m.story} {m.planted_an}-BN{m.bn + 1} (r {m.r:.2f}, p "
                             f"{m[f'p_fwer_{null}']:.3g}, family null max q95 "
                             f"{m[f'family_null_q95_{null}']:.2f})" for _, m in missed.iterrows())})
    return pd.DataFrame(rows)


def planted_found_text(found: pd.DataFrame, alpha: float | None = None) -> str:
    """One line of :func:`planted_found`'s counts, per run when ``found`` is indexed by
    run (``pd.concat({run: table})``): ``"run: circular 8 of 8 at 0.05, ..."``; with
    ``alpha``, that level only: ``"run: 8 (circular), 6 (phase) of 8 at 0.05"``."""
    if found.index.nlevels == 1:
        found = pd.concat({"": found})
    parts = []
    for run, table in found.groupby(level=0, sort=False):
        if alpha is None:
            counts = ", ".join(f"{r.null} {r.found} of {r.planted} at {r.alpha:g}"
                               for r in table.itertuples())
        else:
            table = table[np.isclose(table.alpha, alpha)]
            counts = (", ".join(f"{r.found} ({r.null})" for r in table.itertuples())
                      + f" of {table.planted.max()} at {alpha:g}")
        parts.append(f"{run}: {counts}" if run else counts)
    return "; ".join(parts)


def planted_found_by_run(run_dir, planted: pd.DataFrame | None, bn_method: str, nulls, alphas,
                         compare_run_dir=None) -> tuple[pd.DataFrame | None, str, str]:
    """The planted pairs found by this run and by ``compare_run_dir`` (a finished run of
    the same phantom with other BNs), for chapter 04.

    Parameters
    ----------
    run_dir : path
    planted : DataFrame or None
        This run's :func:`coupling_recovery` rows (``CouplingResult.planted``).
    bn_method : str
        This run's BN method.
    nulls, alphas : sequences
        As :func:`planted_found`.
    compare_run_dir : path, optional

    Returns
    -------
    found : DataFrame or None
        :func:`planted_found` per run (indexed by run: ``this run (<method>)``, then the
        compared run's name, with its method when that differs); None when no planted pair
        is scored.
    note : str
        Why none is scored (no phantom, a phantom that plants none, another model's ANs),
        or that the compared run has no planted recovery; empty otherwise.
    short : str
        ``found`` in a few words for the chapter's header when it is None; else empty.
    """
    from pathlib import Path

    from ..io import read_json, read_table
    from ..recovery import load_truth

    dataset = Path(run_dir) / "dataset"
    truth = load_truth(dataset) if dataset.is_dir() else None
    if truth is None:
        return None, "This run does not use the phantom.", "this run is not the phantom"
    if not truth["planted"]:
        return (None, "This phantom plants no coupling: every significant AN is a false positive.",
                "this phantom plants none")
    if planted is None:  # the planted ANs are another model's units
        note = (f"This phantom plants its couplings in ANs of `{truth['parameters']['model']}`; "
                "this run reads another model, whose ANs of the same names (if any) are other "
                "units: no planted pair is scored.")
        return None, note, "none scored (another model's ANs)"
    runs, note = {f"this run ({bn_method})": planted}, ""
    if compare_run_dir:
        other = Path(compare_run_dir)
        if (other / "04_coupling" / "planted_recovery.tsv").is_file():
            method = read_json(other / "03_bns" / "bns.json")["method"]
            name = other.name if other.name == method else f"{other.name} ({method})"
            runs[name] = read_table(other / "04_coupling" / "planted_recovery.tsv")
        else:
            note = (f"No planted recovery in `compare_run_dir={str(compare_run_dir)!r}` "
                    "(not run yet?).")
    found = pd.concat({run: planted_found(t, nulls, alphas) for run, t in runs.items()},
                      names=["run"])
    return found, note, ""

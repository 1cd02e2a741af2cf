"""Numbers and tables of one story's coupling: significance per null model and level.

Each null model's test (:func:`anbn_utils.coupling.statistics.max_statistic_test`) is read
at every level of ``alphas`` (the paper's p < 0.01 first):

- **FWER**: an AN (BN) is significant when its family-wise adjusted p-value is at most the
  level;
- **FDR**: when its Benjamini-Hochberg q-value is;
- the **resolution** of each null, its smallest attainable p-value ``1 / (1 + B)``.

:func:`summarize` gives a story's headline numbers (``summary.json`` of ``04_coupling``),
:func:`significance_table` the rows of ``significance.tsv``, :func:`false_positive_text` a
null run's false positives in one line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..inference.familywise import single_step_threshold
from ..inference.nulls import NULL_READINGS
from ..paper import ALPHA
from ..units import an_layers

__all__ = [
    "check_alphas",
    "false_positive_text",
    "significance_table",
    "summarize",
]


def check_alphas(alphas: Sequence[float]) -> list[float]:
    """``alphas`` as a list of floats, or a :class:`ParameterError` unless it is a non-empty
    list of distinct levels in (0, 1)."""
    if isinstance(alphas, (int, float)) or not len(alphas) or \
            not all(isinstance(a, (int, float)) and 0 < a < 1 for a in alphas) or \
            len(set(alphas)) != len(alphas):
        raise ParameterError(f"alphas must be a non-empty list of distinct FDR levels in (0, 1), "
                             f"the primary one first (the paper: [0.01, 0.05]), not {alphas!r}")
    return [float(a) for a in alphas]


def summarize(result: dict, n_layers: int, *, alphas: Sequence[float] = (ALPHA, 0.05),
              threshold: float = 0.25, n_heads: int | None = None) -> dict:
    """Headline numbers of one story: AN and BN maxima, significance per null model and level.

    Parameters
    ----------
    result : dict
        ``{"pcc", "an_max", "an_to_bn", "bn_max", "bn_to_an", "tests": {null: test}}`` with
        ``test`` the output of
        :func:`anbn_utils.coupling.statistics.max_statistic_test`.
    n_layers : int
        ANs are in layer order (``an_names``): layer of AN ``i`` is ``i // (n_ans / n_layers)``.
    alphas : sequence of float
        Levels; a unit is significant at ``alpha`` when its q-value (FDR) or its adjusted
        p-value (FWER) is at most ``alpha``.  The first is the primary level (the paper's
        0.01).
    threshold : float
        The PCC threshold of Fig. 4 (c-d).
    n_heads : int, optional
        Attention heads per layer (ANs are in layer, head, dimension order): recorded as
        ``n_heads``, the clusters of chapter 07's contrasts of significance shares.

    Returns
    -------
    dict
        ``n_ans``, ``n_bns``, ``n_heads`` (when given), AN and BN maxima (mean, s.d., per layer), the % of ANs below
        ``threshold`` per layer, the ANs anchored by BNs per layer, and ``nulls``: per null
        model ``{"alpha", "ans_significant_pct", "ans_significant", "bns_significant"``
        (FDR), ``"ans_fwer_pct", "ans_fwer", "bns_fwer"`` (FWER), ``"fwer_threshold"}`` at
        the primary level, ``by_alpha``, the same for every level, in the order of
        ``alphas``, and ``n_randomizations``, ``resolution`` (``1 / (1 + B)``), ``tail``
        (tests that needed, got and failed the tail approximation) and ``reading``.
    """
    alphas = check_alphas(alphas)
    n_ans, n_bns = result["pcc"].shape
    layer = an_layers(n_ans, n_layers)
    an_max, bn_max = result["an_max"], result["bn_max"]
    out = {
        "n_ans": int(n_ans), "n_bns": int(n_bns),
        **({"n_heads": int(n_heads)} if n_heads is not None else {}),
        "an_max_pcc_mean": float(an_max.mean()), "an_max_pcc_sd": float(an_max.std()),
        "bn_max_pcc_mean": float(bn_max.mean()), "bn_max_pcc_sd": float(bn_max.std()),
        "an_max_pcc_per_layer": [float(an_max[layer == l].mean()) for l in range(n_layers)],
        f"ans_below_{threshold}_pct_per_layer": [float(100 * (an_max[layer == l] < threshold).mean())
                                                 for l in range(n_layers)],
        "anchored_ans_per_layer": np.bincount(layer[result["bn_to_an"]],
                                              minlength=n_layers).tolist(),
        "nulls": {},
    }
    for null, test in result["tests"].items():
        levels = [{"alpha": a, **_significance(test, a)} for a in alphas]
        B = test["n_randomizations"]
        out["nulls"][null] = {**levels[0], "by_alpha": levels, "n_randomizations": int(B),
                              "resolution": 1 / (1 + B), "tail": test["tail"],
                              "reading": NULL_READINGS[null]}
    return out


def _significance(test: dict, alpha: float) -> dict:
    """Units significant at ``alpha`` under FDR (q <= alpha) and FWER (adjusted p <= alpha),
    and the r (or |r|) a pair must exceed to be significant family-wise in a single step."""
    return {"ans_significant_pct": float(100 * (test["an_q"] <= alpha).mean()),
            "ans_significant": int((test["an_q"] <= alpha).sum()),
            "bns_significant": int((test["bn_q"] <= alpha).sum()),
            "ans_fwer_pct": float(100 * (test["an_p_fwer"] <= alpha).mean()),
            "ans_fwer": int((test["an_p_fwer"] <= alpha).sum()),
            "bns_fwer": int((test["bn_p_fwer"] <= alpha).sum()),
            "fwer_threshold": single_step_threshold(test["family_null"], alpha)}


def significance_table(summary: dict, *, paper: dict | None = None) -> pd.DataFrame:
    """Significance per story, null model and FDR level, from a ``summary.json``.

    Parameters
    ----------
    summary : dict
        The content of ``04_coupling/summary.json`` (``{"stories": {task: summarize(...)}}``).
    paper : dict, optional
        The paper's numbers per story (:data:`anbn_utils.paper.COUPLING`); its rows come last in each story
        with ``null='paper'``.

    Returns
    -------
    DataFrame with one row per (story, null, alpha): ``story``, ``null``, ``alpha``,
    ``ans_significant_pct``, ``bns_significant`` (FDR), ``ans_fwer_pct``, ``bns_fwer``
    (FWER; missing in the paper's row), ``resolution``, ``n_bns``, ``bn_max_pcc_mean``,
    ``bn_max_pcc_sd``; sorted by story, then level in the order of the run's ``alphas``
    (the paper's first), then null model in the run's order (the paper's row last).

    Raises
    ------
    DataError
        If ``summary`` has no per-level results (written before levels were reported).
    """
    rows = []
    for task, s in summary["stories"].items():
        for null, n in s["nulls"].items():
            if "by_alpha" not in n or "resolution" not in n:
                raise DataError("summary.json has no family-wise results per level (written by "
                                "an older version of 04_coupling): re-run that stage")
            for lev in n["by_alpha"]:
                rows.append({"story": task, "null": null, "alpha": lev["alpha"],
                             "ans_significant_pct": lev["ans_significant_pct"],
                             "bns_significant": lev["bns_significant"],
                             "ans_fwer_pct": lev["ans_fwer_pct"], "bns_fwer": lev["bns_fwer"],
                             "resolution": n["resolution"], "n_bns": s["n_bns"],
                             "bn_max_pcc_mean": s["bn_max_pcc_mean"],
                             "bn_max_pcc_sd": s["bn_max_pcc_sd"]})
        if paper and task in paper:
            p = paper[task]
            rows.append({"story": task, "null": "paper", "alpha": p["alpha"],
                         **{k: p[k] for k in ("ans_significant_pct", "bns_significant", "n_bns",
                                              "bn_max_pcc_mean", "bn_max_pcc_sd")}})
    table = pd.DataFrame(rows)
    # levels in the summary's order (alphas), null models in the run's order (summary.json
    # is written with sorted keys), the paper's row last at its level
    levels = summary.get("parameters", {}).get("alphas") or list(dict.fromkeys(table["alpha"]))
    nulls = summary.get("parameters", {}).get("nulls") or list(dict.fromkeys(table["null"]))
    table["_level"] = table["alpha"].map({a: i for i, a in enumerate(levels)}).fillna(len(levels))
    table["_null"] = table["null"].map({n: i for i, n in enumerate(nulls)}).fillna(len(nulls))
    table["_story"] = table["story"].map({t: i for i, t in enumerate(summary["stories"])})
    table = table.sort_values(["_story", "_level", "_null"], kind="stable")
    return table.drop(columns=["_level", "_null", "_story"]).reset_index(drop=True)


def false_positive_text(table: pd.DataFrame, alpha: float | None = None) -> str:
    """One line of a null run's :func:`significance_table`: per null model and level, the
    ANs significant family-wise (each is a false positive) and after FDR; with ``alpha``,
    that level only and the largest share over the stories: ``"at most 0.00 % of ANs
    family-wise and 1.13 % after FDR (circular), ... at 0.05 (the largest over the
    stories)"``."""
    if alpha is None:
        return "; ".join(
            f"{r.story} {r.null} at {r.alpha:g}: {r.ans_fwer_pct:.2f} % of ANs family-wise, "
            f"{r.ans_significant_pct:.2f} % after FDR" for r in table.itertuples())
    rows = table[np.isclose(table.alpha, alpha)]
    worst = rows.groupby("null", sort=False)[["ans_fwer_pct", "ans_significant_pct"]].max()
    return ("at most " + ", ".join(
        f"{r.ans_fwer_pct:.2f} % of ANs family-wise and {r.ans_significant_pct:.2f} % after "
        f"FDR ({null})" for null, r in worst.iterrows())
        + f" at {alpha:g} (the largest over the stories)")

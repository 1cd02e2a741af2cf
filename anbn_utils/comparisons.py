"""Runs side by side: BN methods, models and aggregations, controls (the verdict chapter).

Each function reads finished run directories (their artifacts only) and returns a tidy
table; the one-line readings of the chapter are computed from these tables by the
``*_reading`` functions, so no number in the chapter is typed by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from .errors import DataError
from .io import read_json, read_table
from .stages.formats import load_coupling_summary

__all__ = [
    "HOLDOUT_RESULTS",
    "PREDICTIVE_KEYS",
    "an_max_distribution",
    "contrasts_reading",
    "curves_reading",
    "holdout_reading",
    "layer_curves",
    "load_methods_holdout",
    "method_comparison",
    "methods_reading",
    "predictive_by_run",
    "predictive_reading",
    "reliability_reading",
    "significance_by_run",
    "significance_reading",
    "unique_share_contrasts",
]

Runs = Mapping[str, str | os.PathLike]


def _stage(run_dir, stage: str) -> Path:
    folder = Path(run_dir) / stage
    if not (folder / "stage.json").is_file():
        raise DataError(f"{folder} is not a finished stage: run the study (or the profile) "
                        "that makes it")
    return folder


def method_comparison(runs: Runs) -> pd.DataFrame:
    """BN methods on the same data: map recovery, planted-pair recovery, coupling, fit time.

    Parameters
    ----------
    runs : mapping of str -> path
        Label -> run directory of a phantom run (with planted couplings) that finished
        04_coupling; each run may use another ``bn_method`` or VS-DBN setting.

    Returns
    -------
    DataFrame, one row per run: ``run``, ``method``, ``n_bns``, ``map_r`` (mean |spatial r|
    of the planted networks and their matched BNs), ``planted_rank1_abs`` and
    ``planted_rank1_signed`` (planted pairs, over stories, whose AN is rank 1 for its BN
    by |r| and by r), ``planted_pairs``, ``planted_abs_r`` (mean |r| of the planted pairs),
    ``fit_s`` (the 03_bns stage's wall time).
    """
    rows = []
    for label, run_dir in runs.items():
        bns = _stage(run_dir, "03_bns")
        coupling = _stage(run_dir, "04_coupling")
        meta = read_json(bns / "bns.json")
        maps = read_table(bns / "map_recovery.tsv")
        planted = read_table(coupling / "planted_recovery.tsv")
        rows.append({
            "run": label, "method": meta["method"], "n_bns": meta["n_bns"],
            "map_r": float(maps["spatial_r"].abs().mean()),
            "planted_rank1_abs": int((planted["rank_abs"] == 1).sum()),
            "planted_rank1_signed": int((planted["rank"] == 1).sum()),
            "planted_pairs": len(planted),
            "planted_abs_r": float(planted["r"].abs().mean()),
            "fit_s": float(read_json(bns / "stage.json")["wall_s"]),
        })
    return pd.DataFrame(rows)


def methods_reading(table: pd.DataFrame) -> str:
    """One line on :func:`method_comparison`: which method recovers the planted truth best."""
    best = table.sort_values(["planted_rank1_abs", "map_r"], ascending=False).iloc[0]
    parts = [f"{r.run}: maps |r| {r.map_r:.2f}, {r.planted_rank1_abs} of {r.planted_pairs} "
             "planted pairs at rank 1" for r in table.itertuples()]
    return (f"{best.run} recovers the planted truth best ({best.planted_rank1_abs} of "
            f"{best.planted_pairs} planted pairs at rank 1 by |r|, maps |r| {best.map_r:.2f}); "
            + "; ".join(parts) + ".")


#: The committed results of ``benchmarks/methods_holdout.py``.
HOLDOUT_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "methods_holdout.json"


def load_methods_holdout(path: str | os.PathLike = HOLDOUT_RESULTS) -> pd.DataFrame:
    """:func:`method_comparison` of the book's phantom (the data the defaults were chosen
    on) and of the held-out phantom (``phantom-holdout``, the test), from the committed
    results of ``benchmarks/methods_holdout.py``: its columns with ``phantom`` first."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing: run benchmarks/methods_holdout.py (after `make "
                        "book`), or use the checkout's committed file")
    result = read_json(path)
    return pd.DataFrame([{"phantom": name, **row} for name, rows in result["phantoms"].items()
                         for row in rows])


def holdout_reading(table: pd.DataFrame) -> str:
    """One line on :func:`load_methods_holdout`: per phantom, the method that recovers the
    planted truth best and each method's planted pairs at rank one."""
    parts = []
    for phantom, part in table.groupby("phantom", sort=False):
        best = part.sort_values(["planted_rank1_abs", "map_r"], ascending=False).iloc[0]
        each = ", ".join(f"{r.run} {r.planted_rank1_abs} of {r.planted_pairs} (maps |r| "
                         f"{r.map_r:.2f})" for r in part.itertuples())
        parts.append(f"{phantom}: {best.run} best; {each}")
    return "Planted pairs at rank 1 by |r| — " + "; ".join(parts) + "."


def layer_curves(runs: Runs) -> pd.DataFrame:
    """Per-layer mean maximal PCC of the ANs, per run and story (tidy: ``run``, ``story``,
    ``layer`` (1-based), ``an_max_pcc_mean``)."""
    rows = []
    for label, run_dir in runs.items():
        summary = load_coupling_summary(_stage(run_dir, "04_coupling"))
        for story, st in summary["stories"].items():
            rows += [{"run": label, "story": story, "layer": layer,
                      "an_max_pcc_mean": v}
                     for layer, v in enumerate(st["an_max_pcc_per_layer"], start=1)]
    return pd.DataFrame(rows)


def significance_by_run(runs: Runs) -> pd.DataFrame:
    """Share of significant ANs, BNs significant, mean AN and BN maximal PCC per run, story
    and null model, at each run's primary FDR level (tidy)."""
    rows = []
    for label, run_dir in runs.items():
        summary = load_coupling_summary(_stage(run_dir, "04_coupling"))
        for story, st in summary["stories"].items():
            for null, n in st["nulls"].items():
                rows.append({"run": label, "story": story, "null": null,
                             "alpha": n.get("alpha", summary["parameters"].get("alpha")),
                             "ans_significant_pct": n["ans_significant_pct"],
                             "bns_significant": n["bns_significant"], "n_bns": st["n_bns"],
                             "an_max_pcc_mean": st["an_max_pcc_mean"],
                             "bn_max_pcc_mean": st["bn_max_pcc_mean"]})
    return pd.DataFrame(rows)


def an_max_distribution(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Per story, every AN's maximal PCC (``04_coupling/<story>/an_max.npy``)."""
    coupling = _stage(run_dir, "04_coupling")
    summary = load_coupling_summary(coupling)
    return {s: np.load(coupling / s / "an_max.npy") for s in summary["stories"]}


def significance_reading(table: pd.DataFrame, null: str = "circular") -> str:
    """One line on :func:`significance_by_run`: each run's share of significant ANs and mean
    maximal PCC under ``null``, averaged over the stories."""
    part = table[table["null"] == null]
    if part.empty:
        return f"no run used the {null} null model"
    means = part.groupby("run", sort=False)[["ans_significant_pct", "an_max_pcc_mean"]].mean()
    return (f"{null} null, mean over the stories: " + "; ".join(
        f"{run} {r.ans_significant_pct:.1f} % of ANs significant, mean maximal PCC "
        f"{r.an_max_pcc_mean:.3f}" for run, r in means.iterrows()) + ".")


def curves_reading(curves: pd.DataFrame) -> str:
    """One line on :func:`layer_curves`: each run's slope of the mean maximal PCC over
    layers (per layer, averaged over the stories), and whether it rises."""
    from .verdict import layer_slope

    slopes = {run: np.mean([layer_slope(g.sort_values("layer")["an_max_pcc_mean"])
                            for _, g in part.groupby("story")])
              for run, part in curves.groupby("run", sort=False)}
    rising = [run for run, s in slopes.items() if s > 0]
    return ("slope of the mean maximal PCC per layer: "
            + ", ".join(f"{run} {s:+.4f}" for run, s in slopes.items())
            + f"; rising in {', '.join(rising) if rising else 'none'}.")


#: The predictive check's numbers per story in ``summary.json`` that
#: :func:`predictive_by_run` collects.
PREDICTIVE_KEYS = ("r2_nuisance_mean", "r2_full_mean", "r2_unique_mean", "r2_unique_max",
                   "unique_significant", "ridge_r2_mean", "ridge_r2_max", "anchor_r2_mean",
                   "anchor_r2_max")


def predictive_by_run(runs: Runs) -> pd.DataFrame:
    """The predictive check (chapter 04) per run and story: the variance partition (mean R^2
    of the nuisance band and of nuisance + ANs, mean and best unique share of the ANs, BNs
    whose unique share beats its shift null), and the mean and best out-of-sample R^2 of the
    ridge from all ANs and of the anchor AN (tidy; runs without it are left out)."""
    rows = []
    for label, run_dir in runs.items():
        summary = load_coupling_summary(_stage(run_dir, "04_coupling"))
        for story, st in summary["stories"].items():
            if "r2_unique_mean" in st:
                rows.append({"run": label, "story": story, **{k: st[k] for k in PREDICTIVE_KEYS}})
    return pd.DataFrame(rows)


#: The columns of :func:`unique_share_contrasts` (also of an empty table).
CONTRAST_COLUMNS = ["run", "story", "summary", "real", "other", "difference", "low", "high",
                    "paired"]


def unique_share_contrasts(real: str | os.PathLike, others: Runs, *,
                           summaries=("mean", "max"), random_state: int = 0) -> pd.DataFrame:
    """The ANs' unique share (chapter 04's variance partition) of a run against other runs,
    as differences with block-bootstrap intervals over TRs.

    For each other run, story and summary of the BNs (their mean unique share, or the best
    BN's): :func:`anbn_utils.predictive.r2_difference` of the banded model's held-out
    predictions with the nuisance model's as each run's baseline (so each side is its unique
    share), paired when both runs have the same TRs.

    Parameters
    ----------
    real : path
        The run whose share is compared (the book's run).
    others : mapping of label -> run directory
        The runs it is compared with (the null phantom, the controls).
    summaries : sequence of {"mean", "max"}
    random_state : int

    Returns
    -------
    DataFrame, one row per other run, story and summary: ``run``, ``story``, ``summary``,
    ``real``, ``other`` (the two unique shares), ``difference``, ``low``, ``high`` (95 %
    interval), ``paired``; runs without the partition are left out.
    """
    from .predictive import load_partition, r2_difference

    def share(part, how):
        gain = (r2_score(part["targets"], part["pred_full"], multioutput="raw_values")
                - r2_score(part["targets"], part["pred_nuisance"], multioutput="raw_values"))
        return float(getattr(gain, how)())

    rows = []
    real_dir = _stage(real, "04_coupling")
    for label, run_dir in others.items():
        other_dir = _stage(run_dir, "04_coupling")
        for story in load_coupling_summary(real_dir)["stories"]:
            try:
                a, b = load_partition(real_dir / story), load_partition(other_dir / story)
            except DataError:
                continue
            for how in summaries:
                d = r2_difference(a["pred_full"], a["targets"], b["pred_full"], b["targets"],
                                  baseline_a=a["pred_nuisance"], baseline_b=b["pred_nuisance"],
                                  summary=how, random_state=random_state)
                rows.append({"run": label, "story": story, "summary": how,
                             "real": share(a, how), "other": share(b, how),
                             "difference": float(d.estimate), "low": float(d.low),
                             "high": float(d.high), "paired": d.paired})
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def contrasts_reading(table: pd.DataFrame) -> str:
    """One line on :func:`unique_share_contrasts`: per run, the difference of the mean unique
    share over the BNs (this run minus that run) with its interval, and whether the interval
    is above zero, per story (the best BN's is in the table; a percentile bootstrap of a
    maximum is not consistent, so it is not read)."""
    if table.empty:
        return "no run to compare the ANs' unique share with"
    mean = table[table["summary"] == "mean"]
    parts = []
    for run, part in mean.groupby("run", sort=False):
        cells = ", ".join(f"{r.story} {r.difference:+.3f} [{r.low:+.3f}, {r.high:+.3f}]"
                          for r in part.itertuples())
        above = int((part["low"] > 0).sum())
        parts.append(f"{run}: {cells} (above zero in {above} of {len(part)} stories)")
    return ("mean unique share of the ANs over the BNs, this run minus each run, 95 % "
            "block-bootstrap interval: " + "; ".join(parts) + ".")


def predictive_reading(table: pd.DataFrame) -> str:
    """One line on :func:`predictive_by_run`: each run's mean over the stories of the best
    BN's unique share of the ANs and of the best BN's out-of-sample R^2 of the ridge and of
    the anchor AN."""
    if table.empty:
        return "no run ran the predictive check"
    means = table.groupby("run", sort=False)[["r2_unique_max", "ridge_r2_max",
                                              "anchor_r2_max"]].mean()
    return ("best BN's out-of-sample R², mean over the stories: " + "; ".join(
        f"{run} unique share of the ANs {r.r2_unique_max:.2f} (ridge {r.ridge_r2_max:.2f}, "
        f"anchor {r.anchor_r2_max:.2f})" for run, r in means.iterrows()) + ".")


def reliability_reading(agreement: pd.DataFrame, seeds: pd.DataFrame | None = None) -> str:
    """One line on split halves (:func:`anbn_utils.reliability.split_half_agreement` or
    :func:`anbn_utils.reliability.compare_runs`; several splits are averaged per story) and
    :func:`~anbn_utils.reliability.seed_stability`: the AN max-PCC correlation and the
    anchored-BN agreement against chance, per story; the matched maps' |r| across seeds."""
    n_splits = agreement["split"].nunique() if "split" in agreement else 1
    per_story = agreement.groupby("story", sort=False)[
        ["an_max_r", "anchor_agreement_pct", "anchor_chance_pct", "map_abs_r_mean"]].mean()
    parts = [f"{story}: AN max-PCC r {r.an_max_r:.2f} between the halves, anchored BN the "
             f"same for {r.anchor_agreement_pct:.0f} % of ANs (chance {r.anchor_chance_pct:.0f} %), "
             f"matched maps |r| {r.map_abs_r_mean:.2f}" for story, r in per_story.iterrows()]
    if n_splits > 1:
        parts[-1] += f" (means over {n_splits} random splits)"
    if seeds is not None and not seeds.empty:
        by = seeds.groupby("method", sort=False)["abs_r_mean"].mean() if "method" in seeds \
            else pd.Series({"": seeds["abs_r_mean"].mean()})
        parts.append("across seeds the matched maps correlate at "
                     + ", ".join(f"|r| {r:.2f}" + (f" ({m})" if m else "") for m, r in by.items())
                     + " on average")
    return "; ".join(parts) + "."

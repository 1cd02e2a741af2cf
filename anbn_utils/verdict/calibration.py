"""Calibration of the verdicts: how often each claim "holds" on data without coupling, and on
data with planted coupling.

:func:`write_coupling_run` writes what chapter 07 reads of a run (04_coupling's summary,
tests and claim replicates, and 05_pos's AN categories) for given AN and BN series, so the
whole verdict procedure (:func:`anbn_utils.verdict.claims_table`) can run on many simulated
datasets; ``benchmarks/calibrate_verdicts.py`` builds them from the phantom's own AN series.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io import write_table
from .claims import RunResult, load_run

__all__ = ["DEFAULT_PARAMETERS", "RESULTS", "SCENARIOS", "is_null_scenario",
           "load_verdict_calibration", "verdict_calibration_reading", "verdict_rates",
           "write_coupling_run"]

#: The committed results of ``benchmarks/calibrate_verdicts.py`` and
#: ``benchmarks/calibrate_verdicts_phantom.py``.
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "verdict_calibration.json"

#: The 04_coupling parameters of a calibration run (no predictive check: its claim is
#: calibrated by chapter 04's calibration study).
DEFAULT_PARAMETERS = {"nulls": ["circular", "phase"], "n_permutations": 199, "alphas": [0.05],
                      "mode": "signed", "pcc_threshold": 0.25, "min_shift": 1,
                      "fdr_tail": True, "nuisance": "none", "bn_pairing": "matched",
                      "an_surrogate": None, "predictive_check": False, "ridge_folds": 5,
                      "ridge_gap": 10, "partition_shifts": 50, "claim_null": "circular",
                      "claim_boot": 500, "claim_block": 20, "seed": 0}


def write_coupling_run(folder: str | os.PathLike, series: Mapping[str, tuple[np.ndarray,
                       np.ndarray]], n_layers: int, n_heads: int, *, tags: Mapping[str, np.ndarray] | None = None,
                       parameters: Mapping | None = None, name: str | None = None,
                       device: str = "cpu") -> RunResult:
    """A run folder with what the claims read, computed from given series.

    Parameters
    ----------
    folder : path
    series : mapping of story -> (ans (n_trs, n_ans), bns (n_trs, n_bns))
        ANs in layer order.
    n_layers, n_heads : int
        Layers, and attention heads per layer (the clusters of the contrasts of
        significance shares, :func:`anbn_utils.verdict.share_contrast`).
    tags : mapping of story -> ndarray of shape (n_ans,), optional
        Each AN's part-of-speech category (written as ``05_pos/<story>/an_tags.tsv``).
    parameters : mapping, optional
        Overrides of :data:`DEFAULT_PARAMETERS`.
    name : str, optional
        The run's name in the claims table (default: the folder's).

    Returns
    -------
    RunResult
    """
    from ..ans import an_names
    from ..controls import bn_partners
    from ..stages.coupling import CouplingParameters, CouplingResult

    folder = Path(folder)
    p = CouplingParameters.from_mapping({**DEFAULT_PARAMETERS, **(parameters or {}),
                                         "tasks": list(series), "device": device})
    n_ans = next(iter(series.values()))[0].shape[1]
    out = CouplingResult(parameters=p, partners=bn_partners(p.tasks, p.bn_pairing),
                         n_trs={s: len(a) for s, (a, _) in series.items()}, n_layers=n_layers,
                         an_names=an_names(n_layers, n_heads, n_ans // (n_layers * n_heads)),
                         bn_method="simulated", n_bns=next(iter(series.values()))[1].shape[1])
    for story, (ans, bns) in series.items():
        out.add_story(story, ans, bns, n_heads=n_heads, device=device)
        if tags is not None:
            write_table(folder / "05_pos" / story / "an_tags.tsv",
                        pd.DataFrame({"category": np.asarray(tags[story], dtype=int)}))
    out.save(folder / "04_coupling")
    return load_run(folder, name or folder.name)


def verdict_rates(tables: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per claim, how often it held and how often the real run reproduced it, over datasets,
    with Clopper-Pearson intervals of coverage ``confidence``.

    Parameters
    ----------
    tables : DataFrame
        Claims tables of :func:`anbn_utils.verdict.claims_table` stacked, with a ``dataset``
        column.

    Returns
    -------
    DataFrame, one row per claim key: ``key``, ``kind``, ``datasets``, ``holds``,
    ``holds_low``, ``holds_high``, ``reproduced``, ``reproduced_low``, ``reproduced_high``,
    ``untested`` (datasets on which it was untested).
    """
    from scipy.stats import binomtest

    rows = []
    for key, g in tables.groupby("key", sort=False):
        n = g["dataset"].nunique()
        row = {"key": key, "kind": g["kind"].iloc[0], "datasets": n,
               "untested": int(g["verdict"].str.startswith("untested").sum())}
        for what, hits in (("holds", g["verdict"].str.startswith("holds")),
                           ("reproduced", g["status"] == "reproduced")):
            k = int(hits.sum())
            ci = binomtest(k, n).proportion_ci(confidence, method="exact")
            row |= {what: k / n, f"{what}_low": ci.low, f"{what}_high": ci.high}
        rows.append(row)
    return pd.DataFrame(rows)


def load_verdict_calibration(path: str | os.PathLike = RESULTS) -> pd.DataFrame:
    """The rates of a verdict calibration results file (default: the committed one) as one
    table: :func:`verdict_rates`'s columns with ``scenario`` first."""
    import json

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing: run benchmarks/calibrate_verdicts.py (after "
                        "`make book`), or use the checkout's committed file")
    results = json.loads(path.read_text())
    return pd.DataFrame([{"scenario": name, "alpha": s["alpha"], "planted_r": s.get("planted_r"),
                          **row}
                         for name, s in results["scenarios"].items() for row in s["rates"]])


#: What each scenario's datasets are (:func:`verdict_calibration_reading`): the simulated
#: networks of ``benchmarks/calibrate_verdicts.py`` and the whole-pipeline phantoms of
#: ``benchmarks/calibrate_verdicts_phantom.py``.
SCENARIOS = {"null": "simulated networks", "planted": "simulated networks",
             "planted_strong": "simulated networks", "phantom_null": "whole-pipeline phantoms",
             "phantom_planted": "whole-pipeline phantoms"}


def is_null_scenario(scenario: str) -> bool:
    """Whether a calibration scenario's datasets have no coupling (``null``, ``*_null``)."""
    return scenario == "null" or scenario.endswith("_null")


def verdict_calibration_reading(rates: pd.DataFrame) -> str:
    """One line on :func:`load_verdict_calibration`, per scenario: on null data, the claims
    whose "holds" rate's interval lies above the level (miscalibrated) and the largest rate;
    on planted data, the claims the real run reproduced and those that held on half the
    datasets or more."""
    parts = []
    for scenario, part in rates[rates["kind"] != "text"].groupby("scenario", sort=False):
        label = SCENARIOS.get(scenario, scenario)
        n = int(part["datasets"].iloc[0])
        if is_null_scenario(scenario):
            alpha = float(part["alpha"].iloc[0])
            worst = part.sort_values("holds", ascending=False).iloc[0]
            above = part[part["holds_low"] > alpha]["key"].tolist()
            seen = part.sort_values("reproduced", ascending=False).iloc[0]
            parts.append(
                (f"no claim held on any of {n} null datasets ({label}; 95 % upper bound "
                 f"{worst.holds_high:.3f} per claim)" if worst.holds == 0 else
                 f"on {n} null datasets ({label}) the largest share of \"holds\" is "
                 f"{worst.holds:.3f} [{worst.holds_low:.3f}, {worst.holds_high:.3f}] ({worst.key})")
                + (f"; above the level {alpha:g}: {', '.join(above)}" if above else "")
                + ("; the real run reproduced no claim on any of them" if seen.reproduced == 0
                   else f"; the real run reproduced a claim on at most {seen.reproduced:.0%} of "
                   f"them ({seen.key})"))
            continue
        r = part["planted_r"].dropna()
        held = part[part["holds"] >= 0.5]
        seen = part[part["reproduced"] > 0]
        parts.append(
            (f"planted at r {r.iloc[0]:g} ({n} datasets, {label})" if len(r) else
             f"with the book's planted couplings ({n} datasets, {label})")
            + ": reproduced by the real run "
            + (", ".join(f"{r.key} {r.reproduced:.0%}" for r in seen.itertuples())
               if not seen.empty else "never")
            + ", held " + (", ".join(f"{r.key} {r.holds:.0%}" for r in held.itertuples())
                           if not held.empty else "on fewer than half for every claim"))
    if not any(is_null_scenario(s) for s in rates["scenario"]):
        parts.insert(0, "no null datasets in the verdict calibration")
    return "; ".join(parts) + "."

"""Calibration: false-positive rates and power of every null model and correction.

A test is calibrated when, on data with no coupling, it rejects at most as often as its
level says, and it has power when it finds couplings that are there.  This module makes
the data and reads the outcomes; ``benchmarks/calibrate_inference.py`` runs it at the
book's sizes and writes ``benchmarks/results/calibration_cpu.json``, which the Methods page
and chapter 04 read.

- :func:`smooth_series`: independent series like the pipeline's: AR(1), or AR(1) convolved
  with SPM's HRF (the phantom's networks unrelated to the text are made this way);
- :func:`plant`: BNs that correlate with chosen ANs at a chosen r;
- :func:`evaluate`: one dataset through :func:`anbn_utils.coupling.statistics.couple_story`;
  per null model and level, whether any unplanted AN is significant family-wise (FWER) or
  after FDR, the share of unplanted ANs with an uncorrected p at most the level (the per-test
  rate), and the share of planted pairs found;
- :func:`rate_table`: rates over datasets with Clopper-Pearson intervals
  (``scipy.stats.binomtest``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest, norm

from ..ans.activations import convolve_hrf
from ..errors import DataError, ParameterError
from ..stats import zscore

__all__ = [
    "NUISANCE_SOURCES",
    "PAIR_PHI",
    "RESULTS",
    "WINDOW",
    "calibration_rates",
    "calibration_reading",
    "evaluate",
    "is_held_out",
    "load_calibration",
    "nuisance_holdout",
    "nuisance_holdout_reading",
    "plant",
    "rate_table",
    "smooth_series",
]

#: The committed results of the calibration study, in the checkout the package runs from.
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "calibration_cpu.json"

#: The AR(1) coefficient of the calibration's independent pairs (``pair_ar1``), and the
#: exclusion window (``min_shift``) of the old circular null it measures beside the new.
PAIR_PHI = 0.9
WINDOW = 10

#: The AN series the nuisance scenarios were measured on, by the suffix of their scenario
#: names (``benchmarks/calibrate_inference.py --suffix``): the default ``nuisance`` was
#: chosen on the first; the others are data it was not chosen on.
NUISANCE_SOURCES = {
    "": "the null phantom's ANs (the default was chosen on them)",
    "_holdout": "other null phantoms' ANs (other seeds: other word timings)",
    "_untrained": "those phantoms' ANs of the untrained model",
}


def is_held_out(scenario: str) -> bool:
    """Whether a calibration scenario was measured on AN series the defaults were not
    chosen on (chapter 07 shows those; chapter 04 the others)."""
    return any(suffix and scenario.endswith(suffix) for suffix in NUISANCE_SOURCES)


#: Outcomes of :func:`evaluate` that are one Bernoulli trial per dataset (binomial
#: intervals over datasets), and those that are a share of tests within a dataset.
DATASET_OUTCOMES = ("fwer_any", "fdr_any")
SHARE_OUTCOMES = ("per_test", "per_test_tail", "planted_fwer", "planted_fdr")
#: Outcomes that are a mean over datasets (normal-approximation intervals): the false
#: discovery proportion, whose mean is the false discovery rate.
MEAN_OUTCOMES = ("fdp",)


def smooth_series(rng: np.random.Generator, n_trs: int, n_series: int, *, kind: str = "hrf",
                  phi: float = 0.8, tr: float = 1.5, burn_in: int = 40) -> np.ndarray:
    """Independent standardized series, shape (n_trs, n_series), float64.

    ``kind='ar1'``: AR(1) with coefficient ``phi``; ``'hrf'``: that AR(1) convolved with
    SPM's HRF at ``tr`` (after ``burn_in`` TRs, so the start is not special).
    """
    if kind not in ("ar1", "hrf"):
        raise ParameterError(f"kind must be 'ar1' or 'hrf', not {kind!r}")
    n = n_trs + burn_in
    x = np.empty((n, n_series))
    x[0] = rng.standard_normal(n_series)
    innov = rng.standard_normal((n, n_series)) * np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + innov[t]
    if kind == "hrf":
        x = convolve_hrf(x, tr, "spm").astype(np.float64)
    return zscore(x[burn_in:])


def plant(ans: np.ndarray, bns: np.ndarray, pairs: Sequence[tuple[int, int]],
          r: float) -> np.ndarray:
    """BNs with ``bns[:, k] = r * z(ans[:, i]) + sqrt(1 - r^2) * z(bns[:, k])`` for each
    planted pair ``(i, k)``: the pair's expected correlation is ``r`` (the BN's own series
    being independent of the AN).

    Returns a new array of the shape of ``bns``.
    """
    if not 0 < r < 1:
        raise ParameterError(f"a planted correlation must be in (0, 1), not {r!r}")
    out = zscore(np.asarray(bns, dtype=np.float64))
    a = zscore(np.asarray(ans, dtype=np.float64))
    for i, k in pairs:
        out[:, k] = r * a[:, i] + np.sqrt(1 - r**2) * out[:, k]
    return out


def evaluate(ans: np.ndarray, bns: np.ndarray, *, planted: Sequence[tuple[int, int]] = (),
             nulls=("shuffle", "circular", "phase"), n_permutations: int = 999,
             alphas: Sequence[float] = (0.01, 0.05), min_shift: int = 1,
             regressors: np.ndarray | None = None, nuisance: str = "regress",
             tail_options: dict | None = None, random_state: int = 0,
             device: str = "cpu") -> list[dict]:
    """One dataset through the coupling tests: what each null and correction concludes.

    Parameters
    ----------
    ans : ndarray of shape (n_trs, n_ans)
    bns : ndarray of shape (n_trs, n_bns)
    planted : sequence of (AN, BN) index pairs
        The true couplings; every other AN counts as null (the ANs are independent of
        each other in the simulations this is meant for).
    regressors : ndarray of shape (n_trs, n_regressors), optional
        Nuisance regressors residualized out of the ANs before the tests (the ``nuisance``
        of chapter 04, :mod:`anbn_utils.series`), and out of the BNs too with
        ``nuisance='regress_both'``.
    nuisance : {'regress', 'regress_both'}
        What ``regressors`` are regressed out of.
    tail_options : dict, optional
        See :func:`anbn_utils.coupling.statistics.max_statistic_test`.

    Returns
    -------
    list of dict
        One per null model and level: ``null``, ``alpha``, ``fwer_any`` (some unplanted AN
        significant family-wise), ``fdr_any`` (some unplanted AN with q <= alpha), ``fdp``
        (unplanted ANs among those with q <= alpha, 0 if none),
        ``per_test`` and ``per_test_tail`` (share of unplanted ANs with the permutation or
        the tail p-value <= alpha), ``planted_fwer`` and ``planted_fdr`` (share of planted
        pairs with family-wise p <= alpha, and of planted ANs with q <= alpha; NaN when
        nothing is planted), ``n_null_ans``, ``n_planted``, ``n_randomizations``.
    """
    from ..ans.nuisance import residualize
    from ..coupling.statistics import couple_story

    both = regressors is not None and nuisance == "regress_both"
    if regressors is not None:
        ans = residualize(ans, regressors)
    if both:
        bns = residualize(bns, regressors)
    result = couple_story(ans, bns, nulls=list(nulls), n_permutations=n_permutations,
                          alphas=list(alphas), min_shift=min_shift, tail_options=tail_options,
                          regressors=regressors if both else None, random_state=random_state,
                          device=device)
    planted = [(int(i), int(k)) for i, k in planted]
    null_ans = np.setdiff1d(np.arange(ans.shape[1]), [i for i, _ in planted])
    rows = []
    for null, t in result["tests"].items():
        for alpha in alphas:
            found = t["an_q"] <= alpha
            row = {"null": null, "alpha": float(alpha),
                   "fwer_any": bool((t["an_p_fwer"][null_ans] <= alpha).any()),
                   "fdr_any": bool(found[null_ans].any()),
                   "fdp": found[null_ans].sum() / max(found.sum(), 1),
                   "per_test": float((t["an_p"][null_ans] <= alpha).mean()),
                   "per_test_tail": float((t["an_p_tail"][null_ans] <= alpha).mean()),
                   "planted_fwer": np.nan, "planted_fdr": np.nan,
                   "n_null_ans": len(null_ans), "n_planted": len(planted),
                   "n_randomizations": int(t["n_randomizations"])}
            if planted:
                i, k = np.array(planted).T
                row["planted_fwer"] = float((t["pair_p_fwer"][i, k] <= alpha).mean())
                row["planted_fdr"] = float((t["an_q"][i] <= alpha).mean())
            rows.append(row)
    return rows


def rate_table(rows: pd.DataFrame, by: Sequence[str], confidence: float = 0.95) -> pd.DataFrame:
    """Rates over datasets with Clopper-Pearson intervals.

    Parameters
    ----------
    rows : DataFrame
        :func:`evaluate`'s rows of many datasets, with the columns ``by`` naming the
        condition (scenario, null, alpha, ...).
    by : sequence of str
    confidence : float

    Returns
    -------
    DataFrame, one row per condition and outcome: ``by``..., ``outcome``, ``rate``,
    ``low``, ``high``, ``successes``, ``trials``.  For the dataset outcomes (FWER, any
    false discovery) a trial is a dataset; for the shares, a trial is a test (the per-test
    rate's tests, or the planted pairs), pooled over datasets (the tests of one dataset
    share its BNs, so for families the interval is narrower than it should be); ``fdp``
    is averaged over datasets (the false discovery rate) with a normal-approximation
    interval, and no successes.
    """
    out = []
    for key, group in rows.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for outcome in DATASET_OUTCOMES + SHARE_OUTCOMES:
            if outcome not in group:
                continue
            values = group[outcome].dropna()
            if values.empty:
                continue
            if outcome in DATASET_OUTCOMES:
                k, n = int(values.sum()), len(values)
            else:
                weight = group.loc[values.index, "n_planted" if outcome.startswith("planted")
                                   else "n_null_ans"]
                k, n = int(np.rint((values * weight).sum())), int(weight.sum())
            ci = binomtest(k, n).proportion_ci(confidence)
            out.append({**dict(zip(by, key)), "outcome": outcome, "rate": k / n,
                        "low": ci.low, "high": ci.high, "successes": k, "trials": n})
        for outcome in (o for o in MEAN_OUTCOMES if o in group):
            values = group[outcome].to_numpy(dtype=float)
            half = norm.ppf(0.5 + confidence / 2) * values.std(ddof=1) / np.sqrt(len(values)) \
                if len(values) > 1 else np.nan
            out.append({**dict(zip(by, key)), "outcome": outcome, "rate": values.mean(),
                        "low": max(values.mean() - half, 0.0), "high": values.mean() + half,
                        "successes": None, "trials": len(values)})
    return pd.DataFrame(out)


def load_calibration(path: str | os.PathLike = RESULTS) -> pd.DataFrame:
    """:func:`calibration_rates` of a results file (default: the committed one)."""
    import json

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing: run the calibration study (`make calibrate`, "
                        "benchmarks/calibrate_inference.py), or use the checkout's committed file")
    return calibration_rates(json.loads(path.read_text()))


def calibration_rates(results: dict) -> pd.DataFrame:
    """The rates of a calibration results file (``benchmarks/results/calibration_*.json``,
    read as a dict) as one table: :func:`rate_table`'s columns with ``scenario`` first and
    ``an_runs`` last (how many runs' AN series the scenario read; None where not recorded)."""
    return pd.DataFrame([{"scenario": name, **row,
                          "an_runs": len(s["an_sources"]) if s.get("an_sources") else None}
                         for name, s in results["scenarios"].items() for row in s["rates"]])


def calibration_reading(rates: pd.DataFrame, *, alpha: float = 0.05) -> str:
    """What :func:`calibration_rates` says at ``alpha``, one line per outcome (Markdown):
    rate and 95 % interval per scenario and null model (the scenarios measured on the data
    the defaults were chosen on: :func:`is_held_out` ones are :func:`nuisance_holdout`'s)."""
    rates = rates[np.isclose(rates["alpha"], alpha) & ~rates["scenario"].map(is_held_out)]
    labels = {"per_test": "per-test false-positive rate", "fwer_any": "family-wise error rate",
              "fdp": "false discovery rate (mean FDP)",
              "planted_fwer": "planted pairs found family-wise",
              "planted_fdr": "planted ANs found after FDR"}
    lines = []
    for outcome, label in labels.items():
        part = rates[rates["outcome"] == outcome]
        if part.empty:
            continue
        cells = [f"{r.scenario} {r.null} {r.rate:.3f} [{r.low:.3f}, {r.high:.3f}]"
                 for r in part.itertuples()]
        lines.append(f"- **{label}** at {alpha:g}: " + "; ".join(cells))
    return "\n".join(lines)


def nuisance_holdout(rates: pd.DataFrame, *, alpha: float = 0.05,
                     null: str = "phase") -> pd.DataFrame:
    """The nuisance scenarios per AN source (:data:`NUISANCE_SOURCES`) and nuisance model.

    Parameters
    ----------
    rates : DataFrame
        :func:`calibration_rates`.
    alpha, null : float, str
        The level and null model read.

    Returns
    -------
    DataFrame, one row per source and nuisance model measured: ``source`` (its
    description), ``nuisance``, ``fwer`` (networks that follow the regressors and no AN:
    share of datasets with an AN significant family-wise) with ``fwer_low``/``fwer_high``,
    ``planted`` (4 more networks that follow ANs: share of those pairs found family-wise)
    with ``planted_low``/``planted_high`` (95 % intervals), ``datasets``, ``an_runs`` (the
    runs whose AN series were read, where recorded).
    """
    from ..choices import NUISANCE_MODELS

    rates = rates[np.isclose(rates["alpha"], alpha) & (rates["null"] == null)]

    def one(scenario, outcome):
        row = rates[(rates["scenario"] == scenario) & (rates["outcome"] == outcome)]
        return row.iloc[0] if len(row) else None

    rows = []
    for suffix, source in NUISANCE_SOURCES.items():
        for how in NUISANCE_MODELS:
            fwer = one(f"nuisance_{how}{suffix}", "fwer_any")
            planted = one(f"nuisance_planted_{how}{suffix}", "planted_fwer")
            if fwer is None and planted is None:
                continue
            rows.append({"source": source, "nuisance": how,
                         **{f"fwer{k}": None if fwer is None else fwer[c]
                            for k, c in (("", "rate"), ("_low", "low"), ("_high", "high"))},
                         **{f"planted{k}": None if planted is None else planted[c]
                            for k, c in (("", "rate"), ("_low", "low"), ("_high", "high"))},
                         "datasets": None if fwer is None else int(fwer["trials"]),
                         "an_runs": None if fwer is None else fwer["an_runs"]})
    return pd.DataFrame(rows)


def nuisance_holdout_reading(table: pd.DataFrame, *, default: str = "regress",
                             alpha: float = 0.05) -> str:
    """One paragraph on :func:`nuisance_holdout`: per AN source, the family-wise error
    rate with each nuisance model against the level, and what the default costs in power."""
    if table.empty:
        return "The calibration results hold no nuisance scenario."
    parts = []
    for source, part in table.groupby("source", sort=False):
        by = part.set_index("nuisance")
        fwer = ", ".join(f"`{how}` {r.fwer:.2f} [{r.fwer_low:.2f}, {r.fwer_high:.2f}]"
                         + (" (above the level)" if r.fwer_low > alpha else "")
                         for how, r in by.iterrows() if pd.notna(r.fwer))
        runs = part["an_runs"].dropna()
        text = (f"{source}" + (f" ({int(runs.iloc[0])} runs)" if len(runs) else "")
                + f": family-wise error rate {fwer}")
        if (default in by.index and "none" in by.index
                and pd.notna(by.loc[default, "planted"]) and pd.notna(by.loc["none", "planted"])):
            text += (f"; planted pairs found {by.loc['none', 'planted']:.2f} without the "
                     f"regression and {by.loc[default, 'planted']:.2f} with `{default}`")
        parts.append(text)
    return (f"Against networks that follow the story's timing regressors (level {alpha:g}): "
            + "; ".join(parts) + ".")

"""Does the paper hold?  Its claims, measured on runs, and verdicts computed from numbers.

Each claim of the paper is a statistic of one run (read from its artifacts) and a rule
that says whether a run *reproduces* the claim.  The verdict compares the real run with
the runs that should not reproduce it if the claim meant what the paper says:

1. not reproduced by the real run: *not reproduced on this data*;
2. reproduced by the null phantom as well (no AN drives any network there): *not
   evidence of coupling*;
3. reproduced by a control (an untrained model, shuffled words, the other story's
   networks, phase-randomized ANs): *not evidence about language*, naming the controls;
4. otherwise: *holds on this data*.

The rules are explicit, with their thresholds as named arguments (:class:`Rules`); the
claims are :data:`CLAIMS`.  The statistics that need a test of their own (the stories'
part-of-speech distributions, the most-anchored BN) use permutation tests with
``(1 + count) / (1 + B)`` p-values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .coupling import PAPER
from .errors import DataError
from .io import read_json, read_table
from .stats import permutation_p_values

__all__ = ["CLAIMS", "Claim", "Rules", "RunResult", "claims_table", "concentration_test",
           "layer_slope", "load_run", "story_difference_test", "verdict"]


@dataclass
class RunResult:
    """What the claims read from one run.

    Attributes
    ----------
    name : str
    summary : dict
        ``04_coupling/summary.json``.
    anchor_counts : DataFrame or None
        ``05_pos/anchor_counts.tsv`` (story, bn, n_ans).
    an_tags : dict of str -> ndarray of shape (n_ans,)
        Per story, each AN's (query tag, key tag) category (``05_pos/<story>/an_tags.tsv``).
    """

    name: str
    summary: dict[str, Any]
    anchor_counts: pd.DataFrame | None = None
    an_tags: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def stories(self) -> list[str]:
        return list(self.summary["stories"])


def load_run(run_dir: str | os.PathLike, name: str | None = None) -> RunResult:
    """Read a finished run's coupling summary and, when present, its part-of-speech tables."""
    run_dir = Path(run_dir)
    path = run_dir / "04_coupling" / "summary.json"
    if not path.is_file():
        raise DataError(f"{path} is missing: the run {run_dir} has not finished 04_coupling")
    summary = read_json(path)
    pos = run_dir / "05_pos"
    counts = read_table(pos / "anchor_counts.tsv") if (pos / "anchor_counts.tsv").is_file() \
        else None
    tags = {s: read_table(pos / s / "an_tags.tsv")["category"].to_numpy()
            for s in summary["stories"] if (pos / s / "an_tags.tsv").is_file()}
    return RunResult(name or run_dir.name, summary, counts, tags)


def layer_slope(values) -> float:
    """Least-squares slope of a per-layer statistic against the layer number (per layer)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        raise DataError("a trend over layers needs at least two layers")
    return float(np.polyfit(np.arange(1, values.size + 1), values, 1)[0])


def story_difference_test(tags_a, tags_b, *, n_categories: int = 289,
                          n_permutations: int = 2000, random_state: int = 0
                          ) -> tuple[float, float]:
    """Do the ANs' categories differ between two stories beyond chance?

    Each AN has a category in each story (paired).  The statistic is the total variation
    distance between the two stories' category distributions; under the null hypothesis
    that the story does not matter, an AN's two categories are exchangeable, so the null
    distribution swaps them at random, AN by AN.

    Parameters
    ----------
    tags_a, tags_b : ndarray of shape (n_ans,), int
        Each AN's category in each story.

    Returns
    -------
    tvd : float
        In [0, 1].
    p : float
        ``(1 + #{null >= tvd}) / (1 + n_permutations)``.
    """
    a, b = np.asarray(tags_a), np.asarray(tags_b)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"paired categories needed, got shapes {a.shape} and {b.shape}")
    rng = np.random.default_rng(random_state)

    def tvd(x, y):  # rows of x, y: categories of the ANs; one distance per row
        offsets = np.arange(len(x))[:, None] * n_categories
        hx = np.bincount((x + offsets).ravel(), minlength=len(x) * n_categories)
        hy = np.bincount((y + offsets).ravel(), minlength=len(x) * n_categories)
        return 0.5 * np.abs(hx - hy).reshape(len(x), n_categories).sum(1) / x.shape[1]

    observed = float(tvd(a[None], b[None])[0])
    swap = rng.random((n_permutations, a.size)) < 0.5
    null = tvd(np.where(swap, b, a), np.where(swap, a, b))
    return observed, float(permutation_p_values((null >= observed).sum(), n_permutations))


def concentration_test(counts, *, n_permutations: int = 2000,
                       random_state: int = 0) -> tuple[float, float]:
    """Is one BN anchored by more ANs than chance would give the most-anchored one?

    Parameters
    ----------
    counts : ndarray of shape (n_bns,)
        ANs anchored to each BN (Fig. 6a).

    Returns
    -------
    share : float
        The most-anchored BN's share of the anchored ANs.
    p : float
        Against the largest count of the same number of ANs spread uniformly at random
        over the BNs (multinomial), ``(1 + count) / (1 + B)``.
    """
    counts = np.asarray(counts, dtype=int)
    n = int(counts.sum())
    if n == 0:
        return 0.0, 1.0
    rng = np.random.default_rng(random_state)
    null = rng.multinomial(n, np.full(counts.size, 1 / counts.size), size=n_permutations)
    p = permutation_p_values((null.max(1) >= counts.max()).sum(), n_permutations)
    return float(counts.max() / n), float(p)


@dataclass(frozen=True)
class Rules:
    """Thresholds of the rules that say whether a run reproduces a claim."""

    #: "nearly all ANs significant": at least this % of ANs (the paper: 99.57 and 98.71).
    majority_pct: float = 90.0
    #: level of the permutation tests of the POS and most-anchored-BN claims
    alpha: float = 0.05
    n_permutations: int = 2000
    random_state: int = 0


@dataclass(frozen=True)
class Claim:
    """One claim: its text, the paper's value, and per run a value (text) and whether the
    run reproduces the claim."""

    key: str
    text: str
    paper: str
    measure: Callable[[RunResult, Rules], tuple[str, bool]]


def _per_story(run: RunResult, stat: Callable[[dict], float], fmt: str) -> tuple[str, list]:
    values = [stat(run.summary["stories"][s]) for s in run.stories]
    return ", ".join(f"{s} {format(v, fmt)}" for s, v in zip(run.stories, values)), values


def _significance(null: str) -> Callable[[RunResult, Rules], tuple[str, bool]]:
    def measure(run, rules):
        if any(null not in run.summary["stories"][s]["nulls"] for s in run.stories):
            return "not run", False
        text, values = _per_story(run, lambda st: st["nulls"][null]["ans_significant_pct"],
                                  ".1f")
        return text.replace(",", " %,") + " %", all(v >= rules.majority_pct for v in values)
    return measure


def _all_bns(null: str) -> Callable[[RunResult, Rules], tuple[str, bool]]:
    def measure(run, rules):
        if any(null not in run.summary["stories"][s]["nulls"] for s in run.stories):
            return "not run", False
        stories = run.summary["stories"]
        text = ", ".join(f"{s} {stories[s]['nulls'][null]['bns_significant']} / "
                         f"{stories[s]['n_bns']}" for s in run.stories)
        return text, all(stories[s]["nulls"][null]["bns_significant"] == stories[s]["n_bns"]
                         for s in run.stories)
    return measure


def _bn_max(run, rules):
    stories = run.summary["stories"]
    text = ", ".join(f"{s} {stories[s]['bn_max_pcc_mean']:.2f} ± {stories[s]['bn_max_pcc_sd']:.2f}"
                     for s in run.stories)
    paper = [PAPER[s] for s in run.stories if s in PAPER]
    floor = min((p["bn_max_pcc_mean"] - p["bn_max_pcc_sd"] for p in paper), default=0.0)
    return text, all(stories[s]["bn_max_pcc_mean"] >= floor for s in run.stories)


def _trend(key: str, sign: int, fmt: str = "+.4f") -> Callable[[RunResult, Rules],
                                                                tuple[str, bool]]:
    def measure(run, rules):
        stories = run.summary["stories"]
        name = next((k for k in stories[run.stories[0]] if k.startswith(key)), None)
        if name is None:
            return "not computed", False
        slopes = [layer_slope(stories[s][name]) for s in run.stories]
        text = ", ".join(f"{s} {format(v, fmt)}" for s, v in zip(run.stories, slopes))
        return f"slope per layer: {text}", all(sign * v > 0 for v in slopes)
    return measure


def _pos_difference(run, rules):
    if len(run.an_tags) < 2:
        return "not computed", False
    a, b = list(run.an_tags.values())[:2]
    tvd, p = story_difference_test(a, b, n_permutations=rules.n_permutations,
                                   random_state=rules.random_state)
    return f"TVD {tvd:.3f}, p = {p:.3g}", p < rules.alpha


def _most_anchored(run, rules):
    if run.anchor_counts is None:
        return "not computed", False
    parts, flags = [], []
    for story, table in run.anchor_counts.groupby("story", sort=False):
        share, p = concentration_test(table["n_ans"].to_numpy(),
                                      n_permutations=rules.n_permutations,
                                      random_state=rules.random_state)
        top = int(table["bn"].to_numpy()[int(np.argmax(table["n_ans"].to_numpy()))])
        parts.append(f"{story} BN{top + 1} {100 * share:.0f} % (p = {p:.3g})")
        flags.append(p < rules.alpha)
    return ", ".join(parts), all(flags)


def _paper_pct() -> str:
    return ", ".join(f"{s} {p['ans_significant_pct']} %" for s, p in PAPER.items())


#: The paper's claims, in its order.
CLAIMS = (
    Claim("significance_shuffle", "nearly all ANs significant (time points shuffled, as a "
          "plain reading of the paper's randomizations)", _paper_pct(), _significance("shuffle")),
    Claim("significance_circular", "nearly all ANs significant (circular shifts, which keep "
          "the autocorrelation)", _paper_pct(), _significance("circular")),
    Claim("significance_phase", "nearly all ANs significant (phase randomization)",
          _paper_pct(), _significance("phase")),
    Claim("all_bns_circular", "every BN significant (circular shifts)",
          ", ".join(f"{s} {p['bns_significant']} / {p['n_bns']}" for s, p in PAPER.items()),
          _all_bns("circular")),
    Claim("bn_max_pcc", "BNs' maximal PCC about the paper's (mean at least the paper's mean "
          "minus one s.d.)", ", ".join(f"{s} {p['bn_max_pcc_mean']} ± {p['bn_max_pcc_sd']}"
                                       for s, p in PAPER.items()), _bn_max),
    Claim("pcc_rises_with_depth", "the ANs' mean maximal PCC rises with depth",
          "rises", _trend("an_max_pcc_per_layer", +1)),
    Claim("fewer_weak_deeper", "fewer ANs below the PCC threshold in deeper layers",
          "fewer", _trend("ans_below_", -1, "+.2f")),
    Claim("deeper_anchor_more", "BNs anchor ANs of deeper layers more often", "more",
          _trend("anchored_ans_per_layer", +1, "+.2f")),
    Claim("pos_differs", "the ANs' part-of-speech categories differ between the stories",
          "they differ", _pos_difference),
    Claim("most_anchored_bn", "one BN is anchored by more ANs than the others",
          "one per story", _most_anchored),
)


def verdict(real: bool, null: bool | None, controls: Mapping[str, bool], *,
            same_as_null: bool = False) -> str:
    """The verdict of one claim from whether each run reproduces it (see the module
    docstring); ``null`` None when there is no null-phantom run; ``same_as_null`` when the
    statistic is identical on the null phantom (it does not depend on the brain data)."""
    if not real:
        return "not reproduced on this data"
    if null and same_as_null:
        return ("not evidence of coupling: it does not depend on the brain data (the same on "
                "the null phantom)")
    if null:
        return "not evidence of coupling: the null phantom, with no coupling, shows it too"
    shown = [name for name, flag in controls.items() if flag]
    if shown:
        return f"not evidence about language: {', '.join(shown)} show{'s' if len(shown) == 1 else ''} it too"
    return "holds on this data" + ("" if null is not None or controls else
                                   " (no null phantom or control to compare with)")


def claims_table(real: RunResult, null: RunResult | None = None,
                 controls: Mapping[str, RunResult] | None = None,
                 rules: Rules = Rules()) -> pd.DataFrame:
    """The claims table: one row per claim with the paper's value, each run's value, which
    runs reproduce it, and the verdict.

    Parameters
    ----------
    real : RunResult
        The run the claims are tested on.
    null : RunResult, optional
        The null phantom (no coupling planted).
    controls : mapping of str -> RunResult, optional
        Runs that destroy what the claim is about (e.g. ``untrained``, ``shuffled words``).

    Returns
    -------
    DataFrame with columns ``claim``, ``paper``, ``<real.name>``, ``<null.name>``, one per
    control, ``reproduced by`` (the runs, by name) and ``verdict``.
    """
    controls = dict(controls or {})
    rows = []
    for claim in CLAIMS:
        row = {"claim": claim.text, "paper": claim.paper}
        values = {}
        for run in [real, *([null] if null else []), *controls.values()]:
            row[run.name], values[run.name] = claim.measure(run, rules)
        row["reproduced by"] = ", ".join(n for n, v in values.items() if v) or "none"
        row["verdict"] = verdict(values[real.name], values[null.name] if null else None,
                                 {c.name: values[c.name] for c in controls.values()},
                                 same_as_null=bool(null) and row[null.name] == row[real.name])
        rows.append(row)
    return pd.DataFrame(rows)

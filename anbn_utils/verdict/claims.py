"""The paper's claims, each a statistic of one run with a rule that can fail.

A claim's measure returns a :class:`Measurement`: *reproduced*, *not reproduced* or
*untested* (with what is missing).  Three kinds of rule:

- **against the run's own null** (``kind="coupling"``): the statistic (oriented so that
  larger supports the claim) is recomputed on the randomizations of the run's BNs that
  break the AN-BN coupling and keep everything else
  (:mod:`anbn_utils.verdict.replicates`); the run reproduces the claim when, in every
  story, ``(1 + #{null >= observed}) / (1 + B)`` is at most the level.  The bootstrap
  replicates of the same statistic give the contrasts with other runs
  (:func:`contrast`);
- **a test outcome read at the paper's threshold** (``kind="threshold"``): the share of ANs
  significant under a null model, every BN significant, some pair significant family-wise;
  the statistic is already a calibrated test.  The shares are contrasted with another run's
  by a cluster bootstrap over the units (:func:`share_contrast`: the ANs' attention heads,
  whose dimensions are not independent, or the BNs); the family-wise pairs by the rule (the
  other run finds none);
- **a property of the text** (``kind="text"``): the stories' part-of-speech distributions;
  no brain data enters, so it is reported apart from the coupling verdicts;
- **an invalid null** (``kind="invalid null"``): the paper's claim read with time points
  shuffled, which ignores the autocorrelation of the series (chapter 04's calibration): it
  can be reproduced but is never evidence.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..io import read_table
from ..paper import COUPLING as PAPER
from ..stages.formats import load_coupling_summary
from ..stats import permutation_p_values
from .replicates import ClaimReplicates, load_replicates

__all__ = [
    "CLAIMS",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "UNTESTED",
    "Claim",
    "Contrast",
    "Measurement",
    "Rules",
    "RunResult",
    "anchored_tag_distance",
    "contrast",
    "layer_slope",
    "load_run",
    "own_null_p",
    "share_contrast",
    "story_difference_test",
]

REPRODUCED, NOT_REPRODUCED, UNTESTED = "reproduced", "not reproduced", "untested"


@dataclass(frozen=True)
class Rules:
    """The levels and thresholds of the rules (the Methods page lists them)."""

    #: "nearly all ANs significant": at least this % of ANs (the paper: 99.57 and 98.71).
    majority_pct: float = 90.0
    #: level of every claim's test and of the family-wise pairs (one of the run's alphas)
    alpha: float = 0.05
    #: coverage of the contrasts' bootstrap intervals
    confidence: float = 0.95
    #: randomizations of the part-of-speech test of the stories (a property of the text)
    n_permutations: int = 2000
    #: cluster-bootstrap resamples of the contrasts of significance shares
    n_boot: int = 2000
    random_state: int = 0


#: The rules chapter 07 applies.
DEFAULT_RULES = Rules()


@dataclass
class RunResult:
    """What the claims read from one finished run (its artifacts only).

    Attributes
    ----------
    name : str
    path : Path
        The run directory.
    summary : dict
        ``04_coupling/summary.json``.
    an_tags : dict of str -> ndarray of shape (n_ans,)
        Per story, each AN's (query tag, key tag) category (``05_pos/<story>/an_tags.tsv``);
        empty when 05_pos has not run.
    """

    name: str
    path: Path
    summary: dict[str, Any]
    an_tags: dict[str, np.ndarray] = field(default_factory=dict)
    _q_values: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def stories(self) -> list[str]:
        return list(self.summary["stories"])

    @property
    def parameters(self) -> dict[str, Any]:
        return self.summary.get("parameters", {})

    def q_values(self, story: str, unit: str, null: str) -> np.ndarray | None:
        """The FDR q-values of a story's ANs (``unit='an'``) or BNs (``'bn'``) under a null
        (float32, as stored), read once; None when the run did not test that null."""
        key = (story, unit, null)
        if key not in self._q_values:
            path = self.path / "04_coupling" / story / f"{unit}_q_{null}.npy"
            self._q_values[key] = np.load(path) if path.is_file() else None
        return self._q_values[key]

    @cached_property
    def replicates(self) -> dict[str, dict[str, ClaimReplicates]]:
        """Per story, the claims' statistics observed and on the run's replicates."""
        return {s: load_replicates(self.path / "04_coupling" / s,
                                   self.summary["stories"][s]["n_ans"]) for s in self.stories}


def load_run(run_dir: str | os.PathLike, name: str | None = None) -> RunResult:
    """Read a finished run's coupling summary and, when present, its AN categories."""
    run_dir = Path(run_dir)
    summary = load_coupling_summary(run_dir / "04_coupling")
    pos = run_dir / "05_pos"
    tags = {s: read_table(pos / s / "an_tags.tsv")["category"].to_numpy()
            for s in summary["stories"] if (pos / s / "an_tags.tsv").is_file()}
    return RunResult(name or run_dir.name, run_dir, summary, tags)


@dataclass(frozen=True)
class Measurement:
    """A claim measured on one run.

    Attributes
    ----------
    status : {'reproduced', 'not reproduced', 'untested'}
    text : str
        The statistic as the table shows it.
    reason : str
        Why the claim is untested on the run.
    observed : dict of str -> float
        Per story, the statistic (oriented: larger supports the claim); empty for the
        claims read at a threshold.
    boot : dict of str -> ndarray of shape (n_boot,)
        Per story, its bootstrap replicates, for the contrasts.
    resampling : dict of str -> tuple
        Per story, what fixes the bootstrap's TRs (TRs, seed, block): replicates of two
        runs with the same are paired.
    """

    status: str
    text: str
    reason: str = ""
    observed: dict[str, float] = field(default_factory=dict)
    boot: dict[str, np.ndarray] = field(default_factory=dict)
    resampling: dict[str, tuple] = field(default_factory=dict)

    @property
    def reproduced(self) -> bool:
        return self.status == REPRODUCED


def _untested(reason: str) -> Measurement:
    return Measurement(UNTESTED, f"untested: {reason}", reason)


@dataclass(frozen=True)
class Contrast:
    """One claim's statistic on a run minus on another, per story, with a bootstrap
    percentile interval.

    Attributes
    ----------
    estimate, low, high : dict of str -> float
    """

    estimate: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    #: appended to the text (e.g. " % points")
    unit: str = ""

    @property
    def weaker(self) -> bool:
        """The other run is significantly weaker in every story (interval above zero)."""
        return all(v > 0 for v in self.low.values())

    def text(self, fmt: str = "+.3g") -> str:
        return ", ".join(f"{s} {format(self.estimate[s], fmt)} [{format(self.low[s], fmt)}, "
                         f"{format(self.high[s], fmt)}]{self.unit}" for s in self.estimate)


def contrast(a: Measurement, b: Measurement, *, confidence: float = 0.95,
             random_state: int = 0) -> Contrast | None:
    """``a`` minus ``b`` per story with a percentile interval from their bootstrap replicates.

    Replicates drawn at the same TRs (runs of equal length, seed and block: the same
    ``resampling``) are subtracted in order (paired: what the runs share cancels); others
    are put in a random order first, so that the two sets are independent.  None when
    either has no replicates or they share no story.
    """
    stories = [s for s in a.boot if s in b.boot]
    if not stories:
        return None
    rng = np.random.default_rng(random_state)
    est, low, high = {}, {}, {}
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    for s in stories:
        x, y = a.boot[s], b.boot[s]
        key = a.resampling.get(s)
        if key is None or None in key or key != b.resampling.get(s):
            y = rng.permutation(y)
        n = min(len(x), len(y))
        est[s] = a.observed[s] - b.observed[s]
        low[s], high[s] = (float(v) for v in np.quantile(x[:n] - y[:n], q))
    return Contrast(est, low, high)


def share_contrast(hits_a, hits_b, clusters, *, n_boot: int = 2000, confidence: float = 0.95,
                   random_state: int = 0) -> tuple[float, float, float]:
    """The share of units with a hit in ``a`` minus in ``b`` (in %), with a percentile interval
    from a bootstrap of the clusters (whole clusters drawn with replacement, the units of
    both runs together: paired).

    Parameters
    ----------
    hits_a, hits_b : ndarray of shape (n_units,), bool
        E.g. each AN significant in each run (the same units, in the same order).
    clusters : ndarray of shape (n_units,), int
        Each unit's cluster (units of one cluster are dependent: an attention head's
        dimensions).
    n_boot : int
    confidence : float
    random_state : int

    Returns
    -------
    estimate, low, high : float
    """
    a, b = np.asarray(hits_a, dtype=float), np.asarray(hits_b, dtype=float)
    if a.shape != b.shape or a.shape != np.shape(clusters):
        raise DataError(f"paired units needed, got shapes {a.shape}, {b.shape} and "
                        f"{np.shape(clusters)}")
    _, c = np.unique(clusters, return_inverse=True)
    n_c = c.max() + 1
    diff, size = np.bincount(c, a - b, n_c), np.bincount(c, minlength=n_c).astype(float)
    draws = np.random.default_rng(random_state).integers(0, n_c, (n_boot, n_c))
    boot = 100 * diff[draws].sum(1) / size[draws].sum(1)
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(100 * (a - b).mean()), float(low), float(high)


def layer_slope(values) -> np.ndarray | float:
    """Least-squares slope of a per-layer statistic against the layer number (per layer);
    ``values`` of shape (n_layers,) or (n, n_layers) (one slope per row)."""
    values = np.asarray(values, dtype=float)
    if values.shape[-1] < 2:
        raise DataError("a trend over layers needs at least two layers")
    x = np.arange(values.shape[-1]) - (values.shape[-1] - 1) / 2
    slope = (values - values.mean(-1, keepdims=True)) @ x / (x @ x)
    return float(slope) if np.ndim(slope) == 0 else slope


def story_difference_test(tags_a, tags_b, *, n_categories: int | None = None,
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
    n_categories : int, optional
        Default: the part-of-speech categories (:func:`anbn_utils.pos.category_names`).

    Returns
    -------
    tvd : float
        In [0, 1].
    p : float
        ``(1 + #{null >= tvd}) / (1 + n_permutations)``.
    """
    from ..pos import category_names

    n_categories = n_categories or len(category_names())
    a, b = np.asarray(tags_a), np.asarray(tags_b)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"paired categories needed, got shapes {a.shape} and {b.shape}")
    rng = np.random.default_rng(random_state)
    observed = float(_tvd(a[None], b[None], n_categories)[0])
    swap = rng.random((n_permutations, a.size)) < 0.5
    null = _tvd(np.where(swap, b, a), np.where(swap, a, b), n_categories)
    return observed, float(permutation_p_values((null >= observed).sum(), n_permutations))


def _tvd(x: np.ndarray, y: np.ndarray, n_categories: int) -> np.ndarray:
    """Total variation distance of the category distributions of each row of ``x`` and
    ``y`` (n, n_ans): one per row."""
    offsets = np.arange(len(x))[:, None] * n_categories
    hx = np.bincount((x + offsets).ravel(), minlength=len(x) * n_categories)
    hy = np.bincount((y + offsets).ravel(), minlength=len(x) * n_categories)
    return 0.5 * np.abs(hx - hy).reshape(len(x), n_categories).sum(1) / x.shape[1]


def anchored_tag_distance(tags: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Total variation distance between the categories of the selected ANs and of all ANs.

    Parameters
    ----------
    tags : ndarray of shape (n_ans,), int
    selected : ndarray of shape (n, n_ans), bool
        One set of ANs per row (e.g. those anchored to the most-anchored BN); an empty set
        has distance 0.

    Returns
    -------
    ndarray of shape (n,)
    """
    tags = np.asarray(tags, dtype=int)
    n_cat = int(tags.max()) + 1
    onehot = np.eye(n_cat)[tags]  # (n_ans, n_cat)
    counts = selected.astype(float) @ onehot  # (n, n_cat)
    size = counts.sum(1, keepdims=True)
    share = np.divide(counts, size, out=np.zeros_like(counts), where=size > 0)
    return np.where(size[:, 0] > 0, 0.5 * np.abs(share - onehot.mean(0)).sum(1), 0.0)


def own_null_p(observed: float, null: np.ndarray) -> float:
    """``(1 + #{null >= observed}) / (1 + B)``, a null value equal to the observed one up to
    rounding counting as reaching it (ties go against the claim)."""
    null = np.asarray(null, dtype=float)
    reach = null >= observed - 1e-12 * max(abs(observed), 1e-300)
    return float(permutation_p_values(reach.sum(), len(null)))


# ------------------------------------------------------------------------------ the rules
Statistic = Callable[[ClaimReplicates, RunResult, str], np.ndarray]


def _against_null(statistic: Statistic, fmt: str, needs: str = "",
                  positive: bool = False) -> Callable:
    """A rule against the run's own null: per story, the statistic observed, its p-value
    on the randomizations and its bootstrap replicates; ``positive``: the statistic must
    also be above zero (a trend in the claimed direction, not only less negative than the
    null's)."""
    def measure(run: RunResult, rules: Rules) -> Measurement:
        missing = [s for s in run.stories if not {"observed", "null", "boot"}
                   <= set(run.replicates[s])]
        if missing:
            return _untested(f"no claim replicates in 04_coupling ({', '.join(missing)}): "
                             "re-run that stage")
        if needs == "tags" and set(run.an_tags) != set(run.stories):
            return _untested("no part-of-speech tags (05_pos not run)")
        observed, boot, parts, ok = {}, {}, [], []
        for s in run.stories:
            rep = run.replicates[s]
            obs = float(statistic(rep["observed"], run, s)[0])
            p = own_null_p(obs, statistic(rep["null"], run, s))
            observed[s], boot[s] = obs, statistic(rep["boot"], run, s)
            parts.append(f"{s} {format(obs, fmt)} (p = {p:.3g})")
            ok.append(p <= rules.alpha and (obs > 0 or not positive))
        return Measurement(REPRODUCED if all(ok) else NOT_REPRODUCED, ", ".join(parts),
                           observed=observed, boot=boot,
                           resampling={s: _resampling(run, s) for s in run.stories})
    return measure


def _resampling(run: RunResult, story: str) -> tuple:
    p = run.parameters
    return (run.summary.get("n_trs", {}).get(story), p.get("seed"), p.get("claim_block"),
            p.get("claim_boot"))


def _slope(field_name: str, sign: int) -> Statistic:
    return lambda rep, run, s: sign * np.atleast_1d(layer_slope(getattr(rep, field_name)))


def _field(field_name: str) -> Statistic:
    return lambda rep, run, s: np.asarray(getattr(rep, field_name), dtype=float)


def _anchored_tags(rep: ClaimReplicates, run: RunResult, story: str) -> np.ndarray:
    return anchored_tag_distance(run.an_tags[story], rep.anchored())


def _level(run: RunResult, story: str, null: str, alpha: float) -> dict | None:
    levels = run.summary["stories"][story]["nulls"].get(null, {}).get("by_alpha", [])
    return next((lev for lev in levels if np.isclose(lev["alpha"], alpha)), None)


def _threshold(null: str, stat: Callable[[dict, dict], float], rule: Callable[[float, dict,
               Rules], bool], fmt: Callable[[float, dict], str]) -> Callable:
    """A test outcome of ``summary.json`` at the rules' level, read at a threshold."""
    def measure(run: RunResult, rules: Rules) -> Measurement:
        parts, ok = [], []
        for s in run.stories:
            lev = _level(run, s, null, rules.alpha)
            if lev is None:
                return _untested(f"the {null} null at level {rules.alpha:g} was not run")
            story = run.summary["stories"][s]
            value = stat(lev, story)
            parts.append(f"{s} {fmt(value, story)}")
            ok.append(rule(value, story, rules))
        return Measurement(REPRODUCED if all(ok) else NOT_REPRODUCED, ", ".join(parts))
    return measure


def _significance_contrast(null: str, unit: str) -> Callable:
    """The share of ANs (``unit='an'``, clusters: their heads) or BNs (``'bn'``) significant
    after FDR at the rules' level, a run minus another (:func:`share_contrast`); None where
    either run lacks the tests."""
    def compare(a: RunResult, b: RunResult, rules: Rules) -> Contrast | None:
        est, low, high = {}, {}, {}
        for s in a.stories:
            q = [r.q_values(s, unit, null) for r in (a, b)]
            if any(v is None for v in q):
                return None
            # stored as float32: a q-value equal to the level must not round above it
            hits = [v <= np.float32(rules.alpha) for v in q]
            n = hits[0].size
            if unit == "an":
                n_heads = a.summary["stories"][s]["n_heads"]
                layers = len(a.summary["stories"][s]["an_max_pcc_per_layer"])
                clusters = np.arange(n) // (n // (layers * n_heads))
            else:
                clusters = np.arange(n)
            est[s], low[s], high[s] = share_contrast(
                *hits, clusters, n_boot=rules.n_boot, confidence=rules.confidence,
                random_state=rules.random_state)
        return Contrast(est, low, high, " % points")
    return compare


def _majority(null: str) -> Callable:
    return _threshold(null, lambda lev, st: lev["ans_significant_pct"],
                      lambda v, st, rules: v >= rules.majority_pct, lambda v, st: f"{v:.1f} %")


def _all_bns(null: str) -> Callable:
    return _threshold(null, lambda lev, st: lev["bns_significant"],
                      lambda v, st, rules: v == st["n_bns"], lambda v, st: f"{v} / {st['n_bns']}")


#: The valid nulls of the family-wise claim: both must find a pair.
PAIR_NULLS = ("circular", "phase")


def _coupled_pairs(run: RunResult, rules: Rules) -> Measurement:
    """Some AN-BN pair significant family-wise under every valid null, in every story;
    the text lists the pairs (the strongest first, at most five per story)."""
    from ..ans import load_ans
    from ..units import bn_name

    parts, ok = [], []
    for s in run.stories:
        found = None
        for null in PAIR_NULLS:
            path = run.path / "04_coupling" / s / f"pair_p_fwer_{null}.npy"
            if _level(run, s, null, rules.alpha) is None or not path.is_file():
                return _untested(f"the {null} null at level {rules.alpha:g} was not run")
            # stored as float32: a p-value equal to the level must not round above it
            hit = np.load(path) <= np.float32(rules.alpha)
            found = hit if found is None else found & hit
        pcc = np.load(run.path / "04_coupling" / s / "pcc.npy")
        ans_dir = run.path / "02_ans" / s
        names = load_ans(ans_dir).names if (ans_dir / "ans.json").is_file() else None
        idx = np.argwhere(found)
        idx = idx[np.argsort(-np.abs(pcc[found]))]
        shown = [f"{names[i] if names is not None else f'AN {i}'}-{bn_name(j)} "
                 f"(r {pcc[i, j]:.2f})" for i, j in idx[:5]]
        more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
        parts.append(f"{s}: {len(idx)} pair{'s' if len(idx) != 1 else ''}"
                     + (f" ({', '.join(shown)}{more})" if shown else ""))
        ok.append(len(idx) > 0)
    return Measurement(REPRODUCED if all(ok) else NOT_REPRODUCED, "; ".join(parts))


def _predicts_beyond_nuisance(run: RunResult, rules: Rules) -> Measurement:
    """The ANs' mean unique share over the BNs (chapter 04's variance partition) against
    its shift null, in every story; the contrasts come from the held-out predictions."""
    from ..predictive import load_partition

    observed, parts, ok = {}, [], []
    for s in run.stories:
        try:
            part = load_partition(run.path / "04_coupling" / s)
        except DataError:
            return _untested("no variance partition (predictive_check off or 04_coupling "
                             "from an older version)")
        obs = float(part["r2_unique"].mean())
        p = own_null_p(obs, part["unique_null"].mean(1))
        observed[s] = obs
        parts.append(f"{s} {obs:+.3f} (p = {p:.3g})")
        ok.append(p <= rules.alpha)
    return Measurement(REPRODUCED if all(ok) else NOT_REPRODUCED, ", ".join(parts),
                       observed=observed)


def _unique_share_contrast(a: RunResult, b: RunResult, rules: Rules) -> Contrast | None:
    """The mean unique share of run ``a`` minus run ``b``'s, per story, with the moving-block
    bootstrap of :func:`anbn_utils.predictive.r2_difference` (paired at equal length)."""
    from ..predictive import load_partition, r2_difference

    est, low, high = {}, {}, {}
    for s in a.stories:
        try:
            x, y = load_partition(a.path / "04_coupling" / s), \
                load_partition(b.path / "04_coupling" / s)
        except DataError:
            continue
        d = r2_difference(x["pred_full"], x["targets"], y["pred_full"], y["targets"],
                          baseline_a=x["pred_nuisance"], baseline_b=y["pred_nuisance"],
                          summary="mean", confidence=rules.confidence,
                          random_state=rules.random_state)
        est[s], low[s], high[s] = float(d.estimate), float(d.low), float(d.high)
    return Contrast(est, low, high) if est else None


def _pos_stories(run: RunResult, rules: Rules) -> Measurement:
    """The AN categories of the run's first two stories (the paper's two)."""
    if len(run.an_tags) < 2:
        return _untested("no part-of-speech tags of two stories (05_pos not run)")
    a, b = (run.an_tags[s] for s in run.stories[:2])
    tvd, p = story_difference_test(a, b, n_permutations=rules.n_permutations,
                                   random_state=rules.random_state)
    return Measurement(REPRODUCED if p <= rules.alpha else NOT_REPRODUCED,
                       f"TVD {tvd:.3f}, p = {p:.3g}")


@dataclass(frozen=True)
class Claim:
    """One claim: its text, the paper's value, how it is measured on a run.

    Attributes
    ----------
    key, text, paper : str
    measure : callable (RunResult, Rules) -> Measurement
    kind : {'coupling', 'threshold', 'text', 'invalid null'}
        See the module docstring.
    contrast : callable (RunResult, RunResult, Rules) -> Contrast or None, optional
        The first run's statistic minus the second's; None: from the measurements'
        bootstrap replicates (:func:`contrast`), where they have them.
    """

    key: str
    text: str
    paper: str
    measure: Callable[[RunResult, Rules], Measurement]
    kind: str = "coupling"
    contrast: Callable[[RunResult, RunResult, Rules], Contrast | None] | None = None


def _paper(fmt: Callable[[dict], str]) -> str:
    return ", ".join(f"{s} {fmt(p)}" for s, p in PAPER.items())


#: The paper's claims, in its order, and the claims the data can support.
CLAIMS = (
    Claim("significance_shuffle", "nearly all ANs significant (time points shuffled, as a "
          "plain reading of the paper's randomizations)",
          _paper(lambda p: f"{p['ans_significant_pct']} %"), _majority("shuffle"),
          "invalid null"),
    Claim("significance_circular", "nearly all ANs significant (circular shifts, which keep "
          "the autocorrelation)", _paper(lambda p: f"{p['ans_significant_pct']} %"),
          _majority("circular"), "threshold", _significance_contrast("circular", "an")),
    Claim("significance_phase", "nearly all ANs significant (phase randomization)",
          _paper(lambda p: f"{p['ans_significant_pct']} %"), _majority("phase"),
          "threshold", _significance_contrast("phase", "an")),
    Claim("all_bns_circular", "every BN significant (circular shifts)",
          _paper(lambda p: f"{p['bns_significant']} / {p['n_bns']}"), _all_bns("circular"),
          "threshold", _significance_contrast("circular", "bn")),
    Claim("bn_max_pcc", "the BNs' maximal PCC is beyond chance (mean over the BNs)",
          _paper(lambda p: f"{p['bn_max_pcc_mean']} ± {p['bn_max_pcc_sd']}"),
          _against_null(_field("bn_max_mean"), ".3f")),
    Claim("pcc_rises_with_depth", "the ANs' mean maximal PCC rises with depth", "rises",
          _against_null(_slope("an_max_per_layer", +1), "+.4f", positive=True)),
    Claim("fewer_weak_deeper", "fewer ANs below the PCC threshold in deeper layers "
          "(statistic: minus the slope, % per layer)", "fewer",
          _against_null(_slope("below_pct_per_layer", -1), "+.2f", positive=True)),
    Claim("deeper_anchor_more", "BNs anchor ANs of deeper layers more often (slope of the "
          "BNs' best ANs per layer)", "more",
          _against_null(_slope("anchored_per_layer", +1), "+.3f", positive=True)),
    Claim("most_anchored_bn", "one BN is anchored by more ANs than the others (its share of "
          "the anchored ANs)", "one per story", _against_null(_field("most_anchored_share"),
                                                               ".2f")),
    Claim("pos_anchored", "the ANs of the most-anchored BN differ in part of speech from the "
          "ANs at large (total variation distance)", "they differ (Fig. 7)",
          _against_null(_anchored_tags, ".3f", needs="tags")),
    Claim("pos_stories", "the ANs' part-of-speech categories differ between the stories (a "
          "property of the text: no brain data enters)", "they differ", _pos_stories, "text"),
    Claim("coupled_pairs", "some AN-BN pairs are coupled beyond chance (family-wise, under "
          "the circular and the phase nulls)", "not tested in the paper", _coupled_pairs,
          "threshold"),
    Claim("predicts_beyond_nuisance", "the ANs predict BNs on held-out time points beyond "
          "the nuisance regressors (mean unique share over the BNs)",
          "not tested in the paper", _predicts_beyond_nuisance,
          contrast=_unique_share_contrast),
)

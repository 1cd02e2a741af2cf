"""Reliability: split-half subjects, and how well two finished runs agree.

Split half.  :func:`split_subjects` splits each story's subjects into two disjoint halves
drawn from a seed; chapter 03's ``fit_half`` fits the BNs on one half and saves the time
courses of the other (held-out) half, which chapter 04 couples with the ANs.  The runs
``fit_half=1`` and ``fit_half=2`` then rest on disjoint subjects: two independent
estimates of the same quantities.

Comparing two runs (read from their artifacts only):

- the BNs of the two runs are matched by their maps (Hungarian assignment on the absolute
  spatial correlation, :func:`anbn_utils.recovery.match_by_abs_correlation`; the sign of a
  BN is arbitrary), :func:`match_bns`;
- per story, the correlation of the ANs' maximal PCC (Eq. 1) between the runs, and the
  share of ANs whose anchored BN in one run is the matched BN of their anchor in the other
  (:func:`anchor_agreement`, with the agreement expected by chance from the two runs'
  anchor frequencies), :func:`compare_runs`;
- the best AN-BN pair of each layer: same AN, same matched BN? :func:`best_pair_stability`;
- for runs that differ only in the seed, the matched-map correlation of every pair of runs,
  :func:`seed_stability`.
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError
from .io import read_json, read_table
from .recovery import match_by_abs_correlation
from .stages.formats import load_coupling_summary

__all__ = ["StudyReliability", "an_max_pairs", "anchor_agreement", "best_pair_stability",
           "compare_runs", "fit_subjects_of_half", "match_bns", "match_run_bns", "read_bn_maps",
           "seed_stability", "seed_stability_by_method", "split_half_agreement",
           "split_half_note", "split_subjects", "study_reliability"]


def split_subjects(subjects: Mapping[str, Sequence[str]],
                   random_state: int) -> dict[str, tuple[list[str], list[str]]]:
    """Split each story's subjects into two disjoint halves that cover all of them.

    The halves differ in size by at most one (half 1 takes the odd subject).  The draw is
    deterministic given ``random_state`` and the story's name (one generator per story,
    seeded by both, so a story's split does not depend on the other stories).

    Parameters
    ----------
    subjects : dict of str -> sequence of str
        Per story, its subjects.
    random_state : int

    Returns
    -------
    dict of str -> (list of str, list of str)
        Per story, half 1 and half 2, each in the order of ``subjects``.

    Raises
    ------
    ParameterError
        If a story has fewer than two subjects or repeats one.
    """
    out = {}
    for task, subs in subjects.items():
        subs = list(subs)
        if len(subs) < 2:
            raise ParameterError(f"fit_half: story {task!r} has {len(subs)} subject(s); a split "
                                 "half needs at least 2 (set fit_half=None or use more subjects)")
        if len(set(subs)) != len(subs):
            raise ParameterError(f"fit_half: story {task!r} lists a subject twice: {subs}")
        rng = np.random.default_rng([int(random_state), zlib.crc32(task.encode())])
        first = set(rng.permutation(len(subs))[: (len(subs) + 1) // 2].tolist())
        out[task] = ([s for i, s in enumerate(subs) if i in first],
                     [s for i, s in enumerate(subs) if i not in first])
    return out


def fit_subjects_of_half(subjects: Mapping[str, Sequence[str]], fit_half: int | None,
                         random_state: int) -> dict[str, list[str]] | None:
    """The subjects of half ``fit_half`` (1 or 2) of each story (:func:`split_subjects`),
    or None when ``fit_half`` is None (every subject fits the BNs)."""
    if fit_half is None:
        return None
    if fit_half not in (1, 2):
        raise ParameterError(f"fit_half must be None, 1 or 2, not {fit_half!r}")
    return {t: h[fit_half - 1] for t, h in split_subjects(subjects, random_state).items()}


def match_bns(maps_a: np.ndarray, maps_b: np.ndarray) -> pd.DataFrame:
    """Match every BN of run A to one BN of run B by their spatial maps.

    Hungarian assignment on the absolute spatial correlation
    (:func:`anbn_utils.recovery.match_by_abs_correlation`): a BN learnt with the opposite
    sign still matches, with a negative ``spatial_r``.

    Parameters
    ----------
    maps_a : ndarray of shape (n_voxels, n_bns_a)
    maps_b : ndarray of shape (n_voxels, n_bns_b), n_bns_b >= n_bns_a

    Returns
    -------
    DataFrame with one row per BN of A, in order: ``bn_a``, ``bn_b`` (0-based), ``spatial_r``
    (signed Pearson correlation of the two maps).
    """
    rows, cols, corr = match_by_abs_correlation(maps_a, maps_b)
    return pd.DataFrame({"bn_a": rows.astype(int), "bn_b": cols.astype(int),
                         "spatial_r": corr[rows, cols]})


def anchor_agreement(an_to_bn_a: np.ndarray, an_to_bn_b: np.ndarray,
                     bn_b_of_a: np.ndarray) -> dict[str, float]:
    """Share of ANs anchored (Eq. 1) to matching BNs in two runs.

    Parameters
    ----------
    an_to_bn_a, an_to_bn_b : ndarray of shape (n_ans,), int
        Each AN's BN in run A and in run B.
    bn_b_of_a : ndarray of shape (n_bns_a,), int
        The BN of B matched to each BN of A (:func:`match_bns`' ``bn_b``).

    Returns
    -------
    dict with ``agreement_pct`` (% of ANs with ``bn_b_of_a[an_to_bn_a] == an_to_bn_b``) and
    ``chance_pct`` (the same expected if the two runs' anchors were independent with their
    observed frequencies: ``100 * sum_k P_a(k) P_b(bn_b_of_a[k])``).
    """
    a, b = np.asarray(an_to_bn_a), np.asarray(an_to_bn_b)
    match = np.asarray(bn_b_of_a)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"the two runs anchor different ANs ({a.shape} and {b.shape}): compare "
                        "runs of the same model")
    if a.size and (a.max() >= len(match) or a.min() < 0):
        raise DataError(f"run A anchors BN {a.max()} but its maps have {len(match)} BNs")
    freq_a = np.bincount(a, minlength=len(match)) / len(a)
    freq_b = np.bincount(b, minlength=max(int(match.max()) + 1, int(b.max()) + 1)) / len(b)
    return {"agreement_pct": float(100 * (match[a] == b).mean()),
            "chance_pct": float(100 * (freq_a * freq_b[match]).sum())}


def read_bn_maps(run_dir: str | os.PathLike, layer: int | None = None) -> np.ndarray:
    """Spatial maps of a finished run's ``03_bns`` stage, shape (n_voxels, n_units).

    Parameters
    ----------
    run_dir : path
    layer : int, optional
        1-based layer (VS-DBN); default the last, whose units are the BNs.
    """
    import nibabel as nib
    from nilearn.masking import apply_mask

    folder = Path(run_dir) / "03_bns"
    if not (folder / "bns.json").is_file():
        raise DataError(f"{folder} holds no brain networks; run the 03_bns stage of "
                        f"{run_dir} first")
    layers = read_json(folder / "bns.json")["layers"]
    layer = layer or len(layers)
    if not 1 <= layer <= len(layers):
        raise ParameterError(f"layer must be in 1..{len(layers)} for {folder}, not {layer}")
    return apply_mask(nib.load(folder / f"maps_layer{layer}.nii.gz"),
                      nib.load(folder / "mask.nii.gz")).T


def match_run_bns(run_a: str | os.PathLike, run_b: str | os.PathLike) -> pd.DataFrame:
    """:func:`match_bns` of the BN maps (last layer) of two finished runs."""
    maps_a, maps_b = read_bn_maps(run_a), read_bn_maps(run_b)
    if len(maps_a) != len(maps_b):
        raise DataError(f"{run_a} and {run_b} have maps on {len(maps_a)} and {len(maps_b)} "
                        "voxels: compare runs on the same data and mask")
    return match_bns(maps_a, maps_b)


def _coupling(run_dir, task: str, key: str) -> np.ndarray:
    path = Path(run_dir) / "04_coupling" / task / f"{key}.npy"
    if not path.is_file():
        raise DataError(f"{path} is missing: run the 04_coupling stage of {run_dir} first")
    return np.load(path)


def _stories(run_a, run_b) -> list[str]:
    found = [sorted(p.parent.name for p in (Path(r) / "04_coupling").glob("*/an_max.npy"))
             for r in (run_a, run_b)]
    common = [t for t in found[0] if t in found[1]]
    if not common:
        raise DataError(f"{run_a} and {run_b} have no coupled story in common "
                        f"({found[0]} and {found[1]}): run their 04_coupling stage first")
    return common


def an_max_pairs(run_a: str | os.PathLike, run_b: str | os.PathLike, *,
                 tasks: Sequence[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each AN's maximal PCC in two runs, per story: ``{story: (an_max_a, an_max_b)}``, each
    of shape (n_ans,) (what :func:`compare_runs` correlates)."""
    pairs = {}
    for task in tasks or _stories(run_a, run_b):
        pairs[task] = (_coupling(run_a, task, "an_max"), _coupling(run_b, task, "an_max"))
        if pairs[task][0].shape != pairs[task][1].shape:
            raise DataError(f"story {task!r}: {len(pairs[task][0])} ANs in {run_a} but "
                            f"{len(pairs[task][1])} in {run_b}: compare runs of the same model")
    return pairs


def compare_runs(run_a: str | os.PathLike, run_b: str | os.PathLike, *,
                 tasks: Sequence[str] | None = None,
                 matching: pd.DataFrame | None = None) -> pd.DataFrame:
    """How well two finished runs agree, per story (e.g. the two halves of a split).

    Parameters
    ----------
    run_a, run_b : path
        Run directories with ``03_bns`` and ``04_coupling``.
    tasks : sequence of str, optional
        Stories; default those coupled in both runs.
    matching : DataFrame, optional
        :func:`match_run_bns` of the two runs (computed when not given).

    Returns
    -------
    DataFrame with one row per story: ``story``, ``n_ans``, ``an_max_r`` (Pearson's r of the
    ANs' maximal PCC in A and B), ``anchor_agreement_pct`` and ``anchor_chance_pct``
    (:func:`anchor_agreement`), ``map_abs_r_mean`` (mean |spatial r| of the matched BN
    maps) and ``bns_sign_flipped`` (matched pairs with a negative spatial r: with the
    paper's signed anchors, an AN anchored to one cannot anchor to the other).
    """
    matching = match_run_bns(run_a, run_b) if matching is None else matching
    rows = []
    for task, (max_a, max_b) in an_max_pairs(run_a, run_b, tasks=tasks).items():
        agree = anchor_agreement(_coupling(run_a, task, "an_to_bn"),
                                 _coupling(run_b, task, "an_to_bn"), matching["bn_b"].to_numpy())
        rows.append({"story": task, "n_ans": len(max_a),
                     "an_max_r": float(np.corrcoef(max_a, max_b)[0, 1]),
                     "anchor_agreement_pct": agree["agreement_pct"],
                     "anchor_chance_pct": agree["chance_pct"],
                     "map_abs_r_mean": float(matching["spatial_r"].abs().mean()),
                     "bns_sign_flipped": int((matching["spatial_r"] < 0).sum())})
    return pd.DataFrame(rows)


def _best_pairs(run_dir, task: str) -> pd.DataFrame:
    """The best pair per layer: ``06_layers/best_pairs.tsv`` when present, else from
    ``pcc.npy`` (layers from ``04_coupling/summary.json``)."""
    from .interpret import best_pairs

    table = Path(run_dir) / "06_layers" / "best_pairs.tsv"
    if table.is_file():
        pairs = read_table(table)
        pairs = pairs[pairs["story"] == task]
        if len(pairs):
            return pairs[["layer", "an", "bn", "pcc"]].reset_index(drop=True)
    summary = load_coupling_summary(Path(run_dir) / "04_coupling")
    n_layers = len(summary["stories"][task]["an_max_pcc_per_layer"])
    return best_pairs(_coupling(run_dir, task, "pcc"), n_layers)


def best_pair_stability(run_a: str | os.PathLike, run_b: str | os.PathLike, *,
                        tasks: Sequence[str] | None = None,
                        matching: pd.DataFrame | None = None) -> pd.DataFrame:
    """Is each layer's best AN-BN pair (Fig. 8, 9) the same in two runs?

    The pairs are read from ``06_layers/best_pairs.tsv`` when a run has it, else computed
    from ``04_coupling/<story>/pcc.npy`` (:func:`anbn_utils.interpret.best_pairs`).

    Returns
    -------
    DataFrame with one row per story and layer: ``story``, ``layer`` (1-based), ``an_a``,
    ``an_b``, ``bn_a``, ``bn_b`` (0-based, each run's own numbering), ``pcc_a``, ``pcc_b``,
    ``same_an`` (the same AN), ``same_bn`` (B's BN is the one matched to A's by the maps,
    :func:`match_run_bns`).
    """
    matching = match_run_bns(run_a, run_b) if matching is None else matching
    bn_b_of_a = matching["bn_b"].to_numpy()
    out = []
    for task in tasks or _stories(run_a, run_b):
        a, b = _best_pairs(run_a, task), _best_pairs(run_b, task)
        both = a.merge(b, on="layer", suffixes=("_a", "_b"), validate="one_to_one")
        both.insert(0, "story", task)
        both["same_an"] = both["an_a"] == both["an_b"]
        both["same_bn"] = bn_b_of_a[both["bn_a"]] == both["bn_b"]
        out.append(both[["story", "layer", "an_a", "an_b", "bn_a", "bn_b", "pcc_a", "pcc_b",
                         "same_an", "same_bn"]])
    return pd.concat(out, ignore_index=True)


def seed_stability(runs: Sequence[str | os.PathLike] | Mapping[str, str | os.PathLike],
                   *, layer: int | None = None) -> pd.DataFrame:
    """Matched-map correlation of every pair of runs (e.g. that differ only in the seed).

    Parameters
    ----------
    runs : sequence of path, or dict of name -> path
        At least two finished runs with a ``03_bns`` stage; names default to the folders'.
    layer : int, optional
        1-based layer of the maps; default the last (the BNs).

    Returns
    -------
    DataFrame with one row per pair of runs: ``run_a``, ``run_b``, ``n_bns``,
    ``abs_r_mean``, ``abs_r_median``, ``abs_r_min`` (|spatial r| of the BN pairs matched by
    the Hungarian assignment, :func:`match_bns`).
    """
    named = dict(runs) if isinstance(runs, Mapping) else {Path(r).name: r for r in runs}
    if len(named) < 2:
        raise ParameterError(f"seed_stability needs at least two runs, got {list(named)}")
    maps = {name: read_bn_maps(path, layer) for name, path in named.items()}
    rows = []
    for a, b in itertools.combinations(named, 2):
        r = match_bns(maps[a], maps[b])["spatial_r"].abs()
        rows.append({"run_a": a, "run_b": b, "n_bns": len(r), "abs_r_mean": float(r.mean()),
                     "abs_r_median": float(r.median()), "abs_r_min": float(r.min())})
    return pd.DataFrame(rows)


def seed_stability_by_method(groups: Mapping[str, Mapping[str, str | os.PathLike]], *,
                             layer: int | None = None) -> pd.DataFrame:
    """:func:`seed_stability` of several groups of runs, e.g. one group per BN method.

    Parameters
    ----------
    groups : dict of str -> (dict of str -> path)
        Method (or any label) -> the runs of that method that differ only in the seed;
        groups with fewer than two runs are left out.
    layer : int, optional
        As in :func:`seed_stability`.

    Returns
    -------
    DataFrame: :func:`seed_stability`'s rows with a first column ``method``; empty (with
    those columns) when no group has two runs.
    """
    tables = [seed_stability(runs, layer=layer).assign(method=method)
              for method, runs in groups.items() if len(runs) >= 2]
    columns = ["method", "run_a", "run_b", "n_bns", "abs_r_mean", "abs_r_median", "abs_r_min"]
    return pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)


def split_half_agreement(pairs: Mapping[str, tuple[str | os.PathLike, str | os.PathLike]], *,
                         matchings: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """:func:`anbn_utils.reliability.compare_runs` of several split-half pairs of runs.

    Parameters
    ----------
    pairs : mapping of str -> (path, path)
        Label of a split (e.g. its seed) -> the runs whose BNs are fitted on its first and
        its second half.
    matchings : mapping of str -> DataFrame, optional
        :func:`match_run_bns` of some of those pairs, by label (computed for the others).

    Returns
    -------
    DataFrame: ``compare_runs``' rows with a first column ``split``.
    """
    tables = [compare_runs(a, b, matching=(matchings or {}).get(label)).assign(split=label)
              for label, (a, b) in pairs.items()]
    if not tables:
        raise ParameterError("split_half_agreement needs at least one pair of runs")
    table = pd.concat(tables, ignore_index=True)
    return table[["split", *(c for c in table if c != "split")]]


@dataclass(frozen=True)
class StudyReliability:
    """The reliability tables of a study (:func:`study_reliability`).

    Attributes
    ----------
    agreement : DataFrame or None
        :func:`split_half_agreement` of the split-half pairs the study finished; ``None``
        when it finished none.
    best_pairs : DataFrame or None
        :func:`best_pair_stability` of the first such pair.
    an_max : dict or None
        :func:`an_max_pairs` of the first pair (``{story: (an_max_a, an_max_b)}``).
    first_pair : tuple of (str, str) or None
        The variant names of that first pair.
    seeds : DataFrame
        :func:`seed_stability_by_method` of the seed groups (empty when no group has two
        finished runs).
    """

    agreement: pd.DataFrame | None
    best_pairs: pd.DataFrame | None
    an_max: dict[str, tuple[np.ndarray, np.ndarray]] | None
    first_pair: tuple[str, str] | None
    seeds: pd.DataFrame


def study_reliability(finished: Mapping[str, str | os.PathLike],
                      half_pairs: Sequence[Sequence[str]],
                      seed_groups: Mapping[str, Sequence[str]], *,
                      extra_runs: Mapping[str, Mapping[str, str | os.PathLike]] | None = None
                      ) -> StudyReliability:
    """Split-half and seed reliability of a study's finished variants (chapter 07).

    Parameters
    ----------
    finished : mapping of str -> path
        Variant -> run directory of the variants the study finished
        (:func:`anbn_utils.study.finished_variants`); variants named below but not finished
        are left out.
    half_pairs : sequence of (str, str)
        Pairs of variants whose BNs are fitted on the two halves of one split.
    seed_groups : mapping of str -> sequence of str
        Method label -> variants of that method that differ only in the BN fit's seed
        (``bn_seed``).
    extra_runs : mapping of str -> (mapping of str -> path), optional
        Method label -> further named runs of that group (e.g. ``{"VS-DBN": {"this run":
        run_dir}}``), listed before its variants.

    Returns
    -------
    StudyReliability
    """
    pairs = {f"{a} / {b}": (a, b) for a, b in half_pairs if a in finished and b in finished}
    groups = {method: {**(extra_runs or {}).get(method, {}),
                       **{v: finished[v] for v in variants if v in finished}}
              for method, variants in seed_groups.items()}
    seeds = seed_stability_by_method(groups)
    if not pairs:
        return StudyReliability(None, None, None, None, seeds)
    first, (a, b) = next(iter(pairs.items()))
    matching = match_run_bns(finished[a], finished[b])  # the first pair's maps, read once
    return StudyReliability(
        agreement=split_half_agreement({label: (finished[x], finished[y])
                                        for label, (x, y) in pairs.items()},
                                       matchings={first: matching}),
        best_pairs=best_pair_stability(finished[a], finished[b], matching=matching),
        an_max=an_max_pairs(finished[a], finished[b]), first_pair=(a, b), seeds=seeds)


def split_half_note(fit_half: int, seed: int, fitted: Mapping[str, Sequence[str]],
                    held_out: Mapping[str, Sequence[str]]) -> str:
    """The sentence chapter 03 shows in a split-half run: which subjects fitted the BNs and
    which held-out ones the saved time courses belong to."""
    return (f"**Split half {fit_half}** (drawn with seed {seed}): the BNs are fitted on the "
            "volumes of " + "; ".join(f"{t}: {', '.join(s)}" for t, s in fitted.items())
            + ". The time courses saved here, and coupled with the ANs in chapter 04, are those "
            "of the other, held-out subjects: "
            + "; ".join(f"{t}: {', '.join(s)}" for t, s in held_out.items()) + ".")

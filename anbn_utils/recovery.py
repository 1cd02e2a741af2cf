"""Score the brain networks against the phantom's ground truth: its maps and time courses.

Kept apart from :mod:`anbn_utils.phantom` (the generator), so that changing how results
are scored does not change, and regenerate, the phantom; and from the scoring of the planted
couplings (:mod:`anbn_utils.coupling.recovery`), so that the BN stage does not depend on the
coupling's statistics.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from .errors import DataError
from .stats import zscore

__all__ = ["data_label", "label_reading", "label_recovery", "load_truth", "map_recovery", "match_by_abs_correlation",
           "matched_correlation", "signal_check", "timecourse_recovery", "true_timecourses",
           "vsdbn_ablation"]


def load_truth(root: str | os.PathLike) -> dict | None:
    """The phantom's ground truth under ``root``, or None if ``root`` is not a phantom.

    Returns a dict with ``networks`` and ``planted`` (from ``truth.json``), ``parameters``,
    ``maps_img`` (4D image) and ``timecourses`` (task -> array (n_volumes, n_networks)).
    """
    from .io import read_json

    truth = Path(root) / "phantom_truth"
    if not (truth / "truth.json").is_file():
        return None
    out = read_json(truth / "truth.json")
    out["maps_img"] = nib.load(truth / "maps.nii.gz")
    out["timecourses"] = {p.stem.removeprefix("timecourses_"): np.load(p)
                          for p in sorted(truth.glob("timecourses_*.npy"))}
    return out


def data_label(run_dir: str | os.PathLike) -> str:
    """What a run's data are, for a column that stands beside the paper's numbers:
    ``phantom (simulated, planted couplings)``, ``null phantom (simulated, no coupling)``,
    ``real fMRI (Narratives)`` or ``synthetic (simulated, no coupling)``."""
    import yaml

    run_dir = Path(run_dir)
    truth = load_truth(run_dir / "dataset") if (run_dir / "dataset").is_dir() else None
    if truth is not None:
        return ("phantom (simulated, planted couplings)" if truth["planted"]
                else "null phantom (simulated, no coupling)")
    params = run_dir / "params.yaml"
    kind = (yaml.safe_load(params.read_text())["dataset"]["kind"] if params.is_file()
            else "narratives")
    return "real fMRI (Narratives)" if kind == "narratives" else f"{kind} (simulated, no coupling)"


def true_timecourses(truth: dict, story) -> np.ndarray:
    """The planted networks' true time courses over a story's kept TRs.

    Parameters
    ----------
    truth : dict
        From :func:`load_truth`.
    story : anbn_utils.narratives.Story
        Or any object with ``task``, ``start`` (first kept volume) and ``n_trs``.

    Returns
    -------
    ndarray of shape (n_trs, n_networks)
    """
    courses = truth["timecourses"][story.task]
    if story.start + story.n_trs > len(courses):
        raise DataError(f"story {story.task!r}: kept volumes [{story.start}, "
                        f"{story.start + story.n_trs}) run past the phantom's "
                        f"{len(courses)} volumes; the run's data are not this phantom's")
    return courses[story.start:story.start + story.n_trs]


def signal_check(story, truth: dict) -> list[dict]:
    """How strongly each planted network's time course is in the prepared data.

    For each network: the correlation, over the kept TRs, of its true time course with
    the subject-averaged z-scored BOLD averaged over the network's map (weighted), and,
    for reference, the mean |correlation| with the (non-constant) voxels outside every
    network.

    Parameters
    ----------
    story : anbn_utils.narratives.Story
    truth : dict
        From :func:`load_truth`.

    Returns
    -------
    list of dict, one per network: ``network`` (index), ``network_name``, ``driven by``
    (the planted AN or "unrelated signal"), ``r with network average``,
    ``mean |r| outside networks``.
    """
    from nilearn.masking import apply_mask

    maps = apply_mask(truth["maps_img"], story.mask_img())  # (n_networks, n_vox)
    mean = np.zeros((story.n_trs, maps.shape[1]))
    for s in story.scans["subject"]:  # one subject in memory at a time
        mean += story.bold(s)
    mean /= len(story.scans)
    courses = true_timecourses(truth, story)
    # voxels outside every network; a constant one has no correlation and is left out
    outside = np.flatnonzero((maps.max(0) == 0) & (mean.std(0) > 0))
    z_out = zscore(mean[:, outside])
    rows = []
    for k, net in enumerate(truth["networks"]):
        x = zscore(courses[:, k])
        planted = [p["an"] for p in truth["planted"] if p["network"] == k]
        rows.append({
            "network": k, "network_name": net["name"],
            "driven by": planted[0] if planted else "unrelated signal",
            "r with network average": float(np.corrcoef(x, mean @ maps[k])[0, 1]),
            "mean |r| outside networks": float(np.abs(x @ z_out / len(x)).mean()),
        })
    return rows


def matched_correlation(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Mean |correlation| of planted rows and estimated columns after a Hungarian matching.

    Parameters
    ----------
    estimate : ndarray of shape (n_features, n_components)
        Estimated maps (or time courses), one per column; at least as many as ``truth``.
    truth : ndarray of shape (n_planted, n_features)
        Planted maps (or time courses), one per row.
    """
    rows, cols, corr = match_by_abs_correlation(truth.T, estimate)
    return float(np.abs(corr[rows, cols]).mean())


def match_by_abs_correlation(reference: np.ndarray, estimate: np.ndarray):
    """Hungarian matching of columns on the absolute correlation (a sign flip still matches).

    Parameters
    ----------
    reference : ndarray of shape (n_features, n_reference)
        One map (or time course) per column.
    estimate : ndarray of shape (n_features, n_estimate)
        As many columns as ``reference`` or more.

    Returns
    -------
    rows : ndarray of shape (n_reference,)
        ``0 .. n_reference - 1``.
    cols : ndarray of shape (n_reference,)
        The column of ``estimate`` matched to each column of ``reference``.
    corr : ndarray of shape (n_reference, n_estimate)
        Pearson correlation of every reference column with every estimate column (signed).
    """
    from scipy.optimize import linear_sum_assignment

    reference, estimate = np.asarray(reference), np.asarray(estimate)
    if reference.ndim != 2 or estimate.ndim != 2 or len(reference) != len(estimate):
        raise DataError(f"cannot match columns of arrays of shapes {reference.shape} and "
                        f"{estimate.shape}: both must be (n_features, n_columns) on the same "
                        "features")
    k = reference.shape[1]
    if estimate.shape[1] < k:
        raise DataError(f"{estimate.shape[1]} columns cannot be matched one-to-one to {k}; "
                        f"the estimate needs at least {k}")
    corr = np.corrcoef(reference.T, estimate.T)[:k, k:]
    rows, cols = linear_sum_assignment(-np.abs(corr))
    return rows, cols, corr


def map_recovery(maps: np.ndarray, truth: dict, mask_img) -> pd.DataFrame:
    """Match each planted network to one BN (Hungarian, on |spatial correlation|).

    Parameters
    ----------
    maps : ndarray of shape (n_voxels, n_bns)
    truth : dict
        From :func:`load_truth`.
    mask_img : the voxels' mask

    Returns
    -------
    DataFrame with one row per planted network, in network order: ``network`` (index),
    ``network_name``, ``planted_an`` (the AN that drives it; missing if none), ``bn`` (the
    matched BN, 0-based), ``spatial_r`` (signed correlation of the two maps).
    """
    from nilearn.masking import apply_mask

    true_maps = apply_mask(truth["maps_img"], mask_img)  # (n_networks, n_vox)
    k = len(true_maps)
    if maps.shape[1] < k:
        raise DataError(f"{maps.shape[1]} BNs cannot be matched one-to-one to the phantom's "
                        f"{k} networks; fit at least {k} BNs")
    rows, cols, corr = match_by_abs_correlation(true_maps.T, maps)
    planted = {p["network"]: p["an"] for p in truth["planted"]}
    return pd.DataFrame([{"network": int(r), "network_name": truth["networks"][r]["name"],
                          "planted_an": planted.get(int(r)), "bn": int(c),
                          "spatial_r": float(corr[r, c])} for r, c in zip(rows, cols)])


def label_recovery(truth: dict, labels: pd.DataFrame, an_to_bn: dict[str, np.ndarray],
                   names: list[str], mask_img) -> pd.DataFrame:
    """Whether the network label of the BN a planted AN anchors to names the network the
    phantom planted it in: the test, on data whose truth is known, of reading a BN's label
    as what its ANs are about (the paper's Fig. 6, 8 and 9).

    The planted network's own label is the one the book's labeller
    (:func:`anbn_utils.bns.networks.label_networks`, the same atlas vote) gives its true
    map; a planted AN's BN is its Eq. 1 anchor in each story.

    Parameters
    ----------
    truth : dict
        From :func:`load_truth`.
    labels : DataFrame
        ``03_bns/labels.tsv``: per BN (in order), its ``network`` label.
    an_to_bn : dict of str to ndarray of shape (n_ans,)
        Per story, each AN's Eq. 1 BN (0-based), ANs in ``names`` order.
    names : list of str
        The run's AN names.
    mask_img
        The voxels of the BN maps.

    Returns
    -------
    DataFrame
        One row per story and planted AN: ``story``, ``planted_an``, ``network_name`` (as the
        phantom names it), ``true_label`` and ``true_share`` (the labeller on the planted
        network's map), ``bn`` (the AN's anchor, 0-based), ``bn_label`` and ``agrees``
        (whether the two labels are the same).
    """
    from nilearn.masking import apply_mask

    from .bns.networks import label_networks

    true = label_networks(apply_mask(truth["maps_img"], mask_img).T, mask_img)
    index = {name: i for i, name in enumerate(names)}
    rows = []
    for story, anchors in an_to_bn.items():
        for planted in truth["planted"]:
            if planted["an"] not in index:
                raise DataError(f"planted AN {planted['an']} is not among this run's ANs: "
                                "they are another model's")
            bn = int(anchors[index[planted["an"]]])
            own = true.iloc[planted["network"]]
            rows.append({"story": story, "planted_an": planted["an"],
                         "network_name": planted["network_name"], "true_label": own["network"],
                         "true_share": float(own["share"]), "bn": bn,
                         "bn_label": labels["network"].iloc[bn],
                         "agrees": bool(labels["network"].iloc[bn] == own["network"])})
    return pd.DataFrame(rows)


def label_reading(table: pd.DataFrame) -> str:
    """What :func:`label_recovery`'s table says, in a sentence computed from it."""
    k, n = int(table["agrees"].sum()), len(table)
    wrong = table[~table["agrees"]]
    if k == n:
        return (f"The BN each planted AN anchors to carries the planted network's own label "
                f"in all {n} cases (story x planted AN): on this phantom the labels name what "
                "was planted.")
    cases = "; ".join(f"{r.planted_an} ({r.story}): {r.bn_label} for {r.true_label}"
                      for r in wrong.itertuples())
    return (f"The BN a planted AN anchors to carries the planted network's own label in {k} "
            f"of {n} cases (story x planted AN); the others read {cases}. On this phantom, "
            "where the truth is known, a BN's network label is not a reliable reading of what "
            "its ANs drive, which the paper's readings of its Fig. 6, 8 and 9 assume.")


def timecourse_recovery(matched: pd.DataFrame, true_courses: dict[str, np.ndarray],
                        bn_courses: dict[str, np.ndarray]) -> pd.DataFrame:
    """Correlation of each planted network's true time course with its matched BN's.

    Parameters
    ----------
    matched : DataFrame
        From :func:`map_recovery` (``network``, ``bn``).
    true_courses : dict of str -> ndarray of shape (n_trs, n_networks)
        Per story, the networks' true time courses over the kept TRs
        (:func:`true_timecourses`).
    bn_courses : dict of str -> ndarray of shape (n_trs, n_bns)
        Per story, the subject-averaged BN time courses.

    Returns
    -------
    DataFrame with one row per story and network: ``story``, ``network``, ``bn``,
    ``timecourse_r`` (Pearson's r; its sign is the BN's arbitrary sign).
    """
    rows = []
    for task, truth_tc in true_courses.items():
        bn_tc = bn_courses[task]
        if len(bn_tc) != len(truth_tc):
            raise DataError(f"story {task!r}: {len(bn_tc)} BN time points but {len(truth_tc)} "
                            "true ones; both must be the story's kept TRs")
        for r in matched.itertuples():
            rows.append({"story": task, "network": int(r.network), "bn": int(r.bn),
                         "timecourse_r": float(np.corrcoef(truth_tc[:, r.network],
                                                           bn_tc[:, r.bn])[0, 1])})
    return pd.DataFrame(rows)


def vsdbn_ablation(bns_dir: str | os.PathLike, dataset_dir: str | os.PathLike) -> pd.DataFrame:
    """A VS-DBN fit's per-layer diagnostics next to the map recovery of the trained stack
    and of the stack with its upper layers left at their initial random weights.

    Parameters
    ----------
    bns_dir : path
        The folder 03_bns wrote (``diagnostics.tsv``, ``maps_layer*.nii.gz``).
    dataset_dir : path
        The run's dataset (its ``phantom_truth`` is the reference, when there is one).

    Returns
    -------
    DataFrame, one row per layer: the columns of ``03_bns/diagnostics.tsv``, ``map_r``
    (mean |spatial r| of the planted networks and their best-matched maps of that layer)
    and ``map_r_untrained_upper`` (the same for the ablated stack; layer 1 is trained in
    both), or without the last two when the run has no phantom truth.
    """
    from nilearn.masking import apply_mask

    from .io import read_table

    bns = Path(bns_dir)
    table = read_table(bns / "diagnostics.tsv")
    truth = load_truth(dataset_dir)
    if truth is None:
        return table
    mask = nib.load(bns / "mask.nii.gz")

    def recovery(name: str) -> float:
        path = bns / name
        if not path.is_file():
            return float("nan")
        maps = apply_mask(nib.load(path), mask).T
        return float(map_recovery(maps, truth, mask)["spatial_r"].abs().mean())

    table["map_r"] = [recovery(f"maps_layer{layer}.nii.gz") for layer in table["layer"]]
    table["map_r_untrained_upper"] = [
        table["map_r"].iloc[0] if layer == 1 else
        recovery(f"maps_layer{layer}_initial_upper.nii.gz") for layer in table["layer"]]
    return table

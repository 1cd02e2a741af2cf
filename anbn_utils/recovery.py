"""Score what the pipeline recovered against the phantom's ground truth.

Kept apart from :mod:`anbn_utils.phantom` (the generator), so that changing how results
are scored does not change, and regenerate, the phantom.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

__all__ = ["coupling_recovery", "load_truth", "map_recovery", "matched_correlation",
           "signal_check"]


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


def signal_check(story, truth: dict) -> list[dict]:
    """How strongly each planted network's time course is in the prepared data.

    For each network: the correlation, over the kept TRs, of its true time course with
    the subject-averaged z-scored BOLD averaged over the network's map (weighted), and,
    for reference, the mean |correlation| with voxels outside every network.

    Parameters
    ----------
    story : anbn_utils.narratives.Story
    truth : dict
        From :func:`load_truth`.
    """
    from nilearn.masking import apply_mask

    maps = apply_mask(truth["maps_img"], story.mask_img())  # (n_networks, n_vox)
    mean = np.zeros((story.n_trs, maps.shape[1]))
    for s in story.scans["subject"]:  # one subject in memory at a time
        mean += story.bold(s)
    mean /= len(story.scans)
    courses = truth["timecourses"][story.task][story.start:story.start + story.n_trs]
    outside = np.flatnonzero(maps.max(0) == 0)
    z_out = (mean[:, outside] - mean[:, outside].mean(0)) / mean[:, outside].std(0)
    rows = []
    for k, net in enumerate(truth["networks"]):
        x = (courses[:, k] - courses[:, k].mean()) / courses[:, k].std()
        planted = [p["an"] for p in truth["planted"] if p["network"] == k]
        rows.append({
            "network": f"{k}: {net['name']}",
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
    from scipy.optimize import linear_sum_assignment

    corr = np.corrcoef(truth, estimate.T)[: len(truth), len(truth):]
    rows, cols = linear_sum_assignment(-np.abs(corr))
    return float(np.abs(corr[rows, cols]).mean())


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
    DataFrame with one row per planted network: the matched BN (``BN{k}``, 1-based), the
    spatial correlation, and the planted AN (if any).
    """
    from nilearn.masking import apply_mask
    from scipy.optimize import linear_sum_assignment

    true_maps = apply_mask(truth["maps_img"], mask_img)  # (n_networks, n_vox)
    k = len(true_maps)
    corr = np.corrcoef(true_maps, maps.T)[:k, k:]
    rows, cols = linear_sum_assignment(-np.abs(corr))
    planted = {p["network"]: p["an"] for p in truth["planted"]}
    return pd.DataFrame([{"network": f"{r}: {truth['networks'][r]['name']}",
                          "planted AN": planted.get(int(r), ""), "matched BN": f"BN{c + 1}",
                          "spatial r": float(corr[r, c])} for r, c in zip(rows, cols)])


def coupling_recovery(truth: dict, matched: pd.DataFrame, pcc: np.ndarray,
                      tests: dict[str, dict], names: list[str]) -> pd.DataFrame:
    """For each planted pair: is the planted AN coupled with the BN matched to its network?

    Parameters
    ----------
    truth : dict
        From :func:`load_truth`.
    matched : DataFrame
        From :func:`map_recovery` (network -> matched BN).
    pcc : ndarray of shape (n_ans, n_bns)
        One story's correlations.
    tests : dict
        Null model -> :func:`anbn_utils.coupling.max_statistic_test` output for the story.
    names : list of str
        AN names.

    Returns
    -------
    DataFrame, one row per planted pair: the matched BN, the planted pair's r, the planted
    AN's rank among all ANs for that BN (1 = the BN's anchor, Eq. 2; by r and by |r|),
    whether the AN's own
    anchor (Eq. 1) is that BN, and the AN's q-value under each null model.
    """
    rows = []
    bn_of = {int(r.network.split(":")[0]): int(r["matched BN"][2:]) - 1
             for _, r in matched.iterrows()}
    for p in truth["planted"]:
        i, k = names.index(p["an"]), bn_of[p["network"]]
        row = {"planted AN": p["an"], "network": p["network_name"], "matched BN": f"BN{k + 1}",
               "r": float(pcc[i, k]), "rank among ANs": int((pcc[:, k] > pcc[i, k]).sum() + 1),
               "rank by |r|": int((np.abs(pcc[:, k]) > abs(pcc[i, k])).sum() + 1),
               "Eq. 1 anchor is the matched BN": bool(np.argmax(pcc[i]) == k)}
        for null, t in tests.items():
            row[f"q ({null})"] = float(t["an_q"][i])
        rows.append(row)
    return pd.DataFrame(rows)

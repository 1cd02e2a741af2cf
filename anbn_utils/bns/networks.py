"""The brain-network stage: fit BNs on the pooled stories, time courses, labels, artifacts.

``method`` picks the decomposition: ``'vsdbn'`` (the paper), or nilearn's ``'canica'`` and
``'dictlearning'`` as baselines, all returning the same outputs: spatial maps (one per
BN; for the VS-DBN also the layer-1 and layer-2 maps) and each BN's time course per
subject and story, whose subject average the coupling chapter uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.masking import unmask

from ..choices import BN_METHODS
from ..errors import DataError, ParameterError
from ..io import read_json, read_table, save_array, write_json, write_table
from .vsdbn import VSDBN

__all__ = ["METHODS", "BrainNetworks", "display_maps", "drop_empty_components",
           "fit_brain_networks", "label_networks", "load_brain_networks", "save_brain_networks",
           "vsdbn_diagnostics"]

METHODS = BN_METHODS


@dataclass
class BrainNetworks:
    """Fitted brain networks.

    Attributes
    ----------
    maps : list of ndarray, each (n_voxels, n_units)
        Spatial maps per layer (one entry for the nilearn methods); the last are the BNs.
    timecourses : dict of str -> ndarray (n_subjects, n_trs, n_bns)
        Per story, each subject's BN time courses.
    subjects : dict of str -> list of str
        Per story, the subjects of ``timecourses`` (with a split half, the held-out ones).
    mask_img : Nifti1Image
    history : list of list of float
        VS-DBN reconstruction error per epoch and layer (empty for nilearn methods).
    meta : dict
        ``method``, ``params`` and, for a split half, ``fit_subjects`` (per story, the
        subjects whose volumes fitted the BNs).
    diagnostics : DataFrame or None
        VS-DBN, one row per layer: ``layer``, ``n_visible``, ``n_hidden``,
        ``final_training_error`` (the history's last epoch), ``reconstruction_error``
        (mean-field, final parameters, whole training input), ``input_variance`` (mean over
        input units of their variance over samples) and ``relative_error`` (their ratio;
        about 1 for a layer that learned nothing).  None for the nilearn methods.
    initial_upper_maps : dict of int -> ndarray (n_voxels, n_units)
        VS-DBN, layers >= 2: the maps with the weights of layers 2 to ``l`` at their initial
        random values (an ablation of what the upper layers learned).  Empty for the
        nilearn methods.
    """

    maps: list[np.ndarray]
    timecourses: dict[str, np.ndarray]
    subjects: dict[str, list[str]]
    mask_img: Any
    history: list[list[float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    diagnostics: pd.DataFrame | None = None
    initial_upper_maps: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def n_bns(self) -> int:
        return self.maps[-1].shape[1]

    def mean_timecourses(self, task: str) -> np.ndarray:
        """Subject-averaged BN time courses of a story, shape (n_trs, n_bns)."""
        return self.timecourses[task].mean(0)

    def maps_img(self, layer: int | None = None):
        """Maps of a layer (1-based; default the last) as a 4D image."""
        return unmask(self.maps[(layer or len(self.maps)) - 1].T, self.mask_img)


def _common_mask(stories: dict) -> Any:
    masks = {t: s.mask_img() for t, s in stories.items()}
    first_task, first = next(iter(masks.items()))
    for task, m in masks.items():
        if m.shape != first.shape or not np.allclose(m.affine, first.affine, atol=1e-3) or \
                not np.array_equal(np.asanyarray(m.dataobj), np.asanyarray(first.dataobj)):
            raise DataError(
                f"the brain masks of {first_task!r} and {task!r} differ (grid or voxels): the "
                "BNs are fitted on the pooled volumes of all stories, which needs one voxel "
                "space. Resample the stories to a common grid and mask first."
            )
    return first


def fit_brain_networks(
    stories: dict,
    *,
    method: str = "vsdbn",
    n_components: int = 128,
    vsdbn: dict | None = None,
    random_state: int = 0,
    device: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = True,
    fit_subjects: dict[str, list[str]] | None = None,
    bn_layer: int | None = None,
) -> BrainNetworks:
    """Fit BNs on the volumes of every subject of every story, pooled.

    With ``fit_subjects`` (split half, :func:`anbn_utils.reliability.fit_subjects_of_half`)
    the BNs are fitted on those subjects' volumes only, and the time courses are those of
    the other (held-out) subjects of each story.

    Parameters
    ----------
    stories : dict of str -> :class:`~anbn_utils.narratives.Story`
        Prepared stories on one voxel space.
    method : {'vsdbn', 'canica', 'dictlearning'}
    n_components : int
        Number of BNs for the nilearn methods (the VS-DBN's is its last layer's size).
    vsdbn : dict, optional
        Parameters of :class:`~anbn_utils.bns.VSDBN` (``n_hidden``, ``learning_rate``, ...).
    random_state : int
    device : str
    checkpoint_dir : path, optional
        VS-DBN checkpoints (resumable fit; deleted when the fit succeeds).
    progress : bool
        The VS-DBN's tqdm bars (its ``verbose``).
    bn_layer : int, optional
        The VS-DBN layer whose units are the BNs (1-based; maps and time courses of that
        layer, and the layers below it); None: the last (the paper).
    fit_subjects : dict of str -> list of str, optional
        Per story, the subjects whose volumes fit the BNs; the time courses (and
        :attr:`BrainNetworks.subjects`) are then those of the story's other subjects, and
        ``meta["fit_subjects"]`` records these.  None: every subject fits the BNs and has
        its time courses.
    """
    if method not in METHODS:
        raise ParameterError(f"bn_method must be one of {METHODS}, not {method!r}")
    n_layers = len((vsdbn or {}).get("n_hidden", VSDBN().n_hidden))
    if bn_layer is not None and (method != "vsdbn" or not 1 <= bn_layer <= n_layers):
        raise ParameterError(f"bn_layer={bn_layer!r} picks a layer of the VS-DBN (1 to "
                             f"{n_layers}); it does not apply to bn_method={method!r}"
                             if method != "vsdbn" else
                             f"bn_layer={bn_layer!r}: the VS-DBN has layers 1 to {n_layers}")
    mask_img = _common_mask(stories)
    all_subjects = {t: s.scans["subject"].tolist() for t, s in stories.items()}
    fit_on, subjects = _held_out(all_subjects, fit_subjects)
    fit_parts = [s.bold(sub) for t, s in stories.items() for sub in fit_on[t]]
    parts = {t: [s.bold(sub) for sub in subjects[t]] for t, s in stories.items()}
    meta = {"fit_subjects": fit_on} if fit_subjects is not None else {}
    if method == "vsdbn":
        model = VSDBN(**(vsdbn or {}), random_state=random_state, device=device,
                      checkpoint_dir=checkpoint_dir, verbose=int(progress))
        model.fit(fit_parts)
        layers = range(1, (bn_layer or len(model.weights_)) + 1)
        maps = [model.maps(layer) for layer in layers]
        tcs = {t: np.stack([model.transform(p, layer=layers[-1]) for p in ps])
               for t, ps in parts.items()}
        if bn_layer:
            meta["bn_layer"] = bn_layer
        return BrainNetworks(maps, tcs, subjects, mask_img, model.history_,
                             {"method": method, "params": model.model_params(), **meta},
                             vsdbn_diagnostics(model),
                             {layer: model.maps(layer, upper_layers="initial")
                              for layer in layers[1:]})
    from nilearn.decomposition import CanICA, DictLearning

    cls = {"canica": CanICA, "dictlearning": DictLearning}[method]
    est = cls(n_components=n_components, mask=mask_img, smoothing_fwhm=None, standardize=False,
              detrend=False, random_state=random_state, verbose=0)
    est.fit([unmask(np.asarray(p), mask_img) for p in fit_parts])
    tcs = {t: np.stack(est.transform([unmask(np.asarray(p), mask_img) for p in ps]))
           for t, ps in parts.items()}
    maps, empty = drop_empty_components(est.components_, tcs)
    if empty:
        meta["empty_components"] = empty
    return BrainNetworks([maps.T.astype(np.float32)], tcs, subjects, mask_img, [],
                         {"method": method, "params": {"n_components": n_components}, **meta})


def drop_empty_components(components: np.ndarray, timecourses: dict[str, np.ndarray]
                          ) -> tuple[np.ndarray, list[int]]:
    """The maps that have time courses: nilearn's maps masker leaves out a component that is
    zero everywhere in the mask (dictionary learning can return one), so its ``transform``
    gives fewer columns than ``components_`` has rows, and map k would no longer be time
    course k.

    Parameters
    ----------
    components : ndarray of shape (n_components, n_voxels)
    timecourses : dict of str -> ndarray of shape (n_subjects, n_trs, n_kept)

    Returns
    -------
    maps : ndarray of shape (n_kept, n_voxels)
    empty : list of int
        The indices of the components left out (zero everywhere in the mask).

    Raises
    ------
    DataError
        If the time courses' width is not the number of non-empty maps.
    """
    empty = np.flatnonzero(~np.any(components != 0, axis=1))
    kept = np.delete(components, empty, axis=0)
    widths = {t: tc.shape[-1] for t, tc in timecourses.items()}
    if any(w not in (len(kept), len(components)) for w in widths.values()) \
            or len(set(widths.values())) > 1:
        raise DataError(f"{len(components)} components ({len(empty)} empty) but time courses of "
                        f"{widths} columns: maps and time courses cannot be matched")
    if next(iter(widths.values())) == len(components):
        return components, []
    return kept, [int(i) for i in empty]


def _held_out(subjects: dict[str, list[str]], fit_subjects: dict[str, list[str]] | None):
    """(subjects that fit the BNs, subjects whose time courses are kept), per story."""
    if fit_subjects is None:
        return subjects, subjects
    if set(fit_subjects) != set(subjects):
        raise ParameterError(f"fit_subjects names the stories {sorted(fit_subjects)}, but the "
                             f"BNs are fitted on {sorted(subjects)}: give every story's half")
    fit_on, held_out = {}, {}
    for task, subs in subjects.items():
        unknown = sorted(set(fit_subjects[task]) - set(subs))
        if unknown:
            raise ParameterError(f"fit_subjects: {unknown} are not subjects of story {task!r} "
                                 f"({subs})")
        fit_on[task] = [s for s in subs if s in set(fit_subjects[task])]
        held_out[task] = [s for s in subs if s not in set(fit_subjects[task])]
        if not fit_on[task] or not held_out[task]:
            raise ParameterError(f"fit_subjects: story {task!r} needs subjects on both sides "
                                 f"(fitted: {fit_on[task]}, held out: {held_out[task]})")
    return fit_on, held_out


def vsdbn_diagnostics(model: VSDBN) -> pd.DataFrame:
    """Per-layer diagnostics of a fitted :class:`~anbn_utils.bns.VSDBN`, one row per layer
    (the columns of :attr:`BrainNetworks.diagnostics`)."""
    return pd.DataFrame({
        "layer": np.arange(1, len(model.weights_) + 1),
        "n_visible": [w.shape[0] for w in model.weights_],
        "n_hidden": [w.shape[1] for w in model.weights_],
        "final_training_error": [h[-1] for h in model.history_],
        "reconstruction_error": model.reconstruction_error_,
        "input_variance": model.input_variance_,
        "relative_error": model.relative_error_,
    })


def display_maps(maps: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """Maps as the VS-DBN papers show them, per column: flip the sign so that most of the
    mass is positive, drop negatives, zero what is below ``threshold`` x the maximum, and
    divide by the standard deviation.  Shape (n_voxels, n_maps)."""
    m = np.array(maps, dtype=np.float64)
    flip = (m < 0).sum(0) > (m > 0).sum(0)
    m[:, flip] *= -1
    m[m < 0] = 0
    m[m < threshold * m.max(0, keepdims=True)] = 0
    return (m / np.where(m.std(0) > 0, m.std(0), 1)).astype(np.float32)


def label_networks(maps: np.ndarray, mask_img, threshold: float = 0.3) -> pd.DataFrame:
    """Peak MNI coordinate and canonical-network label of each map.

    The label uses the Seitzman et al. (2018) 300-ROI coordinate atlas bundled with nilearn
    (offline): the ROIs whose coordinates fall in the map's supra-threshold voxels (after
    :func:`display_maps`) vote with the map's value there; the winning network and its
    share of the votes are reported.
    """
    from nilearn.datasets import fetch_coords_seitzman_2018

    atlas = fetch_coords_seitzman_2018()
    shown = display_maps(maps, threshold)
    mask = np.asanyarray(mask_img.dataobj) > 0
    ijk = np.argwhere(mask)
    xyz = nib.affines.apply_affine(mask_img.affine, ijk)
    roi_ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(mask_img.affine),
                                               atlas.rois[["x", "y", "z"]].to_numpy())).astype(int)
    index = -np.ones(mask.shape, dtype=int)
    index[mask] = np.arange(mask.sum())
    inside = np.all((roi_ijk >= 0) & (roi_ijk < mask.shape), axis=1)
    roi_vox = np.full(len(roi_ijk), -1)
    roi_vox[inside] = index[tuple(roi_ijk[inside].T)]
    networks = np.asarray(atlas.networks)
    rows = []
    for k in range(shown.shape[1]):
        peak = xyz[int(np.argmax(shown[:, k]))]
        weight = np.where(roi_vox >= 0, shown[np.clip(roi_vox, 0, None), k], 0.0)
        votes = pd.Series(weight, index=networks).drop("unassigned", errors="ignore")
        votes = votes.groupby(level=0).sum()
        best = votes.idxmax() if votes.max() > 0 else "none"
        rows.append({"bn": f"BN{k + 1}", "peak_x": peak[0], "peak_y": peak[1], "peak_z": peak[2],
                     "network": best,
                     "share": float(votes.max() / votes.sum()) if votes.sum() > 0 else 0.0,
                     "voxels": int((shown[:, k] > 0).sum())})
    return pd.DataFrame(rows)


def save_brain_networks(bns: BrainNetworks, folder: str | os.PathLike) -> Path:
    """Write maps (4D NIfTI per layer), time courses, history, labels and, for the VS-DBN,
    the per-layer diagnostics (``diagnostics.tsv``) and the maps with untrained upper layers
    (``maps_layer{l}_initial_upper.nii.gz``) to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for layer in range(1, len(bns.maps) + 1):
        nib.save(bns.maps_img(layer), folder / f"maps_layer{layer}.nii.gz")
    for layer, m in bns.initial_upper_maps.items():
        nib.save(unmask(m.T, bns.mask_img), folder / f"maps_layer{layer}_initial_upper.nii.gz")
    if bns.diagnostics is not None:
        write_table(folder / "diagnostics.tsv", bns.diagnostics)
    nib.save(bns.mask_img, folder / "mask.nii.gz")
    for task, tc in bns.timecourses.items():
        save_array(folder / f"timecourses_{task}.npy", tc.astype(np.float32))
        save_array(folder / f"mean_timecourses_{task}.npy", tc.mean(0).astype(np.float32))
    write_table(folder / "labels.tsv", label_networks(bns.maps[-1], bns.mask_img))
    write_json(folder / "bns.json", {**bns.meta, "n_bns": bns.n_bns, "subjects": bns.subjects,
                                     "history": bns.history,
                                     "layers": [m.shape[1] for m in bns.maps],
                                     "initial_upper_layers": sorted(bns.initial_upper_maps),
                                     "diagnostics": bns.diagnostics is not None})
    return folder


def load_brain_networks(folder: str | os.PathLike) -> BrainNetworks:
    """Read what :func:`save_brain_networks` wrote."""
    from nilearn.masking import apply_mask

    folder = Path(folder)
    if not (folder / "bns.json").is_file():
        raise DataError(f"{folder} holds no brain networks; run the 03_bns stage first.")
    meta = read_json(folder / "bns.json")
    mask_img = nib.load(folder / "mask.nii.gz")
    maps = [apply_mask(nib.load(folder / f"maps_layer{i + 1}.nii.gz"), mask_img).T
            for i in range(len(meta["layers"]))]
    tcs = {t: np.load(folder / f"timecourses_{t}.npy") for t in meta["subjects"]}
    initial = {layer: apply_mask(nib.load(folder / f"maps_layer{layer}_initial_upper.nii.gz"),
                                 mask_img).T
               for layer in meta.get("initial_upper_layers", [])}
    # what bns.json names, not whatever an earlier save left in the folder
    diagnostics = read_table(folder / "diagnostics.tsv") if meta.get("diagnostics") else None
    return BrainNetworks(maps, tcs, meta["subjects"], mask_img, meta["history"],
                         {k: meta[k] for k in ("method", "params", "fit_subjects") if k in meta},
                         diagnostics, initial)

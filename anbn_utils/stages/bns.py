"""Stage ``03_bns`` as a function: the brain networks and, on the phantom, how well they
recover the planted ones.

:func:`run_bns` fits a :class:`BnsResult` on a run's ``01_data``; :meth:`BnsResult.save`
writes the stage folder, which the later stages read with
:func:`anbn_utils.bns.networks.load_brain_networks`.

Its files are listed in :data:`FILES` (rendered on the book's Artifacts page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ._base import StageFile, StageParameters, StageResult, record_file
from .formats import require

__all__ = ["FILES", "BnsParameters", "BnsResult", "run_bns"]

STAGE = "03_bns"


#: The stage folder's files (the book's Artifacts page renders them).
FILES = (
    StageFile('`maps_layer{1,2,3}.nii.gz`',
              "4D, one volume per unit: columns of $W_1$, $W_1W_2$, $W_1W_2W_3$ (VS-DBN); `maps_layer1.nii.gz` only for the nilearn methods. The last layer's volumes are the BNs, `BN{k}` being volume `k-1`"),
    StageFile('`mask.nii.gz`',
              'the voxel space of the maps'),
    StageFile('`timecourses_<task>.npy`',
              "float32, shape `(n_subjects, n_trs, n_bns)`: each subject's BN time courses (subjects in the order of `bns.json`; with `fit_half`, the held-out half only)"),
    StageFile('`mean_timecourses_<task>.npy`',
              'float32, shape `(n_trs, n_bns)`: the subject average, which chapter 04 uses'),
    StageFile('`labels.tsv`',
              "per BN: `peak_x/y/z` (MNI mm of the displayed map's maximum), `network` (the network of Seitzman et al. 2018 with most weight), `share` (its share of the votes), `voxels` (supra-threshold)"),
    StageFile('`bns.json`',
              'method and parameters, subjects per story (those of the time courses), `fit_subjects` (split half only: per story, the subjects whose volumes fitted the BNs), training history (reconstruction error per epoch and layer), units per layer, `initial_upper_layers` (layers with untrained-upper maps), `diagnostics` (whether `diagnostics.tsv` exists)'),
    StageFile('`diagnostics.tsv`',
              "VS-DBN only; one row per layer: `layer`, `n_visible`, `n_hidden`, `final_training_error` (last epoch's mean error), `reconstruction_error` (mean-field reconstruction of the layer's whole input with the final weights), `input_variance` (mean over input units of their variance), `relative_error` (their ratio: one means the layer reconstructs no better than the input's mean). `anbn_utils.bns.networks.vsdbn_diagnostics`"),
    StageFile('`maps_layer{2,3}_initial_upper.nii.gz`',
              'VS-DBN only; the maps of the stack with layers 2 and up at their initial random weights (layer 1 trained): the ablation that shows whether the upper layers learnt anything. `VSDBN.maps(layer, upper_layers="initial")`'),
    StageFile('`map_recovery.tsv`',
              'phantom runs only; one row per planted network: `network` (index), `network_name`, `planted_an` (the AN that drives it; empty if none), `bn` (the matched BN, 0-based; Hungarian assignment on the absolute spatial correlation), `spatial_r` (signed). `anbn_utils.recovery.map_recovery`'),
    StageFile('`timecourse_recovery.tsv`',
              "phantom runs only; one row per story and network: `story`, `network`, `bn`, `timecourse_r` (Pearson's r of the network's true time course and the matched BN's subject-averaged one over the kept TRs; its sign is the BN's arbitrary sign). `anbn_utils.recovery.timecourse_recovery`"),
    record_file("BnsResult"),
)


@dataclass(frozen=True)
class BnsParameters(StageParameters):
    """The parameters of ``03_bns`` that its results depend on (the notebook's parameter
    cell documents each)."""

    STAGE = STAGE
    tasks: tuple[str, ...]
    seed: int
    device: str
    bn_method: str
    n_hidden: tuple[int, ...]
    learning_rate: tuple[float, ...]
    l1: tuple[float, ...]
    n_epochs: int
    batch_size: int
    init_std: float
    noise_std: float
    positive_phase: str
    between_layers: str
    n_components: int
    bn_layer: int | None
    fit_half: int | None
    bn_seed: int | None

    @property
    def fit_seed(self) -> int:
        """The seed of the fit and of the split-half draw (``bn_seed``, else ``seed``)."""
        return self.seed if self.bn_seed is None else self.bn_seed

    @property
    def vsdbn(self) -> dict:
        """The VS-DBN's settings (:func:`anbn_utils.bns.networks.fit_brain_networks`)."""
        names = ("n_hidden", "learning_rate", "l1", "n_epochs", "batch_size", "init_std",
                 "noise_std", "positive_phase", "between_layers")
        return {n: list(v) if isinstance(v := getattr(self, n), tuple) else v for n in names}


@dataclass
class BnsResult(StageResult):
    """One run's ``03_bns``.

    Attributes
    ----------
    parameters : BnsParameters
    networks : BrainNetworks
        :func:`anbn_utils.bns.networks.fit_brain_networks`'s output.
    fit_subjects : dict of str -> list of str, or None
        Per story, the subjects the BNs were fitted on (split half); None: all.
    map_recovery : DataFrame or None
        Per planted network, its best-matching BN (phantom runs; None otherwise).
    timecourse_recovery : DataFrame or None
        Per planted network and story, the matched BN's time course against the planted one.
    """

    PARAMETERS = BnsParameters

    parameters: BnsParameters
    networks: object
    fit_subjects: dict[str, list[str]] | None = None
    map_recovery: pd.DataFrame | None = None
    timecourse_recovery: pd.DataFrame | None = None

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the stage folder (its files: :data:`FILES`)."""
        from ..bns.networks import save_brain_networks
        from ..io import write_table

        folder = Path(folder)
        save_brain_networks(self.networks, folder)
        if self.map_recovery is not None:
            write_table(folder / "map_recovery.tsv", self.map_recovery)
            write_table(folder / "timecourse_recovery.tsv", self.timecourse_recovery)
        self.write_record(folder, fit_subjects=self.fit_subjects)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> BnsResult:
        """Read a folder :meth:`save` wrote (refusing another format version)."""
        from ..bns.networks import load_brain_networks
        from ..io import read_table

        params, record = cls.read_record(folder)
        folder = Path(folder)
        tables = {name: read_table(folder / f"{name}.tsv") if (folder / f"{name}.tsv").is_file()
                  else None for name in ("map_recovery", "timecourse_recovery")}
        return cls(parameters=params, networks=load_brain_networks(folder),
                   fit_subjects=record["fit_subjects"], **tables)


def run_bns(run_dir: str | os.PathLike, params: BnsParameters, *,
            stories: dict | None = None) -> BnsResult:
    """Fit ``03_bns`` of a run on its ``01_data`` (checkpoints under
    ``<run_dir>/.checkpoints/03_bns``) and, when the run's dataset is the phantom, match the
    BNs with the planted networks.

    Parameters
    ----------
    run_dir : path
    params : BnsParameters
    stories : dict of str -> Story, optional
        The run's stories already loaded (:func:`anbn_utils.narratives.load_story`).

    Returns
    -------
    BnsResult
        Not yet written: :meth:`BnsResult.save`.
    """
    from ..bns.networks import fit_brain_networks
    from ..narratives import load_story
    from ..recovery import load_truth, map_recovery, timecourse_recovery, true_timecourses
    from ..reliability import fit_subjects_of_half

    run_dir, p = Path(run_dir), params
    require(run_dir, "01_data")
    if stories is None:
        stories = {task: load_story(run_dir / "01_data", task) for task in p.tasks}
    fit_subjects = fit_subjects_of_half({t: s.scans["subject"].tolist() for t, s in stories.items()},
                                        p.fit_half, p.fit_seed)
    bns = fit_brain_networks(stories, method=p.bn_method, n_components=p.n_components,
                             vsdbn=p.vsdbn, random_state=p.fit_seed, device=p.device,
                             fit_subjects=fit_subjects, bn_layer=p.bn_layer,
                             checkpoint_dir=run_dir / ".checkpoints" / STAGE, progress=False)
    out = BnsResult(parameters=p, networks=bns, fit_subjects=fit_subjects)
    truth = load_truth(run_dir / "dataset") if (run_dir / "dataset").is_dir() else None
    if truth is not None:
        out.map_recovery = map_recovery(bns.maps[-1], truth, bns.mask_img)
        out.timecourse_recovery = timecourse_recovery(
            out.map_recovery, {task: true_timecourses(truth, s) for task, s in stories.items()},
            {task: bns.mean_timecourses(task) for task in p.tasks})
    return out

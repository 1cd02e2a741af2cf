"""Stage ``06_layers`` as a function: the best AN-BN pair of every layer.

:func:`run_layers` computes a :class:`LayersResult` from a run's ``02_ans``, ``03_bns``,
``04_coupling`` and ``05_pos``; :meth:`LayersResult.save` writes ``best_pairs.tsv`` (read
by the split-half reliability of chapter 07, :mod:`anbn_utils.reliability`), described in
:data:`FILES` (rendered on the book's Artifacts page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._base import StageFile, StageParameters, StageResult, record_file
from .formats import require

__all__ = ["FILES", "LayersParameters", "LayersResult", "run_layers"]

STAGE = "06_layers"

#: The stage folder's files (the book's Artifacts page renders them).
FILES = (
    StageFile('`best_pairs.tsv`',
              "one row per story and layer, the AN-BN pair with the largest PCC (Fig. 8 and 9): "
              "`story`, `layer` (1-based), `an`, `an_name`, `bn` (0-based), `pcc`, the BN's "
              "`network` label and `peak_x/y/z` (from `03_bns/labels.tsv`), the AN's `query_tag` "
              "and `key_tag` (from `05_pos/<story>/an_tags.tsv`). `anbn_utils.interpret.best_pairs`"),
    StageFile('`label_recovery.tsv`',
              "phantom runs that plant couplings in the run's model: one row per story and planted AN: `story`, `planted_an`, `network_name` (the phantom's), `true_label` and `true_share` (the label the same atlas vote gives the planted network's own map), `bn` (the AN's Eq. 1 BN, 0-based), `bn_label` (that BN's label in `03_bns/labels.tsv`), `agrees`. `anbn_utils.recovery.label_recovery`"),
    record_file("LayersResult"),
)


@dataclass(frozen=True)
class LayersParameters(StageParameters):
    """The parameters of ``06_layers`` that its results depend on."""

    STAGE = STAGE
    tasks: tuple[str, ...]


@dataclass
class LayersResult(StageResult):
    """One run's ``06_layers``.

    Attributes
    ----------
    parameters : LayersParameters
    ans : dict of str -> ANs
        Per story, its ``02_ans``.
    category_counts : dict of str -> ndarray of shape (n_ans, 17, 17)
        Per story, ``05_pos``'s category counts.
    best_pairs : DataFrame
        Per story and layer, the pair with the largest PCC
        (:func:`anbn_utils.interpret.best_pairs`) with its BN's network and peak and its AN's
        query and key tags; ``story`` first.
    label_recovery : DataFrame or None
        A phantom run that plants couplings in its model's ANs: per story and planted AN,
        whether its BN's label names the planted network
        (:func:`anbn_utils.recovery.label_recovery`); None otherwise.
    """

    PARAMETERS = LayersParameters

    parameters: LayersParameters
    ans: dict = field(default_factory=dict)
    category_counts: dict[str, np.ndarray] = field(default_factory=dict)
    best_pairs: pd.DataFrame | None = None
    label_recovery: pd.DataFrame | None = None

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``best_pairs.tsv``, ``label_recovery.tsv`` (phantom runs) and the record."""
        from ..io import write_table

        folder = Path(folder)
        write_table(folder / "best_pairs.tsv", self.best_pairs)
        if self.label_recovery is not None:
            write_table(folder / "label_recovery.tsv", self.label_recovery)
        self.write_record(folder)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> LayersResult:
        """Read a folder :meth:`save` wrote, with the ANs and category counts of its run's
        ``02_ans`` and ``05_pos`` (the stage folder's siblings; refusing another format
        version)."""
        from ..io import read_table
        from .ans import AnsResult

        params, _ = cls.read_record(folder)
        folder = Path(folder)
        require(folder.parent, "05_pos")
        return cls(parameters=params, ans=AnsResult.load(folder.parent / "02_ans").ans,
                   category_counts={t: np.load(folder.parent / "05_pos" / t / "category_counts.npy")
                                    for t in params.tasks},
                   best_pairs=read_table(folder / "best_pairs.tsv"),
                   label_recovery=read_table(folder / "label_recovery.tsv")
                   if (folder / "label_recovery.tsv").is_file() else None)


def run_layers(run_dir: str | os.PathLike, params: LayersParameters) -> LayersResult:
    """Compute ``06_layers`` of a run (see :class:`LayersResult`)."""
    import nibabel as nib

    from ..ans import load_ans
    from ..interpret import best_pairs
    from ..io import read_table
    from ..recovery import label_recovery, load_truth

    run_dir, p = Path(run_dir), params
    require(run_dir, "02_ans", "03_bns", "04_coupling", "05_pos")
    labels = read_table(run_dir / "03_bns" / "labels.tsv")
    out, tables = LayersResult(parameters=p), []
    for task in p.tasks:
        ans = out.ans[task] = load_ans(run_dir / "02_ans" / task)
        pcc = np.load(run_dir / "04_coupling" / task / "pcc.npy")
        out.category_counts[task] = np.load(run_dir / "05_pos" / task / "category_counts.npy")
        an_tags = read_table(run_dir / "05_pos" / task / "an_tags.tsv").set_index("an")
        tables.append(best_pairs(pcc, ans.meta["n_layers"], names=ans.names)
                      .join(labels[["network", "peak_x", "peak_y", "peak_z"]], on="bn")
                      .join(an_tags[["query_tag", "key_tag"]], on="an").assign(story=task))
    table = pd.concat(tables, ignore_index=True)
    out.best_pairs = table[["story", *table.columns.drop("story")]]
    truth = load_truth(run_dir / "dataset") if (run_dir / "dataset").is_dir() else None
    first = out.ans[p.tasks[0]]
    if truth and truth["planted"] and truth["parameters"].get("model") == first.meta.get("model"):
        out.label_recovery = label_recovery(
            truth, labels, {t: np.load(run_dir / "04_coupling" / t / "an_to_bn.npy")
                            for t in p.tasks},
            first.names, nib.load(run_dir / "03_bns" / "mask.nii.gz"))
    return out

"""Stage ``04_coupling`` as a function: the coupling of every story, its tests, the claims'
replicates and the predictive check, with the stage's file format.

:func:`run_coupling` computes a :class:`CouplingResult` from a run's ``02_ans`` and
``03_bns``; :meth:`CouplingResult.save` writes the stage folder and
:func:`load_coupling_summary` reads its ``summary.json`` back for the later stages, the
verdict and the comparisons, refusing a folder written in another format version.

Its files are listed in :data:`FILES` (rendered on the book's Artifacts page).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._base import StageFile, StageParameters
from .formats import COUPLING_FORMAT as FORMAT
from .formats import load_coupling_summary, require

__all__ = ["FILES", "FORMAT", "CouplingParameters", "CouplingResult", "load_coupling_summary",
           "run_coupling"]

STAGE = "04_coupling"


#: The stage folder's files (the book's Artifacts page renders them).
FILES = (
    StageFile('`summary.json`',
              'see below'),
    StageFile('`planted_recovery.tsv`',
              "phantom runs with planted couplings; one row per story and planted pair: `story`, `planted_an`, `an` (index), `network`, `network_name`, `bn` (matched BN, from `03_bns/map_recovery.tsv`), `r`, `rank` (the AN's rank among all ANs for that BN by r; rank one is its Eq. 2 anchor), `rank_abs` (by \\|r\\|), `map_sign` (-1: the matched BN carries the network with its sign flipped), `eq1_anchor_is_bn` (the AN's Eq. 1 anchor, in the run's `mode`, is that BN), `eq1_anchor` and `eq1_r` (that anchor, 0-based, and its PCC), and per null model `q_<null>` (the AN's FDR q-value), `p_fwer_<null>` (the pair's family-wise p-value) and `family_null_q95_<null>` (the {value}`anbn_utils.coupling.recovery.FAMILY_NULL_QUANTILE#` quantile of the family's null maximum). `anbn_utils.coupling.recovery.coupling_recovery`"),
    StageFile('`significance.tsv`',
              "one row per story, null model and level (and the paper's row beside its level, `null` = `paper`): `story`, `null`, `alpha`, `ans_significant_pct`, `bns_significant` (FDR), `ans_fwer_pct`, `bns_fwer` (family-wise), `resolution` (the null's smallest p-value), `n_bns`, `bn_max_pcc_mean`, `bn_max_pcc_sd`. `anbn_utils.coupling.summaries.significance_table`"),
    StageFile('`false_positives.tsv`',
              "when `null_run_dir` points to a finished `phantom-null` run: its `significance.tsv` rows (every significant AN or BN there is a false positive)"),
    StageFile('`<story>/pcc.npy`',
              'float32, shape `(n_ans, n_bns)`: Pearson correlations, ANs in `an_names` order'),
    StageFile('`<story>/an_to_bn.npy`, `<story>/an_max.npy`',
              "Eq. 1: each AN's BN (0-based) and the PCC there, shape `(n_ans,)`"),
    StageFile('`<story>/bn_to_an.npy`, `<story>/bn_max.npy`',
              "Eq. 2: each BN's AN and the PCC there, shape `(n_bns,)`"),
    StageFile('`<story>/{an,bn}_p_<null>.npy`',
              "per null model, shape `(n_ans,)` or `(n_bns,)`: permutation p-values of each unit's maximum against its own null maxima, `(1 + count) / (1 + B)` (B: `n_permutations`, or the circular lags)"),
    StageFile('`<story>/{an,bn}_p_tail_<null>.npy`',
              'the same, refined at the permutation floor by a generalized Pareto tail (`anbn_utils.inference.tail_p_values`; where no fit passes, the permutation p-value)'),
    StageFile('`<story>/{an,bn}_q_<null>.npy`',
              'Benjamini-Hochberg q-values of the tail p-values'),
    StageFile('`<story>/{an,bn}_p_fwer_<null>.npy`',
              "family-wise adjusted p-values of each unit's best pair (step-down max statistic over all AN x BN pairs)"),
    StageFile('`<story>/pair_p_fwer_<null>.npy`',
              'float32, shape `(n_ans, n_bns)`: family-wise adjusted p-value of every pair'),
    StageFile('`<story>/family_null_<null>.npy`',
              "shape `(B,)`: the family's maximum statistic in each randomization"),
    StageFile('`<story>/{r2_nuisance,r2_full,r2_unique,unique_p}.npy`',
              "with `predictive_check`: shape `(n_bns,)`, the out-of-sample $R^2$ of the nuisance regressors alone and with the ANs (banded ridge), the ANs' unique share and its shift-null p-value. `anbn_utils.predictive.variance_partition`, `unique_share_null`"),
    StageFile('`<story>/unique_null.npy`',
              "with `predictive_check`: shape `(n_shifts, n_bns)`, the ANs' unique share with the AN band lagged by each shift of `unique_share_null` (chapter 07's claim that the ANs predict beyond the nuisance)"),
    StageFile('`<story>/claims_<kind>_<field>.npy`',
              "the statistics of chapter 07's claims (`anbn_utils.verdict.FIELDS`: per layer the mean maximal PCC, the % below `pcc_threshold` and the BNs' best ANs, shape `(n, n_layers)`; the BNs' mean maximal PCC and the most-anchored BN's share, `(n,)`; that BN's ANs, packed bits `(n, ceil(n_ans / 8))`), for `kind` `observed` (the series as they are, one row), `null` (the `claim_null` randomizations of the BNs) and `boot` (`claim_boot` moving-block resamples of `claim_block` TRs). `anbn_utils.verdict.claim_replicates`"),
    StageFile('`<story>/{pred_nuisance,pred_full,targets}.npy`',
              "with `predictive_check`: shape `(n_trs, n_bns)`, the held-out predictions of both models and the BN series they predict (chapter 07's contrasts)"),
    StageFile('`<story>/ridge_r2.npy`',
              'with `predictive_check`: float, shape `(n_bns,)`, the out-of-sample $R^2$ of a ridge regression from all ANs to each BN, blocked cross-validation with `ridge_folds` folds and a gap of `ridge_gap` TRs. `anbn_utils.predictive.ridge_r2`'),
    StageFile('`<story>/anchor_r2.npy`',
              "with `predictive_check`: float, shape `(n_bns,)`, the out-of-sample $R^2$ of each BN's best AN (largest \\|r\\| on the training TRs) and a line fitted there, on the same folds. `anbn_utils.predictive.anchor_r2`"),
)


@dataclass(frozen=True)
class CouplingParameters(StageParameters):
    """The parameters of ``04_coupling`` (the notebook's parameter cell documents each)."""

    STAGE = STAGE
    tasks: tuple[str, ...]
    seed: int
    device: str
    nulls: tuple[str, ...]
    n_permutations: int
    mode: str
    alphas: tuple[float, ...]
    pcc_threshold: float
    min_shift: int
    fdr_tail: bool
    nuisance: str
    bn_pairing: str
    an_surrogate: str | None
    predictive_check: bool
    ridge_folds: int
    ridge_gap: int
    partition_shifts: int | None
    claim_null: str
    claim_boot: int
    claim_block: int

    def recorded(self) -> dict[str, Any]:
        """What ``summary.json`` records (``alpha``: the primary level); the stories are
        its keys, the device is not recorded (results do not depend on it)."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
               if k not in ("tasks", "device")}
        return {**out, "alpha": self.alphas[0]}


@dataclass
class CouplingResult:
    """One run's ``04_coupling``.

    Attributes
    ----------
    parameters : CouplingParameters
    partners : dict of str -> str
        Story -> the story whose BNs its ANs are coupled with.
    n_trs : dict of str -> int
        TRs coupled per story.
    n_layers : int
    an_names : list of str
    bn_method : str
    n_bns : int
    bns_held_out : bool
        The BN time courses are those of the subjects the BNs were not fitted on (split
        half).
    controls : list of Control
        The controls the run's parameters switch on.
    tests : dict of str -> dict
        Per story, :func:`anbn_utils.coupling.statistics.couple_story`'s output.
    replicates : dict of str -> dict of str -> ClaimReplicates
        Per story, the claims' statistics observed, on the null and on the bootstrap.
    stories : dict of str -> dict
        Per story, :func:`anbn_utils.coupling.summaries.summarize` and the predictive check's
        numbers.
    r2 : dict of str -> dict of str -> ndarray
        Per story, the held-out R^2 of each check (empty without the predictive check).
    partitions : dict of str -> (VariancePartition, ShiftNull)
    planted : DataFrame or None
        The planted pairs' tests (:func:`anbn_utils.coupling.recovery.coupling_recovery`); None
        when the run's dataset plants none.
    false_positives : DataFrame or None
        The :func:`~anbn_utils.coupling.summaries.significance_table` of the null phantom's
        finished ``04_coupling`` that ``null_run_dir`` names (every significant AN or BN
        there is a false positive); None without one.
    """

    parameters: CouplingParameters
    partners: dict[str, str]
    n_trs: dict[str, int]
    n_layers: int
    an_names: list[str]
    bn_method: str
    n_bns: int
    bns_held_out: bool = False
    controls: list = field(default_factory=list)
    tests: dict[str, dict] = field(default_factory=dict)
    replicates: dict[str, dict] = field(default_factory=dict)
    stories: dict[str, dict] = field(default_factory=dict)
    r2: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    partitions: dict[str, tuple] = field(default_factory=dict)
    planted: pd.DataFrame | None = None
    false_positives: pd.DataFrame | None = None

    @property
    def significance(self) -> pd.DataFrame:
        """The rows of ``significance.tsv``: per story, null model and level, the share of
        significant ANs and the significant BNs, with the paper's rows
        (:func:`anbn_utils.coupling.summaries.significance_table`)."""
        from ..coupling.summaries import significance_table
        from ..paper import COUPLING

        return significance_table(self.summary, paper=COUPLING)

    @property
    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        from ..paper import COUPLING

        return {"format": FORMAT, "parameters": self.parameters.recorded(),
                "bn_stories": self.partners, "n_trs": self.n_trs,
                "controls": [c.name for c in self.controls], "stories": self.stories,
                "paper": COUPLING}

    def add_story(self, story: str, ans: np.ndarray, bns: np.ndarray, *, n_heads: int,
                  regressors: np.ndarray | None = None, device: str = "cpu") -> None:
        """Test one story's coupling, compute its claims' replicates and summarize it.

        Parameters
        ----------
        story : str
        ans : ndarray of shape (n_trs, n_ans)
            The ANs as coupled (after the nuisance step and the controls), in layer order.
        bns : ndarray of shape (n_trs, n_bns)
        n_heads : int
            Attention heads per layer (the clusters of the significance-share contrasts).
        regressors : ndarray of shape (n_trs, n_regressors), optional
            Regressed out of every randomized BN series (``nuisance='regress_both'``).
        device : str
        """
        from ..coupling.statistics import couple_story
        from ..coupling.summaries import summarize
        from ..units import bn_names
        from ..verdict import KINDS, claim_replicates

        p = self.parameters
        self.tests[story] = couple_story(
            ans, bns, nulls=list(p.nulls), n_permutations=p.n_permutations, mode=p.mode,
            random_state=p.seed, min_shift=p.min_shift, alphas=list(p.alphas),
            fdr_tail=p.fdr_tail, regressors=regressors, device=device, story=story,
            an_names=self.an_names, bn_names=bn_names(self.n_bns))
        self.replicates[story] = {kind: claim_replicates(
            ans, bns, self.n_layers, kind=kind, threshold=p.pcc_threshold, mode=p.mode,
            null=p.claim_null, n_permutations=p.n_permutations, min_shift=p.min_shift,
            regressors=regressors, n_boot=p.claim_boot, block=p.claim_block,
            random_state=p.seed, device=device) for kind in KINDS}
        self.stories[story] = summarize(self.tests[story], self.n_layers, alphas=list(p.alphas),
                                        threshold=p.pcc_threshold, n_heads=n_heads)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the stage folder (its files: :data:`FILES`); ``summary.json`` last."""
        from ..coupling.files import save_coupling
        from ..io import save_array, write_json, write_table
        from ..predictive import save_partition
        from ..verdict import save_replicates

        folder = Path(folder)
        for story, result in self.tests.items():
            save_coupling(result, folder / story)
            save_replicates(self.replicates[story], folder / story)
            for name, r2 in self.r2.get(story, {}).items():
                save_array(folder / story / f"{name}_r2.npy", r2)
            if story in self.partitions:
                save_partition(*self.partitions[story], folder / story)
        if self.planted is not None:
            write_table(folder / "planted_recovery.tsv", self.planted)
        if self.false_positives is not None:
            write_table(folder / "false_positives.tsv", self.false_positives)
        write_table(folder / "significance.tsv", self.significance)
        write_json(folder / "summary.json", self.summary)
        return folder


def _planted(run_dir: Path, tests: dict[str, dict], names: list[str],
             model: str) -> pd.DataFrame | None:
    """The planted pairs' tests of a phantom run that plants some, else None; None too when
    the run's ANs are another model's than those the phantom planted (the same names there
    are other units: an untrained twin, another architecture)."""
    from ..coupling.recovery import coupling_recovery
    from ..io import read_table
    from ..recovery import load_truth

    truth = load_truth(run_dir / "dataset") if (run_dir / "dataset").is_dir() else None
    if truth is None or not truth["planted"] or truth["parameters"].get("model") != model:
        return None
    matched = read_table(run_dir / "03_bns" / "map_recovery.tsv")
    planted = pd.concat([coupling_recovery(truth, matched, r, names).assign(story=task)
                         for task, r in tests.items()], ignore_index=True)
    return planted[["story", *planted.columns.drop("story")]]


def run_coupling(run_dir: str | os.PathLike, params: CouplingParameters, *,
                 null_run_dir: str | os.PathLike | None = None) -> CouplingResult:
    """Compute ``04_coupling`` of a run from its ``02_ans`` and ``03_bns``.

    Every story's randomizations are checked before any computation; then, per story, the
    series (:func:`anbn_utils.series.coupling_series`: the nuisance step and the controls),
    the coupling and its tests (:func:`anbn_utils.coupling.statistics.couple_story`), the
    claims' replicates (:func:`anbn_utils.verdict.claim_replicates`) and, with
    ``predictive_check``, the held-out R^2 and the variance partition.

    Parameters
    ----------
    run_dir : path
    params : CouplingParameters
    null_run_dir : path, optional
        A null phantom's run: the significance table of its finished ``04_coupling`` becomes
        :attr:`CouplingResult.false_positives` (nothing when it has not finished).

    Returns
    -------
    CouplingResult
        Not yet written: :meth:`CouplingResult.save`.
    """
    from ..ans import load_ans
    from ..bns.networks import load_brain_networks
    from ..config import resolve_device
    from ..controls import active_controls, bn_partners
    from ..coupling.summaries import check_alphas
    from ..inference import check_randomizations
    from ..predictive import (
        out_of_sample_r2,
        partition_summary,
        r2_summary,
        unique_share_null,
        variance_partition,
    )
    from ..series import coupling_series
    from ..verdict import check_replicate_options

    run_dir = Path(run_dir)
    require(run_dir, "02_ans", "03_bns")
    alphas = check_alphas(list(params.alphas))
    p = replace(params, alphas=tuple(alphas))
    device = resolve_device(p.device)
    bns = load_brain_networks(run_dir / "03_bns")
    partners = bn_partners(p.tasks, p.bn_pairing)
    ans = {task: load_ans(run_dir / "02_ans" / task) for task in p.tasks}
    for task in p.tasks:  # a crossed pair: the shorter story
        n = min(len(ans[t].volumes) for t in (task, partners[task]))
        check_randomizations(list(p.nulls), p.n_permutations, n, alphas, min_shift=p.min_shift,
                             story=task)
        check_replicate_options(p.claim_null, p.claim_boot, p.claim_block, n, story=task)
    first = ans[p.tasks[0]]
    n_layers, n_heads = first.meta["n_layers"], first.meta["n_heads"]
    out = CouplingResult(parameters=p, partners=partners, n_trs={}, n_layers=n_layers,
                         an_names=list(first.names), bn_method=bns.meta["method"],
                         n_bns=bns.n_bns, bns_held_out="fit_subjects" in bns.meta)
    for i, task in enumerate(p.tasks):
        s = coupling_series(
            run_dir / "02_ans" / task, run_dir / "02_ans" / partners[task],
            np.asarray(ans[task].activations_hrf).reshape(len(ans[task].volumes), -1),
            bns.mean_timecourses(partners[task]), same_story=partners[task] == task,
            nuisance=p.nuisance, an_surrogate=p.an_surrogate, random_state=p.seed,
            story_index=i, story=task)
        out.n_trs[task] = len(s.ans)
        out.add_story(task, s.ans, s.bns, n_heads=n_heads, regressors=s.bn_regressors,
                      device=device)
        if p.predictive_check:  # held-out TRs; the ANs beyond the nuisance
            folds = {"n_folds": p.ridge_folds, "gap": p.ridge_gap}
            out.r2[task] = out_of_sample_r2(s.plain_ans, s.raw_bns, **folds)
            out.partitions[task] = (
                variance_partition(s.partition_ans, s.nuisance, s.raw_bns, **folds),
                unique_share_null(s.partition_ans, s.nuisance, s.raw_bns,
                                  n_shifts=p.partition_shifts, min_shift=p.ridge_gap, **folds))
            out.stories[task].update(r2_summary(out.r2[task]),
                                     **partition_summary(*out.partitions[task]))
    out.controls = active_controls(first.meta) + active_controls(
        {"bn_pairing": p.bn_pairing, "an_surrogate": p.an_surrogate, "seed": p.seed},
        partners=partners, n_trs=out.n_trs)
    out.planted = _planted(run_dir, out.tests, out.an_names, first.meta.get("model"))
    null_stage = Path(null_run_dir) / STAGE if null_run_dir else None
    if null_stage is not None and (null_stage / "summary.json").is_file():
        from ..coupling.summaries import significance_table

        out.false_positives = significance_table(load_coupling_summary(null_stage))
    return out

"""Stage ``05_pos`` as a function: the part of speech of every AN's top query-key pairs, the
BNs that anchor most ANs, and what sets their ANs apart.

:func:`run_pos` computes a :class:`PosResult` from a run's ``02_ans``, ``03_bns`` and
``04_coupling``; :meth:`PosResult.save` writes the stage folder.

Its files are listed in :data:`FILES` (rendered on the book's Artifacts page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._base import StageFile, StageParameters, StageResult, record_file
from .formats import require

__all__ = ["FILES", "PosParameters", "PosResult", "PosStory", "run_pos"]

STAGE = "05_pos"


#: The stage folder's files (the book's Artifacts page renders them).
FILES = (
    StageFile('`token_tags.tsv`',
              'the token table of 02_ans plus `tag`', per_story=True),
    StageFile('`category_counts.npy`',
              "int, shape `(n_ans, 17, 17)`: each AN's top pairs per (query tag, key tag), tags in the order of `anbn_utils.pos.TAGS`", per_story=True),
    StageFile('`an_tags.tsv`',
              "each AN's category (the one with most top pairs): `an` (index), `an_name`, `category` (index into `anbn_utils.pos.category_names()`, `query * 17 + key`), `query_tag`, `key_tag`", per_story=True),
    StageFile('`tag_distribution.npy`',
              "float, shape `(17, 17)`: % of ANs per category (Fig. 7 a-b; (c) is the first story's minus the second's). `anbn_utils.pos.tag_distribution`", per_story=True),
    StageFile('`top_pair_shares.npy`',
              "float, shape `(17, 17)`: share of all ANs' top pairs per category (sums to one). `anbn_utils.pos.top_pair_shares`", per_story=True),
    StageFile('`text_baseline.npy`',
              'float, shape `(17, 17)`: share of all within-segment token pairs of the text per category (sums to one). `anbn_utils.pos.text_baseline`', per_story=True),
    StageFile('`over_representation.npy`',
              'float, shape `(17, 17)`: `log2(top_pair_shares / text_baseline)`, NaN where either is zero. `anbn_utils.pos.over_representation`', per_story=True),
    StageFile('`anchor_counts.tsv`',
              'Fig. 6a; one row per story and BN: `story`, `bn`, `n_ans` (ANs anchored to it by Eq. 1 with max PCC >= `pcc_threshold`), `most_anchored` (the BN with most, lowest index on a tie; none when no AN reaches the threshold). `anbn_utils.interpret.anchor_counts`'),
    StageFile('`random_baseline.tsv`',
              'one row per story, group and category present: `story`, `bn` (the most anchored BN; empty if none), `group` (`selected`: the ANs anchored to it with max PCC >= `pcc_threshold`; `random`: as many ANs drawn at random with `seed`), `n_ans`, `category`, `share_pct`, by decreasing share. `anbn_utils.interpret.random_an_baseline`'),
    StageFile('`exemplars.tsv`',
              'Fig. 10, first story: `story`, `role` (`best`, `best of layer`), `layer` (1-based), `an`, `an_name`, `bn` (its Eq. 1 BN), `pcc` (its max PCC). `anbn_utils.interpret.exemplar_ans`'),
    record_file("PosResult"),
)


@dataclass(frozen=True)
class PosParameters(StageParameters):
    """The parameters of ``05_pos`` that its results depend on (the notebook's parameter
    cell documents each)."""

    STAGE = STAGE
    tasks: tuple[str, ...]
    seed: int
    spacy_model: str | None
    pcc_threshold: float
    exemplar_layers: tuple[int, ...]


@dataclass
class PosStory:
    """One story of ``05_pos``.

    Attributes
    ----------
    ans : ANs
        The story's ``02_ans``.
    tags : ndarray of shape (n_tokens,)
        Each model token's tag (index into :data:`anbn_utils.pos.TAGS`), of the text the
        model read.
    counts : ndarray of shape (n_ans, 17, 17)
        Each AN's top pairs per (query tag, key tag) category.
    categories : ndarray of shape (n_ans,)
        Each AN's category (its most frequent, index into
        :func:`anbn_utils.pos.category_names`).
    an_to_bn, an_max : ndarray of shape (n_ans,)
        Each AN's anchor BN and maximal PCC (``04_coupling``).
    tag_distribution, top_pair_shares, text_baseline, over_representation : ndarray of shape (17, 17)
        See the module docstring.
    """

    ans: object
    tags: np.ndarray
    counts: np.ndarray
    categories: np.ndarray
    an_to_bn: np.ndarray
    an_max: np.ndarray
    tag_distribution: np.ndarray
    top_pair_shares: np.ndarray
    text_baseline: np.ndarray
    over_representation: np.ndarray


@dataclass
class PosResult(StageResult):
    """One run's ``05_pos``.

    Attributes
    ----------
    parameters : PosParameters
    spacy : str
        The spaCy pipeline's name and version.
    stories : dict of str -> PosStory
    anchor_counts : DataFrame
        ``story``, ``bn``, ``n_ans``, ``most_anchored``.
    top_bn : dict of str -> int or None
        Per story, the most-anchored BN (None: no AN reaches the threshold).
    random_baseline : DataFrame
        ``story``, ``bn``, ``group``, ``n_ans``, ``category``, ``share_pct``.
    exemplars : DataFrame
        The first story's exemplar ANs (:func:`anbn_utils.interpret.exemplar_ans`).
    """

    PARAMETERS = PosParameters

    parameters: PosParameters
    spacy: str
    stories: dict[str, PosStory] = field(default_factory=dict)
    anchor_counts: pd.DataFrame | None = None
    top_bn: dict[str, int | None] = field(default_factory=dict)
    random_baseline: pd.DataFrame | None = None
    exemplars: pd.DataFrame | None = None

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the stage folder (its files: :data:`FILES`)."""
        from ..io import save_array, write_table
        from ..pos import TAGS, an_tag_table

        folder = Path(folder)
        for task, s in self.stories.items():
            write_table(folder / task / "token_tags.tsv",
                        s.ans.tokens.assign(tag=[TAGS[t] for t in s.tags]))
            save_array(folder / task / "category_counts.npy", s.counts)
            write_table(folder / task / "an_tags.tsv", an_tag_table(s.categories, s.ans.names))
            for name in ("tag_distribution", "top_pair_shares", "text_baseline",
                         "over_representation"):
                save_array(folder / task / f"{name}.npy", getattr(s, name))
        write_table(folder / "anchor_counts.tsv", self.anchor_counts)
        write_table(folder / "random_baseline.tsv", self.random_baseline)
        story = next(iter(self.stories))  # the exemplars' story
        write_table(folder / "exemplars.tsv",
                    self.exemplars.assign(story=story)[["story", *self.exemplars.columns]])
        self.write_record(folder, spacy=self.spacy)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> PosResult:
        """Read a folder :meth:`save` wrote, with the ANs and the anchors of its run's
        ``02_ans`` and ``04_coupling`` (the stage folder's siblings; refusing another format
        version)."""
        from ..io import read_table
        from ..pos import TAGS
        from .ans import AnsResult

        params, record = cls.read_record(folder)
        folder = Path(folder)
        require(folder.parent, "04_coupling")
        ans = AnsResult.load(folder.parent / "02_ans").ans
        out = cls(parameters=params, spacy=record["spacy"],
                  anchor_counts=read_table(folder / "anchor_counts.tsv"),
                  random_baseline=read_table(folder / "random_baseline.tsv"),
                  exemplars=read_table(folder / "exemplars.tsv").drop(columns="story"))
        for task in params.tasks:
            here, coupling = folder / task, folder.parent / "04_coupling" / task
            arrays = {name: np.load(here / f"{name}.npy")
                      for name in ("tag_distribution", "top_pair_shares", "text_baseline",
                                   "over_representation")}
            out.stories[task] = PosStory(
                ans=ans[task], counts=np.load(here / "category_counts.npy"),
                tags=read_table(here / "token_tags.tsv")["tag"].map(TAGS.index).to_numpy(),
                categories=read_table(here / "an_tags.tsv")["category"].to_numpy(),
                an_to_bn=np.load(coupling / "an_to_bn.npy"), an_max=np.load(coupling / "an_max.npy"),
                **arrays)
        out.top_bn = _top_bn(out.anchor_counts)
        return out


def run_pos(run_dir: str | os.PathLike, params: PosParameters) -> PosResult:
    """Compute ``05_pos`` of a run.

    Per story: the tokens' tags (spaCy on the text the model read), each AN's top pairs per
    category and its tag, the distribution of the tags, the top pairs against the text's
    pairs; over the stories: the ANs anchored by each BN, the tags of the most-anchored BN's
    ANs against as many random ANs (one generator seeded with ``seed``, the stories in
    order), and the first story's exemplar ANs.

    Parameters
    ----------
    run_dir : path
    params : PosParameters

    Returns
    -------
    PosResult
        Not yet written: :meth:`PosResult.save`.
    """
    from ..ans import load_ans
    from ..assets import load_spacy
    from ..bns.networks import load_brain_networks
    from ..interpret import anchor_counts, anchored_ans, exemplar_ans, random_an_baseline
    from ..pos import (
        an_categories,
        an_tags,
        over_representation,
        tag_distribution,
        tag_tokens,
        text_baseline,
        top_pair_shares,
    )

    run_dir, p = Path(run_dir), params
    require(run_dir, "02_ans", "03_bns", "04_coupling")
    nlp = load_spacy(p.spacy_model)
    n_bns = load_brain_networks(run_dir / "03_bns").n_bns
    out = PosResult(parameters=p, spacy=f"{nlp.meta['name']} {nlp.meta['version']}")
    for task in p.tasks:
        ans = load_ans(run_dir / "02_ans" / task)
        tags = tag_tokens(ans.tokens, ans.transcript, nlp)
        counts = an_categories(np.asarray(ans.top_query), np.asarray(ans.top_key), ans.tokens,
                               tags)
        categories = an_tags(counts)
        shares = top_pair_shares(counts)
        # a decoder's layers (causal, or a sliding-window band within it): its causal pairs
        chance = text_baseline(ans.tokens, tags, causal=ans.meta["pairs"] != "all")
        coupling = {key: np.load(run_dir / "04_coupling" / task / f"{key}.npy")
                    for key in ("an_to_bn", "an_max")}
        out.stories[task] = PosStory(
            ans=ans, tags=tags, counts=counts, categories=categories,
            tag_distribution=tag_distribution(categories), top_pair_shares=shares,
            text_baseline=chance, over_representation=over_representation(shares, chance),
            **coupling)
    out.anchor_counts = pd.concat(
        [anchor_counts(s.an_to_bn, s.an_max, n_bns, p.pcc_threshold).assign(story=task)
         for task, s in out.stories.items()],
        ignore_index=True)[["story", "bn", "n_ans", "most_anchored"]]
    out.top_bn = _top_bn(out.anchor_counts)
    rng = np.random.default_rng(p.seed)
    baseline = []
    for task, s in out.stories.items():
        selected = anchored_ans(s.an_to_bn, s.an_max, out.top_bn[task], p.pcc_threshold)
        baseline.append(random_an_baseline(s.categories, selected, rng)
                        .assign(story=task, bn=out.top_bn[task]))
    out.random_baseline = pd.concat(baseline, ignore_index=True)[
        ["story", "bn", "group", "n_ans", "category", "share_pct"]]
    first = next(iter(out.stories.values()))
    out.exemplars = exemplar_ans(first.an_max, first.an_to_bn, first.ans.meta["n_layers"],
                                 p.exemplar_layers, names=first.ans.names)
    return out


def _top_bn(anchor_counts: pd.DataFrame) -> dict[str, int | None]:
    """Per story, the most-anchored BN of :func:`anbn_utils.interpret.anchor_counts`'s table
    (None: no AN reaches the threshold)."""
    return {task: next((int(b) for b in c.bn[c.most_anchored.astype(bool)]), None)
            for task, c in anchor_counts.groupby("story", sort=False)}

"""Stage ``02_ans`` as a function: every story's ANs and nuisance regressors.

:func:`run_ans` extracts a :class:`AnsResult` from a run's ``01_data``;
:meth:`AnsResult.save` writes the stage folder, which the later stages read per story with
:func:`anbn_utils.ans.load_ans` and :func:`anbn_utils.ans.nuisance.load_nuisance`.

Its files are listed in :data:`FILES` (rendered on the book's Artifacts page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._base import StageFile, StageParameters, StageResult, record_file
from .formats import require

__all__ = ["FILES", "AnsParameters", "AnsResult", "run_ans"]

STAGE = "02_ans"


#: The stage folder's files (the book's Artifacts page renders them).
FILES = (
    StageFile('`activations.npy`',
              'float32, shape `(n_trs, n_layers, n_heads, units_per_head)`: AN activations per kept TR, before the HRF; AN `L{l}H{h}D{d}` is `[:, l-1, h-1, d-1]` (units per head: `head_dim`; with `an_unit=rotary_pair`, AN `L{l}H{h}P{j}`, the rotary pair units; `anbn_utils.ans.an_names` gives the flattened order)', per_story=True),
    StageFile('`activations_hrf.npy`',
              'the same after convolution with the HRF (convolved from the story onset, then cropped to the kept TRs)', per_story=True),
    StageFile('`volumes.npy`',
              'int, shape `(n_trs,)`: absolute volume of each row', per_story=True),
    StageFile('`tokens.tsv`',
              'one row per model token: `segment`, `position` (in the segment, specials included), `token`, `token_id`, `special`, `char_start`, `char_end` (in `transcript.txt`; `-1` for specials), `word_index` (row of `words.tsv`; `-1` for specials), `volume`, `tr` (relative to the first kept volume; negative before it)', per_story=True),
    StageFile('`transcript.txt`',
              "the text the model read: the story's, or its shuffled version with "
              "`word_order=shuffled` (`anbn_utils.ans.wordorder`); the character offsets of "
              "`tokens.tsv` point into it", per_story=True),
    StageFile('`words.tsv`',
              "the word table of `transcript.txt` (01_data's `words.tsv`, reordered with the "
              "words when shuffled); `tokens.tsv`'s `word_index` indexes its rows",
              per_story=True),
    StageFile('`top_values.npy`',
              "float32, shape `(n_segments, n_ans, top_k)`: each AN's largest $q_a[i]\\,k_b[i]$ in each segment, descending", per_story=True),
    StageFile('`top_query.npy`, `top_key.npy`',
              'int16, same shape: `position` of the query and key token of each pair', per_story=True),
    StageFile('`ans.json`',
              'model type, shape, parameters, segment lengths, number of TRs without tokens', per_story=True),
    StageFile('`nuisance.tsv`',
              "the nuisance regressors, one row per kept TR (the rows of `activations_hrf.npy`: the same grid, HRF and cropping), one column per regressor: `tokens` (the TR's model tokens, special tokens excluded), `words` (its distinct words), `speech` (one when it holds a word, else zero), `position_<j>` (the mean over its tokens of B-spline `j` of the token's `position` in its segment; splines that no token reaches are left out). `anbn_utils.ans.nuisance_regressors`, which rebuilds them from `tokens.tsv` and `ans.json`", per_story=True),
    record_file("AnsResult"),
)


@dataclass(frozen=True)
class AnsParameters(StageParameters):
    """The parameters of ``02_ans`` that its results depend on (the notebook's parameter
    cell documents each; the figures' parameters are the notebook's own)."""

    STAGE = STAGE
    tasks: tuple[str, ...]
    model: str
    model_dtype: str
    device: str
    seed: int
    aggregation: str
    an_unit: str
    pairs: str | None
    include_bias: bool
    hrf_model: str
    top_k: int
    segmentation: str
    split_long_sentences: bool
    max_tokens: int | None
    word_order: str


@dataclass
class AnsResult(StageResult):
    """One run's ``02_ans``.

    Attributes
    ----------
    parameters : AnsParameters
    ans : dict of str -> ANs
        Per story, :func:`anbn_utils.ans.extract_ans`'s output, its ``meta`` with the model,
        seed and word order.
    nuisance : dict of str -> DataFrame of shape (n_trs, n_regressors)
        Per story, the nuisance regressors of its TRs.
    """

    PARAMETERS = AnsParameters

    parameters: AnsParameters
    ans: dict = field(default_factory=dict)
    nuisance: dict[str, pd.DataFrame] = field(default_factory=dict)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the stage folder (its files: :data:`FILES`)."""
        from ..ans import save_ans
        from ..io import write_table

        folder = Path(folder)
        for story, ans in self.ans.items():
            save_ans(ans, folder / story)
            write_table(folder / story / "nuisance.tsv", self.nuisance[story])
        self.write_record(folder)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> AnsResult:
        """Read a folder :meth:`save` wrote (arrays memory-mapped; refusing another format
        version)."""
        from ..ans import load_ans
        from ..ans.nuisance import load_nuisance

        params, _ = cls.read_record(folder)
        folder = Path(folder)
        return cls(parameters=params,
                   ans={task: load_ans(folder / task) for task in params.tasks},
                   nuisance={task: load_nuisance(folder / task) for task in params.tasks})


def run_ans(run_dir: str | os.PathLike, params: AnsParameters, *,
            model: tuple | None = None) -> AnsResult:
    """Compute ``02_ans`` of a run from its ``01_data``: per story, the text in the
    parameters' word order, the ANs (:func:`anbn_utils.ans.extract_ans`) and the nuisance
    regressors (:func:`anbn_utils.ans.nuisance_regressors`).

    Parameters
    ----------
    run_dir : path
    params : AnsParameters
    model : (model, tokenizer), optional
        The parameters' model already loaded (:func:`anbn_utils.ans.load_model` with their
        ``model``, ``device``, ``seed`` and ``model_dtype``); default: loaded here.

    Returns
    -------
    AnsResult
        Not yet written: :meth:`AnsResult.save`.
    """
    from ..ans import extract_ans, load_model, nuisance_regressors
    from ..ans.wordorder import apply_word_order
    from ..narratives import load_story

    p = params
    require(run_dir, "01_data")
    net, tokenizer = model if model is not None else load_model(p.model, p.device, seed=p.seed,
                                                                   dtype=p.model_dtype)
    out = AnsResult(parameters=p)
    for task in p.tasks:
        story = load_story(Path(run_dir) / "01_data", task)
        words, transcript = apply_word_order(story.words, story.transcript, p.word_order,
                                             random_state=p.seed)
        ans = extract_ans(
            transcript, words, net, tokenizer, story_start=story.story_start,
            start=story.start, stop=story.start + story.n_trs, tr=story.tr,
            aggregation=p.aggregation, an_unit=p.an_unit, pairs=p.pairs, include_bias=p.include_bias,
            hrf_model=p.hrf_model, top_k=p.top_k, segmentation=p.segmentation,
            split_long_sentences=p.split_long_sentences, max_tokens=p.max_tokens,
            progress=False)
        ans.meta.update(model=p.model, model_dtype=p.model_dtype, seed=p.seed,
                        word_order=p.word_order)
        out.ans[task] = ans
        out.nuisance[task] = nuisance_regressors(ans.tokens, ans.meta)
    return out

"""Stage ``01_data`` as a function: every story's subjects, TR window, words and BOLD data.

:func:`run_data` prepares a :class:`DataResult` from a Narratives dataset (the real one or
the phantom, in its layout); :meth:`DataResult.save` writes the stage folder, which the later
stages read with :func:`anbn_utils.narratives.load_story`.

Its files are listed in :data:`FILES` (rendered on the book's Artifacts page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ._base import StageFile, StageParameters, StageResult, record_file

__all__ = ["FILES", "DataParameters", "DataResult", "run_data"]

STAGE = "01_data"


#: The stage folder's files (the book's Artifacts page renders them).
FILES = (
    StageFile('`scans.tsv`',
              'one row per subject: `subject`, `run`, `bold_path`, `events_path`, `start`, `stop` (kept volumes `[start, stop)`), `story_start` (volume of the story onset, before `initial_trim`), `n_volumes`, `n_voxels`, `n_constant` (voxels constant over the window, set to zero), `audio_offset` (s), `cache_path`', per_story=True),
    StageFile('BOLD cache (`cache_path`)',
              'float32 `.npy`, shape `(n_trs, n_voxels)`: the masked, z-scored scan, in the mask\'s voxel order (`nilearn.masking.apply_mask`); open with `np.load(path, mmap_mode="r")` or `Story.bold(subject)`. It lives in the cache folder (`cache_dir` > `$ANBN_CACHE_DIR` > `~/.cache/anbn`), shared by runs, keyed by the BOLD and mask files and the window; a `.json` sidecar (shape, `n_constant`) marks a complete entry', per_story=True),
    StageFile('`words.tsv`',
              'one row per transcript token: `word`, `case` (Gentle), `aligned_word`, `start`, `end` (scan seconds), `start_offset`, `end_offset` (characters in `transcript.txt`), `punct` (punctuation after the word), `interpolated`, `volume` (absolute), `tr` (relative to `start`), `clipped`', per_story=True),
    StageFile('`transcript.txt`',
              'the story text the model reads', per_story=True),
    StageFile('`mask.nii.gz`',
              "the brain mask (copy of the task's mask)", per_story=True),
    StageFile('`story.json`',
              '`task`, `tr`, `n_trs`, `start`, `story_start`, `n_subjects`, `mask_source`', per_story=True),
    record_file("DataResult"),
)


@dataclass(frozen=True)
class DataParameters(StageParameters):
    """The parameters of ``01_data`` (the notebook's parameter cell documents each)."""

    STAGE = STAGE
    dataset_root: str | None
    tasks: tuple[str, ...]
    exclude: bool
    subjects: dict | None
    n_subjects: int | None
    seed: int
    duration_rounding: str
    initial_trim: int
    word_anchor: str
    words_outside: str
    alignment: str
    cache_dir: str | None
    n_jobs: int
    common_grid: str | None
    bold_surrogate: str | None


@dataclass
class DataResult(StageResult):
    """One run's ``01_data``.

    Attributes
    ----------
    parameters : DataParameters
    root : Path
        The dataset's root (``dataset_root``, else ``$ANBN_DATA``, else the default).
    source : str
        The dataset's name (:func:`anbn_utils.narratives.dataset_name`).
    mask : Path or None
        The common mask of all stories on ``common_grid``'s grid; None: each story its own.
    stories : dict of str -> Story
    """

    PARAMETERS = DataParameters

    parameters: DataParameters
    root: Path
    source: str
    mask: Path | None = None
    stories: dict = field(default_factory=dict)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write every story (:func:`anbn_utils.narratives.save_story`), then the record."""
        from ..narratives import save_story

        folder = Path(folder)
        for story in self.stories.values():
            save_story(story, folder)
        self.write_record(folder, root=str(self.root), source=self.source,
                          mask=None if self.mask is None else str(self.mask))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> DataResult:
        """Read a folder :meth:`save` wrote (refusing another format version)."""
        from ..narratives import load_story

        params, record = cls.read_record(folder)
        return cls(parameters=params, root=Path(record["root"]), source=record["source"],
                   mask=None if record["mask"] is None else Path(record["mask"]),
                   stories={task: load_story(folder, task) for task in params.tasks})


def run_data(params: DataParameters, folder: str | os.PathLike) -> DataResult:
    """Prepare ``01_data``: per story, :func:`anbn_utils.narratives.prepare_story` and, with
    ``bold_surrogate``, its surrogate scans (written under ``folder/<story>``, not into the
    shared BOLD cache).

    Parameters
    ----------
    params : DataParameters
    folder : path
        The stage folder (where surrogate scans go).

    Returns
    -------
    DataResult
        Its stories not yet written: :meth:`DataResult.save`.
    """
    from ..config import get_data_root
    from ..narratives import common_mask, dataset_name, prepare_story, surrogate_bold
    from ..narratives.layout import mask_path

    p, folder = params, Path(folder)
    root = get_data_root(p.dataset_root)
    out = DataResult(parameters=p, root=root, source=dataset_name(root))
    if p.common_grid:
        out.mask = common_mask({task: mask_path(root, task) for task in p.tasks},
                               p.common_grid, p.cache_dir)
    for i, task in enumerate(p.tasks):
        story = prepare_story(
            root, task, exclude=p.exclude, subjects=(p.subjects or {}).get(task),
            n_subjects=p.n_subjects, random_state=p.seed,
            duration_rounding=p.duration_rounding, initial_trim=p.initial_trim,
            word_anchor=p.word_anchor, words_outside=p.words_outside, alignment=p.alignment,
            cache_dir=p.cache_dir, n_jobs=p.n_jobs, progress=False, mask=out.mask)
        if p.bold_surrogate:  # a null at the data's shape
            story = surrogate_bold(story, folder / task, p.bold_surrogate, random_state=p.seed,
                                   story_index=i)
        out.stories[task] = story
    return out

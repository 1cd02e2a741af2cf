"""Stage ``01_data`` as a function: every story's subjects, TR window, words and BOLD data.

:func:`run_data` prepares a :class:`DataResult` from a Narratives dataset (the real one or
the phantom, in its layout); :meth:`DataResult.save` writes the stage folder, which the later
stages read with :func:`anbn_utils.narratives.load_story`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ._base import StageParameters

__all__ = ["DataParameters", "DataResult", "run_data"]

STAGE = "01_data"


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
class DataResult:
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

    parameters: DataParameters
    root: Path
    source: str
    mask: Path | None = None
    stories: dict = field(default_factory=dict)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write every story (:func:`anbn_utils.narratives.save_story`)."""
        from ..narratives import save_story

        folder = Path(folder)
        for story in self.stories.values():
            save_story(story, folder)
        return folder


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

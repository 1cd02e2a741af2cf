"""One story of the Narratives dataset, prepared for the pipeline, and its artifacts.

:func:`prepare_story` runs the data chapter's steps for one task (select scans, crop,
mask, z-score, cache; read and place words); :func:`surrogate_bold` replaces its BOLD by
a surrogate (a null at the data's shape); :func:`save_story` writes the result into the
data stage's folder and :func:`load_story` reads it back for later stages.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..io import read_json, read_table, write_json, write_table, write_text
from .bold import cache_task_bold, load_mask
from .layout import TR, check_task, mask_path, select_scans
from .transcripts import assign_words_to_trs, read_words

__all__ = ["Story", "load_story", "prepare_story", "save_story", "surrogate_bold"]


@dataclass
class Story:
    """A prepared story.

    Attributes
    ----------
    task : str
        Task name.
    scans : DataFrame
        One row per subject: ``subject``, ``run``, ``bold_path``, ``events_path``,
        ``start``, ``stop``, ``n_volumes``, ``n_voxels``, ``audio_offset``, ``cache_path``.
    words : DataFrame
        One row per transcript token with scan-time ``start``/``end``, transcript
        offsets, ``punct``, ``interpolated``, ``volume``, ``tr``, ``clipped``.
    transcript : str
        The story text (Gentle's transcript, punctuation included).
    mask_path : str
        The task's brain mask.
    tr : float
        Repetition time (s).
    folder : str or None
        The story's folder in the data stage: a relative ``cache_path`` (a surrogate written
        into the run, :func:`surrogate_bold`) is read from there.
    mask_source : str or None
        Where ``mask_path`` was copied from when the story was written (a loaded story's
        ``mask_path`` is the copy in its folder); None: ``mask_path`` itself.
    """

    task: str
    scans: pd.DataFrame
    words: pd.DataFrame
    transcript: str
    mask_path: str
    tr: float = TR
    folder: str | None = None
    mask_source: str | None = None

    @property
    def n_trs(self) -> int:
        """Volumes per subject after cropping (identical for all subjects)."""
        return int(self.scans["n_volumes"].iloc[0])

    @property
    def start(self) -> int:
        """First kept volume (absolute index)."""
        return int(self.scans["start"].iloc[0])

    @property
    def story_start(self) -> int:
        """Volume of the story onset (``start`` before ``initial_trim``)."""
        return int(self.scans["story_start"].iloc[0])

    def bold(self, subject: str) -> np.ndarray:
        """Memory-mapped z-scored BOLD of one subject, shape (n_trs, n_voxels)."""
        row = self.scans.loc[self.scans["subject"] == subject]
        if row.empty:
            raise DataError(f"subject {subject!r} is not part of story {self.task!r}")
        path = Path(row["cache_path"].iloc[0])
        if not path.is_absolute():
            path = Path(self.folder or ".") / path
        return np.load(path, mmap_mode="r")

    def mask_img(self):
        """The brain mask as a nibabel image."""
        return load_mask(self.mask_path)


def prepare_story(
    root: str | os.PathLike,
    task: str,
    *,
    exclude: bool = True,
    subjects: Sequence[str] | None = None,
    n_subjects: int | None = None,
    random_state: int | None = 0,
    duration_rounding: str = "ceil",
    initial_trim: int = 0,
    word_anchor: str = "end",
    words_outside: str = "clip",
    alignment: str = "json",
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    mask: str | os.PathLike | None = None,
) -> Story:
    """Select, crop, mask, z-score and cache the scans of ``task``; read and place its words.

    Parameters mirror the data chapter's (see the book's "How to run" page):
    ``exclude``/``subjects``/``n_subjects``/``random_state`` go to
    :func:`~anbn_utils.narratives.layout.select_scans`, ``duration_rounding`` and
    ``initial_trim`` to :func:`~anbn_utils.narratives.bold.read_story_window`,
    ``word_anchor``/``words_outside`` to
    :func:`~anbn_utils.narratives.transcripts.assign_words_to_trs`, ``alignment``
    (``'json'`` or ``'csv'``) to :func:`~anbn_utils.narratives.transcripts.read_words`.
    ``mask`` replaces the task's brain mask (e.g. a
    :func:`~anbn_utils.narratives.bold.common_mask` of all stories); scans on another grid
    are then resampled onto the mask's grid.
    """
    check_task(task)
    root = Path(root)
    scans = select_scans(root, task, exclude=exclude, subjects=subjects, n_subjects=n_subjects,
                         random_state=random_state)
    mask = str(mask) if mask is not None else str(mask_path(root, task))
    scans = cache_task_bold(
        scans, mask, duration_rounding=duration_rounding,
        initial_trim=initial_trim, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress,
        resample=mask != str(mask_path(root, task)),
    )
    for col in ("start", "stop", "story_start", "audio_offset"):
        values = scans[col].unique()
        if len(values) != 1:
            raise DataError(
                f"the story window of {task!r} differs between subjects ({col}: {values}); "
                "check their events.tsv files (the dataset's are identical within a task)."
            )
    words, transcript = read_words(root, task, audio_offset=float(scans["audio_offset"].iloc[0]),
                                   source=alignment)
    words = assign_words_to_trs(words, int(scans["start"].iloc[0]), int(scans["stop"].iloc[0]),
                                anchor=word_anchor, outside=words_outside)
    return Story(task=task, scans=scans, words=words, transcript=transcript, mask_path=mask)


def surrogate_bold(story: Story, folder: str | os.PathLike, method: str = "phase", *,
                   random_state: int = 0, story_index: int = 0) -> Story:
    """The story with every subject's BOLD replaced by a surrogate: a null at the data's
    shape (the same subjects, volumes, mask and spectra; no time-locking to the story).

    ``'phase'``: one set of random Fourier phases for the story, shared by every subject and
    voxel (Theiler et al. 1992; Prichard and Theiler 1994), so each voxel keeps its power
    spectrum, voxels and subjects keep their correlations with each other (the networks
    and the subjects' shared response are still there), and none of it keeps its timing
    relative to the words.  The surrogates are z-scored like the cache and written to
    ``folder/surrogate/<subject>.npy`` (``folder``: the story's folder in the data stage, the
    path kept relative to it, as the stage's folder moves when it finishes); the returned
    story reads them.

    Parameters
    ----------
    story : Story
    folder : path
        The story's folder in the run's data stage (not the shared cache).
    method : {'phase'}
    random_state : int
        The run's seed; the phases come from ``(random_state, story_index)``.
    story_index : int

    Returns
    -------
    Story
    """
    from ..choices import BOLD_SURROGATES
    from ..io import save_array
    from ..stats import zscore

    if method not in BOLD_SURROGATES:
        raise ParameterError(f"bold_surrogate must be None or one of {BOLD_SURROGATES}, "
                             f"not {method!r}")
    T = story.n_trs
    rng = np.random.default_rng(np.random.SeedSequence([random_state, story_index, 0xB01D]))
    phase = rng.uniform(0, 2 * np.pi, T // 2 + 1)
    phase[0] = 0.0  # keep the mean
    if T % 2 == 0:
        phase[-1] = 0.0  # the Nyquist term stays real
    rotate = np.exp(1j * phase)[:, None]
    paths = []
    for subject in story.scans["subject"]:
        x = np.asarray(story.bold(subject), dtype=np.float64)
        y = np.fft.irfft(np.fft.rfft(x, axis=0) * rotate, n=T, axis=0)
        save_array(Path(folder) / "surrogate" / f"{subject}.npy",
                   zscore(y, axis=0).astype(np.float32))
        paths.append(f"surrogate/{subject}.npy")
    return dataclasses.replace(story, scans=story.scans.assign(cache_path=paths),
                               folder=str(folder))


def save_story(story: Story, stage_dir: str | os.PathLike) -> Path:
    """Write a story's artifacts under ``stage_dir/<task>/`` (atomically, file by file)."""
    out = Path(stage_dir) / story.task
    write_table(out / "scans.tsv", story.scans)
    write_table(out / "words.tsv", story.words)
    write_text(out / "transcript.txt", story.transcript)
    shutil.copyfile(story.mask_path, out / "mask.nii.gz")
    write_json(out / "story.json", {"task": story.task, "tr": story.tr, "n_trs": story.n_trs,
                                    "start": story.start,
                                    "story_start": story.story_start, "n_subjects": len(story.scans),
                                    "mask_source": story.mask_source or story.mask_path})
    return out


def load_story(stage_dir: str | os.PathLike, task: str) -> Story:
    """Read a story written by :func:`save_story` (BOLD stays in the cache, memory-mapped)."""
    folder = Path(stage_dir) / task
    if not (folder / "story.json").is_file():
        raise DataError(
            f"{folder} holds no prepared story {task!r}; run the data stage first "
            "(`python -m anbn_utils.run --profile <profile>`)."
        )
    meta = read_json(folder / "story.json")
    scans = read_table(folder / "scans.tsv")
    words = read_table(folder / "words.tsv")
    words["punct"] = words["punct"].fillna("")
    transcript = (folder / "transcript.txt").read_text(encoding="utf-8")
    return Story(task=task, scans=scans, words=words, transcript=transcript,
                 mask_path=str(folder / "mask.nii.gz"), tr=float(meta["tr"]), folder=str(folder),
                 mask_source=meta.get("mask_source"))

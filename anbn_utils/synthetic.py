"""Datasets written in the exact Narratives DataLad layout, and the writers they share.

:func:`make_narratives_like` writes a small dataset: AFNI-smooth-named BOLD files, the
per-task brain masks, BIDS ``events.tsv`` with the real story timings, Gentle
``align.json`` and ``align.csv`` (with a few ``not-found-in-audio`` words) and
``code/scan_exclude.json`` with the real exclusions of the generated subjects.  Its
text is random words and its BOLD autocorrelated noise plus one story-locked signal, with
**no planted AN-BN coupling**: it serves the tests.  The phantom
(:mod:`anbn_utils.phantom`) uses the same writers with real stories and planted networks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from .errors import ParameterError
from .narratives import layout

__all__ = [
    "EVENTS",
    "PAUSES_S",
    "REAL_SCAN_EXCLUDE",
    "ar1",
    "brain_mask",
    "gentle_alignment",
    "make_narratives_like",
    "planted_mixture",
    "scans_of",
    "subjects_per_task",
    "write_bold",
    "write_dataset_files",
    "write_events",
]

#: The music and story rows of each task's ``events.tsv`` (identical across subjects),
#: and the number of volumes per scan.
EVENTS = {
    "pieman": {"rows": [(0.0, 13.0, "music"), (15.0, 422.0, "story")], "n_volumes": 300},
    "shapessocial": {"rows": [(4.5, 37.0, "music"), (49.5, 408.0, "story")], "n_volumes": 310},
    "shapesphysical": {"rows": [(4.5, 37.0, "music"), (49.5, 405.0, "story")], "n_volumes": 310},
}

#: Pause (s, before rescaling to the story) after a paragraph, a full stop (``.!?``) and a
#: comma (``,;:``) in :func:`gentle_alignment`.
PAUSES_S = {"paragraph": 0.9, "sentence": 0.5, "clause": 0.25}

#: ``code/scan_exclude.json`` of the dataset for the tasks used here.
REAL_SCAN_EXCLUDE = {
    "pieman": {
        "sub-001": ["sub-001_task-pieman_run-1", "sub-001_task-pieman_run-2"],
        "sub-013": ["sub-013_task-pieman_run-2"],
        "sub-014": ["sub-014_task-pieman_run-2"],
        **{s: [f"{s}_task-pieman"] for s in
           ("sub-021", "sub-022", "sub-038", "sub-056", "sub-068", "sub-069")},
    },
    "shapessocial": {"sub-238": ["sub-238_task-shapessocial"]},
    "shapesphysical": {},
}

#: Pie Man subjects scanned twice (files with ``_run-1`` and ``_run-2``).
PIEMAN_TWO_RUNS = {f"sub-{i:03d}" for i in (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)}

_FIRST_SUBJECT = {"pieman": 1, "shapessocial": 201, "shapesphysical": 201}

_VOCAB = [
    "the", "a", "old", "young", "man", "woman", "reporter", "city", "street", "night",
    "morning", "story", "pie", "face", "crowd", "square", "shape", "circle", "triangle",
    "small", "large", "red", "blue", "door", "house", "window", "river", "road", "walked",
    "looked", "said", "threw", "found", "saw", "wanted", "moved", "pushed", "waited",
    "followed", "heard", "told", "quickly", "slowly", "never", "always", "again", "suddenly",
    "almost", "then", "there", "here", "and", "but", "because", "while", "when", "after",
    "before", "with", "without", "into", "under", "over", "near", "he", "she", "they", "it",
    "we", "his", "her", "their", "its", "who", "what",
]


def subjects_per_task(n_subjects: int | Mapping[str, int], task: str) -> int:
    """Subjects written for ``task``: ``n_subjects`` itself, or its entry for ``task``."""
    if isinstance(n_subjects, Mapping):
        if task not in n_subjects:
            raise ParameterError(f"n_subjects {dict(n_subjects)} has no entry for {task!r}")
        n = n_subjects[task]
    else:
        n = n_subjects
    if int(n) < 1:
        raise ParameterError(f"n_subjects must be >= 1, not {n} ({task})")
    return int(n)


def scans_of(task: str, n_subjects: int | Mapping[str, int]) -> list[tuple[str, int | None]]:
    """``(subject, run)`` of every scan written for ``task`` (``n_subjects``: one number for
    every task, or task -> number): Pie Man subjects that really have two runs get
    ``run-1`` and ``run-2``, the others one file without a run entity."""
    n = subjects_per_task(n_subjects, task)
    subjects = [f"sub-{_FIRST_SUBJECT[task] + i:03d}" for i in range(n)]
    return [(s, r) for s in subjects
            for r in ([1, 2] if task == "pieman" and s in PIEMAN_TWO_RUNS else [None])]


MASKS = ("brain", "gm")


def brain_mask(resolution: float | None = None,
               shape: tuple[int, int, int] = (7, 8, 6), kind: str = "brain") -> nib.Nifti1Image:
    """nilearn's MNI152 mask resampled to ``resolution`` mm, or (None) a tiny ellipsoid of
    ``shape`` voxels on a 3 x 3 x 4 mm grid.

    ``kind``: ``'brain'`` (``load_mni152_brain_mask``: 69,804 voxels at 3 mm) or ``'gm'``
    (grey matter, ``load_mni152_gm_mask``: 60,650 voxels at 3 mm), both taken at 2 mm and
    resampled (nearest neighbour) onto a grid with the same origin.
    """
    if kind not in MASKS:
        raise ParameterError(f"mask must be one of {MASKS}, not {kind!r}")
    if resolution is not None:
        from nilearn.datasets import load_mni152_brain_mask, load_mni152_gm_mask
        from nilearn.image import resample_img

        mni = (load_mni152_brain_mask if kind == "brain" else load_mni152_gm_mask)(resolution=2)
        target = np.diag([float(resolution)] * 3 + [1.0])
        target[:3, 3] = mni.affine[:3, 3]
        img = resample_img(mni, target_affine=target, interpolation="nearest",
                           force_resample=True, copy_header=True)
        return nib.Nifti1Image((np.asanyarray(img.dataobj) > 0).astype(np.uint8), img.affine)
    grid = np.indices(shape).astype(float)
    centre = (np.array(shape) - 1) / 2
    radius = np.array(shape) / 2
    inside = (((grid - centre[:, None, None, None]) / radius[:, None, None, None]) ** 2).sum(0) <= 1
    affine = np.diag([3.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = -np.array([3.0, 3.0, 4.0]) * centre
    return nib.Nifti1Image(inside.astype(np.uint8), affine)


def ar1(rng: np.random.Generator, n_times: int, n_series: int, phi: float) -> np.ndarray:
    """Unit-variance AR(1) series, shape (n_times, n_series), float32."""
    out = np.empty((n_times, n_series), dtype=np.float32)
    out[0] = rng.standard_normal(n_series)
    innov = rng.standard_normal((n_times, n_series)).astype(np.float32) * np.sqrt(1 - phi**2)
    for t in range(1, n_times):
        out[t] = phi * out[t - 1] + innov[t]
    return out


def planted_mixture(random_state: int = 0, n_sources: int = 6,
                    shape: tuple[int, int, int] = (10, 10, 20), n_samples: int = 1500,
                    noise: float = 0.7):
    """A linear mixture of Gaussian blobs: the known answer for brain-network methods.

    Each sample is ``A[t] @ S`` plus white noise, with ``S`` ``n_sources`` Gaussian blobs
    (variance 2.25 voxels squared) at random centres of a ``shape`` grid and ``A`` standard
    normal; every voxel is then z-scored over the samples.

    Returns
    -------
    X : ndarray of shape (n_samples, n_voxels), float32
    S : ndarray of shape (n_sources, n_voxels), the planted maps
    A : ndarray of shape (n_samples, n_sources), the planted time courses
    shape : tuple, the grid (``n_voxels = prod(shape)``)
    """
    rng = np.random.default_rng(random_state)
    grid = np.indices(shape).reshape(3, -1).T
    S = np.stack([np.exp(-((grid - rng.uniform([1, 1, 1], np.array(shape) - 1)) ** 2).sum(1)
                         / 4.5) for _ in range(n_sources)])
    A = rng.standard_normal((n_samples, n_sources))
    X = A @ S + noise * rng.standard_normal((n_samples, S.shape[1]))
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), S, A, shape


def gentle_alignment(transcript: str, task: str, rng: np.random.Generator,
                     n_unaligned: int = 3, rate_jitter: float = 0.25) -> dict:
    """A Gentle-style ``align.json`` for ``transcript``, spoken over the task's story.

    Tokens are what Gentle aligns (runs of letters, digits and apostrophes: hyphenated
    words are two tokens, punctuation is left out).  Each word lasts in proportion to
    its length (jittered), pauses follow punctuation (longer after a full stop and a
    paragraph), and the whole is scaled to fill the story event; ``n_unaligned`` words
    are marked ``not-found-in-audio``.  Times are audio-file times.
    """
    onset, duration = EVENTS[task]["rows"][1][:2]
    audio_offset = EVENTS[task]["rows"][0][0]
    matches = list(re.finditer(r"[\w']+", transcript))
    if len(matches) < 3:
        raise ParameterError("the transcript needs at least 3 words")
    n = len(matches)
    lengths = np.array([m.end() - m.start() for m in matches], dtype=float)
    dur = (0.12 + 0.05 * lengths) * rng.uniform(1 - rate_jitter, 1 + rate_jitter, size=n)
    gap = rng.uniform(0.01, 0.06, size=n)
    for i, m in enumerate(matches):
        after = transcript[m.end():matches[i + 1].start()] if i + 1 < n else ""
        gap[i] += (PAUSES_S["paragraph"] if "\n\n" in after
                   else PAUSES_S["sentence"] if re.search(r"[.!?]", after)
                   else PAUSES_S["clause"] if re.search(r"[,;:]", after) else 0.0)
    scale = (duration - 1.5) / (dur.sum() + gap.sum())
    dur, gap = dur * scale, gap * scale
    starts = onset - audio_offset + 0.5 + np.concatenate([[0.0], np.cumsum(dur + gap)[:-1]])
    missing = set(rng.choice(np.arange(1, n - 1), size=min(n_unaligned, n - 2),
                             replace=False).tolist())
    words = []
    for i, m in enumerate(matches):
        entry = {"word": m.group(), "startOffset": m.start(), "endOffset": m.end()}
        if i in missing:
            entry["case"] = "not-found-in-audio"
        else:
            entry.update(case="success", alignedWord=m.group().lower(),
                         start=round(float(starts[i]), 3), end=round(float(starts[i] + dur[i]), 3),
                         phones=[{"phone": "x_S", "duration": round(float(dur[i]), 3)}])
        words.append(entry)
    return {"transcript": transcript, "words": words}


def _random_text(rng: np.random.Generator, n_words: int) -> str:
    out: list[str] = []
    while len(out) < n_words:
        sent = list(rng.choice(_VOCAB, size=int(rng.integers(5, 16))))
        sent[0] = sent[0].capitalize()
        if len(sent) > 8:
            sent[int(rng.integers(3, len(sent) - 3))] += ","
        sent[-1] += "."
        out += sent
    out = out[:n_words]
    out[-1] = out[-1].rstrip(",.") + "."
    return " ".join(out)


def write_events(root: Path, task: str, subject: str, run: int | None) -> Path:
    """The task's real ``events.tsv`` for one scan."""
    path = layout.events_path(root, subject, task, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(EVENTS[task]["rows"], columns=["onset", "duration", "trial_type"]).to_csv(
        path, sep="\t", index=False)
    return path


def write_bold(root: Path, task: str, subject: str, run: int | None, data: np.ndarray,
               affine: np.ndarray) -> Path:
    """A 4D float32 BOLD file with the AFNI-smooth ``desc-clean`` name."""
    path = layout.bold_path(root, subject, task, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data.astype(np.float32, copy=False), affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = layout.TR
    nib.save(img, path)
    return path


def write_dataset_files(root: Path, tasks, n_subjects: int, mask_img: nib.Nifti1Image,
                        alignments: dict[str, dict], name: str, parameters: dict) -> None:
    """Masks, Gentle files, events, ``scan_exclude.json`` and ``dataset_description.json``."""
    root = Path(root)
    exclude = {}
    for task in tasks:
        mpath = layout.mask_path(root, task)
        mpath.parent.mkdir(parents=True, exist_ok=True)
        nib.save(mask_img, mpath)
        subjects = {s for s, _ in scans_of(task, n_subjects)}
        exclude[task] = {s: v for s, v in REAL_SCAN_EXCLUDE[task].items() if s in subjects}
        for subject, run in scans_of(task, n_subjects):
            write_events(root, task, subject, run)
        gdir = layout.gentle_dir(root, task)
        gdir.mkdir(parents=True, exist_ok=True)
        align = alignments[task]
        (gdir / "align.json").write_text(json.dumps(align, indent=1), encoding="utf-8")
        (gdir / "transcript.txt").write_text(align["transcript"], encoding="utf-8")
        rows = [f"{w['word']},{w.get('alignedWord', '')},{w.get('start', '')},{w.get('end', '')}"
                for w in align["words"]]
        (gdir / "align.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    epath = layout.exclude_path(root)
    epath.parent.mkdir(parents=True, exist_ok=True)
    epath.write_text(json.dumps(exclude, indent=2) + "\n")
    description = {"Name": name, "BIDSVersion": "1.4.0",
                   "GeneratedBy": [{"Name": "anbn_utils"}], "anbn_parameters": parameters}
    (root / "dataset_description.json").write_text(json.dumps(description, indent=2) + "\n")


def make_narratives_like(
    root: str | os.PathLike,
    *,
    tasks: tuple[str, ...] = ("pieman", "shapessocial"),
    n_subjects: int = 4,
    resolution: float | None = None,
    shape: tuple[int, int, int] = (7, 8, 6),
    n_unaligned: int = 3,
    snr: float = 1.0,
    random_state: int = 0,
) -> Path:
    """Write a small dataset in the Narratives DataLad layout under ``root``.

    Parameters
    ----------
    root : path
        Output folder (created; existing files of the same names are replaced).
    tasks : tuple of str
        Tasks to write; each has the real events, volume count and story length.
    n_subjects : int
        Subjects per task (Pie Man: ``sub-001`` ...; Shapes: ``sub-201`` ...), see
        :func:`scans_of`; the real exclusions of these subjects are written.
    resolution, shape
        Grid, see :func:`brain_mask`.
    n_unaligned : int
        Words per story marked ``not-found-in-audio``.
    snr : float
        Amplitude of one story-locked signal shared by subjects, relative to the
        unit-variance AR(1) noise.
    random_state : int
        Seed: the same seed writes byte-identical files.

    Returns
    -------
    Path
        ``root``.
    """
    for task in tasks:
        subjects_per_task(n_subjects, task)
    for task in tasks:
        layout.check_task(task)
    root = Path(root)
    rng = np.random.default_rng(random_state)
    mask_img = brain_mask(resolution, tuple(shape))
    mask = np.asanyarray(mask_img.dataobj).astype(bool)
    n_vox = int(mask.sum())
    alignments = {}
    for task in tasks:
        n_volumes = EVENTS[task]["n_volumes"]
        shared = np.convolve(rng.standard_normal(n_volumes), np.ones(4) / 2, mode="same")
        for subject, run in scans_of(task, n_subjects):
            loading = rng.uniform(0, 1, size=n_vox).astype(np.float32)
            signal = ar1(rng, n_volumes, n_vox, 0.5) + snr * shared[:, None] * loading
            baseline = 600 + 400 * rng.uniform(size=n_vox).astype(np.float32)
            vol = np.zeros(mask.shape + (n_volumes,), dtype=np.float32)
            vol[mask] = (baseline * (1 + 0.01 * signal)).T
            write_bold(root, task, subject, run, vol, mask_img.affine)
        text = _random_text(rng, int(EVENTS[task]["rows"][1][1] * 2.2))
        alignments[task] = gentle_alignment(text, task, rng, n_unaligned)
    write_dataset_files(
        root, tasks, n_subjects, mask_img, alignments,
        name="anbn synthetic dataset in the Narratives layout (not real data)",
        parameters={"tasks": list(tasks), "n_subjects": n_subjects, "resolution": resolution,
                    "shape": list(shape), "n_unaligned": n_unaligned, "snr": snr,
                    "random_state": random_state},
    )
    return root

"""Small synthetic datasets written in the exact Narratives DataLad layout.

:func:`make_narratives_like` writes AFNI-smooth-named BOLD files, the per-task brain
masks, BIDS ``events.tsv`` with the real story timings, Gentle ``align.json`` and
``align.csv`` (with a few ``not-found-in-audio`` words) and ``code/scan_exclude.json``
with the real exclusions of the generated subjects.  The loaders read it like the
real dataset.  It serves the tests and, until the phantom lands, the default profile;
its BOLD is autocorrelated noise plus a story-locked signal shared by subjects, with
**no planted AN-BN coupling**: it exercises the data path, nothing more.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from .errors import ParameterError
from .narratives import layout

__all__ = ["EVENTS", "REAL_SCAN_EXCLUDE", "make_narratives_like"]

#: The story and music rows of each task's ``events.tsv`` (identical across subjects),
#: and the number of volumes per scan.
EVENTS = {
    "pieman": {"rows": [(0.0, 13.0, "music"), (15.0, 422.0, "story")], "n_volumes": 300},
    "shapessocial": {"rows": [(4.5, 37.0, "music"), (49.5, 408.0, "story")], "n_volumes": 310},
    "shapesphysical": {"rows": [(4.5, 37.0, "music"), (49.5, 405.0, "story")], "n_volumes": 310},
}

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

_VOCAB = (
    "the a old young man woman reporter city street night morning story pie face crowd "
    "square shape circle triangle small large red blue door house window river road "
    "walked looked said threw found saw wanted moved pushed waited followed heard told "
    "quickly slowly never always again suddenly almost then there here "
    "and but because while when after before with without into under over near "
    "he she they it we his her their its who what"
).split()


def _sentences(rng: np.random.Generator, n_words: int) -> list[str]:
    """Tokens of a random text of ``n_words`` words, punctuation attached."""
    out: list[str] = []
    while len(out) < n_words:
        length = int(rng.integers(5, 16))
        sent = list(rng.choice(_VOCAB, size=length))
        sent[0] = sent[0].capitalize()
        if length > 8:
            sent[int(rng.integers(3, length - 3))] += ","
        sent[-1] += "."
        out += sent
    out = out[:n_words]
    out[-1] = out[-1].rstrip(",.") + "."
    return out


def _gentle(rng, task: str, n_unaligned: int) -> dict:
    """A Gentle-style alignment: tokens at about 2.2 words/s over the story."""
    onset, duration = EVENTS[task]["rows"][1][:2]
    audio_offset = EVENTS[task]["rows"][0][0]
    n_words = int(duration * 2.2)
    tokens = _sentences(rng, n_words)
    # Speech: word durations plus pauses after punctuation, rescaled to the story.
    dur = rng.uniform(0.18, 0.45, size=n_words)
    gap = rng.uniform(0.02, 0.08, size=n_words)
    gap += np.array([0.5 if t.endswith(".") else 0.25 if t.endswith(",") else 0.0 for t in tokens])
    total = dur.sum() + gap.sum()
    scale = (duration - 1.0) / total
    dur, gap = dur * scale, gap * scale
    starts = onset - audio_offset + 0.3 + np.concatenate([[0.0], np.cumsum(dur + gap)[:-1]])
    transcript = " ".join(tokens)
    missing = set(rng.choice(np.arange(1, n_words - 1), size=n_unaligned, replace=False).tolist())
    words, pos = [], 0
    for i, tok in enumerate(tokens):
        bare = tok.rstrip(",.")
        entry = {"word": bare, "startOffset": pos, "endOffset": pos + len(bare)}
        if i in missing:
            entry["case"] = "not-found-in-audio"
        else:
            entry.update(case="success", alignedWord=bare.lower(),
                         start=round(float(starts[i]), 3), end=round(float(starts[i] + dur[i]), 3),
                         phones=[{"phone": "x_S", "duration": round(float(dur[i]), 3)}])
        words.append(entry)
        pos += len(tok) + 1
    return {"transcript": transcript, "words": words}


def _mask(resolution: float | None, shape: tuple[int, int, int]) -> nib.Nifti1Image:
    if resolution is not None:
        from nilearn.datasets import load_mni152_brain_mask
        from nilearn.image import resample_img

        mni = load_mni152_brain_mask(resolution=2)
        target = np.diag([resolution] * 3 + [1.0])
        target[:3, 3] = mni.affine[:3, 3]
        img = resample_img(mni, target_affine=target, interpolation="nearest",
                           force_resample=True, copy_header=True)
        data = (np.asanyarray(img.dataobj) > 0).astype(np.uint8)
        return nib.Nifti1Image(data, img.affine)
    grid = np.indices(shape).astype(float)
    centre = (np.array(shape) - 1) / 2
    radius = np.array(shape) / 2
    inside = (((grid - centre[:, None, None, None]) / radius[:, None, None, None]) ** 2).sum(0) <= 1
    affine = np.diag([3.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = -np.array([3.0, 3.0, 4.0]) * centre
    return nib.Nifti1Image(inside.astype(np.uint8), affine)


def _bold(rng, mask: np.ndarray, n_volumes: int, shared: np.ndarray, snr: float) -> np.ndarray:
    """Voxel baseline x (1 + small fluctuations): AR(1) noise plus a shared signal."""
    n_vox = int(mask.sum())
    noise = np.empty((n_volumes, n_vox), dtype=np.float32)
    noise[0] = rng.standard_normal(n_vox)
    innov = rng.standard_normal((n_volumes, n_vox)).astype(np.float32) * np.sqrt(1 - 0.5**2)
    for t in range(1, n_volumes):
        noise[t] = 0.5 * noise[t - 1] + innov[t]
    loading = rng.uniform(0, 1, size=n_vox).astype(np.float32)
    signal = noise + snr * shared[:, None] * loading[None, :]
    baseline = 600 + 400 * rng.uniform(size=n_vox).astype(np.float32)
    ts = baseline * (1 + 0.01 * signal)
    vol = np.zeros(mask.shape + (n_volumes,), dtype=np.float32)
    vol[mask] = ts.T
    return vol


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
        Subjects per task (Pie Man: ``sub-001`` ...; Shapes: ``sub-201`` ...).  Subjects
        that really have two Pie Man runs get two files; the real exclusions of the
        generated subjects go to ``code/scan_exclude.json``.
    resolution : float or None
        If given, the grid is nilearn's MNI152 brain mask resampled to this isotropic
        voxel size (mm); if None, a tiny ellipsoid of ``shape`` voxels (fast, for tests).
    shape : tuple of int
        Grid of the tiny ellipsoid.
    n_unaligned : int
        Words per story marked ``not-found-in-audio``.
    snr : float
        Amplitude of the shared story-locked signal relative to the unit-variance noise.
    random_state : int
        Seed: the same seed writes byte-identical arrays.

    Returns
    -------
    Path
        ``root``.
    """
    if n_subjects < 1:
        raise ParameterError(f"n_subjects must be >= 1, not {n_subjects}")
    for task in tasks:
        layout.check_task(task)
    root = Path(root)
    rng = np.random.default_rng(random_state)
    mask_img = _mask(resolution, tuple(shape))
    mask = np.asanyarray(mask_img.dataobj).astype(bool)
    exclude: dict[str, dict[str, list[str]]] = {}
    for task in tasks:
        spec = EVENTS[task]
        n_volumes = spec["n_volumes"]
        mpath = layout.mask_path(root, task)
        mpath.parent.mkdir(parents=True, exist_ok=True)
        nib.save(mask_img, mpath)
        shared = np.convolve(rng.standard_normal(n_volumes), np.ones(4) / 2, mode="same")
        subjects = [f"sub-{_FIRST_SUBJECT[task] + i:03d}" for i in range(n_subjects)]
        exclude[task] = {s: v for s, v in REAL_SCAN_EXCLUDE[task].items() if s in subjects}
        events = pd.DataFrame(spec["rows"], columns=["onset", "duration", "trial_type"])
        for subject in subjects:
            runs = [1, 2] if task == "pieman" and subject in PIEMAN_TWO_RUNS else [None]
            for run in runs:
                epath = layout.events_path(root, subject, task, run)
                epath.parent.mkdir(parents=True, exist_ok=True)
                events.to_csv(epath, sep="\t", index=False)
                bpath = layout.bold_path(root, subject, task, run)
                bpath.parent.mkdir(parents=True, exist_ok=True)
                img = nib.Nifti1Image(_bold(rng, mask, n_volumes, shared, snr), mask_img.affine)
                img.header.set_xyzt_units("mm", "sec")
                img.header["pixdim"][4] = layout.TR
                nib.save(img, bpath)
        gdir = layout.gentle_dir(root, task)
        gdir.mkdir(parents=True, exist_ok=True)
        align = _gentle(rng, task, n_unaligned)
        (gdir / "align.json").write_text(json.dumps(align, indent=1), encoding="utf-8")
        (gdir / "transcript.txt").write_text(align["transcript"], encoding="utf-8")
        rows = [f"{w['word']},{w.get('alignedWord', '')},{w.get('start', '')},{w.get('end', '')}"
                for w in align["words"]]
        (gdir / "align.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    epath = layout.exclude_path(root)
    epath.parent.mkdir(parents=True, exist_ok=True)
    epath.write_text(json.dumps(exclude, indent=2) + "\n")
    description = {
        "Name": "anbn synthetic dataset in the Narratives layout (not real data)",
        "BIDSVersion": "1.4.0",
        "GeneratedBy": [{"Name": "anbn_utils.synthetic.make_narratives_like"}],
        "anbn_parameters": {"tasks": list(tasks), "n_subjects": n_subjects,
                            "resolution": resolution, "shape": list(shape),
                            "n_unaligned": n_unaligned, "snr": snr, "random_state": random_state},
    }
    (root / "dataset_description.json").write_text(json.dumps(description, indent=2) + "\n")
    return root

"""BOLD loading: crop to the story, mask, z-score, cache.

Each scan is cropped to the story window read from its ``events.tsv``, masked with
the task's brain mask, z-scored per voxel over the kept volumes and cached as a
float32 ``.npy`` of shape ``(n_volumes, n_voxels)`` that later loads memory-mapped.
"""

from __future__ import annotations

import hashlib
import math
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from nilearn.masking import apply_mask
from tqdm import tqdm

from ..codehash import code_hash
from ..config import get_cache_dir
from ..errors import DataError
from ..io import atomic_path, file_fingerprint, hash_json, read_json, save_array, write_json
from .layout import TR

__all__ = [
    "StoryWindow",
    "cache_task_bold",
    "common_mask",
    "grid_difference",
    "load_mask",
    "load_masked_bold",
    "mean_and_tsnr",
    "read_story_window",
]


@dataclass(frozen=True)
class StoryWindow:
    """Volumes of a scan that cover the story: ``[start, stop)`` in volume indices.

    Attributes
    ----------
    start, stop : int
        First kept volume and one past the last.
    story_start : int
        Volume of the story onset (``start`` before any ``initial_trim``): stimulus
        features are built from here so their HRF convolution sees the whole story.
    onset, duration : float
        The story row of ``events.tsv``, in seconds.
    audio_offset : float
        Scan time at which the audio file started (onset of the first event, in
        seconds); Gentle word times are audio-file times and get this added.
    """

    start: int
    stop: int
    story_start: int
    onset: float
    duration: float
    audio_offset: float

    @property
    def n_volumes(self) -> int:
        return self.stop - self.start

    def as_dict(self) -> dict:
        return asdict(self)


def read_story_window(
    path: str | os.PathLike,
    *,
    tr: float = TR,
    duration_rounding: str = "ceil",
    initial_trim: int = 0,
) -> StoryWindow:
    """Story window of a scan from its BIDS ``events.tsv``.

    Parameters
    ----------
    path : path
        The scan's ``events.tsv`` (columns ``onset``, ``duration``, ``trial_type``; one
        row with ``trial_type == 'story'``).
    tr : float
        Repetition time in seconds.
    duration_rounding : {'ceil', 'round'}
        How the story duration becomes a volume count.  ``'ceil'`` keeps every volume
        the story touches (the paper: Pie Man 422 s -> 282 volumes); ``'round'`` is the
        dataset's own ``event_meta.json`` (281 volumes).
    initial_trim : int
        Volumes dropped after the story onset (0 as the paper; the Narratives ISC
        analyses use 6 to skip the onset response).

    Returns
    -------
    StoryWindow
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing: fetch the raw BIDS events.tsv of this scan.")
    events = pd.read_csv(path, sep="\t")
    missing = {"onset", "duration", "trial_type"} - set(events.columns)
    if missing:
        raise DataError(f"{path} lacks the column(s) {sorted(missing)}; is it a BIDS events.tsv?")
    story = events[events["trial_type"] == "story"]
    if len(story) != 1:
        raise DataError(
            f"{path} has {len(story)} rows with trial_type 'story'; expected exactly one."
        )
    onset = float(story["onset"].iloc[0])
    duration = float(story["duration"].iloc[0])
    rounders = {"ceil": math.ceil, "round": round}
    if duration_rounding not in rounders:
        raise DataError(f"duration_rounding must be 'ceil' or 'round', not {duration_rounding!r}")
    if initial_trim < 0:
        raise DataError(f"initial_trim must be >= 0, not {initial_trim}")
    start = round(onset / tr)
    # A small tolerance keeps 422.0/1.5 = 281.333 at 282 but 408.0/1.5 = 272 at 272.
    n = int(rounders[duration_rounding](duration / tr - 1e-9))
    start_trimmed = start + initial_trim
    if start_trimmed >= start + n:
        raise DataError(f"initial_trim={initial_trim} removes the whole story of {path}")
    return StoryWindow(
        start=start_trimmed,
        stop=start + n,
        story_start=start,
        onset=onset,
        duration=duration,
        audio_offset=float(events["onset"].min()),
    )


def load_mask(path: str | os.PathLike) -> nib.Nifti1Image:
    """Load a brain mask and check it keeps at least one voxel."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"brain mask {path} is missing; fetch it with `python -m anbn_utils.narratives.download`."
        )
    img = _load_image(path)
    data = _read_data(img, path)
    if data.ndim != 3:
        raise DataError(f"brain mask {path} has shape {data.shape}; expected a 3D image.")
    if not np.any(data > 0):
        raise DataError(f"brain mask {path} keeps no voxel; re-fetch the mask.")
    return nib.Nifti1Image((data > 0).astype(np.uint8), img.affine, img.header)


def grid_difference(img, reference) -> str:
    """How the voxel grid of ``img`` differs from that of ``reference`` (nibabel images), in
    words (``"shape (7, 8, 6) against (7, 9, 6)"``, ``"the same shape (7, 8, 6), but the
    affines differ by up to 2 mm (origin (-90, -126, -72) against (-88, -126, -72))"``);
    empty when they are the same (affines to 1e-3 mm)."""
    shape, ref_shape = tuple(img.shape[:3]), tuple(reference.shape[:3])
    if shape != ref_shape:
        return f"shape {shape} against {ref_shape}"
    gap = float(np.abs(img.affine - reference.affine).max())
    if gap <= 1e-3:
        return ""
    origin = lambda a: tuple(round(float(v), 2) for v in a[:3, 3])
    return (f"the same shape {shape}, but the affines differ by up to {gap:.3g} mm (origin "
            f"{origin(img.affine)} against {origin(reference.affine)})")


def load_masked_bold(
    bold_path: str | os.PathLike,
    mask_img: nib.Nifti1Image,
    window: StoryWindow,
    *,
    mask_path: str | os.PathLike | None = None,
    resample: bool = False,
) -> tuple[np.ndarray, int]:
    """Crop one scan to ``window``, mask it and z-score each voxel over time.

    Parameters
    ----------
    bold_path : path
        4D BOLD NIfTI.
    mask_img : Nifti1Image
        Brain mask on the same grid (shape and affine).
    window : StoryWindow
        Volumes to keep.
    mask_path : path, optional
        Only used to name the mask in error messages.
    resample : bool
        If the scan's grid differs from the mask's, resample the cropped scan onto the
        mask's grid (nilearn, continuous interpolation) instead of raising.

    Returns
    -------
    data : ndarray of shape (n_volumes, n_voxels), float32
        Z-scored (population standard deviation) per voxel.
    n_constant : int
        Voxels inside the mask that are constant over the window; they are set to 0.

    Raises
    ------
    DataError
        If the grids differ, the scan is shorter than the window, or it holds NaNs.
    """
    bold_path = Path(bold_path)
    if not bold_path.is_file():
        raise DataError(
            f"BOLD file {bold_path} is missing (a DataLad file not yet fetched?); run "
            "`datalad get` on it or `python -m anbn_utils.narratives.download`."
        )
    img = _load_image(bold_path)
    mask_name = mask_path or "the brain mask"
    if img.ndim != 4:
        raise DataError(f"{bold_path} has shape {img.shape}; expected a 4D BOLD image.")
    difference = grid_difference(img, mask_img)
    if difference and not resample:
        raise DataError(
            f"the grid of {bold_path} differs from {mask_name}: {difference}. Use the mask of "
            "the same task (tpl-..._res-<task>_desc-brain_mask.nii.gz) or resample it with "
            "nilearn.image.resample_to_img(mask, bold, interpolation='nearest'), or put "
            "the stories on one grid (common_grid)."
        )
    if img.shape[3] < window.stop:
        raise DataError(
            f"{bold_path} has {img.shape[3]} volumes but the story window needs volumes "
            f"[{window.start}, {window.stop}); the file is truncated or belongs to another task."
        )
    volumes = _read_data(img, bold_path, np.s_[..., window.start:window.stop])
    cropped = nib.Nifti1Image(volumes.astype(np.float32, copy=False), img.affine, img.header)
    if difference:
        from nilearn.image import resample_to_img

        cropped = resample_to_img(cropped, mask_img, interpolation="continuous",
                                  force_resample=True, copy_header=True)
    data = apply_mask(cropped, mask_img, ensure_finite=False).astype(np.float32, copy=False)
    bad = ~np.isfinite(data)
    if bad.any():
        n_vox = int(bad.any(axis=0).sum())
        raise DataError(
            f"{bold_path} holds NaN or infinite values in {n_vox} voxel(s) inside "
            f"{mask_name}; re-fetch the file, or shrink the mask to exclude them."
        )
    mean = data.mean(axis=0, dtype=np.float64)
    std = data.std(axis=0, dtype=np.float64)
    constant = std < 1e-8 * np.maximum(1.0, np.abs(mean))
    std[constant] = 1.0
    data = ((data - mean) / std).astype(np.float32)
    data[:, constant] = 0.0
    return data, int(constant.sum())


def _load_image(path: str | os.PathLike) -> nib.Nifti1Image:
    """``nib.load`` with an error that names the file when its header cannot be read."""
    try:
        return nib.load(path)
    except (EOFError, OSError, ValueError, zlib.error, nib.filebasedimages.ImageFileError) as e:
        raise DataError(f"{path} is not a readable NIfTI image ({type(e).__name__}: {e}); "
                        "fetch it again (`datalad get`).") from e


def _read_data(img: nib.Nifti1Image, path, index=...) -> np.ndarray:
    """``img.dataobj[index]`` with an error that names the file when it is truncated."""
    try:
        return np.asarray(img.dataobj[index])
    except (EOFError, OSError, ValueError, zlib.error) as e:
        raise DataError(f"{path} cannot be read ({type(e).__name__}: {e}): the file is "
                        "truncated or corrupt; fetch it again (`datalad get`).") from e


def _cache_one(bold_path, mask_img, mask_path, window, cache_dir, key, resample) -> dict:
    """Load one scan into the cache unless it is there; the ``.json`` sidecar is written last."""
    out, meta = Path(cache_dir) / f"{key}.npy", Path(cache_dir) / f"{key}.json"
    if not (out.is_file() and meta.is_file()):
        data, n_constant = load_masked_bold(bold_path, mask_img, window, mask_path=mask_path,
                                            resample=resample)
        save_array(out, data)
        write_json(meta, {"bold": str(bold_path), "shape": data.shape, "n_constant": n_constant})
    info = read_json(meta)
    return {"cache_path": str(out), "n_voxels": info["shape"][1], "n_constant": info["n_constant"]}


def cache_task_bold(
    scans: pd.DataFrame,
    mask_path: str | os.PathLike,
    *,
    duration_rounding: str = "ceil",
    initial_trim: int = 0,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    resample: bool = False,
) -> pd.DataFrame:
    """Crop, mask, z-score and cache every scan of one task.

    A scan whose cache entry exists is not read again: the cache key covers the BOLD file
    (its git-annex key, else path, size and modification time), the mask's voxels and
    grid, the window, and the source of the code that computes the arrays (this module and
    what it imports), so an edit of that code or a changed input never serves old arrays.
    Scans are processed in parallel with joblib, one subject per worker, so memory
    holds at most ``n_jobs`` scans.

    Parameters
    ----------
    scans : DataFrame
        From :func:`~anbn_utils.narratives.layout.select_scans`.
    mask_path : path
        The task's brain mask.
    duration_rounding, initial_trim
        See :func:`read_story_window`.
    cache_dir : path, optional
        Where the arrays go; argument > ``ANBN_CACHE_DIR`` > ``~/.cache/anbn``.
    n_jobs : int
        joblib workers.
    progress : bool
        Show a tqdm bar.
    resample : bool
        Resample scans whose grid differs from the mask's (see :func:`load_masked_bold`).

    Returns
    -------
    DataFrame
        ``scans`` plus ``start``, ``stop``, ``story_start``, ``n_volumes``, ``n_voxels``, ``n_constant``
        (constant voxels, set to 0), ``audio_offset``, ``cache_path``.
    """
    cache_dir = get_cache_dir(cache_dir) / "bold"
    mask_img = load_mask(mask_path)
    mask_fp = _image_digest(mask_img)
    code = code_hash([__name__], data_files=False, parents=False)
    windows, keys = [], []
    for row in scans.itertuples():
        w = read_story_window(row.events_path, duration_rounding=duration_rounding,
                              initial_trim=initial_trim)
        windows.append(w)
        if not Path(row.bold_path).is_file():
            load_masked_bold(row.bold_path, mask_img, w)  # raises the clear error
        keys.append(hash_json({
            "bold": file_fingerprint(row.bold_path), "mask": mask_fp,
            "start": w.start, "stop": w.stop, "resample": resample, "code": code,
        })[:24])
    jobs = (
        delayed(_cache_one)(row.bold_path, mask_img, str(mask_path), w, cache_dir, key, resample)
        for row, w, key in zip(scans.itertuples(), windows, keys)
    )
    results = list(tqdm(
        Parallel(n_jobs=n_jobs, return_as="generator")(jobs),
        total=len(scans), desc="BOLD", disable=not progress,
    ))
    out = scans.copy()
    out["start"] = [w.start for w in windows]
    out["stop"] = [w.stop for w in windows]
    out["story_start"] = [w.story_start for w in windows]
    out["n_volumes"] = [w.n_volumes for w in windows]
    out["audio_offset"] = [w.audio_offset for w in windows]
    for col in ("n_voxels", "n_constant", "cache_path"):
        out[col] = [r[col] for r in results]
    return out


def mean_and_tsnr(
    bold_path: str | os.PathLike, window: StoryWindow, mask_img: nib.Nifti1Image
) -> tuple[nib.Nifti1Image, nib.Nifti1Image]:
    """Mean image and temporal SNR (mean / standard deviation over time) of a cropped scan.

    Voxels outside ``mask_img`` or with zero variance get tSNR 0.
    """
    from nilearn.image import index_img, math_img, mean_img

    img = index_img(nib.load(bold_path), slice(window.start, window.stop))
    mean = mean_img(img, copy_header=True)
    tsnr = math_img(
        "np.where((mask > 0) & (np.std(img, axis=-1) > 0),"
        " np.mean(img, axis=-1) / np.where(np.std(img, axis=-1) > 0, np.std(img, axis=-1), 1), 0)",
        img=img, mask=mask_img,
    )
    return mean, tsnr


def common_mask(
    mask_paths: dict[str, str | os.PathLike], target: str,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """One voxel space for several stories: the masks resampled onto ``target``'s grid
    (nearest neighbour) and intersected.

    The BNs are fitted on the pooled volumes of all stories, which need one voxel space;
    the real Pie Man and Shapes scans are on different grids.

    Parameters
    ----------
    mask_paths : dict
        Task -> brain mask path.
    target : str
        Task whose grid is kept.
    cache_dir : path, optional
        Where the mask is written (argument > ``ANBN_CACHE_DIR`` > ``~/.cache/anbn``).

    Returns
    -------
    Path of the common mask (a NIfTI file named by a hash of its voxels and grid, written
    only when no such file exists).
    """
    from nilearn.image import resample_to_img

    if target not in mask_paths:
        raise DataError(f"common_grid={target!r} is not one of the stories {sorted(mask_paths)}")
    ref = load_mask(mask_paths[target])
    keep = np.asanyarray(ref.dataobj) > 0
    for path in mask_paths.values():
        m = resample_to_img(load_mask(path), ref, interpolation="nearest", force_resample=True,
                            copy_header=True)
        keep &= np.asanyarray(m.dataobj) > 0
    if not keep.any():
        raise DataError(f"the masks of {sorted(mask_paths)} do not overlap on the grid of {target!r}")
    img = nib.Nifti1Image(keep.astype(np.uint8), ref.affine)
    out = get_cache_dir(cache_dir) / "masks" / f"common_{_image_digest(img)[:24]}.nii.gz"
    if not out.is_file():  # named by its content: an existing file is this mask
        with atomic_path(out) as tmp:
            nib.save(img, tmp)
    return out


def _image_digest(img: nib.Nifti1Image) -> str:
    """SHA-256 of an image's voxel values, shape and affine (not of its file: the same mask
    written again, with a new modification time or header, has the same digest)."""
    data = np.ascontiguousarray(np.asanyarray(img.dataobj))
    return hash_json({"shape": data.shape, "dtype": str(data.dtype),
                      "affine": np.round(img.affine, 6).tolist(),
                      "data": hashlib.sha256(data.tobytes()).hexdigest()})

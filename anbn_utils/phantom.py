"""The phantom: a synthetic Narratives dataset with planted networks and planted AN-BN couplings.

Two original stories (``phantom_stories/``, written for this project) are "spoken" with
simulated word timings and written in the Narratives layout under the real task names
(``pieman``, ``shapessocial``), so the pipeline reads them like the real data.  Each
subject's BOLD, on nilearn's MNI152 brain mask, is

``baseline(v) * (1 + 0.01 * (sum_k a[s, k] * snr * map_k(v) * x_k(t) + noise_s(t, v)))``

- ``map_k``: network ``k``, smooth Gaussian blobs (``sigma_mm``) at real MNI locations
  (:data:`NETWORKS`), peak 1, partly overlapping;
- ``x_k``: unit-variance time course over the story window.  For a *planted* network it is
  the HRF-convolved activation of a chosen AN of the chosen model on the story, computed
  with the pipeline's own default settings; for the others an HRF-convolved AR(1) signal
  unrelated to the text.  Both are shared by all subjects of a story;
- ``a[s, k]``: subject-specific amplitude (log-normal around 1);
- ``noise``: AR(1) in time (``noise_ar``), unit variance, independent across voxels.

So ``snr`` is the signal-to-noise ratio at a network's peak voxel in one subject.
Lead-in and tail volumes hold noise and the decaying responses.  The ground truth (maps,
time courses, planted pairs, parameters) goes to ``phantom_truth/``, which the pipeline
does not read; :mod:`anbn_utils.recovery` reads it to score what the pipeline recovered.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import nibabel as nib
import numpy as np
from joblib import Parallel, delayed
from tqdm import tqdm

from .ans.activations import an_index, an_names, convolve_hrf
from .assets import DEFAULT_MODEL
from .errors import ParameterError
from .io import save_array, write_json
from .narratives import layout
from .narratives.bold import read_story_window
from .narratives.transcripts import assign_words_to_trs, read_align_json
from .synthetic import (
    EVENTS,
    ar1,
    brain_mask,
    gentle_alignment,
    scans_of,
    subjects_per_task,
    write_bold,
    write_dataset_files,
)

__all__ = ["DEFAULT_PLANTED", "NETWORKS", "STORIES", "make_phantom", "story_text"]

#: Networks the phantom can place: name -> MNI coordinates (mm) of their blobs.
NETWORKS = {
    "language (left IFG + pSTG)": [(-48, 22, 8), (-56, -42, 6)],
    "auditory (bilateral STG)": [(-54, -18, 6), (54, -18, 6)],
    "default mode (PCC + mPFC + AG)": [(0, -56, 30), (0, 52, 0), (-44, -66, 32), (44, -66, 32)],
    "visual (occipital)": [(0, -86, 6), (-22, -92, 2), (22, -92, 2)],
    "salience (insula + dACC)": [(-36, 18, 2), (36, 18, 2), (0, 24, 32)],
    "dorsal attention (IPS + FEF)": [(-28, -60, 50), (28, -60, 50), (-26, -6, 54), (26, -6, 54)],
    "sensorimotor (central)": [(-38, -24, 56), (38, -24, 56)],
    "frontoparietal (dlPFC + IPL)": [(-44, 34, 22), (44, 34, 22), (-50, -50, 44), (50, -50, 44)],
    "semantic (anterior temporal)": [(-50, 8, -28), (50, 8, -28)],
    "precuneus + cerebellum": [(0, -66, 44), (-24, -70, -34), (24, -70, -34)],
}

#: Default planted couplings: AN (of all-MiniLM-L6-v2) -> index into :data:`NETWORKS`;
#: ANs of different layers.
DEFAULT_PLANTED = (("L1H4D7", 0), ("L3H9D18", 1), ("L5H2D30", 2), ("L6H11D5", 4))

#: The phantom's stories, by the Narratives task they stand in for.
STORIES = ("pieman", "shapessocial")


def story_text(task: str) -> str:
    """The phantom story that stands in for ``task``."""
    if task not in STORIES:
        raise ParameterError(f"the phantom has stories for {STORIES}, not {task!r}")
    return files("anbn_utils").joinpath("phantom_stories", f"{task}.txt").read_text("utf-8")


def network_maps(mask_img: nib.Nifti1Image, names: list[str], sigma_mm: float,
                 cutoff: float = 0.05) -> np.ndarray:
    """Spatial maps, shape (n_networks, n_voxels in mask): sums of Gaussian blobs, peak 1,
    values below ``cutoff`` set to 0."""
    mask = np.asanyarray(mask_img.dataobj) > 0
    ijk = np.argwhere(mask)
    xyz = nib.affines.apply_affine(mask_img.affine, ijk)
    maps = np.zeros((len(names), len(ijk)), dtype=np.float32)
    for n, name in enumerate(names):
        for centre in NETWORKS[name]:
            d2 = ((xyz - np.asarray(centre)) ** 2).sum(1)
            maps[n] += np.exp(-d2 / (2 * sigma_mm**2)).astype(np.float32)
        maps[n] /= maps[n].max()
        maps[n][maps[n] < cutoff] = 0.0
    return maps


def _zscore(x: np.ndarray, window: slice) -> np.ndarray:
    w = x[window]
    return (x - w.mean(0)) / np.where(w.std(0) > 0, w.std(0), 1)


def _story_window(root: Path, task: str):
    subject, run = scans_of(task, 1)[0]
    return read_story_window(layout.events_path(root, subject, task, run))


def _planted_drivers(root: Path, task: str, model, tokenizer, names: list[str]) -> np.ndarray:
    """HRF-convolved AN activations over the whole scan, shape (n_volumes, n_planted).

    The alignment just written is read back through the pipeline's own readers with its
    default settings, so the planted series is what chapter 02 computes.
    """
    from .ans.extract import extract_ans

    window = _story_window(root, task)
    words, transcript = read_align_json(layout.gentle_dir(root, task) / "align.json")
    words["start"] += window.audio_offset
    words["end"] += window.audio_offset
    words = assign_words_to_trs(words, window.start, window.stop)
    ans = extract_ans(transcript, words, model, tokenizer, story_start=window.story_start,
                      start=window.start, stop=window.stop, top_k=1, progress=False)
    flat = ans.activations.reshape(len(ans.activations), -1)
    shape = ans.activations.shape[1:]
    cols = [int(np.ravel_multi_index(an_index(n), shape)) for n in names]
    n_volumes = EVENTS[task]["n_volumes"]
    raw = np.zeros((n_volumes, len(cols)))
    raw[window.start:window.stop] = flat[:, cols]
    return _zscore(convolve_hrf(raw, layout.TR), slice(window.start, window.stop))


def make_phantom(
    root: str | os.PathLike,
    *,
    tasks: tuple[str, ...] = STORIES,
    n_subjects: int | dict[str, int] = 6,
    resolution: float = 6.0,
    mask: str = "brain",
    n_networks: int = 8,
    planted: tuple[tuple[str, int], ...] | None = DEFAULT_PLANTED,
    model: str = DEFAULT_MODEL,
    snr: float = 0.3,
    amplitude_sd: float = 0.2,
    noise_ar: float = 0.3,
    network_ar: float = 0.8,
    sigma_mm: float = 10.0,
    n_unaligned: int = 3,
    random_state: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> Path:
    """Write the phantom dataset under ``root`` and its ground truth under
    ``root/phantom_truth``.

    Parameters
    ----------
    root : path
        Output folder.
    tasks : tuple of str
        Stories, among :data:`STORIES`.
    n_subjects : int or dict of str -> int
        Subjects per story, or story -> subjects (the real exclusions of their IDs apply:
        82 Pie Man and 59 Shapes subjects keep the real 75 and 58).
    resolution : float
        Voxel size (mm) of the MNI152 grid (coarse for CPU speed; 3 for realism).
    mask : {'brain', 'gm'}
        nilearn's MNI152 brain mask or its grey-matter mask (see
        :func:`anbn_utils.synthetic.brain_mask`).
    n_networks : int
        Networks placed, the first ``n_networks`` of :data:`NETWORKS`.
    planted : sequence of (AN name, network index) or None
        Planted couplings; None or empty plants none (the ``phantom-null`` profile).
    model : str
        Model whose ANs drive the planted networks (see :func:`anbn_utils.ans.load_model`).
    snr : float
        Signal-to-noise ratio at a network's peak voxel, per subject (> 0).
    amplitude_sd : float
        Standard deviation of the log subject amplitudes.
    noise_ar : float
        AR(1) coefficient of the noise.
    network_ar : float
        AR(1) coefficient of the networks' signals unrelated to the text (before the HRF).
    sigma_mm : float
        Width of the network blobs.
    n_unaligned : int
        Words per story marked ``not-found-in-audio``.
    random_state : int
        Seed: the same seed writes byte-identical files (each scan draws from its own
        stream, seeded by ``(random_state, story, scan)``).
    n_jobs : int
        Scans written in parallel (joblib); the files do not depend on it.
    progress : bool
        tqdm bar per story.
    """
    planted = [tuple(p) for p in (planted or [])]
    if snr <= 0:
        raise ParameterError(f"snr must be > 0, not {snr}")
    for task in tasks:
        subjects_per_task(n_subjects, task)
    if not 1 <= n_networks <= len(NETWORKS):
        raise ParameterError(
            f"n_networks={n_networks}, but the phantom has {len(NETWORKS)} network locations")
    bad = [p for p in planted if not 0 <= int(p[1]) < n_networks]
    if bad:
        raise ParameterError(
            f"planted network index out of range in {bad}: {n_networks} networks are placed "
            f"(indices 0..{n_networks - 1}); raise n_networks or pick other networks")
    for task in tasks:
        story_text(task)
    root = Path(root)
    rng = np.random.default_rng(random_state)
    names = list(NETWORKS)[:n_networks]
    mask_img = brain_mask(resolution, kind=mask)
    inside = np.asanyarray(mask_img.dataobj).astype(bool)
    maps = network_maps(mask_img, names, sigma_mm)
    alignments = {task: gentle_alignment(story_text(task), task, rng, n_unaligned)
                  for task in tasks}
    parameters = {"tasks": list(tasks), "n_subjects": n_subjects, "resolution": resolution,
                  "mask": mask, "n_networks": n_networks, "planted": [list(p) for p in planted],
                  "model": model, "snr": snr, "amplitude_sd": amplitude_sd,
                  "noise_ar": noise_ar, "network_ar": network_ar, "sigma_mm": sigma_mm,
                  "n_unaligned": n_unaligned, "random_state": random_state}
    write_dataset_files(root, tasks, n_subjects, mask_img, alignments,
                        name="anbn phantom in the Narratives layout (simulated data, planted "
                             f"{'couplings' if planted else 'networks, no coupling'})",
                        parameters=parameters)
    net = tok = None
    if planted:
        from .ans.extract import load_model

        try:
            net, tok = load_model(model, "cpu")
        except (OSError, ValueError) as e:
            raise ParameterError(
                f"the phantom cannot load model {model!r} for its planted ANs ({e}); use an "
                f"installed model such as {DEFAULT_MODEL!r} or a local folder") from e
        shape = (net.config.num_hidden_layers, net.config.num_attention_heads,
                 net.config.hidden_size // net.config.num_attention_heads)
        known = set(an_names(*shape))
        unknown = [p[0] for p in planted if p[0] not in known]
        if unknown:
            raise ParameterError(f"planted AN(s) {unknown} do not exist in {model} "
                                 f"({shape[0]} layers x {shape[1]} heads x {shape[2]} dims)")
    truth = root / "phantom_truth"
    nib.save(nib.Nifti1Image(_unmask(maps, inside), mask_img.affine), _mk(truth / "maps.nii.gz"))
    for t, task in enumerate(tasks):
        n_volumes = EVENTS[task]["n_volumes"]
        w = _story_window(root, task)
        courses = _zscore(convolve_hrf(ar1(rng, n_volumes, n_networks, network_ar), layout.TR),
                          slice(w.start, w.stop))
        if planted:
            drivers = _planted_drivers(root, task, net, tok, [p[0] for p in planted])
            for j, (_, k) in enumerate(planted):
                courses[:, int(k)] = drivers[:, j]
        save_array(truth / f"timecourses_{task}.npy", courses.astype(np.float32))
        scans = scans_of(task, n_subjects)
        jobs = (delayed(_write_scan)(root, task, subject, run, courses, maps, inside,
                                     mask_img.affine, snr, amplitude_sd, noise_ar,
                                     (random_state, t, i))
                for i, (subject, run) in enumerate(scans))
        for _ in tqdm(Parallel(n_jobs=n_jobs, return_as="generator")(jobs), total=len(scans),
                      desc=f"phantom {task}", disable=not progress):
            pass
    write_json(truth / "truth.json", {
        "networks": [{"index": i, "name": n, "mni_centres": NETWORKS[n]}
                     for i, n in enumerate(names)],
        "planted": [{"an": a, "network": int(k), "network_name": names[int(k)]}
                    for a, k in planted],
        "parameters": parameters,
        "files": {"maps": "maps.nii.gz (4D, one volume per network, peak 1)",
                  "timecourses": "timecourses_<task>.npy (n_volumes, n_networks), whole scan, "
                                 "unit variance over the story window"},
    })
    return root


def _write_scan(root, task, subject, run, courses, maps, inside, affine, snr, amplitude_sd,
                noise_ar, seed) -> None:
    """One subject's BOLD (see the module docstring), from its own random stream ``seed``
    (so the files do not depend on the order or number of workers)."""
    rng = np.random.default_rng(seed)
    n_volumes, n_vox = len(courses), int(inside.sum())
    amp = np.exp(amplitude_sd * rng.standard_normal(courses.shape[1])).astype(np.float32)
    signal = snr * (courses * amp) @ maps  # (n_volumes, n_vox)
    noise = ar1(rng, n_volumes, n_vox, noise_ar)
    baseline = 600 + 400 * rng.uniform(size=n_vox).astype(np.float32)
    ts = baseline * (1 + 0.01 * (signal + noise))
    write_bold(root, task, subject, run, _unmask(ts, inside), affine)


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _unmask(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n, n_vox) -> 4D volume (x, y, z, n) with zeros outside the mask."""
    out = np.zeros(mask.shape + (values.shape[0],), dtype=np.float32)
    out[mask] = values.T
    return out

"""Checks before any compute: everything a run needs, in seconds, reported at once.

A run of the ``paper`` profile can fail hours in on a missing file or a wrong grid; these
checks read only file listings, NIfTI headers, the small text files and the model cache,
and report every problem found with its fix.  ``python -m anbn_utils.run --check`` runs
them alone; every run runs them first.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..config import get_cache_dir, get_data_root
from ..errors import DataError, ParameterError
from .stages import stage_values

__all__ = ["preflight"]


def _check_narratives(data: dict[str, Any]) -> list[str]:
    """Problems of the Narratives files the data stage will read with ``data`` (its values)."""
    import nibabel as nib

    from ..narratives.bold import grid_difference, load_mask, read_story_window
    from ..narratives.layout import mask_path, select_scans
    from ..narratives.transcripts import read_words

    root = get_data_root(data.get("dataset_root"))
    if not root.is_dir():
        return [(f"dataset root {root} does not exist: fetch the data (`python -m "
                 "anbn_utils.narratives.download --root ...`) or set dataset_root / $ANBN_DATA")]
    problems, grids, n_bytes = [], {}, 0
    for task in data["tasks"]:
        try:
            mask = load_mask(mask_path(root, task))
            grids[task] = (mask.shape, mask.affine)
            n_vox = int(np.count_nonzero(np.asanyarray(mask.dataobj)))
        except DataError as e:
            problems.append(str(e))
            mask, n_vox = None, 0
        try:
            scans = select_scans(root, task, exclude=data["exclude"],
                                 subjects=(data.get("subjects") or {}).get(task),
                                 n_subjects=data["n_subjects"], random_state=data["seed"],
                                 require_bold=False)
        except DataError as e:
            problems.append(str(e))
            continue
        for row in scans.itertuples():
            if not row.bold_present:
                problems.append(
                    f"{row.bold_path} is absent (deleted, or a DataLad file not fetched yet), "
                    f"and {task!r} needs it: fetch it (`datalad get`, or `python -m "
                    "anbn_utils.narratives.download`), or leave its subject out with `subjects`")
                continue
            try:
                window = read_story_window(row.events_path,
                                           duration_rounding=data["duration_rounding"],
                                           initial_trim=data["initial_trim"])
                img = nib.load(row.bold_path)  # the header only
            except (DataError, OSError, ValueError) as e:
                problems.append(str(e) if isinstance(e, DataError) else
                                f"{row.bold_path} is not a readable NIfTI image ({e})")
                continue
            if img.ndim != 4 or img.shape[3] < window.stop:
                problems.append(f"{row.bold_path} has shape {img.shape}; the story window "
                                f"needs volumes [{window.start}, {window.stop}) of a 4D scan")
            difference = grid_difference(img, mask) if mask is not None else ""
            if difference:
                problems.append(f"the grid of {row.bold_path} differs from its task's mask "
                                f"{mask_path(root, task)}: {difference}; use the mask of the "
                                "same task, or re-fetch the scan")
            n_bytes += 4 * window.n_volumes * n_vox
        try:
            read_words(root, task, source=data["alignment"])
        except DataError as e:
            problems.append(str(e))
    distinct = {(shape, tuple(np.round(affine, 3).ravel())) for shape, affine in grids.values()}
    if len(distinct) > 1 and not data.get("common_grid"):
        problems.append(f"the stories {sorted(grids)} are on different grids (their masks "
                        f"differ: {', '.join(f'{t} {g[0]}' for t, g in grids.items())}); the "
                        "BNs are fitted on their pooled volumes: set common_grid to one of them")
    cache = get_cache_dir(data.get("cache_dir"))
    existing = next((p for p in (cache, *cache.parents) if p.exists()), Path("/"))
    free = shutil.disk_usage(existing).free
    if n_bytes > free:
        problems.append(f"the BOLD cache needs up to {n_bytes / 2**30:.1f} GiB but {existing} "
                        f"has {free / 2**30:.1f} GiB free: free space or set cache_dir / "
                        "$ANBN_CACHE_DIR to a larger disk")
    return problems


def _check_device(device: str) -> list[str]:
    if device in ("auto", "cpu"):
        return []
    from ..config import resolve_device

    try:
        resolve_device(device)
    except ParameterError as e:
        return [str(e)]
    return []


def _check_layers(values: dict[str, dict[str, Any]], profile: dict[str, Any]) -> list[str]:
    """Chapter 05's ``exemplar_layers`` within the model's layers (read from its
    configuration, where that needs no download)."""
    from ..assets import model_layers

    layers = (values.get("05_pos") or {}).get("exemplar_layers") or []
    model = profile["params"].get("model") or values.get("02_ans", {}).get("model")
    n_layers = model_layers(model) if layers and model else None
    bad = [layer for layer in layers if n_layers is not None and not 1 <= layer <= n_layers]
    if bad:
        return [(f"exemplar_layers={list(layers)!r}: layers are 1-based, between 1 and "
                 f"{n_layers} for the model {model!r}; set exemplar_layers=[...] within them")]
    return []


def _check_bns(values: dict[str, dict[str, Any]]) -> list[str]:
    """03_bns's ``bn_layer`` within the VS-DBN's layers and ``example_bn`` among the BNs the
    parameters make (it used to fail after the whole fit)."""
    from ..units import bn_index

    bns = values.get("03_bns")
    if not bns:
        return []
    if bns["bn_method"] != "vsdbn":
        n_bns = bns["n_components"]
    else:
        layers = list(bns["n_hidden"])
        layer = bns.get("bn_layer")
        if layer is not None and not (isinstance(layer, int) and 1 <= layer <= len(layers)):
            return [(f"bn_layer={layer!r}: the VS-DBN has layers 1 to {len(layers)} "
                     f"(n_hidden={layers}); set bn_layer within them, or null for the last")]
        n_bns = layers[(layer or len(layers)) - 1]
    if bns.get("example_bn"):
        try:
            bn_index(bns["example_bn"], n_bns)
        except ParameterError as e:
            return [f"{e}; set example_bn within them, or null"]
    return []


#: What a finished run that a ``*_run_dir`` parameter names must hold (the others: a
#: finished coupling).
_RUN_MARKERS = {"study_run_dir": "study.json"}


def _check_other_runs(values: dict[str, dict[str, Any]]) -> list[str]:
    """The runs that ``*_run_dir`` parameters of the stages that will run point to exist
    and have finished (a stage reading a missing one used to fail minutes in)."""
    from .stages import REPO_ROOT

    problems = []
    for name, value in sorted({(k, v) for vals in values.values() for k, v in vals.items()
                               if k.endswith("_run_dir") and k != "run_dir" and v}):
        marker = _RUN_MARKERS.get(name, "04_coupling/summary.json")
        if not (REPO_ROOT / value / marker).is_file():  # relative: to the repository root
            problems.append(f"{name}={value!r}: {REPO_ROOT / value} holds no finished "
                            f"{'study' if name == 'study_run_dir' else 'run'} (no {marker}): "
                            f"run it first, or set {name}=null")
    return problems


def preflight(profile: dict[str, Any], stage_params: dict[str, dict[str, Any]],
              declared: dict[str, dict[str, dict[str, Any]]]) -> tuple[list[str], list[str]]:
    """Check what the selected stages will need.

    Parameters
    ----------
    profile : dict
        The loaded profile (with overrides).
    stage_params : dict
        Stage -> the parameters the profile gives it (only the stages that will run).
    declared : dict
        Stage -> its notebook's declared parameters (for the defaults).

    Returns
    -------
    problems : list of str
        Each problem with its fix; the run must not start if any.
    notes : list of str
        What was checked (model source, ...), for the report.
    """
    from ..assets import model_source

    problems, notes = [], []
    values = {s: stage_values(declared[s], p) for s, p in stage_params.items()}
    if profile["dataset"]["kind"] == "narratives" and "01_data" in values:
        problems += _check_narratives(values["01_data"])
        notes.append(f"dataset: {get_data_root(values['01_data'].get('dataset_root'))}")
    models = {v["model"] for v in values.values() if v.get("model")}
    models |= {m for v in values.values() for m in v.get("compare_models") or ()}
    if profile["dataset"]["kind"] == "phantom":
        models.add(profile["dataset"]["params"].get("model") or "")
    for model in sorted(models - {""}):
        try:
            notes.append(f"model {model}: {model_source(model)}")
        except DataError as e:
            problems.append(str(e))
    problems += _check_layers(values, profile)
    problems += _check_bns(values)
    problems += _check_other_runs(values)
    for device in sorted({v["device"] for v in values.values() if v.get("device")}):
        problems += _check_device(device)
    return problems, notes

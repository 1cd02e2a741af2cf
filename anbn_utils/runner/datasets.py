"""The dataset of a run: generated into the run (phantom, synthetic) or read (Narratives).

A generated dataset is written to ``<run>/.partial/dataset`` and moved to ``<run>/dataset``
with its stamp ``dataset.json`` written last, so a half-written dataset is never taken for
a finished one; it is made again when its parameters or its generator's source change.
A Narratives dataset is identified by the files the data stage reads (:func:`dataset_hash`),
so deleting a scan or editing ``scan_exclude.json`` re-runs the stages.
"""

from __future__ import annotations

import inspect
import shutil
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from ..codehash import code_hash
from ..config import get_cache_dir, get_data_root
from ..errors import DataError, ParameterError
from ..io import file_fingerprint, hash_json, read_json, write_json
from .lock import hold
from .state import digests, manifest, replace_dir, verify_digests

__all__ = ["dataset_hash", "generator", "prepare_dataset", "validate_dataset_params"]

#: Dataset parameters that do not change the generated files (workers, progress bars).
_NOT_IN_DATASET_HASH = ("n_jobs", "progress")

#: The stamp of a generated dataset: its hash, parameters, generation time and files.
DATASET_STAMP = "dataset.json"


def generator(kind: str):
    """The function that writes a generated dataset of this kind."""
    if kind == "phantom":
        from ..phantom import make_phantom

        return make_phantom
    from ..synthetic import make_narratives_like

    return make_narratives_like


def validate_dataset_params(profile: dict[str, Any]) -> dict[str, Any]:
    """A generated dataset's parameters, checked against its generator's signature (names
    and annotated types); lists become tuples where the generator takes tuples."""
    spec = profile["dataset"]
    make = generator(spec["kind"])
    hints = typing.get_type_hints(make)
    allowed = set(inspect.signature(make).parameters) - {"root"}
    unknown = sorted(set(spec["params"]) - allowed)
    if unknown:
        raise ParameterError(
            f"profile {profile['path']}: unknown dataset parameter(s) {unknown}; "
            f"allowed for kind {spec['kind']!r}: {', '.join(sorted(allowed))}"
        )
    out, problems = {}, []
    for name, value in spec["params"].items():
        try:
            out[name] = TypeAdapter(hints[name]).validate_python(value)
        except ValidationError as e:
            problems.append(f"dataset.{name}={value!r}: "
                            + "; ".join(err["msg"] for err in e.errors()))
    if problems:
        raise ParameterError(f"invalid dataset parameter(s) in profile {profile['path']}:\n  "
                             + "\n  ".join(problems))
    return out


def generated_bytes(make, params: dict[str, Any]) -> tuple[int, int]:
    """Estimates from above of what a generator (``make``, with ``params``) writes and of
    the BOLD cache the data stage makes from it: every scan's volumes inside the mask as
    float32 (the zeros outside compress to little, noise does not compress), every scan
    for the dataset, one per subject for the cache.

    Returns
    -------
    (int, int)
        Bytes of the dataset's scans, bytes of the BOLD cache.
    """
    from ..synthetic import EVENTS, brain_mask, scans_of, subjects_per_task

    defaults = {k: p.default for k, p in inspect.signature(make).parameters.items()}
    given = {**defaults, **params}
    grid = {"shape": given["shape"]} if "shape" in given else {}  # the phantom has none
    mask = brain_mask(given.get("resolution"), kind=given.get("mask", "brain"), **grid)
    volume = int(np.count_nonzero(np.asanyarray(mask.dataobj))) * 4
    per_task = {task: EVENTS[task]["n_volumes"] * volume for task in given["tasks"]}
    return (sum(len(scans_of(task, given["n_subjects"])) * b for task, b in per_task.items()),
            sum(subjects_per_task(given["n_subjects"], task) * b for task, b in per_task.items()))


def _check_space(folder: Path, cache: Path, sizes: tuple[int, int], kind: str) -> None:
    """Room for a generated dataset in ``folder`` and its BOLD cache in ``cache``
    (:func:`generated_bytes`), before anything is written."""
    def disk(path: Path) -> Path:
        return next((p for p in (path, *path.parents) if p.exists()), Path("/"))

    data, cached = disk(folder), disk(cache)
    where = ({data: sum(sizes)} if data.stat().st_dev == cached.stat().st_dev
             else {data: sizes[0], cached: sizes[1]})
    for path, need in where.items():
        free = shutil.disk_usage(path).free
        if need > free:
            raise DataError(
                f"the {kind} dataset and the BOLD cache made from it need up to "
                f"{need / 2**30:.1f} GiB on the disk of {path}, which has {free / 2**30:.1f} "
                "GiB free: free space there, or put the run (--run-dir), its store (--store) "
                "or the cache (cache_dir / $ANBN_CACHE_DIR) on a larger disk")


def dataset_hash(root: Path, tasks: Sequence[str]) -> str:
    """Hash of the Narratives files the data stage reads for ``tasks``: the exclusions,
    the dataset description, and per task the mask, the Gentle alignment and every scan's
    events and BOLD (annex key, content hash or size and modification time: see
    :func:`anbn_utils.io.file_fingerprint`)."""
    from ..narratives.layout import input_files

    files = input_files(root, tasks)
    return hash_json({"kind": "narratives", "root": str(Path(root).resolve()),
                      "files": {str(p.relative_to(root)): file_fingerprint(p) for p in files}})


def prepare_dataset(profile: dict[str, Any], run_dir: Path, *, force: bool,
                    tasks: Sequence[str], store: Path | None = None,
                    log=print, verify: bool = False) -> tuple[Path, str]:
    """Dataset root and its hash; generates the dataset of phantom and synthetic profiles.

    With a ``store`` (runs that share their stages), a generated dataset is kept once, in
    ``<store>/dataset/<hash>``, and ``<run_dir>/dataset`` links to it.  Its stamp
    (:data:`DATASET_STAMP`) lists its files with sizes and times, as a stage's does: a
    dataset whose files changed since it was made (a ground truth moved away, a scan
    truncated) is made again, never served damaged; with ``verify``, its files' content is
    compared with the digests recorded when it was made.
    """
    spec = profile["dataset"]
    if spec["kind"] == "narratives":
        root = get_data_root(profile["params"].get("dataset_root"))
        return root, dataset_hash(root, tasks)
    make = generator(spec["kind"])
    params = validate_dataset_params(profile)
    content = {k: v for k, v in params.items() if k not in _NOT_IN_DATASET_HASH}
    h = hash_json({"kind": spec["kind"], "params": content, "code": code_hash([make.__module__])})
    final = store / "dataset" / h if store else run_dir / "dataset"
    with hold(final.parent / f".{final.name}.lock", wait=True,
              on_wait=lambda who: log(f"dataset: waiting for {who}, which makes it")):
        stamp = final / DATASET_STAMP
        record = read_json(stamp) if stamp.is_file() else {}
        intact = record.get("manifest") == manifest(final, DATASET_STAMP)
        damage = (verify_digests(final, record, DATASET_STAMP)
                  if verify and intact and record.get("hash") == h else None)
        if not force and record.get("hash") == h and intact and not damage:
            log(f"dataset: up to date{f' (shared: {final})' if store else ''}")
        else:
            log(f"dataset: generating the {spec['kind']} dataset"
                + (f" again: {damage} (--verify)" if damage and not force else
                   f" again: its files in {final} changed since it was made (a file moved, "
                   "deleted or rewritten)" if not force and record.get("hash") == h else ""))
            partial = final.parent / ".partial" / final.name
            shutil.rmtree(partial, ignore_errors=True)
            _check_space(final.parent, get_cache_dir(profile["params"].get("cache_dir")),
                         generated_bytes(make, params), spec["kind"])
            t0 = time.perf_counter()
            make(partial, **params)
            if not partial.is_dir():
                raise DataError(f"the {spec['kind']} generator wrote nothing to {partial}")
            write_json(partial / DATASET_STAMP, {
                "kind": spec["kind"], "hash": h, "params": params,
                "wall_s": time.perf_counter() - t0,
                "manifest": manifest(partial, DATASET_STAMP),
                "digests": digests(partial, DATASET_STAMP)})
            replace_dir(partial, final)
    if store:
        replace_dir(final, run_dir / "dataset", link=True)
    return final, h

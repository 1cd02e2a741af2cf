"""File layout of the Narratives DataLad dataset (``///labs/hasson/narratives``).

Only the files this project reads are described: the AFNI-smooth ``desc-clean`` BOLD
derivatives in MNI space, the per-task brain masks, the BIDS ``events.tsv``, the Gentle
alignments and ``code/scan_exclude.json``.  The same functions serve the loaders, the
downloader and the writer of synthetic datasets, so the three cannot drift apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = [
    "TASKS",
    "TR",
    "bold_path",
    "check_task",
    "dataset_name",
    "events_path",
    "exclude_path",
    "find_scans",
    "gentle_dir",
    "is_excluded",
    "mask_path",
    "read_scan_exclude",
    "select_scans",
]

#: Repetition time of every Narratives task, in seconds.
TR = 1.5

#: Tasks this project knows.  ``shapessocial`` is the default "Shapes" of the paper
#: (its 910 words match); ``shapesphysical`` has the paper's 270 volumes.
TASKS = ("pieman", "shapessocial", "shapesphysical")

SPACE = "space-MNI152NLin2009cAsym_res-native"
BOLD_SUFFIX = f"{SPACE}_desc-clean_bold.nii.gz"
_SCAN_RE = re.compile(
    r"^(?P<subject>sub-[0-9A-Za-z]+)_task-(?P<task>[0-9A-Za-z]+)"
    r"(?:_run-(?P<run>\d+))?_" + re.escape(BOLD_SUFFIX) + "$"
)


def dataset_name(root: Path) -> str:
    """The ``Name`` of the dataset's ``dataset_description.json`` (for figure captions)."""
    path = Path(root) / "dataset_description.json"
    if not path.is_file():
        return f"dataset at {root}"
    try:
        return str(json.loads(path.read_text()).get("Name", f"dataset at {root}"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e}); re-fetch it.") from e


def check_task(task: str) -> str:
    """Return ``task`` if this project knows it, else raise a :class:`DataError`."""
    if task not in TASKS:
        raise DataError(
            f"unknown task {task!r}; known tasks are {', '.join(TASKS)} "
            "(the paper's 'Shapes' is 'shapessocial' by default)"
        )
    return task


def _entities(subject: str, task: str, run: int | None) -> str:
    return f"{subject}_task-{task}" + (f"_run-{run}" if run is not None else "")


def bold_path(root: Path, subject: str, task: str, run: int | None = None) -> Path:
    """Path of one AFNI-smooth ``desc-clean`` BOLD file."""
    name = f"{_entities(subject, task, run)}_{BOLD_SUFFIX}"
    return Path(root) / "derivatives" / "afni-smooth" / subject / "func" / name


def mask_path(root: Path, task: str) -> Path:
    """Path of the brain mask on the task's BOLD grid (the ``res-`` entity holds the task)."""
    tpl = "tpl-MNI152NLin2009cAsym"
    return (
        Path(root) / "derivatives" / "afni-smooth" / tpl
        / f"{tpl}_res-{task}_desc-brain_mask.nii.gz"
    )


def events_path(root: Path, subject: str, task: str, run: int | None = None) -> Path:
    """Path of the raw BIDS ``events.tsv`` of one scan."""
    return Path(root) / subject / "func" / f"{_entities(subject, task, run)}_events.tsv"


def gentle_dir(root: Path, task: str) -> Path:
    """Folder with the Gentle alignment of a story (``align.json``, ``align.csv``)."""
    return Path(root) / "stimuli" / "gentle" / task


def exclude_path(root: Path) -> Path:
    """Path of ``code/scan_exclude.json``."""
    return Path(root) / "code" / "scan_exclude.json"


def read_scan_exclude(root: Path, task: str) -> list[str]:
    """Scan stems excluded for ``task`` (e.g. ``sub-013_task-pieman_run-2``).

    The file maps task -> subject -> list of stems.  A missing file is an error: running
    without the curated exclusions silently would change the subject count.
    """
    path = exclude_path(root)
    if not path.is_file():
        raise DataError(
            f"{path} is missing. It is tracked in git in the DataLad dataset; fetch it with "
            "`python -m anbn_utils.narratives.download` or pass exclude=False to use every scan."
        )
    try:
        table = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e}); re-fetch it.") from e
    return [stem for stems in table.get(task, {}).values() for stem in stems]


def is_excluded(basename: str, stems: list[str]) -> bool:
    """Whether a file is excluded by one of ``stems``.

    Unlike the dataset's own substring test, a stem must end at an entity boundary
    (``_`` or ``.``), so ``sub-021_task-pieman`` does not exclude ``task-piemanpni`` files.
    """
    return any(
        basename.startswith(stem) and basename[len(stem):len(stem) + 1] in ("_", ".")
        for stem in stems
    )


def find_scans(root: Path, task: str) -> pd.DataFrame:
    """Every AFNI-smooth BOLD file of ``task`` under ``root``, before exclusions.

    Returns
    -------
    pandas.DataFrame
        One row per scan, sorted, with columns ``subject``, ``run`` (``<NA>`` when the
        file has no run entity), ``bold_path``, ``events_path``.
    """
    check_task(task)
    root = Path(root)
    deriv = root / "derivatives" / "afni-smooth"
    if not deriv.is_dir():
        raise DataError(
            f"{deriv} does not exist: {root} is not a Narratives dataset root with the "
            "AFNI-smooth derivatives. Fetch them with `python -m anbn_utils.narratives.download "
            f"--root {root}` or pass the right dataset_root."
        )
    rows = []
    for path in sorted(deriv.glob(f"sub-*/func/sub-*_task-{task}_*{BOLD_SUFFIX}")):
        m = _SCAN_RE.match(path.name)
        if m is None or m["task"] != task:
            continue
        run = int(m["run"]) if m["run"] else None
        rows.append({
            "subject": m["subject"],
            "run": run,
            "bold_path": str(path),
            "events_path": str(events_path(root, m["subject"], task, run)),
        })
    if not rows:
        raise DataError(
            f"no BOLD files of task {task!r} under {deriv} (expected names like "
            f"{bold_path(root, 'sub-001', task).name}). Fetch them with "
            "`python -m anbn_utils.narratives.download`."
        )
    table = pd.DataFrame(rows)
    table["run"] = table["run"].astype("Int64")
    return table


def select_scans(
    root: Path,
    task: str,
    *,
    exclude: bool = True,
    n_subjects: int | None = None,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """One scan per subject of ``task``, after the dataset's exclusions.

    A subject's scan is its first run (``run-1``, or the file without a run entity).
    If that scan is listed in ``scan_exclude.json`` the subject is left out: for Pie Man
    this keeps 75 of 82 subjects, as the paper.

    Parameters
    ----------
    root : path
        Dataset root.
    task : str
        Task name, one of :data:`TASKS`.
    exclude : bool
        Apply ``code/scan_exclude.json``.
    n_subjects : int or None
        Keep a random subset of this many subjects (drawn with ``random_state``,
        returned in subject order); None keeps all.
    random_state : int or None
        Seed of the subset draw.

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``run``, ``bold_path``, ``events_path``, one row per subject.
    """
    scans = find_scans(root, task)
    first = scans.sort_values(["subject", "run"], na_position="first").groupby("subject").head(1)
    if exclude:
        stems = read_scan_exclude(root, task)
        keep = [not is_excluded(Path(p).name, stems) for p in first["bold_path"]]
        first = first[keep]
    first = first.reset_index(drop=True)
    if n_subjects is not None:
        if not 0 < n_subjects <= len(first):
            raise DataError(
                f"n_subjects={n_subjects} but task {task!r} has {len(first)} usable subjects "
                f"under {root}; choose 1..{len(first)} or None for all."
            )
        rng = np.random.default_rng(random_state)
        idx = np.sort(rng.choice(len(first), size=n_subjects, replace=False))
        first = first.iloc[idx].reset_index(drop=True)
    return first

"""File layout of the Narratives DataLad dataset (``///labs/hasson/narratives``).

Only the files this project reads are described: the AFNI-smooth ``desc-clean`` BOLD
derivatives in MNI space, the per-task brain masks, the BIDS ``events.tsv``, the Gentle
alignments and ``code/scan_exclude.json``.  The same functions serve the loaders, the
downloader and the writer of synthetic datasets, so the three cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..choices import TASKS
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
    "input_files",
    "is_excluded",
    "mask_path",
    "read_scan_exclude",
    "select_scans",
]

#: Repetition time of every Narratives task, in seconds.
TR = 1.5


SPACE = "space-MNI152NLin2009cAsym_res-native"
BOLD_SUFFIX = f"{SPACE}_desc-clean_bold.nii.gz"


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
    by_subject = table.get(task, {})
    unknown = [s for s in by_subject if not os.path.lexists(Path(root) / s)]
    if unknown:
        raise DataError(f"{path} excludes scans of {', '.join(unknown)} in {task!r}, but "
                        f"{root} has no such subject folder: the exclusion file does not "
                        "belong to this dataset. Re-fetch code/scan_exclude.json with the "
                        "dataset, or point dataset_root at the dataset it comes from.")
    return [stem for stems in by_subject.values() for stem in stems]


def is_excluded(basename: str, stems: list[str]) -> bool:
    """Whether a file is excluded by one of ``stems``.

    Unlike the dataset's own substring test, a stem must end at an entity boundary
    (``_`` or ``.``), so ``sub-021_task-pieman`` does not exclude ``task-piemanpni`` files.
    """
    return any(
        basename.startswith(stem) and basename[len(stem):len(stem) + 1] in ("_", ".")
        for stem in stems
    )


def _scan_entities(name: str, suffix: str) -> tuple[str, str, int | None] | None:
    """(subject, task, run) of a file named ``sub-X_task-Y[_run-N]_<suffix>``, else None."""
    m = re.match(r"^(sub-[0-9A-Za-z]+)_task-([0-9A-Za-z]+)(?:_run-(\d+))?_" + re.escape(suffix)
                 + "$", name)
    return (m[1], m[2], int(m[3]) if m[3] else None) if m else None


def find_scans(root: Path, task: str) -> pd.DataFrame:
    """Every scan of ``task`` in the dataset, before exclusions.

    A scan is known from its raw BIDS ``events.tsv`` (tracked in git, so present in every
    clone) or its AFNI-smooth BOLD file; ``bold_present`` says whether the BOLD file is
    there with its content (a DataLad file not yet fetched is a broken symlink: absent).

    Returns
    -------
    pandas.DataFrame
        One row per scan, sorted, with columns ``subject``, ``run`` (``<NA>`` when the
        file has no run entity), ``bold_path``, ``events_path``, ``bold_present``.
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
    found = set()
    for path in deriv.glob(f"sub-*/func/sub-*_task-{task}_*{BOLD_SUFFIX}"):
        found.add(_scan_entities(path.name, BOLD_SUFFIX))
    for path in root.glob(f"sub-*/func/sub-*_task-{task}_*events.tsv"):
        found.add(_scan_entities(path.name, "events.tsv"))
    rows = [{"subject": sub, "run": run,
             "bold_path": str(bold_path(root, sub, task, run)),
             "events_path": str(events_path(root, sub, task, run)),
             "bold_present": bold_path(root, sub, task, run).is_file()}
            for sub, t, run in found - {None} if t == task]
    if not rows:
        raise DataError(
            f"no scans of task {task!r} under {root} (expected BOLD files like "
            f"{bold_path(root, 'sub-001', task).relative_to(root)} and their events.tsv). "
            "Fetch them with `python -m anbn_utils.narratives.download`."
        )
    table = pd.DataFrame(rows)
    table["run"] = table["run"].astype("Int64")
    return table.sort_values(["subject", "run"], na_position="first").reset_index(drop=True)


def select_scans(
    root: Path,
    task: str,
    *,
    exclude: bool = True,
    subjects: Sequence[str] | None = None,
    n_subjects: int | None = None,
    random_state: int | None = 0,
    require_bold: bool = True,
) -> pd.DataFrame:
    """One scan per subject of ``task``, after the dataset's exclusions.

    A subject's scan is its first run (``run-1``, or the file without a run entity).
    If that scan is listed in ``scan_exclude.json`` the subject is left out: for Pie Man
    this keeps 75 of 82 subjects, as the paper.  A kept scan whose BOLD file is absent is
    an error (a subject silently dropped would change every result): fetch it, or name
    the subjects to use with ``subjects``.

    Parameters
    ----------
    root : path
        Dataset root.
    task : str
        Task name, one of :data:`TASKS`.
    exclude : bool
        Apply ``code/scan_exclude.json``.
    subjects : sequence of str or None
        Use only these subjects (e.g. ``["sub-002", "sub-003"]``); None: all of the task's.
    n_subjects : int or None
        Keep a random subset of this many subjects (drawn with ``random_state``,
        returned in subject order); None keeps all.
    random_state : int or None
        Seed of the subset draw.
    require_bold : bool
        Raise when a kept scan's BOLD file is absent (the default); ``False`` keeps such
        scans with ``bold_present`` False instead (for checks that list every problem).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``run``, ``bold_path``, ``events_path``, one row per subject.
    """
    scans = find_scans(root, task)
    if subjects is not None:
        unknown = sorted(set(subjects) - set(scans["subject"]))
        if unknown:
            raise DataError(f"subjects {unknown} have no scan of task {task!r} under {root}; "
                            f"its subjects are {', '.join(scans['subject'].unique())}")
        scans = scans[scans["subject"].isin(subjects)]
    first = scans.groupby("subject").head(1)
    if exclude:
        stems = read_scan_exclude(root, task)
        keep = [not is_excluded(Path(p).name, stems) for p in first["bold_path"]]
        asked = sorted(set(first.loc[[not k for k in keep], "subject"]) & set(subjects or ()))
        if asked:
            raise DataError(f"subjects {asked} are asked for by name, but scan_exclude.json "
                            f"excludes their {task!r} scan: leave them out of `subjects`, or "
                            "set exclude=False to use every scan")
        first = first[keep]
    first = first.reset_index(drop=True)
    absent = first.loc[~first["bold_present"], "bold_path"].tolist()
    if absent and require_bold:
        raise DataError(
            f"{len(absent)} scan(s) of task {task!r} that the dataset lists (events.tsv) and "
            f"{'scan_exclude.json does not exclude' if exclude else 'are not excluded'} have "
            f"no BOLD file: {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}. "
            "Fetch them (`python -m anbn_utils.narratives.download`, or `datalad get` on "
            "each), or name the subjects to use with the `subjects` parameter."
        )
    if require_bold:
        first = first.drop(columns="bold_present")
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


def input_files(root: Path, tasks: Sequence[str]) -> list[Path]:
    """Every file the data stage may read for ``tasks`` (present or not): the dataset
    description, ``code/scan_exclude.json``, and per task the brain mask, the Gentle
    alignments and each scan's ``events.tsv`` and BOLD file (all runs, all subjects)."""
    root = Path(root)
    files = [root / "dataset_description.json", exclude_path(root)]
    for task in tasks:
        files += [mask_path(root, task), gentle_dir(root, task) / "align.json",
                  gentle_dir(root, task) / "align.csv"]
        try:
            scans = find_scans(root, task)
        except DataError:  # no dataset there: what is missing is reported by the checks
            continue
        files += [Path(p) for p in scans["events_path"]] + [Path(p) for p in scans["bold_path"]]
    return files

"""Fetch exactly the Narratives files this project reads, with DataLad.

The AFNI-smooth derivatives, the brain masks and the Gentle alignments exist only in
the DataLad superdataset ``///labs/hasson/narratives`` (not on OpenNeuro).  This module
clones it without content, installs the needed subdatasets and ``datalad get``\\ s the
files of the chosen tasks.

Command line::

    python -m anbn_utils.narratives.download --root ~/anbn_data/narratives \\
        --task pieman --task shapessocial [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..config import get_data_root
from ..errors import DataError
from .layout import BOLD_SUFFIX, TASKS, check_task

__all__ = ["DATASET_URL", "download", "download_patterns"]

DATASET_URL = "https://datasets.datalad.org/labs/hasson/narratives"
SUBDATASETS = ("derivatives/afni-smooth", "stimuli", "stimuli/gentle")


def download_patterns(tasks: Sequence[str]) -> list[str]:
    """Relative paths or globs (as ``datalad get`` takes them) for ``tasks``.

    The BOLD glob is ``*_task-<task>_*space-...`` so that ``_run-N`` files match and
    ``task-piemanpni`` files do not.
    """
    patterns = ["code/scan_exclude.json"]
    for task in tasks:
        check_task(task)
        patterns += [
            f"derivatives/afni-smooth/sub-*/func/sub-*_task-{task}_*{BOLD_SUFFIX}",
            ("derivatives/afni-smooth/tpl-MNI152NLin2009cAsym/"
             f"tpl-MNI152NLin2009cAsym_res-{task}_desc-brain_mask.nii.gz"),
            f"sub-*/func/sub-*_task-{task}_*events.tsv",
            f"stimuli/gentle/{task}/align.json",
            f"stimuli/gentle/{task}/align.csv",
            f"stimuli/gentle/{task}/transcript.txt",
        ]
    return patterns


def _require_tools() -> str:
    datalad = shutil.which("datalad")
    missing = [name for name, path in (("datalad", datalad), ("git-annex", shutil.which("git-annex")))
               if path is None]
    if missing:
        raise DataError(
            f"{' and '.join(missing)} not found on PATH. Install them with "
            "`pip install datalad` and your system's git-annex (`apt-get install git-annex`, "
            "`conda install -c conda-forge git-annex`), or use environment.yml."
        )
    return datalad


def _expand(root: Path, patterns: Sequence[str]) -> list[str]:
    # Annexed files are symlinks before their content is fetched: glob sees them.
    return sorted({str(p.relative_to(root)) for pat in patterns for p in root.glob(pat)})


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True)
    except subprocess.CalledProcessError as e:
        raise DataError(
            f"`{' '.join(cmd)}` failed with exit code {e.returncode}. Is the network reachable "
            f"({DATASET_URL})? Partial downloads are kept; re-run to resume."
        ) from e


def download(
    root: str | os.PathLike | None = None,
    tasks: Sequence[str] = ("pieman", "shapessocial"),
    *,
    dry_run: bool = False,
    jobs: int = 4,
) -> list[str]:
    """Clone the dataset (if needed) and fetch the files of ``tasks``.

    Parameters
    ----------
    root : path, optional
        Target folder; argument > ``$ANBN_DATA`` > ``~/anbn_data/narratives``.
    tasks : sequence of str
        Tasks to fetch.
    dry_run : bool
        Only return (and print) what would be fetched; runs nothing.
    jobs : int
        Parallel transfers of ``datalad get``.

    Returns
    -------
    list of str
        The relative paths or globs fetched.  Already present files are skipped by
        DataLad, so an interrupted download resumes.
    """
    root = get_data_root(root)
    patterns = download_patterns(tasks)
    if dry_run:
        # With a clone in place, list the matching files; before it, the patterns.
        return _expand(root, patterns) if (root / ".datalad").is_dir() else patterns
    datalad = _require_tools()
    if not (root / ".datalad").is_dir():
        if root.exists() and any(root.iterdir()):
            raise DataError(
                f"{root} exists, is not empty and is not a DataLad dataset; choose an empty "
                "or new folder for the download."
            )
        root.parent.mkdir(parents=True, exist_ok=True)
        _run([datalad, "clone", DATASET_URL, str(root)])
    for sub in SUBDATASETS:
        _run([datalad, "get", "-n", sub], cwd=root)
    paths = _expand(root, patterns)
    if not paths:
        raise DataError(f"no file of tasks {list(tasks)} found in the clone at {root}")
    _run([datalad, "get", "-J", str(jobs), *paths], cwd=root)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help="target folder (default: $ANBN_DATA)")
    parser.add_argument("--task", action="append", choices=TASKS, dest="tasks",
                        help="task to fetch (repeat); default pieman and shapessocial")
    parser.add_argument("--dry-run", action="store_true", help="list what would be fetched")
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args(argv)
    tasks = args.tasks or ["pieman", "shapessocial"]
    try:
        for p in download(args.root, tasks, dry_run=args.dry_run, jobs=args.jobs):
            print(p)
    except DataError as e:
        parser.exit(2, f"error: {e}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

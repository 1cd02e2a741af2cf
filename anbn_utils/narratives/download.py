"""Fetch exactly the Narratives files a run reads, with DataLad.

The AFNI-smooth derivatives, the brain masks and the Gentle alignments exist only in
the DataLad superdataset ``///labs/hasson/narratives`` (not on OpenNeuro).  This module
clones it without content (or reuses a clone), installs the subdatasets that hold those
files (again without content) and ``datalad get``\\ s, per task, the files the data stage
reads: the brain mask, the Gentle ``align.json`` and ``align.csv``, and for each subject
kept the ``events.tsv`` and the AFNI-smooth BOLD of the scan it uses (its first run, as
:func:`~anbn_utils.narratives.layout.select_scans`), leaving out the scans listed in
``code/scan_exclude.json``.  Nothing else is fetched: no second runs, no other tasks,
no raw BOLD, no audio.

Command line::

    python -m anbn_utils.narratives.download --root ~/anbn_data/narratives \\
        --task pieman --task shapessocial [--subject sub-002 ...] [--no-exclude] [--dry-run]

It needs the ``datalad`` Python package (``pip install -e '.[download]'``) and
``git-annex`` (``apt-get install git-annex``, or conda-forge's ``git-annex``), and a git
identity (``git config --global user.name/user.email``): git-annex records in the clone
where each file's content is.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import get_data_root
from ..errors import DataError
from .layout import (
    TASKS,
    check_task,
    exclude_path,
    find_scans,
    gentle_dir,
    is_excluded,
    mask_path,
    read_scan_exclude,
)

__all__ = ["DATASET_URL", "DEFAULT_TASKS", "SUBDATASETS", "download", "needed_files"]

DATASET_URL = "https://datasets.datalad.org/labs/hasson/narratives"
#: Subdatasets that hold the files read here, installed without content before the get
#: (with every dataset above them); one that is a plain folder of its parent is left as is.
SUBDATASETS = ("derivatives/afni-smooth", "stimuli", "stimuli/gentle")
DEFAULT_TASKS = ("pieman", "shapessocial")

_INSTALL_DATALAD = (
    "install it in this environment with `pip install -c requirements/constraints.txt "
    "-e '.[download]'` (the Makefile's venv does this) or use environment.yml"
)
_INSTALL_ANNEX = (
    "install it with `apt-get install git-annex` (Debian/Ubuntu; `.ci/run` does this), "
    "`conda install -c conda-forge git-annex` (environment.yml) or `brew install git-annex`"
)


def needed_files(
    root: str | os.PathLike,
    tasks: Sequence[str] = DEFAULT_TASKS,
    *,
    subjects: Mapping[str, Sequence[str]] | None = None,
    exclude: bool = True,
) -> pd.DataFrame:
    """The files of a clone that the data stage reads for ``tasks``, present or not.

    Scans are known from the raw ``events.tsv`` files (in git, so listed in any clone);
    a subject's scan is its first run (see
    :func:`~anbn_utils.narratives.layout.select_scans`).

    Parameters
    ----------
    root : path
        A clone of the dataset (subdatasets installed).
    tasks : sequence of str
        Tasks, from :data:`~anbn_utils.narratives.layout.TASKS`.
    subjects : mapping of str to sequence of str, optional
        Task -> the subjects to use (as the profiles' ``subjects``); a task not in it
        uses all its subjects.
    exclude : bool
        Leave out the scans listed in ``code/scan_exclude.json``.

    Returns
    -------
    pandas.DataFrame
        One row per file, with columns ``path`` (relative to ``root``, str), ``task``
        (None for ``scan_exclude.json``), ``subject`` (None for the task's own files)
        and ``excluded`` (bool: a subject's scan listed in ``scan_exclude.json``, not to
        be fetched; always False when ``exclude`` is False).
    """
    root = Path(root)
    subjects = dict(subjects or {})
    for task, chosen in subjects.items():
        if isinstance(chosen, str):
            raise DataError(f"subjects[{task!r}] must be a list of subjects, not the string "
                            f"{chosen!r}: write [{chosen!r}]")
    unknown_tasks = sorted(set(subjects) - set(tasks))
    if unknown_tasks:
        raise DataError(f"subjects are given for {unknown_tasks}, which are not among the "
                        f"tasks {list(tasks)}; add them to the tasks or drop them")
    rows: list[dict[str, Any]] = []

    def add(path: Path, task: str | None, subject: str | None = None,
            excluded: bool = False) -> None:
        rows.append({"path": str(path.relative_to(root)), "task": task, "subject": subject,
                     "excluded": excluded})

    if exclude:
        add(exclude_path(root), None)
    for task in tasks:
        check_task(task)
        add(mask_path(root, task), task)
        add(gentle_dir(root, task) / "align.json", task)
        add(gentle_dir(root, task) / "align.csv", task)
        scans = find_scans(root, task)
        if task in subjects:
            wanted = list(subjects[task])
            missing = sorted(set(wanted) - set(scans["subject"]))
            if missing:
                raise DataError(
                    f"subjects {missing} have no scan of task {task!r} in {root} (no "
                    f"events.tsv); its subjects are {', '.join(scans['subject'].unique())}"
                )
            scans = scans[scans["subject"].isin(wanted)]
        stems = read_scan_exclude(root, task) if exclude else []
        for scan in scans.groupby("subject").head(1).itertuples():
            excluded = is_excluded(Path(scan.bold_path).name, stems)
            add(Path(scan.events_path), task, scan.subject, excluded)
            add(Path(scan.bold_path), task, scan.subject, excluded)
    table = pd.DataFrame(rows, columns=["path", "task", "subject", "excluded"])
    return table.drop_duplicates("path").reset_index(drop=True)


# --- DataLad -------------------------------------------------------------------------


@contextlib.contextmanager
def _datalad() -> Iterator[Any]:
    """``datalad.api``, with the tools it needs checked and found.

    git-annex runs helper programs of the datalad package (special remotes such as
    ``git-annex-remote-datalad``) from PATH: the folder of this Python's scripts is put
    first on PATH for the duration, so that a virtual environment works without being
    activated.
    """
    try:
        import datalad.api as dl
    except ImportError as e:
        raise DataError(f"the Python package datalad is missing from {sys.prefix}: "
                        f"{_INSTALL_DATALAD}") from e
    scripts = str(Path(sys.executable).parent)
    old = os.environ.get("PATH", "")
    if scripts not in old.split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + old
    try:
        if shutil.which("git") is None:
            raise DataError(f"git is not on PATH ({old}): install git")
        if shutil.which("git-annex") is None:
            raise DataError(f"git-annex is not on PATH ({old}); DataLad needs it to fetch "
                            f"the annexed files: {_INSTALL_ANNEX}")
        for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            if subprocess.run(["git", "var", who], capture_output=True, check=False).returncode:
                raise DataError(
                    "git has no user identity, which git-annex needs to record in the clone "
                    "where each file's content is (nothing is pushed anywhere): run "
                    "`git config --global user.name \"Your Name\"` and `git config --global "
                    "user.email you@example.org`, or set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, "
                    "GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL"
                )
        yield dl
    finally:
        os.environ["PATH"] = old


def _message(res: dict[str, Any]) -> str:
    """A DataLad result's message as text (it may be a ``(format, *args)`` tuple)."""
    msg = res.get("error_message") or res.get("message") or res.get("status", "")
    if isinstance(msg, tuple):
        try:
            msg = msg[0] % msg[1:]
        except (TypeError, ValueError):
            msg = " ".join(map(str, msg))
    if isinstance(msg, list):
        msg = "; ".join(map(str, msg))
    return " ".join(str(msg).split())


def _call(method, **kwargs) -> list[dict[str, Any]]:
    """Run a DataLad command and return its result records (failures included)."""
    return method(result_renderer="disabled", on_failure="ignore", return_type="list",
                  result_xfm=None, **kwargs)


def _failed(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if r.get("status") in ("error", "impossible")]


def _is_dataset(root: Path) -> bool:
    return (root / ".datalad").is_dir() and (root / ".git").exists()


def _check_source(source: str) -> None:
    """A local ``source`` must be a DataLad dataset (git told a plain folder "does not
    exist", and a plain git repository was cloned and then left behind)."""
    path = Path(source).expanduser()
    if not path.exists():
        return  # a URL (or an unreachable path: the clone names it)
    use_it = (f"if {path} holds the Narratives files, do not download: point the run at it "
              f"(dataset_root or $ANBN_DATA); to download, pass the dataset's URL "
              f"({DATASET_URL}) or a DataLad clone of it as source")
    if not (path / ".git").exists():
        raise DataError(f"source {path} is a plain folder, not a DataLad dataset (no .git/): "
                        + use_it)
    if not (path / ".datalad").is_dir():
        raise DataError(f"source {path} is a git repository but not a DataLad dataset (no "
                        ".datalad/): " + use_it)


def _remove(root: Path) -> None:
    """Remove a clone (git-annex makes its objects read-only)."""
    def writable(func, path, _):
        os.chmod(Path(path).parent, 0o755)
        os.chmod(path, 0o755)
        func(path)
    shutil.rmtree(root, onerror=writable)


def _clone_or_reuse(dl, root: Path, source: str):
    """The dataset at ``root``, cloned from ``source`` if it is not there yet."""
    if _is_dataset(root):
        return dl.Dataset(str(root))
    _check_source(source)
    if root.exists() and not root.is_dir():
        raise DataError(f"{root} is a file, not a folder: pass a new or empty folder as root")
    if root.is_dir() and any(root.iterdir()):
        raise DataError(
            f"{root} is a plain folder, not a DataLad dataset (it has no .datalad/), and it "
            "is not empty, so the dataset cannot be cloned there. Pass a new or empty folder "
            f"as root to clone {source} into it; or, if {root} already holds the Narratives "
            "files, skip the download and point the run at it (dataset_root or $ANBN_DATA)."
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    failed = _failed(_call(dl.clone, source=source, path=str(root)))
    if failed:
        raise DataError(f"cloning {source} into {root} failed ({_message(failed[0])}). "
                        "Check the source URL or path and that this machine reaches it; "
                        "then run the same command again.")
    return dl.Dataset(str(root))


def _install_subdatasets(ds, root: Path) -> None:
    failed = _failed(_call(ds.get, path=[str(root / sub) for sub in SUBDATASETS],
                           get_data=False))
    if failed:
        which = ", ".join(f"{r['path']} ({_message(r)})" for r in failed)
        raise DataError(
            f"{root} is a DataLad dataset, but its subdataset(s) {which} could not be "
            f"installed. If it is a clone of {DATASET_URL}, check that this machine reaches "
            "the network and run the same command again; if it is another dataset, pass a "
            "new or empty folder as root."
        )


def _availability(ds, root: Path, paths: Sequence[str]) -> pd.DataFrame:
    """Per path: ``annexed``, ``size`` (bytes) and ``present`` (content here)."""
    results = _call(ds.status, path=[str(root / p) for p in paths], annex="availability")
    by_path = {str(Path(r["path"]).relative_to(root)): r for r in results
               if r.get("status") == "ok" and r.get("type") == "file"}
    absent = [p for p in paths if p not in by_path]
    if absent:
        raise DataError(
            f"{len(absent)} file(s) that the chosen scans need are not in the dataset at "
            f"{root}: {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}. Is the "
            "clone complete and up to date (`datalad update --how merge -r` in it)? Leave "
            "those subjects out with --subject, or those tasks out with --task."
        )
    rows = []
    for p in paths:
        r = by_path[p]
        annexed = "key" in r
        rows.append({"annexed": annexed, "size": r.get("bytesize"),
                     "present": bool(r.get("has_content")) if annexed else True})
    out = pd.DataFrame(rows, columns=["annexed", "size", "present"])
    out["size"] = out["size"].astype("Int64")
    return out


def download(
    root: str | os.PathLike | None = None,
    tasks: Sequence[str] = DEFAULT_TASKS,
    *,
    subjects: Mapping[str, Sequence[str]] | None = None,
    exclude: bool = True,
    source: str = DATASET_URL,
    dry_run: bool = False,
    jobs: int = 4,
) -> pd.DataFrame:
    """Clone the dataset (if needed) and fetch the files the data stage reads for ``tasks``.

    Parameters
    ----------
    root : path, optional
        The clone: argument > ``$ANBN_DATA`` > ``~/anbn_data/narratives``.  An existing
        DataLad dataset there is reused; otherwise it must be new or empty.
    tasks : sequence of str
        Tasks to fetch.
    subjects : mapping of str to sequence of str, optional
        Task -> the subjects to fetch (as the profiles' ``subjects``); default: all.
    exclude : bool
        Skip the scans listed in ``code/scan_exclude.json`` (as the runs do by default).
    source : str
        Where to clone from: the dataset's URL, or a path to a copy (used only when
        ``root`` holds no clone yet).
    dry_run : bool
        Clone and install the subdatasets (git metadata only), then list what would be
        fetched, without fetching any file content.
    jobs : int
        Parallel transfers of ``datalad get``.

    Returns
    -------
    pandas.DataFrame
        One row per file considered, with the columns of :func:`needed_files` and
        ``annexed`` (bool), ``size`` (bytes), ``status``: ``'present'`` (content already
        here, or the file is in git), ``'fetched'`` (by this call), ``'to fetch'`` (dry
        run) or ``'excluded'`` (listed in ``scan_exclude.json``; not fetched).

    Raises
    ------
    DataError
        If a tool is missing, ``root`` cannot hold the clone, or some file's content is
        still absent after the get (the message names each one; what was fetched is
        kept, so running again resumes).
    """
    tasks = [check_task(t) for t in ([tasks] if isinstance(tasks, str) else tasks)]
    root = get_data_root(root).absolute()
    if jobs < 1:
        raise DataError(f"jobs must be >= 1, not {jobs}")
    with _datalad() as dl:
        made = not _is_dataset(root)  # this call clones: a failure below removes the clone
        ds = _clone_or_reuse(dl, root, str(source))
        try:
            _install_subdatasets(ds, root)
        except DataError as e:
            if not made:
                raise
            _remove(root)
            raise DataError(f"{e} (the clone this call made at {root} was removed: the same "
                            "command can run again)") from None
        if exclude and not exclude_path(root).is_file():  # in git in the real dataset
            _call(ds.get, path=[str(exclude_path(root))])
        files = needed_files(root, tasks, subjects=subjects, exclude=exclude)
        files = pd.concat([files, _availability(ds, root, list(files["path"]))], axis=1)
        files["status"] = "present"
        files.loc[~files["present"], "status"] = "to fetch"
        files.loc[files["excluded"], "status"] = "excluded"
        todo = files["status"] == "to fetch"
        if dry_run or not todo.any():
            return files.drop(columns="present")
        results = _call(ds.get, path=[str(root / p) for p in files.loc[todo, "path"]],
                        jobs=jobs)
    errors = {str(Path(r["path"]).relative_to(root)): _message(r) for r in _failed(results)
              if str(r.get("path", "")).startswith(str(root))}
    got = files["path"].map(lambda p: (root / p).is_file())  # a broken symlink: absent
    still = todo & ~got
    files.loc[todo & got, "status"] = "fetched"
    if still.any():
        lost = files.loc[still, "path"].tolist()
        raise DataError(
            f"{len(lost)} of {int(todo.sum())} file(s) could not be fetched; their content is "
            "absent (broken symlinks): "
            + "; ".join(f"{root / p} ({errors.get(p, 'no content after the get')})"
                        for p in lost[:5]) + (" ..." if len(lost) > 5 else "")
            + f". The {int((todo & got).sum())} other file(s) were fetched and are kept: run "
            "the same command again to resume. If a file keeps failing, `git annex whereis "
            "<file>` in its dataset shows where its content should come from."
        )
    return files.drop(columns="present")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # unreachable


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None,
                        help="the clone (default: $ANBN_DATA, else ~/anbn_data/narratives)")
    parser.add_argument("--source", default=DATASET_URL,
                        help=f"where to clone from (default: {DATASET_URL})")
    parser.add_argument("--task", action="append", choices=TASKS, dest="tasks",
                        help=f"task to fetch (repeat); default {' and '.join(DEFAULT_TASKS)}")
    parser.add_argument("--subject", action="append", dest="subjects",
                        help="fetch only this subject (repeat), in every --task; "
                             "default: all subjects")
    parser.add_argument("--no-exclude", dest="exclude", action="store_false",
                        help="also fetch the scans listed in code/scan_exclude.json")
    parser.add_argument("--dry-run", action="store_true",
                        help="clone, then list what would be fetched, without fetching")
    parser.add_argument("--jobs", type=int, default=4, help="parallel transfers")
    args = parser.parse_args(argv)
    tasks = args.tasks or list(DEFAULT_TASKS)
    subjects = {t: args.subjects for t in tasks} if args.subjects else None
    try:
        files = download(args.root, tasks, subjects=subjects, exclude=args.exclude,
                         source=args.source, dry_run=args.dry_run, jobs=args.jobs)
    except DataError as e:
        parser.exit(2, f"error: {e}\n")
    for row in files.itertuples():
        size = "" if pd.isna(row.size) else _size(row.size)
        print(f"{row.status:<9} {size:>9}  {row.path}")
    counts = files["status"].value_counts()
    volume = {s: files.loc[files["status"] == s, "size"].sum() for s in counts.index}
    print("; ".join(f"{counts[s]} {s} ({_size(volume[s])})"
                    for s in ("fetched", "to fetch", "present", "excluded") if s in counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

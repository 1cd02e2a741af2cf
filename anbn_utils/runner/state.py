"""What a run directory says about its stages: stamps, output manifests, replacement.

A finished stage's folder holds ``stage.json``: the hash of everything it depends on, the
parameters it ran with, versions, wall time, and the *manifest* of the files it wrote
(size and modification time of each) and their content digests.  A stage is up to date when
both the hash and the manifest match, so files rewritten outside the runner (``papermill -p
run_dir <this run>``, an edit by hand) make it run again instead of being reported as up to
date; with ``verify`` (``--verify``) the digests must match too, which finds damage that
keeps a file's size and time.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..io import read_json
from .lock import hold

__all__ = ["STAMP", "changed_inputs", "digests", "manifest", "prune_store", "replace_dir",
           "stage_status", "verify_digests"]

STAMP = "stage.json"


def _files(folder: str | os.PathLike, stamp: str) -> dict[str, Path]:
    """``{relative path: path}`` of every file under ``folder`` but its stamp (``stamp``,
    relative to ``folder``), sorted."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): path for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder) != Path(stamp)}


def manifest(folder: str | os.PathLike, stamp: str = STAMP) -> dict[str, list[int]]:
    """``{relative path: [size, mtime_ns]}`` of every file under ``folder`` but its stamp
    (``stamp``, relative to ``folder``)."""
    return {name: [(st := path.stat()).st_size, st.st_mtime_ns]
            for name, path in _files(folder, stamp).items()}


def digests(folder: str | os.PathLike, stamp: str = STAMP) -> dict[str, str]:
    """``{relative path: BLAKE2b digest}`` of every file under ``folder`` but its stamp."""
    out = {}
    for name, path in _files(folder, stamp).items():
        with open(path, "rb") as f:
            out[name] = hashlib.file_digest(f, "blake2b").hexdigest()
    return out


def verify_digests(folder: Path, recorded: dict[str, Any], stamp: str = STAMP) -> str | None:
    """What differs between the files of ``folder`` and the digests its stamp recorded
    (``recorded["digests"]``); None when they match."""
    if "digests" not in recorded:
        return "its stamp records no content digests (written before they were)"
    now = digests(folder, stamp)
    changed = sorted(p for p in set(now) | set(recorded["digests"])
                     if now.get(p) != recorded["digests"].get(p))
    if changed:
        return (f"the content of {', '.join(changed[:3])}{' ...' if len(changed) > 3 else ''} "
                "differs from what was written")
    return None


def stage_status(final: Path, stage_hash: str, forced: bool,
                 inputs: dict[str, Any] | None = None,
                 verify: bool = False) -> tuple[bool, str]:
    """Whether the stage in ``final`` is up to date for ``stage_hash``, and why not (with
    ``inputs``, what the hash was made of, naming what changed since the stamp; with
    ``verify``, the files' content is compared with the digests the stamp recorded)."""
    stamp = final / STAMP
    if not stamp.is_file():
        return False, "running"
    if forced:
        return False, "re-running (--force)"
    recorded: dict[str, Any] = read_json(stamp)
    if recorded.get("hash") != stage_hash:
        what = changed_inputs(recorded.get("inputs"), inputs) if inputs else []
        return False, ((f"{'; '.join(what)} changed" if what else "inputs or parameters changed")
                       + ", re-running (the previous results stay until it succeeds)")
    if recorded.get("manifest") != manifest(final):
        return False, ("its files were changed outside the runner (e.g. by `papermill -p "
                       "run_dir` into this run), re-running")
    if verify and (damage := verify_digests(final, recorded)):
        return False, f"{damage} (--verify), re-running"
    return True, "up to date" + (" (verified)" if verify else "")


def replace_dir(new: Path, final: Path, *, link: bool = False) -> None:
    """Put ``new`` at ``final``: moved there (copied when ``final`` is on another filesystem),
    or with ``link`` a relative symbolic link to it (a stage shared through a store).  The
    previous ``final`` (a folder or a link) is removed only once the new one is in place."""
    trash = final.parent / ".trash" / final.name
    _remove(trash)
    if link:
        tmp = final.parent / f".{final.name}.link"
        _remove(tmp)
        tmp.symlink_to(os.path.relpath(new, final.parent))
        new = tmp
    if final.is_symlink() or final.exists():
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(final, trash)
    _move(new, final)
    _remove(trash)


def _move(src: Path, dst: Path) -> None:
    """``os.replace(src, dst)``; where that would cross filesystems (a store or run folder
    on another mount), a copy beside ``dst`` (file times kept, so a stage's manifest still
    matches; flushed to disk) renamed into place, then ``src`` removed."""
    try:
        os.replace(src, dst)
        return
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    tmp = dst.parent / f".{dst.name}.copy"
    _remove(tmp)
    if src.is_symlink():
        tmp.symlink_to(os.readlink(src))
    elif src.is_dir():
        shutil.copytree(src, tmp, symlinks=True)
    else:
        shutil.copy2(src, tmp)
    for path in [tmp, *tmp.rglob("*")] if tmp.is_dir() and not tmp.is_symlink() else []:
        if path.is_symlink():
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, dst)
    _remove(src)


def changed_inputs(old: dict[str, Any] | None, new: dict[str, Any], limit: int = 6) -> list[str]:
    """What differs between two stages' recorded inputs (:func:`anbn_utils.runner.execute`'s
    ``_stage_inputs``), in words: ``"parameter top_k"``, ``"code of anbn_utils/pos.py"``,
    ``"library nilearn 0.14.1 -> 0.14.2"``, ...; at most ``limit`` items and a count of the
    rest.  A stamp without inputs (an older version) gives ``["the runner's record"]``."""
    if not old:
        return ["the runner's record"]
    out = []
    for key, label in (("notebook", "the notebook"), ("dataset", "the dataset")):
        if old.get(key) != new.get(key):
            out.append(label)
    for group, label in (("params", "parameter {}"), ("needs", "the stage {} it reads"),
                         ("code", "code of anbn_utils/{}"), ("other_runs", "the run {} reads")):
        a, b = old.get(group) or {}, new.get(group) or {}
        out += [label.format(k) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    a, b = old.get("libraries") or {}, new.get("libraries") or {}
    out += [f"library {k} {a.get(k, 'absent')} -> {b.get(k, 'absent')}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return out[:limit] + ([f"{len(out) - limit} more"] if len(out) > limit else [])


def _remove(path: Path) -> None:
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def prune_store(store: str | os.PathLike) -> list[Path]:
    """Remove the entries of a store of shared stages that no run links to any more.

    The runs are the folders beside the store (``runs/<name>/<stage>``) and the variants
    of studies there (``runs/<study>/<variant>/<stage>``).  An entry that a run is
    computing or reusing right now (its lock is held) is kept, and so is one that a run
    linked after the links were first listed (checked again under the entry's lock).
    Returns what was removed.
    """
    store = Path(store)
    root = store.parent
    linked = _linked(root)
    removed = []
    for entry in sorted(store.glob("*/*")):
        if entry.name.startswith(".") or not entry.is_dir() or entry.resolve() in linked:
            continue
        try:
            with hold(entry.parent / f".{entry.name}.lock"):
                # a run may have linked it since the scan above (runs link under this lock)
                if entry.resolve() in _linked(root):
                    continue
                shutil.rmtree(entry)
            removed.append(entry)
        except RunError:  # in use
            continue
    return removed


def _linked(root: Path) -> set[Path]:
    """The targets of the stage links of the runs and study variants under ``root``; a link
    that vanishes or breaks while they are listed is skipped."""
    out = set()
    for path in [*root.glob("*/*"), *root.glob("*/*/*")]:
        try:
            if path.is_symlink():
                out.add(path.resolve())
        except OSError:
            continue
    return out

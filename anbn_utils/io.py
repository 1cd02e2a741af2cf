"""Atomic writes and file fingerprints.

Every artifact of a run is written to a temporary file beside its destination and
renamed into place, so a reader never sees half a file and an interrupted write
leaves the previous version intact.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = [
    "CONTENT_HASH_BELOW",
    "atomic_path",
    "file_fingerprint",
    "hash_json",
    "read_json",
    "read_table",
    "save_array",
    "write_json",
    "write_table",
    "write_text",
]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path that is renamed to ``path`` when the block succeeds.

    The temporary file lives in the destination's folder (same file system, so the
    final :func:`os.replace` is atomic) and keeps the destination's suffixes, so
    writers that infer the format from the name (``.nii.gz``, ``.npy``) work.
    On error the temporary file is removed and ``path`` is untouched.  The file gets the
    permissions a plain ``open()`` would give (``0o666`` less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{''.join(path.suffixes)}"
        try:  # mode 0o666 minus the user's umask, as open() gives (mkstemp's would be 0o600)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        try:
            yield tmp
        except OSError as e:
            if _disk_full(e):
                raise DataError(
                    f"no space left to write {path} ({shutil.disk_usage(path.parent).free:,} "
                    "bytes free on its disk): free space there, or put the run (--run-dir) or "
                    "the BOLD cache (cache_dir) on another disk") from e
            raise
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _disk_full(error: OSError) -> bool:
    """A write that failed for want of space: ENOSPC or EDQUOT, or NumPy's short write
    (``"3456000 requested and 2297792 written"``, which carries no errno)."""
    return error.errno in (errno.ENOSPC, errno.EDQUOT) or (
        error.errno is None and " requested and " in str(error) and " written" in str(error))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_table(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write a table as tab-separated values atomically, without the index."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return Path(path)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (``n/a`` and empty cells are NaN)."""
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["", "n/a"])


def save_array(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Save ``array`` as ``.npy`` atomically (readable with ``np.load(mmap_mode='r')``)."""
    with atomic_path(path) as tmp:
        np.save(tmp, array)
    return Path(path)


#: Files up to this size are identified by the hash of their content.
CONTENT_HASH_BELOW = 1 << 20


def file_fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Identify a file by its content where that is cheap, without reading large files.

    - a git-annex symlink (a DataLad dataset's large file): its annex key, the link
      target's name, which holds the content's size and hash (known even before
      ``datalad get``);
    - a file of at most :data:`CONTENT_HASH_BELOW` bytes: the SHA-256 of its content;
    - a larger file (a BOLD scan of hundreds of MB): its resolved path, size and
      modification time, since hashing it on every run would cost more than a cache saves;
    - a missing file: ``{"missing": path}``.
    """
    path = Path(path)
    if path.is_symlink() and ".git/annex/objects/" in os.readlink(path):
        return {"annex_key": Path(os.readlink(path)).name}
    if not path.is_file():
        return {"missing": str(path)}
    st = path.stat()
    if st.st_size <= CONTENT_HASH_BELOW:
        return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def hash_json(obj: Any) -> str:
    """SHA-256 of the canonical JSON form of ``obj`` (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")

"""One run per run directory at a time.

Two runs into one directory would delete each other's ``.partial/`` folders and could stamp
a half-written dataset complete.  A run holds an exclusive lock (``fcntl.flock``, released
by the operating system if the process dies) on ``<run_dir>/.lock``, which names the
holder so that the second run can say who it waits for.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..errors import RunError

__all__ = ["run_lock"]


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``<run_dir>/.lock`` for the block.

    Raises
    ------
    RunError
        If another process holds it; the message names that process.
    """
    path = Path(run_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "another process"
            raise RunError(
                f"the run directory {run_dir} is in use by {holder}. Wait for that run to "
                "finish (or stop it), or give this run another --run-dir."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, (f"process {os.getpid()} on {platform.node()} since "
                      f"{datetime.now():%Y-%m-%d %H:%M:%S} ({' '.join(sys.argv)})\n").encode())
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

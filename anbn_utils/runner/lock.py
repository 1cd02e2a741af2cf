"""One run per run directory at a time, and one computation per shared stage.

Two runs into one directory would delete each other's ``.partial/`` folders and could stamp
a half-written dataset complete.  A run holds an exclusive lock (``fcntl.flock``, released
by the operating system if the process dies) on ``<run_dir>/.lock``, which names the
holder so that a second run can say who it waits for.  Runs that share a store of stages
(a study's variants) take the same kind of lock on each stage they compute there, but wait
for it: the second variant then finds the stage done and reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from ..errors import RunError

__all__ = ["hold", "run_lock"]


@contextlib.contextmanager
def hold(path: str | os.PathLike, *, wait: bool = False,
         on_wait: Callable[[str], None] | None = None,
         busy: str = "{path} is held by {holder}") -> Iterator[Path]:
    """Hold an exclusive lock on the file ``path`` for the block.

    Parameters
    ----------
    path : path
        The lock file (created if needed); while held it names the holder.
    wait : bool
        Wait for another holder to finish (``on_wait`` is told who that is) instead of
        raising.
    busy : str
        The error's message when not waiting, with ``{path}`` and ``{holder}``.

    Raises
    ------
    RunError
        If ``wait`` is false and another process holds the lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "another process"
            if not wait:
                raise RunError(busy.format(path=path, holder=holder)) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
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


def run_lock(run_dir: str | os.PathLike):
    """Hold ``<run_dir>/.lock`` (a context manager); a :class:`RunError` naming the other
    process if it holds it."""
    return hold(Path(run_dir) / ".lock", busy=(
        f"the run directory {run_dir} is in use by {{holder}}. Wait for that run to finish "
        "(or stop it), or give this run another --run-dir."))

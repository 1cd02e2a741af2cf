"""A study owns the processes it starts: its variants' workers and their notebook kernels.

A study stopped by SIGINT or SIGTERM ends every process below it (workers, kernels) before
it exits (:func:`owning_descendants`); a study killed outright (SIGKILL gives it no chance)
is noticed by each of its workers, which then end their own processes and themselves
(:func:`die_with_parent`).  Without either, the workers went on computing for minutes as
orphans, and a rerun found the stages they held "in use by process N".
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["Interrupted", "die_with_parent", "owning_descendants", "stop_descendants"]

#: Seconds a process is given to end after SIGTERM before it is killed.
GRACE = 5.0
#: Seconds between a worker's checks that its study is alive.
POLL = 1.0


class Interrupted(BaseException):
    """The study received a signal (not an error of a variant: it ends the study)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def stop_descendants(grace: float = GRACE) -> int:
    """SIGTERM to every process below this one, SIGKILL to those alive after ``grace``
    seconds; returns how many there were."""
    import psutil

    procs = psutil.Process().children(recursive=True)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    return len(procs)


@contextlib.contextmanager
def owning_descendants(log: Callable[[str], None]) -> Iterator[None]:
    """For the block: SIGTERM raises :class:`Interrupted` (as SIGINT raises
    ``KeyboardInterrupt``), and either ends every process below this one before it
    propagates."""
    main = threading.current_thread() is threading.main_thread()

    def on_signal(signum, frame):
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, on_signal) if main else None
    try:
        yield
    except (KeyboardInterrupt, Interrupted):
        if main:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop is enough
        n = stop_descendants()
        log(f"study stopped: {n} process(es) of its variants ended (finished stages are kept; "
            "run the study again to resume)")
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


_watching: set[int] = set()


def die_with_parent(parent: int) -> None:
    """In a worker started by the process ``parent``: when that process is gone, end this
    worker's own processes and exit (one watcher per worker; nothing when ``parent`` is not
    this process's parent, e.g. a Dask worker or the study's own process)."""
    if os.getppid() != parent or parent in _watching:
        return
    _watching.add(parent)

    def watch():
        while os.getppid() == parent:
            time.sleep(POLL)
        stop_descendants(grace=1.0)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-study", daemon=True).start()

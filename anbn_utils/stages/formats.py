"""The file-format versions of the stages' results, and their readers for the later stages.

Light on purpose (no PyTorch, no fitting code): the comparisons, the study table and the
verdict import these readers, and a stage is keyed by the code it imports
(:mod:`anbn_utils.codehash`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io import read_json

__all__ = ["COUPLING_FORMAT", "load_coupling_summary"]

#: Version of ``04_coupling``'s file format (1: before it was recorded); a folder of another
#: version is refused with the command that recomputes it.
COUPLING_FORMAT = 2


def load_coupling_summary(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``summary.json`` of a ``04_coupling`` folder.

    Raises
    ------
    DataError
        When the folder has none (naming the stage to run) or was written in another format
        version (naming the folder and the command that recomputes it).
    """
    folder = Path(folder)
    path = folder / "summary.json"
    if not path.is_file():
        raise DataError(f"{path} is missing: the run {folder.parent} has not finished "
                        f"04_coupling; run that stage first")
    summary = read_json(path)
    if summary.get("format") != COUPLING_FORMAT:
        raise DataError(f"{folder} was written in format {summary.get('format', 1)} of "
                        f"04_coupling, this version reads format {COUPLING_FORMAT}: recompute "
                        f"it ({_recompute(folder)})")
    return summary


def _recompute(folder: Path) -> str:
    """The command that recomputes a stage folder (its profile from its ``stage.json``)."""
    record = folder / "stage.json"
    profile = read_json(record).get("profile") if record.is_file() else None
    return (f"python -m anbn_utils.run --profile {profile or '<its profile>'} --run-dir "
            f"{folder.parent} --force {folder.name}")

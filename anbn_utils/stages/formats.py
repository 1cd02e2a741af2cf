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

__all__ = ["COUPLING_FORMAT", "FORMATS", "RECORD", "load_coupling_summary", "read_record",
           "require"]

#: Version of ``04_coupling``'s file format (1: before it was recorded); a folder of another
#: version is refused with the command that recomputes it.
COUPLING_FORMAT = 2

#: Each stage's file-format version (1: before it was recorded); a folder of another
#: version is refused with the command that recomputes it.  04_coupling records its own in
#: ``summary.json``.  02_ans 3: the record holds ``model_dtype`` and ``an_unit``.
FORMATS = {"01_data": 2, "02_ans": 3, "03_bns": 2, "04_coupling": COUPLING_FORMAT,
           "05_pos": 2, "06_layers": 2}

#: The file of a stage folder that records its stage, format version and parameters
#: (01_data, 02_ans, 03_bns, 05_pos, 06_layers).
RECORD = "result.json"


def read_record(folder: str | os.PathLike, stage: str) -> dict[str, Any]:
    """The :data:`RECORD` of a stage folder, checked.

    Raises
    ------
    DataError
        When the folder has none (naming the stage to run), records another stage, or was
        written in another format version (naming the folder and the command that
        recomputes it).
    """
    folder = Path(folder)
    path = folder / RECORD
    if not path.is_file():
        if folder.is_dir() and any(folder.iterdir()):
            raise DataError(f"{folder} was written in format 1 of {stage} (no {RECORD}: an "
                            f"older version's folder, or one whose writing stopped), this "
                            f"version reads format {FORMATS[stage]}: recompute it "
                            f"({_recompute(folder)})")
        raise DataError(f"{path} is missing: the run {folder.parent} has not finished "
                        f"{stage}; run that stage first")
    record = read_json(path)
    if record.get("stage") != stage:
        raise DataError(f"{path} records stage {record.get('stage')!r}, not {stage!r}: "
                        f"the folder is not a {stage} folder")
    if record.get("format") != FORMATS[stage]:
        raise DataError(f"{folder} was written in format {record.get('format')} of {stage}, "
                        f"this version reads format {FORMATS[stage]}: recompute it "
                        f"({_recompute(folder)})")
    return record


def require(run_dir: str | os.PathLike, *stages: str) -> None:
    """Check, before a stage reads them, that the run's ``stages`` folders are finished and
    in this version's format (:func:`read_record`; 04_coupling: its summary)."""
    for stage in stages:
        folder = Path(run_dir) / stage
        if stage == "04_coupling":
            load_coupling_summary(folder)
        else:
            read_record(folder, stage)


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

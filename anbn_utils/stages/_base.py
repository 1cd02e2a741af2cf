"""What every stage module shares: parameters read from the notebook's parameter cell, the
record of a stage folder (its format version and parameters), and the description of the
files a stage writes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from ..errors import ParameterError
from .formats import FORMATS, RECORD, read_record


class StageParameters:
    """Base of a stage's frozen parameter dataclass (the notebook's parameter cell documents
    each field); :attr:`STAGE` names the stage in errors."""

    STAGE: ClassVar[str] = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """The parameters from a mapping that holds them (e.g. the notebook's ``globals()``);
        lists become tuples, other keys are ignored."""
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in values]
        if missing:
            raise ParameterError(f"{cls.STAGE}: parameters {missing} not given")
        return cls(**{n: tuple(values[n]) if isinstance(values[n], list) else values[n]
                      for n in names})


class StageResult:
    """Base of a stage's result: :meth:`write_record` writes the folder's :data:`RECORD`
    (the stage, its format version, the parameters and what ``extra`` adds);
    :meth:`read_record` reads it back, refusing a folder of another stage or format version
    (:func:`anbn_utils.stages.formats.read_record`)."""

    PARAMETERS: ClassVar[type] = StageParameters  # its STAGE names the stage

    def write_record(self, folder: str | os.PathLike, **extra) -> None:
        from ..io import write_json

        params = {k: list(v) if isinstance(v, tuple) else v
                  for k, v in asdict(self.parameters).items()}
        stage = self.PARAMETERS.STAGE
        write_json(Path(folder) / RECORD, {"stage": stage, "format": FORMATS[stage],
                                           "parameters": params, **extra})

    @classmethod
    def read_record(cls, folder: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
        """The parameters and the whole record of a stage folder."""
        record = read_record(folder, cls.PARAMETERS.STAGE)
        return cls.PARAMETERS.from_mapping(record["parameters"]), record


class StageFile(NamedTuple):
    """One file (or family of files) of a stage folder, as the book's Artifacts page lists
    it: its name (Markdown; ``<story>/`` and ``{a,b}`` patterns), what it holds (Markdown),
    and whether each story's folder has one."""

    name: str
    content: str
    per_story: bool = False


def record_file(result: str) -> StageFile:
    """The :data:`RECORD` entry of a stage's ``FILES`` (``result``: its result class)."""
    return StageFile(f"`{RECORD}`",
                     "the stage, its file-format version (`anbn_utils.stages.formats.FORMATS`: "
                     f"a folder of another version is refused) and its parameters; "
                     f"`{result}.load` reads the folder back")

"""What every stage module shares: parameters read from the notebook's parameter cell, and
the description of the files a stage writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar, NamedTuple

from ..errors import ParameterError


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


class StageFile(NamedTuple):
    """One file (or family of files) of a stage folder, as the book's Artifacts page lists
    it: its name (Markdown; ``<story>/`` and ``{a,b}`` patterns), what it holds (Markdown),
    and whether each story's folder has one."""

    name: str
    content: str
    per_story: bool = False

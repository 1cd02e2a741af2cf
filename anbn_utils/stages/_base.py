"""What every stage module shares: parameters read from the notebook's parameter cell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar

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

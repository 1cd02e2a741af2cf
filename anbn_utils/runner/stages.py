"""The book's stages: one notebook each, what they read, what they declare.

A stage is a chapter: ``notebooks/<name>.ipynb``, run by papermill.  Its parameters are
the names its cell tagged ``parameters`` declares; their types and ranges are in
:mod:`anbn_utils.runner.schema`.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..codehash import module_imports
from ..errors import ParameterError
from ..io import hash_json

__all__ = ["BOOK_EXECUTED_DIR", "NOTEBOOK_DIR", "REPO_ROOT", "STAGES", "Stage", "closure",
           "declared_parameters", "notebook_hash", "notebook_imports", "notebook_parameters",
           "stage_named", "stage_values"]

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BOOK_EXECUTED_DIR = REPO_ROOT / "book" / "executed"


@dataclass(frozen=True)
class Stage:
    """A book chapter: ``notebooks/<name>.ipynb`` and the stages whose artifacts it reads."""

    name: str
    needs: tuple[str, ...] = ()

    def notebook(self, notebook_dir: str | os.PathLike = NOTEBOOK_DIR) -> Path:
        return Path(notebook_dir) / f"{self.name}.ipynb"


STAGES = (
    Stage("00_phantom"),
    Stage("01_data"),
    Stage("02_ans", needs=("01_data",)),
    Stage("03_bns", needs=("01_data",)),
    Stage("04_coupling", needs=("02_ans", "03_bns")),
    Stage("05_pos", needs=("02_ans", "04_coupling")),
    Stage("06_layers", needs=("04_coupling", "05_pos")),
    Stage("07_verdict", needs=("04_coupling", "05_pos")),
)
_BY_NAME = {s.name: s for s in STAGES}


def stage_named(name: str) -> Stage:
    """The stage called ``name``; a :class:`ParameterError` listing the stages otherwise."""
    if name not in _BY_NAME:
        raise ParameterError(f"unknown stage {name!r}; stages are {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def closure(names: Sequence[str]) -> list[Stage]:
    """The named stages and every stage they need, in book order."""
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in wanted:
            wanted.add(name)
            for dep in stage_named(name).needs:
                add(dep)

    for n in names:
        add(n)
    return [s for s in STAGES if s.name in wanted]


def notebook_parameters(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Parameters declared in a notebook's ``parameters`` cell (via papermill).

    Returns a mapping name -> ``{"default": str, "type": str, "help": str}``.
    """
    import papermill

    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"notebook {path} is missing")
    params = papermill.inspect_notebook(str(path))
    if not params:
        raise ParameterError(f"{path} has no cell tagged 'parameters'")
    return {
        name: {"default": p["default"], "type": p["inferred_type_name"], "help": p["help"]}
        for name, p in params.items()
    }


def declared_parameters(
    stages: Sequence[Stage] = STAGES, notebook_dir: str | os.PathLike = NOTEBOOK_DIR
) -> dict[str, dict[str, dict[str, Any]]]:
    """Parameters each stage's notebook declares: stage -> :func:`notebook_parameters`."""
    return {s.name: notebook_parameters(s.notebook(notebook_dir)) for s in stages}


def _code_cells(path: Path) -> list[str]:
    import nbformat

    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def notebook_code(path: str | os.PathLike) -> list[str]:
    """A notebook's code cells as Python (lines of IPython magic skipped)."""
    return ["\n".join(line for line in source.splitlines()
                      if not line.lstrip().startswith(("%", "!")))
            for source in _code_cells(Path(path))]


def notebook_imports(path: str | os.PathLike) -> list[str]:
    """Package modules a notebook's code cells import."""
    found: set[str] = set()
    for src in notebook_code(path):
        found |= module_imports(ast.parse(src), "__main__", False)
    return sorted(found)


def notebook_hash(path: str | os.PathLike) -> str:
    """Hash of what a notebook computes: its cells' types and tags, and the sources of its
    code cells (outputs, metadata noise and the text of markdown cells excluded: a text edit
    is re-rendered when the run is published, :func:`anbn_utils.runner.execute.publish_notebooks`,
    without computing the stage again; adding or removing a cell counts)."""
    import nbformat

    nb = nbformat.read(Path(path), as_version=4)
    return hash_json([(c.cell_type, None if c.cell_type == "markdown" else c.source,
                       sorted(c.metadata.get("tags", []))) for c in nb.cells])


def stage_values(declared: dict[str, dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """The values a stage runs with: its notebook's defaults, then the profile's."""
    values = {}
    for name, spec in declared.items():
        try:
            values[name] = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):  # a default that is an expression
            values[name] = None
    return {**values, **given}

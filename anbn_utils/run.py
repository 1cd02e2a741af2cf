"""Run the book's notebooks in order with papermill, for one profile.

::

    python -m anbn_utils.run --profile phantom            # the default book
    python -m anbn_utils.run --profile paper --run-dir /data/runs/paper
    python -m anbn_utils.run --profile my.yaml --stage 01_data --force 01_data
    python -m anbn_utils.run --profile paper-synthetic --set n_epochs=1 --set dataset.n_subjects=4

Every artifact goes under one run directory (``runs/<profile>/`` by default):
``params.yaml`` (the resolved parameters), ``dataset/`` (generated datasets), and one
folder per stage holding its artifacts, its executed notebook and ``stage.json``
(hash of everything the stage depends on, versions, wall time).

A stage is skipped when its hash matches the one in its ``stage.json``; the hash covers
the notebook's source, the parameters it receives, the hashes of the stages it reads,
the source of the package modules the notebook imports (and those they import: see
:func:`source_closure`), the dataset, and the stage hashes of any other run a parameter
named ``*_run_dir`` points to (so re-running that run re-runs the stages that read it).
A stage runs in ``.partial/<stage>`` and replaces the finished folder only when it
succeeds, so a failed or interrupted stage never touches earlier results, and re-running
resumes at the first stage not done.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from . import __version__, synthetic
from .codehash import code_hash, module_imports
from .config import get_data_root, load_profile
from .errors import ParameterError
from .io import hash_json, read_json, write_json, write_text

__all__ = ["STAGES", "Stage", "apply_overrides", "declared_parameters", "notebook_parameters",
           "publish_notebooks", "resolve_params", "run"]

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BOOK_EXECUTED_DIR = REPO_ROOT / "book" / "executed"
#: Parameters the runner sets for every notebook; profiles may not set them.
RESERVED = ("run_dir", "stage_dir")
#: Dataset parameters that do not change the generated files (workers, progress bars).
_NOT_IN_DATASET_HASH = ("n_jobs", "progress")


@dataclass(frozen=True)
class Stage:
    """A book chapter: ``notebooks/<name>.ipynb`` and the stages whose artifacts it reads."""

    name: str
    needs: tuple[str, ...] = ()

    def notebook(self, notebook_dir: Path = NOTEBOOK_DIR) -> Path:
        return Path(notebook_dir) / f"{self.name}.ipynb"


STAGES = (
    Stage("00_phantom"),
    Stage("01_data"),
    Stage("02_ans", needs=("01_data",)),
    Stage("03_bns", needs=("01_data",)),
    Stage("04_coupling", needs=("02_ans", "03_bns")),
    Stage("05_pos", needs=("02_ans", "04_coupling")),
    Stage("06_layers", needs=("04_coupling", "05_pos")),
)
_BY_NAME = {s.name: s for s in STAGES}


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


def _closure(names: Sequence[str]) -> list[Stage]:
    """The named stages and every stage they need, in book order."""
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in _BY_NAME:
            raise ParameterError(f"unknown stage {name!r}; stages are {', '.join(_BY_NAME)}")
        if name not in wanted:
            wanted.add(name)
            for dep in _BY_NAME[name].needs:
                add(dep)

    for n in names:
        add(n)
    return [s for s in STAGES if s.name in wanted]


def declared_parameters(
    stages: Sequence[Stage] = STAGES, notebook_dir: Path = NOTEBOOK_DIR
) -> dict[str, dict[str, dict[str, Any]]]:
    """Parameters each stage's notebook declares: stage -> :func:`notebook_parameters`."""
    return {s.name: notebook_parameters(s.notebook(notebook_dir)) for s in stages}


def resolve_params(
    profile: dict[str, Any], declared: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Split a profile's ``params`` into the parameters each stage's notebook declares.

    Parameters
    ----------
    profile : dict
        From :func:`anbn_utils.config.load_profile`.
    declared : dict
        From :func:`declared_parameters`.

    Raises
    ------
    ParameterError
        For a name no notebook declares (a typo would otherwise be silently ignored),
        a reserved name (``run_dir``, ``stage_dir``), or ``dataset_root`` in a profile
        whose dataset is generated (the runner sets it).
    """
    for name, params in declared.items():
        missing = [r for r in RESERVED if r not in params]
        if missing:
            raise ParameterError(f"notebook {name} must declare {missing} in its parameters cell")
    known = {p for params in declared.values() for p in params} - set(RESERVED)
    given = profile.get("params", {})
    reserved = sorted(set(given) & set(RESERVED))
    if reserved:
        raise ParameterError(f"profile may not set {reserved}: the runner sets them")
    unknown = sorted(set(given) - known)
    if unknown:
        raise ParameterError(
            f"profile {profile.get('path', profile.get('name'))}: unknown parameter(s) {unknown}. "
            f"Known parameters: {', '.join(sorted(known))}"
        )
    if profile["dataset"]["kind"] != "narratives" and "dataset_root" in given:
        raise ParameterError(
            f"profile {profile.get('path')}: dataset_root is set by the runner for a generated "
            "dataset; remove it, or use dataset.kind: narratives"
        )
    return {name: {k: v for k, v in given.items() if k in params}
            for name, params in declared.items()}


def apply_overrides(profile: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Profile with ``NAME=VALUE`` overrides (``dataset.NAME=VALUE`` for the dataset's
    parameters); values are YAML (``n_epochs=1``, ``tasks=[pieman]``, ``model=null``)."""
    prof = {**profile, "params": dict(profile["params"]),
            "dataset": {**profile["dataset"], "params": dict(profile["dataset"]["params"])}}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ParameterError(f"--set takes NAME=VALUE, not {item!r}")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ParameterError(f"--set {item}: the value is not valid YAML ({e})") from e
        target = prof["params"]
        if name.startswith("dataset."):
            name, target = name.removeprefix("dataset."), prof["dataset"]["params"]
        target[name] = parsed
    if overrides:
        prof["overrides"] = list(overrides)
    return prof


def _notebook_imports(path: Path) -> list[str]:
    """Package modules a notebook's code cells import (lines of IPython magic skipped)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        src = "\n".join(line for line in cell.source.splitlines()
                        if not line.lstrip().startswith(("%", "!")))
        found |= module_imports(ast.parse(src), "__main__", False)
    return sorted(found)


def _notebook_hash(path: Path) -> str:
    """Hash of a notebook's cell sources and tags (outputs and metadata noise excluded)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return hash_json([(c.cell_type, c.source, sorted(c.metadata.get("tags", [])))
                      for c in nb.cells])


def _run_hashes(run_dir: str | os.PathLike) -> dict[str, str]:
    """``{stage: hash}`` of the finished stages of another run (relative paths: from the
    repository root, where notebooks run); empty when there is no such run."""
    root = REPO_ROOT / run_dir  # an absolute run_dir replaces REPO_ROOT
    return {stamp.parent.name: read_json(stamp).get("hash")
            for stamp in sorted(root.glob("*/stage.json"))}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "anbn_utils": __version__}
    for pkg in ("numpy", "nilearn", "nibabel", "torch", "transformers", "spacy", "papermill"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _log(msg: str) -> None:
    print(f"[anbn {datetime.now():%H:%M:%S}] {msg}", flush=True)


def _replace_dir(partial: Path, final: Path) -> None:
    """Move ``partial`` to ``final``; the previous ``final`` is removed only afterwards."""
    trash = final.parent / ".trash" / final.name
    if trash.exists():
        shutil.rmtree(trash)
    if final.exists():
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(final, trash)
    os.replace(partial, final)
    shutil.rmtree(trash, ignore_errors=True)


def _generator(kind: str):
    """The function that writes a generated dataset of this kind."""
    from . import phantom

    return phantom.make_phantom if kind == "phantom" else synthetic.make_narratives_like


def _prepare_dataset(profile: dict[str, Any], run_dir: Path, force: bool) -> tuple[Path, str]:
    """Dataset root and its hash; generates the dataset of phantom and synthetic profiles.

    A generated dataset is re-made when its parameters or its generator's source change.
    """
    spec = profile["dataset"]
    if spec["kind"] == "narratives":
        root = get_data_root(profile["params"].get("dataset_root"))
        return root, hash_json({"kind": "narratives", "root": str(root.resolve())})
    make = _generator(spec["kind"])
    allowed = set(inspect.signature(make).parameters) - {"root"}
    unknown = sorted(set(spec["params"]) - allowed)
    if unknown:
        raise ParameterError(
            f"profile {profile['path']}: unknown dataset parameter(s) {unknown}; "
            f"allowed for kind {spec['kind']!r}: {', '.join(sorted(allowed))}"
        )
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["params"].items()}
    content = {k: v for k, v in params.items() if k not in _NOT_IN_DATASET_HASH}
    h = hash_json({"kind": spec["kind"], "params": content, "code": code_hash([make.__module__])})
    final = run_dir / "dataset"
    stamp = final / "dataset.json"
    if not force and stamp.is_file() and read_json(stamp).get("hash") == h:
        _log("dataset: up to date")
        return final, h
    _log(f"dataset: generating the {spec['kind']} dataset")
    partial = run_dir / ".partial" / "dataset"
    shutil.rmtree(partial, ignore_errors=True)
    t0 = time.perf_counter()
    make(partial, **params)
    write_json(partial / "dataset.json", {"kind": spec["kind"], "hash": h, "params": params,
                                          "wall_s": time.perf_counter() - t0})
    _replace_dir(partial, final)
    return final, h


def run(
    profile: str | os.PathLike = "phantom",
    *,
    run_dir: str | os.PathLike | None = None,
    stages: Sequence[str] | None = None,
    force: Sequence[str] = (),
    publish: bool = True,
    notebook_dir: str | os.PathLike = NOTEBOOK_DIR,
    book_dir: str | os.PathLike = BOOK_EXECUTED_DIR,
    progress: bool = True,
    overrides: Sequence[str] = (),
) -> Path:
    """Execute the stages of a profile; skip those whose inputs and parameters are unchanged.

    Parameters
    ----------
    profile : str or path
        Name of a shipped profile (``anbn_utils/profiles/<name>.yaml``) or a YAML path.
    run_dir : path, optional
        Run directory; default ``runs/<profile name>`` under the current folder.
    stages : sequence of str, optional
        Stages to bring up to date (with the stages they need); default all.
    force : sequence of str
        Stages to re-run even if up to date (``'dataset'`` regenerates a generated dataset).
    publish : bool
        Copy the executed notebooks to ``book_dir`` for ``jupyter-book build``.
    notebook_dir, book_dir : path
        Source notebooks; where the book reads executed ones.
    progress : bool
        Show papermill's cell progress bar.
    overrides : sequence of str
        ``NAME=VALUE`` changes to the profile (see :func:`apply_overrides`), recorded in
        ``params.yaml``.

    Returns
    -------
    Path
        The run directory.
    """
    import papermill

    prof = apply_overrides(load_profile(profile), overrides)
    notebook_dir = Path(notebook_dir)
    selected = _closure(stages or [s.name for s in STAGES])
    declared = declared_parameters(STAGES, notebook_dir)  # names are checked against all
    per_stage = resolve_params(prof, declared)
    run_dir = Path(run_dir or Path("runs") / prof["name"]).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _record_params(prof, run_dir)

    root, dataset_hash = _prepare_dataset(prof, run_dir, "dataset" in force)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    hashes: dict[str, str] = {}
    for stage in selected:
        params = {**per_stage[stage.name]}
        if "dataset_root" in declared[stage.name]:
            params["dataset_root"] = str(root)
        h = hash_json({
            "notebook": _notebook_hash(stage.notebook(notebook_dir)),
            "params": params,
            "needs": {n: hashes[n] for n in stage.needs},
            "code": code_hash(_notebook_imports(stage.notebook(notebook_dir))),
            "dataset": dataset_hash,
            "other_runs": {k: _run_hashes(v) for k, v in params.items()
                           if k.endswith("_run_dir") and v is not None},
        })
        hashes[stage.name] = h
        final = run_dir / stage.name
        stamp = final / "stage.json"
        if stage.name not in force and stamp.is_file() and read_json(stamp).get("hash") == h:
            _log(f"{stage.name}: up to date")
            continue
        if stamp.is_file():
            _log(f"{stage.name}: inputs or parameters changed, re-running "
                 "(the previous results stay until it succeeds)")
        else:
            _log(f"{stage.name}: running")
        partial = run_dir / ".partial" / stage.name
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        t0 = time.perf_counter()
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        papermill.execute_notebook(
            str(stage.notebook(notebook_dir)),
            str(partial / f"{stage.name}.ipynb"),
            parameters={**params, "run_dir": str(run_dir), "stage_dir": str(partial)},
            cwd=str(REPO_ROOT),
            progress_bar=progress,
        )
        wall = time.perf_counter() - t0
        write_json(partial / "stage.json", {
            "stage": stage.name, "hash": h, "params": params, "needs": stage.needs,
            "needs_hashes": {n: hashes[n] for n in stage.needs}, "dataset": str(root),
            "versions": _versions(), "started": started, "wall_s": round(wall, 2),
        })
        _replace_dir(partial, final)
        _log(f"{stage.name}: done in {wall:.1f} s")
    if publish:
        publish_notebooks(run_dir, book_dir)
    return run_dir


def _record_params(prof: dict[str, Any], run_dir: Path) -> None:
    """Write the resolved profile to ``params.yaml``; keep and report a changed one."""
    text = yaml.safe_dump({"profile": prof["name"], "source": prof["path"],
                           "overrides": prof.get("overrides", []),
                           "description": prof.get("description", ""),
                           "dataset": prof["dataset"], "params": prof["params"]},
                          sort_keys=True)
    path = run_dir / "params.yaml"
    if path.is_file() and path.read_text() != text:
        write_text(run_dir / "params.previous.yaml", path.read_text())
        _log(f"{path} differs from this profile: the previous one is kept as "
             "params.previous.yaml; stages whose parameters changed will re-run")
    write_text(path, text)


def publish_notebooks(run_dir: str | os.PathLike, book_dir: str | os.PathLike) -> list[Path]:
    """Copy each finished stage's executed notebook to ``book_dir`` (what the book renders)."""
    run_dir, book_dir = Path(run_dir), Path(book_dir)
    book_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for stage in STAGES:
        src = run_dir / stage.name / f"{stage.name}.ipynb"
        if src.is_file():
            dst = book_dir / src.name
            shutil.copyfile(src, dst)
            out.append(dst)
    write_text(book_dir / "RUN.txt", f"{run_dir}\n")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m anbn_utils.run", description="Run the anbn notebooks for a profile.")
    parser.add_argument("--profile", default="phantom",
                        help="shipped profile name or YAML path (default: phantom)")
    parser.add_argument("--run-dir", default=None, help="default: runs/<profile>")
    parser.add_argument("--stage", action="append", dest="stages", default=None,
                        help="run only this stage and what it needs (repeatable)")
    parser.add_argument("--force", action="append", default=[],
                        help="re-run this stage even if up to date (repeatable; 'dataset' too)")
    parser.add_argument("--set", action="append", dest="overrides", default=[],
                        metavar="NAME=VALUE",
                        help="change a parameter of the profile (YAML value; 'dataset.NAME' for "
                             "the generated dataset's); repeatable")
    parser.add_argument("--no-publish", action="store_true",
                        help="do not copy executed notebooks into book/executed")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        run(args.profile, run_dir=args.run_dir, stages=args.stages, force=args.force,
            publish=not args.no_publish, progress=not args.no_progress,
            overrides=args.overrides)
    except ParameterError as e:
        parser.exit(2, f"error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

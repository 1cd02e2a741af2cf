"""Run the stages of a profile with papermill, skipping those that are up to date.

Every artifact goes under one run directory (``runs/<profile>/`` by default): ``dataset/``
(generated datasets), one folder per stage holding its artifacts, its executed notebook and
``stage.json`` (what it ran with, see :mod:`.state`), and ``params.yaml``, the resolved
profile of the last run that succeeded.

A stage's hash covers the notebook's source, the parameters it receives (but
:data:`EXECUTION_ONLY`), the hashes of the stages it reads, each source file of the package
modules the notebook imports (their import closure, :func:`anbn_utils.codehash.code_files`),
the versions of the libraries the notebook and those modules import
(:func:`anbn_utils.codehash.library_versions`), the dataset (:mod:`.datasets`), and the
stage hashes of any other run a parameter named ``*_run_dir`` points to; ``stage.json``
records them, so that a rerun names what changed (``parameter top_k``, ``code of
anbn_utils/pos.py``, ``library nilearn 0.14.1 -> 0.14.2``).  A stage runs in
``.partial/<stage>`` and replaces the finished folder only when it succeeds, so a failed or
interrupted stage never touches earlier results, and re-running resumes at the first stage
not done.  Checkpoints a stage keeps to resume a long fit (``.checkpoints/<stage>``) are
removed when it succeeds and before a ``--force``\\ d run.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .. import __version__
from ..codehash import code_files, library_versions
from ..errors import ParameterError, RunError
from ..figures import TABLES
from ..io import atomic_path, hash_json, read_json, write_json, write_text
from .datasets import prepare_dataset
from .lock import hold, run_lock
from .preflight import preflight
from .profiles import apply_overrides, load_profile, resolve_params
from .stages import (
    BOOK_EXECUTED_DIR,
    NOTEBOOK_DIR,
    REPO_ROOT,
    STAGES,
    Stage,
    closure,
    declared_parameters,
    notebook_code,
    notebook_hash,
    notebook_imports,
    stage_values,
)
from .state import STAMP, digests, manifest, replace_dir, stage_status

__all__ = ["as_published", "check", "current_text", "kernel_options", "kernel_startup",
           "publish_notebooks",
           "reader_view", "run", "shown_path"]

#: The log of a headless stage (:func:`_execute_function`), kept in ``.partial`` when it
#: fails.
HEADLESS_LOG = "function.log"

#: Names ``--force`` takes besides the stages.
FORCE_EXTRA = ("dataset",)


#: Defaults of the notebooks' kernels' environment (a variable the caller set wins): the
#: runner shows no cell output, so a library's progress bars and info logs would only fill
#: the executed notebooks.  ``TRANSFORMERS_VERBOSITY`` and ``HF_HUB_DISABLE_PROGRESS_BARS``
#: hold in the runner's own process too (generating the phantom loads the model there).
KERNEL_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",  # the default of bars the package does not switch itself
}

#: Warnings the kernels ignore, ``(message start, category, module)``, each about something
#: the notebooks do not use.
KERNEL_IGNORED_WARNINGS = (
    # transformers and huggingface_hub import tqdm.auto, which in a kernel looks for
    # ipywidgets to draw bars as widgets; the notebooks draw no bars (text ones are used)
    ("IProgress not found", "Warning", "tqdm.auto"),
)


def kernel_startup() -> list[str]:
    """The lines each notebook's kernel runs before the notebook (IPython's public
    ``exec_lines`` option): :data:`KERNEL_ENV` where the environment does not set them (a
    variable the caller set wins), and :data:`KERNEL_IGNORED_WARNINGS`."""
    return ["import os, warnings",
            *(f"os.environ.setdefault({k!r}, {v!r})" for k, v in KERNEL_ENV.items()),
            *(f"warnings.filterwarnings('ignore', message={m!r}, category={c}, module={mod!r})"
              for m, c, mod in KERNEL_IGNORED_WARNINGS)]


@contextlib.contextmanager
def kernel_options():
    """papermill's options for one notebook's kernel, all public: the kernel's log at errors
    only and :func:`kernel_startup` (IPython options), and its sockets as IPC files in a
    folder of its own (jupyter_client's ``transport`` and ``ip``), removed afterwards: TCP
    ports that one process picks as free can be taken by a kernel that another process
    starts at the same moment ("Address already in use": the kernel dies), and IPC files at
    Jupyter's default place (``kernel-ipc-<n>`` in the working directory) collide the same
    way.  The kernel manager is :func:`_kernel_manager`'s."""
    from traitlets.config import Config

    sockets = tempfile.mkdtemp(prefix="anbn-kernel-")
    try:
        yield {"extra_arguments": ["--IPKernelApp.log_level=ERROR",
                                   *(f"--IPKernelApp.exec_lines={line}"
                                     for line in kernel_startup())],
               "config": Config({"KernelManager": {"transport": "ipc",
                                                   "ip": os.path.join(sockets, "kernel")}}),
               "kernel_manager_class": _kernel_manager()}
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def _kernel_manager():
    """Jupyter's kernel manager, without the interrupt (SIGINT) it sends every kernel it
    shuts down: a kernel handling a message just then logs "KeyboardInterrupt caught in
    kernel" on the runner's stderr, and papermill shuts a kernel down after its last cell,
    so there is nothing to interrupt (the shutdown request, then SIGTERM, follows).  No
    public option does this: the override is of ``_async_interrupt_kernel``, which
    ``shutdown_kernel`` calls in the jupyter_client versions pyproject.toml allows
    (``tests/test_run.py`` checks that the stock manager still interrupts at shutdown and
    this one does not)."""
    from jupyter_client import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def _log(msg: str, end: str = "\n") -> None:
    print(f"[anbn {datetime.now():%H:%M:%S}] {msg}", end=end, flush=True)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "anbn_utils": __version__}
    for pkg in ("numpy", "nilearn", "nibabel", "torch", "transformers", "spacy", "papermill"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


#: Parameters that change how a stage runs, not what it computes (subjects loaded in
#: parallel): left out of its hash, so changing them reuses its results.
EXECUTION_ONLY = frozenset({"n_jobs"})


def _stage_inputs(stage: Stage, params: dict[str, Any], hashes: dict[str, str],
                  dataset_hash: str, notebook_dir: Path) -> dict[str, Any]:
    """What a stage's results depend on, hashed into its key and recorded in its stamp (so
    that a rerun names what changed): its notebook, its parameters but
    :data:`EXECUTION_ONLY`, the hashes of the stages it reads, each package file its
    notebook's imports reach (:func:`anbn_utils.codehash.code_files`), the versions of the
    libraries those and the notebook import, the dataset and the runs it reads."""
    notebook = stage.notebook(notebook_dir)
    imports = notebook_imports(notebook)
    return {
        "notebook": notebook_hash(notebook),
        "params": {k: v for k, v in params.items() if k not in EXECUTION_ONLY},
        "needs": {n: hashes[n] for n in stage.needs},
        "code": code_files(imports),
        "libraries": library_versions(notebook_code(notebook), imports),
        "dataset": dataset_hash,
        "other_runs": {k: _run_hashes(v) for k, v in params.items()
                       if k.endswith("_run_dir") and v is not None},
    }


def _run_hashes(run_dir: str | os.PathLike) -> dict[str, str]:
    """``{stage: hash}`` of the finished stages of another run, or ``{variant/stage: hash}``
    of a study's runs and ``{"study.json": ...}``, the statuses of its variants (which of
    them chapter 07 reads); relative paths: from the repository root, where notebooks run.
    Empty when there is no such run."""
    root = REPO_ROOT / run_dir  # an absolute run_dir replaces REPO_ROOT
    stamps = [*root.glob(f"*/{STAMP}"), *root.glob(f"*/*/{STAMP}")]
    out = {str(stamp.parent.relative_to(root)): read_json(stamp).get("hash")
           for stamp in sorted(stamps) if ".store" not in stamp.relative_to(root).parts}
    if (root / "study.json").is_file():
        rows = read_json(root / "study.json").get("rows", [])
        out["study.json"] = hash_json(sorted((r.get("variant"), r.get("status")) for r in rows))
    return out


def _prepare(profile, overrides, stages, force, notebook_dir):
    """Load and check everything that can be checked before the run directory is touched."""
    prof = apply_overrides(load_profile(profile), overrides)
    known = [s.name for s in STAGES] + list(FORCE_EXTRA)
    typos = sorted(set(force) - set(known))
    if typos:
        raise ParameterError(f"--force {', '.join(typos)}: no such stage; --force takes "
                             f"{', '.join(known)}")
    selected = closure(stages or [s.name for s in STAGES])
    declared = declared_parameters(STAGES, notebook_dir)  # names are checked against all
    per_stage = resolve_params(prof, declared)
    return prof, selected, declared, per_stage


def check(profile: str | os.PathLike = "phantom", *, stages: Sequence[str] | None = None,
          overrides: Sequence[str] = (), notebook_dir: str | os.PathLike = NOTEBOOK_DIR,
          ) -> tuple[list[str], list[str]]:
    """The preflight checks of a run, without running it: ``(problems, notes)``."""
    prof, selected, declared, per_stage = _prepare(profile, overrides, stages, (), notebook_dir)
    return preflight(prof, {s.name: per_stage[s.name] for s in selected}, declared)


def _report(problems: Sequence[str], where: str) -> str:
    lines = [f"{len(problems)} problem(s) found before any compute ({where}):"]
    lines += [f"  {i}. {p}" for i, p in enumerate(problems, 1)]
    return "\n".join(lines)


def _failure(stage: Stage, error: Exception, notebook: Path) -> RunError:
    """A short account of a failed notebook cell (papermill's error carries the cell)."""
    ename = getattr(error, "ename", type(error).__name__)
    evalue = str(getattr(error, "evalue", error)).strip()
    cell = getattr(error, "exec_count", None)
    source = (getattr(error, "source", "") or "").strip().splitlines()
    where = f" in cell [{cell}] ({source[0][:80]}{' ...' if len(source) > 1 else ''})" \
        if cell and source else ""
    return RunError(f"stage {stage.name} failed{where}:\n  {ename}: {evalue}\n"
                    f"The executed notebook with the full traceback: {notebook}\n"
                    "Earlier results are untouched; fix the cause and run again to resume.")


def _execute(stage: Stage, params: dict[str, Any], run_dir: Path, notebook_dir: Path,
             progress: bool) -> Path:
    """Run one stage's notebook into ``.partial/<stage>``; return that folder."""
    import papermill

    partial = run_dir / ".partial" / stage.name
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    out = partial / f"{stage.name}.ipynb"
    with kernel_options() as options:
        try:
            papermill.execute_notebook(
                str(stage.notebook(notebook_dir)), str(out),
                parameters={**params, "run_dir": str(run_dir), "stage_dir": str(partial)},
                cwd=str(REPO_ROOT), progress_bar=progress, **options)
        except papermill.PapermillExecutionError as e:
            raise _failure(stage, e, out) from None
    return partial


def _execute_function(stage: Stage, values: dict[str, Any], run_dir: Path) -> Path:
    """Compute one stage with its package function alone (no notebook, no figures) into
    ``.partial/<stage>``, in a process of its own started where the notebooks run (the
    repository root, so relative paths mean the same) with the kernels' environment; return
    that folder.  Its log (a failure's traceback) is ``.partial/<stage>/function.log``."""
    import subprocess
    import sys

    partial = run_dir / ".partial" / stage.name
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    given = partial.parent / f"{stage.name}.values.json"
    write_json(given, {**values, "run_dir": str(run_dir), "stage_dir": str(partial)})
    log = partial / HEADLESS_LOG
    env = {**KERNEL_ENV, **os.environ}
    with open(log, "w", encoding="utf-8") as out:
        done = subprocess.run(
            [sys.executable, "-m", "anbn_utils.stages.pipeline", stage.name, str(given),
             str(run_dir), str(partial)], cwd=REPO_ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, check=False)
    given.unlink()
    if done.returncode:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        raise RunError(f"stage {stage.name} failed (computed by its function, headless):\n  "
                       f"{lines[-1] if lines else f'exit status {done.returncode}'}\n"
                       f"The full traceback: {log}\n"
                       "Earlier results are untouched; fix the cause and run again to resume.")
    log.unlink()
    return partial


def _compute(stage, params, h, inputs, hashes, prof, root, run_dir, entry, notebook_dir,
             progress, forced, values=None) -> None:
    """Execute a stage (its notebook; given its ``values``, the notebook's defaults with
    ``params``, its function alone) and put its folder, stamped, at ``entry``."""
    checkpoints = run_dir / ".checkpoints" / stage.name
    if forced:
        shutil.rmtree(checkpoints, ignore_errors=True)
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def end(msg: str) -> None:
        """End the stage's line, opened by :func:`run` (one line per stage); with
        papermill's bar, which has lines of its own, write a line of its own."""
        if progress:
            _log(f"{stage.name}{msg}")
        else:
            print(msg, flush=True)

    try:
        partial = (_execute_function(stage, values, run_dir) if values is not None else
                   _execute(stage, params, run_dir, notebook_dir, progress))
    except BaseException:
        end(": failed")  # the error follows
        raise
    wall = time.perf_counter() - t0
    write_json(partial / STAMP, {
        "stage": stage.name, "hash": h, "params": params, "profile": prof["name"],
        "overrides": prof.get("overrides", []), "run": str(run_dir), "needs": stage.needs,
        "needs_hashes": {n: hashes[n] for n in stage.needs}, "dataset": str(root),
        "versions": _versions(), "inputs": inputs, "started": started,
        "wall_s": round(wall, 2), "executed": "notebook" if values is None else "function",
        "manifest": manifest(partial), "digests": digests(partial),
    })
    entry.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(partial, entry)
    shutil.rmtree(checkpoints, ignore_errors=True)
    end(f": done in {wall:.1f} s")


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
    store: str | os.PathLike | bool | None = True,
    verify: bool = False,
    headless: bool | Collection[str] = False,
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
        ``NAME=VALUE`` changes to the profile (see :func:`.profiles.apply_overrides`).
    store : path or bool
        A folder of stages shared between runs (``True``, the default: ``.store`` beside the
        run directory, so ``runs/.store`` for ``runs/<profile>``; ``False`` or ``None``:
        none): a stage is computed once per hash into ``<store>/<stage>/<hash>`` (a run
        computing it holds a lock there, and a run that needs the same stage waits, then
        reuses it) and the run's folder of that stage is a link to it; the generated
        dataset likewise.  Two runs or study variants with the same stage inputs, code and
        parameters thus compute it once.  :func:`prune_store` removes what no run uses.
    verify : bool
        Before a stage (or the generated dataset) is reused, compare its files' content with
        the digests recorded when it was written (``--verify``; reading every file: slower),
        and recompute what differs.  Without it, files are compared by size and time.
    headless : bool or collection of str
        Stages to compute with their package function alone (:mod:`anbn_utils.stages`):
        the same files, no notebook and none of its figures, in a fraction of the time (for
        runs that are read, not shown: a study's variants, the null phantom); ``True``: every
        stage that has a function (00_phantom and 07_verdict have none and run their
        notebooks).  A stage computed so has no notebook to publish: a publishing run that
        finds it computes it again with its notebook (and cannot be headless itself).

    Returns
    -------
    Path
        The run directory.

    Raises
    ------
    ParameterError
        A bad profile, parameter value or ``--force`` name (before anything runs).
    RunError
        Problems found by the preflight checks (all of them, before anything runs), the
        run directory in use by another run, or a failed stage (its cell's error and the
        path of its executed notebook).
    """
    notebook_dir = Path(notebook_dir)
    prof, selected, declared, per_stage = _prepare(profile, overrides, stages, force,
                                                   notebook_dir)
    headless = _headless_stages(headless, publish)
    run_dir = Path(run_dir or Path("runs") / prof["name"]).resolve()
    problems, _ = preflight(prof, {s.name: per_stage[s.name] for s in selected}, declared)
    if problems:
        raise RunError(_report(problems, f"profile {prof['path']}"))
    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(name, KERNEL_ENV[name])
    with run_lock(run_dir):
        tasks = stage_values(declared["01_data"], per_stage["01_data"]).get("tasks") or ()
        store = (run_dir.parent / ".store" if store is True else
                 Path(store).resolve() if store else None)
        root, dataset_hash = prepare_dataset(prof, run_dir, force="dataset" in force,
                                             tasks=tasks, store=store, log=_log, verify=verify)
        hashes: dict[str, str] = {}
        for stage in selected:
            params = {**per_stage[stage.name]}
            if "dataset_root" in declared[stage.name]:
                params["dataset_root"] = str(root)
            inputs = _stage_inputs(stage, params, hashes, dataset_hash, notebook_dir)
            hashes[stage.name] = h = hash_json(inputs)
            final = run_dir / stage.name
            entry = store / stage.name / h if store else final
            with hold(entry.parent / f".{entry.name}.lock", wait=True, on_wait=lambda who, s=stage:
                      _log(f"{s.name}: waiting for {who}, which computes the same stage")):
                done, why = stage_status(entry, h, forced=stage.name in force, inputs=inputs,
                                         verify=verify)
                if not done and entry != final and (final / STAMP).is_file():
                    why = stage_status(final, h, forced=stage.name in force, inputs=inputs,
                                       verify=verify)[1]
                if done and publish and not (entry / f"{stage.name}.ipynb").is_file():
                    done, why = False, ("computed by its function alone (headless), without "
                                        "the notebook this run publishes: running it")
                if done and entry != final and final.resolve() != entry.resolve():
                    replace_dir(entry, final, link=True)
                    why = f"reused from {entry} (computed by {read_json(entry / STAMP)['run']})"
                # one line per stage: a stage that runs ends its line when it is done
                # (papermill's bar, when shown, goes on lines of its own)
                _log(f"{stage.name}: {why}", end="" if not (done or progress) else "\n")
                if not done:
                    _compute(stage, params, h, inputs, hashes, prof, root, run_dir, entry,
                             notebook_dir, progress, forced=stage.name in force,
                             values=stage_values(declared[stage.name], params)
                             if stage.name in headless else None)
                    if entry != final:
                        replace_dir(entry, final, link=True)
        _record_params(prof, run_dir)
    if publish:
        publish_notebooks(run_dir, book_dir, notebook_dir)
    return run_dir


def _headless_stages(headless: bool | Collection[str], publish: bool) -> frozenset[str]:
    """The stages a run computes with their functions (``run``'s ``headless``), checked."""
    from ..stages.pipeline import STAGE_FUNCTIONS

    if headless is True:
        headless = STAGE_FUNCTIONS
    headless = frozenset(headless or ())
    unknown = sorted(headless - set(STAGE_FUNCTIONS))
    if unknown:
        raise ParameterError(f"headless {unknown}: these stages have no function; those that "
                             f"do: {', '.join(STAGE_FUNCTIONS)}")
    if headless and publish:
        raise ParameterError("a headless stage has no notebook to publish: run it with "
                             "--no-publish (publish=False), or without --headless")
    return headless


def _record_params(prof: dict[str, Any], run_dir: Path) -> None:
    """Write the resolved profile of a run that succeeded to ``params.yaml`` (each stage's
    own parameters are in its ``stage.json``)."""
    write_text(run_dir / "params.yaml", yaml.safe_dump(
        {"profile": prof["name"], "source": prof["path"], "overrides": prof.get("overrides", []),
         "description": prof.get("description", ""), "dataset": prof["dataset"],
         "params": prof["params"]}, sort_keys=True))


def publish_notebooks(run_dir: str | os.PathLike, book_dir: str | os.PathLike,
                      notebook_dir: str | os.PathLike = NOTEBOOK_DIR) -> list[Path]:
    """Write each finished stage's executed notebook to ``book_dir`` (what the book renders),
    arranged for a reader (:func:`reader_view`), its text (markdown cells) that of the
    source notebook in ``notebook_dir`` (a text edit does not recompute the stage:
    :func:`anbn_utils.runner.stages.notebook_hash`), and closed by a "Downloads" section
    linking the stage's TSV tables, copied to ``book_dir/tables/<stage>/``."""
    import nbformat

    run_dir, book_dir = Path(run_dir), Path(book_dir)
    book_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for stage in STAGES:
        src = run_dir / stage.name / f"{stage.name}.ipynb"
        if src.is_file():
            dst = book_dir / src.name
            nb = nbformat.read(src, as_version=4)
            source = stage.notebook(notebook_dir)
            if source.is_file():
                current_text(nb, nbformat.read(source, as_version=4))
            nb = as_published(nb, stage.name, run_dir)
            tables = _publish_tables(run_dir / stage.name, book_dir / TABLES / stage.name)
            if tables:
                nb.cells.append(nbformat.v4.new_markdown_cell(_downloads_text(
                    [f"{TABLES}/{stage.name}/{t}" for t in tables])))
            with atomic_path(dst) as tmp:
                nbformat.write(reader_view(nb), tmp)
            out.append(dst)
    write_text(book_dir / "RUN.txt", f"{run_dir}\n")
    return out


def _publish_tables(stage_dir: Path, dst: Path) -> list[str]:
    """Copy a stage's TSV tables to ``dst`` (replacing what an earlier publication left
    there); return their paths relative to the stage folder."""
    shutil.rmtree(dst, ignore_errors=True)
    src = stage_dir.resolve()
    names = [p.relative_to(src) for p in sorted(src.rglob("*.tsv"))] if src.is_dir() else []
    for name in names:
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, dst / name)
    return [n.as_posix() for n in names]


def _downloads_text(paths: Sequence[str]) -> str:
    """The closing section of a published chapter: its tables as files (MyST makes each
    relative link to a file a download)."""
    links = ", ".join(f"[`{p.split('/', 2)[2]}`]({p})" for p in paths)
    return ("## Downloads\n\nThis chapter's tables as tab-separated files (the run's stage "
            f"folder holds them; `anbn_utils.io.read_table` reads them): {links}.")


def shown_path(path: str | os.PathLike) -> str:
    """A path as the book shows it: relative to the repository when it lies there, with the
    home folder as ``~`` otherwise (no absolute path of the building machine)."""
    path = Path(path).absolute()
    if path.is_relative_to(REPO_ROOT):
        return str(path.relative_to(REPO_ROOT))
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def _without_machine_paths(text: str) -> str:
    text = text.replace(f"{REPO_ROOT}{os.sep}", "").replace(str(REPO_ROOT), ".")
    return text.replace(f"{Path.home()}{os.sep}", "~/")


def as_published(nb, stage: str, run_dir: str | os.PathLike):
    """An executed notebook as the run in ``run_dir`` publishes it: every caption's
    provenance (:func:`anbn_utils.figures.provenance`) and the ``run_dir`` and ``stage_dir``
    parameters name this run, also when another run computed the stage (shared through the
    store: the results are the same, the run is not), and no absolute path of the building
    machine is left (:func:`shown_path`)."""
    import ast
    import json

    from ..figures import PROVENANCE, provenance

    shown = shown_path(run_dir)
    sentence = provenance(stage, run_dir, shown)

    def clean(text: str) -> str:
        return _without_machine_paths(PROVENANCE.sub(lambda _: sentence, text))

    own = {"run_dir": shown, "stage_dir": f"{shown}/{stage}"}
    papermill = nb.metadata.get("papermill", {})
    if "parameters" in papermill:
        papermill["parameters"].update(own)
    if "output_path" in papermill:
        papermill["output_path"] = f"{shown}/{stage}/{stage}.ipynb"
    nb.metadata = json.loads(_without_machine_paths(json.dumps(nb.metadata)))
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            lines = []
            for line in cell.source.splitlines():
                name, sep, _ = line.partition(" = ")
                if sep and name in own:
                    line = f"{name} = {own[name]!r}"
                lines.append(line)
            cell.source = _without_machine_paths("\n".join(lines))
            ast.parse(cell.source)  # still Python
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = clean(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    output["data"][mime] = clean(value)
    return nb


def current_text(executed, source) -> None:
    """Give the markdown cells of an executed notebook the text of its source notebook's, in
    order (nothing when their numbers differ: then the stage's hash differs too and it is
    computed again)."""
    cells = [c for c in executed.cells if c.cell_type == "markdown"]
    texts = [c.source for c in source.cells if c.cell_type == "markdown"]
    if len(cells) == len(texts):
        for cell, text in zip(cells, texts):
            cell.source = text


def _same_literal(a: str, b: str) -> bool:
    """Whether two Python literals (a parameter's default and its value) are equal."""
    import ast

    try:
        return ast.literal_eval(a.strip()) == ast.literal_eval(b.strip())
    except (ValueError, SyntaxError):
        return a.strip() == b.strip()


def reader_view(nb):
    """An executed notebook as the book shows it (Jupyter Book's cell tags): one parameters
    block with the values this run used (the declared cell, each value papermill injected
    written in place of the default, its comment kept; the injected cell removed), the
    setup cell (parameter check, imports) removed, every other code cell collapsed behind a
    click (its output shown).  A comment that marks the default as the paper's, ``(paper)``,
    names the paper's value instead where this run's differs (``n_epochs = 30  # ...
    (the paper: 100)``)."""
    import ast

    injected = next((c for c in nb.cells
                     if "injected-parameters" in c.metadata.get("tags", [])), None)
    values = {}
    if injected is not None:
        for node in ast.parse(injected.source).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                values[node.targets[0].id] = ast.get_source_segment(injected.source, node.value)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        if "parameters" in tags:
            lines = []
            for line in cell.source.splitlines():
                name, sep, rest = line.partition(" = ")
                if sep and name.isidentifier() and name in values:
                    default, _, comment = rest.partition("  # ")
                    if "(paper)" in comment and not _same_literal(default, values[name]):
                        # the default is the paper's value, this run's is not
                        comment = comment.replace("(paper)", f"(the paper: {default.strip()})")
                    line = f"{name} = {values[name]}" + (f"  # {comment}" if comment else "")
                lines.append(line)
            header = "# The parameters of this run (defaults, and the values the runner set)"
            cell.source = "\n".join([header, *lines[1:]])
        elif "injected-parameters" in tags:
            tags.add("remove-cell")
        elif "check_notebook_parameters(" in cell.source:
            tags.add("remove-input")
        else:
            tags.add("hide-input")
        cell.metadata["tags"] = sorted(tags)
    return nb

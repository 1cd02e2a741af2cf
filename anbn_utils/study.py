"""Studies: many runs of one pipeline, with the stages they share computed once.

A study is a YAML file: a base profile and named variants, each a list of parameter
overrides in the runner's ``--set`` syntax::

    description: one line
    base: phantom                    # a shipped profile, or a path (relative to this file)
    stages: [04_coupling]            # optional: run only these (and what they need)
    set: [compare_run_dir=null]      # optional: overrides of every variant, before its own
    variants:
      real: []                       # the base profile as it is
      untrained: [model=random:sentence-transformers/all-MiniLM-L6-v2]
      canica: [bn_method=canica, n_components=8]
      null: {base: phantom-null, set: []}   # a variant of another profile
      halves: {set: [fit_half=1], stages: [04_coupling]}   # its own stages

``python -m anbn_utils.study verdict`` runs every variant through the same runner into
``runs/study-<name>/<variant>/``: the stages the book's run of the base profile can reuse
through their notebooks, the others headless, by their package functions alone
(:func:`shared_with_base`).  The variants share one store of stages
with each other and with the runs beside the study (``runs/.store``, see
:func:`anbn_utils.runner.execute.run`): a stage whose inputs, parameters and code hash the
same in several runs is computed once, and the others link to it (their logs say
``reused from``).  Variants run in parallel with joblib,
or on a Dask cluster (``--scheduler tcp://host:8786``); a variant that fails is reported in
the table and does not stop the others, and running the study again resumes each variant
where it stopped.  The study writes ``study.tsv`` and ``study.json``: each variant's status,
wall time, stages computed and reused, and headline numbers read from its artifacts
(:func:`headline`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .errors import DataError, ParameterError, RunError
from .io import read_json, read_table, write_json, write_table
from .runner.processes import Interrupted, die_with_parent, owning_descendants
from .stages.formats import load_coupling_summary

__all__ = ["STUDY_DIR", "Study", "Variant", "finished_variants", "headline", "load_study", "main",
           "run_study", "shared_with_base"]

STUDY_DIR = Path(__file__).resolve().parent / "studies"
_STUDY_KEYS = {"description", "base", "set", "stages", "variants", "n_jobs"}


@dataclass(frozen=True)
class Variant:
    """One run of a study: a name, its profile (the study's base unless the variant names
    another), its ``--set`` overrides of that profile and the stages it runs (the study's
    unless the variant names its own)."""

    name: str
    overrides: tuple[str, ...] = ()
    base: str | None = None
    stages: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Study:
    """A base profile and its variants (see the module docstring)."""

    name: str
    path: Path
    base: str
    variants: tuple[Variant, ...]
    description: str = ""
    stages: tuple[str, ...] | None = None
    n_jobs: int = 1
    meta: dict[str, Any] = field(default_factory=dict)


def load_study(study: str | os.PathLike) -> Study:
    """Read a study by name (``anbn_utils/studies/<name>.yaml``) or path and check every
    variant against the notebooks' parameters before anything runs.

    Raises
    ------
    ParameterError
        For an unknown key, a variant that is not a list of ``NAME=VALUE`` strings, or a
        variant whose parameters the runner rejects; the message names the variant.
    """
    from .runner.stages import closure, declared_parameters

    path = Path(study)
    if not path.suffix:
        path = STUDY_DIR / f"{study}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in STUDY_DIR.glob("*.yaml")))
        raise ParameterError(f"study {study!r} not found ({path}); shipped studies: {shipped}, "
                             "or pass the path of a YAML file")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParameterError(f"{path} is not valid YAML: {e}") from e
    unknown = sorted(set(spec) - _STUDY_KEYS)
    if unknown or "base" not in spec or not isinstance(spec.get("variants"), dict):
        raise ParameterError(f"{path}: a study has the keys {sorted(_STUDY_KEYS)} with 'base' "
                             f"and a mapping 'variants'" + (f"; unknown: {unknown}" if unknown
                                                           else ""))
    def locate(base) -> str:  # a profile name, or a path relative to the study file
        base = str(base)
        return str((path.parent / base).resolve()) if Path(base).suffix else base

    base = locate(spec["base"])
    common = spec.get("set") or []
    if not isinstance(common, list) or not all(isinstance(o, str) for o in common):
        raise ParameterError(f"{path}: 'set' (overrides of every variant) must be a list of "
                             f"'NAME=VALUE' strings, not {common!r}")
    declared = declared_parameters()
    stages = tuple(spec["stages"]) if spec.get("stages") else None
    if stages:
        closure(stages)  # unknown stage names are an error here
    variants = []
    for name, overrides in spec["variants"].items():
        if not str(name).replace("-", "_").isidentifier():
            raise ParameterError(f"{path}: variant name {name!r} must be a plain name "
                                 "(letters, digits, '-' and '_'): it names a folder")
        own = own_stages = None
        if isinstance(overrides, dict):
            unknown = sorted(set(overrides) - {"base", "set", "stages"})
            if unknown:
                raise ParameterError(f"{path}: variant {name!r} has unknown key(s) {unknown}; "
                                     "a variant is a list of overrides or {base: ..., set: "
                                     "[...], stages: [...]}")
            own, own_stages = overrides.get("base"), overrides.get("stages")
            overrides = overrides.get("set")
            if own_stages is not None:
                if not isinstance(own_stages, list) or not own_stages:
                    raise ParameterError(f"{path}: variant {name!r}: stages must be a list of "
                                         f"stage names, not {own_stages!r}")
                try:
                    closure(own_stages)
                except ParameterError as e:
                    raise ParameterError(f"{path}: variant {name!r}: {e}") from None
                own_stages = tuple(own_stages)
        if overrides is None:
            overrides = []
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise ParameterError(f"{path}: variant {name!r} must be a list of 'NAME=VALUE' "
                                 f"strings (the runner's --set syntax), not {overrides!r}")
        overrides = [*common, *overrides]
        try:
            _check_variant(locate(own) if own else base, overrides, declared)
        except ParameterError as e:
            raise ParameterError(f"{path}: variant {name!r}: {e}") from None
        variants.append(Variant(str(name), tuple(overrides), locate(own) if own else None,
                                own_stages))
    if not variants:
        raise ParameterError(f"{path}: the study has no variant")
    return Study(name=path.stem, path=path, base=base, variants=tuple(variants),
                 description=str(spec.get("description", "")), stages=stages,
                 n_jobs=_n_jobs(spec.get("n_jobs", 1), path))


def _n_jobs(value: Any, path: Path) -> int:
    """A study's ``n_jobs``: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{path}: n_jobs (variants at once) must be a positive integer, "
                             f"not {value!r}")
    return value


def headline(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Headline numbers of a finished run, read from its artifacts (flat, for a table).

    Per story: the mean of the ANs' and BNs' maximal PCC, per null model the share of
    significant ANs and the number of significant BNs at the primary FDR level, and the
    predictive check's mean out-of-sample R^2 (ridge and anchor AN); on the
    phantom, the mean |spatial r| of the planted networks' matched BNs and how many
    planted ANs are rank 1 by |r| for their BN; for a VS-DBN, each layer's relative
    reconstruction error.  Missing artifacts leave their numbers out.
    """
    run_dir = Path(run_dir)
    out: dict[str, Any] = {}
    if (run_dir / "04_coupling" / "summary.json").is_file():
        s = load_coupling_summary(run_dir / "04_coupling")
        for task, st in s["stories"].items():
            out[f"{task}.an_max_pcc_mean"] = st["an_max_pcc_mean"]
            out[f"{task}.bn_max_pcc_mean"] = st["bn_max_pcc_mean"]
            for null, n in st["nulls"].items():
                out[f"{task}.{null}.ans_significant_pct"] = n["ans_significant_pct"]
                out[f"{task}.{null}.bns_significant"] = n["bns_significant"]
            for key in ("ridge_r2_mean", "anchor_r2_mean"):
                if key in st:
                    out[f"{task}.{key}"] = st[key]
    maps = run_dir / "03_bns" / "map_recovery.tsv"
    if maps.is_file():
        out["map_recovery_abs_r"] = float(read_table(maps)["spatial_r"].abs().mean())
    planted = run_dir / "04_coupling" / "planted_recovery.tsv"
    if planted.is_file():
        table = read_table(planted)
        out["planted_rank1_abs"] = int((table["rank_abs"] == 1).sum())
        out["planted_pairs"] = len(table)
    diagnostics = run_dir / "03_bns" / "diagnostics.tsv"
    if diagnostics.is_file():
        for row in read_table(diagnostics).itertuples():
            out[f"vsdbn.layer{row.layer}.relative_error"] = row.relative_error
    return out


def _stage_log(log: str) -> dict[str, int]:
    lines = log.splitlines()
    return {"stages_computed": sum(": done in " in line for line in lines),
            "stages_reused": sum(": reused from " in line for line in lines)}


def _cause(error: Exception) -> str:
    """A failure in one line for the study table, with its cause: a failed stage's first
    two lines (``stage 03_bns failed in cell [8] (...): ValueError: ...``), else the error's
    type and message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if isinstance(error, RunError) and len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[1]}"
    if isinstance(error, (ParameterError, DataError, RunError)):
        return lines[0] if lines else type(error).__name__
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def shared_with_base(study_base: str, base: str, overrides: Sequence[str]) -> list[str]:
    """The stages a variant shares with its study's base profile as the book runs it (no
    study or variant override): those whose values (but :data:`EXECUTION_ONLY
    <anbn_utils.runner.execute.EXECUTION_ONLY>` ones), and those of every stage they read,
    are the base's, on the same dataset.  Only these can be the ones a published run of
    the base reuses from the store; a study computes every other stage of its variants
    headless (:func:`anbn_utils.runner.execute.run`), without the notebook no one reads.

    Parameters
    ----------
    study_base : str
        The study's base profile (name or path).
    base : str
        The variant's profile (the study's, or its own ``base``).
    overrides : sequence of str
        The variant's overrides (the study's ``set`` first).
    """
    from .runner.execute import EXECUTION_ONLY
    from .runner.profiles import apply_overrides, load_profile
    from .runner.stages import STAGES, closure
    from .stages.pipeline import stage_parameters

    book, own = load_profile(study_base), apply_overrides(load_profile(base), overrides)
    if own["dataset"] != book["dataset"]:
        return []
    book_values, own_values = stage_parameters(book), stage_parameters(own)

    def same(stage: str) -> bool:
        kept = [{k: v for k, v in values[stage].items() if k not in EXECUTION_ONLY}
                for values in (book_values, own_values)]
        return kept[0] == kept[1]

    return [s.name for s in STAGES if all(same(n.name) for n in closure([s.name]))]


def _run_variant(base: str, variant: Variant, study_dir: str, stages: Sequence[str] | None,
                 force: Sequence[str], share: bool = True,
                 study_pid: int | None = None, study_base: str | None = None) -> dict[str, Any]:
    """Run one variant (in a worker process, which ends with the study process
    ``study_pid``); its runner log is appended to ``<variant>.log``, one section per
    attempt.  The stages it does not share with the study's base profile
    (:func:`shared_with_base`) are computed headless."""
    from .runner.execute import run

    if study_pid is not None:
        die_with_parent(study_pid)

    study_dir = Path(study_dir)
    log_path = study_dir / f"{variant.name}.log"
    t0 = time.perf_counter()
    row: dict[str, Any] = {"variant": variant.name, "profile": Path(base).stem,
                           "overrides": " ".join(variant.overrides)}
    # each attempt appends to the log (an earlier attempt's is kept, never truncated)
    start = log_path.stat().st_size if log_path.is_file() else 0
    with open(log_path, "a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        print(f"=== attempt of {datetime.now():%Y-%m-%d %H:%M:%S} (process {os.getpid()}) ===",
              flush=True)
        try:
            from .stages.pipeline import STAGE_FUNCTIONS

            shared = shared_with_base(study_base or base, base, variant.overrides)
            run(base, run_dir=study_dir / variant.name, stages=stages, force=force,
                overrides=variant.overrides, publish=False, progress=False,
                store=study_dir.parent / ".store" if share else False,
                headless=[s for s in STAGE_FUNCTIONS if s not in shared])
            row["status"] = "done"
        except Exception as e:  # noqa: BLE001 (any failure is the variant's: recorded, the table written)
            row["status"] = "failed"
            row["error"] = _cause(e)
            print(f"error: {e}")
            if not isinstance(e, (ParameterError, DataError, RunError)):  # a bug: its traceback
                traceback.print_exc(file=log)
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    row.update(_stage_log(log_path.read_bytes()[start:].decode("utf-8", errors="replace")))
    if row["status"] == "done":
        row.update(headline(study_dir / variant.name))
    return row


#: Seconds a study waits for a Dask scheduler to have a worker before it gives up.
DASK_WORKER_TIMEOUT = 60


def _dask_client(scheduler: str):
    """A client of the scheduler at ``scheduler`` that has at least one worker (a scheduler
    without workers used to take the study and hang without a word)."""
    try:
        from distributed import Client
    except ImportError as e:
        raise ParameterError("--scheduler needs dask.distributed: pip install "
                             "'dask[distributed]'") from e
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as e:
        raise RunError(f"no Dask scheduler answers at {scheduler} ({e}); start one "
                       "(`dask scheduler`, workers with `dask worker <address>`) or run "
                       "without --scheduler to use this machine") from None
    try:
        client.wait_for_workers(1, timeout=DASK_WORKER_TIMEOUT)
    except (TimeoutError, OSError):
        client.close()
        raise RunError(f"the Dask scheduler at {scheduler} has no worker after "
                       f"{DASK_WORKER_TIMEOUT} s: start workers (`dask worker {scheduler}`) "
                       "or run without --scheduler to use this machine") from None
    return client


def run_study(study: str | os.PathLike | Study, *, study_dir: str | os.PathLike | None = None,
              n_jobs: int | None = None, scheduler: str | None = None,
              variants: Sequence[str] | None = None, force: Sequence[str] = (),
              overrides: Sequence[str] = (), share: bool = True, log=print) -> pd.DataFrame:
    """Run every variant of a study; return (and write) the study table.

    Parameters
    ----------
    study : str, path or Study
        A shipped study's name, a YAML path, or a loaded :class:`Study`.
    study_dir : path, optional
        Default ``runs/study-<name>``; each variant runs in ``<study_dir>/<variant>``.
    n_jobs : int, optional
        Variants run at once on this machine (joblib); default the study's ``n_jobs``.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): the variants run on that
        cluster's workers instead (each worker needs this package and the study folder
        on a shared file system).
    variants : sequence of str, optional
        Run only these variants (the table still lists every finished one).
    force : sequence of str
        Stages to re-run in every variant (``--force``).
    overrides : sequence of str
        ``NAME=VALUE`` overrides applied to every variant before its own (``--set``).
    share : bool
        Share stages through the store beside the study folder (``runs/.store`` for
        ``runs/study-<name>``, the store the book's own runs use too); ``False`` computes
        every stage of every variant in its own folder (to measure what sharing saves).

    Returns
    -------
    DataFrame
        One row per variant: ``variant``, ``overrides``, ``status`` (``done`` or
        ``failed``, with ``error``), ``wall_s``, ``stages_computed``, ``stages_reused`` and
        the :func:`headline` numbers; written to ``study.tsv`` and ``study.json``.
    """
    from joblib import Parallel, delayed

    from .runner.lock import hold

    if not isinstance(study, Study):
        study = load_study(study)
    study_dir = Path(study_dir or Path("runs") / f"study-{study.name}").resolve()
    study_dir.mkdir(parents=True, exist_ok=True)
    chosen = list(study.variants)
    if variants:
        names = {v.name for v in study.variants}
        unknown = sorted(set(variants) - names)
        if unknown:
            raise ParameterError(f"study {study.name}: no variant {unknown}; its variants are "
                                 f"{', '.join(sorted(names))}")
        chosen = [v for v in study.variants if v.name in variants]
    if overrides:
        chosen = [Variant(v.name, (*overrides, *v.overrides), v.base, v.stages) for v in chosen]
        _check_variants(study, chosen)  # a typo fails here, before any variant or table
    busy = (f"the study folder {study_dir} is in use by {{holder}}: wait for that study to "
            "finish (or stop it), or give this one another --study-dir")
    with hold(study_dir / ".study.lock", busy=busy):  # two studies into one folder: refused
        args = [(v.base or study.base, v, str(study_dir), v.stages or study.stages, tuple(force),
                 share, os.getpid(), study.base)
                for v in chosen]
        t0 = time.perf_counter()
        log(f"study {study.name}: {len(chosen)} variant(s) into {study_dir}")
        if scheduler:
            client = _dask_client(scheduler)
            try:
                rows = client.gather(client.map(_run_variant, *zip(*args), pure=False))
            finally:
                client.close()
        else:  # a stopped study ends its workers and their kernels
            with owning_descendants(log):
                rows = Parallel(n_jobs=n_jobs or study.n_jobs)(
                    delayed(_run_variant)(*a) for a in args)
        for row in rows:
            log(f"  {row['variant']}: {row['status']} in {row['wall_s']} s, "
                f"{row['stages_computed']} stage(s) computed, {row['stages_reused']} reused"
                + (f" - {row['error']}" if row["status"] == "failed" else ""))
        table = _merge(study_dir, rows, [v.name for v in study.variants])
        write_table(study_dir / "study.tsv", table)
        write_json(study_dir / "study.json", {
            "study": study.name, "source": str(study.path), "base": study.base,
            "description": study.description, "wall_s": round(time.perf_counter() - t0, 1),
            "variants": {v.name: {"base": v.base or study.base, "set": list(v.overrides),
                                  "stages": list(v.stages or study.stages or [])}
                         for v in study.variants},
            "rows": table.to_dict(orient="records")})
    return table


def finished_variants(study_dir: str | os.PathLike | None) -> dict[str, Path]:
    """Variant -> run directory of the variants a study finished (``study.json``); empty
    when there is no study there."""
    if study_dir is None or not (Path(study_dir) / "study.json").is_file():
        return {}
    rows = read_json(Path(study_dir) / "study.json")["rows"]
    return {r["variant"]: Path(study_dir) / r["variant"] for r in rows if r["status"] == "done"}


def _check_variant(profile: str, overrides: Sequence[str], declared: dict) -> None:
    """A variant's parameters resolve against its profile's notebooks, and its dataset's
    against the dataset's generator (a typo there used to fail only when the variant ran).

    Raises
    ------
    ParameterError
    """
    from .runner.datasets import validate_dataset_params
    from .runner.profiles import apply_overrides, load_profile, resolve_params

    resolved = apply_overrides(load_profile(profile), overrides)
    resolve_params(resolved, declared)
    if resolved["dataset"]["kind"] != "narratives":
        validate_dataset_params(resolved)


def _check_variants(study: Study, variants: Sequence[Variant]) -> None:
    """Each variant checked as :func:`load_study` checks them (here with the overrides of a
    call added)."""
    from .runner.stages import declared_parameters

    declared = declared_parameters()
    for v in variants:
        try:
            _check_variant(v.base or study.base, v.overrides, declared)
        except ParameterError as e:
            raise ParameterError(f"study {study.name}: variant {v.name!r} with the overrides "
                                 f"given: {e}") from None


def _merge(study_dir: Path, rows: list[dict], order: list[str]) -> pd.DataFrame:
    """This invocation's rows over those of earlier ones (``study.json``), in study order."""
    earlier = {}
    if (study_dir / "study.json").is_file():
        earlier = {r["variant"]: r for r in read_json(study_dir / "study.json")["rows"]}
    merged = {**earlier, **{r["variant"]: r for r in rows}}
    return pd.DataFrame([merged[n] for n in order if n in merged])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m anbn_utils.study",
                                     description="Run every variant of a study.")
    parser.add_argument("study", help="shipped study name or YAML path")
    parser.add_argument("--study-dir", default=None, help="default: runs/study-<name>")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="variants at once on this machine (default: the study's n_jobs)")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (tcp://host:8786): run on that cluster")
    parser.add_argument("--variant", action="append", dest="variants", default=None,
                        help="run only this variant (repeatable)")
    parser.add_argument("--force", action="append", default=[],
                        help="re-run this stage in every variant (repeatable)")
    parser.add_argument("--set", action="append", dest="overrides", default=[],
                        metavar="NAME=VALUE", help="override applied to every variant")
    parser.add_argument("--no-share", action="store_true",
                        help="compute every stage of every variant in its own folder")
    args = parser.parse_args(argv)
    try:
        table = run_study(args.study, study_dir=args.study_dir, n_jobs=args.n_jobs,
                          scheduler=args.scheduler, variants=args.variants, force=args.force,
                          overrides=args.overrides, share=not args.no_share)
    except ParameterError as e:
        parser.exit(2, f"error: {e}\n")
    except RunError as e:
        parser.exit(1, f"error: {e}\n")
    except KeyboardInterrupt:
        return 130
    except Interrupted as e:
        return 128 + e.signum
    return int((table["status"] != "done").any())


if __name__ == "__main__":
    sys.exit(main())

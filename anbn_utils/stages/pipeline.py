"""A profile's stages run with the stage functions alone: no notebook, no shared store, no
book.

For work that runs the pipeline many times and reads only its files (the calibration of the
verdicts on many phantoms, ``benchmarks/calibrate_verdicts_phantom.py``): each stage's
values are those the runner would give its notebook (the notebook's defaults, then the
profile's, checked by the same schema), each stage's result is written by its own ``save``,
and a stage whose inputs another run already holds can be linked instead of recomputed.
The runner (:mod:`anbn_utils.runner`) stays the way to make a book: it hashes, shares,
resumes and publishes; :func:`run_headless` does none of that.

The runner's own headless stages (``run(..., headless=...)``, ``--headless``) run
:func:`run_stage` in a process of their own, the notebook's way (``python -m
anbn_utils.stages.pipeline <stage> <values.json> <run_dir> <out_dir>``, from the repository
root, where the notebooks run): the same files as the notebook writes, without its figures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import ParameterError

__all__ = ["STAGE_FUNCTIONS", "run_headless", "run_stage", "stage_parameters"]

#: The stages that have a function, in order (00_phantom and 07_verdict compute nothing that
#: another stage reads).
STAGE_FUNCTIONS = ("01_data", "02_ans", "03_bns", "04_coupling", "05_pos", "06_layers")


def stage_parameters(profile: Mapping, overrides: Sequence[str] = ()) -> dict[str, dict]:
    """Per stage, the values its notebook would run with: its defaults, then the profile's
    (with ``overrides``), checked as the runner checks them.

    Parameters
    ----------
    profile : mapping or str or path
        A loaded profile (:func:`anbn_utils.runner.profiles.load_profile`), or its name or
        path.
    overrides : sequence of str
        ``NAME=VALUE`` changes (:func:`anbn_utils.runner.profiles.apply_overrides`).
    """
    from ..runner.profiles import apply_overrides, load_profile, resolve_params
    from ..runner.schema import check_notebook_parameters
    from ..runner.stages import declared_parameters, stage_values

    if not isinstance(profile, Mapping):
        profile = load_profile(profile)
    declared = declared_parameters()
    given = resolve_params(apply_overrides(profile, overrides), declared)
    values = {stage: stage_values(declared[stage], given[stage]) for stage in declared}
    for stage, v in values.items():
        check_notebook_parameters(stage, v)
    return values


def run_headless(profile: Mapping | str | os.PathLike, run_dir: str | os.PathLike, *,
                 stages: Sequence[str] = STAGE_FUNCTIONS, overrides: Sequence[str] = (),
                 reuse: Mapping[str, str | os.PathLike] | None = None) -> Path:
    """Run a profile's stages into ``run_dir`` with the stage functions.

    Parameters
    ----------
    profile : mapping or str or path
        See :func:`stage_parameters`.
    run_dir : path
        A new folder (or one holding only the stages given in ``reuse``).  A phantom or
        synthetic profile's dataset is generated into ``<run_dir>/dataset``.
    stages : sequence of str
        The stages to run, in the order of :data:`STAGE_FUNCTIONS`.
    overrides : sequence of str
    reuse : mapping of stage -> path, optional
        Stage folders of another run to link instead of computing (the caller vouches that
        they are what this run would compute, e.g. the ANs of the same stories and model);
        ``"dataset"``: a generated dataset to link instead of generating it.

    Returns
    -------
    Path
        ``run_dir``.

    Raises
    ------
    ParameterError
        For an unknown stage or a stage folder that is already there.
    """
    from ..runner.datasets import generator, validate_dataset_params
    from ..runner.profiles import apply_overrides, load_profile

    unknown = sorted(set(stages) - set(STAGE_FUNCTIONS))
    if unknown:
        raise ParameterError(f"run_headless: no stage function for {unknown}; the stages are "
                             f"{', '.join(STAGE_FUNCTIONS)}")
    if not isinstance(profile, Mapping):
        profile = load_profile(profile)
    profile = apply_overrides(profile, overrides)
    values = stage_parameters(profile)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    spec, reuse = profile["dataset"], dict(reuse or {})
    if spec["kind"] == "narratives":
        root = values["01_data"]["dataset_root"]
    else:
        root = run_dir / "dataset"
        if "dataset" in reuse:
            root.symlink_to(Path(reuse.pop("dataset")).resolve(), target_is_directory=True)
        elif not root.is_dir():
            generator(spec["kind"])(root, **validate_dataset_params(profile))
    for stage in (s for s in STAGE_FUNCTIONS if s in stages):
        folder = run_dir / stage
        if folder.exists() or folder.is_symlink():
            raise ParameterError(f"{folder} is already there: run_headless writes new runs")
        if stage in reuse:
            folder.symlink_to(Path(reuse[stage]).resolve(), target_is_directory=True)
            continue
        run_stage(stage, {**values[stage], "dataset_root": str(root)}, run_dir).save(folder)
    return run_dir


def run_stage(stage: str, values: Mapping, run_dir: str | os.PathLike,
              folder: str | os.PathLike | None = None):
    """The result of one stage's function (not yet saved: its ``save(folder)`` writes the
    stage folder).

    Parameters
    ----------
    stage : str
        One of :data:`STAGE_FUNCTIONS`.
    values : mapping
        The stage's values, as its notebook receives them (:func:`stage_parameters`).
    run_dir : path
        The run whose earlier stages it reads.
    folder : path, optional
        Where the result will be saved (``01_data`` writes surrogate scans there as it
        computes them); default ``<run_dir>/<stage>``.
    """
    run_dir = Path(run_dir)
    folder = Path(folder) if folder is not None else run_dir / stage
    if stage == "01_data":
        from .data import DataParameters, run_data

        return run_data(DataParameters.from_mapping(values), folder)
    if stage == "02_ans":
        from .ans import AnsParameters, run_ans

        return run_ans(run_dir, AnsParameters.from_mapping(values))
    if stage == "03_bns":
        from .bns import BnsParameters, run_bns

        return run_bns(run_dir, BnsParameters.from_mapping(values))
    if stage == "04_coupling":
        from .coupling import CouplingParameters, run_coupling

        return run_coupling(run_dir, CouplingParameters.from_mapping(values),
                            null_run_dir=values.get("null_run_dir"))
    if stage == "05_pos":
        from .pos import PosParameters, run_pos

        return run_pos(run_dir, PosParameters.from_mapping(values))
    from .layers import LayersParameters, run_layers

    return run_layers(run_dir, LayersParameters.from_mapping(values))


def _main(argv: Sequence[str]) -> None:
    """``python -m anbn_utils.stages.pipeline <stage> <values.json> <run_dir> <out_dir>``: one
    stage's function, its result saved into ``out_dir`` (the runner's headless stages)."""
    import json

    stage, values, run_dir, out = argv
    values = json.loads(Path(values).read_text(encoding="utf-8"))
    run_stage(stage, values, run_dir, out).save(out)


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])

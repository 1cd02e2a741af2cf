"""Run profiles: YAML files of parameters for a whole run.

.. code-block:: yaml

    description: one line
    dataset:                 # where the data come from
      kind: phantom          # 'phantom' or 'synthetic' (generated into the run), or 'narratives'
      params: {...}          # arguments of the generator (phantom and synthetic only)
    params: {...}            # notebook parameters, shared by every notebook that declares them

Shipped profiles live in ``anbn_utils/profiles``; a path to any YAML file works too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import ParameterError
from .schema import problems, raise_problems
from .stages import stage_values

__all__ = ["DATASET_KINDS", "PROFILE_DIR", "RESERVED", "apply_overrides", "list_profiles",
           "load_profile", "resolve_params"]

PROFILE_DIR = Path(__file__).resolve().parents[1] / "profiles"
_PROFILE_KEYS = {"description", "dataset", "params"}
_DATASET_KEYS = {"kind", "params"}
DATASET_KINDS = ("phantom", "synthetic", "narratives")
#: Parameters the runner sets for every notebook; profiles may not set them.
RESERVED = ("run_dir", "stage_dir")


def list_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(profile: str | os.PathLike) -> dict[str, Any]:
    """Read a profile by name (shipped) or path, and check its structure.

    Parameter names and values are checked against the notebooks by :func:`resolve_params`.
    """
    path = Path(profile)
    if not path.suffix:
        path = PROFILE_DIR / f"{profile}.yaml"
    if not path.is_file():
        raise ParameterError(
            f"profile {profile!r} not found ({path}); shipped profiles: "
            f"{', '.join(list_profiles())}, or pass the path of a YAML file."
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParameterError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ParameterError(f"{path} must be a mapping with keys {sorted(_PROFILE_KEYS)}")
    unknown = set(data) - _PROFILE_KEYS
    if unknown:
        raise ParameterError(
            f"{path}: unknown key(s) {sorted(unknown)}; a profile has {sorted(_PROFILE_KEYS)}"
        )
    dataset = data.setdefault("dataset", {"kind": "narratives"})
    unknown = set(dataset) - _DATASET_KEYS
    if unknown:
        raise ParameterError(
            f"{path}: unknown key(s) {sorted(unknown)} under 'dataset'; allowed: "
            f"{sorted(_DATASET_KEYS)}"
        )
    if dataset.get("kind") not in DATASET_KINDS:
        raise ParameterError(
            f"{path}: dataset.kind must be one of {DATASET_KINDS}, not {dataset.get('kind')!r}"
        )
    dataset.setdefault("params", {})
    data.setdefault("params", {})
    data["name"] = path.stem
    data["path"] = str(path)
    return data


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


def resolve_params(
    profile: dict[str, Any], declared: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Check a profile's ``params`` and split them into what each stage's notebook declares.

    Parameters
    ----------
    profile : dict
        From :func:`load_profile` (and :func:`apply_overrides`).
    declared : dict
        From :func:`anbn_utils.runner.stages.declared_parameters`.

    Raises
    ------
    ParameterError
        For a name no notebook declares (a typo would otherwise be silently ignored),
        a reserved name (``run_dir``, ``stage_dir``), ``dataset_root`` in a profile whose
        dataset is generated (the runner sets it), or a value of the wrong type or range,
        alone or with the other values of a stage (:mod:`anbn_utils.runner.schema`).
    """
    where = profile.get("path", profile.get("name"))
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
            f"profile {where}: unknown parameter(s) {unknown}. "
            f"Known parameters: {', '.join(sorted(known))}"
        )
    if profile["dataset"]["kind"] != "narratives" and "dataset_root" in given:
        raise ParameterError(
            f"profile {where}: dataset_root is set by the runner for a generated "
            "dataset; remove it, or use dataset.kind: narratives"
        )
    per_stage = {name: {k: v for k, v in given.items() if k in params}
                 for name, params in declared.items()}
    found: dict[str, None] = {}  # each stage's values with its notebook's defaults, in order
    for name, params in declared.items():
        values = stage_values(params, per_stage[name])
        found.update(dict.fromkeys(problems({k: v for k, v in values.items()
                                             if k not in RESERVED})))
    raise_problems(list(found), where=f"profile {where}" + (
        f" with --set {' '.join(profile['overrides'])}" if profile.get("overrides") else ""))
    return per_stage

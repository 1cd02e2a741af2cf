"""Data locations and run profiles.

Locations resolve as: explicit argument > environment variable > default.

========================  ====================  ===========================
what                      environment variable  default
========================  ====================  ===========================
Narratives dataset root   ``ANBN_DATA``         ``~/anbn_data/narratives``
cache of derived arrays   ``ANBN_CACHE_DIR``    ``~/.cache/anbn``
========================  ====================  ===========================

A *profile* is a YAML file of parameters for a whole run (see ``anbn_utils/profiles``):

.. code-block:: yaml

    description: one line
    dataset:                 # where the data come from
      kind: phantom          # 'phantom' or 'synthetic' (generated into the run), or 'narratives'
      params: {...}          # arguments of the generator (phantom and synthetic only)
    params: {...}            # notebook parameters, shared by every notebook that declares them
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ParameterError

__all__ = ["PROFILE_DIR", "get_cache_dir", "get_data_root", "list_profiles", "load_profile",
           "resolve_device"]

PROFILE_DIR = Path(__file__).parent / "profiles"
_PROFILE_KEYS = {"description", "dataset", "params"}
_DATASET_KEYS = {"kind", "params"}
DATASET_KINDS = ("phantom", "synthetic", "narratives")


def get_data_root(root: str | os.PathLike | None = None) -> Path:
    """Narratives dataset root: ``root`` > ``$ANBN_DATA`` > ``~/anbn_data/narratives``."""
    if root is None:
        root = os.environ.get("ANBN_DATA") or Path.home() / "anbn_data" / "narratives"
    return Path(root).expanduser()


def get_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Cache folder: ``cache_dir`` > ``$ANBN_CACHE_DIR`` > ``~/.cache/anbn``."""
    if cache_dir is None:
        cache_dir = os.environ.get("ANBN_CACHE_DIR") or Path.home() / ".cache" / "anbn"
    return Path(cache_dir).expanduser()


def list_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(profile: str | os.PathLike) -> dict[str, Any]:
    """Read a profile by name (shipped) or path, and check its structure.

    Parameter *names* are checked against the notebooks by the runner
    (:func:`anbn_utils.run.resolve_params`); here only the layout is checked.
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


def resolve_device(device: str = "auto") -> str:
    """``'auto'`` -> ``'cuda'`` when PyTorch sees a GPU, else ``'cpu'``.

    Asking for ``'cuda'`` without a GPU is an error, not a silent fallback.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(
            f"device={device!r} but PyTorch sees no GPU on this machine; use device='auto' "
            "or 'cpu'."
        )
    return str(device)

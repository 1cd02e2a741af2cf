"""Data locations and the compute device.

Locations resolve as: explicit argument > environment variable > default.

========================  ====================  ===========================
what                      environment variable  default
========================  ====================  ===========================
Narratives dataset root   ``ANBN_DATA``         ``~/anbn_data/narratives``
cache of derived arrays   ``ANBN_CACHE_DIR``    ``~/.cache/anbn``
========================  ====================  ===========================

Run profiles (YAML files of parameters) are read by :mod:`anbn_utils.runner.profiles`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ParameterError

__all__ = ["get_cache_dir", "get_data_root", "resolve_device"]


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

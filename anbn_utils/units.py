"""Identifiers of units: BN display names and the layer of each AN.

Artifacts store units by 0-based integer index (``bn`` = column of the BN maps and time
courses, ``an`` = position in :func:`anbn_utils.ans.an_names` order); the 1-based names
``BN{k + 1}`` are for display only, and :func:`bn_index` reads one back from a user's
parameter.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import DataError, ParameterError

__all__ = ["an_layers", "bn_index", "bn_name", "bn_names"]


def bn_name(k: int) -> str:
    """Display name of BN ``k`` (0-based index): ``'BN{k + 1}'``."""
    return f"BN{int(k) + 1}"


def bn_names(n_bns: int) -> list[str]:
    """Display names of ``n_bns`` BNs, in index order."""
    return [bn_name(k) for k in range(n_bns)]


def bn_index(name: str, n_bns: int, parameter: str = "example_bn") -> int:
    """0-based index of the BN a user names ``'BN{k}'`` (1-based, as displayed).

    Raises
    ------
    ParameterError
        If ``name`` is not ``BN<k>`` with ``1 <= k <= n_bns`` (``'BN0'`` would otherwise
        wrap around to the last BN).
    """
    m = re.fullmatch(r"BN([0-9]+)", str(name).strip())
    if m is None or not 1 <= int(m.group(1)) <= n_bns:
        raise ParameterError(f"{parameter}={name!r}: expected a BN name 'BN1' .. 'BN{n_bns}' "
                             f"(this run has {n_bns} BNs)")
    return int(m.group(1)) - 1


def an_layers(n_ans: int, n_layers: int) -> np.ndarray:
    """0-based layer of each AN, ANs in :func:`anbn_utils.ans.an_names` order (layer-major).

    Parameters
    ----------
    n_ans : int
    n_layers : int
        Must divide ``n_ans`` (every layer has ``n_heads * head_dim`` ANs).

    Returns
    -------
    ndarray of shape (n_ans,), int
    """
    if n_layers < 1 or n_ans % n_layers:
        raise DataError(f"{n_ans} ANs cannot be split into {n_layers} layers of equal size: "
                        "the AN arrays and the model's layer count disagree")
    return np.arange(n_ans) // (n_ans // n_layers)

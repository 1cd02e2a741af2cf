"""The files of one story's coupling: the PCC matrix, anchors and the tests' arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import save_array

__all__ = ["TEST_ARRAYS", "save_coupling"]


#: The per-unit arrays :func:`save_coupling` writes for each null model.
TEST_ARRAYS = ("an_p", "an_p_tail", "an_q", "an_p_fwer", "bn_p", "bn_p_tail", "bn_q",
               "bn_p_fwer", "pair_p_fwer", "family_null")


def save_coupling(result: dict, folder) -> None:
    """Write one story's PCC matrix, anchors and, per null model, the arrays of
    :data:`TEST_ARRAYS` (``<name>_<null>.npy``) to ``folder``."""
    folder = Path(folder)
    for key in ("pcc", "an_to_bn", "an_max", "bn_to_an", "bn_max"):
        save_array(folder / f"{key}.npy", result[key])
    for null, t in result["tests"].items():
        for key in TEST_ARRAYS:
            value = t[key].astype(np.float32) if key == "pair_p_fwer" else t[key]
            save_array(folder / f"{key}_{null}.npy", value)

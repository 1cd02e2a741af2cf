"""Brain networks: the VS-DBN estimator (:mod:`.vsdbn`; its tensor computations in
``_kernels``, its training rows in ``_streaming``), nilearn baselines, maps, time courses,
labels."""

from ._kernels import apply_update, cd1_gradients, cd1_step, free_energy
from .vsdbn import VSDBN

__all__ = ["VSDBN", "apply_update", "cd1_gradients", "cd1_step", "free_energy"]

"""Brain networks: the VS-DBN estimator, nilearn baselines, maps, time courses, labels."""

from .vsdbn import VSDBN, apply_update, cd1_gradients, cd1_step, free_energy

__all__ = ["VSDBN", "apply_update", "cd1_gradients", "cd1_step", "free_energy"]

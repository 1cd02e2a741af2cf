"""The VS-DBN's computations on tensors: one CD-1 step of a Gaussian-Bernoulli RBM (its two
phases, gradients and update; see :mod:`anbn_utils.bns.vsdbn` for the rules), the free
energy, and the map between layers."""

from __future__ import annotations

import numpy as np
import torch

from ..choices import BETWEEN_LAYERS
from ..errors import ParameterError

__all__ = ["apply_update", "between", "between_stats", "cd1_gradients", "cd1_phases", "cd1_step",
           "free_energy"]


def free_energy(v: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Free energy of a Gaussian-Bernoulli RBM with unit visible variance, per sample.

    ``F(v) = ||v - b||^2 / 2 - sum_j softplus(c_j + v W_j)``; shape (n,).
    """
    return 0.5 * ((v - b) ** 2).sum(1) - torch.nn.functional.softplus(v @ W + c).sum(1)


def cd1_phases(
    X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *, noise_std: float,
    positive_phase: str, generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The CD-1 chain of one mini-batch: positive phase, sample, reconstruction, negative
    phase.  Returns ``h0`` (n, n_hidden; sampled or probabilities), ``v1`` (n, n_visible),
    ``h1`` (n, n_hidden; probabilities).  Random draws, in order: the uniform numbers of
    the hidden sample (``positive_phase='sample'``), then the reconstruction noise."""
    h0 = torch.sigmoid(torch.addmm(c, X, W))
    if positive_phase == "sample":
        h0 = (torch.rand(h0.shape, generator=generator, device=X.device, dtype=X.dtype) < h0).to(X.dtype)
    elif positive_phase != "prob":
        raise ParameterError(f"positive_phase must be 'sample' or 'prob', not {positive_phase!r}")
    v1 = torch.addmm(b, h0, W.T)
    if noise_std:
        v1 += noise_std * torch.randn(v1.shape, generator=generator, device=X.device, dtype=X.dtype)
    h1 = torch.sigmoid(torch.addmm(c, v1, W))
    return h0, v1, h1


def cd1_gradients(
    X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *,
    noise_std: float = 0.01, positive_phase: str = "sample",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """CD-1 data gradients of one mini-batch (without the L1 term).

    Parameters
    ----------
    X : Tensor of shape (n, n_visible)
    W : Tensor of shape (n_visible, n_hidden)
    b, c : Tensor of shape (n_visible,), (n_hidden,)

    Returns
    -------
    dW, db, dc : the ascent directions ``(X^T h0 - v1^T h1)/n``, ``mean(X - v1)``,
        ``mean(h0 - h1)``
    err : mean squared reconstruction error of the batch (a scalar tensor)

    Random draws, in order: the uniform numbers of the hidden sample (when
    ``positive_phase='sample'``), then the reconstruction noise.
    """
    h0, v1, h1 = cd1_phases(X, W, b, c, noise_std=noise_std, positive_phase=positive_phase,
                             generator=generator)
    diff = X - v1
    dW = (X.T @ h0 - v1.T @ h1) / X.shape[0]
    return dW, diff.mean(0), (h0 - h1).mean(0), (diff**2).mean()


def apply_update(W, b, c, dW, db, dc, *, lr: float, l1: float) -> None:
    """``W += lr (dW - l1 sign(W))``, ``b += lr db``, ``c += lr dc``, in place."""
    W.add_(dW - l1 * torch.sign(W), alpha=lr)
    b.add_(db, alpha=lr)
    c.add_(dc, alpha=lr)


def cd1_step(
    X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *, lr: float, l1: float,
    noise_std: float = 0.01, positive_phase: str = "sample",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One CD-1 update of ``W``, ``b``, ``c`` in place; returns the reconstruction error.

    The same update as :func:`cd1_gradients` then :func:`apply_update` (same random draws;
    equal up to float rounding), with fewer passes over ``W``, which dominate the cost at
    paper size (``W`` is 60,650 x 512 float32 = 124 MB, a batch 20 x 60,650 = 5 MB): the
    two weight statistics are one product ``[X; v1]^T [h0; -h1]`` accumulated into ``W``
    by ``addmm_`` (no ``W``-sized temporary), and the L1 shrinkage ``W -= lr l1 sign(W)``
    is applied first, on the weights the gradient was computed with.  Per step ``W`` is
    read by the three products ``X W``, ``h0 W^T``, ``v1 W``, read and written by the
    accumulation, and read twice and written twice by the shrinkage (``sign`` makes one
    temporary): 9 passes, against 18 for the two functions in sequence.
    """
    h0, v1, h1 = cd1_phases(X, W, b, c, noise_std=noise_std, positive_phase=positive_phase,
                             generator=generator)
    diff = X - v1
    if l1:
        W.sub_(torch.sign(W), alpha=lr * l1)
    W.addmm_(torch.cat([X, v1]).T, torch.cat([h0, -h1]), alpha=lr / X.shape[0])
    b.add_(diff.mean(0), alpha=lr)
    c.add_((h0 - h1).mean(0), alpha=lr)
    return (diff**2).mean()


# between layers ---------------------------------------------------------------------------
def between_stats(P: torch.Tensor, how: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Statistics of the between-layer map, learned from the pre-activations ``P`` (n,
    n_units) of all training samples: per-unit mean and standard deviation (population;
    1 for a constant unit, as scikit-learn's ``StandardScaler``) for ``'zscore'``, none
    otherwise."""
    if how != "zscore":
        return None, None
    P64 = P.double()
    mean, std = P64.mean(0), P64.std(0, correction=0)
    scale = torch.where(std < 10 * np.finfo(np.float64).eps, torch.ones_like(std), std)
    return mean.float(), scale.float()


def between(P: torch.Tensor, how: str, mean: torch.Tensor | None,
             scale: torch.Tensor | None) -> torch.Tensor:
    """The next layer's input from the pre-activations ``P`` (n, n_units)."""
    if how == "rownorm":
        return P / P.norm(dim=1, keepdim=True).clamp(min=1e-12)
    if how == "zscore":
        return (P - mean) / scale
    if how == "sigmoid":
        return torch.sigmoid(P)
    raise ParameterError(f"between_layers must be one of {BETWEEN_LAYERS}, not {how!r}")

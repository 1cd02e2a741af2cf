"""Volumetric sparse deep belief network (VS-DBN) in PyTorch.

Three Gaussian-Bernoulli RBMs stacked and trained greedily with CD-1; time frames
(volumes) are samples and voxels are visible units (Dong et al., TBME 2020; the AAAI-2023
configuration).  Per mini-batch ``X`` (``n`` rows) of one layer:

1. positive phase ``h0p = sigmoid(X W + c)``; ``h0`` a Bernoulli sample of it
   (``positive_phase='sample'``, the public code) or ``h0p`` itself (``'prob'``);
2. reconstruction ``v1 = h0 W^T + b + N(0, noise_std^2)``;
3. negative phase ``h1 = sigmoid(v1 W + c)`` (probabilities);
4. ``W += lr ((X^T h0 - v1^T h1) / n - l1 sign(W))``, ``b += lr mean(X - v1)``,
   ``c += lr mean(h0 - h1)``: the L1 subgradient acts on the weights only.

Between layers (the paper's "batch normalization", the public code's ``predict``) the
next layer reads ``rownorm(H W + c)``: the linear pre-activations with each sample
L2-normalised across units (``between_layers='rownorm'``); ``'zscore'`` standardizes each
unit over samples instead, ``'sigmoid'`` passes probabilities.  The spatial maps of layer
``l`` are the columns of ``W1 ... Wl`` (biases ignored); the temporal activation of a
third-layer unit is its column of the same chain applied to a subject's volumes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..config import resolve_device
from ..errors import DataError, ParameterError
from ..io import atomic_path, hash_json

__all__ = ["VSDBN", "apply_update", "cd1_gradients", "cd1_step", "free_energy"]


def free_energy(v: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Free energy of a Gaussian-Bernoulli RBM with unit visible variance, per sample.

    ``F(v) = ||v - b||^2 / 2 - sum_j softplus(c_j + v W_j)``; shape (n,).
    """
    return 0.5 * ((v - b) ** 2).sum(1) - torch.nn.functional.softplus(v @ W + c).sum(1)


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
    n = X.shape[0]
    h0 = torch.sigmoid(torch.addmm(c, X, W))
    if positive_phase == "sample":
        h0 = (torch.rand(h0.shape, generator=generator, device=X.device, dtype=X.dtype) < h0).to(X.dtype)
    elif positive_phase != "prob":
        raise ParameterError(f"positive_phase must be 'sample' or 'prob', not {positive_phase!r}")
    v1 = torch.addmm(b, h0, W.T)
    if noise_std:
        v1 += noise_std * torch.randn(v1.shape, generator=generator, device=X.device, dtype=X.dtype)
    h1 = torch.sigmoid(torch.addmm(c, v1, W))
    diff = X - v1
    dW = (X.T @ h0 - v1.T @ h1) / n
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
    n = X.shape[0]
    h0 = torch.sigmoid(torch.addmm(c, X, W))
    if positive_phase == "sample":
        h0 = (torch.rand(h0.shape, generator=generator, device=X.device, dtype=X.dtype) < h0).to(X.dtype)
    elif positive_phase != "prob":
        raise ParameterError(f"positive_phase must be 'sample' or 'prob', not {positive_phase!r}")
    v1 = torch.addmm(b, h0, W.T)
    if noise_std:
        v1 += noise_std * torch.randn(v1.shape, generator=generator, device=X.device, dtype=X.dtype)
    h1 = torch.sigmoid(torch.addmm(c, v1, W))
    diff = X - v1
    if l1:
        W.sub_(torch.sign(W), alpha=lr * l1)
    W.addmm_(torch.cat([X, v1]).T, torch.cat([h0, -h1]), alpha=lr / n)
    b.add_(diff.mean(0), alpha=lr)
    c.add_((h0 - h1).mean(0), alpha=lr)
    return (diff**2).mean()


BETWEEN_LAYERS = ("rownorm", "zscore", "sigmoid")


def _between(H: torch.Tensor, how: str) -> torch.Tensor:
    if how == "rownorm":
        return H / H.norm(dim=1, keepdim=True).clamp(min=1e-12)
    if how == "zscore":
        return (H - H.mean(0)) / H.std(0).clamp(min=1e-12)
    if how == "sigmoid":
        return torch.sigmoid(H)
    raise ParameterError(f"between_layers must be 'rownorm', 'zscore' or 'sigmoid', not {how!r}")


def _as_float32(X) -> list[np.ndarray]:
    parts = list(X) if isinstance(X, (list, tuple)) else [X]
    if not parts:
        raise DataError("no data to fit")
    n_vox = {p.shape[1] for p in parts}
    if len(n_vox) != 1:
        raise DataError(f"all parts must have the same number of voxels, got {sorted(n_vox)}")
    return parts


class VSDBN:
    """Volumetric sparse deep belief network (estimator).

    Parameters
    ----------
    n_hidden : sequence of int
        Hidden units per layer (paper: 512, 256, 128); the last layer's units are the BNs.
    learning_rate, l1 : sequence of float
        Per layer (paper: 1e-3/5e-4/5e-4 and 1e-3/5e-5/5e-5).
    n_epochs : int
        Epochs per layer (paper: 100).
    batch_size : int
        Samples per CD-1 step (paper: 20).  An incomplete last batch is used.
    init_std : float
        Weights start as N(0, init_std^2), biases at 0 (paper: 0.01).
    noise_std : float
        Standard deviation of the reconstruction noise (public code: 0.01).
    positive_phase : {'sample', 'prob'}
    between_layers : {'rownorm', 'zscore', 'sigmoid'}
    random_state : int
        Seeds initialisation (drawn on the CPU, so the same on every device), shuffling
        (NumPy) and sampling (a generator on the device).
    device : str
        ``'auto'``, ``'cpu'`` or ``'cuda'``; on a GPU the whole training matrix is moved
        to the device, on a CPU mini-batches are gathered from the (memory-mapped) parts.
    checkpoint_dir : path, optional
        Where to save the state after every epoch; a fit with the same parameters and
        data (shapes and a sample of rows) resumes from it.
    progress : bool
        tqdm bar per layer with the reconstruction error.

    Attributes
    ----------
    weights_ : list of ndarray, shapes (n_visible, n1), (n1, n2), (n2, n3)
    visible_biases_, hidden_biases_ : list of ndarray
    history_ : list of list of float
        Mean reconstruction error per epoch, per layer.
    """

    def __init__(self, n_hidden: Sequence[int] = (512, 256, 128),
                 learning_rate: Sequence[float] = (1e-3, 5e-4, 5e-4),
                 l1: Sequence[float] = (1e-3, 5e-5, 5e-5), n_epochs: int = 100,
                 batch_size: int = 20, init_std: float = 0.01, noise_std: float = 0.01,
                 positive_phase: str = "sample", between_layers: str = "rownorm",
                 random_state: int = 0, device: str = "auto",
                 checkpoint_dir: str | os.PathLike | None = None, progress: bool = True):
        self.n_hidden = n_hidden
        self.learning_rate = learning_rate
        self.l1 = l1
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.init_std = init_std
        self.noise_std = noise_std
        self.positive_phase = positive_phase
        self.between_layers = between_layers
        self.random_state = random_state
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress

    def _check(self, n_samples: int) -> None:
        n_layers = len(self.n_hidden)
        if not (len(self.learning_rate) == len(self.l1) == n_layers):
            raise ParameterError("n_hidden, learning_rate and l1 need one value per layer")
        if n_samples < self.batch_size:
            raise DataError(f"{n_samples} samples, fewer than batch_size={self.batch_size}")
        if self.between_layers not in BETWEEN_LAYERS:
            raise ParameterError(f"between_layers must be one of {BETWEEN_LAYERS}, "
                                 f"not {self.between_layers!r}")
        if self.positive_phase not in ("sample", "prob"):
            raise ParameterError(f"positive_phase must be 'sample' or 'prob', "
                                 f"not {self.positive_phase!r}")

    _MODEL_PARAMS = ("n_hidden", "learning_rate", "l1", "n_epochs", "batch_size", "init_std",
                     "noise_std", "positive_phase", "between_layers", "random_state")

    def get_params(self) -> dict:
        """The parameters that decide the fitted model (lists for sequences)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in ((k, getattr(self, k)) for k in self._MODEL_PARAMS)}

    def fit(self, X) -> VSDBN:
        """Train the layers greedily.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_voxels), or a list of such arrays (e.g. one
            memory-mapped array per subject and story, pooled)
            Z-scored volumes; they are not copied into one array on a CPU.
        """
        parts = _as_float32(X)
        offsets = np.cumsum([0] + [len(p) for p in parts])
        n_samples, n_vox = int(offsets[-1]), parts[0].shape[1]
        self._check(n_samples)
        for p in parts:
            if not np.isfinite(np.asarray(p[: min(len(p), 50)])).all():
                raise DataError("the training data hold NaN or infinite values")
        device = resolve_device(self.device)
        # initial weights from a CPU generator: the same on every device and after a resume
        init = torch.Generator().manual_seed(self.random_state)
        sizes = [n_vox, *self.n_hidden]
        initial = [torch.empty(a, b).normal_(0, self.init_std, generator=init)
                   for a, b in pairwise(sizes)]
        gen = torch.Generator(device=device).manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        state = self._resume({**self.get_params(), "data": _fingerprint(parts)})
        self.weights_, self.visible_biases_, self.hidden_biases_ = [], [], []
        self.history_ = []
        resident = None
        if device != "cpu":
            resident = torch.cat([torch.as_tensor(np.asarray(p), dtype=torch.float32)
                                  for p in parts]).to(device)
        inputs = None  # the current layer's training matrix, as a tensor (layers >= 2)
        n_in = n_vox
        for layer, n_out in enumerate(self.n_hidden):
            W = initial[layer].to(device)
            b = torch.zeros(n_in, device=device)
            c = torch.zeros(n_out, device=device)
            history: list[float] = []
            start_epoch = 0
            if state and layer < len(state["done"]):  # finished before the interruption
                W, b, c = (state["done"][layer][k].to(device) for k in ("W", "b", "c"))
                history, start_epoch = list(state["done"][layer]["history"]), self.n_epochs
            elif state and state["current"] and state["current"]["layer"] == layer:
                cur = state["current"]
                W, b, c = (cur[k].to(device) for k in ("W", "b", "c"))
                history, start_epoch = list(cur["history"]), cur["epoch"] + 1
            if state and start_epoch > 0 and (layer + 1 == len(state["done"]) + bool(state["current"])):
                gen.set_state(state["gen"])  # continue the random streams where they stopped
                rng.bit_generator.state = state["rng"]
            lr, l1 = float(self.learning_rate[layer]), float(self.l1[layer])
            bar = tqdm(range(start_epoch, self.n_epochs), desc=f"VS-DBN layer {layer + 1}",
                       disable=not self.progress)
            source = resident if layer == 0 else inputs  # None: gather from the parts
            for epoch in bar:
                order = rng.permutation(n_samples)
                order_t = torch.from_numpy(order).to(device) if source is not None else None
                # summed on the device: no host synchronisation inside the epoch
                total = torch.zeros((), dtype=torch.float64, device=device)
                for s in range(0, n_samples, self.batch_size):
                    if source is not None:
                        batch = source[order_t[s:s + self.batch_size]]
                    else:
                        batch = torch.from_numpy(
                            _gather(parts, offsets, order[s:s + self.batch_size]))
                    err = cd1_step(batch, W, b, c, lr=lr, l1=l1, noise_std=self.noise_std,
                                   positive_phase=self.positive_phase, generator=gen)
                    total += err.double() * len(batch)
                history.append(float(total) / n_samples)
                bar.set_postfix(err=f"{history[-1]:.4f}")
                self._checkpoint(layer, epoch, W, b, c, history, gen, rng)
            self.weights_.append(W.cpu().numpy())
            self.visible_biases_.append(b.cpu().numpy())
            self.hidden_biases_.append(c.cpu().numpy())
            self.history_.append(history)
            if layer + 1 < len(self.n_hidden):
                prev = resident if layer == 0 else inputs
                if prev is None:  # CPU, layer 1: stream the parts
                    inputs = torch.cat([self._up(torch.from_numpy(np.array(p, dtype=np.float32)),
                                                 layer) for p in parts])
                else:
                    inputs = self._up(prev, layer)
                n_in = n_out
        return self

    def _up(self, X: torch.Tensor, layer: int) -> torch.Tensor:
        W = torch.as_tensor(self.weights_[layer], device=X.device)
        c = torch.as_tensor(self.hidden_biases_[layer], device=X.device)
        return _between(torch.addmm(c, X, W), self.between_layers)

    def transform(self, X) -> np.ndarray:
        """Temporal activations of the last layer's units.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_voxels)

        Returns
        -------
        ndarray of shape (n_samples, n_hidden[-1])
            ``f(...f(f(X W1 + c1) W2 + c2)... W3 + c3)`` with ``f`` the between-layer map.
        """
        H = torch.from_numpy(np.array(X, dtype=np.float32))
        for layer in range(len(self.weights_)):
            H = self._up(H, layer)
        return H.numpy()

    def maps(self, layer: int | None = None) -> np.ndarray:
        """Spatial maps of a layer (1-based; default the last): columns of ``W1 ... Wl``."""
        layer = layer or len(self.weights_)
        M = self.weights_[0]
        for W in self.weights_[1:layer]:
            M = M @ W
        return M

    # checkpoints -------------------------------------------------------------------------
    def _ckpt_path(self) -> Path | None:
        return Path(self.checkpoint_dir) / "vsdbn_checkpoint.pt" if self.checkpoint_dir else None

    def _resume(self, params: dict) -> dict | None:
        path = self._ckpt_path()
        self._params_hash = hash_json(params)
        if path is None or not path.is_file():
            return None
        state = torch.load(path, weights_only=False)
        return state if state.get("params_hash") == self._params_hash else None

    def _checkpoint(self, layer, epoch, W, b, c, history, gen, rng) -> None:
        """Save finished layers, the current one and the random streams (atomically)."""
        path = self._ckpt_path()
        if path is None:
            return
        done = [{"W": torch.as_tensor(w), "b": torch.as_tensor(vb), "c": torch.as_tensor(hb),
                 "history": h} for w, vb, hb, h in zip(self.weights_, self.visible_biases_,
                                                        self.hidden_biases_, self.history_)]
        current = {"layer": layer, "epoch": epoch, "W": W.cpu(), "b": b.cpu(), "c": c.cpu(),
                   "history": list(history)}
        if epoch == self.n_epochs - 1:
            done.append(current)
            current = None
        state = {"params_hash": self._params_hash, "done": done, "current": current,
                 "gen": gen.get_state(), "rng": rng.bit_generator.state}
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(state, tmp)


def _fingerprint(parts: list[np.ndarray]) -> str:
    """Hash of the part shapes and of every 16th-or-so row: a checkpoint of other data with
    the same shape is not resumed."""
    import hashlib

    h = hashlib.sha256()
    for p in parts:
        h.update(str(p.shape).encode())
        h.update(np.ascontiguousarray(p[:: max(1, len(p) // 16)], dtype=np.float32).tobytes())
    return h.hexdigest()


def _gather(parts: list[np.ndarray], offsets: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of the virtual concatenation of ``parts`` (reads only those rows)."""
    which = np.searchsorted(offsets, idx, side="right") - 1
    out = np.empty((len(idx), parts[0].shape[1]), dtype=np.float32)
    for p in np.unique(which):
        sel = which == p
        out[sel] = parts[p][idx[sel] - offsets[p]]
    return out

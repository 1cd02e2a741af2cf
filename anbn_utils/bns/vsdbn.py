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
unit with its mean and standard deviation over all training samples (learned in ``fit``,
applied unchanged by ``transform``), ``'sigmoid'`` passes probabilities.  The spatial maps
of layer ``l`` are the columns of ``W1 ... Wl`` (biases ignored); the temporal activation
of a third-layer unit is its column of the same chain applied to a subject's volumes.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm import tqdm

from ..choices import BETWEEN_LAYERS
from ..codehash import code_hash
from ..config import resolve_device
from ..errors import DataError, ParameterError
from ..io import atomic_path, hash_json
from ._kernels import between, between_stats, cd1_step
from ._streaming import Rows, as_parts, check_finite, fingerprint, keep_resident, layer_pass

__all__ = ["BETWEEN_LAYERS_INPUTS", "VSDBN"]

#: What a layer above the first reads, per ``between_layers`` (chapter 03's words).
BETWEEN_LAYERS_INPUTS = {
    "rownorm": "row-normalised inputs (each sample has unit norm across units)",
    "zscore": "z-scored inputs (each unit standardized with its mean and standard deviation "
              "over the training samples)",
    "sigmoid": "the lower layer's probabilities (between 0 and 1)",
}

POSITIVE_PHASES = ("sample", "prob")
UPPER_LAYERS = ("trained", "initial")



def _is_real(v, minimum: float = 0.0) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) \
        and v >= minimum


def _is_int(v, minimum: int) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= minimum


class VSDBN(TransformerMixin, BaseEstimator):
    """Volumetric sparse deep belief network (a scikit-learn transformer).

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
        The map from a layer's pre-activations to the next layer's input (and to
        :meth:`transform`'s output after the last layer).
    random_state : int, RandomState instance or None
        Through :func:`sklearn.utils.check_random_state`, seeds three streams: the initial
        weights (drawn on the CPU, so the same on every device), the shuffling (NumPy) and
        the CD-1 draws (a generator on the device).  An int gives the same model on every
        fit on one device; fits on a CPU and a GPU share the initial weights and the
        batch order, while their CD-1 draws come from different generators.
    device : str
        ``'auto'``, ``'cpu'`` or ``'cuda'``; on a GPU the whole training matrix is moved
        to the device, on a CPU mini-batches are gathered from the (memory-mapped) parts.
    checkpoint_dir : path, optional
        Where to save the state after every epoch; a fit with the same model parameters,
        data (shapes and a sample of rows) and VS-DBN code (:mod:`anbn_utils.codehash`)
        resumes from it.  The checkpoint is deleted when the fit succeeds.  Needs an int
        ``random_state``.
    verbose : int
        A tqdm bar per layer with the reconstruction error when > 0.

    Attributes
    ----------
    n_features_in_ : int
        Number of voxels.
    weights_ : list of ndarray, shapes (n_visible, n1), (n1, n2), (n2, n3)
    visible_biases_, hidden_biases_ : list of ndarray
    init_seed_ : int
        The seed of the initial weights (:meth:`initial_weights` draws them again: no copy
        is kept).
    mean_, scale_ : list of ndarray of shape (n_hidden[l],), or None
        With ``between_layers='zscore'``: per layer, the mean and standard deviation over
        all training samples of each unit's pre-activation; None otherwise.
    initial_mean_, initial_scale_ : list of ndarray, or None
        The same for the stack with layers >= 2 at their initial parameters; set by
        :meth:`ablate_upper_layers` (not by :meth:`fit`).
    history_ : list of list of float
        Mean reconstruction error per epoch, per layer (sampled CD-1 chains, while the
        weights change).
    reconstruction_error_ : ndarray of shape (n_layers,)
        Per layer, the mean squared error of the mean-field reconstruction
        ``sigmoid(X W + c) W^T + b`` of the layer's whole training input ``X`` with the
        final parameters.
    input_variance_ : ndarray of shape (n_layers,)
        Per layer, the variance over samples of each input unit, averaged over the units:
        the error of reconstructing every sample by the input mean.
    relative_error_ : ndarray of shape (n_layers,)
        ``reconstruction_error_ / input_variance_`` (NaN for a constant input); about 1
        for a layer that learned nothing beyond its visible biases.
    components_ : ndarray of shape (n_hidden[-1], n_voxels)
        The last layer's maps (rows), as nilearn's decompositions hold them.
    """

    #: The parameters that decide the fitted model (checkpoint keys and saved metadata).
    _MODEL_PARAMS = ("n_hidden", "learning_rate", "l1", "n_epochs", "batch_size", "init_std",
                     "noise_std", "positive_phase", "between_layers", "random_state")

    def __init__(self, n_hidden: Sequence[int] = (512, 256, 128),
                 learning_rate: Sequence[float] = (1e-3, 5e-4, 5e-4),
                 l1: Sequence[float] = (1e-3, 5e-5, 5e-5), n_epochs: int = 100,
                 batch_size: int = 20, init_std: float = 0.01, noise_std: float = 0.01,
                 positive_phase: str = "sample", between_layers: str = "rownorm",
                 random_state=0, device: str = "auto",
                 checkpoint_dir: str | os.PathLike | None = None, verbose: int = 0):
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
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # float32 throughout
        return tags

    def model_params(self) -> dict:
        """The parameters that decide the fitted model (not ``device``, ``checkpoint_dir``,
        ``verbose``), JSON-ready (lists for sequences)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in ((k, getattr(self, k)) for k in self._MODEL_PARAMS)}

    def _validate_params(self) -> None:
        n_hidden = self.n_hidden
        if isinstance(n_hidden, (str, bytes)) or not isinstance(n_hidden, Sequence) or \
                not n_hidden or not all(_is_int(n, 1) for n in n_hidden):
            raise ParameterError(f"n_hidden must be a non-empty sequence of positive ints "
                                 f"(units per layer), not {n_hidden!r}")
        for name in ("learning_rate", "l1"):
            v = getattr(self, name)
            if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or \
                    len(v) != len(n_hidden) or not all(_is_real(x) for x in v):
                raise ParameterError(f"{name} needs one non-negative number per layer "
                                     f"({len(n_hidden)} layers: n_hidden={list(n_hidden)}), "
                                     f"not {v!r}")
        for name in ("n_epochs", "batch_size"):
            if not _is_int(getattr(self, name), 1):
                raise ParameterError(f"{name} must be a positive int, "
                                     f"not {getattr(self, name)!r}")
        for name in ("init_std", "noise_std"):
            if not _is_real(getattr(self, name)):
                raise ParameterError(f"{name} must be a non-negative number, "
                                     f"not {getattr(self, name)!r}")
        if self.positive_phase not in POSITIVE_PHASES:
            raise ParameterError(f"positive_phase must be one of {POSITIVE_PHASES}, "
                                 f"not {self.positive_phase!r}")
        if self.between_layers not in BETWEEN_LAYERS:
            raise ParameterError(f"between_layers must be one of {BETWEEN_LAYERS}, "
                                 f"not {self.between_layers!r}")
        if self.checkpoint_dir is not None and not _is_int(self.random_state, 0):
            raise ParameterError(f"checkpoint_dir needs an int random_state (a resumed fit "
                                 f"must redraw the same numbers), not {self.random_state!r}")

    def fit(self, X, y=None) -> VSDBN:
        """Train the layers greedily.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_voxels), or a list of such arrays (e.g. one
            memory-mapped array per subject and story, pooled)
            Z-scored volumes; the parts are not copied into one array on a CPU.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._validate_params()
        parts = as_parts(self, X)
        n_samples, n_vox = sum(len(p) for p in parts), self.n_features_in_
        if n_samples < self.batch_size:
            raise DataError(f"n_samples={n_samples} is fewer than batch_size="
                            f"{self.batch_size}: lower batch_size or fit on more volumes")
        device = resolve_device(self.device)
        rows = Rows.load(parts, device, resident=keep_resident(device))
        check_finite(rows, parts)
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=3)
        # initial weights from a CPU generator: the same on every device and after a resume
        self.init_seed_ = int(seeds[0])
        initial = self._initial_weights(n_vox)
        gen = torch.Generator(device=device).manual_seed(int(seeds[1]))
        rng = np.random.default_rng(int(seeds[2]))
        ckpt = _Checkpoint(self.checkpoint_dir, self._checkpoint_key(parts)) \
            if self.checkpoint_dir is not None else None
        state = ckpt.load() if ckpt else None
        self.weights_, self.visible_biases_, self.hidden_biases_, self.history_ = [], [], [], []
        mean, scale, errors, variances = [], [], [], []
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
                       disable=not self.verbose)
            for epoch in bar:
                # summed on the device: no host synchronisation inside the epoch
                total = torch.zeros((), dtype=torch.float64, device=device)
                for batch in rows.batches(rng.permutation(n_samples), self.batch_size):
                    err = cd1_step(batch, W, b, c, lr=lr, l1=l1, noise_std=self.noise_std,
                                   positive_phase=self.positive_phase, generator=gen)
                    total += err.double() * len(batch)
                history.append(float(total) / n_samples)
                bar.set_postfix(err=f"{history[-1]:.4f}")
                if ckpt:
                    ckpt.save(self._state(layer, epoch, W, b, c, history), gen, rng)
            self.weights_.append(W.cpu().numpy())
            self.visible_biases_.append(b.cpu().numpy())
            self.hidden_biases_.append(c.cpu().numpy())
            self.history_.append(history)
            # one pass with the final parameters: diagnostics, statistics, next input
            P, error, variance = layer_pass(rows, W, b, c)
            errors.append(error)
            variances.append(variance)
            m, s = between_stats(P, self.between_layers)
            mean.append(m)
            scale.append(s)
            if layer + 1 < len(self.n_hidden):
                rows = rows.with_data(between(P, self.between_layers, m, s))
            n_in = n_out
        del initial, rows
        zscore = self.between_layers == "zscore"
        self.mean_, self.scale_ = ([t.cpu().numpy() for t in v] if zscore else None
                                   for v in (mean, scale))
        self.reconstruction_error_ = np.array(errors)
        self.input_variance_ = np.array(variances)
        self.relative_error_ = np.divide(  # NaN for a constant input
            self.reconstruction_error_, self.input_variance_,
            out=np.full(len(errors), np.nan), where=self.input_variance_ > 0)
        self.components_ = np.ascontiguousarray(self.maps().T)
        if ckpt:
            ckpt.remove()  # it only serves to resume an interrupted fit
        return self

    def _initial_weights(self, n_visible: int) -> list[torch.Tensor]:
        """The weights before training, drawn from ``init_seed_`` (CPU, float32)."""
        init = torch.Generator().manual_seed(self.init_seed_)
        return [torch.empty(a, b).normal_(0, self.init_std, generator=init)
                for a, b in pairwise([n_visible, *self.n_hidden])]

    def initial_weights(self) -> list[np.ndarray]:
        """The weights before training (drawn again from ``init_seed_``), shapes as
        ``weights_``."""
        check_is_fitted(self)
        return [w.numpy() for w in self._initial_weights(self.n_features_in_)]

    def ablate_upper_layers(self, X) -> VSDBN:
        """The ablation of what the upper layers' training adds: the between-layer
        statistics of the stack with layers >= 2 at their initial weights and zero biases
        (layer 1 trained), learned on ``X`` (the training data), for :meth:`transform` with
        ``upper_layers='initial'`` (``between_layers='zscore'`` needs them; :meth:`maps`
        does not).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_voxels), or a list of such arrays

        Returns
        -------
        self
            With ``initial_mean_`` and ``initial_scale_``.
        """
        check_is_fitted(self)
        stack = self._stack("initial", statistics=False)
        (W1, c1, _, _), first = stack[0], self._stack("trained")[0]
        # layer 1 (trained, with its statistics), part by part: only its output is pooled
        parts = X if isinstance(X, (list, tuple)) else [X]
        H = torch.cat([between(torch.addmm(c1, torch.from_numpy(
            validate_data(self, p, reset=False, dtype=np.float64)), W1),
            self.between_layers, first[2], first[3]) for p in parts])
        mean, scale = [first[2]], [first[3]]
        for W, c, _, _ in stack[1:]:
            P = torch.addmm(c, H, W)
            m, s = between_stats(P, self.between_layers)
            mean.append(m)
            scale.append(s)
            H = between(P, self.between_layers, m, s)
        zscore = self.between_layers == "zscore"
        self.initial_mean_, self.initial_scale_ = ([t.float().numpy() for t in v] if zscore
                                                   else None for v in (mean, scale))
        return self

    def _layer(self, layer: int | None) -> int:
        """``layer`` checked (1-based), or the last layer's number for None."""
        n = len(self.weights_)
        layer = n if layer is None else layer
        if not _is_int(layer, 1) or layer > n:
            raise ParameterError(f"layer must be an int from 1 to {n} (1-based; None for the "
                                 f"last), not {layer!r}")
        return layer

    def _stack(self, upper_layers: str, *, statistics: bool = True) -> list[tuple]:
        """``(W, c, mean, scale)`` per layer as float64 tensors: the trained stack, or the one with
        layers >= 2 at their initial weights and zero biases (its statistics from
        :meth:`ablate_upper_layers`; None without ``statistics``)."""
        if upper_layers not in UPPER_LAYERS:
            raise ParameterError(f"upper_layers must be one of {UPPER_LAYERS}, "
                                 f"not {upper_layers!r}")
        n = len(self.weights_)
        if upper_layers == "trained":
            weights, biases = self.weights_, self.hidden_biases_
            mean, scale = self.mean_ or [None] * n, self.scale_ or [None] * n
        else:
            initial = self.initial_weights()
            weights = [self.weights_[0], *initial[1:]]
            biases = [self.hidden_biases_[0], *(np.zeros(w.shape[1], np.float32)
                                                for w in initial[1:])]
            if statistics and self.between_layers == "zscore":
                if getattr(self, "initial_mean_", None) is None:
                    raise ParameterError("the stack with initial upper layers needs the "
                                         "statistics of ablate_upper_layers(X): call it first")
                mean, scale = self.initial_mean_, self.initial_scale_
            else:
                mean, scale = [None] * n, [None] * n
        t = lambda a: None if a is None else torch.as_tensor(a, dtype=torch.float64)
        return [(t(w), t(c), t(m), t(s)) for w, c, m, s in zip(weights, biases, mean, scale)]

    def transform(self, X, *, layer: int | None = None,
                  upper_layers: str = "trained") -> np.ndarray:
        """Temporal activations of a layer's units (default the last layer's).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_voxels)
        layer : int, optional
            1-based; default the last.
        upper_layers : {'trained', 'initial'}
            ``'initial'``: the stack with layers >= 2 at their initial random weights and
            zero biases (an ablation: what the upper layers' training adds).

        Returns
        -------
        ndarray of shape (n_samples, n_hidden[layer - 1]), float32
            ``f(...f(f(X W1 + c1) W2 + c2)... W3 + c3)`` with ``f`` the between-layer map
            (its statistics learned in :meth:`fit`), computed in float64: a sample's
            activations do not depend on the other samples passed with it.
        """
        check_is_fitted(self)
        layer = self._layer(layer)
        H = torch.from_numpy(validate_data(self, X, reset=False, dtype=np.float64))
        for W, c, mean, scale in self._stack(upper_layers)[:layer]:
            H = between(torch.addmm(c, H, W), self.between_layers, mean, scale)
        return H.float().numpy()

    def maps(self, layer: int | None = None, *, upper_layers: str = "trained") -> np.ndarray:
        """Spatial maps of a layer: the columns of ``W1 ... Wl``.

        Parameters
        ----------
        layer : int, optional
            1-based; default the last.
        upper_layers : {'trained', 'initial'}
            ``'initial'``: ``W2 ... Wl`` at their initial random values.

        Returns
        -------
        ndarray of shape (n_voxels, n_hidden[layer - 1]), float32
            A new array (computed in float64).
        """
        check_is_fitted(self)
        layer = self._layer(layer)
        weights = [W for W, *_ in self._stack(upper_layers, statistics=False)]
        M = weights[0]
        for W in weights[1:layer]:
            M = M @ W
        return M.float().numpy()

    # checkpoints -------------------------------------------------------------------------
    def _checkpoint_key(self, parts: list) -> str:
        return hash_json({**self.model_params(), "data": fingerprint(parts),
                          "code": _code_version()})

    def _state(self, layer, epoch, W, b, c, history) -> tuple[list, dict | None]:
        """Finished layers and the current one (None once its last epoch is done)."""
        done = [{"W": torch.as_tensor(w), "b": torch.as_tensor(vb), "c": torch.as_tensor(hb),
                 "history": h} for w, vb, hb, h in zip(self.weights_, self.visible_biases_,
                                                        self.hidden_biases_, self.history_)]
        current = {"layer": layer, "epoch": epoch, "W": W.cpu(), "b": b.cpu(), "c": c.cpu(),
                   "history": list(history)}
        if epoch == self.n_epochs - 1:
            return [*done, current], None
        return done, current


def _code_version() -> str:
    """Hash of the source this module runs (its import closure in the package)."""
    return code_hash([__name__], data_files=False)


class _Checkpoint:
    """The state of an interrupted fit, keyed by the model parameters, data and code."""

    def __init__(self, folder: str | os.PathLike, key: str):
        self.path, self.key = Path(folder) / "vsdbn_checkpoint.pt", key

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        state = torch.load(self.path, weights_only=False)
        return state if state.get("key") == self.key else None

    def save(self, layers: tuple[list, dict | None], gen: torch.Generator,
             rng: np.random.Generator) -> None:
        """Save finished layers, the current one and the random streams (atomically)."""
        done, current = layers
        state = {"key": self.key, "done": done, "current": current, "gen": gen.get_state(),
                 "rng": rng.bit_generator.state}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)



"""The VS-DBN's training rows: the parts of the data (memory-mapped on a CPU, copied once to
a GPU) read in chunks and mini-batches, one pass with a layer's final parameters, and the
checks and fingerprint of the data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from ..errors import DataError

if TYPE_CHECKING:
    from .vsdbn import VSDBN

__all__ = ["CHUNK_BYTES", "Moments", "Rows", "as_parts", "check_finite", "fingerprint",
           "gather_rows", "keep_resident", "layer_pass", "read_rows"]

#: Rows per pass over the data are chosen so that one chunk of layer-1 input is about this
#: size (bytes of float32): a memory-mapped part is never read whole at once.
CHUNK_BYTES = 2**26


# the training rows of a layer -------------------------------------------------------------
def keep_resident(device: str) -> bool:
    """Whether layer 1's training matrix is copied to the device once (GPU), or read from
    the parts as needed (CPU: memory-mapped parts are not loaded at once)."""
    return device != "cpu"


class Rows:
    """The training rows of one layer, pooled over the parts.

    Layer 1 reads the parts (arrays or memory maps, e.g. one per subject and story): kept
    as one tensor on the device (``resident``) or read from the parts as needed.  The
    inputs of later layers are tensors on the device.  Either way mini-batches are the
    same rows and every pass over the data (finite check, pre-activations, between-layer
    statistics, diagnostics) visits the same fixed row ranges, so the streamed (CPU) and
    resident (GPU) fits run the same code on the same numbers.
    """

    def __init__(self, parts: list, offsets: np.ndarray, step: int, data: torch.Tensor | None):
        self.parts, self.offsets, self.step, self.data = parts, offsets, step, data
        self.n_samples = int(offsets[-1])

    @classmethod
    def load(cls, parts: list, device: str, resident: bool) -> Rows:
        offsets = np.cumsum([0, *(len(p) for p in parts)])
        step = max(1, CHUNK_BYTES // (4 * parts[0].shape[1]))
        rows = cls(parts, offsets, step, None)
        if resident:
            data = torch.empty((rows.n_samples, parts[0].shape[1]), dtype=torch.float32,
                               device=device)
            for a, b in rows.ranges():
                data[a:b] = torch.from_numpy(read_rows(parts, offsets, a, b))
            rows.data = data
        return rows

    def with_data(self, data: torch.Tensor) -> Rows:
        """The same rows holding other values (the next layer's input)."""
        return Rows(self.parts, self.offsets, self.step, data)

    def ranges(self) -> Iterator[tuple[int, int]]:
        for a in range(0, self.n_samples, self.step):
            yield a, min(a + self.step, self.n_samples)

    def chunks(self) -> Iterator[tuple[int, torch.Tensor]]:
        """``(first row, rows)`` over all rows, in fixed ranges."""
        for a, b in self.ranges():
            if self.data is not None:
                yield a, self.data[a:b]
            else:
                yield a, torch.from_numpy(read_rows(self.parts, self.offsets, a, b))

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
        """Mini-batches of the rows in ``order`` (the last one may be smaller)."""
        if self.data is not None:
            order_t = torch.from_numpy(order).to(self.data.device)  # one transfer per epoch
            for s in range(0, len(order), batch_size):
                yield self.data[order_t[s:s + batch_size]]
        else:
            for s in range(0, len(order), batch_size):
                yield torch.from_numpy(gather_rows(self.parts, self.offsets, order[s:s + batch_size]))


def read_rows(parts: list, offsets: np.ndarray, a: int, b: int) -> np.ndarray:
    """Rows ``a:b`` of the virtual concatenation of ``parts``, as a new float32 array."""
    p = int(np.searchsorted(offsets, a, side="right")) - 1
    pieces = []
    while a < b:
        stop = min(b, int(offsets[p + 1]))
        pieces.append(np.asarray(parts[p][a - offsets[p]:stop - offsets[p]], dtype=np.float32))
        a, p = stop, p + 1
    return np.concatenate(pieces) if len(pieces) > 1 else np.array(pieces[0], dtype=np.float32)


def gather_rows(parts: list, offsets: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of the virtual concatenation of ``parts`` (reads only those rows)."""
    which = np.searchsorted(offsets, idx, side="right") - 1
    out = np.empty((len(idx), parts[0].shape[1]), dtype=np.float32)
    for p in np.unique(which):
        sel = which == p
        out[sel] = parts[p][idx[sel] - offsets[p]]
    return out


class Moments:
    """Per-column mean and variance accumulated over row chunks (Chan et al.'s pairwise
    update, in float64)."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, X: torch.Tensor) -> None:
        X = X.double()
        n_b, mean_b = len(X), X.mean(0)
        m2_b = ((X - mean_b) ** 2).sum(0)
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta**2 * (self.n * n_b / n)
        self.n = n

    def variance(self) -> torch.Tensor:
        return self.m2 / self.n


def layer_pass(rows: Rows, W: torch.Tensor, b: torch.Tensor,
                c: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """One pass over a layer's training input with its final parameters.

    Returns
    -------
    P : Tensor of shape (n_samples, n_hidden)
        Pre-activations ``X W + c``.
    error : float
        Mean squared error of the mean-field reconstruction ``sigmoid(X W + c) W^T + b``.
    variance : float
        Mean over the input units of their variance over the samples.
    """
    pre, sq, moments = [], torch.zeros((), dtype=torch.float64, device=W.device), Moments()
    for _, X in rows.chunks():
        P = torch.addmm(c, X, W)
        pre.append(P)
        sq += ((X - torch.addmm(b, torch.sigmoid(P), W.T)) ** 2).sum(dtype=torch.float64)
        moments.add(X)
    return torch.cat(pre), float(sq) / (rows.n_samples * W.shape[0]), \
        float(moments.variance().mean())


def check_finite(rows: Rows, parts: list) -> None:
    """Every value of the training data is finite (read in chunks)."""
    for a, X in rows.chunks():
        bad = ~torch.isfinite(X).all(1)
        if bad.any():
            row = a + int(torch.nonzero(bad)[0])
            p = int(np.searchsorted(rows.offsets, row, side="right")) - 1
            where = f"part {p}, row {row - rows.offsets[p]}" if len(parts) > 1 else f"row {row}"
            raise DataError(f"the training data X hold NaN or infinite values ({where}); "
                            "remove or impute them before fitting")


def as_parts(estimator: VSDBN, X) -> list:
    """The training data as a list of 2D arrays; sets ``n_features_in_`` (and
    ``feature_names_in_`` for a single data frame).  A list of 2D arrays is kept as is
    (no copy); anything else is one array-like, validated by scikit-learn."""
    if isinstance(X, (list, tuple)) and X and all(getattr(p, "ndim", None) == 2 for p in X):
        parts = list(X)
        for i, p in enumerate(parts):
            if not (np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)):
                raise DataError(f"part {i} of X has dtype {p.dtype}; the parts must be real "
                                "numbers (float32 volumes)")
        n_vox = {p.shape[1] for p in parts}
        if len(n_vox) != 1:
            raise DataError(f"all parts of X must have the same number of voxels (columns), "
                            f"got {sorted(n_vox)}")
        if not sum(len(p) for p in parts):
            raise DataError("the parts of X hold no samples")
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        estimator.n_features_in_ = parts[0].shape[1]
        return parts
    return [validate_data(estimator, X, dtype=np.float32, ensure_all_finite=False)]


def fingerprint(parts: list[np.ndarray]) -> str:
    """Hash of the part shapes and of every 16th-or-so row: a checkpoint of other data with
    the same shape is not resumed."""
    import hashlib

    h = hashlib.sha256()
    for p in parts:
        h.update(str(p.shape).encode())
        h.update(np.ascontiguousarray(p[:: max(1, len(p) // 16)], dtype=np.float32).tobytes())
    return h.hexdigest()

"""Small statistics shared by the chapters: one z-score, one permutation p-value, one
moving-block bootstrap.

Both work on NumPy arrays and on PyTorch tensors alike (they use only arithmetic and
reductions the two libraries share), so the coupling code on a GPU and the figures on
the CPU standardize series the same way.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["check_n_permutations", "moving_block_counts", "permutation_p_values", "zscore"]


def zscore(x, axis: int = 0):
    """Zero mean and unit standard deviation (``ddof=0``) along ``axis``.

    A constant slice has no spread to divide by: it becomes all zeros (its deviations
    from the mean) instead of NaN.  Otherwise the result equals
    ``scipy.stats.zscore(x, axis=axis)``.

    Parameters
    ----------
    x : ndarray or Tensor of any shape
    axis : int
        The axis along which to standardize (time, for series stored time first).

    Returns
    -------
    ndarray or Tensor of the shape of ``x`` (floating point)
    """
    xc = x - x.mean(axis=axis, keepdims=True)
    scale = (xc * xc).mean(axis=axis, keepdims=True) ** 0.5
    return xc / (scale + (scale == 0))


def permutation_p_values(exceed, n_permutations: int):
    """Permutation p-values ``(1 + exceed) / (1 + n_permutations)`` (Phipson and Smyth 2010).

    Counting the observed statistic as one of the randomizations keeps the p-value above
    zero and the test exact: its smallest value is ``1 / (1 + n_permutations)``.

    Parameters
    ----------
    exceed : ndarray or Tensor of shape (n_tests,)
        For each test, the number of randomizations whose statistic reaches the observed one.
    n_permutations : int
        Randomizations drawn (B >= 1).

    Returns
    -------
    ndarray or Tensor of shape (n_tests,)
    """
    check_n_permutations(n_permutations)
    return (1 + exceed) / (1 + n_permutations)


def check_n_permutations(n_permutations) -> int:
    """``n_permutations`` as an int, or a :class:`ParameterError` if it is not a positive
    integer (with none, every p-value would be 1 whatever the data)."""
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)) \
            or n_permutations < 1:
        raise ParameterError(
            f"n_permutations must be a positive integer (the paper: 5000), not "
            f"{n_permutations!r}: without randomizations every p-value would be 1"
        )
    return int(n_permutations)


def moving_block_counts(n_trs: int, block: int, n_boot: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Moving-block bootstrap (Kunsch 1989) of ``n_trs`` time points as multiplicities.

    Each resample is ``ceil(n_trs / block)`` blocks of ``block`` contiguous time points,
    starts drawn uniformly with replacement, cut to ``n_trs``.

    Returns
    -------
    ndarray of shape (n_boot, n_trs)
        How often each time point is drawn in each resample (each row sums to ``n_trs``).
    """
    starts = rng.integers(0, n_trs - block + 1, size=(n_boot, -(-n_trs // block)))
    drawn = (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)[:, :n_trs]
    flat = (drawn + n_trs * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_trs).reshape(n_boot, n_trs).astype(float)

"""Permutation p-values below the permutation floor: a generalized Pareto tail.

A permutation p-value cannot go below ``1 / (1 + B)`` with ``B`` randomizations, so a
false-discovery correction over thousands of tests rejects nothing unless many tests sit at
that floor (Benjamini-Hochberg at level ``q`` over ``m`` tests needs ``m / ((B + 1) q)`` of
them before the first rejection).  Where few randomizations reach the observed statistic,
the tail of its null distribution is modelled instead (Knijnenburg et al. 2009; Winkler et
al. 2016, as in FSL's PALM): the largest null values, less a threshold ``u``, are fitted by
a generalized Pareto distribution (``scipy.stats.genpareto``, maximum likelihood, location
0), the fit's goodness is checked by the Anderson-Darling statistic against the critical
values of Choulakian and Stephens (2001, Table 2, both parameters estimated; for the
exponential, only its scale estimated, scipy's table of that case), and

``p = (n_exceedances / B) * genpareto.sf(observed - u)``.

The fitted shape is held at zero or above (``min_shape``): a bounded fit (``c < 0``), the
maximum likelihood answer for correlations, which are bounded, puts an extreme observed
statistic beyond its support and gives it a p-value of about zero.  Measured on null
families at the phantom's size (the calibration study, ``tail_extremes``), the free fit gave
tens of times more p-values below 1e-4 than their level allows; the exponential tail
(``c = 0``, refitted when the free fit is bounded) is conservative there.

The number of exceedances starts at ``max_exceedances`` (at most a quarter of the null
values) and shrinks by ``step`` until the fit passes at level 0.05; a test whose fit never
passes keeps its permutation p-value and is reported as failed.  Only tests at the
permutation floor get the tail by default (:data:`TAIL_MIN_COUNT`): above it the
permutation p-value is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import anderson, genpareto

from ..errors import ParameterError

__all__ = ["TAIL_MIN_COUNT", "TailPValues", "anderson_darling_gpd", "gpd_critical_value",
           "tail_p_values"]

#: Choulakian and Stephens (2001), Technometrics 43:478-484, Table 2 (case 3: shape and
#: scale estimated by maximum likelihood): upper-tail critical values of the
#: Anderson-Darling statistic A^2 for the generalized Pareto distribution, by shape (rows)
#: and level (columns).  The rows are indexed here by scipy's shape ``c`` (a bounded tail
#: has ``c < 0`` and the larger critical values): the sign was checked against Monte Carlo
#: samples fitted by maximum likelihood (``tests/test_inference.py``).
_CS_SHAPES = np.array([-0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.5, 0.9])
_CS_LEVELS = np.array([0.5, 0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
_CS_A2 = np.array([
    [0.496, 0.735, 1.061, 1.321, 1.590, 1.958, 2.243, 2.922],
    [0.468, 0.688, 0.985, 1.221, 1.465, 1.799, 2.058, 2.674],
    [0.445, 0.649, 0.924, 1.140, 1.365, 1.672, 1.909, 2.475],
    [0.426, 0.617, 0.873, 1.074, 1.283, 1.567, 1.788, 2.314],
    [0.410, 0.591, 0.831, 1.020, 1.215, 1.481, 1.687, 2.176],
    [0.397, 0.569, 0.796, 0.974, 1.158, 1.409, 1.603, 2.064],
    [0.386, 0.550, 0.766, 0.935, 1.110, 1.348, 1.532, 1.966],
    [0.376, 0.534, 0.741, 0.903, 1.069, 1.296, 1.471, 1.893],
    [0.356, 0.499, 0.685, 0.830, 0.978, 1.180, 1.336, 1.707],
    [0.339, 0.471, 0.641, 0.771, 0.905, 1.086, 1.226, 1.559],
])


def gpd_critical_value(c: float, level: float = 0.05) -> float:
    """The Anderson-Darling critical value for a fitted generalized Pareto distribution of
    scipy shape ``c`` at ``level`` (one of Table 2's levels), interpolated linearly in the
    shape and held at the table's ends outside it (below ``c = -0.5`` that is the
    strictest end: fewer fits pass, and the permutation p-value is kept)."""
    where = np.flatnonzero(np.isclose(_CS_LEVELS, level))
    if not where.size:
        raise ParameterError(f"tail_gof_level must be one of {_CS_LEVELS.tolist()} (the levels "
                             f"of Choulakian and Stephens' table), not {level!r}")
    return float(np.interp(c, _CS_SHAPES, _CS_A2[:, where[0]]))


def anderson_darling_gpd(z: np.ndarray, c: float, scale: float) -> float:
    """The Anderson-Darling statistic A^2 of the sample ``z`` (exceedances over the
    threshold, all > 0) against ``genpareto(c, 0, scale)``."""
    u = np.sort(genpareto.cdf(z, c, 0, scale))
    u = np.clip(u, 1e-300, 1 - 1e-16)  # a value at the fitted support's end
    n = len(u)
    j = np.arange(1, n + 1)
    return float(-n - np.mean((2 * j - 1) * (np.log(u) + np.log1p(-u[::-1]))))


def _fit(z: np.ndarray, min_shape: float | None) -> tuple[float, float]:
    """Maximum likelihood GPD (location 0) of the exceedances ``z``: ``(c, scale)``, with
    ``c`` held at ``min_shape`` or above.

    For ``min_shape = 0`` the optimizer runs only when it can matter: the score of the
    log-likelihood in ``c`` at ``c = 0`` (the exponential, scale = mean) is
    ``n (var / mean^2 - 1) / 2`` for the exceedances' variance and mean, so where
    ``var <= mean^2`` the likelihood falls as ``c`` rises from 0 and the held fit is the
    exponential, in closed form (the shuffle null's thousands of tests at the floor cost
    seconds instead of minutes).
    """
    if min_shape == 0 and z.var() <= z.mean() ** 2:
        return 0.0, float(z.mean())
    c, _, scale = genpareto.fit(z, floc=0)
    if min_shape is not None and c < min_shape:
        if min_shape == 0:
            return 0.0, float(z.mean())
        c, _, scale = genpareto.fit(z, fc=min_shape, floc=0)
    return float(c), float(scale)


def _fits(z: np.ndarray, c: float, scale: float, level: float) -> bool:
    """The Anderson-Darling check of a fit: against Choulakian and Stephens' critical values
    (shape and scale estimated), or, for the exponential (``c = 0`` held, only the scale
    estimated), against scipy's table for that case (``scipy.stats.anderson``)."""
    if c == 0.0:
        return bool(anderson(z, dist="expon", method="interpolate").pvalue > level)
    return anderson_darling_gpd(z, c, scale) <= gpd_critical_value(c, level)


@dataclass
class TailPValues:
    """p-values with the tail approximation where it applied.

    Attributes
    ----------
    p : ndarray of shape (n_tests,)
        The tail p-value where a fit passed (at most the permutation p-value), else the
        permutation p-value.
    permutation_p : ndarray of shape (n_tests,)
        ``(1 + count) / (1 + B)``.
    needed : ndarray of shape (n_tests,), bool
        Fewer than ``min_count`` randomizations reached the observed statistic.
    fitted : ndarray of shape (n_tests,), bool
        A fit passed the goodness-of-fit check and gave ``p``.
    n_exceedances : ndarray of shape (n_tests,), int
        Exceedances of the accepted fit (0 where none).
    shape : ndarray of shape (n_tests,)
        scipy's ``c`` of the accepted fit (NaN where none).
    """

    p: np.ndarray
    permutation_p: np.ndarray
    needed: np.ndarray
    fitted: np.ndarray
    n_exceedances: np.ndarray
    shape: np.ndarray

    @property
    def failed(self) -> np.ndarray:
        """Tests that needed the tail and kept their permutation p-value (no fit passed)."""
        return self.needed & ~self.fitted

    def counts(self) -> dict[str, int]:
        """``{"needed", "fitted", "failed"}``: how many tests (for ``summary.json``)."""
        return {"needed": int(self.needed.sum()), "fitted": int(self.fitted.sum()),
                "failed": int(self.failed.sum())}


#: Tests whose permutation count is below this get the tail: 1, only those at the
#: permutation floor (no randomization reached them).  Knijnenburg et al. use 10; measured
#: on independent AR(1) pairs (the calibration study, ``pair_ar1``), 10 made the circular
#: null liberal at 0.01, whose few, strongly dependent lag values fit the tail poorly, while
#: a permutation p-value above the floor is exact and needs no model.
TAIL_MIN_COUNT = 1


def tail_p_values(observed: np.ndarray, null: np.ndarray, *, min_count: int = TAIL_MIN_COUNT,
                  max_exceedances: int = 250, min_exceedances: int = 20, step: int = 10,
                  gof_level: float = 0.05, min_shape: float | None = 0.0) -> TailPValues:
    """Permutation p-values, refined by a generalized Pareto tail where they are small.

    Parameters
    ----------
    observed : ndarray of shape (n_tests,)
        The observed statistics (larger is more extreme).
    null : ndarray of shape (n_tests, B)
        Each test's null statistics, one per randomization.
    min_count : int
        A test whose permutation count (null values >= observed) is below this gets the
        tail approximation (default :data:`TAIL_MIN_COUNT`; 0: none does).
    max_exceedances : int
        Exceedances of the first fit (Knijnenburg et al. 2009: 250), at most ``B // 4``.
    min_exceedances : int
        The fewest exceedances tried; below, the fit has failed.
    step : int
        Exceedances dropped after each failed goodness-of-fit check.
    gof_level : float
        Level of the Anderson-Darling check (a level of Choulakian and Stephens' table).
    min_shape : float or None
        The smallest shape ``c`` kept: a fit below it is replaced by the maximum likelihood
        fit at ``c = min_shape`` (for 0, the exponential: scale = mean exceedance).  None:
        the free fit (Knijnenburg et al.; liberal for bounded statistics, see above).

    Returns
    -------
    TailPValues
    """
    observed = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    if null.ndim != 2 or len(null) != len(observed):
        raise ParameterError(f"null must be (n_tests, B) with n_tests = {len(observed)}, not "
                             f"{null.shape}")
    for name, value, least in (("tail_min_count", min_count, 0),
                               ("tail_max_exceedances", max_exceedances, 1),
                               ("tail_min_exceedances", min_exceedances, 1), ("tail_step", step, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ParameterError(f"{name} must be an integer >= {least}, not {value!r}")
    gpd_critical_value(0.0, gof_level)  # a level the table has
    n_null = null.shape[1]
    counts = (null >= observed[:, None]).sum(1)
    perm_p = (1 + counts) / (1 + n_null)
    needed = counts < min_count
    out = TailPValues(p=perm_p.copy(), permutation_p=perm_p, needed=needed,
                      fitted=np.zeros(len(observed), bool),
                      n_exceedances=np.zeros(len(observed), int),
                      shape=np.full(len(observed), np.nan))
    start = min(max_exceedances, n_null // 4)
    for i in np.flatnonzero(needed):
        desc = np.sort(null[i])[::-1]
        for n_exc in range(start, min_exceedances - 1, -step):
            u = 0.5 * (desc[n_exc - 1] + desc[n_exc])
            z = desc[:n_exc] - u
            if not np.all(z > 0):  # ties at the threshold: no proper tail here
                continue
            c, scale = _fit(z, min_shape)
            if _fits(z, c, scale, gof_level):
                sf = genpareto.sf(observed[i] - u, c, 0, scale)
                # beyond the fitted support the tail says "never": the smallest positive
                # double keeps the p-value a p-value (and the ordering for BH)
                # never above the permutation p-value, which is valid as it is
                out.p[i] = min(max(n_exc / n_null * sf, np.finfo(float).tiny), perm_p[i])
                out.fitted[i], out.n_exceedances[i], out.shape[i] = True, n_exc, c
                break
    return out

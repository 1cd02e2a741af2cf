"""Coupling ANs and BNs: synchronization, anchors (Eq. 1, Eq. 2), permutation tests, FDR.

The synchronization of AN ``i`` and BN ``k`` is the Pearson correlation of their time
courses over the kept TRs of a story, computed for all pairs at once as one matrix
product of standardized series.  Eq. 1 anchors each AN to the BN it correlates with most,
Eq. 2 each BN to its AN.

Significance: a permutation test of each AN's maximum over BNs (and each BN's maximum
over ANs), the maximum being recomputed on every randomized copy of the BN series, so the
test accounts for the choice of the best partner.  The same randomization is applied to
all BNs at once.  Three null models:

- ``'shuffle'`` (the paper's "randomizations"): a random permutation of the TRs; it
  destroys the autocorrelation of the series and is anti-conservative for smooth series;
- ``'circular'``: a circular shift by a random lag of at least ``min_shift`` TRs; the
  correlations at every lag come from one FFT cross-correlation per pair, so the cost
  does not grow with the number of randomizations;
- ``'phase'``: phase randomization (the same random phases for every BN), which keeps the
  power spectrum and the cross-BN correlations.

p-values are ``(1 + #null >= observed) / (1 + n_permutations)`` (Phipson and Smyth 2010,
:func:`anbn_utils.stats.permutation_p_values`); q-values come from Benjamini-Hochberg
(``scipy.stats.false_discovery_control``).  A unit is significant at level ``alpha`` when
its q-value is below ``alpha``; :func:`summarize` reports each of several levels, the
paper's (p < 0.01 with FDR) first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import false_discovery_control
from tqdm import tqdm

from .choices import AN_SURROGATES, NULL_MODELS
from .errors import DataError, ParameterError
from .stats import check_n_permutations, permutation_p_values, zscore
from .units import an_layers

__all__ = [
    "NULL_MODELS",
    "PAPER",
    "PAPER_ALPHA",
    "anchors",
    "check_alphas",
    "couple_story",
    "max_statistic_test",
    "pcc_matrix",
    "randomize",
    "save_coupling",
    "significance_table",
    "standardize",
    "summarize",
    "surrogate_series",
]


def standardize(x: torch.Tensor, names=None, what: str = "series") -> torch.Tensor:
    """Columns with zero mean and unit norm (so that ``a.T @ b`` is Pearson's r): the
    z-scores (:func:`anbn_utils.stats.zscore`) divided by ``sqrt(n_trs)``.

    Parameters
    ----------
    x : Tensor of shape (n_trs, n_units)

    Returns
    -------
    Tensor of shape (n_trs, n_units)

    Raises a :class:`DataError` naming the constant or non-finite columns.
    """
    bad = ~torch.isfinite(x).all(0)
    if bad.any():
        raise DataError(f"{what}: NaN or infinite values in {_name(bad, names)}")
    const = (x - x.mean(0)).norm(dim=0) <= 1e-8 * (1 + x.abs().amax(0))
    if const.any():
        raise DataError(f"{what}: constant (zero-variance) series {_name(const, names)}; "
                        "a correlation is undefined")
    return zscore(x, axis=0) / math.sqrt(x.shape[0])


def _name(mask: torch.Tensor, names) -> str:
    idx = torch.nonzero(mask).flatten().tolist()
    shown = [names[i] if names is not None else str(i) for i in idx[:5]]
    return f"{len(idx)} unit(s): {', '.join(shown)}{' ...' if len(idx) > 5 else ''}"


def pcc_matrix(ans: torch.Tensor, bns: torch.Tensor, *, an_names=None, bn_names=None,
               story: str = "") -> torch.Tensor:
    """Pearson correlation of every AN with every BN.

    Parameters
    ----------
    ans : Tensor of shape (n_trs, n_ans)
    bns : Tensor of shape (n_trs, n_bns)

    Returns
    -------
    Tensor of shape (n_ans, n_bns)
    """
    if ans.shape[0] != bns.shape[0]:
        raise DataError(f"story {story!r}: AN series have {ans.shape[0]} TRs but BN series "
                        f"{bns.shape[0]}; both must be on the kept volumes of the story")
    a = standardize(ans.to(torch.float64), an_names, f"story {story!r}, ANs")
    b = standardize(bns.to(torch.float64), bn_names, f"story {story!r}, BNs")
    return (a.T @ b).to(ans.dtype)


def anchors(pcc: torch.Tensor, mode: str = "signed") -> dict[str, torch.Tensor]:
    """Eq. 1 and Eq. 2: each AN's best BN and each BN's best AN.

    Parameters
    ----------
    pcc : Tensor of shape (n_ans, n_bns)
    mode : {'signed', 'abs'}
        Maximize r (the paper) or |r|.

    Returns
    -------
    dict with ``an_to_bn`` (n_ans,), ``an_max`` (n_ans,), ``bn_to_an`` (n_bns,),
    ``bn_max`` (n_bns,); maxima are of the signed r at the chosen partner.
    """
    score = _score(pcc, mode)
    an_to_bn = score.argmax(1)
    bn_to_an = score.argmax(0)
    return {"an_to_bn": an_to_bn, "an_max": pcc.gather(1, an_to_bn[:, None])[:, 0],
            "bn_to_an": bn_to_an, "bn_max": pcc.gather(0, bn_to_an[None])[0]}


def _score(pcc, mode):
    if mode == "signed":
        return pcc
    if mode == "abs":
        return pcc.abs()
    raise ParameterError(f"mode must be 'signed' or 'abs', not {mode!r}")


def randomize(b: torch.Tensor, n: int, null: str, generator: torch.Generator,
              min_shift: int = 10) -> torch.Tensor:
    """``n`` randomized copies of the series ``b`` (n_trs, n_bns), standardized.

    Returns a Tensor of shape (n, n_trs, n_bns).  One randomization per copy, applied to
    all columns alike.
    """
    T = b.shape[0]
    dev = b.device
    if null == "shuffle":
        idx = torch.argsort(torch.rand(n, T, generator=generator, device=dev), dim=1)
        out = b[idx]
    elif null == "circular":
        lag = _draw_lags(T, n, generator, min_shift, dev)
        idx = (torch.arange(T, device=dev)[None] - lag[:, None]) % T
        out = b[idx]
    elif null == "phase":
        f = torch.fft.rfft(b, dim=0)  # (F, K)
        phase = 2 * torch.pi * torch.rand(n, f.shape[0], 1, generator=generator, device=dev,
                                          dtype=b.dtype)
        phase[:, 0] = 0  # keep the mean
        if T % 2 == 0:
            phase[:, -1] = 0  # the Nyquist term stays real
        out = torch.fft.irfft(f[None] * torch.exp(1j * phase), n=T, dim=1)
    else:
        raise ParameterError(f"null model must be one of {NULL_MODELS}, not {null!r}")
    return zscore(out, axis=1) / math.sqrt(T)


def surrogate_series(x: np.ndarray, method: str | None = "phase", *, random_state: int = 0,
                     story: int = 0) -> np.ndarray:
    """A surrogate of every column of ``x`` (the ``an_surrogate`` control), or ``x``.

    ``'phase'``: phase randomization by :func:`randomize` (the phase null of the BNs),
    one draw of random phases shared by all columns, so each column keeps its power
    spectrum and the columns keep their correlations with each other, while their timing
    is random.  Each column is brought back to its own mean and standard deviation (which
    the randomization keeps: the zero-frequency term and the amplitudes are unchanged), so
    the surrogate has exactly the column's power spectrum.

    Parameters
    ----------
    x : ndarray of shape (n_trs, n_series)
    method : {'phase'} or None
        None returns ``x`` unchanged.
    random_state : int
        The run's seed.  The phases come from a generator seeded from
        ``(random_state, story)`` by :class:`numpy.random.SeedSequence`, not from
        ``random_state`` itself, so they are not the first draw of the BN phase null run
        with the same seed.
    story : int
        Index of the story, so that each story gets its own phases.

    Returns
    -------
    ndarray of the shape and dtype of ``x``
    """
    if method is None:
        return x
    if method not in AN_SURROGATES:
        raise ParameterError(f"an_surrogate must be None or one of {AN_SURROGATES}, not {method!r}")
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    seed = int(np.random.SeedSequence([random_state, story, 0x5E]).generate_state(1)[0])
    out = randomize(t, 1, method, torch.Generator().manual_seed(seed))[0]  # z-scores / sqrt(T)
    sd = t.std(0, unbiased=False)
    out = out * math.sqrt(t.shape[0]) * sd + t.mean(0)
    return out.numpy().astype(np.asarray(x).dtype)


def _draw_lags(T: int, n: int, generator, min_shift: int, device) -> torch.Tensor:
    """``n`` circular lags drawn uniformly from ``[min_shift, T - min_shift]``."""
    if not 0 < min_shift < T - min_shift:
        raise ParameterError(f"min_shift={min_shift} leaves no lag for {T} TRs")
    return torch.randint(min_shift, T - min_shift + 1, (n,), generator=generator, device=device)


def _circular_lag_maxima(a: torch.Tensor, b: torch.Tensor, mode: str, chunk: int = 256):
    """For every lag L, each AN's max over BNs and each BN's max over ANs of the
    correlation of the AN with the BN shifted by L (``roll(b, L)``), without forming any
    shifted copy: ``r_ak(L) = sum_t a[t] b[t - L] = irfft(fft(a) * conj(fft(b)))[L]`` for
    standardized series.

    Returns (n_ans, T) and (n_bns, T).
    """
    T = a.shape[0]
    fa = torch.fft.rfft(a.to(torch.float64), dim=0)  # (F, A)
    fb = torch.fft.rfft(b.to(torch.float64), dim=0)  # (F, K)
    an_out = torch.empty(a.shape[1], T, dtype=a.dtype, device=a.device)
    bn_out = torch.full((b.shape[1], T), -torch.inf, dtype=a.dtype, device=a.device)
    for s in range(0, a.shape[1], chunk):
        cross = fa[:, s:s + chunk].T[:, None, :] * fb.conj().T[None]  # (c, K, F)
        r = _score(torch.fft.irfft(cross, n=T, dim=2).to(a.dtype), mode)  # (c, K, T)
        an_out[s:s + chunk] = r.amax(1)
        bn_out = torch.maximum(bn_out, r.amax(0))
    return an_out, bn_out


def max_statistic_test(
    ans: torch.Tensor, bns: torch.Tensor, *, null: str = "circular",
    n_permutations: int = 5000, mode: str = "signed", random_state: int = 0,
    chunk: int = 64, min_shift: int = 10, progress: bool = False, story: str = "",
) -> dict[str, np.ndarray]:
    """Permutation p- and FDR q-values of each AN's and each BN's maximal correlation.

    Parameters
    ----------
    ans : Tensor of shape (n_trs, n_ans)
    bns : Tensor of shape (n_trs, n_bns)
    null : {'shuffle', 'circular', 'phase'}
    n_permutations : int
        Randomizations B >= 1; p-values are ``(1 + count) / (1 + B)``, at least ``1 / (1 + B)``.
    mode : {'signed', 'abs'}
    random_state : int
    chunk : int
        Randomized copies per batched matrix product.
    min_shift : int
        Smallest lag of the circular shift (TRs).

    Returns
    -------
    dict of ndarrays: ``pcc`` (n_ans, n_bns), ``an_max``, ``an_p``, ``an_q`` (n_ans,),
    ``an_to_bn``, ``bn_max``, ``bn_p``, ``bn_q``, ``bn_to_an`` (n_bns,).

    Raises
    ------
    ParameterError
        If ``n_permutations`` is not a positive integer or ``null`` is unknown.
    """
    n_permutations = check_n_permutations(n_permutations)
    if null not in NULL_MODELS:
        raise ParameterError(f"null model must be one of {NULL_MODELS}, not {null!r}")
    a = standardize(ans.to(torch.float32), what=f"story {story!r}, ANs")
    b = standardize(bns.to(torch.float32), what=f"story {story!r}, BNs")
    if a.shape[0] != b.shape[0]:
        raise DataError(f"story {story!r}: {a.shape[0]} AN TRs but {b.shape[0]} BN TRs")
    pcc = a.T @ b
    obs = anchors(pcc, mode)
    obs_an = _score(pcc, mode).amax(1)
    obs_bn = _score(pcc, mode).amax(0)
    gen = torch.Generator(device=b.device).manual_seed(random_state)
    exceed_an = torch.zeros_like(obs_an)
    exceed_bn = torch.zeros_like(obs_bn)
    if null == "circular":
        # every circular shift at once: r(lag) of all pairs by FFT, then count the drawn lags
        lags = _draw_lags(b.shape[0], n_permutations, gen, min_shift, b.device)
        an_lag, bn_lag = _circular_lag_maxima(a, b, mode)  # (A, T), (K, T)
        weight = torch.bincount(lags, minlength=b.shape[0]).to(a.dtype)
        exceed_an = ((an_lag >= obs_an[:, None]).to(a.dtype) * weight).sum(1)
        exceed_bn = ((bn_lag >= obs_bn[:, None]).to(a.dtype) * weight).sum(1)
    for s in tqdm(range(0, n_permutations if null != "circular" else 0, chunk),
                  desc=f"{null} null", disable=not progress):
        n = min(chunk, n_permutations - s)
        null_b = randomize(b, n, null, gen, min_shift)  # (n, T, K)
        # one (n_ans x T) @ (T x n*n_bns) product for the whole chunk
        flat = null_b.to(a.dtype).permute(1, 0, 2).reshape(b.shape[0], -1)
        null_pcc = _score((a.T @ flat).reshape(a.shape[1], n, b.shape[1]), mode)  # (A, n, K)
        exceed_an += (null_pcc.amax(2) >= obs_an[:, None]).sum(1)
        exceed_bn += (null_pcc.amax(0) >= obs_bn).sum(0)
    an_p = permutation_p_values(exceed_an, n_permutations).cpu().numpy()
    bn_p = permutation_p_values(exceed_bn, n_permutations).cpu().numpy()
    return {
        "pcc": pcc.cpu().numpy(), "an_to_bn": obs["an_to_bn"].cpu().numpy(),
        "an_max": obs["an_max"].cpu().numpy(), "an_p": an_p,
        "an_q": false_discovery_control(an_p, method="bh"),
        "bn_to_an": obs["bn_to_an"].cpu().numpy(), "bn_max": obs["bn_max"].cpu().numpy(),
        "bn_p": bn_p, "bn_q": false_discovery_control(bn_p, method="bh"),
    }


#: The paper's significance level: p < 0.01 after FDR correction.
PAPER_ALPHA = 0.01

#: Headline numbers of the paper (BERT-base, Narratives Pie Man / Shapes, VS-DBN 128 BNs),
#: significance at :data:`PAPER_ALPHA`.
PAPER = {
    "pieman": {"ans_significant_pct": 99.57, "bn_max_pcc_mean": 0.4364, "bn_max_pcc_sd": 0.0473,
               "bns_significant": 128, "n_bns": 128, "alpha": PAPER_ALPHA},
    "shapessocial": {"ans_significant_pct": 98.71, "bn_max_pcc_mean": 0.4422,
                     "bn_max_pcc_sd": 0.0592, "bns_significant": 128, "n_bns": 128,
                     "alpha": PAPER_ALPHA},
}


def check_alphas(alphas: Sequence[float]) -> list[float]:
    """``alphas`` as a list of floats, or a :class:`ParameterError` unless it is a non-empty
    list of distinct levels in (0, 1)."""
    if isinstance(alphas, (int, float)) or not len(alphas) or \
            not all(isinstance(a, (int, float)) and 0 < a < 1 for a in alphas) or \
            len(set(alphas)) != len(alphas):
        raise ParameterError(f"alphas must be a non-empty list of distinct FDR levels in (0, 1), "
                             f"the primary one first (the paper: [0.01, 0.05]), not {alphas!r}")
    return [float(a) for a in alphas]


def summarize(result: dict, n_layers: int, *, alphas: Sequence[float] = (PAPER_ALPHA, 0.05),
              threshold: float = 0.25) -> dict:
    """Headline numbers of one story: AN and BN maxima, significance per null model and level.

    Parameters
    ----------
    result : dict
        ``{"pcc", "an_max", "an_to_bn", "bn_max", "bn_to_an", "tests": {null: test}}`` with
        ``test`` the output of :func:`max_statistic_test`.
    n_layers : int
        ANs are in layer order (``an_names``): layer of AN ``i`` is ``i // (n_ans / n_layers)``.
    alphas : sequence of float
        FDR levels; a unit is significant at ``alpha`` when its q-value is below it.  The
        first is the primary level (the paper's 0.01).
    threshold : float
        The PCC threshold of Fig. 4 (c-d).

    Returns
    -------
    dict
        ``n_ans``, ``n_bns``, AN and BN maxima (mean, s.d., per layer), the % of ANs below
        ``threshold`` per layer, the ANs anchored by BNs per layer, and ``nulls``: per null
        model ``{"alpha", "ans_significant_pct", "ans_significant", "bns_significant"}`` at
        the primary level and ``by_alpha``, the same for every level, in the order of
        ``alphas``.
    """
    alphas = check_alphas(alphas)
    n_ans, n_bns = result["pcc"].shape
    layer = an_layers(n_ans, n_layers)
    an_max, bn_max = result["an_max"], result["bn_max"]
    out = {
        "n_ans": int(n_ans), "n_bns": int(n_bns),
        "an_max_pcc_mean": float(an_max.mean()), "an_max_pcc_sd": float(an_max.std()),
        "bn_max_pcc_mean": float(bn_max.mean()), "bn_max_pcc_sd": float(bn_max.std()),
        "an_max_pcc_per_layer": [float(an_max[layer == l].mean()) for l in range(n_layers)],
        f"ans_below_{threshold}_pct_per_layer": [float(100 * (an_max[layer == l] < threshold).mean())
                                                 for l in range(n_layers)],
        "anchored_ans_per_layer": np.bincount(layer[result["bn_to_an"]],
                                              minlength=n_layers).tolist(),
        "nulls": {},
    }
    for null, test in result["tests"].items():
        levels = [{"alpha": a,
                   "ans_significant_pct": float(100 * (test["an_q"] < a).mean()),
                   "ans_significant": int((test["an_q"] < a).sum()),
                   "bns_significant": int((test["bn_q"] < a).sum())} for a in alphas]
        out["nulls"][null] = {**levels[0], "by_alpha": levels}
    return out


def significance_table(summary: dict, *, paper: dict | None = None) -> pd.DataFrame:
    """Significance per story, null model and FDR level, from a ``summary.json``.

    Parameters
    ----------
    summary : dict
        The content of ``04_coupling/summary.json`` (``{"stories": {task: summarize(...)}}``).
    paper : dict, optional
        The paper's numbers per story (:data:`PAPER`); its rows come last in each story
        with ``null='paper'``.

    Returns
    -------
    DataFrame with one row per (story, null, alpha): ``story``, ``null``, ``alpha``,
    ``ans_significant_pct``, ``bns_significant``, ``n_bns``, ``bn_max_pcc_mean``,
    ``bn_max_pcc_sd``; sorted by story, then level in the order of the run's ``alphas``
    (the paper's first), then null model in the run's order (the paper's row last).

    Raises
    ------
    DataError
        If ``summary`` has no per-level results (written before levels were reported).
    """
    rows = []
    for task, s in summary["stories"].items():
        for null, n in s["nulls"].items():
            if "by_alpha" not in n:
                raise DataError("summary.json has no 'by_alpha' results (written by an older "
                                "version of 04_coupling): re-run that stage")
            for lev in n["by_alpha"]:
                rows.append({"story": task, "null": null, "alpha": lev["alpha"],
                             "ans_significant_pct": lev["ans_significant_pct"],
                             "bns_significant": lev["bns_significant"], "n_bns": s["n_bns"],
                             "bn_max_pcc_mean": s["bn_max_pcc_mean"],
                             "bn_max_pcc_sd": s["bn_max_pcc_sd"]})
        if paper and task in paper:
            p = paper[task]
            rows.append({"story": task, "null": "paper", "alpha": p["alpha"],
                         **{k: p[k] for k in ("ans_significant_pct", "bns_significant", "n_bns",
                                              "bn_max_pcc_mean", "bn_max_pcc_sd")}})
    table = pd.DataFrame(rows)
    # levels in the summary's order (alphas), null models in the run's order (summary.json
    # is written with sorted keys), the paper's row last at its level
    levels = summary.get("parameters", {}).get("alphas") or list(dict.fromkeys(table["alpha"]))
    nulls = summary.get("parameters", {}).get("nulls") or list(dict.fromkeys(table["null"]))
    table["_level"] = table["alpha"].map({a: i for i, a in enumerate(levels)}).fillna(len(levels))
    table["_null"] = table["null"].map({n: i for i, n in enumerate(nulls)}).fillna(len(nulls))
    table["_story"] = table["story"].map({t: i for i, t in enumerate(summary["stories"])})
    table = table.sort_values(["_story", "_level", "_null"], kind="stable")
    return table.drop(columns=["_level", "_null", "_story"]).reset_index(drop=True)


def couple_story(ans: np.ndarray, bns: np.ndarray, *, nulls=NULL_MODELS,
                 n_permutations: int = 5000, mode: str = "signed", random_state: int = 0,
                 min_shift: int = 10, device: str = "cpu", story: str = "",
                 an_names=None, bn_names=None) -> dict:
    """PCC, anchors and the permutation tests under each null model, for one story.

    Parameters
    ----------
    ans : ndarray of shape (n_trs, n_ans)
        HRF-convolved AN series.
    bns : ndarray of shape (n_trs, n_bns)
        Subject-averaged BN series.

    Returns
    -------
    dict with ``pcc`` (n_ans, n_bns), the anchors of :func:`anchors` as ndarrays, and
    ``tests``: null model -> :func:`max_statistic_test` output.
    """
    check_n_permutations(n_permutations)  # before any computation
    unknown = [n for n in nulls if n not in NULL_MODELS]
    if unknown or not len(nulls):
        raise ParameterError(f"nulls must be a non-empty list of {NULL_MODELS}, not {nulls!r}")
    a = torch.tensor(np.asarray(ans, dtype=np.float32), device=device)
    b = torch.tensor(np.asarray(bns, dtype=np.float32), device=device)
    pcc = pcc_matrix(a, b, an_names=an_names, bn_names=bn_names, story=story)
    anch = {k: v.cpu().numpy() for k, v in anchors(pcc, mode).items()}
    tests = {null: max_statistic_test(a, b, null=null, n_permutations=n_permutations,
                                      mode=mode, random_state=random_state, min_shift=min_shift,
                                      story=story) for null in nulls}
    return {"pcc": pcc.cpu().numpy(), **anch, "tests": tests}


def save_coupling(result: dict, folder) -> None:
    """Write one story's PCC matrix, anchors and p/q-values (``.npy``) to ``folder``."""
    from pathlib import Path

    from .io import save_array

    folder = Path(folder)
    for key in ("pcc", "an_to_bn", "an_max", "bn_to_an", "bn_max"):
        save_array(folder / f"{key}.npy", result[key])
    for null, t in result["tests"].items():
        for key in ("an_p", "an_q", "bn_p", "bn_q"):
            save_array(folder / f"{key}_{null}.npy", t[key])

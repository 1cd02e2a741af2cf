"""Verdicts: a claim on the real run against the null phantom and the controls.

The verdict of a claim (:func:`verdict`), in this order:

1. the real run cannot be measured: *untested*, with the reason;
2. the real run does not reproduce it: *not reproduced on this data*; a claim read with an
   invalid null (time points shuffled) is then *not evidence of coupling*;
3. the null phantom (no AN drives any network) is not significantly weaker: *not evidence
   of coupling*;
4. a control (an untrained model, shuffled words, the other story's networks,
   phase-randomized ANs) is not significantly weaker: *not evidence about language*, naming
   the controls and by how much;
5. the null phantom or a control (:data:`REQUIRED_CONTROLS`) is missing, was not measured,
   or cannot be compared: *untested*, naming them;
6. otherwise: *holds on this data*, with by how much it beats each.

"Significantly weaker": the interval of the real run minus the other run is above zero in
every story (:class:`~anbn_utils.verdict.Contrast`: from the claims' bootstrap replicates, or
for the shares of significant units a bootstrap of the heads,
:func:`~anbn_utils.verdict.share_contrast`); for the family-wise pairs, the other run finds
none.  A claim about the
text alone gets no coupling verdict.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..errors import DataError, ParameterError
from .claims import (
    CLAIMS,
    DEFAULT_RULES,
    NOT_REPRODUCED,
    UNTESTED,
    Claim,
    Measurement,
    Rules,
    RunResult,
    contrast,
)

__all__ = ["COMPARED_PARAMETERS", "NULL_NAME", "REQUIRED_CONTROLS", "VERDICTS", "claims_table",
           "comparability", "verdict", "verdict_counts"]

#: The name of the null phantom in the table.
NULL_NAME = "null phantom"

#: The first words of each verdict, for counting them.
VERDICTS = {"holds": "holds", "not evidence": "not evidence", "not reproduced":
            "not reproduced", "untested": "untested", "text": "a property of the text"}

#: The parameters of 04_coupling the claims' statistics depend on: runs compared in one
#: table must agree on them.
COMPARED_PARAMETERS = ("nulls", "n_permutations", "alphas", "mode", "pcc_threshold",
                       "min_shift", "fdr_tail", "nuisance", "claim_null", "claim_boot",
                       "claim_block", "predictive_check", "ridge_folds", "ridge_gap",
                       "partition_shifts")

#: The controls a verdict needs (the study's variants of chapter 07): an untrained model,
#: shuffled words, the other story's networks, phase-randomized ANs.
REQUIRED_CONTROLS = ("untrained", "shuffled_words", "other_story", "an_phase")


def comparability(real: RunResult, other: RunResult) -> list[str]:
    """What differs between two runs in what the claims' statistics depend on: the
    stories, each story's ANs, BNs and TRs, and :data:`COMPARED_PARAMETERS`.

    When ``other``'s BNs are the other story's (``bn_pairing='crossed'``, a control), it is
    cut to the stories' common TRs by design: its TRs are not compared.

    Returns
    -------
    list of str
        One line per difference; empty when the runs are comparable.
    """
    out = []
    if real.stories != other.stories:
        return [f"stories {real.stories} and {other.stories}"]
    for key in COMPARED_PARAMETERS:
        a, b = real.parameters.get(key), other.parameters.get(key)
        if a != b:
            out.append(f"{key} {a!r} and {b!r}")
    crossed = other.parameters.get("bn_pairing") == "crossed"
    for s in real.stories:
        x, y = real.summary["stories"][s], other.summary["stories"][s]
        for key in ("n_ans", "n_bns"):
            if x[key] != y[key]:
                out.append(f"{s}: {key} {x[key]} and {y[key]}")
        t_a, t_b = real.summary.get("n_trs", {}).get(s), other.summary.get("n_trs", {}).get(s)
        if t_a != t_b and not crossed:
            out.append(f"{s}: {t_a} and {t_b} TRs")
    return out


def _compare(claim: Claim, real: RunResult, real_m: Measurement, other: RunResult,
             other_m: Measurement, rules: Rules) -> tuple[bool, str]:
    """Whether ``other`` is significantly weaker than ``real`` on the claim, and how much."""
    if claim.contrast is not None:
        c = claim.contrast(real, other, rules)
    else:
        c = contrast(real_m, other_m, confidence=rules.confidence,
                     random_state=rules.random_state)
    if c is not None:
        return c.weaker, c.text()
    weaker = other_m.status == NOT_REPRODUCED
    return weaker, "" if weaker else "it meets the rule too"


def verdict(claim: Claim, real: RunResult, real_m: Measurement,
            others: Mapping[str, tuple[RunResult | None, Measurement | None, str]],
            rules: Rules = DEFAULT_RULES) -> tuple[str, dict[str, str]]:
    """The verdict of one claim (see the module docstring).

    Parameters
    ----------
    claim : Claim
    real : RunResult
    real_m : Measurement
        The claim on the real run.
    others : mapping of name -> (run, measurement, reason)
        The null phantom (:data:`NULL_NAME`) and each control; run and measurement None when
        the run is missing or cannot be compared (``reason`` says why).
    rules : Rules

    Returns
    -------
    verdict : str
    contrasts : dict of name -> str
        Per compared run, the contrast (real minus it) as text.
    """
    if claim.kind == "text":
        return (f"{VERDICTS['text']}: {real_m.status}" if real_m.status != UNTESTED
                else f"{VERDICTS['untested']}: {real_m.reason}"), {}
    if real_m.status == UNTESTED:
        return f"untested: {real_m.reason}", {}
    if real_m.status == NOT_REPRODUCED:
        return "not reproduced on this data", {}
    if claim.kind == "invalid null":
        return ("not evidence of coupling: its null ignores the autocorrelation of the series "
                "(chapter 04's calibration)"), {}
    weaker, texts, missing = {}, {}, []
    if NULL_NAME not in others:
        missing.append(f"{NULL_NAME} (not given)")
    for name, (run, m, reason) in others.items():
        if run is None or m is None:
            missing.append(f"{name} ({reason})")
        elif m.status == UNTESTED:
            missing.append(f"{name} ({m.reason})")
        else:
            weaker[name], texts[name] = _compare(claim, real, real_m, run, m, rules)
    if NULL_NAME in weaker and not weaker[NULL_NAME]:
        return ("not evidence of coupling: the null phantom, with no coupling, is not "
                f"significantly weaker ({texts[NULL_NAME]})"), texts
    shown = [n for n, w in weaker.items() if not w and n != NULL_NAME]
    if shown:
        return ("not evidence about language: " + "; ".join(
            f"{n} not significantly weaker" + (f" ({texts[n]})" if texts[n] else "")
            for n in shown)), texts
    if missing:
        return "untested: no comparison with " + "; ".join(missing), texts
    beats = [f"{n} by {texts[n]}" if texts[n] else f"{n} (which does not meet the rule)"
             for n in weaker]
    return "holds on this data: stronger than " + "; ".join(beats), texts


def claims_table(real: RunResult, null: RunResult | None = None,
                 controls: Mapping[str, RunResult | None] | None = None,
                 rules: Rules = DEFAULT_RULES, *, on_mismatch: str = "raise",
                 required_controls: tuple[str, ...] = REQUIRED_CONTROLS,
                 claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """The claims table: one row per claim with the paper's value, each run's value, the
    contrasts and the verdict.

    Parameters
    ----------
    real : RunResult
        The run the claims are tested on.
    null : RunResult, optional
        The null phantom (no coupling planted); None: missing (every coupling claim that the
        real run reproduces is then untested).
    controls : mapping of str -> RunResult or None, optional
        The controls, by name; None for one that did not run (named as missing in the
        verdicts).
    required_controls : tuple of str
        Controls a claim needs to hold: one not in ``controls`` counts as not run.
    rules : Rules
    on_mismatch : {'raise', 'untested'}
        A run that differs from ``real`` in what the statistics depend on
        (:func:`comparability`): raise a :class:`DataError` naming the differences, or leave
        it out of the comparisons and name it in the verdicts as not comparable.
    claims : tuple of Claim

    Returns
    -------
    DataFrame with columns ``key``, ``claim``, ``kind``, ``paper``, one per run (the statistic as
    text: the real run's name, :data:`NULL_NAME`, each control), ``status`` (the real run's:
    reproduced / not reproduced / untested), ``verdict``, ``contrasts`` (real minus each
    compared run, with intervals), and ``<name> status`` for each other run.
    """
    if on_mismatch not in ("raise", "untested"):
        raise ParameterError(f"on_mismatch must be 'raise' or 'untested', not {on_mismatch!r}")
    others: dict[str, RunResult | None] = {
        NULL_NAME: null, **{c: None for c in required_controls}, **dict(controls or {})}
    reasons: dict[str, str] = {}
    for name, run in list(others.items()):
        if run is None:
            reasons[name] = "not run"
            continue
        diff = comparability(real, run)
        if diff and on_mismatch == "raise":
            raise DataError(f"the runs {real.name!r} ({real.path}) and {name!r} ({run.path}) "
                            f"cannot be compared: they differ in {'; '.join(diff)}. Run both "
                            "with the same parameters")
        if diff:
            reasons[name] = "not comparable: differs in " + "; ".join(diff)
            others[name] = None
    rows = []
    for claim in claims:
        real_m = claim.measure(real, rules)
        row = {"key": claim.key, "claim": claim.text, "kind": claim.kind, "paper": claim.paper,
               real.name: real_m.text}
        measured, statuses = {}, {}
        for name, run in others.items():
            m = claim.measure(run, rules) if run is not None else None
            row[name] = m.text if m is not None else f"untested: {reasons[name]}"
            statuses[f"{name} status"] = m.status if m is not None else UNTESTED
            measured[name] = (run, m, reasons.get(name, ""))
        row["status"] = real_m.status
        row["verdict"], texts = verdict(claim, real, real_m, measured, rules)
        row["contrasts"] = "; ".join(f"{n}: {t}" for n, t in texts.items() if t)
        rows.append({**row, **statuses})
    return pd.DataFrame(rows)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many claims of :func:`claims_table` got each verdict (:data:`VERDICTS`)."""
    return {key: int(table["verdict"].str.startswith(start).sum())
            for key, start in VERDICTS.items()}


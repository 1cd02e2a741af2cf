"""Controls: runs of the pipeline that should show no coupling, and how a chapter says so.

A control is a variant of a run in which one ingredient of the paper's coupling is
broken on purpose; each is a parameter of a stage (set with ``--set NAME=VALUE``):

=================================  ============  ==========================================
control                            stage         parameter
=================================  ============  ==========================================
untrained model                    02_ans        ``model=random:<model>``
                                                 (:func:`anbn_utils.assets.random_model`)
shuffled story, timings kept       02_ans        ``word_order=shuffled``
                                                 (:mod:`anbn_utils.ans.wordorder`)
BN time courses of another story   04_coupling   ``bn_pairing=crossed`` (:func:`pair_series`)
phase-randomized ANs               04_coupling   ``an_surrogate=phase``
                                                 (:func:`anbn_utils.coupling.statistics.surrogate_series`)
=================================  ============  ==========================================

:func:`active_controls` lists the controls a run's parameters switch on, each with a short
label for figure captions and a sentence for the chapter, so that a reader of a control
run's chapter knows it is one.  This module is light (no PyTorch): the AN and the
coupling chapters both import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .assets import RANDOM_MODELS, RANDOM_PREFIX, is_random_model
from .choices import AN_SURROGATES, BN_PAIRINGS, WORD_ORDERS
from .errors import DataError, ParameterError

__all__ = ["Control", "active_controls", "bn_partners", "caption_suffix", "pair_series"]


@dataclass(frozen=True)
class Control:
    """An active control: ``label`` for captions, ``note`` (Markdown) for the chapter."""

    name: str
    label: str
    note: str


def bn_partners(tasks: Sequence[str], bn_pairing: str = "matched") -> dict[str, str]:
    """The story whose BN time courses each story's ANs are coupled with.

    ``'matched'``: its own (the paper).  ``'crossed'``: the next story of ``tasks``, the
    last taking the first's (two stories swap); the time courses then come from a story
    the model never read, so any coupling is chance or shared slow drifts.

    Raises
    ------
    ParameterError
        For an unknown pairing, or ``'crossed'`` with fewer than two stories.
    """
    tasks = list(tasks)
    if bn_pairing not in BN_PAIRINGS:
        raise ParameterError(f"bn_pairing must be one of {BN_PAIRINGS}, not {bn_pairing!r}")
    if bn_pairing == "matched":
        return {t: t for t in tasks}
    if len(tasks) < 2:
        raise ParameterError(f"bn_pairing='crossed' couples one story's ANs with another "
                             f"story's BNs and needs at least two tasks, not {tasks!r}")
    return {t: tasks[(i + 1) % len(tasks)] for i, t in enumerate(tasks)}


def pair_series(ans: np.ndarray, bns: np.ndarray, *, same_story: bool,
                story: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The AN and BN series to correlate, on a common time axis.

    Parameters
    ----------
    ans : ndarray of shape (n_trs_a, n_ans)
    bns : ndarray of shape (n_trs_b, n_bns)
    same_story : bool
        True for a story's own BNs: both must have the story's TRs (else a
        :class:`DataError`).  False for another story's (``bn_pairing='crossed'``): both
        are cut to their first ``min(n_trs_a, n_trs_b)`` TRs, counted from each story's
        first kept volume.

    Returns
    -------
    ans : ndarray of shape (n_trs, n_ans)
    bns : ndarray of shape (n_trs, n_bns)
    """
    if same_story:
        if len(ans) != len(bns):
            raise DataError(f"story {story!r}: AN series have {len(ans)} TRs but BN series "
                            f"{len(bns)}; both must be on the kept volumes of the story")
        return ans, bns
    n = min(len(ans), len(bns))
    return ans[:n], bns[:n]


def active_controls(params: Mapping, *, partners: Mapping[str, str] | None = None,
                    n_trs: Mapping[str, int] | None = None) -> list[Control]:
    """The controls that ``params`` (a stage's parameters, or the AN metadata's) switch on.

    Parameters
    ----------
    params : mapping
        Any of ``model``, ``seed``, ``word_order``, ``bn_pairing``, ``an_surrogate``.
    partners : mapping, optional
        Story -> story of its BNs (:func:`bn_partners`), named in the crossed note.
    n_trs : mapping, optional
        Story -> TRs coupled, named in the crossed note.

    Returns
    -------
    list of :class:`Control`, empty for the paper's pipeline.
    """
    out = []
    model = params.get("model")
    seed = params.get("seed", 0)
    if model and is_random_model(model):
        extra = f" {RANDOM_MODELS[model]}" if RANDOM_MODELS.get(model) else ""
        if model not in RANDOM_MODELS:
            extra = f" Its configuration and tokenizer are those of `{model[len(RANDOM_PREFIX):]}`."
        out.append(Control("model", "untrained model", (
            f"**Control: untrained model.** `{model}` has random weights (transformers' own "
            f"initialisation, seed {seed}) and no training: what its ANs share with the brain "
            f"comes from the architecture, the tokenizer and the word timing, not from "
            f"learning language.{extra}")))
    word_order = params.get("word_order", "original")
    if word_order not in WORD_ORDERS:
        raise ParameterError(f"word_order must be one of {WORD_ORDERS}, not {word_order!r}")
    if word_order == "shuffled":
        out.append(Control("word_order", "shuffled words", (
            f"**Control: shuffled story.** The model read the story's words shuffled within "
            f"each sentence and the sentences shuffled (seed {seed}); every word slot keeps "
            f"its time, so the words per TR are the story's while their order is not.")))
    pairing = params.get("bn_pairing", "matched")
    if pairing not in BN_PAIRINGS:
        raise ParameterError(f"bn_pairing must be one of {BN_PAIRINGS}, not {pairing!r}")
    if pairing == "crossed":
        which = ""
        if partners:
            which = " (" + "; ".join(
                f"{a}'s ANs with {b}'s BNs" + (f" over {n_trs[a]} TRs" if n_trs else "")
                for a, b in partners.items()) + ")"
        out.append(Control("bn_pairing", "BNs of the other story", (
            f"**Control: crossed stories.** Each story's ANs are correlated with the BN time "
            f"courses of the other story{which}, over the first TRs the two have in common: "
            f"the brain never heard the text the model read.")))
    surrogate = params.get("an_surrogate")
    if surrogate is not None and surrogate not in AN_SURROGATES:
        raise ParameterError(f"an_surrogate must be None or one of {AN_SURROGATES}, "
                             f"not {surrogate!r}")
    if surrogate == "phase":
        out.append(Control("an_surrogate", "phase-randomized ANs", (
            f"**Control: phase-randomized ANs.** Every AN series was replaced by a phase "
            f"randomization of itself (the same random phases for all ANs, seed {seed}): "
            f"power spectra and the ANs' correlations with each other are kept, their "
            f"timing relative to the story is not.")))
    return out


def caption_suffix(controls: Sequence[Control]) -> str:
    """`` | CONTROL: <labels>`` for a figure caption, or ``''`` when none is active."""
    return f" | CONTROL: {', '.join(c.label for c in controls)}" if controls else ""

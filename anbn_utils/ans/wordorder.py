"""The shuffled-story control: the same words at the same times, in another order.

:func:`shuffle_word_order` permutes the words within each sentence and then the order of
the sentences, and gives the i-th *timed word slot* of the story (its ``start``, ``end``,
``volume``, ``tr``: when a word was heard) the i-th word of the shuffled sequence.  The
multiset of words, the number of words per TR and every timing are those of the story;
what the words say, in what order, is not.  A model reading the shuffled text sees the
same vocabulary at the same moments without the story's syntax and narrative, so a
coupling that survives it is not about language structure.

What moves and what stays:

- a word's identity (``word``, ``aligned_word``) moves with the word; ``source_index`` is
  its index in the story's table;
- timings and what they depend on (``start``, ``end``, ``volume``, ``tr``, ``clipped``,
  ``interpolated``, ``case``) stay with the slot;
- punctuation (``punct``, the characters after a word) keeps its place within its
  sentence and moves with the sentence: each sentence still ends with its final
  punctuation, so the shuffled text has the story's sentences (each a permutation of one
  original sentence) and is segmented for the model in the same way
  (:func:`~anbn_utils.ans.tokens.sentence_spans`);
- the transcript is rebuilt as the words, each followed by its punctuation and one space
  (paragraph breaks are dropped), with ``start_offset`` and ``end_offset`` pointing into
  it, so tokenization and TR assignment run unchanged
  (:func:`~anbn_utils.ans.tokens.tokenize_story`).

Capitalization is the words' own (a sentence-initial "The" may land mid-sentence); the
uncased models of this project do not see it.  A table without punctuation (Gentle's
``align.csv``) is one sentence: its words are shuffled across the whole story.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..choices import WORD_ORDERS
from ..errors import DataError, ParameterError
from .tokens import sentence_spans

__all__ = ["WORD_ORDERS", "apply_word_order", "shuffle_word_order"]

#: Columns that carry a word's identity (they move with the word).
IDENTITY_COLUMNS = ("word", "aligned_word")


def shuffle_word_order(words: pd.DataFrame, *, random_state: int = 0
                       ) -> tuple[pd.DataFrame, str]:
    """Shuffle words within sentences and the sentences, keeping every word slot's time.

    Parameters
    ----------
    words : DataFrame of shape (n_words, n_columns)
        A story's word table (``word``, ``punct`` and the timing columns, see
        :class:`~anbn_utils.narratives.Story`), in story order.
    random_state : int
        Seed of the permutations (``numpy.random.default_rng``): the same seed gives the
        same shuffle.

    Returns
    -------
    words : DataFrame of shape (n_words, n_columns + 1)
        Row i is slot i of the story (its times) holding word ``source_index[i]`` of the
        story; ``start_offset``/``end_offset`` point into the new transcript.
    transcript : str
        The shuffled text.

    Raises
    ------
    DataError
        If ``words`` is empty or lacks ``word`` or ``punct``.
    """
    missing = sorted({"word", "punct"} - set(words.columns))
    if missing or len(words) == 0:
        raise DataError(f"the word table {'lacks ' + ', '.join(missing) if missing else 'is empty'}"
                        "; pass a story's words (anbn_utils.narratives.load_story(...).words)")
    words = words.reset_index(drop=True)
    rng = np.random.default_rng(random_state)
    spans = sentence_spans(words)
    order = rng.permutation(len(spans))
    source = np.concatenate([a + rng.permutation(b - a) for a, b in (spans[i] for i in order)])
    slots = np.concatenate([np.arange(a, b) for a, b in (spans[i] for i in order)])
    out = words.copy()
    for col in IDENTITY_COLUMNS:
        if col in words:
            out[col] = words[col].to_numpy()[source]
    out["punct"] = words["punct"].fillna("").to_numpy()[slots]  # sentence structure
    out["source_index"] = source
    starts, ends, pieces, pos = [], [], [], 0
    for word, punct in zip(out["word"].astype(str), out["punct"]):
        starts.append(pos)
        ends.append(pos + len(word))
        piece = f"{word}{punct} "
        pieces.append(piece)
        pos += len(piece)
    out["start_offset"], out["end_offset"] = starts, ends
    return out, "".join(pieces).rstrip()


def apply_word_order(words: pd.DataFrame, transcript: str, word_order: str = "original", *,
                     random_state: int = 0) -> tuple[pd.DataFrame, str]:
    """The story as the model reads it: ``'original'`` returns ``words`` and ``transcript``
    unchanged, ``'shuffled'`` :func:`shuffle_word_order` of ``words``.

    Raises
    ------
    ParameterError
        If ``word_order`` is not one of :data:`WORD_ORDERS`.
    """
    if word_order not in WORD_ORDERS:
        raise ParameterError(f"word_order must be one of {WORD_ORDERS}, not {word_order!r}")
    if word_order == "original":
        return words, transcript
    return shuffle_word_order(words, random_state=random_state)

"""From story text to model tokens on the TR grid.

1. **Sentences.** A sentence ends at a word whose trailing punctuation (restored from the
   transcript, column ``punct`` of the word table) contains ``.``, ``!`` or ``?``.
2. **Segments.** The model reads the story in segments of at most ``max_tokens`` tokens
   (its position limit, special tokens included), cut at sentence boundaries.
   ``'greedy'`` fills each segment with whole sentences up to the limit (the paper's
   Pie Man segments, 505-468-254 tokens, look filled this way); ``'balanced'`` uses the
   same number of segments with lengths as equal as the sentences allow.  Each segment
   is tokenized on its own text, with the model's special tokens.
3. **Tokens to words to TRs.** Each token maps to the word whose character span holds
   its start; punctuation after a word maps to that word. A token's volume is its word's
   volume. ``[CLS]`` (or any leading special token) takes the volume of the segment's
   first word token, ``[SEP]`` that of its last.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["segment_sentences", "sentence_spans", "tokenize_story"]

TOKEN_COLUMNS = ["segment", "position", "token", "token_id", "special", "char_start",
                 "char_end", "word_index", "volume"]


def sentence_spans(words: pd.DataFrame) -> list[tuple[int, int]]:
    """Sentences as half-open word-index ranges ``[first, last + 1)``."""
    ends = words["punct"].fillna("").str.contains(r"[.!?]", regex=True).to_numpy(copy=True)
    ends[-1] = True
    stops = np.flatnonzero(ends) + 1
    starts = np.concatenate([[0], stops[:-1]])
    return list(zip(starts.tolist(), stops.tolist()))


def _partition_balanced(lengths: list[int], n_parts: int) -> list[int]:
    """Split ``lengths`` into ``n_parts`` contiguous groups minimizing the largest sum.

    Returns the start index of each group.  Dynamic programming, O(n^2 * n_parts).
    """
    n = len(lengths)
    prefix = np.concatenate([[0], np.cumsum(lengths)])
    best = np.full((n_parts + 1, n + 1), np.inf)
    arg = np.zeros((n_parts + 1, n + 1), dtype=int)
    best[0, 0] = 0
    for p in range(1, n_parts + 1):
        for j in range(p, n + 1):
            cand = np.maximum(best[p - 1, p - 1:j], prefix[j] - prefix[p - 1:j])
            i = int(np.argmin(cand))
            best[p, j], arg[p, j] = cand[i], i + p - 1
    starts, j = [], n
    for p in range(n_parts, 0, -1):
        j = arg[p, j]
        starts.append(j)
    return starts[::-1]


def segment_sentences(
    lengths: list[int], limit: int, *, method: str = "greedy", split_long: bool = False
) -> list[list[int]]:
    """Group sentences (given by their token counts) into segments of at most ``limit``.

    Parameters
    ----------
    lengths : list of int
        Tokens per sentence (without special tokens).
    limit : int
        Most tokens per segment (without special tokens).
    method : {'greedy', 'balanced'}
        See the module docstring.
    split_long : bool
        A sentence longer than ``limit`` raises a :class:`DataError` unless this is True;
        then the caller splits it (see :func:`tokenize_story`).

    Returns
    -------
    list of list of int
        Sentence indices of each segment.
    """
    too_long = [i for i, n in enumerate(lengths) if n > limit]
    if too_long and not split_long:
        raise DataError(
            f"sentence(s) {too_long[:5]} have more tokens ({max(lengths)}) than a segment can "
            f"hold ({limit}); the text has no sentence boundary there. Use a model with a "
            "larger limit, or split_long_sentences=True to cut such sentences between words."
        )
    groups: list[list[int]] = [[]]
    total = 0
    for i, n in enumerate(lengths):
        if groups[-1] and total + n > limit:
            groups.append([])
            total = 0
        groups[-1].append(i)
        total += n
    if method == "greedy":
        return groups
    if method != "balanced":
        raise DataError(f"segmentation must be 'greedy' or 'balanced', not {method!r}")
    starts = _partition_balanced(lengths, len(groups)) + [len(lengths)]
    return [list(range(a, b)) for a, b in pairwise(starts)]


def _chunks_of_long_sentence(word_ids: list[int], word_lengths: list[int], limit: int):
    chunk, total = [], 0
    for w, n in zip(word_ids, word_lengths):
        if n > limit:
            raise DataError(f"word {w} alone has {n} tokens, more than a segment holds ({limit})")
        if chunk and total + n > limit:
            yield chunk
            chunk, total = [], 0
        chunk.append(w)
        total += n
    if chunk:
        yield chunk


def tokenize_story(
    transcript: str,
    words: pd.DataFrame,
    tokenizer,
    *,
    max_tokens: int,
    segmentation: str = "greedy",
    split_long_sentences: bool = False,
) -> pd.DataFrame:
    """Tokenize a story into model segments and place every token on the volume grid.

    Parameters
    ----------
    transcript : str
        The story text.
    words : DataFrame
        Word table with ``start_offset``, ``end_offset`` (into ``transcript``), ``punct``
        and ``volume`` (absolute volume of the word).
    tokenizer : transformers fast tokenizer
        Must return offsets (``return_offsets_mapping``).
    max_tokens : int
        Most tokens per segment, special tokens included (512 for BERT).
    segmentation : {'greedy', 'balanced'}
    split_long_sentences : bool
        Cut sentences longer than a segment between words instead of raising.

    Returns
    -------
    DataFrame
        One row per model token, columns :data:`TOKEN_COLUMNS` (``position`` within the
        segment, specials included; ``word_index`` -1 for special tokens).
    """
    if not transcript.strip() or len(words) == 0:
        raise DataError("the story text is empty: nothing to tokenize")
    if not getattr(tokenizer, "is_fast", False):
        raise DataError(
            f"{type(tokenizer).__name__} is not a fast tokenizer and gives no character "
            "offsets; load it with AutoTokenizer.from_pretrained(..., use_fast=True)."
        )
    missing = words["volume"].isna() if "volume" in words else pd.Series(True, words.index)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} word(s) have no time/volume (e.g. "
            f"{words.loc[missing, 'word'].head(3).tolist()}); build the word table with "
            "anbn_utils.narratives.prepare_story, which interpolates missing times."
        )
    n_special = tokenizer.num_special_tokens_to_add()
    limit = max_tokens - n_special
    starts = words["start_offset"].to_numpy()
    volumes = words["volume"].to_numpy().astype(int)

    def encode(first_word: int, last_word: int, add_special: bool):
        a = int(starts[first_word])
        b = (int(starts[last_word + 1]) if last_word + 1 < len(words) else len(transcript))
        enc = tokenizer(transcript[a:b].rstrip(), add_special_tokens=add_special,
                        return_offsets_mapping=True, return_special_tokens_mask=add_special)
        return a, enc

    # token counts per word, from one pass over the whole text
    whole = tokenizer(transcript, add_special_tokens=False, return_offsets_mapping=True,
                      verbose=False)  # only counts tokens: longer than the model is fine
    tok_starts = np.array([s for s, _ in whole["offset_mapping"]])
    tok_word = np.clip(np.searchsorted(starts, tok_starts, side="right") - 1, 0, len(words) - 1)
    per_word = np.bincount(tok_word, minlength=len(words))
    spans = sentence_spans(words)
    units: list[list[int]] = []  # word ranges that must stay together
    for a, b in spans:
        if per_word[a:b].sum() > limit and split_long_sentences:
            units += [c for c in _chunks_of_long_sentence(list(range(a, b)),
                                                          per_word[a:b].tolist(), limit)]
        else:
            units.append(list(range(a, b)))
    groups = segment_sentences([int(per_word[u].sum()) for u in units], limit,
                               method=segmentation, split_long=False)
    rows = []
    for seg, group in enumerate(groups):
        first, last = units[group[0]][0], units[group[-1]][-1]
        offset, enc = encode(first, last, True)
        n = len(enc["input_ids"])
        if n > max_tokens:
            raise DataError(
                f"segment {seg} has {n} tokens after tokenizing its own text, more than "
                f"max_tokens={max_tokens}; lower max_tokens by a few tokens."
            )
        special = np.array(enc["special_tokens_mask"], dtype=bool)
        offs = np.array(enc["offset_mapping"]) + offset
        wi = np.clip(np.searchsorted(starts, offs[:, 0], side="right") - 1, first, last)
        wi = np.where(special, -1, wi)
        content = np.flatnonzero(~special)
        vol = np.empty(n, dtype=int)
        vol[content] = volumes[wi[content]]
        lead = np.arange(n) < content[0]
        vol[special & lead] = vol[content[0]]
        vol[special & ~lead] = vol[content[-1]]
        tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
        for p in range(n):
            rows.append((seg, p, tokens[p], enc["input_ids"][p], bool(special[p]),
                         int(offs[p, 0]) if not special[p] else -1,
                         int(offs[p, 1]) if not special[p] else -1, int(wi[p]), int(vol[p])))
    return pd.DataFrame(rows, columns=TOKEN_COLUMNS)

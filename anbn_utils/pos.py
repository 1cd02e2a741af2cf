"""Part-of-speech tags of tokens, query-key categories and AN tags (chapter 05).

Every model token gets one of 17 tags: 15 part-of-speech categories mapped from spaCy's
Universal POS tags (:data:`UPOS_TO_TAG`), plus ``[CLS]`` and ``[SEP]`` for the model's
leading and trailing special tokens.  Tokens are aligned to spaCy's tokens by character
offsets: a model token takes the tag of the spaCy token that contains its first
character, or of the nearest spaCy token before it (so wordpieces inherit their word's
tag and no token is dropped).  An AN's top query-key pairs fall into the 17 x 17
(query tag, key tag) categories; the AN's tag is the category with the most pairs
(ties go to the category listed first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TAGS", "UPOS_TO_TAG", "an_categories", "an_tag_table", "an_tags", "category_names",
           "category_tags", "over_representation", "tag_distribution", "tag_marginals",
           "tag_tokens", "text_baseline", "top_pair_shares"]

#: The 17 tags: 15 part-of-speech categories, then the special tokens.
TAGS = ("NOUN", "PROPN", "PRON", "VERB", "AUX", "ADJ", "ADV", "ADP", "DET", "NUM", "PART",
        "CCONJ", "SCONJ", "INTJ", "PUNCT", "[CLS]", "[SEP]")

#: spaCy's coarse tags (Universal POS plus SPACE) -> the 15 categories: SYM joins PUNCT,
#: X ("other": foreign words, typos) joins NOUN, SPACE joins PUNCT.
UPOS_TO_TAG = {t: t for t in TAGS[:15]} | {"SYM": "PUNCT", "X": "NOUN", "SPACE": "PUNCT"}

TAG_INDEX = {t: i for i, t in enumerate(TAGS)}


def category_names() -> list[str]:
    """The 289 category names ``'QUERY->KEY'`` in index order (query-major)."""
    return [f"{q}->{k}" for q in TAGS for k in TAGS]


def category_tags(categories) -> tuple[np.ndarray, np.ndarray]:
    """Query and key tag (indices into :data:`TAGS`) of category indices.

    Parameters
    ----------
    categories : int or array-like of int
        Indices into :func:`category_names` (query-major: ``query * 17 + key``).

    Returns
    -------
    query, key : ndarrays of the shape of ``categories``, int
    """
    return np.divmod(np.asarray(categories, dtype=int), len(TAGS))


def tag_tokens(tokens: pd.DataFrame, transcript: str, nlp) -> np.ndarray:
    """Tag index (into :data:`TAGS`) of every model token.

    Parameters
    ----------
    tokens : DataFrame
        Model tokens (``anbn_utils.ans`` token table): ``segment``, ``position``,
        ``special``, ``char_start``.
    transcript : str
        The text the offsets point into.
    nlp : spaCy Language
        English pipeline (``anbn_utils.assets.load_spacy()``).

    Returns
    -------
    ndarray of shape (n_tokens,), int
    """
    doc = nlp(transcript)
    starts = np.array([t.idx for t in doc])
    tags = np.array([TAG_INDEX[UPOS_TO_TAG[t.pos_]] for t in doc])
    out = np.empty(len(tokens), dtype=int)
    special = tokens["special"].to_numpy(dtype=bool)
    char = tokens["char_start"].to_numpy()
    j = np.clip(np.searchsorted(starts, char[~special], side="right") - 1, 0, len(doc) - 1)
    out[~special] = tags[j]
    # leading specials are [CLS], trailing ones [SEP] (per segment)
    first_content = tokens.loc[~special].groupby("segment")["position"].min()
    lead = tokens["position"].to_numpy() < tokens["segment"].map(first_content).to_numpy()
    out[special & lead] = TAG_INDEX["[CLS]"]
    out[special & ~lead] = TAG_INDEX["[SEP]"]
    return out


def an_categories(top_query: np.ndarray, top_key: np.ndarray, tokens: pd.DataFrame,
                  tags: np.ndarray) -> np.ndarray:
    """Count each AN's top pairs in the 17 x 17 categories.

    Parameters
    ----------
    top_query, top_key : ndarray of shape (n_segments, n_ans, top_k)
        Token positions within each segment (``anbn_utils.ans`` artifacts).
    tokens : DataFrame
        The token table (``segment``, ``position``).
    tags : ndarray of shape (n_tokens,)
        From :func:`tag_tokens`.

    Returns
    -------
    ndarray of shape (n_ans, 17, 17), int: counts (query tag, key tag)
    """
    n_seg, n_ans, _ = top_query.shape
    width = int(tokens["position"].max()) + 1
    table = np.full((n_seg, width), -1)
    table[tokens["segment"].to_numpy(), tokens["position"].to_numpy()] = tags
    q = table[np.arange(n_seg)[:, None, None], np.asarray(top_query, dtype=int)]
    k = table[np.arange(n_seg)[:, None, None], np.asarray(top_key, dtype=int)]
    if (q < 0).any() or (k < 0).any():
        raise ValueError("top pairs point to positions missing from the token table")
    n_tags = len(TAGS)
    flat = (np.arange(n_ans)[None, :, None] * n_tags * n_tags + q * n_tags + k).ravel()
    return np.bincount(flat, minlength=n_ans * n_tags * n_tags).reshape(n_ans, n_tags, n_tags)


def an_tags(counts: np.ndarray) -> np.ndarray:
    """Each AN's category (index into :func:`category_names`): the most frequent one; ties
    go to the lowest index."""
    return counts.reshape(len(counts), -1).argmax(1)


def an_tag_table(categories: np.ndarray, names) -> pd.DataFrame:
    """Each AN's tag as typed columns (the ``an_tags.tsv`` artifact).

    Parameters
    ----------
    categories : ndarray of shape (n_ans,), int
        From :func:`an_tags`.
    names : sequence of str
        AN names, in the same order.

    Returns
    -------
    DataFrame: ``an`` (index), ``an_name``, ``category`` (index into
    :func:`category_names`), ``query_tag``, ``key_tag`` (names in :data:`TAGS`)
    """
    query, key = category_tags(categories)
    tags = np.array(TAGS)
    return pd.DataFrame({"an": np.arange(len(categories)), "an_name": list(names),
                         "category": np.asarray(categories, dtype=int), "query_tag": tags[query],
                         "key_tag": tags[key]})


def text_baseline(tokens: pd.DataFrame, tags: np.ndarray, causal: bool = False) -> np.ndarray:
    """Category distribution of all within-segment token pairs (shape (17, 17), sums to 1):
    what the top pairs would look like if they were drawn at random from the text."""
    n_tags = len(TAGS)
    out = np.zeros((n_tags, n_tags))
    for _, seg in tokens.groupby("segment"):
        t = tags[seg.index.to_numpy()]
        if causal:
            for a in range(len(t)):
                np.add.at(out, (t[a], t[: a + 1]), 1)
        else:
            c = np.bincount(t, minlength=n_tags).astype(float)
            out += np.outer(c, c)
    return out / out.sum()



def tag_distribution(categories: np.ndarray) -> np.ndarray:
    """Share of ANs (in %) tagged by each (query tag, key tag) category (Fig. 7 a-b).

    Parameters
    ----------
    categories : ndarray of shape (n_ans,), int
        Each AN's category (:func:`an_tags`).

    Returns
    -------
    ndarray of shape (17, 17), float: % of ANs, rows query tags, columns key tags; sums
    to 100
    """
    categories = np.asarray(categories, dtype=int)
    n_tags = len(TAGS)
    if categories.size == 0:
        raise ValueError("no AN categories to count")
    counts = np.bincount(categories, minlength=n_tags * n_tags)
    return (100 * counts / len(categories)).reshape(n_tags, n_tags)


def top_pair_shares(counts: np.ndarray) -> np.ndarray:
    """Share of all ANs' top pairs in each category, pooled over ANs (sums to 1).

    Parameters
    ----------
    counts : ndarray of shape (n_ans, 17, 17)
        From :func:`an_categories`.

    Returns
    -------
    ndarray of shape (17, 17), float
    """
    total = counts.sum(0).astype(float)
    return total / total.sum()


def over_representation(shares: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """log2 ratio of the top pairs' category shares to the text's (chance) shares.

    Parameters
    ----------
    shares : ndarray of shape (17, 17)
        From :func:`top_pair_shares`.
    baseline : ndarray of shape (17, 17)
        From :func:`text_baseline`.

    Returns
    -------
    ndarray of shape (17, 17), float: ``log2(shares / baseline)``; NaN where the ratio is
    undefined or infinite (a category absent from the top pairs or from the text), so that
    a category that no top pair falls into is not shown as "at chance" (0)
    """
    shares, baseline = np.asarray(shares, float), np.asarray(baseline, float)
    ok = (shares > 0) & (baseline > 0)
    out = np.full(shares.shape, np.nan)
    out[ok] = np.log2(shares[ok] / baseline[ok])
    return out


def tag_marginals(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share (in %) of one AN's top pairs by query tag and by key tag (Fig. 10).

    Parameters
    ----------
    counts : ndarray of shape (17, 17)
        One AN's top pairs per (query tag, key tag) (a row of :func:`an_categories`).

    Returns
    -------
    query, key : ndarrays of shape (17,), float, each summing to 100
    """
    share = 100 * counts / counts.sum()
    return share.sum(1), share.sum(0)

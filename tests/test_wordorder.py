"""The shuffled-story control: words shuffled within sentences and sentences shuffled,
every word slot keeping its time (issue 14, control b)."""

import re
from collections import Counter

import pandas as pd
import pytest

from anbn_utils.ans.tokens import sentence_spans, tokenize_story
from anbn_utils.ans.wordorder import apply_word_order, shuffle_word_order
from anbn_utils.errors import DataError, ParameterError

TEXT = ("I was twenty-three when the paper sent me out. My editor said, \"Then write it.\" "
        "The town sat at the end of a long road! Was there a bakery? There was a church, a bar "
        "and a lighthouse. The man lived in the lighthouse. His name was Arlo Finch.")


def _story(text=TEXT, tr=1.5):
    """A word table as the data stage makes it: offsets into the text, trailing punctuation,
    increasing times and volumes (independent of the code under test)."""
    found = list(re.finditer(r"[A-Za-z0-9']+", text))
    rows = []
    for i, m in enumerate(found):
        nxt = found[i + 1].start() if i + 1 < len(found) else len(text)
        start = 2.0 + 0.37 * i
        rows.append({"word": m.group(), "case": "success", "aligned_word": m.group().lower(),
                     "start": start, "end": start + 0.3, "start_offset": m.start(),
                     "end_offset": m.end(), "punct": "".join(text[m.end():nxt].split()),
                     "interpolated": i % 7 == 3, "volume": int((start + 0.3) // tr),
                     "tr": int((start + 0.3) // tr), "clipped": False})
    return pd.DataFrame(rows)


TIMING = ["start", "end", "volume", "tr", "clipped", "interpolated", "case"]


def test_words_and_timings_are_kept_and_sentences_stay_whole():
    words = _story()
    out, text = shuffle_word_order(words, random_state=0)
    assert Counter(out["word"]) == Counter(words["word"])  # the multiset of words
    pd.testing.assert_frame_equal(out[TIMING], words[TIMING])  # each slot keeps its time
    assert sorted(out["source_index"]) == list(range(len(words)))
    assert (out["word"].to_numpy() == words["word"].to_numpy()[out["source_index"]]).all()
    assert (out["aligned_word"].to_numpy()
            == words["aligned_word"].to_numpy()[out["source_index"]]).all()
    # within-sentence shuffle: the shuffled text's sentences are the story's, each a
    # permutation of one original sentence, in another order
    original = [set(range(a, b)) for a, b in sentence_spans(words)]
    shuffled = [set(out["source_index"][a:b]) for a, b in sentence_spans(out)]
    assert len(shuffled) == len(original) == 7
    assert sorted(map(sorted, shuffled)) == sorted(map(sorted, original))
    assert shuffled != original  # the sentences moved
    # the result differs from the story, word by word
    assert (out["word"].to_numpy() != words["word"].to_numpy()).mean() > 0.5
    # the text and its offsets agree, so tokenization reads the shuffled words
    for w, a, b, p in zip(out["word"], out["start_offset"], out["end_offset"], out["punct"]):
        assert text[a:b] == w and text[b:b + len(p)] == p
    assert text != TEXT
    assert Counter(re.findall(r"[A-Za-z0-9']+", text)) == Counter(re.findall(r"[A-Za-z0-9']+", TEXT))


def test_the_shuffle_is_deterministic_per_seed():
    words = _story()
    a, ta = shuffle_word_order(words, random_state=3)
    b, tb = shuffle_word_order(words, random_state=3)
    c, tc = shuffle_word_order(words, random_state=4)
    pd.testing.assert_frame_equal(a, b)
    assert ta == tb
    assert tc != ta and not (c["source_index"] == a["source_index"]).all()


def test_tokens_of_the_shuffled_story_take_their_slots_volumes(minilm_tokenizer):
    """Tokenization and TR assignment run unchanged on the shuffled table: each token of a
    word sits at the volume of the slot that word now fills."""
    words = _story()
    out, text = shuffle_word_order(words, random_state=1)
    tokens = tokenize_story(text, out, minilm_tokenizer, max_tokens=40)
    content = tokens[~tokens["special"]]
    assert (content["volume"].to_numpy()
            == words["volume"].to_numpy()[content["word_index"].to_numpy()]).all()
    # every word is read: the tokens rebuild the shuffled words in slot order
    first = content.groupby("word_index")["token"].first()
    assert list(first.index) == list(range(len(words)))
    assert [t.lstrip("#") for t in first] == [w.lower()[:len(t.lstrip("#"))]
                                              for w, t in zip(out["word"], first)]
    # sentences are not cut: a segment holds whole shuffled sentences
    ends = {b - 1 for _, b in sentence_spans(out)}
    for _, seg in content.groupby("segment"):
        assert int(seg["word_index"].max()) in ends


def test_original_order_is_the_story_and_bad_values_are_named():
    words = _story()
    same, text = apply_word_order(words, TEXT, "original", random_state=0)
    assert same is words and text == TEXT
    shuffled, _ = apply_word_order(words, TEXT, "shuffled", random_state=0)
    pd.testing.assert_frame_equal(shuffled, shuffle_word_order(words, random_state=0)[0])
    with pytest.raises(ParameterError, match="word_order must be one of"):
        apply_word_order(words, TEXT, "reversed")
    with pytest.raises(DataError, match="lacks punct"):
        shuffle_word_order(words.drop(columns="punct"))
    with pytest.raises(DataError, match="is empty"):
        shuffle_word_order(words.iloc[:0])


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from anbn_utils.assets import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))

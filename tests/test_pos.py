"""Part-of-speech tags: the mapping, the tagger, token alignment and category counts."""

import numpy as np
import pandas as pd
import pytest

from anbn_utils.assets import load_spacy
from anbn_utils.pos import (
    TAGS,
    UPOS_TO_TAG,
    an_categories,
    an_tags,
    category_names,
    tag_tokens,
    text_baseline,
)


@pytest.fixture(scope="module")
def nlp():
    return load_spacy()


def test_mapping_covers_every_tag_spacy_can_emit(nlp):
    ruler = nlp.get_pipe("attribute_ruler")  # maps the tagger's fine tags to UPOS
    emitted = {p["attrs"]["POS"] for p in ruler.patterns if "POS" in p["attrs"]}
    assert len(emitted) >= 17 and emitted <= set(UPOS_TO_TAG)
    assert set(UPOS_TO_TAG.values()) == set(TAGS[:15]) and len(TAGS) == 17
    assert len(category_names()) == 289 and category_names()[0] == "NOUN->NOUN"


def test_tokens_inherit_their_words_tags(nlp):
    from transformers import AutoTokenizer

    from anbn_utils.assets import resolve_model

    text = "The journalist wrote a report about the man."
    tok = AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))
    enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    table = pd.DataFrame({"segment": 0, "position": range(len(enc["input_ids"])),
                          "special": np.array(enc["special_tokens_mask"], bool),
                          "char_start": [s for s, _ in enc["offset_mapping"]]})
    tags = [TAGS[i] for i in tag_tokens(table, text, nlp)]
    assert tags == ["[CLS]", "DET", "NOUN", "VERB", "DET", "NOUN", "ADP", "DET", "NOUN", "PUNCT",
                    "[SEP]"]
    # a word split into wordpieces: every piece takes the word's tag
    text = "Supercalifragilistic journalists."
    enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    table = pd.DataFrame({"segment": 0, "position": range(len(enc["input_ids"])),
                          "special": np.array(enc["special_tokens_mask"], bool),
                          "char_start": [s for s, _ in enc["offset_mapping"]]})
    tags = tag_tokens(table, text, nlp)
    assert len(tags) == len(table)  # nothing dropped
    pieces = [i for i, t in enumerate(tok.convert_ids_to_tokens(enc["input_ids"])) if t.startswith("##")]
    assert pieces and all(tags[i] == tags[i - 1] for i in pieces)


def test_category_counts_of_a_hand_made_an():
    tokens = pd.DataFrame({"segment": [0, 0, 0, 0, 1, 1, 1],
                           "position": [0, 1, 2, 3, 0, 1, 2]})
    tags = np.array([15, 0, 3, 16, 15, 2, 16])  # [CLS] NOUN VERB [SEP] | [CLS] PRON [SEP]
    top_q = np.array([[[1, 1, 2]], [[1, 1, 0]]])  # (segments, ans=1, k=3)
    top_k = np.array([[[2, 2, 1]], [[1, 2, 1]]])
    counts = an_categories(top_q, top_k, tokens, tags)
    assert counts.shape == (1, 17, 17) and counts.sum() == 6
    assert counts[0, 0, 3] == 2  # NOUN -> VERB twice
    assert counts[0, 3, 0] == 1  # VERB -> NOUN
    assert counts[0, 2, 2] == 1 and counts[0, 2, 16] == 1 and counts[0, 15, 2] == 1
    assert category_names()[an_tags(counts)[0]] == "NOUN->VERB"


def test_text_baseline_is_the_product_of_tag_frequencies():
    tokens = pd.DataFrame({"segment": [0, 0, 0], "position": [0, 1, 2]})
    base = text_baseline(tokens, np.array([0, 0, 3]))
    assert base[0, 0] == pytest.approx(4 / 9) and base[0, 3] == pytest.approx(2 / 9)
    causal = text_baseline(tokens, np.array([0, 0, 3]), causal=True)
    assert causal.sum() == pytest.approx(1) and causal[0, 3] == 0


def test_tag_distribution_is_percent_of_ans_per_category():
    from anbn_utils.pos import tag_distribution

    cats = np.array([3, 3, 17 * 2 + 5, 3])  # NOUN->AUX three times, PRON->ADJ once
    dist = tag_distribution(cats)
    assert dist.shape == (17, 17) and dist.sum() == pytest.approx(100)
    assert dist[0, 3] == 75 and dist[2, 5] == 25


def test_over_representation_is_log2_of_shares_and_undefined_where_absent():
    """A category absent from the top pairs was shown as log2 = 0, "at chance"."""
    from anbn_utils.pos import over_representation, top_pair_shares

    counts = np.zeros((2, 17, 17), int)
    counts[0, 0, 0], counts[1, 0, 0], counts[1, 1, 2] = 3, 3, 2  # 6 of 8 pairs NOUN->NOUN
    shares = top_pair_shares(counts)
    assert shares[0, 0] == 0.75 and shares[1, 2] == 0.25 and shares.sum() == pytest.approx(1)
    base = np.full((17, 17), 1 / 289)
    base[1, 2] = 0  # a category the text lacks
    ratio = over_representation(shares, base)
    assert ratio[0, 0] == pytest.approx(np.log2(0.75 * 289))
    assert np.isnan(ratio[1, 2])  # top pairs but none in the text: undefined
    assert np.isnan(ratio[5, 5])  # in the text, no top pair: -inf, not 0
    assert np.isfinite(ratio).sum() == 1


def test_tag_marginals_and_typed_an_tags():
    from anbn_utils.pos import an_tag_table, category_tags, tag_marginals

    c = np.zeros((17, 17))
    c[0, 3], c[0, 0], c[2, 3] = 2, 1, 1  # NOUN->VERB x2, NOUN->NOUN, PRON->VERB
    query, key = tag_marginals(c)
    assert query[0] == 75 and query[2] == 25 and key[3] == 75 and key[0] == 25
    assert [x.tolist() for x in category_tags([3, 17 * 16 + 15])] == [[0, 16], [3, 15]]
    table = an_tag_table(np.array([3, 17 * 15 + 16]), ["L1H1D1", "L1H1D2"])
    assert table.to_dict("list") == {"an": [0, 1], "an_name": ["L1H1D1", "L1H1D2"],
                                     "category": [3, 271], "query_tag": ["NOUN", "[CLS]"],
                                     "key_tag": ["VERB", "[SEP]"]}

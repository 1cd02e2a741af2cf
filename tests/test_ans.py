"""Artificial neurons: hooks against the model's own attention, closed forms against brute force."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from nilearn.glm.first_level import spm_hrf

from anbn_utils.ans import (
    aggregate_trs,
    an_index,
    an_names,
    candidate_count,
    capture_qk,
    convolve_hrf,
    hrf_kernel,
    segment_sentences,
    tokenize_story,
    top_pairs,
)
from anbn_utils.errors import DataError, ParameterError


def _random_biases(model):
    """Random init zeroes the biases; give them values so that bias handling is tested."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
    return model


@pytest.fixture(scope="module")
def tiny_bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                     intermediate_size=32, max_position_embeddings=40)
    return _random_biases(BertModel(cfg, add_pooling_layer=False).eval())


@pytest.fixture(scope="module")
def tiny_gpt2():
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50, n_embd=24, n_layer=2, n_head=3, n_positions=40,
                     bos_token_id=0, eos_token_id=0)
    return _random_biases(GPT2Model(cfg).eval())


@pytest.fixture(scope="module")
def tiny_roberta():
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=50, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                        intermediate_size=32, max_position_embeddings=40, pad_token_id=1)
    return _random_biases(RobertaModel(cfg, add_pooling_layer=False).eval())


@pytest.fixture(scope="module")
def tiny_distilbert():
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(0)
    cfg = DistilBertConfig(vocab_size=50, dim=24, n_layers=2, n_heads=3, hidden_dim=32,
                           max_position_embeddings=40)
    return _random_biases(DistilBertModel(cfg).eval())


@pytest.mark.parametrize("name", ["tiny_bert", "tiny_roberta", "tiny_distilbert", "tiny_gpt2"])
def test_products_sum_to_the_models_own_attention(name, request):
    model = request.getfixturevalue(name)
    model.set_attn_implementation("eager")
    ids = torch.randint(1, 50, (11,))
    before = _hooks(model)
    q, k = capture_qk(model, ids)
    assert _hooks(model) == before  # our hooks are removed
    d = q.shape[-1]
    products = q[..., :, None, :] * k[..., None, :, :]  # (L, H, T, T, d): one map per AN
    scores = products.sum(-1) / d**0.5
    np.testing.assert_allclose(scores, q @ k.transpose(-1, -2) / d**0.5, atol=1e-5)
    if name == "tiny_gpt2":
        scores = scores.masked_fill(torch.ones(11, 11, dtype=torch.bool).triu(1), -torch.inf)
    with torch.no_grad():
        att = torch.stack(model(input_ids=ids[None], output_attentions=True).attentions)[:, 0]
    assert torch.max(torch.abs(scores.softmax(-1) - att)) < 1e-5


def _hooks(model):
    return {(name, key) for name, m in model.named_modules() for key in m._forward_hooks}


def test_bias_can_be_left_out(tiny_bert):
    ids = torch.randint(1, 50, (7,))
    q, k = capture_qk(tiny_bert, ids)
    q0, k0 = capture_qk(tiny_bert, ids, include_bias=False)
    bq = torch.stack([layer.attention.self.query.bias.detach() for layer in tiny_bert.encoder.layer])
    np.testing.assert_allclose(q - q0, bq.reshape(2, 1, 3, 8).expand(2, 7, 3, 8).transpose(1, 2),
                               atol=1e-6)
    assert not torch.allclose(k, k0)


def test_hooks_are_removed_on_error(tiny_bert):
    before = _hooks(tiny_bert)
    with pytest.raises(IndexError):
        capture_qk(tiny_bert, torch.tensor([10_000]))  # id out of the vocabulary
    assert _hooks(tiny_bert) == before


def test_unsupported_architecture_is_named():
    class Config:
        model_type = "t5"

    class NoAttention(torch.nn.Module):
        config = Config()

    with pytest.raises(ParameterError, match=r"model_type 't5'.*bert.*distilbert.*gpt2"):
        capture_qk(NoAttention(), torch.tensor([1]))


def _random_segments(rng, n_units=7, n_volumes=9):
    """Two segments whose tokens share volume 4 (a TR straddling segments); volume 6 empty."""
    segs = []
    for vols in ([0, 0, 1, 1, 1, 2, 3, 4, 4], [4, 5, 5, 7, 7, 7, 8]):
        v = torch.tensor(vols)
        segs.append((torch.tensor(rng.standard_normal((len(v), n_units)), dtype=torch.float64),
                     torch.tensor(rng.standard_normal((len(v), n_units)), dtype=torch.float64), v))
    return segs, n_volumes


def _brute(segs, n_volumes, how, causal=False):
    """The definition: every within-segment (query, key) pair of the TR, m x m per segment."""
    n_units = segs[0][0].shape[1]
    out = np.zeros((n_volumes, n_units))
    for j in range(n_volumes):
        prods = []
        for q, k, v in segs:
            idx = np.flatnonzero(v.numpy() == j)
            for a in idx:
                for b in idx:
                    if not causal or b <= a:
                        prods.append((q[a] * k[b]).numpy())
        if prods:
            p = np.array(prods)
            out[j] = {"mean": p.mean(0), "absmean": np.abs(p).mean(0),
                      "max": p.max(0), "min": p.min(0)}[how]
    return out


@pytest.mark.parametrize("how", ["mean", "absmean", "max", "min"])
def test_closed_forms_equal_brute_force(how):
    segs, n = _random_segments(np.random.default_rng(0))
    got = aggregate_trs(segs, n, how=how).numpy()
    np.testing.assert_allclose(got, _brute(segs, n, how), atol=1e-12)
    assert np.all(got[6] == 0)  # a TR without tokens


def test_causal_mean_equals_brute_force():
    segs, n = _random_segments(np.random.default_rng(1))
    got = aggregate_trs(segs, n, how="mean", pairs="causal").numpy()
    np.testing.assert_allclose(got, _brute(segs, n, "mean", causal=True), atol=1e-12)
    with pytest.raises(ParameterError, match="no closed form"):
        aggregate_trs(segs, n, how="max", pairs="causal")


def test_hrf_is_spms_canonical_hrf_at_the_tr():
    kernel = hrf_kernel(1.5, "spm")
    fine = spm_hrf(1.5, oversampling=16)
    np.testing.assert_allclose(kernel, fine[::16] / fine[::16].sum())
    assert len(kernel) == 22 and kernel.sum() == pytest.approx(1.0)
    assert np.argmax(kernel) * 1.5 == 4.5
    impulse = np.zeros((30, 2))
    impulse[3] = [1.0, 2.0]
    out = convolve_hrf(impulse, 1.5)
    np.testing.assert_allclose(out[3:25, 0], kernel, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], 2 * out[:, 0], rtol=1e-6)
    assert np.all(out[:3] == 0)  # causal
    assert hrf_kernel(1.5, "none").tolist() == [1.0]


@pytest.mark.parametrize("sign", ["mixed", "negative_q", "few", "n_below_top"])
def test_top_pairs_equal_a_full_sort(sign):
    rng = np.random.default_rng(3)
    n_units, n, top = (5, 300, 400) if sign == "n_below_top" else (40, 60, 50)
    q = rng.standard_normal((n_units, n))
    k = rng.standard_normal((n_units, n))
    if sign == "negative_q":
        q = -np.abs(q)
    if sign == "few":  # fewer than `top` positive products: the brute-force path
        q = -np.abs(q)
        q[:, :1] = 1.0
        k = np.abs(k)
    v, a, b = top_pairs(torch.tensor(q), torch.tensor(k), top)
    full = q[:, :, None] * k[:, None, :]
    expected = -np.sort(-full.reshape(n_units, -1), axis=1)[:, :top]
    np.testing.assert_allclose(v.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(full[np.arange(n_units)[:, None], a.numpy(), b.numpy()], v.numpy())
    assert all(len(set(zip(a[u].tolist(), b[u].tolist()))) == top for u in range(n_units))
    assert candidate_count(n, top) < n * n


def test_top_pairs_causal():
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((5, 20)), rng.standard_normal((5, 20))
    v, a, b = top_pairs(torch.tensor(q), torch.tensor(k), 30, causal=True)
    full = q[:, :, None] * k[:, None, :]
    full[:, ~np.tri(20, dtype=bool)] = -np.inf
    np.testing.assert_allclose(v.numpy(), -np.sort(-full.reshape(5, -1), axis=1)[:, :30])
    assert np.all(b.numpy() <= a.numpy())


def test_segmentation_respects_the_limit_and_sentences():
    rng = np.random.default_rng(5)
    for _ in range(200):
        lengths = rng.integers(1, 60, size=rng.integers(1, 40)).tolist()
        for method in ("greedy", "balanced"):
            groups = segment_sentences(lengths, 100, method=method)
            assert [i for g in groups for i in g] == list(range(len(lengths)))
            assert all(sum(lengths[i] for i in g) <= 100 for g in groups)
            # greedy: no segment could have taken the next sentence
            if method == "greedy":
                for g, nxt in itertools.pairwise(groups):
                    assert sum(lengths[i] for i in g) + lengths[nxt[0]] > 100
        greedy = segment_sentences(lengths, 100)
        balanced = segment_sentences(lengths, 100, method="balanced")
        assert len(balanced) == len(greedy)
        assert max(sum(lengths[i] for i in g) for g in balanced) <= max(
            sum(lengths[i] for i in g) for g in greedy)
    with pytest.raises(DataError, match="no sentence boundary"):
        segment_sentences([30, 120, 10], 100)


def test_an_names_are_one_based():
    names = an_names(12, 12, 64)
    assert len(names) == 9216 and names[0] == "L1H1D1" and names[-1] == "L12H12D64"
    assert names[(7 * 12 + 1) * 64 + 50] == "L8H2D51"
    assert an_index("L8H2D51") == (7, 1, 50)
    with pytest.raises(ParameterError, match="not an AN name"):
        an_index("L0H1D1")


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from anbn_utils.assets import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))


def _words(text, volumes):
    rows, pos = [], 0
    for tok, vol in zip(text.split(), volumes):
        bare = tok.rstrip(".,!?")
        rows.append({"word": bare, "start_offset": pos, "end_offset": pos + len(bare),
                     "punct": tok[len(bare):], "volume": vol})
        pos += len(tok) + 1
    return pd.DataFrame(rows)


def test_tokens_follow_their_words_and_sentences(minilm_tokenizer):
    text = "The pie man ran. He threw a pie, quickly! Then he was gone."
    words = _words(text, [10, 10, 11, 11, 12, 12, 12, 13, 13, 14, 14, 15, 15])
    tokens = tokenize_story(text, words, minilm_tokenizer, max_tokens=12)
    # 3 sentences of 5, 7 and 5 tokens; 10 fit per segment with [CLS] and [SEP]
    assert tokens.groupby("segment").size().tolist() == [7, 9, 7]
    seg0 = tokens[tokens.segment == 0]
    assert seg0["token"].tolist() == ["[CLS]", "the", "pie", "man", "ran", ".", "[SEP]"]
    assert seg0["volume"].tolist() == [10, 10, 10, 11, 11, 11, 11]  # "." follows "ran"
    assert seg0["word_index"].tolist() == [-1, 0, 1, 2, 3, 3, -1]
    with pytest.raises(DataError, match="no sentence boundary"):
        tokenize_story(text, words, minilm_tokenizer, max_tokens=8)
    split = tokenize_story(text, words, minilm_tokenizer, max_tokens=8, split_long_sentences=True)
    assert split.groupby("segment").size().max() <= 8


def test_bad_text_input(minilm_tokenizer):
    with pytest.raises(DataError, match="empty"):
        tokenize_story("  ", _words("", []), minilm_tokenizer, max_tokens=12)
    words = _words("A b.", [1, 2])
    words.loc[1, "volume"] = np.nan
    with pytest.raises(DataError, match=r"1 word\(s\) have no time"):
        tokenize_story("A b.", words, minilm_tokenizer, max_tokens=12)

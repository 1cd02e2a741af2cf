"""Means of query-key products over allowed pairs: closed forms against brute force, the mask
structures real models record, and today's TR aggregation."""

import pytest
import torch

from anbn_utils.ans.activations import aggregate_trs
from anbn_utils.ans.attention import capture_attention_qk
from anbn_utils.ans.pairs import (
    MaskStructure,
    allowed_pairs,
    group_sums,
    pair_mean,
    rotary_pair_units,
)
from anbn_utils.errors import ParameterError

T = 9
WINDOW = 4
N_HEADS, N_KV, D = 4, 2, 6
TRS = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])


def _qk(seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(N_HEADS, T, D, generator=g, dtype=torch.float64)
    k = torch.randn(N_KV, T, D, generator=g, dtype=torch.float64)
    return q, k


def _additive(allowed):
    return torch.where(allowed, 0.0, torch.finfo(torch.float32).min)[None, None]


def _masks():
    a = torch.arange(T)[:, None]
    b = torch.arange(T)[None, :]
    pad = (b <= a) & (b >= 2)  # left padding of two tokens on a causal mask
    pad[:2] = False
    return {
        "all": torch.ones(T, T, dtype=torch.bool),
        "causal": b <= a,
        "band": (b <= a) & (b > a - WINDOW),
        "general": pad,
    }


def _brute(q, k, allowed, groups=None):
    """Per query head h and dimension i: the explicit loop over allowed pairs (a, b)."""
    sums = torch.zeros_like(q)
    counts = torch.zeros(T, dtype=q.dtype)
    for a in range(T):
        for b in range(T):
            if not allowed[a, b] or (groups is not None and groups[a] != groups[b]):
                continue
            counts[a] += 1
            for h in range(N_HEADS):
                sums[h, a] += q[h, a] * k[h // (N_HEADS // N_KV), b]
    return sums, counts, sums.sum(1) / counts.sum()


@pytest.mark.parametrize("kind", ["all", "causal", "band", "general"])
@pytest.mark.parametrize("grouped", [False, True])
def test_closed_forms_equal_brute_force(kind, grouped):
    q, k = _qk()
    allowed = _masks()[kind]
    structure = allowed_pairs(_additive(allowed))
    assert structure.kind == kind
    assert structure.window == (WINDOW if kind == "band" else None)
    groups = TRS if grouped else None
    got = pair_mean(q, k, structure, groups=groups)
    sums, counts, mean = _brute(q, k, allowed, groups)
    torch.testing.assert_close(got.sums, sums, atol=1e-10, rtol=0)
    torch.testing.assert_close(got.counts, counts, atol=1e-10, rtol=0)
    torch.testing.assert_close(got.mean, mean, atol=1e-10, rtol=0)
    # the dense einsum over the boolean matrix, the same-group restriction included
    m = allowed & (torch.ones(T, T, dtype=torch.bool) if groups is None
                   else TRS[:, None] == TRS[None, :])
    kq = k.repeat_interleave(N_HEADS // N_KV, 0)
    dense = torch.einsum("ab,hai,hbi->hi", m.double(), q, kq) / m.sum()
    torch.testing.assert_close(got.mean, dense, atol=1e-10, rtol=0)
    # the general (slow) path on the same matrix agrees with the closed form
    slow = pair_mean(q, k, MaskStructure("general", allowed=allowed), groups=groups,
                     head_chunk=1)
    torch.testing.assert_close(slow.sums, got.sums, atol=1e-10, rtol=0)


def test_named_structures_and_kv_head_of():
    q, k = _qk(1)
    for kind, name in (("all", "all"), ("causal", "causal")):
        torch.testing.assert_close(pair_mean(q, k, name).mean,
                                   _brute(q, k, _masks()[kind])[2], atol=1e-10, rtol=0)
    band = pair_mean(q, k, MaskStructure("band", WINDOW))
    torch.testing.assert_close(band.mean, _brute(q, k, _masks()["band"])[2], atol=1e-10, rtol=0)
    # a callable and a sequence give the same grouping as the default
    by_fn = pair_mean(q, k, "causal", kv_head_of=lambda h: h // 2)
    by_seq = pair_mean(q, k, "causal", kv_head_of=[0, 0, 1, 1])
    torch.testing.assert_close(by_fn.sums, by_seq.sums)
    swapped = pair_mean(q, k.flip(0), "causal", kv_head_of=[1, 1, 0, 0])
    torch.testing.assert_close(swapped.sums, by_seq.sums)
    with pytest.raises(ParameterError, match="kv_head_of"):
        pair_mean(q, k, "all", kv_head_of=[0, 1, 2, 3])
    with pytest.raises(ParameterError, match="contiguous"):
        pair_mean(q, k, "all", groups=torch.tensor([0, 1, 0, 1, 1, 2, 2, 2, 2]))


def test_a_band_wider_than_the_sequence_is_causal_and_none_is_all():
    a = torch.arange(T)[:, None]
    b = torch.arange(T)[None, :]
    assert allowed_pairs(_additive(b <= a)).kind == "causal"
    full = allowed_pairs(None, T)
    assert full.kind == "all" and bool(full.allowed.all())
    inf = torch.where(b <= a, 0.0, -torch.inf)
    assert allowed_pairs(inf).kind == "causal"
    assert allowed_pairs(b > a).kind == "general"  # boolean, True = allowed


def test_group_sums_give_each_groups_mean():
    q, k = _qk(2)
    res = pair_mean(q, k, "causal", groups=TRS)
    num, den = group_sums(res, TRS, 4)
    assert den.tolist() == [6, 3, 10, 0]
    for tr in range(3):
        sel = TRS == tr
        m = _masks()["causal"] & sel[:, None] & sel[None, :]
        torch.testing.assert_close(num[tr] / den[tr], _brute(q, k, m)[2], atol=1e-10, rtol=0)


def test_rotary_pair_units():
    x = torch.arange(2 * 8, dtype=torch.float64).reshape(2, 8)
    full = rotary_pair_units(x, 8)
    torch.testing.assert_close(full, x[:, :4] + x[:, 4:])
    partial = rotary_pair_units(x, 8, rotary_dims=4)  # GPT-NeoX rotary_pct = 0.5
    torch.testing.assert_close(partial, torch.cat([x[:, :2] + x[:, 2:4], x[:, 4:]], 1))
    assert partial.shape == (2, 2 + 4)
    with pytest.raises(ParameterError, match="even"):
        rotary_pair_units(x, 8, rotary_dims=3)


def test_rotary_pair_unit_depends_on_distance_only():
    """For a fixed query and key content, the pair unit of the recorded llama q . k is the same
    at every position shift; a single dimension is not."""
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    model = LlamaModel(LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=1, num_attention_heads=4,
                                   num_key_value_heads=2)).eval()
    # the same two tokens repeated: layer-0 q/k content depends on the token only
    # (a causal model mixes context only after the first attention)
    rec = capture_attention_qk(model, torch.tensor([5, 7] * 4))
    q, k = rec.q[0][0].double(), rec.k[0][0].double()
    prods = q[:, 2::2] * k[rec.kv_head_of(0), 1:-1:2][None]  # (pairs at distance 1, key 7 -> 5)
    units = rotary_pair_units(prods, q.shape[-1])
    assert torch.allclose(units.sum(-1), units.sum(-1)[:, :1], atol=1e-5)
    torch.testing.assert_close(units, units[:, :1].expand_as(units), atol=1e-4, rtol=0)
    assert not torch.allclose(prods, prods[:, :1].expand_as(prods), atol=1e-4)


# --- masks recorded from tiny real models -------------------------------------------------

def _model(family):
    import transformers as tf

    torch.manual_seed(0)
    small = {"vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
             "num_attention_heads": 4}
    if family == "mistral":
        return tf.MistralModel(tf.MistralConfig(**small, num_hidden_layers=2,
                                                num_key_value_heads=2, sliding_window=WINDOW))
    if family == "gemma3":
        return tf.Gemma3TextModel(tf.Gemma3TextConfig(
            **small, num_hidden_layers=2, num_key_value_heads=2, head_dim=8,
            query_pre_attn_scalar=8, sliding_window=WINDOW,
            layer_types=["sliding_attention", "full_attention"]))
    if family == "llama":
        return tf.LlamaModel(tf.LlamaConfig(**small, num_hidden_layers=2, num_key_value_heads=2))
    return tf.BertModel(tf.BertConfig(**small, num_hidden_layers=2, max_position_embeddings=64),
                        add_pooling_layer=False)


@pytest.mark.parametrize("family, expected", [
    ("mistral", [("band", WINDOW), ("band", WINDOW)]),
    ("gemma3", [("band", WINDOW), ("causal", None)]),
    ("llama", [("causal", None), ("causal", None)]),
    ("bert", [("all", None), ("all", None)]),
])
def test_structures_of_recorded_masks(family, expected):
    rec = capture_attention_qk(_model(family).eval(), torch.arange(1, T + 1))
    got = [(s.kind, s.window) for s in (allowed_pairs(m, T) for m in rec.masks)]
    assert got == expected


def test_padding_is_general():
    model = _model("llama").eval()
    pad = torch.ones(1, T, dtype=torch.long)
    pad[0, :2] = 0
    rec = capture_attention_qk(model, torch.arange(1, T + 1)[None], attention_mask=pad)
    s = allowed_pairs(rec.masks[0])
    assert s.kind == "general"
    assert not s.allowed[:, :2].any()


@pytest.mark.parametrize("family, pairs", [("bert", "all"), ("llama", "causal")])
def test_recorded_pair_means_equal_todays_tr_aggregation(family, pairs):
    """aggregate_trs on the flattened (T, layers x heads x dims) q and k gives, per TR, the
    pair means of the recorded q and k restricted to pairs within the TR."""
    model = _model(family).eval().double()
    rec = capture_attention_qk(model, torch.arange(1, T + 1))
    q, k = rec.qk_per_head()  # (L, H, T, d), keys repeated over groups
    flat = [t.permute(2, 0, 1, 3).reshape(T, -1) for t in (q, k)]
    today = aggregate_trs([(flat[0], flat[1], TRS)], 3, how="mean", pairs=pairs)
    for layer in range(rec.n_layers):
        s = allowed_pairs(rec.masks[layer], T)
        assert s.kind == pairs
        res = pair_mean(rec.q[layer][0], rec.k[layer][0], s, groups=TRS)
        num, den = group_sums(res, TRS, 3)
        mine = (num / den[:, None, None]).reshape(3, -1)
        n = mine.shape[1]
        torch.testing.assert_close(mine, today[:, layer * n:(layer + 1) * n], atol=1e-10,
                                   rtol=0)

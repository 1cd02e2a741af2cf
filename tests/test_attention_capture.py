"""Queries and keys through transformers' attention registry, against the models' own attention.

Tiny random models built from config classes (no download).  For each family the recorded
``q``, ``k``, ``scaling`` and mask reproduce the eager attention probabilities the model
returns with ``output_attentions=True``, to ``ATOL`` in float32.
"""

import numpy as np
import pytest
import torch

from anbn_utils.ans import capture_qk
from anbn_utils.ans.attention import (
    IMPLEMENTATION,
    REFUSED,
    capture_attention_qk,
    record_attention,
)
from anbn_utils.errors import ParameterError

ATOL = 1e-5
VOCAB = 100
T = 9
WINDOW = 4  # sliding window, smaller than the sequence


def _randomize(model):
    """Random init zeroes biases and sets norm weights to one: give them values."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return model


#: Shared by the configs below (the names most transformers configs use).
SMALL = {"vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4}
GROUPED = {**SMALL, "num_key_value_heads": 2}  # grouped-query attention: 2 heads per key
SMALL_POSITIONS = {"max_position_embeddings": 64}

#: family -> (config class, model class, config arguments, model arguments)
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaModel", {**GROUPED, "attention_bias": True}, {}),
    "mistral": ("MistralConfig", "MistralModel", {**GROUPED, "sliding_window": WINDOW}, {}),
    "qwen2": ("Qwen2Config", "Qwen2Model", GROUPED, {}),
    "qwen3": ("Qwen3Config", "Qwen3Model", {**GROUPED, "head_dim": 8}, {}),
    "gemma3_text": ("Gemma3TextConfig", "Gemma3TextModel", {
        **GROUPED, "num_hidden_layers": 4, "head_dim": 8, "query_pre_attn_scalar": 8,
        "sliding_window": WINDOW,
        "layer_types": ["sliding_attention", "full_attention"] * 2}, {}),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXModel", {**SMALL, "rotary_pct": 0.5}, {}),
    "opt": ("OPTConfig", "OPTModel", {
        **{k: v for k, v in SMALL.items() if k != "intermediate_size"}, "ffn_dim": 64,
        "word_embed_proj_dim": 32, **SMALL_POSITIONS}, {}),
    "gpt2": ("GPT2Config", "GPT2Model", {"vocab_size": VOCAB, "n_embd": 32, "n_layer": 2,
                                         "n_head": 4, "n_positions": 64, "bos_token_id": 0,
                                         "eos_token_id": 0}, {}),
    "bert": ("BertConfig", "BertModel", {**SMALL, **SMALL_POSITIONS},
             {"add_pooling_layer": False}),
}
GQA = {"llama", "mistral", "qwen2", "qwen3", "gemma3_text"}


def _build(family):
    import transformers

    config, model, config_kwargs, model_kwargs = FAMILIES[family]
    torch.manual_seed(0)
    config = getattr(transformers, config)(**config_kwargs)
    return _randomize(getattr(transformers, model)(config, **model_kwargs)).eval()


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def recorded(request):
    """(family, model, ids, record, eager outputs with attentions, outputs while recording)."""
    family = request.param
    model = _build(family)
    ids = torch.randint(1, VOCAB, (1, T), generator=torch.Generator().manual_seed(2))
    before = model.config._attn_implementation
    with torch.no_grad(), record_attention(model) as recorder:
        during = model(input_ids=ids).last_hidden_state
    assert model.config._attn_implementation == before
    record = recorder.result()
    model.set_attn_implementation("eager")
    with torch.no_grad():
        out = model(input_ids=ids, output_attentions=True)
    return family, model, ids, record, out, during


def test_model_types_are_the_families_named(recorded):
    family, _, _, record, _, _ = recorded
    assert record.model_type == family


def test_recorded_qk_reproduce_the_models_attention(recorded):
    _, model, _, record, out, during = recorded
    assert record.n_layers == len(out.attentions) == model.config.num_hidden_layers
    for layer, att in enumerate(out.attentions):
        probs = torch.softmax(record.logits(layer), dim=-1)
        torch.testing.assert_close(probs, att, atol=ATOL, rtol=0)
    # recording delegates to eager attention: the outputs are the model's own
    torch.testing.assert_close(during, out.last_hidden_state, atol=ATOL, rtol=0)


def _explicit_repeat_kv(k, n_rep):
    b, n_kv, t, d = k.shape
    return k[:, :, None].expand(b, n_kv, n_rep, t, d).reshape(b, n_kv * n_rep, t, d)


def test_query_head_h_meets_key_head_h_over_group_size(recorded):
    family, model, _, record, out, _ = recorded
    cfg = model.config
    n_heads = cfg.num_attention_heads
    n_kv = getattr(cfg, "num_key_value_heads", None) or n_heads
    assert n_kv == (2 if family in GQA else n_heads)
    for layer, att in enumerate(out.attentions):
        q, k = record.q[layer], record.k[layer]
        assert q.shape == (1, n_heads, T, q.shape[-1])
        assert k.shape == (1, n_kv, T, q.shape[-1])  # keys before repeat_kv
        g = n_heads // n_kv
        assert torch.equal(record.keys_per_query_head(layer), _explicit_repeat_kv(k, g))
        mask = record.masks[layer]
        for h in range(n_heads):
            assert record.kv_head_of(h, layer) == h // g
            logits = q[0, h] @ k[0, h // g].T * record.scaling[layer]
            if mask is not None:
                logits = logits + mask[0, 0]
            torch.testing.assert_close(torch.softmax(logits, -1), att[0, h], atol=ATOL, rtol=0)
    q_all, k_all = record.qk_per_head()
    assert q_all.shape == k_all.shape == (record.n_layers, n_heads, T, q.shape[-1])


def test_causal_and_sliding_window_masks(recorded):
    family, model, _, record, out, _ = recorded
    cfg = model.config
    rows, cols = torch.meshgrid(torch.arange(T), torch.arange(T), indexing="ij")
    for layer, att in enumerate(out.attentions):
        window = record.sliding_window[layer]
        if family == "bert":
            allowed = torch.ones(T, T, dtype=torch.bool)
        else:
            allowed = cols <= rows
        if family == "mistral":
            assert window == WINDOW  # every Mistral layer gets the config's window
        elif family == "gemma3_text":
            sliding = cfg.layer_types[layer] == "sliding_attention"
            assert window == (WINDOW if sliding else None)
        else:
            assert window is None
        if window is not None:
            allowed = allowed & (rows - cols < window)
        assert torch.all(att[0][:, ~allowed] == 0)
        assert torch.all(att[0][:, allowed] > 0)


def test_gpt_neox_rotates_only_the_first_rotary_dimensions():
    model = _build("gpt_neox")
    attn = model.layers[0].attention
    seen = {}
    handle = attn.query_key_value.register_forward_hook(
        lambda mod, inp, output: seen.setdefault("qkv", output.detach()))
    try:
        record = capture_attention_qk(model, torch.arange(1, T + 1))
    finally:
        handle.remove()
    d, rot = attn.head_size, attn.rotary_ndims
    assert 0 < rot < d
    qkv = seen["qkv"].view(1, T, -1, 3 * d).transpose(1, 2)  # fused, per head [q | k | v]
    q_proj, k_proj = qkv[..., :d], qkv[..., d:2 * d]
    assert torch.equal(record.q[0][..., rot:], q_proj[..., rot:])
    assert torch.equal(record.k[0][..., rot:], k_proj[..., rot:])
    assert not torch.allclose(record.q[0][..., 1:, :rot], q_proj[..., 1:, :rot])


def test_qwen3_queries_are_normed_and_rotated_not_projections():
    model = _build("qwen3")
    seen = {}
    handle = model.layers[0].self_attn.q_proj.register_forward_hook(
        lambda mod, inp, output: seen.setdefault("q", output.detach()))
    try:
        record = capture_attention_qk(model, torch.arange(1, T + 1))
    finally:
        handle.remove()
    proj = seen["q"].view(1, T, 4, 8).transpose(1, 2)
    assert not torch.allclose(record.q[0], proj, atol=1e-3)


def test_opt_passes_the_scale_inside_the_query():
    model = _build("opt")
    record = capture_attention_qk(model, torch.arange(1, T + 1))
    assert record.scaling == [1.0, 1.0]


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_same_qk_as_the_projection_hooks(family):
    model = _build(family)
    model.set_attn_implementation("eager")  # as load_model loads (sdpa differs by ~1e-7 in layer 1)
    ids = torch.randint(1, VOCAB, (T,), generator=torch.Generator().manual_seed(3))
    q_old, k_old = capture_qk(model, ids)
    q_new, k_new = capture_attention_qk(model, ids).qk_per_head()
    torch.testing.assert_close(q_new, q_old, atol=0, rtol=0)
    torch.testing.assert_close(k_new, k_old, atol=0, rtol=0)


@pytest.mark.parametrize("start", ["sdpa", "eager"])
def test_previous_implementation_is_restored_also_on_error(start):
    model = _build("llama")
    model.set_attn_implementation(start)
    with pytest.raises(RuntimeError, match="boom"), record_attention(model):
        assert model.config._attn_implementation == IMPLEMENTATION
        raise RuntimeError("boom")
    assert model.config._attn_implementation == start
    capture_attention_qk(model, torch.arange(1, T + 1))
    assert model.config._attn_implementation == start


def test_padding_mask_is_recorded():
    model = _build("llama")
    ids = torch.randint(1, VOCAB, (2, T), generator=torch.Generator().manual_seed(4))
    pad = torch.ones(2, T, dtype=torch.long)
    pad[1, :3] = 0  # left padding
    record = capture_attention_qk(model, ids, attention_mask=pad)
    model.set_attn_implementation("eager")
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=pad, output_attentions=True)
    for layer, att in enumerate(out.attentions):
        probs = torch.softmax(record.logits(layer), dim=-1)
        torch.testing.assert_close(probs[:, :, 3:], att[:, :, 3:], atol=ATOL, rtol=0)
        assert torch.all(att[1][:, 3:, :3] == 0)


def test_a_layer_that_records_nothing_is_refused():
    model = _build("llama")
    with record_attention(model) as recorder:
        pass  # no forward pass: no layer calls the registry
    with pytest.raises(ParameterError, match=r"'llama'.*layers \[0, 1\].*AttentionInterface"):
        recorder.result()


def test_a_model_outside_the_registry_is_refused():
    from transformers import FalconConfig, FalconModel

    torch.manual_seed(0)
    model = FalconModel(FalconConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4)).eval()
    with pytest.raises(ParameterError, match="'falcon'.*AttentionInterface"):
        capture_attention_qk(model, torch.arange(1, T + 1))
    assert model.config._attn_implementation != IMPLEMENTATION


def _t5():
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    return T5EncoderModel(T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                   num_heads=4)).eval()


def test_known_non_qk_logits_are_refused_up_front():
    with pytest.raises(ParameterError, match="'t5'.*relative position bias"):
        capture_attention_qk(_t5(), torch.arange(1, T + 1))
    from transformers import DebertaV2Config, DebertaV2Model

    torch.manual_seed(0)
    model = DebertaV2Model(DebertaV2Config(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                           num_attention_heads=4, intermediate_size=64)).eval()
    with pytest.raises(ParameterError, match="'deberta-v2'.*disentangled"):
        capture_attention_qk(model, torch.arange(1, T + 1))


def test_a_position_bias_passed_to_the_attention_is_refused(monkeypatch):
    """T5 routes through the registry but adds ``position_bias``: caught at the call too."""
    monkeypatch.delitem(REFUSED, "t5")
    model = _t5()
    with pytest.raises(ParameterError, match="'t5'.*position_bias"):
        capture_attention_qk(model, torch.arange(1, T + 1))
    assert model.config._attn_implementation != IMPLEMENTATION


def test_soft_capped_logits_are_refused():
    from transformers import Gemma2Config, Gemma2Model

    torch.manual_seed(0)
    model = Gemma2Model(Gemma2Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                                     num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=2, head_dim=8,
                                     attn_logit_softcapping=50.0)).eval()
    with pytest.raises(ParameterError, match="'gemma2'.*soft-capped"):
        capture_attention_qk(model, torch.arange(1, T + 1))


def test_fig2s_head_decomposition_comes_back_to_the_models_attention(recorded):
    """Chapter 02's Fig. 2 for every family: the softmax of the scaled, masked sum of one
    head's AN maps is the model's own attention of that head (its ``output_attentions``)."""
    from scipy.special import softmax

    from anbn_utils.ans.attention import head_decomposition

    _, model, ids, _, out, _ = recorded
    layer = model.config.num_hidden_layers - 1
    n_heads = out.attentions[layer].shape[1]
    head = head_decomposition(model, ids[0], layer, n_heads - 1)
    logits = (head["q"] @ head["k"].T) * head["scaling"]
    if head["mask"] is not None:
        logits = logits + head["mask"]
    np.testing.assert_allclose(head["weights"], out.attentions[layer][0, -1].double().numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(softmax(logits, axis=-1), head["weights"], atol=2e-5)


#: The pairs each family's layers allow on a sequence of T tokens, in layer order.
PAIRS = {"bert": "all", "mistral": f"band {WINDOW}", "gemma3_text": f"band {WINDOW} / causal"}


def test_the_architecture_table_reads_each_familys_attention(recorded):
    """Chapter 02's table of architectures (:func:`describe_architecture`): the shapes and
    rotary dimensions of the config, the pairs of its masks, and the softmax of the
    recorded products back at the model's own attention weights."""
    from anbn_utils.ans.architecture import describe_architecture

    family, model, ids, _, _, _ = recorded
    config = model.config
    n_heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    rotary = {"bert": 0, "gpt2": 0, "opt": 0, "gpt_neox": head_dim // 2}.get(family, head_dim)
    row = describe_architecture(model, lambda text, return_tensors: {"input_ids": ids},
                                "a sentence")
    assert row == {**row, "model_type": family, "layers": config.num_hidden_layers,
                   "query heads": n_heads, "head dim": head_dim, "rotary dims": rotary,
                   "key-value heads": 2 if family in GQA else n_heads,
                   "ANs": config.num_hidden_layers * n_heads * head_dim,
                   "pairs": PAIRS.get(family, "causal")}
    assert row["attention check"] < 2e-5


def test_a_half_precision_model_gives_its_queries_and_keys_exactly_in_float32():
    """A bfloat16 model (how large LLMs load) recorded bfloat16 queries and keys, and the
    per-TR means of their products were summed in bfloat16 (8 bits of mantissa): the
    segment's queries and keys are its own values, cast to float32."""
    from anbn_utils.ans.capture import capture_segment

    model = _build("llama").to(torch.bfloat16)
    ids = torch.randint(1, VOCAB, (T,), generator=torch.Generator().manual_seed(3))
    q, k = capture_attention_qk(model, ids).qk_per_head()
    segment = capture_segment(model, ids)
    assert q.dtype == torch.bfloat16 and segment.q.dtype == segment.k.dtype == torch.float32
    assert torch.equal(segment.q, q.float()) and torch.equal(segment.k, k.float())

"""Known answers for ``extract_ans`` end to end, on a toy story built by hand.

Nothing here goes through the package's hooks: the reference queries and keys are computed
from the model's own hidden states (``output_hidden_states=True``, the state entering each
layer) and that layer's ``query``/``key`` weights (``h @ W.T + b``); the tokens are placed on
TRs by hand; a TR's activation is the mean over its ``m x m`` token pairs of ``q[i] * k[i]``,
by brute force; the HRF is nilearn's ``compute_regressor`` (events at the TR onsets,
canonical SPM HRF), an implementation independent of the package's convolution.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from nilearn.glm.first_level import compute_regressor
from transformers import AutoModel, AutoTokenizer

from anbn_utils.ans import extract_ans
from anbn_utils.assets import resolve_model
from anbn_utils.errors import ParameterError
from anbn_utils.narratives.transcripts import assign_words_to_trs

TR = 1.5
#: The story starts at volume 4; volume 4 is dropped (``start``), volumes 5..10 are kept.
STORY_START, START, STOP = 4, 5, 11
TRANSCRIPT = "So, the pie man ran. He threw a pie, quickly! Then he was gone. Bye."
#: (word with its punctuation, start s, end s), in scan time. With the data stage's default
#: ``word_anchor='end'`` a word belongs to volume floor(end / 1.5): the volumes below.
#: "So," falls before the story onset and "Bye." after the kept window (both clipped to
#: the edge TRs); volume 8 has no word.
WORDS = [("So,", 5.2, 5.8), ("the", 6.1, 6.3), ("pie", 6.4, 6.8), ("man", 6.9, 7.4),
         ("ran.", 7.6, 8.0), ("He", 8.3, 8.5), ("threw", 8.6, 9.2), ("a", 9.3, 9.4),
         ("pie,", 9.5, 9.9), ("quickly!", 10.0, 10.6), ("Then", 13.6, 13.9),
         ("he", 14.0, 14.2), ("was", 14.3, 14.6), ("gone.", 14.7, 15.2), ("Bye.", 16.6, 17.0)]
WORD_VOLUMES = [3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 9, 9, 9, 10, 11]

#: The model's input, token by token, with each token's volume, placed by hand: a token
#: takes its word's volume, punctuation the volume of the word it follows, [CLS] that of the
#: segment's first word and [SEP] that of its last.
ONE_SEGMENT = [[
    ("[CLS]", 3), ("so", 3), (",", 3), ("the", 4), ("pie", 4), ("man", 4), ("ran", 5),
    (".", 5), ("he", 5), ("threw", 6), ("a", 6), ("pie", 6), (",", 6), ("quickly", 7),
    ("!", 7), ("then", 9), ("he", 9), ("was", 9), ("gone", 10), (".", 10), ("bye", 11),
    (".", 11), ("[SEP]", 11)]]
#: With at most 11 tokens per segment (9 without [CLS] and [SEP]) the four sentences of 7,
#: 7, 5 and 2 tokens fill three segments; volume 5 straddles the first two.
THREE_SEGMENTS = [
    [("[CLS]", 3), ("so", 3), (",", 3), ("the", 4), ("pie", 4), ("man", 4), ("ran", 5),
     (".", 5), ("[SEP]", 5)],
    [("[CLS]", 5), ("he", 5), ("threw", 6), ("a", 6), ("pie", 6), (",", 6), ("quickly", 7),
     ("!", 7), ("[SEP]", 7)],
    [("[CLS]", 9), ("then", 9), ("he", 9), ("was", 9), ("gone", 10), (".", 10), ("bye", 11),
     (".", 11), ("[SEP]", 11)],
]


def _word_table() -> pd.DataFrame:
    """The toy story's words as the data stage writes them (offsets, punctuation, times,
    then volumes from the data stage's own :func:`assign_words_to_trs`)."""
    rows, pos = [], 0
    for text, start, end in WORDS:
        bare = text.rstrip(".,!?")
        pos = TRANSCRIPT.index(text, pos)
        rows.append({"word": bare, "start_offset": pos, "end_offset": pos + len(bare),
                     "punct": text[len(bare):], "start": start, "end": end})
        pos += len(text)
    words = assign_words_to_trs(pd.DataFrame(rows), START, STOP, tr=TR)
    assert words["volume"].tolist() == WORD_VOLUMES  # the hand placement above
    return words


def _with_random_biases(model):
    """A random initialisation zeroes the biases; give them values so that they count."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    return model


@pytest.fixture(scope="module", params=["tiny-bert", "all-MiniLM-L6-v2"])
def model_and_tokenizer(request):
    if request.param == "tiny-bert":
        path = request.getfixturevalue("tiny_bert_dir")
    else:
        path = resolve_model(request.param)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    if request.param == "tiny-bert":
        _with_random_biases(model)
    return model, AutoTokenizer.from_pretrained(path)


def _reference_qk(model, ids: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Queries and keys of one segment from the hidden states and the projection weights.

    Returns q, k of shape (n_tokens, n_layers, n_heads, head_dim), float64.
    """
    cfg = model.config
    n_heads = cfg.num_attention_heads
    head_dim = cfg.hidden_size // n_heads
    with torch.no_grad():
        out = model(input_ids=ids[None], output_hidden_states=True, output_attentions=True)
    q, k = [], []
    for layer, block in enumerate(model.encoder.layer):
        h = out.hidden_states[layer][0].double().numpy()  # entering this layer: (T, hidden)
        att = block.attention.self
        for proj, store in ((att.query, q), (att.key, k)):
            w, b = proj.weight.detach().double().numpy(), proj.bias.detach().double().numpy()
            store.append((h @ w.T + b).reshape(len(ids), n_heads, head_dim))
    q, k = np.stack(q, axis=1), np.stack(k, axis=1)
    # the reference is the model's own: its scores give the model's attention weights
    scores = np.einsum("alhd,blhd->lhab", q, k) / np.sqrt(head_dim)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, torch.stack(out.attentions)[:, 0].numpy(), atol=1e-5)
    return q, k


def _brute_force_mean(segments, n_story: int) -> np.ndarray:
    """Per story TR: the mean of q_a * k_b over every (query a, key b) pair of the TR's
    tokens within one segment.  ``segments``: list of (q, k, story TR per token)."""
    shape = segments[0][0].shape[1:]
    out = np.zeros((n_story, *shape))
    for t in range(n_story):
        products = [q[a] * k[b] for q, k, trs in segments
                    for a in np.flatnonzero(trs == t) for b in np.flatnonzero(trs == t)]
        if products:
            out[t] = np.mean(products, axis=0)
    return out


def _spm_hrf_by_nilearn(series: np.ndarray) -> np.ndarray:
    """Each column of ``series`` (time first) as amplitudes of instantaneous events at the
    TR onsets, convolved with the canonical SPM HRF by nilearn, scaled so that the HRF
    sampled at the TR sums to 1 (SPM's ``spm_hrf`` normalisation)."""
    n = len(series)

    def response(onset: int, n_frames: int) -> np.ndarray:
        events = np.array([[onset * TR], [0.0], [1.0]])
        return compute_regressor(events, "spm", np.arange(n_frames) * TR,
                                 oversampling=16)[0][:, 0]

    unit = response(0, 40).sum()  # 60 s: the whole HRF (32 s) sampled at the TR
    impulse = np.stack([response(j, n) for j in range(n)], axis=1) / unit  # (n, n): [t, j]
    return np.tensordot(impulse, series, axes=(1, 0))


@pytest.mark.parametrize(("segments", "max_tokens"), [(ONE_SEGMENT, None), (THREE_SEGMENTS, 11)],
                         ids=["1-segment", "3-segments"])
def test_extract_ans_equals_the_models_own_queries_and_keys(model_and_tokenizer, segments,
                                                             max_tokens):
    model, tokenizer = model_and_tokenizer
    words = _word_table()
    ans = extract_ans(TRANSCRIPT, words, model, tokenizer, story_start=STORY_START, start=START,
                      stop=STOP, tr=TR, top_k=5, max_tokens=max_tokens, progress=False)

    # the hand-made tokens are the tokenizer's (else the known answer would be wrong)
    flat = [tok for seg in segments for tok in seg]
    assert tokenizer.convert_ids_to_tokens(tokenizer(TRANSCRIPT)["input_ids"])[1:-1] == \
        [t for t, _ in ONE_SEGMENT[0]][1:-1]
    assert ans.tokens["token"].tolist() == [t for t, _ in flat]
    assert ans.tokens["volume"].tolist() == [v for _, v in flat]

    n_story = STOP - STORY_START
    reference = []
    for seg in segments:
        ids = torch.tensor(tokenizer.convert_tokens_to_ids([t for t, _ in seg]))
        q, k = _reference_qk(model, ids)
        story_tr = np.clip(np.array([v for _, v in seg]) - STORY_START, 0, n_story - 1)
        reference.append((q, k, story_tr))
    expected = _brute_force_mean(reference, n_story)  # (n_story, L, H, d)

    cfg = model.config
    shape = (cfg.num_hidden_layers, cfg.num_attention_heads,
             cfg.hidden_size // cfg.num_attention_heads)
    assert ans.activations.shape == (STOP - START, *shape)
    assert ans.volumes.tolist() == list(range(START, STOP))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(ans.activations, expected[START - STORY_START:],
                               rtol=1e-4, atol=1e-6 * scale)
    assert np.all(ans.activations[8 - START] == 0)  # volume 8 has no token
    assert np.abs(expected[0]).max() > 0.01 * scale  # the dropped volume holds tokens ...

    flat_expected = expected.reshape(n_story, -1)
    hrf = _spm_hrf_by_nilearn(flat_expected)[START - STORY_START:]  # ... and reaches the HRF
    np.testing.assert_allclose(ans.activations_hrf.reshape(len(hrf), -1), hrf,
                               rtol=1e-4, atol=1e-6 * np.abs(hrf).max())

    # top pairs: the largest products q_a[i] * k_b[i] over all token pairs of each segment
    for s, (q, k, _) in enumerate(reference):
        products = (q[:, None] * k[None, :]).reshape(len(q) ** 2, -1).T  # (n_ans, T*T)
        top = -np.sort(-products, axis=1)[:, :5]
        np.testing.assert_allclose(ans.top_values[s], top, rtol=1e-4, atol=1e-6 * scale)
        qf, kf = q.reshape(len(q), -1), k.reshape(len(k), -1)
        units = np.arange(qf.shape[1])[:, None]
        at = qf[ans.top_query[s], units] * kf[ans.top_key[s], units]
        np.testing.assert_allclose(at, top, rtol=1e-4, atol=1e-6 * scale)


def _small_decoder(kind: str):
    """A random rotary grouped-query decoder built from its configuration (no download):
    Llama (causal), or Mistral with a sliding window of 4 tokens (a band the segments
    exceed), with the bundled WordPiece tokenizer."""
    from transformers import AutoModel, LlamaConfig, MistralConfig

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))
    sizes = {"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "head_dim": 16, "max_position_embeddings": 64}
    config = LlamaConfig(**sizes) if kind == "llama" else MistralConfig(**sizes, sliding_window=4)
    torch.manual_seed(0)
    return AutoModel.from_config(config, attn_implementation="eager").eval(), tokenizer


@pytest.mark.parametrize("kind", ["llama", "mistral"])
def test_a_rotary_grouped_query_models_ans_are_the_mean_over_the_pairs_its_mask_allows(kind):
    """AN (layer, query head h, dim i) of a rotary grouped-query model: the mean over a TR's
    token pairs that the layer's mask allows of q~_a[i] k~_b[i], the query and key after the
    rotary embedding, the key that of h's key-value group. The reference takes the rotated
    queries and keys from the model's own modules (``q_proj``/``k_proj`` and
    ``apply_rotary_pos_emb`` of its modeling file), checks them against the model's attention
    weights, and reads the allowed pairs from those weights (zero where masked)."""
    import sys

    model, tokenizer = _small_decoder(kind)
    words = _word_table()
    ans = extract_ans(TRANSCRIPT, words, model, tokenizer, story_start=STORY_START, start=START,
                      stop=STOP, tr=TR, top_k=5, max_tokens=11, progress=False)
    meta = ans.meta
    assert (meta["n_heads"], meta["n_kv_heads"], meta["kv_head_of"]) == (4, 2, [0, 0, 1, 1])
    assert meta["pairs"] == ("causal" if kind == "llama" else "per layer")

    modeling = sys.modules[type(model.layers[0].self_attn).__module__]
    n_story = STOP - STORY_START
    num = np.zeros((n_story, 2, 4, 16))
    den = np.zeros((n_story, 2))
    for s, table in ans.tokens.groupby("segment"):
        ids = torch.tensor(table["token_id"].to_numpy())
        trs = np.clip(table["volume"].to_numpy() - STORY_START, 0, n_story - 1)
        with torch.no_grad():
            out = model(input_ids=ids[None], output_hidden_states=True, output_attentions=True)
            position = torch.arange(len(ids))[None]
            cos, sin = model.rotary_emb(out.hidden_states[0], position)
            for layer, block in enumerate(model.layers):
                h = block.input_layernorm(out.hidden_states[layer])
                att = block.self_attn
                q = att.q_proj(h).view(1, len(ids), 4, 16).transpose(1, 2)
                k = att.k_proj(h).view(1, len(ids), 2, 16).transpose(1, 2)
                q, k = modeling.apply_rotary_pos_emb(q, k, cos, sin)
                k = k.repeat_interleave(2, dim=1)  # query heads 0, 1 meet key head 0; 2, 3 head 1
                weights = out.attentions[layer][0]
                allowed = weights > 0
                logits = torch.einsum("had,hbd->hab", q[0], k[0]) * 16 ** -0.5
                expected = torch.softmax(logits.masked_fill(~allowed, -torch.inf), -1)
                torch.testing.assert_close(expected, weights, atol=1e-5, rtol=1e-4)
                allowed = allowed[0].numpy()  # the same for every head
                if kind == "mistral":  # the window: 4 tokens, the query's own included
                    a, b = np.indices(allowed.shape)
                    assert np.array_equal(allowed, (b <= a) & (b > a - 4))
                q, k = q[0].double().numpy(), k[0].double().numpy()
                for t in np.unique(trs):
                    idx = np.flatnonzero(trs == t)
                    for a in idx:
                        for b in idx:
                            if allowed[a, b]:
                                num[t, layer] += q[:, a] * k[:, b]
                                den[t, layer] += 1
                if layer == 0:  # top pairs: among the allowed pairs of the segment
                    products = q[:, :, None, :] * k[:, None, :, :]  # (H, T, T, d)
                    products = np.where(allowed[None, :, :, None], products, -np.inf)
                    top = -np.sort(-products.transpose(0, 3, 1, 2).reshape(64, -1), axis=1)[:, :5]
                    np.testing.assert_allclose(ans.top_values[s][:64], top, rtol=1e-4, atol=1e-6)
    expected = np.divide(num, den[..., None, None], out=np.zeros_like(num),
                         where=den[..., None, None] > 0)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(ans.activations, expected[START - STORY_START:], rtol=1e-4,
                               atol=1e-6 * scale)
    with pytest.raises(ParameterError, match="aggregation 'max' has no closed form over the "
                                             "pairs these layers allow" if kind == "mistral"
                       else "aggregation 'max' with causal pairs has no closed form"):
        extract_ans(TRANSCRIPT, words, model, tokenizer, story_start=STORY_START, start=START,
                    stop=STOP, tr=TR, top_k=5, max_tokens=11, aggregation="max", progress=False)
    with pytest.raises(ParameterError, match="include_bias=False .* model type 'llama'|"
                                             "include_bias=False .* model type 'mistral'"):
        extract_ans(TRANSCRIPT, words, model, tokenizer, story_start=STORY_START, start=START,
                    stop=STOP, tr=TR, top_k=5, max_tokens=11, include_bias=False,
                    progress=False)


@pytest.mark.parametrize("kind", ["llama", "mistral"])
def test_rotary_pair_units_sum_the_dimensions_the_rotation_turns_together(kind):
    """``an_unit='rotary_pair'``: unit j < d/2 of a head is dimensions j and j + d/2 summed
    (the pair ``rotate_half`` turns together), so its per-TR mean is the sum of theirs (the
    dimension ANs, checked against brute force above); its top pairs are the largest sums
    ``q_a[j] k_b[j] + q_a[j + d/2] k_b[j + d/2]`` over the pairs the mask allows, brute
    force here from the segment's queries and keys.  The unit is refused for a model
    without a rotary embedding and with another aggregation than the mean."""
    from anbn_utils.ans.capture import capture_segment

    model, tokenizer = _small_decoder(kind)
    words = _word_table()
    kwargs = {"story_start": STORY_START, "start": START, "stop": STOP, "tr": TR, "top_k": 5,
              "max_tokens": 11, "progress": False}
    dims = extract_ans(TRANSCRIPT, words, model, tokenizer, **kwargs)
    pairs = extract_ans(TRANSCRIPT, words, model, tokenizer, an_unit="rotary_pair", **kwargs)
    assert pairs.activations.shape == (6, 2, 4, 8)
    assert pairs.names[:2] == ["L1H1P1", "L1H1P2"] and pairs.n_ans == 64
    assert (pairs.meta["an_unit"], pairs.meta["rotary_dims"], pairs.meta["units_per_head"]) == \
        ("rotary_pair", 16, 8)
    np.testing.assert_allclose(pairs.activations,
                               dims.activations[..., :8] + dims.activations[..., 8:],
                               rtol=1e-5, atol=1e-6 * np.abs(dims.activations).max())
    for s, table in pairs.tokens.groupby("segment"):
        ids = torch.tensor(table["token_id"].to_numpy())
        seg = capture_segment(model, ids)
        q, k = seg.q[0].double(), seg.k[0].double()  # layer 1: (heads, T, 16)
        products = torch.einsum("hai,hbi->hiab", q, k)
        units = products[:, :8] + products[:, 8:]  # (heads, 8, T, T)
        allowed = torch.as_tensor(seg.structures[0].allowed if seg.structures[0].allowed
                                  is not None else np.tril(np.ones((len(ids),) * 2, bool)))
        units = units.masked_fill(~allowed, -torch.inf).reshape(32, -1)
        top = units.topk(5, dim=1).values.numpy()
        np.testing.assert_allclose(pairs.top_values[s][:32], top, rtol=1e-4, atol=1e-6)
    with pytest.raises(ParameterError, match="an_unit='rotary_pair' with aggregation 'max'"):
        extract_ans(TRANSCRIPT, words, model, tokenizer, an_unit="rotary_pair",
                    aggregation="max", **kwargs)
    bert = AutoModel.from_pretrained(resolve_model("all-MiniLM-L6-v2"), attn_implementation="eager")
    with pytest.raises(ParameterError, match="model type 'bert' has no rotary embedding"):
        extract_ans(TRANSCRIPT, words, bert.eval(), tokenizer, an_unit="rotary_pair", **kwargs)

"""The embedded default's assets load offline from the installed registry packages."""

import json
from pathlib import Path

from anbn_utils.assets import DEFAULT_MODEL, load_spacy, resolve_model


def test_minilm_resolves_to_the_installed_weights():
    path = Path(resolve_model(DEFAULT_MODEL))
    assert (path / "model.safetensors").stat().st_size == 90_868_376
    config = json.loads((path / "config.json").read_text())
    assert (config["num_hidden_layers"], config["num_attention_heads"], config["hidden_size"]) == (6, 12, 384)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    assert tok.is_fast
    assert tok.tokenize("The journalist wrote a report.") == ["the", "journalist", "wrote", "a", "report", "."]
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"
    assert resolve_model(path) == str(path)


def test_spacy_pipeline_tags_a_fixed_sentence():
    nlp = load_spacy()
    doc = nlp("The journalist wrote a report about the man.")
    assert [t.pos_ for t in doc] == ["DET", "NOUN", "VERB", "DET", "NOUN", "ADP", "DET", "NOUN", "PUNCT"]
    assert nlp.meta["version"] == "3.8.0"


def test_random_bert_base_has_the_paper_shape_and_is_seeded():
    import torch

    from anbn_utils.ans import load_model
    from anbn_utils.assets import random_model

    state = torch.random.get_rng_state()
    model, tok = load_model("random:bert-base-uncased", "cpu")
    assert torch.equal(torch.random.get_rng_state(), state)  # global random state untouched
    c = model.config
    assert (c.num_hidden_layers, c.num_attention_heads, c.hidden_size // c.num_attention_heads,
            c.vocab_size, len(tok)) == (12, 12, 64, 30522, 30522)
    assert model.config._attn_implementation == "eager" and not model.training
    w = model.encoder.layer[0].attention.self.query.weight
    assert torch.equal(w, random_model("random:bert-base-uncased")[0]
                       .encoder.layer[0].attention.self.query.weight)
    assert not torch.equal(w, random_model("random:bert-base-uncased", seed=1)[0]
                           .encoder.layer[0].attention.self.query.weight)
    assert 0.015 < float(w.std()) < 0.025  # transformers' init: N(0, 0.02^2)


def _query_key_products(model, tok, sentence="The journalist wrote a report about the man."):
    """Every AN's query-key products on one sentence: (n_layers, n_heads, T, T, head_dim)."""
    from anbn_utils.ans import capture_qk

    ids = tok(sentence, return_tensors="pt")["input_ids"][0]
    q, k = capture_qk(model, ids)
    return q[:, :, :, None, :] * k[:, :, None, :, :]


def test_untrained_twin_has_the_architecture_and_not_the_weights():
    """random:<name> generalises random:bert-base-uncased to any model: the untrained twin of
    the default model (issue 14, control a). The old code knew only random:bert-base-uncased."""
    import torch

    from anbn_utils.ans import load_model
    from anbn_utils.assets import random_model

    trained, tok = load_model(DEFAULT_MODEL, "cpu")
    state = torch.random.get_rng_state()
    twin, twin_tok = load_model(f"random:{DEFAULT_MODEL}", "cpu")
    assert torch.equal(torch.random.get_rng_state(), state)  # global random state untouched
    # same architecture: the configuration (the dtype field aside: None until weights load)
    # and every parameter's name and shape, and the same tokenizer
    drop = lambda c: {k: v for k, v in c.to_dict().items() if k != "dtype"}
    assert drop(twin.config) == drop(trained.config)
    assert type(twin) is type(trained)
    shapes = lambda m: [(n, tuple(p.shape)) for n, p in m.named_parameters()]
    assert shapes(twin) == shapes(trained) and len(shapes(twin)) > 100
    assert twin_tok.get_vocab() == tok.get_vocab()
    assert twin.config._attn_implementation == "eager" and not twin.training
    # different weights, different ANs
    for (name, p), (_, p0) in zip(twin.named_parameters(), trained.named_parameters()):
        if p.ndim == 2:  # every weight matrix differs (LayerNorm starts at 1/0 in both)
            assert not torch.allclose(p, p0), name
    a, a0 = _query_key_products(twin, twin_tok), _query_key_products(trained, tok)
    assert a.shape == a0.shape == (6, 12, 11, 11, 32)
    r = torch.corrcoef(torch.stack([a.flatten(), a0.flatten()]))[0, 1]
    assert abs(float(r)) < 0.2  # unrelated products, not a rescaled copy
    # the same seed gives the same model, another seed another one
    again = random_model(f"random:{DEFAULT_MODEL}", seed=0)[0]
    other = random_model(f"random:{DEFAULT_MODEL}", seed=1)[0]
    assert all(torch.equal(p, q) for p, q in zip(twin.parameters(), again.parameters()))
    assert not torch.equal(twin.encoder.layer[0].attention.self.query.weight,
                           other.encoder.layer[0].attention.self.query.weight)
    # load_model passes the seed on
    assert torch.equal(load_model(f"random:{DEFAULT_MODEL}", "cpu", seed=1)[0]
                       .encoder.layer[0].attention.self.query.weight,
                       other.encoder.layer[0].attention.self.query.weight)


def test_random_gpt2_is_a_causal_gpt2_read_with_wordpiece():
    """The causal model of the comparison (issue 14, point 4): GPT-2's default architecture,
    random weights, the uncased WordPiece tokenizer (no GPT-2 BPE offline)."""
    import torch
    from transformers import GPT2Config

    from anbn_utils.ans import adapter_for, load_model

    model, tok = load_model("random:gpt2-wordpiece", "cpu")
    c, ref = model.config, GPT2Config()
    assert c.model_type == "gpt2" and adapter_for(model).causal
    assert (c.n_layer, c.n_head, c.n_embd, c.n_positions) == (ref.n_layer, ref.n_head, ref.n_embd,
                                                              ref.n_positions)
    assert c.vocab_size == len(tok) == 30522 and ref.vocab_size == 50257
    assert tok.tokenize("The journalist wrote.") == ["the", "journalist", "wrote", "."]
    assert model.config._attn_implementation == "eager" and not model.training
    products = _query_key_products(model, tok)
    assert products.shape[:2] == (12, 12) and products.shape[-1] == 64
    w = model.h[0].attn.c_attn.weight
    assert torch.equal(w, load_model("random:gpt2-wordpiece", "cpu")[0].h[0].attn.c_attn.weight)


def test_random_model_names_fail_clearly_offline():
    import pytest

    from anbn_utils.assets import model_source
    from anbn_utils.errors import DataError, ParameterError

    with pytest.raises(ParameterError, match=r"random:<model name or folder>"):
        model_source("random:")
    # GPT-2 itself is not available offline: the error names the built-in stand-in
    with pytest.raises(DataError, match=r"'random:gpt2' reads the configuration.*random:gpt2-wordpiece"):
        model_source("random:gpt2")
    assert model_source(f"random:{DEFAULT_MODEL}").startswith("random weights")

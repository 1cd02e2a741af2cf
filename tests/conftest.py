"""Shared fixtures: small datasets in the exact Narratives layout, made once per session."""

from __future__ import annotations

import os

# No network in tests: Hugging Face libraries read this when first imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
# Under pytest-xdist (`make test` runs two workers), each worker and the processes it starts
# (notebook kernels) get their share of the cores, read by numpy's BLAS and torch when first
# imported: more threads than cores slow every worker down.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, _threads)

import pytest

from anbn_utils.synthetic import make_narratives_like


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """Pie Man (sub-001..003, two runs each) and Shapes-social (sub-201..203) on a tiny grid."""
    return make_narratives_like(tmp_path_factory.mktemp("tiny"), n_subjects=3, random_state=1)


@pytest.fixture(scope="session")
def pieman82_root(tmp_path_factory):
    """All 82 Pie Man subjects (14 with two runs) on a 2x2x2 grid, with the real exclusions."""
    return make_narratives_like(tmp_path_factory.mktemp("pieman82"), tasks=("pieman",),
                                n_subjects=82, shape=(2, 2, 2), random_state=2)


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A tiny random BERT with MiniLM's tokenizer, saved as a local model folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from anbn_utils.assets import resolve_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    cfg = BertConfig(vocab_size=30522, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                     intermediate_size=32, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2")).save_pretrained(folder)
    return folder

"""Artificial neurons: query/key capture, tokens on the TR grid, activations, top pairs,
nuisance regressors."""

from .activations import (
    AGGREGATIONS,
    HRF_MODELS,
    aggregate_trs,
    an_index,
    an_names,
    convolve_hrf,
    hrf_kernel,
)
from .capture import SUPPORTED, adapter_for, capture_qk
from .extract import ANs, extract_ans, load_ans, load_model, save_ans
from .nuisance import cross_story_correlation, nuisance_r2, nuisance_regressors, residualize
from .tokens import segment_sentences, sentence_spans, tokenize_story
from .toppairs import candidate_count, top_pairs, top_pairs_bruteforce

__all__ = [
    "AGGREGATIONS",
    "HRF_MODELS",
    "SUPPORTED",
    "ANs",
    "adapter_for",
    "aggregate_trs",
    "an_index",
    "an_names",
    "candidate_count",
    "capture_qk",
    "convolve_hrf",
    "cross_story_correlation",
    "extract_ans",
    "hrf_kernel",
    "load_ans",
    "load_model",
    "nuisance_r2",
    "nuisance_regressors",
    "residualize",
    "save_ans",
    "segment_sentences",
    "sentence_spans",
    "tokenize_story",
    "top_pairs",
    "top_pairs_bruteforce",
]

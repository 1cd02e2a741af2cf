"""Queries and keys of a segment, as the attention multiplies them.

:func:`capture_segment` is what the AN stage uses: for any model whose attention goes
through transformers' registry (BERT, GPT-2, Llama, Mistral, Qwen, Gemma, GPT-NeoX, OPT, ...)
it records the query and key each attention call receives (after rotary embeddings and
query/key norms; :mod:`anbn_utils.ans.attention`) with the pairs the model's own mask allows
per layer (all, causal, a sliding-window band; :mod:`anbn_utils.ans.pairs`).

The per-family forward hooks below remain for one case only: ``include_bias=False``, the
projections' outputs without their bias, which is defined only where the query and key *are*
the projections' outputs (no rotary or norm after them): BERT, RoBERTa, DistilBERT, GPT-2.
No model code is forked: a forward hook on each layer's query and key projections
(or on GPT-2's fused ``c_attn``) copies their outputs, and the hooks are removed when the
context exits, also on error.  Hooked architectures:

=====================  ==============================================  ======================
family                 modules hooked (per layer)                      pairs a query attends
=====================  ==============================================  ======================
BERT, RoBERTa, ...     ``encoder.layer[l].attention.self.query/key``   all tokens
DistilBERT             ``transformer.layer[l].attention.q_lin/k_lin``  all tokens
GPT-2                  ``h[l].attn.c_attn`` (first two thirds)         earlier tokens (causal)
=====================  ==============================================  ======================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import ParameterError

__all__ = ["SUPPORTED", "QKAdapter", "SegmentQK", "adapter_for", "capture_qk", "capture_segment"]


@dataclass(frozen=True)
class QKAdapter:
    """Where a family of models keeps its query and key projections."""

    family: str
    causal: bool

    def layers(self, model) -> list:
        raise NotImplementedError

    def hooks(self, layer) -> dict[str, tuple[torch.nn.Module, slice | None]]:
        """``{'q': (module, slice of its output or None), 'k': ...}``."""
        raise NotImplementedError


class _Bert(QKAdapter):
    def layers(self, model):
        return list(_base(model).encoder.layer)

    def hooks(self, layer):
        att = layer.attention.self
        return {"q": (att.query, None), "k": (att.key, None)}


class _DistilBert(QKAdapter):
    def layers(self, model):
        return list(_base(model).transformer.layer)

    def hooks(self, layer):
        return {"q": (layer.attention.q_lin, None), "k": (layer.attention.k_lin, None)}


class _GPT2(QKAdapter):
    def layers(self, model):
        return list(_base(model).h)

    def hooks(self, layer):
        e = layer.attn.split_size
        return {"q": (layer.attn.c_attn, slice(0, e)), "k": (layer.attn.c_attn, slice(e, 2 * e))}


SUPPORTED = {
    "bert": _Bert("bert", causal=False),
    "roberta": _Bert("roberta", causal=False),
    "xlm-roberta": _Bert("xlm-roberta", causal=False),
    "electra": _Bert("electra", causal=False),
    "camembert": _Bert("camembert", causal=False),
    "distilbert": _DistilBert("distilbert", causal=False),
    "gpt2": _GPT2("gpt2", causal=True),
}


def _base(model):
    """The bare transformer of a model with or without a task head."""
    prefix = getattr(model, "base_model_prefix", "")
    return getattr(model, prefix, model) if prefix and hasattr(model, prefix) else model


def adapter_for(model) -> QKAdapter:
    """The adapter of ``model``'s architecture, or a clear error listing the supported ones."""
    family = getattr(getattr(model, "config", None), "model_type", None)
    if family not in SUPPORTED:
        raise ParameterError(
            f"cannot capture queries and keys of a {type(model).__name__} (model_type "
            f"{family!r}); supported model types: {', '.join(sorted(SUPPORTED))}"
        )
    return SUPPORTED[family]


def _projection_bias(module: torch.nn.Module, cut: slice | None) -> torch.Tensor | None:
    bias = getattr(module, "bias", None)
    if bias is None:
        return None
    return bias[cut] if cut is not None else bias


@contextlib.contextmanager
def _hooked(model, include_bias: bool) -> Iterator[dict[str, list]]:
    adapter = adapter_for(model)
    store: dict[str, list] = {"q": [], "k": []}
    handles = []

    def make(kind, cut, bias):
        def hook(module, inputs, output):
            out = output[..., cut] if cut is not None else output
            if not include_bias and bias is not None:
                out = out - bias
            store[kind].append(out.detach())
        return hook

    try:
        for layer in adapter.layers(model):
            for kind, (module, cut) in adapter.hooks(layer).items():
                handles.append(module.register_forward_hook(
                    make(kind, cut, _projection_bias(module, cut))))
        yield store
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def capture_qk(
    model, input_ids: torch.Tensor, *, include_bias: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on one sequence and return its queries and keys.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A supported architecture (see :data:`SUPPORTED`), in eval mode.
    input_ids : Tensor of shape (n_tokens,)
        Token ids of one segment, special tokens included, on the model's device.
    include_bias : bool
        Keep the projections' bias (the vectors the model uses; default) or subtract it.

    Returns
    -------
    q, k : Tensor of shape (n_layers, n_heads, n_tokens, head_dim)
        Per layer and head, as the model splits them (head h holds dimensions
        ``h * head_dim`` to ``(h + 1) * head_dim`` of the projection).
    """
    adapter_for(model)
    cfg = model.config
    n_heads = cfg.num_attention_heads if hasattr(cfg, "num_attention_heads") else cfg.n_head
    with _hooked(model, include_bias) as store:
        model(input_ids=input_ids[None])
    q = torch.stack([t[0] for t in store["q"]])  # (L, T, H*d)
    k = torch.stack([t[0] for t in store["k"]])
    n_layers, n_tokens, width = q.shape
    shape = (n_layers, n_tokens, n_heads, width // n_heads)
    return q.reshape(shape).transpose(1, 2), k.reshape(shape).transpose(1, 2)


@dataclass(frozen=True)
class SegmentQK:
    """Queries and keys of one segment and the pairs each layer's attention allows.

    Attributes
    ----------
    q, k : Tensor of shape (n_layers, n_heads, n_tokens, head_dim), float32
        ``k[l, h]`` is the key query head ``h`` meets (its key-value head's, repeated over
        the group): AN ``(l, h, i)`` of the pair ``(a, b)`` is ``q[l, h, a, i] * k[l, h, b, i]``.
        A model in half precision (bfloat16, float16) gives its queries and keys exactly,
        cast to float32, so that the products and the per-TR means over many pairs are not
        rounded to its 8 or 11 bits.
    structures : list of MaskStructure
        Per layer, the token pairs the model's mask allows
        (:func:`anbn_utils.ans.pairs.allowed_pairs`).
    n_kv_heads : int
        Key-value heads per layer (``n_heads`` without grouped-query attention).
    """

    q: torch.Tensor
    k: torch.Tensor
    structures: list
    n_kv_heads: int


@torch.no_grad()
def capture_segment(model, input_ids: torch.Tensor, *, include_bias: bool = True) -> SegmentQK:
    """The queries, keys and allowed pairs of one segment (see the module docstring).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        In eval mode.
    input_ids : Tensor of shape (n_tokens,)
        One segment, special tokens included, on the model's device.
    include_bias : bool
        True (default): what the attention multiplies, through the registry.  False: the
        projections without their bias, through the hooks (:data:`SUPPORTED` only).

    Raises
    ------
    ParameterError
        A model whose logit is not ``q . k`` times a scale, or whose attention does not go
        through the registry; ``include_bias=False`` for a model that is not hooked.
    """
    from .attention import capture_attention_qk
    from .pairs import MaskStructure, allowed_pairs

    if not include_bias:
        family = getattr(model.config, "model_type", None)
        if family not in SUPPORTED:
            raise ParameterError(
                f"include_bias=False takes the projections' bias out of the queries and keys, "
                f"which is defined only where they are the projections' outputs "
                f"({', '.join(sorted(SUPPORTED))}); model type {family!r} transforms them "
                "after the projection (rotary embedding, norm): use include_bias=True")
        q, k = capture_qk(model, input_ids, include_bias=False)
        kind = "causal" if SUPPORTED[family].causal else "all"
        return SegmentQK(q.float(), k.float(), [MaskStructure(kind)] * q.shape[0], q.shape[1])
    record = capture_attention_qk(model, input_ids)
    q, k = record.qk_per_head()
    n = q.shape[2]
    structures = [allowed_pairs(None if m is None else m[0], n) for m in record.masks]
    return SegmentQK(q.float(), k.float(), structures, record.n_kv_heads())

"""Queries and keys exactly as the attention multiplies them, through transformers' registry.

Every model of transformers 5.x that follows the functional attention design calls
``ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)``
with the query ``(batch, n_heads, T_q, d)`` and the key ``(batch, n_kv_heads, T_k, d)``
*after* everything that comes between the projections and the product: rotary embeddings
(Llama, Mistral, Qwen2/3, Gemma3, GPT-NeoX, whose partial rotary leaves the last
dimensions of each head unrotated), per-head ``q_norm``/``k_norm`` (Qwen3, Gemma3), OPT's
query pre-multiplied by ``head_dim ** -0.5`` (it then passes ``scaling=1.0``).  Keys
arrive *before* grouped-query attention repeats them (``repeat_kv`` runs inside the
attention function), so query head ``h`` meets key head ``h // (n_heads // n_kv_heads)``.

:func:`record_attention` registers a recording function under the public
:class:`transformers.AttentionInterface` (and the eager mask under
:class:`transformers.AttentionMaskInterface`, without which a custom implementation gets no
mask at all), switches the model to it with the public ``model.set_attn_implementation``,
and restores the previous implementation when the context exits, also on error.  The
recording function stores the query, key, ``scaling``, additive mask and ``sliding_window``
of each call, then delegates to the family's own ``eager_attention_forward`` (the one its
modeling module defines; a generic eager one otherwise), so outputs are those of eager
attention.  The attention logit of query ``a`` and key ``b`` in head ``h`` of a layer is then

    ``sum_i q[h, a, i] * k[h // g, b, i] * scaling + mask[a, b]``

and an artificial neuron (layer, query head, dimension ``i``) contributes
``q[h, a, i] * k[h // g, b, i]`` to it.

Models whose logit is not of that form are refused with a :class:`ParameterError`: a known
model type (T5's relative position bias, DeBERTa's disentangled terms, ALiBi biases), a
call that passes a term outside ``q . k`` (``position_bias``, ``softcap``, attention sinks
``s_aux``), a mask holding finite non-zero values (a bias folded into the mask), or a model
whose attention does not go through the registry (a layer that recorded nothing).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from ..errors import ParameterError

__all__ = [
    "IMPLEMENTATION",
    "REFUSED",
    "QKRecord",
    "QKRecorder",
    "capture_attention_qk",
    "generic_eager_attention",
    "head_decomposition",
    "record_attention",
    "repeat_kv",
]

#: The name the recording function is registered under.
IMPLEMENTATION = "anbn_record"

#: Model types refused up front, with the reason their logit is not ``q . k * scaling + mask``.
REFUSED = {
    "t5": "a learned relative position bias is added to every logit",
    "mt5": "a learned relative position bias is added to every logit",
    "umt5": "a learned relative position bias is added to every logit",
    "longt5": "a learned relative position bias is added to every logit",
    "switch_transformers": "a learned relative position bias is added to every logit",
    "deberta": "the logit adds disentangled content-to-position and position-to-content terms",
    "deberta-v2": "the logit adds disentangled content-to-position and position-to-content terms",
    "bloom": "an ALiBi bias (a slope times the distance) is added to every logit",
    "mpt": "an ALiBi bias (a slope times the distance) is added to every logit",
}

# Keyword arguments of the attention call that add a term outside q . k, and what they are.
_EXTRA_TERMS = {
    "position_bias": "a position bias is added to the logits",
    "softcap": "the logits are soft-capped (softcap * tanh(logit / softcap))",
    "s_aux": "the softmax includes a learned sink logit per head that no token pair carries",
}


def repeat_kv(k: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Repeat key (or value) heads for grouped-query attention.

    Parameters
    ----------
    k : Tensor of shape (batch, n_kv_heads, T, d)
    n_rep : int
        ``n_heads // n_kv_heads``.

    Returns
    -------
    Tensor of shape (batch, n_kv_heads * n_rep, T, d)
        Head ``h`` is key head ``h // n_rep`` (each key head repeated ``n_rep`` times in a row).
    """
    if n_rep == 1:
        return k
    b, n_kv, t, d = k.shape
    return k[:, :, None].expand(b, n_kv, n_rep, t, d).reshape(b, n_kv * n_rep, t, d)


def generic_eager_attention(module, query, key, value, attention_mask, scaling=None,
                            dropout=0.0, **kwargs):
    """Eager attention for a module whose modeling file defines no ``eager_attention_forward``.

    ``softmax(query @ repeat_kv(key)^T * scaling + mask) @ repeat_kv(value)``, the softmax in
    float32; returns ``(output of shape (batch, T_q, n_heads, d), weights)``.
    """
    n_rep = query.shape[1] // key.shape[1]
    key, value = repeat_kv(key, n_rep), repeat_kv(value, n_rep)
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask[..., : key.shape[-2]]
    weights = torch.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=module.training)
    out = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return out, weights


def _family_eager(module) -> Callable:
    """The ``eager_attention_forward`` of ``module``'s modeling file, or the generic one."""
    fn = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    return fn if callable(fn) else generic_eager_attention


@dataclass(frozen=True)
class QKRecord:
    """Queries and keys of one forward pass, as the attention of each layer multiplied them.

    Attributes
    ----------
    model_type : str
        ``config.model_type`` of the model.
    q : list of Tensor of shape (batch, n_heads, T_q, head_dim)
        Per layer, the query the attention function received (rotary, q-norm, and any
        pre-scaling applied).
    k : list of Tensor of shape (batch, n_kv_heads, T_k, head_dim)
        Per layer, the key it received, before grouped-query repetition.
    scaling : list of float
        Per layer, the factor of ``q . k`` (1.0 where the model pre-scales the query, as OPT).
    masks : list of Tensor of shape (batch, 1, T_q, T_k), or None
        Per layer, the additive mask (0 where a query may attend, a very negative value where
        not; sliding-window layers get their banded mask); None where the model passed none.
    sliding_window : list of int or None
        Per layer, the ``sliding_window`` keyword the model passed (None when absent or for a
        global layer).
    """

    model_type: str
    q: list[torch.Tensor]
    k: list[torch.Tensor]
    scaling: list[float]
    masks: list[torch.Tensor | None]
    sliding_window: list[int | None] = field(default_factory=list)

    @property
    def n_layers(self) -> int:
        return len(self.q)

    def n_heads(self, layer: int = 0) -> int:
        return self.q[layer].shape[1]

    def n_kv_heads(self, layer: int = 0) -> int:
        return self.k[layer].shape[1]

    def group_size(self, layer: int = 0) -> int:
        """Query heads per key head, ``n_heads // n_kv_heads``."""
        return self.n_heads(layer) // self.n_kv_heads(layer)

    def kv_head_of(self, h: int, layer: int = 0) -> int:
        """The key head that query head ``h`` meets: ``h // (n_heads // n_kv_heads)``."""
        return h // self.group_size(layer)

    def keys_per_query_head(self, layer: int) -> torch.Tensor:
        """The key each query head meets, shape (batch, n_heads, T_k, head_dim)."""
        return repeat_kv(self.k[layer], self.group_size(layer))

    def logits(self, layer: int) -> torch.Tensor:
        """``q @ k^T * scaling + mask``, shape (batch, n_heads, T_q, T_k): the pre-softmax logits."""
        out = torch.matmul(self.q[layer], self.keys_per_query_head(layer).transpose(2, 3))
        out = out * self.scaling[layer]
        mask = self.masks[layer]
        return out if mask is None else out + mask[..., : out.shape[-1]]

    def qk_per_head(self, batch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries and the keys their heads meet, stacked over layers, for one sequence.

        Returns
        -------
        q, k : Tensor of shape (n_layers, n_heads, T, head_dim)
            ``k`` repeated over grouped query heads, so AN ``(layer, h, i)`` of the pair
            ``(a, b)`` is ``q[layer, h, a, i] * k[layer, h, b, i]`` (the layout of
            :func:`anbn_utils.ans.capture.capture_qk`; scaling not applied).
        """
        q = torch.stack([t[batch] for t in self.q])
        k = torch.stack([self.keys_per_query_head(layer)[batch] for layer in range(self.n_layers)])
        return q, k


class QKRecorder:
    """What :func:`record_attention` yields: the calls recorded so far; :meth:`result` checks them."""

    def __init__(self, model):
        self.model_type = _model_type(model)
        self.n_layers = _n_layers(model)
        self.calls: list[dict] = []
        self.refusals: list[str] = []

    def _record(self, module, query, key, attention_mask, scaling, kwargs) -> None:
        for name, why in _EXTRA_TERMS.items():
            if kwargs.get(name) is not None:
                self.refusals.append(f"{why} (the attention call passes {name!r})")
        if scaling is None:  # eager functions that accept None use head_dim ** -0.5
            scaling = query.shape[-1] ** -0.5
        mask = attention_mask if isinstance(attention_mask, torch.Tensor) else None
        if attention_mask is not None and mask is None:
            self.refusals.append(f"the mask is a {type(attention_mask).__name__}, not a tensor")
        if mask is not None and mask.is_floating_point():
            bias = torch.isfinite(mask) & (mask != 0) & (mask > torch.finfo(mask.dtype).min / 2)
            if bool(bias.any()):
                self.refusals.append("the additive mask holds finite non-zero values (a bias)")
        self.calls.append({
            "layer_idx": getattr(module, "layer_idx", None),
            "q": query.detach(),
            "k": key.detach(),
            "scaling": float(scaling),
            "mask": None if mask is None else mask.detach(),
            "sliding_window": kwargs.get("sliding_window"),
        })

    def result(self) -> QKRecord:
        """The record of the one forward pass run in the context.

        Raises
        ------
        ParameterError
            When the model passed a term outside ``q . k`` or a bias in its mask, or when a
            layer recorded nothing (its attention does not go through the registry) or more
            than once (more than one forward pass, or cross-attention).
        """
        if self.refusals:
            raise ParameterError(
                f"cannot decompose the attention of model type {self.model_type!r} into "
                f"query-key dimensions: {'; '.join(dict.fromkeys(self.refusals))}")
        idx = [c["layer_idx"] if c["layer_idx"] is not None else i
               for i, c in enumerate(self.calls)]
        missing = sorted(set(range(self.n_layers)) - set(idx))
        if missing or len(idx) != self.n_layers:
            if missing:
                why = (f"layers {missing} of {self.n_layers} recorded no call of the attention "
                       "function: their attention does not go through transformers' "
                       "AttentionInterface")
            else:
                why = (f"{len(idx)} attention calls for {self.n_layers} layers (run one forward "
                       "pass per recording; cross-attention is not supported)")
            raise ParameterError(f"cannot capture the queries and keys of model type "
                                 f"{self.model_type!r}: {why}")
        calls = [c for _, c in sorted(zip(idx, self.calls, strict=True), key=lambda p: p[0])]
        return QKRecord(
            model_type=self.model_type,
            q=[c["q"] for c in calls],
            k=[c["k"] for c in calls],
            scaling=[c["scaling"] for c in calls],
            masks=[c["mask"] for c in calls],
            sliding_window=[c["sliding_window"] for c in calls],
        )


_ACTIVE: contextvars.ContextVar[QKRecorder | None] = contextvars.ContextVar(
    "anbn_qk_recorder", default=None)


def _recording_attention(module, query, key, value, attention_mask, *args, **kwargs):
    """The registered function: record, then run the family's eager attention unchanged."""
    recorder = _ACTIVE.get()
    if recorder is not None:
        scaling = kwargs.get("scaling")  # every family passes it by keyword
        recorder._record(module, query, key, attention_mask, scaling, kwargs)
    return _family_eager(module)(module, query, key, value, attention_mask, *args, **kwargs)


def _register() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask

    AttentionInterface.register(IMPLEMENTATION, _recording_attention)
    # Without a mask function of the same name, mask creation returns None (no causal mask).
    AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)


def _model_type(model) -> str:
    return str(getattr(getattr(model, "config", None), "model_type", type(model).__name__))


def _n_layers(model) -> int:
    cfg = model.config
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    return int(text.num_hidden_layers)


def _implementations(config) -> str | dict:
    """The attention implementation of ``config`` and its sub-configs, as
    ``set_attn_implementation`` accepts it."""
    subs = {key: _implementations(sub) for key in getattr(config, "sub_configs", {})
            if (sub := getattr(config, key, None)) is not None}
    own = config._attn_implementation
    return {"": own, **subs} if subs else own


@contextlib.contextmanager
def record_attention(model) -> Iterator[QKRecorder]:
    """Record the queries and keys of every attention call of ``model`` within the context.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Any model whose attention goes through ``ALL_ATTENTION_FUNCTIONS`` (eval mode).

    Yields
    ------
    QKRecorder
        Run one forward pass in the context, then call its ``result()`` for a :class:`QKRecord`.
        Within the context the model computes eager attention; its previous attention
        implementation is restored on exit, also on error.

    Raises
    ------
    ParameterError
        For a model type of :data:`REFUSED`, or one whose implementation cannot be switched.
    """
    model_type = _model_type(model)
    if model_type in REFUSED:
        raise ParameterError(f"cannot decompose the attention of model type {model_type!r} into "
                             f"query-key dimensions: {REFUSED[model_type]}")
    _register()
    previous = _implementations(model.config)
    recorder = QKRecorder(model)
    token = _ACTIVE.set(recorder)
    try:
        model.set_attn_implementation(IMPLEMENTATION)
        if model.config._attn_implementation != IMPLEMENTATION:
            raise ParameterError(
                f"cannot capture the queries and keys of model type {model_type!r}: its "
                "attention implementation cannot be switched (it does not go through "
                "transformers' AttentionInterface)")
        yield recorder
    finally:
        _ACTIVE.reset(token)
        model.set_attn_implementation(previous)


@torch.no_grad()
def capture_attention_qk(model, input_ids: torch.Tensor,
                         attention_mask: torch.Tensor | None = None, **forward_kwargs) -> QKRecord:
    """Run ``model`` once and return the queries and keys its attention multiplied.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        In eval mode; see :func:`record_attention`.
    input_ids : Tensor of shape (n_tokens,) or (batch, n_tokens)
    attention_mask : Tensor of shape (batch, n_tokens), optional
        1 for tokens, 0 for padding.
    **forward_kwargs
        Passed to the model's forward (``use_cache=False`` is passed where it accepts it).

    Returns
    -------
    QKRecord
    """
    if input_ids.ndim == 1:
        input_ids = input_ids[None]
    if attention_mask is not None and attention_mask.ndim == 1:
        attention_mask = attention_mask[None]
    kwargs = dict(forward_kwargs)
    if attention_mask is not None:
        kwargs["attention_mask"] = attention_mask
    if getattr(model.config, "use_cache", None) is not None:
        kwargs.setdefault("use_cache", False)
    with record_attention(model) as recorder:
        model(input_ids=input_ids, **kwargs)
    return recorder.result()


@torch.no_grad()
def head_decomposition(model, input_ids: torch.Tensor, layer: int, head: int) -> dict:
    """What Fig. 2 shows of one head on one sentence (``layer`` and ``head`` 0-based).

    Returns
    -------
    dict
        ``q``, ``k`` (ndarray of shape (n, d)): the query and the key the head multiplies
        (:func:`capture_attention_qk`; the key of its key-value group); ``scaling``; ``mask``
        (ndarray of shape (n, n)) or None; ``weights`` (ndarray of shape (n, n)): the model's
        own attention weights (``output_attentions=True`` of the eager model), to which the
        softmax of the scaled, masked sum of the AN maps must come back.
    """
    record = capture_attention_qk(model, input_ids)
    q, k = record.qk_per_head()
    kwargs = {"use_cache": False} if getattr(model.config, "use_cache", None) is not None else {}
    out = model(input_ids=input_ids[None], output_attentions=True, **kwargs)
    mask = record.masks[layer]
    return {"q": q[layer, head].double().cpu().numpy(), "k": k[layer, head].double().cpu().numpy(),
            "scaling": record.scaling[layer],
            "mask": None if mask is None else mask[0, 0].double().cpu().numpy(),
            "weights": out.attentions[layer][0, head].double().cpu().numpy()}

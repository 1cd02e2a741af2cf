"""What a model's artificial neurons are: the attention they come from, checked on a sentence.

An AN is one dimension ``i`` of one query head of one layer; its value for a query-key
pair is ``q_a[i] k_b[i]``, with the query and the key as the attention multiplies them
(:mod:`anbn_utils.ans.attention`).  How many there are, which key each query head meets and
which pairs count differ between architectures: :func:`describe_architecture` reads them
from the model's own forward pass and checks the decomposition there (chapter 02's table of
the run's model beside another architecture).
"""

from __future__ import annotations

import torch

__all__ = ["ans_per_head", "describe_architecture", "head_dim_of", "rotary_dims"]


def rotary_dims(config, head_dim: int) -> int:
    """Dimensions of each head that a rotary position embedding rotates (0: none).

    ``config.rope_parameters`` (transformers 5) marks a rotary model; its
    ``partial_rotary_factor`` (GPT-NeoX, Phi), else the config's own, is the rotated share
    of each head (default: all of it).  Per-layer-type parameters (Gemma 3's local and
    global layers) rotate whole heads.
    """
    rope = getattr(config, "rope_parameters", None)
    if not rope:
        return 0
    factor = rope.get("partial_rotary_factor", getattr(config, "partial_rotary_factor", 1.0))
    return int(head_dim * (factor if factor is not None else 1.0))


def head_dim_of(config) -> int:
    """Dimensions per attention head of a model's config (its ``head_dim``, else the hidden
    size over the heads)."""
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def ans_per_head(config, an_unit: str = "dimension") -> int:
    """ANs per query head: its dimensions, or with ``an_unit='rotary_pair'`` the rotary pair
    units (``r/2`` pairs of the ``r`` rotated dimensions, then each dimension not rotated;
    :func:`anbn_utils.ans.pairs.rotary_pair_units`)."""
    d = head_dim_of(config)
    if an_unit != "rotary_pair":
        return d
    r = rotary_dims(config, d)
    return r // 2 + d - r


@torch.no_grad()
def describe_architecture(model, tokenizer, sentence: str) -> dict:
    """A model's ANs and the attention they come from, checked on one sentence.

    Parameters
    ----------
    model, tokenizer
        From :func:`anbn_utils.ans.load_model` (eager attention, eval mode).
    sentence : str

    Returns
    -------
    dict
        ``model_type``; ``layers``, ``query heads``, ``key-value heads`` (grouped-query
        attention: fewer), ``head dim`` and ``ANs`` (layers x query heads x head dim);
        ``rotary dims`` (per head; 0: positions are not rotated into the queries and keys);
        ``pairs`` (the token pairs each layer's mask allows, ``all``, ``causal`` or ``band
        <w>``, each kind once); ``attention check``: over every layer and head of the
        sentence, the largest absolute difference between the softmax of the recorded
        ``sum_i q_a[i] k_b[i]`` (times the scaling, plus the mask) and the model's own
        ``output_attentions``.
    """
    from .attention import capture_attention_qk
    from .pairs import allowed_pairs

    ids = tokenizer(sentence, return_tensors="pt")["input_ids"][0]
    ids = ids.to(next(model.parameters()).device)
    record = capture_attention_qk(model, ids)
    kwargs = {"use_cache": False} if getattr(model.config, "use_cache", None) is not None else {}
    weights = model(input_ids=ids[None], output_attentions=True, **kwargs).attentions
    error = max(float((torch.softmax(record.logits(layer).double(), dim=-1)
                       - weights[layer].double()).abs().max())
                for layer in range(record.n_layers))
    n = len(ids)
    kinds = []
    for mask in record.masks:
        s = allowed_pairs(None if mask is None else mask[0], n)
        kinds.append(f"band {s.window}" if s.kind == "band" else s.kind)
    head_dim = record.q[0].shape[-1]
    return {"model_type": record.model_type, "layers": record.n_layers,
            "query heads": record.n_heads(), "key-value heads": record.n_kv_heads(),
            "head dim": head_dim, "ANs": record.n_layers * record.n_heads() * head_dim,
            "rotary dims": rotary_dims(model.config, head_dim),
            "pairs": " / ".join(dict.fromkeys(kinds)), "attention check": error}

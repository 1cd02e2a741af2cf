"""Memory of the AN stage per segment, measured on small random models of each attention
family and extrapolated to real large models with a closed form.

For each family (BERT: all pairs; Llama: rotary, grouped-query, causal; Mistral: the same
with a sliding window; GPT-NeoX: partial rotary) and each segment length, a fresh process
builds the small random model, reads its resident memory, then captures one segment
(:func:`anbn_utils.ans.capture.capture_segment`) and takes its top pairs (the stage's
``_top_pairs``): the peak above that baseline is the segment's memory.  The closed form
(:func:`segment_bytes`, float32 throughout) counts what the stage holds at once:

* the queries and keys of the segment, kept until the story's per-TR means are taken:
  ``2 L H T d`` values (``L`` layers, ``H`` query heads, ``d`` dims per head, ``T``
  tokens; keys repeated over each key-value group); with the copies made on the way (the
  attention's own record, the per-unit layout of the top pairs) ``5 L H T d + L H_kv T d``;
* the mask of every layer, ``L T^2`` (models that pass one);
* the top pairs of a masked model (causal, sliding window), brute force over 256 ANs at
  a time: two ``256 T^2`` blocks; of an unmasked one, the candidates of 1,024 ANs at a
  time (about ``2 k (1 + ln k)`` each for the top ``k``; their products, ``topk``'s values
  and indices: three blocks).

On top come the model's weights and its own forward pass.  Every segment's queries and
keys are kept until the story's means are taken: ``2 L H d`` float32 values per token of
the story (:func:`story_bytes_per_token`).  The results file holds the measurements, the
formula's prediction for each and its extrapolation to real models (their published
configurations, weights in bfloat16), which How to run shows.

    python benchmarks/bench_memory.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _common import header, isolated, write

#: Small random models of each family: 4 layers, 8 query heads of 32 dims.
SMALL = {"vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512,
         "num_hidden_layers": 4, "num_attention_heads": 8, "max_position_embeddings": 4096}
FAMILIES = {
    "bert": ("BertConfig", "BertModel", SMALL, {"add_pooling_layer": False}),
    "llama": ("LlamaConfig", "LlamaModel", {**SMALL, "num_key_value_heads": 2}, {}),
    "mistral": ("MistralConfig", "MistralModel",
                {**SMALL, "num_key_value_heads": 2, "sliding_window": 256}, {}),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXModel", {**SMALL, "rotary_pct": 0.25}, {}),
}
LENGTHS = (256, 512, 1024)
TOP_K = 500
#: ANs per block of the top pairs, brute force and by candidates
#: (``anbn_utils.ans.toppairs``).
CHUNK, CANDIDATE_CHUNK = 256, 1024

#: Real models (their published configurations): Hugging Face id, layers, query heads,
#: key-value heads, dims per head, parameters, context length.
REAL = {
    "llama-3.1-8b": ("meta-llama/Llama-3.1-8B", 32, 32, 8, 128, 8.03e9, 131072),
    "qwen2.5-7b": ("Qwen/Qwen2.5-7B", 28, 28, 4, 128, 7.62e9, 131072),
    "mistral-7b": ("mistralai/Mistral-7B-v0.3", 32, 32, 8, 128, 7.25e9, 32768),
    "bert-base": ("bert-base-uncased", 12, 12, 12, 64, 1.10e8, 512),
}


def segment_bytes(n_layers: int, n_heads: int, n_kv_heads: int, head_dim: int,
                  n_tokens: int, masked: bool) -> int:
    """The closed form of one segment's memory, in bytes (module docstring)."""
    from anbn_utils.ans.toppairs import candidate_count

    units = n_layers * n_heads * head_dim
    values = 5 * units * n_tokens + n_layers * n_kv_heads * head_dim * n_tokens
    if masked:
        values += n_layers * n_tokens**2 + 2 * CHUNK * n_tokens**2
    else:
        values += 3 * min(CANDIDATE_CHUNK, units) * candidate_count(n_tokens, TOP_K)
    return 4 * values


def story_bytes_per_token(n_layers: int, n_heads: int, head_dim: int) -> int:
    """Bytes kept per token of a story until its per-TR means are taken."""
    return 4 * 2 * n_layers * n_heads * head_dim


def _rss() -> int:
    import os

    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(family: str, n_tokens: int, device: str) -> dict:
    """One segment of a small random model, in this (fresh) process."""
    import transformers

    from anbn_utils.ans.capture import capture_segment
    from anbn_utils.ans.extract import _top_pairs

    torch.set_num_threads(1)
    config, model, config_kwargs, model_kwargs = FAMILIES[family]
    torch.manual_seed(0)
    net = getattr(transformers, model)(getattr(transformers, config)(**config_kwargs),
                                       **model_kwargs)
    net.set_attn_implementation("eager")
    net = net.eval().to(device)
    ids = torch.randint(1, 1000, (n_tokens,), generator=torch.Generator().manual_seed(1))
    ids = ids.to(device)
    capture_segment(net, ids[:8])  # warm up: the allocator's and the kernels' own memory
    baseline = _rss()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
    segment = capture_segment(net, ids)
    _top_pairs(segment.q, segment.k, segment.structures, TOP_K)
    out = {"baseline_rss": baseline, "masked": any(s.kind != "all" for s in segment.structures),
           "n_kv_heads": segment.n_kv_heads}
    if device.startswith("cuda"):
        out["gpu_peak_bytes"] = torch.cuda.max_memory_allocated() - start
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args()

    rows = []
    for family, (_, _, cfg, _) in FAMILIES.items():
        n_kv = cfg.get("num_key_value_heads", cfg["num_attention_heads"])
        head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
        for n in LENGTHS:
            got, peak_gib = isolated(measure, family=family, n_tokens=n, device=args.device)
            measured = (got["gpu_peak_bytes"] if "gpu_peak_bytes" in got
                        else peak_gib * 2**30 - got["baseline_rss"])
            predicted = segment_bytes(cfg["num_hidden_layers"], cfg["num_attention_heads"],
                                      n_kv, head_dim, n, got["masked"])
            rows.append({"family": family, "tokens": n, "masked": got["masked"],
                         "measured_mib": round(measured / 2**20, 1),
                         "predicted_mib": round(predicted / 2**20, 1),
                         "ratio": round(measured / predicted, 2)})
            print(rows[-1], flush=True)
    ratios = [r["ratio"] for r in rows]
    real = {}
    for name, (hf_id, layers, heads, kv, d, params, context) in REAL.items():
        masked = name != "bert-base"
        real[name] = {
            "model": hf_id, "layers": layers, "query_heads": heads, "kv_heads": kv, "head_dim": d,
            "ans": layers * heads * d, "context": context,
            "weights_bf16_gib": round(params * 2 / 2**30, 1),
            "story_gib_per_1k_tokens": round(story_bytes_per_token(layers, heads, d) * 1000
                                             / 2**30, 2),
            "segment_gib": {str(n): round(segment_bytes(layers, heads, kv, d, n, masked)
                                          / 2**30, 1) for n in (512, 1024, 2048, 4096)}}
    result = {**header(args.device), "top_k": TOP_K, "chunk": CHUNK, "measured": rows,
              "ratio_min": min(ratios), "ratio_max": max(ratios), "real_models": real}
    lines = [(f"**AN stage memory** on {args.device}, commit `{result['commit']}`, "
              f"{result['date'][:10]}: one segment's peak above the model, measured on small "
              f"random models, against the closed form (measured / predicted "
              f"{min(ratios):.2f}-{max(ratios):.2f})."), "",
             "| family | tokens | masked | measured (MiB) | predicted (MiB) | ratio |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['family']} | {r['tokens']} | {r['masked']} | {r['measured_mib']} | "
              f"{r['predicted_mib']} | {r['ratio']} |" for r in rows]
    lines += ["", "Extrapolated (closed form; weights in bfloat16, ANs in float32):", "",
              ("| model | ANs | weights (GiB) | story, per 1k tokens (GiB) | segment of 1k / 2k "
               "/ 4k tokens (GiB) |"), "|---|---|---|---|---|"]
    lines += [f"| {v['model']} | {v['ans']:,} | {v['weights_bf16_gib']} | {v['story_gib_per_1k_tokens']} | "
              f"{v['segment_gib']['1024']} / {v['segment_gib']['2048']} / "
              f"{v['segment_gib']['4096']} |" for m, v in real.items()]
    write(args.out, f"memory_{args.device.split(':')[0]}", result, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

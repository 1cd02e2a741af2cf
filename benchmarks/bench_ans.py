"""Benchmark of the artificial-neuron stage against a straightforward implementation.

A BERT-base-shaped model (12 layers x 12 heads x 64 dims = 9,216 ANs; random weights:
timing does not depend on them) reads 3 segments of the paper's Pie Man lengths
(505, 468, 254 tokens) spread over 282 TRs.  Timed, each over ``--repeats`` runs:

========================  ==========================================  =====================================
step                      anbn_utils                                  straightforward
========================  ==========================================  =====================================
AN activations per TR     closed form (mean q x mean k)               m x m block of products per TR, mean
HRF convolution           one ``lfilter`` over all ANs                ``np.convolve`` per AN
top-500 pairs             rank-1 candidates + ``topk``                all n x n products per AN, ``topk``
========================  ==========================================  =====================================

The query/key capture (3 forward passes with hooks) is shared and timed once per repeat.

    python benchmarks/bench_ans.py --device cpu --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from _common import commit, machine

from anbn_utils.ans import aggregate_trs, capture_qk, convolve_hrf, hrf_kernel, top_pairs
from anbn_utils.ans.toppairs import top_pairs_bruteforce

SEGMENTS = (505, 468, 254)
N_TRS = 282
TOP = 500


def _model(device):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    return BertModel(BertConfig(), add_pooling_layer=False).eval().to(device)


def _inputs(device):
    rng = np.random.default_rng(0)
    total = sum(SEGMENTS)
    # tokens spread over the TRs in order, about 3.9 per TR
    volumes = np.sort(rng.integers(0, N_TRS, size=total))
    out, start = [], 0
    for n in SEGMENTS:
        ids = torch.tensor(rng.integers(1000, 30000, size=n), device=device)
        out.append((ids, torch.tensor(volumes[start:start + n], device=device)))
        start += n
    return out


def capture(model, inputs):
    segs = []
    for ids, vol in inputs:
        q, k = capture_qk(model, ids)
        segs.append((q.permute(2, 0, 1, 3).reshape(len(ids), -1),
                     k.permute(2, 0, 1, 3).reshape(len(ids), -1), vol))
    return segs


def ours(segs):
    series = aggregate_trs(segs, N_TRS).cpu().numpy()
    convolve_hrf(series, 1.5)
    return [top_pairs(q.T.contiguous(), k.T.contiguous(), TOP) for q, k, _ in segs]


def straightforward(segs):
    n_units = segs[0][0].shape[1]
    series = torch.zeros(N_TRS, n_units, device=segs[0][0].device)
    for j in range(N_TRS):
        blocks, count = 0.0, 0
        for q, k, vol in segs:
            idx = torch.nonzero(vol == j).flatten()
            if len(idx):
                block = q[idx][:, None, :] * k[idx][None, :, :]  # (m, m, n_units)
                blocks = blocks + block.sum((0, 1))
                count += len(idx) ** 2
        if count:
            series[j] = blocks / count
    series = series.cpu().numpy()
    kernel = hrf_kernel(1.5)
    np.stack([np.convolve(series[:, u], kernel)[:N_TRS] for u in range(n_units)], axis=1)
    return [top_pairs_bruteforce(q.T.contiguous(), k.T.contiguous(), TOP) for q, k, _ in segs]


def _time(fn, *args, device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn(*args)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    model, inputs = _model(args.device), _inputs(args.device)
    capture(model, inputs)  # warm-up
    times = {"capture": [], "anbn_utils": [], "straightforward": []}
    for _ in range(args.repeats):
        t, segs = _time(capture, model, inputs, device=args.device)
        times["capture"].append(t)
        t, fast = _time(ours, segs, device=args.device)
        times["anbn_utils"].append(t)
        t, slow = _time(straightforward, segs, device=args.device)
        times["straightforward"].append(t)
        for (v1, *_), (v2, *_) in zip(fast, slow):  # same top values
            torch.testing.assert_close(v1, v2)
    summary = {name: {"median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts),
                      "runs": len(ts)} for name, ts in times.items()}
    result = {
        "benchmark": "ans", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(), "machine": machine(args.device),
        "workload": {"model": "BERT-base shape (random weights)", "n_ans": 9216,
                     "segments": list(SEGMENTS), "n_trs": N_TRS, "top_k": TOP},
        "times": summary,
        "ratio_straightforward_over_anbn": (summary["straightforward"]["median_s"]
                                            / summary["anbn_utils"]["median_s"]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"ans_{args.device.split(':')[0]}"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{name}.md").write_text(_markdown(result))
    print(_markdown(result))
    return result


def _markdown(r: dict) -> str:
    t = r["times"]
    m = r["machine"]
    where = m.get("gpu") or f"{m['cpu']}, {m['cores']} threads"
    rows = [
        "| step | median (s) | min-max (s) |",
        "|---|---|---|",
        *[f"| {label} | {t[key]['median_s']:.2f} | {t[key]['min_s']:.2f}-{t[key]['max_s']:.2f} |"
          for key, label in (("capture", "query/key capture, 3 forward passes (shared)"),
                             ("anbn_utils", "activations + HRF + top-500 pairs: anbn_utils"),
                             ("straightforward", "the same, straightforward (m x m blocks, n x n products)"))],
    ]
    return (
        f"**Artificial neurons** on {m['device']} ({where}), torch {m['torch']}, commit "
        f"`{r['commit']}`, {r['date'][:10]}: {r['workload']['n_ans']:,} ANs, segments "
        f"{'-'.join(map(str, r['workload']['segments']))} tokens, {r['workload']['n_trs']} TRs, "
        f"{t['anbn_utils']['runs']} runs. anbn_utils is "
        f"**{r['ratio_straightforward_over_anbn']:.1f}x** faster than the straightforward code "
        "(identical top-500 values).\n\n" + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()

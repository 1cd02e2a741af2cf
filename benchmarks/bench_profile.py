"""Is any hot loop limited by Python overhead?  ``torch.profiler`` on each stage's kernel.

For each workload, the wall time is compared with the time spent inside PyTorch
operators (the sum of their self times on the CPU, or of the CUDA kernels on a GPU): what
is left is Python, dispatch and data movement outside torch.  The three most expensive
operators are listed.

    python benchmarks/bench_profile.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import RESULTS, header, write
from torch.profiler import ProfilerActivity, profile

N_TRS = 282


def _workloads(device: str):
    from anbn_utils.ans import top_pairs
    from anbn_utils.bns import cd1_step
    from anbn_utils.coupling.statistics import max_statistic_test
    from anbn_utils.synthetic import brain_mask

    g = torch.Generator().manual_seed(0)
    n_vox = int(np.asanyarray(brain_mask(3.0, kind="gm").dataobj).sum())
    X = torch.randn(400, n_vox, generator=g).to(device)
    W = (0.01 * torch.randn(n_vox, 512, generator=g)).to(device)
    b, c = torch.zeros(n_vox, device=device), torch.zeros(512, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(N_TRS, 9216, generator=g).to(device)
    bn = torch.randn(N_TRS, 128, generator=g).to(device)
    q, k = (torch.randn(9216, 505, generator=g).to(device) for _ in range(2))

    def vsdbn():
        for s in range(0, 400, 20):
            cd1_step(X[s:s + 20], W, b, c, lr=1e-3, l1=1e-3, generator=gen)

    return {
        "VS-DBN: 20 CD-1 steps, 60,650 voxels x 512 units": vsdbn,
        "coupling: 9,216 x 128, 1,000 circular shifts": lambda: max_statistic_test(
            a, bn, null="circular", n_permutations=1000),
        "coupling: 9,216 x 128, 1,000 phase randomizations": lambda: max_statistic_test(
            a, bn, null="phase", n_permutations=1000),
        "ANs: top-500 pairs of 9,216 ANs, 505 tokens": lambda: top_pairs(q, k, 500),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    dev = args.device
    cuda = dev.startswith("cuda")
    rows = []
    for name, fn in _workloads(dev).items():
        fn()  # warm-up
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            t0 = time.perf_counter()
            fn()
            if cuda:
                torch.cuda.synchronize()
            wall = time.perf_counter() - t0
        events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
        attr = "self_device_time_total" if cuda else "self_cpu_time_total"
        in_ops = sum(getattr(e, attr) for e in events) / 1e6
        top = sorted(events, key=lambda e: getattr(e, attr), reverse=True)[:3]
        rows.append({"workload": name, "wall_s": wall, "in_torch_ops_s": in_ops,
                     "share_in_ops": in_ops / wall,
                     "top_ops": [(e.key, getattr(e, attr) / 1e6) for e in top]})
        print(rows[-1], flush=True)
    result = {"benchmark": "profile", **header(dev), "rows": rows}
    m = result["machine"]
    where = m.get("gpu") or f"{m['cpu']}, {m['cores']} threads"
    md = (f"**Profile** (`torch.profiler`) on {dev} ({where}), torch {m['torch']}, commit "
          f"`{result['commit']}`, {result['date'][:10]}: wall time against the time inside "
          f"PyTorch operators ({'CUDA kernels' if cuda else 'their self CPU time'}).\n\n"
          "| workload | wall (s) | in torch operators (s) | share | most expensive operators |\n"
          "|---|---|---|---|---|\n")
    md += "".join(
        f"| {r['workload']} | {r['wall_s']:.3f} | {r['in_torch_ops_s']:.3f} | "
        f"{r['share_in_ops']:.0%} | "
        + ", ".join(f"`{k}` {v:.3f} s" for k, v in r["top_ops"]) + " |\n" for r in rows)
    write(args.out, f"profile_{dev.split(':')[0]}", result, md)
    return result


if __name__ == "__main__":
    main()
